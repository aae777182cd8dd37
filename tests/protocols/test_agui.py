"""The AG-UI encoder: real graphs in, ag-ui-protocol events out, every start ended."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest
from ag_ui.core import (
    BaseEvent,
    CustomEvent,
    EventType,
    MessagesSnapshotEvent,
    ReasoningMessageContentEvent,
    RunErrorEvent,
    RunFinishedEvent,
    StateDeltaEvent,
    StateSnapshotEvent,
    StepStartedEvent,
    TextMessageContentEvent,
    TextMessageStartEvent,
    ToolCallArgsEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)
from ag_ui.core import Event as AnyAGUIEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_core.tools import tool
from langgraph.types import Command
from pydantic import TypeAdapter

import lgstream as lgs
from lgstream.protocols.agui import AGUIEncoder, aencode_agui, encode_agui
from lgstream.testing import FakeChatModel, Reply

from ..graphs import interrupt_graph, progress_graph, tool_graph

MODES: list[lgs.StreamMode] = ["messages", "updates", "values", "custom"]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyAGUIEvent)

# (start, end, the field that names the thing) for every kind of span.
_PAIRS: dict[EventType, tuple[str, EventType, str]] = {
    EventType.TEXT_MESSAGE_START: ("text", EventType.TEXT_MESSAGE_END, "message_id"),
    EventType.TOOL_CALL_START: ("tool", EventType.TOOL_CALL_END, "tool_call_id"),
    EventType.REASONING_START: ("reasoning", EventType.REASONING_END, "message_id"),
    EventType.REASONING_MESSAGE_START: (
        "reasoning_message",
        EventType.REASONING_MESSAGE_END,
        "message_id",
    ),
    EventType.STEP_STARTED: ("step", EventType.STEP_FINISHED, "step_name"),
}
_ENDS = {end: (kind, field) for kind, end, field in _PAIRS.values()}
_INSIDE = {  # events that need their span open
    EventType.TEXT_MESSAGE_CONTENT: ("text", "message_id"),
    EventType.TOOL_CALL_ARGS: ("tool", "tool_call_id"),
    EventType.REASONING_MESSAGE_CONTENT: ("reasoning_message", "message_id"),
}


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def _frames(encoder: AGUIEncoder, events: Sequence[BaseEvent]) -> list[BaseEvent]:
    """Every event through its SSE frame and back through ag-ui-protocol's models."""
    back: list[BaseEvent] = []
    for event in events:
        frame = encoder.frame(event)
        assert frame.startswith(b"data: ")
        assert frame.endswith(b"\n\n")
        assert b"\n" not in frame[:-2]
        parsed: BaseEvent = _ADAPTER.validate_json(frame[6:-2])
        assert type(parsed) is type(event)
        assert parsed.model_dump() == event.model_dump()
        back.append(parsed)
    return back


def check_protocol(events: Sequence[BaseEvent]) -> None:
    """One run, well formed: RUN_STARTED first, one terminal event last, every start
    ended once and after it, content only inside its open span, results after ends."""
    assert events, "no events"
    assert events[0].type == EventType.RUN_STARTED
    assert events[-1].type in (EventType.RUN_FINISHED, EventType.RUN_ERROR)
    terminal = [e for e in events if e.type in (EventType.RUN_FINISHED, EventType.RUN_ERROR)]
    assert len(terminal) == 1
    assert [e.type for e in events].count(EventType.RUN_STARTED) == 1
    open_: set[tuple[str, str]] = set()
    ended_tools: set[str] = set()
    for event in events:
        if event.type in _PAIRS:
            kind, _, field = _PAIRS[event.type]
            key = (kind, getattr(event, field))
            assert key not in open_, f"{key} started twice"
            open_.add(key)
        elif event.type in _ENDS:
            kind, field = _ENDS[event.type]
            key = (kind, getattr(event, field))
            assert key in open_, f"{key} ended but not open"
            open_.remove(key)
            if kind == "tool":
                ended_tools.add(key[1])
        elif event.type in _INSIDE:
            kind, field = _INSIDE[event.type]
            assert (kind, getattr(event, field)) in open_, f"{event.type} outside its span"
        elif isinstance(event, ToolCallResultEvent):
            assert ("tool", event.tool_call_id) not in open_, "a result before its call's end"
    assert not open_, f"never ended: {open_}"


def encode(
    events: Iterator[lgs.Event] | Sequence[lgs.Event],
    *,
    close_error: BaseException | None = None,
    cancelled: bool = False,
    **kw: Any,
) -> list[BaseEvent]:
    encoder = AGUIEncoder(**kw)
    out: list[BaseEvent] = []
    for event in events:
        out += encoder.feed(event)
    out += encoder.close(close_error, cancelled=cancelled)
    assert encoder.close() == []  # once
    out = _frames(encoder, out)
    check_protocol(out)
    return out


