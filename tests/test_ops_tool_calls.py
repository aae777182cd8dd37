"""lgs.ops.tool_calls(): streamed tool-call pieces assembled into whole calls."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import Any, Literal, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.messages.ai import add_ai_message_chunks
from langchain_core.messages.tool import ToolCallChunk, tool_call, tool_call_chunk
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_ollama import ChatOllama
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph

import lgstream as lgs

Graph = CompiledStateGraph[Any, Any, Any, Any]
ToolCallEvent = lgs.ToolCallStart | lgs.ToolCallDelta | lgs.ToolCallReady | lgs.ToolCallInvalid
TOOL_CALL_EVENTS = (lgs.ToolCallStart, lgs.ToolCallDelta, lgs.ToolCallReady, lgs.ToolCallInvalid)


# --- helpers ------------------------------------------------------------------------


def piece(
    args: str | None = None,
    *,
    name: str | None = None,
    id: str | None = None,
    index: int | None = None,
) -> ToolCallChunk:
    return tool_call_chunk(name=name, args=args, id=id, index=index)


def token(
    pieces: Sequence[ToolCallChunk] = (),
    *,
    message_id: str | None = "m",
    node: str | None = "agent",
    ns: tuple[str, ...] = (),
    last: bool = False,
) -> lgs.Token:
    chunk = AIMessageChunk(
        content="",
        tool_call_chunks=list(pieces),
        id=message_id,
        chunk_position="last" if last else None,
    )
    return lgs.Token(text="", message_id=message_id, chunk=chunk, node=node, ns=ns)


def run(events: Sequence[lgs.Event]) -> list[lgs.Event]:
    return list(lgs.EventStream[lgs.Event](iter(events)) | lgs.ops.tool_calls())


T = TypeVar("T")


def of_type(events: Sequence[object], kind: type[T]) -> list[T]:
    return [ev for ev in events if isinstance(ev, kind)]


def ready(events: Sequence[lgs.Event]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(ev.call_id, ev.name, ev.args) for ev in of_type(events, lgs.ToolCallReady)]


def deltas_of(events: Sequence[lgs.Event], call_id: str) -> str:
    return "".join(
        ev.args_delta for ev in of_type(events, lgs.ToolCallDelta) if ev.call_id == call_id
    )


def check_lifecycles(out: Sequence[lgs.Event]) -> None:
    """Each call: one start first, its deltas, then exactly one ready or invalid."""
    seen: dict[str, str] = {}  # call id -> "open" | "done"
    for ev in out:
        if isinstance(ev, lgs.ToolCallStart):
            assert ev.call_id not in seen, f"{ev.call_id} started twice"
            seen[ev.call_id] = "open"
        elif isinstance(ev, lgs.ToolCallDelta):
            assert seen.get(ev.call_id) == "open", f"delta outside {ev.call_id}'s lifetime"
            assert ev.args_delta, "empty delta"
        elif isinstance(ev, lgs.ToolCallReady | lgs.ToolCallInvalid):
            assert seen.get(ev.call_id) == "open", f"{ev.call_id} completed twice or unstarted"
            seen[ev.call_id] = "done"
    assert all(state == "done" for state in seen.values()), seen


def passed_through(out: Sequence[lgs.Event]) -> list[lgs.Event]:
    return [ev for ev in out if not isinstance(ev, TOOL_CALL_EVENTS)]


# --- strategies ---------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=6), json_values, max_size=4)
names = st.text(min_size=1, max_size=10)


@st.composite
def fragments(draw: st.DrawFn, text: str) -> list[str]:
    """``text`` cut anywhere, empty pieces included; they join back to ``text``."""
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=6)))
    return [text[a:b] for a, b in pairwise([0, *cuts, len(text)])]


@st.composite
def interleaved(draw: st.DrawFn, counts: Sequence[int]) -> list[tuple[int, int]]:
    """(call, fragment) pairs: any interleaving that keeps each call's own order."""
    labels = draw(st.permutations([i for i, n in enumerate(counts) for _ in range(n)]))
    next_fragment = [0] * len(counts)
    out = []
    for i in labels:
        out.append((i, next_fragment[i]))
        next_fragment[i] += 1
    return out


