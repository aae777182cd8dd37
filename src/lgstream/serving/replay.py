"""``ReplayBuffer``: the recent events of recent runs in this process, so that a
client that reconnects with ``Last-Event-ID: <run_id>:<seq>`` gets what it missed,
then the live tail."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from itertools import islice

from starlette.responses import JSONResponse, Response

from .._errors import UsageError
from .._events import JSONValue
from ._driving import _error_value
from ._wire import Format, _Item, _item, _parse_event_id, _response, _Wire

__all__ = ["ReplayBuffer"]


class _RunLog:
    """The buffered events of one run, the task that produces them, and who listens."""

    def __init__(self, run_id: str, buffer: ReplayBuffer) -> None:
        self.run_id = run_id
        self.buffer = buffer
        self.items: deque[_Item] = deque()
        self.size = 0  # the sum of the items' sizes
        self.last_seq = 0
        self.done = False
        self.task: asyncio.Task[None] | None = None
        self.listeners = 0
        self.changed = asyncio.Event()
        self._idle: asyncio.TimerHandle | None = None

    @property
    def first_seq(self) -> int:
        """The oldest seq still buffered (``last_seq + 1`` when none is)."""
        return self.items[0].seq if self.items else self.last_seq + 1

    def append(self, name: str, value: JSONValue) -> None:
        self.last_seq += 1
        item = _item(self.last_seq, name, value)
        if len(self.items) >= self.buffer.max_events:
            self.drop_oldest()
        self.items.append(item)
        self.size += item.size
        self.buffer._grew(self, item.size)
        self._wake()

    def drop_oldest(self) -> None:
        item = self.items.popleft()
        self.size -= item.size
        self.buffer._grew(self, -item.size)

    def finish(self) -> None:
        self.done = True
        self._wake()

    def _wake(self) -> None:
        # A fresh event per change: every waiter wakes once, nothing is missed.
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    def attach(self) -> None:
        self.listeners += 1
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def detach(self, grace: float) -> None:
        self.listeners -= 1
        if self.listeners == 0 and not self.done:
            self._idle = asyncio.get_running_loop().call_later(grace, self._cancel_if_idle)

    def _cancel_if_idle(self) -> None:
        self._idle = None
        if self.listeners == 0 and not self.done and self.task is not None:
            self.task.cancel()


class ReplayBuffer:
    """The recent events of recent runs, for clients that reconnect.

    A response given a buffer runs its graph in a background task that fills
    the buffer; every connection, the first and any that resume with
    ``Last-Event-ID: <run_id>:<seq>``, reads from it and then waits for more.
    The run is cancelled once no connection has been attached for ``grace``
    seconds and it has not finished.

    Memory is bounded: each run keeps its last ``max_events`` events, the
    buffer keeps at most ``max_runs`` runs, and all of them together hold at
    most ``max_bytes``. Past a bound the oldest finished runs go first; runs
    still going are never dropped (they end or are cancelled soon), but past
    ``max_bytes`` with no finished run left, the run that grew gives up its own
    oldest events. The latest event of a run is always kept.

    Args:
        max_events: events kept per run; a client that resumes from an older
            event, or reads more slowly than the run streams, gets an ``error``
            event saying so (or a 410 when it resumes from there).
        max_runs: runs kept.
        max_bytes: the memory all buffered events may take, counted as the
            size of their JSON text in memory (``sys.getsizeof``) plus a little
            per event; default 64 MiB.
    """

    def __init__(
        self, *, max_events: int = 10_000, max_runs: int = 100, max_bytes: int = 64 * 2**20
    ) -> None:
        if max_events < 1 or max_runs < 1 or max_bytes < 1:
            raise UsageError(
                f"a ReplayBuffer keeps at least one event, one run and one byte,"
                f" got max_events={max_events}, max_runs={max_runs}, max_bytes={max_bytes}"
            )
        self.max_events = max_events
        """Events kept per run."""
        self.max_runs = max_runs
        """Runs kept."""
        self.max_bytes = max_bytes
        """Memory kept for all runs' events together."""
        self._runs: OrderedDict[str, _RunLog] = OrderedDict()
        self._size = 0

    @property
    def size(self) -> int:
        """The memory the buffered events take now, as ``max_bytes`` counts it."""
        return self._size

    def __len__(self) -> int:
        return len(self._runs)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._runs

    def is_running(self, run_id: str) -> bool:
        """Whether the run is buffered and still going."""
        log = self._runs.get(run_id)
        return log is not None and not log.done

    def _add(self, run_id: str) -> _RunLog:
        if run_id in self._runs:
            raise UsageError(f"run {run_id} is already in the replay buffer; use a new run_id")
        log = self._runs[run_id] = _RunLog(run_id, self)
        while len(self._runs) > self.max_runs and self._drop_a_finished_run(but=log):
            pass
        return log

    def _drop_a_finished_run(self, *, but: _RunLog) -> bool:
        # Finished runs go first, and runs whose response never started (its
        # client left before the first byte): nothing will finish them.
        for key, old in self._runs.items():
            if old is not but and (old.done or old.task is None):
                del self._runs[key]
                self._size -= old.size
                return True
        return False

    def _grew(self, log: _RunLog, delta: int) -> None:
        if self._runs.get(log.run_id) is not log:
            return  # dropped already: its memory goes when its last reader lets go
        self._size += delta
        while self._size > self.max_bytes and delta > 0:
            if not self._drop_a_finished_run(but=log):
                if len(log.items) < 2:
                    return
                log.drop_oldest()

    def _get(self, run_id: str) -> _RunLog | None:
        return self._runs.get(run_id)


