"""Record event streams to JSON Lines cassettes, and replay them as event streams.

A cassette is a text file with one JSON document per line: a header, then one
line per event, each the event's ``to_jsonable()`` form::

    {"format":"lgstream-cassette","version":1}
    {"kind":"run_started","ns":[],"node":null,"run_id":"...",...}
    {"kind":"token","ns":[],"node":"generate","text":"Hello",...}

``record()`` (or the ``Recorder`` operator) writes a stream's events as they pass
through and lets them on unchanged; ``replay()`` / ``areplay()`` read a cassette
back into a stream of the same events, so a graph run can be captured once and
replayed through operators and sinks in tests, without the graph or the model.

What comes back: every event kind, with its namespace and tuple fields as
tuples, messages as the LangChain classes they were (``Token.chunk`` and
``MessageDone.message`` as ``AIMessageChunk``), message-shaped dicts inside state
payloads (``Update.data``, ``Values.data``, ...) as messages again, and the
``Interrupt`` events inside ``RunFinished.interrupts`` as events. What does not:

- ``Token.metadata``, ``Message.metadata`` and ``Interrupt.raw`` are not recorded
  (shared or raw payloads); they come back as ``{}`` and ``None``;
- ``RunFailed.error`` and ``TaskResult.error`` come back as a ``RecordedError`` with
  the original type's name and message: the exception itself cannot be rebuilt;
- payload values that JSON cannot hold come back in their JSON form (datetimes as
  ISO strings, LangGraph ``Interrupt`` objects in ``Values.interrupts`` as dicts).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import typing
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar, cast, overload

from .._errors import StreamError, UsageError
from .._events import Event, _EventBase, to_jsonable
from .._pipeline import AsyncEventStream, EventStream
from .._sources import _revive_all, revive_message

__all__ = [
    "CASSETTE_VERSION",
    "CassetteError",
    "RecordedError",
    "Recorder",
    "areplay",
    "record",
    "replay",
]

CASSETTE_FORMAT: Final = "lgstream-cassette"
CASSETTE_VERSION: Final = 1
"""The cassette format version that ``Recorder`` writes and ``replay`` reads."""

StrPath = str | os.PathLike[str]
E = TypeVar("E", bound=Event)


class RecordedError(Exception):
    """The error of a recorded ``RunFailed`` event, as replayed.

    The original exception cannot be rebuilt from a cassette, so this stands in for
    it with the original type's name and message: ``str(error)`` is the message.
    """

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name
        """The name of the original exception's class (``"ValueError"``)."""
        self.message = message
        """The original exception's message."""

    @property
    def error_type(self) -> str:
        """The same as ``type_name`` (the name ``RemoteRunError`` and ``TaskError`` use)."""
        return self.type_name

    def __repr__(self) -> str:
        return f"RecordedError({self.type_name!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecordedError):
            return NotImplemented
        return (self.type_name, self.message) == (other.type_name, other.message)

    def __hash__(self) -> int:
        return hash((self.type_name, self.message))


class CassetteError(StreamError, ValueError):
    """A cassette line that cannot be read: not JSON, an unknown event kind, a
    missing field, or a header of another format or version."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}, line {line}: {reason}")
        self.source = source
        """The cassette's path (or ``"<lines>"``)."""
        self.line = line
        """The 1-based number of the bad line."""
        self.reason = reason
        """What is wrong with it."""


# --- writing ------------------------------------------------------------------------


class SupportsWrite(Protocol):
    """Anything with a text ``write()``: an open file, ``io.StringIO``, ..."""

    def write(self, text: str, /) -> object:
        """Write ``text``."""
        ...


def _header() -> str:
    header = {"format": CASSETTE_FORMAT, "version": CASSETTE_VERSION}
    return json.dumps(header, separators=(",", ":")) + "\n"


