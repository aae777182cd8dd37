"""Recording event streams to cassettes and replaying them (lgstream.testing._record)."""

from __future__ import annotations

import dataclasses
import io
import json
import tempfile
import typing
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage

import lgstream as lgs
from lgstream.demo import build_seed_graph
from lgstream.testing import (
    CASSETTE_VERSION,
    CassetteError,
    FakeChatModel,
    RecordedError,
    Recorder,
    areplay,
    record,
    replay,
)

# --- strategies: one for every event kind, with JSON payloads -------------------------

# Keys from a small alphabet: a random dict must never look like a message
# ({"type": ..., "content": ...}), which replay would revive.
keys = st.text(alphabet="abcdefgh", min_size=1, max_size=4)
scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=8),
    st.floats(allow_nan=False, allow_infinity=False),
)
json_data = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)
texts = st.text(max_size=10)
ids = st.none() | st.text(alphabet="abc123-", min_size=1, max_size=8)
some_ids = st.text(alphabet="abc123-", min_size=1, max_size=8)
names = st.tuples(*[texts] * 0) | st.lists(texts, max_size=3).map(tuple)
steps = st.none() | st.integers(0, 50)
common: dict[str, Any] = {"ns": names, "node": st.none() | texts}
chunks = st.builds(AIMessageChunk, content=texts, id=ids)
messages = (
    st.builds(AIMessage, content=texts, id=ids)
    | st.builds(HumanMessage, content=texts, id=ids)
    | st.builds(ToolMessage, content=texts, tool_call_id=some_ids)
)
interrupts = st.builds(lgs.Interrupt, value=json_data, interrupt_id=ids, **common)
# A state that holds messages: replay revives them.
states = json_data | st.fixed_dictionaries({"messages": st.lists(messages, max_size=2)})

# One strategy per event kind; `common` fields (ns, node) for all of them.
by_kind: dict[type[Any], dict[str, st.SearchStrategy[Any]]] = {
    lgs.Token: {"text": texts, "message_id": ids, "chunk": chunks, "step": steps, "tags": names},
    lgs.Message: {"message": messages, "message_id": ids, "step": steps, "tags": names},
    lgs.Update: {"data": states},
    lgs.Values: {"data": states},
    lgs.Custom: {"data": json_data},
    lgs.Interrupt: {"value": json_data, "interrupt_id": ids},
    lgs.Checkpoint: {
        "values": states,
        "next": names,
        "checkpoint_id": ids,
        "step": steps,
        "timestamp": st.none() | texts,
    },
    lgs.TaskStart: {"task_id": texts, "input": states, "triggers": names, "step": steps},
    lgs.TaskResult: {
        "task_id": texts,
        "result": states,
        "error": st.none() | st.builds(ValueError, texts),
        "step": steps,
    },
    lgs.ToolStart: {"call_id": texts, "name": texts, "input": json_data},
    lgs.ToolOutputDelta: {"call_id": texts, "delta": json_data},
    lgs.ToolResult: {"call_id": texts, "output": json_data | messages},
    lgs.ToolError: {"call_id": texts, "message": texts},
    lgs.RunStarted: {"run_id": texts, "input": json_data, "modes": names},
    lgs.RunFinished: {
        "run_id": texts,
        "output": states,
        "interrupts": st.lists(interrupts, max_size=2).map(tuple),
    },
    lgs.RunFailed: {"run_id": texts, "error": st.builds(ValueError, texts)},
    lgs.MessageStart: {"message_id": texts},
    lgs.MessageDone: {
        "message_id": texts,
        "message": chunks,
        "text": texts,
        "reason": st.sampled_from(["last_chunk", "node_update", "end_of_stream"]),
    },
    lgs.Reasoning: {"message_id": ids, "text": texts},
    lgs.ToolCallStart: {
        "call_id": texts,
        "name": texts,
        "message_id": ids,
        "index": st.none() | st.integers(0, 5),
    },
    lgs.ToolCallDelta: {"call_id": texts, "args_delta": texts, "message_id": ids},
    lgs.ToolCallReady: {
        "call_id": texts,
        "name": texts,
        "args": st.dictionaries(keys, json_data, max_size=3),
        "message_id": ids,
    },
    lgs.ToolCallInvalid: {
        "call_id": texts,
        "name": texts,
        "raw_args": texts,
        "error": texts,
        "message_id": ids,
    },
    lgs.StateSnapshot: {"data": json_data},
    lgs.StatePatch: {
        "ops": st.lists(st.dictionaries(keys, json_data, max_size=2), max_size=2).map(tuple)
    },
}
events: st.SearchStrategy[lgs.Event] = st.one_of(
    *[st.builds(cls, **common, **fields) for cls, fields in by_kind.items()]
)


