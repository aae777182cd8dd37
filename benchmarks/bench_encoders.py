"""Wire encoding: lgstream's SSE and NDJSON encoders against sse-starlette's own
``ServerSentEvent`` and an AG-UI-style envelope (one small JSON object per token).

Workload: the ``Token`` events of a 1,000-token answer, as ``lgs.from_parts`` makes
them from real ``messages`` parts (each token carries its whole chunk, as lgstream's
JSON form does). Reported per variant: events per second (best of interleaved
runs) and bytes on the wire per token. Then the same answer with
``lgs.ops.batch(max_chars=...)`` in front: how much smaller the wire gets.
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessageChunk
from sse_starlette import ServerSentEvent

import lgstream as lgs
from lgstream.sinks import NDJSONEncoder, SSEEncoder

from ._harness import Variant, format_table, run_interleaved

__all__ = ["main"]

META = {"langgraph_node": "generate", "langgraph_step": 1, "tags": []}


def answer_tokens(n: int) -> list[lgs.Event]:
    parts = [
        {
            "type": "messages",
            "ns": (),
            "data": (AIMessageChunk(content=f" word{i}", id="run-abc"), META),
        }
        for i in range(n)
    ]
    return list(lgs.from_parts(parts))


def sse_lgstream(events: Sequence[lgs.Event]) -> bytes:
    encoder = SSEEncoder()
    return b"".join(encoder.encode(ev) for ev in events)


def ndjson_lgstream(events: Sequence[lgs.Event]) -> bytes:
    encoder = NDJSONEncoder()
    return b"".join(encoder.encode(ev) for ev in events)


def sse_starlette(events: Sequence[lgs.Event]) -> bytes:
    out = []
    for i, ev in enumerate(events, 1):
        data = json.dumps(lgs.to_jsonable(ev), separators=(",", ":"))
        out.append(ServerSentEvent(data=data, event=ev.kind, id=str(i)).encode())
    return b"".join(out)


def agui_envelope(events: Sequence[lgs.Event]) -> bytes:
    """What AG-UI-style adapters send per token: a tiny object, no chunk."""
    out = []
    for ev in events:
        if isinstance(ev, lgs.Token):
            body: dict[str, Any] = {
                "type": "TEXT_MESSAGE_CONTENT",
                "messageId": ev.message_id,
                "delta": ev.text,
            }
            out.append(f"data: {json.dumps(body, separators=(',', ':'))}\n\n".encode())
    return b"".join(out)


VARIANTS = {
    "lgstream SSE": sse_lgstream,
    "lgstream NDJSON": ndjson_lgstream,
    "sse-starlette ServerSentEvent": sse_starlette,
    "AG-UI-style envelope": agui_envelope,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the encoder benchmark and print its tables."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks encoders", description=__doc__)
    parser.add_argument("--runs", type=int, default=10, help="timed runs per variant (10)")
    parser.add_argument("--tokens", type=int, default=1_000, help="tokens in the answer (1000)")
    args, _ = parser.parse_known_args(argv)
    events = answer_tokens(args.tokens)
    sizes = {name: len(fn(events)) for name, fn in VARIANTS.items()}
    variants = [
        Variant(name=name, run=functools.partial(fn, events), group="sync")
        for name, fn in VARIANTS.items()
    ]
    timings = {t.name: t.best for t in run_interleaved(variants, args.runs)}
    base = timings["sse-starlette ServerSentEvent"]
    rows = [
        [
            name,
            f"{args.tokens / timings[name]:,.0f}",
            f"{sizes[name] / args.tokens:.1f}",
            f"{timings[name] / base:.2f}x",
        ]
        for name in VARIANTS
    ]
    print(f"encoders: {args.tokens} Token events, best of {args.runs} interleaved runs")
    print(format_table(["variant", "events/s", "bytes/token", "time vs sse-starlette"], rows))

    print(f"\nwith lgs.ops.batch() in front ({args.tokens}-token answer, lgstream SSE):")
    batch_rows = []
    for label, op in [
        ("no batch", None),
        ("batch(max_chars=64)", lgs.ops.batch(max_chars=64)),
        ("batch(max_chars=256)", lgs.ops.batch(max_chars=256)),
        ("batch(max_items=50)", lgs.ops.batch(max_items=50)),
    ]:
        batched = events if op is None else list(lgs.EventStream[lgs.Event](iter(events)) | op)
        wire = sse_lgstream(batched)
        text = "".join(ev.text for ev in batched if isinstance(ev, lgs.Token))
        assert text == "".join(ev.text for ev in events if isinstance(ev, lgs.Token))
        batch_rows.append(
            [
                label,
                f"{len(batched)}",
                f"{len(wire):,}",
                f"{len(wire) / args.tokens:.1f}",
                f"{sizes['lgstream SSE'] / len(wire):.1f}x",
            ]
        )
    print(format_table(["variant", "events", "bytes", "bytes/token", "smaller by"], batch_rows))
    return 0
