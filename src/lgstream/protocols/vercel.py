"""The Vercel AI SDK UI message stream: what ``useChat`` reads.

Written against the ``ai`` npm package 6.0 (read: 6.0.326,
``src/ui-message-stream/ui-message-chunks.ts`` and its stream processor) and
checked against 7.0 (7.0.173, the current major, in ``tests/js``), whose schema
only adds parts lgstream does not send (``custom``, ``reasoning-file``,
``reset-step``, ``steering-message``) and the ``"interrupted"`` finish reason. The
wire format is Server-Sent Events with one JSON object per ``data:`` line and a
``data: [DONE]`` line at the end (the SDK's ``JsonToSseTransformStream``); the
response carries the header ``x-vercel-ai-ui-message-stream: v1``.

``VercelEncoder`` is a stateful core that does no I/O: ``feed(event)`` returns the
parts an lgstream event gives, ``close()`` ends whatever is still open, and
``frame()`` turns a part into bytes. It takes the *raw* events of
``lgs.stream(graph, input, modes=["messages", "updates", "values", "custom"])``
and runs lgstream's own operators inside (``join_messages()``, ``reasoning()``,
``tool_calls()``), so nothing has to be piped first. Events those operators
derive are dropped from the input and derived again, so a stream that was already
piped through them is encoded the same way.

The rules the client enforces, and how the encoder keeps them:

- a ``text-delta`` / ``reasoning-delta`` needs an open part with its id, and
  ``finish-step`` forgets every open text and reasoning part: so text and
  reasoning parts are opened lazily, ended when their message ends, and all
  ended before any ``finish-step``;
- ``tool-input-delta`` needs a ``tool-input-start``, and ``tool-output-*`` needs
  a tool part with that ``toolCallId`` (the client throws otherwise): so outputs
  are only sent for calls this stream announced;
- every start gets its end, whether the run finishes, fails, is interrupted, or
  is cancelled: ``close()`` ends open text, reasoning, tool inputs and steps,
  then sends ``error`` or ``abort``, then ``finish``, exactly once.
"""

from __future__ import annotations

import json
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Callable,
    Generator,
    Iterable,
    Mapping,
)
from typing import Any, ClassVar, Final, Literal, NotRequired, TypeAlias, TypedDict, cast

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages import ToolCall as LCToolCall
from langgraph.types import Command

from .._errors import error_name, short_message
from .._events import (
    Custom,
    Event,
    Interrupt,
    JSONValue,
    Message,
    MessageDone,
    MessageStart,
    Reasoning,
    RunFailed,
    RunFinished,
    RunStarted,
    TaskResult,
    Token,
    ToolCallDelta,
    ToolCallInvalid,
    ToolCallReady,
    ToolCallStart,
    ToolError,
    ToolResult,
    Update,
    to_jsonable,
)
from .._pipeline import Chain
from ..ops import join_messages, reasoning, reasoning_text, tool_calls
from ..sinks._encoders import dumps
from ._drive import aencode, encode
from ._input import ProtocolInputError

__all__ = [
    "ProtocolInputError",
    "VercelAbort",
    "VercelData",
    "VercelEncoder",
    "VercelError",
    "VercelFinish",
    "VercelFinishReason",
    "VercelFinishStep",
    "VercelPart",
    "VercelReasoningDelta",
    "VercelReasoningEnd",
    "VercelReasoningStart",
    "VercelStart",
    "VercelStartStep",
    "VercelTextDelta",
    "VercelTextEnd",
    "VercelTextStart",
    "VercelToolInputAvailable",
    "VercelToolInputDelta",
    "VercelToolInputError",
    "VercelToolInputStart",
    "VercelToolOutputAvailable",
    "VercelToolOutputError",
    "aencode_vercel",
    "encode_vercel",
    "graph_input",
]

# --- the parts (field names as in the SDK's zod schema) ------------------------------

VercelFinishReason: TypeAlias = Literal[
    "stop", "length", "content-filter", "tool-calls", "error", "other"
]
"""The values ``finish.finishReason`` may take."""


class VercelStart(TypedDict):
    """The response message begins."""

    type: Literal["start"]
    messageId: NotRequired[str]


