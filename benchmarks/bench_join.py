"""Joining streamed chunks into messages: ``join_messages()`` against the loops users
write and against langchain-core's batch merge.

Workloads, both from raw ``messages`` parts as LangGraph's v2 stream gives them:

- **text**: one message of ``--chunks`` text chunks (16,000 by default);
- **tool args**: one message whose tool call's JSON arguments arrive in
  ``--chunks / 4`` fragments (4,000), the way providers stream them.

Variants, interleaved and compared by their best run:

- ``acc + chunk loop``: ``acc = chunk if acc is None else acc + chunk`` over the parts,
  reading ``acc.text`` after each (the live text). Each ``+`` rebuilds the message,
  and re-parses the whole tool-call JSON so far: quadratic in the arguments.
- ``lgstream``: ``lgs.from_parts(parts) | lgs.ops.join_messages()`` end to end; every
  token event carries its delta, live, and ``MessageDone`` the whole message.
- ``operator alone``: ``JoinMessages.feed`` over ready ``Token`` events, then ``flush``.
- ``batch oracle``: ``add_ai_message_chunks(first, *rest)``, all chunks at once.

Targets: lgstream >= 5x faster than the loop on text, >= 20x on tool arguments;
the operator alone within 2x of the batch oracle; doubling the chunks at most
doubles the time (scaling exponent <= 1.1, measured at N and 2N).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessageChunk
from langchain_core.messages.ai import add_ai_message_chunks
from langchain_core.messages.tool import tool_call_chunk

import lgstream as lgs
from lgstream.ops import JoinMessages

from ._harness import Timing, Variant, environment, format_table, run_interleaved, write_json

__all__ = ["main"]

META = {"langgraph_node": "generate", "langgraph_step": 1, "tags": []}
Parts = list[dict[str, Any]]


def text_chunks(n: int) -> list[AIMessageChunk]:
    chunks = [AIMessageChunk(content=f" w{i}", id="msg-text") for i in range(n)]
    chunks.append(AIMessageChunk(content="", id="msg-text", chunk_position="last"))
    return chunks


def tool_chunks(n: int) -> list[AIMessageChunk]:
    args = json.dumps({"items": [f"item {i}" for i in range(n)]})
    size = max(1, math.ceil(len(args) / n))
    pieces = [args[i : i + size] for i in range(0, len(args), size)]
    chunks = [
        AIMessageChunk(
            content="",
            id="msg-tool",
            tool_call_chunks=[
                tool_call_chunk(
                    name="lookup" if i == 0 else None,
                    args=piece,
                    id="call-1" if i == 0 else None,
                    index=0,
                )
            ],
        )
        for i, piece in enumerate(pieces)
    ]
    chunks.append(AIMessageChunk(content="", id="msg-tool", chunk_position="last"))
    return chunks


def as_parts(chunks: Sequence[AIMessageChunk]) -> Parts:
    return [{"type": "messages", "ns": (), "data": (chunk, META)} for chunk in chunks]


def as_tokens(chunks: Sequence[AIMessageChunk]) -> list[lgs.Event]:
    return list(lgs.from_parts(as_parts(chunks)))


def fingerprint(message: AIMessageChunk) -> str:
    return json.dumps([message.text, message.tool_calls, message.id], sort_keys=True)


def acc_loop(parts: Parts) -> str:
    acc: AIMessageChunk | None = None
    live = ""
    for part in parts:
        chunk, _meta = part["data"]
        acc = chunk if acc is None else acc + chunk
        live = acc.text  # what a UI shows after each chunk
    assert acc is not None
    assert live == acc.text
    return fingerprint(acc)


def lgstream_join(parts: Parts) -> str:
    whole: AIMessageChunk | None = None
    for event in lgs.from_parts(parts) | lgs.ops.join_messages():
        if isinstance(event, lgs.MessageDone):
            whole = event.message
    assert whole is not None
    return fingerprint(whole)


def operator_alone(tokens: Sequence[lgs.Event]) -> str:
    join = JoinMessages()
    feed = join.feed
    out: list[lgs.Event] = []
    for token in tokens:
        out.extend(feed(token))
    out.extend(join.flush())
    done = [ev for ev in out if isinstance(ev, lgs.MessageDone)]
    return fingerprint(done[-1].message)


def batch_oracle(chunks: Sequence[AIMessageChunk]) -> str:
    return fingerprint(add_ai_message_chunks(chunks[0], *chunks[1:]))


def variants_for(chunks: list[AIMessageChunk], with_loop: bool) -> list[Variant]:
    parts = as_parts(chunks)
    tokens = as_tokens(chunks)
    out = [
        Variant(name="lgstream", run=lambda: lgstream_join(parts), group="sync"),
        Variant(name="operator alone", run=lambda: operator_alone(tokens), group="sync"),
        Variant(name="batch oracle", run=lambda: batch_oracle(chunks), group="sync"),
    ]
    if with_loop:
        out.insert(0, Variant(name="acc + chunk loop", run=lambda: acc_loop(parts), group="sync"))
    return out


def _best(timings: Sequence[Timing]) -> dict[str, float]:
    return {t.name: t.best for t in timings}


def measure(
    name: str, make: Callable[[int], list[AIMessageChunk]], n: int, runs: int
) -> dict[str, Any]:
    """Time every variant at n chunks (with the loop) and lgstream at 2n (scaling)."""
    chunks = make(n)
    expected = batch_oracle(chunks)
    best = _best(run_interleaved(variants_for(chunks, True), runs, expected=expected))
    double = make(2 * n)
    best_2n = _best(
        run_interleaved(variants_for(double, False), runs, expected=batch_oracle(double))
    )
    return {
        "workload": name,
        "chunks": len(chunks),
        "best_s": best,
        "best_s_at_2n": best_2n,
        "speedup_vs_loop": best["acc + chunk loop"] / best["lgstream"],
        "operator_vs_oracle": best["operator alone"] / best["batch oracle"],
        "exponent_lgstream": math.log2(best_2n["lgstream"] / best["lgstream"]),
        "exponent_operator": math.log2(best_2n["operator alone"] / best["operator alone"]),
    }


def _table(results: Sequence[dict[str, Any]]) -> str:
    header = ["workload", "variant", "best ms", "us/chunk", "best ms at 2N", "exponent"]
    rows = []
    for result in results:
        n = result["chunks"]
        for variant, seconds in result["best_s"].items():
            at_2n = result["best_s_at_2n"].get(variant)
            exponent = "-" if at_2n is None else f"{math.log2(at_2n / seconds):.2f}"
            rows.append(
                [
                    result["workload"],
                    variant,
                    f"{seconds * 1e3:.1f}",
                    f"{seconds * 1e6 / n:.2f}",
                    "-" if at_2n is None else f"{at_2n * 1e3:.1f}",
                    exponent,
                ]
            )
    return format_table(header, rows)


def _verdicts(results: Sequence[dict[str, Any]]) -> tuple[list[str], bool]:
    lines, ok = [], True
    for result in results:
        need = 5.0 if result["workload"] == "text" else 20.0
        checks = [
            (
                f"lgstream vs loop: {result['speedup_vs_loop']:.1f}x faster"
                f" (target >= {need:.0f}x)",
                result["speedup_vs_loop"] >= need,
            ),
            (
                f"operator alone vs batch oracle: {result['operator_vs_oracle']:.2f}x"
                " (target <= 2x)",
                result["operator_vs_oracle"] <= 2.0,
            ),
            (
                f"scaling exponent (lgstream, N -> 2N): {result['exponent_lgstream']:.2f}"
                " (target <= 1.1)",
                result["exponent_lgstream"] <= 1.1,
            ),
        ]
        for text, met in checks:
            ok &= met
            lines.append(f"  {result['workload']}: {text}  [{'OK' if met else 'MISSED'}]")
    return lines, ok


def main(argv: Sequence[str] | None = None) -> int:
    """Run the joining benchmark and print its table and verdicts."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks join", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per variant (5)")
    parser.add_argument("--chunks", type=int, default=16_000, help="text chunks (16000)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args, _ = parser.parse_known_args(argv)
    started = time.perf_counter()
    results = [
        measure("text", text_chunks, args.chunks, args.runs),
        measure("tool args", tool_chunks, args.chunks // 4, args.runs),
    ]
    print(
        f"join: {args.chunks} text chunks, {args.chunks // 4} tool-argument fragments;"
        f" {args.runs} interleaved runs per variant, best run compared"
    )
    print(_table(results))
    lines, ok = _verdicts(results)
    print("\n".join(lines))
    print(f"(took {time.perf_counter() - started:.0f} s)")
    if args.json:
        path = args.json.with_name(args.json.stem + "-join" + args.json.suffix)
        write_json(path, {"environment": environment("langchain-core"), "results": results})
    return 1 if args.check and not ok else 0
