"""The Vercel AI SDK UI message stream encoder, driven by real LangGraph graphs.

Part shapes are checked against the fields of ``uiMessageChunkSchema`` in the
``ai`` npm package 6.0.326 (``SCHEMA`` below); the order rules are the ones its
``processUIMessageStream`` enforces (it throws on a delta without a start, on a
tool output for an unknown call) plus lgstream's promise that every start gets
its end.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.types import Command

import lgstream as lgs
from lgstream.protocols.vercel import (
    VercelEncoder,
    VercelPart,
    aencode_vercel,
    encode_vercel,
)
from lgstream.testing import FakeChatModel, Reply
from tests.graphs import interrupt_graph, progress_graph

MODES = ["messages", "updates", "values", "custom"]

# type -> (required fields, optional fields), as in ai 6.0.326's zod schema.
SCHEMA: dict[str, tuple[set[str], set[str]]] = {
    "start": (set(), {"messageId", "messageMetadata"}),
    "start-step": (set(), set()),
    "finish-step": (set(), set()),
    "text-start": ({"id"}, {"providerMetadata"}),
    "text-delta": ({"id", "delta"}, {"providerMetadata"}),
    "text-end": ({"id"}, {"providerMetadata"}),
    "reasoning-start": ({"id"}, {"providerMetadata"}),
    "reasoning-delta": ({"id", "delta"}, {"providerMetadata"}),
    "reasoning-end": ({"id"}, {"providerMetadata"}),
    "tool-input-start": (
        {"toolCallId", "toolName"},
        {
            "inputEncoding",
            "providerExecuted",
            "providerMetadata",
            "toolMetadata",
            "dynamic",
            "title",
        },
    ),
    "tool-input-delta": ({"toolCallId", "inputTextDelta"}, set()),
    "tool-input-available": (
        {"toolCallId", "toolName", "input"},
        {"providerExecuted", "providerMetadata", "toolMetadata", "dynamic", "title"},
    ),
    "tool-input-error": (
        {"toolCallId", "toolName", "input", "errorText"},
        {"providerExecuted", "providerMetadata", "toolMetadata", "dynamic", "title"},
    ),
    "tool-output-available": (
        {"toolCallId", "output"},
        {"providerExecuted", "providerMetadata", "toolMetadata", "dynamic", "preliminary"},
    ),
    "tool-output-error": (
        {"toolCallId", "errorText"},
        {"providerExecuted", "providerMetadata", "toolMetadata", "dynamic"},
    ),
    "error": ({"errorText"}, set()),
    "finish": (set(), {"finishReason", "messageMetadata"}),
    "abort": (set(), {"reason"}),
}
DATA_FIELDS = ({"data"}, {"id", "transient"})
STRING_FIELDS = {
    "id",
    "delta",
    "toolCallId",
    "toolName",
    "inputTextDelta",
    "errorText",
    "messageId",
    "reason",
}
FINISH_REASONS = {"stop", "length", "content-filter", "tool-calls", "error", "other"}


def check_shape(part: Mapping[str, Any]) -> None:
    """One part against the schema: known type, required fields, no unknown ones."""
    kind = part["type"]
    assert isinstance(kind, str)
    if kind.startswith("data-"):
        required, optional = DATA_FIELDS
    else:
        assert kind in SCHEMA, f"not a UI message stream part: {kind}"
        required, optional = SCHEMA[kind]
    fields = set(part) - {"type"}
    assert required <= fields, f"{kind} lacks {required - fields}"
    assert fields <= required | optional, f"{kind} has unknown {fields - required - optional}"
    for name in fields & STRING_FIELDS:
        if not (kind.startswith("data-") and name != "id"):
            assert isinstance(part[name], str), (kind, name)
    if "transient" in part:
        assert isinstance(part["transient"], bool)
    if kind == "finish" and "finishReason" in part:
        assert part["finishReason"] in FINISH_REASONS


class Client:
    """What ``processUIMessageStream`` keeps, checked strictly: it throws on a delta or
    end without its start and on a tool output for a call it never saw; lgstream
    also promises nothing is left open and steps never nest."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.reasoning: dict[str, str] = {}
        self.open_text: set[str] = set()
        self.open_reasoning: set[str] = set()
        self.inputs: dict[str, str] = {}  # call id -> raw input text streamed
        self.calls: dict[str, dict[str, Any]] = {}  # call id -> its latest part
        self.outputs: dict[str, Any] = {}
        self.data: list[Mapping[str, Any]] = []
        self.step_open = False
        self.steps = 0
        self.types: list[str] = []

    def take(self, part: Mapping[str, Any]) -> None:
        check_shape(part)
        kind = part["type"]
        if self.types:
            assert self.types[-1] not in {"finish"}, f"{kind} after finish"
        else:
            assert kind == "start", "the stream must begin with start"
        self.types.append(kind)
        if kind == "start":
            assert self.types.count("start") == 1
        elif kind == "start-step":
            assert not self.step_open, "steps nest"
            self.step_open = True
            self.steps += 1
        elif kind == "finish-step":
            assert self.step_open
            # The client forgets open text and reasoning at finish-step.
            assert not self.open_text, "finish-step drops open text"
            assert not self.open_reasoning, "finish-step drops open reasoning"
            self.step_open = False
        elif kind == "text-start":
            assert part["id"] not in self.texts, "text id reused"
            self.texts[part["id"]] = ""
            self.open_text.add(part["id"])
        elif kind == "text-delta":
            assert part["id"] in self.open_text
            self.texts[part["id"]] += part["delta"]
        elif kind == "text-end":
            self.open_text.remove(part["id"])
        elif kind == "reasoning-start":
            assert part["id"] not in self.reasoning, "reasoning id reused"
            self.reasoning[part["id"]] = ""
            self.open_reasoning.add(part["id"])
        elif kind == "reasoning-delta":
            assert part["id"] in self.open_reasoning
            self.reasoning[part["id"]] += part["delta"]
        elif kind == "reasoning-end":
            self.open_reasoning.remove(part["id"])
        elif kind == "tool-input-start":
            assert part["toolCallId"] not in self.calls, "tool call id reused"
            self.calls[part["toolCallId"]] = dict(part)
            self.inputs[part["toolCallId"]] = ""
        elif kind == "tool-input-delta":
            assert self.calls[part["toolCallId"]]["type"] == "tool-input-start"
            self.inputs[part["toolCallId"]] += part["inputTextDelta"]
        elif kind in {"tool-input-available", "tool-input-error"}:
            previous = self.calls.get(part["toolCallId"])
            assert previous is None or previous["type"] == "tool-input-start"
            self.calls[part["toolCallId"]] = dict(part)
        elif kind in {"tool-output-available", "tool-output-error"}:
            call = self.calls[part["toolCallId"]]  # the client throws without one
            assert call["type"] in {"tool-input-available", "tool-input-error"}
            assert part["toolCallId"] not in self.outputs
            self.outputs[part["toolCallId"]] = part
        elif kind.startswith("data-"):
            self.data.append(part)

    def finished(self) -> None:
        """Every start got its end, and the stream ended with one finish."""
        assert self.types[-1] == "finish"
        assert self.types.count("finish") == 1
        assert not self.open_text
        assert not self.open_reasoning
        assert not self.step_open
        unended = [c for c, p in self.calls.items() if p["type"] == "tool-input-start"]
        assert not unended, f"tool inputs never completed: {unended}"


