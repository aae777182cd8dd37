"""What the protocols' input adapters share: the error for a request body they cannot read."""

from __future__ import annotations

from .._errors import UsageError

__all__ = ["ProtocolInputError"]


class ProtocolInputError(UsageError, ValueError):
    """A protocol request body (an AG-UI ``RunAgentInput``, a ``useChat`` body) that
    cannot be turned into a graph input; the message says which field and why.

    The ASGI helper answers it with a 400 and ``{"error": <message>}``.
    """
