"""What a served run's client reads when the run fails: the error's type and a
message safe to show, never a backend's URL or a provider's raw text; the
server's log has those. Over real HTTP, in every wire format."""

from __future__ import annotations

import json
import logging
import socket
from typing import Any

import httpx
import pytest
from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, StateGraph
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import lgstream as lgs
from lgstream.sinks.asgi import create_app, sse_response
from lgstream.testing import FakeChatModel

from .graphs import TextState
from .test_sinks_asgi import QUESTION, serving

SECRET = "sk-live-12345 at https://api.provider.example/v1/chat?key=abc"
HIDDEN = "the run failed; the server's log has the details"


class RateLimitError(Exception):
    """Like a provider SDK's error: its message is the provider's raw response."""


class FriendlyError(Exception):
    client_message = "your quota is used up; try again tomorrow"


def failing_graph(error: BaseException) -> Any:
    model = FakeChatModel(script=["partial answer"])

    async def generate(state: TextState) -> dict[str, Any]:
        await model.ainvoke([HumanMessage(state.get("question", "Why?"))])  # vercel: messages
        raise error

    builder = StateGraph(TextState)
    builder.add_node("generate", generate)
    builder.add_edge(START, "generate")
    builder.add_edge("generate", END)
    return builder.compile()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


FORMATS = ["sse", "ndjson", "agui", "vercel"]


def run_body(app: Starlette, fmt: str, body: Any = None) -> str:
    if body is None:
        body = {"input": QUESTION}
        if fmt == "agui":
            body = {"threadId": "t", "runId": "r", "messages": [], "state": QUESTION}
        elif fmt == "vercel":
            body = {
                "messages": [
                    {"id": "m1", "role": "user", "parts": [{"type": "text", "text": "Why?"}]}
                ]
            }
    with serving(app) as url, httpx.Client(timeout=20) as client:
        response = client.post(f"{url}/stream?format={fmt}", json=body)
    assert response.status_code == 200, response.text
    return response.text


def client_error(fmt: str, body: str) -> tuple[str, str]:
    """(type, message) of the error a format's stream ended with."""
    datas = [line.removeprefix("data: ") for line in body.splitlines() if line.startswith("data:")]
    if fmt == "ndjson":
        last = json.loads(body.splitlines()[-1])
        return last["type"], last["message"]
    if fmt == "sse":
        last = json.loads(datas[-1])
        return last["type"], last["message"]
    if fmt == "agui":
        (error,) = [json.loads(d) for d in datas if json.loads(d)["type"] == "RUN_ERROR"]
        return error["code"], error["message"]
    (error,) = [json.loads(d) for d in datas if d != "[DONE]" and json.loads(d)["type"] == "error"]
    name, _, message = error["errorText"].partition(": ")
    return name, message


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_providers_raw_text_stays_in_the_log(fmt: str, caplog: pytest.LogCaptureFixture) -> None:
    graph = failing_graph(RateLimitError(f"Error code: 429 - {SECRET}"))
    app = create_app(graph, protocol=fmt if fmt in ("agui", "vercel") else None)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="lgstream.serve"):
        body = run_body(app, fmt)
    assert "sk-live" not in body
    assert "provider.example" not in body
    assert client_error(fmt, body) == ("RateLimitError", HIDDEN)
    assert "partial" in body or fmt == "agui"  # what arrived before the failure went out
    logged = "\n".join(r.getMessage() + str(r.exc_info and r.exc_info[1]) for r in caplog.records)
    assert SECRET in logged


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_errors_own_client_message_is_shown(fmt: str) -> None:
    app = create_app(
        failing_graph(FriendlyError(SECRET)),
        protocol=fmt if fmt in ("agui", "vercel") else None,  # type: ignore[arg-type]
    )
    body = run_body(app, fmt)
    assert client_error(fmt, body) == ("FriendlyError", FriendlyError.client_message)
    assert "sk-live" not in body


def test_an_unreachable_ollama_is_named_without_its_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()  # nothing listens there
    graph = lgs.graphs.chat(f"ollama:llama3.2?base_url=http://127.0.0.1:{port}")
    app = create_app(graph)
    body_input = {"input": {"messages": [{"role": "user", "content": "hi"}]}}
    with caplog.at_level(logging.ERROR, logger="lgstream.serve"):
        body = run_body(app, "ndjson", body_input)
    assert client_error("ndjson", body) == (
        "BackendUnavailableError",
        "the model server cannot be reached",
    )
    assert str(port) not in body
    assert any(f"127.0.0.1:{port}" in str(r.exc_info and r.exc_info[1]) for r in caplog.records)


def test_langgraphs_recursion_error_keeps_its_message() -> None:
    builder = StateGraph(TextState)
    builder.add_node("loop", lambda state: {"answer": "again"})
    builder.add_edge(START, "loop")
    builder.add_edge("loop", "loop")
    app = create_app(builder.compile())
    body = run_body(app, "ndjson", {"input": QUESTION, "config": {"recursion_limit": 3}})
    name, message = client_error("ndjson", body)
    assert name == "GraphRecursionError"
    assert "Recursion limit of 3 reached" in message


class Exploding:
    """An operator that fails on the first event it sees."""

    def feed(self, item: Any, /) -> list[Any]:
        raise RuntimeError(f"operator broke: {SECRET}")

    def flush(self) -> list[Any]:
        return []


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_failing_operator_is_hidden_too(fmt: str) -> None:
    graph = failing_graph(ValueError("never reached"))

    async def run(request: Request) -> Response:
        raw = await request.json()
        return sse_response(graph, raw["input"], format=fmt, ops=[Exploding()])  # type: ignore[arg-type]

    app = Starlette(routes=[Route("/stream", run, methods=["POST"])])
    body = run_body(app, fmt, {"input": QUESTION})
    assert "sk-live" not in body
    assert client_error(fmt, body) == ("RuntimeError", HIDDEN)