class VercelStartStep(TypedDict):
    """A step begins (the client adds a ``step-start`` part to the message)."""

    type: Literal["start-step"]


class VercelFinishStep(TypedDict):
    """A step ends (the client forgets its open text and reasoning parts)."""

    type: Literal["finish-step"]


class VercelTextStart(TypedDict):
    """A text part begins."""

    type: Literal["text-start"]
    id: str


class VercelTextDelta(TypedDict):
    """A piece of a text part."""

    type: Literal["text-delta"]
    id: str
    delta: str


class VercelTextEnd(TypedDict):
    """A text part ends."""

    type: Literal["text-end"]
    id: str


class VercelReasoningStart(TypedDict):
    """A reasoning part begins."""

    type: Literal["reasoning-start"]
    id: str


class VercelReasoningDelta(TypedDict):
    """A piece of a reasoning part."""

    type: Literal["reasoning-delta"]
    id: str
    delta: str


class VercelReasoningEnd(TypedDict):
    """A reasoning part ends."""

    type: Literal["reasoning-end"]
    id: str


class VercelToolInputStart(TypedDict):
    """The model began a tool call."""

    type: Literal["tool-input-start"]
    toolCallId: str
    toolName: str


class VercelToolInputDelta(TypedDict):
    """A piece of a tool call's JSON arguments, as the model streams them."""

    type: Literal["tool-input-delta"]
    toolCallId: str
    inputTextDelta: str


class VercelToolInputAvailable(TypedDict):
    """A tool call is complete: its parsed arguments."""

    type: Literal["tool-input-available"]
    toolCallId: str
    toolName: str
    input: JSONValue


class VercelToolInputError(TypedDict):
    """A tool call's arguments are not a JSON object: the raw text and why."""

    type: Literal["tool-input-error"]
    toolCallId: str
    toolName: str
    input: JSONValue
    errorText: str


class VercelToolOutputAvailable(TypedDict):
    """A tool's result."""

    type: Literal["tool-output-available"]
    toolCallId: str
    output: JSONValue


class VercelToolOutputError(TypedDict):
    """A tool failed."""

    type: Literal["tool-output-error"]
    toolCallId: str
    errorText: str


class VercelData(TypedDict):
    """A data part: ``type`` is ``"data-<name>"``. The client replaces an earlier
    part with the same type and ``id``; a ``transient`` part only reaches
    ``onData`` and is never added to the message."""

    type: str
    data: JSONValue
    id: NotRequired[str]
    transient: NotRequired[bool]


class VercelError(TypedDict):
    """The run failed (the client calls ``onError``)."""

    type: Literal["error"]
    errorText: str


class VercelAbort(TypedDict):
    """The stream was cut short."""

    type: Literal["abort"]
    reason: NotRequired[str]


class VercelFinish(TypedDict):
    """The response message is complete."""

    type: Literal["finish"]
    finishReason: NotRequired[VercelFinishReason]


VercelPart: TypeAlias = (
    VercelStart
    | VercelStartStep
    | VercelFinishStep
    | VercelTextStart
    | VercelTextDelta
    | VercelTextEnd
    | VercelReasoningStart
    | VercelReasoningDelta
    | VercelReasoningEnd
    | VercelToolInputStart
    | VercelToolInputDelta
    | VercelToolInputAvailable
    | VercelToolInputError
    | VercelToolOutputAvailable
    | VercelToolOutputError
    | VercelData
    | VercelError
    | VercelAbort
    | VercelFinish
)
"""One part ("chunk" in the SDK) of the UI message stream."""

# --- the encoder -----------------------------------------------------------------------

_MAX_ERROR: Final = 300
# Events the internal operators make: dropped from the input and derived again.
_DERIVED: Final = frozenset(
    {
        "message_start",
        "message_done",
        "reasoning",
        "tool_call_start",
        "tool_call_delta",
        "tool_call_ready",
        "tool_call_invalid",
    }
)

_Kind: TypeAlias = Literal["text", "reasoning"]
_Where: TypeAlias = tuple[tuple[str, ...], str | None]  # (ns, node)


def _error_text(error: BaseException) -> str:
    """``"Type: first line of the message"``, short: what the ASGI helper sends too."""
    name = error_name(error)
    line = short_message(error, _MAX_ERROR - len(name) - 2)
    return f"{name}: {line}" if line else name


