"""Where events come from: graph runs, and raw parts the user already has.

``stream()`` / ``astream()`` run a graph with LangGraph's v2 parts (typed dicts
``{"type", "ns", "data"}``) and turn every part into lgstream events through
one I/O-free normaliser, which ``from_parts()`` / ``afrom_parts()`` share for
raw v1 tuples, v2 dicts and remote (dict-serialised) parts.

Stopping a run when the consumer goes away differs by flavour:

- async: closing the stream closes LangGraph's ``astream`` generator, which
  cancels the running node tasks;
- sync: LangGraph's ``stream().close()`` waits for the running node to finish,
  so lgstream also attaches a callback handler that raises
  ``StopRun`` at the model's next token (or the next model, tool
  or chain start) once the stream is closed. A node busy in pure Python, with no
  model call or callback, cannot be interrupted from outside: close() then
  waits for that node to return.
"""

from __future__ import annotations

import inspect
import signal
import threading
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any, Final, Literal, TypeAlias

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    ChatMessageChunk,
    FunctionMessage,
    FunctionMessageChunk,
    HumanMessage,
    HumanMessageChunk,
    RemoveMessage,
    SystemMessage,
    SystemMessageChunk,
    ToolMessage,
    ToolMessageChunk,
)
from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from langgraph.pregel.protocol import PregelProtocol
from langgraph.pregel.remote import RemoteGraph

from ._errors import (
    MalformedPartError,
    NotAGraphError,
    StopRun,
    TaskError,
    UnknownStreamModeError,
    UsageError,
)
from ._events import (
    Checkpoint,
    Custom,
    Event,
    Interrupt,
    Message,
    RunFailed,
    RunFinished,
    RunStarted,
    TaskResult,
    TaskStart,
    ToolError,
    ToolOutputDelta,
    ToolResult,
    ToolStart,
    Update,
    Values,
    new_token,
)
from ._pipeline import AsyncEventStream, EventStream

__all__ = [
    "DEFAULT_MODES",
    "STREAM_MODES",
    "GraphLike",
    "StreamMode",
    "afrom_parts",
    "astream",
    "from_parts",
    "stream",
]

StreamMode = Literal[
    "values", "updates", "messages", "custom", "checkpoints", "tasks", "debug", "tools"
]
STREAM_MODES: Final[tuple[StreamMode, ...]] = (
    "values",
    "updates",
    "messages",
    "custom",
    "checkpoints",
    "tasks",
    "debug",
    "tools",
)
"""Every stream mode LangGraph has (``tools`` is undocumented, but real)."""

DEFAULT_MODES: Final[tuple[StreamMode, ...]] = ("messages", "updates")
"""Tokens, node updates, and interrupts (which ``updates`` carries)."""

_NO_VALUES: Final = object()

GraphLike: TypeAlias = PregelProtocol[Any, Any, Any, Any]
"""What ``stream()`` / ``astream()`` run: a compiled graph (``Pregel``), a
``RemoteGraph``, or any other ``PregelProtocol``. At run time any object with
``stream()`` and ``astream()`` methods is accepted."""


def _check_modes(modes: str | Iterable[str]) -> tuple[StreamMode, ...]:
    items = (modes,) if isinstance(modes, str) else tuple(modes)
    if not items:
        raise UnknownStreamModeError("(none)", STREAM_MODES)
    for mode in items:
        if mode not in STREAM_MODES:
            raise UnknownStreamModeError(mode, STREAM_MODES)
    return tuple(dict.fromkeys(items))  # type: ignore[arg-type]  # checked above


def _check_graph_kwargs(graph_kwargs: Mapping[str, Any]) -> None:
    """Refuse the LangGraph arguments lgstream sets itself: passed through, they
    would be overridden without a word."""
    for name in ("stream_mode", "mode"):
        if name in graph_kwargs:
            raise UsageError(
                f"lgstream takes the stream modes as modes=, not {name}=:"
                f" write modes={graph_kwargs[name]!r}"
            )
    if "version" in graph_kwargs:
        raise UsageError(
            "version= is lgstream's to set: it reads LangGraph's v2 parts and gives the"
            " same events for every version; drop the argument"
        )


# --- remote messages come as dicts --------------------------------------------------

