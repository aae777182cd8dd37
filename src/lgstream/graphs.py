"""Small typed graph builders, each one model spec away from streaming.

Every builder takes a backend spec (``"ollama:llama3.2"``, ``"fake"``) or a
LangChain chat model, an optional checkpointer and a name, and returns a
compiled graph:

- ``qa(model)``: START -> ``generate`` -> END over ``{"question", "answer"}``;
- ``chat(model, system=None)``: ``MessagesState`` with one ``model`` node;
- ``agent(model, tools)``: ``agent`` <-> ``tools`` (a ``ToolNode``) until the
  model answers without calling a tool.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NotRequired, Protocol, TypeAlias, TypedDict

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Checkpointer

from ._errors import UsageError
from .backends import resolve

__all__ = ["ChatState", "ModelLike", "QAState", "agent", "chat", "qa"]

ModelLike: TypeAlias = "str | BaseChatModel | Runnable[LanguageModelInput, BaseMessage]"
"""A backend spec such as ``"ollama:llama3.2"``, a LangChain chat model, or a
configured one (``model.bind(...)``, ``model.with_config(...)``)."""


def _model(model: ModelLike) -> Runnable[LanguageModelInput, BaseMessage]:
    if isinstance(model, str | BaseChatModel):
        return resolve(model)
    if isinstance(model, Runnable):
        return model
    raise UsageError(
        f"a graph's model is a spec such as 'ollama:llama3.2' or a LangChain chat model,"
        f" got {type(model).__name__}"
    )


class QAState(TypedDict):
    """The ``qa`` graph's state: one channel per key."""

    question: str
    answer: NotRequired[str]


class ChatState(MessagesState):
    """The ``chat`` and ``agent`` graphs' state: the conversation."""


class _ChatNode(Protocol):
    def __call__(self, state: ChatState) -> dict[str, Any]: ...


def _one_node(builder: StateGraph[Any, Any, Any, Any], name: str, node: Any) -> None:
    builder.add_node(name, node)
    builder.add_edge(START, name)
    builder.add_edge(name, END)


def _conversation_node(
    llm: Runnable[LanguageModelInput, BaseMessage], system: str | None
) -> _ChatNode:
    """A node that answers the conversation so far, after the system prompt."""
    prefix = [SystemMessage(system)] if system else []

    def respond(state: ChatState) -> dict[str, Any]:
        return {"messages": [llm.invoke([*prefix, *state["messages"]])]}

    return respond


def qa(
    model: ModelLike,
    *,
    checkpointer: Checkpointer = None,
    name: str = "qa",
) -> CompiledStateGraph[QAState, None, QAState, QAState]:
    """START -> ``generate`` -> END: ``generate`` asks the model the question with
    ``invoke()``; stream it with ``messages`` mode to see the answer token by token."""
    llm = _model(model)

    def generate(state: QAState) -> dict[str, Any]:
        reply = llm.invoke([HumanMessage(state["question"])])
        return {"answer": reply.text}

    builder = StateGraph(QAState)
    _one_node(builder, "generate", generate)
    return builder.compile(checkpointer=checkpointer, name=name)


def chat(
    model: ModelLike,
    *,
    system: str | None = None,
    checkpointer: Checkpointer = None,
    name: str = "chat",
) -> CompiledStateGraph[ChatState, None, ChatState, ChatState]:
    """One ``model`` node over the conversation, with an optional system prompt.
    With a checkpointer, each call on the same thread continues the conversation."""
    builder = StateGraph(ChatState)
    _one_node(builder, "model", _conversation_node(_model(model), system))
    return builder.compile(checkpointer=checkpointer, name=name)


def agent(
    model: ModelLike,
    tools: Sequence[BaseTool | Any],
    *,
    system: str | None = None,
    checkpointer: Checkpointer = None,
    name: str = "agent",
) -> CompiledStateGraph[ChatState, None, ChatState, ChatState]:
    """The tool loop: ``agent`` calls the model with the tools bound; while its
    answer calls tools, ``tools`` (a ``ToolNode``) runs them and hands back."""
    base = _model(model)
    if not isinstance(base, BaseChatModel):
        raise UsageError(
            "agent() binds the tools itself: give it a spec or a chat model, not a"
            f" configured runnable ({type(base).__name__})"
        )
    builder = StateGraph(ChatState)
    builder.add_node("agent", _conversation_node(base.bind_tools(list(tools)), system))
    builder.add_node("tools", ToolNode(list(tools)))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition, {"tools": "tools", END: END})
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=checkpointer, name=name)