def read(frames: Sequence[bytes]) -> list[dict[str, Any]]:
    """Parse the SSE frames as the SDK does: ``data: <json>`` each, ``[DONE]`` last."""
    assert frames[-1] == b"data: [DONE]\n\n"
    assert b"".join(frames).count(b"[DONE]") == 1
    parts = []
    for frame in frames[:-1]:
        assert frame.startswith(b"data: ")
        assert frame.endswith(b"\n\n")
        assert frame.count(b"\n") == 2  # one line per part
        parts.append(json.loads(frame[6:]))
    return parts


def replay(parts: Sequence[Mapping[str, Any]]) -> Client:
    client = Client()
    for part in parts:
        client.take(part)
    client.finished()
    return client


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def agent_graph(*replies: Reply | str) -> Any:
    return lgs.graphs.agent(FakeChatModel(script=list(replies)), [add])


def ask(text: str = "hi") -> dict[str, Any]:
    return {"messages": [HumanMessage(text)]}


PARALLEL = Reply(
    reasoning="I should add twice.",
    text="Let me add.",
    tool_calls=[
        {"name": "add", "args": {"a": 1, "b": 2}, "id": "call_a"},
        {"name": "add", "args": {"a": 30, "b": 4}, "id": "call_b"},
    ],
    tool_call_style="parallel",
)


