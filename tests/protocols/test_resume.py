"""UI-protocol runs are durable runs: their frames are stored once and every viewer,
late or reconnecting, gets the same bytes; ``useChat({resume: true})`` and an AG-UI
client that lost its connection get the whole run, read by the protocols' own clients."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from langgraph.checkpoint.memory import InMemorySaver

import lgstream as lgs
from lgstream.serving.frames import FrameWire
from lgstream.sinks.asgi import create_app
from lgstream.testing import FakeChatModel

from ._js import JsHarness, serve_app
from ._js import js_harness_fixture as js_harness_fixture

ANSWER = " ".join(f"word{i}" for i in range(150))


def chat_body(chat_id: str, text: str = "Why?") -> dict[str, Any]:
    return {
        "id": chat_id,
        "trigger": "submit-message",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}],
    }


def agui_body(thread_id: str) -> dict[str, Any]:
    return {
        "threadId": thread_id,
        "runId": "run-1",
        "messages": [{"id": "u1", "role": "user", "content": "Why?"}],
    }


BODIES = {"vercel": chat_body("chat-1"), "agui": agui_body("thread-1")}


def frames(text: str) -> list[str]:
    """The SSE frames of a body, each with its `id:` line, keepalives left out."""
    return [f for f in text.split("\n\n") if f and not f.startswith(":")]


def data_of(frame: str) -> str:
    return next(line[6:] for line in frame.split("\n") if line.startswith("data: "))


def slow_app(protocol: str, delay: float = 0.01, **options: Any) -> tuple[Any, FakeChatModel]:
    model = FakeChatModel(script=[ANSWER], delay=delay, cycle=True)
    app = create_app(lgs.graphs.chat(model), protocol=protocol, **options)  # type: ignore[arg-type]
    return app, model


def read_frames(response: httpx.Response, count: int) -> list[str]:
    got: list[str] = []
    buffered = ""
    for chunk in response.iter_text():
        buffered += chunk
        *complete, buffered = buffered.split("\n\n")
        got += [f for f in complete if f and not f.startswith(":")]
        if len(got) >= count:
            return got[:count]
    return got


@pytest.mark.parametrize("protocol", ["agui", "vercel"])
def test_a_late_viewer_gets_the_same_bytes_and_a_cursor_gets_exactly_the_rest(
    protocol: str,
) -> None:
    app, model = slow_app(protocol, protocol_lifetime="detached")
    with serve_app(app) as url, httpx.Client(timeout=30) as client:
        with client.stream("POST", f"{url}/stream", json=BODIES[protocol]) as response:
            run_id = response.headers["x-run-id"]
            first = read_frames(response, 8)  # then the connection is lost
        last_id = first[-1].split("\n")[0].removeprefix("id: ")
        assert last_id == f"{run_id}:8"
        rest = client.get(f"{url}/runs/{run_id}/stream", headers={"Last-Event-ID": last_id})
        whole = client.get(f"{url}/runs/{run_id}/stream")
        by_query = client.get(f"{url}/runs/{run_id}/stream?after=8")
        wrong = client.get(f"{url}/runs/{run_id}/stream?format=ndjson")
        info = client.get(f"{url}/runs/{run_id}").json()
    assert rest.headers["content-type"].startswith("text/event-stream")
    assert first + frames(rest.text) == frames(whole.text)
    assert frames(by_query.text) == frames(rest.text)
    ids = [f.split("\n")[0] for f in frames(whole.text)]
    assert ids == [f"id: {run_id}:{n}" for n in range(1, len(ids) + 1)]
    assert (info["status"], info["lifetime"]) == ("finished", "detached")
    assert wrong.status_code == 400
    assert f"streams {protocol} frames" in wrong.json()["error"]
    datas = [data_of(f) for f in frames(whole.text)]
    if protocol == "vercel":
        assert datas[-1] == "[DONE]"
        parts = [json.loads(d) for d in datas[:-1]]
        text = "".join(p["delta"] for p in parts if p["type"] == "text-delta")
    else:
        events = [json.loads(d) for d in datas]
        assert events[-1]["type"] == "RUN_FINISHED"
        text = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == ANSWER
    assert model.tokens_streamed == 150  # it ran on alone, once


@pytest.mark.parametrize("protocol", ["agui", "vercel"])
def test_a_stopped_protocol_run_ends_in_its_own_protocol(protocol: str) -> None:
    app, model = slow_app(protocol, delay=0.02, protocol_lifetime="detached")
    with serve_app(app) as url, httpx.Client(timeout=30) as client:
        with client.stream("POST", f"{url}/stream", json=BODIES[protocol]) as response:
            run_id = response.headers["x-run-id"]
            read_frames(response, 5)
        stopped = client.post(f"{url}/runs/{run_id}/cancel")
        deadline = time.monotonic() + 10
        while client.get(f"{url}/runs/{run_id}").json()["status"] != "cancelled":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        whole = client.get(f"{url}/runs/{run_id}/stream")
    assert stopped.status_code == 202
    datas = [data_of(f) for f in frames(whole.text)]
    if protocol == "vercel":
        tail = [json.loads(d)["type"] for d in datas[-3:-1]]
        assert (tail, datas[-1]) == (["abort", "finish"], "[DONE]")
    else:
        last = json.loads(datas[-1])
        assert last["type"] == "RUN_FINISHED"
        assert last["outcome"]["type"] == "cancelled"
    assert model.tokens_streamed < 150


def test_a_new_turn_on_a_chat_stops_its_live_run_and_the_thread_route_finds_the_new_one() -> None:
    app, model = slow_app("vercel", delay=0.02, protocol_lifetime="detached")
    with serve_app(app) as url, httpx.Client(timeout=30) as client:
        with client.stream("POST", f"{url}/stream", json=chat_body("c7")) as response:
            old = response.headers["x-run-id"]
            read_frames(response, 4)
        with client.stream("POST", f"{url}/stream", json=chat_body("c7", "Again?")) as response:
            new = response.headers["x-run-id"]
            read_frames(response, 2)
            with client.stream("GET", f"{url}/stream/c7/stream") as joined:
                assert joined.headers["x-run-id"] == new
                assert data_of(read_frames(joined, 1)[0]) == '{"type":"start"}'
        old_info = client.get(f"{url}/runs/{old}").json()
        client.post(f"{url}/runs/{new}/cancel")
        nothing = client.get(f"{url}/stream/nobody/stream")
    assert old != new
    assert old_info["status"] == "cancelled"  # the newest turn wins
    assert nothing.status_code == 204
    assert len(model.calls) == 2


def test_the_viewer_side_errors_are_protocol_frames() -> None:
    lost = json.dumps({"type": "WorkerLost", "message": "the worker stopped answering"})
    vercel = FrameWire("r", "vercel").encode(0, "error", lost).decode()
    assert [data_of(f) for f in frames(vercel)] == [
        '{"type":"error","errorText":"the worker stopped answering"}',
        '{"type":"finish","finishReason":"error"}',
        "[DONE]",
    ]
    agui = json.loads(data_of(FrameWire("r", "agui").encode(0, "error", lost).decode()))
    assert agui == {
        "type": "RUN_ERROR",
        "message": "the worker stopped answering",
        "code": "WorkerLost",
    }
    framed = FrameWire("r", "agui").encode(3, "frame", 'data: {"type":"X"}\n\n')
    assert framed == b'id: r:3\ndata: {"type":"X"}\n\n'


@pytest.mark.parametrize("checkpointer", [False, True], ids=["stateless", "thread"])
def test_usechat_resume_after_a_reload_gets_the_whole_reply_then_204(
    js_harness: JsHarness, checkpointer: bool
) -> None:
    model = FakeChatModel(script=[ANSWER], delay=0.01, cycle=True)
    graph = lgs.graphs.chat(model, checkpointer=InMemorySaver() if checkpointer else None)
    app = create_app(graph, protocol="vercel", protocol_lifetime="detached")
    with serve_app(app) as url:
        result = js_harness.resume("usechat", f"{url}/stream", chat_body("chat-r"), 40)
    assert result["client_error"] is None, result
    assert result["warnings"] == []
    assert 40 <= result["seen_before_reload"] < len(ANSWER)  # reloaded mid-reply
    resumed = result["resumed"]
    assert (resumed["status"], resumed["error"]) == ("ready", None)
    roles = [m["role"] for m in resumed["messages"]]
    assert roles == ["user", "assistant"]
    texts = [p["text"] for p in resumed["messages"][1]["parts"] if p["type"] == "text"]
    assert "".join(texts) == ANSWER  # the whole reply once, not its tail nor twice
    assert result["after"]["messages"] == resumed["messages"]
    gets = [(r["url"].rpartition(url)[2], r["status"]) for r in result["requests"][1:]]
    assert gets == [("/stream/chat-r/stream", 200), ("/stream/chat-r/stream", 204)]
    assert model.tokens_streamed == 150  # the reload did not start the run again


def test_an_agui_client_that_loses_its_connection_resumes_from_its_last_id(
    js_harness: JsHarness,
) -> None:
    model = FakeChatModel(script=[ANSWER], delay=0.005, cycle=True)
    app = create_app(lgs.graphs.chat(model), protocol="agui", protocol_lifetime="detached")
    with serve_app(app) as url:
        result = js_harness.resume("agui", f"{url}/stream", agui_body("t-9"), 12)
    assert result["client_error"] is None, result
    assert result["warnings"] == []
    joined = result["requests"][1]
    assert joined["status"] == 200
    assert joined["last_event_id"].endswith(":12")
    assert result["events"][0] == "RUN_STARTED"
    assert result["events"][-1] == "RUN_FINISHED"
    assert result["events"].count("RUN_STARTED") == 1
    reply = [m for m in result["messages"] if m["role"] == "assistant"]
    assert [m["content"] for m in reply] == [ANSWER]


def test_the_thread_route_refuses_hostile_input_with_a_status() -> None:
    app, model = slow_app("vercel", delay=0.02, protocol_lifetime="detached")
    with serve_app(app) as url, httpx.Client(timeout=30) as client:
        assert client.get(f"{url}/stream/{'x' * 5000}/stream").status_code == 204
        assert client.get(f"{url}/stream/%7B%7D%00%0A/stream").status_code == 204
        with client.stream("POST", f"{url}/stream", json=chat_body("c-h")) as response:
            run_id = response.headers["x-run-id"]
            read_frames(response, 2)
            bad = client.get(f"{url}/stream/c-h/stream", headers={"Last-Event-ID": "nope"})
            other = client.get(f"{url}/stream/c-h/stream", headers={"Last-Event-ID": "other-run:1"})
            ahead = client.get(
                f"{url}/stream/c-h/stream", headers={"Last-Event-ID": f"{run_id}:99999"}
            )
        client.post(f"{url}/runs/{run_id}/cancel")
    assert [r.status_code for r in (bad, other, ahead)] == [400, 400, 400]
    assert all("error" in r.json() for r in (bad, other, ahead))
    assert len(model.calls) == 1
