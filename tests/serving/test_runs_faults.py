"""``RunManager`` when its store fails: an append whose answer is lost, a store that
keeps failing, and a real Redis that restarts empty under a live run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest

from lgstream.serving.runs import RunManager
from lgstream.serving.stores import RunNotFoundError, StoredEvent, StoreError
from lgstream.serving.stores.memory import MemoryStore
from lgstream.serving.stores.redis import RedisStore
from lgstream.testing import FakeChatModel, RedisServer

from ..graphs import async_seed_graph

QUESTION = {"question": "Why?"}
ANSWER = " ".join(f"word{i}" for i in range(40))


class FlakyStore(MemoryStore):
    """A real ``MemoryStore`` whose appends fail on cue: ``landed`` ones are written
    and then fail (the answer was lost), the others fail before writing."""

    def __init__(self, fail_at: Sequence[int], *, landed: bool, forever: bool = False) -> None:
        super().__init__()
        self.fail_at = set(fail_at)
        self.landed = landed
        self.forever = forever
        self.appends = 0

    async def append(self, run_id: str, events: Sequence[StoredEvent]) -> None:
        self.appends += 1
        failing = self.appends in self.fail_at or (
            self.forever and self.appends >= min(self.fail_at)
        )
        if failing and self.landed:
            await super().append(run_id, events)
        if failing:
            raise StoreError("connection reset by peer")
        await super().append(run_id, events)


def decoded(events: list[StoredEvent]) -> list[tuple[int, str, Any]]:
    return [(event.seq, event.name, json.loads(event.data)) for event in events]


async def everything(manager: RunManager, run_id: str) -> list[StoredEvent]:
    return [event async for event in await manager.watch(run_id)]


@pytest.mark.asyncio
@pytest.mark.parametrize("landed", [True, False], ids=["answer-lost", "not-written"])
async def test_a_failed_append_is_retried_without_a_duplicate_or_a_gap(landed: bool) -> None:
    model = FakeChatModel(script=[ANSWER], delay=0.002)
    store = FlakyStore([2, 5], landed=landed)
    manager = RunManager(store)
    info = await manager.start(async_seed_graph(model), QUESTION)
    await asyncio.wait_for(manager.wait(info.run_id), 10)
    events = decoded(await everything(manager, info.run_id))
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))
    assert "".join(v["text"] for _, name, v in events if name == "token") == ANSWER
    assert events[-1][1] == "run_finished"
    assert (await manager.info(info.run_id)).status == "finished"  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_a_store_that_keeps_failing_stops_the_run_as_store_lost() -> None:
    model = FakeChatModel(script=[ANSWER * 50], delay=0.005)
    store = FlakyStore([3], landed=False, forever=True)
    manager = RunManager(store)
    info = await manager.start(async_seed_graph(model), QUESTION)
    await asyncio.wait_for(manager.wait(info.run_id), 10)  # 0.2 + 0.5 + 1.0 s of retries
    ended = await manager.info(info.run_id)
    assert ended is not None
    assert ended.status == "failed"
    assert ended.error is not None
    assert ended.error["type"] == "StoreLost"
    assert "connection reset" in ended.error["message"]
    assert model.tokens_streamed < 2000 // 4  # stopped, not run to its end of 2,000 tokens


@pytest.mark.asyncio
async def test_a_redis_restart_under_a_live_run_stops_its_owner_and_tells_its_viewer() -> None:
    model = FakeChatModel(script=[ANSWER * 50], delay=0.005)
    with RedisServer() as server:
        manager = RunManager(RedisStore(server.url), heartbeat=0.1)
        try:
            info = await manager.start(async_seed_graph(model), QUESTION)
            stream = await manager.watch(info.run_id)
            first = [await anext(stream) for _ in range(5)]
            await asyncio.to_thread(server.restart)  # the store forgets every run
            with pytest.raises(RunNotFoundError):
                async for _ in stream:
                    pass
            await asyncio.wait_for(manager.wait(info.run_id), 5)
            streamed = model.tokens_streamed
            await asyncio.sleep(0.3)
            assert model.tokens_streamed == streamed  # the model stopped
            assert streamed < 2000 // 4
            assert [event.seq for event in first] == [1, 2, 3, 4, 5]
            assert await manager.info(info.run_id) is None
        finally:
            await manager.aclose()
            await manager.store.aclose()
