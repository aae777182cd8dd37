"""Text: the answer as it streams, without the event wrapping."""

from __future__ import annotations

from collections.abc import Sequence

from .._events import Event, Token

__all__ = ["TextDeltas", "text"]


class TextDeltas:
    """Turns ``Token`` events into their text; everything else into nothing."""

    __slots__ = ()

    def feed(self, item: Event, /) -> Sequence[str]:
        """``(token.text,)`` for a token with text, else ``()``."""
        if isinstance(item, Token) and item.text:
            return (item.text,)
        return ()

    def flush(self) -> Sequence[str]:
        """Nothing: text deltas are never held back."""
        return ()

    def __repr__(self) -> str:
        return "text()"


def text() -> TextDeltas:
    """Yield just the text of each token, as it arrives.

    ``lgs.stream(...) | lgs.ops.nodes("generate") | lgs.ops.text()`` is the whole
    answer of the ``generate`` node, token by token.
    """
    return TextDeltas()
