"""One typed event model over every LangGraph stream shape.

Every event is a frozen, slotted, keyword-only dataclass with a ``kind`` tag,
the namespace ``ns`` it came from (``()`` at the root graph, one
``"node:<task id>"`` segment per subgraph level) and the ``node`` that produced
it where LangGraph says so. ``Event`` is the union of them all, so ``match``
and ``if ev.kind == ...`` both narrow::

    match event:
        case Token(text=text, node="generate"):
            print(text, end="")
        case Interrupt(value=value):
            ask_the_user(value)

``to_jsonable()`` turns any event (and anything inside one, LangChain messages
included) into plain JSON data; every sink serialises through it.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import enum
import math
import uuid
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeAlias, overload

from langchain_core.messages import AIMessageChunk, BaseMessage
from pydantic import BaseModel

if TYPE_CHECKING:
    from langgraph.types import Interrupt as LangGraphInterrupt

__all__ = [
    "Checkpoint",
    "Custom",
    "Event",
    "EventKind",
    "Interrupt",
    "JSONValue",
    "Message",
    "MessageDone",
    "MessageStart",
    "Reasoning",
    "RunFailed",
    "RunFinished",
    "RunStarted",
    "StatePatch",
    "StateSnapshot",
    "TaskResult",
    "TaskStart",
    "Token",
    "ToolCallDelta",
    "ToolCallInvalid",
    "ToolCallReady",
    "ToolCallStart",
    "ToolError",
    "ToolOutputDelta",
    "ToolResult",
    "ToolStart",
    "Update",
    "Values",
    "to_jsonable",
]

JSONValue: TypeAlias = "dict[str, JSONValue] | list[JSONValue] | str | int | float | bool | None"
"""Plain JSON data, as ``json.dumps`` takes it."""

Namespace: TypeAlias = tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class _EventBase:
    """Fields every event has."""

    ns: Namespace = ()
    """Namespace of the graph that emitted the event: ``()`` at the root, then one
    ``"node:<task id>"`` segment per subgraph level."""
    node: str | None = None
    """The node that produced the event, where LangGraph says which."""
    event_id: str | None = field(default=None, compare=False, repr=False)
    """The id its source gave the event: a LangGraph Server's SSE event id (runs
    streamed with ``stream_resumable=True``), to resume the stream after it. Not part
    of equality, so a remote event equals the same local one."""

    # Fields left out of the JSON form: raw, shared or non-serialisable payloads.
    _json_skip: ClassVar[frozenset[str]] = frozenset()

    def to_dict(self) -> dict[str, JSONValue]:
        """This event as plain JSON data: ``{"kind": ..., "ns": [...], ...}``."""
        out: dict[str, JSONValue] = {"kind": getattr(self, "kind")}  # noqa: B009
        skip = self._json_skip
        for f in dataclasses.fields(self):
            if f.name not in skip:
                out[f.name] = to_jsonable(getattr(self, f.name))
        if out["event_id"] is None:  # only remote events have one: no null on every event
            del out["event_id"]
        return out


# --- messages mode ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Token(_EventBase):
    """One streamed chunk of a chat model's answer (``messages`` mode)."""

    kind: ClassVar[Literal["token"]] = "token"
    text: str
    """The chunk's text (``chunk.text``): ``""`` for chunks that carry only tool-call
    pieces, reasoning or usage."""
    message_id: str | None
    """Id of the message the chunk belongs to; chunks of one message share it."""
    chunk: AIMessageChunk
    """The chunk itself, as the model produced it."""
    step: int | None = None
    """The graph step (``langgraph_step``) the model ran in."""
    tags: tuple[str, ...] = ()
    """The model call's user tags (``with_config(tags=[...])``)."""
    metadata: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """LangGraph's metadata for the model call. Shared between chunks: read only."""

    _json_skip: ClassVar[frozenset[str]] = frozenset({"metadata"})


def _slot_setter(cls: type, name: str) -> Callable[[object, Any], None]:
    setter: Callable[[object, Any], None] = getattr(cls, name).__set__
    return setter