def test_the_strategy_covers_every_event_kind() -> None:
    assert set(by_kind) == set(typing.get_args(lgs.Event))


def _cassette(recorded: list[lgs.Event], directory: Path) -> Path:
    path = directory / "run.jsonl"
    assert record(lgs.EventStream(iter(recorded)), path).collect() == recorded
    return path


@settings(max_examples=200, deadline=None)
@given(st.lists(events, max_size=6))
def test_replay_gives_back_what_was_recorded(recorded: list[lgs.Event]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        replayed = replay(_cassette(recorded, Path(directory))).collect()
    # Fields left out of == (metadata, raw, errors) are not recorded, or not rebuilt.
    assert replayed == recorded
    for got, want in zip(replayed, recorded, strict=True):
        assert type(got) is type(want)
        for f in dataclasses.fields(want):
            if isinstance(getattr(want, f.name), tuple):
                assert isinstance(getattr(got, f.name), tuple), f.name
        if isinstance(got, lgs.Token):
            assert isinstance(got.chunk, AIMessageChunk)
        if isinstance(got, lgs.MessageDone):
            assert isinstance(got.message, AIMessageChunk)


def test_the_lines_are_the_events_json_form(tmp_path: Path) -> None:
    token = lgs.Token(text="Hi", message_id="m", chunk=AIMessageChunk(content="Hi", id="m"))
    path = _cassette([token], tmp_path)
    header, line = path.read_text().splitlines()
    assert json.loads(header) == {"format": "lgstream-cassette", "version": CASSETTE_VERSION}
    assert json.loads(line) == lgs.to_jsonable(token)


def test_what_is_not_recorded_comes_back_as_the_default(tmp_path: Path) -> None:
    token = lgs.Token(
        text="Hi",
        message_id=None,
        chunk=AIMessageChunk(content="Hi"),
        metadata={"langgraph_node": "generate"},
    )
    interrupt = lgs.Interrupt(value="ok?", interrupt_id="i", raw={"id": "i", "value": "ok?"})
    failed = lgs.RunFailed(run_id="r", error=KeyError("gone"))
    got = replay(_cassette([token, interrupt, failed], tmp_path)).collect()
    assert isinstance(got[0], lgs.Token)
    assert got[0].metadata == {}
    assert isinstance(got[1], lgs.Interrupt)
    assert got[1].raw is None
    assert isinstance(got[2], lgs.RunFailed)
    assert got[2].error == RecordedError("KeyError", "'gone'")
    assert isinstance(got[2].error, RecordedError)
    assert got[2].error.type_name == "KeyError"
    assert str(got[2].error) == "'gone'"
    assert repr(got[2].error) == "RecordedError('KeyError', \"'gone'\")"


def test_recording_a_graph_run_and_replaying_it_through_operators(tmp_path: Path) -> None:
    model = FakeChatModel(script=["Task decomposition splits work."])
    graph = build_seed_graph(model)
    path = tmp_path / "seed.jsonl"
    live = record(
        lgs.stream(graph, {"question": "q"}, modes=["messages", "updates", "values"]), path
    )
    live_text = (live | lgs.ops.nodes("generate") | lgs.ops.text()).text()
    assert live_text == "Task decomposition splits work."
    assert (replay(path) | lgs.ops.nodes("generate") | lgs.ops.text()).text() == live_text
    replayed = replay(path).collect()
    assert isinstance(replayed[0], lgs.RunStarted)
    assert isinstance(replayed[-1], lgs.RunFinished)
    assert replayed[-1].output == {"question": "q", "answer": "Task decomposition splits work."}
    done = [e for e in replay(path) | lgs.ops.join_messages() if isinstance(e, lgs.MessageDone)]
    assert [d.text for d in done] == [live_text]


@pytest.mark.asyncio
async def test_async_recording_and_replay(tmp_path: Path) -> None:
    graph = build_seed_graph(FakeChatModel(script=["Hello async world"]))
    path = tmp_path / "async.jsonl"
    live = await record(lgs.astream(graph, {"question": "q"}, modes=["messages"]), path).collect()
    replayed = await areplay(path).collect()
    assert replayed == live
    assert await (areplay(path) | lgs.ops.text()).text() == "Hello async world"


def test_a_recorder_is_an_operator_that_lets_events_through() -> None:
    out = io.StringIO()
    recorder = Recorder(out)
    assert isinstance(recorder, lgs.Operator)
    update = lgs.Update(node="n", data={"a": 1})
    assert recorder.feed(update) == (update,)
    assert recorder.flush() == ()
    assert recorder.count == 1
    assert len(out.getvalue().splitlines()) == 2


def test_an_empty_stream_still_gets_a_header(tmp_path: Path) -> None:
    path = _cassette([], tmp_path)
    assert len(path.read_text().splitlines()) == 1
    assert replay(path).collect() == []


def test_the_recorder_refuses_what_is_not_an_event() -> None:
    with pytest.raises(lgs.UsageError, match="pipe it before operators"):
        Recorder(io.StringIO()).feed("text")  # type: ignore[arg-type]


def test_closing_a_recording_stream_closes_the_file_and_the_source(tmp_path: Path) -> None:
    closed: list[str] = []

    def source() -> Iterator[lgs.Event]:
        try:
            for i in range(10):
                yield lgs.Custom(data=i)
        finally:
            closed.append("source")

    path = tmp_path / "part.jsonl"
    recording: lgs.EventStream[lgs.Event] = record(lgs.EventStream(source()), path)
    with recording as stream:
        for event in stream:
            if isinstance(event, lgs.Custom) and event.data == 2:
                break
    assert closed == ["source"]
    assert [e.data for e in replay(path) if isinstance(e, lgs.Custom)] == [0, 1, 2]


@pytest.mark.asyncio
async def test_closing_an_async_recording_stream_closes_the_source(tmp_path: Path) -> None:
    closed: list[str] = []

    async def source() -> AsyncIterator[lgs.Event]:
        try:
            for i in range(10):
                yield lgs.Custom(data=i)
        finally:
            closed.append("source")

    stream: lgs.AsyncEventStream[lgs.Event] = record(
        lgs.AsyncEventStream(source()), tmp_path / "part.jsonl"
    )
    async for _ in stream:
        break
    await stream.aclose()
    assert closed == ["source"]


# --- bad cassettes ---------------------------------------------------------------------

HEADER = '{"format":"lgstream-cassette","version":1}\n'
GOOD = '{"kind":"custom","ns":[],"node":null,"data":1}\n'


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (HEADER + GOOD + "{not json\n", 3, "not JSON"),
        (HEADER + '{"kind":"nope"}\n', 2, "unknown event kind 'nope'"),
        (HEADER + '{"kind":"custom","ns":[]}\n', 2, "not an lgstream event"),
        (HEADER + "[1, 2]\n", 2, "expected a JSON object"),
        (HEADER + GOOD + '{"kind":"message","message":{"type":"x"}}\n', 3, "not an lgstream"),
        (GOOD, 1, "not an lgstream cassette"),
        ('{"format":"lgstream-cassette","version":99}\n', 1, "version 99 is not supported"),
        ("", 1, "empty file"),
    ],
)
def test_a_bad_line_is_reported_with_its_number(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(CassetteError, match=reason) as caught:
        replay(path).collect()
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}, line {line}: ")
    assert isinstance(caught.value, lgs.StreamError)


