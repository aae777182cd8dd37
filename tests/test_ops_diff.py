"""lgs.ops.diff_state, json_diff and apply_patch, with jsonpatch as the oracle."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

import jsonpatch
import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph

import lgstream as lgs
from lgstream import JSONValue
from lgstream.ops import PatchError, apply_patch, diff_state, json_diff
from lgstream.testing import FakeChatModel

# --- strategies ----------------------------------------------------------------------

# Keys that need RFC 6901 escaping, look like array indices, or are empty.
AWKWARD_KEYS = st.sampled_from(["", "/", "~", "~0", "~1", "~01", "a/b", "/~", "-", "0", "01"])
KEYS = AWKWARD_KEYS | st.text(max_size=4)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4)
)
JSON: st.SearchStrategy[JSONValue] = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=30,
)


@st.composite
def edited(draw: st.DrawFn, value: JSONValue, depth: int = 0) -> JSONValue:
    """``value`` after a few random edits, so that diffs see shared structure too."""
    action = draw(st.sampled_from(["keep", "keep", "edit", "replace"]))
    if action == "keep" or (action == "edit" and not isinstance(value, (dict, list))):
        return value
    if action == "replace" or depth > 4:
        return draw(JSON)
    if isinstance(value, dict):
        out: dict[str, JSONValue] = {}
        for key, item in value.items():
            if not draw(st.booleans()) or draw(st.booleans()):  # drop a quarter of the keys
                out[key] = draw(edited(item, depth + 1))
        for key in draw(st.lists(KEYS, max_size=2)):
            out[key] = draw(JSON)
        return out
    assert isinstance(value, list)
    items = [draw(edited(item, depth + 1)) for item in value]
    for _ in range(draw(st.integers(0, 2))):
        where = draw(st.integers(0, len(items)))
        drop: bool = draw(st.booleans())
        if items and drop:
            del items[min(where, len(items) - 1)]
        else:
            items.insert(where, draw(JSON))
    if draw(st.booleans()):
        items = draw(st.permutations(items))
    return items


@st.composite
def json_pairs(draw: st.DrawFn) -> tuple[JSONValue, JSONValue]:
    a = draw(JSON)
    b = draw(edited(a)) if draw(st.integers(0, 3)) else draw(JSON)
    return a, b


def tagged(value: object) -> object:
    """``value`` with booleans told apart from numbers: Python says ``True == 1``,
    JSON does not. Numbers still compare by value, as RFC 6902 asks."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, dict):
        return {k: tagged(v) for k, v in value.items()}
    if isinstance(value, list):
        return [tagged(v) for v in value]
    return value


def rebuild(events: Iterable[lgs.Event]) -> dict[tuple[str, ...], JSONValue]:
    """What a client does: per namespace, the snapshot, then each patch applied."""
    states: dict[tuple[str, ...], JSONValue] = {}
    for event in events:
        if isinstance(event, lgs.StateSnapshot):
            assert event.ns not in states, "a second snapshot for one namespace"
            states[event.ns] = event.data
        elif isinstance(event, lgs.StatePatch):
            states[event.ns] = apply_patch(states[event.ns], event.ops)
    return states


# --- json_diff and apply_patch ------------------------------------------------------


@given(json_pairs())
def test_apply_patch_of_json_diff_gives_b(pair: tuple[JSONValue, JSONValue]) -> None:
    a, b = pair
    before = copy.deepcopy(a)
    patch = json_diff(a, b)
    assert tagged(apply_patch(a, patch)) == tagged(b)
    assert tagged(a) == tagged(before), "apply_patch mutated its input"
    assert (patch == []) == (tagged(a) == tagged(b))


@given(json_pairs())
def test_jsonpatch_applies_json_diff(pair: tuple[JSONValue, JSONValue]) -> None:
    a, b = pair
    assert jsonpatch.apply_patch(a, json_diff(a, b)) == b


@given(json_pairs())
def test_apply_patch_applies_jsonpatch_make_patch(pair: tuple[JSONValue, JSONValue]) -> None:
    a, b = pair
    before = copy.deepcopy(a)
    assert apply_patch(a, jsonpatch.make_patch(a, b).patch) == b
    assert tagged(a) == tagged(before)


