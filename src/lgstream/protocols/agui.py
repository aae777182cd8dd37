"""AG-UI: lgstream events as Agent User Interaction protocol events.

Front ends built on the AG-UI protocol (CopilotKit, the ``@ag-ui/client``
``HttpAgent``, ...) read one run as a stream of typed events: ``RUN_STARTED``,
then text messages, tool calls, reasoning, steps and state, then ``RUN_FINISHED``
or ``RUN_ERROR``. ``AGUIEncoder`` turns the *raw* events of
``lgs.stream(graph, input, modes=["messages", "updates", "values", "custom"])``
(plus ``"tasks"`` if you like) into those events, as the ``ag-ui-protocol``
package's own pydantic models; ``frame()`` writes one as SSE bytes.

The encoder is a stateful core that does no I/O, like every lgstream operator:
``feed(event)`` returns the protocol events one lgstream event causes,
``close(error, cancelled=...)`` the ones that end the run. Inside, it runs the
lgstream operators the mapping needs (``join_messages()``, ``reasoning()``,
``tool_calls()``, ``diff_state()``), so it takes the stream exactly as
``lgs.stream()`` yields it.

One mechanism keeps the protocol's promise that every start gets its end: each
``*_START`` opens a *span* that holds the events that end it, under a parent
span (a message or tool call sits in the step of the root node that streams
it). Ending a span ends its open children first; the end of the run ends every
span still open, the newest first. So an error, an interrupt or a cancelled run
closes what it cut short, and nothing is ended twice.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Generator,
    Iterable,
    Mapping,
    Sequence,
)
from typing import Any, ClassVar, Final, Literal, TypeAlias

from ag_ui.core import (
    ActivityMessage,
    AssistantMessage,
    BaseEvent,
    CustomEvent,
    DeveloperMessage,
    FunctionCall,
    MessagesSnapshotEvent,
    ReasoningEndEvent,
    ReasoningMessage,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunAgentInput,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunStartedEvent,
    StateDeltaEvent,
    StateSnapshotEvent,
    StepFinishedEvent,
    StepStartedEvent,
    SystemMessage,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    TextPart,
    ToolCall,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
    ToolMessage,
    UserMessage,
)
from ag_ui.core import Interrupt as AGUIInterrupt
from ag_ui.core import Message as AGUIMessage
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
)
from langchain_core.messages import SystemMessage as LCSystemMessage
from langchain_core.messages import ToolCall as LCToolCall
from langchain_core.messages import ToolMessage as LCToolMessage
from langgraph.types import Command
from pydantic import ValidationError

from .._errors import error_name, short_message
from .._events import (
    Custom,
    Event,
    Interrupt,
    Message,
    MessageDone,
    Reasoning,
    RunFailed,
    RunFinished,
    RunStarted,
    StatePatch,
    StateSnapshot,
    TaskResult,
    TaskStart,
    Token,
    ToolCallDelta,
    ToolCallInvalid,
    ToolCallReady,
    ToolCallStart,
    Update,
    Values,
    to_jsonable,
)
from .._pipeline import Chain
from ..ops._diff import DiffState
from ..ops._filters import node_path
from ..ops._join import JoinMessages, ReasoningSplit, reasoning_text
from ..ops._tool_calls import ToolCalls
from ..sinks._encoders import dumps
from ._drive import aencode, encode
from ._input import ProtocolInputError

__all__ = [
    "AGUIEncoder",
    "AGUIEvent",
    "ProtocolInputError",
    "aencode_agui",
    "encode_agui",
    "graph_input",
    "parse_run_input",
]

AGUIEvent: TypeAlias = BaseEvent
"""Any AG-UI protocol event: an ``ag_ui.core`` model (``RunStartedEvent``, ...)."""

INTERRUPT_EVENT: Final = "on_interrupt"
"""The ``CUSTOM`` event name for a LangGraph interrupt, as ag-ui-langgraph and
CopilotKit use it."""

_MAX_MESSAGE: Final = 500
_SpanKey: TypeAlias = tuple[Literal["step", "text", "reasoning", "tool"], str]


class _Span:
    """An open ``*_START``: the events that end it, and the span it sits in."""

    __slots__ = ("ends", "parent")

    def __init__(self, ends: list[AGUIEvent], parent: _SpanKey | None) -> None:
        self.ends = ends
        self.parent = parent


class _FillMessageIds:
    """Gives id-less tokens (from raw parts; LangChain ids every chunk) an id that
    stays the same for one model call: per ``(ns, node)``, until the call's last
    chunk or the node's update. The protocol needs an id on every message."""

    __slots__ = ("_count", "_open")

    def __init__(self) -> None:
        self._open: dict[tuple[tuple[str, ...], str | None], str] = {}
        self._count = 0

    def feed(self, item: Event, /) -> Sequence[Event]:
        if isinstance(item, Token) and item.message_id is None:
            key = (item.ns, item.node)
            message_id = self._open.get(key)
            if message_id is None:
                self._count += 1
                message_id = self._open[key] = f"lgs-message-{self._count}"
            if item.chunk.chunk_position == "last":
                del self._open[key]
            return (dataclasses.replace(item, message_id=message_id),)
        if isinstance(item, Update) and self._open:
            self._open.pop((item.ns, item.node), None)
        return (item,)

    def flush(self) -> Sequence[Event]:
        return ()


