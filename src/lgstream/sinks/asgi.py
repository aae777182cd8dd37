"""Serve graph runs over HTTP: an ASGI response per run, and a small Starlette app.

Needs the ``server`` extra (``pip install 'lgstream[server]'``: starlette,
sse-starlette, uvicorn).

- ``sse_response(graph, input, ...)`` streams one run as Server-Sent Events
  (sse-starlette's ``EventSourceResponse``, which also sends the keepalive
  pings and notices the client leaving) or as NDJSON (``StreamingResponse``).
- ``ReplayBuffer`` keeps the events of recent runs, so that a client that
  reconnects with ``Last-Event-ID: <run_id>:<seq>`` gets what it missed, then
  the live tail.
- ``create_app(graph)`` is a ready Starlette app: ``POST /stream`` (or ``GET``
  for ``EventSource``), and ``GET /`` with a page that shows the run live.
- The formats ``"agui"`` and ``"vercel"`` speak the UI protocols of
  ``lgstream.protocols`` instead (AG-UI, the Vercel AI SDK UI message stream):
  ``sse_response(..., format="agui")``, or ``create_app`` with ``?format=agui``
  or ``protocol="agui"``, whose POST route then reads the protocol's own request
  body. They are never buffered for replay.

On the wire, every SSE message is ``id: <run_id>:<seq>``, ``event: <kind>``,
``data: <compact JSON of to_jsonable(event)>``; an NDJSON line is
``{"id": <seq>, **to_jsonable(event)}``. A run that raises ends with one
``error`` event, ``{"kind": "error", "run_id", "type", "message"}``: the
exception's type and the first line of its message, never a traceback.

Each run is iterated by its own task, so cancelling it is one ``task.cancel()``
(which closes ``lgs.astream``, and that stops the graph): without a replay
buffer this happens as soon as the client leaves; with one, once no client has
been attached for ``grace`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import html
import json
import logging
import sys
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib.resources import files
from itertools import islice
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypeAlias, TypeVar, get_args

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .._errors import TaskError, UsageError, client_message, error_name
from .._events import JSONValue, RunFailed, to_jsonable
from .._pipeline import AsyncEventStream, Operator, TimedOperator
from .._sources import DEFAULT_MODES, GraphLike, _check_modes, astream
from ..protocols import PROTOCOL_MODES
from ._encoders import SSEEncoder, dumps
from ._guard import HostGuard, TrustedHosts
from ._requests import MAX_BODY, BadRequestError, client_config, parse_json, read_json_body
from ._workers import SYNC_WORKERS, SyncWorkers

if TYPE_CHECKING:
    from ..serving.runs import Lifetime, RunManager

__all__ = [
    "NDJSON_MEDIA_TYPE",
    "PROTOCOL_MODES",
    "AnyOperator",
    "Format",
    "ProtocolFormat",
    "ReplayBuffer",
    "create_app",
    "sse_response",
]

ProtocolFormat: TypeAlias = Literal["agui", "vercel"]
"""A UI protocol: AG-UI (``lgstream.protocols.agui``) or the Vercel AI SDK UI
message stream (``lgstream.protocols.vercel``)."""

Format: TypeAlias = Literal["sse", "ndjson", "agui", "vercel"]
"""The wire format of a response: lgstream's events as Server-Sent Events or
newline-delimited JSON, or a UI protocol."""


_FORMATS: Final = get_args(Format)
_PROTOCOLS: Final = get_args(ProtocolFormat)

AnyOperator: TypeAlias = "Operator[Any, Any] | TimedOperator[Any, Any]"
"""An operator to pipe a run's events through before they are sent."""

NDJSON_MEDIA_TYPE: Final = "application/x-ndjson"

# A live (unbuffered) response holds at most this many events for a slow client;
# then the run waits for it, as a plain generator would.
_QUEUE_SIZE: Final = 64
_MAX_MESSAGE: Final = 200
# What an _Item costs beyond its text: the object, its seq and name references.
_ITEM_OVERHEAD: Final = 120
# Strong references to running tasks: the event loop keeps only weak ones.
_TASKS: set[asyncio.Task[None]] = set()
_logger = logging.getLogger("lgstream.serve")


