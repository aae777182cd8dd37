"""State diffing: a snapshot once, then RFC 6902 JSON Patches, per namespace.

``values`` mode sends the whole state after every step: a chat of 1,000
messages sends 1,000 messages per step. ``diff_state()`` turns those events into
one ``StateSnapshot`` and then ``StatePatch``es with only what changed, and
``apply_patch()`` rebuilds the state on the other side.

Three pieces, from the bottom up:

- ``json_diff(a, b)``: a plain structural diff of two JSON values (RFC 6902
  ``add``/``remove``/``replace``), simple and correct rather than minimal;
- ``apply_patch(state, ops)``: applies all six RFC 6902 operations without
  mutating its input;
- ``DiffState``: the operator. It keeps, per namespace, a structural copy of
  the previous raw state (``_shadow``) next to its JSON form, and converts and diffs only the
  values that are new objects. A list that LangGraph's reducers rebuilt
  around the same message objects costs one identity scan of its items plus
  the conversion of its new tail, not a walk of the whole state.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from difflib import SequenceMatcher
from itertools import islice, repeat
from operator import is_
from typing import Any, Final

from .._errors import StreamError
from .._events import Event, JSONValue, StatePatch, StateSnapshot, Values, to_jsonable

__all__ = ["DiffState", "PatchError", "apply_patch", "diff_state", "json_diff"]

PatchOp = dict[str, JSONValue]
"""One RFC 6902 operation, e.g. ``{"op": "add", "path": "/messages/-", "value": {...}}``."""

_MISSING: Final = object()
_CONTAINERS: Final = (dict, list, tuple)
_OPS: Final = ("add", "remove", "replace", "move", "copy", "test")
_ARRAY_INDEX: Final = re.compile(r"0|[1-9][0-9]*")
_BAD_ESCAPE: Final = re.compile(r"~(?![01])")


# --- JSON Pointer (RFC 6901) -------------------------------------------------------


def _escape(key: str) -> str:
    """One reference token: ``~`` becomes ``~0`` and ``/`` becomes ``~1`` (in that order)."""
    if "~" in key or "/" in key:
        return key.replace("~", "~0").replace("/", "~1")
    return key


def _pointer(tokens: Sequence[str]) -> str:
    return "".join("/" + _escape(t) for t in tokens)


# --- equality and diff -------------------------------------------------------------


def _json_eq(a: object, b: object) -> bool:
    """Equality of JSON values: as ``==``, except that ``true`` is not ``1``.

    Python says ``True == 1`` (and so ``[True] == [1]``); JSON does not (RFC 6902
    compares literals by kind). Numbers compare by value, so ``1`` equals ``1.0``.
    """
    if a is b:
        return True
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        for key, value in a.items():
            other = b.get(key, _MISSING)
            if other is _MISSING or not _json_eq(value, other):
                return False
        return True
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_json_eq, a, b))
    if isinstance(b, (dict, list)) or isinstance(a, bool) is not isinstance(b, bool):
        return False
    return bool(a == b)


def _diff_into(a: JSONValue, b: JSONValue, path: str, ops: list[PatchOp]) -> None:
    if a is b:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            if key not in b:
                ops.append({"op": "remove", "path": f"{path}/{_escape(key)}"})
        for key, new in b.items():
            old = a.get(key, _MISSING)
            if old is _MISSING:
                ops.append({"op": "add", "path": f"{path}/{_escape(key)}", "value": new})
            else:
                _diff_into(a[key], new, f"{path}/{_escape(key)}", ops)
    elif isinstance(a, list) and isinstance(b, list):
        _diff_lists(a, b, path, ops)
    elif not _json_eq(a, b):
        ops.append({"op": "replace", "path": path, "value": b})


def _as_json(value: Any) -> JSONValue:
    """The ``convert`` of a diff between two JSON values: nothing to convert."""
    result: JSONValue = value
    return result


def _diff_lists(a: list[JSONValue], b: list[JSONValue], path: str, ops: list[PatchOp]) -> None:
    n, m = len(a), len(b)
    limit = min(n, m)
    start = 0
    while start < limit and _json_eq(a[start], b[start]):
        start += 1
    end = 0  # length of the common suffix, never overlapping the prefix
    while end < limit - start and _json_eq(a[n - 1 - end], b[m - 1 - end]):
        end += 1
    sub: list[PatchOp] = []
    _diff_block(a, b, start, n - end, start, m - end, start, path, sub, _as_json)
    _add_list_ops(sub, b, path, ops)


def _add_list_ops(sub: list[PatchOp], new: list[JSONValue], path: str, ops: list[PatchOp]) -> None:
    """Add ``sub``, the ops for one list, to ``ops``; or one ``replace`` of the whole
    list when that takes fewer ops (a cleared, reversed or shifted list)."""
    if len(sub) > len(new):
        ops.append({"op": "replace", "path": path, "value": new})
    else:
        ops += sub


def _diff_block(
    old: list[JSONValue],
    new: Sequence[Any],
    i1: int,
    i2: int,
    j1: int,
    j2: int,
    at: int,
    path: str,
    ops: list[PatchOp],
    convert: Callable[[Any], JSONValue],
) -> list[JSONValue]:
    """Turn ``old[i1:i2]``, which sits at index ``at`` of the list being patched, into
    ``new[j1:j2]``: item by item, then remove the extra old items or add the extra
    new ones.

    ``convert`` turns an item of ``new`` into JSON, once per item. Returns
    ``new[j1:j2]`` as JSON, in order.
    """
    la, lb = i2 - i1, j2 - j1
    common = min(la, lb)
    block: list[JSONValue] = []
    for k in range(common):
        item = convert(new[j1 + k])
        _diff_into(old[i1 + k], item, f"{path}/{at + k}", ops)
        block.append(item)
    if la > lb:
        # From the back, so that each index still points where the diff saw it.
        for index in range(at + la - 1, at + common - 1, -1):
            ops.append({"op": "remove", "path": f"{path}/{index}"})
    elif lb > la:
        at_end = i2 == len(old)  # nothing of the old list follows: append with "-"
        for k in range(common, lb):
            item = convert(new[j1 + k])
            where = "-" if at_end else str(at + k)
            ops.append({"op": "add", "path": f"{path}/{where}", "value": item})
            block.append(item)
    return block


def json_diff(a: JSONValue, b: JSONValue) -> list[dict[str, JSONValue]]:
    """The RFC 6902 operations that turn the JSON value ``a`` into ``b``.

    Objects are compared key by key (``remove``, ``add``, and recursion into
    values present in both); arrays keep their common prefix and suffix, diff
    the middle item by item, then ``remove`` the extra old items (from the back)
    or ``add`` the new ones (at ``/-`` when they go at the end), and an array
    that would take more operations than it has items is replaced whole;
    anything else that differs is a ``replace``. Keys are escaped per RFC 6901
    (``~0``, ``~1``). The patch is correct, not minimal: it never uses ``move``.

    Equal values give ``[]``. Values in the patch are ``b``'s own objects, not
    copies: treat both as read-only while you hold the patch.

    Args:
        a: the JSON value before.
        b: the JSON value after.

    Returns:
        The operations, in the order to apply them.
    """
    ops: list[PatchOp] = []
    _diff_into(a, b, "", ops)
    return ops


# --- apply ---------------------------------------------------------------------------


class PatchError(StreamError, ValueError):
    """A JSON Patch operation could not be applied: its path does not exist, its
    ``test`` failed, or the operation itself is malformed.

    Attributes:
        index: the position of the failing operation in the patch.
        op: the failing operation, as given.
        reason: what went wrong.
    """

    def __init__(self, index: int, op: object, reason: str) -> None:
        self.index = index
        self.op = op
        self.reason = reason
        name = path = "?"
        if isinstance(op, Mapping):
            name, path = str(op.get("op", "?")), repr(op.get("path", "?"))
        super().__init__(f"patch operation {index} ({name} at {path}) failed: {reason}")


class _OpError(Exception):
    """Internal: why the current operation failed; ``apply_patch`` adds which one."""


def _parse(pointer: object, field: str) -> list[str]:
    if not isinstance(pointer, str):
        raise _OpError(f"{field!r} must be a JSON Pointer string, got {pointer!r}")
    if not pointer:
        return []
    if pointer[0] != "/":
        raise _OpError(
            f"{field} {pointer!r} is not a JSON Pointer: it must be '' or start with '/'"
        )
    tokens = pointer[1:].split("/")
    if "~" in pointer:
        if _BAD_ESCAPE.search(pointer):
            raise _OpError(f"{field} {pointer!r} has a '~' that is not '~0' or '~1'")
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in tokens]
    return tokens


def _where(tokens: Sequence[str]) -> str:
    return repr(_pointer(tokens)) if tokens else "the root"


def _index(token: str, size: int, tokens: Sequence[str], *, end_ok: bool = False) -> int:
    """A list index from a reference token; ``end_ok`` allows ``size`` and ``-`` (add)."""
    if token == "-":
        if end_ok:
            return size
        raise _OpError(f"'-' (past the end of the array at {_where(tokens)}) only works for add")
    if not _ARRAY_INDEX.fullmatch(token):
        raise _OpError(f"{token!r} is not an index into the array at {_where(tokens)}")
    index = int(token)
    if index > size or (index == size and not end_ok):
        raise _OpError(
            f"index {index} is out of range for the array at {_where(tokens)}"
            f" ({size} item{'' if size == 1 else 's'})"
        )
    return index


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "a string" if isinstance(value, str) else f"a {type(value).__name__}"


def _get(root: object, tokens: Sequence[str]) -> Any:
    node = root
    for depth, token in enumerate(tokens):
        if isinstance(node, dict):
            node = node.get(token, _MISSING)
            if node is _MISSING:
                raise _OpError(f"no member {token!r} in the object at {_where(tokens[:depth])}")
        elif isinstance(node, list):
            node = node[_index(token, len(node), tokens[:depth])]
        else:
            raise _OpError(f"{_where(tokens[:depth])} is {_kind(node)}, not an object or array")
    return node


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


class _Patcher:
    """Applies operations copy-on-write: every container on a path that is written
    to is copied once per patch; untouched subtrees stay shared with the input."""

    __slots__ = ("_keep", "_owned", "root")

    def __init__(self, root: JSONValue) -> None:
        self.root: Any = root
        self._owned: set[int] = set()  # ids of the copies this patch made
        self._keep: list[object] = []  # keeps those copies alive, so no id is reused

    def _own(self, node: Any) -> Any:
        if id(node) in self._owned:
            return node
        copy = dict(node) if isinstance(node, dict) else list(node)
        self._owned.add(id(copy))
        self._keep.append(copy)
        return copy

    def _parent(self, tokens: Sequence[str]) -> Any:
        """The container that holds ``tokens[-1]``, made writable from the root down."""
        node = self.root
        if not isinstance(node, (dict, list)):
            raise _OpError(f"the root is {_kind(node)}, not an object or array")
        node = self.root = self._own(node)
        for depth, token in enumerate(tokens[:-1]):
            key: str | int
            if isinstance(node, dict):
                key, child = token, node.get(token, _MISSING)
                if child is _MISSING:
                    raise _OpError(f"no member {token!r} in the object at {_where(tokens[:depth])}")
            else:
                key = _index(token, len(node), tokens[:depth])
                child = node[key]
            if not isinstance(child, (dict, list)):
                raise _OpError(
                    f"{_where(tokens[: depth + 1])} is {_kind(child)}, not an object or array"
                )
            owned = self._own(child)
            if owned is not child:
                node[key] = owned
            node = owned
        return node

    def add(self, tokens: Sequence[str], value: Any) -> None:
        if not tokens:
            self.root = value
            return
        parent, last = self._parent(tokens), tokens[-1]
        if isinstance(parent, dict):
            parent[last] = value
        else:
            parent.insert(_index(last, len(parent), tokens[:-1], end_ok=True), value)

    def remove(self, tokens: Sequence[str]) -> Any:
        if not tokens:
            raise _OpError("cannot remove the whole document (the root)")
        parent, last = self._parent(tokens), tokens[-1]
        if isinstance(parent, dict):
            if last not in parent:
                raise _OpError(f"no member {last!r} in the object at {_where(tokens[:-1])}")
            return parent.pop(last)
        return parent.pop(_index(last, len(parent), tokens[:-1]))

    def replace(self, tokens: Sequence[str], value: Any) -> None:
        if not tokens:
            self.root = value
            return
        parent, last = self._parent(tokens), tokens[-1]
        if isinstance(parent, dict):
            if last not in parent:
                raise _OpError(f"no member {last!r} in the object at {_where(tokens[:-1])}")
            parent[last] = value
        else:
            parent[_index(last, len(parent), tokens[:-1])] = value

    def apply(self, op: object) -> None:
        if not isinstance(op, Mapping):
            raise _OpError(f"an operation must be an object, got {type(op).__name__}")
        name = op.get("op", _MISSING)
        if name is _MISSING:
            raise _OpError("the operation has no 'op' member")
        if name not in _OPS:
            raise _OpError(f"unknown op {name!r}; expected one of {', '.join(_OPS)}")
        if "path" not in op:
            raise _OpError(f"{name} needs a 'path'")
        tokens = _parse(op["path"], "path")
        if name in ("add", "replace", "test"):
            if "value" not in op:
                raise _OpError(f"{name} needs a 'value'")
            value = op["value"]
            if name == "add":
                self.add(tokens, value)
            elif name == "replace":
                self.replace(tokens, value)
            elif not _json_eq(_get(self.root, tokens), value):
                raise _OpError(
                    f"the value at {_where(tokens)} is"
                    f" {_short(_get(self.root, tokens))}, not {_short(value)}"
                )
        elif name == "remove":
            self.remove(tokens)
        else:  # move, copy
            if "from" not in op:
                raise _OpError(f"{name} needs a 'from'")
            source = _parse(op["from"], "from")
            if name == "copy":
                # A deep copy: the copied value may hold containers this patch owns
                # (and will write to in place), or be an ancestor of the target.
                self.add(tokens, _deep_copy(_get(self.root, source)))
            elif tokens[: len(source)] == source and len(tokens) > len(source):
                raise _OpError(f"cannot move {_where(source)} into its own child {_where(tokens)}")
            elif tokens != source:
                self.add(tokens, self.remove(source))
            else:
                _get(self.root, source)  # moving a value onto itself: it must exist


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def apply_patch(state: JSONValue, ops: Iterable[Mapping[str, JSONValue]]) -> JSONValue:
    """Apply an RFC 6902 JSON Patch to JSON data and return the new data.

    Supports ``add``, ``remove``, ``replace``, ``move``, ``copy`` and ``test``,
    ``-`` for "after the last item" in ``add``, and RFC 6901 escapes (``~0`` for
    ``~``, ``~1`` for ``/``). The input is never mutated: the containers along each
    written path are copied (once per patch), and the rest of the result is shared
    with ``state``, so applying a patch to a large state costs what the patch
    touches.

    Args:
        state: the JSON data to patch (for ``diff_state()``, a ``StateSnapshot``'s
            ``data`` or the result of the previous ``apply_patch``).
        ops: the operations, e.g. a ``StatePatch``'s ``ops``.

    Returns:
        The patched data.

    Raises:
        PatchError: an operation is malformed, its path does not exist, or its
            ``test`` failed. The message names the operation and its path; the
            input is left as it was.
    """
    patcher = _Patcher(state)
    for index, op in enumerate(ops):
        try:
            patcher.apply(op)
        except _OpError as failed:
            raise PatchError(index, op, str(failed)) from None
    result: JSONValue = patcher.root
    return result


# --- the operator --------------------------------------------------------------------


def _shadow(value: Any) -> Any:
    """A structural copy of ``value``: new dicts, lists and (container-holding)
    tuples, the very same leaves and other objects (LangChain messages among them).

    The operator remembers this, not the live state, so a container that a node
    mutates in place and returns is compared with what it held before. It costs one
    step per container and item, never a conversion.
    """
    if isinstance(value, dict):
        return {k: _shadow(v) for k, v in value.items()}
    if isinstance(value, list):
        if not any(map(isinstance, value, repeat(_CONTAINERS))):  # messages, say: C speed
            return value.copy()
        return [_shadow(v) if isinstance(v, _CONTAINERS) else v for v in value]
    if isinstance(value, tuple) and any(isinstance(v, _CONTAINERS) for v in value):
        return tuple(_shadow(v) for v in value)
    return value


def _same(shadow: Any, live: Any) -> bool:
    """Whether ``live`` still has the structure and the very leaves of ``shadow``."""
    if shadow is live:
        return True
    if isinstance(live, dict):
        if not isinstance(shadow, dict) or len(shadow) != len(live):
            return False
        for key, value in live.items():
            old = shadow.get(key, _MISSING)
            if old is not value and (old is _MISSING or not _same(old, value)):
                return False
        return True
    if isinstance(live, (list, tuple)):
        return (
            type(shadow) is type(live)
            and len(shadow) == len(live)
            and all(map(_same, shadow, live))
        )
    return False


def _private(value: JSONValue) -> JSONValue:
    """The cache's own copy of a top-level value: its lists are updated in place."""
    return list(value) if isinstance(value, list) else value


