"""Wire encoders: events in, bytes out, no I/O.

Both encoders serialise an event through ``lgstream.to_jsonable`` (the one
JSON-safe form of every event) as compact UTF-8 JSON, and number the events of
one stream from 1, so a client can tell where it is and what it missed:

- ``SSEEncoder``: a WHATWG ``text/event-stream`` message per event
  (``id:``, ``event: <kind>``, ``data: <json>``, a blank line), plus keepalive
  comments and a general ``encode_message()`` for any text;
- ``NDJSONEncoder``: one JSON object per line, ``{"id": n, "kind": ..., ...}``.

``encode_all()`` / ``aencode_all()`` turn a sync or async event stream into a
stream of bytes that a web framework can send as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable
from typing import Final, Protocol

from .._events import Event, JSONValue, to_jsonable

__all__ = ["Encoder", "NDJSONEncoder", "SSEEncoder", "aencode_all", "dumps", "encode_all"]

# The three line breaks of the event-stream format, longest first so that
# "\r\n" is one break, not two.
_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")

# json.dumps(ensure_ascii=False) escapes every control character but leaves
# these raw; str.splitlines() and some line readers break lines on them.
# Lone surrogates ("\ud800", from a client's JSON escapes) cannot be encoded as UTF-8:
# they are escaped too, so a response never breaks off on them.
_UNSAFE_IN_LINES: Final = {
    0x85: "\\u0085",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
    **{code: f"\\u{code:04x}" for code in range(0xD800, 0xE000)},
}


def dumps(value: JSONValue) -> str:
    """Compact JSON on one line: UTF-8 text as it is, except the characters that
    some line readers take for line breaks (``U+0085``, ``U+2028``, ``U+2029``)
    and lone surrogates (not encodable as UTF-8), which are escaped. The output
    never contains ``\\n`` or ``\\r``.

    Args:
        value: plain JSON data, as ``to_jsonable()`` returns it.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if not text.isascii():
        text = text.translate(_UNSAFE_IN_LINES)
    return text


def _check_field(name: str, value: str) -> None:
    # A line break would end the field early and inject the rest as another field.
    if _LINE_BREAK.search(value):
        raise ValueError(f"an SSE {name} field cannot contain a line break: {value!r}")
    if name == "id" and "\0" in value:  # clients ignore such an id (WHATWG)
        raise ValueError(f"an SSE id cannot contain a NUL character: {value!r}")


class Encoder(Protocol):
    """Anything that turns one event into bytes for the wire."""

    def encode(self, event: Event, /) -> bytes:
        """The bytes for one event."""
        ...


