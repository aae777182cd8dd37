"""lgs.ops filters and text()."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessageChunk

import lgstream as lgs
from lgstream.testing import FakeChatModel

from .graphs import twin_subgraphs_graph, two_model_graph


def token(text: str, node: str | None) -> lgs.Token:
    return lgs.Token(text=text, message_id="m", chunk=AIMessageChunk(content=text), node=node)


NODE_NAMES = st.sampled_from(["a", "b", "c", None])
events_st = st.lists(
    st.builds(token, st.text(max_size=3), NODE_NAMES)
    | st.builds(lgs.Update, node=st.sampled_from(["a", "b", "c"]), data=st.integers())
    | st.builds(lgs.Custom, data=st.integers()),
    max_size=20,
)


@given(events_st, st.sets(st.sampled_from(["a", "b", "c"]), min_size=1))
def test_nodes_and_exclude_nodes_partition_the_stream(
    events: list[lgs.Event], names: set[str]
) -> None:
    kept = list(lgs.EventStream[lgs.Event](iter(events)) | lgs.ops.nodes(*names))
    dropped = list(lgs.EventStream[lgs.Event](iter(events)) | lgs.ops.exclude_nodes(*names))
    assert kept == [ev for ev in events if ev.node in names]
    assert dropped == [ev for ev in events if ev.node not in names]
    assert len(kept) + len(dropped) == len(events)


@given(events_st)
def test_text_is_the_token_texts_in_order(events: list[lgs.Event]) -> None:
    out = list(lgs.EventStream[lgs.Event](iter(events)) | lgs.ops.text())
    assert out == [ev.text for ev in events if isinstance(ev, lgs.Token) and ev.text]


def test_node_filter_on_a_real_graph_lets_no_other_node_through() -> None:
    graph = two_model_graph(FakeChatModel(script=["first"]), FakeChatModel(script=["second"]))
    events = lgs.stream(graph, {"question": "q"}, modes=["messages", "updates"])
    kept = (events | lgs.ops.nodes("review")).collect()
    assert {ev.node for ev in kept} == {"review"}
    assert "".join(ev.text for ev in kept if isinstance(ev, lgs.Token)) == "second"


def test_kinds_accepts_classes_and_tags() -> None:
    events: list[lgs.Event] = [token("x", "a"), lgs.Custom(data=1), lgs.Update(node="a", data=2)]
    by_class = list(lgs.EventStream[lgs.Event](iter(events)) | lgs.ops.kinds(lgs.Custom))
    by_tag = list(lgs.EventStream[lgs.Event](iter(events)) | lgs.ops.kinds("update", "token"))
    assert by_class == [events[1]]
    assert by_tag == [events[0], events[2]]


def test_where() -> None:
    events: list[lgs.Event] = [lgs.Custom(data=1), lgs.Custom(data=2)]
    kept = lgs.EventStream[lgs.Event](iter(events)) | lgs.ops.where(
        lambda ev: isinstance(ev, lgs.Custom) and ev.data > 1
    )
    assert list(kept) == [events[1]]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: lgs.ops.nodes(), r"needs at least one node name, e.g. nodes\('generate'\)"),
        (
            lambda: lgs.ops.exclude_nodes(3),  # type: ignore[arg-type]
            "takes node names as strings, got 3",
        ),
        (lambda: lgs.ops.kinds(), "needs at least one event kind"),
        (lambda: lgs.ops.kinds("tokens"), "unknown event kind 'tokens'.*token"),
        (
            lambda: lgs.ops.kinds(int),  # type: ignore[arg-type]
            "unknown event kind <class 'int'>",
        ),
        (
            lambda: lgs.ops.where(3),  # type: ignore[arg-type]
            "takes a function of the event",
        ),
    ],
)
def test_filter_usage_errors(make: object, message: str) -> None:
    assert callable(make)
    with pytest.raises(lgs.UsageError, match=message):
        make()


def test_filters_describe_themselves() -> None:
    assert repr(lgs.ops.nodes("b", "a")) == "nodes('a', 'b')"
    assert repr(lgs.ops.exclude_nodes("x")) == "exclude_nodes('x')"
    assert repr(lgs.ops.kinds(lgs.Token)) == "kinds('token')"
    assert repr(lgs.ops.text()) == "text()"


def test_operators_serve_async_streams() -> None:
    async def source() -> AsyncIterator[lgs.Event]:
        yield token("a", "x")
        yield token("b", "y")
        yield token("c", "x")

    async def run() -> str:
        stream = lgs.AsyncEventStream[lgs.Event](source())
        return await stream.pipe(lgs.ops.nodes("x"), lgs.ops.text()).text()

    assert asyncio.run(run()) == "ac"


def twin_events() -> list[lgs.Event]:
    graph = twin_subgraphs_graph(
        FakeChatModel(script=["alpha beta gamma"], delay=0.002),
        FakeChatModel(script=["one two three"], delay=0.002),
    )
    inp = {"messages": [("user", "go")]}
    return lgs.stream(graph, inp, modes=["messages", "updates"], subgraphs=True).collect()


def texts(events: list[lgs.Event]) -> str:
    return "".join(ev.text for ev in events if isinstance(ev, lgs.Token))


def test_node_paths_never_leak_between_same_named_nodes() -> None:
    events = twin_events()
    inner_tokens = [ev for ev in events if isinstance(ev, lgs.Token)]
    assert {ev.node for ev in inner_tokens} == {"inner"}  # the name alone is ambiguous
    assert {lgs.ops.node_path(ev) for ev in inner_tokens} == {
        ("research", "inner"),
        ("critic", "inner"),
    }

    def only(*names: str) -> list[lgs.Event]:
        return list(lgs.EventStream[lgs.Event](iter(events)) | lgs.ops.nodes(*names))

    assert texts(only("research/inner")) == "alpha beta gamma"
    assert texts(only("critic/inner")) == "one two three"
    assert texts(only("research")) == "alpha beta gamma"  # everything inside the subgraph
    assert only("inner") == []  # not a root node: no guessing which one
    research = only("research")
    assert {lgs.ops.node_path(ev)[0] for ev in research} == {"research"}
    # the parent's own update passes too, the other parent's never
    assert [ev.node for ev in research if isinstance(ev, lgs.Update)] == ["inner", "research"]
    rest = list(lgs.EventStream[lgs.Event](iter(events)) | lgs.ops.exclude_nodes("research"))
    assert texts(rest) == "one two three"
    assert len(rest) + len(research) == len(events)


def test_whole_messages_are_filtered_by_node_too() -> None:
    graph = twin_subgraphs_graph(FakeChatModel(script=["alpha"]), FakeChatModel(script=["one"]))
    inp = {"messages": [("user", "go")]}
    # without subgraphs, the parents' outputs arrive as whole messages
    events = lgs.stream(graph, inp, modes=["messages"]).collect()
    messages = [ev for ev in events if isinstance(ev, lgs.Message)]
    assert {ev.node for ev in messages} == {"research", "critic"}
    kept = list(lgs.EventStream[lgs.Event](iter(events)) | lgs.ops.nodes("critic"))
    assert [ev.message.text for ev in kept if isinstance(ev, lgs.Message)] == ["one"]


def test_namespaces_select_subgraphs_at_any_depth() -> None:
    events = twin_events()

    def select(prefix: str, depth: int | None) -> set[tuple[str, ...]]:
        stream = lgs.EventStream[lgs.Event](iter(events)) | lgs.ops.namespaces(prefix, depth=depth)
        return {lgs.ops.node_path(ev) for ev in stream}

    assert select("critic", None) == {("critic", "inner")}
    assert select("critic", 0) == {("critic", "inner")}
    assert select("", 0) == {(), ("research",), ("critic",)}  # root only: lifecycle + updates
    assert ("research", "inner") in select("", None)
    assert select("nowhere", None) == set()


def test_tags_select_model_calls() -> None:
    events = twin_events()
    kept = list(lgs.EventStream[lgs.Event](iter(events)) | lgs.ops.tags("critic"))
    assert kept
    assert all(isinstance(ev, lgs.Token) for ev in kept)
    assert texts(kept) == "one two three"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: lgs.ops.nodes("a:123"), "no task ids"),
        (lambda: lgs.ops.nodes("a//b"), "path of node names"),
        (lambda: lgs.ops.namespaces("a", depth=-1), "depth=None or a whole number"),
        (lambda: lgs.ops.namespaces("a:1"), "without task ids"),
        (lambda: lgs.ops.tags(), "one or more tag strings"),
    ],
)
def test_path_filter_usage_errors(make: object, message: str) -> None:
    assert callable(make)
    with pytest.raises(lgs.UsageError, match=message):
        make()


ns_segments = st.sampled_from(["a:1", "b:2", "a:3"])
path_events = st.lists(
    st.builds(
        lambda ns, node: lgs.Custom(ns=tuple(ns), node=node, data=0),
        st.lists(ns_segments, max_size=3),
        st.sampled_from(["a", "b", "c", None]),
    ),
    max_size=15,
)


@given(path_events, st.sampled_from(["a", "b", "a/b", "a/a", "b/c", "a/a/a"]))
def test_nodes_keeps_exactly_the_events_under_the_path(events: list[lgs.Event], name: str) -> None:
    pattern = tuple(name.split("/"))
    kept = list(lgs.EventStream[lgs.Event](iter(events)) | lgs.ops.nodes(name))
    assert kept == [ev for ev in events if lgs.ops.node_path(ev)[: len(pattern)] == pattern]
