"""Event streams and the operators that transform them.

An operator is a plain object with a stateful core that does no I/O::

    feed(item)  -> Sequence[out]   # what this item lets out, often () or (item,)
    flush()     -> Sequence[out]   # what is still held when the input ends

so the same operator serves a sync ``EventStream`` and an async
``AsyncEventStream``. Streams compose with ``stream | op`` or
``stream.pipe(op1, op2)``; piping is lazy and fuses all operators into one
loop, so a pipeline costs one generator however long it is.

Closing a stream (``close()`` / ``aclose()``, leaving a ``with`` block) closes
its source, which stops the graph run. After a ``break`` the source generator
is closed when it is garbage-collected (at once in CPython for sync streams; by
the event loop's async-generator finaliser for async ones), and sources stop
their run when closed either way.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload, runtime_checkable

from ._errors import BadOperatorError, UsageError
from ._events import Token

if TYPE_CHECKING:
    from typing import Self

__all__ = ["AsyncEventStream", "EventStream", "Operator"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
U = TypeVar("U")
V = TypeVar("V")
W = TypeVar("W")
In_contra = TypeVar("In_contra", contravariant=True)
Out_co = TypeVar("Out_co", covariant=True)


@runtime_checkable
class Operator(Protocol[In_contra, Out_co]):
    """A stateful, I/O-free stream transformation.

    ``feed`` takes one item and returns what it lets out (possibly nothing);
    ``flush`` is called once when the input ends and returns whatever is still
    held. Operators must not block or do I/O: one instance serves sync and async
    streams alike. Use a new instance per stream.
    """

    def feed(self, item: In_contra, /) -> Sequence[Out_co]:
        """Take one item; return the items it lets out, in order."""
        ...

    def flush(self) -> Sequence[Out_co]:
        """The input ended: return whatever is still held."""
        ...


def _check_operator(op: object) -> None:
    if not (callable(getattr(op, "feed", None)) and callable(getattr(op, "flush", None))):
        raise BadOperatorError(op)


# --- the fused operator loop, sync and async twins over one core --------------------


class _Chain:
    """Feeds one item through a list of operators; shared by both stream kinds."""

    __slots__ = ("feeds", "ops")

    def __init__(self, ops: Sequence[Operator[Any, Any]]) -> None:
        self.ops = tuple(ops)
        self.feeds = tuple(op.feed for op in ops)

    def run(self, item: object, start: int = 0) -> Sequence[Any]:
        items: Sequence[Any] = (item,)
        for feed in self.feeds[start:]:
            if len(items) == 1:
                items = feed(items[0])
            else:
                out: list[Any] = []
                for x in items:
                    out.extend(feed(x))
                items = out
            if not items:
                break
        return items

    def flush(self) -> list[Any]:
        """Flush every operator in order, feeding each one's rest through the next."""
        out: list[Any] = []
        for i, op in enumerate(self.ops):
            for held in op.flush():
                out.extend(self.run(held, i + 1))
        return out


def _pipe_sync(source: Iterator[Any], ops: Sequence[Operator[Any, Any]]) -> Iterator[Any]:
    chain = _Chain(ops)
    # The common cases, one and two operators, without the general loop.
    if len(chain.feeds) == 1:
        feed = chain.feeds[0]
        try:
            for item in source:
                yield from feed(item)
        except Exception:
            # A fault upstream loses nothing that already arrived: flush first.
            yield from chain.flush()
            raise
    elif len(chain.feeds) == 2:
        first, second = chain.feeds
        try:
            for item in source:
                for middle in first(item):
                    yield from second(middle)
        except Exception:
            yield from chain.flush()
            raise
    else:
        run = chain.run
        try:
            for item in source:
                yield from run(item)
        except Exception:
            yield from chain.flush()
            raise
    yield from chain.flush()


async def _pipe_async(
    source: AsyncIterator[Any], ops: Sequence[Operator[Any, Any]]
) -> AsyncIterator[Any]:
    chain = _Chain(ops)
    run = chain.run
    try:
        async for item in source:
            for out in run(item):
                yield out
    except Exception:
        for out in chain.flush():
            yield out
        raise
    for out in chain.flush():
        yield out


def _text_of(item: object) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, Token):
        return item.text
    return ""


class _StreamState:
    """What both stream kinds keep: the source, the operators piped so far, and
    whether the stream was handed over to a piped one or closed."""

    __slots__ = ("__weakref__", "_closed", "_iter", "_on_close", "_ops", "_piped", "_source")

    def __init__(
        self,
        source: Any,
        on_close: Callable[[], object] | None,
        ops: tuple[Operator[Any, Any], ...],
    ) -> None:
        self._source = source
        self._ops = ops
        self._on_close = on_close
        self._iter: Any = None
        self._piped = False
        self._closed = False

    def _check_not_piped(self) -> None:
        if self._piped:
            raise UsageError(
                "this stream was piped into another stream; iterate the piped result instead"
            )

    def _hand_over(self, ops: tuple[Operator[Any, Any], ...]) -> tuple[Operator[Any, Any], ...]:
        """Check ``ops`` and give this stream's source up to a piped stream."""
        for op in ops:
            _check_operator(op)
        if self._iter is not None:
            raise UsageError("cannot pipe a stream that is already being iterated")
        self._piped = True
        return self._ops + ops

    def _mark_closed(self) -> bool:
        """Run ``on_close`` once; False if the stream was closed already."""
        if self._closed:
            return False
        self._closed = True
        if self._on_close is not None:
            self._on_close()
        return True