_new = object.__new__
_set_ns = _slot_setter(_EventBase, "ns")
_set_node = _slot_setter(_EventBase, "node")
_set_event_id = _slot_setter(_EventBase, "event_id")
_set_text = _slot_setter(Token, "text")
_set_message_id = _slot_setter(Token, "message_id")
_set_chunk = _slot_setter(Token, "chunk")
_set_step = _slot_setter(Token, "step")
_set_tags = _slot_setter(Token, "tags")
_set_metadata = _slot_setter(Token, "metadata")


def new_token(
    ns: Namespace,
    node: str | None,
    text: str,
    message_id: str | None,
    chunk: AIMessageChunk,
    step: int | None,
    tags: tuple[str, ...],
    metadata: Mapping[str, Any],
) -> Token:
    """``Token(...)`` for the hot path: the same object, built in a third of the time.

    A frozen dataclass sets each field through ``object.__setattr__``; one token
    per model chunk makes that the largest cost lgstream adds to a stream, so the
    normaliser fills the slots directly. ``tests/test_events.py`` checks that it
    sets every field and equals the ``__init__`` result.
    """
    token: Token = _new(Token)
    _set_ns(token, ns)
    _set_node(token, node)
    _set_event_id(token, None)
    _set_text(token, text)
    _set_message_id(token, message_id)
    _set_chunk(token, chunk)
    _set_step(token, step)
    _set_tags(token, tags)
    _set_metadata(token, metadata)
    return token