def _as_json_text(value: object) -> str:
    """A value as JSON text; a string stays as it is (ag-ui-langgraph does the same
    for ``on_interrupt``, and CopilotKit parses it back)."""
    return value if isinstance(value, str) else dumps(to_jsonable(value))


def _content_text(message: BaseMessage) -> str:
    return message.text if not isinstance(message.content, str) else message.content


def _agui_interrupt(event: Interrupt, fallback_id: str) -> AGUIInterrupt:
    """An lgstream ``Interrupt`` as a protocol interrupt (the fields ag-ui-langgraph
    reads from the value: ``reason``, ``message``, ``tool_call_id``, ...)."""
    value = event.value
    fields: Mapping[str, Any] = value if isinstance(value, Mapping) else {}
    reason = fields.get("reason")
    message = value if isinstance(value, str) else fields.get("message")
    tool_call_id = fields.get("tool_call_id", fields.get("toolCallId"))
    schema = fields.get("response_schema", fields.get("responseSchema"))
    return AGUIInterrupt(
        id=event.interrupt_id or fallback_id,
        reason=reason if isinstance(reason, str) else "langgraph:interrupt",
        message=message if isinstance(message, str) else None,
        tool_call_id=tool_call_id if isinstance(tool_call_id, str) else None,
        response_schema=dict(schema) if isinstance(schema, Mapping) else None,
        metadata={"langgraph": {"raw": to_jsonable(value), "ns": list(event.ns)}},
    )


def _reasoning_id(message_id: str, n: int) -> str:
    # A reasoning message is a message of its own in AG-UI, so it needs its own id;
    # derived from the answer's, so that a messages snapshot can give the same one.
    return f"{message_id}:reasoning" if n == 1 else f"{message_id}:reasoning:{n}"


def _to_agui_messages(messages: Sequence[object]) -> list[AGUIMessage]:
    """LangChain messages (the root state's ``messages``) as AG-UI messages.

    An AI message's reasoning becomes a ``ReasoningMessage`` just before it, with
    the id its streamed reasoning had; messages of other kinds are left out.
    """
    out: list[AGUIMessage] = []
    for i, message in enumerate(messages):
        if not isinstance(message, BaseMessage):
            continue
        message_id = message.id or f"lgs-state-message-{i}"
        if isinstance(message, AIMessage):
            thought = reasoning_text(AIMessageChunk(**_chunk_fields(message)))
            if thought:
                out.append(ReasoningMessage(id=_reasoning_id(message_id, 1), content=thought))
            calls = [
                ToolCall(
                    id=call["id"] or f"{message_id}:{n}",
                    function=FunctionCall(name=call["name"], arguments=json.dumps(call["args"])),
                )
                for n, call in enumerate(message.tool_calls)
            ]
            out.append(
                AssistantMessage(
                    id=message_id,
                    content=message.text or None,
                    tool_calls=calls or None,
                    name=message.name,
                )
            )
        elif isinstance(message, HumanMessage):
            content = message.content
            out.append(
                UserMessage(
                    id=message_id,
                    content=content if isinstance(content, str) else message.text,
                    name=message.name,
                )
            )
        elif isinstance(message, LCSystemMessage):
            out.append(SystemMessage(id=message_id, content=message.text, name=message.name))
        elif isinstance(message, LCToolMessage):
            out.append(
                ToolMessage(
                    id=message_id,
                    content=message.text,
                    tool_call_id=message.tool_call_id,
                    error=message.text if message.status == "error" else None,
                )
            )
    return out


