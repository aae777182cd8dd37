"""Console output and the progress sink, over real graph runs."""

from __future__ import annotations

import asyncio
import io
import itertools
from collections.abc import Callable, Iterator
from typing import Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

import lgstream as lgs
from lgstream import graphs
from lgstream.sinks.console import StreamSummary, aprint_stream, print_stream
from lgstream.sinks.progress import atrack, track
from lgstream.testing import FakeChatModel, Reply

from .graphs import failing_graph, interrupt_graph

ESC = "\x1b"


def fake_clock() -> Callable[[], float]:
    """A clock that reads 0.0, 1.0, 2.0, ... on successive calls."""
    ticks = itertools.count()
    return lambda: float(next(ticks))


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def agent_run() -> lgs.EventStream[lgs.Event]:
    model = FakeChatModel(
        script=[Reply(tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": "c1"}]), "done"]
    )
    return lgs.stream(graphs.agent(model, [add]), {"messages": [HumanMessage("1 + 2?")]})


class Notes(TypedDict, total=False):
    question: str
    notes: str


def research_graph(model: FakeChatModel) -> Any:
    """Root node ``research`` runs a subgraph whose node ``inner`` streams the model."""

    def inner(state: Notes) -> dict[str, Any]:
        return {"notes": model.invoke([HumanMessage(state["question"])]).text}

    sub = StateGraph(Notes)
    sub.add_node("inner", inner)
    sub.add_edge(START, "inner")
    sub.add_edge("inner", END)
    builder = StateGraph(Notes)
    builder.add_node("research", sub.compile())
    builder.add_edge(START, "research")
    builder.add_edge("research", END)
    return builder.compile()


def token(text: str, node: str = "n", **kwargs: Any) -> lgs.Token:
    chunk = AIMessageChunk(content=text, id="m1", **kwargs)
    return lgs.Token(node=node, text=chunk.text, message_id="m1", chunk=chunk)


# --- print_stream ----------------------------------------------------------------------


def test_qa_run_plain_output_and_summary() -> None:
    out = io.StringIO()
    events = lgs.stream(graphs.qa("fake:Hello there"), {"question": "Hi?"})
    summary = print_stream(events, file=out, clock=fake_clock())
    assert out.getvalue() == (
        "── generate ──\n"
        "Hello there\n"
        "── 2 tokens · 1 message · first token 1.00 s · total 2.00 s ──\n"
    )
    assert summary == StreamSummary(
        tokens=2,
        messages=1,
        tool_calls=0,
        interrupts=0,
        time_to_first_token=1.0,
        total_time=2.0,
    )


def test_subgraph_tokens_get_the_nested_header() -> None:
    model = FakeChatModel(script=["deep notes"])
    out = io.StringIO()
    events = lgs.stream(research_graph(model), {"question": "q"}, subgraphs=True)
    print_stream(events, file=out, clock=fake_clock())
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["── research › inner ──", "deep notes"]  # noqa: RUF001


def test_agent_run_shows_tool_call_result_and_sections() -> None:
    out = io.StringIO()
    summary = print_stream(agent_run(), file=out, clock=fake_clock())
    assert out.getvalue() == (
        "── agent ──\n"
        "→ add(a=1, b=2)\n"
        "── tools ──\n"
        "← add: 3\n"
        "── agent ──\n"
        "done\n"
        "── 1 token · 3 messages · first token 1.00 s · total 2.00 s ──\n"
    )
    assert (summary.tool_calls, summary.messages, summary.tokens) == (1, 3, 1)


def test_tools_mode_result_is_shown_once() -> None:
    model = FakeChatModel(
        script=[Reply(tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": "c1"}]), "ok"]
    )
    events = lgs.stream(
        graphs.agent(model, [add]),
        {"messages": [HumanMessage("1 + 2?")]},
        modes=["messages", "updates", "tools"],
    )
    out = io.StringIO()
    print_stream(events, file=out)
    text = out.getvalue()
    assert text.count("← add: 3") == 1
    assert text.count("→ add(a=1, b=2)") == 1


def test_reasoning_is_shown_apart_and_once() -> None:
    def run(*ops: lgs.Operator[lgs.Event, lgs.Event]) -> str:
        model = FakeChatModel(script=[Reply(reasoning="let me think", text="ok")])
        out = io.StringIO()
        print_stream(lgs.stream(graphs.qa(model), {"question": "q"}).pipe(*ops), file=out)
        return out.getvalue()

    expected = "── generate ──\nthinking: let me think\nok\n"
    assert run().startswith(expected)
    assert run(lgs.ops.reasoning()).startswith(expected)


def test_interrupt_is_rendered() -> None:
    graph = interrupt_graph()
    config: Any = {"configurable": {"thread_id": "t1"}}
    out = io.StringIO()
    summary = print_stream(lgs.stream(graph, {}, config=config), file=out, clock=fake_clock())
    assert "⏸ interrupt: " in out.getvalue()
    assert '{"prompt": "What is your name?"}' in out.getvalue()
    assert summary.interrupts == 1
    assert summary.time_to_first_token is None
    assert out.getvalue().endswith("── 0 tokens · 0 messages · no tokens · total 1.00 s ──\n")
    # Resuming prints the rest of the run.
    resumed = io.StringIO()
    print_stream(lgs.stream(graph, Command(resume="Ada"), config=config), file=resumed)
    assert "interrupt" not in resumed.getvalue()


def test_run_failed_is_rendered_then_raised() -> None:
    model = FakeChatModel(script=["partial answer"])
    out = io.StringIO()
    with pytest.raises(RuntimeError, match="boom after the answer"):
        print_stream(lgs.stream(failing_graph(model), {"question": "q"}), file=out)
    text = out.getvalue()
    assert "partial answer\n✗ RuntimeError: boom after the answer\n" in text
    assert "── 2 tokens · 1 message ·" in text  # the footer is printed before the error


def test_run_failed_without_raising_is_in_the_summary() -> None:
    model = FakeChatModel(script=["partial"])
    events = lgs.stream(failing_graph(model), {"question": "q"}, raise_errors=False)
    summary = print_stream(events, file=io.StringIO())
    assert summary.error == "RuntimeError: boom after the answer"


def test_plain_output_has_no_escape_codes_even_from_the_model() -> None:
    out = io.StringIO()
    events: list[lgs.Event] = [
        token("\x1b[31mred\x1b[0m \x07bell\r\n"),
        lgs.Interrupt(value="\x1b]0;x", interrupt_id=None),
    ]
    print_stream(events, file=out)  # a StringIO is no terminal: plain by default
    assert ESC not in out.getvalue()
    assert "\x07" not in out.getvalue()
    assert "[31mred[0m bell\n" in out.getvalue()


def test_invalid_tool_call_and_tool_error() -> None:
    out = io.StringIO()
    events: list[lgs.Event] = [
        lgs.ToolCallInvalid(node="agent", call_id="c9", name="add", raw_args="{oops", error="bad"),
        lgs.ToolError(node="tools", call_id="c9", message="no args"),
    ]
    summary = print_stream(events, file=out)
    assert "→ add({oops) invalid: bad\n" in out.getvalue()
    assert "✗ add failed: no args\n" in out.getvalue()
    assert summary.tool_calls == 1


@pytest.fixture
def color_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


@pytest.mark.usefixtures("color_env")
def test_rich_output_when_forced() -> None:
    out = io.StringIO()
    print_stream(
        lgs.stream(graphs.qa("fake:Hello there"), {"question": "Hi?"}), file=out, plain=False
    )
    text = out.getvalue()
    assert "Hello there" in text
    assert "generate" in text
    assert ESC in text


class TerminalIO(io.StringIO):
    """A StringIO that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.usefixtures("color_env")
def test_rich_is_chosen_for_a_terminal() -> None:
    out = TerminalIO()
    print_stream(lgs.stream(graphs.qa("fake:Hello there"), {"question": "Hi?"}), file=out)
    assert ESC in out.getvalue()
    assert "Hello there" in out.getvalue()


class LoggingFile(io.StringIO):
    """Records each write into a shared log."""

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def write(self, text: str) -> int:
        self.log.append(f"write {text!r}")
        return super().write(text)


def test_tokens_are_written_as_they_arrive() -> None:
    log: list[str] = []

    def recorded(events: lgs.EventStream[lgs.Event]) -> Iterator[lgs.Event]:
        for event in events:
            log.append(f"pull {event.kind}")
            yield event

    events = lgs.stream(graphs.qa("fake:Hello there"), {"question": "Hi?"})
    print_stream(recorded(events), file=LoggingFile(log))
    hello = next(i for i, entry in enumerate(log) if entry.endswith("Hello'"))
    there = log.index("write ' there'")
    pulls = [i for i, entry in enumerate(log) if entry.startswith("pull")]
    # Each token is written right after it is pulled, before the next event comes.
    assert log[hello - 1] == "pull token"
    assert log[there - 1] == "pull token"
    assert hello < there < log.index("pull run_finished") == pulls[-1]


def test_aprint_stream() -> None:
    async def main() -> tuple[StreamSummary, str]:
        out = io.StringIO()
        events = lgs.astream(graphs.qa("fake:Hello there"), {"question": "Hi?"})
        return await aprint_stream(events, file=out, clock=fake_clock()), out.getvalue()

    summary, text = asyncio.run(main())
    assert text.startswith("── generate ──\nHello there\n")
    assert summary.tokens == 2
    assert summary.total_time == 2.0


# --- track ----------------------------------------------------------------------------


def test_track_passes_events_through_and_prints_nodes() -> None:
    events = list(agent_run())
    out = io.StringIO()
    passed = list(track(iter(events), file=out))
    assert len(passed) == len(events)
    assert all(a is b for a, b in zip(passed, events, strict=True))
    assert out.getvalue() == ("▶ agent\n✓ agent\n▶ tools\n✓ tools\n▶ agent\n✓ agent\n")


def test_track_uses_tasks_mode_when_streamed() -> None:
    model = FakeChatModel(script=["deep notes"])
    events = lgs.stream(
        research_graph(model), {"question": "q"}, modes=["messages", "tasks"], subgraphs=True
    )
    out = io.StringIO()
    list(track(events, file=out, plain=True))
    assert out.getvalue() == (
        "▶ research\n▶ research › inner\n✓ research › inner\n✓ research\n"  # noqa: RUF001
    )


def test_track_opens_parent_nodes_of_subgraph_events() -> None:
    model = FakeChatModel(script=["deep notes"])
    events = lgs.stream(research_graph(model), {"question": "q"}, subgraphs=True)
    out = io.StringIO()
    list(track(events, file=out))
    assert out.getvalue() == (
        "▶ research\n▶ research › inner\n✓ research › inner\n✓ research\n"  # noqa: RUF001
    )


def test_track_is_a_pass_through_iterator() -> None:
    log: list[str] = []

    def source() -> Iterator[lgs.Event]:
        for event in lgs.stream(graphs.qa("fake:Hello there"), {"question": "Hi?"}):
            log.append(f"pull {event.kind}")
            yield event

    for event in track(source(), file=io.StringIO()):
        log.append(f"got {event.kind}")
    # Each event reaches the consumer before the next one is pulled.
    assert log[:4] == ["pull run_started", "got run_started", "pull token", "got token"]


def test_track_marks_failed_and_unfinished_nodes() -> None:
    model = FakeChatModel(script=["partial"])
    out = io.StringIO()
    events = lgs.stream(failing_graph(model), {"question": "q"}, raise_errors=False)
    list(track(events, file=out))
    assert out.getvalue() == "▶ generate\n✗ generate\n"

    out = io.StringIO()
    for _ in track(lgs.stream(graphs.qa("fake:Hello there"), {"question": "Hi?"}), file=out):
        if out.getvalue():
            break  # stopped mid-node: it never finished
    assert out.getvalue() == "▶ generate\n✗ generate\n"


@pytest.mark.usefixtures("color_env")
def test_track_rich_task_list() -> None:
    out = io.StringIO()
    passed = list(track(agent_run(), file=out, plain=False))
    assert passed[-1].kind == "run_finished"
    text = out.getvalue()
    assert "✓" in text
    assert "agent" in text
    assert "tools" in text


def test_atrack() -> None:
    async def main() -> tuple[list[str], str]:
        out = io.StringIO()
        events = lgs.astream(graphs.qa("fake:Hello there"), {"question": "Hi?"})
        kinds: list[str] = [event.kind async for event in atrack(events, file=out)]
        return kinds, out.getvalue()

    kinds, text = asyncio.run(main())
    assert kinds[0] == "run_started"
    assert kinds[-1] == "run_finished"
    assert text == "▶ generate\n✓ generate\n"


def test_a_streamed_message_repeated_whole_is_not_printed_twice() -> None:
    streamed = token("Hi", node="n")
    whole = lgs.Message(node="n", message=AIMessage(content="Hi", id="m1"), message_id="m1")
    out = io.StringIO()
    summary = print_stream([streamed, whole], file=out)
    assert out.getvalue().startswith("── n ──\nHi\n── 1 token · 1 message ·")
    assert summary.messages == 1


def test_a_whole_ai_message_shows_its_text_and_calls() -> None:
    call = {"name": "add", "args": {"a": 1}, "id": "c7", "type": "tool_call"}
    message = AIMessage(content="Let me add.", tool_calls=[call], id="m2")
    out = io.StringIO()
    summary = print_stream([lgs.Message(node="n", message=message, message_id="m2")], file=out)
    assert out.getvalue().startswith("── n ──\nLet me add.\n→ add(a=1)\n")
    assert (summary.messages, summary.tool_calls, summary.tokens) == (1, 1, 0)


def test_langchain_s_closing_chunk_is_not_counted_as_a_message() -> None:
    model = FakeChatModel(script=[Reply(text="Hello there", id="provider-1")])
    out = io.StringIO()
    events = lgs.stream(lgs.graphs.chat(model), {"messages": [("user", "Hi")]})
    print_stream(events, file=out, plain=True)
    assert "· 1 message ·" in out.getvalue()
