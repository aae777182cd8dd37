"""lgstream.graphs: the builders stream as they should, from a spec or a model."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, SystemMessage
from langgraph.checkpoint.memory import InMemorySaver

import lgstream as lgs
from lgstream.testing import FakeChatModel


def test_qa_from_a_spec_streams_the_generate_node() -> None:
    graph = lgs.graphs.qa("fake:Split it into steps.")
    events = lgs.stream(graph, {"question": "How?"})
    assert "".join(events | lgs.ops.nodes("generate") | lgs.ops.text()) == "Split it into steps."
    assert graph.name == "qa"
    assert graph.invoke({"question": "again"}) == {
        "question": "again",
        "answer": "Split it into steps.",
    }


def test_chat_keeps_the_conversation_on_a_thread() -> None:
    model = FakeChatModel(script=["Hello!", "Still here."])
    graph = lgs.graphs.chat(model, system="Be brief.", checkpointer=InMemorySaver(), name="bot")
    config: Any = {"configurable": {"thread_id": "t"}}
    first = lgs.stream(graph, {"messages": [("user", "hi")]}, config=config).text()
    second = lgs.stream(graph, {"messages": [("user", "still?")]}, config=config).text()
    assert (first, second) == ("Hello!", "Still here.")
    # the system prompt leads every call; the second call saw the whole conversation
    assert isinstance(model.calls[1][0], SystemMessage)
    assert [m.text for m in model.calls[1][1:]] == ["hi", "Hello!", "still?"]
    state = graph.get_state(config).values
    assert [m.type for m in state["messages"]] == ["human", "ai", "human", "ai"]
    assert isinstance(state["messages"][-1], AIMessage)
    assert graph.name == "bot"


def test_configured_models_are_accepted_and_bad_ones_named() -> None:
    model = FakeChatModel(script=["tagged answer"]).with_config(tags=["answer"])
    graph = lgs.graphs.qa(model)
    tagged = lgs.stream(graph, {"question": "q"}) | lgs.ops.tags("answer") | lgs.ops.text()
    assert "".join(tagged) == "tagged answer"
    with pytest.raises(lgs.UsageError, match="got int"):
        lgs.graphs.chat(3)  # type: ignore[arg-type]
    with pytest.raises(lgs.UsageError, match="binds the tools itself"):
        lgs.graphs.agent(model, [])


def test_agent_runs_tools_until_the_model_answers() -> None:
    from langchain_core.tools import tool

    from lgstream.testing import Reply

    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    model = FakeChatModel(
        script=[
            Reply(tool_calls=[{"name": "add", "args": {"a": 2, "b": 3}, "id": "call-1"}]),
            "2 + 3 is 5.",
        ]
    )
    graph = lgs.graphs.agent(model, [add], system="Use tools.")
    events = (
        lgs.stream(graph, {"messages": [("user", "2 + 3?")]}, modes=["messages", "updates"])
        | lgs.ops.tool_calls()
    ).collect()
    ready = [ev for ev in events if isinstance(ev, lgs.ToolCallReady)]
    assert [(ev.name, ev.args) for ev in ready] == [("add", {"a": 2, "b": 3})]
    assert [ev.node for ev in events if isinstance(ev, lgs.Update)] == ["agent", "tools", "agent"]
    final = events[-1]
    assert isinstance(final, lgs.RunFinished)
    assert final.output["messages"][-1].text == "2 + 3 is 5."
    assert [m.type for m in final.output["messages"]] == ["human", "ai", "tool", "ai"]
    assert model.bound_tools[0] == ["add"]
