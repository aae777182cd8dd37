"""``RedisStore`` against the run-store contract, on a real ``redis-server``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from redis import asyncio as aioredis
from redis.crc import key_slot

from lgstream import UsageError
from lgstream.serving.stores import RunNotFoundError, RunStore, StoreError
from lgstream.serving.stores.redis import RedisStore
from lgstream.testing import RedisServer

from .store_contract import MakeStore, StoreContract, events, new_run


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest_asyncio.fixture
async def make_store(redis_server: RedisServer) -> AsyncIterator[MakeStore]:
    made: list[RedisStore] = []

    async def make(**bounds: Any) -> RunStore:
        store = RedisStore(redis_server.url, prefix=f"t{uuid.uuid4().hex[:8]}", **bounds)
        made.append(store)
        return store

    yield make
    for store in made:
        await store.aclose()


class TestRedisStore(StoreContract):
    pass


@pytest.mark.asyncio
async def test_events_are_a_stream_numbered_by_seq_and_keys_expire(
    redis_server: RedisServer,
) -> None:
    store = RedisStore(redis_server.url, prefix="shape", ttl=60)
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        info = await store.create(new_run(thread_id="th"))
        await store.append(info.run_id, events(1, 3))
        meta, stream, alive, ctl = store.run_keys(info.run_id)
        entries = await client.xrange(stream) or []
        assert [entry_id for entry_id, _ in entries] == ["1-0", "2-0", "3-0"]
        assert entries[0][1] == {"n": "token", "d": '{"text":"x1"}'}
        for key in (meta, stream):
            assert 0 < await client.pttl(key) <= 60_000
        assert 0 < await client.pttl(alive) <= 5_000
        assert await client.get(store.thread_key("th")) == info.run_id
        await store.finish(info.run_id, "finished")
        assert await client.exists(alive) == 0
        assert await client.exists(store.thread_key("th")) == 0
        assert 0 < await client.pttl(ctl) <= 60_000
        # One hash tag: a cluster keeps a run's keys in one slot, so scripts work there.
        assert len({key_slot(key.encode()) for key in (meta, stream, alive, ctl)}) == 1
    finally:
        await client.aclose()
        await store.aclose()


@pytest.mark.asyncio
async def test_an_unreachable_redis_is_a_clear_store_error() -> None:
    store = RedisStore("redis://:hunter2@127.0.0.1:1/0")
    try:
        with pytest.raises(StoreError, match="check that it is running") as caught:
            await store.create(new_run())
        assert "hunter2" not in str(caught.value)
        assert "127.0.0.1:1" in str(caught.value)
    finally:
        await store.aclose()


@pytest.mark.asyncio
async def test_a_redis_that_restarts_forgets_its_runs_and_says_so() -> None:
    with RedisServer() as server:
        store = RedisStore(server.url)
        try:
            info = await store.create(new_run())
            await store.append(info.run_id, events(1, 2))
            await asyncio.to_thread(server.restart)
            with pytest.raises(RunNotFoundError):
                await store.append(info.run_id, events(3, 1))
            with pytest.raises(RunNotFoundError):
                await store.heartbeat(info.run_id, "worker-a")
            fresh = await store.create(new_run())  # scripts load again by themselves
            assert fresh.status == "pending"
        finally:
            await store.aclose()


@pytest.mark.asyncio
async def test_a_reader_blocked_on_a_deleted_run_learns_it_is_gone(
    make_store: MakeStore,
) -> None:
    store = await make_store()
    info = await store.create(new_run())
    reader = asyncio.create_task(store.read(info.run_id, 0, wait=5.0))
    await asyncio.sleep(0.2)
    await store.delete(info.run_id)
    with pytest.raises(RunNotFoundError):
        await asyncio.wait_for(reader, 2.0)


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"prefix": "a{b}"}, "without braces"),
        ({"max_events": 0}, "max_events"),
        ({"ttl": 0}, "ttl > 0"),
        ({"url": "http://example.com"}, "not a Redis URL"),
    ],
)
def test_bad_settings_are_refused(bad: dict[str, Any], says: str) -> None:
    with pytest.raises(UsageError, match=says):
        RedisStore(**bad)


@pytest.mark.asyncio
async def test_hundreds_of_waiting_viewers_leave_room_for_the_owner(
    redis_server: RedisServer,
) -> None:
    """Each waiting viewer holds a connection; the owner's appends and heartbeats
    must still get through (redis-py's pool holds 100 by default)."""
    store = RedisStore(redis_server.url, prefix=f"many{uuid.uuid4().hex[:6]}")
    try:
        info = await store.create(new_run())
        readers = [asyncio.create_task(store.read(info.run_id, 0, wait=5.0)) for _ in range(250)]
        await asyncio.sleep(0.5)  # all of them blocked in XREAD
        assert await store.heartbeat(info.run_id, "worker-a") is False
        await store.append(info.run_id, events(1, 1))
        reads = await asyncio.wait_for(asyncio.gather(*readers), 10)
        assert {tuple(e.seq for e in read.events) for read in reads} == {(1,)}
    finally:
        await store.aclose()
