"""``MemoryStore`` against the run-store contract, and its own bounds."""

from __future__ import annotations

from typing import Any

import pytest

from lgstream import UsageError
from lgstream.serving.stores import RunStore, StoredEvent
from lgstream.serving.stores.memory import MemoryStore

from .store_contract import MakeStore, StoreContract, new_run


@pytest.fixture
def make_store() -> MakeStore:
    async def make(**bounds: Any) -> RunStore:
        return MemoryStore(**bounds)

    return make


class TestMemoryStore(StoreContract):
    pass


@pytest.mark.asyncio
async def test_ended_runs_go_first_past_the_total_bytes() -> None:
    store = MemoryStore(max_total_bytes=30_000)
    old = await store.create(new_run())
    await store.append(old.run_id, [StoredEvent(s, "t", "o" * 1000) for s in range(1, 11)])
    await store.finish(old.run_id, "finished")
    live = await store.create(new_run())
    await store.append(live.run_id, [StoredEvent(s, "t", "l" * 1000) for s in range(1, 21)])
    assert await store.info(old.run_id) is None
    assert len((await store.read(live.run_id, 0)).events) == 20
    assert store.size <= 30_000


@pytest.mark.asyncio
async def test_ended_runs_expire_after_the_ttl_and_past_max_runs() -> None:
    store = MemoryStore(ttl=0.0, max_runs=2)
    first = await store.create(new_run())
    await store.finish(first.run_id, "finished")
    second = await store.create(new_run())  # creating expires what ended ttl ago
    assert await store.info(first.run_id) is None
    kept = MemoryStore(max_runs=2)
    runs = [await kept.create(new_run()) for _ in range(2)]
    await kept.finish(runs[0].run_id, "finished")
    await kept.create(new_run())
    assert await kept.info(runs[0].run_id) is None  # ended, oldest: dropped
    assert await kept.info(runs[1].run_id) is not None  # live: kept
    assert second.run_id


@pytest.mark.parametrize("bad", [{"max_events": 0}, {"max_bytes": -1}, {"liveness": 0}])
def test_bad_bounds_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match="MemoryStore"):
        MemoryStore(**bad)