def group(
    data: st.DataObject, pieces: Sequence[tuple[int, ToolCallChunk]]
) -> list[list[ToolCallChunk]]:
    """Pieces into chunks: several calls may share a chunk, one call appears once per
    chunk (as providers send them, and as langchain-core's merge expects)."""
    chunks: list[list[ToolCallChunk]] = []
    calls_in_last: set[int] = set()
    for call, p in pieces:
        if not chunks or call in calls_in_last or data.draw(st.booleans()):
            chunks.append([])
            calls_in_last = set()
        chunks[-1].append(p)
        calls_in_last.add(call)
    return chunks


Ending = Literal["last_chunk", "update", "message_done", "end_of_stream"]
endings: st.SearchStrategy[Ending] = st.sampled_from(
    ["last_chunk", "update", "message_done", "end_of_stream"]
)


def end_events(ending: Ending, chunks: Sequence[AIMessageChunk]) -> list[lgs.Event]:
    if ending == "last_chunk":
        return [token(last=True)]
    if ending == "update":
        return [lgs.Update(node="agent", data={})]
    if ending == "message_done":
        whole = add_ai_message_chunks(chunks[0], *chunks[1:])
        return [
            lgs.MessageDone(
                node="agent", message_id="m", message=whole, text="", reason="last_chunk"
            )
        ]
    return []


# --- the main property --------------------------------------------------------------


@given(
    st.lists(st.tuples(names, json_objects), min_size=1, max_size=4),
    st.lists(st.integers(0, 30), min_size=4, max_size=4, unique=True),
    endings,
    st.data(),
)
def test_interleaved_indexed_calls_assemble_like_langchain(
    calls: list[tuple[str, dict[str, Any]]],
    indices: list[int],
    ending: Ending,
    data: st.DataObject,
) -> None:
    texts = [json.dumps(args) for _, args in calls]
    ids = [f"call_{i}" for i in range(len(calls))]
    frags = [data.draw(fragments(text)) for text in texts]
    order = data.draw(interleaved([len(f) for f in frags]))
    pieces = [
        (
            i,
            piece(
                frags[i][j],
                name=calls[i][0] if j == 0 else None,
                id=ids[i] if j == 0 else None,
                index=indices[i],
            ),
        )
        for i, j in order
    ]
    chunks = [token(grouped) for grouped in group(data, pieces)]
    events: list[lgs.Event] = [*chunks, *end_events(ending, [t.chunk for t in chunks])]

    out = run(events)

    assert passed_through(out) == events
    check_lifecycles(out)
    assert not of_type(out, lgs.ToolCallInvalid)
    expected = sorted(
        ((ids[i], name, args) for i, (name, args) in enumerate(calls)),
        key=lambda call: indices[ids.index(call[0])],
    )
    assert ready(out) == expected  # in index order
    for call_id, text in zip(ids, texts, strict=True):
        assert deltas_of(out, call_id) == text  # no piece on the wrong call
    starts = {ev.call_id: ev for ev in of_type(out, lgs.ToolCallStart)}
    for i, call_id in enumerate(ids):
        assert (starts[call_id].name, starts[call_id].index) == (calls[i][0], indices[i])
        assert starts[call_id].message_id == "m"

    oracle = add_ai_message_chunks(chunks[0].chunk, *(t.chunk for t in chunks[1:]))
    assert not oracle.invalid_tool_calls
    assert sorted((tc["id"] or "", tc["name"], tc["args"]) for tc in oracle.tool_calls) == sorted(
        ready(out), key=lambda call: call[0]
    )