def run(
    graph: Any, input: Any, modes: Sequence[lgs.StreamMode] = MODES, **kw: Any
) -> list[BaseEvent]:
    return encode(lgs.stream(graph, input, modes=list(modes)), **kw)


def of(events: Sequence[BaseEvent], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def texts(events: Sequence[BaseEvent]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in of(events, TextMessageContentEvent):
        out[e.message_id] = out.get(e.message_id, "") + e.delta
    return out


def ask(text: str) -> dict[str, Any]:
    return {"messages": [HumanMessage(text, id="human-1")]}


# --- text, reasoning, tools ---------------------------------------------------------


def test_text_streams_per_message_id() -> None:
    graph = lgs.graphs.chat(FakeChatModel(script=[Reply(text="Hello streaming world", id="m1")]))
    events = run(graph, ask("hi"))
    assert texts(events) == {"m1": "Hello streaming world"}
    assert len(of(events, TextMessageContentEvent)) == 3  # one per streamed word
    (start,) = of(events, TextMessageStartEvent)
    assert start.role == "assistant"


def test_two_model_turns_are_two_messages_in_two_steps() -> None:
    model = FakeChatModel(
        script=[Reply(tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}}], id="m1"), "It is 3."]
    )
    events = run(lgs.graphs.agent(model, [add]), ask("1+2?"))
    assert list(texts(events).values()) == ["It is 3."]
    steps = [e.step_name for e in of(events, StepStartedEvent)]
    assert steps == ["agent", "tools", "agent"]


@pytest.mark.parametrize("style", ["indexed", "parallel", "whole"])
def test_parallel_tool_calls_are_kept_apart(style: Any) -> None:
    calls = [
        {"name": "add", "args": {"a": 1, "b": 20}, "id": "c1"},
        {"name": "add", "args": {"a": 300, "b": 4000}, "id": "c2"},
        {"name": "add", "args": {"a": 5, "b": 6}, "id": "c3"},
    ]
    model = FakeChatModel(script=[Reply(tool_calls=calls, tool_call_style=style, id="m1"), "ok"])
    events = run(lgs.graphs.agent(model, [add]), ask("sums?"))
    starts = of(events, ToolCallStartEvent)
    assert [s.tool_call_id for s in starts] == ["c1", "c2", "c3"]
    assert {s.parent_message_id for s in starts} == {"m1"}
    args: dict[str, str] = {}
    for e in of(events, ToolCallArgsEvent):
        args[e.tool_call_id] = args.get(e.tool_call_id, "") + e.delta
    assert {k: json.loads(v) for k, v in args.items()} == {c["id"]: c["args"] for c in calls}
    results = {e.tool_call_id: e.content for e in of(events, ToolCallResultEvent)}
    assert results == {"c1": "21", "c2": "4300", "c3": "11"}
    if style == "parallel":  # really interleaved, so the test can tell ids apart
        order = [e.tool_call_id for e in of(events, ToolCallArgsEvent)]
        assert order[:3] == ["c1", "c2", "c3"]


@pytest.mark.parametrize("reasoning_style", ["ollama", "blocks"])
def test_reasoning_is_its_own_message_before_the_answer(reasoning_style: Any) -> None:
    reply = Reply(reasoning="Let me think it over", text="The answer", id="m1")
    model = FakeChatModel(script=[reply], reasoning_style=reasoning_style)
    events = run(lgs.graphs.chat(model), ask("q"))
    thought = "".join(e.delta for e in of(events, ReasoningMessageContentEvent))
    assert thought == "Let me think it over"
    assert texts(events) == {"m1": "The answer"}
    kinds = [e.type for e in events]
    assert kinds.index(EventType.REASONING_END) < kinds.index(EventType.TEXT_MESSAGE_START)
    reasoning_ids = {e.message_id for e in of(events, ReasoningMessageContentEvent)}
    assert reasoning_ids == {"m1:reasoning"}
    (snapshot,) = of(events, MessagesSnapshotEvent)
    assert [(m.role, m.id) for m in snapshot.messages] == [
        ("user", "human-1"),
        ("reasoning", "m1:reasoning"),
        ("assistant", "m1"),
    ]


