"""The seed example, corrected: a question -> answer graph streamed token by token.

Run it with ``make demo`` or ``python -m lgstream.demo``. It needs no server: the
default model is an embedded ``FakeChatModel`` that streams a canned answer.
``--model ollama:llama3.2`` streams from a real Ollama at ``OLLAMA_HOST`` instead
(any backend spec works, see ``lgstream.backends``).

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

from langchain_core.language_models import BaseChatModel
from langgraph.graph.state import CompiledStateGraph

import lgstream as lgs
from lgstream.graphs import QAState, qa
from lgstream.testing import FakeChatModel

__all__ = ["QAState", "build_seed_graph", "demo_model", "main"]

DEMO_QUESTION = "What is Task Decomposition?"
DEMO_ANSWER = (
    "Task decomposition breaks a complex task into smaller, simpler steps that an"
    " agent can plan and carry out one at a time. A model can do it by itself with"
    ' chain-of-thought prompting ("think step by step"), with task-specific'
    " instructions, or with human input; the steps then become a plan to follow."
)


def build_seed_graph(
    model: BaseChatModel | str,
) -> CompiledStateGraph[QAState, None, QAState, QAState]:
    """START -> generate -> END, where ``generate`` asks ``model`` the question
    (``lgstream.graphs.qa``)."""
    return qa(model, name="seed-qa")


def demo_model(delay: float = 0.04) -> FakeChatModel:
    """The embedded default model: streams a canned answer, word by word."""
    return FakeChatModel(script=[DEMO_ANSWER], delay=delay, cycle=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Stream the seed graph in the terminal, tokens separated by ``|``."""
    parser = argparse.ArgumentParser(
        prog="python -m lgstream.demo", description="Stream the seed question -> answer graph."
    )
    parser.add_argument("--question", default=DEMO_QUESTION, help="what to ask")
    parser.add_argument(
        "--model",
        metavar="SPEC",
        help="a model spec such as ollama:llama3.2 (default: the embedded fake model)",
    )
    parser.add_argument("--ollama", metavar="MODEL", help="shorthand for --model ollama:MODEL")
    parser.add_argument(
        "--delay", type=float, default=0.04, help="seconds per token of the embedded model"
    )
    args = parser.parse_args(argv)
    spec = args.model or (f"ollama:{args.ollama}" if args.ollama else None)
    try:
        model = lgs.backends.resolve(spec, check=True) if spec else demo_model(args.delay)
        graph = build_seed_graph(model)
        print(f"Q: {args.question}\nA: ", end="", flush=True)
        events = lgs.stream(graph, {"question": args.question}, modes=["messages", "updates"])
        for piece in events | lgs.ops.nodes("generate") | lgs.ops.text():
            print(piece, end="|", flush=True)
        print()
    except lgs.LgstreamError as error:  # one line that says what to do, no traceback
        print(f"\nerror: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
