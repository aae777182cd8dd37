"""Graphs that run both in-process and on a real LangGraph Server (``langgraph dev``).

The server imports this file by its path (see ``GRAPHS``), so it imports
nothing from ``tests``. Every model answers from a function of its input, never
from a consumed script, so any number of runs in either place give the same
tokens. Graphs that need a checkpointer are compiled without one here (the
server brings its own); the local side compiles their builders with one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import interrupt

import lgstream as lgs
from lgstream.testing import FakeChatModel, Reply

Graph = CompiledStateGraph[Any, Any, Any, Any]

SLOW_TOKENS = 400
"""Tokens the ``slow`` graph streams, one every ``SLOW_DELAY`` seconds (~20 s)."""
SLOW_DELAY = 0.05


def _last_human(messages: list[BaseMessage]) -> str:
    humans = [m for m in messages if isinstance(m, HumanMessage)]
    return humans[-1].text if humans else ""


def _answer(messages: list[BaseMessage]) -> Reply:
    question = _last_human(messages)
    return Reply(text=f"You asked: {question} The server streams this just like a laptop.")


# --- chat: one streaming node ----------------------------------------------------------


def chat_model() -> FakeChatModel:
    """The model of ``chat``."""
    return FakeChatModel(script=_answer)


chat = lgs.graphs.chat(chat_model(), name="chat")


# --- agent: two tool calls streamed in parallel, then an answer ----------------------------


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def _agent_turn(messages: list[BaseMessage]) -> Reply:
    if isinstance(messages[-1], ToolMessage):
        results = [m.text for m in messages if isinstance(m, ToolMessage)]
        return Reply(text=f"The tools said {' and '.join(results)}.")
    return Reply(
        reasoning="Two independent sums: call both tools at once.",
        tool_calls=[
            {"name": "add", "args": {"a": 2, "b": 3}, "id": "call_add"},
            {"name": "multiply", "args": {"a": 4, "b": 5}, "id": "call_multiply"},
        ],
    )


agent = lgs.graphs.agent(
    FakeChatModel(script=_agent_turn, tool_call_style="parallel"), [add, multiply], name="agent"
)


# --- nested: two parallel subgraphs whose nodes share the name `inner` ---------------------


def _nested_sub(topic: str) -> Any:
    model = FakeChatModel(script=lambda m: Reply(text=f"{topic} notes on {_last_human(m)}"))

    def inner(state: MessagesState) -> dict[str, Any]:
        get_stream_writer()({"progress": topic})
        return {"messages": [model.invoke(state["messages"])]}

    sub = StateGraph(MessagesState)
    sub.add_node("inner", inner)
    sub.add_edge(START, "inner")
    sub.add_edge("inner", END)
    return sub.compile()


def _nested() -> Graph:
    builder = StateGraph(MessagesState)
    builder.add_node("research", _nested_sub("Research"))
    builder.add_node("critic", _nested_sub("Critic"))
    builder.add_edge(START, "research")
    builder.add_edge(START, "critic")
    builder.add_edge("research", END)
    builder.add_edge("critic", END)
    return builder.compile(name="nested")


nested = _nested()


# --- approval: draft, interrupt for a human decision, then publish or not ---------------------


class ApprovalState(TypedDict, total=False):
    topic: str
    draft: str
    decision: str
    published: bool


_writer = FakeChatModel(script=lambda m: Reply(text=f"A short post about {_last_human(m)}."))


def _draft(state: ApprovalState) -> dict[str, Any]:
    return {"draft": _writer.invoke([HumanMessage(state["topic"])]).text}


def _review(state: ApprovalState) -> dict[str, Any]:
    decision = interrupt({"question": "Publish this draft?", "draft": state["draft"]})
    return {"decision": decision}


def _publish(state: ApprovalState) -> dict[str, Any]:
    return {"published": state["decision"] == "yes"}


def approval_builder() -> StateGraph[ApprovalState, None, ApprovalState, ApprovalState]:
    """The approval graph, uncompiled: compile it with a checkpointer to run locally."""
    builder = StateGraph(ApprovalState)
    builder.add_node("draft", _draft)
    builder.add_node("review", _review)
    builder.add_node("publish", _publish)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    builder.add_edge("review", "publish")
    builder.add_edge("publish", END)
    return builder


approval = approval_builder().compile(name="approval")


# --- slow and failing: for cancellation and errors ---------------------------------------------

slow = lgs.graphs.chat(
    FakeChatModel(script=lambda m: Reply(text=" ".join(["tick"] * SLOW_TOKENS)), delay=SLOW_DELAY),
    name="slow",
)

counting = lgs.graphs.chat(
    FakeChatModel(script=lambda m: Reply(text=" ".join(map(str, range(1, 41)))), delay=0.02),
    name="counting",
)

failing = lgs.graphs.chat(
    FakeChatModel(
        script=lambda m: Reply(text="This answer breaks off in the middle", fail_after=3)
    ),
    name="failing",
)


GRAPHS = {
    name: f"{Path(__file__).resolve()}:{name}"
    for name in ("chat", "agent", "nested", "approval", "slow", "counting", "failing")
}
"""Graph id to ``file:attribute``, for ``LangGraphDevServer``."""
