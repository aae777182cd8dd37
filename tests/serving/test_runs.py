"""``RunManager`` over ``MemoryStore``: background runs, viewers from a cursor,
the two lifetimes, stop from another worker, a dead owner, one run per thread."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

import lgstream as lgs
from lgstream.serving.runs import RunManager
from lgstream.serving.stores import NewRun, RunGapError, RunNotFoundError, ThreadBusyError
from lgstream.serving.stores.memory import MemoryStore
from lgstream.testing import FakeChatModel

from ..graphs import TextState, async_seed_graph

QUESTION = {"question": "Why?"}
ANSWER = " ".join(f"word{i}" for i in range(40))


async def collect(manager: RunManager, run_id: str, after: int = 0) -> list[tuple[int, str, Any]]:
    return [
        (event.seq, event.name, json.loads(event.data))
        async for event in await manager.watch(run_id, after)
    ]


def tokens(events: list[tuple[int, str, Any]]) -> str:
    return "".join(value["text"] for _, name, value in events if name == "token")


@pytest.mark.asyncio
async def test_a_detached_run_goes_on_without_viewers_and_replays_whole() -> None:
    model = FakeChatModel(script=[ANSWER], delay=0.002, cycle=True)
    manager = RunManager()
    info = await manager.start(async_seed_graph(model), QUESTION)
    assert info.status == "pending"
    await manager.wait(info.run_id)  # nobody watched
    done = await manager.info(info.run_id)
    assert done is not None
    assert (done.status, done.owner_alive) == ("finished", False)
    events = await collect(manager, info.run_id)
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))
    assert tokens(events) == ANSWER
    assert events[-1][1] == "run_finished"
    direct = [lgs.to_jsonable(e) async for e in lgs.astream(async_seed_graph(model), QUESTION)]
    assert [name for _, name, _ in events] == [e["kind"] for e in direct]


@pytest.mark.asyncio
async def test_viewers_from_any_cursor_get_exactly_the_rest() -> None:
    model = FakeChatModel(script=[ANSWER], delay=0.003)
    manager = RunManager()
    info = await manager.start(async_seed_graph(model), QUESTION)
    whole_task = asyncio.create_task(collect(manager, info.run_id))
    rng = random.Random(3)
    pieces: list[list[tuple[int, str, Any]]] = []
    after = 0
    # A viewer that drops and comes back at random points: no duplicate, no gap.
    while True:
        part: list[tuple[int, str, Any]] = []
        stream = await manager.watch(info.run_id, after)
        cut = rng.randint(1, 12)
        async for event in stream:
            part.append((event.seq, event.name, json.loads(event.data)))
            if len(part) == cut:
                break
        await stream.aclose()
        pieces.append(part)
        if not part or part[-1][1] == "run_finished":
            break
        after = part[-1][0]
    whole = await whole_task
    assert [e for part in pieces for e in part] == whole
    assert len(pieces) > 3


@pytest.mark.asyncio
async def test_an_attached_run_nobody_watches_is_cancelled_after_grace() -> None:
    model = FakeChatModel(script=[ANSWER * 5], delay=0.01)
    manager = RunManager(grace=0.2)
    info = await manager.start(async_seed_graph(model), QUESTION, lifetime="attached")
    stream = await manager.watch(info.run_id)
    first = [await anext(stream) for _ in range(3)]
    await stream.aclose()
    await asyncio.wait_for(manager.wait(info.run_id), 3)
    ended = await manager.info(info.run_id)
    assert ended is not None
    assert ended.status == "cancelled"
    assert ended.error is not None
    assert "no client listened" in ended.error["message"]
    rest = await collect(manager, info.run_id, first[-1].seq)
    assert rest[-1][1] == "error"
    assert rest[-1][2]["type"] == "RunCancelled"
    assert model.tokens_streamed < 200


@pytest.mark.asyncio
async def test_a_stop_from_another_worker_stops_the_model_within_a_heartbeat() -> None:
    store = MemoryStore()
    model = FakeChatModel(script=[ANSWER * 20], delay=0.01)
    owner = RunManager(store, heartbeat=0.2)
    other = RunManager(store, heartbeat=0.2)
    info = await owner.start(async_seed_graph(model), QUESTION)
    await asyncio.sleep(0.3)
    stopped = await other.stop(info.run_id)  # not the owner: through the store
    assert stopped.stop_requested
    before = model.tokens_streamed
    await asyncio.wait_for(owner.wait(info.run_id), 2)
    assert model.tokens_streamed - before < 0.25 / 0.01 + 5  # stopped within a heartbeat
    events = await collect(other, info.run_id)
    assert events[-1][2]["type"] == "RunCancelled"
    assert "it was stopped" in events[-1][2]["message"]
    assert (await other.info(info.run_id)).status == "cancelled"  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_a_dead_owner_is_reported_to_viewers_within_the_liveness() -> None:
    store = MemoryStore(liveness=0.5)
    ghost = await store.create(NewRun(run_id="r-ghost", owner="gone"))  # it never beats
    viewer = RunManager(store, heartbeat=0.1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    events = await asyncio.wait_for(collect(viewer, ghost.run_id), 5)
    assert events[-1][1] == "error"
    assert events[-1][0] == 0
    assert events[-1][2]["type"] == "WorkerLost"
    assert loop.time() - started < 0.5 + 2 * 0.1 + 0.5


@pytest.mark.asyncio
async def test_one_live_run_per_thread_reject_or_interrupt() -> None:
    model = FakeChatModel(script=[ANSWER * 20], delay=0.01, cycle=True)
    manager = RunManager(heartbeat=0.1)
    graph = async_seed_graph(model)
    first = await manager.start(graph, QUESTION, thread_id="t1")
    with pytest.raises(ThreadBusyError, match="thread t1 has a run going"):
        await manager.start(graph, QUESTION, thread_id="t1")
    second = await manager.start(graph, QUESTION, thread_id="t1", multitask_strategy="interrupt")
    ended = await manager.info(first.run_id)
    assert ended is not None
    assert ended.status == "cancelled"
    assert second.thread_id == "t1"
    await manager.stop(second.run_id)
    await manager.aclose()


@pytest.mark.asyncio
async def test_failed_and_interrupted_runs_say_so() -> None:
    def boom(state: TextState) -> dict[str, Any]:
        raise RuntimeError("secret backend text")

    failing = StateGraph(TextState)
    failing.add_node("boom", boom)
    failing.add_edge(START, "boom")
    failing.add_edge("boom", END)

    def ask(state: TextState) -> dict[str, Any]:
        return {"answer": interrupt("approve?")}

    asking = StateGraph(TextState)
    asking.add_node("ask", ask)
    asking.add_edge(START, "ask")
    asking.add_edge("ask", END)

    manager = RunManager()
    failed = await manager.start(failing.compile(), QUESTION)
    asked = await manager.start(
        asking.compile(checkpointer=InMemorySaver()),
        QUESTION,
        config={"configurable": {"thread_id": "th"}},
    )
    await manager.wait(failed.run_id)
    await manager.wait(asked.run_id)
    failed_info = await manager.info(failed.run_id)
    asked_info = await manager.info(asked.run_id)
    assert failed_info is not None
    assert asked_info is not None
    assert failed_info.status == "failed"
    assert failed_info.error == {
        "type": "RuntimeError",
        "message": "the run failed; the server's log has the details",
    }
    assert (asked_info.status, asked_info.thread_id) == ("interrupted", "th")


@pytest.mark.asyncio
async def test_unknown_runs_and_cursors_too_old() -> None:
    manager = RunManager(MemoryStore(max_events=5))
    with pytest.raises(RunNotFoundError):
        await manager.watch("nope")
    model = FakeChatModel(script=[ANSWER])
    info = await manager.start(async_seed_graph(model), QUESTION)
    await manager.wait(info.run_id)
    with pytest.raises(RunGapError):
        await collect(manager, info.run_id, 1)


@pytest.mark.asyncio
async def test_the_first_event_arrives_before_the_run_ends() -> None:
    gate = asyncio.Event()
    model = FakeChatModel(script=["one two three"])

    async def slow(state: TextState) -> dict[str, Any]:
        await model.ainvoke([HumanMessage(state["question"])])
        await gate.wait()
        return {"answer": "done"}

    builder = StateGraph(TextState)
    builder.add_node("slow", slow)
    builder.add_edge(START, "slow")
    builder.add_edge("slow", END)
    manager = RunManager()
    info = await manager.start(builder.compile(), QUESTION)
    stream = await manager.watch(info.run_id)
    first = await asyncio.wait_for(anext(stream), 5)
    assert first.seq == 1
    assert (await manager.info(info.run_id)).live  # type: ignore[union-attr]
    gate.set()
    rest = [event async for event in stream]
    assert rest[-1].name == "run_finished"