_MESSAGE_TYPES: Final[dict[str, type[BaseMessage]]] = {
    "ai": AIMessage,
    "AIMessageChunk": AIMessageChunk,
    "human": HumanMessage,
    "HumanMessageChunk": HumanMessageChunk,
    "system": SystemMessage,
    "SystemMessageChunk": SystemMessageChunk,
    "tool": ToolMessage,
    "ToolMessageChunk": ToolMessageChunk,
    "function": FunctionMessage,
    "FunctionMessageChunk": FunctionMessageChunk,
    "chat": ChatMessage,
    "ChatMessageChunk": ChatMessageChunk,
    "remove": RemoveMessage,
}


def _looks_like_message(value: Mapping[str, Any]) -> bool:
    return value.get("type") in _MESSAGE_TYPES and "content" in value


def _plain_text_chunk(value: Mapping[str, Any]) -> bool:
    """A streamed text token: string content, no tool-call pieces. Nothing in it for
    AIMessageChunk's validators to compute, so it can skip them."""
    return (
        value.get("type") == "AIMessageChunk"
        and type(value.get("content")) is str
        and not value.get("tool_call_chunks")
        and not value.get("tool_calls")
        and not value.get("invalid_tool_calls")
    )


def revive_message(value: Mapping[str, Any]) -> BaseMessage:
    """Turn a message's ``model_dump()`` dict (as remote streams send it) back into
    the LangChain message class its ``type`` names."""
    if _plain_text_chunk(value):
        # The remote hot path, one per token: validation is most of what reviving
        # costs (~11 us of ~12), and builds the same object here (tests/test_parts.py
        # checks it against model_validate).
        return AIMessageChunk.model_construct(**value)
    cls = _MESSAGE_TYPES.get(value.get("type"))  # type: ignore[arg-type]
    if cls is None:
        raise MalformedPartError(value, f"unknown message type {value.get('type')!r}")
    return cls.model_validate(dict(value))


def _revive_all(value: Any) -> Any:
    """Revive message-shaped dicts anywhere in a (remote) state or update."""
    if isinstance(value, Mapping):
        if _looks_like_message(value):
            return revive_message(value)
        return {k: _revive_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revive_all(v) for v in value]
    return value


_Revived = dict[str, tuple[list[Any], list[Any]]]
"""A state's top-level key -> its raw list (as parsed) and that list revived."""


def _revive_list(raw: list[Any], before: tuple[list[Any], list[Any]] | None) -> list[Any]:
    """``_revive_all(raw)``, reusing what the previous step's list revived: a raw
    item equal to the previous one (a C-speed comparison, the common prefix in one
    go, else by ``id``) gives the same object, not a new revival."""
    if before is None:
        return [_revive_all(v) for v in raw]
    old_raw, old_out = before
    k = min(len(raw), len(old_raw))
    if raw[:k] == old_raw[:k]:  # the usual step: the same messages, some appended
        return old_out[:k] + [_revive_all(v) for v in raw[k:]]
    by_id = {
        v["id"]: (v, r)
        for v, r in zip(old_raw, old_out, strict=True)
        if isinstance(v, Mapping) and v.get("id") is not None
    }
    out = []
    for v in raw:
        hit = by_id.get(v.get("id")) if isinstance(v, Mapping) else None
        out.append(hit[1] if hit is not None and hit[0] == v else _revive_all(v))
    return out


def _revive_values(data: Any, before: _Revived | None, after: _Revived) -> Any:
    """``_revive_all(data)`` for a ``values`` state, reusing the messages revived for
    the previous state of the same namespace (``before``); records into ``after``.

    Remote states arrive as fresh JSON every step: without this, each step would
    revive every message again (about 1.4 ms per 1,000), and ``diff_state()`` would
    find no object the same as before.
    """
    if not isinstance(data, Mapping):
        return _revive_all(data)
    out = {}
    for key, value in data.items():
        if isinstance(value, list) and isinstance(key, str):
            out[key] = _revive_list(value, before.get(key) if before else None)
            after[key] = (value, out[key])
        else:
            out[key] = _revive_all(value)
    return out


# --- the normaliser: raw parts in, events out, no I/O ---------------------------------


def _as_ns(value: Any) -> tuple[str, ...]:
    if isinstance(value, tuple):
        return value
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split("|")) if value else ()
    return tuple(value)


