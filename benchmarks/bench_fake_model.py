"""Per-token cost of ``FakeChatModel`` against langchain-core's ``GenericFakeChatModel``.

Both models stream a long reply through LangChain's real streaming path, with
no delay, so what is timed is the model's own work per chunk plus the base
class's (callbacks, metadata), which both pay alike.

``GenericFakeChatModel`` splits with ``re.split(r"(\\s)", text)``: every word
*and* every space is a chunk, so ``n`` words make ``2n - 1`` chunks. To compare
equal token counts it gets a text of half as many words; each variant's
us/token divides by its own exact chunk count. It gets its reply from
``itertools.repeat`` (an endless ``messages`` iterator) so that one model serves
every run, like ``FakeChatModel(cycle=True)``.

Variants (each compared with the ``GenericFakeChatModel`` variant of its kind):

- ``fake stream`` / ``generic stream``: ``model.stream(...)``, the chunks' text joined;
- ``fake graph`` / ``generic graph``: a one-node LangGraph graph whose node calls
  ``model.invoke()``, streamed with ``stream_mode="messages"``, the tokens joined.

Every run checks that the joined text is the model's reply.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langgraph.graph import START, MessagesState, StateGraph

from lgstream.testing import FakeChatModel, split_tokens

from ._harness import (
    Timing,
    Variant,
    environment,
    format_table,
    print_progress,
    run_interleaved,
    write_json,
)

__all__ = ["generic_chunks", "main", "make_text", "make_variants"]

_VOCABULARY: Final = (
    "task", "decomposition", "breaks", "a", "complex", "problem", "into", "smaller",
    "simpler", "steps", "that", "an", "agent", "can", "plan", "and", "carry", "out",
)  # fmt: skip

FAKE: Final = "fake"
GENERIC: Final = "generic"


def make_text(words: int) -> str:
    """``words`` words joined by single spaces."""
    return " ".join(_VOCABULARY[i % len(_VOCABULARY)] for i in range(words))


def generic_chunks(text: str) -> int:
    """How many chunks ``GenericFakeChatModel`` streams for ``text``."""
    return len(re.split(r"(\s)", text))


def _graph_runner(model: BaseChatModel, expected: str) -> Callable[[], object]:
    def generate(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("generate", generate)
    builder.add_edge(START, "generate")
    graph = builder.compile()
    inp: MessagesState = {"messages": [HumanMessage("Go.")]}

    def run() -> object:
        text = "".join(
            chunk.text
            for chunk, _ in graph.stream(inp, stream_mode="messages")
            if isinstance(chunk, AIMessageChunk)
        )
        return text == expected

    return run


def _stream_runner(model: BaseChatModel, expected: str) -> Callable[[], object]:
    def run() -> object:
        return "".join(chunk.text for chunk in model.stream("Go.")) == expected

    return run


class Setup(TypedDict):
    """What ``make_variants`` built: the variants and each one's token count."""

    variants: list[Variant]
    tokens: dict[str, int]


def make_variants(tokens: int) -> Setup:
    """The four variants for ``tokens`` tokens (the generic model's as close as
    its odd chunk counts allow)."""
    fake_text = make_text(tokens)
    generic_text = make_text((tokens + 1) // 2)
    fake = FakeChatModel(script=[fake_text], cycle=True)
    generic = GenericFakeChatModel(messages=itertools.repeat(AIMessage(content=generic_text)))
    variants = [
        Variant(name=f"{FAKE} stream", run=_stream_runner(fake, fake_text), group="stream"),
        Variant(
            name=f"{GENERIC} stream", run=_stream_runner(generic, generic_text), group="stream"
        ),
        Variant(name=f"{FAKE} graph", run=_graph_runner(fake, fake_text), group="graph"),
        Variant(name=f"{GENERIC} graph", run=_graph_runner(generic, generic_text), group="graph"),
    ]
    counts = {FAKE: len(split_tokens(fake_text)), GENERIC: generic_chunks(generic_text)}
    return {
        "variants": variants,
        "tokens": {v.name: counts[v.name.split()[0]] for v in variants},
    }


class Row(TypedDict):
    """One variant's results, as printed and as written to JSON."""

    name: str
    group: str
    tokens: int
    times_ms: list[float]
    best_ms: float
    median_ms: float
    us_per_token: float
    ratio_vs_generic: float


def _rows(timings: Sequence[Timing], tokens: dict[str, int]) -> list[Row]:
    per_token = {t.name: t.best * 1e6 / tokens[t.name] for t in timings}
    return [
        {
            "name": t.name,
            "group": t.group,
            "tokens": tokens[t.name],
            "times_ms": [round(s * 1e3, 3) for s in t.times],
            "best_ms": t.best * 1e3,
            "median_ms": t.median * 1e3,
            "us_per_token": per_token[t.name],
            "ratio_vs_generic": per_token[t.name] / per_token[f"{GENERIC} {t.group}"],
        }
        for t in timings
    ]


def _table(rows: Sequence[Row]) -> str:
    header = ["variant", "tokens", "best ms", "median ms", "us/token", "vs generic"]
    cells = [
        [
            row["name"],
            str(row["tokens"]),
            f"{row['best_ms']:.1f}",
            f"{row['median_ms']:.1f}",
            f"{row['us_per_token']:.2f}",
            f"{row['ratio_vs_generic']:.3f}x",
        ]
        for row in rows
    ]
    return format_table(header, cells)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks fake_model",
        description="Per-token cost of FakeChatModel vs langchain-core's GenericFakeChatModel.",
    )
    parser.add_argument("--runs", type=int, default=10, help="timed runs per variant (10)")
    parser.add_argument("--tokens", type=int, default=10_000, help="tokens per reply (10000)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit with status 1 if FakeChatModel is slower per token than GenericFakeChatModel",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.tokens < 2:
        parser.error("--tokens must be at least 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake-model benchmark, print the table; ``--json`` to also save it."""
    args = _parse(argv)
    setup = make_variants(args.tokens)
    variants, tokens = setup["variants"], setup["tokens"]
    print(
        f"fake_model: FakeChatModel vs GenericFakeChatModel, ~{args.tokens} tokens per reply,"
        f" {len(variants)} variants x {args.runs} runs, interleaved; best run of each compared",
        flush=True,
    )
    for variant in variants:  # warm-up and correctness check
        if variant.run() is not True:
            raise RuntimeError(f"variant {variant.name!r} did not stream its reply")
    progress = print_progress if sys.stderr.isatty() else None
    timings = run_interleaved(variants, args.runs, expected=True, progress=progress)
    rows = _rows(timings, tokens)
    print()
    print(f"runs per variant: {args.runs}   (best of runs; ratios of per-token bests)")
    print(_table(rows))
    met = all(row["ratio_vs_generic"] < 1.0 for row in rows if row["name"].startswith(FAKE))
    print(f"\ntarget: FakeChatModel faster per token than GenericFakeChatModel: {met}")
    if args.json is not None:
        write_json(
            args.json,
            {
                "benchmark": "fake_model",
                "config": {"tokens": args.tokens, "runs": args.runs},
                "target": {"met": met},
                "environment": environment("lgstream", "langgraph", "langchain-core"),
                "variants": rows,
            },
        )
        print(f"\nwrote {args.json}")
    return 1 if args.check and not met else 0