# --- the wire ------------------------------------------------------------------------


def test_frame_header_and_terminator() -> None:
    enc = VercelEncoder()
    assert enc.media_type == "text/event-stream"
    assert enc.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert VercelEncoder.done == b"data: [DONE]\n\n"
    part: VercelPart = {"type": "text-delta", "id": "m", "delta": "a\nb\u2028"}
    # One line whatever the text holds: a raw line break would split the event.
    assert enc.frame(part) == b'data: {"type":"text-delta","id":"m","delta":"a\\nb\\u2028"}\n\n'


def test_start_carries_the_message_id_and_close_is_once() -> None:
    enc = VercelEncoder(message_id="msg-1")
    assert enc.close() == [
        {"type": "start", "messageId": "msg-1"},
        {"type": "finish", "finishReason": "stop"},
    ]
    assert enc.closed
    assert enc.close() == []
    assert enc.close(RuntimeError("late")) == []
    assert enc.feed(lgs.Custom(data=1)) == []
    assert VercelEncoder().feed(lgs.Custom(data=1))[0] == {"type": "start"}


# --- real graphs ---------------------------------------------------------------------


def test_agent_with_reasoning_and_parallel_tool_calls() -> None:
    graph = agent_graph(PARALLEL, "The sums are 3 and 34.")
    parts = read(list(encode_vercel(lgs.stream(graph, ask(), modes=MODES), message_id="m1")))
    client = replay(parts)

    assert parts[0] == {"type": "start", "messageId": "m1"}
    assert parts[-1] == {"type": "finish", "finishReason": "stop"}
    assert sorted(client.texts.values()) == ["Let me add.", "The sums are 3 and 34."]
    assert list(client.reasoning.values()) == ["I should add twice."]
    # Text ids are message ids; reasoning gets its own id within the message.
    (first_text,) = [i for i, t in client.texts.items() if t == "Let me add."]
    assert list(client.reasoning) == [f"{first_text}:reasoning"]
    # The two calls streamed interleaved; each one's pieces stayed with it.
    assert client.inputs == {"call_a": '{"a": 1, "b": 2}', "call_b": '{"a": 30, "b": 4}'}
    assert client.calls["call_a"]["input"] == {"a": 1, "b": 2}
    assert client.calls["call_b"]["input"] == {"a": 30, "b": 4}
    assert {c: p["output"] for c, p in client.outputs.items()} == {"call_a": "3", "call_b": "34"}
    deltas = [p["toolCallId"] for p in parts if p["type"] == "tool-input-delta"]
    assert deltas[:2] == ["call_a", "call_b"]  # really interleaved on the wire
    # One step per node run: agent, tools, agent.
    assert client.steps == 3
    assert parts.index({"type": "tool-output-available", "toolCallId": "call_a", "output": "3"}) > (
        parts.index({"type": "start-step"}, parts.index({"type": "finish-step"}))
    )
    # The final state, transient: the client gets it in onData, not in the message.
    (state,) = [p for p in parts if p["type"] == "data-state"]
    assert state["transient"] is True
    assert state["id"] == "state"
    assert [m["type"] for m in state["data"]["messages"]] == ["human", "ai", "tool", "tool", "ai"]


def test_text_is_kept_per_message_id() -> None:
    graph = agent_graph(
        Reply(text="one two", tool_calls=[{"name": "add", "args": {"a": 1, "b": 1}}]), "three"
    )
    enc = VercelEncoder()
    flat = [p for ev in lgs.stream(graph, ask(), modes=MODES) for p in enc.feed(ev)]
    client = replay([dict(p) for p in flat])
    assert len(client.texts) == 2
    assert sorted(client.texts.values()) == ["one two", "three"]
    for text_id in client.texts:
        deltas = [p for p in flat if p.get("id") == text_id and p["type"] == "text-delta"]
        assert "".join(str(p.get("delta")) for p in deltas) == client.texts[text_id]


