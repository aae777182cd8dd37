"""Event streams and the operators that transform them.

An operator is a plain object with a stateful core that does no I/O::

    feed(item)  -> Sequence[out]   # what this item lets out, often () or (item,)
    flush()     -> Sequence[out]   # what is still held when the input ends

so the same operator serves a sync ``EventStream`` and an async
``AsyncEventStream``. Streams compose with ``stream | op`` or
``stream.pipe(op1, op2)``; piping is lazy and fuses all operators into one
loop, so a pipeline costs one generator however long it is.

A timed operator (``throttle``, ``debounce``) is the same kind of core with the
time passed in: ``feed(item, now)``, ``poll(now)`` for what is due, and
``deadline()`` for when ``poll`` next has something. A pipeline that holds one
runs a driver that reads each operator's ``clock``: the async one also wakes at
deadlines while the source is silent; the sync one can only poll when an item
arrives.

Closing a stream (``close()`` / ``aclose()``, leaving a ``with`` block) closes
its source, which stops the graph run. After a ``break`` the source generator
is closed when it is garbage-collected (at once in CPython for sync streams; by
the event loop's async-generator finaliser for async ones), and sources stop
their run when closed either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    Generic,
    Protocol,
    TypeAlias,
    TypeVar,
    overload,
    runtime_checkable,
)

from typing_extensions import TypeIs

from ._errors import BadOperatorError, UsageError
from ._events import Token

if TYPE_CHECKING:
    from typing import Self

__all__ = ["AsyncEventStream", "EventStream", "Operator", "TimedOperator"]

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


@runtime_checkable
class TimedOperator(Protocol[In_contra, Out_co]):
    """An operator that acts on time as well as on items; a stateful, I/O-free core.

    The time is always passed in, in seconds on the operator's own ``clock``, so
    the core can be driven and tested with any times at all::

        feed(item, now) -> Sequence[out]   # what is due by now, then what the item lets out
        poll(now)       -> Sequence[out]   # what is due by now
        deadline()      -> float | None    # when poll() next has something due; None: nothing held
        flush()         -> Sequence[out]   # the input ended: everything held

    Streams drive it from ``clock``: an ``AsyncEventStream`` waits for the next
    item or the earliest deadline, whichever comes first, and polls; an
    ``EventStream`` cannot wake between items, so it polls only when one arrives.
    Pipe timed operators like any others (``stream | lgs.ops.throttle(0.05)``).
    Use a new instance per stream.
    """

    @property
    def clock(self) -> Callable[[], float]:
        """The time in seconds, monotonic: what the drivers pass as ``now``."""
        ...

    def feed(self, item: In_contra, now: float, /) -> Sequence[Out_co]:
        """Take one item that arrived at ``now``; return what is let out, in order."""
        ...

    def poll(self, now: float, /) -> Sequence[Out_co]:
        """Return what is due by ``now``, in order."""
        ...

    def deadline(self) -> float | None:
        """When ``poll`` next has something due, on ``clock``; None if nothing is held."""
        ...

    def flush(self) -> Sequence[Out_co]:
        """The input ended: return whatever is still held."""
        ...


_In = TypeVar("_In")
_Out = TypeVar("_Out")
_AnyOperator: TypeAlias = "Operator[_In, _Out] | TimedOperator[_In, _Out]"


_X = TypeVar("_X")


class _SameType(Protocol):
    """An operator that lets out items of the types it is fed (``batch()``).

    Its methods are generic, and mypy cannot solve those against ``Operator[T, U]``
    (``U`` comes out as ``object`` or ``Any``), so ``stream | op`` and
    ``stream.pipe(op)`` have an overload that keeps the stream's item type for it.
    """

    def feed(self, item: _X, /) -> Sequence[_X]: ...
    def flush(self) -> Sequence[Any]: ...


class _SameTypeTimed(Protocol):
    """A timed operator that lets out items of the types it is fed (``throttle()``)."""

    @property
    def clock(self) -> Callable[[], float]: ...
    def feed(self, item: _X, now: float, /) -> Sequence[_X]: ...
    def poll(self, now: float, /) -> Sequence[Any]: ...
    def deadline(self) -> float | None: ...
    def flush(self) -> Sequence[Any]: ...


def _is_timed(op: _AnyOperator[Any, Any]) -> TypeIs[TimedOperator[Any, Any]]:
    # Structural, like the protocols: a timed operator also has feed() and flush().
    return all(callable(getattr(op, name, None)) for name in ("poll", "deadline", "clock"))


def _check_operator(op: object) -> None:
    if not (callable(getattr(op, "feed", None)) and callable(getattr(op, "flush", None))):
        raise BadOperatorError(op)


# --- the fused operator loop, sync and async twins over one core --------------------
# Chain, _pipe_sync and _pipe_async are the hot path of every pipeline without a
# timed operator: keep them lean (benchmarks/bench_overhead.py).


class Chain:
    """Feeds one item through a list of operators; shared by both stream kinds.

    Itself an operator (``feed`` / ``flush``): the protocol encoders run their
    operators through one."""

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

    def feed(self, item: object, /) -> Sequence[Any]:
        """What the operators let out for one item."""
        return self.run(item)

    def flush(self) -> list[Any]:
        """Flush every operator in order, feeding each one's rest through the next."""
        out: list[Any] = []
        for i, op in enumerate(self.ops):
            for held in op.flush():
                out.extend(self.run(held, i + 1))
        return out