class Recorder:
    """An operator that writes each event to a cassette and lets it through unchanged.

    Pipe it anywhere in a pipeline, sync or async (``stream | Recorder(file)``): it
    records the events that reach it. The header line is written with the first
    event (or at the end, for an empty stream). ``record()`` opens and closes the
    file for you.

    Args:
        file: where the lines go: an open text file, ``io.StringIO``, ... Each line
            is one ``write()`` call, so a line-buffered file keeps a cassette
            readable up to the last event even if the process dies.
    """

    __slots__ = ("_file", "_started", "count")

    def __init__(self, file: SupportsWrite) -> None:
        self._file = file
        self._started = False
        self.count = 0
        """How many events were recorded so far."""

    def _start(self) -> None:
        if not self._started:
            self._started = True
            self._file.write(_header())

    def feed(self, item: Event, /) -> tuple[Event]:
        """Write one event's line; let the event through."""
        if not isinstance(item, _EventBase):
            raise UsageError(
                f"Recorder records lgstream events, got {type(item).__name__}: pipe it"
                " before operators that turn events into other things (text(), ...)"
            )
        self._start()
        # Compact separators: cassettes are read by machines and diffed by people.
        self._file.write(json.dumps(to_jsonable(item), separators=(",", ":")) + "\n")
        self.count += 1
        return (item,)

    def flush(self) -> tuple[()]:
        """The stream ended: make sure the header is there, even for no events."""
        self._start()
        return ()


def _record_sync(stream: EventStream[E], path: Path) -> Iterator[E]:
    # Opened on the first read, so that a stream never iterated leaves no open file.
    # The recorder lets each event through as it is: the stream's item type holds.
    with (
        path.open("w", encoding="utf-8", buffering=1) as file,
        cast(EventStream[E], stream | Recorder(file)) as piped,
    ):
        yield from piped


async def _record_async(stream: AsyncEventStream[E], path: Path) -> AsyncIterator[E]:
    # Plain blocking writes: one short line per event to a local file, cheaper than
    # a thread hop per event.
    with path.open("w", encoding="utf-8", buffering=1) as file:
        async with cast(AsyncEventStream[E], stream | Recorder(file)) as piped:
            async for event in piped:
                yield event


@overload
def record(stream: EventStream[E], path: StrPath) -> EventStream[E]: ...
@overload
def record(stream: AsyncEventStream[E], path: StrPath) -> AsyncEventStream[E]: ...
def record(
    stream: EventStream[E] | AsyncEventStream[E], path: StrPath
) -> EventStream[E] | AsyncEventStream[E]:
    """Record a stream's events to a cassette at ``path`` as they pass through.

    Args:
        stream: the events to record, sync or async (``lgs.stream(...)``,
            ``lgs.astream(...)``, or a stream piped through operators that still
            yield events).
        path: the cassette file; created, or overwritten.

    Returns:
        A stream of the same kind that yields the same events. The file is opened
        when the stream is first read and closed when it ends or is closed; closing
        it also closes ``stream`` (and stops the run behind it).
    """
    path = Path(path)
    if isinstance(stream, AsyncEventStream):
        return AsyncEventStream(_record_async(stream, path))
    return EventStream(_record_sync(stream, path))


# --- reading ------------------------------------------------------------------------

_EVENT_CLASSES: Final[dict[str, type[_EventBase]]] = {
    cls.kind: cls for cls in typing.get_args(Event)
}

# Fields whose values are arbitrary payloads: message dicts in them become messages.
_PAYLOAD_FIELDS: Final = frozenset(
    {
        ("update", "data"),
        ("values", "data"),
        ("custom", "data"),
        ("interrupt", "value"),
        ("checkpoint", "values"),
        ("checkpoint", "data"),
        ("task_start", "input"),
        ("task_result", "result"),
        ("tool_start", "input"),
        ("tool_output_delta", "delta"),
        ("tool_result", "output"),
        ("run_started", "input"),
        ("run_finished", "output"),
    }
)
_TUPLE_FIELDS: Final = frozenset({"ns", "tags", "triggers", "modes", "next", "ops"})


def _chunk(value: Any) -> Any:
    from langchain_core.messages import AIMessageChunk

    message = revive_message(value)
    if not isinstance(message, AIMessageChunk):
        raise ValueError(f"expected an AIMessageChunk, got {type(message).__name__}")
    return message


def _error(value: Any) -> RecordedError:
    if not isinstance(value, Mapping):  # recorded as a plain message
        return RecordedError("Error", str(value))
    return RecordedError(str(value["type"]), str(value["message"]))


def _tuple_of_payloads(value: Any) -> tuple[Any, ...]:
    return tuple(_revive_all(v) for v in value)


def _tuple_of_events(value: Any) -> tuple[Any, ...]:
    return tuple(_event_from(v) for v in value)