def _chunk_fields(message: AIMessage) -> dict[str, Any]:
    # reasoning_text() reads a chunk's content and additional_kwargs only.
    return {"content": message.content, "additional_kwargs": message.additional_kwargs}


class AGUIEncoder:
    """Encodes one run's lgstream events as AG-UI protocol events; does no I/O.

    Feed it the raw events of ``lgs.stream()`` / ``lgs.astream()`` with the modes
    ``["messages", "updates", "values", "custom"]`` (add ``"tasks"`` for exact
    step boundaries), then call ``close()`` once when the stream ends, however it
    ended::

        encoder = AGUIEncoder(thread_id="t-1")
        for event in lgs.stream(graph, inputs, modes=["messages", "updates", "values", "custom"]):
            for agui_event in encoder.feed(event):
                send(encoder.frame(agui_event))
        for agui_event in encoder.close():
            send(encoder.frame(agui_event))

    Every ``*_START`` the encoder emits gets its ``*_END`` (also when the run
    fails, is interrupted or is cancelled), and the stream it produces begins
    with ``RUN_STARTED`` and ends with exactly one ``RUN_FINISHED`` or
    ``RUN_ERROR``; after that ``feed`` and ``close`` return nothing. The mapping
    is in ``docs/protocols/agui.md``. Use one encoder per run.

    Args:
        thread_id: the conversation's id, for ``RUN_STARTED`` / ``RUN_FINISHED``
            (the ``thread_id`` of the run's config, typically); a new UUID if
            not given.
        run_id: the run's id; by default that of the stream's ``RunStarted``
            event (or a new UUID if the stream has none).
        interrupt_outcome: also end an interrupted run with ``RUN_FINISHED``
            carrying the protocol's interrupt outcome (``outcome.type ==
            "interrupt"`` with the interrupts), besides the ``on_interrupt``
            ``CUSTOM`` events. Off by default, as in ag-ui-langgraph: released
            CopilotKit clients stop resuming through their legacy channel once
            they see the outcome.
    """

    media_type: ClassVar[str] = "text/event-stream"
    """The media type of ``frame()``'s bytes."""
    trailer: ClassVar[bytes] = b""
    """AG-UI ends a response with ``RUN_FINISHED`` / ``RUN_ERROR``: no trailer."""

    __slots__ = (
        "_done",
        "_interrupt_keys",
        "_interrupt_outcome",
        "_interrupts",
        "_ops",
        "_reasoning_count",
        "_reasoning_ids",
        "_results",
        "_run_id",
        "_seen",
        "_spans",
        "_started",
        "_state",
        "headers",
        "thread_id",
    )

    def __init__(
        self,
        *,
        thread_id: str | None = None,
        run_id: str | None = None,
        interrupt_outcome: bool = False,
    ) -> None:
        self.thread_id: str = thread_id if thread_id is not None else str(uuid.uuid4())
        """The thread id the run events carry."""
        self.headers: Mapping[str, str] = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        """Extra response headers: no caching, no proxy buffering of the stream."""
        self._run_id = run_id
        self._interrupt_outcome = interrupt_outcome
        self._ops = Chain(
            (
                _FillMessageIds(),
                ReasoningSplit(),
                JoinMessages(),
                ToolCalls(),
                DiffState(keep_values=True),
            )
        )
        self._spans: dict[_SpanKey, _Span] = {}
        self._started = False
        self._done = False
        self._seen: set[str] = set()  # ids of messages already sent (or the client has)
        self._results: set[str] = set()  # tool calls whose result was sent
        self._reasoning_count: dict[str, int] = {}
        self._reasoning_ids: dict[str, str] = {}  # message id -> open reasoning message id
        self._interrupts: list[AGUIInterrupt] = []
        self._interrupt_keys: set[str | int] = set()
        self._state: object = None  # the root graph's last state

    @property
    def run_id(self) -> str | None:
        """The run's id, once known (given, or from the ``RunStarted`` event)."""
        return self._run_id

    @property
    def finished(self) -> bool:
        """Whether ``RUN_FINISHED`` or ``RUN_ERROR`` was emitted."""
        return self._done

    @property
    def closed(self) -> bool:
        """The same as ``finished``: the run ended, nothing more is emitted."""
        return self._done

    def feed(self, event: Event) -> list[AGUIEvent]:
        """The protocol events for one lgstream event (often none, or one)."""
        if self._done:
            return []
        out: list[AGUIEvent] = []
        for item in self._ops.feed(event):
            self._map(item, out)
        return out

    def close(
        self, error: BaseException | None = None, *, cancelled: bool = False
    ) -> list[AGUIEvent]:
        """End the run: end every open start, then ``RUN_ERROR`` (with ``error``)
        or ``RUN_FINISHED`` (with the cancelled outcome if ``cancelled``).

        Returns nothing if the run already ended (its ``RunFinished`` or
        ``RunFailed`` event was fed); safe to call more than once.

        Args:
            error: what stopped the stream, if it raised.
            cancelled: the consumer stopped the run early (the client left).
        """
        if self._done:
            return []
        out: list[AGUIEvent] = []
        if error is None and not cancelled:
            # The input ended normally: what the operators still hold completes.
            for item in self._ops.flush():
                self._map(item, out)
            if not self.finished:
                self._finish(out, interrupted=bool(self._interrupts))
        elif error is not None:
            self._fail(error, out)
        else:
            self._ensure_started(out)
            self._end_all(out)
            self._done = True
            out.append(
                RunFinishedEvent(
                    thread_id=self.thread_id,
                    run_id=self._run_id or "",
                    outcome=RunFinishedCancelledOutcome(),
                )
            )
        return out

    def frame(self, event: AGUIEvent) -> bytes:
        """One protocol event as SSE bytes: ``data: {json}`` and a blank line, the
        JSON in camelCase without the optional fields that have no value, as the
        AG-UI clients read it."""
        data: dict[str, Any] = event.model_dump(mode="json", by_alias=True)
        return f"data: {dumps(data)}\n\n".encode()

    # --- the mapping ------------------------------------------------------------------

    def _map(self, event: Event, out: list[AGUIEvent]) -> None:
        if self._done:
            return  # the run ended: what the operators let out after it is dropped
        if isinstance(event, RunStarted):
            if self._run_id is None:
                self._run_id = event.run_id
            self._ensure_started(out)
            self._remember_messages(event.input)
            return
        self._ensure_started(out)
        if isinstance(event, Token):
            if event.text and event.message_id is not None:
                self._text(event, event.message_id, event.text, out)
        elif isinstance(event, Reasoning):
            self._reasoning(event, out)
        elif isinstance(event, MessageDone):
            self._end(("reasoning", event.message_id), out)
            self._end(("text", event.message_id), out)
            self._seen.add(event.message_id)
        elif isinstance(event, ToolCallStart):
            self._tool_call_start(event, out)
        elif isinstance(event, ToolCallDelta):
            if ("tool", event.call_id) in self._spans:
                out.append(ToolCallArgsEvent(tool_call_id=event.call_id, delta=event.args_delta))
        elif isinstance(event, ToolCallReady | ToolCallInvalid):
            self._end(("tool", event.call_id), out)
        elif isinstance(event, Message):
            self._step_for(event, out)
            self._whole_message(event.message, out)
        elif isinstance(event, Update):
            self._update(event, out)
        elif isinstance(event, Values):
            if not event.ns:
                if self._state is None:
                    self._remember_messages(event.data)  # what the client sent or had
                self._state = event.data
        elif isinstance(event, StateSnapshot):
            if not event.ns:
                out.append(StateSnapshotEvent(snapshot=event.data))
        elif isinstance(event, StatePatch):
            if not event.ns:
                out.append(StateDeltaEvent.model_validate({"delta": event.ops}))
        elif isinstance(event, Custom):
            out.append(self._custom(event.data))
        elif isinstance(event, Interrupt):
            self._interrupt(event, out)
        elif isinstance(event, TaskStart):
            self._step_for(event, out)
        elif isinstance(event, TaskResult):
            if not event.ns and event.node is not None:
                self._end(("step", event.node), out)
        elif isinstance(event, RunFinished):
            if event.output is not None:
                self._state = event.output
            for interrupt in event.interrupts:  # any the stream did not bring as events
                self._interrupt(interrupt, out)
            self._finish(out, interrupted=bool(event.interrupts or self._interrupts))
        elif isinstance(event, RunFailed):
            self._fail(event.error, out)

    def _interrupt(self, event: Interrupt, out: list[AGUIEvent]) -> None:
        key = event.interrupt_id if event.interrupt_id is not None else id(event)
        if key in self._interrupt_keys:
            return
        self._interrupt_keys.add(key)
        fallback = f"{self._run_id}:interrupt:{len(self._interrupts)}"
        self._interrupts.append(_agui_interrupt(event, fallback))
        out.append(CustomEvent(name=INTERRUPT_EVENT, value=_as_json_text(event.value)))

    def _ensure_started(self, out: list[AGUIEvent]) -> None:
        if not self._started:
            self._started = True
            if self._run_id is None:
                self._run_id = str(uuid.uuid4())
            out.append(RunStartedEvent(thread_id=self.thread_id, run_id=self._run_id))

    def _step_for(self, event: Event, out: list[AGUIEvent]) -> _SpanKey | None:
        """The step (root-graph node) an event belongs to, started if it is not open."""
        path = node_path(event)
        if not path:
            return None
        key: _SpanKey = ("step", path[0])
        if key not in self._spans:
            name = path[0]
            self._start(
                key,
                None,
                [StepStartedEvent(step_name=name)],
                out,
                StepFinishedEvent(step_name=name),
            )
        return key

    def _text(self, event: Event, message_id: str, text: str, out: list[AGUIEvent]) -> None:
        key: _SpanKey = ("text", message_id)
        if key not in self._spans:
            self._end(("reasoning", message_id), out)  # the answer follows the thinking
            step = self._step_for(event, out)
            start = TextMessageStartEvent(message_id=message_id, role="assistant")
            self._start(key, step, [start], out, TextMessageEndEvent(message_id=message_id))
        out.append(TextMessageContentEvent(message_id=message_id, delta=text))

    def _reasoning(self, event: Reasoning, out: list[AGUIEvent]) -> None:
        if event.message_id is None or not event.text:
            return
        key: _SpanKey = ("reasoning", event.message_id)
        reasoning_id = self._reasoning_ids.get(event.message_id)
        if key not in self._spans or reasoning_id is None:
            n = self._reasoning_count[event.message_id] = (
                self._reasoning_count.get(event.message_id, 0) + 1
            )
            reasoning_id = self._reasoning_ids[event.message_id] = _reasoning_id(
                event.message_id, n
            )
            step = self._step_for(event, out)
            self._start(
                key,
                step,
                [
                    ReasoningStartEvent(message_id=reasoning_id),
                    ReasoningMessageStartEvent(message_id=reasoning_id),
                ],
                out,
                ReasoningMessageEndEvent(message_id=reasoning_id),
                ReasoningEndEvent(message_id=reasoning_id),
            )
        out.append(ReasoningMessageContentEvent(message_id=reasoning_id, delta=event.text))

    def _tool_call_start(self, event: ToolCallStart, out: list[AGUIEvent]) -> None:
        if event.message_id is not None:
            self._end(("reasoning", event.message_id), out)
        step = self._step_for(event, out)
        start = ToolCallStartEvent(
            tool_call_id=event.call_id,
            tool_call_name=event.name,
            parent_message_id=event.message_id,
        )
        key: _SpanKey = ("tool", event.call_id)
        self._end(key, out)  # a provider that reuses an id: the old call is over
        self._start(key, step, [start], out, ToolCallEndEvent(tool_call_id=event.call_id))

    def _whole_message(self, message: BaseMessage, out: list[AGUIEvent]) -> None:
        """A message that was not streamed: sent whole, once per id."""
        if isinstance(message, LCToolMessage):
            call_id = message.tool_call_id
            if call_id in self._results:
                return
            self._results.add(call_id)
            self._end(("tool", call_id), out)  # a result comes after its call
            out.append(
                ToolCallResultEvent(
                    message_id=message.id or f"{call_id}:result",
                    tool_call_id=call_id,
                    content=_content_text(message),
                    role="tool",
                )
            )
            return
        if isinstance(message, AIMessageChunk) or message.id in self._seen:
            return  # streamed already, or the client has it
        role: Literal["assistant", "user", "system"]
        if isinstance(message, AIMessage):
            role = "assistant"
        elif isinstance(message, HumanMessage):
            role = "user"
        elif isinstance(message, LCSystemMessage):
            role = "system"
        else:
            return
        message_id = message.id or f"lgs-message-{uuid.uuid4()}"
        self._seen.add(message_id)
        text = _content_text(message)
        if text:
            out.append(TextMessageStartEvent(message_id=message_id, role=role))
            out.append(TextMessageContentEvent(message_id=message_id, delta=text))
            out.append(TextMessageEndEvent(message_id=message_id))
        if isinstance(message, AIMessage):
            for n, call in enumerate(message.tool_calls):
                call_id = call["id"] or f"{message_id}:{n}"
                out.append(
                    ToolCallStartEvent(
                        tool_call_id=call_id,
                        tool_call_name=call["name"],
                        parent_message_id=message_id,
                    )
                )
                out.append(ToolCallArgsEvent(tool_call_id=call_id, delta=json.dumps(call["args"])))
                out.append(ToolCallEndEvent(tool_call_id=call_id))

    def _update(self, event: Update, out: list[AGUIEvent]) -> None:
        step = self._step_for(event, out)  # a node that streamed nothing still was a step
        # Messages the node returned that no messages-mode event brought (that mode
        # is off, or the message was never streamed): each is sent once.
        data = event.data
        if isinstance(data, Mapping):
            for value in data.values():
                if isinstance(value, list):
                    for item in value:
                        if isinstance(item, BaseMessage):
                            self._whole_message(item, out)
        if step is not None and not event.ns:
            self._end(step, out)

    def _custom(self, data: object) -> CustomEvent:
        # {"name": ..., "value": ...} names the event, as adispatch_custom_event does;
        # anything else is the value of a CUSTOM event named "custom".
        if isinstance(data, Mapping) and data.keys() == {"name", "value"}:
            name = data["name"]
            if isinstance(name, str):
                return CustomEvent(name=name, value=to_jsonable(data["value"]))
        return CustomEvent(name="custom", value=to_jsonable(data))

    def _remember_messages(self, state: object) -> None:
        if isinstance(state, Mapping):
            messages = state.get("messages")
            if isinstance(messages, list):
                for message in messages:
                    if isinstance(message, BaseMessage) and message.id:
                        self._seen.add(message.id)

    def _finish(self, out: list[AGUIEvent], *, interrupted: bool) -> None:
        self._ensure_started(out)
        self._end_all(out)
        state = self._state
        if isinstance(state, Mapping):
            messages = state.get("messages")
            if isinstance(messages, list):
                out.append(MessagesSnapshotEvent(messages=_to_agui_messages(messages)))
        outcome = None
        if interrupted and self._interrupt_outcome and self._interrupts:
            outcome = RunFinishedInterruptOutcome(interrupts=self._interrupts)
        self._done = True
        out.append(
            RunFinishedEvent(thread_id=self.thread_id, run_id=self._run_id or "", outcome=outcome)
        )

    def _fail(self, error: BaseException, out: list[AGUIEvent]) -> None:
        self._ensure_started(out)
        self._end_all(out)
        self._done = True
        name = error_name(error)
        out.append(RunErrorEvent(message=short_message(error, _MAX_MESSAGE) or name, code=name))

    # --- spans: every start gets its end ---------------------------------------------

    def _start(
        self,
        key: _SpanKey,
        parent: _SpanKey | None,
        starts: list[AGUIEvent],
        out: list[AGUIEvent],
        *ends: AGUIEvent,
    ) -> None:
        out.extend(starts)
        self._spans[key] = _Span(list(ends), parent)

    def _end(self, key: _SpanKey, out: list[AGUIEvent]) -> None:
        """End a span if it is open: its open children first, newest first."""
        span = self._spans.get(key)
        if span is None:
            return
        for child in [k for k, s in reversed(self._spans.items()) if s.parent == key]:
            self._end(child, out)
        del self._spans[key]
        if key[0] == "reasoning":
            self._reasoning_ids.pop(key[1], None)
        out.extend(span.ends)

    def _end_all(self, out: list[AGUIEvent]) -> None:
        while self._spans:
            self._end(next(reversed(self._spans)), out)


