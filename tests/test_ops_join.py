"""join_messages(), reasoning() and dedupe()."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.messages.ai import add_ai_message_chunks
from langchain_core.messages.tool import tool_call_chunk

import lgstream as lgs
from lgstream.testing import FakeChatModel

from .graphs import subgraph_graph, tool_graph, two_model_graph


def token(chunk: AIMessageChunk, node: str = "n", ns: tuple[str, ...] = ()) -> lgs.Token:
    return lgs.Token(
        text=chunk.text, message_id=chunk.id, chunk=chunk, node=node, ns=ns, metadata={}
    )


def run(events: list[lgs.Event], op: lgs.Operator[lgs.Event, lgs.Event]) -> list[lgs.Event]:
    return list(lgs.EventStream[lgs.Event](iter(events)) | op)


def done(events: list[lgs.Event]) -> dict[str, lgs.MessageDone]:
    return {ev.message_id: ev for ev in events if isinstance(ev, lgs.MessageDone)}


@st.composite
def cuts(draw: st.DrawFn, text: str) -> list[str]:
    """Any split of ``text`` into pieces (empty pieces allowed)."""
    points = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8)))
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


json_args = st.dictionaries(
    st.text(max_size=5), st.integers() | st.text(max_size=8) | st.booleans(), max_size=3
)


@st.composite
def streamed_message(draw: st.DrawFn, message_id: str) -> list[AIMessageChunk]:
    """The chunks a provider might stream for one message: text pieces, tool-call
    argument fragments by index, usage and metadata on the last chunk."""
    chunks = [AIMessageChunk(content=piece, id=message_id) for piece in draw(cuts(draw(st.text())))]
    for index, args in enumerate(draw(st.lists(json_args, max_size=3))):
        fragments = draw(cuts(json.dumps(args)))
        for i, fragment in enumerate(fragments):
            first = i == 0
            call = tool_call_chunk(
                name=f"tool{index}" if first else None,
                args=fragment,
                id=f"call-{message_id}-{index}" if first else None,
                index=index,
            )
            chunks.append(AIMessageChunk(content="", tool_call_chunks=[call], id=message_id))
    chunks = draw(st.permutations(chunks)) if draw(st.booleans()) else chunks
    last = AIMessageChunk(
        content="",
        id=message_id,
        usage_metadata={"input_tokens": 3, "output_tokens": len(chunks), "total_tokens": 9},
        response_metadata={"model_name": "fake", "done_reason": "stop"},
        chunk_position="last",
    )
    return [*chunks, last]


@given(st.data())
def test_joined_message_equals_langchain_core_for_any_chunking(data: st.DataObject) -> None:
    """Two messages streamed at once, interleaved in any order, each joined exactly as
    add_ai_message_chunks joins its own chunks."""
    a = data.draw(streamed_message("msg-a"))
    b = data.draw(streamed_message("msg-b"))
    order = data.draw(st.permutations(["a"] * len(a) + ["b"] * len(b)))
    queues = {"a": iter(a), "b": iter(b)}
    events: list[lgs.Event] = [token(next(queues[k]), node=k) for k in order]
    out = run(events, lgs.ops.join_messages())

    assert [ev for ev in out if isinstance(ev, lgs.Token)] == events  # deltas untouched
    joined = done(out)
    for key, chunks in (("msg-a", a), ("msg-b", b)):
        expected = add_ai_message_chunks(chunks[0], *chunks[1:])
        got = joined[key]
        assert got.message == expected
        assert got.message.tool_calls == expected.tool_calls
        assert got.message.usage_metadata == expected.usage_metadata
        assert got.text == expected.text
        assert got.reason == "last_chunk"
    # every message starts before its first token and is done after its last
    kinds = [(ev.kind, getattr(ev, "message_id", None)) for ev in out]
    for key in ("msg-a", "msg-b"):
        positions = [i for i, (_, mid) in enumerate(kinds) if mid == key]
        assert kinds[positions[0]][0] == "message_start"
        assert kinds[positions[-1]][0] == "message_done"


@given(st.lists(st.text(), max_size=6), st.sampled_from(["update", "end", "run_finished"]))
def test_messages_without_a_last_chunk_end_at_update_run_end_or_stream_end(
    pieces: list[str], ending: str
) -> None:
    chunks = [AIMessageChunk(content=p, id="m") for p in pieces or [""]]
    events: list[lgs.Event] = [token(c, node="gen") for c in chunks]
    if ending == "update":
        events.append(lgs.Update(node="gen", data={"answer": "".join(pieces)}))
    elif ending == "run_finished":
        events.append(lgs.RunFinished(run_id="r"))
    out = run(events, lgs.ops.join_messages())
    message_done = done(out)["m"]
    assert message_done.text == "".join(pieces)
    assert message_done.message == add_ai_message_chunks(chunks[0], *chunks[1:])
    expected_reason = {
        "update": "node_update",
        "end": "end_of_stream",
        "run_finished": "end_of_stream",
    }
    assert message_done.reason == expected_reason[ending]
    if ending != "end":  # done comes before the event that ended it
        assert out[-2] is message_done


def test_an_update_of_another_node_does_not_end_a_message() -> None:
    events: list[lgs.Event] = [
        token(AIMessageChunk(content="a", id="m"), node="gen"),
        lgs.Update(node="other", data={}),
        token(AIMessageChunk(content="b", id="m"), node="gen"),
    ]
    out = run(events, lgs.ops.join_messages())
    assert [ev.kind for ev in out] == ["message_start", "token", "update", "token", "message_done"]
    assert done(out)["m"].text == "ab"


def test_live_text_while_streaming() -> None:
    join = lgs.ops.join_messages()
    seen = []
    for piece in ["Hel", "lo", " there"]:
        join.feed(token(AIMessageChunk(content=piece, id="m")))
        seen.append(join.current_text("m"))
    assert seen == ["Hel", "Hello", "Hello there"]
    assert join.open_messages == ("m",)
    assert join.current_text("unknown") == ""
    (finished,) = join.flush()
    assert isinstance(finished, lgs.MessageDone)
    assert not join.open_messages


def test_id_less_tokens_of_different_nodes_stay_apart() -> None:
    events: list[lgs.Event] = [
        lgs.Token(text="a", message_id=None, chunk=AIMessageChunk(content="a"), node="x"),
        lgs.Token(text="1", message_id=None, chunk=AIMessageChunk(content="1"), node="y"),
        lgs.Token(text="b", message_id=None, chunk=AIMessageChunk(content="b"), node="x"),
    ]
    joined = sorted(
        ev.text for ev in run(events, lgs.ops.join_messages()) if isinstance(ev, lgs.MessageDone)
    )
    assert joined == ["1", "ab"]


def test_join_on_a_real_graph_with_two_models() -> None:
    graph = two_model_graph(
        FakeChatModel(script=["first answer"]), FakeChatModel(script=["second"])
    )
    out = (lgs.stream(graph, {"question": "q"}) | lgs.ops.join_messages()).collect()
    finished = [ev for ev in out if isinstance(ev, lgs.MessageDone)]
    assert [(ev.node, ev.text, ev.reason) for ev in finished] == [
        ("draft", "first answer", "last_chunk"),
        ("review", "second", "last_chunk"),
    ]
    assert isinstance(finished[0].message, AIMessageChunk)


def test_join_in_subgraphs_and_async() -> None:
    import asyncio

    graph = subgraph_graph(
        FakeChatModel(script=["inner a"], cycle=True), FakeChatModel(script=["outer b"], cycle=True)
    )

    async def main() -> list[lgs.Event]:
        stream = lgs.astream(graph, {"question": "q"}, subgraphs=True)
        return await (stream | lgs.ops.join_messages()).collect()

    finished = [ev for ev in asyncio.run(main()) if isinstance(ev, lgs.MessageDone)]
    expected: list[tuple[tuple[str, ...], str]] = [
        (("research", "inner"), "inner a"),
        (("write",), "outer b"),
    ]
    assert [(lgs.ops.node_path(ev), ev.text) for ev in finished] == expected


# --- reasoning ---------------------------------------------------------------------


def test_reasoning_from_ollama_and_content_blocks() -> None:
    ollama = AIMessageChunk(content="", additional_kwargs={"reasoning_content": "think "}, id="m")
    answer = AIMessageChunk(content="42", id="m")
    blocks = AIMessageChunk(
        content=[
            {"type": "reasoning", "reasoning": "step one. "},
            {"type": "thinking", "thinking": "step two. "},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "sum"}]},
            {"type": "text", "text": "Done"},
        ],
        id="m2",
    )
    events: list[lgs.Event] = [token(ollama), token(answer), token(blocks)]
    out = run(events, lgs.ops.reasoning())
    assert [ev.kind for ev in out] == ["reasoning", "token", "token", "reasoning", "token"]
    thoughts = [ev.text for ev in out if isinstance(ev, lgs.Reasoning)]
    assert thoughts == ["think ", "step one. step two. sum"]
    answers = list(lgs.EventStream[lgs.Event](iter(events)) | lgs.ops.reasoning() | lgs.ops.text())
    assert answers == ["42", "Done"]


@given(st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5)), max_size=8))
def test_reasoning_and_text_partition_what_was_streamed(pairs: list[tuple[str, str]]) -> None:
    chunks = [
        AIMessageChunk(
            content=answer,
            additional_kwargs={"reasoning_content": thought} if thought else {},
            id="m",
        )
        for thought, answer in pairs
    ]
    out = run([token(c) for c in chunks], lgs.ops.reasoning())
    assert "".join(ev.text for ev in out if isinstance(ev, lgs.Reasoning)) == "".join(
        t for t, _ in pairs
    )
    assert "".join(ev.text for ev in out if isinstance(ev, lgs.Token)) == "".join(
        a for _, a in pairs
    )


# --- dedupe ------------------------------------------------------------------------


def message(msg: Any, node: str = "n") -> lgs.Message:
    return lgs.Message(message=msg, message_id=msg.id, node=node)


def test_dedupe_drops_streamed_and_repeated_messages() -> None:
    streamed = AIMessage(content="hi", id="a1")
    tool_result = HumanMessage(content="x", id="h1")
    events: list[lgs.Event] = [
        token(AIMessageChunk(content="hi", id="a1")),
        message(streamed),  # the whole message after its own tokens
        message(tool_result),
        message(tool_result, node="parent"),  # a parent repeating a subgraph's output
    ]
    out = run(events, lgs.ops.dedupe())
    assert out == [events[0], events[2]]


def test_dedupe_gives_id_less_messages_their_own_identity() -> None:
    first = HumanMessage(content="same")
    second = HumanMessage(content="same")  # equal content, a different message
    out = run([message(first), message(second), message(first)], lgs.ops.dedupe())
    ids = [ev.message_id for ev in out if isinstance(ev, lgs.Message)]
    assert len(ids) == 2
    assert ids[0] != ids[1]
    assert all(i and i.startswith("lgs-message-") for i in ids)
    assert first.id is None  # the user's message is not mutated


def test_dedupe_on_a_real_graph() -> None:
    graph = tool_graph()
    events = lgs.stream(
        graph, {"messages": [("user", "hi")]}, modes=["messages", "updates"]
    ).collect()
    doubled = events + [ev for ev in events if isinstance(ev, lgs.Message)]  # replayed output
    out = run(doubled, lgs.ops.dedupe())
    assert [ev for ev in out if isinstance(ev, lgs.Message)] == [
        ev for ev in events if isinstance(ev, lgs.Message)
    ]


def test_a_parent_update_ends_the_messages_of_its_subgraph() -> None:
    inner = ("research:t1",)
    events: list[lgs.Event] = [
        token(AIMessageChunk(content="x", id="m"), node="inner", ns=inner),
        lgs.Update(node="inner", ns=("other:t2",), data={}),  # another subgraph's node
        lgs.Update(node="write", data={}),  # another root node
        lgs.Update(node="research", data={}),  # the parent returned
    ]
    out = run(events, lgs.ops.join_messages())
    assert [ev.kind for ev in out] == [
        "message_start",
        "token",
        "update",
        "update",
        "message_done",
        "update",
    ]


# --- the merge's fast path ---------------------------------------------------------

_ids = st.sampled_from([None, "", "m", "m2", "lc_run--abc", "lc_xyz", "provider-1"])
_contents = st.one_of(
    st.sampled_from(["", "a", " b", "ü"]),
    st.lists(
        st.one_of(
            st.sampled_from(["", "x"]),
            st.builds(
                lambda text, index: {"type": "text", "text": text, "index": index},
                st.sampled_from(["", "t", "u"]),
                st.integers(0, 1),
            ),
        ),
        max_size=2,
    ),
)


@st.composite
def any_chunk(draw: st.DrawFn) -> AIMessageChunk:
    """A chunk that may carry anything the merge reads, or nothing but text."""
    if draw(st.booleans()):  # plain: text and an id only
        return AIMessageChunk(content=draw(st.sampled_from(["", "a", " b"])), id=draw(_ids))
    extra: dict[str, Any] = {}
    if draw(st.booleans()):
        extra["additional_kwargs"] = {"reasoning_content": draw(st.sampled_from(["", "r"]))}
    if draw(st.booleans()):
        extra["response_metadata"] = {"model_name": "fake"}
    if draw(st.booleans()):
        extra["usage_metadata"] = draw(
            st.sampled_from(
                [
                    {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
                    {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
                ]
            )
        )
    if draw(st.booleans()):
        extra["tool_call_chunks"] = [
            tool_call_chunk(name="t", args=draw(st.sampled_from(["", '{"a"', ": 1}"])), index=0)
        ]
    if draw(st.booleans()):
        extra["chunk_position"] = "last"
    return AIMessageChunk(content=draw(_contents), id=draw(_ids), **extra)


@given(st.lists(any_chunk(), min_size=1, max_size=12))
def test_merge_fast_path_equals_the_oracle_on_its_edge_cases(chunks: list[AIMessageChunk]) -> None:
    """Mixed string / block content, empty strings, metadata, usage, tool-call chunks,
    changing and lc_ ids, "last" chunks: the fast merge equals add_ai_message_chunks."""
    from lgstream.ops._join import merge_chunks

    expected = add_ai_message_chunks(chunks[0], *chunks[1:])
    got = merge_chunks(chunks)
    assert got == expected
    assert type(got) is type(expected)
    assert got.usage_metadata == expected.usage_metadata
    assert got.tool_call_chunks == expected.tool_call_chunks
    # and through the operator, as one message whatever the chunks' own ids
    tokens: list[lgs.Event] = [
        lgs.Token(text=c.text, message_id="key", chunk=c, node="n") for c in chunks
    ]
    out = run(tokens, lgs.ops.join_messages())
    finished = [ev for ev in out if isinstance(ev, lgs.MessageDone)]
    if all(c.chunk_position != "last" for c in chunks[:-1]):
        assert finished[0].message == expected


def test_merge_does_not_change_the_chunks_it_joins() -> None:
    from lgstream.ops._join import merge_chunks

    chunks = [
        AIMessageChunk(content="a", id="m"),
        AIMessageChunk(content=["x", {"type": "text", "text": "t", "index": 0}], id="m"),
        AIMessageChunk(content="b", id="m"),
        AIMessageChunk(content="c", id="m"),
    ]
    before = [c.model_copy(deep=True) for c in chunks]
    assert merge_chunks(chunks) == add_ai_message_chunks(chunks[0], *chunks[1:])
    assert chunks == before


def test_langchain_s_closing_chunk_of_another_id_ends_the_message_it_closes() -> None:
    """langchain-core ends a stream with an empty ``chunk_position="last"`` chunk whose id
    is the run's (``lc_run--...``), even when the provider's chunks had their own id:
    that chunk is the end of the provider's message, not a message of its own."""
    from lgstream.testing import Reply

    model = FakeChatModel(script=[Reply(text="Hello there", id="provider-1")])
    graph = lgs.graphs.chat(model)
    events = list(lgs.stream(graph, {"messages": [("user", "Hi")]}) | lgs.ops.join_messages())
    tokens = [e for e in events if isinstance(e, lgs.Token)]
    assert {t.message_id for t in tokens} == {"provider-1", tokens[-1].message_id}
    assert tokens[-1].message_id != "provider-1"  # the closing chunk, as LangChain ids it
    done = [e for e in events if isinstance(e, lgs.MessageDone)]
    assert [(d.message_id, d.text, d.reason) for d in done] == [
        ("provider-1", "Hello there", "last_chunk")
    ]
    assert sum(isinstance(e, lgs.MessageStart) for e in events) == 1
