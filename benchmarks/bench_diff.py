"""State diffing: ``diff_state()`` against ``jsonpatch.make_patch`` on a growing chat.

Workload: a chat state ``{"messages": [...]}`` of N realistic messages (human
questions; AI answers with Ollama-style response metadata, usage, and now and
then a tool call), as ``Values`` events the way ``values`` mode sends them. Each
step appends one message the way LangGraph's ``add_messages`` does: a new list
holding the same message objects. A run diffs ``--steps`` consecutive steps
(N -> N+1 -> ... -> N+steps), at N = 250, 1,000 and 4,000.

Variants, interleaved and compared by their best run:

- ``diff_state``: ``DiffState.feed(values_event)`` per step; the operator has sent
  its snapshot of the first state before timing starts (a one-off per stream);
- ``to_jsonable + make_patch``: ``jsonpatch.make_patch(to_jsonable(prev.data),
  to_jsonable(new.data))`` per step, what a hand-written state delta costs;
- ``from_parts + diff_state (remote)``: the remote shape, each step's state as
  freshly parsed JSON (messages as dicts, as a LangGraph Server sends them; parsed
  before timing), through ``from_parts()`` (which revives messages) and
  ``diff_state()``; primed past its snapshot like ``diff_state``;
- ``make_patch (pre-converted)``: ``jsonpatch.make_patch(prev_json, new_json)`` on
  JSON converted before timing: make_patch alone, to be fair to it.

Before timing, every variant's patches are checked: applied in turn to the first
state's JSON (with jsonpatch), they must give the last state's JSON.

Targets: ``diff_state`` at least 20x faster than make_patch, even on pre-converted
JSON, at every size; and flat as the list grows: the growth exponent
``log(t(4000) / t(250)) / log(16)`` (0 is flat, 1 is linear) at most 0.25.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Final, TypedDict

import jsonpatch
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

import lgstream as lgs
from lgstream.ops import DiffState

from ._harness import Timing, Variant, environment, format_table, run_interleaved, write_json

__all__ = ["main", "make_messages"]

SPEEDUP_MIN: Final = 20.0
"""diff_state must be at least this many times faster than make_patch."""
EXPONENT_MAX: Final = 0.25
"""The most diff_state's per-diff time may grow with the list: t ~ N**exponent."""

DIFF_STATE: Final = "diff_state"
REMOTE: Final = "from_parts + diff_state (remote)"
CONVERT_AND_PATCH: Final = "to_jsonable + make_patch"
PATCH_ONLY: Final = "make_patch (pre-converted)"

Patches = list[list[dict[str, lgs.JSONValue]]]

_WORDS: Final = (
    "the", "graph", "streams", "each", "step", "state", "values", "node", "agent", "tool",
    "message", "answer", "question", "search", "result", "plan", "retry", "cache", "model",
    "token", "update", "client", "server", "patch", "list", "append", "reducer", "thread",
)  # fmt: skip


def _text(seed: int, words: int) -> str:
    return " ".join(_WORDS[(seed * 7 + i * 3) % len(_WORDS)] for i in range(words)).capitalize()


def make_messages(n: int) -> list[BaseMessage]:
    """``n`` messages of a realistic chat, alternating questions and answers."""
    out: list[BaseMessage] = []
    for i in range(n):
        if i % 2 == 0:
            out.append(HumanMessage(content=_text(i, 25) + "?", id=f"human-{i:05d}"))
            continue
        tool_calls = (
            [
                {
                    "name": "search",
                    "args": {"query": _text(i, 5)},
                    "id": f"call-{i}",
                    "type": "tool_call",
                }
            ]
            if i % 10 == 1
            else []
        )
        out.append(
            AIMessage(
                content=_text(i, 90) + ".",
                id=f"run-{i:08d}-0000-4000-8000-000000000000",
                tool_calls=tool_calls,
                response_metadata={
                    "model": "llama3.2",
                    "model_name": "llama3.2",
                    "created_at": f"2025-01-01T12:{i // 60 % 60:02d}:{i % 60:02d}.000000Z",
                    "done": True,
                    "done_reason": "stop",
                    "total_duration": 1_200_000_000 + i,
                    "load_duration": 20_000_000,
                    "prompt_eval_count": 40 + i,
                    "eval_count": 120,
                },
                usage_metadata={
                    "input_tokens": 40 + i,
                    "output_tokens": 120,
                    "total_tokens": 160 + i,
                },
            )
        )
    return out