def _encoder(thread_id: str | None, run_id: str | None, interrupt_outcome: bool) -> AGUIEncoder:
    return AGUIEncoder(thread_id=thread_id, run_id=run_id, interrupt_outcome=interrupt_outcome)


def encode_agui(
    events: Iterable[Event],
    *,
    thread_id: str | None = None,
    run_id: str | None = None,
    interrupt_outcome: bool = False,
    raise_errors: bool = True,
) -> Generator[bytes, None, None]:
    """A sync event stream as AG-UI SSE bytes, ready for a streaming response.

    Feeds every event to an ``AGUIEncoder`` and frames what it emits; when
    ``events`` ends, or raises, the encoder's ``close()`` ends every open start
    and the run (``RUN_FINISHED``, or ``RUN_ERROR``). Closing the returned
    generator (a web framework does when the client leaves) closes ``events``,
    which stops the graph run behind an ``lgs.stream()``.

    Args:
        events: the raw events of ``lgs.stream(graph, input, modes=["messages",
            "updates", "values", "custom"])``, or any iterable of events.
        thread_id: see ``AGUIEncoder``.
        run_id: see ``AGUIEncoder``.
        interrupt_outcome: see ``AGUIEncoder``.
        raise_errors: re-raise an exception from ``events`` after its
            ``RUN_ERROR`` frame; ``False`` ends the byte stream quietly instead
            (what an HTTP response wants: the client already has the error).
    """
    return encode(_encoder(thread_id, run_id, interrupt_outcome), events, raise_errors=raise_errors)


