"""``MemoryStore``: runs and their events in this process's memory.

The default store: ``create_app`` and ``lgstream serve`` need nothing else, and
a run outlives its connections as long as the process does. Viewers must reach
the same process (one worker); for several, use ``RedisStore``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

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

__all__ = ["MemoryStore"]

# What an event costs beyond its text: the object, its seq and name references.
_EVENT_OVERHEAD: Final = 120


def _size(event: StoredEvent) -> int:
    return sys.getsizeof(event.data) + _EVENT_OVERHEAD


@dataclass(slots=True, kw_only=True)
class _Run:
    run_id: str
    thread_id: str | None
    owner: str
    format: str
    lifetime: Literal["attached", "detached"]
    metadata: Mapping[str, str]
    created_at: float
    updated_at: float
    alive_until: float  # time.monotonic() of the owner's liveness
    status: RunStatus = "pending"
    error: Mapping[str, str] | None = None
    stop_requested: bool = False
    last_seq: int = 0
    # The kept events are log[head:]: dropping the oldest moves `head`, and the list
    # is compacted now and then, so a read after a cursor is one slice, not a walk.
    log: list[StoredEvent] = field(default_factory=list)
    head: int = 0
    size: int = 0
    ended_at: float | None = None  # time.monotonic()
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def kept(self) -> int:
        return len(self.log) - self.head

    @property
    def first_seq(self) -> int:
        return self.log[self.head].seq if self.head < len(self.log) else self.last_seq + 1

    def after(self, seq: int) -> list[StoredEvent]:
        """The kept events after event ``seq`` (which must be kept or the last)."""
        return self.log[self.head + max(0, seq + 1 - self.first_seq) :]

    def drop_oldest(self) -> StoredEvent:
        event = self.log[self.head]
        self.head += 1
        if self.head > 64 and self.head * 2 > len(self.log):
            del self.log[: self.head]
            self.head = 0
        return event

    def wake(self) -> None:
        # A fresh event per change: every waiter wakes once, nothing is missed.
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    def info(self) -> RunInfo:
        return RunInfo(
            run_id=self.run_id,
            thread_id=self.thread_id,
            status=self.status,
            format=self.format,
            lifetime=self.lifetime,
            owner=self.owner,
            owner_alive=self.live and time.monotonic() < self.alive_until,
            stop_requested=self.stop_requested,
            last_seq=self.last_seq,
            first_seq=self.first_seq,
            created_at=self.created_at,
            updated_at=self.updated_at,
            error=self.error,
            metadata=self.metadata,
        )


class MemoryStore:
    """A ``RunStore`` in this process's memory, bounded.

    Each run keeps its last ``max_events`` events within ``max_bytes``; all runs
    together take at most ``max_total_bytes``, and at most ``max_runs`` runs are
    kept. Past a bound, ended runs go first, oldest first; a live run is never
    dropped, but gives up its own oldest events (never its newest). An ended run
    is forgotten ``ttl`` seconds after it ended. Memory is counted as the size of
    each event's text in memory plus a little per event.

    Args:
        max_events: events kept per run.
        max_bytes: memory kept per run.
        max_total_bytes: memory kept for all runs.
        max_runs: runs kept.
        liveness: seconds an owner's heartbeat counts for.
        ttl: seconds an ended run is kept.
    """

    def __init__(
        self,
        *,
        max_events: int = 10_000,
        max_bytes: int = 16 * 2**20,
        max_total_bytes: int = 256 * 2**20,
        max_runs: int = 1000,
        liveness: float = 5.0,
        ttl: float = 3600.0,
    ) -> None:
        for name, value in (
            ("max_events", max_events),
            ("max_bytes", max_bytes),
            ("max_total_bytes", max_total_bytes),
            ("max_runs", max_runs),
        ):
            if type(value) is not int or value < 1:
                raise UsageError(f"MemoryStore({name}=) is a whole number >= 1, got {value!r}")
        if not liveness > 0 or not ttl >= 0:
            raise UsageError(
                f"MemoryStore needs liveness > 0 and ttl >= 0 seconds,"
                f" got liveness={liveness!r}, ttl={ttl!r}"
            )
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.max_total_bytes = max_total_bytes
        self.max_runs = max_runs
        self.liveness = liveness
        self.ttl = ttl
        self._runs: OrderedDict[str, _Run] = OrderedDict()
        self._threads: dict[str, str] = {}  # thread id -> its live run's id
        self._size = 0

    @property
    def size(self) -> int:
        """The memory all kept events take now, as the bounds count it."""
        return self._size

    def __len__(self) -> int:
        return len(self._runs)

    # --- the RunStore operations ------------------------------------------------------

    async def create(self, run: NewRun) -> RunInfo:
        self._expire()
        if run.run_id in self._runs:
            raise RunExistsError(run.run_id)
        if run.thread_id is not None:
            holder = self._runs.get(self._threads.get(run.thread_id, ""))
            if holder is not None and holder.live:
                if holder.info().owner_alive:
                    raise ThreadBusyError(run.thread_id, holder.run_id)
                self._end(holder, "failed", _LOST)  # its worker died: nobody will end it
        now = time.time()
        new = _Run(
            run_id=run.run_id,
            thread_id=run.thread_id,
            owner=run.owner,
            format=run.format,
            lifetime=run.lifetime,
            metadata=dict(run.metadata),
            created_at=now,
            updated_at=now,
            alive_until=time.monotonic() + self.liveness,
        )
        self._runs[run.run_id] = new
        if run.thread_id is not None:
            self._threads[run.thread_id] = run.run_id
        while len(self._runs) > self.max_runs and self._drop_an_ended_run(but=new):
            pass
        return new.info()

    async def append(self, run_id: str, events: Sequence[StoredEvent]) -> None:
        run = self._get(run_id)
        if not run.live:
            raise StoreError(f"run {run_id} has ended ({run.status}): it takes no more events")
        for event in events:
            if event.seq != run.last_seq + 1:
                raise StoreError(
                    f"run {run_id}: event {event.seq} does not follow event {run.last_seq}"
                )
            run.last_seq = event.seq
            run.log.append(event)
            grown = _size(event)
            run.size += grown
            self._size += grown
            while run.kept > self.max_events or (run.size > self.max_bytes and run.kept > 1):
                self._drop_oldest(run)
            while self._size > self.max_total_bytes:
                if not self._drop_an_ended_run(but=run):
                    if run.kept < 2:
                        break
                    self._drop_oldest(run)
        run.status = "running"
        run.updated_at = time.time()
        run.wake()

    async def finish(
        self, run_id: str, status: RunStatus, error: Mapping[str, str] | None = None
    ) -> None:
        if status in LIVE_STATUSES:
            raise UsageError(f"a run finishes with a final status, not {status!r}")
        run = self._get(run_id)
        if run.live:
            self._end(run, status, error)

    async def read(self, run_id: str, after: int, *, wait: float = 0.0) -> Read:
        run = self._get(run_id)
        deadline = time.monotonic() + wait
        while True:
            if after < run.last_seq and after + 1 < run.first_seq:
                raise RunGapError(run_id, after, run.first_seq)
            events = run.after(after)
            remaining = deadline - time.monotonic()
            if events or not run.live or remaining <= 0:
                return Read(events, run.info())
            changed = run.changed  # taken before waiting: a change after it wakes us
            try:
                # asyncio.timeout, not wait_for: no task per wait (200 viewers wait
                # once per event each).
                async with asyncio.timeout(remaining):
                    await changed.wait()
            except TimeoutError:
                return Read([], run.info())
            if self._runs.get(run_id) is not run:
                raise RunNotFoundError(run_id)

    async def info(self, run_id: str) -> RunInfo | None:
        run = self._runs.get(run_id)
        return run.info() if run is not None else None

    async def heartbeat(self, run_id: str, owner: str) -> bool:
        run = self._get(run_id)
        if run.owner == owner and run.live:
            run.alive_until = time.monotonic() + self.liveness
        return run.stop_requested

    async def request_stop(self, run_id: str) -> RunInfo:
        run = self._get(run_id)
        if run.live:
            run.stop_requested = True
            run.updated_at = time.time()
            if not run.info().owner_alive:
                self._end(run, "cancelled", None)  # nobody else will
            run.wake()
        return run.info()

    async def live_run(self, thread_id: str) -> str | None:
        run = self._runs.get(self._threads.get(thread_id, ""))
        return run.run_id if run is not None and run.live else None

    async def delete(self, run_id: str) -> None:
        run = self._runs.pop(run_id, None)
        if run is not None:
            self._size -= run.size
            self._free_thread(run)
            run.wake()

    async def aclose(self) -> None:
        self._runs.clear()
        self._threads.clear()
        self._size = 0

    # --- bookkeeping ------------------------------------------------------------------

    def _get(self, run_id: str) -> _Run:
        run = self._runs.get(run_id)
        if run is None:
            raise RunNotFoundError(run_id)
        return run

    def _end(self, run: _Run, status: RunStatus, error: Mapping[str, str] | None) -> None:
        run.status = status
        run.error = error
        run.updated_at = time.time()
        run.ended_at = time.monotonic()
        self._free_thread(run)
        run.wake()

    def _free_thread(self, run: _Run) -> None:
        if run.thread_id is not None and self._threads.get(run.thread_id) == run.run_id:
            del self._threads[run.thread_id]

    def _drop_oldest(self, run: _Run) -> None:
        shrunk = _size(run.drop_oldest())
        run.size -= shrunk
        self._size -= shrunk

    def _drop_an_ended_run(self, *, but: _Run) -> bool:
        for key, old in self._runs.items():
            if old is not but and not old.live:
                del self._runs[key]
                self._size -= old.size
                old.wake()
                return True
        return False

    def _expire(self) -> None:
        if not self._runs:
            return
        horizon = time.monotonic() - self.ttl
        gone = [
            key
            for key, run in self._runs.items()
            if run.ended_at is not None and run.ended_at <= horizon
        ]
        for key in gone:
            self._size -= self._runs.pop(key).size


_LOST: Final[Mapping[str, str]] = {
    "type": "WorkerLost",
    "message": "the worker running this run stopped answering",
}
