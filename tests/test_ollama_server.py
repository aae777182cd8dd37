"""FakeOllamaServer, through the real clients: ollama, ChatOllama, and lgstream streams."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import ollama
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_core.tools import tool
from langchain_ollama import ChatOllama
from langgraph.graph import MessagesState, StateGraph

import lgstream as lgs
from lgstream.demo import build_seed_graph
from lgstream.testing import FakeOllamaServer, OllamaReply, OllamaRequest

THOUGHT = OllamaReply(content="The answer is 4.", thinking="Two plus two is four.")
CALL = OllamaReply(tool_calls=[{"name": "add", "arguments": {"a": 2, "b": 2}}])
HI = [{"role": "user", "content": "hi"}]  # no messages at all would be a load request


@tool
def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: the first number.
        b: the second number.
    """
    return a + b


def text_of(server: FakeOllamaServer, model: str = "fake", **kwargs: Any) -> list[str]:
    """The text deltas of the seed graph streamed on ChatOllama at ``server``."""
    graph = build_seed_graph(ChatOllama(model=model, base_url=server.url, **kwargs))
    events = lgs.stream(graph, {"question": "q"}, modes=["messages"])
    return list(events | lgs.ops.nodes("generate") | lgs.ops.text())


def stream_until_error(server: FakeOllamaServer, seen: list[str]) -> None:
    """Stream the seed graph's text into ``seen`` (so tokens before an error are kept)."""
    graph = build_seed_graph(ChatOllama(model="fake", base_url=server.url))
    events = lgs.stream(graph, {"question": "q"}, modes=["messages"])
    for piece in events | lgs.ops.nodes("generate") | lgs.ops.text():
        seen.append(piece)


# --- the ollama client -------------------------------------------------------------------


def test_ollama_client_streams_thinking_content_and_tool_calls() -> None:
    reply = OllamaReply(
        content="Hi there", thinking=["Let me", " think"], tool_calls=CALL.tool_calls
    )
    with FakeOllamaServer(script=[reply]) as server:
        client = ollama.Client(host=server.url)
        parts = list(client.chat(model="fake", messages=HI, stream=True, think=True))
    thinking = [p.message.thinking for p in parts if p.message.thinking]
    content = [p.message.content for p in parts if p.message.content]
    calls = [call for p in parts for call in p.message.tool_calls or []]
    assert (thinking, content) == (["Let me", " think"], ["Hi", " there"])
    assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [
        ("add", {"a": 2, "b": 2})
    ]
    assert [p.done for p in parts] == [False] * 5 + [True]
    final = parts[-1]
    assert (final.done_reason, final.eval_count, final.prompt_eval_count) == ("stop", 5, 1)
    assert final.total_duration
    assert final.eval_duration
    assert final.load_duration


def test_ollama_client_without_streaming_gets_one_object() -> None:
    with FakeOllamaServer(script=[THOUGHT]) as server:
        response = ollama.Client(host=server.url).chat(
            model="fake", messages=[{"role": "user", "content": "2+2?"}], think=True
        )
        assert server.requests[-1].stream is False
    assert (response.done, response.message.content) == (True, "The answer is 4.")
    assert response.message.thinking == "Two plus two is four."


def test_think_false_leaves_out_the_thinking() -> None:
    with FakeOllamaServer(script=[THOUGHT]) as server:
        client = ollama.Client(host=server.url)
        parts = list(client.chat(model="fake", messages=HI, stream=True, think=False))
    assert not any(p.message.thinking for p in parts)
    assert "".join(p.message.content or "" for p in parts) == "The answer is 4."


def test_tags_show_version_as_the_client_expects() -> None:
    with FakeOllamaServer(models={"llama3.2": ["a"], "qwen3:8b": ["b"]}) as server:
        client = ollama.Client(host=server.url)
        assert [m.model for m in client.list().models] == ["llama3.2:latest", "qwen3:8b"]
        shown = client.show("llama3.2")
        assert shown.details is not None
        assert shown.details.family == "fake"
        assert "tools" in (shown.capabilities or [])
        with pytest.raises(ollama.ResponseError) as missing:
            client.show("mistral")
        assert missing.value.status_code == 404
        assert missing.value.error == "model 'mistral' not found"
        version = httpx.get(f"{server.url}/api/version")
        assert version.json() == {"version": server.version}
        assert httpx.get(server.url).text == "Ollama is running"


