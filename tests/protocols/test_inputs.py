"""The protocols' request bodies as graph inputs: ``agui.graph_input`` / ``parse_run_input``
and ``vercel.graph_input``, without a server."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.types import Command

from lgstream.protocols import ProtocolInputError, agui, vercel

CONVERSATION: dict[str, Any] = {
    "threadId": "t-1",
    "runId": "r-1",
    "state": {"topic": "flights", "messages": ["ignored: the messages field carries them"]},
    "messages": [
        {"id": "s", "role": "system", "content": "Be brief."},
        {"id": "u1", "role": "user", "content": "Add 2 and 3"},
        {
            "id": "a1",
            "role": "assistant",
            "toolCalls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a":2,"b":3}'},
                }
            ],
        },
        {"id": "t1", "role": "tool", "toolCallId": "c1", "content": "5"},
        {"id": "u2", "role": "user", "content": "And now times 4"},
    ],
}


def test_agui_history_sends_every_message_and_the_state() -> None:
    got = agui.graph_input(CONVERSATION)
    assert isinstance(got, dict)
    assert got["topic"] == "flights"
    kinds = [type(m) for m in got["messages"]]
    assert kinds == [SystemMessage, HumanMessage, AIMessage, ToolMessage, HumanMessage]
    assert [m.id for m in got["messages"]] == ["s", "u1", "a1", "t1", "u2"]
    ai = got["messages"][2]
    assert ai.tool_calls == [
        {"name": "add", "args": {"a": 2, "b": 3}, "id": "c1", "type": "tool_call"}
    ]
    assert got["messages"][3].tool_call_id == "c1"


def test_agui_on_a_thread_only_the_new_turn_goes() -> None:
    got = agui.graph_input(CONVERSATION, history=False)
    assert isinstance(got, dict)
    assert set(got) == {"messages"}  # the thread holds the state
    assert [m.id for m in got["messages"]] == ["t1", "u2"]


def test_agui_resume_entries_become_a_resume_map() -> None:
    body = {
        **CONVERSATION,
        "resume": [
            {"interruptId": "i-1", "status": "resolved", "payload": {"approved": True}},
            {"interruptId": "i-2", "status": "cancelled"},
        ],
    }
    got = agui.graph_input(body, history=False)
    assert isinstance(got, Command)
    assert got.resume == {"i-1": {"approved": True}, "i-2": None}


def test_agui_copilotkit_resume_is_read_from_forwarded_props() -> None:
    body = {**CONVERSATION, "forwardedProps": {"command": {"resume": "yes"}}}
    got = agui.graph_input(body, history=False)
    assert isinstance(got, Command)
    assert got.resume == "yes"


def test_agui_resume_without_a_checkpointer_is_refused() -> None:
    body = {**CONVERSATION, "forwardedProps": {"command": {"resume": "yes"}}}
    with pytest.raises(ProtocolInputError, match="no checkpointer"):
        agui.graph_input(body, history=True)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"runId": "r", "messages": []}, "threadId"),
        (
            {"threadId": "t", "runId": "r", "messages": [{"id": "x", "role": "wizard"}]},
            "messages.0",
        ),
        ("not an object", "RunAgentInput"),
    ],
)
def test_agui_bad_bodies_name_what_is_wrong(body: object, message: str) -> None:
    with pytest.raises(ProtocolInputError, match=message):
        agui.parse_run_input(body)


def test_agui_tool_arguments_must_be_a_json_object() -> None:
    bad = {
        **CONVERSATION,
        "messages": [
            {
                "id": "a1",
                "role": "assistant",
                "toolCalls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}
                ],
            }
        ],
    }
    with pytest.raises(ProtocolInputError, match=r"messages\.0\.toolCalls\.0"):
        agui.graph_input(bad)


CHAT: dict[str, Any] = {
    "id": "chat-1",
    "trigger": "submit-message",
    "messages": [
        {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]},
        {"id": "a1", "role": "assistant", "parts": [{"type": "text", "text": "Hello!"}]},
        {"id": "u2", "role": "user", "parts": [{"type": "text", "text": "Bye"}]},
    ],
}


def test_vercel_history_and_new_turn() -> None:
    everything = vercel.graph_input(CHAT)
    assert isinstance(everything, dict)
    assert [(type(m), m.text) for m in everything["messages"]] == [
        (HumanMessage, "Hi"),
        (AIMessage, "Hello!"),
        (HumanMessage, "Bye"),
    ]
    turn = vercel.graph_input(CHAT, history=False)
    assert isinstance(turn, dict)
    assert [m.id for m in turn["messages"]] == ["u2"]


def test_vercel_resume_field() -> None:
    got = vercel.graph_input({**CHAT, "resume": {"approved": False}}, history=False)
    assert isinstance(got, Command)
    assert got.resume == {"approved": False}
    with pytest.raises(ProtocolInputError, match="no checkpointer"):
        vercel.graph_input({**CHAT, "resume": 1}, history=True)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"id": "c", "messages": []}, "empty"),
        ({"id": "c", "messages": [{"id": "u", "role": "robot", "parts": []}]}, "role"),
        ({"id": "c"}, "messages"),
    ],
)
def test_vercel_bad_bodies_name_what_is_wrong(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ProtocolInputError, match=message):
        vercel.graph_input(body)
