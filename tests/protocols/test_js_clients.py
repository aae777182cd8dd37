"""lgstream's protocol endpoints (``create_app`` on uvicorn, 127.0.0.1) read by the
protocols' own JavaScript clients: ``@ag-ui/client``'s ``HttpAgent`` and the ``ai``
package's UI message stream reader. What they reconstructed is what is asserted."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import interrupt
from starlette.applications import Starlette

import lgstream as lgs
from lgstream.sinks.asgi import create_app
from lgstream.testing import FakeChatModel, Reply

from ._js import AguiResult, JsHarness, VercelResult, serve_app

Graph = Any


class Recorder:
    """An operator that keeps every event it lets through: what the server sent."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def feed(self, item: Any, /) -> Sequence[Any]:
        self.events.append(item)
        return (item,)

    def flush(self) -> Sequence[Any]:
        return ()

    def final_state(self) -> Any:
        values = [e for e in self.events if isinstance(e, lgs.Values) and not e.ns]
        return lgs.to_jsonable(values[-1].data)


def app_for(graph: Graph, recorder: Recorder | None = None, **options: Any) -> Starlette:
    ops = (lambda: [recorder]) if recorder is not None else None
    return create_app(graph, replay=False, page=False, ops=ops, **options)


def agui_input(text: str, *, thread: str = "thread-1") -> dict[str, Any]:
    return {
        "threadId": thread,
        "runId": "run-1",
        "messages": [{"id": "u1", "role": "user", "content": text}],
    }


def chat_body(text: str, *, chat: str = "chat-1") -> dict[str, Any]:
    return {
        "id": chat,
        "trigger": "submit-message",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}],
    }


def assert_agui_clean(result: AguiResult) -> None:
    assert result["client_error"] is None
    assert result["raw_invalid"] == []
    assert result["warnings"] == []
    assert result["content_type"] is not None
    assert result["content_type"].startswith("text/event-stream")
    assert result["events"] == result["applied"]  # nothing dropped or rewritten


def assert_vercel_clean(result: VercelResult) -> None:
    assert result["client_error"] is None
    assert result["status"] == 200
    assert result["invalid"] == []
    assert result["client_errors"] == []
    assert result["header_ok"]
    assert result["done"]
    assert result["after_done"] == 0


def assistant_texts(result: AguiResult) -> list[str]:
    return [m.get("content") or "" for m in result["messages"] if m["role"] == "assistant"]


def parts(result: VercelResult, kind: str) -> list[dict[str, Any]]:
    (message,) = result["messages"]
    assert message["role"] == "assistant"
    return [p for p in message["parts"] if p["type"] == kind or p["type"].startswith(kind)]


# --- a plain answer, with reasoning ------------------------------------------------------


def reasoning_chat() -> FakeChatModel:
    reply = Reply(reasoning="The user greets me.", text="Hello there, friend", id="m1")
    return FakeChatModel(script=[reply], cycle=True)


def test_agui_plain_answer_with_reasoning(js_harness: JsHarness) -> None:
    recorder = Recorder()
    with serve_app(app_for(lgs.graphs.chat(reasoning_chat()), recorder)) as base:
        result = js_harness.agui(f"{base}/stream?format=agui", agui_input("Hi"))
    assert_agui_clean(result)
    assert [(m["id"], m["role"]) for m in result["messages"]] == [
        ("u1", "user"),
        ("m1:reasoning", "reasoning"),
        ("m1", "assistant"),
    ]
    assert result["messages"][1]["content"] == "The user greets me."
    assert assistant_texts(result) == ["Hello there, friend"]
    assert result["events"].count("TEXT_MESSAGE_CONTENT") == 3  # streamed, not whole
    assert result["events"][0] == "RUN_STARTED"
    assert result["events"][-1] == "RUN_FINISHED"
    # The state the client built from one snapshot and its deltas is the graph's.
    assert "STATE_DELTA" in result["events"]
    assert result["state"] == recorder.final_state()
    assert result["error"] is None


