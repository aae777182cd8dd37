"""UI protocols on the wire: lgstream's AG-UI and Vercel encoders against
``ag-ui-langgraph``'s ``LangGraphAgent`` on the same graph, in one run.

Workload: a 10-step graph, ``step_1 -> ... -> step_9 -> answer``, over a state of
about 50 KB of JSON (a ``documents`` list of 48 dicts of ~1 KB, plus
``messages``). Each research step marks one document read and appends a short
note; ``answer`` calls a ``FakeChatModel`` (no delay) that streams a 1,000-token
reply. The graph has an ``InMemorySaver`` (ag-ui-langgraph reads the thread's
state with ``aget_state``) and every run gets a fresh thread id.

Variants (all async, each run in ``asyncio.run``, interleaved):

- ``graph.astream``: the graph alone, ``stream_mode=["messages", "updates",
  "values", "custom"]``, nothing encoded: the baseline for encode time;
- ``graph.astream_events``: the graph alone through ``astream_events(version="v2")``,
  what ag-ui-langgraph consumes; its cost is part of ag-ui-langgraph's time;
- ``lgstream AG-UI``: ``aencode_agui(lgs.astream(graph, input, modes=[...]))``;
- ``lgstream Vercel``: ``aencode_vercel(lgs.astream(...))``;
- ``ag-ui-langgraph``: ``LangGraphAgent(name=..., graph=graph)`` (defaults,
  ``emit_raw_events=True``), cloned per request and its events encoded with
  ``ag_ui.encoder.EventEncoder``, as its FastAPI endpoint does;
- ``ag-ui-langgraph raw off``: the same with ``emit_raw_events=False``.

Reported: bytes on the wire (the SSE frames, UTF-8), bytes per token, events,
the best wall time of each and its encode time (best minus the best
``graph.astream``), as ratios against lgstream AG-UI; lgstream's two encoders
alone (``feed`` + ``frame``) on one run's recorded events, since live some of
their work overlaps the graph's worker thread; then where each AG-UI variant's
bytes go, by event type. Before timing, every encoder's output is
checked: the same answer text, and (for AG-UI) the same final ``documents``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final, TypeAlias

import jsonpatch
from ag_ui.core import BaseEvent, RunAgentInput, UserMessage
from ag_ui.encoder import EventEncoder
from langchain_core.messages import AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import StreamMode

# ag-ui-langgraph builds JSON schemas of the state with pydantic, which refuses
# typing.TypedDict before Python 3.12: the run fails with RUN_ERROR at once.
from typing_extensions import TypedDict

import lgstream as lgs
from lgstream.protocols.agui import AGUIEncoder, aencode_agui
from lgstream.protocols.vercel import VercelEncoder, aencode_vercel
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
from .bench_overhead import make_text

__all__ = ["DocState", "build_graph", "main"]

MODES: Final[list[StreamMode]] = ["messages", "updates", "values", "custom"]
QUESTION: Final = "Summarise what the documents say about task decomposition."
DOCUMENTS: Final = 48
RESEARCH_STEPS: Final = 9  # + the answer node: 10 steps

GRAPH_ASTREAM: Final = "graph.astream"
GRAPH_EVENTS: Final = "graph.astream_events"
LGS_AGUI: Final = "lgstream AG-UI"
LGS_VERCEL: Final = "lgstream Vercel"
AGUI_LG: Final = "ag-ui-langgraph"
AGUI_LG_NORAW: Final = "ag-ui-langgraph raw off"
ENCODERS: Final = (LGS_AGUI, LGS_VERCEL, AGUI_LG, AGUI_LG_NORAW)
AGUI_VARIANTS: Final = (LGS_AGUI, AGUI_LG, AGUI_LG_NORAW)


class DocState(TypedDict):
    """The benchmark graph's state: ~50 KB of documents and the conversation."""

    messages: Annotated[list[AnyMessage], add_messages]
    documents: list[dict[str, Any]]