def _is_ns(value: Any) -> bool:
    return isinstance(value, tuple | list) and all(isinstance(x, str) for x in value)


def _interrupt_parts(value: Any) -> tuple[str | None, Any]:
    if isinstance(value, Mapping):
        return value.get("id"), value.get("value")
    return getattr(value, "id", None), getattr(value, "value", value)


class Normaliser:
    """Turns raw LangGraph stream parts into events. Stateful (it emits each interrupt
    once and keeps the last root state), I/O-free, shared by every source.

    Args:
        emit: the modes whose own events are wanted; parts of other modes still
            surface their interrupts and the final state, but emit nothing else.
        mode: the stream mode of bare v1 items (``graph.stream(stream_mode="x")``).
        revive: turn message-shaped dicts (remote streams) back into messages.
        tool_nodes: tool call id -> the node running it, filled while the run goes
            (LangGraph's ``tools`` parts do not name the node); tool events take
            their ``node`` from it.
    """

    __slots__ = (
        "_emit",
        "_emit_messages",
        "_handlers",
        "_last_info",
        "_last_meta",
        "_mode",
        "_revive",
        "_revived",
        "_seen_interrupts",
        "_tool_nodes",
        "interrupts",
        "output",
    )

    def __init__(
        self,
        *,
        emit: Iterable[str] = STREAM_MODES,
        mode: str | None = None,
        revive: bool = False,
        tool_nodes: dict[str, str] | None = None,
    ) -> None:
        self._emit = frozenset(emit)
        self._tool_nodes = tool_nodes if tool_nodes is not None else {}
        self._emit_messages = "messages" in self._emit
        self._last_meta: Any = None
        self._last_info: tuple[str | None, int | None, tuple[str, ...]] = (None, None, ())
        self._mode = mode
        self._revive = revive
        self._revived: dict[tuple[str, ...], _Revived] = {}  # per ns, for ``values``
        self._seen_interrupts: set[str | int] = set()
        self.interrupts: list[Interrupt] = []
        """Every interrupt seen so far, in order."""
        self.output: Any = _NO_VALUES
        """The last root ``values`` state seen (``_NO_VALUES`` until one arrives)."""
        self._handlers: dict[str, Callable[[tuple[str, ...], Any, Any], list[Event]]] = {
            "messages": self._messages,
            "updates": self._updates,
            "values": self._values,
            "custom": self._custom,
            "checkpoints": self._checkpoints,
            "tasks": self._tasks,
            "debug": self._debug,
            "tools": self._tools,
        }

    # One entry point for every shape. The v2 dict comes first: it is the hot path.
    def feed(self, part: Any) -> list[Event]:
        """Events for one raw part, in order (often one, sometimes none)."""
        if type(part) is dict and "data" in part:
            # A local v2 part: a known mode and a tuple namespace, the hot path.
            handler = self._handlers.get(part.get("type"))  # type: ignore[arg-type]
            ns = part.get("ns", ())
            if handler is not None and type(ns) is tuple:
                return handler(ns, part["data"], part)
            if "type" in part:
                return self._dispatch(part["type"], ns, part["data"], part)
        if isinstance(part, tuple | list):
            if len(part) == 3 and _is_ns(part[0]) and isinstance(part[1], str):
                return self._dispatch(part[1], part[0], part[2], None)  # (ns, mode, data)
            if len(part) == 2 and isinstance(part[0], str) and self._known(part[0]):
                return self._dispatch(part[0], (), part[1], None)  # (mode, data)
            if len(part) == 2 and self._mode is not None and _is_ns(part[0]):
                return self._dispatch(self._mode, part[0], part[1], None)  # (ns, data)
        if self._mode is not None:
            return self._dispatch(self._mode, (), part, None)
        raise MalformedPartError(part, "no stream mode in it, and no `mode=` was given")

    def flush(self) -> list[Event]:
        """Nothing is held back: with ``feed`` this makes a normaliser an operator."""
        return []

    def finished(self, run_id: str) -> RunFinished:
        """The ``RunFinished`` of the run whose parts were fed: its last root state
        and every interrupt it stopped at."""
        output = self.output
        return RunFinished(
            run_id=run_id,
            output=None if output is _NO_VALUES else output,
            interrupts=tuple(self.interrupts),
        )

    def _known(self, name: str) -> bool:
        return name.split("|", 1)[0] in self._handlers

    def _dispatch(self, mode: str, ns: Any, data: Any, part: Any) -> list[Event]:
        handler = self._handlers.get(mode)
        if handler is None:
            # Remote streams name subgraph events "updates|parent:<id>|child:<id>".
            name, _, rest = mode.partition("|")
            handler = self._handlers.get(name)
            if handler is None:
                raise MalformedPartError(part or mode, f"unknown stream mode {mode!r}")
            if not ns and rest:
                ns = rest
        return handler(ns if type(ns) is tuple else _as_ns(ns), data, part)

    # --- one handler per mode -----------------------------------------------------

    def _call_info(self, meta: Any) -> tuple[str | None, int | None, tuple[str, ...]]:
        """Node, step and tags of a model call. LangGraph shares one metadata dict
        between all chunks of a call, so they are read once per call, not per chunk."""
        if meta is self._last_meta:
            return self._last_info
        if not meta:
            meta = {}
        tags = meta.get("tags")
        info = (meta.get("langgraph_node"), meta.get("langgraph_step"), tuple(tags) if tags else ())
        self._last_meta, self._last_info = meta, info
        return info

    def _messages(self, ns: tuple[str, ...], data: Any, part: Any) -> list[Event]:
        if not self._emit_messages:
            return []
        try:
            msg, meta = data
        except (TypeError, ValueError):
            raise MalformedPartError(
                data, "messages data must be a (message, metadata) pair"
            ) from None
        if type(msg) is not AIMessageChunk and not isinstance(msg, BaseMessage):
            if isinstance(msg, Mapping):
                msg = revive_message(msg)
            else:
                raise MalformedPartError(data, "messages data holds no message")
        node, step, tags = self._call_info(meta)
        metadata = meta or {}
        if isinstance(msg, AIMessageChunk):
            content = msg.content
            text = content if type(content) is str else msg.text
            return [new_token(ns, node, text, msg.id, msg, step, tags, metadata)]
        return [
            Message(
                ns=ns,
                node=node,
                message=msg,
                message_id=msg.id,
                step=step,
                tags=tags,
                metadata=metadata,
            )
        ]

    def _interrupts(self, ns: tuple[str, ...], items: Any) -> list[Event]:
        out: list[Event] = []
        if not items:
            return out
        for item in items:
            interrupt_id, value = _interrupt_parts(item)
            key: str | int = interrupt_id if interrupt_id is not None else id(item)
            if key in self._seen_interrupts:
                continue
            self._seen_interrupts.add(key)
            event = Interrupt(ns=ns, value=value, interrupt_id=interrupt_id, raw=item)
            self.interrupts.append(event)
            out.append(event)
        return out

    def _updates(self, ns: tuple[str, ...], data: Any, part: Any) -> list[Event]:
        if not isinstance(data, Mapping):
            raise MalformedPartError(data, "updates data must map node names to updates")
        out: list[Event] = []
        emit = "updates" in self._emit
        for node, update in data.items():
            if node == "__interrupt__":
                out.extend(self._interrupts(ns, update))
            elif node == "__metadata__":
                continue
            elif emit:
                value = _revive_all(update) if self._revive else update
                out.append(Update(ns=ns, node=node, data=value))
        return out

    def _values(self, ns: tuple[str, ...], data: Any, part: Any) -> list[Event]:
        interrupts: Any = part.get("interrupts", ()) if part is not None else ()
        if isinstance(data, Mapping) and "__interrupt__" in data:  # v1 and remote shapes
            interrupts = data["__interrupt__"]
            data = {k: v for k, v in data.items() if k != "__interrupt__"}
        if self._revive:
            revived: _Revived = {}
            data = _revive_values(data, self._revived.get(ns), revived)
            self._revived[ns] = revived
        if not ns:
            self.output = data
        out = self._interrupts(ns, interrupts)
        if "values" in self._emit:
            out.insert(0, Values(ns=ns, data=data, interrupts=tuple(interrupts or ())))
        return out

    def _custom(self, ns: tuple[str, ...], data: Any, part: Any) -> list[Event]:
        return [Custom(ns=ns, data=data)] if "custom" in self._emit else []

    def _checkpoint(
        self, ns: tuple[str, ...], data: Mapping[str, Any], step: Any, timestamp: Any
    ) -> Checkpoint:
        config = data.get("config") or {}
        configurable = config.get("configurable") or {}
        metadata = data.get("metadata") or {}
        values = data.get("values")
        return Checkpoint(
            ns=ns,
            values=_revive_all(values) if self._revive else values,
            next=tuple(data.get("next") or ()),
            checkpoint_id=configurable.get("checkpoint_id"),
            step=step if step is not None else metadata.get("step"),
            timestamp=timestamp,
            data=data,
        )

    def _checkpoints(self, ns: tuple[str, ...], data: Any, part: Any) -> list[Event]:
        if "checkpoints" not in self._emit:
            return []
        return [self._checkpoint(ns, data, None, None)]

    def _task(
        self, ns: tuple[str, ...], data: Mapping[str, Any], step: Any, timestamp: Any
    ) -> Event:
        if "triggers" in data or "input" in data:
            return TaskStart(
                ns=ns,
                node=data.get("name"),
                task_id=data.get("id", ""),
                input=data.get("input"),
                triggers=tuple(data.get("triggers") or ()),
                step=step,
                timestamp=timestamp,
            )
        result = data.get("result")
        return TaskResult(
            ns=ns,
            node=data.get("name"),
            task_id=data.get("id", ""),
            result=_revive_all(result) if self._revive else result,
            error=_task_error(data.get("error")),
            interrupts=tuple(data.get("interrupts") or ()),
            step=step,
            timestamp=timestamp,
        )

    def _tasks(self, ns: tuple[str, ...], data: Any, part: Any) -> list[Event]:
        return [self._task(ns, data, None, None)] if "tasks" in self._emit else []

    def _debug(self, ns: tuple[str, ...], data: Any, part: Any) -> list[Event]:
        if "debug" not in self._emit:
            return []
        kind, payload = data.get("type"), data.get("payload") or {}
        step, timestamp = data.get("step"), data.get("timestamp")
        if kind == "checkpoint":
            return [self._checkpoint(ns, payload, step, timestamp)]
        if kind in ("task", "task_result"):
            return [self._task(ns, payload, step, timestamp)]
        raise MalformedPartError(data, f"unknown debug event type {kind!r}")

    def _tools(self, ns: tuple[str, ...], data: Any, part: Any) -> list[Event]:
        if "tools" not in self._emit:
            return []
        event, call_id = data.get("event"), data.get("tool_call_id", "")
        nodes = self._tool_nodes
        if event == "tool-started":
            return [
                ToolStart(
                    ns=ns,
                    node=nodes.get(call_id),
                    call_id=call_id,
                    name=data.get("tool_name", ""),
                    input=data.get("input"),
                )
            ]
        if event == "tool-output-delta":
            delta = data.get("delta")
            return [ToolOutputDelta(ns=ns, node=nodes.get(call_id), call_id=call_id, delta=delta)]
        if event == "tool-finished":
            output = data.get("output")
            if self._revive and isinstance(output, Mapping):
                output = _revive_all(output)
            return [
                ToolResult(ns=ns, node=nodes.pop(call_id, None), call_id=call_id, output=output)
            ]
        if event == "tool-error":
            message = str(data.get("message"))
            return [
                ToolError(ns=ns, node=nodes.pop(call_id, None), call_id=call_id, message=message)
            ]
        raise MalformedPartError(data, f"unknown tools event {event!r}")