def test_vercel_plain_answer_with_reasoning(js_harness: JsHarness) -> None:
    with serve_app(app_for(lgs.graphs.chat(reasoning_chat()))) as base:
        result = js_harness.vercel(f"{base}/stream?format=vercel", chat_body("Hi"))
    assert_vercel_clean(result)
    assert [p["text"] for p in parts(result, "text")] == ["Hello there, friend"]
    assert [p["text"] for p in parts(result, "reasoning")] == ["The user greets me."]
    assert all(p["state"] == "done" for p in parts(result, "text") + parts(result, "reasoning"))
    assert result["chunks"].count("text-delta") == 3
    assert result["chunks"][0] == "start"
    assert result["chunks"][-1] == "finish"
    assert result["error"] is None


# --- parallel tool calls -----------------------------------------------------------------


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool
def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


def tool_agent() -> Graph:
    calls = [
        {"name": "add", "args": {"a": 2, "b": 3}, "id": "call-add"},
        {"name": "shout", "args": {"text": "hi"}, "id": "call-shout"},
    ]
    model = FakeChatModel(
        script=[
            Reply(tool_calls=calls, tool_call_style="parallel", id="m1"),
            Reply(text="5 and HI", id="m2"),
        ],
        cycle=True,
    )
    return lgs.graphs.agent(model, [add, shout])


def test_agui_parallel_tool_calls(js_harness: JsHarness) -> None:
    recorder = Recorder()
    with serve_app(app_for(tool_agent(), recorder)) as base:
        result = js_harness.agui(f"{base}/stream?format=agui", agui_input("Add and shout"))
    assert_agui_clean(result)
    by_role = [m["role"] for m in result["messages"]]
    assert by_role == ["user", "assistant", "tool", "tool", "assistant"]
    calls = result["messages"][1]["toolCalls"]
    assert [(c["id"], c["function"]["name"]) for c in calls] == [
        ("call-add", "add"),
        ("call-shout", "shout"),
    ]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [
        {"a": 2, "b": 3},
        {"text": "hi"},
    ]
    results = {m["toolCallId"]: m["content"] for m in result["messages"] if m["role"] == "tool"}
    assert results == {"call-add": "5", "call-shout": "HI"}
    assert assistant_texts(result)[-1] == "5 and HI"
    assert result["events"].count("TOOL_CALL_ARGS") >= 2  # the arguments streamed
    assert result["state"] == recorder.final_state()


def test_vercel_parallel_tool_calls(js_harness: JsHarness) -> None:
    with serve_app(app_for(tool_agent())) as base:
        result = js_harness.vercel(f"{base}/stream?format=vercel", chat_body("Add and shout"))
    assert_vercel_clean(result)
    tools = parts(result, "tool-")
    assert [(p["type"], p["toolCallId"], p["state"]) for p in tools] == [
        ("tool-add", "call-add", "output-available"),
        ("tool-shout", "call-shout", "output-available"),
    ]
    assert [p["input"] for p in tools] == [{"a": 2, "b": 3}, {"text": "hi"}]
    assert [p["output"] for p in tools] == ["5", "HI"]
    assert [p["text"] for p in parts(result, "text")] == ["5 and HI"]
    assert result["chunks"].count("tool-input-delta") >= 2


# --- an error mid-run --------------------------------------------------------------------


def failing_chat() -> Graph:
    model = FakeChatModel(script=[Reply(text=["Partial ", "answer ", "lost"], fail_after=2)])
    return lgs.graphs.chat(model)