def test_llama_and_latest_are_the_same_model() -> None:
    with FakeOllamaServer(models={"llama3.2": ["one", "two"]}) as server:
        client = ollama.Client(host=server.url)
        first = client.chat(model="llama3.2", messages=HI)
        second = client.chat(model="llama3.2:latest", messages=HI)
    assert (first.message.content, second.message.content) == ("one", "two")
    assert first.model == "llama3.2"  # Ollama echoes the name as asked


def test_script_function_cycle_and_exhaustion() -> None:
    def echo(request: OllamaRequest) -> str:
        return f"you said {request.messages[-1]['content']}"

    with FakeOllamaServer(
        models={"echo": echo, "once": ["only"], "loop": ["x", "y"]}, cycle=False
    ) as server:
        client = ollama.Client(host=server.url)
        assert client.chat(
            model="echo", messages=[{"role": "user", "content": "hey"}]
        ).message.content == ("you said hey")
        client.chat(model="once", messages=HI)
        with pytest.raises(
            ollama.ResponseError, match="got request 2 but its script has 1"
        ) as error:
            client.chat(model="once", messages=HI)
        assert error.value.status_code == 500
        assert len(server.errors) == 1
    with FakeOllamaServer(script=["x", "y"], cycle=True) as server:
        client = ollama.Client(host=server.url)
        assert [client.chat(model="fake", messages=HI).message.content for _ in range(3)] == [
            "x",
            "y",
            "x",
        ]


def test_thinking_only_when_the_request_asks_for_it() -> None:
    with FakeOllamaServer(script=[THOUGHT], cycle=True) as server:
        client = ollama.Client(host=server.url)
        unasked = client.chat(model="fake", messages=HI)
        high = client.chat(model="fake", messages=HI, think="high")
        streamed = list(client.chat(model="fake", messages=HI, stream=True, think="low"))
    assert (unasked.message.content, unasked.message.thinking) == ("The answer is 4.", None)
    assert high.message.thinking == "Two plus two is four."
    assert "".join(p.message.thinking or "" for p in streamed) == "Two plus two is four."
    assert [r.think for r in server.chat_requests] == [None, "high", "low"]


def test_load_request_answers_load_and_uses_no_reply() -> None:
    calls: list[OllamaRequest] = []

    def script(request: OllamaRequest) -> str:
        calls.append(request)
        return "generated"

    with FakeOllamaServer(models={"fn": script, "list": ["first", "second"]}) as server:
        client = ollama.Client(host=server.url)
        loaded = client.chat(model="fn", messages=[])
        streamed = list(client.chat(model="list", messages=[], stream=True))
        assert client.chat(model="list", messages=HI).message.content == "first"
        raw = httpx.post(f"{server.url}/api/chat", json={"model": "list"})  # no "messages"
    assert (loaded.done, loaded.done_reason, loaded.message.content) == (True, "load", "")
    assert calls == []  # a load generates nothing: the script function is not called
    assert [(p.done, p.done_reason) for p in streamed] == [(True, "load")]
    # One JSON object even when streaming is asked for, as Ollama's c.JSON answers.
    assert raw.headers["content-type"] == "application/json; charset=utf-8"
    assert raw.json()["done_reason"] == "load"
    assert raw.json()["message"] == {"role": "assistant", "content": ""}


def test_load_request_skips_the_faults() -> None:
    with FakeOllamaServer(script=["x"], error_after=0, first_token_delay=5.0) as server:
        start = time.monotonic()
        loaded = ollama.Client(host=server.url).chat(model="fake", messages=[])
    assert loaded.done_reason == "load"
    assert time.monotonic() - start < 1.0


def test_unknown_path_is_plain_text_404_as_from_gin() -> None:
    with FakeOllamaServer() as server:
        answers = [
            httpx.get(f"{server.url}/api/nope"),
            httpx.post(f"{server.url}/api/nope", json={}),
            httpx.get(f"{server.url}/api/chat"),  # gin: a wrong method is a 404 too
            httpx.head(f"{server.url}/api/nope"),
        ]
        missing = httpx.post(f"{server.url}/api/chat", json={"model": "x", "messages": HI})
        assert [httpx.head(f"{server.url}{path}").status_code for path in ("/", "/api/tags")] == [
            200,
            200,
        ]
    for answer in answers:
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "text/plain"
    assert [a.text for a in answers] == ["404 page not found"] * 3 + [""]
    # An unknown model on a known endpoint stays Ollama's JSON error.
    assert missing.status_code == 404
    assert missing.json() == {"error": "model 'x' not found"}


