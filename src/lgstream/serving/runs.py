"""``RunManager``: runs started once, in the background, watched from anywhere.

A run's *owner* (the worker that started it) iterates the graph in its own
task and writes every event, already encoded and numbered, to a ``RunStore``;
any number of viewers, on any worker sharing the store, read from a cursor:
what is kept, then the live tail. The owner sends heartbeats through the store,
which carry stop requests back to it, so a run stops from any worker, and a
viewer learns within a few seconds when the owner died.

Two lifetimes: ``attached`` runs are cancelled ``grace`` seconds after their
last viewer on the owner's worker left (what a one-shot request wants);
``detached`` runs go on to their end, or until stopped, whatever the viewers do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal, Protocol, TypeAlias

from langchain_core.runnables import RunnableConfig

from .._errors import UsageError
from .._events import RunFailed, RunFinished, to_jsonable
from .._pipeline import AsyncEventStream
from .._sources import DEFAULT_MODES, GraphLike, astream
from ..protocols._drive import Encoder
from ..sinks._encoders import dumps
from ._driving import AnyOperator, _error_value, _failure, _log_failure, _run_config, _shown
from .stores import (
    NewRun,
    RunInfo,
    RunNotFoundError,
    RunStatus,
    RunStore,
    StoredEvent,
    ThreadBusyError,
)
from .stores.memory import MemoryStore

__all__ = ["HEARTBEAT", "Lifetime", "MultitaskStrategy", "RunManager"]

Lifetime: TypeAlias = Literal["attached", "detached"]
"""``attached``: cancelled when no viewer listened for ``grace`` seconds;
``detached``: runs to its end or until stopped."""

MultitaskStrategy: TypeAlias = Literal["reject", "interrupt"]
"""What starting a run on a thread with a live run does: ``reject`` raises
``ThreadBusyError``; ``interrupt`` stops the live run first (LangGraph Server's
names)."""

HEARTBEAT: Final = 0.5
"""Seconds between an owner's heartbeats: a stop from another worker takes effect
within this, a dead owner is noticed within the store's ``liveness``."""

_RETRY_DELAYS: Final = (0.2, 0.5, 1.0)  # seconds between tries of a failed append
_INTERRUPT_WAIT: Final = 10.0  # seconds to wait for an interrupted run to end
_logger = logging.getLogger("lgstream.serve")


@dataclass(slots=True)
class _Owned:
    """A run this worker owns."""

    run_id: str
    lifetime: Lifetime
    task: asyncio.Task[None] | None = None
    viewers: int = 0
    idle: asyncio.TimerHandle | None = None
    stopped: bool = False  # a stop was asked for (not a viewer leaving)
    lost: str | None = None  # why the store cannot keep the run any more
    ending: bool = False  # its task is writing its end: not to be cancelled
    done: asyncio.Event = field(default_factory=asyncio.Event)


class _Writer:
    """Writes a run's events to the store in order, coalescing what piles up while
    a write is under way into one append (one round trip for a burst of tokens).

    A failed append is tried again a few times (the store may be restarting);
    when the store has lost the run, or keeps failing, ``on_lost`` is told why
    and later events are dropped: the run cannot be watched any more.
    """

    def __init__(self, store: RunStore, run_id: str, on_lost: Callable[[str], None]) -> None:
        self._store = store
        self._run_id = run_id
        self._on_lost = on_lost
        self._pending: list[StoredEvent] = []
        self._wake = asyncio.Event()
        self._closing = False
        self.lost = False
        self.seq = 0
        self._task = asyncio.ensure_future(self._write())

    def emit(self, name: str, value: Any) -> None:
        """Store ``value`` as JSON, under ``name``."""
        self.emit_text(name, dumps(value))

    def emit_text(self, name: str, data: str) -> None:
        """Store ``data`` as it is (an encoded protocol frame)."""
        if self.lost:
            return
        self.seq += 1
        self._pending.append(StoredEvent(self.seq, name, data))
        self._wake.set()

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending and not self.lost:
                batch, self._pending = self._pending, []
                await self._append(batch)
            if self._closing or self.lost:
                return

    async def _append(self, batch: list[StoredEvent]) -> None:
        for delay in (*_RETRY_DELAYS, None):
            try:
                await self._store.append(self._run_id, batch)
                return
            except RunNotFoundError:
                why = "the run store no longer has the run (it expired or restarted empty)"
                break
            except Exception as error:
                why = f"the run store failed: {error}"
                if delay is None:
                    break
                _logger.warning("run %s: writing events failed, retrying", self._run_id)
                await asyncio.sleep(delay)
                # The failed append may have landed (its answer lost): skip what did.
                with contextlib.suppress(Exception):
                    info = await self._store.info(self._run_id)
                    if info is not None:
                        batch = [event for event in batch if event.seq > info.last_seq]
                if not batch:
                    return
        self.lost = True
        self._pending = []
        _logger.error("run %s: stopped, its events cannot be stored: %s", self._run_id, why)
        self._on_lost(why)

    async def close(self) -> None:
        """Write what is pending, then stop."""
        self._closing = True
        self._wake.set()
        await self._task