# --- sync -------------------------------------------------------------------------


class EventStream(_StreamState, Generic[T_co]):
    """A sync stream of events (or of whatever its operators turn them into).

    Iterate it once. Pipe operators with ``stream | op`` or ``stream.pipe(...)``;
    close it with ``close()`` or a ``with`` block to stop the run early.
    """

    __slots__ = ()
    _iter: Iterator[T_co] | None

    def __init__(
        self,
        source: Iterator[Any],
        *,
        on_close: Callable[[], object] | None = None,
        _ops: tuple[Operator[Any, Any], ...] = (),
    ) -> None:
        """Wrap an iterator. ``on_close`` runs first when the stream is closed."""
        super().__init__(source, on_close, _ops)

    def _iterator(self) -> Iterator[T_co]:
        self._check_not_piped()
        if self._iter is None:
            self._iter = _pipe_sync(self._source, self._ops) if self._ops else self._source
        return self._iter

    def __iter__(self) -> Iterator[T_co]:
        return self._iterator()

    def __next__(self) -> T_co:
        return next(self._iterator())

    @overload
    def pipe(self) -> EventStream[T_co]: ...
    @overload
    def pipe(self, op1: Operator[T_co, U], /) -> EventStream[U]: ...
    @overload
    def pipe(self, op1: Operator[T_co, U], op2: Operator[U, V], /) -> EventStream[V]: ...
    @overload
    def pipe(
        self, op1: Operator[T_co, U], op2: Operator[U, V], op3: Operator[V, W], /
    ) -> EventStream[W]: ...
    @overload
    def pipe(self, *ops: Operator[Any, Any]) -> EventStream[Any]: ...
    def pipe(self, *ops: Operator[Any, Any]) -> EventStream[Any]:
        """A new stream that runs this one through ``ops``, in order."""
        return EventStream(self._source, on_close=self.close, _ops=self._hand_over(ops))

    def __or__(self, op: Operator[T_co, U]) -> EventStream[U]:
        return self.pipe(op)

    def close(self) -> None:
        """Stop the stream and the run behind it. Safe to call more than once."""
        if not self._mark_closed():
            return
        for it in (self._iter, self._source):
            close = getattr(it, "close", None)
            if close is not None:
                # A generator running in another thread cannot be closed from here;
                # on_close has already told the run to stop at its next token.
                with contextlib.suppress(ValueError):
                    close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def collect(self) -> list[T_co]:
        """Consume the whole stream into a list (this buffers the run: you asked)."""
        with self:
            return list(self)

    def text(self) -> str:
        """Consume the stream and join its text: token texts, or the strings themselves."""
        with self:
            return "".join(_text_of(item) for item in self)


# --- async ------------------------------------------------------------------------


class AsyncEventStream(_StreamState, Generic[T_co]):
    """An async stream of events; the twin of ``EventStream``.

    Cancelling the task that iterates it, ``aclose()``, or leaving an
    ``async with`` block stops the run.
    """

    __slots__ = ()
    _iter: AsyncIterator[T_co] | None

    def __init__(
        self,
        source: AsyncIterator[Any],
        *,
        on_close: Callable[[], object] | None = None,
        _ops: tuple[Operator[Any, Any], ...] = (),
    ) -> None:
        """Wrap an async iterator. ``on_close`` runs first when the stream is closed."""
        super().__init__(source, on_close, _ops)

    def _iterator(self) -> AsyncIterator[T_co]:
        self._check_not_piped()
        if self._iter is None:
            self._iter = _pipe_async(self._source, self._ops) if self._ops else self._source
        return self._iter

    def __aiter__(self) -> AsyncIterator[T_co]:
        return self._iterator()

    async def __anext__(self) -> T_co:
        return await anext(self._iterator())

    @overload
    def pipe(self) -> AsyncEventStream[T_co]: ...
    @overload
    def pipe(self, op1: Operator[T_co, U], /) -> AsyncEventStream[U]: ...
    @overload
    def pipe(self, op1: Operator[T_co, U], op2: Operator[U, V], /) -> AsyncEventStream[V]: ...
    @overload
    def pipe(
        self, op1: Operator[T_co, U], op2: Operator[U, V], op3: Operator[V, W], /
    ) -> AsyncEventStream[W]: ...
    @overload
    def pipe(self, *ops: Operator[Any, Any]) -> AsyncEventStream[Any]: ...
    def pipe(self, *ops: Operator[Any, Any]) -> AsyncEventStream[Any]:
        """A new stream that runs this one through ``ops``, in order."""
        return AsyncEventStream(self._source, on_close=self._mark_closed, _ops=self._hand_over(ops))

    def __or__(self, op: Operator[T_co, U]) -> AsyncEventStream[U]:
        return self.pipe(op)

    async def aclose(self) -> None:
        """Stop the stream and the run behind it. Safe to call more than once."""
        if not self._mark_closed():
            return
        for it in (self._iter, self._source):
            aclose = getattr(it, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(RuntimeError):  # already running elsewhere
                    await aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def collect(self) -> list[T_co]:
        """Consume the whole stream into a list (this buffers the run: you asked)."""
        async with self:
            return [item async for item in self]

    async def text(self) -> str:
        """Consume the stream and join its text: token texts, or the strings themselves."""
        async with self:
            return "".join([_text_of(item) async for item in self])