Graph: TypeAlias = CompiledStateGraph[DocState, None, DocState, DocState]


def _load_langgraph_agent() -> Any:
    """``ag_ui_langgraph.LangGraphAgent`` (its package ``__init__`` imports FastAPI:
    the dev extra installs ``ag-ui-langgraph[fastapi]``). Untyped, hence ``Any``."""
    return importlib.import_module("ag_ui_langgraph").LangGraphAgent


def make_documents(count: int = DOCUMENTS) -> list[dict[str, Any]]:
    """``count`` documents of about 1 KB of JSON each."""
    words = make_text(160)
    return [
        {
            "id": f"doc-{i}",
            "title": f"Notes on task decomposition, part {i}",
            "source": f"https://example.com/papers/{i:04d}",
            "text": f"{i}: {words}",
            "status": "new",
            "score": round(1 / (i + 1), 6),
        }
        for i in range(count)
    ]


class Research:
    """A research step: marks document ``n`` read and appends a short note."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, state: DocState) -> dict[str, Any]:
        n = self.n
        documents = list(state["documents"])  # a new list: the old state stays as it was
        documents[n] = {**documents[n], "status": "read", "score": 1.0}
        documents.append({"id": f"note-{n}", "text": f"step {n}: " + make_text(12)})
        return {"documents": documents}


def build_graph(model: FakeChatModel, steps: int = RESEARCH_STEPS) -> Graph:
    """``step_1 -> ... -> step_<steps> -> answer``, with an ``InMemorySaver``."""

    def answer(state: DocState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(DocState)
    previous = START
    for n in range(1, steps + 1):
        builder.add_node(f"step_{n}", Research(n))
        builder.add_edge(previous, f"step_{n}")
        previous = f"step_{n}"
    builder.add_node("answer", answer)
    builder.add_edge(previous, "answer")
    builder.add_edge("answer", END)
    return builder.compile(name="bench-protocols", checkpointer=InMemorySaver())


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def make_variants(graph: Graph, documents: list[dict[str, Any]]) -> list[Variant]:
    """Every variant: the two baselines (count parts), then the encoders (frames)."""
    lg_inp: DocState = {"messages": [HumanMessage(QUESTION, id="question")], "documents": documents}
    agent_cls = _load_langgraph_agent()
    agents = {
        AGUI_LG: agent_cls(name="bench", graph=graph),
        AGUI_LG_NORAW: agent_cls(name="bench", graph=graph, emit_raw_events=False),
    }

    async def graph_astream() -> int:
        parts = graph.astream(lg_inp, _config(str(uuid.uuid4())), stream_mode=MODES, version="v2")
        return sum([1 async for _ in parts])

    async def graph_events() -> int:
        events = graph.astream_events(lg_inp, _config(str(uuid.uuid4())), version="v2")
        return sum([1 async for _ in events])

    async def lgstream_agui() -> list[bytes]:
        thread_id = str(uuid.uuid4())
        events = lgs.astream(graph, lg_inp, modes=MODES, config=_config(thread_id))
        return [frame async for frame in aencode_agui(events, thread_id=thread_id)]

    async def lgstream_vercel() -> list[bytes]:
        events = lgs.astream(graph, lg_inp, modes=MODES, config=_config(str(uuid.uuid4())))
        return [frame async for frame in aencode_vercel(events)]

    def ag_ui_langgraph(name: str) -> Callable[[], Coroutine[Any, Any, list[bytes]]]:
        async def run() -> list[bytes]:
            agent = agents[name].clone()  # per request, as its FastAPI endpoint does
            encoder = EventEncoder()
            inp = RunAgentInput(
                thread_id=str(uuid.uuid4()),
                run_id=str(uuid.uuid4()),
                state={"documents": documents},
                messages=[UserMessage(id="question", role="user", content=QUESTION)],
                tools=[],
                context=[],
                forwarded_props={},
            )
            stream: AsyncIterator[BaseEvent] = agent.run(inp)
            return [encoder.encode(event).encode() async for event in stream]

        return run

    def sync(fn: Callable[[], Coroutine[Any, Any, object]]) -> Callable[[], object]:
        return lambda: asyncio.run(fn())

    runs: dict[str, Callable[[], Coroutine[Any, Any, object]]] = {
        GRAPH_ASTREAM: graph_astream,
        GRAPH_EVENTS: graph_events,
        LGS_AGUI: lgstream_agui,
        LGS_VERCEL: lgstream_vercel,
        AGUI_LG: ag_ui_langgraph(AGUI_LG),
        AGUI_LG_NORAW: ag_ui_langgraph(AGUI_LG_NORAW),
    }
    return [Variant(name=name, run=sync(fn), group="async") for name, fn in runs.items()]


def record_events(graph: Graph, documents: list[dict[str, Any]]) -> list[lgs.Event]:
    """One run's lgstream events, for timing the encoders without the graph."""
    inp: DocState = {"messages": [HumanMessage(QUESTION, id="question")], "documents": documents}

    async def run() -> list[lgs.Event]:
        events = lgs.astream(graph, inp, modes=MODES, config=_config(str(uuid.uuid4())))
        return [event async for event in events]

    return asyncio.run(run())


