"""``create_app``: a ready Starlette app that streams runs of a graph, with its page,
its durable runs, and its guards."""

from __future__ import annotations

import contextlib
import html
import json
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .._errors import UsageError
from .._sources import DEFAULT_MODES, GraphLike, _check_modes
from ..protocols import PROTOCOL_MODES
from ..sinks._guard import HostGuard, TrustedHosts
from ..sinks._requests import MAX_BODY, BadRequestError, client_config, parse_json, read_json_body
from ..sinks._workers import SYNC_WORKERS, SyncWorkers
from ._driving import AnyOperator
from ._wire import _FORMATS, _PROTOCOLS, NDJSON_MEDIA_TYPE, Format, ProtocolFormat
from .replay import ReplayBuffer
from .responses import _protocol_response, sse_response

if TYPE_CHECKING:
    from .runs import Lifetime, RunManager

__all__ = ["create_app"]


def _page() -> str:
    return files("lgstream.serving").joinpath("page.html").read_text(encoding="utf-8")


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