class SSEEncoder:
    """Encodes events as Server-Sent Events (the WHATWG ``text/event-stream`` format).

    One encoder serves one stream: ``encode()`` numbers its events 1, 2, 3, ...
    (the ``id:`` field, which a reconnecting browser sends back as
    ``Last-Event-ID``)::

        >>> import lgstream as lgs
        >>> sse = SSEEncoder()
        >>> sse.encode(lgs.Custom(data=0.5))
        b'id: 1\\nevent: custom\\ndata: {"kind":"custom","ns":[],"node":null,"data":0.5}\\n\\n'
        >>> sse.comment()
        b': \\n'

    Args:
        retry: the reconnection delay to ask clients for, in milliseconds; sent
            as a ``retry:`` field with the first message.
    """

    __slots__ = ("_last_id", "_retry")

    def __init__(self, retry: int | None = None) -> None:
        if retry is not None and (isinstance(retry, bool) or retry < 0):
            raise ValueError(f"retry is a number of milliseconds >= 0, got {retry!r}")
        self._retry = retry
        self._last_id = 0

    @property
    def last_id(self) -> int:
        """The id of the last event encoded (0 before the first)."""
        return self._last_id

    def encode(self, event: Event, /) -> bytes:
        """One event as an SSE message: ``id: <n>``, ``event: <kind>``,
        ``data: <compact JSON of to_jsonable(event)>`` and a blank line."""
        self._last_id += 1
        return self.encode_message(
            dumps(to_jsonable(event)), event=event.kind, id=str(self._last_id)
        )

    def encode_message(
        self, data: str, *, event: str | None = None, id: str | None = None
    ) -> bytes:
        """Any text as one SSE message.

        ``data`` is split on ``\\r\\n``, ``\\n`` and ``\\r`` into one ``data:`` line
        each; a client joins them with ``\\n``, so it receives ``data`` with every
        line break turned into ``\\n`` (the format has no other way). Empty
        ``data`` is sent as one empty ``data:`` line, which clients still dispatch.

        Args:
            data: the message's text.
            event: the event type (clients default to ``"message"``).
            id: the event id, sent back by a reconnecting client.

        Raises:
            ValueError: ``event`` or ``id`` contains a line break (or ``id`` a NUL),
                which would corrupt the stream.
        """
        lines: list[str] = []
        if self._retry is not None:
            lines.append(f"retry: {self._retry}")
            self._retry = None  # once is enough: clients keep it for the stream
        if id is not None:
            _check_field("id", id)
            lines.append(f"id: {id}")
        if event is not None:
            _check_field("event", event)
            lines.append(f"event: {event}")
        # Always "field: value": the parser drops one space after the colon, so
        # data that itself starts with a space keeps it.
        lines.extend(f"data: {line}" for line in _LINE_BREAK.split(data))
        lines.append("\n")
        return "\n".join(lines).encode()

    def comment(self, text: str = "") -> bytes:
        """A comment, which clients ignore: a keepalive that stops proxies from
        closing a quiet connection. A multi-line ``text`` becomes several comment
        lines.

        No blank line follows: the format needs none after a comment, and some
        clients (httpx-sse 0.4) dispatch an empty event at every blank line once
        an id has been seen, where browsers dispatch nothing.
        """
        return "".join(f": {line}\n" for line in _LINE_BREAK.split(text)).encode()


class NDJSONEncoder:
    """Encodes events as newline-delimited JSON: one object per line.

    Each line is ``{"id": n, **to_jsonable(event)}``, ids counting from 1 per
    encoder::

        >>> import lgstream as lgs
        >>> NDJSONEncoder().encode(lgs.Custom(data="hi"))
        b'{"id":1,"kind":"custom","ns":[],"node":null,"data":"hi"}\\n'
        >>> NDJSONEncoder(ids=False).encode(lgs.Custom(data="hi"))
        b'{"kind":"custom","ns":[],"node":null,"data":"hi"}\\n'

    Args:
        ids: number the events; ``False`` gives the bare ``to_jsonable()`` form
            (JSON Lines).
    """

    __slots__ = ("_ids", "_last_id")

    def __init__(self, *, ids: bool = True) -> None:
        self._ids = ids
        self._last_id = 0

    @property
    def last_id(self) -> int:
        """The id of the last event encoded (0 before the first)."""
        return self._last_id

    def encode(self, event: Event, /) -> bytes:
        """One event as one line of JSON, ending in ``\\n``."""
        self._last_id += 1
        data = to_jsonable(event)
        if self._ids:
            data = {"id": self._last_id, **data}
        return (dumps(data) + "\n").encode()


def encode_all(events: Iterable[Event], encoder: Encoder) -> Generator[bytes, None, None]:
    """Encode a sync event stream, event by event.

    Closing the returned generator (a web framework does when the client leaves)
    closes ``events`` too, which stops the graph run behind an ``lgs.stream()``.

    Args:
        events: the events, an ``EventStream`` or any iterable.
        encoder: ``SSEEncoder()``, ``NDJSONEncoder()``, or any ``Encoder``.
    """
    iterator = iter(events)
    try:
        for event in iterator:
            yield encoder.encode(event)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


async def aencode_all(
    events: AsyncIterable[Event], encoder: Encoder
) -> AsyncGenerator[bytes, None]:
    """Encode an async event stream, event by event (the twin of ``encode_all``).

    Closing the returned generator closes ``events`` too, which cancels the graph
    run behind an ``lgs.astream()``.
    """
    iterator = aiter(events)
    try:
        async for event in iterator:
            yield encoder.encode(event)
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
