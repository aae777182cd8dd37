"""Ctrl-C stops the run: a real SIGINT sent to a real process, for the ``lgstream``
command and for plain sync and async Python.

Each child streams a slow fake model (100 tokens, 50 ms each: 5 s) and, at exit,
writes how many tokens the model generated to a file. The test sends SIGINT once
the first token is on the child's stdout, then checks the exit status and that the
model stopped far short of its end (before the fix it ran to the last token).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

TOKENS = 100
TIMEOUT = 60  # generous: only a hung child gets near it

SLOW_GRAPH = f"""
import atexit
import os

import lgstream as lgs
from lgstream.testing import FakeChatModel

model = FakeChatModel(script=[" ".join(f"w{{i}}" for i in range({TOKENS}))], delay=0.05)
graph = lgs.graphs.qa(model)


@atexit.register
def _report() -> None:
    # atexit runs after the interpreter has joined the worker threads: this is
    # every token the model generated, also after the output stopped.
    with open(os.environ["LGS_TOKENS_FILE"], "w") as file:
        file.write(str(model.tokens_streamed))
"""

SYNC_SCRIPT = """
import lgstream as lgs
from slowgraph import graph

with lgs.stream(graph, {"question": "q"}) as events:
    for event in events:
        if isinstance(event, lgs.Token):
            print("token", event.text, flush=True)
"""

ASYNC_SCRIPT = """
import asyncio

import lgstream as lgs
from slowgraph import graph


async def main() -> None:
    async with lgs.astream(graph, {"question": "q"}) as events:
        async for event in events:
            if isinstance(event, lgs.Token):
                print("token", event.text, flush=True)


asyncio.run(main())
"""


def _default_sigint() -> None:
    # A child inherits an ignored SIGINT (a shell's background job, some CI
    # runners), and Python then installs no KeyboardInterrupt handler.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt(tmp_path: Path, argv: list[str]) -> tuple[int, int, str]:
    """Run ``argv`` in ``tmp_path``, SIGINT it after its first token line; return
    its exit status, the tokens the model generated, and its stderr."""
    (tmp_path / "slowgraph.py").write_text(SLOW_GRAPH)
    tokens_file = tmp_path / "tokens.txt"
    env = {
        **os.environ,
        "LGS_TOKENS_FILE": str(tokens_file),
        "PYTHONPATH": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        argv,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "token" in line.lower():
                break
        else:
            pytest.fail(f"no token before the child ended: {proc.communicate()[1]}")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, int(tokens_file.read_text()), stderr


def test_ctrl_c_stops_lgstream_run(tmp_path: Path) -> None:
    lgstream = Path(sys.executable).with_name("lgstream")
    argv = [str(lgstream), "run", "slowgraph:graph", "--input", '{"question": "q"}']
    argv += ["--format", "jsonl"]
    code, generated, stderr = interrupt(tmp_path, argv)
    assert code == 130, stderr
    assert generated < TOKENS // 2, f"the model went on to token {generated} of {TOKENS}"
    assert "Traceback" not in stderr


def test_ctrl_c_stops_a_sync_stream(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(textwrap.dedent(SYNC_SCRIPT))
    code, generated, stderr = interrupt(tmp_path, [sys.executable, "main.py"])
    # An uncaught KeyboardInterrupt: Python ends by SIGINT, as a shell expects.
    assert code == -signal.SIGINT, stderr
    assert "KeyboardInterrupt" in stderr
    assert generated < TOKENS // 2, f"the model went on to token {generated} of {TOKENS}"


def test_ctrl_c_stops_an_async_stream(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(textwrap.dedent(ASYNC_SCRIPT))
    code, generated, stderr = interrupt(tmp_path, [sys.executable, "main.py"])
    # An uncaught KeyboardInterrupt: Python ends by SIGINT, as a shell expects.
    assert code == -signal.SIGINT, stderr
    assert "KeyboardInterrupt" in stderr
    assert generated < TOKENS // 2, f"the model went on to token {generated} of {TOKENS}"


def test_a_missing_graph_lists_only_graphs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lgstream.cli import main

    (tmp_path / "models_and_graphs.py").write_text(
        textwrap.dedent(
            """
            import lgstream as lgs

            model = lgs.backends.resolve("fake:Hi")  # a chat model streams too
            graph = lgs.graphs.qa(model)
            """
        )
    )
    target = f"{tmp_path / 'models_and_graphs.py'}:grahp"
    assert main(["run", target]) == 2
    error = capsys.readouterr().err.strip()
    assert error.endswith("has no attribute 'grahp'; graphs it has: graph")