def _task_error(error: Any) -> BaseException | None:
    """A task's error as an exception: local graphs hand it over; servers and
    recordings send its type and message."""
    if error is None or isinstance(error, BaseException):
        return error
    return TaskError.from_wire(error)


class _ToolNodes(BaseCallbackHandler):
    """Notes which node runs each tool call, for the ``tools`` events, which LangGraph
    emits without it. Called before LangGraph's own tools handler (config callbacks
    come first), so the note is there before the part is."""

    run_inline = True
    ignore_llm = True  # only tool starts are wanted (LangChain gates them by ignore_agent)
    ignore_chat_model = True
    ignore_chain = True
    ignore_retriever = True
    ignore_custom_event = True

    def __init__(self) -> None:
        self.nodes: dict[str, str] = {}

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: uuid.UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        node = metadata.get("langgraph_node") if metadata else None
        if isinstance(node, str):
            self.nodes[kwargs.get("tool_call_id") or str(run_id)] = node


# --- stopping a sync run -------------------------------------------------------------


class _StopWhenClosed(BaseCallbackHandler):
    """Raises ``StopRun`` inside the run once its stream is closed, at the next
    model token, model, tool or chain start, or custom event."""

    raise_error = True
    run_inline = True  # a cheap check; never worth a thread hop in async runs

    # Until the stream closes there is nothing to check, and LangChain skips an
    # ignored handler before calling it: the handler costs nothing per token.
    ignore_llm = True
    ignore_chat_model = True
    ignore_agent = True
    ignore_chain = True
    ignore_custom_event = True

    def __init__(self) -> None:
        self.closed = False
        self.interrupted = False  # closed by Ctrl-C: the consumer gets KeyboardInterrupt

    def close(self) -> None:
        """From now on, raise at the next callback."""
        self.closed = True
        self.ignore_llm = self.ignore_chat_model = self.ignore_agent = False
        self.ignore_chain = self.ignore_custom_event = False

    def _check(self, *args: Any, **kwargs: Any) -> None:
        if self.closed:
            raise StopRun

    on_llm_new_token = _check
    on_stream_event = _check
    on_chat_model_start = _check
    on_llm_start = _check
    on_tool_start = _check
    on_chain_start = _check
    on_custom_event = _check


