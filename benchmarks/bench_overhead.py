"""Overhead of lgstream over raw LangGraph streaming, on the same graph and tokens.

The graph is ``START -> generate -> review -> END``. ``generate`` calls a fake
chat model with ``invoke()`` that streams ``--tokens`` words (the tokens we
want); ``review`` calls a second fake model that streams a short reply, so the
node filter has tokens to drop. Every variant returns the text of the
``generate`` tokens, joined, and must return exactly the model's reply.

Variants (sync, compared with ``raw sync``):

- ``raw sync``: ``graph.stream(stream_mode=["messages", "updates"], version="v2")``,
  picking ``messages`` parts of the ``generate`` node by hand;
- ``lgstream``: ``lgs.stream(...) | lgs.ops.nodes("generate") | lgs.ops.text()``;
- ``lg stream_events v3``: LangGraph's experimental v3 run stream,
  ``run.messages`` (one ``ChatModelStream`` per model call) and each stream's
  ``.text`` projection of text deltas.

Variants (async, each run inside ``asyncio.run``; compared with ``raw async``):

- ``raw async``: the same hand-written loop over ``graph.astream(..., version="v2")``;
- ``lgstream async``: ``lgs.astream(...) | nodes("generate") | text()``;
- ``lg astream_events v2``: LangChain's callback event stream, keeping
  ``on_chat_model_stream`` events of the ``generate`` node and their ``chunk.text``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, NotRequired, TypeAlias, TypedDict

from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

import lgstream as lgs
from lgstream.testing import FakeChatModel, split_tokens

from ._harness import (
    Timing,
    Variant,
    check_outputs,
    environment,
    format_table,
    print_progress,
    run_interleaved,
    write_json,
)

__all__ = ["BenchState", "build_graph", "main", "make_text", "make_variants"]

TARGET_MAX: Final = 1.10
"""lgstream's best run may take at most this many times raw LangGraph's."""
TARGET_AIM: Final = 1.05
"""What we aim for."""

RAW_SYNC: Final = "raw sync"
RAW_ASYNC: Final = "raw async"
LGSTREAM: Final = "lgstream"
LGSTREAM_ASYNC: Final = "lgstream async"

_VOCABULARY: Final = (
    "task", "decomposition", "breaks", "a", "complex", "problem", "into", "smaller",
    "simpler", "steps", "that", "an", "agent", "can", "plan", "and", "carry", "out",
    "one", "at", "a", "time", "with", "chain", "of", "thought", "prompting",
)  # fmt: skip

REVIEW: Final = "Looks right to me, though the answer could be shorter and cite a source."


class BenchState(TypedDict):
    """The benchmark graph's state."""

    question: str
    answer: NotRequired[str]
    review: NotRequired[str]


Graph: TypeAlias = CompiledStateGraph[BenchState, None, BenchState, BenchState]


def make_text(words: int) -> str:
    """A text that the fake model streams as exactly ``words`` tokens."""
    return " ".join(_VOCABULARY[i % len(_VOCABULARY)] for i in range(words))


def build_graph(model: FakeChatModel, reviewer: FakeChatModel) -> Graph:
    """``START -> generate -> review -> END``, both nodes calling ``invoke()``."""

    def generate(state: BenchState) -> dict[str, Any]:
        reply = model.invoke([HumanMessage(state["question"])])
        return {"answer": reply.text}

    def review(state: BenchState) -> dict[str, Any]:
        # The reviewer sees a prefix only: its input size should not vary with --tokens.
        reply = reviewer.invoke([HumanMessage(state.get("answer", "")[:200])])
        return {"review": reply.text}

    builder = StateGraph(BenchState)
    builder.add_node("generate", generate)
    builder.add_node("review", review)
    builder.add_edge(START, "generate")
    builder.add_edge("generate", "review")
    builder.add_edge("review", END)
    return builder.compile(name="bench-overhead")