# --- options.stop and options.num_predict ------------------------------------------------


def test_stop_ends_the_answer_before_the_stop_string() -> None:
    with FakeOllamaServer(script=["one two three four"]) as server:
        chunks = list(ChatOllama(model="fake", base_url=server.url, stop=[" three"]).stream("hi"))
    assert [c.text for c in chunks if c.text] == ["one", " two"]
    final = next(c for c in chunks if c.response_metadata.get("done"))
    assert final.response_metadata["done_reason"] == "stop"
    # The token that completed the stop string was generated, though not sent.
    assert final.usage_metadata is not None
    assert final.usage_metadata["output_tokens"] == 3


def test_stop_string_across_chunks_sends_nothing_of_it() -> None:
    reply = OllamaReply(content=["Hel", "lo wor", "ld", "!"])
    with FakeOllamaServer(script=[reply], cycle=True) as server:
        client = ollama.Client(host=server.url)
        parts = list(
            client.chat(model="fake", messages=HI, stream=True, options={"stop": ["xyz", "o w"]})
        )
        whole = client.chat(model="fake", messages=HI, options={"stop": ["ld"]})
    assert [p.message.content for p in parts if p.message.content] == ["Hel", "l"]
    assert (parts[-1].done_reason, parts[-1].eval_count) == ("stop", 2)
    assert (whole.message.content, whole.done_reason, whole.eval_count) == ("Hello wor", "stop", 3)


def test_stop_in_the_thinking_ends_everything() -> None:
    reply = OllamaReply(thinking="think hard then answer", content="4", tool_calls=CALL.tool_calls)
    with FakeOllamaServer(script=[reply]) as server:
        client = ollama.Client(host=server.url)
        response = client.chat(model="fake", messages=HI, think=True, options={"stop": [" then"]})
    assert (response.message.thinking, response.message.content) == ("think hard", "")
    assert not response.message.tool_calls
    assert response.done_reason == "stop"


def test_num_predict_caps_the_tokens_and_says_length() -> None:
    with FakeOllamaServer(script=["one two three four"]) as server:
        chunks = list(ChatOllama(model="fake", base_url=server.url, num_predict=2).stream("hi"))
    assert [c.text for c in chunks if c.text] == ["one", " two"]
    final = next(c for c in chunks if c.response_metadata.get("done"))
    assert final.response_metadata["done_reason"] == "length"
    assert final.usage_metadata is not None
    assert final.usage_metadata["output_tokens"] == 2


def test_num_predict_counts_the_thinking_tokens() -> None:
    with FakeOllamaServer(script=[THOUGHT], cycle=True) as server:
        thinking = ChatOllama(model="fake", base_url=server.url, reasoning=True, num_predict=7)
        reply = thinking.invoke("2+2?")
        plain = ChatOllama(model="fake", base_url=server.url, num_predict=2).invoke("2+2?")
    # Five thinking tokens, then two of the answer.
    assert reply.additional_kwargs["reasoning_content"] == "Two plus two is four."
    assert (reply.text, reply.response_metadata["done_reason"]) == ("The answer", "length")
    assert (plain.text, plain.response_metadata["done_reason"]) == ("The answer", "length")


def test_num_predict_against_stop_and_tool_calls() -> None:
    reply = OllamaReply(content="a b c", tool_calls=CALL.tool_calls)
    with FakeOllamaServer(script=[reply], cycle=True) as server:
        client = ollama.Client(host=server.url)

        def ask(**options: Any) -> ollama.ChatResponse:
            return client.chat(model="fake", messages=HI, options=options)

        # A stop string completed by token N wins over num_predict=N, as in the runner.
        both = ask(stop=[" b"], num_predict=2)
        short = ask(stop=[" b"], num_predict=1)
        no_call = ask(num_predict=3)  # the tool-call line would be token 4
        with_call = ask(num_predict=4)
        unlimited = ask(num_predict=-1)
    assert (both.message.content, both.done_reason) == ("a", "stop")
    assert (short.message.content, short.done_reason) == ("a", "length")
    assert (no_call.message.content, no_call.done_reason) == ("a b c", "length")
    assert not no_call.message.tool_calls
    assert with_call.message.tool_calls
    assert with_call.done_reason == "stop"
    assert unlimited.eval_count == 4


# --- ChatOllama --------------------------------------------------------------------------


