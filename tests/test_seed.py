"""The seed example, corrected: a `generate` node calling the model with invoke(),
streamed with `messages` mode, filtered to `generate`, printed with `|` between tokens."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

import lgstream as lgs
from lgstream.demo import DEMO_ANSWER, DEMO_QUESTION, QAState, build_seed_graph, demo_model, main
from lgstream.testing import FakeChatModel, split_tokens


def test_state_declares_its_channels() -> None:
    """The note's `class MyState(dict)` had no channels; the node got `{}`."""
    graph = build_seed_graph(demo_model(delay=0))
    assert set(graph.channels) >= set(QAState.__annotations__)
    result = graph.invoke({"question": DEMO_QUESTION})
    assert result == {"question": DEMO_QUESTION, "answer": DEMO_ANSWER}


def test_generate_tokens_stream_with_bars(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--delay", "0"]) == 0
    out = capsys.readouterr().out
    answer_line = out.splitlines()[1].removeprefix("A: ")
    assert answer_line == "".join(f"{piece}|" for piece in split_tokens(DEMO_ANSWER))


def test_tokens_arrive_before_the_run_ends() -> None:
    """Streams stream: the first token is printed long before the last."""
    model = FakeChatModel(script=["one two three four five six"], delay=0.05)
    arrivals: list[float] = []
    started = time.perf_counter()
    events = lgs.stream(build_seed_graph(model), {"question": "q"}, modes=["messages"])
    for _ in events | lgs.ops.nodes("generate") | lgs.ops.text():
        arrivals.append(time.perf_counter() - started)
    total = time.perf_counter() - started
    assert len(arrivals) == 6
    assert arrivals[0] < total - 4 * 0.05


def test_the_demo_command_prints_streamed_tokens() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lgstream.demo", "--delay", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert proc.stdout.startswith(f"Q: {DEMO_QUESTION}\nA: Task| decomposition| breaks|")
    assert proc.stderr == ""


def _ollama_answers() -> bool:
    try:
        url = lgs.backends.ollama_url()
        with urllib.request.urlopen(f"{url}/api/version", timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@pytest.mark.live
@pytest.mark.skipif(not _ollama_answers(), reason="no Ollama answers at OLLAMA_HOST")
def test_seed_on_a_real_ollama() -> None:  # pragma: no cover - needs a real server
    model_name = os.environ.get("LGSTREAM_OLLAMA_MODEL", "llama3.2")
    graph = build_seed_graph(lgs.backends.resolve(f"ollama:{model_name}", check=True))
    events = lgs.stream(graph, {"question": "Say hello in three words."}, modes=["messages"])
    pieces = list(events | lgs.ops.nodes("generate") | lgs.ops.text())
    assert len(pieces) > 1
    assert "".join(pieces).strip()