def test_a_whole_message_with_tool_calls_is_sent_whole() -> None:
    events = run(tool_graph(), ask("2+3"))
    (start,) = of(events, ToolCallStartEvent)
    assert (start.tool_call_id, start.tool_call_name, start.parent_message_id) == (
        "call_1",
        "add",
        "ai-1",
    )
    assert json.loads("".join(e.delta for e in of(events, ToolCallArgsEvent))) == {"a": 2, "b": 3}
    (result,) = of(events, ToolCallResultEvent)
    assert (result.tool_call_id, result.content) == ("call_1", "5")


def test_without_messages_mode_the_updates_bring_the_messages() -> None:
    model = FakeChatModel(
        script=[Reply(tool_calls=[{"name": "add", "args": {"a": 1, "b": 1}, "id": "c1"}]), "2"]
    )
    events = run(lgs.graphs.agent(model, [add]), ask("1+1"), modes=["updates", "values"])
    assert list(texts(events).values()) == ["2"]
    assert [e.tool_call_id for e in of(events, ToolCallResultEvent)] == ["c1"]
    # The human message came from the client: it is not sent back.
    assert [e.role for e in of(events, TextMessageStartEvent)] == ["assistant"]


def test_with_tasks_mode_steps_follow_the_tasks() -> None:
    model = FakeChatModel(script=["Hi there"])
    events = run(lgs.graphs.chat(model), ask("hi"), modes=[*MODES, "tasks"])
    kinds = [e.type for e in events]
    assert kinds.count(EventType.STEP_STARTED) == 1
    assert kinds.index(EventType.STEP_STARTED) < kinds.index(EventType.TEXT_MESSAGE_START)
    assert kinds.index(EventType.TEXT_MESSAGE_END) < kinds.index(EventType.STEP_FINISHED)


# --- state, custom, snapshot -----------------------------------------------------------


def test_state_snapshot_once_then_deltas_rebuild_the_final_state() -> None:
    model = FakeChatModel(
        script=[Reply(tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}}]), "It is 3."]
    )
    raw = list(lgs.stream(lgs.graphs.agent(model, [add]), ask("1+2?"), modes=MODES))
    events = encode(raw)
    (snapshot,) = of(events, StateSnapshotEvent)
    deltas = of(events, StateDeltaEvent)
    assert len(deltas) == 3  # agent, tools, agent
    kinds = [e.type for e in events]
    assert kinds.index(EventType.STATE_SNAPSHOT) < kinds.index(EventType.STATE_DELTA)
    state = snapshot.snapshot
    for delta in deltas:
        state = lgs.ops.apply_patch(state, [op.model_dump(by_alias=True) for op in delta.delta])
    final = raw[-1]
    assert isinstance(final, lgs.RunFinished)
    assert state == lgs.to_jsonable(final.output)
    assert len(state["messages"]) == 4