def test_chat_ollama_streams_tokens_and_usage() -> None:
    reply = OllamaReply(content="Hello streaming world", eval_count=42, prompt_eval_count=7)
    with FakeOllamaServer(models={"llama3.2": [reply]}) as server:
        model = ChatOllama(model="llama3.2", base_url=server.url, validate_model_on_init=True)
        chunks = list(model.stream("hi"))
    assert [c.text for c in chunks if c.text] == ["Hello", " streaming", " world"]
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage == [{"input_tokens": 7, "output_tokens": 42, "total_tokens": 49}]
    final = next(c for c in chunks if c.response_metadata.get("done"))
    assert final.response_metadata["done_reason"] == "stop"
    assert final.response_metadata["model_name"] == "llama3.2"


def test_validate_model_on_init_uses_tags() -> None:
    with FakeOllamaServer(models={"llama3.2": ["x"]}) as server:
        with pytest.raises(ValueError, match="Model `mistral` not found in Ollama"):
            ChatOllama(model="mistral", base_url=server.url, validate_model_on_init=True)
        assert [r.path for r in server.requests] == ["/api/tags"]


def test_chat_ollama_reasoning_lands_in_reasoning_content() -> None:
    with FakeOllamaServer(script=[THOUGHT], cycle=True) as server:
        thinking = ChatOllama(model="fake", base_url=server.url, reasoning=True)
        chunks = list(thinking.stream("2+2?"))
        plain = ChatOllama(model="fake", base_url=server.url).invoke("2+2?")
        assert server.chat_requests[0].think is True
    reasoning = [c.additional_kwargs["reasoning_content"] for c in chunks if c.additional_kwargs]
    assert reasoning == ["Two", " plus", " two", " is", " four."]
    assert "".join(c.text for c in chunks) == "The answer is 4."
    # Without reasoning=True ChatOllama sends no "think", so Ollama separates no thinking.
    assert "think" not in server.chat_requests[1].body
    assert (plain.text, plain.additional_kwargs) == ("The answer is 4.", {})


def test_chat_ollama_tool_calls_arrive_whole_with_index_none() -> None:
    with FakeOllamaServer(script=[CALL]) as server:
        chunks = list(
            ChatOllama(model="fake", base_url=server.url).bind_tools([add]).stream("2+2?")
        )
    pieces = [
        piece for c in chunks if isinstance(c, AIMessageChunk) for piece in c.tool_call_chunks
    ]
    assert len(pieces) == 1
    assert (pieces[0]["name"], pieces[0]["index"]) == ("add", None)
    assert json.loads(pieces[0]["args"] or "") == {"a": 2, "b": 2}
    assert pieces[0]["id"]  # ChatOllama makes up a uuid: the wire id is dropped by the client


# --- through lgstream --------------------------------------------------------------------


def test_graph_streams_the_scripted_tokens_one_by_one() -> None:
    with FakeOllamaServer(script=["Task decomposition splits work."]) as server:
        assert text_of(server) == ["Task", " decomposition", " splits", " work."]


def test_graph_streams_explicit_chunks() -> None:
    with FakeOllamaServer(script=[OllamaReply(content=["Hel", "lo", "!"])]) as server:
        assert text_of(server) == ["Hel", "lo", "!"]


def test_graph_reasoning() -> None:
    with FakeOllamaServer(script=[THOUGHT]) as server:
        graph = build_seed_graph(ChatOllama(model="fake", base_url=server.url, reasoning=True))
        events = lgs.stream(graph, {"question": "q"}, modes=["messages"]) | lgs.ops.reasoning()
        thoughts = [ev.text for ev in events if isinstance(ev, lgs.Reasoning)]
    assert "".join(thoughts) == "Two plus two is four."


def test_graph_tool_calls() -> None:
    # The seed graph takes a chat model, not a binding: a one-node graph calls the tools.
    with FakeOllamaServer(script=[CALL]) as server:
        model = ChatOllama(model="fake", base_url=server.url).bind_tools([add])

        def call(state: MessagesState) -> dict[str, Any]:
            return {"messages": [model.invoke(state["messages"])]}

        graph = StateGraph(MessagesState).add_node("call", call).set_entry_point("call").compile()
        events = lgs.stream(graph, {"messages": [HumanMessage("2+2?")]}, modes=["messages"])
        ready = [ev for ev in events | lgs.ops.tool_calls() if isinstance(ev, lgs.ToolCallReady)]
    assert [(ev.name, ev.args, ev.node) for ev in ready] == [("add", {"a": 2, "b": 2}, "call")]