def _pipe_sync(source: Iterator[Any], ops: Sequence[Operator[Any, Any]]) -> Iterator[Any]:
    chain = Chain(ops)
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
    chain = Chain(ops)
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


# --- pipelines with timed operators ---------------------------------------------------


class _Clocked:
    """A timed operator seen as an ordinary one: each item is fed with its clock's time."""

    __slots__ = ("clock", "op")

    def __init__(self, op: TimedOperator[Any, Any]) -> None:
        self.op = op
        self.clock = op.clock

    def feed(self, item: object, /) -> Sequence[Any]:
        return self.op.feed(item, self.clock())

    def flush(self) -> Sequence[Any]:
        return self.op.flush()


class _TimedChain(Chain):
    """A chain with timed operators in it: runs items through, and also polls."""

    __slots__ = ("timed",)

    def __init__(self, ops: Sequence[_AnyOperator[Any, Any]]) -> None:
        timed: list[tuple[int, TimedOperator[Any, Any]]] = []
        plain: list[Operator[Any, Any]] = []
        for i, op in enumerate(ops):
            if _is_timed(op):
                timed.append((i, op))
                plain.append(_Clocked(op))
            else:
                plain.append(op)
        super().__init__(plain)
        self.timed = tuple(timed)

    def due(self) -> list[Any]:
        """Poll each timed operator, upstream first, and run what is due through
        the operators after it."""
        out: list[Any] = []
        for i, op in self.timed:
            for item in op.poll(op.clock()):
                out.extend(self.run(item, i + 1))
        return out

    def wait(self) -> float | None:
        """Seconds until the earliest deadline (<= 0: due now); None if none is set."""
        soonest: float | None = None
        for _, op in self.timed:
            deadline = op.deadline()
            if deadline is not None:
                left = deadline - op.clock()
                if soonest is None or left < soonest:
                    soonest = left
        return soonest


def _pipe_timed_sync(source: Iterator[Any], ops: Sequence[_AnyOperator[Any, Any]]) -> Iterator[Any]:
    chain = _TimedChain(ops)
    run, due = chain.run, chain.due
    try:
        for item in source:
            # Nothing can wake a sync stream between items: what fell due while the
            # source was silent goes out now, before the new item.
            yield from due()
            yield from run(item)
    except Exception:
        yield from chain.flush()
        raise
    yield from chain.flush()


_END: Final = object()


async def _next_or_end(source: AsyncIterator[Any]) -> Any:
    try:
        return await anext(source)
    except StopAsyncIteration:  # a Task's result, not its exception: the normal end
        return _END


async def _close_source(task: asyncio.Task[Any] | None, source: AsyncIterator[Any]) -> None:
    """Stop reading the source and close it (a no-op for a source that has ended).

    A read still pending when the consumer leaves is cancelled: that raises
    ``CancelledError`` inside the source where it waits (LangGraph cancels its
    node tasks) and finishes it. ``aclose()`` closes a source that was waiting at
    a ``yield``, or whose cancelled read never started.
    """
    if task is not None:
        if not task.done():
            task.cancel()
            await asyncio.wait((task,))
        if not task.cancelled():
            task.exception()  # retrieved: a failure after the consumer left is nobody's
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        await aclose()


