"""Assertions on event streams.

``assert_events(stream, expected)`` checks a stream against a list of patterns::

    assert_events(events, [
        lgs.RunStarted,                      # a class: any event of that kind
        ...,                                 # Ellipsis: any number of events
        {"kind": "token", "text": "Hi"},     # a dict: these fields have these values
        lgs.RunFinished,
    ])

and on a mismatch fails with the index, the event found, what was expected there,
and the events around it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from functools import cache
from types import EllipsisType
from typing import Any, Final, TypeAlias

from .._errors import UsageError
from .._events import Event

__all__ = ["EventPattern", "assert_aevents", "assert_events"]

EventPattern: TypeAlias = "type | Event | Mapping[str, Any] | EllipsisType"
"""What ``assert_events`` takes for one expected event: an event class (any event of
that kind), an event (equal to it), a dict of fields to match, or ``...`` (any
number of events, none included)."""

_WINDOW: Final = 2  # events shown on each side of a mismatch
_MAX_REPR: Final = 60
# The fields that tell events apart at a glance, in the order they are shown.
_KEY_FIELDS: Final = (
    "node",
    "text",
    "name",
    "call_id",
    "task_id",
    "value",
    "data",
    "error",
    "message",
)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def _describe(event: object) -> str:
    """One line for an event: its class and the fields that tell it apart."""
    if not dataclasses.is_dataclass(event) or isinstance(event, type):
        return _short(event)
    names = {f.name for f in dataclasses.fields(event)}
    parts = [
        f"{name}={_short(value)}"
        for name in _KEY_FIELDS
        if name in names and (value := getattr(event, name)) is not None
    ]
    ns = getattr(event, "ns", ())
    if ns:
        parts.insert(0, f"ns={_short(ns)}")
    return f"{type(event).__name__}({', '.join(parts)})"


def _describe_pattern(pattern: object) -> str:
    if pattern is Ellipsis:
        return "... (any number of events)"
    if isinstance(pattern, type):
        return f"any {pattern.__name__}"
    if isinstance(pattern, Mapping):
        fields = ", ".join(f"{k}={_short(v)}" for k, v in pattern.items())
        return f"an event with {fields}"
    return _describe(pattern)


_MISSING: Final = object()


def _mismatch(event: object, pattern: object) -> str | None:
    """Why ``event`` does not match ``pattern`` (one non-Ellipsis pattern), or None."""
    if isinstance(pattern, type):
        if isinstance(event, pattern):
            return None
        return f"it is a {type(event).__name__}, not a {pattern.__name__}"
    if isinstance(pattern, Mapping):
        for key, want in pattern.items():
            got = getattr(event, key, _MISSING)
            if got is _MISSING:
                return f"it has no field {key!r}"
            if got != want:
                return f"field {key!r} is {_short(got)}, expected {_short(want)}"
        return None
    if event == pattern:
        return None
    if type(event) is not type(pattern):
        return f"it is a {type(event).__name__}, not a {type(pattern).__name__}"
    if dataclasses.is_dataclass(event) and not isinstance(event, type):
        for f in dataclasses.fields(event):
            got, want = getattr(event, f.name), getattr(pattern, f.name)
            if f.compare and got != want:
                return f"field {f.name!r} is {_short(got)}, expected {_short(want)}"
    return "it is not equal"


def _check_pattern(index: int, pattern: object) -> None:
    ok = (
        pattern is Ellipsis
        or isinstance(pattern, type | Mapping)
        or (dataclasses.is_dataclass(pattern) and hasattr(pattern, "kind"))
    )
    if not ok:
        raise UsageError(
            f"expected[{index}] is {_short(pattern)}: give an event class, an event,"
            " a dict of fields, or ... (Ellipsis)"
        )


def _window(events: Sequence[object], at: int) -> str:
    lo, hi = max(0, at - _WINDOW), min(len(events), at + _WINDOW + 1)
    lines = [f"  {'>' if i == at else ' '} [{i}] {_describe(events[i])}" for i in range(lo, hi)]
    if lo > 0:
        lines.insert(0, f"    ... {lo} earlier event(s)")
    if hi < len(events):
        lines.append(f"    ... {len(events) - hi} later event(s)")
    return "\n".join(lines) if lines else "    (no events)"


def _match(events: Sequence[object], expected: Sequence[object]) -> str | None:
    """None if the events match; otherwise the failure message.

    Ellipsis makes this glob matching; it is solved over (event, pattern) positions
    with memoisation (O(events x patterns)). When no way matches, the report is
    about the attempt that got furthest into the patterns, then into the events:
    that is where a reader expects the first real difference.
    """
    n, m = len(events), len(expected)
    # The furthest failure: (pattern index, event index, reason).
    furthest: list[tuple[int, int, str]] = []

    def fail(j: int, i: int, reason: str) -> bool:
        if not furthest or (j, i) > furthest[0][:2]:
            furthest[:] = [(j, i, reason)]
        return False

    @cache
    def go(i: int, j: int) -> bool:
        if j == m:
            return i == n or fail(j, i, "unexpected")
        pattern = expected[j]
        if pattern is Ellipsis:
            # Skip nothing, or one event and stay on the Ellipsis.
            return go(i, j + 1) or (i < n and go(i + 1, j))
        if i == n:
            return fail(j, i, "ended")
        reason = _mismatch(events[i], pattern)
        if reason is not None:
            return fail(j, i, reason)
        return go(i + 1, j + 1)

    try:
        if go(0, 0):
            return None
    finally:
        go.cache_clear()
    j, i, reason = furthest[0]
    if reason == "unexpected":
        head = (
            f"event [{i}] is unexpected: all {m} expected pattern(s) matched the"
            f" events before it (end the expected list with ... to allow more)\n"
            f"  got: {_describe(events[i])}"
        )
    elif reason == "ended":
        head = (
            f"the stream ended after {n} event(s), but expected[{j}]"
            f"{f' and {m - j - 1} more pattern(s)' if m - j > 1 else ''} still had to match\n"
            f"  expected[{j}]: {_describe_pattern(expected[j])}"
        )
    else:
        head = (
            f"event [{i}] does not match expected[{j}]: {reason}\n"
            f"  expected: {_describe_pattern(expected[j])}\n"
            f"  got:      {_describe(events[i])}"
        )
    return f"{head}\nevents around [{min(i, max(n - 1, 0))}]:\n{_window(events, min(i, n - 1))}"


def _assert(events: list[Any], expected: Sequence[EventPattern]) -> None:
    __tracebackhide__ = True
    for index, pattern in enumerate(expected):
        _check_pattern(index, pattern)
    message = _match(events, expected)
    if message is not None:
        raise AssertionError(message)


def assert_events(stream: Iterable[Event], expected: Sequence[EventPattern]) -> list[Event]:
    """Assert that a stream's events match ``expected``, pattern by pattern.

    Args:
        stream: the events: an ``EventStream`` (consumed and closed), or a list.
        expected: one pattern per event: an event class (any event of that kind),
            an event (equal to it, as ``==`` compares events), a dict of fields to
            match (``{"kind": "token", "text": "Hi"}``), or ``...`` for any number
            of events (none included). Without a final ``...`` the stream must end
            where the patterns do.

    Returns:
        The events, for further checks.

    Raises:
        AssertionError: the events do not match. The message names the first event
            that does not, what was expected there, and the events around it.
        UsageError: a pattern of none of these kinds.
    """
    __tracebackhide__ = True
    if isinstance(stream, contextlib.AbstractContextManager):
        with stream:
            events = list(stream)
    else:
        events = list(stream)
    _assert(events, expected)
    return events


async def assert_aevents(
    stream: AsyncIterable[Event], expected: Sequence[EventPattern]
) -> list[Event]:
    """The async twin of ``assert_events``: consumes (and closes) an async stream.

    Returns:
        The events, for further checks.
    """
    __tracebackhide__ = True
    if isinstance(stream, contextlib.AbstractAsyncContextManager):
        async with stream:
            events = [event async for event in stream]
    else:
        events = [event async for event in stream]
    _assert(events, expected)
    return events
