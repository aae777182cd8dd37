"""lgs.from_parts(): every raw part shape LangGraph (local or remote) produces."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage

import lgstream as lgs
from lgstream.testing import FakeChatModel

from .graphs import interrupt_graph, subgraph_graph, tool_graph

MODES = ["messages", "updates", "values", "custom"]


def graph() -> Any:
    return subgraph_graph(
        FakeChatModel(script=["inner a"], cycle=True), FakeChatModel(script=["outer b"], cycle=True)
    )


def signature(events: list[lgs.Event]) -> list[tuple[Any, ...]]:
    """What must agree between shapes (message ids and task ids differ per run)."""
    out: list[tuple[Any, ...]] = []
    for ev in events:
        ns = tuple(s.split(":")[0] for s in ev.ns)
        match ev:
            case lgs.Token(text=text):
                out.append(("token", ns, ev.node, text))
            case lgs.Update(data=data) | lgs.Values(data=data):
                out.append((ev.kind, ns, ev.node, json.dumps(lgs.to_jsonable(data))))
            case lgs.RunStarted() | lgs.RunFinished():
                pass
            case _:
                out.append((ev.kind, ns, ev.node))
    return out


def test_v1_and_v2_shapes_give_the_same_events() -> None:
    inp = {"question": "q"}
    expected = signature(lgs.stream(graph(), inp, modes=MODES, subgraphs=True).collect())
    v2 = list(graph().stream(inp, stream_mode=MODES, subgraphs=True, version="v2"))
    v1_triples = list(graph().stream(inp, stream_mode=MODES, subgraphs=True))
    assert isinstance(v1_triples[0], tuple)
    assert len(v1_triples[0]) == 3
    assert signature(lgs.from_parts(v2).collect()) == expected
    assert signature(lgs.from_parts(v1_triples).collect()) == expected


def test_v1_pairs_and_bare_items() -> None:
    inp = {"question": "q"}
    pairs = list(graph().stream(inp, stream_mode=["updates", "messages"]))
    assert isinstance(pairs[0][0], str)
    events = lgs.from_parts(pairs).collect()
    assert [ev.node for ev in events if isinstance(ev, lgs.Update)] == ["research", "write"]

    bare_updates = list(graph().stream(inp, stream_mode="updates"))
    events = lgs.from_parts(bare_updates, mode="updates").collect()
    assert [ev.node for ev in events] == ["research", "write"]

    bare_messages = list(graph().stream(inp, stream_mode="messages"))
    tokens = lgs.from_parts(bare_messages, mode="messages") | lgs.ops.text()
    assert "".join(tokens) == "outer b"

    ns_pairs = list(graph().stream(inp, stream_mode="updates", subgraphs=True))
    events = lgs.from_parts(ns_pairs, mode="updates").collect()
    assert [(len(ev.ns), ev.node) for ev in events] == [(1, "inner"), (0, "research"), (0, "write")]

    bare_values = list(graph().stream(inp, stream_mode="values"))
    events = lgs.from_parts(bare_values, mode="values").collect()
    assert isinstance(events[-1], lgs.Values)
    assert events[-1].data["answer"] == "outer b"


def remote(part: dict[str, Any]) -> dict[str, Any]:
    """A v2 part as it arrives from a server: JSON, messages as dicts, tuples as lists."""
    return json.loads(json.dumps(lgs.to_jsonable(part)))  # type: ignore[no-any-return]


def test_remote_dict_parts_become_messages_again() -> None:
    inp = {"messages": [HumanMessage("add 2 and 3", id="h1")]}
    local = list(
        tool_graph().stream(inp, stream_mode=["messages", "updates", "values"], version="v2")
    )
    wire = [remote(dict(p)) for p in local]
    assert isinstance(wire[0]["data"], dict | list)
    events = lgs.from_parts(wire).collect()
    messages = [ev for ev in events if isinstance(ev, lgs.Message)]
    assert [type(m.message).__name__ for m in messages] == ["AIMessage", "ToolMessage"]
    assert messages[0].message.tool_calls[0]["args"] == {"a": 2, "b": 3}  # type: ignore[attr-defined]
    final = [ev for ev in events if isinstance(ev, lgs.Values)][-1]
    revived = final.data["messages"]
    assert [type(m).__name__ for m in revived] == ["HumanMessage", "AIMessage", "ToolMessage"]
    assert isinstance(revived[2], ToolMessage)
    assert revived[2].content == "5"
    update = [ev for ev in events if isinstance(ev, lgs.Update)][-1]
    assert isinstance(update.data["messages"][0], ToolMessage)


def test_remote_tokens_are_chunks() -> None:
    chunk = AIMessageChunk(content="Hi", id="m1")
    meta = {"langgraph_node": "generate", "langgraph_step": 1, "tags": ["t"]}
    wire = remote({"type": "messages", "ns": [], "data": (chunk, meta)})
    (token,) = lgs.from_parts([wire]).collect()
    assert isinstance(token, lgs.Token)
    assert token.chunk == chunk
    assert (token.text, token.node, token.step, token.tags) == ("Hi", "generate", 1, ("t",))


def test_remote_subgraph_event_names() -> None:
    parts = [("updates|research:abc", {"inner": {"notes": ["x"]}}), ("values", {"a": 1})]
    events = lgs.from_parts(parts).collect()
    first = events[0]
    assert isinstance(first, lgs.Update)
    assert (first.ns, first.node) == (("research:abc",), "inner")


def test_remote_interrupts_in_values_and_updates() -> None:
    parts = [
        {"type": "updates", "ns": [], "data": {"__interrupt__": [{"value": "name?", "id": "i1"}]}},
        ("values", {"question": "q", "__interrupt__": [{"value": "name?", "id": "i1"}]}),
    ]
    events = lgs.from_parts(parts).collect()
    assert [ev.kind for ev in events] == ["interrupt", "values"]
    interrupt, values = events
    assert isinstance(interrupt, lgs.Interrupt)
    assert (interrupt.value, interrupt.interrupt_id) == ("name?", "i1")
    assert isinstance(values, lgs.Values)
    assert values.data == {"question": "q"}


def test_interrupts_from_a_local_v1_values_stream() -> None:
    config: Any = {"configurable": {"thread_id": "parts-1"}}
    parts = list(interrupt_graph().stream({"question": "q"}, config, stream_mode="values"))
    events = lgs.from_parts(parts, mode="values").collect()
    assert [ev.kind for ev in events].count("interrupt") == 1


def test_modes_filter_keeps_interrupts() -> None:
    parts = [
        ("updates", {"n": {"x": 1}, "__interrupt__": [{"value": "v", "id": "i"}]}),
        ("custom", {"p": 1}),
    ]
    events = lgs.from_parts(parts, modes=["custom"]).collect()
    assert [ev.kind for ev in events] == ["interrupt", "custom"]


@pytest.mark.parametrize(
    ("part", "message"),
    [
        (42, "no stream mode in it"),
        ({"type": "nonsense", "ns": (), "data": 1}, "unknown stream mode 'nonsense'"),
        (("messages", "not a pair"), "must be a .message, metadata. pair"),
        (("messages", (1, {})), "holds no message"),
        (("updates", [1, 2]), "must map node names"),
        (("messages", ({"type": "alien", "content": ""}, {})), "unknown message type 'alien'"),
        (("debug", {"type": "weird", "payload": {}}), "unknown debug event type 'weird'"),
        (("tools", {"event": "tool-exploded"}), "unknown tools event 'tool-exploded'"),
    ],
)
def test_malformed_parts_say_what_is_wrong(part: object, message: str) -> None:
    with pytest.raises(lgs.MalformedPartError, match=message) as info:
        lgs.from_parts([part]).collect()
    assert "Expected a LangGraph part" in str(info.value)


def test_bad_mode_argument() -> None:
    with pytest.raises(lgs.UnknownStreamModeError, match="'value'"):
        lgs.from_parts([], mode="value")  # type: ignore[arg-type]


def test_revive_can_be_turned_off() -> None:
    msg = {"type": "human", "content": "hi"}
    events = lgs.from_parts([("values", {"messages": [msg]})], revive_messages=False).collect()
    assert isinstance(events[0], lgs.Values)
    assert events[0].data == {"messages": [msg]}


def test_afrom_parts() -> None:
    async def parts() -> AsyncIterator[Any]:
        yield ("messages", (AIMessageChunk(content="a", id="m"), {"langgraph_node": "n"}))
        yield ("messages", (AIMessageChunk(content="b", id="m"), {"langgraph_node": "n"}))
        yield ("updates", {"n": {"x": "ab"}})

    async def main() -> tuple[str, list[lgs.Event]]:
        text = await (lgs.afrom_parts(parts()) | lgs.ops.text()).text()
        return text, await lgs.afrom_parts(parts()).collect()

    text, events = asyncio.run(main())
    assert text == "ab"
    assert [ev.kind for ev in events] == ["token", "token", "update"]


_text_chunks = st.builds(
    AIMessageChunk,
    content=st.text(max_size=20),
    id=st.one_of(st.none(), st.text(min_size=1, max_size=12)),
    name=st.one_of(st.none(), st.text(max_size=5)),
    additional_kwargs=st.one_of(
        st.just({}), st.builds(dict, reasoning_content=st.text(max_size=10))
    ),
    response_metadata=st.dictionaries(st.sampled_from(["model", "done"]), st.text(max_size=5)),
    usage_metadata=st.one_of(
        st.none(),
        st.builds(
            lambda i, o: {"input_tokens": i, "output_tokens": o, "total_tokens": i + o},
            st.integers(0, 99),
            st.integers(0, 99),
        ),
    ),
    chunk_position=st.sampled_from([None, "last"]),
)


@given(_text_chunks, st.sets(st.sampled_from(["name", "usage_metadata", "chunk_position"])))
def test_reviving_a_text_token_fast_equals_validating_it(
    chunk: AIMessageChunk, dropped: set[str]
) -> None:
    # revive_message skips validation for plain text tokens (the remote hot path);
    # the result must be what validation builds, also when optional keys are absent.
    data = {k: v for k, v in chunk.model_dump().items() if k not in dropped}
    fast = lgs.revive_message(data)
    assert type(fast) is AIMessageChunk
    assert fast == AIMessageChunk.model_validate(data)
    assert fast.__dict__ == AIMessageChunk.model_validate(data).__dict__
    assert fast.text == chunk.text


def test_tokens_with_tool_call_pieces_are_still_validated() -> None:
    chunk = AIMessageChunk(
        content="", tool_call_chunks=[{"name": "add", "args": '{"a": 1}', "id": "c1", "index": 0}]
    )
    revived = lgs.revive_message(chunk.model_dump())
    assert isinstance(revived, AIMessageChunk)
    assert revived.tool_calls == [
        {"name": "add", "args": {"a": 1}, "id": "c1", "type": "tool_call"}
    ]