def test_whole_tool_calls_and_indexed_calls() -> None:
    for style in ("whole", "indexed"):
        reply = Reply(
            tool_calls=[{"name": "add", "args": {"a": 5, "b": 6}, "id": "c1"}],
            tool_call_style=style,
        )
        parts = read(list(encode_vercel(lgs.stream(agent_graph(reply, "11"), ask(), modes=MODES))))
        client = replay(parts)
        assert client.calls["c1"]["input"] == {"a": 5, "b": 6}
        assert client.outputs["c1"]["output"] == "11"


def test_error_mid_run_ends_every_part() -> None:
    graph = lgs.graphs.chat(
        FakeChatModel(script=[Reply(reasoning="think", text="a b c d e f", fail_after=4)])
    )
    frames = list(encode_vercel(lgs.stream(graph, ask(), modes=MODES)))  # does not raise
    parts = read(frames)
    client = replay(parts)
    assert client.texts  # some text went out before the failure, and was ended
    assert parts[-2:] == [
        {
            "type": "error",
            "errorText": (
                "FakeModelError: FakeChatModel failed on purpose after 4 chunks (fail_after)"
            ),
        },
        {"type": "finish", "finishReason": "error"},
    ]
    kinds = [p["type"] for p in parts]
    assert kinds.index("text-end") < kinds.index("finish-step") < kinds.index("error")


def test_error_text_can_hide_the_error() -> None:
    seen: list[BaseException] = []

    def hide(error: BaseException) -> str:
        seen.append(error)
        return "An error occurred."

    graph = lgs.graphs.chat(FakeChatModel(script=[Reply(text="a b c", fail_after=1)]))
    parts = read(list(encode_vercel(lgs.stream(graph, ask(), modes=MODES), error_text=hide)))
    assert {"type": "error", "errorText": "An error occurred."} in parts
    assert len(seen) == 1
    assert type(seen[0]).__name__ == "FakeModelError"


def test_an_exception_without_run_failed_is_reported_in_band() -> None:
    def events() -> Iterator[lgs.Event]:
        yield lgs.Custom(data="x")
        raise ValueError("source broke\nsecond line")

    parts = read(list(encode_vercel(events())))
    assert parts[-2:] == [
        {"type": "error", "errorText": "ValueError: source broke"},
        {"type": "finish", "finishReason": "error"},
    ]


def test_interrupt() -> None:
    graph = interrupt_graph()
    config: RunnableConfig = {"configurable": {"thread_id": "t1"}}
    stream = lgs.stream(graph, {"question": "?"}, modes=MODES, config=config)
    parts = read(list(encode_vercel(stream)))
    replay(parts)
    (asked,) = [p for p in parts if p["type"] == "data-interrupt"]
    assert asked["data"]["value"] == {"prompt": "What is your name?"}
    assert asked["id"] == asked["data"]["id"]
    assert isinstance(asked["id"], str)
    assert parts[-1] == {"type": "finish", "finishReason": "other"}

    resumed = lgs.stream(graph, Command(resume="Ada"), modes=MODES, config=config)
    parts = read(list(encode_vercel(resumed)))
    replay(parts)
    assert not [p for p in parts if p["type"] == "data-interrupt"]
    assert parts[-1] == {"type": "finish", "finishReason": "stop"}
    (state,) = [p for p in parts if p["type"] == "data-state"]
    assert state["data"]["name"] == "Ada"


def test_custom_events_become_data_parts() -> None:
    parts = read(list(encode_vercel(lgs.stream(progress_graph(2), {"question": "?"}, modes=MODES))))
    replay(parts)
    assert [p for p in parts if p["type"] == "data-custom"] == [
        {"type": "data-custom", "data": {"progress": 1, "of": 2}},
        {"type": "data-custom", "data": {"progress": 2, "of": 2}},
    ]
    enc = VercelEncoder()
    named = {"type": "data-weather", "id": "w1", "data": {"temp": 21}, "transient": True}
    assert enc.feed(lgs.Custom(data=named))[1:] == [named]
    # Not a data part: a type without the prefix, or no data key, stays data-custom.
    for payload in (
        {"type": "weather", "data": 1},
        {"type": "data-x"},
        {"type": "data-", "data": 1},
    ):
        assert enc.feed(lgs.Custom(data=payload)) == [{"type": "data-custom", "data": payload}]


