"""Run the protocols' own JavaScript clients against an endpoint under test.

``tests/js`` holds two Node scripts, each printing one JSON object of what the official
client reconstructed from a live stream:

- ``agui-client.mjs URL INPUT_JSON``: ``@ag-ui/client``'s ``HttpAgent`` (AG-UI over SSE);
- ``vercel-client.mjs URL BODY_JSON``: ``ai``'s ``parseJsonEventStream`` +
  ``uiMessageChunkSchema`` + ``readUIMessageStream`` (Vercel AI SDK UI message stream).

Use the ``js_harness`` fixture (it runs ``npm ci`` once per session when needed) and serve
the app with ``serve_app``::

    from ._js import JsHarness, js_harness_fixture as js_harness_fixture, serve_app

    def test_it(js_harness: JsHarness) -> None:
        with serve_app(app) as base:
            result = js_harness.agui(f"{base}/agui", {"threadId": "t", "runId": "r"})
        assert result["client_error"] is None

Node.js 20+ and npm are required: without them the fixture fails, it never skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TypedDict, cast

import pytest

# One uvicorn-in-a-thread helper for the whole suite: the one the ASGI sink tests use.
from ..test_sinks_asgi import serving

__all__ = [
    "JS_DIR",
    "AguiResult",
    "JsHarness",
    "JsHarnessError",
    "VercelResult",
    "js_harness_fixture",
    "npm_ci",
    "run_js_client",
    "serve_app",
]

JS_DIR: Final = Path(__file__).resolve().parent.parent / "js"
MIN_NODE_MAJOR: Final = 20
NPM_CI_TIMEOUT: Final = 600.0
CLIENT_TIMEOUT: Final = 60.0

Script = Literal["agui-client.mjs", "vercel-client.mjs", "resume-client.mjs"]
SCRIPTS: Final[frozenset[str]] = frozenset(
    {"agui-client.mjs", "vercel-client.mjs", "resume-client.mjs"}
)

serve_app = serving
"""``with serve_app(app) as base_url:`` runs a Starlette app under uvicorn on
127.0.0.1:<free port> in a background thread and stops it on exit."""


class JsHarnessError(RuntimeError):
    """Node/npm is missing, ``npm ci`` failed, or a client script did not print its JSON."""


class AguiResult(TypedDict):
    """What ``agui-client.mjs`` prints."""

    events: list[str]  # event types in wire order, as the client's SSE parser read them
    outcome: dict[str, Any] | None  # RUN_FINISHED's outcome as sent (type, interrupts)
    pending_interrupts: list[dict[str, Any]]  # what the client waits to see answered
    applied: list[str]  # event types the agent applied, after its own transforms
    messages: list[dict[str, Any]]  # agent.messages (the input messages included)
    state: Any  # agent.state: the snapshot with every delta applied by the client
    error: str | None  # RUN_ERROR's message
    custom: list[dict[str, Any]]  # CUSTOM events: {"name", "value"}
    raw_invalid: list[dict[str, Any]]  # wire events @ag-ui/core's EventSchemas rejects
    client_error: str | None  # the run failed in the client (verify/schema/HTTP/SSE)
    warnings: list[str]  # the client's console.warn/error (stripped fields, bad patches)
    content_type: str | None


class VercelResult(TypedDict):
    """What ``vercel-client.mjs`` prints."""

    chunks: list[str]  # chunk types in order, each accepted by uiMessageChunkSchema
    messages: list[dict[str, Any]]  # the final UIMessage(s), one per message id
    error: str | None  # the first `error` chunk's errorText, as the reader reported it
    done: bool  # a `data: [DONE]` event was seen
    header: str | None  # x-vercel-ai-ui-message-stream
    header_ok: bool  # header == ai's UI_MESSAGE_STREAM_HEADERS value ("v1")
    after_done: int  # SSE events after [DONE]
    invalid: list[dict[str, Any]]  # chunks uiMessageChunkSchema rejects: {"raw", "error"}
    client_errors: list[str]  # other errors readUIMessageStream raised (stream stops)
    client_error: str | None  # the request itself failed (HTTP status, connection)
    status: int | None
    content_type: str | None


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise JsHarnessError(
            f"`{name}` is not on PATH. The protocol tests run the official JavaScript "
            f"clients in {JS_DIR}: install Node.js {MIN_NODE_MAJOR}+ (with npm)."
        )
    return path


def _node() -> str:
    node = _tool("node")
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    match = re.match(r"v(\d+)\.", version)
    if match is None or int(match.group(1)) < MIN_NODE_MAJOR:
        raise JsHarnessError(f"Node.js {MIN_NODE_MAJOR}+ is needed, found {version!r}")
    return node


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }


def npm_ci(*, force: bool = False) -> bool:
    """Install ``tests/js``'s locked dependencies unless already installed; True if it ran.

    Runs ``npm ci`` when ``node_modules`` is missing, or its install record
    (``node_modules/.package-lock.json``, written last by npm) is missing or older than
    ``package-lock.json``.
    """
    _node()
    npm = _tool("npm")
    lock = JS_DIR / "package-lock.json"
    installed = JS_DIR / "node_modules" / ".package-lock.json"
    if not force and installed.is_file() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return False
    try:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise JsHarnessError(f"`npm ci` in {JS_DIR} took over {NPM_CI_TIMEOUT:.0f}s") from exc
    if done.returncode != 0:
        raise JsHarnessError(
            f"`npm ci` in {JS_DIR} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return True


def run_js_client(
    script: str,
    url: str,
    payload: Mapping[str, Any],
    *,
    timeout: float = CLIENT_TIMEOUT,
    before: Sequence[str] = (),
    after: Sequence[str] = (),
) -> dict[str, Any]:
    """Run ``node tests/js/<script> [BEFORE...] URL JSON(payload) [AFTER...]``; return
    the JSON it printed.

    Raises ``JsHarnessError`` (with stderr) when the script fails, times out or prints
    something other than one JSON object. Failures the *client* reports (a rejected
    stream, an HTTP error) are not exceptions: they are in the result.
    """
    if script not in SCRIPTS:
        raise ValueError(f"unknown client script {script!r}; expected one of {sorted(SCRIPTS)}")
    if not (JS_DIR / "node_modules").is_dir():
        raise JsHarnessError(f"{JS_DIR}/node_modules is missing: use the js_harness fixture")
    command = [_tool("node"), str(JS_DIR / script), *before, url, json.dumps(payload), *after]
    try:
        done = subprocess.run(
            command,
            cwd=JS_DIR,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        raise JsHarnessError(f"{script} {url} took over {timeout}s\n{stderr}") from exc
    if done.returncode != 0:
        raise JsHarnessError(
            f"{script} {url} exited {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
        )
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise JsHarnessError(
            f"{script} {url} printed no JSON\nstdout: {done.stdout}\nstderr: {done.stderr}"
        ) from exc
    if not isinstance(result, dict):
        raise JsHarnessError(f"{script} {url} printed {type(result).__name__}, not an object")
    return cast(dict[str, Any], result)


@dataclass(frozen=True)
class JsHarness:
    """The installed ``tests/js`` harness; what the ``js_harness`` fixture gives."""

    directory: Path = JS_DIR
    timeout: float = CLIENT_TIMEOUT

    def run(self, script: Script, url: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        return run_js_client(script, url, payload, timeout=self.timeout)

    def agui(self, url: str, run_input: Mapping[str, Any] | None = None) -> AguiResult:
        """``HttpAgent`` runs ``url``; ``run_input`` is a partial ``RunAgentInput``
        (threadId, runId, messages, state, tools, context, forwardedProps)."""
        return cast(AguiResult, self.run("agui-client.mjs", url, run_input or {}))

    def vercel(self, url: str, body: Mapping[str, Any] | None = None) -> VercelResult:
        """POST ``body`` to ``url`` and read the UI message stream with ``ai``."""
        return cast(VercelResult, self.run("vercel-client.mjs", url, body or {}))

    def resume(
        self, mode: Literal["usechat", "agui"], url: str, body: Mapping[str, Any], cut: int
    ) -> dict[str, Any]:
        """``resume-client.mjs``: a ``useChat`` reload and resume, or an AG-UI run whose
        connection drops after ``cut`` events and resumes (see the script)."""
        return run_js_client(
            "resume-client.mjs", url, body, timeout=self.timeout, before=[mode], after=[str(cut)]
        )


@pytest.fixture(scope="session", name="js_harness")
def js_harness_fixture() -> JsHarness:
    """The JS clients, installed with ``npm ci`` once per session if needed.

    Import it into a test module as ``from ._js import js_harness_fixture as
    js_harness_fixture`` and take a ``js_harness`` argument.
    """
    try:
        npm_ci()
    except JsHarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    return JsHarness()