@given(st.lists(st.tuples(names, json_objects), min_size=1, max_size=4), st.data())
def test_pieces_without_ids_or_names_get_stable_made_up_ids(
    calls: list[tuple[str, dict[str, Any]]], data: st.DataObject
) -> None:
    """Index only, no provider id: ids are "{message_id}:{n}" in first-seen order."""
    frags = [data.draw(fragments(json.dumps(args))) for _, args in calls]
    order = data.draw(interleaved([len(f) for f in frags]))
    events: list[lgs.Event] = [
        token([piece(frags[i][j], name=calls[i][0] if j == 0 else None, index=i)]) for i, j in order
    ]
    out = run(events)
    check_lifecycles(out)
    first_seen = list(dict.fromkeys(i for i, _ in order))
    made_up = {i: f"m:{n}" for n, i in enumerate(first_seen)}
    assert ready(out) == [(made_up[i], name, args) for i, (name, args) in enumerate(calls)]
    assert run(events) == out  # deterministic


# --- provider shapes ----------------------------------------------------------------


@given(
    st.lists(st.lists(st.tuples(names, json_objects), min_size=1, max_size=3), max_size=3),
    st.booleans(),
)
def test_ollama_whole_calls_are_complete_at_once(
    chunk_calls: list[list[tuple[str, dict[str, Any]]]], last: bool
) -> None:
    """ChatOllama's shape: each call whole, in one chunk, index None, a client-made id."""
    n = 0
    chunks: list[lgs.Token] = []
    for calls in chunk_calls:
        made = []
        for name, args in calls:
            made.append(tool_call(name=name, args=args, id=f"uuid-{n}"))
            n += 1
        message = AIMessageChunk(content="", tool_calls=made, id="m")  # as ChatOllama builds it
        chunks.append(lgs.Token(text="", message_id="m", chunk=message, node="agent"))
    events: list[lgs.Event] = [*chunks, token(last=True)] if last else list(chunks)

    out = run(events)

    expected = [
        (f"uuid-{k}", name, args)
        for k, (name, args) in enumerate(call for calls in chunk_calls for call in calls)
    ]
    assert ready(out) == expected
    # Each call's start, delta and ready follow the token that carried it, at once.
    at_once: list[list[type[lgs.Event]]] = []
    for ev in out:
        if isinstance(ev, lgs.Token):
            at_once.append([])
        else:
            at_once[-1].append(type(ev))
    per_chunk = [len(calls) for calls in chunk_calls]
    assert at_once[: len(chunks)] == [
        [lgs.ToolCallStart, lgs.ToolCallDelta, lgs.ToolCallReady] * k for k in per_chunk
    ]
    assert all(ev.index is None for ev in of_type(out, lgs.ToolCallStart))
    oracle = (
        add_ai_message_chunks(chunks[0].chunk, *(t.chunk for t in chunks[1:])) if chunks else None
    )
    if oracle is not None:
        assert [(tc["id"], tc["name"], tc["args"]) for tc in oracle.tool_calls] == expected


@given(
    st.lists(st.tuples(names, json_objects), min_size=1, max_size=4),
    st.booleans(),
    st.data(),
)
def test_providers_without_index_send_calls_one_after_another(
    calls: list[tuple[str, dict[str, Any]]], repeat_id: bool, data: st.DataObject
) -> None:
    """No index at all: the id (on the first piece, or on every piece) starts a call;
    pieces without an id continue the current one."""
    events: list[lgs.Event] = []
    for i, (name, args) in enumerate(calls):
        for j, frag in enumerate(data.draw(fragments(json.dumps(args)))):
            first = j == 0
            call_id = f"c{i}" if first or repeat_id else None
            events.append(token([piece(frag, name=name if first else None, id=call_id)]))
    events.append(lgs.Update(node="agent", data={}))

    out = run(events)

    check_lifecycles(out)
    # A call whose first piece is a whole object is ready at once, maybe before an
    # earlier call that was still open: compare regardless of order.
    expected = [(f"c{i}", name, args) for i, (name, args) in enumerate(calls)]
    assert sorted(ready(out), key=lambda call: call[0]) == expected
    for i, (_, args) in enumerate(calls):
        assert deltas_of(out, f"c{i}") == json.dumps(args)
    assert passed_through(out) == events