def aencode_agui(
    events: AsyncIterable[Event],
    *,
    thread_id: str | None = None,
    run_id: str | None = None,
    interrupt_outcome: bool = False,
    raise_errors: bool = True,
) -> AsyncGenerator[bytes, None]:
    """An async event stream as AG-UI SSE bytes (the twin of ``encode_agui``).

    Closing the returned generator (or cancelling the task that drives it)
    closes ``events``, which cancels the graph run behind an ``lgs.astream()``.
    """
    return aencode(
        _encoder(thread_id, run_id, interrupt_outcome), events, raise_errors=raise_errors
    )


# --- the request: RunAgentInput -> graph input ------------------------------------------


def parse_run_input(body: object) -> RunAgentInput:
    """The JSON body an AG-UI client POSTs (``HttpAgent`` sends a ``RunAgentInput``),
    validated.

    Raises:
        ProtocolInputError: the body is no ``RunAgentInput``; the message names the
            first field that is wrong.
    """
    if isinstance(body, RunAgentInput):
        return body
    try:
        return RunAgentInput.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        raise ProtocolInputError(
            f"the body is not an AG-UI RunAgentInput: {where}: {first['msg']}"
            f" ({error.error_count()} problem{'s' if error.error_count() > 1 else ''})"
        ) from None


