"""Tool-call assembly: a model's streamed tool-call pieces as whole, parsed calls.

Chat models stream a tool call in pieces (``AIMessageChunk.tool_call_chunks``):
the id and name first, then the JSON arguments a few characters at a time,
several calls interleaved when the model calls tools in parallel. ``tool_calls()``
follows each call through its message and reports its lifecycle::

    ToolCallStart -> ToolCallDelta ... -> ToolCallReady | ToolCallInvalid

How a piece finds its call, within one message (messages are told apart by
``(ns, node, message_id)``, so calls of parallel models never mix):

- a piece with an ``index`` belongs to the open call with that index (OpenAI,
  Anthropic and most providers: id and name on the first piece only). A piece
  whose id contradicts that call's id starts a new call, as langchain-core's
  ``merge_lists`` does;
- a piece without an index but with an id belongs to the open call with that id,
  or starts a new one. When a new call's first piece already holds a whole JSON
  object it is complete at once: ChatOllama sends every call whole this way, and
  nothing can follow a whole JSON object in valid JSON;
- a piece with neither continues the call the message's previous piece went to
  (providers that send no index), or starts a new call if there is none. A piece
  that carries nothing new (no name, blank arguments) and has no open call to go
  to is dropped.

The other calls of a message complete when the message does: its last chunk
(``chunk_position == "last"``), a ``MessageDone`` for it, an ``Update`` from its
node (the node returned), or the end of the run or of the stream.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeAlias

from langchain_core.messages import ToolCallChunk

from .._events import (
    Event,
    MessageDone,
    RunFailed,
    RunFinished,
    Token,
    ToolCallDelta,
    ToolCallInvalid,
    ToolCallReady,
    ToolCallStart,
    Update,
)
from ._filters import inside_node

__all__ = ["ToolCalls", "tool_calls"]

_Key: TypeAlias = tuple[tuple[str, ...], str | None, str | None]  # (ns, node, message_id)


class _Call:
    """One tool call being assembled. Argument pieces are kept and joined once."""

    __slots__ = ("call_id", "index", "name", "order", "parts", "provider_id")

    def __init__(
        self, call_id: str, provider_id: str | None, name: str, index: object, order: int
    ) -> None:
        self.call_id = call_id
        self.provider_id = provider_id
        self.name = name
        self.index = index
        self.order = order
        self.parts: list[str] = []

    def sort_key(self) -> tuple[int, int, int]:
        # Index order where the provider numbers its calls, else first-seen order;
        # never compares an int index with anything else.
        index = self.index
        if isinstance(index, int) and not isinstance(index, bool):
            return (0, index, self.order)
        return (1, 0, self.order)


class _Message:
    """The tool calls of one streamed message."""

    __slots__ = ("by_id", "by_index", "count", "id_base", "last", "node", "ns", "open", "used_ids")

    def __init__(self, ns: tuple[str, ...], node: str | None, id_base: str) -> None:
        self.ns = ns
        self.node = node
        self.id_base = id_base
        self.count = 0  # calls started, for made-up ids
        self.open: list[_Call] = []
        self.by_index: dict[object, _Call] = {}
        self.by_id: dict[str, _Call] = {}
        self.last: _Call | None = None
        self.used_ids: set[str] = set()


def _parse(call: _Call, message_id: str | None, ns: tuple[str, ...], node: str | None) -> Event:
    """The call's ``ToolCallReady``, or ``ToolCallInvalid``; never raises."""
    raw = "".join(call.parts)
    if not raw:
        return ToolCallReady(
            call_id=call.call_id, name=call.name, args={}, message_id=message_id, ns=ns, node=node
        )
    error: str
    try:
        # strict=False lets raw control characters through inside strings, as
        # langchain-core's own parser does: models write literal newlines.
        value: Any = json.loads(raw, strict=False)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        error = str(exc) or type(exc).__name__
    else:
        if isinstance(value, dict):
            return ToolCallReady(
                call_id=call.call_id,
                name=call.name,
                args=value,
                message_id=message_id,
                ns=ns,
                node=node,
            )
        error = f"the arguments are a JSON {_json_type(value)}, not an object"
    return ToolCallInvalid(
        call_id=call.call_id,
        name=call.name,
        raw_args=raw,
        error=error,
        message_id=message_id,
        ns=ns,
        node=node,
    )


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _is_whole_object(text: str) -> bool:
    """Whether ``text`` is a complete JSON object (parsed once, at a call's start)."""
    if not text.lstrip().startswith("{"):
        return False
    try:
        return isinstance(json.loads(text, strict=False), dict)
    except (ValueError, RecursionError):
        return False


