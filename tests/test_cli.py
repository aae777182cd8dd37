"""The ``lgstream`` command, run in-process (``main([...])``) and once as the
installed console script."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest
from httpx_sse import connect_sse
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

import lgstream.sinks.console
from lgstream.cli import main
from lgstream.demo import DEMO_ANSWER, DEMO_QUESTION

GRAPHS = """
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

import lgstream as lgs

graph = lgs.graphs.qa("fake:Hello from the file")
chat = lgs.graphs.chat("fake:Hello from the chat")


def make_graph() -> Any:
    return lgs.graphs.qa("fake:Made by a factory")


def needs_a_model(model: str) -> Any:
    return lgs.graphs.qa(model)


def broken_factory() -> Any:
    raise RuntimeError("no graph today")


class State(TypedDict):
    x: int


def explode(state: State) -> dict[str, Any]:
    raise ValueError("boom")


builder = StateGraph(State)
builder.add_node("explode", explode)
builder.add_edge(START, "explode")
builder.add_edge("explode", END)
failing = builder.compile()

not_a_graph = 42
"""


@pytest.fixture
def graph_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A graph module in a temp dir, the current directory; yields (path, module name).

    sys.path and sys.modules are restored afterwards: the CLI adds to both.
    """
    name = f"cli_graphs_{uuid.uuid4().hex}"
    path = tmp_path / f"{name}.py"
    path.write_text(GRAPHS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    modules = set(sys.modules)
    yield path, name
    for added in set(sys.modules) - modules:
        del sys.modules[added]


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# --- demo ------------------------------------------------------------------------------


def test_demo_jsonl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--format", "jsonl", "--delay", "0"]) == 0
    events = jsonl(capsys.readouterr().out)
    assert events[0]["kind"] == "run_started"
    assert events[0]["input"] == {"question": DEMO_QUESTION}
    assert events[-1]["kind"] == "run_finished"
    assert "".join(e["text"] for e in events if e["kind"] == "token") == DEMO_ANSWER
    assert "id" not in events[0]


def test_demo_ndjson_numbers_the_events(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--format", "ndjson", "--delay", "0", "--modes", "updates"]) == 0
    events = jsonl(capsys.readouterr().out)
    assert [e["kind"] for e in events] == ["run_started", "update", "run_finished"]
    assert [e["id"] for e in events] == [1, 2, 3]
    assert events[1]["data"] == {"answer": DEMO_ANSWER}


def test_demo_sse_parses_with_httpx_sse(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["demo", "--format", "sse", "--delay", "0", "--question", "Why?"]
    assert main([*argv, "--modes", "messages", "--modes", "values"]) == 0
    out = capsys.readouterr().out
    lines = SSELineDecoder()
    decoder = SSEDecoder()
    messages = [m for line in lines.decode(out) if (m := decoder.decode(line)) is not None]
    assert [m.id for m in messages] == [str(i) for i in range(1, len(messages) + 1)]
    assert {m.event for m in messages} == {"run_started", "token", "values", "run_finished"}
    data = [json.loads(m.data) for m in messages]
    assert data[0]["input"] == {"question": "Why?"}
    assert data[0]["modes"] == ["messages", "values"]
    assert "".join(d["text"] for d in data if d["kind"] == "token") == DEMO_ANSWER


def test_demo_with_a_model_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--model", "fake:Short answer", "--format", "jsonl"]) == 0
    events = jsonl(capsys.readouterr().out)
    assert "".join(e["text"] for e in events if e["kind"] == "token") == "Short answer"


def test_demo_console_prints_plain_text_when_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--delay", "0"]) == 0  # console is the default format
    out = capsys.readouterr().out
    assert DEMO_ANSWER in out
    assert "\x1b[" not in out  # no terminal escapes in a pipe


def test_console_without_rich_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def print_stream(*args: Any, **kwargs: Any) -> None:
        raise ModuleNotFoundError("No module named 'rich'", name="rich")

    monkeypatch.setattr(lgstream.sinks.console, "print_stream", print_stream)
    assert main(["demo", "--delay", "0"]) == 2
    error = one_line_error(capsys.readouterr().err)
    assert "pip install 'lgstream[console]'" in error


# --- run -------------------------------------------------------------------------------


def run_jsonl(target: str, *args: str) -> list[str]:
    return ["run", target, "--input", '{"question": "Hi?"}', "--format", "jsonl", *args]


def test_run_a_module_graph(
    graph_file: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, module = graph_file
    assert main(run_jsonl(f"{module}:graph")) == 0
    events = jsonl(capsys.readouterr().out)
    assert [e["kind"] for e in events if e["kind"] != "token"] == [
        "run_started",
        "update",
        "run_finished",
    ]
    assert events[-1]["output"] == {"question": "Hi?", "answer": "Hello from the file"}


def test_run_a_file_graph_from_a_factory(
    graph_file: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = graph_file
    assert main(run_jsonl(f"{path}:make_graph", "--modes", "updates")) == 0
    events = jsonl(capsys.readouterr().out)
    assert [e["kind"] for e in events] == ["run_started", "update", "run_finished"]
    assert events[1]["data"] == {"answer": "Made by a factory"}


def test_run_with_a_node_filter(
    graph_file: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, module = graph_file
    assert main(run_jsonl(f"{module}:graph", "--node", "generate", "--format", "ndjson")) == 0
    events = jsonl(capsys.readouterr().out)
    assert events  # tokens and the update, and nothing the node did not produce
    assert {e["node"] for e in events} == {"generate"}
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert "".join(e["text"] for e in events if e["kind"] == "token") == "Hello from the file"

    assert main(run_jsonl(f"{module}:graph", "--node", "elsewhere", "--subgraphs")) == 0
    assert capsys.readouterr().out == ""


def test_run_sse(graph_file: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, module = graph_file
    assert (
        main(["run", f"{module}:graph", "--input", '{"question": "Hi?"}', "--format", "sse"]) == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("id: 1\nevent: run_started\ndata: {")
    assert out.endswith("\n\n")


def test_a_graph_that_raises_exits_with_1(
    graph_file: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, module = graph_file
    assert main(["run", f"{module}:failing", "--input", '{"x": 1}', "--format", "jsonl"]) == 1
    captured = capsys.readouterr()
    events = jsonl(captured.out)
    assert events[-1]["kind"] == "run_failed"
    assert events[-1]["error"] == {"type": "ValueError", "message": "boom"}
    assert one_line_error(captured.err) == "lgstream: the graph raised ValueError: boom"


def test_a_failure_is_reported_even_when_the_node_filter_drops_it(
    graph_file: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, module = graph_file
    argv = ["run", f"{module}:failing", "--input", '{"x": 1}', "--node", "other"]
    assert main([*argv, "--format", "jsonl"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "ValueError: boom" in one_line_error(captured.err)


# --- errors: one line on stderr, exit code 2 -----------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "no_such_module_here:graph"], "cannot import 'no_such_module_here'"),
        (
            ["run", "{module}:missing"],
            "has no attribute 'missing'; graphs it has: chat, failing, graph",
        ),
        (["run", "{module}:not_a_graph"], "cannot stream a int"),
        (["run", "{module}:builder"], "uncompiled builder"),
        (["run", "{module}:needs_a_model"], "cannot stream a function"),
        (["run", "{module}:broken_factory"], "RuntimeError: no graph today"),
        (["run", "{module}"], "expected module:graph or path/to/file.py:graph"),
        (["run", "nowhere/graph.py:graph"], "no such file: nowhere/graph.py"),
        (["run", "{module}:graph", "--input", "{oops"], "--input is not valid JSON"),
        (["run", "{module}:graph", "--modes", "messages,tokens"], "unknown stream mode 'tokens'"),
        (["demo", "--modes", "valuse"], "Did you mean 'values'?"),
        (["demo", "--model", "nope:model"], "unknown model backend in 'nope:model'"),
        (["demo", "--format", "html"], "invalid choice: 'html'"),
        (["demo", "--delay", "soon"], "invalid float value: 'soon'"),
        (["run"], "the following arguments are required: TARGET"),
        (["serve"], "the following arguments are required: TARGET"),
        (["serve", "{module}:graph", "--port", "http"], "invalid int value: 'http'"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(
    graph_file: tuple[Path, str],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    _, module = graph_file
    assert main([arg.replace("{module}", module) for arg in argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in one_line_error(captured.err)


def test_a_module_that_raises_on_import(
    graph_file: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = graph_file
    bad = path.with_name("bad_graph.py")
    bad.write_text("raise ImportError('needs the gpu extra')\n", encoding="utf-8")
    assert main(["run", f"{bad}:graph"]) == 2
    error = one_line_error(capsys.readouterr().err)
    assert "ImportError: needs the gpu extra" in error


def test_a_missing_attribute_lists_the_graphs_there_are(
    graph_file: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, module = graph_file
    assert main(["run", f"{module}:grahp"]) == 2
    error = one_line_error(capsys.readouterr().err)
    assert error.endswith("has no attribute 'grahp'; graphs it has: chat, failing, graph")


def test_a_module_is_not_a_graph(
    graph_file: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`lgs` has stream() and astream() functions; it is still no graph."""
    _, module = graph_file
    assert main(["run", f"{module}:lgs"]) == 2
    assert "cannot stream a module" in one_line_error(capsys.readouterr().err)


# --- serve ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "{module}:graph", "--port", "70000"], "--port is 0 to 65535, got 70000"),
        (["serve", "{module}:graph", "--host", "0.0.0.0"], "is not loopback"),
        (["serve", "{module}:graph", "--modes", "nope"], "unknown stream mode"),
        (["serve", "{module}:graph", "--input", "{"], "--input is not valid JSON"),
        (["serve", "{module}:grahp"], "has no attribute 'grahp'"),
        (["serve", "{module}:not_a_graph"], "cannot stream"),
        (["serve", "{module}:graph", "--sync-workers", "0"], "sync_workers is a number of"),
        (["serve", "{module}:graph", "--store", "postgres://x"], "'memory' or a redis:// URL"),
        (["serve", "{module}:graph", "--store", "redis://h:x/0"], "not a Redis URL"),
        (["serve", "{module}:graph", "--lifetime", "forever"], "invalid choice: 'forever'"),
    ],
)
def test_serve_argument_errors_are_one_line(
    graph_file: tuple[Path, str],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    _, module = graph_file
    assert main([arg.replace("{module}", module) for arg in argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    error = one_line_error(captured.err)
    assert error.startswith("lgstream serve: error: ")
    assert message in error


def test_serve_with_a_redis_store_that_does_not_answer_fails_at_start(
    graph_file: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, module = graph_file
    code = main(["serve", f"{module}:graph", "--store", "redis://:hunter2@127.0.0.1:1/0"])
    assert code == 1  # the server could not start, not a bad argument
    error = one_line_error(capsys.readouterr().err)
    assert "the Redis at redis://:***@127.0.0.1:1/0 does not answer" in error
    assert "hunter2" not in error


@contextlib.contextmanager
def cli_server(*args: str) -> Iterator[str]:
    """``lgstream serve ARGS --port 0`` in a subprocess; its URL, read from uvicorn's log.
    The server is stopped at the end."""
    with subprocess.Popen(
        [_console_script(), "serve", *args, "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    ) as process:
        try:
            assert process.stderr is not None
            url = ""
            for line in process.stderr:  # uvicorn logs the bound port
                if "running on" in line:
                    url = line.split("running on ", 1)[1].split()[0]
                    break
            assert url.startswith("http://127.0.0.1:"), url
            yield url
        finally:
            process.terminate()
            process.wait(10)


def test_serve_runs_the_app_on_loopback(graph_file: tuple[Path, str]) -> None:
    path, _ = graph_file
    with (
        cli_server(f"{path}:graph", "--input", '{"question": "Hi?"}') as url,
        httpx.Client(timeout=10) as client,
    ):
        page = client.get(f"{url}/")
        with connect_sse(
            client, "POST", f"{url}/stream", json={"input": {"question": "Hi?"}}
        ) as source:
            events = list(source.iter_sse())
    assert "&quot;question&quot;" in page.text
    tokens = [json.loads(ev.data)["text"] for ev in events if ev.event == "token"]
    assert "".join(tokens) == "Hello from the file"
    assert events[-1].event == "run_finished"


def sse_data(text: str) -> list[str]:
    """The ``data:`` of every SSE frame; the frames are ``data: ...`` and ``\\n\\n``."""
    frames = text.split("\n\n")
    assert frames[-1] == ""
    # A served protocol run's frames may carry an `id:` line first (for resuming).
    frames = [f.split("\n", 1)[1] if f.startswith("id: ") else f for f in frames[:-1]]
    assert all(frame.startswith("data: ") and "\n" not in frame for frame in frames)
    return [frame[6:] for frame in frames]


def test_run_agui(graph_file: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = graph_file
    code = main(["run", f"{path}:graph", "--input", '{"question": "Hi?"}', "--format", "agui"])
    assert code == 0
    events = [json.loads(data) for data in sse_data(capsys.readouterr().out)]
    assert events[0]["type"] == "RUN_STARTED"
    assert events[-1]["type"] == "RUN_FINISHED"
    text = [e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT"]
    assert "".join(text) == "Hello from the file"
    assert "STATE_SNAPSHOT" in {e["type"] for e in events}  # values mode by default


def test_run_vercel(graph_file: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = graph_file
    code = main(["run", f"{path}:graph", "--input", '{"question": "Hi?"}', "--format", "vercel"])
    assert code == 0
    data = sse_data(capsys.readouterr().out)
    assert data[-1] == "[DONE]"
    parts = [json.loads(item) for item in data[:-1]]
    assert parts[0]["type"] == "start"
    assert parts[-1] == {"type": "finish", "finishReason": "stop"}
    assert "".join(p["delta"] for p in parts if p["type"] == "text-delta") == "Hello from the file"


@pytest.mark.parametrize(("fmt", "last"), [("agui", "RUN_ERROR"), ("vercel", "[DONE]")])
def test_a_protocol_run_that_raises_exits_with_1(
    graph_file: tuple[Path, str], capsys: pytest.CaptureFixture[str], fmt: str, last: str
) -> None:
    path, _ = graph_file
    assert main(["run", f"{path}:failing", "--input", '{"x": 1}', "--format", fmt]) == 1
    captured = capsys.readouterr()
    data = sse_data(captured.out)
    assert last in data[-1]
    if fmt == "vercel":
        assert json.loads(data[-3]) == {"type": "error", "errorText": "ValueError: boom"}
    assert one_line_error(captured.err) == "lgstream: the graph raised ValueError: boom"


def test_serve_a_protocol(graph_file: tuple[Path, str]) -> None:
    path, _ = graph_file
    body = {
        "id": "chat-1",
        "trigger": "submit-message",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}],
    }
    with (
        cli_server(f"{path}:chat", "--format", "vercel") as url,
        httpx.Client(timeout=10) as client,
    ):
        response = client.post(f"{url}/stream", json=body)
        sse = client.post(f"{url}/stream?format=ndjson", json={"input": {"messages": []}})
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    data = sse_data(response.text)
    assert data[-1] == "[DONE]"
    deltas = [json.loads(d) for d in data[:-1]]
    text = "".join(d["delta"] for d in deltas if d["type"] == "text-delta")
    assert text == "Hello from the chat"
    assert sse.headers["content-type"] == "application/x-ndjson"


@pytest.mark.parametrize(
    "argv", [["--help"], ["demo", "--help"], ["run", "--help"], ["serve", "--help"]]
)
def test_help(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: lgstream")
    if argv != ["--help"]:
        assert "examples:" in out
    if argv[0] in ("demo", "run"):
        assert "--format {console,sse,ndjson,jsonl,agui,vercel}" in out
    if argv[0] == "serve":
        assert "--format {agui,vercel}" in out


# --- the installed command -----------------------------------------------------------------


def _console_script() -> str:
    found = shutil.which("lgstream", path=str(Path(sys.executable).parent))
    assert found is not None, "the lgstream console script is not installed"
    return found


def test_the_console_script_runs_the_demo() -> None:
    done = subprocess.run(
        [_console_script(), "demo", "--format", "jsonl", "--delay", "0"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    events = jsonl(done.stdout)
    assert events[0]["kind"] == "run_started"
    assert events[-1]["kind"] == "run_finished"
    assert "".join(e["text"] for e in events if e["kind"] == "token") == DEMO_ANSWER


def test_python_dash_m_lgstream() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lgstream", "demo", "--modes", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert one_line_error(done.stderr).startswith("lgstream demo: error: unknown stream mode")


@pytest.mark.parametrize("fmt", ["console", "jsonl", "ndjson", "sse"])
def test_a_lone_surrogate_in_the_input_is_escaped_not_a_traceback(
    graph_file: tuple[Path, str], fmt: str
) -> None:
    """JSON input may escape a lone surrogate (``"\\ud800"``), which UTF-8 cannot hold."""
    path, _ = graph_file
    done = subprocess.run(
        [
            _console_script(),
            "run",
            f"{path}:graph",
            "--input",
            '{"question": "a\\ud800b"}',
            "--format",
            fmt,
        ],
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    assert b"Traceback" not in done.stderr
    out = done.stdout.decode("utf-8")  # valid UTF-8 throughout
    if fmt != "console":  # the console does not show the input; the others echo it
        assert "\\ud800" in out


SLOW_CHAT = """
import lgstream as lgs
from lgstream.testing import FakeChatModel

chat = lgs.graphs.chat(FakeChatModel(script=["tick " * 200], delay=0.02))
"""


def test_serve_protocol_lifetime_detached_lets_a_chat_resume(tmp_path: Path) -> None:
    path = tmp_path / "slow_chat.py"
    path.write_text(SLOW_CHAT, encoding="utf-8")
    body = {
        "id": "chat-9",
        "trigger": "submit-message",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}],
    }
    with (
        cli_server(f"{path}:chat", "--format", "vercel", "--protocol-lifetime", "detached") as url,
        httpx.Client(timeout=10) as client,
    ):
        with client.stream("POST", f"{url}/stream", json=body) as response:
            run_id = response.headers["x-run-id"]
            next(response.iter_lines())
        time.sleep(1.0)  # well past the 0.5 s grace of an attached run
        with client.stream("GET", f"{url}/stream/chat-9/stream") as resumed:
            assert resumed.status_code == 200
            assert resumed.headers["x-run-id"] == run_id
        info = client.get(f"{url}/runs/{run_id}").json()
    assert (info["lifetime"], info["status"]) == ("detached", "running")


SLOW_GRAPH = """
import lgstream as lgs
from lgstream.testing import FakeChatModel

graph = lgs.graphs.qa(FakeChatModel(script=["tick " * 400], delay=0.05))
"""


def test_serve_ends_open_streams_on_sigterm_after_the_shutdown_timeout(tmp_path: Path) -> None:
    """uvicorn alone waits for every open stream: a 20 s run held SIGTERM for 20 s."""
    path = tmp_path / "slow_graph.py"
    path.write_text(SLOW_GRAPH, encoding="utf-8")
    with subprocess.Popen(
        [_console_script(), "serve", f"{path}:graph", "--port", "0", "--shutdown-timeout", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    ) as process:
        assert process.stderr is not None
        url = ""
        for line in process.stderr:
            if "running on" in line:
                url = line.split("running on ", 1)[1].split()[0]
                break
        assert url.startswith("http://127.0.0.1:"), url
        tokens = 0
        with (
            httpx.Client(timeout=30) as client,
            client.stream(
                "POST", f"{url}/stream?format=ndjson", json={"input": {"question": "q"}}
            ) as response,
        ):
            lines = response.iter_lines()
            for line in lines:
                if '"kind":"token"' in line:
                    tokens += 1
                if tokens == 5:
                    process.terminate()  # SIGTERM mid-run
                    started = time.monotonic()
                    break
            # Until the server ends the stream; it may cut it mid-chunk, which httpx
            # sometimes reports as httpcore's own error.
            with contextlib.suppress(httpx.HTTPError, httpcore.RemoteProtocolError):
                for _ in lines:
                    pass
        process.wait(15)
        took = time.monotonic() - started
    assert tokens == 5
    # The run had ~20 s left; the server ended it after its 1 s timeout.
    assert took < 10, f"SIGTERM took {took:.1f} s"