def make_variants(graph: Graph, inp: BenchState) -> list[Variant]:
    """Every variant, raw baselines first; each returns the ``generate`` text."""

    def raw_sync() -> str:
        pieces: list[str] = []
        for part in graph.stream(inp, stream_mode=["messages", "updates"], version="v2"):
            if part["type"] == "messages":
                msg, meta = part["data"]
                if meta["langgraph_node"] == "generate":
                    pieces.append(msg.text)
        return "".join(pieces)

    def lgstream_sync() -> str:
        events = lgs.stream(graph, inp, modes=["messages", "updates"])
        return "".join(events | lgs.ops.nodes("generate") | lgs.ops.text())

    def stream_events_v3() -> str:
        pieces: list[str] = []
        with graph.stream_events(inp, version="v3") as run:
            for message in run.messages:  # one ChatModelStream per model call
                if message.node == "generate":
                    pieces.extend(message.text)  # its text deltas, as they arrive
        return "".join(pieces)

    async def raw_async_run() -> str:
        pieces: list[str] = []
        async for part in graph.astream(inp, stream_mode=["messages", "updates"], version="v2"):
            if part["type"] == "messages":
                msg, meta = part["data"]
                if meta["langgraph_node"] == "generate":
                    pieces.append(msg.text)
        return "".join(pieces)

    async def lgstream_async_run() -> str:
        events = lgs.astream(graph, inp, modes=["messages", "updates"])
        return "".join([t async for t in events | lgs.ops.nodes("generate") | lgs.ops.text()])

    async def astream_events_v2_run() -> str:
        pieces: list[str] = []
        async for event in graph.astream_events(inp, version="v2"):
            if (
                event["event"] == "on_chat_model_stream"
                and event["metadata"].get("langgraph_node") == "generate"
            ):
                pieces.append(event["data"]["chunk"].text)
        return "".join(pieces)

    def raw_async() -> str:
        return asyncio.run(raw_async_run())

    def lgstream_async() -> str:
        return asyncio.run(lgstream_async_run())

    def astream_events_v2() -> str:
        return asyncio.run(astream_events_v2_run())

    return [
        Variant(name=RAW_SYNC, run=raw_sync, group="sync"),
        Variant(name=LGSTREAM, run=lgstream_sync, group="sync"),
        Variant(name="lg stream_events v3", run=stream_events_v3, group="sync"),
        Variant(name=RAW_ASYNC, run=raw_async, group="async"),
        Variant(name=LGSTREAM_ASYNC, run=lgstream_async, group="async"),
        Variant(name="lg astream_events v2", run=astream_events_v2, group="async"),
    ]


def _ratio(value: float, base: float | None) -> float | None:
    return None if base is None else value / base


def _fmt_ratio(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.3f}x"


class Row(TypedDict):
    """One variant's results, as printed and as written to JSON."""

    name: str
    group: str
    times_ms: list[float]
    best_ms: float
    median_ms: float
    us_per_token: float
    ratio_vs_raw_sync: float | None
    ratio_vs_raw_async: float | None


def _rows(timings: Sequence[Timing], tokens: int) -> list[Row]:
    best = {t.name: t.best for t in timings}
    rows: list[Row] = []
    for t in timings:
        rows.append(
            {
                "name": t.name,
                "group": t.group,
                "times_ms": [round(s * 1e3, 3) for s in t.times],
                "best_ms": t.best * 1e3,
                "median_ms": t.median * 1e3,
                "us_per_token": t.best * 1e6 / tokens,
                "ratio_vs_raw_sync": _ratio(t.best, best.get(RAW_SYNC)),
                "ratio_vs_raw_async": (
                    _ratio(t.best, best.get(RAW_ASYNC)) if t.group == "async" else None
                ),
            }
        )
    return rows


def _table(rows: Sequence[Row]) -> str:
    header = ["variant", "best ms", "median ms", "us/token", "vs raw sync", "vs raw async"]
    cells = [
        [
            row["name"],
            f"{row['best_ms']:.1f}",
            f"{row['median_ms']:.1f}",
            f"{row['us_per_token']:.2f}",
            _fmt_ratio(row["ratio_vs_raw_sync"]),
            _fmt_ratio(row["ratio_vs_raw_async"]),
        ]
        for row in rows
    ]
    return format_table(header, cells)


