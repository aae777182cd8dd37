"""Small real LangGraph graphs that the tests stream."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import interrupt

from lgstream.demo import build_seed_graph
from lgstream.testing import FakeChatModel

__all__ = [
    "async_seed_graph",
    "build_seed_graph",
    "failing_graph",
    "interrupt_graph",
    "progress_graph",
    "subgraph_graph",
    "tool_graph",
    "twin_subgraphs_graph",
    "two_model_graph",
]

Graph = CompiledStateGraph[Any, Any, Any, Any]


class TextState(TypedDict, total=False):
    question: str
    answer: str
    notes: Annotated[list[str], operator.add]


def two_model_graph(first: FakeChatModel, second: FakeChatModel) -> Graph:
    """START -> draft -> review -> END: two nodes, each streaming its own model."""

    def draft(state: TextState) -> dict[str, Any]:
        return {"answer": first.invoke([HumanMessage(state["question"])]).text}

    def review(state: TextState) -> dict[str, Any]:
        return {"notes": [second.invoke([HumanMessage(state["answer"])]).text]}

    builder = StateGraph(TextState)
    builder.add_node("draft", draft)
    builder.add_node("review", review)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    builder.add_edge("review", END)
    return builder.compile()


def subgraph_graph(inner_model: FakeChatModel, outer_model: FakeChatModel) -> Graph:
    """A parent whose node ``research`` is a subgraph with a streaming node ``inner``,
    followed by a parent node ``write`` that streams too."""

    def inner(state: TextState) -> dict[str, Any]:
        return {"notes": [inner_model.invoke([HumanMessage(state["question"])]).text]}

    sub = StateGraph(TextState)
    sub.add_node("inner", inner)
    sub.add_edge(START, "inner")
    sub.add_edge("inner", END)

    def write(state: TextState) -> dict[str, Any]:
        return {"answer": outer_model.invoke([HumanMessage(" ".join(state["notes"]))]).text}

    builder = StateGraph(TextState)
    builder.add_node("research", sub.compile())
    builder.add_node("write", write)
    builder.add_edge(START, "research")
    builder.add_edge("research", "write")
    builder.add_edge("write", END)
    return builder.compile()


class AskState(TypedDict, total=False):
    question: str
    name: str


def interrupt_graph() -> Graph:
    """``ask`` pauses with interrupt() until resumed with the user's name."""

    def ask(state: AskState) -> dict[str, Any]:
        name = interrupt({"prompt": "What is your name?"})
        return {"name": name}

    builder = StateGraph(AskState)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    return builder.compile(checkpointer=InMemorySaver())


def progress_graph(steps: int = 3) -> Graph:
    """``work`` reports progress through the custom stream writer."""

    def work(state: TextState) -> dict[str, Any]:
        writer = get_stream_writer()
        for i in range(steps):
            writer({"progress": i + 1, "of": steps})
        return {"answer": "done"}

    builder = StateGraph(TextState)
    builder.add_node("work", work)
    builder.add_edge(START, "work")
    builder.add_edge("work", END)
    return builder.compile()


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def tool_graph() -> Graph:
    """``agent`` asks for the ``add`` tool; ``tools`` runs it (a real ToolNode)."""

    def agent(state: MessagesState) -> dict[str, Any]:
        call = {"name": "add", "args": {"a": 2, "b": 3}, "id": "call_1", "type": "tool_call"}
        return {"messages": [AIMessage(content="", tool_calls=[call], id="ai-1")]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([add]))
    builder.add_edge(START, "agent")
    builder.add_edge("agent", "tools")
    builder.add_edge("tools", END)
    return builder.compile()


def failing_graph(model: FakeChatModel) -> Graph:
    """``generate`` streams the model's answer, then raises."""

    def generate(state: TextState) -> dict[str, Any]:
        model.invoke([HumanMessage(state["question"])])
        raise RuntimeError("boom after the answer")

    builder = StateGraph(TextState)
    builder.add_node("generate", generate)
    builder.add_edge(START, "generate")
    builder.add_edge("generate", END)
    return builder.compile()


def async_seed_graph(model: FakeChatModel) -> Graph:
    """The seed graph with an ``async def`` node (runs as an asyncio task in astream)."""

    async def generate(state: TextState) -> dict[str, Any]:
        reply = await model.ainvoke([HumanMessage(state["question"])])
        return {"answer": reply.text}

    builder = StateGraph(TextState)
    builder.add_node("generate", generate)
    builder.add_edge(START, "generate")
    builder.add_edge("generate", END)
    return builder.compile()


def twin_subgraphs_graph(research_model: FakeChatModel, critic_model: FakeChatModel) -> Graph:
    """Two root nodes, ``research`` and ``critic``, run in parallel; each is a
    subgraph with a node called ``inner`` that streams its own model (tagged with
    the parent's name), then returns its answer as a whole message too."""

    def make_sub(model: FakeChatModel, tag: str) -> Any:
        tagged = model.with_config(tags=[tag])

        def inner(state: MessagesState) -> dict[str, Any]:
            return {"messages": [tagged.invoke(state["messages"])]}

        sub = StateGraph(MessagesState)
        sub.add_node("inner", inner)
        sub.add_edge(START, "inner")
        sub.add_edge("inner", END)
        return sub.compile()

    builder = StateGraph(MessagesState)
    builder.add_node("research", make_sub(research_model, "research"))
    builder.add_node("critic", make_sub(critic_model, "critic"))
    builder.add_edge(START, "research")
    builder.add_edge(START, "critic")
    builder.add_edge("research", END)
    builder.add_edge("critic", END)
    return builder.compile()
