"""Runs stored as UI-protocol frames (AG-UI, the Vercel AI SDK UI message stream).

A protocol run's owner encodes each event once, with the protocol's encoder, and
stores the frames; every viewer, on any worker, gets the same bytes. On the wire
each frame gets an SSE ``id: <run_id>:<seq>`` line, which both protocols' clients
skip and ``EventSource`` or a reconnecting client can send back as
``Last-Event-ID``. What only a viewer learns (the owner died, the store lost the
run) becomes the protocol's own error frames.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, get_args

from .._errors import UsageError
from ..protocols._drive import Encoder
from ._wire import ProtocolFormat

if TYPE_CHECKING:
    from ..protocols.vercel import VercelPart

__all__ = ["PROTOCOLS", "FrameWire", "protocol_encoder", "protocol_media"]

PROTOCOLS: Final[tuple[str, ...]] = get_args(ProtocolFormat)


def protocol_encoder(
    protocol: str,
    *,
    thread_id: str | None = None,
    run_id: str | None = None,
    interrupt_outcome: bool = False,
) -> Callable[[], Encoder[Any]]:
    """What makes a fresh encoder for one run of ``protocol``."""
    if protocol == "agui":
        from ..protocols.agui import AGUIEncoder

        return lambda: AGUIEncoder(
            thread_id=thread_id, run_id=run_id, interrupt_outcome=interrupt_outcome
        )
    if protocol == "vercel":
        from ..protocols.vercel import VercelEncoder

        return VercelEncoder
    raise UsageError(f"a protocol run is one of {', '.join(PROTOCOLS)}, got {protocol!r}")


def protocol_media(protocol: str) -> tuple[str, Mapping[str, str]]:
    """The media type and headers of a ``protocol`` response."""
    if protocol == "agui":
        from ..protocols.agui import AGUIEncoder

        return AGUIEncoder.media_type, dict(AGUIEncoder(thread_id="").headers)
    from ..protocols.vercel import VercelEncoder

    return VercelEncoder.media_type, dict(VercelEncoder().headers)


@dataclass(frozen=True, slots=True)
class FrameWire:
    """Puts a protocol run's stored frames on the wire for one response."""

    run_id: str
    protocol: str

    def encode(self, seq: int, name: str, data: str) -> bytes:
        if name == "frame":
            return f"id: {self.run_id}:{seq}\n{data}".encode()
        return self._error(data)  # a viewer's own message (seq 0): JSON of an error

    def _error(self, data: str) -> bytes:
        value: Any = json.loads(data)
        kind = str(value.get("type", "Error")) if isinstance(value, dict) else "Error"
        message = str(value.get("message", kind)) if isinstance(value, dict) else kind
        if self.protocol == "agui":
            from ag_ui.core import RunErrorEvent

            from ..protocols.agui import AGUIEncoder

            return AGUIEncoder(thread_id="").frame(RunErrorEvent(message=message, code=kind))
        from ..protocols.vercel import VercelEncoder

        encoder = VercelEncoder()
        parts: tuple[VercelPart, ...] = (
            {"type": "error", "errorText": message},
            {"type": "finish", "finishReason": "error"},
        )
        return b"".join(encoder.frame(part) for part in parts) + encoder.trailer
