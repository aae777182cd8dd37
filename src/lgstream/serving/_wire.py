"""The wire side of served runs: formats, how an event is put on the wire (SSE or
NDJSON), the queue-fed response body with its keepalives, and the response types."""

from __future__ import annotations

import asyncio
import enum
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Literal, Protocol, TypeAlias, TypeVar, get_args

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import Response, StreamingResponse

from .._events import JSONValue
from ..sinks._encoders import SSEEncoder, dumps

ProtocolFormat: TypeAlias = Literal["agui", "vercel"]
"""A UI protocol: AG-UI (``lgstream.protocols.agui``) or the Vercel AI SDK UI
message stream (``lgstream.protocols.vercel``)."""

Format: TypeAlias = Literal["sse", "ndjson", "agui", "vercel"]
"""The wire format of a response: lgstream's events as Server-Sent Events or
newline-delimited JSON, or a UI protocol."""

_FORMATS: Final = get_args(Format)

_PROTOCOLS: Final = get_args(ProtocolFormat)

NDJSON_MEDIA_TYPE: Final = "application/x-ndjson"

# A live (unbuffered) response holds at most this many events for a slow client;
# then the run waits for it, as a plain generator would.
_QUEUE_SIZE: Final = 64

# What an _Item costs beyond its text: the object, its seq and name references.
_ITEM_OVERHEAD: Final = 120

# Strong references to running tasks: the event loop keeps only weak ones.
_TASKS: set[asyncio.Task[None]] = set()

_T = TypeVar("_T")


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


def _start(coro: Awaitable[None]) -> asyncio.Task[None]:
    task: asyncio.Task[None] = asyncio.ensure_future(coro)
    _TASKS.add(task)
    task.add_done_callback(_forget)
    return task


def _forget(task: asyncio.Task[None]) -> None:
    _TASKS.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: the run's errors were already sent as events


class _Wire:
    """Encodes items for one response, in one format."""

    def __init__(self, run_id: str, fmt: Format, retry: int | None = None) -> None:
        self._run_id = run_id
        self._sse = SSEEncoder(retry=retry) if fmt == "sse" else None
        self._retry_pending = retry is not None
        # The run id goes into every id line: checked once, not per event.
        self._plain_id = "\n" not in run_id and "\r" not in run_id and "\0" not in run_id

    def encode(self, item: WireEvent) -> bytes:
        # seq 0 is a message about the stream, not one of the run's events: it has no
        # id, so a reconnecting EventSource still names the last real event it got.
        if self._sse is not None:
            data, name = item.data, item.name
            if (
                not self._retry_pending
                and self._plain_id
                and "\n" not in data
                and "\r" not in data
                and "\n" not in name
                and "\r" not in name
            ):
                # What encode_message makes of one line of data (dumps() never makes
                # more), without its split and checks: this runs per event per viewer.
                head = f"id: {self._run_id}:{item.seq}\n" if item.seq else ""
                return f"{head}event: {name}\ndata: {data}\n\n".encode()
            self._retry_pending = False
            event_id = f"{self._run_id}:{item.seq}" if item.seq else None
            return self._sse.encode_message(data, event=name, id=event_id)
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


class _Tick(enum.Enum):
    KEEPALIVE = "keepalive"  # nothing came for `keepalive` seconds


async def _get(queue: asyncio.Queue[_T], keepalive: float | None) -> _T | _Tick:
    if not keepalive:
        return await queue.get()
    if not queue.empty():
        return queue.get_nowait()
    try:
        async with asyncio.timeout(keepalive):  # no task per item, as wait_for makes
            return await queue.get()
    except TimeoutError:
        return _Tick.KEEPALIVE


def _parse_event_id(last_event_id: str) -> tuple[str, int] | None:
    run_id, sep, seq = last_event_id.strip().rpartition(":")
    # isdigit() alone takes "²" and other digits int() refuses; 18 digits fit any seq.
    if not sep or not run_id or not (seq.isascii() and seq.isdigit()) or len(seq) > 18:
        return None
    return run_id, int(seq)


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


_KEEPALIVE: Final = SSEEncoder().comment("keepalive")
