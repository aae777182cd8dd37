"""The event model: frozen, slotted, keyword-only, matchable, JSON-safe."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import inspect
import json
import math
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langgraph.types import Interrupt as LangGraphInterrupt

import lgstream as lgs

CHUNK = AIMessageChunk(content="Hi", id="m1")

ONE_OF_EACH: list[lgs.Event] = [
    lgs.Token(text="Hi", message_id="m1", chunk=CHUNK, node="n", step=1, tags=("t",)),
    lgs.Message(message=HumanMessage("hello", id="h1"), message_id="h1", node="n"),
    lgs.Update(node="n", data={"answer": "Hi"}),
    lgs.Values(data={"messages": [AIMessage("Hi", id="a1")]}),
    lgs.Custom(data={"progress": 0.5}),
    lgs.Interrupt(value={"ask": "name?"}, interrupt_id="i1", raw=LangGraphInterrupt("x", id="i1")),
    lgs.Checkpoint(values={"a": 1}, next=("n",), checkpoint_id="c1", step=0),
    lgs.TaskStart(task_id="t1", node="n", input={"a": 1}, triggers=("start",)),
    lgs.TaskResult(task_id="t1", node="n", result={"a": 2}),
    lgs.ToolStart(node="tools", call_id="c1", name="add", input={"a": 1}),
    lgs.ToolOutputDelta(node="tools", call_id="c1", delta="par"),
    lgs.ToolResult(node="tools", call_id="c1", output=ToolMessage("3", tool_call_id="c1")),
    lgs.ToolError(node="tools", call_id="c1", message="bad input"),
    lgs.RunStarted(run_id="r1", input={"q": "?"}, modes=("messages",)),
    lgs.RunFinished(run_id="r1", output={"a": 1}),
    lgs.RunFailed(run_id="r1", error=ValueError("nope")),
    lgs.MessageStart(message_id="m1", node="n"),
    lgs.MessageDone(message_id="m1", message=CHUNK, text="Hi", reason="last_chunk"),
    lgs.Reasoning(message_id="m1", text="hmm"),
    lgs.ToolCallStart(call_id="c1", name="add", message_id="m1", index=0),
    lgs.ToolCallDelta(call_id="c1", args_delta='{"a": ', message_id="m1"),
    lgs.ToolCallReady(call_id="c1", name="add", args={"a": 1}, message_id="m1"),
    lgs.ToolCallInvalid(call_id="c1", name="add", raw_args="{", error="bad JSON"),
    lgs.StateSnapshot(data={"a": 1}),
    lgs.StatePatch(ops=({"op": "replace", "path": "/a", "value": 2},)),
]


def test_every_kind_is_covered_once() -> None:
    kinds = [ev.kind for ev in ONE_OF_EACH]
    assert sorted(kinds) == sorted(lgs.EventKind.__args__)  # type: ignore[attr-defined]


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda ev: ev.kind)
def test_events_are_frozen_slotted_and_keyword_only(event: lgs.Event) -> None:
    assert not hasattr(event, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.node = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        type(event)("positional")  # type: ignore[call-arg, arg-type]


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda ev: ev.kind)
def test_every_event_serialises_to_strict_json(event: lgs.Event) -> None:
    data = lgs.to_jsonable(event)
    assert data == event.to_dict()
    assert isinstance(data, dict)
    assert data["kind"] == event.kind
    assert data["ns"] == list(event.ns)
    json.dumps(data, allow_nan=False)
    assert "metadata" not in data  # shared, raw: left out
    assert "raw" not in data


def test_messages_become_plain_dicts_that_keep_their_type() -> None:
    token = lgs.to_jsonable(ONE_OF_EACH[0])
    assert isinstance(token, dict)
    chunk = token["chunk"]
    assert isinstance(chunk, dict)
    assert (chunk["type"], chunk["content"], chunk["id"]) == ("AIMessageChunk", "Hi", "m1")
    values = lgs.to_jsonable(ONE_OF_EACH[3])
    assert isinstance(values, dict)
    assert values["data"] == {"messages": [AIMessage("Hi", id="a1").model_dump()]}


def test_errors_become_type_and_message() -> None:
    failed = lgs.to_jsonable(next(ev for ev in ONE_OF_EACH if isinstance(ev, lgs.RunFailed)))
    assert isinstance(failed, dict)
    assert failed["error"] == {"type": "ValueError", "message": "nope"}


def test_match_narrows_events() -> None:
    seen: list[str] = []
    for ev in ONE_OF_EACH:
        match ev:
            case lgs.Token(text=text, node="n"):
                seen.append(f"token:{text}")
            case lgs.Interrupt(value={"ask": question}):
                seen.append(f"ask:{question}")
            case lgs.RunFailed(error=ValueError() as error):
                seen.append(f"failed:{error}")
            case lgs.ToolCallReady(name=name, args=args):
                seen.append(f"call:{name}{args}")
    assert seen == ["token:Hi", "ask:name?", "failed:nope", "call:add{'a': 1}"]


class Colour(enum.Enum):
    RED = "red"


def test_awkward_values() -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        y: float

    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    value: Any = {
        1: (1, 2),
        "set": frozenset({3}),
        "nan": math.nan,
        "inf": -math.inf,
        "when": datetime.datetime(2026, 1, 2, 3, 4, 5),
        "day": datetime.date(2026, 1, 2),
        "id": uuid.UUID(int=1),
        "colour": Colour.RED,
        "bytes": b"\x00\xff",
        "point": Point(1, 2.5),
        "opaque": Opaque(),
    }
    assert lgs.to_jsonable(value) == {
        "1": [1, 2],
        "set": [3],
        "nan": "NaN",
        "inf": "-Infinity",
        "when": "2026-01-02T03:04:05",
        "day": "2026-01-02",
        "id": "00000000-0000-0000-0000-000000000001",
        "colour": "red",
        "bytes": "AP8=",
        "point": {"x": 1, "y": 2.5},
        "opaque": "<opaque>",
    }


json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary(max_size=8)
    | st.datetimes()
    | st.uuids()
    | st.builds(HumanMessage, content=st.text())
    | st.builds(AIMessageChunk, content=st.text())
)
nested = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=5) | st.integers(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(nested)
def test_to_jsonable_always_gives_strict_json(value: object) -> None:
    text = json.dumps(lgs.to_jsonable(value), allow_nan=False)
    assert json.loads(text) == lgs.to_jsonable(value)


@given(st.text())
def test_token_text_roundtrips_through_json(text: str) -> None:
    chunk = AIMessageChunk(content=text, id="m")
    data = json.loads(
        json.dumps(lgs.to_jsonable(lgs.Token(text=text, message_id="m", chunk=chunk)))
    )
    assert data["text"] == text
    assert lgs.revive_message(data["chunk"]) == chunk


def test_the_fast_token_constructor_equals_init_and_sets_every_field() -> None:
    from lgstream._events import new_token

    params = list(inspect.signature(new_token).parameters)
    # Every field but the source's event id, which a fresh token never has.
    assert sorted([*params, "event_id"]) == sorted(f.name for f in dataclasses.fields(lgs.Token))
    chunk = AIMessageChunk(content="a", id="m")
    values: dict[str, Any] = {
        "ns": ("sub:1",),
        "node": "n",
        "text": "a",
        "message_id": "m",
        "chunk": chunk,
        "step": 3,
        "tags": ("t",),
        "metadata": {"k": 1},
    }
    fast = new_token(**values)
    slow = lgs.Token(**values)
    assert fast == slow
    for name in params:
        assert getattr(fast, name) is values[name]
    assert fast.event_id is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.text = "b"  # type: ignore[misc]