def test_agui_error_mid_run(js_harness: JsHarness) -> None:
    with serve_app(app_for(failing_chat())) as base:
        result = js_harness.agui(f"{base}/stream?format=agui", agui_input("Hi"))
    assert_agui_clean(result)
    assert result["events"][-1] == "RUN_ERROR"
    assert "RUN_FINISHED" not in result["events"]
    assert result["error"] is not None
    assert "FakeModelError" not in result["error"]  # the message; the type is the code
    assert assistant_texts(result) == ["Partial answer "]  # what streamed, ended cleanly
    assert result["events"].count("TEXT_MESSAGE_START") == result["events"].count(
        "TEXT_MESSAGE_END"
    )


def test_vercel_error_mid_run(js_harness: JsHarness) -> None:
    with serve_app(app_for(failing_chat())) as base:
        result = js_harness.vercel(f"{base}/stream?format=vercel", chat_body("Hi"))
    assert_vercel_clean(result)
    assert result["error"] is not None
    assert result["error"].startswith("FakeModelError")
    assert "error" in result["chunks"]
    assert result["chunks"][-1] == "finish"
    assert [p["text"] for p in parts(result, "text")] == ["Partial answer "]


# --- an interrupt, on a graph with a checkpointer ---------------------------------------


def approval_graph() -> Graph:
    """``model`` answers, then ``approve`` pauses with interrupt()."""
    model = FakeChatModel(script=[Reply(text="I will book it.", id="m1")], cycle=True)

    def answer(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def approve(state: MessagesState) -> dict[str, Any]:
        decision = interrupt({"question": "Book the flight?", "options": ["yes", "no"]})
        return {"messages": [HumanMessage(f"decision: {decision}")]}

    builder = StateGraph(MessagesState)
    builder.add_node("model", answer)
    builder.add_node("approve", approve)
    builder.add_edge(START, "model")
    builder.add_edge("model", "approve")
    builder.add_edge("approve", END)
    return builder.compile(checkpointer=InMemorySaver())


def test_agui_interrupt(js_harness: JsHarness) -> None:
    graph = approval_graph()
    recorder = Recorder()
    with serve_app(app_for(graph, recorder)) as base:
        result = js_harness.agui(f"{base}/stream?format=agui", agui_input("Book it", thread="t-7"))
    assert_agui_clean(result)
    assert assistant_texts(result) == ["I will book it."]
    interrupts = [c for c in result["custom"] if c["name"] == "on_interrupt"]
    assert [json.loads(c["value"]) for c in interrupts] == [
        {"question": "Book the flight?", "options": ["yes", "no"]}
    ]
    assert result["events"][-1] == "RUN_FINISHED"
    assert result["state"] == recorder.final_state()
    # The client's threadId was the run's thread: the checkpoint is there, paused.
    snapshot = graph.get_state({"configurable": {"thread_id": "t-7"}})
    assert snapshot.next == ("approve",)


def test_agui_interrupt_then_resume_through_the_client(js_harness: JsHarness) -> None:
    """AG-UI 1.0: the client reads the interrupt from RUN_FINISHED's outcome, and the
    next run answers it with `resume`; the graph continues from where it paused."""
    graph = approval_graph()
    config: Any = {"configurable": {"thread_id": "t-8"}}
    with serve_app(app_for(graph)) as base:
        url = f"{base}/stream?format=agui"
        first = js_harness.agui(url, agui_input("Book it", thread="t-8"))
        assert_agui_clean(first)
        assert first["outcome"] is not None
        assert first["outcome"]["type"] == "interrupt"
        (pending,) = first["pending_interrupts"]
        # The id the client must answer is LangGraph's own interrupt id.
        (paused,) = graph.get_state(config).interrupts
        assert pending["id"] == paused.id
        answer = {"interruptId": pending["id"], "status": "resolved", "payload": "yes"}
        second = js_harness.agui(
            url, {**agui_input("Book it", thread="t-8"), "resume": [answer], "runId": "run-2"}
        )
    assert_agui_clean(second)
    assert second["events"][0] == "RUN_STARTED"
    assert second["events"][-1] == "RUN_FINISHED"
    assert second["pending_interrupts"] == []
    final = graph.get_state(config)
    assert final.next == ()
    assert final.values["messages"][-1].content == "decision: yes"


def test_vercel_interrupt(js_harness: JsHarness) -> None:
    graph = approval_graph()
    with serve_app(app_for(graph)) as base:
        result = js_harness.vercel(f"{base}/stream?format=vercel", chat_body("Book it"))
    assert_vercel_clean(result)
    (data,) = parts(result, "data-interrupt")
    assert data["data"]["value"] == {"question": "Book the flight?", "options": ["yes", "no"]}
    assert [p["text"] for p in parts(result, "text")] == ["I will book it."]
    assert graph.get_state({"configurable": {"thread_id": "chat-1"}}).next == ("approve",)


def test_vercel_interrupt_then_resume_with_the_body_field(js_harness: JsHarness) -> None:
    graph = approval_graph()
    config: Any = {"configurable": {"thread_id": "chat-2"}}
    with serve_app(app_for(graph)) as base:
        url = f"{base}/stream?format=vercel"
        first = js_harness.vercel(url, chat_body("Book it", chat="chat-2"))
        assert_vercel_clean(first)
        assert parts(first, "data-interrupt") != []
        assert graph.get_state(config).next == ("approve",)
        second = js_harness.vercel(url, {**chat_body("Book it", chat="chat-2"), "resume": "no"})
    assert_vercel_clean(second)
    # The resumed run only adds a human message: nothing for the assistant to show
    # but its end (and the transient final state).
    assert second["chunks"] == ["start", "data-state", "finish"]
    final = graph.get_state(config)
    assert final.next == ()
    assert final.values["messages"][-1].content == "decision: no"


# --- threads, keepalives, the route option ----------------------------------------------


def test_with_a_checkpointer_only_the_new_turn_is_sent(js_harness: JsHarness) -> None:
    seen: list[list[BaseMessage]] = []

    def answer(messages: list[BaseMessage]) -> Reply:
        seen.append(list(messages))
        return Reply(text=f"answer {len(seen)}")

    graph = lgs.graphs.chat(FakeChatModel(script=answer), checkpointer=InMemorySaver())
    with serve_app(app_for(graph, protocol="agui")) as base:
        first = js_harness.agui(f"{base}/stream", agui_input("one", thread="t-2"))
        # The client's second run sends the whole conversation, as HttpAgent does.
        again = {
            "threadId": "t-2",
            "runId": "run-2",
            "messages": [
                *first["messages"],
                {"id": "u2", "role": "user", "content": "two"},
            ],
        }
        second = js_harness.agui(f"{base}/stream", again)
    assert_agui_clean(first)
    assert_agui_clean(second)
    assert assistant_texts(second) == ["answer 1", "answer 2"]
    # The model saw each message once: the thread had the first turn already.
    assert [m.text for m in seen[1]] == ["one", "answer 1", "two"]


@pytest.mark.parametrize("protocol", ["agui", "vercel"])
def test_keepalive_comments_are_invisible_to_the_clients(
    js_harness: JsHarness, protocol: str
) -> None:
    model = FakeChatModel(script=["late answer"], first_token_delay=0.6, cycle=True)
    app = app_for(lgs.graphs.chat(model), keepalive=0.1, protocol=protocol)
    with serve_app(app) as base:
        body = agui_input("Hi") if protocol == "agui" else chat_body("Hi")
        with httpx.Client(timeout=10) as client:
            raw = client.post(f"{base}/stream", json=body).content
        assert raw.count(b": keepalive\n") >= 3  # they were sent, and still:
        if protocol == "agui":
            agui = js_harness.agui(f"{base}/stream", agui_input("Hi"))
            assert_agui_clean(agui)
            assert assistant_texts(agui) == ["late answer"]
        else:
            vercel = js_harness.vercel(f"{base}/stream", chat_body("Hi"))
            assert_vercel_clean(vercel)
            assert [p["text"] for p in parts(vercel, "text")] == ["late answer"]