class SizeResult(TypedDict):
    """One size's results, as printed and as written to JSON."""

    messages: int
    steps: int
    best_us_per_diff: dict[str, float]
    median_us_per_diff: dict[str, float]
    times_ms: dict[str, list[float]]


def _check(name: str, patches: Patches, first: lgs.JSONValue, last: lgs.JSONValue) -> None:
    state = first
    for ops in patches:
        state = jsonpatch.apply_patch(state, ops)
    if state != last:
        raise RuntimeError(f"variant {name!r}: its patches do not rebuild the last state")


def measure(n: int, steps: int, runs: int) -> SizeResult:
    """Time the three variants on N = ``n`` messages, ``steps`` diffs per run."""
    pool = make_messages(n + steps)
    events = [lgs.Values(data={"messages": pool[: n + k]}) for k in range(steps + 1)]
    jsons = [lgs.to_jsonable(event.data) for event in events]

    # One operator per run (plus the check run), each past its snapshot already.
    primed: list[DiffState] = []
    for _ in range(runs + 1):
        op = lgs.ops.diff_state()
        op.feed(events[0])
        primed.append(op)
    spent: list[DiffState] = []  # freeing an operator's memory is not diffing: not timed

    def diff_state() -> Patches:
        spent.append(primed.pop())
        feed = spent[-1].feed
        out: Patches = []
        for event in events[1:]:
            for derived in feed(event):
                assert isinstance(derived, lgs.StatePatch)
                out.append(list(derived.ops))
        return out

    # The remote shape: fresh parsed JSON per step and per run, primed past the snapshot.
    texts = [json.dumps(state) for state in jsons]
    remotes: list[Iterator[lgs.Event]] = []
    for _ in range(runs + 1):
        parts = [{"type": "values", "ns": [], "data": json.loads(text)} for text in texts]
        stream = iter(lgs.from_parts(parts) | lgs.ops.diff_state())
        while not isinstance(next(stream), lgs.StateSnapshot):
            pass
        remotes.append(stream)

    def remote() -> Patches:
        return [list(e.ops) for e in remotes.pop() if isinstance(e, lgs.StatePatch)]

    def convert_and_patch() -> Patches:
        to_jsonable, make_patch = lgs.to_jsonable, jsonpatch.make_patch
        return [
            make_patch(to_jsonable(prev.data), to_jsonable(new.data)).patch
            for prev, new in pairwise(events)
        ]

    def patch_only() -> Patches:
        make_patch = jsonpatch.make_patch
        return [make_patch(prev, new).patch for prev, new in pairwise(jsons)]

    variants = [
        Variant(name=DIFF_STATE, run=diff_state, group="sync"),
        Variant(name=REMOTE, run=remote, group="sync"),
        Variant(name=CONVERT_AND_PATCH, run=convert_and_patch, group="sync"),
        Variant(name=PATCH_ONLY, run=patch_only, group="sync"),
    ]
    for variant in variants:  # the check, and the warm-up
        result = variant.run()
        assert isinstance(result, list)
        _check(variant.name, result, jsons[0], jsons[-1])
    timings = run_interleaved(variants, runs)
    return _result(n, steps, timings)


def _result(n: int, steps: int, timings: Sequence[Timing]) -> SizeResult:
    return {
        "messages": n,
        "steps": steps,
        "best_us_per_diff": {t.name: t.best * 1e6 / steps for t in timings},
        "median_us_per_diff": {t.name: t.median * 1e6 / steps for t in timings},
        "times_ms": {t.name: [round(s * 1e3, 3) for s in t.times] for t in timings},
    }


def exponent(results: Sequence[SizeResult], name: str) -> float:
    """How per-diff time grows with N, first size to last: t ~ N**exponent."""
    first, last = results[0], results[-1]
    ratio = last["best_us_per_diff"][name] / first["best_us_per_diff"][name]
    return math.log(ratio) / math.log(last["messages"] / first["messages"])


