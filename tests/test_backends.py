"""lgstream.backends: model specs, the registry, and Ollama errors that say what to do."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel

import lgstream as lgs
from lgstream import backends
from lgstream.testing import FakeChatModel


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_fake_specs() -> None:
    model = backends.resolve("fake:Hello there")
    assert isinstance(model, FakeChatModel)
    assert model.invoke("x").text == "Hello there"
    assert model.invoke("again").text == "Hello there"  # cycles
    assert isinstance(backends.resolve("fake"), FakeChatModel)
    slow = backends.resolve("fake:a b?delay=0.01&split=chars")
    assert isinstance(slow, FakeChatModel)
    assert (slow.delay, slow.split) == (0.01, "chars")


def test_a_chat_model_passes_through() -> None:
    model = FakeChatModel(script=["x"])
    assert backends.resolve(model) is model
    with pytest.raises(lgs.UsageError, match="options only apply to a model spec"):
        backends.resolve(model, temperature=0.1)


def test_ollama_spec_options_and_keywords() -> None:
    model = backends.resolve(
        "ollama:llama3.2?temperature=0.2&num_predict=64&reasoning=true",
        base_url="http://127.0.0.1:1234",
        num_predict=32,  # keywords win over the query suffix
    )
    from langchain_ollama import ChatOllama

    assert isinstance(model, ChatOllama)
    assert (model.model, model.temperature, model.num_predict, model.reasoning) == (
        "llama3.2",
        0.2,
        32,
        True,
    )
    assert model.base_url == "http://127.0.0.1:1234"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (None, "http://127.0.0.1:11434"),
        ("gpu-box", "http://gpu-box:11434"),
        ("10.0.0.5:8080", "http://10.0.0.5:8080"),
        ("https://ollama.example/", "https://ollama.example:443"),
    ],
)
def test_ollama_host_is_honoured(
    monkeypatch: pytest.MonkeyPatch, env: str | None, expected: str
) -> None:
    if env is None:
        monkeypatch.delenv("OLLAMA_HOST", raising=False)
    else:
        monkeypatch.setenv("OLLAMA_HOST", env)
    assert backends.ollama_url() == expected
    assert backends.ollama_url("http://explicit:1") == "http://explicit:1"


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(backends.UnknownBackendError) as info:
        backends.resolve("openai:gpt-x")
    message = str(info.value)
    assert "'openai:gpt-x'" in message
    assert "fake, ollama" in message
    assert isinstance(info.value, ValueError)
    with pytest.raises(lgs.UsageError, match="name the Ollama model"):
        backends.resolve("ollama:")
    with pytest.raises(lgs.UsageError, match="got int"):
        backends.resolve(3)  # type: ignore[arg-type]


def test_register_a_backend() -> None:
    made: list[tuple[str, dict[str, Any]]] = []

    def factory(name: str, options: dict[str, Any]) -> BaseChatModel:
        made.append((name, options))
        return FakeChatModel(script=[f"I am {name}"])

    backends.register("echo", factory)
    try:
        assert "echo" in backends.schemes()
        model = backends.resolve("echo:bot?x=1", y="2")
        assert model.invoke("hi").text == "I am bot"
        assert made == [("bot", {"x": 1, "y": "2"})]
    finally:
        backends._REGISTRY.pop("echo")
    with pytest.raises(lgs.UsageError, match="plain name"):
        backends.register("not a name", factory)


def test_entry_point_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    point = importlib.metadata.EntryPoint(
        name="plugged", value="lgstream.testing:FakeChatModel", group=backends.ENTRY_POINT_GROUP
    )

    def entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
        return [point] if group == backends.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    assert "plugged" in backends.schemes()
    monkeypatch.setitem(
        backends._REGISTRY, "plugged", lambda name, options: FakeChatModel(script=[name])
    )
    assert backends.resolve("plugged:from-a-plugin").invoke("x").text == "from-a-plugin"


def test_connection_refused_is_clear_and_quick() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    graph = lgs.graphs.qa(backends.resolve("ollama:llama3.2", base_url=url))
    started = time.perf_counter()
    with pytest.raises(backends.BackendUnavailableError) as info:
        lgs.stream(graph, {"question": "q"}).collect()
    assert time.perf_counter() - started < 1.0
    assert f"is `ollama serve` running at {url}?" in str(info.value)
    assert info.value.__cause__ is not None  # the client's own error is kept

    with pytest.raises(backends.BackendUnavailableError):
        backends.resolve("ollama:llama3.2", base_url=url, check=True)


def test_demo_reports_an_unreachable_model_in_one_line() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    proc = subprocess.run(
        [sys.executable, "-m", "lgstream.demo", "--model", f"ollama:llama3.2?base_url={url}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"error: cannot reach Ollama at {url}: is `ollama serve` running at {url}?"
        " (set OLLAMA_HOST or base_url= if it runs elsewhere)"
    )
    assert "Traceback" not in proc.stderr
