"""lgstream.backends: model specs, the registry, and Ollama errors that say what to do."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel

import lgstream as lgs
from lgstream import backends
from lgstream.testing import FakeChatModel, NetworkBlockedError, block_network


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
        backends.resolve("nosuch:gpt-x")
    message = str(info.value)
    assert "'nosuch:gpt-x'" in message
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


@pytest.mark.parametrize("how", ["stream", "check"])
def test_the_network_guard_is_named_before_the_ollama_hint(how: str) -> None:
    """A test whose model points off loopback learns that the guard blocked it, not
    that `ollama serve` is missing."""
    url = "http://192.0.2.1:11434"  # TEST-NET-1: never routed

    def connect() -> None:
        if how == "check":
            backends.resolve("ollama:llama3.2", base_url=url, check=True)
        else:
            graph = lgs.graphs.qa(backends.resolve("ollama:llama3.2", base_url=url))
            lgs.stream(graph, {"question": "q"}).collect()

    with block_network(), pytest.raises(NetworkBlockedError) as info:
        connect()
    message = str(info.value)
    assert message.startswith("lgstream blocked a network connection to ('192.0.2.1', 11434)")
    assert f"The connection was to Ollama at {url}" in message
    assert "ollama serve" not in message


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


def test_fake_text_with_a_question_mark_stays_whole() -> None:
    assert backends.resolve("fake:Really? Yes").invoke("x").text == "Really? Yes"
    assert backends.resolve("fake:Really?").invoke("x").text == "Really?"
    model = backends.resolve("fake:Really? Yes?delay=0.01")
    assert isinstance(model, FakeChatModel)
    assert model.delay == 0.01
    assert model.invoke("x").text == "Really? Yes"


@pytest.mark.parametrize(
    ("spec", "options", "wrong", "meant"),
    [
        ("ollama:llama3.2?temprature=0.2", {}, "temprature", "temperature"),
        ("ollama:llama3.2", {"num_predic": 3}, "num_predic", "num_predict"),
        ("ollama:llama3.2?first_token_timout=3", {}, "first_token_timout", "first_token_timeout"),
        ("fake:Hi?delai=0.1", {}, "delai", "delay"),
    ],
)
def test_unknown_options_are_refused_with_a_suggestion(
    spec: str, options: dict[str, Any], wrong: str, meant: str
) -> None:
    with pytest.raises(lgs.UsageError, match=rf"unknown option '{wrong}'.*Did you mean '{meant}'"):
        backends.resolve(spec, **options)


def test_ollama_has_a_default_read_timeout() -> None:
    from lgstream._ollama import READ_TIMEOUT

    def read_timeout(model: BaseChatModel) -> float | None:
        timeout = getattr(model, "client_kwargs")["timeout"]  # noqa: B009
        assert timeout.connect == 5.0
        value: float | None = timeout.read
        return value

    assert READ_TIMEOUT == 120.0
    assert read_timeout(backends.resolve("ollama:llama3.2")) == READ_TIMEOUT
    assert read_timeout(backends.resolve("ollama:llama3.2?first_token_timeout=7")) == 7
    assert read_timeout(backends.resolve("ollama:llama3.2?first_token_timeout=none")) is None
    assert read_timeout(backends.resolve("ollama:llama3.2", first_token_timeout=None)) is None


def test_langchain_providers_resolve_through_init_chat_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from langchain_openai import ChatOpenAI

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    model = backends.resolve("openai:gpt-4o?temperature=0.2", max_tokens=64)
    assert isinstance(model, ChatOpenAI)
    assert (model.model_name, model.temperature, model.max_tokens) == ("gpt-4o", 0.2, 64)
    # lgstream's own schemes win over LangChain's provider of the same name.
    assert type(backends.resolve("ollama:llama3.2")).__name__ == "LgstreamChatOllama"


def test_a_missing_provider_package_says_what_to_install() -> None:
    pytest.importorskip("langchain")
    if importlib.util.find_spec("langchain_anthropic") is not None:
        pytest.skip("langchain-anthropic is installed")
    with pytest.raises(backends.BackendError, match="pip install langchain-anthropic"):
        backends.resolve("anthropic:claude-sonnet-4-5")


def test_unknown_scheme_mentions_langchain_providers() -> None:
    with pytest.raises(backends.UnknownBackendError, match=r"init_chat_model.*openai"):
        backends.resolve("opneai:gpt-4o")