class _Seen:
    """What ``DiffState`` remembers of one namespace's last state.

    For a mapping state (``keyed``), ``raw`` maps each top-level key to the value
    the graph gave and ``json`` to its JSON form; the top-level lists in ``json``
    belong to the cache alone and are updated in place. For any other state,
    ``raw`` and ``json`` are the state and its JSON form, replaced whole.
    """

    __slots__ = ("json", "keyed", "raw")

    def __init__(self, data: object) -> None:
        self.keyed = isinstance(data, Mapping)
        self.raw: Any
        self.json: Any
        if isinstance(data, Mapping):
            self.raw = {}
            self.json = {}
            for k, value in data.items():
                key = k if isinstance(k, str) else str(k)  # as to_jsonable() does
                self.raw[key] = _shadow(value)
                self.json[key] = to_jsonable(value)
        else:
            self.raw = _shadow(data)
            self.json = to_jsonable(data)

    def snapshot(self) -> JSONValue:
        """The JSON form to emit: a copy wherever the cache updates in place."""
        if self.keyed:
            return {key: _private(value) for key, value in self.json.items()}
        result: JSONValue = self.json
        return result

    def update(self, data: object, ops: list[PatchOp]) -> _Seen:
        """Append to ``ops`` what changed since the last state; return the memory to
        keep (``self``, or a new one if the state changed shape)."""
        if not (self.keyed and isinstance(data, Mapping)):
            if not self.keyed and _same(self.raw, data):
                return self
            seen = _Seen(data)
            _diff_into(self.json, seen.snapshot(), "", ops)
            return seen
        raw, cache = self.raw, self.json
        new_raw: dict[str, object] = {}
        for k, value in data.items():
            key = k if isinstance(k, str) else str(k)
            old = raw.get(key, _MISSING)
            # ``old`` is a structural copy (``_shadow``): the same object means the
            # same leaf, and a container changed in place no longer matches its copy.
            if old is value:
                new_raw[key] = value
                continue
            path = "/" + _escape(key)
            if isinstance(value, (list, tuple)) and isinstance(old, (list, tuple)):
                start, end = _update_list(old, value, cache[key], path, ops)
                # The items found to be the same objects are leaves (a container's
                # copy is never the live object): only the middle needs copying.
                middle = _shadow(list(value[start : len(value) - end]))
                new_raw[key] = [*old[:start], *middle, *old[len(old) - end :]]
                continue
            new_raw[key] = _shadow(value)
            if old is not _MISSING and _same(old, value):
                continue
            new_json = to_jsonable(value)
            if old is _MISSING:
                ops.append({"op": "add", "path": path, "value": new_json})
            else:
                _diff_into(cache[key], new_json, path, ops)
            cache[key] = _private(new_json)
        if len(new_raw) != len(raw) or not raw.keys() <= new_raw.keys():
            for key in [key for key in raw if key not in new_raw]:
                ops.append({"op": "remove", "path": "/" + _escape(key)})
                del cache[key]
        self.raw = new_raw
        return self


