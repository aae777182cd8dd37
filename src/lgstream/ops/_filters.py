"""Filters: operators that let some events through, unchanged, and drop the rest."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from .._errors import UsageError
from .._events import Event, EventKind

__all__ = [
    "Filter",
    "exclude_nodes",
    "kinds",
    "namespaces",
    "node_path",
    "nodes",
    "tags",
    "where",
]

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


def ns_names(ns: tuple[str, ...]) -> tuple[str, ...]:
    """A namespace's node names: ``("research:<task id>",)`` -> ``("research",)``."""
    return tuple(segment.partition(":")[0] for segment in ns)


def node_path(event: Event) -> tuple[str, ...]:
    """Where an event comes from, as node names from the root graph down.

    ``ns`` segments are ``"node:<task id>"``; the task ids are dropped, and the
    event's own ``node`` (if any) ends the path: a token of node ``inner`` in the
    subgraph that root node ``research`` runs has the path ``("research", "inner")``.
    """
    names = ns_names(event.ns)
    return (*names, event.node) if event.node is not None else names


def inside_node(
    ns: tuple[str, ...], node: str | None, parent_ns: tuple[str, ...], parent: str
) -> bool:
    """Whether an event of ``node`` in namespace ``ns`` was produced inside node
    ``parent`` of namespace ``parent_ns``: by that node itself, or in a subgraph it
    runs. When ``parent`` returns (its ``Update``), whatever it streamed is over."""
    if ns == parent_ns:
        return node == parent
    depth = len(parent_ns)
    return len(ns) > depth and ns[:depth] == parent_ns and ns[depth].partition(":")[0] == parent


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_name(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _patterns(names: tuple[str, ...], what: str) -> tuple[tuple[str, ...], ...]:
    if not names:
        raise UsageError(f"{what}() needs at least one node name, e.g. {what}('generate')")
    patterns = []
    for name in names:
        if not isinstance(name, str):
            raise UsageError(f"{what}() takes node names as strings, got {name!r}")
        segments = tuple(name.split("/"))
        if not all(segments) or any(c in name for c in ":|"):
            raise UsageError(
                f"{what}() got {name!r}: give a node name, or a path of node names from"
                " the root graph down such as 'research/inner' (no task ids, no ':' or '|')"
            )
        patterns.append(segments)
    return tuple(patterns)


class _Nodes(Filter):
    """Keeps events whose node path starts with one of the patterns.

    Matching the path from the root, never a bare inner node name, is what stops
    the classic leak: ``nodes("research/inner")`` never lets through the tokens of
    an ``inner`` node that another parent runs, and ``nodes("research")`` keeps
    everything inside the ``research`` subgraph.
    """

    __slots__ = ("_deep", "_heads", "_ns_cache", "_wanted", "patterns")

    def __init__(self, patterns: tuple[tuple[str, ...], ...], wanted: bool = True) -> None:
        self.patterns = patterns
        self._wanted = wanted
        self._heads = frozenset(p[0] for p in patterns if len(p) == 1)
        self._deep = tuple(p for p in patterns if len(p) > 1)
        # ns tuples repeat for every token of a subgraph: strip the task ids once
        self._ns_cache: dict[tuple[str, ...], tuple[str, ...]] = {}

    def _matches(self, event: Event) -> bool:
        ns = event.ns
        if not ns:  # the hot path: a root-graph event
            return event.node in self._heads
        names = self._ns_cache.get(ns)
        if names is None:
            names = self._ns_cache[ns] = ns_names(ns)
        if names[0] in self._heads:
            return True
        path = (*names, event.node) if event.node is not None else names
        return any(path[: len(p)] == p for p in self._deep)

    def keep(self, event: Event) -> bool:
        return self._matches(event) is self._wanted

    def feed(self, item: E, /) -> Sequence[E]:
        return (item,) if self._matches(item) is self._wanted else ()

    def __repr__(self) -> str:
        names = ", ".join(repr("/".join(p)) for p in sorted(self.patterns))
        return f"{'nodes' if self._wanted else 'exclude_nodes'}({names})"


def nodes(*names: str) -> Filter:
    """Keep only the events produced inside the named nodes.

    A name is a root-graph node (``"generate"``), or a path of node names from
    the root down (``"research/inner"``) to pick a node inside a subgraph. Events
    inside a subgraph belong to every node on their path, so ``nodes("research")``
    also keeps what the ``research`` subgraph's own nodes stream (with
    ``subgraphs=True``), while an ``inner`` node under another parent never gets
    through. Tokens, whole ``Message``s, updates and tool-call events are all
    matched the same way. Events that no node produced (run lifecycle, root
    ``Values`` and ``Custom``) are dropped: a node filter lets nothing else through.
    """
    return _Nodes(_patterns(names, "nodes"))


def exclude_nodes(*names: str) -> Filter:
    """Drop the events produced inside the named nodes (names and paths as for
    ``nodes()``); keep everything else, unattributed events included."""
    return _Nodes(_patterns(names, "exclude_nodes"), wanted=False)


class _Namespaces(Filter):
    __slots__ = ("depth", "prefix")

    def __init__(self, prefix: tuple[str, ...], depth: int | None) -> None:
        self.prefix = prefix
        self.depth = depth

    def keep(self, event: Event) -> bool:
        ns, prefix = event.ns, self.prefix
        if len(ns) < len(prefix) or (self.depth is not None and len(ns) - len(prefix) > self.depth):
            return False
        return all(s.partition(":")[0] == p for s, p in zip(ns, prefix, strict=False))

    def __repr__(self) -> str:
        return f"namespaces({'/'.join(self.prefix)!r}, depth={self.depth!r})"


def namespaces(prefix: str | Sequence[str] = "", *, depth: int | None = None) -> Filter:
    """Keep events from the graph at ``prefix`` and, up to ``depth`` levels, below it.

    ``prefix`` names the subgraph by the node names that lead to it from the root
    (``"research"``, ``"research/deep"``, or a sequence of names; ``""`` is the
    root graph); task ids never need to be given. ``depth=0`` keeps only events of
    that graph itself, ``depth=1`` also its direct subgraphs, ``None`` everything
    nested at any depth. ``namespaces(depth=0)`` is "the root graph only".
    """
    parts = tuple(prefix.split("/")) if isinstance(prefix, str) else tuple(prefix)
    parts = tuple(p for p in parts if p)
    if depth is not None and not _is_count(depth):
        raise UsageError(f"namespaces() takes depth=None or a whole number >= 0, got {depth!r}")
    if not all(_is_name(p) and ":" not in p and "|" not in p for p in parts):
        raise UsageError(
            f"namespaces() got {prefix!r}: give node names from the root down, such as"
            " 'research/deep', without task ids"
        )
    return _Namespaces(parts, depth)


class _Tags(Filter):
    __slots__ = ("tags",)

    def __init__(self, tags: frozenset[str]) -> None:
        self.tags = tags

    def keep(self, event: Event) -> bool:
        tags: tuple[str, ...] = getattr(event, "tags", ())
        return not self.tags.isdisjoint(tags)

    def __repr__(self) -> str:
        return f"tags({', '.join(map(repr, sorted(self.tags)))})"


def tags(*tags: str) -> Filter:
    """Keep the tokens and messages of model calls tagged with any of ``tags``
    (``model.with_config(tags=["answer"])``); drop everything else."""
    if not tags or not all(map(_is_name, tags)):
        raise UsageError(f"tags() needs one or more tag strings, e.g. tags('answer'); got {tags!r}")
    return _Tags(frozenset(tags))


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