def test_openai_style_stream() -> None:
    """Id and name first with empty arguments, then arguments by index, two calls."""
    events: list[lgs.Event] = [
        token([piece("", name="get_weather", id="call_a", index=0)]),
        token([piece('{"ci', index=0)]),
        token([piece('ty": "Paris"}', index=0)]),
        token([piece("", name="get_time", id="call_b", index=1)]),
        token([piece('{"tz": "CET"}', index=1)]),
        token(last=True),
    ]
    out = run(events)
    assert [type(ev).__name__ for ev in out] == [
        "Token",
        "ToolCallStart",
        "Token",
        "ToolCallDelta",
        "Token",
        "ToolCallDelta",
        "Token",
        "ToolCallStart",
        "Token",
        "ToolCallDelta",
        "Token",
        "ToolCallReady",
        "ToolCallReady",
    ]
    assert ready(out) == [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_time", {"tz": "CET"}),
    ]


def test_a_new_id_on_a_used_index_is_a_new_call() -> None:
    """As langchain-core's merge_lists: same index, contradicting id -> another call."""
    events: list[lgs.Event] = [
        token([piece('{"a": 1}', name="f", id="x", index=0)]),
        token([piece('{"b": ', name="g", id="y", index=0)]),
        # Goes to the newer call with that index (langchain-core's merge_lists would
        # add it to the first one, making both calls invalid).
        token([piece("2}", index=0)]),
    ]
    out = run(events)
    assert ready(out) == [("x", "f", {"a": 1}), ("y", "g", {"b": 2})]


def test_calls_complete_in_index_order_not_arrival_order() -> None:
    out = run(
        [
            token([piece("{}", name="second", id="b", index=1)]),
            token([piece("{}", name="first", id="a", index=0)]),
        ]
    )
    assert [name for _, name, _ in ready(out)] == ["first", "second"]


def test_empty_arguments_mean_an_empty_object() -> None:
    out = run([token([piece("", name="now", id="t", index=0)]), token(last=True)])
    assert ready(out) == [("t", "now", {})]
    assert not of_type(out, lgs.ToolCallDelta)


def test_pieces_that_carry_nothing_start_no_call() -> None:
    out = run(
        [
            token([piece('{"q": 1}', name="f", id="o1")]),  # whole: complete at once
            token([piece(""), piece("  ")]),  # nothing to continue, nothing to start
            token([piece('{"q": 2}')]),  # no id, no call open: a call of its own
        ]
    )
    check_lifecycles(out)
    assert ready(out) == [("o1", "f", {"q": 1}), ("m:1", "", {"q": 2})]


def test_a_reused_provider_id_gets_a_made_up_one() -> None:
    out = run([token([piece("{}", name="f", id="dup"), piece("{}", name="g", id="dup")])])
    assert ready(out) == [("dup", "f", {}), ("m:1", "g", {})]


def test_messages_without_ids_get_distinct_made_up_ids() -> None:
    out = run(
        [
            token([piece("{}", name="f", index=0)], message_id=None, node="a"),
            token([piece("{}", name="g", index=0)], message_id=None, node="b"),
        ]
    )
    assert ready(out) == [("call-0:0", "f", {}), ("call-1:0", "g", {})]
    assert [ev.message_id for ev in of_type(out, lgs.ToolCallReady)] == [None, None]


# --- bad calls ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ('{"city": "Par', "Unterminated string"),
        ('{"a": 1} trailing', "Extra data"),
        ("[1, 2]", "a JSON array, not an object"),
        ('"text"', "a JSON string, not an object"),
        ("42", "a JSON number, not an object"),
        ("null", "a JSON null, not an object"),
        ("true", "a JSON boolean, not an object"),
        ("[" * 100_000, ""),  # too deep for the parser: still no exception
    ],
)
def test_bad_arguments_make_an_invalid_call_and_the_stream_goes_on(raw: str, error: str) -> None:
    events: list[lgs.Event] = [
        token([piece(raw[:3], name="bad", id="b1", index=0)]),
        token([piece(raw[3:], index=0)]),
        token(last=True),
        token([piece('{"ok": ', name="good", id="g1", index=0)], message_id="m2"),
        token([piece("true}", index=0)], message_id="m2"),
        lgs.Update(node="agent", data={}),
    ]
    out = run(events)
    check_lifecycles(out)
    (invalid,) = of_type(out, lgs.ToolCallInvalid)
    assert (invalid.call_id, invalid.name, invalid.raw_args) == ("b1", "bad", raw)
    assert error in invalid.error
    assert invalid.error
    assert ready(out) == [("g1", "good", {"ok": True})]
    assert passed_through(out) == events


