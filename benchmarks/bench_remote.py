"""Overhead of lgstream's remote adapter over raw langgraph-sdk streaming, per event.

A real LangGraph Server (``langgraph dev``, in memory, on loopback; started by
``lgstream.testing.LangGraphDevServer`` and stopped at the end) runs the
``long`` graph of ``benchmarks/remote_graphs.py``: one chat node whose fake
model streams ``--tokens`` words with no delay. Every variant streams one run
of it with ``stream_mode=["messages-tuple", "updates", "values"]`` and returns
the joined token text, which must be exactly the model's reply.

End to end (one server run per call; sync compared with ``raw``, async with
``raw async``):

- ``raw``: ``client.runs.stream(...)`` of a sync client (``get_sync_client``),
  pulling the token text out of each ``messages`` part's message dict: the least
  a hand-written consumer must do;
- ``from_sdk``: ``lgs.from_sdk(client.runs.stream(...)) | lgs.ops.text()``;
- ``RemoteGraph``: ``lgs.stream(RemoteGraph("long", sync_client=client), ...,
  modes=["messages", "updates"]) | lgs.ops.text()``;
- ``raw async``, ``from_sdk async``, ``RemoteGraph async``: the same with the
  async client (``get_client``), on one event loop kept for every run.

Each run is timed twice: wall clock (``time.perf_counter``), which the server
dominates, and this process's CPU time (``time.process_time``). The server is
another process, so the CPU time is the client's work alone: the SDK reading
SSE and decoding JSON, plus whatever lgstream adds. Its ratio is the honest
measure of the adapter's overhead.

Adapter alone (no server, no sockets): the SDK parts of one run, recorded into a
list once, then

- ``raw list``: the ``raw`` loop over the list;
- ``revive only``: ``lgs.revive_message`` on each token's message dict, what
  reviving a message costs by itself (a plain text token skips pydantic's
  validation, which alone costs ~10 us);
- ``from_sdk, no ops``: ``lgs.from_sdk(parts)``, keeping ``Token`` texts by hand;
- ``from_sdk | text()``: ``lgs.from_sdk(parts) | lgs.ops.text()``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TypedDict

from langgraph.pregel.remote import RemoteGraph
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient
from langgraph_sdk.schema import StreamMode

import lgstream as lgs
from lgstream.testing import LangGraphDevServer

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
from .remote_graphs import DEFAULT_TOKENS, GRAPHS, TOKENS_ENV, reply_text

__all__ = ["main", "make_micro_variants", "make_variants"]

GRAPH_ID: Final = "long"
SDK_MODES: Final[list[StreamMode]] = ["messages-tuple", "updates", "values"]
"""What the raw and ``from_sdk`` variants ask the server for."""
LG_MODES: Final = ["messages", "updates"]
"""What the ``RemoteGraph`` variants ask lgstream for (it adds ``values``)."""
INPUT: Final[dict[str, Any]] = {"messages": [{"role": "user", "content": "Stream it all."}]}

RAW: Final = "raw"
RAW_ASYNC: Final = "raw async"
FROM_SDK: Final = "from_sdk"
RAW_LIST: Final = "raw list"
VALIDATE_ONLY: Final = "revive only"
FROM_SDK_EVENTS: Final = "from_sdk, no ops"
FROM_SDK_TEXT: Final = "from_sdk | text()"


def _token_text(message: dict[str, Any]) -> str:
    content = message["content"]
    return content if isinstance(content, str) else ""


def _raw_text(parts: Any) -> str:
    """What a hand-written consumer does at least: the text of every token."""
    pieces: list[str] = []
    for part in parts:
        if part.event == "messages":
            pieces.append(_token_text(part.data[0]))
    return "".join(pieces)


def make_variants(
    client: SyncLangGraphClient, aclient: LangGraphClient, runner: asyncio.Runner
) -> list[Variant]:
    """The end-to-end variants, raw baselines first; each returns the joined text."""
    remote = RemoteGraph(GRAPH_ID, sync_client=client)
    aremote = RemoteGraph(GRAPH_ID, client=aclient)

    def raw() -> str:
        return _raw_text(client.runs.stream(None, GRAPH_ID, input=INPUT, stream_mode=SDK_MODES))

    def from_sdk() -> str:
        parts = client.runs.stream(None, GRAPH_ID, input=INPUT, stream_mode=SDK_MODES)
        return "".join(lgs.from_sdk(parts) | lgs.ops.text())

    def remote_graph() -> str:
        return "".join(lgs.stream(remote, INPUT, modes=LG_MODES) | lgs.ops.text())

    async def raw_async_run() -> str:
        pieces: list[str] = []
        parts = aclient.runs.stream(None, GRAPH_ID, input=INPUT, stream_mode=SDK_MODES)
        async for part in parts:
            if part.event == "messages":
                pieces.append(_token_text(part.data[0]))
        return "".join(pieces)

    async def from_sdk_async_run() -> str:
        parts = aclient.runs.stream(None, GRAPH_ID, input=INPUT, stream_mode=SDK_MODES)
        return "".join([t async for t in lgs.from_sdk(parts) | lgs.ops.text()])

    async def remote_graph_async_run() -> str:
        events = lgs.astream(aremote, INPUT, modes=LG_MODES)
        return "".join([t async for t in events | lgs.ops.text()])

    def raw_async() -> str:
        return runner.run(raw_async_run())

    def from_sdk_async() -> str:
        return runner.run(from_sdk_async_run())

    def remote_graph_async() -> str:
        return runner.run(remote_graph_async_run())

    return [
        Variant(name=RAW, run=raw, group="sync"),
        Variant(name=FROM_SDK, run=from_sdk, group="sync"),
        Variant(name="RemoteGraph", run=remote_graph, group="sync"),
        Variant(name=RAW_ASYNC, run=raw_async, group="async"),
        Variant(name="from_sdk async", run=from_sdk_async, group="async"),
        Variant(name="RemoteGraph async", run=remote_graph_async, group="async"),
    ]


def make_micro_variants(parts: Sequence[Any]) -> list[Variant]:
    """The adapter-alone variants over one run's recorded SDK parts."""
    messages = [part.data[0] for part in parts if part.event == "messages"]

    def raw_list() -> str:
        return _raw_text(parts)

    def validate_only() -> str:
        # What lgstream does per token to turn the dict back into a message.
        revived = [lgs.revive_message(message) for message in messages]
        return "".join(m.content if isinstance(m.content, str) else "" for m in revived)

    def from_sdk_events() -> str:
        return "".join(ev.text for ev in lgs.from_sdk(parts) if isinstance(ev, lgs.Token))

    def from_sdk_text() -> str:
        return "".join(lgs.from_sdk(parts) | lgs.ops.text())

    return [
        Variant(name=RAW_LIST, run=raw_list, group="sync"),
        Variant(name=VALIDATE_ONLY, run=validate_only, group="sync"),
        Variant(name=FROM_SDK_EVENTS, run=from_sdk_events, group="sync"),
        Variant(name=FROM_SDK_TEXT, run=from_sdk_text, group="sync"),
    ]