class _Output(Protocol):
    """How a run's items become stored events: lgstream's events as JSON, or a UI
    protocol's frames."""

    def item(self, item: Any) -> None: ...

    def failed(self, value: Mapping[str, Any], event: RunFailed) -> None:
        """The run failed: ``value`` is lgstream's error event, ``event`` what a
        client may read of it."""

    def cancelled(self, value: Mapping[str, Any]) -> None: ...

    def end(self) -> None:
        """The run is over, whatever happened (called last)."""


class _EventOutput:
    """lgstream's events, one stored event each (SSE and NDJSON)."""

    def __init__(self, writer: _Writer) -> None:
        self._writer = writer

    def item(self, item: Any) -> None:
        # Operators such as text() let out plain values, not events.
        self._writer.emit(getattr(item, "kind", "message"), to_jsonable(item))

    def failed(self, value: Mapping[str, Any], event: RunFailed) -> None:
        self._writer.emit("error", value)

    def cancelled(self, value: Mapping[str, Any]) -> None:
        self._writer.emit("error", value)

    def end(self) -> None:
        pass


class _FrameOutput:
    """A UI protocol's frames (AG-UI, Vercel), encoded once by the owner: every
    viewer gets the same bytes."""

    def __init__(self, writer: _Writer, encoder: Encoder[Any]) -> None:
        self._writer = writer
        self._encoder = encoder

    def _put(self, parts: list[Any]) -> None:
        for part in parts:
            self._writer.emit_text("frame", self._encoder.frame(part).decode())

    def item(self, item: Any) -> None:
        self._put(self._encoder.feed(item))

    def failed(self, value: Mapping[str, Any], event: RunFailed) -> None:
        self._put(self._encoder.feed(event))

    def cancelled(self, value: Mapping[str, Any]) -> None:
        self._put(self._encoder.close(cancelled=True))

    def end(self) -> None:
        self._put(self._encoder.close())  # nothing when the run already ended
        if self._encoder.trailer:
            self._writer.emit_text("frame", self._encoder.trailer.decode())