def test_early_close_closes_the_source() -> None:
    closed: list[bool] = []
    graph = lgs.graphs.chat(FakeChatModel(script=["one two three four five six"]))

    def source() -> Iterator[lgs.Event]:
        try:
            yield from lgs.stream(graph, ask(), modes=MODES)
        finally:
            closed.append(True)

    frames = encode_vercel(source())
    got = [json.loads(next(frames)[6:])["type"] for _ in range(4)]
    assert got == ["start", "start-step", "text-start", "text-delta"]
    assert not closed
    frames.close()  # the client left
    assert closed == [True]
    with pytest.raises(StopIteration):
        next(frames)


def test_close_cancelled_ends_open_parts_then_aborts() -> None:
    enc = VercelEncoder()
    parts: list[VercelPart] = []
    graph = agent_graph(PARALLEL, "done")
    for event in lgs.stream(graph, ask(), modes=MODES):
        parts.extend(enc.feed(event))
        if parts[-1]["type"] == "tool-input-delta":
            break  # mid-reasoning is done; two tool inputs are open
    parts.extend(enc.close(cancelled=True))
    client = replay([dict(p) for p in parts])
    assert [p["type"] for p in parts][-2:] == ["abort", "finish"]
    assert parts[-1] == {"type": "finish"}
    # The open inputs were completed: their partial JSON is reported as an input error.
    assert {p["type"] for p in client.calls.values()} <= {
        "tool-input-available",
        "tool-input-error",
    }


def test_cancelling_an_async_reader_closes_the_run() -> None:
    async def main() -> list[bytes]:
        graph = lgs.graphs.chat(FakeChatModel(script=["a b c d e f g h"], delay=0.01))
        frames = aencode_vercel(lgs.astream(graph, ask(), modes=MODES))
        got = [await anext(frames) for _ in range(3)]
        await frames.aclose()
        return got

    got = asyncio.run(main())
    assert len(got) == 3


def test_async_twin_gives_the_same_parts() -> None:
    async def run() -> list[bytes]:
        graph = agent_graph(PARALLEL, "end")
        return [f async for f in aencode_vercel(lgs.astream(graph, ask(), modes=MODES))]

    sync_parts = read(
        list(encode_vercel(lgs.stream(agent_graph(PARALLEL, "end"), ask(), modes=MODES)))
    )
    async_parts = read(asyncio.run(run()))
    replay(async_parts)
    assert [p["type"] for p in async_parts] == [p["type"] for p in sync_parts]


def test_already_piped_streams_encode_the_same() -> None:
    events = list(lgs.stream(agent_graph(PARALLEL, "fin"), ask(), modes=MODES))
    ops = (lgs.ops.join_messages(), lgs.ops.reasoning(), lgs.ops.tool_calls())
    piped = events
    for op in ops:
        piped = [out for ev in piped for out in op.feed(ev)] + list(op.flush())
    assert len(piped) > len(events)
    assert read(list(encode_vercel(piped))) == read(list(encode_vercel(events)))


def test_updates_mode_alone_still_gives_messages_and_tools() -> None:
    graph = agent_graph(PARALLEL, "All added.")
    parts = read(list(encode_vercel(lgs.stream(graph, ask(), modes=["updates"]))))
    client = replay(parts)
    assert sorted(client.texts.values()) == ["All added.", "Let me add."]
    assert list(client.reasoning.values()) == ["I should add twice."]
    assert client.calls["call_a"]["input"] == {"a": 1, "b": 2}
    assert set(client.outputs) == {"call_a", "call_b"}


def test_subgraph_tokens_of_parallel_nodes() -> None:
    from tests.graphs import twin_subgraphs_graph

    graph = twin_subgraphs_graph(
        FakeChatModel(script=["research says hi"]), FakeChatModel(script=["critic says no"])
    )
    stream = lgs.stream(graph, ask(), modes=MODES, subgraphs=True)
    client = replay(read(list(encode_vercel(stream))))
    # Each subgraph's streamed answer once: the whole message its node returns
    # afterwards (the same id) is not sent again.
    assert sorted(client.texts.values()) == ["critic says no", "research says hi"]