class ToolCalls:
    """Assembles streamed tool calls; passes every event through unchanged.

    For each tool call in a ``Token``'s ``chunk.tool_call_chunks`` it emits
    ``ToolCallStart`` once, a ``ToolCallDelta`` per non-empty piece of argument
    text, and when the call is complete ``ToolCallReady`` with the parsed
    arguments, or ``ToolCallInvalid`` with the raw text when it is not a JSON
    object. Each input event comes out first, then the tool-call events it caused,
    except a node's ``Update`` and ``RunFinished`` / ``RunFailed``: the calls they
    complete come out just before them, so an update or a run's end always follows
    what it ended. Calls that complete together come
    out in index order (first-seen order for calls without an index).

    A call the provider gave no id gets a made-up one, stable for the stream:
    ``"{message_id}:{n}"``, where ``n`` counts the message's calls from 0 in the
    order they were first seen. A message with no id (or with the id of a message
    from another node or namespace) is numbered instead: ``"call-{k}:{n}"`` for the
    ``k``-th such message. A provider id that an earlier call of the same message
    already used is replaced the same way, so no two calls share an id unless the
    provider gave two messages' calls the same one.

    The cost is linear in the size of the stream: argument pieces are joined and
    parsed once, when the call completes.
    """

    __slots__ = ("_anonymous", "_bases", "_messages", "_open")

    def __init__(self) -> None:
        """A new assembler; use one per stream."""
        self._messages: dict[_Key, _Message] = {}
        # Messages with open calls, in first-seen order: what completion scans.
        self._open: dict[_Key, _Message] = {}
        self._anonymous = 0
        self._bases: set[str] = set()

    def feed(self, item: Event, /) -> Sequence[Event]:
        """Pass ``item`` through, followed by the tool-call events it causes."""
        if isinstance(item, Token):
            chunk = item.chunk
            pieces = chunk.tool_call_chunks
            is_last = chunk.chunk_position == "last"
            if not pieces and not (is_last and self._open):
                return (item,)  # the hot path: a text token
            out: list[Event] = [item]
            key: _Key = (item.ns, item.node, item.message_id)
            if pieces:
                self._pieces(key, pieces, out)
            if is_last:
                self._complete(key, out)
            return out
        if not self._open:
            return (item,)
        if isinstance(item, MessageDone):
            out = [item]
            self._complete((item.ns, item.node, item.message_id), out)
            return out
        if isinstance(item, Update) and item.node is not None:
            # The node returned: its calls complete before its update, as messages do.
            out = []
            for key, message in list(self._open.items()):
                if inside_node(message.ns, message.node, item.ns, item.node):
                    self._complete(key, out)
            out.append(item)
            return out
        if isinstance(item, RunFinished | RunFailed):
            # The run's end stays its last event: complete what is open before it.
            return (*self.flush(), item)
        return (item,)

    def flush(self) -> Sequence[Event]:
        """The stream ended: complete every call still open."""
        out: list[Event] = []
        for key in list(self._open):
            self._complete(key, out)
        return out

    def __repr__(self) -> str:
        return "tool_calls()"

    # --- assembly -------------------------------------------------------------------

    def _message(self, key: _Key) -> _Message:
        message = self._messages.get(key)
        if message is None:
            ns, node, message_id = key
            # Made-up ids must not repeat across messages: a message without an id,
            # or with one another node or namespace used already, gets a number.
            if message_id is None or message_id in self._bases:
                base = f"call-{self._anonymous}"
                self._anonymous += 1
            else:
                base = message_id
            self._bases.add(base)
            message = self._messages[key] = _Message(ns, node, base)
        return message

    def _pieces(self, key: _Key, pieces: Sequence[ToolCallChunk], out: list[Event]) -> None:
        message = self._message(key)
        ns, node, message_id = key
        for piece in pieces:
            index = piece.get("index")
            provider_id = piece.get("id") or None
            name = piece.get("name") or ""
            args = piece.get("args") or ""
            whole = False
            call: _Call | None
            if index is not None:
                call = message.by_index.get(index)
                if call is not None and (
                    provider_id is not None
                    and call.provider_id is not None
                    and provider_id != call.provider_id
                ):
                    call = None  # same index, another id: a new call (as merge_lists does)
            elif provider_id is not None:
                call = message.by_id.get(provider_id)
                # A new call whose first piece is a whole JSON object is complete:
                # valid JSON cannot go on after it (ChatOllama sends calls whole).
                whole = call is None and _is_whole_object(args)
            else:
                call = message.last
            if (
                call is None
                and not name
                and not args.strip()
                and (provider_id is None or provider_id in message.used_ids)
            ):
                continue  # carries nothing new, and there is no open call to add it to
            if call is None:
                call = self._start(message, provider_id, name, index)
                out.append(
                    ToolCallStart(
                        call_id=call.call_id,
                        name=call.name,
                        message_id=message_id,
                        index=index if isinstance(index, int) else None,
                        ns=ns,
                        node=node,
                    )
                )
            else:
                if name and not call.name:
                    call.name = name
                if provider_id is not None and call.provider_id is None:
                    call.provider_id = provider_id
                    message.by_id.setdefault(provider_id, call)
            if args:
                call.parts.append(args)
                out.append(
                    ToolCallDelta(
                        call_id=call.call_id,
                        args_delta=args,
                        message_id=message_id,
                        ns=ns,
                        node=node,
                    )
                )
            if whole:
                self._finish(message, call)
                out.append(_parse(call, message_id, ns, node))
                message.last = None  # nothing can continue a complete call
            else:
                message.last = call
        if message.open:
            self._open[key] = message

    def _start(self, message: _Message, provider_id: str | None, name: str, index: object) -> _Call:
        n = message.count
        message.count += 1
        call_id = provider_id
        if call_id is None or call_id in message.used_ids:
            call_id = f"{message.id_base}:{n}"
        message.used_ids.add(call_id)
        call = _Call(call_id, provider_id, name, index, n)
        message.open.append(call)
        if index is not None:
            message.by_index[index] = call  # a later call with this index takes over
        if provider_id is not None:
            message.by_id[provider_id] = call
        return call

    def _finish(self, message: _Message, call: _Call) -> None:
        """Forget one call that completed on its own (the rest stay open)."""
        message.open.remove(call)
        if message.by_index.get(call.index) is call:
            del message.by_index[call.index]
        if call.provider_id is not None and message.by_id.get(call.provider_id) is call:
            del message.by_id[call.provider_id]
        if message.last is call:
            message.last = None

    def _complete(self, key: _Key, out: list[Event]) -> None:
        """Complete every open call of one message, in index / first-seen order."""
        message = self._open.pop(key, None)
        if message is None:
            return
        ns, node, message_id = key
        calls = sorted(message.open, key=_Call.sort_key)
        message.open = []
        message.by_index.clear()
        message.by_id.clear()
        message.last = None
        for call in calls:
            out.append(_parse(call, message_id, ns, node))
            call.parts = []


def tool_calls() -> ToolCalls:
    """Assemble the tool calls that models stream, and report each one's lifecycle.

    Every event goes through unchanged; after a ``Token`` that carries tool-call
    pieces come ``ToolCallStart`` (once per call), ``ToolCallDelta`` (per piece of
    argument text) and, once the call is complete, ``ToolCallReady`` with the
    parsed arguments or ``ToolCallInvalid`` with the raw text and the reason::

        for ev in lgs.stream(graph, inputs, modes=["messages", "updates"]) | lgs.ops.tool_calls():
            if isinstance(ev, lgs.ToolCallReady):
                print(ev.name, ev.args)

    A call is complete when its message ends (the model's last chunk, a
    ``MessageDone``, an ``Update`` from its node) or the stream does; a call
    whose first piece is a whole JSON object with no index is complete at once
    (ChatOllama). A call with bad arguments never stops the stream. Empty
    argument text means ``{}``.

    Returns:
        A new ``ToolCalls`` operator; use one per stream.
    """
    return ToolCalls()
