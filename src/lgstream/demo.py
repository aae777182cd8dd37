"""The seed example, corrected: a question -> answer graph streamed token by token.

Run it with ``make demo`` or ``python -m lgstream.demo``. It needs no server: the
default model is an embedded ``FakeChatModel`` that
streams a canned answer. ``--ollama llama3.2`` streams from a real Ollama at
``OLLAMA_HOST`` instead (needs the ``ollama`` extra).

What the original note got wrong, and what this does instead:

- ``from langgraph.llms import Ollama``: no such module; the chat model is
  ``langchain_ollama.ChatOllama`` (or any LangChain chat model).
- ``Ollama(..., streaming=True)``: ChatOllama has no such flag. LangGraph's
  ``messages`` mode makes the model stream even when the node calls ``invoke()``.
- ``class MyState(dict)``: a dict subclass declares no channels, so the node
  gets ``{}``. The state is a ``TypedDict`` with one key per channel.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

import lgstream as lgs
from lgstream.testing import FakeChatModel

__all__ = ["QAState", "build_seed_graph", "demo_model", "main"]

DEMO_QUESTION = "What is Task Decomposition?"
DEMO_ANSWER = (
    "Task decomposition breaks a complex task into smaller, simpler steps that an"
    " agent can plan and carry out one at a time. A model can do it by itself with"
    ' chain-of-thought prompting ("think step by step"), with task-specific'
    " instructions, or with human input; the steps then become a plan to follow."
)


class QAState(TypedDict):
    """The seed graph's state: one channel per key."""

    question: str
    answer: NotRequired[str]


def build_seed_graph(model: BaseChatModel) -> CompiledStateGraph[QAState, None, QAState, QAState]:
    """START -> generate -> END, where ``generate`` asks ``model`` the question."""

    def generate(state: QAState) -> dict[str, Any]:
        reply = model.invoke([HumanMessage(state["question"])])
        return {"answer": reply.text}

    builder = StateGraph(QAState)
    builder.add_node("generate", generate)
    builder.add_edge(START, "generate")
    builder.add_edge("generate", END)
    return builder.compile(name="seed-qa")


def demo_model(delay: float = 0.04) -> FakeChatModel:
    """The embedded default model: streams a canned answer, word by word."""
    return FakeChatModel(script=[DEMO_ANSWER], delay=delay, cycle=True)


def _ollama_model(name: str) -> BaseChatModel:
    try:
        from langchain_ollama import ChatOllama
    except ImportError:  # pragma: no cover - depends on the extra
        sys.exit("--ollama needs the ollama extra: pip install 'lgstream[ollama]'")
    return ChatOllama(model=name)


def main(argv: Sequence[str] | None = None) -> int:
    """Stream the seed graph in the terminal, tokens separated by ``|``."""
    parser = argparse.ArgumentParser(
        prog="python -m lgstream.demo", description="Stream the seed question -> answer graph."
    )
    parser.add_argument("--question", default=DEMO_QUESTION, help="what to ask")
    parser.add_argument("--ollama", metavar="MODEL", help="use a real Ollama model, e.g. llama3.2")
    parser.add_argument(
        "--delay", type=float, default=0.04, help="seconds per token of the embedded model"
    )
    args = parser.parse_args(argv)
    model = _ollama_model(args.ollama) if args.ollama else demo_model(args.delay)
    graph = build_seed_graph(model)
    print(f"Q: {args.question}\nA: ", end="", flush=True)
    events = lgs.stream(graph, {"question": args.question}, modes=["messages", "updates"])
    for piece in events | lgs.ops.nodes("generate") | lgs.ops.text():
        print(piece, end="|", flush=True)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
