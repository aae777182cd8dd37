"""Filters: operators that let some events through, unchanged, and drop the rest."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from .._errors import UsageError
from .._events import Event, EventKind

__all__ = ["Filter", "exclude_nodes", "kinds", "nodes", "where"]

E = TypeVar("E", bound=Event)

_KINDS: frozenset[str] = frozenset(EventKind.__args__)  # type: ignore[attr-defined]


class Filter:
    """Base of the type-preserving operators: ``keep(event)`` decides.

    A filter never changes an event and never holds one back, so ``flush()`` is
    always empty and ``stream | filter`` has the stream's own item type.
    """

    __slots__ = ()

    def keep(self, event: Event) -> bool:
        """Whether ``event`` goes through."""
        raise NotImplementedError

    def feed(self, item: E, /) -> Sequence[E]:
        """``(item,)`` if it is kept, else ``()``."""
        return (item,) if self.keep(item) else ()

    def flush(self) -> Sequence[E]:
        """Nothing: filters hold nothing back."""
        return ()


def _names(names: tuple[str, ...], what: str) -> frozenset[str]:
    if not names:
        raise UsageError(f"{what}() needs at least one node name, e.g. {what}('generate')")
    for name in names:
        if not isinstance(name, str):
            raise UsageError(f"{what}() takes node names as strings, got {name!r}")
    return frozenset(names)


class _Nodes(Filter):
    __slots__ = ("names",)

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def keep(self, event: Event) -> bool:
        return event.node in self.names

    def feed(self, item: E, /) -> Sequence[E]:  # the hot path: inlined keep()
        return (item,) if item.node in self.names else ()

    def __repr__(self) -> str:
        return f"nodes({', '.join(map(repr, sorted(self.names)))})"


class _ExcludeNodes(_Nodes):
    __slots__ = ()

    def keep(self, event: Event) -> bool:
        return event.node not in self.names

    def feed(self, item: E, /) -> Sequence[E]:
        return (item,) if item.node not in self.names else ()

    def __repr__(self) -> str:
        return f"exclude_nodes({', '.join(map(repr, sorted(self.names)))})"


def nodes(*names: str) -> Filter:
    """Keep only events that the named nodes produced.

    Events that no node produced (run lifecycle, ``Values``, ``Custom``) are
    dropped too: a node filter never lets anything else through.
    """
    return _Nodes(_names(names, "nodes"))


def exclude_nodes(*names: str) -> Filter:
    """Drop the events that the named nodes produced; keep everything else."""
    return _ExcludeNodes(_names(names, "exclude_nodes"))


class _Kinds(Filter):
    __slots__ = ("kinds",)

    def __init__(self, kinds: frozenset[str]) -> None:
        self.kinds = kinds

    def keep(self, event: Event) -> bool:
        return event.kind in self.kinds

    def __repr__(self) -> str:
        return f"kinds({', '.join(map(repr, sorted(self.kinds)))})"


def kinds(*kinds: str | type[Event]) -> Filter:
    """Keep only events of the given kinds: event classes (``Token``) or their
    ``kind`` tags (``"token"``)."""
    if not kinds:
        raise UsageError("kinds() needs at least one event kind, e.g. kinds(lgs.Token)")
    tags: set[str] = set()
    for kind in kinds:
        tag: object = getattr(kind, "kind", None) if isinstance(kind, type) else kind
        if not (isinstance(tag, str) and tag in _KINDS):
            raise UsageError(
                f"unknown event kind {kind!r}; use an event class such as lgs.Token or one"
                f" of: {', '.join(sorted(_KINDS))}"
            )
        tags.add(tag)
    return _Kinds(frozenset(tags))


class _Where(Filter):
    __slots__ = ("predicate",)

    def __init__(self, predicate: Callable[[Event], object]) -> None:
        self.predicate = predicate

    def keep(self, event: Event) -> bool:
        return bool(self.predicate(event))

    def __repr__(self) -> str:
        return f"where({self.predicate!r})"


def where(predicate: Callable[[Event], object]) -> Filter:
    """Keep the events for which ``predicate(event)`` is true."""
    if not callable(predicate):
        raise UsageError(f"where() takes a function of the event, got {predicate!r}")
    return _Where(predicate)
