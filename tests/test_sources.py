"""lgs.stream() / lgs.astream() over real LangGraph graphs, one test per stream mode."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import Command

import lgstream as lgs
from lgstream.testing import FakeChatModel

from .graphs import (
    add,
    build_seed_graph,
    failing_graph,
    interrupt_graph,
    progress_graph,
    subgraph_graph,
    tool_graph,
    two_model_graph,
)


def kinds(events: Sequence[lgs.Event]) -> list[str]:
    return [ev.kind for ev in events]


def test_messages_mode_gives_one_token_per_chunk(model: FakeChatModel) -> None:
    events = lgs.stream(build_seed_graph(model), {"question": "q"}, modes=["messages"]).collect()
    tokens = [ev for ev in events if isinstance(ev, lgs.Token)]
    assert [t.text for t in tokens] == ["Hello", " streaming", " world", ""]
    assert {t.node for t in tokens} == {"generate"}
    assert len({t.message_id for t in tokens}) == 1
    assert tokens[0].message_id is not None
    assert all(isinstance(t.chunk, AIMessageChunk) for t in tokens)
    assert tokens[-1].chunk.chunk_position == "last"
    assert all(t.step == 1 and t.ns == () for t in tokens)
    assert tokens[0].metadata["langgraph_node"] == "generate"


def test_lifecycle_events_wrap_the_run(model: FakeChatModel) -> None:
    events = lgs.stream(build_seed_graph(model), {"question": "q"}).collect()
    first, last = events[0], events[-1]
    assert isinstance(first, lgs.RunStarted)
    assert first.input == {"question": "q"}
    assert first.modes == ("messages", "updates")
    assert isinstance(last, lgs.RunFinished)
    assert last.run_id == first.run_id
    assert last.output == {"question": "q", "answer": "Hello streaming world"}
    assert last.interrupts == ()
    # `values` is asked for internally, but not emitted unless asked for
    assert "values" not in kinds(events)


def test_default_modes_give_tokens_and_updates(model: FakeChatModel) -> None:
    events = lgs.stream(build_seed_graph(model), {"question": "q"}).collect()
    assert kinds(events) == ["run_started", *["token"] * 4, "update", "run_finished"]
    update = events[-2]
    assert isinstance(update, lgs.Update)
    assert update.node == "generate"
    assert update.data == {"answer": "Hello streaming world"}


def test_tokens_of_two_nodes_keep_their_node() -> None:
    graph = two_model_graph(
        FakeChatModel(script=["first answer"]), FakeChatModel(script=["second opinion"])
    )
    events = lgs.stream(graph, {"question": "q"}, modes=["messages"]).collect()
    by_node: dict[str | None, str] = {}
    for ev in events:
        if isinstance(ev, lgs.Token):
            by_node[ev.node] = by_node.get(ev.node, "") + ev.text
    assert by_node == {"draft": "first answer", "review": "second opinion"}


def test_values_mode_emits_every_state() -> None:
    graph = two_model_graph(FakeChatModel(script=["a b"]), FakeChatModel(script=["c"]))
    events = lgs.stream(graph, {"question": "q"}, modes="values").collect()
    values = [ev.data for ev in events if isinstance(ev, lgs.Values)]
    assert values == [
        {"question": "q", "notes": []},
        {"question": "q", "answer": "a b", "notes": []},
        {"question": "q", "answer": "a b", "notes": ["c"]},
    ]


def test_custom_mode() -> None:
    events = lgs.stream(progress_graph(3), {}, modes=["custom"]).collect()
    custom = [ev.data for ev in events if isinstance(ev, lgs.Custom)]
    assert custom == [{"progress": i, "of": 3} for i in (1, 2, 3)]


def test_interrupt_surfaces_once_and_resume_continues() -> None:
    graph = interrupt_graph()
    config: Any = {"configurable": {"thread_id": "t-1"}}
    events = lgs.stream(graph, {"question": "q"}, modes=["updates", "values"], config=config)
    got = events.collect()
    interrupts = [ev for ev in got if isinstance(ev, lgs.Interrupt)]
    assert len(interrupts) == 1  # carried by both updates and values, emitted once
    assert interrupts[0].value == {"prompt": "What is your name?"}
    assert interrupts[0].interrupt_id
    finished = got[-1]
    assert isinstance(finished, lgs.RunFinished)
    assert finished.interrupts == (interrupts[0],)

    resumed = lgs.stream(graph, Command(resume="Ada"), config=config).collect()
    assert [ev.data for ev in resumed if isinstance(ev, lgs.Update)] == [{"name": "Ada"}]
    last = resumed[-1]
    assert isinstance(last, lgs.RunFinished)
    assert last.output == {"question": "q", "name": "Ada"}


def test_interrupt_from_values_only() -> None:
    config: Any = {"configurable": {"thread_id": "t-2"}}
    got = lgs.stream(interrupt_graph(), {"question": "q"}, modes="values", config=config)
    interrupts = [ev for ev in got if isinstance(ev, lgs.Interrupt)]
    assert [i.value for i in interrupts] == [{"prompt": "What is your name?"}]


def test_checkpoints_and_debug_modes() -> None:
    config: Any = {"configurable": {"thread_id": "t-3"}}
    events = lgs.stream(
        interrupt_graph(), {"question": "q"}, modes=["checkpoints"], config=config
    ).collect()
    checkpoints = [ev for ev in events if isinstance(ev, lgs.Checkpoint)]
    assert [c.next for c in checkpoints] == [("__start__",), ("ask",)]
    assert checkpoints[1].values == {"question": "q"}
    assert all(c.checkpoint_id for c in checkpoints)
    assert [c.step for c in checkpoints] == [-1, 0]

    config = {"configurable": {"thread_id": "t-4"}}
    debug = lgs.stream(interrupt_graph(), {"question": "q"}, modes=["debug"], config=config)
    got = [ev for ev in debug if not isinstance(ev, lgs.RunStarted | lgs.RunFinished)]
    # the interrupt comes from the `values` lgstream always listens to
    assert kinds(got) == ["checkpoint", "checkpoint", "task_start", "interrupt", "task_result"]
    assert all(ev.timestamp for ev in got if isinstance(ev, lgs.TaskStart | lgs.Checkpoint))
    start, result = got[2], got[4]
    assert isinstance(start, lgs.TaskStart)
    assert isinstance(result, lgs.TaskResult)
    assert start.node == result.node == "ask"
    assert start.task_id == result.task_id
    assert start.step == 1
    assert len(result.interrupts) == 1


def test_tasks_and_tools_modes() -> None:
    events = lgs.stream(
        tool_graph(), {"messages": [("user", "add 2 and 3")]}, modes=["tasks", "tools"]
    ).collect()
    assert kinds(events) == [
        "run_started",
        "task_start",
        "task_result",
        "task_start",
        "tool_start",
        "tool_result",
        "task_result",
        "run_finished",
    ]
    tool_start = events[4]
    assert isinstance(tool_start, lgs.ToolStart)
    assert (tool_start.call_id, tool_start.name, tool_start.node) == ("call_1", "add", "tools")
    assert tool_start.input == {"a": 2, "b": 3}
    tool_result = events[5]
    assert isinstance(tool_result, lgs.ToolResult)
    assert isinstance(tool_result.output, ToolMessage)
    assert tool_result.output.content == "5"
    starts = [ev.node for ev in events if isinstance(ev, lgs.TaskStart)]
    assert starts == ["agent", "tools"]


def test_whole_messages_from_node_output() -> None:
    events = lgs.stream(tool_graph(), {"messages": [("user", "hi")]}, modes=["messages"])
    messages = [ev for ev in events if isinstance(ev, lgs.Message)]
    assert [(m.node, m.message.type) for m in messages] == [("agent", "ai"), ("tools", "tool")]
    assert messages[0].message_id == "ai-1"


def test_subgraph_namespaces() -> None:
    graph = subgraph_graph(FakeChatModel(script=["inner a"]), FakeChatModel(script=["outer b"]))
    events = lgs.stream(graph, {"question": "q"}, subgraphs=True).collect()
    tokens = [ev for ev in events if isinstance(ev, lgs.Token) and ev.text]
    assert [(t.node, t.text) for t in tokens] == [
        ("inner", "inner"),
        ("inner", " a"),
        ("write", "outer"),
        ("write", " b"),
    ]
    inner_ns = tokens[0].ns
    assert len(inner_ns) == 1
    assert inner_ns[0].startswith("research:")
    assert tokens[2].ns == ()
    updates = [(ev.ns == (), ev.node) for ev in events if isinstance(ev, lgs.Update)]
    assert updates == [(False, "inner"), (True, "research"), (True, "write")]


def test_without_subgraphs_inner_events_stay_hidden() -> None:
    graph = subgraph_graph(FakeChatModel(script=["inner a"]), FakeChatModel(script=["outer b"]))
    events = lgs.stream(graph, {"question": "q"}).collect()
    assert all(ev.ns == () for ev in events)
    assert {ev.node for ev in events if isinstance(ev, lgs.Token)} == {"write"}


def test_failure_emits_run_failed_then_raises() -> None:
    model = FakeChatModel(script=["partial answer"])
    events: list[lgs.Event] = []
    with pytest.raises(RuntimeError, match="boom after the answer"):
        events.extend(lgs.stream(failing_graph(model), {"question": "q"}))
    # nothing that arrived before the failure is lost
    assert "".join(ev.text for ev in events if isinstance(ev, lgs.Token)) == "partial answer"
    failed = events[-1]
    assert isinstance(failed, lgs.RunFailed)
    assert isinstance(failed.error, RuntimeError)
    assert lgs.to_jsonable(failed)["error"] == {
        "type": "RuntimeError",
        "message": "boom after the answer",
    }


def test_failure_without_raising() -> None:
    model = FakeChatModel(script=["partial"])
    events = lgs.stream(failing_graph(model), {"question": "q"}, raise_errors=False).collect()
    assert isinstance(events[-1], lgs.RunFailed)


def test_graph_kwargs_and_config_reach_the_graph(model: FakeChatModel) -> None:
    seen: list[Any] = []
    from langchain_core.callbacks import BaseCallbackHandler

    class Spy(BaseCallbackHandler):
        def on_llm_new_token(self, token: str | list[str | dict[str, Any]], **kwargs: Any) -> None:
            seen.append(token)

    graph = build_seed_graph(model)
    events = lgs.stream(
        graph,
        {"question": "q"},
        config={"callbacks": [Spy()], "tags": ["mine"]},
        interrupt_before=["generate"],
    ).collect()
    # interrupt_before stopped the run before the model; the user's handler stayed attached
    assert not [ev for ev in events if isinstance(ev, lgs.Token)]
    events = lgs.stream(graph, {"question": "q"}, config={"callbacks": [Spy()]}).collect()
    assert seen == ["Hello", " streaming", " world", ""]


def test_run_id_from_config_is_kept(model: FakeChatModel) -> None:
    import uuid

    run_id = uuid.uuid4()
    events = lgs.stream(build_seed_graph(model), {"question": "q"}, config={"run_id": run_id})
    first = next(iter(events))
    events.close()
    assert isinstance(first, lgs.RunStarted)
    assert first.run_id == str(run_id)


# --- usage errors ---------------------------------------------------------------------


def test_unknown_mode_names_the_mode_and_the_choices(model: FakeChatModel) -> None:
    with pytest.raises(lgs.UnknownStreamModeError) as info:
        lgs.stream(build_seed_graph(model), {}, modes=["messages", "message"])
    text = str(info.value)
    assert "'message'" in text
    assert "values, updates, messages, custom, checkpoints, tasks, debug, tools" in text
    assert "Did you mean 'messages'?" in text
    assert isinstance(info.value, ValueError)


def test_empty_modes_is_an_error(model: FakeChatModel) -> None:
    with pytest.raises(lgs.UnknownStreamModeError):
        lgs.stream(build_seed_graph(model), {}, modes=[])


def test_modes_accept_any_sequence_and_dedupe(model: FakeChatModel) -> None:
    graph = build_seed_graph(model)
    for modes in (("updates",), ["updates"], "updates", iter(["updates", "updates"])):
        started = lgs.stream(graph, {"question": "q"}, modes=modes).collect()[0]
        assert isinstance(started, lgs.RunStarted)
        assert started.modes == ("updates",)


def test_not_a_graph() -> None:
    with pytest.raises(lgs.NotAGraphError, match="cannot stream a dict") as info:
        lgs.stream({"not": "a graph"}, {})  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError)
    builder = StateGraph(dict)  # type: ignore[type-var]
    with pytest.raises(lgs.NotAGraphError, match=r"StateGraph\.compile\(\)"):
        lgs.astream(builder, {})  # type: ignore[arg-type]


# --- async ----------------------------------------------------------------------------


def test_async_matches_sync() -> None:
    graph = subgraph_graph(
        FakeChatModel(script=["inner a"], cycle=True), FakeChatModel(script=["outer b"], cycle=True)
    )
    modes = ["messages", "updates", "values", "custom"]

    def shape(events: list[lgs.Event]) -> list[tuple[str, tuple[str, ...], str | None, str]]:
        return [
            (ev.kind, tuple(s.split(":")[0] for s in ev.ns), ev.node, getattr(ev, "text", ""))
            for ev in events
        ]

    sync_events = lgs.stream(graph, {"question": "q"}, modes=modes, subgraphs=True).collect()

    async def main() -> list[lgs.Event]:
        return await lgs.astream(graph, {"question": "q"}, modes=modes, subgraphs=True).collect()

    async_events = asyncio.run(main())
    assert shape(async_events) == shape(sync_events)
    assert isinstance(async_events[-1], lgs.RunFinished)
    assert isinstance(sync_events[-1], lgs.RunFinished)
    assert async_events[-1].output == sync_events[-1].output


async def drain(stream: lgs.AsyncEventStream[lgs.Event], into: list[lgs.Event]) -> None:
    async for ev in stream:
        into.append(ev)


def test_async_failure_emits_run_failed() -> None:
    async def main() -> list[lgs.Event]:
        got: list[lgs.Event] = []
        stream = lgs.astream(failing_graph(FakeChatModel(script=["x y"])), {"question": "q"})
        with pytest.raises(RuntimeError, match="boom"):
            await drain(stream, got)
        return got

    got = asyncio.run(main())
    assert isinstance(got[-1], lgs.RunFailed)
    assert "".join(ev.text for ev in got if isinstance(ev, lgs.Token)) == "x y"


def test_async_text_helper(model: FakeChatModel) -> None:
    async def main() -> str:
        return await lgs.astream(build_seed_graph(model), {"question": "q"}).text()

    assert asyncio.run(main()) == "Hello streaming world"


def test_a_non_local_source_gets_its_message_dicts_revived() -> None:
    """A RemoteGraph-like source sends messages as dicts, in every mode."""
    from langchain_core.messages import HumanMessage

    class DictSource:
        def __init__(self) -> None:
            self.seen: dict[str, Any] = {}

        def _parts(self) -> list[dict[str, Any]]:
            human = HumanMessage("hi", id="h").model_dump()
            chunk = AIMessageChunk(content="yo", id="a").model_dump()
            return [
                {"type": "messages", "ns": [], "data": [chunk, {"langgraph_node": "n"}]},
                {"type": "updates", "ns": [], "data": {"n": {"messages": [human]}}},
                {"type": "values", "ns": [], "data": {"messages": [human]}},
            ]

        def stream(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
            self.seen = kwargs
            return iter(self._parts())

        async def astream(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
            for part in self._parts():
                yield part

    source = DictSource()
    events = lgs.stream(source, {}, modes=["messages", "updates"]).collect()  # type: ignore[arg-type]
    assert source.seen["stream_mode"] == ["messages", "updates", "values"]
    assert "version" not in source.seen  # its stream() takes no version: v1 shapes
    token, update, finished = events[1:]
    assert isinstance(token, lgs.Token)
    assert token.chunk == AIMessageChunk(content="yo", id="a")
    assert isinstance(update, lgs.Update)
    assert update.data == {"messages": [HumanMessage("hi", id="h")]}
    assert isinstance(finished, lgs.RunFinished)
    assert finished.output == {"messages": [HumanMessage("hi", id="h")]}

    async def run_async() -> list[lgs.Event]:
        return await lgs.astream(source, {}).collect()  # type: ignore[arg-type]

    assert [ev.kind for ev in asyncio.run(run_async())] == [ev.kind for ev in events]


@pytest.mark.parametrize("name", ["stream_mode", "mode"])
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_langgraph_habit_stream_mode_is_refused(
    model: FakeChatModel, name: str, flavour: str
) -> None:
    graph = build_seed_graph(model)
    run = lgs.stream if flavour == "sync" else lgs.astream
    habit: dict[str, Any] = {name: ["values"]}
    with pytest.raises(lgs.UsageError, match=rf"{name}=.*modes=\['values'\]"):
        run(graph, {"question": "q"}, **habit)


def test_version_is_refused(model: FakeChatModel) -> None:
    with pytest.raises(lgs.UsageError, match="version="):
        lgs.stream(build_seed_graph(model), {"question": "q"}, version="v1")


@tool
def divide(a: int, b: int) -> float:
    """Divide a by b."""
    return a / b


def _tools_graph_with_a_failure() -> Any:
    """``agent`` asks for ``add`` and a failing ``divide`` at once; ``tools`` runs both."""

    def agent(state: MessagesState) -> dict[str, Any]:
        calls = [
            {"name": "add", "args": {"a": 2, "b": 3}, "id": "c-add", "type": "tool_call"},
            {"name": "divide", "args": {"a": 1, "b": 0}, "id": "c-div", "type": "tool_call"},
        ]
        return {"messages": [AIMessage(content="", tool_calls=calls, id="ai-1")]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([add, divide], handle_tool_errors=True))
    builder.add_edge(START, "agent")
    builder.add_edge("agent", "tools")
    builder.add_edge("tools", END)
    return builder.compile()


@pytest.mark.parametrize("how", ["sync", "async"])
def test_tool_events_name_the_node_that_ran_them(how: str) -> None:
    """Tool events carry the node running the tool, so node filters keep them, and
    the call id under the name the tool-call events use."""
    graph = _tools_graph_with_a_failure()
    inputs = {"messages": [("user", "go")]}
    ops = lgs.ops.nodes("tools")
    if how == "sync":
        events = (lgs.stream(graph, inputs, modes=["tools"]) | ops).collect()
    else:

        async def collect() -> list[lgs.Event]:
            return await (lgs.astream(graph, inputs, modes=["tools"]) | ops).collect()

        events = asyncio.run(collect())
    tool_events = [
        ev for ev in events if isinstance(ev, lgs.ToolStart | lgs.ToolResult | lgs.ToolError)
    ]
    assert sorted((ev.kind, ev.call_id) for ev in tool_events) == [
        ("tool_error", "c-div"),
        ("tool_result", "c-add"),
        ("tool_start", "c-add"),
        ("tool_start", "c-div"),
    ]
    assert {ev.node for ev in tool_events} == {"tools"}
    starts = {ev.call_id: ev.name for ev in tool_events if isinstance(ev, lgs.ToolStart)}
    assert starts == {"c-add": "add", "c-div": "divide"}
    error = next(ev for ev in tool_events if isinstance(ev, lgs.ToolError))
    assert "division by zero" in error.message


def test_tool_events_old_field_names_still_read_with_a_deprecation_warning() -> None:
    start = lgs.ToolStart(call_id="c1", name="add")
    with pytest.warns(DeprecationWarning, match="call_id"):
        assert start.tool_call_id == "c1"
    with pytest.warns(DeprecationWarning, match=r"\.name"):
        assert start.tool_name == "add"
    for event in (
        lgs.ToolOutputDelta(call_id="c1", delta="x"),
        lgs.ToolResult(call_id="c1", output=1),
        lgs.ToolError(call_id="c1", message="bad"),
    ):
        with pytest.warns(DeprecationWarning, match=type(event).__name__):
            assert event.tool_call_id == "c1"


def test_tools_parts_without_a_run_have_no_node() -> None:
    """From recorded parts LangGraph never said which node ran a tool: None, not a guess."""
    part = {
        "type": "tools",
        "ns": (),
        "data": {
            "event": "tool-started",
            "tool_call_id": "c1",
            "tool_name": "add",
            "input": {"a": 1},
        },
    }
    (event,) = lgs.Normaliser().feed(part)
    assert isinstance(event, lgs.ToolStart)
    assert (event.node, event.call_id, event.name) == (None, "c1", "add")


def test_task_result_error_is_the_exception(model: FakeChatModel) -> None:
    graph = failing_graph(model)
    events = lgs.stream(graph, {"question": "q"}, modes=["tasks"], raise_errors=False).collect()
    (result,) = [ev for ev in events if isinstance(ev, lgs.TaskResult)]
    assert isinstance(result.error, RuntimeError)
    assert str(result.error) == "boom after the answer"
    assert (result.error_type, result.error_message) == ("RuntimeError", "boom after the answer")
    assert [ev.node for ev in events if isinstance(ev, lgs.TaskStart)] == ["generate"]


@pytest.mark.parametrize(
    ("wire", "error_type", "message"),
    [
        ({"error": "ValueError", "message": "bad"}, "ValueError", "bad"),  # LangGraph Server
        ({"type": "KeyError", "message": "'k'"}, "KeyError", "'k'"),  # lgstream's JSON
        ("it broke", "Error", "it broke"),
    ],
)
def test_task_result_error_from_the_wire_is_a_task_error(
    wire: object, error_type: str, message: str
) -> None:
    part = {
        "type": "tasks",
        "ns": (),
        "data": {"id": "t1", "name": "n", "error": wire, "result": None, "interrupts": []},
    }
    (event,) = lgs.Normaliser().feed(part)
    assert isinstance(event, lgs.TaskResult)
    assert isinstance(event.error, lgs.TaskError)
    assert event.error == lgs.TaskError(error_type, message)
    assert (event.error_type, event.error_message) == (error_type, message)
    assert lgs.to_jsonable(event)["error"] == {"type": error_type, "message": message}