def stamp_event_id(event: _EventBase, event_id: str) -> None:
    """Give a just-built event (nobody else holds it yet) its source's id."""
    _set_event_id(event, event_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Message(_EventBase):
    """A whole message from ``messages`` mode: one a node returned without streaming it
    (a tool result, a message built by hand, a non-streaming model's answer)."""

    kind: ClassVar[Literal["message"]] = "message"
    message: BaseMessage
    """The message."""
    message_id: str | None
    """The message's id."""
    step: int | None = None
    """The graph step the message came from."""
    tags: tuple[str, ...] = ()
    """User tags of the call that made it, where known."""
    metadata: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """LangGraph's metadata for the node or model call. Read only."""

    _json_skip: ClassVar[frozenset[str]] = frozenset({"metadata"})


# --- updates / values / custom ---------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Update(_EventBase):
    """What one node returned in one step (``updates`` mode). ``node`` is always set."""

    kind: ClassVar[Literal["update"]] = "update"
    data: Any
    """The node's update, as the node returned it (often a partial state dict)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Values(_EventBase):
    """The whole state after a step (``values`` mode)."""

    kind: ClassVar[Literal["values"]] = "values"
    data: Any
    """The state, in the graph's output schema."""
    interrupts: tuple[Any, ...] = ()
    """Interrupts pending at this point (LangGraph ``Interrupt`` objects). Each one is
    also emitted once as an ``Interrupt`` event."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Custom(_EventBase):
    """Whatever a node wrote with its stream writer (``custom`` mode)."""

    kind: ClassVar[Literal["custom"]] = "custom"
    data: Any
    """The value passed to the writer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Interrupt(_EventBase):
    """The run paused for input (``interrupt()`` in a node, or ``interrupt_before``).

    Emitted once per interrupt id, whichever modes carried it (``updates``
    ``__interrupt__`` or v2 ``values`` interrupts). Resume the run with
    ``Command(resume=...)`` on the same thread.
    """

    kind: ClassVar[Literal["interrupt"]] = "interrupt"
    value: Any
    """The value passed to ``interrupt()``: what the graph asks."""
    interrupt_id: str | None
    """LangGraph's id for the interrupt, used to resume several at once."""
    raw: LangGraphInterrupt | Mapping[str, Any] | None = field(
        default=None, repr=False, compare=False
    )
    """The interrupt as it arrived: a LangGraph ``Interrupt`` (or a dict from a remote
    stream)."""

    _json_skip: ClassVar[frozenset[str]] = frozenset({"raw"})


# --- checkpoints / tasks / debug -------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint(_EventBase):
    """A checkpoint was written (``checkpoints`` mode, or ``debug`` mode)."""

    kind: ClassVar[Literal["checkpoint"]] = "checkpoint"
    values: Any
    """The state values at this checkpoint."""
    next: tuple[str, ...]
    """Nodes scheduled to run next."""
    checkpoint_id: str | None
    """The checkpoint's id (from its config), where a checkpointer is attached."""
    step: int | None = None
    """The step the checkpoint was taken at."""
    timestamp: str | None = None
    """ISO 8601 time (``debug`` mode only)."""
    data: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The whole payload: ``config``, ``metadata``, ``parent_config``, ``tasks``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskStart(_EventBase):
    """A node (task) started (``tasks`` or ``debug`` mode). ``node`` is its name."""

    kind: ClassVar[Literal["task_start"]] = "task_start"
    task_id: str
    """The task's id, shared with its ``TaskResult``."""
    input: Any
    """What the task was given."""
    triggers: tuple[str, ...] = ()
    """The channels that triggered it."""
    step: int | None = None
    """The step (``debug`` mode only)."""
    timestamp: str | None = None
    """ISO 8601 time (``debug`` mode only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskResult(_EventBase):
    """A node (task) finished, failed or was interrupted (``tasks`` or ``debug`` mode)."""

    kind: ClassVar[Literal["task_result"]] = "task_result"
    task_id: str
    """The task's id, shared with its ``TaskStart``."""
    result: Any = None
    """What the task wrote, on success."""
    error: BaseException | None = field(default=None, compare=False)
    """The exception, if the task failed. From a local graph it is the exception the
    node raised; from a LangGraph Server or recorded parts, which send only its type
    name and message, a ``TaskError`` that carries them. Its JSON form is
    ``{"type", "message"}``, as ``RunFailed.error``'s."""
    interrupts: tuple[Any, ...] = ()
    """Interrupts the task raised."""
    step: int | None = None
    """The step (``debug`` mode only)."""
    timestamp: str | None = None
    """ISO 8601 time (``debug`` mode only)."""

    @property
    def error_type(self) -> str | None:
        """The failed task's exception class name (``"ValueError"``), or None."""
        if self.error is None:
            return None
        return getattr(self.error, "error_type", None) or type(self.error).__name__

    @property
    def error_message(self) -> str | None:
        """The failed task's error message, or None."""
        if self.error is None:
            return None
        return str(getattr(self.error, "message", self.error))


# --- tools mode ------------------------------------------------------------------


def _deprecated_tool_call_id(event: ToolStart | ToolOutputDelta | ToolResult | ToolError) -> str:
    warnings.warn(
        f"{type(event).__name__}.tool_call_id is deprecated: use .call_id "
        "(the name ToolCallStart and the other tool-call events use)",
        DeprecationWarning,
        stacklevel=3,
    )
    return event.call_id


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolStart(_EventBase):
    """A tool started running (``tools`` mode). ``node`` is the node that ran it
    (``"tools"`` for a ``ToolNode``) when the run is local; LangGraph's ``tools``
    parts do not say, so from a server or recorded parts it is None."""

    kind: ClassVar[Literal["tool_start"]] = "tool_start"
    call_id: str
    """The id of the model's tool call this run answers (``ToolCallStart.call_id``)."""
    name: str
    """The tool's name."""
    input: Any = None
    """The tool's arguments."""

    @property
    def tool_call_id(self) -> str:
        """Deprecated: use ``call_id``."""
        return _deprecated_tool_call_id(self)

    @property
    def tool_name(self) -> str:
        """Deprecated: use ``name``."""
        warnings.warn(
            "ToolStart.tool_name is deprecated: use .name", DeprecationWarning, stacklevel=2
        )
        return self.name


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolOutputDelta(_EventBase):
    """A piece of output a running tool streamed (``tools`` mode)."""

    kind: ClassVar[Literal["tool_output_delta"]] = "tool_output_delta"
    call_id: str
    """The tool call the output belongs to."""
    delta: Any
    """The piece of output."""

    @property
    def tool_call_id(self) -> str:
        """Deprecated: use ``call_id``."""
        return _deprecated_tool_call_id(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResult(_EventBase):
    """A tool finished (``tools`` mode)."""

    kind: ClassVar[Literal["tool_result"]] = "tool_result"
    call_id: str
    """The tool call this result answers."""
    output: Any
    """What the tool returned (often a ``ToolMessage``)."""

    @property
    def tool_call_id(self) -> str:
        """Deprecated: use ``call_id``."""
        return _deprecated_tool_call_id(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolError(_EventBase):
    """A tool raised (``tools`` mode)."""

    kind: ClassVar[Literal["tool_error"]] = "tool_error"
    call_id: str
    """The tool call that failed."""
    message: str
    """The error message."""

    @property
    def tool_call_id(self) -> str:
        """Deprecated: use ``call_id``."""
        return _deprecated_tool_call_id(self)


# --- run lifecycle ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(_EventBase):
    """The first event of every ``lgs.stream()`` / ``lgs.astream()`` run."""

    kind: ClassVar[Literal["run_started"]] = "run_started"
    run_id: str
    """lgstream's id for the run (also passed to LangGraph as the run id)."""
    input: Any = None
    """The input the graph was given."""
    modes: tuple[str, ...] = ()
    """The stream modes asked for."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished(_EventBase):
    """The run ended without error: the last event of a successful run."""

    kind: ClassVar[Literal["run_finished"]] = "run_finished"
    run_id: str
    """The run's id."""
    output: Any = None
    """The final state of the root graph (``None`` if the graph emitted none)."""
    interrupts: tuple[Interrupt, ...] = ()
    """Interrupts the run stopped at; empty when it ran to the end."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFailed(_EventBase):
    """The run raised: the last event before the error reaches the caller."""

    kind: ClassVar[Literal["run_failed"]] = "run_failed"
    run_id: str
    """The run's id."""
    error: BaseException = field(compare=False)
    """The exception the graph raised. Its JSON form is ``{"type", "message"}``."""


# --- events that operators derive ------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageStart(_EventBase):
    """A new streamed message began (``join_messages()``): its first token follows."""

    kind: ClassVar[Literal["message_start"]] = "message_start"
    message_id: str
    r"""The message's id; its ``Token``\ s and ``MessageDone`` carry the same one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageDone(_EventBase):
    """A streamed message is complete (``join_messages()``).

    ``message`` equals what langchain-core's ``add_ai_message_chunks(first, *rest)``
    gives for the message's chunks: content, tool calls, usage, metadata and id.
    """

    kind: ClassVar[Literal["message_done"]] = "message_done"
    message_id: str
    """The message's id."""
    message: AIMessageChunk
    """The whole message, joined from its chunks."""
    text: str
    """The message's text (``message.text``)."""
    reason: Literal["last_chunk", "node_update", "end_of_stream"]
    """What ended it: the model's last chunk, the node's update, or the stream's end."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reasoning(_EventBase):
    """A piece of a model's reasoning / thinking (``reasoning()``), kept apart from
    the answer text that ``Token.text`` carries."""

    kind: ClassVar[Literal["reasoning"]] = "reasoning"
    message_id: str | None
    """The message the reasoning belongs to."""
    text: str
    """The reasoning text of one chunk."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallStart(_EventBase):
    """The model began a tool call (``tool_calls()``)."""

    kind: ClassVar[Literal["tool_call_start"]] = "tool_call_start"
    call_id: str
    """The tool call's id (made up by lgstream, stable, if the provider sent none)."""
    name: str
    """The tool's name."""
    message_id: str | None
    """The message the call belongs to."""
    index: int | None = None
    """The provider's index for the call within its message, where it sent one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallDelta(_EventBase):
    """A piece of a tool call's JSON arguments as the model streams them."""

    kind: ClassVar[Literal["tool_call_delta"]] = "tool_call_delta"
    call_id: str
    """The tool call the piece belongs to."""
    args_delta: str
    """The raw JSON text of this piece."""
    message_id: str | None = None
    """The message the call belongs to."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallReady(_EventBase):
    """A tool call is complete and its arguments parsed."""

    kind: ClassVar[Literal["tool_call_ready"]] = "tool_call_ready"
    call_id: str
    """The tool call's id."""
    name: str
    """The tool's name."""
    args: dict[str, Any]
    """The parsed arguments."""
    message_id: str | None = None
    """The message the call belongs to."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallInvalid(_EventBase):
    """A tool call ended with arguments that are not a JSON object."""

    kind: ClassVar[Literal["tool_call_invalid"]] = "tool_call_invalid"
    call_id: str
    """The tool call's id."""
    name: str
    """The tool's name (``""`` if the model never sent one)."""
    raw_args: str
    """The argument text as received."""
    error: str
    """Why it could not be parsed."""
    message_id: str | None = None
    """The message the call belongs to."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StateSnapshot(_EventBase):
    """The whole state of one namespace, as JSON data (``diff_state()``): sent once,
    before the first ``StatePatch`` of that namespace."""

    kind: ClassVar[Literal["state_snapshot"]] = "state_snapshot"
    data: JSONValue
    """The state as JSON data (messages as their dicts)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatePatch(_EventBase):
    """What changed in one namespace's state since the last snapshot or patch, as an
    RFC 6902 JSON Patch (``diff_state()``). Apply with ``lgs.ops.apply_patch``."""

    kind: ClassVar[Literal["state_patch"]] = "state_patch"
    ops: tuple[dict[str, JSONValue], ...]
    """The patch operations, in order."""


Event: TypeAlias = (
    Token
    | Message
    | Update
    | Values
    | Custom
    | Interrupt
    | Checkpoint
    | TaskStart
    | TaskResult
    | ToolStart
    | ToolOutputDelta
    | ToolResult
    | ToolError
    | RunStarted
    | RunFinished
    | RunFailed
    | MessageStart
    | MessageDone
    | Reasoning
    | ToolCallStart
    | ToolCallDelta
    | ToolCallReady
    | ToolCallInvalid
    | StateSnapshot
    | StatePatch
)
"""Any lgstream event. Narrow with ``match`` or on ``event.kind``."""

EventKind: TypeAlias = Literal[
    "token",
    "message",
    "update",
    "values",
    "custom",
    "interrupt",
    "checkpoint",
    "task_start",
    "task_result",
    "tool_start",
    "tool_output_delta",
    "tool_result",
    "tool_error",
    "run_started",
    "run_finished",
    "run_failed",
    "message_start",
    "message_done",
    "reasoning",
    "tool_call_start",
    "tool_call_delta",
    "tool_call_ready",
    "tool_call_invalid",
    "state_snapshot",
    "state_patch",
]


# --- JSON ------------------------------------------------------------------------


@overload
def to_jsonable(value: _EventBase) -> dict[str, JSONValue]: ...
@overload
def to_jsonable(value: object) -> JSONValue: ...
def to_jsonable(value: object) -> JSONValue:
    """Turn an event, or anything inside one, into plain JSON data.

    - events become ``{"kind": ..., **fields}`` (raw, shared payloads such as
      ``Token.metadata`` are left out);
    - LangChain messages and other pydantic models become their ``model_dump()``
      dicts (messages keep their ``type``, so they can be read back);
    - dataclasses become dicts of their fields, tuples and sets become lists;
    - exceptions become ``{"type": "ValueError", "message": "..."}`` (for lgstream's
      stand-ins for errors raised elsewhere, ``RemoteRunError``, ``TaskError`` and
      ``RecordedError``, the original type and message);
    - datetimes, dates and times become ISO 8601 strings, UUIDs strings, enums their
      values, bytes base64 strings; NaN and infinities become ``"NaN"``,
      ``"Infinity"`` and ``"-Infinity"`` (JSON has no such numbers);
    - anything else becomes its ``repr()``, so serialising never fails mid-stream.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, _EventBase):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, BaseModel):  # LangChain messages included
        return to_jsonable(value.model_dump())
    if isinstance(value, BaseException):
        # An error that stands in for one raised elsewhere (a server's, a recording's)
        # keeps the original's type and message, so its JSON form round-trips.
        kind, message = getattr(value, "error_type", None), getattr(value, "message", None)
        if isinstance(kind, str) and isinstance(message, str):
            return {"type": kind, "message": message}
        return {"type": type(value).__name__, "message": str(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        inner: object = value.value
        return to_jsonable(inner)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return repr(value)
