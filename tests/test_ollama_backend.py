"""The Ollama backend against FakeOllamaServer, through the real ChatOllama client:
every fault becomes an lgstream error that says what to do, after whatever had
already arrived."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import pytest
from langchain_core.tools import tool

import lgstream as lgs
from lgstream.backends import (
    BackendStreamError,
    BackendTimeoutError,
    ModelNotFoundError,
    resolve,
)
from lgstream.testing import FakeOllamaServer, OllamaReply


@pytest.fixture
def server() -> Iterator[FakeOllamaServer]:
    replies: list[str | OllamaReply] = [
        "Hello from fake Ollama",
        OllamaReply(content="one two three four", error_after=2, error_message="out of memory"),
        OllamaReply(content="one two three four", drop_after=2),
        OllamaReply(content="one two three four", malformed_after=2),
        OllamaReply(content="late", first_token_delay=2.0),
    ]
    with FakeOllamaServer(models={"llama3.2": replies}) as fake:
        yield fake


def answer(graph: lgs.GraphLike, into: list[str]) -> None:
    events = lgs.stream(graph, {"question": "q"}) | lgs.ops.nodes("generate") | lgs.ops.text()
    into.extend(events)


def fault_graph(server: FakeOllamaServer, skip: int, **options: object) -> lgs.GraphLike:
    """A qa graph whose model's (skip+1)-th reply is the one under test."""
    model = resolve("ollama:llama3.2", base_url=server.url, **options)
    for _ in range(skip):
        with contextlib.suppress(lgs.LgstreamError):
            model.invoke("warm-up")
    return lgs.graphs.qa(model)


def test_tokens_stream_through_the_backend(server: FakeOllamaServer) -> None:
    graph = lgs.graphs.qa(resolve("ollama:llama3.2?temperature=0.3", base_url=server.url))
    pieces: list[str] = []
    answer(graph, pieces)
    assert pieces == ["Hello", " from", " fake", " Ollama"]
    (request,) = server.requests
    assert request.model == "llama3.2"
    assert request.options is not None
    assert request.options.get("temperature") == 0.3


def test_a_missing_model_says_pull_it(server: FakeOllamaServer) -> None:
    graph = lgs.graphs.qa(resolve("ollama:mistral", base_url=server.url))
    with pytest.raises(ModelNotFoundError) as info:
        lgs.stream(graph, {"question": "q"}).collect()
    assert str(info.value) == (
        f"model 'mistral' not found at Ollama {server.url}: run `ollama pull mistral` first"
    )
    assert info.value.__cause__ is not None
    with pytest.raises(ModelNotFoundError) as early:
        resolve("ollama:mistral", base_url=server.url, check=True)
    assert early.value.__cause__ is None  # one clear line, no chained traceback
    resolve("ollama:llama3.2", base_url=server.url, check=True)  # present: fine


@pytest.mark.parametrize(
    ("skip", "message"),
    [
        (1, "reported an error for 'llama3.2': out of memory"),
        (2, "broke off mid-stream"),
        (3, "sent a line that is not JSON"),
    ],
)
def test_mid_stream_faults_keep_what_arrived(
    server: FakeOllamaServer, skip: int, message: str
) -> None:
    graph = fault_graph(server, skip)
    events: list[lgs.Event] = []
    with pytest.raises(BackendStreamError, match=message):
        events.extend(lgs.stream(graph, {"question": "q"}))
    assert "".join(ev.text for ev in events if isinstance(ev, lgs.Token)) == "one two"
    failed = events[-1]
    assert isinstance(failed, lgs.RunFailed)
    assert isinstance(failed.error, BackendStreamError)


def test_a_slow_first_token_times_out_clearly(server: FakeOllamaServer) -> None:
    graph = fault_graph(server, 4, first_token_timeout=0.3)
    started = time.perf_counter()
    with pytest.raises(BackendTimeoutError, match=r"sent nothing for model 'llama3\.2'"):
        lgs.stream(graph, {"question": "q"}).collect()
    assert time.perf_counter() - started < 1.5


def test_async_faults_too(server: FakeOllamaServer) -> None:
    graph = fault_graph(server, 1)

    async def main() -> list[lgs.Event]:
        got: list[lgs.Event] = []

        async def drain() -> None:
            async for ev in lgs.astream(graph, {"question": "q"}):
                got.append(ev)

        with pytest.raises(BackendStreamError, match="out of memory"):
            await drain()
        return got

    got = asyncio.run(main())
    assert "".join(ev.text for ev in got if isinstance(ev, lgs.Token)) == "one two"


def test_reasoning_and_tool_calls_through_the_backend() -> None:
    @tool
    def lookup(city: str) -> str:
        """Look a city up."""
        return f"{city}: sunny"

    replies = [
        OllamaReply(
            thinking="The user wants weather.",
            content="",
            tool_calls=[{"name": "lookup", "arguments": {"city": "Oslo"}}],
        ),
        OllamaReply(thinking="Now answer.", content="Oslo is sunny."),
    ]
    with FakeOllamaServer(models={"qwen3": replies}) as server:
        model = resolve("ollama:qwen3?reasoning=true", base_url=server.url)
        graph = lgs.graphs.agent(model, [lookup])
        events = (
            lgs.stream(graph, {"messages": [("user", "weather in Oslo?")]})
            | lgs.ops.reasoning()
            | lgs.ops.tool_calls()
        ).collect()
        assert server.requests[0].tools  # the tool schema reached the server
    thoughts = "".join(ev.text for ev in events if isinstance(ev, lgs.Reasoning))
    assert thoughts == "The user wants weather.Now answer."
    ready = [ev for ev in events if isinstance(ev, lgs.ToolCallReady)]
    assert [(ev.name, ev.args) for ev in ready] == [("lookup", {"city": "Oslo"})]
    text = "".join(ev.text for ev in events if isinstance(ev, lgs.Token))
    assert text == "Oslo is sunny."


def test_the_demo_streams_from_ollama_with_model_spec(capsys: pytest.CaptureFixture[str]) -> None:
    from lgstream.demo import main

    with FakeOllamaServer(models={"llama3.2": ["Decompose it into steps."]}) as server:
        assert main(["--model", f"ollama:llama3.2?base_url={server.url}"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1] == "A: Decompose| it| into| steps.|"