def encoder_variants(events: Sequence[lgs.Event]) -> list[Variant]:
    """lgstream's two encoders alone (``feed`` + ``frame``) over recorded events."""

    def agui() -> int:
        encoder = AGUIEncoder(thread_id="thread")
        size = sum(len(encoder.frame(item)) for event in events for item in encoder.feed(event))
        return size + sum(len(encoder.frame(item)) for item in encoder.close())

    def vercel() -> int:
        encoder = VercelEncoder()
        size = sum(len(encoder.frame(part)) for event in events for part in encoder.feed(event))
        return size + sum(len(encoder.frame(part)) for part in encoder.close())

    return [
        Variant(name=LGS_AGUI, run=agui, group="sync"),
        Variant(name=LGS_VERCEL, run=vercel, group="sync"),
    ]


# --- what went over the wire ---------------------------------------------------------


@dataclass(slots=True)
class Wire:
    """One encoder run's frames, taken apart."""

    frames: int = 0
    bytes: int = 0
    text: str = ""
    by_type: Counter[str] = field(default_factory=Counter)
    count_by_type: Counter[str] = field(default_factory=Counter)
    raw_event_bytes: int = 0  # ag-ui-langgraph's rawEvent copies on other events
    documents: object = None  # the final documents the client can rebuild (AG-UI)


def analyse(frames: Sequence[bytes]) -> Wire:
    """Sizes by event type, the answer text and the client's final ``documents``."""
    wire = Wire(frames=len(frames), bytes=sum(map(len, frames)))
    pieces: list[str] = []
    state: Any = None
    for frame in frames:
        body = frame.decode().removeprefix("data: ").strip()
        data: dict[str, Any] = {"type": body} if body == "[DONE]" else json.loads(body)
        kind = data["type"]
        wire.by_type[kind] += len(frame)
        wire.count_by_type[kind] += 1
        if "rawEvent" in data:
            wire.raw_event_bytes += len(json.dumps(data["rawEvent"], separators=(",", ":")))
        if kind in ("TEXT_MESSAGE_CONTENT", "text-delta"):
            pieces.append(data["delta"])
        elif kind == "STATE_SNAPSHOT":
            state = data["snapshot"]
        elif kind == "STATE_DELTA":
            state = jsonpatch.apply_patch(state, data["delta"])
    wire.text = "".join(pieces)
    if isinstance(state, dict):
        wire.documents = state.get("documents")
    return wire


def check(wires: dict[str, Wire], text: str, documents: object) -> None:
    """Every encoder sent the whole answer; every AG-UI one the final documents."""
    for name, wire in wires.items():
        if wire.text != text:
            raise RuntimeError(f"{name}: answer of {len(wire.text)} chars, expected {len(text)}")
    for name in AGUI_VARIANTS:
        if wires[name].documents != documents:
            raise RuntimeError(f"{name}: the client's final documents differ from the graph's")


