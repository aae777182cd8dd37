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
  body; ``create_app`` runs them as durable runs (``lgstream.serving``).

The code lives in ``lgstream.serving``, one module per job: ``_driving`` (a run
for a response), ``_wire`` (formats and bodies), ``replay`` (``ReplayBuffer``),
``responses`` (``sse_response``), ``app`` (``create_app``; its page is
``page.html``), ``runs`` and ``routes`` (durable runs), ``stores``. The names
below stay importable from here.

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

# The serving code lives in `lgstream.serving` (one module per job); these are its
# public names where they have always been imported from.
from ..protocols import PROTOCOL_MODES
from ..serving._driving import AnyOperator
from ..serving._wire import NDJSON_MEDIA_TYPE, Format, ProtocolFormat
from ..serving.app import create_app
from ..serving.replay import ReplayBuffer
from ..serving.responses import sse_response

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