class RunManager:
    """Starts runs in the background and serves their events from a store.

    Args:
        store: where runs live; a fresh ``MemoryStore`` if not given.
        worker_id: this worker's name in the store (a fresh one if not given).
        heartbeat: seconds between the owner's heartbeats (below the store's
            ``liveness``).
        grace: seconds an ``attached`` run goes on without a viewer.
    """

    def __init__(
        self,
        store: RunStore | None = None,
        *,
        worker_id: str | None = None,
        heartbeat: float = HEARTBEAT,
        grace: float = 0.5,
    ) -> None:
        if not heartbeat > 0 or not grace >= 0:
            raise UsageError(
                f"RunManager needs heartbeat > 0 and grace >= 0 seconds,"
                f" got heartbeat={heartbeat!r}, grace={grace!r}"
            )
        self.store: RunStore = store if store is not None else MemoryStore()
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self.heartbeat = heartbeat
        self.grace = grace
        self._owned: dict[str, _Owned] = {}

    # --- starting ---------------------------------------------------------------------

    async def start(
        self,
        graph: GraphLike,
        input: Any,
        *,
        lifetime: Lifetime = "detached",
        modes: str | Sequence[str] | None = None,
        config: RunnableConfig | None = None,
        subgraphs: bool = False,
        ops: Sequence[AnyOperator] = (),
        thread_id: str | None = None,
        multitask_strategy: MultitaskStrategy = "reject",
        metadata: Mapping[str, str] | None = None,
        run_id: str | None = None,
        format: str = "events",
        encoder: Callable[[], Encoder[Any]] | None = None,
    ) -> RunInfo:
        """Start a run of ``graph`` in the background; its facts, ``pending``.

        The run's id is ``run_id`` (a UUID), else a fresh one (unguessable:
        knowing it is what lets a client watch and stop the run). ``thread_id``
        (else the config's ``configurable.thread_id``) groups runs: one live run
        per thread. A protocol run (``format`` ``"agui"`` or ``"vercel"``) stores
        the frames of ``encoder()`` instead of lgstream's events.

        Raises:
            ThreadBusyError: the thread has a live run and the strategy is
                ``reject``.
        """
        if lifetime not in ("attached", "detached"):
            raise UsageError(f"lifetime is 'attached' or 'detached', got {lifetime!r}")
        if multitask_strategy not in ("reject", "interrupt"):
            raise UsageError(
                f"multitask_strategy is 'reject' or 'interrupt', got {multitask_strategy!r}"
            )
        if (format == "events") != (encoder is None):
            raise UsageError("a run stores lgstream's events, or a protocol's frames with encoder=")
        run_config, run_id = _run_config(config, run_id or str(uuid.uuid4()))
        if thread_id is None:
            found = (run_config.get("configurable") or {}).get("thread_id")
            thread_id = str(found) if found is not None else None
        new = NewRun(
            run_id=run_id,
            owner=self.worker_id,
            thread_id=thread_id,
            format=format,
            lifetime=lifetime,
            metadata=dict(metadata or {}),
        )
        try:
            info = await self.store.create(new)
        except ThreadBusyError as busy:
            if multitask_strategy == "reject":
                raise
            await self._interrupt(busy.run_id)
            info = await self.store.create(new)
        events = astream(
            graph,
            input,
            modes=DEFAULT_MODES if modes is None else modes,
            config=run_config,
            subgraphs=subgraphs,
            raise_errors=False,
        ).pipe(*ops)
        owned = self._owned[run_id] = _Owned(run_id, lifetime)
        owned.task = asyncio.ensure_future(self._own(owned, events, encoder))
        owned.task.add_done_callback(lambda _: self._if_never_started(owned))
        if lifetime == "attached":
            self._idle_later(owned)  # nobody may ever come
        return info

    async def _interrupt(self, run_id: str) -> None:
        """Stop a thread's live run and wait for it to end (multitask 'interrupt')."""
        await self.stop(run_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _INTERRUPT_WAIT
        while loop.time() < deadline:
            info = await self.store.info(run_id)
            if info is None or not info.live:
                return
            await self.store.read(run_id, info.last_seq, wait=min(1.0, self.heartbeat))
        # Still going: the store will refuse the new run with ThreadBusyError.

    # --- owning -----------------------------------------------------------------------

    async def _own(
        self,
        owned: _Owned,
        events: AsyncEventStream[Any],
        encoder: Callable[[], Encoder[Any]] | None,
    ) -> None:
        run_id = owned.run_id
        writer = _Writer(self.store, run_id, lambda why: self._lose(owned, why))
        output: _Output = (
            _EventOutput(writer) if encoder is None else _FrameOutput(writer, encoder())
        )
        beat = asyncio.ensure_future(self._beat(owned))
        status: RunStatus = "cancelled"
        error: Mapping[str, str] | None = None
        try:
            status, error = await self._produce(run_id, events, output)
        except asyncio.CancelledError:
            if owned.lost is not None:
                status, error = "failed", {"type": "StoreLost", "message": owned.lost}
            else:
                why = (
                    "it was stopped"
                    if owned.stopped
                    else f"no client listened for {self.grace} s (an attached run)"
                )
                value = _error_value(run_id, "RunCancelled", f"the run was cancelled: {why}")
                output.cancelled(value)
                status, error = "cancelled", _client_error(value)
        finally:
            owned.ending = True  # from here on, nothing cancels the task
            beat.cancel()
            output.end()
            try:
                await writer.close()
            except Exception:
                _logger.exception("run %s: writing its events to the store failed", run_id)
            try:
                await self.store.finish(run_id, status, error)
            except RunNotFoundError:
                pass  # the store lost the run: said when it was noticed
            except Exception:
                _logger.exception("run %s: recording its end in the store failed", run_id)
            self._forget(owned)

    def _if_never_started(self, owned: _Owned) -> None:
        # A task cancelled before its first step never runs its body, nor its
        # `finally`: record its end here, or it would hold its thread until the
        # store's liveness ran out.
        if not owned.done.is_set():
            self._forget(owned)
            _keep(asyncio.ensure_future(self._record_unstarted(owned.run_id)))

    async def _record_unstarted(self, run_id: str) -> None:
        try:
            await self.store.finish(
                run_id,
                "cancelled",
                {"type": "RunCancelled", "message": "the run was cancelled before it started"},
            )
        except Exception:
            _logger.exception("run %s: recording its end in the store failed", run_id)

    async def _produce(
        self, run_id: str, events: AsyncEventStream[Any], output: _Output
    ) -> tuple[RunStatus, Mapping[str, str] | None]:
        """Iterate the run, handing each item to ``output``; how it ended."""
        status: RunStatus = "finished"
        error: Mapping[str, str] | None = None
        try:
            async with events:  # leaving it, cancelled or not, closes astream: the run stops
                async for item in events:
                    if isinstance(item, RunFailed):
                        _log_failure(run_id, item.error)
                        value = _failure(run_id, item.error)
                        output.failed(value, replace(item, error=_shown(item.error)))
                        status, error = "failed", _client_error(value)
                    else:
                        if isinstance(item, RunFinished) and item.interrupts:
                            status = "interrupted"
                        output.item(item)
        except Exception as failure:  # an operator failed: still one clean error event
            _log_failure(run_id, failure)
            value = _failure(run_id, failure)
            output.failed(value, RunFailed(run_id=run_id, error=_shown(failure)))
            status, error = "failed", _client_error(value)
        return status, error

    async def _beat(self, owned: _Owned) -> None:
        """Tell the store this worker is alive; stop the run when asked to."""
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                stop = await self.store.heartbeat(owned.run_id, self.worker_id)
            except RunNotFoundError:
                self._lose(owned, "the run store no longer has the run (it expired or restarted)")
                return
            except Exception:  # the store is down: keep running, try again
                _logger.warning("run %s: heartbeat failed", owned.run_id, exc_info=True)
                continue
            if stop and owned.task is not None:
                owned.stopped = True
                owned.task.cancel()
                return

    def _lose(self, owned: _Owned, why: str) -> None:
        """The store cannot keep the run: stop it, nobody can watch it any more."""
        if owned.lost is None and owned.task is not None and not owned.ending:
            owned.lost = why
            owned.task.cancel()

    def _forget(self, owned: _Owned) -> None:
        if owned.idle is not None:
            owned.idle.cancel()
        self._owned.pop(owned.run_id, None)
        owned.done.set()

    # --- viewers ----------------------------------------------------------------------

    async def watch(self, run_id: str, after: int = 0) -> AsyncGenerator[StoredEvent, None]:
        """The run's events after event ``after``: what the store keeps, then the
        live tail, until the run ends. If its owner dies first, a last ``error``
        event (``seq`` 0, type ``WorkerLost``) says so.

        Raises:
            RunNotFoundError: the store does not have the run.
            RunGapError: events after ``after`` are no longer kept.
        """
        batches = await self.watch_batches(run_id, after)
        return _flat(batches)

    async def watch_batches(
        self, run_id: str, after: int = 0, *, idle: float | None = None
    ) -> AsyncGenerator[Sequence[StoredEvent], None]:
        """``watch``, a batch at a time: what each read of the store found (all that
        piled up while the viewer was busy), for one write per batch. An empty
        batch means nothing came for ``idle`` seconds, or two heartbeats if that is
        sooner (a chance to send a keepalive)."""
        if await self.store.info(run_id) is None:
            raise RunNotFoundError(run_id)
        wait = 2 * self.heartbeat if not idle else min(2 * self.heartbeat, idle)
        return self._watch(run_id, after, wait)

    async def _watch(
        self, run_id: str, after: int, wait: float
    ) -> AsyncGenerator[Sequence[StoredEvent], None]:
        owned = self._owned.get(run_id)
        if owned is not None:
            self._attach(owned)
        try:
            while True:
                read = await self.store.read(run_id, after, wait=wait)
                if read.events:
                    yield read.events
                    after = read.events[-1].seq
                    continue
                if not read.info.live:
                    return
                if not read.info.owner_alive:
                    message = (
                        f"the worker running run {run_id} stopped answering: the run is lost"
                        " (start it again)"
                    )
                    yield [error_event(run_id, "WorkerLost", message)]
                    return
                yield ()  # nothing came for a while: the viewer may send a keepalive
        finally:
            if owned is not None:
                self._detach(owned)

    def _attach(self, owned: _Owned) -> None:
        owned.viewers += 1
        if owned.idle is not None:
            owned.idle.cancel()
            owned.idle = None

    def _detach(self, owned: _Owned) -> None:
        owned.viewers -= 1
        if owned.viewers == 0 and owned.lifetime == "attached":
            self._idle_later(owned)

    def _idle_later(self, owned: _Owned) -> None:
        def cancel_if_idle() -> None:
            owned.idle = None
            if owned.viewers == 0 and owned.task is not None and not owned.ending:
                owned.task.cancel()

        owned.idle = asyncio.get_running_loop().call_later(self.grace, cancel_if_idle)

    # --- facts and stopping -----------------------------------------------------------

    async def info(self, run_id: str) -> RunInfo | None:
        """The run's facts, or None if the store does not have it."""
        return await self.store.info(run_id)

    async def stop(self, run_id: str) -> RunInfo:
        """Stop the run wherever it runs: at once here, within a heartbeat elsewhere.
        Stopping an ended run does nothing; its facts are returned either way.

        Raises:
            RunNotFoundError: the store does not have the run.
        """
        info = await self.store.request_stop(run_id)
        owned = self._owned.get(run_id)
        if owned is not None and owned.task is not None and info.live and not owned.ending:
            owned.stopped = True
            owned.task.cancel()
        return info

    async def wait(self, run_id: str) -> None:
        """Wait until a run this worker owns has ended and its end is in the store."""
        owned = self._owned.get(run_id)
        if owned is not None:
            await owned.done.wait()

    async def aclose(self) -> None:
        """Cancel the runs this worker owns and wait for their ends to be written."""
        owned = list(self._owned.values())
        for run in owned:
            if run.task is not None:
                run.task.cancel()
        for run in owned:
            if run.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await run.task


async def _flat(
    batches: AsyncGenerator[Sequence[StoredEvent], None],
) -> AsyncGenerator[StoredEvent, None]:
    try:
        async for batch in batches:
            for event in batch:
                yield event
    finally:
        await batches.aclose()


_TASKS: set[asyncio.Task[None]] = set()  # strong references: the loop keeps weak ones


def _keep(task: asyncio.Task[None]) -> None:
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


def error_event(run_id: str, kind: str, message: str) -> StoredEvent:
    """An ``error`` event about the stream, not one of the run's (``seq`` 0: no id)."""
    return StoredEvent(0, "error", dumps(_error_value(run_id, kind, message)))


def _client_error(value: Mapping[str, Any]) -> dict[str, str]:
    return {"type": str(value.get("type")), "message": str(value.get("message"))}