# Ctrl-C in a sync run lands in the main thread while it waits for LangGraph's next
# part, *inside* LangGraph's generator: on the way out LangGraph waits for the
# running node before the KeyboardInterrupt reaches lgstream, so a closing stream
# would set its stop signal only after the model's last token. While sync runs are
# iterated in the main thread, a SIGINT handler sets their stop signal first, then
# raises KeyboardInterrupt as Python's own handler does. It is only installed over
# Python's default handler: an application with its own SIGINT handling keeps it.
_CTRL_C_RUNS: set[_StopWhenClosed] = set()


def _stop_on_sigint(signum: int, frame: Any) -> None:
    for stopper in list(_CTRL_C_RUNS):
        stopper.interrupted = True
        stopper.close()
    signal.default_int_handler(signum, frame)


def _watch_ctrl_c(stopper: _StopWhenClosed) -> bool:
    """Stop this run on Ctrl-C; False if lgstream cannot (not the main thread, or
    SIGINT is handled by someone else)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    handler = signal.getsignal(signal.SIGINT)
    if handler is signal.default_int_handler:
        signal.signal(signal.SIGINT, _stop_on_sigint)
    elif handler is not _stop_on_sigint:
        return False
    _CTRL_C_RUNS.add(stopper)
    return True


def _unwatch_ctrl_c(stopper: _StopWhenClosed) -> None:
    _CTRL_C_RUNS.discard(stopper)
    if (
        not _CTRL_C_RUNS
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is _stop_on_sigint
    ):
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _with_handler(config: RunnableConfig | None, handler: BaseCallbackHandler) -> RunnableConfig:
    merged: RunnableConfig = dict(config or {})  # type: ignore[assignment]
    callbacks = merged.get("callbacks")
    if callbacks is None:
        merged["callbacks"] = [handler]
    elif isinstance(callbacks, BaseCallbackManager):
        manager = callbacks.copy()
        manager.add_handler(handler, inherit=True)
        merged["callbacks"] = manager
    else:
        merged["callbacks"] = [*callbacks, handler]
    return merged


# --- stream() / astream() -------------------------------------------------------------


class _Run:
    """Everything one graph run needs, shared by the sync and async twins."""

    def __init__(
        self,
        source: Any,
        input: Any,
        modes: str | Iterable[str],
        subgraphs: bool,
        config: RunnableConfig | None,
        raise_errors: bool,
        graph_kwargs: dict[str, Any],
        method: str,
    ) -> None:
        if not callable(getattr(source, "stream", None)) or not callable(
            getattr(source, "astream", None)
        ):
            raise NotAGraphError(source)
        self.modes = _check_modes(modes)
        self.source = source
        self.input = input
        self.raise_errors = raise_errors
        self.stopper = _StopWhenClosed()
        config = _with_handler(config, self.stopper)
        config.setdefault("run_id", uuid.uuid4())  # the user's run id wins
        self.run_id = str(config["run_id"])
        # `values` is always asked for, to know the final state and every interrupt;
        # its events are only emitted when the user asked for them.
        stream_modes = list(self.modes)
        if "values" not in stream_modes:
            stream_modes.append("values")
        # A local graph hands over real messages; anything else (a RemoteGraph) may
        # send them as dicts, also inside states and updates.
        tool_nodes: dict[str, str] | None = None
        if "tools" in self.modes:
            tool_nodes_handler = _ToolNodes()
            config = _with_handler(config, tool_nodes_handler)
            tool_nodes = tool_nodes_handler.nodes
        self.normaliser = Normaliser(
            emit=self.modes, revive=not isinstance(source, Pregel), tool_nodes=tool_nodes
        )
        kwargs: dict[str, Any] = {"stream_mode": stream_modes, "subgraphs": subgraphs}
        if _accepts_version(getattr(source, method)):
            kwargs["version"] = "v2"
        self.call_kwargs = {**graph_kwargs, **kwargs}
        self.config = config

    def started(self) -> RunStarted:
        return RunStarted(run_id=self.run_id, input=self.input, modes=self.modes)

    def finished(self) -> RunFinished:
        return self.normaliser.finished(self.run_id)

    def failed(self, error: Exception) -> RunFailed | None:
        """The event for an error, or None if the stream was closed meanwhile (a node
        that caught our stop signal may fail otherwise; nobody is listening)."""
        if self.stopper.closed:
            return None
        return RunFailed(run_id=self.run_id, error=error)

    def stop(self) -> None:
        self.stopper.close()


def _accepts_version(method: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return "version" in params


def _sync_events(run: _Run) -> Iterator[Event]:
    yield run.started()
    feed = run.normaliser.feed
    watching = _watch_ctrl_c(run.stopper)
    parts = run.source.stream(run.input, run.config, **run.call_kwargs)
    try:
        for part in parts:
            yield from feed(part)
    except StopRun:  # closed from another thread while the run was going
        if run.stopper.interrupted:
            raise KeyboardInterrupt from None
        return
    except Exception as error:
        failed = run.failed(error)
        if failed is None:  # closed meanwhile: nobody is listening
            if run.stopper.interrupted:
                raise KeyboardInterrupt from None
            return
        yield failed
        if run.raise_errors:
            raise
        return
    finally:
        # Closed, garbage-collected after a `break`, failed or done: tell the run to
        # stop at its next callback *before* closing LangGraph's generator, whose
        # close() waits for the running node.
        run.stop()
        close = getattr(parts, "close", None)  # a source may return a plain iterator
        try:
            if close is not None:
                close()
        finally:
            if watching:
                _unwatch_ctrl_c(run.stopper)
    yield run.finished()


async def _async_events(run: _Run) -> AsyncIterator[Event]:
    yield run.started()
    feed = run.normaliser.feed
    parts = run.source.astream(run.input, run.config, **run.call_kwargs)
    try:
        async for part in parts:
            for event in feed(part):
                yield event
    except StopRun:  # closed from another thread while the run was going
        return
    except Exception as error:
        failed = run.failed(error)
        if failed is None:
            return
        yield failed
        if run.raise_errors:
            raise
        return
    finally:
        # Also on task cancellation: a sync node runs in a worker thread that
        # cancelling the task cannot stop; the stop signal does.
        run.stop()
        aclose = getattr(parts, "aclose", None)
        if aclose is not None:
            await aclose()
    yield run.finished()


def stream(
    source: GraphLike,
    input: Any,
    *,
    modes: str | Iterable[str] = DEFAULT_MODES,
    subgraphs: bool = False,
    config: RunnableConfig | None = None,
    raise_errors: bool = True,
    **graph_kwargs: Any,
) -> EventStream[Event]:
    """Run a graph and stream its events (sync).

    Args:
        source: a compiled graph, a ``RemoteGraph``, or any Pregel-like object with
            ``stream()`` and ``astream()``. A ``RemoteGraph`` streams through its
            langgraph-sdk client: the events carry the server's run id and event ids,
            and closing the stream cancels the server run.
        input: the graph's input (a state dict, a ``Command``, or ``None`` to resume).
        modes: LangGraph stream modes, any iterable or one string. The default,
            ``("messages", "updates")``, gives tokens, node updates and interrupts.
        subgraphs: also stream events from inside subgraphs (see ``Event.ns``).
        config: the run's ``RunnableConfig`` (thread id, callbacks, ...).
        raise_errors: if the graph raises, re-raise after the ``RunFailed`` event
            (the default); if False, end the stream quietly after it.
        **graph_kwargs: passed to the graph's ``stream()`` (``context``,
            ``interrupt_before``, ``durability``, ...).

    Returns:
        The run's events, starting with ``RunStarted`` and ending with
            ``RunFinished`` (or ``RunFailed``). Closing the stream stops the run.

    Raises:
        NotAGraphError: ``source`` cannot be streamed.
        UnknownStreamModeError: a mode LangGraph does not have.
        UsageError: ``stream_mode=``, ``mode=`` or ``version=`` among the graph
            arguments (lgstream sets those itself: use ``modes=``).
        RemoteRunError: the run failed on a LangGraph Server (``RemoteGraph``).
    """
    _check_graph_kwargs(graph_kwargs)
    if isinstance(source, RemoteGraph):
        from ._remote import stream_remote  # imports this module

        modes = _check_modes(modes)
        return stream_remote(source, input, modes, subgraphs, config, raise_errors, graph_kwargs)
    run = _Run(source, input, modes, subgraphs, config, raise_errors, graph_kwargs, "stream")
    return EventStream(_sync_events(run), on_close=run.stop)


def astream(
    source: GraphLike,
    input: Any,
    *,
    modes: str | Iterable[str] = DEFAULT_MODES,
    subgraphs: bool = False,
    config: RunnableConfig | None = None,
    raise_errors: bool = True,
    **graph_kwargs: Any,
) -> AsyncEventStream[Event]:
    """Run a graph and stream its events (async). Arguments as for ``stream``.

    Returns:
        The run's events. Closing the stream (``aclose()``, ``async with``) or
            cancelling the task that iterates it cancels the run's node tasks.
    """
    _check_graph_kwargs(graph_kwargs)
    if isinstance(source, RemoteGraph):
        from ._remote import astream_remote  # imports this module

        modes = _check_modes(modes)
        return astream_remote(source, input, modes, subgraphs, config, raise_errors, graph_kwargs)
    run = _Run(source, input, modes, subgraphs, config, raise_errors, graph_kwargs, "astream")
    return AsyncEventStream(_async_events(run), on_close=run.stop)


# --- from_parts() / afrom_parts() -------------------------------------------------------


def _parts_normaliser(
    mode: str | None, modes: str | Iterable[str] | None, revive: bool
) -> Normaliser:
    if mode is not None:
        _check_modes(mode)
    emit = STREAM_MODES if modes is None else _check_modes(modes)
    return Normaliser(emit=emit, mode=mode, revive=revive)


def from_parts(
    parts: Iterable[Any],
    *,
    mode: StreamMode | None = None,
    modes: str | Iterable[str] | None = None,
    revive_messages: bool = True,
) -> EventStream[Event]:
    """Normalise raw stream parts you already have into lgstream events.

    Accepts, mixed freely: LangGraph v2 dicts ``{"type", "ns", "data"}``; v1
    ``(mode, data)`` and ``(ns, mode, data)`` tuples; v1 bare items and
    ``(ns, data)`` pairs when ``mode`` says which mode they are; and remote parts
    (``RemoteGraph``, langgraph-sdk) whose messages are dicts, which become
    LangChain messages again.

    Args:
        parts: the raw parts.
        mode: the stream mode of bare items (``graph.stream(stream_mode="values")``).
        modes: keep only these modes' events (interrupts are always kept).
        revive_messages: turn message-shaped dicts back into LangChain messages.

    No lifecycle events are added: the parts are not a run lgstream started.
    """
    # The normaliser is an operator: as the first one of the stream, it runs in the
    # same fused loop as whatever is piped after it.
    normaliser = _parts_normaliser(mode, modes, revive_messages)
    return EventStream(iter(parts), _ops=(normaliser,))


def afrom_parts(
    parts: AsyncIterable[Any],
    *,
    mode: StreamMode | None = None,
    modes: str | Iterable[str] | None = None,
    revive_messages: bool = True,
) -> AsyncEventStream[Event]:
    """The async twin of ``from_parts``."""
    normaliser = _parts_normaliser(mode, modes, revive_messages)
    return AsyncEventStream(aiter(parts), _ops=(normaliser,))