def _update_list(
    old: Sequence[object],
    new: Sequence[object],
    cache: list[JSONValue],
    path: str,
    ops: list[PatchOp],
) -> tuple[int, int]:
    """Diff a top-level list by the identity of its items, and update ``cache`` (the
    JSON form of ``old``) to the JSON form of ``new`` in place. Returns how many
    items at the start and at the end are the same objects in both.

    Items that are the very objects of the old list keep their JSON form:
    LangGraph's reducers (``add_messages``, ``operator.add``) build a new list
    around the same objects, so an appended message costs an identity scan (about
    15 ns an item) and one conversion. Only the items that are new objects are
    converted and diffed.
    """
    n, m = len(old), len(new)
    limit = min(n, m)
    # The usual case first: all the same objects (map() stops at the shorter list).
    start = limit if all(map(is_, new, old)) else list(map(is_, new, old)).index(False)
    end = 0  # items that are the same objects at the end, not overlapping the start
    if limit > start:
        same = list(islice(map(is_, reversed(new), reversed(old)), limit - start))
        end = same.index(False) if False in same else limit - start
    if start + end == limit:  # only appended, inserted or removed items: one block
        blocks = [("", start, n - end, start, m - end)]
    else:
        # Items replaced, removed here and added there, or moved (a sliding window
        # of messages, say): match the middles by identity so that only the items
        # that are new objects get converted.
        matcher = SequenceMatcher(
            None,
            [id(item) for item in old[start : n - end]],
            [id(item) for item in new[start : m - end]],
            autojunk=False,
        )
        blocks = [
            (tag, start + i1, start + i2, start + j1, start + j2)
            for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        ]
    middle: list[JSONValue] = []
    sub: list[PatchOp] = []
    shift = 0  # how far an old index has moved in the list being patched
    for tag, i1, i2, j1, j2 in blocks:
        if tag == "equal":
            middle += cache[i1:i2]
        else:
            middle += _diff_block(cache, new, i1, i2, j1, j2, i1 + shift, path, sub, to_jsonable)
            shift += (j2 - j1) - (i2 - i1)
    cache[start : n - end] = middle
    # The cache's list is updated in place later: a replace gets a copy.
    _add_list_ops(sub, list(cache) if len(sub) > m else cache, path, ops)
    return start, end


