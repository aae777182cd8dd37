"""Coalescing: fewer, bigger text deltas for UIs and the wire.

A model streams one token every few milliseconds; a browser that re-renders on
each one, or a socket that frames each one, does a lot of work for a few
characters. These operators join consecutive text deltas into one:

- ``batch(max_items=..., max_chars=...)`` by size, with no clock at all;
- ``throttle(interval)``: at most one delta per ``interval`` seconds, the first
  one at once;
- ``debounce(interval)``: a delta once the text has been quiet for ``interval``.

They never reorder anything, and never merge across anything that is not a text
delta: a tool-call chunk, an update, an interrupt or a token of another message
first lets out what is held, then goes through itself. The text of every message
is unchanged; only the number of pieces it comes in changes.

``throttle`` and ``debounce`` are ``TimedOperator``\\ s: I/O-free cores driven
with explicit times (``feed(item, now)``, ``poll(now)``, ``deadline()``), which
``AsyncEventStream`` drives from its clock, so they emit while the model is
silent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from langchain_core.messages import AIMessageChunk

from .._errors import UsageError
from .._events import Token, new_token

try:
    # The function langchain-core's own chunk addition uses for response_metadata.
    from langchain_core.utils._merge import merge_dicts as _merge_dicts
except ImportError:  # pragma: no cover - a private module; the public route is slower
    from langchain_core.messages.ai import add_ai_message_chunks

    def _merge_dicts(left: dict[str, Any], *others: dict[str, Any]) -> dict[str, Any]:
        chunks = [AIMessageChunk(content="", response_metadata=m) for m in (left, *others)]
        return add_ai_message_chunks(*chunks).response_metadata


__all__ = ["Batch", "Debounce", "Throttle", "batch", "debounce", "throttle"]

X = TypeVar("X")

_STR: Final = "str"
"""The merge key of plain strings (a Token's key is a tuple, so never equal)."""


def _merge_key(item: object) -> object:
    """What ``item`` merges on, or None if it is not a text delta.

    A ``Token`` is a text delta when its chunk is pure text: string content, no
    tool-call chunks, no usage, nothing in ``additional_kwargs`` (where providers
    put reasoning) and not the message's last chunk. Merging anything else would
    drop or misplace what it carries. Exact types only: a subclass is passed
    through, so an operator never turns one into its base class.
    """
    cls = type(item)
    if cls is str:
        return _STR
    if cls is Token:
        token: Token = item  # type: ignore[assignment]
        chunk = token.chunk
        if (
            type(chunk.content) is str
            and not chunk.tool_call_chunks
            and not chunk.usage_metadata
            and not chunk.additional_kwargs
            and chunk.chunk_position != "last"
        ):
            return (token.message_id, token.node, token.ns)
    return None


def _text_len(item: object) -> int:
    return len(item) if type(item) is str else len(item.text)  # type: ignore[attr-defined]


def _joined(items: list[Any]) -> list[Any]:
    """``items`` (text deltas of one key, in order) as one item, if they merge."""
    first = items[0]
    if len(items) == 1:
        return items
    if type(first) is str:
        return ["".join(items)]
    tokens: list[Token] = items
    text = "".join([token.text for token in tokens])
    metas = [meta for token in tokens if (meta := token.chunk.response_metadata)]
    try:
        # What add_ai_message_chunks() gives, so joining merged tokens later gives the
        # same message as joining the originals (Ollama's logprobs lists included).
        meta = _merge_dicts({}, *metas) if metas else {}
    except (TypeError, ValueError):
        return items  # langchain-core cannot merge them either: keep them apart
    chunk = AIMessageChunk(
        content=text, id=first.message_id, response_metadata=meta, name=first.chunk.name
    )
    return [
        new_token(
            first.ns, first.node, text, first.message_id, chunk, first.step, first.tags,
            first.metadata,
        )
    ]  # fmt: skip


class _Pending:
    """Text deltas of one key, held to be joined: pieces are collected and joined
    once, so merging n deltas costs O(total length), never O(n * length)."""

    __slots__ = ("chars", "items", "key")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.key: object = None
        self.chars = 0

    def add(self, item: object, key: object, chars: int) -> None:
        self.items.append(item)
        self.key = key
        self.chars += chars

    def take(self) -> list[Any]:
        """The held deltas, joined; nothing is held afterwards."""
        items = self.items
        if not items:
            return items
        self.items = []
        self.chars = 0
        return _joined(items)


def _check_limit(name: str, value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"batch({name}=...) takes a positive int or None, got {value!r}")
    return value


def _check_interval(what: str, interval: object) -> float:
    if (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not math.isfinite(interval)
        or interval <= 0
    ):
        raise UsageError(f"{what}() takes a positive number of seconds, got {interval!r}")
    return float(interval)


# --- batch -----------------------------------------------------------------------


class Batch:
    """Joins runs of consecutive text deltas by size; see ``batch()``."""

    __slots__ = ("_max_chars", "_max_items", "_pending")

    def __init__(self, max_items: int | None = None, max_chars: int | None = None) -> None:
        """See ``batch()``.

        Raises:
            UsageError: a limit that is not a positive int or None.
        """
        self._max_items = _check_limit("max_items", max_items)
        self._max_chars = _check_limit("max_chars", max_chars)
        self._pending = _Pending()

    @property
    def max_items(self) -> int | None:
        """At most this many deltas per batch (None: no limit)."""
        return self._max_items or None

    @property
    def max_chars(self) -> int | None:
        """At most this many characters per batch (None: no limit)."""
        return self._max_chars or None

    def feed(self, item: X, /) -> Sequence[X]:
        """Hold a text delta, or let out what is held and then ``item`` itself.

        Returns:
            A full batch, or what was held before a non-text item followed by the
            item, or nothing.
        """
        key = _merge_key(item)
        pending = self._pending
        if key is None:
            if not pending.items:
                return (item,)
            return [*pending.take(), item]
        chars = _text_len(item)
        max_chars = self._max_chars
        out: list[Any] = []
        if pending.items and (
            key != pending.key or (max_chars and pending.chars + chars > max_chars)
        ):
            out = pending.take()
        pending.add(item, key, chars)
        if (self._max_items and len(pending.items) >= self._max_items) or (
            max_chars and pending.chars >= max_chars
        ):
            out.extend(pending.take())
        return out

    def flush(self) -> Sequence[Any]:
        """What is held, joined."""
        return self._pending.take()

    def __repr__(self) -> str:
        return f"batch(max_items={self.max_items!r}, max_chars={self.max_chars!r})"


def batch(max_items: int | None = None, max_chars: int | None = None) -> Batch:
    r"""Join consecutive text deltas into fewer, bigger ones.

    Text deltas are pure-text ``Token``\ s (string content; no tool-call chunks,
    usage or ``additional_kwargs``; not a message's last chunk) and plain strings
    such as ``lgs.ops.text()`` yields. Tokens merge while they share message id,
    node and namespace; strings merge with strings. Anything else lets out the
    pending batch first and then goes through unchanged, so the order of events
    never changes and a batch never spans a tool call, an update or another
    message.

    A batch goes out when it has ``max_items`` deltas or ``max_chars`` characters,
    whichever comes first (a batch never exceeds either, unless one delta alone
    is bigger: deltas are never split), and when the stream ends. With neither
    limit, whole runs of deltas are joined.

    A merged ``Token`` keeps the first delta's fields (``ns``, ``node``,
    ``message_id``, ``step``, ``tags``, ``metadata``); its ``text`` is the joined
    text and its ``chunk`` an ``AIMessageChunk`` with that text, the message id,
    and the chunks' ``response_metadata`` merged as langchain-core merges chunks.
    A batch of one delta is the delta itself.

    Args:
        max_items: at most this many deltas per batch; None for no limit.
        max_chars: at most this many characters per batch; None for no limit.

    Returns:
        The operator; it works on sync and async streams, on events and on strings.

    Raises:
        UsageError: a limit that is not a positive int or None.

    Example::

        for piece in lgs.stream(graph, inputs) | lgs.ops.batch(max_chars=80):
            ...
    """
    return Batch(max_items, max_chars)


# --- throttle / debounce ---------------------------------------------------------


class _Timed:
    """What throttle and debounce share: the interval, the clock, the held deltas."""

    __slots__ = ("_pending", "clock", "interval")

    def __init__(self, what: str, interval: float, clock: Callable[[], float]) -> None:
        self.interval = _check_interval(what, interval)
        self.clock = clock
        """The clock the stream drivers read ``now`` from (seconds, monotonic)."""
        self._pending = _Pending()

    def _passes(self, item: object, out: list[Any]) -> None:
        """A non-text item: what is held goes first, then the item, at once."""
        out.extend(self._pending.take())
        out.append(item)

    def _due(self, now: float, out: list[Any]) -> None:
        """Append to ``out`` what is due by ``now``."""
        raise NotImplementedError

    def poll(self, now: float, /) -> Sequence[Any]:
        """What is due by ``now``: the merged delta whose window or quiet time is over."""
        out: list[Any] = []
        self._due(now, out)
        return out


class Throttle(_Timed):
    """At most one text delta per interval, the first at once; see ``throttle()``."""

    __slots__ = ("_window_end",)

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        """See ``throttle()``."""
        super().__init__("throttle", interval, clock)
        # End of the current window; None while no window is open.
        self._window_end: float | None = None

    def _due(self, now: float, out: list[Any]) -> None:
        end = self._window_end
        if end is not None and now >= end:
            held = self._pending.take()
            if held:
                out.extend(held)
                # The trailing edge opens the next window; a window with nothing
                # to emit closes, so the next delta goes out at once.
                self._window_end = now + self.interval
            else:
                self._window_end = None

    def feed(self, item: X, now: float, /) -> Sequence[X]:
        """Take ``item`` arriving at time ``now``.

        Returns:
            What was due by ``now``, then: the item itself if it is the first text
            delta of a window (or not a text delta at all, after what was held);
            nothing if it is held for the window's end.
        """
        out: list[Any] = []
        self._due(now, out)
        key = _merge_key(item)
        if key is None:
            self._passes(item, out)
        elif self._window_end is None:
            out.append(item)  # the leading edge
            # An empty delta (a provider's opening chunk) does not use it up.
            if _text_len(item):
                self._window_end = now + self.interval
        else:
            pending = self._pending
            if pending.items and key != pending.key:
                out.extend(pending.take())
            pending.add(item, key, 0)
        return out

    def deadline(self) -> float | None:
        """When the current window ends, if a delta is held for it; else None."""
        return self._window_end if self._pending.items else None

    def flush(self) -> Sequence[Any]:
        """The stream ended: the held delta, at once."""
        self._window_end = None
        return self._pending.take()

    def __repr__(self) -> str:
        return f"throttle({self.interval!r})"


class Debounce(_Timed):
    """A merged text delta once the text is quiet for an interval; see ``debounce()``."""

    __slots__ = ("_last",)

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        """See ``debounce()``."""
        super().__init__("debounce", interval, clock)
        self._last = 0.0  # when the latest held delta arrived

    def _due(self, now: float, out: list[Any]) -> None:
        if self._pending.items and now >= self._last + self.interval:
            out.extend(self._pending.take())

    def feed(self, item: X, now: float, /) -> Sequence[X]:
        """Take ``item`` arriving at time ``now``.

        Returns:
            What was due by ``now``; then, for a non-text item, what is held and the
            item; for a delta of another message, what was held for the previous one.
        """
        out: list[Any] = []
        self._due(now, out)
        key = _merge_key(item)
        if key is None:
            self._passes(item, out)
        else:
            pending = self._pending
            if pending.items and key != pending.key:
                out.extend(pending.take())
            pending.add(item, key, 0)
            self._last = now
        return out

    def deadline(self) -> float | None:
        """When the held delta is due if nothing else arrives; None if none is held."""
        return self._last + self.interval if self._pending.items else None

    def flush(self) -> Sequence[Any]:
        """The stream ended: the held delta, at once."""
        return self._pending.take()

    def __repr__(self) -> str:
        return f"debounce({self.interval!r})"


def throttle(interval: float, *, clock: Callable[[], float] = time.monotonic) -> Throttle:
    r"""Let out at most one text delta per ``interval`` seconds, the first at once.

    The first text delta goes out immediately (the leading edge) and opens a
    window of ``interval`` seconds: the window starts at that delta, not when the
    stream was opened, so a run that thinks for ten seconds still shows its first
    token at once. Deltas that arrive inside the window are merged (as
    ``batch()`` merges them) and go out when it ends (the trailing edge), which
    opens the next window; a window that ends with nothing held closes, and the
    next delta is a leading edge again. An empty delta (an opening chunk with no
    text) goes out without opening a window.

    Anything that is not a text delta, or a delta of another message, first lets
    out what is held, then goes through at once: order never changes. Everything
    held goes out when the stream ends.

    On an ``AsyncEventStream`` it acts on time: held text goes out when it is due
    even while the source is silent. On a sync ``EventStream`` nothing can wake it
    between items, so it acts only when the next item arrives (and at the end).

    Args:
        interval: the window, in seconds (> 0).
        clock: where the stream drivers read the time (seconds, monotonic); tests
            pass a fake one, or drive ``feed(item, now)`` / ``poll(now)`` directly.

    Returns:
        A ``TimedOperator``, for ``stream | throttle(0.05)``.

    Raises:
        UsageError: ``interval`` is not a positive number.
    """
    return Throttle(interval, clock=clock)


def debounce(interval: float, *, clock: Callable[[], float] = time.monotonic) -> Debounce:
    r"""Let out merged text deltas once no new delta has arrived for ``interval`` seconds.

    Deltas are merged (as ``batch()`` merges them) while they keep coming; the
    merged delta goes out once the text has been quiet for ``interval`` seconds.
    A model that streams steadily faster than that is held until it pauses or
    ends: for a steady stream of UI updates, ``throttle()`` is usually what you
    want.

    Anything that is not a text delta, or a delta of another message, first lets
    out what is held, then goes through at once: order never changes. Everything
    held goes out when the stream ends.

    On an ``AsyncEventStream`` it acts on time: held text goes out when it is due
    even while the source is silent. On a sync ``EventStream`` nothing can wake it
    between items, so it acts only when the next item arrives (and at the end).

    Args:
        interval: the quiet time, in seconds (> 0).
        clock: where the stream drivers read the time (seconds, monotonic).

    Returns:
        A ``TimedOperator``, for ``stream | debounce(0.2)``.

    Raises:
        UsageError: ``interval`` is not a positive number.
    """
    return Debounce(interval, clock=clock)