# --- tables ---------------------------------------------------------------------------


def _kb(n: int) -> str:
    return f"{n / 1000:,.1f}"


def wire_table(wires: dict[str, Wire], tokens: int) -> str:
    base = wires[LGS_AGUI]
    rows = [
        [
            name,
            f"{wire.frames:,}",
            _kb(wire.bytes),
            f"{wire.bytes / tokens:,.0f}",
            f"{wire.bytes / base.bytes:.2f}x",
            f"{wire.frames / base.frames:.2f}x",
        ]
        for name, wire in wires.items()
    ]
    header = ["encoder", "events", "KB", "bytes/token", "bytes vs AG-UI", "events vs"]
    return format_table(header, rows)


def time_table(timings: Sequence[Timing]) -> str:
    best = {t.name: t.best for t in timings}
    base = best[GRAPH_ASTREAM]
    agui_encode = best[LGS_AGUI] - base
    rows = []
    for t in timings:
        encode = t.best - base
        # No ratio for an encode time that noise made zero or negative.
        ratio_ok = t.name in ENCODERS and encode > 0 and agui_encode > 0
        rows.append(
            [
                t.name,
                f"{t.best * 1e3:.1f}",
                f"{t.median * 1e3:.1f}",
                f"{encode * 1e3:+.1f}" if t.name != GRAPH_ASTREAM else "-",
                f"{t.best / best[LGS_AGUI]:.2f}x",
                f"{encode / agui_encode:.1f}x" if ratio_ok else "-",
            ]
        )
    header = ["variant", "best ms", "median ms", "encode ms", "wall vs AG-UI", "encode vs"]
    return format_table(header, rows)


def encoder_table(timings: Sequence[Timing], tokens: int) -> str:
    best = {t.name: t.best for t in timings}
    rows = [
        [
            t.name,
            f"{t.best * 1e3:.1f}",
            f"{t.median * 1e3:.1f}",
            f"{t.best * 1e6 / tokens:.1f}",
            f"{t.best / best[LGS_AGUI]:.2f}x",
        ]
        for t in timings
    ]
    return format_table(["encoder", "best ms", "median ms", "us/token", "vs AG-UI"], rows)


BREAKDOWN: Final = (
    "STATE_SNAPSHOT",
    "STATE_DELTA",
    "MESSAGES_SNAPSHOT",
    "RAW",
    "TEXT_MESSAGE_CONTENT",
)