def _root(ns: tuple[str, ...], node: str | None) -> str | None:
    """The root graph's node that an event came from (its own, or a subgraph's)."""
    return ns[0].partition(":")[0] if ns else node


class _Segment:
    """The text or reasoning part a message has open."""

    __slots__ = ("id", "kind")

    def __init__(self, kind: _Kind, id: str) -> None:
        self.kind = kind
        self.id = id


class _Message:
    """A streamed message: its open part, and how many parts of each kind it had."""

    __slots__ = ("counts", "key", "open", "root")

    def __init__(self, key: str, root: str | None) -> None:
        self.key = key
        self.root = root
        self.open: _Segment | None = None
        self.counts: dict[_Kind, int] = {"text": 0, "reasoning": 0}

    def next_id(self, kind: _Kind) -> str:
        # The first text part is the message id itself: the id a client most
        # likely knows. Later parts of the message get numbered ids.
        n = self.counts[kind]
        self.counts[kind] = n + 1
        if kind == "text":
            return self.key if n == 0 else f"{self.key}:text:{n}"
        return f"{self.key}:reasoning" if n == 0 else f"{self.key}:reasoning:{n}"


class VercelEncoder:
    """Encodes lgstream events as the Vercel AI SDK UI message stream.

    A stateful core with no I/O, one per response::

        >>> import lgstream as lgs
        >>> enc = VercelEncoder(message_id="msg-1")
        >>> enc.feed(lgs.Custom(data={"progress": 1}))
        [{'type': 'start', 'messageId': 'msg-1'}, {'type': 'data-custom', 'data': {'progress': 1}}]
        >>> enc.close()
        [{'type': 'finish', 'finishReason': 'stop'}]
        >>> enc.frame({"type": "finish"})
        b'data: {"type":"finish"}\\n\\n'

    Send ``headers`` with the response (``media_type`` is its content type),
    ``frame(part)`` for each part, and ``done`` last; or let ``encode_vercel`` /
    ``aencode_vercel`` do all of it.

    Args:
        message_id: the id of the assistant message the stream builds (``start``'s
            ``messageId``); ``None`` lets the client make one up.
        error_text: what the client is told when the run fails; the default is
            ``"<Type>: <first line of the message>"``. Pass a function that
            returns a fixed text to hide errors, as the SDK does by default. It
            is also the place to log the error: it is called once per failure.
    """

    media_type: ClassVar[str] = "text/event-stream"
    done: ClassVar[bytes] = b"data: [DONE]\n\n"
    """The line that ends a UI message stream, after ``finish``."""
    trailer: ClassVar[bytes] = done
    """What ends the response (``done``)."""

    __slots__ = (
        "_calls",
        "_chain",
        "_closed",
        "_current",
        "_error_text",
        "_interrupted",
        "_message_id",
        "_messages",
        "_outputs",
        "_scan_updates",
        "_seen_messages",
        "_started",
        "_step_nodes",
        "_step_open",
        "_whole_count",
        "headers",
    )

    def __init__(
        self,
        *,
        message_id: str | None = None,
        error_text: Callable[[BaseException], str] = _error_text,
    ) -> None:
        self.headers: Mapping[str, str] = {
            "x-vercel-ai-ui-message-stream": "v1",
            "cache-control": "no-cache",
            "x-accel-buffering": "no",  # nginx would buffer the stream otherwise
        }
        """Response headers the protocol asks for (``content-type`` aside: see
        ``media_type``). The SDK also sends ``connection: keep-alive``; it is a
        hop-by-hop header that HTTP/2 forbids, so it is left to the server."""
        self._message_id = message_id
        self._error_text = error_text
        self._chain = Chain((join_messages(), reasoning(), tool_calls()))
        self._started = False
        self._closed = False
        self._interrupted = False
        self._step_open = False
        self._step_nodes: set[str] = set()
        self._messages: dict[str, _Message] = {}
        self._current: dict[_Where, str] = {}  # where -> key of its last message begun
        self._seen_messages: set[str] = set()  # ids of messages already sent as text
        self._calls: dict[str, str] = {}  # call id -> tool name, for calls announced
        self._outputs: set[str] = set()  # call ids whose output was sent
        self._scan_updates = True  # until the stream shows it has messages mode
        self._whole_count = 0  # id-less whole messages, numbered

    @property
    def closed(self) -> bool:
        """Whether the stream has ended (``finish`` was sent, or ``close()`` called)."""
        return self._closed

    def feed(self, event: Event) -> list[VercelPart]:
        """Take one event; return the parts it gives, in order.

        ``RunFinished`` and ``RunFailed`` end the stream themselves (``finish``);
        events after the end give nothing.
        """
        if self._closed:
            return []
        out: list[VercelPart] = []
        self._begin(out)
        if event.kind in _DERIVED:
            return out
        for item in self._chain.feed(event):
            self._handle(item, out)
        return out

    def close(
        self, error: BaseException | None = None, *, cancelled: bool = False
    ) -> list[VercelPart]:
        """End the stream: every open part, then ``error`` or ``abort``, then ``finish``.

        Calls after the first, and calls after a ``RunFinished`` / ``RunFailed``
        event, return nothing.

        Args:
            error: the run failed with this error: send ``error``, and ``finish``
                with ``finishReason: "error"``.
            cancelled: the stream was cut short (the client left, the server is
                stopping): send ``abort``, then ``finish`` without a reason.
        """
        if self._closed:
            return []
        out: list[VercelPart] = []
        self._begin(out)
        for item in self._chain.flush():
            self._handle(item, out)
        if not self._closed:
            self._end(out, error, cancelled=cancelled)
        return out

    def frame(self, part: VercelPart) -> bytes:
        """One part as an SSE message: ``data: <compact JSON>`` and a blank line."""
        # A TypedDict is a dict of JSON values; mypy only lacks a way to say so.
        return b"data: " + dumps(cast("JSONValue", part)).encode() + b"\n\n"

    def __repr__(self) -> str:
        return f"VercelEncoder(message_id={self._message_id!r})"

    # --- events ----------------------------------------------------------------------

    def _handle(self, ev: Event, out: list[VercelPart]) -> None:
        if self._closed:  # a RunFinished / RunFailed ended the stream mid-batch
            return
        if isinstance(ev, Token):
            if ev.text:
                self._delta(self._key(ev.ns, ev.node, ev.message_id), "text", ev.text, out)
        elif isinstance(ev, Reasoning):
            self._delta(self._key(ev.ns, ev.node, ev.message_id), "reasoning", ev.text, out)
        elif isinstance(ev, MessageStart):
            self._current[(ev.ns, ev.node)] = ev.message_id
            self._scan_updates = False
        elif isinstance(ev, MessageDone):
            self._seen_messages.add(ev.message_id)
            # Kept, not dropped: a later message with the same id must not reuse
            # its part ids.
            message = self._messages.get(ev.message_id)
            if message is not None:
                self._end_segment(message, out)
        elif isinstance(ev, ToolCallStart):
            # A call ends the text before it, so text after it is a new part
            # and shows after the call, in the order the model wrote them.
            key = self._key(ev.ns, ev.node, ev.message_id, create=False)
            if key in self._messages:
                self._end_segment(self._messages[key], out)
            self._step(_root(ev.ns, ev.node), out)
            self._calls[ev.call_id] = ev.name
            out.append({"type": "tool-input-start", "toolCallId": ev.call_id, "toolName": ev.name})
        elif isinstance(ev, ToolCallDelta):
            out.append(
                {
                    "type": "tool-input-delta",
                    "toolCallId": ev.call_id,
                    "inputTextDelta": ev.args_delta,
                }
            )
        elif isinstance(ev, ToolCallReady):
            self._calls[ev.call_id] = ev.name
            out.append(
                {
                    "type": "tool-input-available",
                    "toolCallId": ev.call_id,
                    "toolName": ev.name,
                    "input": to_jsonable(ev.args),
                }
            )
        elif isinstance(ev, ToolCallInvalid):
            self._calls[ev.call_id] = ev.name
            out.append(
                {
                    "type": "tool-input-error",
                    "toolCallId": ev.call_id,
                    "toolName": ev.name,
                    "input": ev.raw_args,
                    "errorText": ev.error,
                }
            )
        elif isinstance(ev, Message):
            self._scan_updates = False
            self._whole(ev.message, _root(ev.ns, ev.node), out)
        elif isinstance(ev, Update):
            self._scan(ev, out)
            self._node_returned(ev.ns, ev.node, out)
        elif isinstance(ev, TaskResult):
            # A node that returned nothing sends no Update; its task result still ends it.
            self._node_returned(ev.ns, ev.node, out)
        elif isinstance(ev, Custom):
            out.append(_data_part(ev.data))
        elif isinstance(ev, Interrupt):
            self._interrupted = True
            part: VercelData = {
                "type": "data-interrupt",
                "data": {"id": ev.interrupt_id, "value": to_jsonable(ev.value)},
            }
            if ev.interrupt_id is not None:
                part["id"] = ev.interrupt_id
            out.append(part)
        elif isinstance(ev, ToolResult):
            result = ev.output
            value = result.content if isinstance(result, ToolMessage) else result
            self._tool_output(ev.call_id, to_jsonable(value), None, _root(ev.ns, ev.node), out)
        elif isinstance(ev, ToolError):
            self._tool_output(ev.call_id, None, ev.message, _root(ev.ns, ev.node), out)
        elif isinstance(ev, RunStarted):
            if "messages" in ev.modes:
                self._scan_updates = False
        elif isinstance(ev, RunFinished):
            self._interrupted = self._interrupted or bool(ev.interrupts)
            if ev.output is not None:
                # Transient: the whole state in every assistant message would be
                # sent back to the server with each request, and grow with the chat.
                state: VercelData = {
                    "type": "data-state",
                    "id": "state",
                    "data": to_jsonable(ev.output),
                    "transient": True,
                }
                self._end_parts(out)
                out.append(state)
            self._end(out, None, cancelled=False)
        elif isinstance(ev, RunFailed):
            self._end(out, ev.error, cancelled=False)
        # Values, checkpoints, tasks, tool-output deltas, state patches: nothing
        # in the UI message stream matches them (the final state is sent above).

    def _scan(self, ev: Update, out: list[VercelPart]) -> None:
        if self._scan_updates and isinstance(ev.data, Mapping):
            # No messages mode: the node's returned messages are all there is.
            for value in ev.data.values():
                items = value if isinstance(value, list) else [value]
                for item in items:
                    if isinstance(item, BaseMessage):
                        self._whole(item, _root(ev.ns, ev.node), out)

    def _node_returned(self, ns: tuple[str, ...], node: str | None, out: list[VercelPart]) -> None:
        """A root node returned: the step ends once every node in it has."""
        if ns or node is None or not self._step_open or node not in self._step_nodes:
            return
        self._step_nodes.discard(node)
        if not self._step_nodes:
            self._finish_step(out)

    # --- parts -----------------------------------------------------------------------

    def _begin(self, out: list[VercelPart]) -> None:
        if not self._started:
            self._started = True
            start: VercelStart = {"type": "start"}
            if self._message_id is not None:
                start["messageId"] = self._message_id
            out.append(start)

    def _key(
        self, ns: tuple[str, ...], node: str | None, message_id: str | None, *, create: bool = True
    ) -> str:
        # Id-less chunks: join_messages() made up a key for them, and announced it
        # with the MessageStart just before the message's first token.
        key = message_id if message_id is not None else self._current.get((ns, node))
        if key is None:  # only without a MessageStart: cannot come from the chain
            key = f"lgs-{len(self._current)}"
            self._current[(ns, node)] = key
        if create and key not in self._messages:
            self._messages[key] = _Message(key, _root(ns, node))
        return key

    def _step(self, root: str | None, out: list[VercelPart]) -> None:
        """Open a step for content from ``root``'s node, unless one is open."""
        if not self._step_open:
            self._step_open = True
            out.append({"type": "start-step"})
        if root is not None:
            self._step_nodes.add(root)

    def _finish_step(self, out: list[VercelPart]) -> None:
        # The client forgets open text and reasoning at finish-step: end them first.
        for message in self._messages.values():
            self._end_segment(message, out)
        self._step_open = False
        self._step_nodes.clear()
        out.append({"type": "finish-step"})

    def _delta(self, key: str, kind: _Kind, text: str, out: list[VercelPart]) -> None:
        message = self._messages[key]
        self._step(message.root, out)
        segment = message.open
        if segment is None or segment.kind != kind:
            self._end_segment(message, out)
            segment = message.open = _Segment(kind, message.next_id(kind))
            if kind == "text":
                out.append({"type": "text-start", "id": segment.id})
            else:
                out.append({"type": "reasoning-start", "id": segment.id})
        if kind == "text":
            out.append({"type": "text-delta", "id": segment.id, "delta": text})
        else:
            out.append({"type": "reasoning-delta", "id": segment.id, "delta": text})

    def _end_segment(self, message: _Message, out: list[VercelPart]) -> None:
        segment = message.open
        if segment is None:
            return
        message.open = None
        if segment.kind == "text":
            out.append({"type": "text-end", "id": segment.id})
        else:
            out.append({"type": "reasoning-end", "id": segment.id})

    def _whole(self, message: BaseMessage, root: str | None, out: list[VercelPart]) -> None:
        """A message that arrived whole: an unstreamed answer, or a tool's result."""
        if isinstance(message, ToolMessage):
            error = message.text if message.status == "error" else None
            self._tool_output(message.tool_call_id, to_jsonable(message.content), error, root, out)
            return
        if not isinstance(message, AIMessage):
            return  # the user's own messages, system prompts: the client has them
        if message.id is not None:
            if message.id in self._seen_messages:
                return
            self._seen_messages.add(message.id)
        key = message.id or f"lgs-message-{self._whole_count}"
        self._whole_count += 1
        entry = self._messages.setdefault(key, _Message(key, root))
        # reasoning_text() reads a chunk's content and kwargs; a whole message has both.
        thought = reasoning_text(
            AIMessageChunk(content=message.content, additional_kwargs=message.additional_kwargs)
        )
        for kind, text in (("reasoning", thought), ("text", message.text)):
            if text:
                self._delta(key, cast("_Kind", kind), text, out)
                self._end_segment(entry, out)
        for call in message.tool_calls:
            call_id = call.get("id")
            if call_id is None or call_id in self._calls:
                continue
            self._step(root, out)
            self._calls[call_id] = call["name"]
            out.append(
                {"type": "tool-input-start", "toolCallId": call_id, "toolName": call["name"]}
            )
            out.append(
                {
                    "type": "tool-input-available",
                    "toolCallId": call_id,
                    "toolName": call["name"],
                    "input": to_jsonable(call["args"]),
                }
            )
        for bad in message.invalid_tool_calls:
            call_id = bad.get("id")
            if call_id is None or call_id in self._calls:
                continue
            name = bad.get("name") or ""
            self._step(root, out)
            self._calls[call_id] = name
            out.append({"type": "tool-input-start", "toolCallId": call_id, "toolName": name})
            out.append(
                {
                    "type": "tool-input-error",
                    "toolCallId": call_id,
                    "toolName": name,
                    "input": bad.get("args"),
                    "errorText": bad.get("error") or "invalid tool call",
                }
            )

    def _tool_output(
        self,
        call_id: str,
        output: JSONValue,
        error: str | None,
        root: str | None,
        out: list[VercelPart],
    ) -> None:
        # The client throws on an output for a call it has no part for: only calls
        # this stream announced get one, and each only once.
        if call_id not in self._calls or call_id in self._outputs:
            return
        self._outputs.add(call_id)
        self._step(root, out)
        if error is not None:
            out.append({"type": "tool-output-error", "toolCallId": call_id, "errorText": error})
        else:
            out.append({"type": "tool-output-available", "toolCallId": call_id, "output": output})

    def _end_parts(self, out: list[VercelPart]) -> None:
        for message in self._messages.values():
            self._end_segment(message, out)
        if self._step_open:
            self._finish_step(out)

    def _end(self, out: list[VercelPart], error: BaseException | None, *, cancelled: bool) -> None:
        self._end_parts(out)
        self._closed = True
        if error is not None:
            out.append({"type": "error", "errorText": self._error_text(error)})
            out.append({"type": "finish", "finishReason": "error"})
        elif cancelled:
            out.append({"type": "abort", "reason": "cancelled"})
            out.append({"type": "finish"})
        else:
            out.append({"type": "finish", "finishReason": "other" if self._interrupted else "stop"})


