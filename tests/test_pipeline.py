"""EventStream / AsyncEventStream and the Operator protocol."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessageChunk

import lgstream as lgs


class Pairs:
    """A test operator that holds items back: emits them two at a time, rest on flush."""

    def __init__(self) -> None:
        self.held: list[int] = []

    def feed(self, item: int, /) -> Sequence[tuple[int, ...]]:
        self.held.append(item)
        if len(self.held) == 2:
            out, self.held = tuple(self.held), []
            return [out]
        return []

    def flush(self) -> Sequence[tuple[int, ...]]:
        return [tuple(self.held)] if self.held else []


class Double:
    def feed(self, item: int, /) -> Sequence[int]:
        return [item, item]

    def flush(self) -> Sequence[int]:
        return [-1]


class Evens:
    def feed(self, item: int, /) -> Sequence[int]:
        return (item,) if item % 2 == 0 else ()

    def flush(self) -> Sequence[int]:
        return ()


def reference(items: list[int], ops: list[lgs.Operator[int, int]]) -> list[int]:
    """Apply operators one after the other over whole lists: the obvious semantics."""
    for op in ops:
        out: list[int] = []
        for item in items:
            out.extend(op.feed(item))
        out.extend(op.flush())
        items = out
    return items


OPS: dict[str, Callable[[], lgs.Operator[int, int]]] = {"double": Double, "evens": Evens}


@given(
    items=st.lists(st.integers(-50, 50), max_size=30),
    names=st.lists(st.sampled_from(sorted(OPS)), min_size=1, max_size=4),
)
def test_fused_pipeline_equals_applying_operators_one_by_one(
    items: list[int], names: list[str]
) -> None:
    fused = lgs.EventStream[int](iter(items)).pipe(*[OPS[n]() for n in names])
    assert list(fused) == reference(items, [OPS[n]() for n in names])

    chained: lgs.EventStream[int] = lgs.EventStream(iter(items))
    for n in names:
        chained = chained | OPS[n]()
    assert list(chained) == reference(items, [OPS[n]() for n in names])

    async def source() -> AsyncIterator[int]:
        for item in items:
            yield item

    async def run() -> list[int]:
        return await lgs.AsyncEventStream[int](source()).pipe(*[OPS[n]() for n in names]).collect()

    assert asyncio.run(run()) == reference(items, [OPS[n]() for n in names])


def test_flush_passes_held_items_through_later_operators() -> None:
    out = list(lgs.EventStream[int](iter([1, 2, 3])).pipe(Pairs(), lgs.ops.where(bool)))
    assert out == [(1, 2), (3,)]


def test_a_fault_upstream_flushes_what_arrived_then_raises() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        yield 3
        raise RuntimeError("upstream broke")

    got: list[tuple[int, ...]] = []
    with pytest.raises(RuntimeError, match="upstream broke"):
        got.extend(lgs.EventStream[int](source()) | Pairs())
    assert got == [(1, 2), (3,)]

    async def asource() -> AsyncIterator[int]:
        yield 1
        raise RuntimeError("upstream broke")

    async def run() -> list[tuple[int, ...]]:
        out: list[tuple[int, ...]] = []

        async def drain() -> None:
            async for item in lgs.AsyncEventStream[int](asource()) | Pairs():
                out.append(item)

        with pytest.raises(RuntimeError, match="upstream broke"):
            await drain()
        return out

    assert asyncio.run(run()) == [(1,)]


def test_not_an_operator() -> None:
    stream = lgs.EventStream[int](iter([1]))
    with pytest.raises(lgs.BadOperatorError, match="cannot pipe a function") as info:
        stream.pipe(lambda x: x)  # type: ignore[call-overload]
    assert "feed(item)" in str(info.value)
    assert isinstance(info.value, TypeError)


def test_a_piped_stream_cannot_be_iterated_again() -> None:
    stream = lgs.EventStream[int](iter([1, 2]))
    piped = stream | Evens()
    with pytest.raises(lgs.UsageError, match="piped into another stream"):
        list(stream)
    assert list(piped) == [2]


def test_cannot_pipe_while_iterating() -> None:
    stream = lgs.EventStream[int](iter([1, 2]))
    assert next(stream) == 1
    with pytest.raises(lgs.UsageError, match="already being iterated"):
        stream | Evens()


def test_close_runs_on_close_once_and_closes_the_source() -> None:
    calls: list[str] = []

    def source() -> Iterator[int]:
        try:
            yield 1
            yield 2
        finally:
            calls.append("source closed")

    stream = lgs.EventStream[int](source(), on_close=lambda: calls.append("on_close"))
    piped = stream | Double()
    assert next(iter(piped)) == 1
    piped.close()
    piped.close()
    assert calls == ["on_close", "source closed"]


def test_collect_and_text() -> None:
    chunks = ["a", "b", "c"]
    assert lgs.EventStream[str](iter(chunks)).collect() == chunks
    assert lgs.EventStream[str](iter(chunks)).text() == "abc"
    tokens = [
        lgs.Token(text="x", message_id="m", chunk=lgs_chunk("x")),
        lgs.Custom(data=1),
        lgs.Token(text="y", message_id="m", chunk=lgs_chunk("y")),
    ]
    assert lgs.EventStream[lgs.Event](iter(tokens)).text() == "xy"


def lgs_chunk(text: str) -> AIMessageChunk:
    return AIMessageChunk(content=text, id="m")


def test_async_close_and_context_manager() -> None:
    calls: list[str] = []

    async def source() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            calls.append("source closed")

    async def run() -> None:
        async with (
            lgs.AsyncEventStream[int](source(), on_close=lambda: calls.append("on_close"))
            | Double() as piped
        ):
            assert await anext(piped) == 1

    asyncio.run(run())
    assert calls == ["on_close", "source closed"]