class DiffState:
    """Turns ``Values`` events into one ``StateSnapshot`` and then ``StatePatch``es,
    per namespace; every other event passes through unchanged. See ``diff_state()``."""

    __slots__ = ("_seen", "keep_values")

    def __init__(self, *, keep_values: bool = False) -> None:
        """See ``diff_state()``."""
        self.keep_values = keep_values
        """Whether the ``Values`` events themselves are let through too."""
        self._seen: dict[tuple[str, ...], _Seen] = {}

    def feed(self, item: Event, /) -> Sequence[Event]:
        """A ``Values`` event gives a snapshot, a patch, or nothing (preceded by the
        event itself with ``keep_values``); any other event passes through."""
        if not isinstance(item, Values):
            return (item,)
        out: list[Event] = [item] if self.keep_values else []
        seen = self._seen.get(item.ns)
        if seen is None:
            seen = self._seen[item.ns] = _Seen(item.data)
            out.append(StateSnapshot(ns=item.ns, node=item.node, data=seen.snapshot()))
            return out
        ops: list[PatchOp] = []
        self._seen[item.ns] = seen.update(item.data, ops)
        if ops:
            out.append(StatePatch(ns=item.ns, node=item.node, ops=tuple(ops)))
        return out

    def flush(self) -> Sequence[Event]:
        """Nothing is held back; the remembered states are dropped."""
        self._seen.clear()
        return ()

    def __repr__(self) -> str:
        return "diff_state(keep_values=True)" if self.keep_values else "diff_state()"


