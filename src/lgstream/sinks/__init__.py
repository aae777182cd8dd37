"""Sinks: where events leave the library, to a browser, a service or a terminal.

- wire encoders (no I/O, bytes out): ``SSEEncoder``, ``NDJSONEncoder``, and
  ``encode_all()`` / ``aencode_all()`` to encode a whole stream;
- ``lgstream.sinks.console``: ``print_stream()`` for the terminal, and
  ``lgstream.sinks.progress``: ``track()`` (need the ``console`` extra);
- ``lgstream.sinks.asgi``: ``sse_response()`` and ``create_app()`` to serve a run as
  SSE or NDJSON (needs the ``server`` extra).
"""

from ._encoders import Encoder as Encoder
from ._encoders import NDJSONEncoder as NDJSONEncoder
from ._encoders import SSEEncoder as SSEEncoder
from ._encoders import aencode_all as aencode_all
from ._encoders import dumps as dumps
from ._encoders import encode_all as encode_all

# --- optional submodules ------------------------------------------------------------
# `console`, `progress` (rich) and `asgi` (starlette) are submodules that are NOT
# imported here: their dependencies are optional extras, and `import lgstream.sinks`
# must work without them. Import them where they are used.

__all__ = ["Encoder", "NDJSONEncoder", "SSEEncoder", "aencode_all", "dumps", "encode_all"]
