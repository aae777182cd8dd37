"""Content blocks everywhere: a reply streamed as string chunks (reasoning in
``additional_kwargs``) and the same reply streamed as standard content blocks
(``[{"type": "text", ...}, {"type": "reasoning", ...}]``, what ``output_version="v1"``
models and LangGraph v3 give) come out the same from every operator and encoder."""

from __future__ import annotations

import io
import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lgstream as lgs
from lgstream.protocols.agui import encode_agui
from lgstream.protocols.vercel import encode_vercel
from lgstream.sinks.console import print_stream
from lgstream.testing import FakeChatModel, Reply

MODES = ["messages", "updates", "values", "custom"]
words = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=8)
chunks = st.lists(words.filter(bool), max_size=6)
tool_calls = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["add", "search"]),
            "args": st.dictionaries(words, words, max_size=2),
        }
    ),
    max_size=2,
)


def events(
    style: str, text: list[str], reasoning: list[str], calls: list[dict[str, Any]]
) -> list[Any]:
    reply = Reply(
        text=text,
        reasoning=reasoning,
        tool_calls=[{**call, "id": f"call_{n}"} for n, call in enumerate(calls)],
        id="m1",
        reasoning_style=style,  # type: ignore[arg-type]
    )
    graph = lgs.graphs.chat(FakeChatModel(script=[reply]))
    return list(lgs.stream(graph, {"messages": [("user", "Hi")]}, modes=MODES))


def agui_text(stream: list[Any]) -> list[tuple[str, Any]]:
    """What an AG-UI client shows: text, reasoning and tool-call events, in order."""
    frames = b"".join(encode_agui(iter(stream), thread_id="t", run_id="r")).decode()
    out = []
    for line in frames.splitlines():
        if line.startswith("data: "):
            event = json.loads(line[6:])
            if event["type"].startswith(("TEXT_MESSAGE", "REASONING", "TOOL_CALL")):
                out.append((event["type"], event.get("delta") or event.get("toolCallName")))
    return out


def vercel_parts(stream: list[Any]) -> list[tuple[str, Any]]:
    frames = b"".join(encode_vercel(iter(stream))).decode()
    parts = [json.loads(line[6:]) for line in frames.splitlines() if line.startswith("data: {")]
    return [
        (p["type"], p.get("delta") or p.get("toolName") or p.get("input"))
        for p in parts
        if p["type"].startswith(("text", "reasoning", "tool"))
    ]


def console(stream: list[Any]) -> str:
    out = io.StringIO()
    print_stream(iter(stream), file=out, plain=True, clock=lambda: 0.0)
    return re.sub(r"\d+(\.\d+)? ?(ms|s)\b", "T", out.getvalue())  # timings aside


def run(op: Any, stream: list[Any]) -> list[Any]:
    out = [x for item in stream for x in op.feed(item)]
    return out + list(op.flush())


def everything(stream: list[Any]) -> dict[str, Any]:
    return {
        "text": "".join(run(lgs.ops.text(), stream)),
        "reasoning": [
            e.text for e in run(lgs.ops.reasoning(), stream) if isinstance(e, lgs.Reasoning)
        ],
        "tool_calls": [
            (c.name, c.args, c.call_id)
            for c in run(lgs.ops.tool_calls(), stream)
            if isinstance(c, lgs.ToolCallReady)
        ],
        "messages": [
            (m.message.text, [(c["name"], c["args"]) for c in getattr(m.message, "tool_calls", [])])
            for m in run(lgs.ops.join_messages(), stream)
            if isinstance(m, lgs.MessageDone)
        ],
        "agui": agui_text(stream),
        "vercel": vercel_parts(stream),
        "console": console(stream),
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=chunks, reasoning=chunks, calls=tool_calls)
def test_string_chunks_and_block_chunks_give_the_same_output(
    text: list[str], reasoning: list[str], calls: list[dict[str, Any]]
) -> None:
    strings = everything(events("ollama", text, reasoning, calls))
    blocks = everything(events("blocks", text, reasoning, calls))
    assert blocks == strings
    assert strings["text"] == "".join(text)
    assert "".join(strings["reasoning"]) == "".join(reasoning)