def diff_state(*, keep_values: bool = False) -> DiffState:
    """Send state deltas instead of whole states: ``values`` mode as JSON Patches.

    For each ``Values`` event, per namespace (``event.ns``): the first time, a
    ``StateSnapshot`` whose ``data`` is ``to_jsonable(event.data)``; afterwards, a
    ``StatePatch`` whose ``ops`` (RFC 6902) turn the previous state's JSON form
    into the new one, or nothing if nothing changed. Every other event passes
    through unchanged and in order. A client rebuilds the state with the snapshot
    and ``apply_patch(state, patch.ops)`` for each patch, or any JSON Patch library.

    The cost follows what changed, not the size of the state. The operator
    remembers a structural copy of the previous state (new dicts, lists and
    tuples; the same leaves and messages) and its JSON form, so a container
    mutated in place and returned is still diffed, at any depth. A leaf that is
    the same object as before is not looked at again; a list whose items
    are the same objects as before (as LangGraph's reducers build them) costs an
    identity scan of its items (about 15 ns each, the one part that grows with the
    state) and the conversion of its new items only (appended items become
    ``add`` at ``/key/-``). Other changed values are converted and diffed with
    ``json_diff()``. The last state of each namespace is kept until the stream
    ends.

    Messages, and any object that is not a dict, list or tuple, are shared, not
    copied: LangGraph's ``add_messages`` treats messages as immutable, and so does
    this operator. A message edited in place is not seen. The JSON data in the
    emitted events is shared with the operator's memory: read it, don't mutate it
    (``apply_patch`` never does).

    Args:
        keep_values: also let the ``Values`` events through, each right before its
            snapshot or patch.

    Returns:
        The operator: ``lgs.stream(graph, inputs, modes=["values"]) | diff_state()``.
    """
    return DiffState(keep_values=keep_values)