@pytest.mark.asyncio
async def test_a_bad_line_is_reported_by_areplay_too(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(HEADER + "\n" + "{not json\n")
    with pytest.raises(CassetteError, match=r"line 3: not JSON"):
        await areplay(path).collect()


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "blank.jsonl"
    path.write_text(HEADER + "\n" + GOOD + "\n\n")
    assert replay(path).collect() == [lgs.Custom(data=1)]


def test_a_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        replay(tmp_path / "nope.jsonl").collect()


def test_cassettes_from_before_the_tool_field_renames_still_replay(tmp_path: Path) -> None:
    """Tool events were recorded with ``tool_call_id``/``tool_name`` before 0.1."""
    header = {"format": "lgstream-cassette", "version": CASSETTE_VERSION}
    lines = [
        header,
        {"kind": "tool_start", "ns": [], "node": None, "tool_call_id": "c1", "tool_name": "add"},
        {"kind": "tool_result", "ns": [], "node": None, "tool_call_id": "c1", "output": 3},
        {"kind": "tool_error", "ns": [], "node": None, "tool_call_id": "c2", "message": "no"},
    ]
    path = tmp_path / "old.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert replay(path).collect() == [
        lgs.ToolStart(call_id="c1", name="add"),
        lgs.ToolResult(call_id="c1", output=3),
        lgs.ToolError(call_id="c2", message="no"),
    ]


def test_a_task_error_replays_with_its_type_and_message(tmp_path: Path) -> None:
    failed = lgs.TaskResult(node="n", task_id="t", error=ValueError("bad input"))
    (got,) = replay(_cassette([failed], tmp_path)).collect()
    assert isinstance(got, lgs.TaskResult)
    assert got.error == RecordedError("ValueError", "bad input")
    assert (got.error_type, got.error_message) == ("ValueError", "bad input")