def _with_cpu(variant: Variant, sink: list[float]) -> Variant:
    """``variant``, also appending each run's CPU time (this process only) to ``sink``."""
    run = variant.run

    def timed() -> object:
        start = time.process_time()
        result = run()
        sink.append(time.process_time() - start)
        return result

    return Variant(name=variant.name, run=timed, group=variant.group)


class Row(TypedDict):
    """One end-to-end variant's results, as printed and as written to JSON."""

    name: str
    group: str
    wall_ms: list[float]
    cpu_ms: list[float]
    wall_best_ms: float
    wall_median_ms: float
    wall_us_per_event: float
    wall_ratio: float
    cpu_best_ms: float
    cpu_us_per_event: float
    cpu_ratio: float
    cpu_added_us_per_event: float


def _rows(wall: Sequence[Timing], cpu: Sequence[Timing], events: int) -> list[Row]:
    base_wall = {t.group: t.best for t in wall if t.name in (RAW, RAW_ASYNC)}
    base_cpu = {t.group: t.best for t in cpu if t.name in (RAW, RAW_ASYNC)}
    rows: list[Row] = []
    for w, c in zip(wall, cpu, strict=True):
        rows.append(
            {
                "name": w.name,
                "group": w.group,
                "wall_ms": [round(s * 1e3, 3) for s in w.times],
                "cpu_ms": [round(s * 1e3, 3) for s in c.times],
                "wall_best_ms": w.best * 1e3,
                "wall_median_ms": w.median * 1e3,
                "wall_us_per_event": w.best * 1e6 / events,
                "wall_ratio": w.best / base_wall[w.group],
                "cpu_best_ms": c.best * 1e3,
                "cpu_us_per_event": c.best * 1e6 / events,
                "cpu_ratio": c.best / base_cpu[c.group],
                "cpu_added_us_per_event": (c.best - base_cpu[c.group]) * 1e6 / events,
            }
        )
    return rows


