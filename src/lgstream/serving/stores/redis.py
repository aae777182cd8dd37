"""``RedisStore``: runs and their events in Redis, shared by any number of workers.

Each run is four keys with one hash tag, so a Redis Cluster keeps them in one
slot and every script on them is atomic:

- ``<prefix>:run:{<run_id>}:meta``: a hash of the run's facts;
- ``<prefix>:run:{<run_id>}:events``: a stream, one entry per event, whose id
  is ``<seq>-0`` (the event's number, not a clock: two events of one
  millisecond are two cursors);
- ``<prefix>:run:{<run_id>}:alive``: a key the owner's heartbeat keeps for
  ``liveness`` seconds: its absence is a dead owner;
- ``<prefix>:run:{<run_id>}:ctl``: a stream written when the run ends or goes,
  so readers blocked on the events wake at once.

A thread's live run is ``<prefix>:thread:{<thread_id>}``, holding the run's id;
it lives in its own slot, so it is only ever changed alone (compare-and-set).

Live readers block in ``XREAD`` on the events and the control stream. A live
run's keys expire ``ttl`` seconds after the last append or heartbeat (so a run
whose worker and viewers all vanished does not stay forever), an ended run's
``ttl`` seconds after it ended. Redis's own ``maxmemory`` bounds all runs
together; each run keeps at most ``max_events`` events within ``max_bytes``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, Literal, cast
from urllib.parse import urlsplit, urlunsplit

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from ..._errors import UsageError
from ._base import (
    LIVE_STATUSES,
    NewRun,
    Read,
    RunExistsError,
    RunGapError,
    RunInfo,
    RunNotFoundError,
    RunStatus,
    StoredEvent,
    StoreError,
    ThreadBusyError,
)

__all__ = ["DEFAULT_URL", "RedisStore"]

DEFAULT_URL: Final = "redis://127.0.0.1:6379/0"
"""Where ``RedisStore`` looks when given no URL and ``REDIS_URL`` is not set."""

_EVENT_OVERHEAD: Final = 120  # what an entry costs beyond its text, as MemoryStore counts
_READ_COUNT: Final = 1000  # events per read: a viewer far behind catches up in steps
_THREAD_ATTEMPTS: Final = 5
_CTL_KEEP_MS: Final = 60_000  # a deleted run's control stream: long enough to wake readers

_LOST: Final[Mapping[str, str]] = {
    "type": "WorkerLost",
    "message": "the worker running this run stopped answering",
}

# KEYS: meta, events, alive, ctl.  ARGV: ttl ms, liveness ms, field, value, ...
_CREATE: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[4])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
return 1
"""

# KEYS: meta, events.  ARGV: max events, max bytes, now, ttl ms, overhead,
# then seq, name, data for each event.  Returns 'ok', 'missing', 'ended:<status>'
# or 'gap:<last seq>'.
_APPEND: Final = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status ~= 'pending' and status ~= 'running' then return 'ended:' .. status end
local last = tonumber(redis.call('HGET', KEYS[1], 'last_seq'))
local size = tonumber(redis.call('HGET', KEYS[1], 'size'))
local max_events = tonumber(ARGV[1])
local max_bytes = tonumber(ARGV[2])
local overhead = tonumber(ARGV[5])
for i = 6, #ARGV, 3 do
  local seq = tonumber(ARGV[i])
  if seq ~= last + 1 then return 'gap:' .. last end
  redis.call('XADD', KEYS[2], seq .. '-0', 'n', ARGV[i + 1], 'd', ARGV[i + 2])
  last = seq
  size = size + #ARGV[i + 2] + overhead
end
local count = redis.call('XLEN', KEYS[2])
while count > max_events or (size > max_bytes and count > 1) do
  local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  redis.call('XDEL', KEYS[2], oldest[1])
  local fields = oldest[2]
  for j = 1, #fields, 2 do
    if fields[j] == 'd' then size = size - #fields[j + 1] - overhead end
  end
  count = count - 1
end
local first = last + 1
if count > 0 then
  local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1][1]
  first = tonumber(string.match(head, '^(%d+)'))