def _token(text: str, message_id: str, node: str, *, last: bool = False) -> lgs.Token:
    chunk = AIMessageChunk(content=text, id=message_id, chunk_position="last" if last else None)
    return lgs.Token(text=text, message_id=message_id, chunk=chunk, node=node)


def test_interleaved_nodes_share_a_step() -> None:
    enc = VercelEncoder()
    events: list[lgs.Event] = [
        _token("a1", "ma", "a"),
        _token("b1", "mb", "b"),
        _token("a2", "ma", "a"),
        lgs.Update(node="a", data={}),  # a returned; b is still streaming
        _token("b2", "mb", "b"),
        lgs.Update(node="b", data={}),
        lgs.Custom(data="after"),
    ]
    parts = [dict(p) for ev in events for p in enc.feed(ev)] + [dict(p) for p in enc.close()]
    client = replay(parts)
    assert client.texts == {"ma": "a1a2", "mb": "b1b2"}
    assert client.steps == 1
    kinds = [p["type"] for p in parts]
    assert kinds.index("finish-step") == kinds.index("data-custom") - 1


def test_a_message_id_seen_again_gets_new_part_ids() -> None:
    enc = VercelEncoder()
    events: list[lgs.Event] = [
        _token("x", "m", "a", last=True),
        _token("y", "m", "a", last=True),  # the same id after its message ended
        lgs.Message(message=AIMessage(content="z", id="n"), message_id="n", node="a"),
        lgs.Message(message=AIMessage(content="z", id="n"), message_id="n", node="a"),
    ]
    parts = [dict(p) for ev in events for p in enc.feed(ev)] + [dict(p) for p in enc.close()]
    assert replay(parts).texts == {"m": "x", "m:text:1": "y", "n": "z"}


# --- a property ----------------------------------------------------------------------

_piece = st.tuples(
    st.sampled_from(["m1", "m2", "m3"]),
    st.sampled_from(["text", "reasoning"]),
    st.text(min_size=0, max_size=4),
    st.booleans(),  # last chunk of its message
)
_ending = st.sampled_from(["finish", "error", "cancel", "run_failed"])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_piece, max_size=25), st.lists(st.sampled_from(["a", "b", None]), max_size=4), _ending
)
def test_any_interleaving_is_balanced(
    tokens: list[tuple[str, str, str, bool]], updates: list[str | None], ending: str
) -> None:
    enc = VercelEncoder()
    parts: list[VercelPart] = []
    node_of = {"m1": "a", "m2": "b", "m3": "a"}
    for i, (mid, kind, text, last) in enumerate(tokens):
        if kind == "text":
            chunk = AIMessageChunk(content=text, id=mid)
        else:
            chunk = AIMessageChunk(
                content="", additional_kwargs={"reasoning_content": text}, id=mid
            )
        if last:
            chunk = chunk.model_copy(update={"chunk_position": "last"})
        parts.extend(
            enc.feed(lgs.Token(text=chunk.text, message_id=mid, chunk=chunk, node=node_of[mid]))
        )
        if updates and i % 3 == 2:
            node = updates[(i // 3) % len(updates)]
            parts.extend(enc.feed(lgs.Update(node=node, data={})))
    if ending == "finish":
        parts.extend(enc.feed(lgs.RunFinished(run_id="r")))
    elif ending == "run_failed":
        parts.extend(enc.feed(lgs.RunFailed(run_id="r", error=RuntimeError("x"))))
    parts.extend(
        enc.close(RuntimeError("x") if ending == "error" else None, cancelled=ending == "cancel")
    )
    client = replay([dict(p) for p in parts])
    # Nothing lost: every message's text arrives, in order, whatever its parts.
    for mid in {t[0] for t in tokens}:
        want = "".join(t[2] for t in tokens if t[0] == mid and t[1] == "text")
        got = "".join(v for k, v in client.texts.items() if k == mid or k.startswith(f"{mid}:"))
        assert got == want
    if ending in {"error", "run_failed"}:
        assert parts[-2]["type"] == "error"
