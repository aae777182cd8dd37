"""Dedupe: each message once, however many times ``messages`` mode shows it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from langchain_core.messages import BaseMessage

from .._events import Event, Message, Token

__all__ = ["Dedupe", "dedupe"]


class Dedupe:
    """Drops ``Message`` events already seen; see ``dedupe()``."""

    __slots__ = ("_anonymous", "_seen", "_streamed")

    def __init__(self) -> None:
        self._streamed: set[str] = set()
        self._seen: set[str] = set()
        # id(message) -> (made-up id, message): the message is kept alive so that
        # its id() is never reused by another object while the stream runs.
        self._anonymous: dict[int, tuple[str, BaseMessage]] = {}

    def feed(self, item: Event, /) -> Sequence[Event]:
        """``()`` for a message already streamed or shown, else the item."""
        if type(item) is Token:
            if item.message_id is not None:
                self._streamed.add(item.message_id)
            return (item,)
        if isinstance(item, Message):
            message = item.message
            if message.id is None:
                return self._anonymous_message(item, message)
            if message.id in self._streamed or message.id in self._seen:
                return ()
            self._seen.add(message.id)
        return (item,)

    def _anonymous_message(self, item: Message, message: BaseMessage) -> Sequence[Event]:
        known = self._anonymous.get(id(message))
        if known is not None and known[1] is message:
            return ()
        made_up = f"lgs-message-{len(self._anonymous) + 1}"
        self._anonymous[id(message)] = (made_up, message)
        return (dataclasses.replace(item, message_id=made_up),)

    def flush(self) -> Sequence[Event]:
        """Nothing: dedupe never holds events back."""
        return ()

    def __repr__(self) -> str:
        return "dedupe()"


def dedupe() -> Dedupe:
    """Show each message once.

    ``messages`` mode can emit a message whole after its tokens were streamed
    (a node returning the model's answer, a parent graph returning a subgraph's
    messages), and the same node output more than once. ``dedupe()`` drops every
    ``Message`` whose id was already streamed as tokens or already shown; tokens
    and all other events pass. Messages without an id are never merged by
    content: each message object gets a made-up id of its own
    (``Message.message_id``, ``"lgs-message-<n>"``), stable for the stream, and
    only the same object shown again is dropped.
    """
    return Dedupe()