def _table(results: Sequence[SizeResult]) -> str:
    header = ["messages", "variant", "us/diff (best)", "us/diff (median)", "vs diff_state"]
    rows = []
    for result in results:
        ours = result["best_us_per_diff"][DIFF_STATE]
        for name, best in result["best_us_per_diff"].items():
            rows.append(
                [
                    f"{result['messages']:,}",
                    name,
                    f"{best:,.1f}",
                    f"{result['median_us_per_diff'][name]:,.1f}",
                    f"{best / ours:,.1f}x",
                ]
            )
    return format_table(header, rows)


def _verdicts(results: Sequence[SizeResult]) -> tuple[list[str], bool]:
    lines: list[str] = []
    ok = True
    for ours_name, baseline in (
        (DIFF_STATE, PATCH_ONLY),
        (DIFF_STATE, CONVERT_AND_PATCH),
        (REMOTE, PATCH_ONLY),
    ):
        speedups = [
            r["best_us_per_diff"][baseline] / r["best_us_per_diff"][ours_name] for r in results
        ]
        met = min(speedups) >= SPEEDUP_MIN
        ok &= met
        each = ", ".join(
            f"{s:,.0f}x at {r['messages']:,}" for s, r in zip(speedups, results, strict=True)
        )
        lines.append(
            f"  {ours_name} vs {baseline}: {each}"
            f" (target >= {SPEEDUP_MIN:.0f}x)  [{'OK' if met else 'MISSED'}]"
        )
    ours = exponent(results, DIFF_STATE)
    remote = exponent(results, REMOTE)
    met = max(ours, remote) <= EXPONENT_MAX
    ok &= met
    theirs = ", ".join(
        f"{name} {exponent(results, name):.2f}" for name in (CONVERT_AND_PATCH, PATCH_ONLY)
    )
    sizes = f"{results[0]['messages']:,} -> {results[-1]['messages']:,} messages"
    lines.append(
        f"  growth exponent, {sizes}: diff_state {ours:.2f}, remote {remote:.2f} ({theirs})"
        f" (target <= {EXPONENT_MAX})  [{'OK' if met else 'MISSED'}]"
    )
    return lines, ok


def _sizes(text: str) -> list[int]:
    sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    if len(sizes) < 2 or sizes[0] < 1:
        raise argparse.ArgumentTypeError("give at least two sizes >= 1, e.g. 250,1000,4000")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    """Run the diffing benchmark and print its table and verdicts."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks diff", description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="timed runs per variant (7)")
    parser.add_argument("--steps", type=int, default=10, help="diffs per run (10)")
    parser.add_argument(
        "--sizes", type=_sizes, default=[250, 1000, 4000], help="messages (250,1000,4000)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args, _ = parser.parse_known_args(argv)  # other benchmarks' options are theirs
    if args.runs < 1 or args.steps < 1:
        parser.error("--runs and --steps must be at least 1")
    started = time.perf_counter()
    progress: Callable[[str], None] = (
        (lambda text: print(text, end="", file=sys.stderr, flush=True))
        if sys.stderr.isatty()
        else (lambda text: None)
    )
    results: list[SizeResult] = []
    for n in args.sizes:
        progress(f"\r  {n:,} messages...")
        results.append(measure(n, args.steps, args.runs))
    progress("\r" + " " * 30 + "\r")
    print(
        f"diff: a chat state of N messages, one appended per step; {args.steps} diffs per run,"
        f" {args.runs} interleaved runs per variant, best run compared"
    )
    print(_table(results))
    lines, ok = _verdicts(results)
    print("\n".join(lines))
    print(f"(took {time.perf_counter() - started:.0f} s)")
    if args.json:
        path = args.json.with_name(args.json.stem + "-diff" + args.json.suffix)
        write_json(
            path,
            {
                "benchmark": "diff",
                "config": {"runs": args.runs, "steps": args.steps, "sizes": args.sizes},
                "targets": {"speedup_min": SPEEDUP_MIN, "exponent_max": EXPONENT_MAX, "met": ok},
                "exponent": {
                    name: exponent(results, name) for name in results[0]["best_us_per_diff"]
                },
                "environment": environment("lgstream", "langchain-core", "jsonpatch"),
                "results": results,
            },
        )
        print(f"wrote {path}")
    return 1 if args.check and not ok else 0
