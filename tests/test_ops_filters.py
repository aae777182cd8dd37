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

from .graphs import two_model_graph


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