def test_literal_newlines_inside_strings_are_accepted() -> None:
    """Models write raw control characters in JSON strings; langchain-core accepts them."""
    out = run([token([piece('{"text": "two\nlines"}', name="note", id="n", index=0)])])
    assert ready(out) == [("n", "note", {"text": "two\nlines"})]


# --- messages never mix -------------------------------------------------------------

Source = Literal["message_id", "node", "ns"]


@given(
    st.sampled_from(["message_id", "node", "ns"]),
    st.lists(st.tuples(names, json_objects), min_size=2, max_size=2),
    st.data(),
)
def test_two_messages_streaming_at_once_never_mix(
    differ: Source, calls: list[tuple[str, dict[str, Any]]], data: st.DataObject
) -> None:
    """Two models stream calls with the same index and no ids, interleaved."""
    where: list[dict[str, Any]] = [
        {"message_id": "m", "node": "agent", "ns": ()},
        {"message_id": "m", "node": "agent", "ns": ()},
    ]
    where[1][differ] = {"message_id": "m2", "node": "critic", "ns": ("sub:1",)}[differ]
    frags = [data.draw(fragments(json.dumps(args))) for _, args in calls]
    order = data.draw(interleaved([len(f) for f in frags]))
    events: list[lgs.Event] = [
        token([piece(frags[i][j], name=calls[i][0] if j == 0 else None, index=0)], **where[i])
        for i, j in order
    ]
    out = run(events)
    check_lifecycles(out)
    got = {
        (ev.node, ev.ns, ev.message_id): (ev.name, ev.args)
        for ev in of_type(out, lgs.ToolCallReady)
    }
    assert got == {
        (w["node"], w["ns"], w["message_id"]): call for w, call in zip(where, calls, strict=True)
    }
    assert len({ev.call_id for ev in of_type(out, lgs.ToolCallReady)}) == 2


def test_a_message_ends_only_its_own_calls() -> None:
    events: list[lgs.Event] = [
        token([piece('{"a": ', name="f", id="a", index=0)], message_id="m1", node="one"),
        token([piece('{"b": ', name="g", id="b", index=0)], message_id="m2", node="two"),
        token(last=True, message_id="m1", node="one"),  # ends m1 only
        lgs.Update(node="one", data={}),
        token([piece("2}", index=0)], message_id="m2", node="two"),
        lgs.Update(node="two", data={}),
    ]
    out = run(events)
    assert [(ev.call_id, type(ev).__name__) for ev in out if isinstance(ev, TOOL_CALL_EVENTS)][
        -3:
    ] == [("a", "ToolCallInvalid"), ("b", "ToolCallDelta"), ("b", "ToolCallReady")]
    assert out.index(events[2]) < out.index(of_type(out, lgs.ToolCallInvalid)[0])
    assert ready(out) == [("b", "g", {"b": 2})]


def test_an_update_from_the_node_that_ran_a_subgraph_ends_its_calls() -> None:
    inner = ("research:task-1",)
    events: list[lgs.Event] = [
        token([piece('{"q": 1}', name="search", id="s", index=0)], node="inner", ns=inner),
        lgs.Update(node="write", data={}),  # another node: not ended
        lgs.Update(node="inner", ns=("other:task-2",), data={}),  # another subgraph
        lgs.Update(node="research", data={}),  # the parent node returned
    ]
    out = run(events)
    assert out[-2] == lgs.ToolCallReady(
        call_id="s", name="search", args={"q": 1}, message_id="m", node="inner", ns=inner
    )
    assert out[-1] is events[-1]  # the update follows what it ended