def _data_part(payload: object) -> VercelData:
    """A ``custom`` event's payload as a data part.

    A payload that already is a data part (a mapping with a ``type`` starting with
    ``"data-"`` and a ``data`` key) goes through as it is, with its ``id`` and
    ``transient`` flag; anything else becomes ``data-custom``.
    """
    if isinstance(payload, Mapping):
        kind = payload.get("type")
        if (
            isinstance(kind, str)
            and kind.startswith("data-")
            and len(kind) > 5
            and "data" in payload
        ):
            part: VercelData = {"type": kind, "data": to_jsonable(payload["data"])}
            part_id = payload.get("id")
            if isinstance(part_id, str):
                part["id"] = part_id
            transient = payload.get("transient")
            if isinstance(transient, bool):
                part["transient"] = transient
            return part
    return {"type": "data-custom", "data": to_jsonable(payload)}


# --- whole streams ---------------------------------------------------------------------


def encode_vercel(
    events: Iterable[Event],
    *,
    message_id: str | None = None,
    error_text: Callable[[BaseException], str] = _error_text,
) -> Generator[bytes, None, None]:
    """Encode a sync event stream as a whole UI message stream, ``[DONE]`` included.

    An exception from ``events`` (``lgs.stream`` re-raises the graph's after its
    ``RunFailed``) is reported in the stream (``error``, ``finish``, ``[DONE]``)
    and not raised again: the response ends cleanly and the client shows the
    error. ``error_text`` sees every such error, so log there. Closing the
    returned generator (a web framework does when the client leaves) closes
    ``events``, which stops the graph run.

    Args:
        events: raw events, as ``lgs.stream(...)`` gives them.
        message_id: see ``VercelEncoder``.
        error_text: see ``VercelEncoder``.
    """
    encoder = VercelEncoder(message_id=message_id, error_text=error_text)
    return encode(encoder, events, raise_errors=False)