def _table(rows: Sequence[Row]) -> str:
    header = [
        "variant",
        "wall ms",
        "median",
        "wall us/ev",
        "wall vs raw",
        "cpu ms",
        "cpu us/ev",
        "cpu vs raw",
        "cpu +us/ev",
    ]
    cells = [
        [
            row["name"],
            f"{row['wall_best_ms']:.0f}",
            f"{row['wall_median_ms']:.0f}",
            f"{row['wall_us_per_event']:.1f}",
            f"{row['wall_ratio']:.3f}x",
            f"{row['cpu_best_ms']:.1f}",
            f"{row['cpu_us_per_event']:.1f}",
            f"{row['cpu_ratio']:.3f}x",
            f"{row['cpu_added_us_per_event']:+.1f}",
        ]
        for row in rows
    ]
    return format_table(header, cells)


class MicroRow(TypedDict):
    """One adapter-alone variant's results."""

    name: str
    best_ms: float
    us_per_part: float
    ratio_vs_raw_list: float


def _micro_rows(timings: Sequence[Timing], parts: int) -> list[MicroRow]:
    base = next(t.best for t in timings if t.name == RAW_LIST)
    return [
        {
            "name": t.name,
            "best_ms": t.best * 1e3,
            "us_per_part": t.best * 1e6 / parts,
            "ratio_vs_raw_list": t.best / base,
        }
        for t in timings
    ]


def _micro_table(rows: Sequence[MicroRow]) -> str:
    header = ["variant", "best ms", "us/part", "vs raw list"]
    cells = [
        [
            row["name"],
            f"{row['best_ms']:.2f}",
            f"{row['us_per_part']:.2f}",
            f"{row['ratio_vs_raw_list']:.1f}x",
        ]
        for row in rows
    ]
    return format_table(header, cells)


def _breakdown(micro: Sequence[MicroRow]) -> list[str]:
    us = {row["name"]: row["us_per_part"] for row in micro}
    added = us[FROM_SDK_TEXT] - us[RAW_LIST]
    revive = us[VALIDATE_ONLY] - us[RAW_LIST]
    adapter = us[FROM_SDK_EVENTS] - us[VALIDATE_ONLY]
    text_op = us[FROM_SDK_TEXT] - us[FROM_SDK_EVENTS]

    def share(value: float) -> str:
        return f"{value:5.2f} us/part ({value / added:4.0%})" if added > 0 else f"{value:.2f}"

    return [
        f"from_sdk | text() adds {added:.2f} us per part over the raw loop:",
        f"  reviving dicts (lgs.revive_message)             {share(revive)}",
        f"  the rest of from_sdk (normaliser, events)       {share(adapter)}",
        f"  lgs.ops.text()                                  {share(text_op)}",
    ]