def test_message_done_ends_the_message_it_names() -> None:
    first = token([piece('{"x": 1}', name="f", id="c", index=0)])
    done = lgs.MessageDone(
        node="agent", message_id="m", message=first.chunk, text="", reason="node_update"
    )
    other = lgs.MessageDone(
        node="agent", message_id="zzz", message=first.chunk, text="", reason="node_update"
    )
    out = run([first, other, done])
    assert out[3:] == [other, done, of_type(out, lgs.ToolCallReady)[0]]


@pytest.mark.parametrize(
    "end", [lgs.RunFinished(run_id="r"), lgs.RunFailed(run_id="r", error=RuntimeError("x"))]
)
def test_the_end_of_the_run_stays_its_last_event(end: lgs.Event) -> None:
    out = run([token([piece('{"x": 1}', name="f", id="c", index=0)]), end])
    assert out[-1] is end
    assert ready(out) == [("c", "f", {"x": 1})]
    assert isinstance(out[-2], lgs.ToolCallReady)


# --- cost ---------------------------------------------------------------------------


def test_arguments_are_parsed_once_however_many_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[int] = []
    real_loads = json.loads

    def counting_loads(text: str, **kwargs: Any) -> Any:
        parsed.append(len(text))
        return real_loads(text, **kwargs)

    text = json.dumps({"text": "x" * 50_000})
    events: list[lgs.Event] = [token([piece("", name="write", id="w", index=0)])]
    events += [token([piece(text[k : k + 3], index=0)]) for k in range(0, len(text), 3)]
    # Patched after the chunks are built: AIMessageChunk parses its own pieces.
    monkeypatch.setattr(json, "loads", counting_loads)
    out = run(events)
    assert ready(out) == [("w", "write", {"text": "x" * 50_000})]
    assert parsed == [len(text)]


# --- real graphs --------------------------------------------------------------------


class ToolCallingModel(BaseChatModel):
    """A chat model that streams scripted tool-call pieces, one chunk per list."""

    script: list[list[ToolCallChunk]]
    delay: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "tool-calling-test"

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for pieces in self.script:
            if self.delay:
                threading.Event().wait(self.delay)  # let a parallel branch interleave
            yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=pieces))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))


def agent_graph(**models: BaseChatModel) -> Graph:
    """One node per model, all started at once, each returning its model's answer."""

    def make(model: BaseChatModel) -> Any:  # a node function; LangGraph's types are strict
        def call(state: MessagesState) -> dict[str, Any]:
            return {"messages": [model.invoke(state["messages"])]}

        return call

    builder = StateGraph(MessagesState)
    for name, model in models.items():
        builder.add_node(name, make(model))
        builder.add_edge(START, name)
        builder.add_edge(name, END)
    return builder.compile()


def weather_script(city: str, prefix: str) -> list[list[ToolCallChunk]]:
    weather, time = json.dumps({"city": city, "units": "metric"}), json.dumps({"tz": city})
    return [
        [piece("", name="get_weather", id=f"{prefix}_w", index=0)],
        [piece(weather[:7], index=0), piece("", name="get_time", id=f"{prefix}_t", index=1)],
        [piece(time[:5], index=1)],
        [piece(weather[7:], index=0)],
        [piece(time[5:], index=1)],
    ]


def final_tool_calls(events: Sequence[lgs.Event], node: str) -> list[tuple[str, str, Any]]:
    (update,) = [ev for ev in events if isinstance(ev, lgs.Update) and ev.node == node]
    (message,) = update.data["messages"]
    assert isinstance(message, AIMessage)
    return [(tc["id"] or "", tc["name"], tc["args"]) for tc in message.tool_calls]