@pytest.mark.asyncio
async def test_graph_streams_async() -> None:
    async with FakeOllamaServer(
        script=[OllamaReply(content="one two three", token_delay=0.01)]
    ) as server:
        graph = build_seed_graph(ChatOllama(model="fake", base_url=server.url))
        events = lgs.astream(graph, {"question": "q"}, modes=["messages"])
        pieces = [piece async for piece in events | lgs.ops.nodes("generate") | lgs.ops.text()]
    assert pieces == ["one", " two", " three"]
    assert not server.running


# --- faults ------------------------------------------------------------------------------


def test_unknown_model_is_a_404_not_found() -> None:
    with FakeOllamaServer(models={"llama3.2": ["x"]}) as server:
        with pytest.raises(ollama.ResponseError) as error:
            text_of(server, model="mistral")
        assert error.value.status_code == 404
        assert "not found" in str(error.value)
        graph = build_seed_graph(ChatOllama(model="mistral", base_url=server.url))
        events = list(lgs.stream(graph, {"question": "q"}, modes=["messages"], raise_errors=False))
    failed = events[-1]
    assert isinstance(failed, lgs.RunFailed)
    assert isinstance(failed.error, ollama.ResponseError)


def test_error_line_mid_stream_raises_after_the_tokens_that_arrived() -> None:
    reply = OllamaReply(content="one two three four", error_after=2, error_message="out of memory")
    with FakeOllamaServer(script=[reply]) as server:
        seen: list[str] = []
        with pytest.raises(ollama.ResponseError, match="out of memory") as error:
            stream_until_error(server, seen)
    assert seen == ["one", " two"]
    assert error.value.status_code == -1  # a mid-stream error line has no HTTP status


def test_server_wide_error_and_run_failed() -> None:
    with FakeOllamaServer(script=["one two three"], error_after=1) as server:
        graph = build_seed_graph(ChatOllama(model="fake", base_url=server.url))
        events = list(lgs.stream(graph, {"question": "q"}, modes=["messages"], raise_errors=False))
    assert [ev.text for ev in events if isinstance(ev, lgs.Token)] == ["one"]
    assert isinstance(events[-1], lgs.RunFailed)


def test_dropped_connection_raises_after_the_tokens_that_arrived() -> None:
    with FakeOllamaServer(script=[OllamaReply(content="one two three", drop_after=2)]) as server:
        seen: list[str] = []
        with pytest.raises(httpx.RemoteProtocolError):
            stream_until_error(server, seen)
    assert seen == ["one", " two"]


def test_malformed_line_is_an_error_not_a_hang() -> None:
    with FakeOllamaServer(script=[OllamaReply(content="one two", malformed_after=1)]) as server:
        seen: list[str] = []
        with pytest.raises(json.JSONDecodeError):
            stream_until_error(server, seen)
    assert seen == ["one"]


def test_slow_first_token_is_measurable() -> None:
    reply = OllamaReply(content="late but here", first_token_delay=0.3)
    with FakeOllamaServer(script=[reply]) as server:
        start = time.monotonic()
        chunks = iter(ChatOllama(model="fake", base_url=server.url).stream("hi"))
        first = next(chunks)
        waited = time.monotonic() - start
        rest = [c.text for c in chunks]
    assert waited >= 0.3
    assert [first.text, *rest[:2]] == ["late", " but", " here"]


def test_token_delay_spaces_the_tokens() -> None:
    with FakeOllamaServer(script=["a b c d"], token_delay=0.05) as server:
        start = time.monotonic()
        assert text_of(server) == ["a", " b", " c", " d"]
    assert time.monotonic() - start >= 0.15


def test_connection_refused_on_a_stopped_server_fails_fast() -> None:
    server = FakeOllamaServer().start()
    url = server.url
    server.stop()
    model = ChatOllama(model="fake", base_url=url)
    start = time.monotonic()
    with pytest.raises(httpx.ConnectError):
        list(model.stream("hi"))
    assert time.monotonic() - start < 1.0
    with pytest.raises(ConnectionError):  # the non-streaming ollama calls convert it
        ollama.Client(host=url).list()


