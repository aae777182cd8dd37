"""The behaviour every ``RunStore`` must have, as a test class to subclass.

A store's test module subclasses ``StoreContract`` and gives a ``make_store``
fixture: a function from bounds (``max_events``, ``max_bytes``, ``liveness``)
to a fresh, empty store on the running loop.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import pytest

from lgstream.serving.stores import (
    NewRun,
    RunExistsError,
    RunGapError,
    RunNotFoundError,
    RunStore,
    StoredEvent,
    StoreError,
    ThreadBusyError,
)

MakeStore: TypeAlias = Callable[..., Awaitable[RunStore]]


def events(first: int, count: int, text: str = "x") -> list[StoredEvent]:
    return [
        StoredEvent(seq, "token", f'{{"text":"{text}{seq}"}}')
        for seq in range(first, first + count)
    ]


def new_run(**fields: Any) -> NewRun:
    fields.setdefault("run_id", str(uuid.uuid4()))
    fields.setdefault("owner", "worker-a")
    return NewRun(**fields)


class StoreContract:
    """Subclass with a ``make_store`` fixture; every test here runs on that store."""

    @pytest.mark.asyncio
    async def test_events_read_from_a_cursor_exactly(self, make_store: MakeStore) -> None:
        store = await make_store()
        info = await store.create(new_run(metadata={"who": "test"}))
        assert (info.status, info.last_seq, info.owner_alive) == ("pending", 0, True)
        await store.append(info.run_id, events(1, 2))  # two in one batch: same instant
        await store.append(info.run_id, events(3, 3))
        read = await store.read(info.run_id, 1)
        assert [e.seq for e in read.events] == [2, 3, 4, 5]
        assert read.events[0] == StoredEvent(2, "token", '{"text":"x2"}')
        assert read.info.status == "running"
        assert read.info.metadata == {"who": "test"}
        assert [e.seq for e in (await store.read(info.run_id, 0)).events] == [1, 2, 3, 4, 5]
        assert (await store.read(info.run_id, 5)).events == []

    @pytest.mark.asyncio
    async def test_numbering_must_continue(self, make_store: MakeStore) -> None:
        store = await make_store()
        info = await store.create(new_run())
        await store.append(info.run_id, events(1, 2))
        with pytest.raises(StoreError, match="does not follow"):
            await store.append(info.run_id, events(4, 1))
        await store.finish(info.run_id, "finished")
        with pytest.raises(StoreError, match="has ended"):
            await store.append(info.run_id, events(3, 1))

    @pytest.mark.asyncio
    async def test_a_waiting_reader_wakes_on_append(self, make_store: MakeStore) -> None:
        store = await make_store()
        info = await store.create(new_run())

        async def later() -> None:
            await asyncio.sleep(0.2)
            await store.append(info.run_id, events(1, 1))

        task = asyncio.create_task(later())
        started = time.monotonic()
        read = await store.read(info.run_id, 0, wait=5.0)
        assert [e.seq for e in read.events] == [1]
        assert time.monotonic() - started < 2.0
        await task

    @pytest.mark.asyncio
    async def test_a_waiting_reader_wakes_on_finish(self, make_store: MakeStore) -> None:
        store = await make_store()
        info = await store.create(new_run())

        async def later() -> None:
            await asyncio.sleep(0.2)
            await store.finish(info.run_id, "failed", {"type": "X", "message": "m"})

        task = asyncio.create_task(later())
        started = time.monotonic()
        read = await store.read(info.run_id, 0, wait=5.0)
        assert read.events == []
        assert (read.info.status, read.info.live, read.info.owner_alive) == (
            "failed",
            False,
            False,
        )
        assert read.info.error == {"type": "X", "message": "m"}
        assert time.monotonic() - started < 2.0
        await task

    @pytest.mark.asyncio
    async def test_a_read_that_waits_in_vain_returns_empty(self, make_store: MakeStore) -> None:
        store = await make_store()
        info = await store.create(new_run())
        started = time.monotonic()
        read = await store.read(info.run_id, 0, wait=0.3)
        assert read.events == []
        assert read.info.live
        assert 0.25 <= time.monotonic() - started < 2.0

    @pytest.mark.asyncio
    async def test_bounds_drop_the_oldest_and_a_cursor_before_them_is_a_gap(
        self, make_store: MakeStore
    ) -> None:
        store = await make_store(max_events=5)
        info = await store.create(new_run())
        await store.append(info.run_id, events(1, 8))
        kept = await store.read(info.run_id, 3)
        assert [e.seq for e in kept.events] == [4, 5, 6, 7, 8]
        assert kept.info.first_seq == 4
        with pytest.raises(RunGapError, match=r"events 2 to 3 .* no longer kept"):
            await store.read(info.run_id, 1)
        assert (await store.read(info.run_id, 8)).events == []  # caught up: no gap

    @pytest.mark.asyncio
    async def test_bytes_bound_keeps_the_newest(self, make_store: MakeStore) -> None:
        store = await make_store(max_bytes=20_000)
        info = await store.create(new_run())
        for seq in range(1, 31):
            await store.append(info.run_id, [StoredEvent(seq, "token", "y" * 1000)])
        read = await store.read(info.run_id, (await store.info(info.run_id)).first_seq - 1)  # type: ignore[union-attr]
        assert read.events[-1].seq == 30
        assert 5 <= len(read.events) < 30
        await store.append(info.run_id, [StoredEvent(31, "token", "z" * 50_000)])
        last = await store.read(info.run_id, 30)
        assert [e.seq for e in last.events] == [31]  # larger than the bound, still kept

    @pytest.mark.asyncio
    async def test_unknown_and_duplicate_runs(self, make_store: MakeStore) -> None:
        store = await make_store()
        with pytest.raises(RunNotFoundError, match="not in the run store"):
            await store.read("nope", 0)
        with pytest.raises(RunNotFoundError):
            await store.append("nope", events(1, 1))
        with pytest.raises(RunNotFoundError):
            await store.request_stop("nope")
        assert await store.info("nope") is None
        info = await store.create(new_run())
        with pytest.raises(RunExistsError):
            await store.create(new_run(run_id=info.run_id))
        await store.delete(info.run_id)
        assert await store.info(info.run_id) is None
        await store.delete(info.run_id)  # twice: nothing

    @pytest.mark.asyncio
    async def test_one_live_run_per_thread(self, make_store: MakeStore) -> None:
        store = await make_store()
        first = await store.create(new_run(thread_id="t1"))
        assert await store.live_run("t1") == first.run_id
        with pytest.raises(ThreadBusyError, match=f"thread t1 has a run going \\({first.run_id}"):
            await store.create(new_run(thread_id="t1"))
        await store.create(new_run(thread_id="t2"))  # other threads are free
        await store.finish(first.run_id, "finished")
        assert await store.live_run("t1") is None
        second = await store.create(new_run(thread_id="t1"))
        assert await store.live_run("t1") == second.run_id

    @pytest.mark.asyncio
    async def test_a_dead_owner_frees_its_thread(self, make_store: MakeStore) -> None:
        store = await make_store(liveness=0.3)
        dead = await store.create(new_run(thread_id="t"))
        await asyncio.sleep(0.5)  # no heartbeat
        info = await store.info(dead.run_id)
        assert info is not None
        assert info.live
        assert not info.owner_alive
        taken = await store.create(new_run(thread_id="t"))
        assert await store.live_run("t") == taken.run_id

    @pytest.mark.asyncio
    async def test_heartbeats_keep_the_owner_alive_and_carry_stop(
        self, make_store: MakeStore
    ) -> None:
        store = await make_store(liveness=0.4)
        info = await store.create(new_run())
        for _ in range(4):
            await asyncio.sleep(0.15)
            assert await store.heartbeat(info.run_id, "worker-a") is False
        now = await store.info(info.run_id)
        assert now is not None
        assert now.owner_alive
        stopped = await store.request_stop(info.run_id)
        assert stopped.stop_requested
        assert stopped.live  # the owner ends it when it sees the flag
        assert await store.heartbeat(info.run_id, "worker-a") is True
        await store.finish(info.run_id, "cancelled")
        ended = await store.info(info.run_id)
        assert ended is not None
        assert (ended.status, ended.owner_alive) == ("cancelled", False)

    @pytest.mark.asyncio
    async def test_stopping_a_run_whose_owner_died_ends_it(self, make_store: MakeStore) -> None:
        store = await make_store(liveness=0.2)
        info = await store.create(new_run())
        await store.append(info.run_id, events(1, 1))
        await asyncio.sleep(0.4)
        stopped = await store.request_stop(info.run_id)
        assert stopped.status == "cancelled"
        assert [e.seq for e in (await store.read(info.run_id, 0)).events] == [1]

    @pytest.mark.asyncio
    async def test_finishing_twice_keeps_the_first_end(self, make_store: MakeStore) -> None:
        store = await make_store()
        info = await store.create(new_run())
        await store.finish(info.run_id, "finished")
        await store.finish(info.run_id, "failed", {"type": "X", "message": "late"})
        ended = await store.info(info.run_id)
        assert ended is not None
        assert (ended.status, ended.error) == ("finished", None)

    @pytest.mark.asyncio
    async def test_many_concurrent_readers_each_get_everything(self, make_store: MakeStore) -> None:
        store = await make_store()
        info = await store.create(new_run())

        async def reader() -> list[int]:
            got: list[int] = []
            while True:
                read = await store.read(info.run_id, got[-1] if got else 0, wait=2.0)
                got += [e.seq for e in read.events]
                if not read.events and not read.info.live:
                    return got

        readers = [asyncio.create_task(reader()) for _ in range(50)]
        for seq in range(1, 101):
            await store.append(info.run_id, events(seq, 1))
            if seq % 10 == 0:
                await asyncio.sleep(0.01)
        await store.finish(info.run_id, "finished")
        results = await asyncio.wait_for(asyncio.gather(*readers), 20)
        assert all(got == list(range(1, 101)) for got in results)

    @pytest.mark.asyncio
    async def test_a_long_run_trimmed_again_and_again_reads_exact_slices(
        self, make_store: MakeStore
    ) -> None:
        store = await make_store(max_events=10)
        info = await store.create(new_run())
        for seq in range(1, 501):  # each append past 10 drops the oldest
            await store.append(info.run_id, events(seq, 1))
            kept = list(range(max(1, seq - 9), seq + 1))
            read = await store.read(info.run_id, kept[0] - 1)
            assert [e.seq for e in read.events] == kept
            assert read.events[-1] == events(seq, 1)[0]
            assert read.info.first_seq == kept[0]
            middle = kept[len(kept) // 2]
            assert [e.seq for e in (await store.read(info.run_id, middle)).events] == [
                s for s in kept if s > middle
            ]
        with pytest.raises(RunGapError):
            await store.read(info.run_id, 489)
