"""Closing a stream stops the graph run: the model stops generating for nobody.

The model here would stream 200 tokens at 20 ms each (4 s). Each test consumes a
few tokens, closes the stream one way or another, and checks that the model
stopped within about one token interval instead of running to its end.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Generator

import pytest

import lgstream as lgs
from lgstream.testing import FakeChatModel

from .graphs import async_seed_graph, build_seed_graph

TOKENS = 200
DELAY = 0.02
# Generous bound for a loaded CI machine, still far below the 4 s the node had left.
PROMPT = 1.0


def slow_model() -> FakeChatModel:
    return FakeChatModel(script=[" ".join(f"w{i}" for i in range(TOKENS))], delay=DELAY)


def assert_stopped(model: FakeChatModel) -> None:
    """The model produces no more tokens once the stream is closed."""
    produced = model.tokens_streamed
    assert produced < TOKENS / 2
    time.sleep(5 * DELAY)
    assert model.tokens_streamed <= produced + 1


def take_tokens(stream: lgs.EventStream[lgs.Event], n: int) -> None:
    seen = 0
    for ev in stream:
        if isinstance(ev, lgs.Token):
            seen += 1
            if seen == n:
                return


def test_close_stops_a_sync_run_promptly() -> None:
    model = slow_model()
    stream = lgs.stream(build_seed_graph(model), {"question": "q"})
    take_tokens(stream, 3)
    started = time.perf_counter()
    stream.close()
    assert time.perf_counter() - started < PROMPT
    assert_stopped(model)
    stream.close()  # idempotent


def test_langgraph_alone_keeps_generating_on_close() -> None:
    """The behaviour lgstream fixes: LangGraph's own close() waits for the node."""
    model = FakeChatModel(script=[" ".join(f"w{i}" for i in range(30))], delay=DELAY)
    parts = build_seed_graph(model).stream({"question": "q"}, stream_mode=["messages"])
    assert isinstance(parts, Generator)
    next(parts)
    parts.close()
    assert model.tokens_streamed == 30  # it ran to the end


def test_with_block_stops_the_run() -> None:
    model = slow_model()
    with lgs.stream(build_seed_graph(model), {"question": "q"}) as stream:
        take_tokens(stream, 2)
    assert_stopped(model)


def test_break_and_garbage_stop_the_run() -> None:
    model = slow_model()
    started = time.perf_counter()
    for ev in lgs.stream(build_seed_graph(model), {"question": "q"}) | lgs.ops.text():
        assert ev
        break
    gc.collect()
    assert time.perf_counter() - started < PROMPT + 10 * DELAY
    assert_stopped(model)


def test_close_of_a_piped_stream_stops_the_run() -> None:
    model = slow_model()
    piped = lgs.stream(build_seed_graph(model), {"question": "q"}) | lgs.ops.nodes("generate")
    take_tokens(piped, 2)
    piped.close()
    assert_stopped(model)


def test_close_from_another_thread_while_the_consumer_waits() -> None:
    model = slow_model()
    stream = lgs.stream(build_seed_graph(model), {"question": "q"})
    seen: list[lgs.Event] = []
    closer = threading.Timer(0.2, stream.close)
    closer.start()
    started = time.perf_counter()
    seen.extend(stream)  # ends quietly once the run stops
    closer.join()
    assert time.perf_counter() - started < 0.2 + PROMPT
    assert 0 < sum(isinstance(ev, lgs.Token) for ev in seen) < TOKENS
    assert not any(isinstance(ev, lgs.RunFailed) for ev in seen)
    assert_stopped(model)


def test_stop_signal_is_not_retried_by_retry_policies() -> None:
    """StopRun is a BaseException: a node's RetryPolicy does not run the model again."""
    from langgraph.types import RetryPolicy

    model = slow_model()
    graph = build_seed_graph(model)
    graph.builder.nodes["generate"].retry_policy = [RetryPolicy(max_attempts=5)]
    graph = graph.builder.compile()
    stream = lgs.stream(graph, {"question": "q"})
    take_tokens(stream, 2)
    stream.close()
    assert_stopped(model)
    assert len(model.calls) == 1


async def _slow_async_model_run(model: FakeChatModel) -> lgs.AsyncEventStream[lgs.Event]:
    return lgs.astream(build_seed_graph(model), {"question": "q"})


def test_aclose_stops_an_async_run() -> None:
    model = slow_model()

    async def main() -> float:
        stream = await _slow_async_model_run(model)
        seen = 0
        async for ev in stream:
            if isinstance(ev, lgs.Token):
                seen += 1
                if seen == 3:
                    break
        started = time.perf_counter()
        await stream.aclose()
        return time.perf_counter() - started

    assert asyncio.run(main()) < PROMPT
    assert_stopped(model)


def test_async_with_block_stops_the_run() -> None:
    model = slow_model()

    async def main() -> None:
        async with lgs.astream(build_seed_graph(model), {"question": "q"}) as stream:
            async for ev in stream:
                if isinstance(ev, lgs.Token):
                    break

    asyncio.run(main())
    assert_stopped(model)


def test_task_cancellation_stops_the_run() -> None:
    model = slow_model()

    async def consume(first: asyncio.Event) -> None:
        async for ev in lgs.astream(build_seed_graph(model), {"question": "q"}):
            if isinstance(ev, lgs.Token):
                first.set()

    async def main() -> None:
        first = asyncio.Event()
        task = asyncio.create_task(consume(first))
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert_stopped(model)


def test_async_break_and_garbage_stop_the_run() -> None:
    model = slow_model()

    async def main() -> None:
        async for ev in lgs.astream(build_seed_graph(model), {"question": "q"}) | lgs.ops.text():
            assert ev
            break
        gc.collect()
        await asyncio.sleep(5 * DELAY)  # the loop's async-generator finaliser runs aclose()
        produced = model.tokens_streamed
        await asyncio.sleep(5 * DELAY)
        assert model.tokens_streamed <= produced + 1

    asyncio.run(main())
    assert model.tokens_streamed < TOKENS / 2


def test_task_cancellation_cancels_an_async_node() -> None:
    model = slow_model()

    async def main() -> None:
        first = asyncio.Event()

        async def consume() -> None:
            async for ev in lgs.astream(async_seed_graph(model), {"question": "q"}):
                if isinstance(ev, lgs.Token):
                    first.set()

        task = asyncio.create_task(consume())
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        produced = model.tokens_streamed
        await asyncio.sleep(5 * DELAY)
        assert model.tokens_streamed == produced  # the node task itself was cancelled

    asyncio.run(main())
    assert model.tokens_streamed < TOKENS / 2
