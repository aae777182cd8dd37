"""The HTTP routes of durable runs, shaped like LangGraph Server's run routes.

=========================================  ===========================================
``POST   /runs``                           start a run in the background: 202, its facts
``POST   /runs/stream``                    start a run and stream it
``GET    /runs/{run_id}``                  the run's facts (status, last event, error)
``GET    /runs/{run_id}/stream``           join the run's stream after a cursor
``POST   /runs/{run_id}/cancel``           stop the run, wherever it runs
=========================================  ===========================================

Streams are SSE (``id: <run_id>:<seq>``), or NDJSON with ``?format=ndjson`` or
``Accept: application/x-ndjson``. The cursor of a join is ``Last-Event-ID``
(what ``EventSource`` sends) or ``?after=<seq>`` for clients that cannot set
headers; without either, the whole run from its first event.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Final, cast, get_args

from langchain_core.runnables import RunnableConfig
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .._sources import GraphLike
from ..protocols import PROTOCOL_MODES
from ..sinks._requests import BadRequestError, client_config, read_json_body
from ._driving import AnyOperator
from ._wire import (
    _KEEPALIVE,
    NDJSON_MEDIA_TYPE,
    Format,
    _parse_event_id,
    _Wire,
)
from .frames import PROTOCOLS, FrameWire, protocol_encoder, protocol_media
from .runs import Lifetime, MultitaskStrategy, RunManager, error_event
from .stores import (
    RunExistsError,
    RunGapError,
    RunInfo,
    RunNotFoundError,
    StoredEvent,
    StoreError,
    ThreadBusyError,
)

__all__ = ["info_json", "run_routes", "start_protocol_run", "stream_run", "thread_route"]

_LIFETIMES: Final = get_args(Lifetime)
_STRATEGIES: Final = get_args(MultitaskStrategy)
_START_FIELDS: Final = frozenset({"input", "config", "lifetime", "multitask_strategy"})
_UNAVAILABLE: Final = "the run store is not answering; try again shortly"
_logger = logging.getLogger("lgstream.serve")

Handler = Callable[[Request], Awaitable[Response]]


def info_json(info: RunInfo) -> dict[str, Any]:
    """A run's facts as the routes answer them (the owner's name stays inside)."""
    return {
        "run_id": info.run_id,
        "thread_id": info.thread_id,
        "status": info.status,
        "lifetime": info.lifetime,
        "last_seq": info.last_seq,
        "first_seq": info.first_seq,
        "owner_alive": info.owner_alive,
        "stop_requested": info.stop_requested,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
        "error": dict(info.error) if info.error is not None else None,
    }


def _refused(status: int, message: str, **fields: Any) -> JSONResponse:
    return JSONResponse(
        {"error": message, **fields}, status_code=status, headers={"Cache-Control": "no-store"}
    )


def _store_failures(handler: Handler) -> Handler:
    """A store that fails (Redis down) is a 503 the client may retry, not a 500;
    what failed goes to the log, not to the client."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except StoreError as error:
            _logger.error("%s %s: %s", request.method, request.url.path, error)
            response = _refused(503, _UNAVAILABLE)
            response.headers["Retry-After"] = "1"
            return response

    return guarded


def _format(request: Request, info: RunInfo | None = None) -> str:
    """What a stream is written in: a protocol run's own protocol, else SSE or NDJSON."""
    asked = request.query_params.get("format")
    if info is not None and info.format in PROTOCOLS:
        if asked is not None and asked != info.format:
            raise BadRequestError(
                f"run {info.run_id} streams {info.format} frames; it has no format {asked[:20]!r}"
            )
        return info.format
    if asked is not None:
        if asked not in ("sse", "ndjson"):
            raise BadRequestError(f"format is sse or ndjson for a run's stream, got {asked!r}")
        return asked
    return "ndjson" if NDJSON_MEDIA_TYPE in request.headers.get("accept", "") else "sse"


def _cursor(request: Request, run_id: str) -> int:
    """Where a join starts: after this event (0: from the first)."""
    last_event_id = request.headers.get("last-event-id")
    if last_event_id:
        parsed = _parse_event_id(last_event_id)
        if parsed is None or parsed[0] != run_id:
            raise BadRequestError(f"Last-Event-ID {last_event_id[:100]!r} is not {run_id}:<seq>")
        return parsed[1]
    after = request.query_params.get("after")
    if after is None:
        return 0
    if not (after.isascii() and after.isdigit()) or len(after) > 18:
        raise BadRequestError(f"after is an event number (0, 1, 2...), got {after[:40]!r}")
    return int(after)