def _gap_message(log: _RunLog, next_seq: int) -> str:
    buffer = log.buffer
    return (
        f"events {next_seq} to {log.first_seq - 1} of run {log.run_id} are no longer"
        f" buffered (a run keeps its last {buffer.max_events} events, all runs"
        f" {buffer.max_bytes} bytes)"
    )


async def _buffered_body(
    log: _RunLog, after: int, wire: _Wire, grace: float, keepalive: float | None
) -> AsyncIterator[bytes]:
    """Everything after ``after`` in the run's buffer, then the live tail."""
    log.attach()
    try:
        next_seq = after + 1
        while True:
            changed = log.changed  # taken before looking: a change after it wakes us
            if next_seq < log.first_seq:
                # This reader fell behind. The error has no id: the browser reconnects
                # from the last event it got, and that resume answers 410.
                message = _gap_message(log, next_seq)
                yield wire.encode(
                    _item(0, "error", _error_value(log.run_id, "ResumeError", message))
                )
                return
            # A copy: the run may append while this generator is suspended at a yield.
            new = list(islice(log.items, next_seq - log.first_seq, None))
            for item in new:
                yield wire.encode(item)
            if new:
                next_seq = new[-1].seq + 1
                continue
            if log.done:
                return
            if keepalive:
                try:
                    await asyncio.wait_for(changed.wait(), keepalive)
                except TimeoutError:
                    yield b"\n"
            else:
                await changed.wait()
    finally:
        log.detach(grace)


def _resume_refused(status: int, run_id: str | None, message: str) -> Response:
    """A resume that cannot start. A status, not a 200 with an ``error`` event: an
    ``EventSource`` retries every stream that ends, but gives up on a 4xx."""
    body = {"error": message, "type": "ResumeError", "run_id": run_id}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _resume(
    replay: ReplayBuffer | None,
    last_event_id: str,
    fmt: Format,
    keepalive: float | None,
    grace: float,
    retry: int | None,
) -> Response:
    parsed = _parse_event_id(last_event_id)
    if parsed is None:
        message = f"Last-Event-ID {last_event_id[:100]!r} is not <run_id>:<seq>"
        return _resume_refused(400, None, message)
    run_id, seq = parsed
    wire = _Wire(run_id, fmt, retry)
    log = replay._get(run_id) if replay is not None else None
    if log is None:
        message = f"run {run_id} is not in the replay buffer: it cannot be resumed"
        return _resume_refused(404, run_id, message)
    if seq > log.last_seq:
        message = f"run {run_id} has no event {seq} yet"
        return _resume_refused(400, run_id, message)
    if seq + 1 < log.first_seq:
        return _resume_refused(410, run_id, _gap_message(log, seq + 1))
    if log.done and seq == log.last_seq:
        # Nothing more will come: 204 is how SSE tells EventSource to stop reconnecting.
        return Response(status_code=204)
    body_keepalive = keepalive if fmt == "ndjson" else None
    return _response(_buffered_body(log, seq, wire, grace, body_keepalive), fmt, keepalive)