def breakdown_table(wires: dict[str, Wire]) -> str:
    def cell(wire: Wire, kinds: Sequence[str] | None) -> str:
        if kinds is None:  # everything else
            size = wire.bytes - sum(wire.by_type[k] for k in BREAKDOWN)
            count = wire.frames - sum(wire.count_by_type[k] for k in BREAKDOWN)
        else:
            size = sum(wire.by_type[k] for k in kinds)
            count = sum(wire.count_by_type[k] for k in kinds)
        return f"{_kb(size)} ({count}) {100 * size / wire.bytes:3.0f}%" if count else "-"

    rows = [[kind, *(cell(wires[n], [kind]) for n in AGUI_VARIANTS)] for kind in BREAKDOWN]
    rows.append(["other events", *(cell(wires[n], None) for n in AGUI_VARIANTS)])
    rows.append(["total", *(cell(wires[n], list(wires[n].by_type)) for n in AGUI_VARIANTS)])
    return format_table(["event type: KB (events) share", *AGUI_VARIANTS], rows)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks protocols", description=__doc__)
    parser.add_argument("--runs", type=int, default=20, help="timed runs per variant (20)")
    parser.add_argument("--tokens", type=int, default=1_000, help="tokens in the answer (1000)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args, _ = parser.parse_known_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the protocol benchmark and print its tables."""
    args = _parse(argv)
    text = make_text(args.tokens)
    tokens = len(split_tokens(text, "words"))
    model = FakeChatModel(script=[text], split="words", delay=0.0, cycle=True)
    graph = build_graph(model)
    documents = make_documents()
    variants = make_variants(graph, documents)
    final = graph.invoke(
        {"messages": [HumanMessage(QUESTION, id="question")], "documents": documents},
        _config(str(uuid.uuid4())),
    )
    state_size = len(json.dumps({"documents": documents, "messages": [QUESTION]}))
    print(
        f"protocols: {tokens}-token answer, {RESEARCH_STEPS + 1} steps, state of"
        f" {state_size / 1000:.0f} KB JSON ({len(final['documents'])} documents at the end),"
        f" {len(variants)} variants x {args.runs} runs, interleaved; best run of each compared",
        flush=True,
    )

    # The untimed first run of each: the warm-up, and the frames to measure and check.
    wires: dict[str, Wire] = {}
    for variant in variants:
        result = variant.run()
        if variant.name in ENCODERS:
            assert isinstance(result, list)
            wires[variant.name] = analyse(result)
    check(wires, text, final["documents"])
    progress = print_progress if sys.stderr.isatty() else None
    timings = run_interleaved(variants, args.runs, progress=progress)
    recorded = record_events(graph, documents)
    alone = run_interleaved(encoder_variants(recorded), args.runs)

    print("\nbytes on the wire (the SSE frames, UTF-8):")
    print(wire_table(wires, tokens))
    print(f"\ntime: best of {args.runs} runs; encode = best - best({GRAPH_ASTREAM}):")
    print(time_table(timings))
    best = {t.name: t.best for t in timings}
    events_cost = best[GRAPH_EVENTS] - best[GRAPH_ASTREAM]
    print(
        f"  ({GRAPH_EVENTS} alone is {events_cost * 1e3:+.1f} ms over {GRAPH_ASTREAM};"
        f" ag-ui-langgraph over {GRAPH_EVENTS}:"
        f" {(best[AGUI_LG] - best[GRAPH_EVENTS]) * 1e3:+.1f} ms default,"
        f" {(best[AGUI_LG_NORAW] - best[GRAPH_EVENTS]) * 1e3:+.1f} ms raw off)"
    )
    print(
        f"\nlgstream's encoders alone (feed + frame) on one run's {len(recorded)} recorded"
        " events, no graph:"
    )
    print(encoder_table(alone, tokens))
    print("\nwhere the AG-UI bytes go:")
    print(breakdown_table(wires))
    raw = wires[AGUI_LG]
    print(
        f"  ag-ui-langgraph default: {_kb(raw.raw_event_bytes)} KB are `rawEvent` copies"
        f" on non-RAW events, {_kb(raw.by_type['RAW'])} KB are RAW events:"
        f" {100 * (raw.raw_event_bytes + raw.by_type['RAW']) / raw.bytes:.0f}% of its bytes"
    )

    if args.json is not None:
        write_json(
            args.json,
            {
                "benchmark": "protocols",
                "config": {"tokens": tokens, "runs": args.runs, "state_bytes": state_size},
                "environment": environment(
                    "lgstream", "langgraph", "ag-ui-langgraph", "ag-ui-protocol"
                ),
                "wire": {
                    name: {
                        "events": w.frames,
                        "bytes": w.bytes,
                        "bytes_by_type": dict(w.by_type),
                        "events_by_type": dict(w.count_by_type),
                        "raw_event_bytes": w.raw_event_bytes,
                    }
                    for name, w in wires.items()
                },
                "times_ms": {t.name: [round(s * 1e3, 3) for s in t.times] for t in timings},
                "encoder_alone_times_ms": {
                    t.name: [round(s * 1e3, 3) for s in t.times] for t in alone
                },
            },
        )
        print(f"\nwrote {args.json}")
    return 0