def _verdict(name: str, ratio: float | None) -> tuple[str, bool]:
    if ratio is None:
        return f"{name}: not measured", True
    met = ratio <= TARGET_MAX
    status = "OK" if ratio <= TARGET_AIM else ("within target" if met else "OVER TARGET")
    return f"{name}: {ratio:.3f}x  [{status}]", met


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Overhead of lgstream over raw LangGraph streaming on the same graph.",
    )
    parser.add_argument("--runs", type=int, default=10, help="timed runs per variant (10)")
    parser.add_argument(
        "--tokens", type=int, default=10_000, help="tokens the generate node streams (10000)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit with status 1 if lgstream is slower than {TARGET_MAX:.2f}x raw",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.tokens < 1:
        parser.error("--tokens must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the overhead benchmark, print the table; ``--json`` to also save it."""
    args = _parse(argv)
    text = make_text(args.tokens)
    tokens = len(split_tokens(text, "words"))
    if tokens != args.tokens:  # the benchmark's premise; cheap to check
        raise RuntimeError(f"the text splits into {tokens} tokens, not {args.tokens}")
    model = FakeChatModel(script=[text], split="words", delay=0.0, cycle=True)
    reviewer = FakeChatModel(script=[REVIEW], split="words", delay=0.0, cycle=True)
    graph = build_graph(model, reviewer)
    inp: BenchState = {"question": "What is task decomposition?"}
    variants = make_variants(graph, inp)
    review_tokens = len(split_tokens(REVIEW, "words"))

    print(
        f"overhead: {tokens} tokens from `generate` (+{review_tokens} from"
        f" `review`, dropped), {len(variants)} variants x {args.runs} runs, interleaved;"
        " best run of each compared",
        flush=True,
    )
    with warnings.catch_warnings():
        # stream_events(version="v3") warns that it is experimental on every call.
        warnings.filterwarnings("ignore", message=r".*v3 streaming protocol.*")
        check_outputs(variants, text)  # also the warm-up
        progress = print_progress if sys.stderr.isatty() else None
        timings = run_interleaved(variants, args.runs, expected=text, progress=progress)

    rows = _rows(timings, tokens)
    by_name = {row["name"]: row for row in rows}
    sync_line, sync_met = _verdict(LGSTREAM, by_name[LGSTREAM]["ratio_vs_raw_sync"])
    async_line, _ = _verdict(LGSTREAM_ASYNC, by_name[LGSTREAM_ASYNC]["ratio_vs_raw_async"])

    print()
    print(f"tokens: {tokens}   runs per variant: {args.runs}   (best of runs; ratios of bests)")
    print(_table(rows))
    print()
    print(f"target: lgstream at most {TARGET_MAX:.2f}x raw (aim {TARGET_AIM:.2f}x)")
    print(f"  {sync_line}   (vs raw sync)")
    print(f"  {async_line}   (vs raw async)")

    if args.json is not None:
        write_json(
            args.json,
            {
                "benchmark": "overhead",
                "config": {"tokens": tokens, "runs": args.runs, "review_tokens": review_tokens},
                "target": {
                    "max_ratio": TARGET_MAX,
                    "aim_ratio": TARGET_AIM,
                    "lgstream_ratio_vs_raw_sync": by_name[LGSTREAM]["ratio_vs_raw_sync"],
                    "lgstream_async_ratio_vs_raw_async": by_name[LGSTREAM_ASYNC][
                        "ratio_vs_raw_async"
                    ],
                    "met": sync_met,
                },
                "environment": environment("lgstream", "langgraph", "langchain-core"),
                "variants": rows,
            },
        )
        print(f"\nwrote {args.json}")
    return 1 if args.check and not sync_met else 0
