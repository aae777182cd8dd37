"""``sse_response``: one graph run as a streaming response (SSE, NDJSON, or a UI
protocol), for Starlette or FastAPI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from starlette.responses import Response, StreamingResponse

from .._errors import UsageError
from .._events import JSONValue
from .._pipeline import AsyncEventStream
from .._sources import DEFAULT_MODES, GraphLike, astream
from ..protocols import PROTOCOL_MODES
from ..protocols._drive import aencode
from ._driving import AnyOperator, _drive, _error_value, _for_clients, _run_config
from ._wire import (
    _FORMATS,
    _KEEPALIVE,
    Format,
    ProtocolFormat,
    _Item,
    _item,
    _queued_body,
    _response,
    _start,
    _Wire,
)
from .frames import protocol_encoder, protocol_media
from .replay import ReplayBuffer, _buffered_body, _resume

__all__ = ["sse_response"]


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
    if protocol == "agui" and thread_id is None:
        configurable = run_config.get("configurable") or {}
        found = configurable.get("thread_id")
        thread_id = str(found) if found is not None else None
    encoder = protocol_encoder(
        protocol,
        thread_id=thread_id,
        run_id=protocol_run_id or run_id,
        interrupt_outcome=interrupt_outcome,
    )
    body = aencode(encoder(), events, raise_errors=False)
    media_type, headers = protocol_media(protocol)
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
