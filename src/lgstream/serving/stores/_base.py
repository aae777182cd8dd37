"""What a run store is: the contract the run manager needs, and its types.

A run store keeps, per run, its facts (status, thread, owner) and its event
log: events numbered 1, 2, 3... with their encoded text, bounded in events
and bytes. One worker (the run's *owner*) writes; any number of viewers, on
any worker, read from a cursor and wait for more. The owner proves it is alive
with heartbeats; a stop request is a flag the owner sees on its next heartbeat.

Seven operations, modelled on assistant-stream's resumable store (acquire,
append, finalize, read from a cursor, status, delete) plus the heartbeat that
carries liveness and stop requests, which that store lacks (its readers hang
until a TTL when the producer dies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol, TypeAlias, runtime_checkable

from ..._errors import LgstreamError

__all__ = [
    "LIVE_STATUSES",
    "NewRun",
    "Read",
    "RunExistsError",
    "RunGapError",
    "RunInfo",
    "RunNotFoundError",
    "RunStatus",
    "RunStore",
    "StoreError",
    "StoredEvent",
    "ThreadBusyError",
]

RunStatus: TypeAlias = Literal[
    "pending", "running", "finished", "failed", "cancelled", "interrupted"
]
"""Where a run is: ``pending`` (created, not started), ``running``, or how it ended."""

LIVE_STATUSES: Final[frozenset[RunStatus]] = frozenset({"pending", "running"})
"""The statuses of a run that has not ended."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event of a run, as the store keeps it."""

    seq: int
    """Its number in the run: 1, 2, 3... with no gaps."""
    name: str
    """The event's name: lgstream's event kind (``"token"``), or ``"frame"`` for a
    protocol run (AG-UI, Vercel), whose ``data`` is a whole wire frame."""
    data: str
    """Its encoded text: the event's JSON, or the protocol frame."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRun:
    """What ``RunStore.create`` is given."""

    run_id: str
    owner: str
    """The worker that will run it (``RunManager.worker_id``)."""
    thread_id: str | None = None
    """Runs on the same thread exclude each other (one live run per thread)."""
    format: str = "events"
    """What the events are: ``"events"`` (lgstream's, for SSE and NDJSON), ``"agui"``
    or ``"vercel"`` (whole protocol frames)."""
    lifetime: Literal["attached", "detached"] = "detached"
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """A run's facts, readable without streaming it."""

    run_id: str
    thread_id: str | None
    status: RunStatus
    format: str
    lifetime: Literal["attached", "detached"]
    owner: str
    owner_alive: bool
    """Whether the owner's last heartbeat is recent enough (always false once the run
    ended; a live run whose owner is not alive has lost its worker)."""
    stop_requested: bool
    last_seq: int
    """The number of the newest event (0 before the first)."""
    first_seq: int
    """The oldest event still kept (``last_seq + 1`` when none is)."""
    created_at: float
    """Seconds since the epoch."""
    updated_at: float
    error: Mapping[str, str] | None = None
    """``{"type", "message"}`` for a failed run: what a client may read."""
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        """Whether the run has not ended (its owner may still have died)."""
        return self.status in LIVE_STATUSES


@dataclass(frozen=True, slots=True)
class Read:
    """What ``RunStore.read`` found after a cursor."""

    events: Sequence[StoredEvent]
    """The events after the cursor, in order, with no gap (maybe none)."""
    info: RunInfo
    """The run's facts as of this read: a reader that got no events stops when the
    run is not ``live``, and reports a lost worker when ``owner_alive`` is false."""


class StoreError(LgstreamError):
    """A run store could not do what was asked."""


class RunNotFoundError(StoreError, KeyError):
    """No such run in the store (never created, deleted, or expired)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id} is not in the run store (never started, or expired)")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class RunExistsError(StoreError):
    """A run with this id was created already."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id} exists already; start a run with a new id")


class ThreadBusyError(StoreError):
    """The thread has a live run already."""

    def __init__(self, thread_id: str, run_id: str) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        super().__init__(
            f"thread {thread_id} has a run going ({run_id}): wait for it, stop it,"
            " or start with multitask_strategy='interrupt'"
        )


class RunGapError(StoreError):
    """Events after the cursor are no longer kept: resuming there would skip them."""

    def __init__(self, run_id: str, after: int, first_seq: int) -> None:
        self.run_id = run_id
        self.after = after
        self.first_seq = first_seq
        super().__init__(
            f"events {after + 1} to {first_seq - 1} of run {run_id} are no longer kept:"
            f" resuming after event {after} would skip them"
        )


@runtime_checkable
class RunStore(Protocol):
    """Where runs and their events live. Every method is a coroutine and safe to
    call concurrently; every operation on one run is atomic.

    Implementations: ``MemoryStore`` (this process) and ``RedisStore`` (any number
    of workers sharing a Redis).
    """

    async def create(self, run: NewRun) -> RunInfo:
        """Record a new run, ``pending``, with its owner alive.

        Raises:
            RunExistsError: ``run.run_id`` exists.
            ThreadBusyError: ``run.thread_id`` has a live run whose owner is alive
                (a live run whose owner died does not hold its thread).
        """
        ...

    async def append(self, run_id: str, events: Sequence[StoredEvent]) -> None:
        """Add events, in order, continuing the run's numbering (the first one's
        ``seq`` is ``last_seq + 1``); sets the status to ``running``. Past the
        store's bounds the oldest events go. Wakes the readers that wait.

        Raises:
            RunNotFoundError: no such run.
            StoreError: the run has ended, or the numbering does not continue.
        """
        ...

    async def finish(
        self, run_id: str, status: RunStatus, error: Mapping[str, str] | None = None
    ) -> None:
        """End the run with a final status (not ``pending`` or ``running``); wakes
        the readers. Its thread is free again. Ending an ended run does nothing.

        Raises:
            RunNotFoundError: no such run.
        """
        ...

    async def read(self, run_id: str, after: int, *, wait: float = 0.0) -> Read:
        """The events after event ``after`` (0: from the start). When there are none
        and the run is live, wait up to ``wait`` seconds for some to arrive.

        Raises:
            RunNotFoundError: no such run.
            RunGapError: events after ``after`` were dropped (``after + 1 <
                first_seq`` while ``after < last_seq``).
        """
        ...

    async def info(self, run_id: str) -> RunInfo | None:
        """The run's facts, or None if the store does not have it."""
        ...

    async def heartbeat(self, run_id: str, owner: str) -> bool:
        """The owner says it is alive (for the next ``liveness`` seconds, the store's
        setting). Returns whether a stop was requested: the owner then stops the run.
        """
        ...

    async def request_stop(self, run_id: str) -> RunInfo:
        """Ask the run's owner, wherever it is, to stop it; returns the run's facts
        (``stop_requested`` set if it was live). A run whose owner is not alive is
        finished ``cancelled`` here, since nobody else will.

        Raises:
            RunNotFoundError: no such run.
        """
        ...

    async def live_run(self, thread_id: str) -> str | None:
        """The id of the thread's live run, if it has one."""
        ...

    async def delete(self, run_id: str) -> None:
        """Forget the run and its events (nothing if it is not there)."""
        ...

    async def aclose(self) -> None:
        """Release connections; the store is not used after."""
        ...
