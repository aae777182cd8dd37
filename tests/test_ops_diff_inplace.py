"""diff_state under in-place mutation: the patches rebuild every state, with jsonpatch."""

from __future__ import annotations

import copy
from typing import Any, TypedDict

import jsonpatch
from ag_ui.core import StateDeltaEvent, StateSnapshotEvent
from hypothesis import given, settings
from hypothesis import strategies as st
from langgraph.graph import END, START, StateGraph

import lgstream as lgs
from lgstream.ops import diff_state
from lgstream.protocols.agui import AGUIEncoder


class Items(TypedDict):
    items: list[int]
    n: int


def in_place_graph() -> Any:
    """``grow`` appends to the list it was given and returns it: a LastValue channel."""

    def grow(state: Items) -> dict[str, Any]:
        items = state["items"]
        items.append(state["n"])
        return {"items": items, "n": state["n"] + 1}

    def more(state: Items) -> str:
        return "grow" if state["n"] < 3 else END

    builder = StateGraph(Items)
    builder.add_node("grow", grow)
    builder.add_edge(START, "grow")
    builder.add_conditional_edges("grow", more, ["grow", END])
    return builder.compile()


def _rebuild(events: list[lgs.Event]) -> Any:
    state: Any = None
    for event in events:
        if isinstance(event, lgs.StateSnapshot):
            state = copy.deepcopy(event.data)
        elif isinstance(event, lgs.StatePatch):
            state = jsonpatch.apply_patch(state, [dict(op) for op in event.ops])
    return state


def test_a_node_appending_in_place_rebuilds_the_final_state() -> None:
    events = (
        lgs.stream(in_place_graph(), {"items": [], "n": 0}, modes=["values"]) | diff_state()
    ).collect()
    assert _rebuild(events) == {"items": [0, 1, 2], "n": 3}


def test_agui_deltas_of_an_in_place_append_rebuild_the_final_state() -> None:
    encoder = AGUIEncoder()
    out: list[Any] = []
    for event in lgs.stream(in_place_graph(), {"items": [], "n": 0}, modes=["values"]):
        out += encoder.feed(event)
    out += encoder.close(None)
    (snapshot,) = [e for e in out if isinstance(e, StateSnapshotEvent)]
    state = copy.deepcopy(snapshot.snapshot)
    for delta in [e for e in out if isinstance(e, StateDeltaEvent)]:
        state = jsonpatch.apply_patch(state, [op.model_dump(by_alias=True) for op in delta.delta])
    assert state["items"] == [0, 1, 2]


# --- a property: in-place and copy-on-write edits at any depth ------------------------

_leaf = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text("ab", max_size=2))
_json = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text("abc", max_size=2), inner, max_size=3)
    ),
    max_leaves=8,
)
# An edit: a path of choices (indices into the containers met) and what to do there.
_edit = st.tuples(
    st.lists(st.integers(0, 5), max_size=4),
    st.sampled_from(["append", "pop", "set", "setkey", "delkey"]),
    _json,
    st.booleans(),  # True: copy the containers on the path (copy-on-write), else in place
)


def _apply_edit(state: dict[str, Any], edit: tuple[list[int], str, Any, bool]) -> dict[str, Any]:
    path, action, value, cow = edit
    root: dict[str, Any] = dict(state) if cow else state
    node: Any = root
    for choice in path:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        children = [k for k in keys if isinstance(node[k], (dict, list))]
        if not children:
            break
        key = children[choice % len(children)]
        if cow:
            node[key] = copy.copy(node[key])
        node = node[key]
    if isinstance(node, list):
        if action == "append" or not node:
            node.append(value)
        elif action == "pop":
            node.pop()
        else:
            node[len(path) % len(node)] = value
    elif action in ("delkey", "pop") and node:
        del node[next(iter(node))]
    else:
        node["k" + str(len(path))] = value
    return root


@settings(max_examples=300, deadline=None)
@given(
    start=st.dictionaries(st.sampled_from("xyz"), _json, max_size=3),
    steps=st.lists(st.lists(_edit, max_size=3), max_size=5),
)
def test_patches_rebuild_every_state_under_any_edits(
    start: dict[str, Any], steps: list[list[tuple[list[int], str, Any, bool]]]
) -> None:
    op = diff_state()
    state = start
    (snapshot,) = op.feed(lgs.Values(data=state))
    assert isinstance(snapshot, lgs.StateSnapshot)
    client: Any = copy.deepcopy(snapshot.data)
    for edits in steps:
        for edit in edits:
            state = _apply_edit(state, edit)
        for event in op.feed(lgs.Values(data=state)):
            assert isinstance(event, lgs.StatePatch)
            client = jsonpatch.apply_patch(client, [dict(o) for o in event.ops])
        assert client == lgs.to_jsonable(state)


# --- remote-shaped states: fresh JSON each step, messages as dicts --------------------


def test_remote_shaped_states_give_the_patches_of_local_states() -> None:
    import json

    from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

    pool: list[BaseMessage] = [
        HumanMessage(f"q{i}", id=f"h{i}") if i % 2 == 0 else AIMessage(f"a{i}", id=f"a{i}")
        for i in range(8)
    ]
    states: list[dict[str, Any]] = [{"messages": pool[:k], "step": k} for k in range(3, 9)]
    states.insert(3, {"messages": [*pool[:5], AIMessage("edited", id="a5")], "step": 5})
    op = diff_state()
    local = [e for s in states for e in op.feed(lgs.Values(data=s))]
    parts = [
        {"type": "values", "ns": (), "data": json.loads(json.dumps(lgs.to_jsonable(s)))}
        for s in states
    ]
    remote = list(lgs.from_parts(parts) | diff_state())
    remote = [e for e in remote if isinstance(e, (lgs.StateSnapshot, lgs.StatePatch))]
    assert remote == local
    assert _rebuild(remote) == lgs.to_jsonable(states[-1])