def _text_of(content: str | Sequence[object]) -> str:
    # Only text reaches the graph: images, audio and documents are left out.
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content if isinstance(part, TextPart))


def _tool_calls_of(message: AssistantMessage, where: str) -> list[LCToolCall]:
    calls: list[LCToolCall] = []
    for n, call in enumerate(message.tool_calls or ()):
        text = call.function.arguments
        try:
            args = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError:
            raise ProtocolInputError(
                f"{where}.toolCalls.{n}.function.arguments is not JSON: {text[:80]!r}"
            ) from None
        if not isinstance(args, dict):
            raise ProtocolInputError(f"{where}.toolCalls.{n}.function.arguments is no JSON object")
        calls.append(LCToolCall(name=call.function.name, args=args, id=call.id, type="tool_call"))
    return calls


def _to_langchain(message: AGUIMessage, where: str) -> BaseMessage | None:
    if isinstance(message, UserMessage):
        return HumanMessage(_text_of(message.content), id=message.id, name=message.name)
    if isinstance(message, AssistantMessage):
        return AIMessage(
            message.content or "",
            id=message.id,
            name=message.name,
            tool_calls=_tool_calls_of(message, where),
        )
    if isinstance(message, ToolMessage):
        return LCToolMessage(
            _text_of(message.content) or (message.error or ""),
            tool_call_id=message.tool_call_id,
            id=message.id,
            status="error" if message.error else "success",
        )
    if isinstance(message, SystemMessage | DeveloperMessage):
        return LCSystemMessage(message.content, id=message.id, name=message.name)
    # Reasoning and activity messages are the UI's record of the run, not model input.
    assert isinstance(message, ReasoningMessage | ActivityMessage)
    return None