end
redis.call('HSET', KEYS[1], 'status', 'running', 'last_seq', last, 'first_seq', first,
  'size', size, 'updated_at', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 'ok'
"""

# KEYS: meta, alive, ctl, events.  ARGV: status, error json, now, ttl ms.
# Returns nil (no such run), or {ended now: 0/1, thread id}.
_FINISH: Final = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return nil end
local thread = redis.call('HGET', KEYS[1], 'thread_id')
if status ~= 'pending' and status ~= 'running' then return {0, thread} end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'error', ARGV[2], 'updated_at', ARGV[3])
redis.call('DEL', KEYS[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', 16, '*', 'e', ARGV[1])
for _, key in ipairs({KEYS[1], KEYS[3], KEYS[4]}) do redis.call('PEXPIRE', key, ARGV[4]) end
return {1, thread}
"""

# KEYS: meta, alive, events, ctl.  ARGV: first id, count (0: facts only).
# Returns nil, or {meta fields, alive 0/1, entries, the control stream's last id}.
_READ: Final = """
local meta = redis.call('HGETALL', KEYS[1])
if #meta == 0 then return nil end
local entries = {}
if ARGV[2] ~= '0' then
  entries = redis.call('XRANGE', KEYS[3], ARGV[1], '+', 'COUNT', ARGV[2])
end
local ctl = redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', 1)
local ctl_id = '0-0'
if #ctl > 0 then ctl_id = ctl[1][1] end
return {meta, redis.call('EXISTS', KEYS[2]), entries, ctl_id}
"""

# KEYS: meta, events, alive.  ARGV: owner, liveness ms, ttl ms.
# Returns nil, or {stop 0/1, thread id}.
_HEARTBEAT: Final = """
local fields = redis.call('HMGET', KEYS[1], 'status', 'owner', 'stop', 'thread_id')
if not fields[1] then return nil end
if (fields[1] == 'pending' or fields[1] == 'running') and fields[2] == ARGV[1] then
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return {tonumber(fields[3]), fields[4]}
"""

# KEYS: meta, alive, ctl, events.  ARGV: now, ttl ms, error json (for a dead owner).
# Returns nil, or {ended here: 0/1, thread id}.
_STOP: Final = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return nil end
local thread = redis.call('HGET', KEYS[1], 'thread_id')
if status ~= 'pending' and status ~= 'running' then return {0, thread} end
redis.call('HSET', KEYS[1], 'stop', 1, 'updated_at', ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', 16, '*', 'e', 'stop')
  return {0, thread}
end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'error', ARGV[3])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', 16, '*', 'e', 'cancelled')
for _, key in ipairs({KEYS[1], KEYS[3], KEYS[4]}) do redis.call('PEXPIRE', key, ARGV[2]) end
return {1, thread}
"""

# KEYS: meta, events, alive, ctl.  ARGV: ctl keep ms.  Returns the thread id or ''.
_DELETE: Final = """
local thread = redis.call('HGET', KEYS[1], 'thread_id') or ''
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', 16, '*', 'e', 'deleted')
redis.call('PEXPIRE', KEYS[4], ARGV[1])
return thread
"""

# KEYS: thread.  ARGV: expected holder, new holder ('' deletes), ttl ms.
_SWAP_THREAD: Final = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1])
else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
"""

# KEYS: thread.  ARGV: holder, ttl ms.
_TOUCH_THREAD: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"""


def _masked(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RedisStore:
    """A ``RunStore`` in Redis (Redis Streams), for any number of workers.

    ::

        store = RedisStore("redis://redis.internal:6379/0")
        app = create_app(graph, runs=RunManager(store))

    Args:
        url: the Redis to use; default: ``REDIS_URL``, else
            ``redis://127.0.0.1:6379/0``. ``rediss://`` for TLS, ``unix://`` for a
            socket.
        prefix: the start of every key (several apps can share one Redis).
        max_events: events kept per run.
        max_bytes: bytes of event text kept per run (plus 120 per event).
        liveness: seconds an owner's heartbeat counts for.
        ttl: seconds a run is kept after it ended, or after its last sign of life.
        client: a ``redis.asyncio.Redis`` (or ``RedisCluster``) to use instead of
            one made from ``url``; it must decode responses (``decode_responses=True``).
            The store does not close a client it was given; waiting viewers each
            hold one of its connections, so give its pool room for them.
        max_connections: connections for commands (a command waits for a free one,
            up to 10 s).
        max_readers: connections for viewers waiting for new events (one each).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str = "lgstream",
        max_events: int = 10_000,
        max_bytes: int = 16 * 2**20,
        liveness: float = 5.0,
        ttl: float = 3600.0,
        client: aioredis.Redis | None = None,
        max_connections: int = 64,
        max_readers: int = 10_000,
    ) -> None:
        for name, value in (
            ("max_events", max_events),
            ("max_bytes", max_bytes),
            ("max_connections", max_connections),
            ("max_readers", max_readers),
        ):
            if type(value) is not int or value < 1:
                raise UsageError(f"RedisStore({name}=) is a whole number >= 1, got {value!r}")
        if not liveness > 0 or not ttl > 0:
            raise UsageError(
                f"RedisStore needs liveness > 0 and ttl > 0 seconds,"
                f" got liveness={liveness!r}, ttl={ttl!r}"
            )
        if not prefix or "{" in prefix or "}" in prefix:
            raise UsageError(
                f"RedisStore(prefix=) is a non-empty name without braces, got {prefix!r}"
            )
        self.url = url or os.environ.get("REDIS_URL") or DEFAULT_URL
        self.prefix = prefix
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.liveness = liveness
        self.ttl = ttl
        self._liveness_ms = max(1, round(liveness * 1000))
        self._ttl_ms = max(1, round(ttl * 1000))
        self._owns_client = client is None
        if client is None:
            options: dict[str, Any] = {
                "decode_responses": True,
                "encoding_errors": "surrogatepass",
                "socket_connect_timeout": 5,
                "health_check_interval": 30,
            }
            try:
                # Two pools: each waiting viewer holds a connection in a blocking XREAD
                # for up to a second, so viewers get their own, large pool; commands
                # (the owner's appends and heartbeats among them) wait for a free
                # connection of theirs instead of failing when all are busy.
                client = aioredis.Redis.from_pool(  # from_pool: closing the client closes it
                    aioredis.BlockingConnectionPool.from_url(
                        self.url, max_connections=max_connections, timeout=10, **options
                    )
                )
                readers = aioredis.Redis.from_url(self.url, max_connections=max_readers, **options)
            except ValueError as error:
                raise UsageError(
                    f"RedisStore: {_masked(self.url)} is not a Redis URL ({error});"
                    " use redis://host:port/db"
                ) from None
        else:
            readers = client
        self._readers = readers
        self._client = client
        self._scripts = {
            name: client.register_script(source)
            for name, source in (
                ("create", _CREATE),
                ("append", _APPEND),
                ("finish", _FINISH),
                ("read", _READ),
                ("heartbeat", _HEARTBEAT),
                ("stop", _STOP),
                ("delete", _DELETE),
                ("swap_thread", _SWAP_THREAD),
                ("touch_thread", _TOUCH_THREAD),
            )
        }

    # --- keys ---------------------------------------------------------------------------

    def run_keys(self, run_id: str) -> tuple[str, str, str, str]:
        """The run's keys: meta, events, alive, ctl (one hash tag: one cluster slot)."""
        base = f"{self.prefix}:run:{{{run_id}}}"
        return f"{base}:meta", f"{base}:events", f"{base}:alive", f"{base}:ctl"

    def thread_key(self, thread_id: str) -> str:
        """The key that holds the thread's live run."""
        return f"{self.prefix}:thread:{{{thread_id}}}"

    # --- the RunStore operations ------------------------------------------------------

    async def create(self, run: NewRun) -> RunInfo:
        meta, events, alive, ctl = self.run_keys(run.run_id)
        async with self._failures():
            if await self._client.exists(meta):
                raise RunExistsError(run.run_id)
            if run.thread_id is not None:
                await self._take_thread(run.thread_id, run.run_id)
            now = repr(time.time())
            fields = {
                "run_id": run.run_id,
                "thread_id": run.thread_id if run.thread_id is not None else "",
                "owner": run.owner,
                "format": run.format,
                "lifetime": run.lifetime,
                "metadata": json.dumps(dict(run.metadata)),
                "created_at": now,
                "updated_at": now,
                "status": "pending",
                "error": "",
                "stop": "0",
                "last_seq": "0",
                "first_seq": "1",
                "size": "0",
            }
            args: list[str | int] = [self._ttl_ms, self._liveness_ms]
            for key, value in fields.items():
                args += [key, value]
            created = await self._scripts["create"](keys=[meta, events, alive, ctl], args=args)
            if not created:
                if run.thread_id is not None:
                    await self._free_thread(run.thread_id, run.run_id)
                raise RunExistsError(run.run_id)
        return _info(fields, alive=True)

    async def _take_thread(self, thread_id: str, run_id: str) -> None:
        key = self.thread_key(thread_id)
        for _ in range(_THREAD_ATTEMPTS):
            if await self._client.set(key, run_id, nx=True, px=self._ttl_ms):
                return
            holder = _text(await self._client.get(key))
            if holder is None:
                continue  # freed meanwhile
            found = await self.info(holder)
            if found is not None and found.live:
                if found.owner_alive:
                    raise ThreadBusyError(thread_id, holder)
                await self.finish(holder, "failed", _LOST)  # its worker died
            swapped = await self._scripts["swap_thread"](
                keys=[key], args=[holder, run_id, self._ttl_ms]
            )
            if swapped:
                return
        holder = _text(await self._client.get(key))
        raise ThreadBusyError(thread_id, holder or "another run")

    async def _free_thread(self, thread_id: str, run_id: str) -> None:
        await self._scripts["swap_thread"](keys=[self.thread_key(thread_id)], args=[run_id, "", 0])

    async def append(self, run_id: str, events: Sequence[StoredEvent]) -> None:
        if not events:
            return
        meta, stream, _, _ = self.run_keys(run_id)
        args: list[str | int] = [
            self.max_events,
            self.max_bytes,
            repr(time.time()),
            self._ttl_ms,
            _EVENT_OVERHEAD,
        ]
        for event in events:
            args += [event.seq, event.name, event.data]
        async with self._failures():
            answer = await self._scripts["append"](keys=[meta, stream], args=args)
        if answer == "missing":
            raise RunNotFoundError(run_id)
        if answer.startswith("ended:"):
            status = answer.partition(":")[2]
            raise StoreError(f"run {run_id} has ended ({status}): it takes no more events")
        if answer.startswith("gap:"):
            last = answer.partition(":")[2]
            bad = next(e.seq for e in events if e.seq > int(last))
            raise StoreError(f"run {run_id}: event {bad} does not follow event {last}")

    async def finish(
        self, run_id: str, status: RunStatus, error: Mapping[str, str] | None = None
    ) -> None:
        if status in LIVE_STATUSES:
            raise UsageError(f"a run finishes with a final status, not {status!r}")
        meta, stream, alive, ctl = self.run_keys(run_id)
        async with self._failures():
            answer = await self._scripts["finish"](
                keys=[meta, alive, ctl, stream],
                args=[status, json.dumps(error) if error else "", repr(time.time()), self._ttl_ms],
            )
            if answer is None:
                raise RunNotFoundError(run_id)
            ended, thread = answer
            if ended and thread:
                await self._free_thread(thread, run_id)

    async def read(self, run_id: str, after: int, *, wait: float = 0.0) -> Read:
        meta, stream, alive, ctl = self.run_keys(run_id)
        deadline = time.monotonic() + wait
        waited = False
        while True:
            async with self._failures():
                answer = await self._scripts["read"](
                    keys=[meta, alive, stream, ctl], args=[f"{after + 1}-0", _READ_COUNT]
                )
            if answer is None:
                raise RunNotFoundError(run_id)
            flat, is_alive, entries, ctl_id = answer
            info = _info(_pairs(flat), alive=bool(is_alive))
            if after < info.last_seq and after + 1 < info.first_seq:
                raise RunGapError(run_id, after, info.first_seq)
            events = [_event(entry) for entry in entries]
            remaining = deadline - time.monotonic()
            if events or not info.live or remaining <= 0 or waited:
                return Read(events, info)
            # Wait on the events and the control stream from what this read saw:
            # anything written since wakes us, nothing is missed between the two.
            async with self._failures():
                woke = await self._readers.xread(
                    {stream: f"{after}-0", ctl: ctl_id},
                    count=1,
                    block=max(1, round(remaining * 1000)),
                )
            waited = not woke  # timed out: one last look, then return

    async def info(self, run_id: str) -> RunInfo | None:
        meta, stream, alive, ctl = self.run_keys(run_id)
        async with self._failures():
            answer = await self._scripts["read"](keys=[meta, alive, stream, ctl], args=["+", 0])
        if answer is None:
            return None
        flat, is_alive, _, _ = answer
        return _info(_pairs(flat), alive=bool(is_alive))

    async def heartbeat(self, run_id: str, owner: str) -> bool:
        meta, stream, alive, _ = self.run_keys(run_id)
        async with self._failures():
            answer = await self._scripts["heartbeat"](
                keys=[meta, stream, alive], args=[owner, self._liveness_ms, self._ttl_ms]
            )
            if answer is None:
                raise RunNotFoundError(run_id)
            stop, thread = answer
            if thread:
                await self._scripts["touch_thread"](
                    keys=[self.thread_key(thread)], args=[run_id, self._ttl_ms]
                )
        return bool(stop)

    async def request_stop(self, run_id: str) -> RunInfo:
        meta, stream, alive, ctl = self.run_keys(run_id)
        async with self._failures():
            answer = await self._scripts["stop"](
                keys=[meta, alive, ctl, stream],
                args=[repr(time.time()), self._ttl_ms, ""],
            )
            if answer is None:
                raise RunNotFoundError(run_id)
            ended, thread = answer
            if ended and thread:
                await self._free_thread(thread, run_id)
        info = await self.info(run_id)
        if info is None:
            raise RunNotFoundError(run_id)
        return info

    async def live_run(self, thread_id: str) -> str | None:
        async with self._failures():
            holder = _text(await self._client.get(self.thread_key(thread_id)))
        if holder is None:
            return None
        info = await self.info(holder)
        return holder if info is not None and info.live else None

    async def delete(self, run_id: str) -> None:
        meta, stream, alive, ctl = self.run_keys(run_id)
        async with self._failures():
            thread = await self._scripts["delete"](
                keys=[meta, stream, alive, ctl], args=[_CTL_KEEP_MS]
            )
            if thread:
                await self._free_thread(thread, run_id)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
            await self._readers.aclose()

    # --- errors -----------------------------------------------------------------------

    @asynccontextmanager
    async def _failures(self) -> AsyncIterator[None]:
        """Redis's failures as ``StoreError``s that say what to do."""
        try:
            yield
        except RedisError as error:
            raise StoreError(
                f"the run store's Redis at {_masked(self.url)} failed ({type(error).__name__}:"
                f" {error}): check that it is running and reachable, or point REDIS_URL"
                " (lgstream serve --store) at one that is"
            ) from error


# --- decoding what Redis answers ------------------------------------------------------


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _pairs(flat: Sequence[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _event(entry: Sequence[Any]) -> StoredEvent:
    entry_id, flat = entry
    fields = _pairs(flat)
    return StoredEvent(int(str(entry_id).partition("-")[0]), fields["n"], fields["d"])


def _info(fields: Mapping[str, str], *, alive: bool) -> RunInfo:
    status = cast(RunStatus, fields["status"])
    error = fields.get("error") or ""
    return RunInfo(
        run_id=fields["run_id"],
        thread_id=fields["thread_id"] or None,
        status=status,
        format=fields["format"],
        lifetime=cast(Literal["attached", "detached"], fields["lifetime"]),
        owner=fields["owner"],
        owner_alive=alive and status in LIVE_STATUSES,
        stop_requested=fields.get("stop") == "1",
        last_seq=int(fields["last_seq"]),
        first_seq=int(fields["first_seq"]),
        created_at=float(fields["created_at"]),
        updated_at=float(fields["updated_at"]),
        error=json.loads(error) if error else None,
        metadata=json.loads(fields["metadata"]),
    )