# (kind, field) -> how to read it back; fields not named here keep their JSON value.
_READERS: Final[dict[tuple[str, str], Callable[[Any], Any]]] = {
    ("token", "chunk"): _chunk,
    ("message_done", "message"): _chunk,
    ("message", "message"): revive_message,
    ("run_failed", "error"): _error,
    ("task_result", "error"): _error,
    ("run_finished", "interrupts"): _tuple_of_events,
    ("values", "interrupts"): _tuple_of_payloads,
    ("task_result", "interrupts"): _tuple_of_payloads,
}


# Fields renamed since cassettes were first written: old name -> new name.
_TOOL_CALL_ID: Final = {"tool_call_id": "call_id"}
_RENAMED: Final[dict[str, dict[str, str]]] = {
    "tool_start": {"tool_call_id": "call_id", "tool_name": "name"},
    "tool_output_delta": _TOOL_CALL_ID,
    "tool_result": _TOOL_CALL_ID,
    "tool_error": _TOOL_CALL_ID,
}


def _event_from(data: Any) -> Event:
    """Rebuild one event from its JSON form; ValueError (or KeyError, TypeError) if
    it is not one."""
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    cls = _EVENT_CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    assert isinstance(kind, str)  # for mypy: a class was found for it
    renamed = _RENAMED.get(kind)
    if renamed is not None:  # a cassette recorded before a field was renamed
        data = {renamed.get(k, k): v for k, v in data.items()}
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue  # not recorded (metadata, raw): the field's default
        value = data[f.name]
        reader = _READERS.get((kind, f.name))
        if reader is not None:
            value = reader(value)
        elif f.name in _TUPLE_FIELDS:
            value = tuple(value)
        elif (kind, f.name) in _PAYLOAD_FIELDS:
            value = _revive_all(value)
        kwargs[f.name] = value
    event: Event = cls(**kwargs)  # type: ignore[assignment]
    return event


class _CassetteDecoder:
    """Cassette lines in, events out: an operator, so sync and async replay share it."""

    __slots__ = ("_line", "_source")

    def __init__(self, source: str) -> None:
        self._source = source
        self._line = 0

    def _fail(self, reason: str) -> CassetteError:
        return CassetteError(self._source, self._line, reason)

    def feed(self, line: str, /) -> tuple[Event, ...]:
        self._line += 1
        if not line.strip():
            return ()  # a blank line (a trailing newline, an editor's) carries nothing
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise self._fail(f"not JSON ({error.msg} at column {error.colno})") from None
        if self._line == 1:
            self._check_header(data)
            return ()
        try:
            return (_event_from(data),)
        except (ValueError, KeyError, TypeError) as error:
            raise self._fail(f"not an lgstream event: {error}") from error

    def _check_header(self, data: Any) -> None:
        if not isinstance(data, dict) or data.get("format") != CASSETTE_FORMAT:
            raise self._fail(
                f"not an lgstream cassette: the first line must be the header {_header().strip()}"
            )
        if data.get("version") != CASSETTE_VERSION:
            raise self._fail(
                f"cassette format version {data.get('version')!r} is not supported"
                f" (this lgstream reads version {CASSETTE_VERSION})"
            )

    def flush(self) -> tuple[()]:
        return ()


def _empty(path: Path) -> CassetteError:
    return CassetteError(str(path), 1, "empty file: no cassette header")


def _read_lines(path: Path) -> Iterator[str]:
    # An empty file is found here, not in the decoder's flush(): flush() also runs
    # when reading fails, and must not hide that error behind another.
    with path.open(encoding="utf-8") as file:
        empty = True
        for line in file:
            empty = False
            yield line
    if empty:
        raise _empty(path)


async def _aread_lines(path: Path) -> AsyncIterator[str]:
    # Cassettes are small test fixtures: one read in a thread keeps the loop free.
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    if not text:
        raise _empty(path)
    for line in text.splitlines():
        yield line


def replay(path: StrPath) -> EventStream[Event]:
    """Read a cassette back into a stream of its events.

    Args:
        path: a cassette written by ``record()`` or a ``Recorder``.

    Returns:
        The recorded events, in order, as a sync ``EventStream``; pipe operators
        into it as into a live run. The file is read as the stream is.

    Raises:
        CassetteError: (while iterating) a line that cannot be read, with its number.
    """
    path = Path(path)
    return EventStream(_read_lines(path), _ops=(_CassetteDecoder(str(path)),))


def areplay(path: StrPath) -> AsyncEventStream[Event]:
    """The async twin of ``replay``: the cassette's events as an ``AsyncEventStream``."""
    path = Path(path)
    return AsyncEventStream(_aread_lines(path), _ops=(_CassetteDecoder(str(path)),))
