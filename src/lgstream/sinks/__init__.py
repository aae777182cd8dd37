"""Sinks: where events leave the library, to a browser, a service or a terminal.

- wire encoders (no I/O, bytes out): ``SSEEncoder``, ``NDJSONEncoder``, and
  ``encode_all()`` / ``aencode_all()`` to encode a whole stream;
- ``lgstream.sinks.console``: ``print_stream()`` for the terminal (needs the
  ``console`` extra, ``pip install 'lgstream[console]'``).
"""

from ._encoders import Encoder as Encoder
from ._encoders import NDJSONEncoder as NDJSONEncoder
from ._encoders import SSEEncoder as SSEEncoder
from ._encoders import aencode_all as aencode_all
from ._encoders import dumps as dumps
from ._encoders import encode_all as encode_all

# --- optional submodules ------------------------------------------------------------
# `console` (rich) is a submodule that is NOT imported here: rich is an optional
# extra, and `import lgstream.sinks` must work without it. Import it where it is
# used: `from lgstream.sinks.console import print_stream`.

__all__ = ["Encoder", "NDJSONEncoder", "SSEEncoder", "aencode_all", "dumps", "encode_all"]