_NO_RESUME: Final = object()


def _resume_of(run: RunAgentInput) -> Any:
    """What the request answers interrupts with (``_NO_RESUME`` if it does not)."""
    if run.resume:
        # LangGraph takes a map from interrupt id to answer; the ids are the ones the
        # encoder sent (LangGraph's own interrupt ids).
        return {
            entry.interrupt_id: entry.payload if entry.status == "resolved" else None
            for entry in run.resume
        }
    props = run.forwarded_props
    command = props.get("command") if isinstance(props, Mapping) else None
    if isinstance(command, Mapping) and "resume" in command:
        return command["resume"]  # CopilotKit's channel, as ag-ui-langgraph reads it
    return _NO_RESUME


def graph_input(
    run_input: RunAgentInput | Mapping[str, Any], *, history: bool = True
) -> dict[str, Any] | Command[Any]:
    """An AG-UI ``RunAgentInput`` as the input of a messages graph.

    A request that answers interrupts becomes ``Command(resume=...)`` (the thread
    holds the paused run, so its messages are not sent again): AG-UI 1.0's
    ``resume`` entries as a map from interrupt id to answer (a ``"cancelled"``
    entry answers ``None``), or CopilotKit's ``forwardedProps.command.resume`` as
    it is.

    Messages become LangChain messages under ``"messages"``, with the client's ids
    (so ``add_messages`` replaces rather than duplicates one the graph already
    has): user -> ``HumanMessage`` (text parts only), assistant -> ``AIMessage``
    with its tool calls (arguments parsed), tool -> ``ToolMessage``, system and
    developer -> ``SystemMessage``; reasoning and activity messages are left out.

    Args:
        run_input: the request body, or a validated ``RunAgentInput``.
        history: ``True`` (for a graph without a checkpointer: the client holds the
            conversation) sends every message, and the client's ``state`` (its
            keys but ``"messages"``) as input values too. ``False`` (the graph
            has a checkpointer and the thread holds the conversation and the
            state) sends only the new turn: the messages after the last
            assistant message (all of them if there is none), and no state.

    Raises:
        ProtocolInputError: the body is no ``RunAgentInput``, a tool call's
            arguments are not a JSON object, or it answers an interrupt with
            ``history=True`` (a graph without a checkpointer cannot be resumed).
    """
    run = parse_run_input(run_input)
    resume = _resume_of(run)
    if resume is not _NO_RESUME:
        if history:
            raise ProtocolInputError(
                "resume: the request answers an interrupt, but the graph has no checkpointer"
                " to hold a paused run; compile it with one (and use the AG-UI threadId)"
            )
        return Command(resume=resume)
    messages = list(run.messages)
    if not history:
        last = max(
            (i for i, m in enumerate(messages) if isinstance(m, AssistantMessage)), default=-1
        )
        messages = messages[last + 1 :]
    converted = [_to_langchain(m, f"messages.{i}") for i, m in enumerate(messages)]
    out: dict[str, Any] = {}
    if history and isinstance(run.state, Mapping):
        # The state came back from our own snapshots: its "messages" are the JSON
        # form of what `messages` carries properly.
        out.update((key, value) for key, value in run.state.items() if key != "messages")
    out["messages"] = [m for m in converted if m is not None]
    return out