def stream_run(
    manager: RunManager, run_id: str, after: int, fmt: str, keepalive: float | None
) -> Response:
    """The response that streams a run's events after ``after``: SSE or NDJSON of
    lgstream's events, or a protocol run's frames."""

    def viewer(
        encode: Callable[[Sequence[StoredEvent]], bytes], tick: bytes | None
    ) -> AsyncIterator[bytes]:
        return _viewer_body(manager, run_id, after, encode, keepalive if tick else None, tick)

    response: Response
    if fmt in PROTOCOLS:
        frames = FrameWire(run_id, fmt)
        media_type, headers = protocol_media(fmt)

        def encode_frames(batch: Sequence[StoredEvent]) -> bytes:
            return b"".join(frames.encode(e.seq, e.name, e.data) for e in batch)

        body = viewer(encode_frames, _KEEPALIVE)
        response = StreamingResponse(body, media_type=media_type, headers=dict(headers))
        response.headers["Cache-Control"] = "no-store"
    else:
        wire = _Wire(run_id, cast("Format", fmt))

        def encode_events(batch: Sequence[StoredEvent]) -> bytes:
            return b"".join(wire.encode(e) for e in batch)

        # A plain StreamingResponse for SSE too, its keepalive comments from the body:
        # sse-starlette's response costs a cancel scope per write, per viewer.
        sse = fmt == "sse"
        body = viewer(encode_events, _KEEPALIVE if sse else b"\n")
        response = StreamingResponse(
            body,
            media_type="text/event-stream" if sse else NDJSON_MEDIA_TYPE,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    response.headers["X-Run-Id"] = run_id
    return response


async def _viewer_body(
    manager: RunManager,
    run_id: str,
    after: int,
    encode: Callable[[Sequence[StoredEvent]], bytes],
    keepalive: float | None,
    tick: bytes | None,
) -> AsyncIterator[bytes]:
    """A viewer's body: each batch the store gives, as one write. The response's own
    task reads the store (a viewer drives no run, so it needs no task of its own);
    when the client leaves, closing the body lets go of the run."""
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    try:
        batches = await manager.watch_batches(run_id, after, idle=keepalive)
        try:
            async for batch in batches:
                if batch:
                    yield encode(batch)
                    quiet_since = loop.time()
                elif keepalive and tick and loop.time() - quiet_since >= keepalive:
                    yield tick
                    quiet_since = loop.time()
        finally:
            await batches.aclose()
    except RunGapError as gap:  # this reader fell behind what the store keeps
        yield encode([error_event(run_id, "ResumeError", str(gap))])
    except RunNotFoundError:  # expired, deleted, or the store restarted empty
        message = f"the run store no longer has run {run_id} (it expired or was lost)"
        yield encode([error_event(run_id, "RunLost", message)])
    except StoreError as error:
        _logger.error("run %s: reading its events failed: %s", run_id, error)
        yield encode([error_event(run_id, "StoreUnavailable", _UNAVAILABLE)])


def _refuse_cursor(info: RunInfo, after: int) -> Response | None:
    """Why a join of ``info``'s run after event ``after`` cannot stream, if it cannot."""
    run_id = info.run_id
    if after > info.last_seq:
        return _refused(400, f"run {run_id} has no event {after} yet", run_id=run_id)
    if after < info.last_seq and after + 1 < info.first_seq:
        return _refused(410, str(RunGapError(run_id, after, info.first_seq)), run_id=run_id)
    if not info.live and after == info.last_seq:
        # Nothing more will come: 204 is how SSE tells EventSource to stop reconnecting.
        return Response(status_code=204)
    return None


def run_routes(
    graph: GraphLike,
    manager: RunManager,
    *,
    prefix: str = "/runs",
    modes: str | Sequence[str] | None = None,
    subgraphs: bool = False,
    ops: Callable[[], Sequence[AnyOperator]] | None = None,
    lifetime: Lifetime = "detached",
    keepalive: float | None = 15.0,
    max_body: int,
) -> list[Route]:
    """The routes above for runs of ``graph`` managed by ``manager``.

    A start's body is ``{"input": ..., "config": {...}, "lifetime": "attached" |
    "detached", "multitask_strategy": "reject" | "interrupt"}`` (``config`` as
    ``create_app`` checks it; ``lifetime`` defaults to ``lifetime``). A thread
    (``config.configurable.thread_id``) with a live run answers 409 unless the
    strategy is ``interrupt``.
    """

    async def start(request: Request) -> RunInfo:
        body = await read_json_body(request, max_body)
        if not isinstance(body, dict):
            raise BadRequestError('the body is a JSON object: {"input": ..., "config": ...}')
        unknown = sorted(set(body) - _START_FIELDS)
        if unknown:
            raise BadRequestError(
                f"unknown fields {', '.join(unknown)} (a run takes"
                f" {', '.join(sorted(_START_FIELDS))})"
            )
        if "input" not in body:
            raise BadRequestError("the request needs an input")
        run_lifetime = body.get("lifetime", lifetime)
        if run_lifetime not in _LIFETIMES:
            raise BadRequestError(f"lifetime is attached or detached, got {run_lifetime!r}")
        strategy = body.get("multitask_strategy", "reject")
        if strategy not in _STRATEGIES:
            raise BadRequestError(f"multitask_strategy is reject or interrupt, got {strategy!r}")
        return await manager.start(
            graph,
            body["input"],
            lifetime=run_lifetime,
            modes=modes,
            config=client_config(body.get("config")),
            subgraphs=subgraphs,
            ops=ops() if ops is not None else (),
            multitask_strategy=strategy,
        )

    async def create(request: Request) -> Response:
        try:
            info = await start(request)
        except BadRequestError as error:
            return _refused(error.status, str(error))
        except ThreadBusyError as busy:
            return _refused(409, str(busy), run_id=busy.run_id)
        return JSONResponse(
            info_json(info), status_code=202, headers={"Location": f"{prefix}/{info.run_id}"}
        )

    async def create_and_stream(request: Request) -> Response:
        try:
            fmt = _format(request)
            info = await start(request)
        except BadRequestError as error:
            return _refused(error.status, str(error))
        except ThreadBusyError as busy:
            return _refused(409, str(busy), run_id=busy.run_id)
        response = stream_run(manager, info.run_id, 0, fmt, keepalive)
        response.headers["Content-Location"] = f"{prefix}/{info.run_id}"
        return response

    async def join(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        info = await manager.info(run_id)
        if info is None:
            return _refused(404, str(RunNotFoundError(run_id)))
        try:
            fmt = _format(request, info)
            after = _cursor(request, run_id)
        except BadRequestError as error:
            return _refused(error.status, str(error))
        refused = _refuse_cursor(info, after)
        if refused is not None:
            return refused
        response = stream_run(manager, run_id, after, fmt, keepalive)
        response.headers["Content-Location"] = f"{prefix}/{run_id}"
        return response

    async def facts(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        info = await manager.info(run_id)
        if info is None:
            return _refused(404, str(RunNotFoundError(run_id)))
        return JSONResponse(info_json(info), headers={"Cache-Control": "no-store"})

    async def cancel(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        try:
            info = await manager.stop(run_id)
        except RunNotFoundError as missing:
            return _refused(404, str(missing))
        return JSONResponse(info_json(info), status_code=202 if info.live else 200)

    return [
        Route(path, _store_failures(handler), methods=[method])
        for path, handler, method in (
            (prefix, create, "POST"),
            (f"{prefix}/stream", create_and_stream, "POST"),
            (f"{prefix}/{{run_id}}", facts, "GET"),
            (f"{prefix}/{{run_id}}/stream", join, "GET"),
            (f"{prefix}/{{run_id}}/cancel", cancel, "POST"),
        )
    ]


def thread_route(path: str, manager: RunManager, *, keepalive: float | None) -> Route:
    """``GET {path}/{thread_id}/stream``: the thread's live run, from its first event
    (or after ``Last-Event-ID``); 204 when the thread has none. This is the route
    the Vercel AI SDK's ``useChat({resume: true})`` reconnects to (with the chat's
    id as the thread), and any client may use it to find a thread's run again."""

    async def live(request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        run_id = await manager.store.live_run(thread_id)
        info = await manager.info(run_id) if run_id is not None else None
        if info is None or not info.live:
            return Response(status_code=204, headers={"Cache-Control": "no-store"})
        try:
            fmt = _format(request, info)
            after = _cursor(request, info.run_id) if "last-event-id" in request.headers else 0
        except BadRequestError as error:
            return _refused(error.status, str(error))
        refused = _refuse_cursor(info, after)
        if refused is not None:
            return refused
        return stream_run(manager, info.run_id, after, fmt, keepalive)

    return Route(f"{path.rstrip('/')}/{{thread_id}}/stream", _store_failures(live), methods=["GET"])


async def start_protocol_run(
    manager: RunManager,
    graph: GraphLike,
    input: Any,
    *,
    protocol: str,
    config: RunnableConfig | None,
    subgraphs: bool,
    ops: Sequence[AnyOperator],
    keepalive: float | None,
    lifetime: Lifetime,
    run_id: str | None,
    thread_id: str | None,
    protocol_run_id: str | None,
    interrupt_outcome: bool,
) -> Response:
    """Start a protocol run (``POST {path}`` in AG-UI or Vercel) and stream its
    frames. A conversation (``thread_id``) with a live run has it stopped first:
    the newest turn wins, as in a chat UI."""
    encoder = protocol_encoder(
        protocol,
        thread_id=thread_id,
        run_id=protocol_run_id or run_id,
        interrupt_outcome=interrupt_outcome,
    )
    try:
        info = await manager.start(
            graph,
            input,
            lifetime=lifetime,
            modes=PROTOCOL_MODES,
            config=config,
            subgraphs=subgraphs,
            ops=ops,
            thread_id=thread_id,
            multitask_strategy="interrupt",
            run_id=run_id,
            format=protocol,
            encoder=encoder,
        )
    except RunExistsError as exists:
        return _refused(409, str(exists), run_id=exists.run_id)
    except ThreadBusyError as busy:  # its run did not stop in time
        return _refused(409, str(busy), run_id=busy.run_id)
    return stream_run(manager, info.run_id, 0, protocol, keepalive)