def test_messages_snapshot_ends_the_run_with_the_state_messages() -> None:
    model = FakeChatModel(
        script=[Reply(tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": "c1"}]), "3"]
    )
    events = run(lgs.graphs.agent(model, [add]), ask("1+2?"))
    assert events[-2].type == EventType.MESSAGES_SNAPSHOT
    assert isinstance(events[-2], MessagesSnapshotEvent)
    messages = [m.model_dump(by_alias=True) for m in events[-2].messages]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[1]["toolCalls"][0]["id"] == "c1"
    assert json.loads(messages[1]["toolCalls"][0]["function"]["arguments"]) == {"a": 1, "b": 2}
    assert messages[2]["toolCallId"] == "c1"
    assert messages[3]["content"] == "3"
    # The ids are those the stream used, so the client's messages line up.
    streamed = {e.message_id for e in of(events, TextMessageStartEvent)}
    assert messages[3]["id"] in streamed


def test_custom_events() -> None:
    events = run(progress_graph(2), {"question": "go"})
    customs = of(events, CustomEvent)
    assert [(c.name, c.value) for c in customs] == [
        ("custom", {"progress": 1, "of": 2}),
        ("custom", {"progress": 2, "of": 2}),
    ]
    named = encode([lgs.Custom(data={"name": "progress", "value": 0.5})])
    assert [(c.name, c.value) for c in of(named, CustomEvent)] == [("progress", 0.5)]


# --- every start gets its end ------------------------------------------------------------


def test_error_mid_message_ends_everything_then_run_error() -> None:
    reply = Reply(reasoning="hmm", text="one two three four", fail_after=3, id="m1")
    graph = lgs.graphs.chat(FakeChatModel(script=[reply]))
    raw: list[lgs.Event] = []
    with pytest.raises(Exception, match="FakeChatModel"):
        raw.extend(lgs.stream(graph, ask("q"), modes=MODES))
    assert isinstance(raw[-1], lgs.RunFailed)
    events = encode(raw)
    error = events[-1]
    assert isinstance(error, RunErrorEvent)
    assert error.code == "FakeModelError"
    assert EventType.TEXT_MESSAGE_START in {e.type for e in events}  # cut short, and ended


def test_close_with_an_error_ends_everything() -> None:
    model = FakeChatModel(
        script=[Reply(text="a b c", tool_calls=[{"name": "add", "args": {"a": 1, "b": 1}}]), "2"]
    )
    raw = list(lgs.stream(lgs.graphs.agent(model, [add]), ask("q"), modes=MODES))
    cut = next(i for i, e in enumerate(raw) if isinstance(e, lgs.Token) and e.text == " b")
    events = encode(raw[:cut], close_error=ValueError("line one\nsecret details"))
    error = events[-1]
    assert isinstance(error, RunErrorEvent)
    assert (error.message, error.code) == ("line one", "ValueError")


def test_cancel_ends_everything_with_the_cancelled_outcome() -> None:
    calls = [{"name": "add", "args": {"a": 1, "b": 2}}, {"name": "add", "args": {"a": 3, "b": 4}}]
    reply = Reply(reasoning="think", text="x y", tool_calls=calls, tool_call_style="parallel")
    raw = list(lgs.stream(lgs.graphs.agent(FakeChatModel(script=[reply, "ok"]), [add]), ask("q")))
    first_args = next(
        i for i, e in enumerate(raw) if isinstance(e, lgs.Token) and e.chunk.tool_call_chunks
    )
    events = encode(raw[: first_args + 2], cancelled=True)
    finished = events[-1]
    assert isinstance(finished, RunFinishedEvent)
    assert finished.outcome is not None
    assert finished.outcome.type == "cancelled"
    assert EventType.TOOL_CALL_START in {e.type for e in events}


def test_interrupt_is_an_on_interrupt_custom_event_and_the_run_finishes() -> None:
    graph = interrupt_graph()
    config: Any = {"configurable": {"thread_id": "t-1"}}
    raw = list(lgs.stream(graph, {"question": "hi"}, modes=MODES, config=config))
    events = encode(raw, thread_id="t-1")
    (custom,) = of(events, CustomEvent)
    assert custom.name == "on_interrupt"
    assert json.loads(custom.value) == {"prompt": "What is your name?"}
    finished = events[-1]
    assert isinstance(finished, RunFinishedEvent)
    assert finished.outcome is None
    assert finished.thread_id == "t-1"

    with_outcome = encode(raw, interrupt_outcome=True)
    finished = with_outcome[-1]
    assert isinstance(finished, RunFinishedEvent)
    assert finished.outcome is not None
    assert finished.outcome.type == "interrupt"
    (interrupt,) = finished.outcome.interrupts
    (lg_interrupt,) = [e for e in raw if isinstance(e, lgs.Interrupt)]
    assert interrupt.id == lg_interrupt.interrupt_id
    assert interrupt.reason == "langgraph:interrupt"

    # Resuming is a new run on the thread; it ends like any other.
    resumed = encode(lgs.stream(graph, Command(resume="Ada"), modes=MODES, config=config))
    (delta,) = of(resumed, StateDeltaEvent)
    assert [op.model_dump() for op in delta.delta] == [
        {"op": "add", "path": "/name", "value": "Ada"}
    ]


def test_a_step_that_ends_first_ends_what_it_holds() -> None:
    # A task's result can come before its model's last chunk is joined; the step's
    # end then ends the message and the tool call inside it, in that order.
    chunk = AIMessageChunk(
        content="hi",
        id="m1",
        tool_call_chunks=[{"name": "add", "args": '{"a"', "id": "c1", "index": 0}],
    )
    token = lgs.Token(text="hi", message_id="m1", chunk=chunk, node="a")
    events = encode([lgs.TaskStart(task_id="t", input=None, node="a"), token])
    assert [e.type for e in events][-2:] == [EventType.STEP_FINISHED, EventType.RUN_FINISHED]
    ended = encode([token, lgs.TaskResult(task_id="t", node="a")])
    kinds = [e.type for e in ended]
    assert kinds.index(EventType.TEXT_MESSAGE_END) < kinds.index(EventType.STEP_FINISHED)
    assert kinds.index(EventType.TOOL_CALL_END) < kinds.index(EventType.STEP_FINISHED)


def test_an_empty_stream_is_a_whole_run() -> None:
    events = encode([], run_id="r-1", thread_id="t-1")
    assert [(e.type, getattr(e, "run_id", None)) for e in events] == [
        (EventType.RUN_STARTED, "r-1"),
        (EventType.RUN_FINISHED, "r-1"),
    ]


def test_nothing_after_the_end() -> None:
    encoder = AGUIEncoder()
    encoder.feed(lgs.RunStarted(run_id="r"))
    assert encoder.feed(lgs.RunFinished(run_id="r"))[-1].type == EventType.RUN_FINISHED
    assert encoder.finished
    assert encoder.feed(lgs.Custom(data=1)) == []
    assert encoder.close(ValueError("late")) == []


# --- wire -------------------------------------------------------------------------------


def test_frame_is_camel_case_sse_without_nulls() -> None:
    encoder = AGUIEncoder(thread_id="t", run_id="r")
    (started,) = encoder.feed(lgs.RunStarted(run_id="ignored"))
    assert encoder.frame(started) == b'data: {"type":"RUN_STARTED","threadId":"t","runId":"r"}\n\n'
    frame = encoder.frame(CustomEvent(name="n", value={"a": None, "line": "x\u2028y"}))
    assert frame == b'data: {"type":"CUSTOM","name":"n","value":{"a":null,"line":"x\\u2028y"}}\n\n'
    assert AGUIEncoder.media_type == "text/event-stream"


def _sse_events(frames: Sequence[bytes]) -> list[BaseEvent]:
    body = b"".join(frames).decode()
    return [_ADAPTER.validate_json(block[6:]) for block in body.split("\n\n") if block]


def test_encode_agui_reports_an_exception_and_closes_the_source() -> None:
    closed: list[bool] = []

    def source() -> Iterator[lgs.Event]:
        try:
            yield lgs.RunStarted(run_id="r")
            yield lgs.Custom(data=1)
            raise KeyError("gone")
        finally:
            closed.append(True)

    frames: list[bytes] = []
    with pytest.raises(KeyError):
        frames.extend(encode_agui(source()))
    events = _sse_events(frames)
    check_protocol(events)
    assert isinstance(events[-1], RunErrorEvent)
    assert events[-1].code == "KeyError"
    assert closed == [True]
    quiet = list(encode_agui(source(), raise_errors=False))
    assert _sse_events(quiet)[-1].type == EventType.RUN_ERROR


def test_encode_agui_closed_early_stops_the_run() -> None:
    model = FakeChatModel(script=["one two three four five"])
    stream = lgs.stream(lgs.graphs.chat(model), ask("q"), modes=MODES)
    frames = encode_agui(stream, thread_id="t")
    first = next(frames)
    assert b"RUN_STARTED" in first
    frames.close()
    with pytest.raises(StopIteration):
        next(iter(stream))


def test_aencode_agui_streams_a_real_run() -> None:
    model = FakeChatModel(script=[Reply(reasoning="r", text="async hello", id="m1")])

    async def main() -> list[bytes]:
        stream: AsyncIterator[lgs.Event] = aiter(
            lgs.astream(lgs.graphs.chat(model), ask("q"), modes=MODES)
        )
        return [frame async for frame in aencode_agui(stream)]

    events = _sse_events(asyncio.run(main()))
    check_protocol(events)
    assert texts(events) == {"m1": "async hello"}


# --- property: whatever the reply and wherever the stream stops, every start ends --------


_words = st.text(alphabet='ab \n{}"', min_size=0, max_size=12)
_reply = st.builds(
    Reply,
    text=st.lists(_words, max_size=4),
    reasoning=st.lists(_words, max_size=3),
    tool_calls=st.lists(
        st.fixed_dictionaries(
            {
                "name": st.just("add"),
                "args": st.fixed_dictionaries({"a": st.integers(), "b": st.integers()}),
            }
        ),
        max_size=3,
    ),
    tool_call_style=st.sampled_from(["indexed", "parallel", "whole"]),
    fail_after=st.one_of(st.none(), st.integers(0, 8)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    reply=_reply,
    cut=st.one_of(st.none(), st.integers(0, 60)),
    ending=st.sampled_from(["normal", "error", "cancel"]),
)
def test_starts_and_ends_balance_for_any_reply_and_any_cut(
    reply: Reply, cut: int | None, ending: str
) -> None:
    model = FakeChatModel(script=[reply, "done"])
    raw: list[lgs.Event] = []
    try:
        for event in lgs.stream(lgs.graphs.agent(model, [add]), ask("q"), modes=MODES):
            raw.append(event)
    except Exception:
        pass
    if cut is not None:
        raw = raw[:cut]
    events = encode(
        raw,
        close_error=RuntimeError("stop") if ending == "error" else None,
        cancelled=ending == "cancel",
    )
    if cut is None and not reply.tool_calls and reply.fail_after is None:
        expected = "".join(reply.text)
        assert "".join(texts(events).values()) == expected