@given(json_pairs(), st.data())
def test_apply_patch_agrees_with_jsonpatch_on_move_copy_and_test(
    pair: tuple[JSONValue, JSONValue], data: st.DataObject
) -> None:
    """Random valid move/copy/test operations: both implementations agree."""
    a, _ = pair
    paths = list(_pointers(a))
    source = data.draw(st.sampled_from(paths))
    target = data.draw(st.sampled_from(paths))
    op: dict[str, JSONValue] = {
        "op": data.draw(st.sampled_from(["move", "copy"])),
        "from": source,
        "path": target,
    }
    test: dict[str, JSONValue] = {"op": "test", "path": target, "value": _at(a, target)}
    try:
        expected = jsonpatch.apply_patch(a, [test, op])
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException):
        with pytest.raises(PatchError):
            apply_patch(a, [test, op])
    else:
        assert apply_patch(a, [test, op]) == expected


def _pointers(value: JSONValue, prefix: str = "") -> Iterable[str]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _pointers(item, f"{prefix}/{key.replace('~', '~0').replace('/', '~1')}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _pointers(item, f"{prefix}/{i}")


def _at(value: JSONValue, pointer: str) -> JSONValue:
    return jsonpatch.JsonPointer(pointer).resolve(value)  # type: ignore[no-any-return]


def test_json_diff_shapes() -> None:
    assert json_diff({"a": 1}, {"a": 1}) == []
    assert json_diff([1, 2], [1, 2, 3, 4]) == [
        {"op": "add", "path": "/-", "value": 3},
        {"op": "add", "path": "/-", "value": 4},
    ]
    assert json_diff([1, 2, 3], [1, 9, 2, 3]) == [{"op": "add", "path": "/1", "value": 9}]
    assert json_diff([1, 2, 3, 4], [1, 4]) == [
        {"op": "remove", "path": "/2"},
        {"op": "remove", "path": "/1"},
    ]
    assert json_diff({"a/b": {"~c": 1}}, {"a/b": {"~c": 2}}) == [
        {"op": "replace", "path": "/a~1b/~0c", "value": 2}
    ]
    assert json_diff({"": 1}, {}) == [{"op": "remove", "path": "/"}]
    assert json_diff(1, True) == [{"op": "replace", "path": "", "value": True}]
    assert json_diff({"x": [1, 2, 3]}, {"x": []}) == [{"op": "replace", "path": "/x", "value": []}]


# Examples from RFC 6902, appendix A (and a few more), as (doc, patch, result).
RFC_EXAMPLES: list[tuple[JSONValue, list[dict[str, JSONValue]], JSONValue]] = [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    (
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    (
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [
            {"op": "test", "path": "/baz", "value": "qux"},
            {"op": "test", "path": "/foo/1", "value": 2},
        ],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    (
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
    ({"a": {"b": 1}}, [{"op": "copy", "from": "/a", "path": "/c"}], {"a": {"b": 1}, "c": {"b": 1}}),
    ({"a": 1}, [{"op": "replace", "path": "", "value": [1]}], [1]),
    ({"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}], {"a": 1}),
]


@pytest.mark.parametrize(("doc", "patch", "result"), RFC_EXAMPLES)
def test_rfc_6902_examples(
    doc: JSONValue, patch: list[dict[str, JSONValue]], result: JSONValue
) -> None:
    before = copy.deepcopy(doc)
    assert apply_patch(doc, patch) == result
    assert doc == before


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ([{"op": "remove", "path": "/nope"}], "patch operation 0 (remove at '/nope') failed: no"),
        ([{"op": "replace", "path": "/a/b/c", "value": 1}], "'/a/b' is a number"),
        ([{"op": "add", "path": "/list/7", "value": 1}], "index 7 is out of range"),
        ([{"op": "remove", "path": "/list/-"}], "'-' (past the end of the array"),
        ([{"op": "remove", "path": "/list/01"}], "'01' is not an index"),
        ([{"op": "add", "path": "list", "value": 1}], "is not a JSON Pointer"),
        ([{"op": "add", "path": "/~2", "value": 1}], "a '~' that is not '~0' or '~1'"),
        ([{"op": "test", "path": "/a/b", "value": 2}], "the value at '/a/b' is 1, not 2"),
        ([{"op": "test", "path": "/a/b", "value": True}], "the value at '/a/b' is 1, not True"),
        ([{"op": "frobnicate", "path": "/a"}], "unknown op 'frobnicate'; expected one of add,"),
        ([{"path": "/a"}], "no 'op' member"),
        ([{"op": "add", "path": "/a"}], "add needs a 'value'"),
        ([{"op": "move", "path": "/a"}], "move needs a 'from'"),
        ([{"op": "move", "from": "/a", "path": "/a/x"}], "cannot move '/a' into its own child"),
        ([{"op": "remove", "path": ""}], "cannot remove the whole document"),
        # The first operation succeeds, the second fails: the input is still untouched.
        (
            [{"op": "add", "path": "/list/-", "value": 3}, {"op": "remove", "path": "/x"}],
            "patch operation 1 (remove at '/x')",
        ),
    ],
)
def test_apply_patch_errors_are_clear_and_leave_the_input_alone(
    patch: list[dict[str, JSONValue]], message: str
) -> None:
    doc: JSONValue = {"a": {"b": 1}, "list": [1, 2]}
    before = copy.deepcopy(doc)
    with pytest.raises(PatchError) as info:
        apply_patch(doc, patch)
    assert message in str(info.value)
    assert info.value.op is patch[info.value.index]
    assert isinstance(info.value, lgs.StreamError)
    assert isinstance(info.value, ValueError)
    assert doc == before


def test_apply_patch_copies_only_what_it_touches() -> None:
    doc: dict[str, JSONValue] = {"messages": [{"id": 1}, {"id": 2}], "other": {"deep": [1]}}
    out = apply_patch(doc, [{"op": "add", "path": "/messages/-", "value": {"id": 3}}])
    assert isinstance(out, dict)
    assert out["other"] is doc["other"]
    assert out["messages"] is not doc["messages"]
    assert isinstance(out["messages"], list)
    assert out["messages"][0] is doc["messages"][0]  # type: ignore[index]
    assert doc["messages"] == [{"id": 1}, {"id": 2}]


def test_apply_patch_copy_then_edit_keeps_the_source() -> None:
    doc: JSONValue = {"a": {"b": [1]}}
    out = apply_patch(
        doc,
        [
            {"op": "add", "path": "/a/b/-", "value": 2},  # /a and /a/b now belong to the patch
            {"op": "copy", "from": "/a", "path": "/c"},
            {"op": "add", "path": "/c/b/-", "value": 3},
            {"op": "copy", "from": "", "path": "/a/root"},
        ],
    )
    assert out == {
        "a": {"b": [1, 2], "root": {"a": {"b": [1, 2]}, "c": {"b": [1, 2, 3]}}},
        "c": {"b": [1, 2, 3]},
    }
    assert doc == {"a": {"b": [1]}}


# --- the operator --------------------------------------------------------------------


def human(text: str, i: int) -> HumanMessage:
    return HumanMessage(content=text, id=f"h{i}")


def ai(text: str, i: int) -> AIMessage:
    return AIMessage(
        content=text,
        id=f"a{i}",
        response_metadata={"model": "fake", "done": True},
        usage_metadata={"input_tokens": i, "output_tokens": 3, "total_tokens": i + 3},
    )


ITEMS: st.SearchStrategy[object] = (
    st.builds(human, st.text(max_size=4), st.integers(0, 5))
    | st.builds(ai, st.text(max_size=4), st.integers(0, 5))
    | SCALARS
    | st.dictionaries(KEYS, SCALARS, max_size=2)
)
TOP_KEYS = st.sampled_from(["messages", "notes", "count", "a/b", "~", ""])


@st.composite
def next_state(draw: st.DrawFn, state: dict[str, object]) -> dict[str, object]:
    """A state the way LangGraph makes the next one: a new dict; lists rebuilt around
    the same objects (appended, items replaced, removed, reordered) or left alone."""
    new = dict(state)
    for key in draw(st.lists(TOP_KEYS, max_size=3)):
        old = new.get(key)
        action = draw(
            st.sampled_from(["append", "replace", "remove", "shuffle", "copy", "value", "delete"])
        )
        if action == "delete":
            new.pop(key, None)
        elif isinstance(old, (list, tuple)) and action != "value":
            items = list(old)
            if action == "append":
                items += draw(st.lists(ITEMS, min_size=1, max_size=3))
            elif action == "replace" and items:
                items[draw(st.integers(0, len(items) - 1))] = draw(ITEMS)
            elif action == "remove" and items:
                del items[draw(st.integers(0, len(items) - 1))]
            elif action == "shuffle":
                items = draw(st.permutations(items))
            new[key] = tuple(items) if isinstance(old, tuple) and draw(st.booleans()) else items
        else:
            new[key] = draw(st.lists(ITEMS, max_size=4) | ITEMS)
    return new


@st.composite
def state_runs(draw: st.DrawFn) -> list[dict[str, object]]:
    state = draw(st.dictionaries(TOP_KEYS, st.lists(ITEMS, max_size=4) | ITEMS, max_size=4))
    states = [state]
    for _ in range(draw(st.integers(0, 6))):
        state = draw(next_state(state))
        states.append(state)
    return states


def check_rebuilds(events: Sequence[lgs.Event], *, keep_values: bool = False) -> list[lgs.Event]:
    """Feed ``events`` through a new ``diff_state()``: other events pass through as
    they are, and after every ``Values`` event the client's rebuilt state equals that
    state's JSON form. Returns everything the operator let out."""
    op = diff_state(keep_values=keep_values)
    client: dict[tuple[str, ...], JSONValue] = {}
    everything: list[lgs.Event] = []
    for event in events:
        out = list(op.feed(event))
        everything += out
        if not isinstance(event, lgs.Values):
            assert out == [event]
            assert out[0] is event
            continue
        if keep_values:
            assert out.pop(0) is event
        assert len(out) <= 1
        for derived in out:
            assert derived.ns == event.ns
            if isinstance(derived, lgs.StateSnapshot):
                assert event.ns not in client
                client[event.ns] = derived.data
            else:
                assert isinstance(derived, lgs.StatePatch)
                assert derived.ops, "no empty patches"
                client[event.ns] = apply_patch(client[event.ns], derived.ops)
        assert tagged(client[event.ns]) == tagged(lgs.to_jsonable(event.data))
    assert op.flush() == ()
    return everything


@given(state_runs(), state_runs(), st.lists(st.booleans(), max_size=20), st.booleans())
def test_diff_state_rebuilds_every_state_per_namespace(
    root: list[dict[str, object]],
    sub: list[dict[str, object]],
    order: list[bool],
    keep_values: bool,
) -> None:
    pending = {(): list(root), ("sub:1",): list(sub)}
    events: list[lgs.Event] = []
    picks = iter(order)
    while any(pending.values()):
        ns = ("sub:1",) if next(picks, True) and pending[("sub:1",)] else ()
        if not pending[ns]:
            ns = ("sub:1",)
        events.append(lgs.Values(ns=ns, data=pending[ns].pop(0)))
        events.append(lgs.Custom(data=len(events)))
    out = check_rebuilds(events, keep_values=keep_values)
    snapshots = [o for o in out if isinstance(o, lgs.StateSnapshot)]
    namespaces = [e.ns for e in events if isinstance(e, lgs.Values)]
    assert [s.ns for s in snapshots] == list(dict.fromkeys(namespaces))


def messages(n: int) -> list[BaseMessage]:
    return [human(f"question {i}", i) if i % 2 == 0 else ai(f"answer {i}", i) for i in range(n)]


def patch_for(
    old: Mapping[str, object], new: Mapping[str, object]
) -> tuple[dict[str, JSONValue], ...]:
    op = diff_state()
    (snapshot,) = op.feed(lgs.Values(data=old))
    assert isinstance(snapshot, lgs.StateSnapshot)
    out = op.feed(lgs.Values(data=new))
    if not out:
        return ()
    (patch,) = out
    assert isinstance(patch, lgs.StatePatch)
    expected = lgs.to_jsonable(new)
    assert jsonpatch.apply_patch(snapshot.data, patch.ops) == expected
    assert apply_patch(snapshot.data, patch.ops) == expected
    return patch.ops


def test_an_appended_message_is_one_add(monkeypatch: pytest.MonkeyPatch) -> None:
    history = messages(1000)
    reply = ai("the new answer", 1000)
    calls: list[object] = []
    real = lgs.to_jsonable

    def counting(value: object) -> JSONValue:
        calls.append(value)
        return real(value)

    op = diff_state()
    op.feed(lgs.Values(data={"messages": history, "topic": "x"}))
    monkeypatch.setattr("lgstream.ops._diff.to_jsonable", counting)
    (patch,) = op.feed(lgs.Values(data={"messages": [*history, reply], "topic": "x"}))
    assert isinstance(patch, lgs.StatePatch)
    assert patch.ops == ({"op": "add", "path": "/messages/-", "value": real(reply)},)
    assert calls == [reply], "only the new message is converted"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda ms: [*ms[:500], ai("edited", 500), *ms[501:]], id="replaced"),
        pytest.param(lambda ms: ms[:10] + ms[11:], id="removed"),
        pytest.param(lambda ms: [*ms[:20], ms[21], ms[20], *ms[22:]], id="swapped"),
        pytest.param(lambda ms: [ms[-1], *ms[:-1]], id="rotated"),
        pytest.param(lambda ms: list(reversed(ms)), id="reversed"),
        pytest.param(lambda ms: [*ms[:3], human("inserted", 9999), *ms[3:]], id="inserted"),
        pytest.param(lambda ms: [], id="cleared"),
        pytest.param(lambda ms: tuple(ms), id="tuple"),
        pytest.param(lambda ms: list(ms), id="same-items"),
    ],
)
def test_other_list_changes_give_correct_patches(
    change: Callable[[list[BaseMessage]], Sequence[BaseMessage]],
) -> None:
    history = messages(1000)
    new = {"messages": change(history)}
    ops = patch_for({"messages": history}, new)
    # Never much bigger than the state it leads to (a misaligned item-by-item diff is).
    assert len(json.dumps(ops)) <= 100 + 1.1 * len(json.dumps(lgs.to_jsonable(new)))


def test_a_small_change_is_a_small_patch() -> None:
    history = messages(50)
    reply = ai("new", 50)
    # A sliding window: the oldest message goes, a new one comes.
    assert patch_for({"messages": history}, {"messages": [*history[1:], reply]}) == (
        {"op": "remove", "path": "/messages/0"},
        {"op": "add", "path": "/messages/-", "value": lgs.to_jsonable(reply)},
    )
    edited = [*history[:7], history[7].model_copy(update={"content": "new"}), *history[8:]]
    ops = patch_for({"messages": history}, {"messages": edited})
    assert ops == ({"op": "replace", "path": "/messages/7/content", "value": "new"},)
    assert patch_for({"a": 1, "b": [1]}, {"b": [1], "c/d": None}) == (
        {"op": "add", "path": "/c~1d", "value": None},
        {"op": "remove", "path": "/a"},
    )


def test_items_are_compared_by_identity_not_by_python_equality() -> None:
    """``False == 0`` in Python, not in JSON: a new object is always converted."""
    assert patch_for({"flags": [True, False]}, {"flags": [True, 0]}) == (
        {"op": "replace", "path": "/flags/1", "value": 0},
    )
    history = messages(5)
    # A new object equal to the old one: converted, and no patch since its JSON is equal.
    assert (
        patch_for({"messages": history}, {"messages": [*history[:4], history[4].model_copy()]})
        == ()
    )


def test_unchanged_state_gives_no_event_and_keep_values_keeps_the_event() -> None:
    state = {"messages": messages(3)}
    op = diff_state(keep_values=True)
    first = lgs.Values(data=state, node="n")
    second = lgs.Values(data=dict(state))
    out = [*op.feed(first), *op.feed(second)]
    assert out[0] is first
    assert out[1] == lgs.StateSnapshot(node="n", data=lgs.to_jsonable(state))
    assert out[2] is second
    assert len(out) == 3
    assert repr(op) == "diff_state(keep_values=True)"
    assert repr(diff_state()) == "diff_state()"


def test_a_state_that_is_not_a_mapping_is_diffed_whole() -> None:
    states: list[object] = [[1, 2], [1, 2, 3], {"now": "a dict", "x": [1]}, {"x": [1, 2]}, 5]
    out = check_rebuilds([lgs.Values(data=s) for s in states])
    assert [type(o) for o in out] == [lgs.StateSnapshot] + [lgs.StatePatch] * 4


def test_the_snapshot_is_not_changed_by_later_steps() -> None:
    history = messages(3)
    op = diff_state()
    (snapshot,) = op.feed(lgs.Values(data={"messages": history}))
    before = copy.deepcopy(snapshot.data)  # type: ignore[union-attr]
    op.feed(lgs.Values(data={"messages": [*history, ai("more", 3)]}))
    op.feed(lgs.Values(data={"messages": history[:1]}))
    assert snapshot.data == before  # type: ignore[union-attr]


def test_flush_forgets_the_states() -> None:
    op = diff_state()
    op.feed(lgs.Values(data={"a": 1}))
    assert op.flush() == ()
    assert [type(o) for o in op.feed(lgs.Values(data={"a": 1}))] == [lgs.StateSnapshot]


def test_diff_state_is_an_operator() -> None:
    assert isinstance(diff_state(), lgs.Operator)


# --- on a real graph -----------------------------------------------------------------


def chat_graph(model: FakeChatModel, turns: int) -> CompiledStateGraph[Any, Any, Any, Any]:
    """``chat`` appends the model's reply until there are ``turns`` replies."""

    def chat(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def more(state: MessagesState) -> str:
        replies = sum(isinstance(m, AIMessage) for m in state["messages"])
        return "chat" if replies < turns else END

    builder = StateGraph(MessagesState)
    builder.add_node("chat", chat)
    builder.add_edge(START, "chat")
    builder.add_conditional_edges("chat", more, ["chat", END])
    return builder.compile()


def test_a_real_graph_rebuilds_on_the_client() -> None:
    model = FakeChatModel(script=["Hello there", "How can I help?", "Bye"], cycle=True)
    graph = chat_graph(model, turns=4)
    out = lgs.stream(graph, {"messages": [HumanMessage("hi")]}, modes=["values"]) | diff_state()
    events = out.collect()
    finished = events[-1]
    assert isinstance(finished, lgs.RunFinished)
    assert rebuild(events)[()] == lgs.to_jsonable(finished.output)
    assert not any(isinstance(e, lgs.Values) for e in events)
    patches = [e for e in events if isinstance(e, lgs.StatePatch)]
    assert len(patches) == 4
    # LangGraph's add_messages keeps the message objects: each step is one append.
    assert all([op["op"] for op in p.ops] == ["add"] for p in patches)
    assert all(p.ops[0]["path"] == "/messages/-" for p in patches)


def test_a_real_graph_async() -> None:
    model = FakeChatModel(script=["one", "two"], cycle=True)
    graph = chat_graph(model, turns=3)

    async def main() -> list[lgs.Event]:
        events: AsyncIterator[lgs.Event] = lgs.astream(
            graph, {"messages": [HumanMessage("hi")]}, modes=["values"]
        ) | diff_state(keep_values=True)
        return [e async for e in events]

    events = asyncio.run(main())
    last_values = [e for e in events if isinstance(e, lgs.Values)][-1]
    assert rebuild(events)[()] == lgs.to_jsonable(last_values.data)


def test_a_list_changed_in_place_is_still_diffed() -> None:
    """Not what LangGraph asks of nodes, but a list that grew in place is not missed."""
    notes = ["a"]
    op = diff_state()
    (snapshot,) = op.feed(lgs.Values(data={"notes": notes}))
    notes.append("b")  # the old list itself now holds the new item
    (patch,) = op.feed(lgs.Values(data={"notes": [*notes, "c"]}))
    assert isinstance(snapshot, lgs.StateSnapshot)
    assert isinstance(patch, lgs.StatePatch)
    assert apply_patch(snapshot.data, patch.ops) == {"notes": ["a", "b", "c"]}