def aencode_vercel(
    events: AsyncIterable[Event],
    *,
    message_id: str | None = None,
    error_text: Callable[[BaseException], str] = _error_text,
) -> AsyncGenerator[bytes, None]:
    """Encode an async event stream (the twin of ``encode_vercel``).

    Closing the returned generator, or cancelling the task that reads it, closes
    ``events``, which cancels the graph run behind an ``lgs.astream()``.
    """
    encoder = VercelEncoder(message_id=message_id, error_text=error_text)
    return aencode(encoder, events, raise_errors=False)


# --- the request: a useChat body -> graph input -----------------------------------------

_ROLES: Final = ("system", "user", "assistant")
# Tool part states that carry the call's input (a streaming input is not complete).
_CALLED: Final = frozenset(
    {
        "input-available",
        "output-available",
        "output-error",
        "approval-requested",
        "approval-responded",
        "output-denied",
    }
)


def _field(value: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    item = value.get(key)
    if not isinstance(item, kind):
        article = "an" if kind.__name__[0] in "aeiou" else "a"
        raise ProtocolInputError(f"{where}.{key} must be {article} {kind.__name__}")
    return item


def _tool_part(part: Mapping[str, Any], where: str) -> tuple[str, str] | None:
    """``(tool name, call id)`` of a tool part (``tool-NAME`` or ``dynamic-tool``)."""
    kind = part["type"]
    if kind == "dynamic-tool":
        name = _field(part, "toolName", str, where)
    elif kind.startswith("tool-"):
        name = kind[5:]
    else:
        return None
    return name, _field(part, "toolCallId", str, where)


def _assistant(message_id: str, parts: list[Any], where: str) -> list[BaseMessage]:
    """An assistant UIMessage as LangChain messages: one ``AIMessage`` per step (the
    parts between ``step-start`` parts), each followed by its tool results."""
    out: list[BaseMessage] = []
    text: list[str] = []
    calls: list[LCToolCall] = []
    results: list[BaseMessage] = []

    def end_step() -> None:
        if text or calls:
            n = sum(isinstance(m, AIMessage) for m in out)
            out.append(
                AIMessage(
                    "".join(text),
                    id=message_id if n == 0 else f"{message_id}:{n}",
                    tool_calls=list(calls),
                )
            )
            out.extend(results)
        text.clear()
        calls.clear()
        results.clear()

    for i, part in enumerate(parts):
        at = f"{where}.parts.{i}"
        if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
            raise ProtocolInputError(f"{at} must be an object with a string type")
        kind = part["type"]
        if kind == "step-start":
            end_step()
        elif kind == "text":
            text.append(_field(part, "text", str, at))
        elif (tool := _tool_part(part, at)) is not None:
            name, call_id = tool
            state = part.get("state")
            if state not in _CALLED:
                continue  # still streaming its input: no call was made
            args = part.get("input")
            calls.append(
                LCToolCall(
                    name=name,
                    args=args if isinstance(args, dict) else {"input": args},
                    id=call_id,
                    type="tool_call",
                )
            )
            if state == "output-available":
                output = part.get("output")
                content = output if isinstance(output, str) else json.dumps(output)
                results.append(ToolMessage(content, tool_call_id=call_id))
            elif state == "output-error":
                error = part.get("errorText")
                results.append(
                    ToolMessage(
                        error if isinstance(error, str) else "error",
                        tool_call_id=call_id,
                        status="error",
                    )
                )
        # reasoning, files, sources and data parts: the UI's, not the model's
    end_step()
    return out


def graph_input(body: Mapping[str, Any], *, history: bool = True) -> dict[str, Any] | Command[Any]:
    """The body ``useChat`` POSTs (``{id, messages: UIMessage[], trigger, ...}``) as
    the input of a messages graph: ``{"messages": [LangChain messages]}``.

    The UI message stream has no way to answer an interrupt, so lgstream reads one
    extra field: a body with ``"resume"`` (``sendMessage(message, {body: {resume:
    value}})`` in ``useChat``) becomes ``Command(resume=value)``, and its messages
    are not sent again (the thread holds the paused run).

    A user message becomes a ``HumanMessage`` of its text parts, a system message a
    ``SystemMessage``, both with the UIMessage's id. An assistant message becomes one
    ``AIMessage`` per step (its text parts, and its tool parts whose input is
    complete as tool calls), each followed by a ``ToolMessage`` for every tool part
    with an output or an error. Reasoning, file, source and data parts are left out.

    Args:
        body: the parsed JSON body.
        history: ``True`` (a graph without a checkpointer: the client holds the
            conversation) sends every message; ``False`` (the graph has a
            checkpointer, and the thread ``body["id"]`` holds the conversation)
            sends only the new turn: the messages after the last assistant message.

    Raises:
        ProtocolInputError: the body is not of that shape; the message says where;
            or it has ``"resume"`` with ``history=True`` (a graph without a
            checkpointer cannot be resumed).
    """
    if not isinstance(body, Mapping):
        raise ProtocolInputError("the body must be a JSON object: {id, messages, trigger}")
    if "resume" in body:
        if history:
            raise ProtocolInputError(
                "body.resume answers an interrupt, but the graph has no checkpointer to"
                " hold a paused run; compile it with one (and send the chat id)"
            )
        return Command(resume=body["resume"])
    messages = _field(body, "messages", list, "body")
    if not messages:
        raise ProtocolInputError("body.messages is empty: there is nothing to answer")
    start = 0
    if not history:
        for i, message in enumerate(messages):
            if isinstance(message, Mapping) and message.get("role") == "assistant":
                start = i + 1
    out: list[BaseMessage] = []
    for i in range(start, len(messages)):
        where = f"body.messages.{i}"
        message = messages[i]
        if not isinstance(message, Mapping):
            raise ProtocolInputError(f"{where} must be an object")
        role = message.get("role")
        if role not in _ROLES:
            raise ProtocolInputError(
                f"{where}.role must be one of {', '.join(_ROLES)}, got {role!r}"
            )
        message_id = _field(message, "id", str, where)
        parts = _field(message, "parts", list, where)
        if role == "assistant":
            out.extend(_assistant(message_id, parts, where))
            continue
        text = []
        for j, part in enumerate(parts):
            if not isinstance(part, Mapping):
                raise ProtocolInputError(f"{where}.parts.{j} must be an object")
            if part.get("type") == "text":
                text.append(_field(part, "text", str, f"{where}.parts.{j}"))
        cls = HumanMessage if role == "user" else SystemMessage
        out.append(cls("".join(text), id=message_id))
    return {"messages": out}