def test_a_real_graph_streams_tool_calls_end_to_end() -> None:
    graph = agent_graph(agent=ToolCallingModel(script=weather_script("Paris", "call")))
    inputs = {"messages": [HumanMessage("Weather and time in Paris?")]}
    out = (
        lgs.stream(graph, inputs, modes=["messages", "updates"]) | lgs.ops.tool_calls()
    ).collect()

    check_lifecycles(out)
    assert ready(out) == final_tool_calls(out, "agent")
    assert ready(out) == [
        ("call_w", "get_weather", {"city": "Paris", "units": "metric"}),
        ("call_t", "get_time", {"tz": "Paris"}),
    ]
    starts = of_type(out, lgs.ToolCallStart)
    assert [(ev.call_id, ev.index, ev.node) for ev in starts] == [
        ("call_w", 0, "agent"),
        ("call_t", 1, "agent"),
    ]
    (message_id,) = {ev.message_id for ev in out if isinstance(ev, ToolCallEvent)}
    assert message_id is not None
    assert message_id.startswith("lc_run-")  # LangChain's id for the model call
    # The model's last chunk ended the calls: both are ready before the node's update.
    update = next(i for i, ev in enumerate(out) if isinstance(ev, lgs.Update))
    assert all(out.index(ev) < update for ev in of_type(out, lgs.ToolCallReady))


def test_parallel_nodes_streaming_the_same_indices_never_mix() -> None:
    graph = agent_graph(
        paris=ToolCallingModel(script=weather_script("Paris", "p"), delay=0.002),
        tokyo=ToolCallingModel(script=weather_script("Tokyo", "t"), delay=0.002),
    )
    inputs = {"messages": [HumanMessage("Weather?")]}
    out = (
        lgs.stream(graph, inputs, modes=["messages", "updates"]) | lgs.ops.tool_calls()
    ).collect()

    check_lifecycles(out)
    for node in ("paris", "tokyo"):
        mine = [ev for ev in out if isinstance(ev, lgs.ToolCallReady) and ev.node == node]
        assert [(ev.call_id, ev.name, ev.args) for ev in mine] == final_tool_calls(out, node)


async def _collect_async(graph: Graph, inputs: dict[str, Any]) -> list[lgs.Event]:
    stream = lgs.astream(graph, inputs, modes=["messages", "updates"]) | lgs.ops.tool_calls()
    return await stream.collect()


@pytest.mark.asyncio
async def test_a_real_graph_streamed_async() -> None:
    graph = agent_graph(agent=ToolCallingModel(script=weather_script("Oslo", "call")))
    out = await _collect_async(graph, {"messages": [HumanMessage("Weather in Oslo?")]})
    check_lifecycles(out)
    assert ready(out) == final_tool_calls(out, "agent")
    assert len(ready(out)) == 2


def test_chat_ollama_tool_calls_through_a_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real ChatOllama code on Ollama's NDJSON replies (the HTTP call replaced)."""
    replies: list[dict[str, Any]] = [
        {"model": "llama3.2", "message": {"role": "assistant", "content": ""}, "done": False},
        {
            "model": "llama3.2",
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                    {"function": {"name": "get_time", "arguments": {}}},
                ],
            },
            "done": False,
        },
        {
            "model": "llama3.2",
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
        },
    ]

    def fake_chat_stream(self: ChatOllama, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        yield from replies

    monkeypatch.setattr(ChatOllama, "_create_chat_stream", fake_chat_stream)
    graph = agent_graph(agent=ChatOllama(model="llama3.2"))
    inputs = {"messages": [HumanMessage("Weather in Paris?")]}
    out = (
        lgs.stream(graph, inputs, modes=["messages", "updates"]) | lgs.ops.tool_calls()
    ).collect()

    check_lifecycles(out)
    expected = final_tool_calls(out, "agent")
    assert [(name, args) for _, name, args in expected] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {}),
    ]
    assert ready(out) == expected  # ChatOllama's uuid ids, kept
    # Whole calls: start, delta, ready right after the token that carried them.
    carrier = next(
        i for i, ev in enumerate(out) if isinstance(ev, lgs.Token) and ev.chunk.tool_call_chunks
    )
    assert [type(ev) for ev in out[carrier + 1 : carrier + 7]] == [
        lgs.ToolCallStart,
        lgs.ToolCallDelta,
        lgs.ToolCallReady,
    ] * 2


def test_repr_and_operator_protocol() -> None:
    op = lgs.ops.tool_calls()
    assert isinstance(op, lgs.Operator)
    assert isinstance(op, lgs.ops.ToolCalls)
    assert repr(op) == "tool_calls()"
    assert op.flush() == []