def test_non_streaming_faults() -> None:
    replies = [
        OllamaReply(content="x", error_after=0, error_message="boom"),
        OllamaReply(content="x", malformed_after=0),
        OllamaReply(content="x", drop_after=0),
    ]
    with FakeOllamaServer(script=replies) as server:
        client = ollama.Client(host=server.url)
        with pytest.raises(ollama.ResponseError, match="boom"):
            client.chat(model="fake", messages=HI)
        with pytest.raises(json.JSONDecodeError):
            client.chat(model="fake", messages=HI)
        with pytest.raises(httpx.RemoteProtocolError):
            client.chat(model="fake", messages=HI)


# --- the request log ---------------------------------------------------------------------


def test_request_log_records_model_messages_options_and_tools() -> None:
    with FakeOllamaServer(models={"llama3.2": ["ok"]}) as server:
        model = ChatOllama(model="llama3.2", base_url=server.url, temperature=0.2, num_predict=50)
        model.bind_tools([add]).invoke([HumanMessage("add 2 and 2")])
        (request,) = server.requests
    assert (request.method, request.path, request.model, request.stream) == (
        "POST",
        "/api/chat",
        "llama3.2",
        True,
    )
    assert request.messages == [{"role": "user", "content": "add 2 and 2"}]
    assert request.options == {"temperature": 0.2, "num_predict": 50}
    assert [t["function"]["name"] for t in request.tools] == ["add"]
    assert json.loads(request.raw) == request.body


# --- lifecycle ---------------------------------------------------------------------------


def test_stop_with_a_stream_in_progress_returns_within_a_second() -> None:
    server = FakeOllamaServer(script=[OllamaReply(content="a b c d e f", token_delay=5.0)]).start()
    client = ollama.Client(host=server.url)
    parts = client.chat(model="fake", messages=HI, stream=True)
    assert next(parts).message.content == "a"  # then the server sleeps 5 s per token
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 1.0
    with pytest.raises(httpx.HTTPError):  # the client sees the cut, it does not hang
        list(parts)
    assert not server.running


def test_stop_wakes_a_client_waiting_for_its_first_token() -> None:
    server = FakeOllamaServer(script=[OllamaReply(content="never", first_token_delay=30.0)]).start()
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            list(ChatOllama(model="fake", base_url=server.url).stream("hi"))
        except Exception as error:
            errors.append(error)

    thread = threading.Thread(target=consume)
    thread.start()
    while not server.requests:
        time.sleep(0.01)
    start = time.monotonic()
    server.stop()
    thread.join(2.0)
    assert time.monotonic() - start < 1.5
    assert not thread.is_alive()
    (error,) = errors
    assert isinstance(error, httpx.HTTPError)


def test_lifecycle_errors_and_restart() -> None:
    server = FakeOllamaServer()
    with pytest.raises(lgs.UsageError, match="not running"):
        _ = server.url
    with server:
        with pytest.raises(lgs.UsageError, match="already running"):
            server.start()
        assert server.url.startswith("http://127.0.0.1:")
        assert ollama.Client(host=server.url).chat(model="fake", messages=HI).message.content == (
            "Hello from FakeOllamaServer."
        )
    server.stop()  # twice is fine
    assert server.models == ["fake"]


@pytest.fixture
def running() -> Iterator[FakeOllamaServer]:
    with FakeOllamaServer(script=["fixture reply"], cycle=True) as server:
        yield server


def test_servers_run_side_by_side(running: FakeOllamaServer) -> None:
    with FakeOllamaServer(script=["other"]) as other:
        assert other.port != running.port
        assert text_of(other) == ["other"]
        assert text_of(running) == ["fixture", " reply"]


def test_async_context_manager_in_a_running_loop() -> None:
    async def main() -> str:
        async with FakeOllamaServer(script=["async hi"]) as server:
            client = ollama.AsyncClient(host=server.url)
            parts = [
                part.message.content
                async for part in await client.chat(model="fake", messages=HI, stream=True)
            ]
            return "".join(p or "" for p in parts)

    assert asyncio.run(main()) == "async hi"


@pytest.mark.asyncio
async def test_async_error_line_keeps_the_tokens_that_arrived() -> None:
    reply = OllamaReply(content="one two three", error_after=2, error_message="GPU fell off")
    async with FakeOllamaServer(script=[reply]) as server:
        graph = build_seed_graph(ChatOllama(model="fake", base_url=server.url))
        seen: list[str] = []

        async def consume() -> None:
            events = lgs.astream(graph, {"question": "q"}, modes=["messages"])
            async for piece in events | lgs.ops.text():
                seen.append(piece)

        with pytest.raises(ollama.ResponseError, match="GPU fell off"):
            await consume()
    assert seen == ["one", " two"]
