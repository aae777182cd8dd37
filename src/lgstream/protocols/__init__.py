"""UI protocols: lgstream events as the event streams that front ends read.

- ``lgstream.protocols.agui``: the AG-UI protocol (CopilotKit, ``@ag-ui/client``),
  built from the ``ag-ui-protocol`` package's types (``pip install 'lgstream[agui]'``);
- ``lgstream.protocols.vercel``: the Vercel AI SDK's UI message stream (``useChat``).

Each has a stateful, I/O-free encoder (``feed(event)``, ``close(error)``,
``frame(part)``) and ``encode_*`` / ``aencode_*`` functions from an event stream
to the bytes of a response. The submodules load on first use, so the AG-UI
dependency is only needed by those who use it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Final

from ._input import ProtocolInputError as ProtocolInputError

if TYPE_CHECKING:
    from . import agui as agui
    from . import vercel as vercel

__all__ = ["PROTOCOL_MODES", "ProtocolInputError", "agui", "vercel"]

PROTOCOL_MODES: Final = ("messages", "updates", "values", "custom")
"""The stream modes the protocol encoders read: run a graph with these for them."""


def __getattr__(name: str) -> ModuleType:
    if name in ("agui", "vercel"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
