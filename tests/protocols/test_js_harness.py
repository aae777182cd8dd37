"""The JavaScript harness itself, before any encoder: the official AG-UI and Vercel AI SDK
clients read fixed, hand-written streams served by uvicorn, and report what they rebuilt."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ._js import (
    JS_DIR,
    JsHarness,
    JsHarnessError,
    npm_ci,
    run_js_client,
    serve_app,
)
from ._js import (
    js_harness_fixture as js_harness_fixture,
)

THREAD, RUN = "thread-1", "run-1"

# --- AG-UI --------------------------------------------------------------------------------

AGUI_RUN: list[dict[str, Any]] = [
    {"type": "RUN_STARTED", "threadId": THREAD, "runId": RUN},
    {"type": "STATE_SNAPSHOT", "snapshot": {"count": 0, "items": []}},
    {"type": "TEXT_MESSAGE_START", "messageId": "m1", "role": "assistant"},
    {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "Hello "},
    {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "world"},
    {"type": "TEXT_MESSAGE_END", "messageId": "m1"},
    # two parallel tool calls on one assistant message, their arguments interleaved
    {
        "type": "TOOL_CALL_START",
        "toolCallId": "c1",
        "toolCallName": "search",
        "parentMessageId": "m2",
    },
    {
        "type": "TOOL_CALL_START",
        "toolCallId": "c2",
        "toolCallName": "lookup",
        "parentMessageId": "m2",
    },
    {"type": "TOOL_CALL_ARGS", "toolCallId": "c1", "delta": '{"q": '},
    {"type": "TOOL_CALL_ARGS", "toolCallId": "c2", "delta": '{"id": 7}'},
    {"type": "TOOL_CALL_ARGS", "toolCallId": "c1", "delta": '"cats"}'},
    {"type": "TOOL_CALL_END", "toolCallId": "c2"},
    {"type": "TOOL_CALL_END", "toolCallId": "c1"},
    {"type": "TOOL_CALL_RESULT", "messageId": "t1", "toolCallId": "c1", "content": "3 cats"},
    {"type": "TOOL_CALL_RESULT", "messageId": "t2", "toolCallId": "c2", "content": "item 7"},
    {
        "type": "STATE_DELTA",
        "delta": [
            {"op": "replace", "path": "/count", "value": 2},
            {"op": "add", "path": "/items/-", "value": "cats"},
        ],
    },
    {"type": "CUSTOM", "name": "progress", "value": {"pct": 50}},
    {"type": "RUN_FINISHED", "threadId": THREAD, "runId": RUN},
]
AGUI_FAILED_RUN: list[dict[str, Any]] = [
    {"type": "RUN_STARTED", "threadId": THREAD, "runId": RUN},
    {"type": "TEXT_MESSAGE_START", "messageId": "m1", "role": "assistant"},
    {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "partial"},
    {"type": "RUN_ERROR", "message": "model exploded", "code": "model_error"},
]
AGUI_BROKEN_RUN: list[dict[str, Any]] = [
    {"type": "RUN_STARTED", "threadId": THREAD, "runId": RUN, "unknownField": 1},
    {"type": "CUSTOM", "value": 1},  # no name: not an AG-UI event
    {"type": "RUN_FINISHED", "threadId": THREAD, "runId": RUN},
]
AGUI_UNOPENED_MESSAGE: list[dict[str, Any]] = [
    {"type": "RUN_STARTED", "threadId": THREAD, "runId": RUN},
    {"type": "TEXT_MESSAGE_CONTENT", "messageId": "nope", "delta": "x"},
    {"type": "RUN_FINISHED", "threadId": THREAD, "runId": RUN},
]

# --- Vercel AI SDK UI message stream ------------------------------------------------------

VERCEL_RUN: list[dict[str, Any]] = [
    {"type": "start", "messageId": "msg-1"},
    {"type": "start-step"},
    {"type": "reasoning-start", "id": "r1"},
    {"type": "reasoning-delta", "id": "r1", "delta": "thinking"},
    {"type": "reasoning-end", "id": "r1"},
    {"type": "text-start", "id": "t1"},
    {"type": "text-delta", "id": "t1", "delta": "Hello "},
    {"type": "text-delta", "id": "t1", "delta": "world"},
    {"type": "text-end", "id": "t1"},
    {"type": "tool-input-start", "toolCallId": "c1", "toolName": "search"},
    {"type": "tool-input-start", "toolCallId": "c2", "toolName": "lookup"},
    {"type": "tool-input-delta", "toolCallId": "c1", "inputTextDelta": '{"q": '},
    {"type": "tool-input-delta", "toolCallId": "c2", "inputTextDelta": '{"id": 7}'},
    {"type": "tool-input-delta", "toolCallId": "c1", "inputTextDelta": '"cats"}'},
    {
        "type": "tool-input-available",
        "toolCallId": "c1",
        "toolName": "search",
        "input": {"q": "cats"},
    },
    {"type": "tool-input-available", "toolCallId": "c2", "toolName": "lookup", "input": {"id": 7}},
    {"type": "tool-output-available", "toolCallId": "c2", "output": "item 7"},
    {"type": "tool-output-available", "toolCallId": "c1", "output": {"hits": 3}},
    # state as a data part the client reconciles by id; a custom event as another
    {"type": "data-state", "id": "state", "data": {"count": 0}},
    {"type": "data-state", "id": "state", "data": {"count": 2}},
    {"type": "data-progress", "data": {"pct": 50}},
    {"type": "data-ping", "data": 1, "transient": True},
    {"type": "finish-step"},
    {"type": "finish", "finishReason": "stop"},
]
VERCEL_FAILED_RUN: list[dict[str, Any]] = [
    {"type": "start", "messageId": "msg-2"},
    {"type": "start-step"},
    {"type": "text-start", "id": "t1"},
    {"type": "text-delta", "id": "t1", "delta": "partial"},
    {"type": "error", "errorText": "model exploded"},
]
VERCEL_BROKEN_RUN: list[dict[str, Any]] = [
    {"type": "start", "messageId": "msg-3"},
    {"type": "text-delta", "delta": "no id"},  # not a UI message chunk
    {"type": "tool-output-available", "toolCallId": "ghost", "output": 1},  # no such call
    {"type": "finish"},
]
VERCEL_HEADERS = {"x-vercel-ai-ui-message-stream": "v1"}


def sse(events: Sequence[dict[str, Any]], *, done: bool) -> bytes:
    frames = [f"data: {json.dumps(event)}\n\n" for event in events]
    if done:
        frames.append("data: [DONE]\n\n")
    return "".join(frames).encode()


def fixed_stream_app(requests: list[Any]) -> Starlette:
    """POST /<name> answers with a fixed SSE stream and records the JSON it was sent."""

    def replay(name: str, body: bytes, headers: dict[str, str] | None = None) -> Route:
        async def endpoint(request: Request) -> Response:
            requests.append(await request.json())

            async def frames() -> AsyncIterator[bytes]:
                # frame by frame, as a server streaming a run would
                for frame in body.split(b"\n\n")[:-1]:
                    yield frame + b"\n\n"

            return StreamingResponse(frames(), media_type="text/event-stream", headers=headers)

        return Route(f"/{name}", endpoint, methods=["POST"])

    return Starlette(
        routes=[
            replay("agui", sse(AGUI_RUN, done=False)),
            replay("agui-failed", sse(AGUI_FAILED_RUN, done=False)),
            replay("agui-broken", sse(AGUI_BROKEN_RUN, done=False)),
            replay("agui-unopened", sse(AGUI_UNOPENED_MESSAGE, done=False)),
            replay("vercel", sse(VERCEL_RUN, done=True), VERCEL_HEADERS),
            replay("vercel-failed", sse(VERCEL_FAILED_RUN, done=True), VERCEL_HEADERS),
            replay("vercel-broken", sse(VERCEL_BROKEN_RUN, done=True), VERCEL_HEADERS),
            replay("vercel-headerless", sse(VERCEL_RUN, done=False)),
        ]
    )


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[Any]]]:
    requests: list[Any] = []
    with serve_app(fixed_stream_app(requests)) as base:
        yield base, requests


def types(events: Sequence[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


# --- the install --------------------------------------------------------------------------


def test_npm_ci_installs_exactly_the_locked_versions(js_harness: JsHarness) -> None:
    assert not npm_ci(), "the fixture installed already; a second call is a no-op"
    locked = json.loads((JS_DIR / "package-lock.json").read_text())["packages"]
    for name in ("@ag-ui/client", "@ag-ui/core", "ai"):
        installed = json.loads((JS_DIR / "node_modules" / name / "package.json").read_text())
        assert installed["version"] == locked[f"node_modules/{name}"]["version"]


# --- AG-UI --------------------------------------------------------------------------------


def test_agui_client_rebuilds_messages_tool_calls_and_state(
    js_harness: JsHarness, server: tuple[str, list[Any]]
) -> None:
    base, requests = server
    history = [{"id": "u1", "role": "user", "content": "Why?"}]
    result = js_harness.agui(
        f"{base}/agui", {"threadId": THREAD, "runId": RUN, "messages": history}
    )

    assert result["client_error"] is None
    assert result["raw_invalid"] == []
    assert result["warnings"] == []
    assert result["events"] == types(AGUI_RUN)
    assert result["applied"] == types(AGUI_RUN)
    assert result["error"] is None
    assert result["messages"] == [
        *history,
        {"id": "m1", "role": "assistant", "content": "Hello world"},
        {
            "id": "m2",
            "role": "assistant",
            "toolCalls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "search", "arguments": '{"q": "cats"}'},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"id": 7}'},
                },
            ],
        },
        {"id": "t1", "toolCallId": "c1", "role": "tool", "content": "3 cats"},
        {"id": "t2", "toolCallId": "c2", "role": "tool", "content": "item 7"},
    ]
    assert result["state"] == {"count": 2, "items": ["cats"]}
    assert result["custom"] == [{"name": "progress", "value": {"pct": 50}}]
    assert result["content_type"] == "text/event-stream; charset=utf-8"
    # HttpAgent POSTed a RunAgentInput built from our partial one
    sent = requests[-1]
    assert (sent["threadId"], sent["runId"], sent["messages"]) == (THREAD, RUN, history)
    assert {"state", "tools", "context", "forwardedProps"} <= sent.keys()


def test_agui_client_reports_run_error(
    js_harness: JsHarness, server: tuple[str, list[Any]]
) -> None:
    result = js_harness.agui(f"{server[0]}/agui-failed")

    assert result["error"] == "model exploded"
    assert result["client_error"] is None
    assert result["events"] == types(AGUI_FAILED_RUN)
    assert result["messages"] == [{"id": "m1", "role": "assistant", "content": "partial"}]
    assert result["state"] == {}


def test_agui_schema_violations_are_reported_not_hidden(
    js_harness: JsHarness, server: tuple[str, list[Any]]
) -> None:
    result = js_harness.agui(f"{server[0]}/agui-broken")

    assert [bad["event"] for bad in result["raw_invalid"]] == [{"type": "CUSTOM", "value": 1}]
    assert result["raw_invalid"][0]["issues"][0]["path"] == ["name"]
    assert result["client_error"] is not None  # the client's own zod check stops the run
    assert any("'/unknownField' on RUN_STARTED" in w for w in result["warnings"])


def test_agui_client_verification_failure_is_client_error(
    js_harness: JsHarness, server: tuple[str, list[Any]]
) -> None:
    result = js_harness.agui(f"{server[0]}/agui-unopened")

    assert result["raw_invalid"] == []  # each event is well-formed on its own...
    assert result["client_error"] is not None  # ...but the sequence is not
    assert "No active text message found with ID 'nope'" in result["client_error"]
    assert result["applied"] == ["RUN_STARTED"]


# --- Vercel AI SDK ------------------------------------------------------------------------


def test_vercel_client_rebuilds_the_ui_message(
    js_harness: JsHarness, server: tuple[str, list[Any]]
) -> None:
    base, requests = server
    body = {
        "id": "chat-1",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Why?"}]}],
        "trigger": "submit-message",
    }
    result = js_harness.vercel(f"{base}/vercel", body)

    assert requests[-1] == body
    assert (result["header"], result["header_ok"], result["done"]) == ("v1", True, True)
    assert result["after_done"] == 0
    assert result["invalid"] == []
    assert result["client_errors"] == []
    assert result["client_error"] is None
    assert result["error"] is None
    assert result["chunks"] == types(VERCEL_RUN)
    assert result["messages"] == [
        {
            "id": "msg-1",
            "role": "assistant",
            "parts": [
                {"type": "step-start"},
                {"type": "reasoning", "id": "r1", "text": "thinking", "state": "done"},
                {"type": "text", "text": "Hello world", "state": "done"},
                {
                    "type": "tool-search",
                    "toolCallId": "c1",
                    "state": "output-available",
                    "input": {"q": "cats"},
                    "output": {"hits": 3},
                },
                {
                    "type": "tool-lookup",
                    "toolCallId": "c2",
                    "state": "output-available",
                    "input": {"id": 7},
                    "output": "item 7",
                },
                # reconciled by id: the latest data wins; transient parts are not kept
                {"type": "data-state", "id": "state", "data": {"count": 2}},
                {"type": "data-progress", "data": {"pct": 50}},
            ],
        }
    ]


def test_vercel_client_reports_an_error_chunk(
    js_harness: JsHarness, server: tuple[str, list[Any]]
) -> None:
    result = js_harness.vercel(f"{server[0]}/vercel-failed")

    assert result["error"] == "model exploded"
    assert result["client_errors"] == []
    assert result["done"] is True
    assert result["chunks"] == types(VERCEL_FAILED_RUN)
    assert result["messages"] == [
        {
            "id": "msg-2",
            "role": "assistant",
            "parts": [
                {"type": "step-start"},
                {"type": "text", "text": "partial", "state": "streaming"},
            ],
        }
    ]


def test_vercel_invalid_chunks_and_reader_errors_are_reported(
    js_harness: JsHarness, server: tuple[str, list[Any]]
) -> None:
    result = js_harness.vercel(f"{server[0]}/vercel-broken")

    assert [bad["raw"] for bad in result["invalid"]] == [{"type": "text-delta", "delta": "no id"}]
    assert result["invalid"][0]["error"].startswith("Type validation failed")
    assert len(result["client_errors"]) == 1
    assert 'No tool invocation found for tool call ID "ghost"' in result["client_errors"][0]


def test_vercel_missing_header_and_done_are_visible(
    js_harness: JsHarness, server: tuple[str, list[Any]]
) -> None:
    result = js_harness.vercel(f"{server[0]}/vercel-headerless")

    assert (result["header"], result["header_ok"], result["done"]) == (None, False, False)
    assert result["chunks"] == types(VERCEL_RUN)  # the reader itself does not care


# --- the Python side ----------------------------------------------------------------------


def test_http_errors_are_client_errors(
    js_harness: JsHarness, server: tuple[str, list[Any]]
) -> None:
    agui = js_harness.agui(f"{server[0]}/missing")
    vercel = js_harness.vercel(f"{server[0]}/missing")

    assert agui["client_error"] is not None
    assert agui["client_error"].startswith("HTTP 404")
    assert vercel["client_error"] is not None
    assert vercel["client_error"].startswith("HTTP 404")
    assert vercel["status"] == 404


def test_a_script_that_fails_raises_with_its_stderr(js_harness: JsHarness) -> None:
    with pytest.raises(JsHarnessError, match=r"usage: node agui-client\.mjs"):
        run_js_client("agui-client.mjs", "", {})
    with pytest.raises(ValueError, match="unknown client script"):
        run_js_client("nope.mjs", "http://127.0.0.1:9", {})