async def _pipe_timed_async(
    source: AsyncIterator[Any], ops: Sequence[_AnyOperator[Any, Any]]
) -> AsyncIterator[Any]:
    chain = _TimedChain(ops)
    run, due, wait = chain.run, chain.due, chain.wait
    loop = asyncio.get_running_loop()
    # The source is read in one task per item, so that a deadline can pass while a
    # read is pending; every read runs in this one context, so context variables
    # the source sets survive from one item to the next, as in a plain `async for`.
    context = contextvars.copy_context()
    task: asyncio.Task[Any] | None = None
    try:
        while True:
            if task is None:
                task = loop.create_task(_next_or_end(source), context=context)
            left = wait()
            if left is None:
                await asyncio.wait((task,))
            else:
                # Never cancel the read on a timeout: that would end the source.
                # (A deadline already past still yields to the loop once.)
                await asyncio.wait((task,), timeout=max(left, 0.0))
                for out in due():
                    yield out
            if task.done():
                done, task = task, None
                item = done.result()
                if item is _END:
                    break
                for out in run(item):
                    yield out
    except Exception:
        for out in chain.flush():
            yield out
        raise
    finally:
        # Also when closed, garbage-collected after a `break`, or when the consumer's
        # task is cancelled: a pending read keeps the source alive and running, so
        # nothing else would stop it.
        await _close_source(task, source)
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
        ops: tuple[_AnyOperator[Any, Any], ...],
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

    def _hand_over(
        self, ops: tuple[_AnyOperator[Any, Any], ...]
    ) -> tuple[_AnyOperator[Any, Any], ...]:
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
        _ops: tuple[_AnyOperator[Any, Any], ...] = (),
    ) -> None:
        """Wrap an iterator. ``on_close`` runs first when the stream is closed."""
        super().__init__(source, on_close, _ops)

    def _iterator(self) -> Iterator[T_co]:
        self._check_not_piped()
        if self._iter is None:
            ops = self._ops
            if not ops:
                self._iter = self._source
            elif any(_is_timed(op) for op in ops):
                self._iter = _pipe_timed_sync(self._source, ops)
            else:
                self._iter = _pipe_sync(self._source, ops)  # type: ignore[arg-type]
        return self._iter

    def __iter__(self) -> Iterator[T_co]:
        return self._iterator()

    def __next__(self) -> T_co:
        return next(self._iterator())

    @overload
    def pipe(self) -> EventStream[T_co]: ...
    @overload
    def pipe(self, op1: _SameType | _SameTypeTimed, /) -> EventStream[T_co]: ...
    @overload
    def pipe(self, op1: _AnyOperator[T_co, U], /) -> EventStream[U]: ...
    @overload
    def pipe(self, op1: _AnyOperator[T_co, U], op2: _AnyOperator[U, V], /) -> EventStream[V]: ...
    @overload
    def pipe(
        self,
        op1: _AnyOperator[T_co, U],
        op2: _AnyOperator[U, V],
        op3: _AnyOperator[V, W],
        /,
    ) -> EventStream[W]: ...
    @overload
    def pipe(self, *ops: _AnyOperator[Any, Any]) -> EventStream[Any]: ...
    def pipe(self, *ops: _AnyOperator[Any, Any]) -> EventStream[Any]:
        """A new stream that runs this one through ``ops``, in order: operators and
        timed operators, mixed freely."""
        return EventStream(self._source, on_close=self.close, _ops=self._hand_over(ops))

    @overload
    def __or__(self, op: _SameType | _SameTypeTimed) -> EventStream[T_co]: ...
    @overload
    def __or__(self, op: _AnyOperator[T_co, U]) -> EventStream[U]: ...
    def __or__(self, op: _AnyOperator[Any, Any]) -> EventStream[Any]:
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
        _ops: tuple[_AnyOperator[Any, Any], ...] = (),
    ) -> None:
        """Wrap an async iterator. ``on_close`` runs first when the stream is closed."""
        super().__init__(source, on_close, _ops)

    def _iterator(self) -> AsyncIterator[T_co]:
        self._check_not_piped()
        if self._iter is None:
            ops = self._ops
            if not ops:
                self._iter = self._source
            elif any(_is_timed(op) for op in ops):
                self._iter = _pipe_timed_async(self._source, ops)
            else:
                self._iter = _pipe_async(self._source, ops)  # type: ignore[arg-type]
        return self._iter

    def __aiter__(self) -> AsyncIterator[T_co]:
        return self._iterator()

    async def __anext__(self) -> T_co:
        return await anext(self._iterator())

    @overload
    def pipe(self) -> AsyncEventStream[T_co]: ...
    @overload
    def pipe(self, op1: _SameType | _SameTypeTimed, /) -> AsyncEventStream[T_co]: ...
    @overload
    def pipe(self, op1: _AnyOperator[T_co, U], /) -> AsyncEventStream[U]: ...
    @overload
    def pipe(
        self, op1: _AnyOperator[T_co, U], op2: _AnyOperator[U, V], /
    ) -> AsyncEventStream[V]: ...
    @overload
    def pipe(
        self,
        op1: _AnyOperator[T_co, U],
        op2: _AnyOperator[U, V],
        op3: _AnyOperator[V, W],
        /,
    ) -> AsyncEventStream[W]: ...
    @overload
    def pipe(self, *ops: _AnyOperator[Any, Any]) -> AsyncEventStream[Any]: ...
    def pipe(self, *ops: _AnyOperator[Any, Any]) -> AsyncEventStream[Any]:
        """A new stream that runs this one through ``ops``, in order: operators and
        timed operators, mixed freely."""
        return AsyncEventStream(self._source, on_close=self._mark_closed, _ops=self._hand_over(ops))

    @overload
    def __or__(self, op: _SameType | _SameTypeTimed) -> AsyncEventStream[T_co]: ...
    @overload
    def __or__(self, op: _AnyOperator[T_co, U]) -> AsyncEventStream[U]: ...
    def __or__(self, op: _AnyOperator[Any, Any]) -> AsyncEventStream[Any]:
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