def _estimates(rows: Sequence[Row], micro: Sequence[MicroRow]) -> list[str]:
    """The adapter-alone cost on top of each raw baseline's client CPU per part."""
    us = {row["name"]: row["us_per_part"] for row in micro}
    added = us[FROM_SDK_TEXT] - us[RAW_LIST]
    lines = []
    for row in rows:
        if row["name"] in (RAW, RAW_ASYNC):
            base = row["cpu_us_per_event"]
            lines.append(
                f"  {row['name']}: {base:.1f} + {added:.1f} us/part ="
                f" {(base + added) / base:.2f}x client CPU"
            )
    return lines


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks remote",
        description="Overhead of lgstream's remote adapter over raw langgraph-sdk streaming.",
    )
    parser.add_argument("--runs", type=int, default=6, help="timed server runs per variant (6)")
    parser.add_argument(
        "--tokens",
        type=int,
        default=DEFAULT_TOKENS,
        help=f"tokens the server's model streams per run ({DEFAULT_TOKENS})",
    )
    parser.add_argument(
        "--micro-runs", type=int, default=30, help="timed runs of the adapter alone (30)"
    )
    parser.add_argument(
        "--no-async", action="store_true", help="leave out the async variants (faster)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args, _ = parser.parse_known_args(argv)  # other benchmarks' options are theirs
    if args.runs < 1 or args.micro_runs < 1:
        parser.error("--runs and --micro-runs must be at least 1")
    if args.tokens < 1:
        parser.error("--tokens must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Start a local server, run both benchmarks, print the tables, stop the server."""
    args = _parse(argv)
    started = time.perf_counter()
    expected = reply_text(args.tokens)
    progress: Callable[[int, int], None] | None = print_progress if sys.stderr.isatty() else None
    with (
        LangGraphDevServer(GRAPHS, env={TOKENS_ENV: str(args.tokens)}) as server,
        get_sync_client(url=server.url) as client,
        asyncio.Runner() as runner,
    ):
        aclient = get_client(url=server.url)
        try:
            print(
                f"remote: `langgraph dev` up in {time.perf_counter() - started:.1f} s"
                f" at {server.url}; graph {GRAPH_ID!r} streams {args.tokens} tokens",
                flush=True,
            )
            # One run recorded: the parts per run, and the adapter-alone input.
            parts = list(client.runs.stream(None, GRAPH_ID, input=INPUT, stream_mode=SDK_MODES))
            if _raw_text(parts) != expected:
                raise RuntimeError("the server's tokens are not the model's reply")
            events = len(parts)
            variants = make_variants(client, aclient, runner)
            if args.no_async:
                variants = [v for v in variants if v.group == "sync"]
            sinks: list[list[float]] = [[] for _ in variants]
            clocked = [_with_cpu(v, sink) for v, sink in zip(variants, sinks, strict=True)]
            print(
                f"end to end: {events} SDK parts per run ({args.tokens} tokens), "
                f"{len(variants)} variants x {args.runs} runs, interleaved; best run compared",
                flush=True,
            )
            check_outputs(clocked, expected)  # also the warm-up
            for sink in sinks:
                sink.clear()
            wall = run_interleaved(clocked, args.runs, expected=expected, progress=progress)
        finally:
            runner.run(aclient.aclose())
    # The server is stopped: the adapter-alone runs have the machine to themselves.
    cpu = [Timing(v.name, v.group, sink) for v, sink in zip(variants, sinks, strict=True)]
    rows = _rows(wall, cpu, events)

    micro_variants = make_micro_variants(parts)
    check_outputs(micro_variants, expected)
    micro = _micro_rows(run_interleaved(micro_variants, args.micro_runs, expected=expected), events)

    print()
    print(
        f"end to end, per SDK part ({events} a run): best of {args.runs} runs;"
        " ratios against raw (sync) or raw async (async)"
    )
    print(_table(rows))
    print(
        f"wall: dominated by the server (another process, same {os.cpu_count()} cores); cpu: this"
        " process only, so 'cpu vs raw' is the adapter's real overhead and"
        " 'cpu +us/ev' what it adds per event."
    )
    print()
    print(f"adapter alone: {events} recorded parts, best of {args.micro_runs} runs")
    print(_micro_table(micro))
    print("\n".join(_breakdown(micro)))
    print(
        "end-to-end client CPU overhead estimated from the adapter alone (steadier than"
        " 'cpu vs raw' above, which moves by +-20% from run to run: how many SSE events"
        " arrive per socket read depends on the server's pacing):"
    )
    print("\n".join(_estimates(rows, micro)))
    print(f"(took {time.perf_counter() - started:.0f} s)")

    if args.json is not None:
        path = args.json.with_name(args.json.stem + "-remote" + args.json.suffix)
        write_json(
            path,
            {
                "benchmark": "remote",
                "config": {
                    "tokens": args.tokens,
                    "parts_per_run": events,
                    "runs": args.runs,
                    "micro_runs": args.micro_runs,
                    "stream_mode": SDK_MODES,
                },
                "environment": environment(
                    "lgstream", "langgraph", "langgraph-sdk", "langgraph-api", "langchain-core"
                ),
                "variants": rows,
                "adapter_alone": micro,
                "adapter_added_us_per_part": next(
                    r["us_per_part"] for r in micro if r["name"] == FROM_SDK_TEXT
                )
                - next(r["us_per_part"] for r in micro if r["name"] == RAW_LIST),
            },
        )
        print(f"\nwrote {path}")
    return 0