@dataclass(frozen=True, slots=True)
class _Item:
    """One event of a run, as it goes on the wire in either format."""

    seq: int
    name: str
    data: str  # dumps(value), computed once for every client of a replayed run

    @property
    def size(self) -> int:
        """The memory it holds, near enough: its JSON text and the item itself."""
        return sys.getsizeof(self.data) + _ITEM_OVERHEAD


class WireEvent(Protocol):
    """What a response encodes: an event's number (0: a note about the stream,
    with no id), its name, and its JSON text (``_Item``, ``StoredEvent``)."""

    @property
    def seq(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def data(self) -> str: ...


def _error_value(run_id: str | None, type_name: str, message: str) -> dict[str, JSONValue]:
    return {"kind": "error", "run_id": run_id, "type": type_name, "message": message}


def _failure(run_id: str | None, error: BaseException) -> dict[str, JSONValue]:
    return _error_value(run_id, error_name(error), client_message(error, _MAX_MESSAGE))


def _log_failure(run_id: str | None, error: BaseException) -> None:
    """The whole story for the server's log; the client gets only the short message."""
    _logger.error("run %s failed", run_id, exc_info=(type(error), error, error.__traceback__))


def _shown(error: BaseException) -> TaskError:
    """The stand-in a client sees: the type's name and ``client_message()``."""
    return TaskError(error_name(error), client_message(error, _MAX_MESSAGE))


async def _for_clients(events: AsyncEventStream[Any], run_id: str) -> AsyncIterator[Any]:
    """A protocol response's events, with failures logged whole and handed on as
    only what a client may read, whether the run or an operator failed (the
    protocol encoders turn them into their own error event)."""
    try:
        async for item in events:
            if isinstance(item, RunFailed):
                _log_failure(run_id, item.error)
                item = replace(item, error=_shown(item.error))
            yield item
    except Exception as error:  # an operator failed
        _log_failure(run_id, error)
        yield RunFailed(run_id=run_id, error=_shown(error))
    finally:
        await events.aclose()  # the response closes us when its client leaves: stop the run


def _start(coro: Awaitable[None]) -> asyncio.Task[None]:
    task: asyncio.Task[None] = asyncio.ensure_future(coro)
    _TASKS.add(task)
    task.add_done_callback(_forget)
    return task


def _forget(task: asyncio.Task[None]) -> None:
    _TASKS.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: the run's errors were already sent as events


# --- driving a run ---------------------------------------------------------------------

_Emit: TypeAlias = Callable[[str, JSONValue], Awaitable[None]]
_T = TypeVar("_T")


async def _drive(events: AsyncEventStream[Any], run_id: str, emit: _Emit) -> None:
    """Iterate one run and hand each item to ``emit`` as (event name, JSON value)."""
    try:
        async with events:  # leaving it, cancelled or not, closes astream: the run stops
            async for item in events:
                if isinstance(item, RunFailed):
                    error = item.error
                    _log_failure(run_id, error)
                    await emit("error", _failure(run_id, error))
                else:
                    # Operators such as text() let out plain values, not events.
                    await emit(getattr(item, "kind", "message"), to_jsonable(item))
    except Exception as error:  # an operator failed: still one clean error event
        _log_failure(run_id, error)
        await emit("error", _failure(run_id, error))


class _Wire:
    """Encodes items for one response, in one format."""

    def __init__(self, run_id: str, fmt: Format, retry: int | None = None) -> None:
        self._run_id = run_id
        self._sse = SSEEncoder(retry=retry) if fmt == "sse" else None

    def encode(self, item: WireEvent) -> bytes:
        # seq 0 is a message about the stream, not one of the run's events: it has no
        # id, so a reconnecting EventSource still names the last real event it got.
        if self._sse is not None:
            event_id = f"{self._run_id}:{item.seq}" if item.seq else None
            return self._sse.encode_message(item.data, event=item.name, id=event_id)
        # Spliced from the JSON text already made (for every reader of a replayed run):
        # {"id":N, then the object's members, or {"id":N,"kind":...,"data":...}.
        head = f'{{"id":{item.seq},' if item.seq else "{"
        if item.data[:1] != "{":  # not a JSON object: wrapped in one
            line = f'{head}"kind":{dumps(item.name)},"data":{item.data}}}'
        elif item.data == "{}":
            line = head.rstrip(",") + "}"
        else:
            line = head + item.data[1:]
        return (line + "\n").encode()


def _item(seq: int, name: str, value: JSONValue) -> _Item:
    return _Item(seq, name, dumps(value))


async def _queued_body(
    fill: Callable[[Callable[[_T], Awaitable[None]]], Awaitable[None]],
    encode: Callable[[_T], bytes],
    keepalive: float | None,
    tick: bytes,
) -> AsyncIterator[bytes]:
    """A response body that its own task fills through a small queue.

    ``fill(put)`` runs the run in that task; the body encodes what it puts, and
    sends ``tick`` after ``keepalive`` quiet seconds. When the client leaves the
    server cancels the body (or drops it, which closes it), and the ``finally``
    cancels the task: the run never outlives its only reader.
    """
    queue: asyncio.Queue[_T | None] = asyncio.Queue(_QUEUE_SIZE)

    async def run() -> None:
        await fill(queue.put)
        await queue.put(None)  # not on cancellation: then nobody is reading

    task = _start(run())
    try:
        while True:
            item = await _get(queue, keepalive)
            if item is _Tick.KEEPALIVE:
                yield tick
            elif item is None:
                return
            else:
                yield encode(item)
    finally:
        task.cancel()


def _live_body(
    events: AsyncEventStream[Any], run_id: str, wire: _Wire, keepalive: float | None
) -> AsyncIterator[bytes]:
    """The body of an unbuffered response: lgstream's events, numbered."""

    async def fill(put: Callable[[_Item], Awaitable[None]]) -> None:
        seq = 0

        async def emit(name: str, value: JSONValue) -> None:
            nonlocal seq
            seq += 1
            await put(_item(seq, name, value))

        await _drive(events, run_id, emit)

    return _queued_body(fill, wire.encode, keepalive, b"\n")


class _Tick(enum.Enum):
    KEEPALIVE = "keepalive"  # nothing came for `keepalive` seconds


async def _get(queue: asyncio.Queue[_T], keepalive: float | None) -> _T | _Tick:
    if not keepalive:
        return await queue.get()
    try:
        return await asyncio.wait_for(queue.get(), keepalive)
    except TimeoutError:
        return _Tick.KEEPALIVE


# --- the replay buffer ------------------------------------------------------------------


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
        self, *, max_events: int = 1000, max_runs: int = 100, max_bytes: int = 64 * 2**20
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


def _parse_event_id(last_event_id: str) -> tuple[str, int] | None:
    run_id, sep, seq = last_event_id.strip().rpartition(":")
    # isdigit() alone takes "²" and other digits int() refuses; 18 digits fit any seq.
    if not sep or not run_id or not (seq.isascii() and seq.isdigit()) or len(seq) > 18:
        return None
    return run_id, int(seq)


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


# --- responses --------------------------------------------------------------------------


class _Comment(ServerSentEvent):
    """A keepalive comment in lgstream's form: ``: text`` and no blank line after it,
    which some clients (httpx-sse) would take for an empty event."""

    def encode(self) -> bytes:
        return SSEEncoder().comment(self.comment or "")


def _keepalive_comment() -> ServerSentEvent:
    return _Comment(comment="keepalive")


def _response(body: AsyncIterator[bytes], fmt: Format, keepalive: float | None) -> Response:
    if fmt == "sse":
        return EventSourceResponse(
            body, ping=keepalive or 0, ping_message_factory=_keepalive_comment, sep="\n"
        )
    return StreamingResponse(
        body,
        media_type=NDJSON_MEDIA_TYPE,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _run_config(config: RunnableConfig | None, run_id: str | None) -> tuple[RunnableConfig, str]:
    merged: RunnableConfig = dict(config or {})  # type: ignore[assignment]
    if run_id is None:
        run_id = str(merged.get("run_id") or uuid.uuid4())
    try:
        merged["run_id"] = uuid.UUID(run_id)
    except ValueError:
        raise UsageError(f"a run_id is a UUID, got {run_id!r}") from None
    return merged, str(merged["run_id"])


# --- protocol responses -----------------------------------------------------------------


def _pumped(source: AsyncGenerator[bytes, None], keepalive: float | None) -> AsyncIterator[bytes]:
    """The body of a protocol response: the encoder's frames, as they come.

    Cancelling the body's task closes ``source`` and so ``lgs.astream``: the graph
    stops. Keepalives are SSE comments, ``: keepalive``, which both protocols'
    clients skip (the AG-UI client reads only ``data:`` lines; the AI SDK's parser
    drops comments).
    """

    async def fill(put: Callable[[bytes], Awaitable[None]]) -> None:
        try:
            async for chunk in source:
                await put(chunk)
        finally:
            await source.aclose()  # also when cancelled while the queue was full

    return _queued_body(fill, _same, keepalive, _KEEPALIVE)


def _same(chunk: bytes) -> bytes:
    return chunk


_KEEPALIVE: Final = SSEEncoder().comment("keepalive")


def _protocol_response(
    graph: GraphLike,
    input: Any,
    *,
    protocol: ProtocolFormat,
    modes: str | Sequence[str],
    config: RunnableConfig | None,
    subgraphs: bool,
    ops: Sequence[AnyOperator],
    keepalive: float | None,
    run_id: str | None,
    thread_id: str | None,
    protocol_run_id: str | None = None,
    interrupt_outcome: bool = False,
) -> Response:
    run_config, run_id = _run_config(config, run_id)
    stream = astream(
        graph, input, modes=modes, config=run_config, subgraphs=subgraphs, raise_errors=False
    ).pipe(*ops)
    events = _for_clients(stream, run_id)
    body: AsyncGenerator[bytes, None]
    if protocol == "agui":
        # Imported here: AG-UI needs the `agui` extra, and only its users have it.
        from ..protocols.agui import AGUIEncoder, aencode_agui

        if thread_id is None:
            configurable = run_config.get("configurable") or {}
            found = configurable.get("thread_id")
            thread_id = str(found) if found is not None else None
        body = aencode_agui(
            events,
            thread_id=thread_id,
            run_id=protocol_run_id or run_id,
            interrupt_outcome=interrupt_outcome,
            raise_errors=False,
        )
        media_type, headers = AGUIEncoder.media_type, AGUIEncoder(thread_id="").headers
    else:
        from ..protocols.vercel import VercelEncoder, aencode_vercel

        body = aencode_vercel(events)
        media_type, headers = VercelEncoder.media_type, VercelEncoder().headers
    return StreamingResponse(_pumped(body, keepalive), media_type=media_type, headers=dict(headers))


def sse_response(
    graph: GraphLike,
    input: Any,
    *,
    modes: str | Sequence[str] | None = None,
    config: RunnableConfig | None = None,
    subgraphs: bool = False,
    ops: Sequence[AnyOperator] = (),
    format: Format = "sse",
    keepalive: float | None = 15.0,
    grace: float = 0.5,
    replay: ReplayBuffer | None = None,
    run_id: str | None = None,
    last_event_id: str | None = None,
    retry: int | None = None,
    thread_id: str | None = None,
) -> Response:
    """A streaming response for one graph run, for Starlette or FastAPI.

    The run starts when the response starts sending, in its own task; it is
    cancelled (``lgs.astream`` is closed, which stops the graph and its model
    calls) when the client disconnects, or with a replay buffer when no client
    has listened for ``grace`` seconds. A run that raises ends with an
    ``error`` event (type and short message, no traceback) and the response
    ends cleanly.

    With ``format="agui"`` or ``"vercel"`` the response speaks that UI protocol
    (``lgstream.protocols``): the encoder's media type and headers, its frames,
    ``\\n`` line endings; the run's failure is the protocol's error event. There
    is no replay for protocols: ``replay``, ``last_event_id`` and ``retry`` are
    for ``"sse"`` and ``"ndjson"`` only.

    Args:
        graph: a compiled graph, or anything ``lgs.astream()`` takes.
        input: the graph's input.
        modes: LangGraph stream modes (see ``lgs.astream``); by default
            ``DEFAULT_MODES``, and for a protocol ``PROTOCOL_MODES``
            (``messages``, ``updates``, ``values``, ``custom``: what the
            encoders read).
        config: the run's ``RunnableConfig``.
        subgraphs: also stream events from inside subgraphs.
        ops: operators to pipe the events through (new instances per response:
            operators hold state).
        format: ``"sse"`` (``text/event-stream``), ``"ndjson"``
            (``application/x-ndjson``), ``"agui"`` or ``"vercel"``.
        keepalive: seconds between keepalive comments (SSE and the protocols) or
            blank lines (NDJSON) that stop proxies from closing a quiet stream;
            ``None`` or 0 sends none.
        grace: with ``replay``, how long a run keeps going with no client attached.
        replay: keep the run's events in this buffer, so that a client can resume.
        run_id: the run's id, a UUID string (default: ``config["run_id"]`` or a new one).
        last_event_id: the request's ``Last-Event-ID`` header: with ``replay``,
            resume that run instead of starting one (``graph`` and ``input`` are
            then unused). An unknown run or an event no longer buffered gives an
            ``error`` event.
        retry: SSE only: the reconnection delay to ask clients for, in
            milliseconds, sent with the first message. By default, with
            ``replay``, half of ``grace``: a browser's ``EventSource`` otherwise
            waits about 3 s, and the run would be cancelled before it comes back.
        thread_id: ``"agui"`` only: the ``threadId`` that ``RUN_STARTED`` and
            ``RUN_FINISHED`` carry (default: the config's
            ``configurable.thread_id``, or a new UUID).

    Raises:
        UsageError: a bad argument (an unknown mode, a run_id that is no UUID, ...).
    """
    if format not in _FORMATS:
        raise UsageError(f"format is one of {', '.join(_FORMATS)}, got {format!r}")
    if format == "agui" or format == "vercel":
        if replay is not None or last_event_id or retry is not None:
            raise UsageError(
                f"format={format!r} streams without replay: replay, last_event_id and"
                " retry are for 'sse' and 'ndjson'"
            )
        return _protocol_response(
            graph,
            input,
            protocol=format,
            modes=PROTOCOL_MODES if modes is None else modes,
            config=config,
            subgraphs=subgraphs,
            ops=ops,
            keepalive=keepalive,
            run_id=run_id,
            thread_id=thread_id,
        )
    if modes is None:
        modes = DEFAULT_MODES
    if grace < 0:
        raise UsageError(f"grace is a number of seconds >= 0, got {grace!r}")
    if retry is None and replay is not None:
        retry = max(1, int(grace * 500))
    if last_event_id:
        return _resume(replay, last_event_id, format, keepalive, grace, retry)
    run_config, run_id = _run_config(config, run_id)
    events = astream(
        graph, input, modes=modes, config=run_config, subgraphs=subgraphs, raise_errors=False
    ).pipe(*ops)
    wire = _Wire(run_id, format, retry)
    # SSE gets its keepalives from sse-starlette's pings; NDJSON from the body.
    body_keepalive = keepalive if format == "ndjson" else None
    if replay is None:
        return _response(_live_body(events, run_id, wire, body_keepalive), format, keepalive)
    log = replay._add(run_id)

    async def fill(name: str, value: JSONValue) -> None:
        log.append(name, value)

    async def run() -> None:
        try:
            await _drive(events, run_id, fill)
        except asyncio.CancelledError:
            # Whoever resumes later learns why the run stopped short.
            message = f"the run was cancelled: no client listened for {grace} s"
            log.append("error", _error_value(run_id, "RunCancelled", message))
            raise
        finally:
            log.finish()

    async def body() -> AsyncIterator[bytes]:
        if log.task is None:  # started by the response, not at construction (HEAD)
            log.task = _start(run())
        async for chunk in _buffered_body(log, 0, wire, grace, body_keepalive):
            yield chunk

    return _response(body(), format, keepalive)


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


# --- the app ----------------------------------------------------------------------------


def _page() -> str:
    return files("lgstream.sinks").joinpath("_page.html").read_text(encoding="utf-8")


def _refused(error: BadRequestError) -> Response:
    return JSONResponse({"error": str(error)}, status_code=error.status)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def create_app(
    graph: GraphLike,
    *,
    path: str = "/stream",
    modes: str | Sequence[str] = DEFAULT_MODES,
    subgraphs: bool = False,
    ops: Callable[[], Sequence[AnyOperator]] | None = None,
    keepalive: float | None = 15.0,
    grace: float = 0.5,
    replay: ReplayBuffer | bool = True,
    page: bool = True,
    example_input: Any = None,
    title: str = "lgstream",
    protocol: ProtocolFormat | None = None,
    max_body: int = MAX_BODY,
    trusted_hosts: TrustedHosts = "auto",
    cors_origins: Sequence[str] = (),
    sync_workers: int | None = SYNC_WORKERS,
    runs: RunManager | bool = True,
    lifetime: Lifetime = "detached",
    protocol_lifetime: Lifetime = "attached",
) -> Starlette:
    """A Starlette app that streams runs of ``graph``.

    Routes:

    - ``POST {path}`` with a JSON body ``{"input": ..., "config": {...}}``;
    - ``GET {path}?input=<json>&config=<json>`` for browsers' ``EventSource``;
    - ``GET /``: a page that streams the graph and shows tokens, node progress
      and the latest state as they arrive (plain JavaScript, nothing external).

    Both stream routes answer SSE, or NDJSON with ``?format=ndjson`` or
    ``Accept: application/x-ndjson``, and resume a run when the request carries
    ``Last-Event-ID``. ``config`` from a client may only hold ``configurable``,
    ``tags``, ``metadata`` and ``recursion_limit``. A malformed request gets a
    4xx with ``{"error": "..."}`` that says what was wrong: 400 for a body that
    is not UTF-8 JSON, nests deeper than 100 levels, or has a bad ``config``
    (unknown or LangGraph-internal keys, ``tags`` not a list of strings,
    ``recursion_limit`` not a positive integer), 413 for a body over
    ``max_body``, 415 for a POST that is not ``application/json`` (a cross-site
    form or ``text/plain`` POST needs no CORS preflight; it must not start a run).

    ``POST {path}?format=agui`` (or ``vercel``), or every ``POST {path}`` without
    a ``format`` when ``protocol`` is set, speaks a UI protocol instead: the body
    is the protocol's own request (AG-UI's ``RunAgentInput``, ``useChat``'s
    ``{id, messages, trigger}``), turned into ``{"messages": [...]}`` by
    ``lgstream.protocols.agui.graph_input`` / ``vercel.graph_input`` (or into
    ``Command(resume=...)`` when it answers interrupts), and the run streams with
    ``PROTOCOL_MODES`` (whatever ``modes`` says). If the graph
    has a checkpointer, the protocol's conversation id (AG-UI ``threadId``, the
    ``useChat`` ``id``) is the run's ``configurable.thread_id`` and only the new
    turn is sent (the thread has the rest); without one, the whole conversation
    the client sent is the input, and no thread is used.

    With ``runs`` (the default), a protocol run is a durable run: its frames go
    to the run store, its response carries ``X-Run-Id``, it can be joined at
    ``GET /runs/{run_id}/stream`` (``Last-Event-ID`` works: every frame has an
    SSE ``id``) and stopped at ``POST /runs/{run_id}/cancel``, and
    ``GET {path}/{thread_id}/stream`` streams a conversation's live run from its
    start, or answers 204 when there is none (``useChat``'s resume). A new
    request on a conversation with a live run stops that run first.

    Args:
        graph: the graph to serve.
        path: the stream route.
        modes: LangGraph stream modes of every run.
        subgraphs: also stream events from inside subgraphs.
        ops: a function that returns the operators for one run (called per
            request: operators hold state).
        keepalive: seconds between keepalives (see ``sse_response``).
        grace: seconds a run goes on with no client attached.
        replay: a ``ReplayBuffer`` to share, ``True`` for a new one (the
            default), ``False`` for none (no resuming).
        page: serve the HTML page at ``/``.
        example_input: the input the page starts with.
        title: the page's title.
        protocol: ``"agui"`` or ``"vercel"``: ``POST {path}`` speaks that
            protocol unless the request asks for another ``format``.
        max_body: the largest request body accepted, in bytes (1 MB by default);
            a larger one is a 413 before it is read whole.
        trusted_hosts: the ``Host`` names answered. ``"auto"`` (the default):
            when the server listens on loopback, only loopback names
            (``localhost``, ``127.0.0.1``, ``[::1]``), which stops DNS rebinding
            (a web page whose name resolves to 127.0.0.1 sends its own name);
            elsewhere any. Behind a reverse proxy on the same machine, list the
            names it forwards; ``None`` checks nothing.
        cors_origins: the web origins (``"https://app.example"``, or ``"*"``)
            whose pages may call the app from the browser. Any other page's
            request (an ``Origin`` that is not the app's own, or
            ``Sec-Fetch-Site: cross-site``) is a 403, and no run starts.
        sync_workers: threads for sync nodes and sync model calls: the app makes
            a pool of this size the serving event loop's default executor (asyncio's
            own has ``min(32, cpus + 4)``, which a few stalled runs fill). ``None``
            leaves the loop's executor alone.
        runs: durable runs under ``/runs`` (``lgstream.serving.routes``): a
            ``RunManager`` to use (its store decides who shares the runs: a
            ``RedisStore`` for several workers), ``True`` for one over a fresh
            ``MemoryStore``, ``False`` for none.
        lifetime: what a run started under ``/runs`` does when its viewers leave,
            unless the request says: ``detached`` runs on, ``attached`` is
            cancelled after ``grace`` seconds.
        protocol_lifetime: the same for a protocol run (``POST {path}`` in AG-UI
            or Vercel). ``attached`` (the default) stops the run when its client
            leaves, as a UI's Stop button expects; ``detached`` lets it outlive a
            page reload, for ``useChat({resume: true})`` (then a client's abort
            no longer stops it: ``POST /runs/{run_id}/cancel`` does).

    Raises:
        UsageError: an unknown stream mode or protocol.
    """
    _check_modes(modes)
    if type(max_body) is not int or max_body < 1:
        raise UsageError(f"max_body is a number of bytes >= 1, got {max_body!r}")
    if sync_workers is not None and (type(sync_workers) is not int or sync_workers < 1):
        raise UsageError(f"sync_workers is a number of threads >= 1 or None, got {sync_workers!r}")
    if protocol is not None and protocol not in _PROTOCOLS:
        raise UsageError(f"protocol is 'agui' or 'vercel', got {protocol!r}")
    for name, value in (("lifetime", lifetime), ("protocol_lifetime", protocol_lifetime)):
        if value not in ("attached", "detached"):
            raise UsageError(f"{name} is 'attached' or 'detached', got {value!r}")
    # The client's conversation id is a thread only where there is a checkpointer
    # to keep it; elsewhere the client sends the whole conversation each time.
    threads = isinstance(getattr(graph, "checkpointer", None), BaseCheckpointSaver)
    # `replay or None` would not do: an empty buffer is falsy.
    buffer = (
        ReplayBuffer() if replay is True else replay if isinstance(replay, ReplayBuffer) else None
    )

    manager: RunManager | None = None
    if runs is not False:
        from ..serving.runs import RunManager

        manager = runs if isinstance(runs, RunManager) else RunManager(grace=grace)

    def requested_format(request: Request, default: Format | None) -> Format:
        asked = request.query_params.get("format")
        if asked is not None:
            if asked not in _FORMATS:
                raise BadRequestError(f"format is one of {', '.join(_FORMATS)}, got {asked!r}")
            return asked  # type: ignore[return-value]
        if default is not None:
            return default
        return "ndjson" if NDJSON_MEDIA_TYPE in request.headers.get("accept", "") else "sse"

    async def respond_protocol(fmt: ProtocolFormat, body: Any) -> Response:
        thread: str | None
        if fmt == "agui":
            from ..protocols import agui

            try:
                run = agui.parse_run_input(body)
                graph_input = agui.graph_input(run, history=not threads)
            except agui.ProtocolInputError as error:
                raise BadRequestError(str(error)) from None
            thread, protocol_run_id = run.thread_id, run.run_id
            # A client that names its protocol version (1.0 on) reads interrupts from
            # RUN_FINISHED's outcome and answers them with `resume`; older ones
            # (CopilotKit) only know the on_interrupt custom event, sent either way.
            outcome = run.protocol_version is not None
        else:
            from ..protocols import vercel

            try:
                graph_input = vercel.graph_input(body, history=not threads)
            except vercel.ProtocolInputError as error:
                raise BadRequestError(str(error)) from None
            chat_id = body.get("id")
            thread, protocol_run_id = (chat_id if isinstance(chat_id, str) else None), None
            outcome = False
        config: RunnableConfig | None = None
        if threads:
            if not thread:
                raise BadRequestError(
                    "the graph keeps threads: the request needs its conversation id"
                    " (AG-UI threadId, useChat id)"
                )
            config = {"configurable": {"thread_id": thread}}
        # A client run id that is a UUID is the LangGraph run's id too; any other
        # is only echoed in the protocol's run events.
        run_id = protocol_run_id if protocol_run_id and _is_uuid(protocol_run_id) else None
        if manager is not None:
            from ..serving.routes import start_protocol_run

            return await start_protocol_run(
                manager,
                graph,
                graph_input,
                protocol=fmt,
                config=config,
                subgraphs=subgraphs,
                ops=ops() if ops is not None else (),
                keepalive=keepalive,
                lifetime=protocol_lifetime,
                run_id=run_id,
                thread_id=thread,
                protocol_run_id=protocol_run_id,
                interrupt_outcome=outcome,
            )
        return _protocol_response(
            graph,
            graph_input,
            protocol=fmt,
            modes=PROTOCOL_MODES,
            config=config,
            subgraphs=subgraphs,
            ops=ops() if ops is not None else (),
            keepalive=keepalive,
            run_id=run_id,
            thread_id=thread,
            protocol_run_id=protocol_run_id,
            interrupt_outcome=outcome,
        )

    def respond(request: Request, fields: Mapping[str, Any]) -> Response:
        fmt = requested_format(request, None)
        if fmt == "agui" or fmt == "vercel":
            raise BadRequestError(f"format={fmt} takes a POST with the protocol's request body")
        last_event_id = request.headers.get("last-event-id")
        if not last_event_id and "input" not in fields:
            raise BadRequestError("the request needs an input")
        return sse_response(
            graph,
            fields.get("input"),
            modes=modes,
            config=client_config(fields.get("config")),
            subgraphs=subgraphs,
            ops=ops() if ops is not None else (),
            format=fmt,
            keepalive=keepalive,
            grace=grace,
            replay=buffer,
            last_event_id=last_event_id,
        )

    async def stream_get(request: Request) -> Response:
        try:
            params = request.query_params
            fields = {
                key: parse_json(key, params[key]) for key in ("input", "config") if key in params
            }
            return respond(request, fields)
        except BadRequestError as error:
            return _refused(error)

    async def stream_post(request: Request) -> Response:
        try:
            body = await read_json_body(request, max_body)
            fmt = requested_format(request, protocol)
            if fmt == "agui" or fmt == "vercel":
                return await respond_protocol(fmt, body)
            if not isinstance(body, dict):
                raise BadRequestError('the body is a JSON object: {"input": ..., "config": ...}')
            return respond(request, body)
        except BadRequestError as error:
            return _refused(error)

    page_html = (
        _page()
        .replace("__TITLE__", html.escape(title))
        .replace("__PATH__", json.dumps(path))
        .replace("__INPUT__", html.escape(json.dumps(example_input, ensure_ascii=False)))
    )

    async def index(request: Request) -> Response:
        return HTMLResponse(page_html)

    routes = [
        Route(path, stream_get, methods=["GET"]),
        Route(path, stream_post, methods=["POST"]),
    ]
    if manager is not None:
        from ..serving.routes import run_routes, thread_route

        routes.append(thread_route(path, manager, keepalive=keepalive))
        routes += run_routes(
            graph,
            manager,
            modes=modes,
            subgraphs=subgraphs,
            ops=ops,
            lifetime=lifetime,
            keepalive=keepalive,
            max_body=max_body,
        )
    if page:
        routes.append(Route("/", index, methods=["GET"]))
    middleware = [
        Middleware(HostGuard, trusted_hosts=trusted_hosts, cors_origins=tuple(cors_origins))
    ]
    if sync_workers is not None:
        middleware.append(Middleware(SyncWorkers, max_workers=sync_workers))
    if cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["content-type", "last-event-id", "accept"],
            )
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if manager is not None:  # the runs this worker owns end as cancelled, on record
            await manager.aclose()

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
