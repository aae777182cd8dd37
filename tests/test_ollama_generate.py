"""FakeOllamaServer's /api/generate, through OllamaLLM, the ollama client and raw httpx."""

from __future__ import annotations

import json

import httpx
import ollama
import pytest
from langchain_ollama import OllamaLLM

from lgstream.testing import FakeOllamaServer, OllamaReply, OllamaRequest

THOUGHT = OllamaReply(content="The answer is 4.", thinking="Two plus two is four.")


def test_ollama_llm_invoke_and_stream() -> None:
    with FakeOllamaServer(models={"llama3.2": ["Hello there", "one two three"]}) as server:
        llm = OllamaLLM(model="llama3.2", base_url=server.url)
        assert llm.invoke("hi") == "Hello there"
        assert list(llm.stream("count")) == ["one", " two", " three", ""]  # "" is the done line
        first, second = server.generate_requests
    assert (first.method, first.path, first.model, first.prompt) == (
        "POST",
        "/api/generate",
        "llama3.2",
        "hi",
    )
    assert (first.messages, second.prompt, second.stream) == ([], "count", True)
    assert server.chat_requests == []


def test_ollama_llm_final_line_and_thinking() -> None:
    with FakeOllamaServer(script=[THOUGHT], cycle=True) as server:
        thinking = OllamaLLM(model="fake", base_url=server.url, reasoning=True)
        result = thinking.generate(["2+2?"])
        plain = OllamaLLM(model="fake", base_url=server.url).generate(["2+2?"])
        asked = server.generate_requests[0].think
    (generation,) = result.generations[0]
    info = generation.generation_info or {}
    assert generation.text == "The answer is 4."
    assert info["thinking"] == "Two plus two is four."
    assert (info["done"], info["done_reason"], info["eval_count"]) == (True, "stop", 9)
    assert info["prompt_eval_count"] == 1
    assert info["total_duration"]
    assert asked is True
    # Without reasoning=True no thinking is asked for, so none is sent.
    (plain_generation,) = plain.generations[0]
    assert plain_generation.generation_info is not None
    assert plain_generation.generation_info["thinking"] is None  # the client's own default
    assert plain_generation.generation_info["eval_count"] == 4


def test_ollama_client_generate_streaming_and_whole() -> None:
    with FakeOllamaServer(script=[THOUGHT], cycle=True) as server:
        client = ollama.Client(host=server.url)
        parts = list(client.generate(model="fake", prompt="2+2?", stream=True, think="high"))
        whole = client.generate(model="fake", prompt="2+2?", system="Be brief.", think=True)
        (_, request) = server.generate_requests
    assert [p.thinking for p in parts if p.thinking] == ["Two", " plus", " two", " is", " four."]
    assert "".join(p.response or "" for p in parts) == "The answer is 4."
    assert [p.done for p in parts] == [False] * 9 + [True]
    assert (parts[-1].done_reason, parts[-1].eval_count) == ("stop", 9)
    assert (whole.response, whole.thinking, whole.done) == (
        "The answer is 4.",
        "Two plus two is four.",
        True,
    )
    assert whole.prompt_eval_count == 3  # the prompt's and the system prompt's words
    assert (request.system, request.stream) == ("Be brief.", False)


def test_generate_wire_lines_have_ollamas_fields() -> None:
    with FakeOllamaServer(script=["Hi there"]) as server:
        body = {"model": "fake", "prompt": "hi"}
        with httpx.stream("POST", f"{server.url}/api/generate", json=body) as answer:
            content_type = answer.headers["content-type"]
            lines = [json.loads(line) for line in answer.iter_lines() if line]
    assert content_type == "application/x-ndjson"
    assert [sorted(line) for line in lines[:-1]] == [
        ["created_at", "done", "model", "response"]
    ] * 2
    assert [line["response"] for line in lines] == ["Hi", " there", ""]
    final = lines[-1]
    assert "message" not in final
    assert "context" not in final  # the fake keeps no context (see the docs)
    assert {"done", "done_reason", "eval_count", "prompt_eval_count", "total_duration"} <= set(
        final
    )


def test_generate_load_request_uses_no_reply() -> None:
    calls: list[OllamaRequest] = []

    def script(request: OllamaRequest) -> str:
        calls.append(request)
        return f"you said {request.prompt}"

    with FakeOllamaServer(models={"fn": script, "list": ["first"]}) as server:
        client = ollama.Client(host=server.url)
        loaded = client.generate(model="fn")
        streamed = list(client.generate(model="list", prompt="", stream=True))
        assert client.generate(model="list", prompt="go").response == "first"
        assert client.generate(model="fn", prompt="hey").response == "you said hey"
    assert (loaded.done, loaded.done_reason, loaded.response) == (True, "load", "")
    assert [(p.done, p.done_reason) for p in streamed] == [(True, "load")]
    assert [c.prompt for c in calls] == ["hey"]


def test_generate_applies_stop_and_num_predict() -> None:
    with FakeOllamaServer(script=["one two three four"], cycle=True) as server:
        stopped = OllamaLLM(model="fake", base_url=server.url, stop=[" three"])
        assert stopped.invoke("hi") == "one two"
        short = OllamaLLM(model="fake", base_url=server.url, num_predict=1).generate(["hi"])
    (generation,) = short.generations[0]
    assert generation.text == "one"
    assert generation.generation_info is not None
    assert generation.generation_info["done_reason"] == "length"


def test_generate_faults_and_unknown_model() -> None:
    reply = OllamaReply(content="one two three", error_after=2, error_message="out of memory")
    with FakeOllamaServer(script=[reply, OllamaReply(content="x", drop_after=0)]) as server:
        llm = OllamaLLM(model="fake", base_url=server.url)
        seen: list[str] = []
        with pytest.raises(ollama.ResponseError, match="out of memory"):
            seen.extend(llm.stream("hi"))  # extend keeps what arrived before the error
        assert seen == ["one", " two"]
        with pytest.raises(httpx.RemoteProtocolError):
            llm.invoke("hi")
        with pytest.raises(ollama.ResponseError) as missing:
            OllamaLLM(model="mistral", base_url=server.url).invoke("hi")
    assert missing.value.status_code == 404
    assert missing.value.error == "model 'mistral' not found"


def test_chat_and_generate_share_the_script_and_generate_has_no_tools() -> None:
    call = OllamaReply(content="x", tool_calls=[{"name": "add", "arguments": {"a": 1}}])
    with FakeOllamaServer(script=["chat first", call]) as server:
        client = ollama.Client(host=server.url)
        chat = client.chat(model="fake", messages=[{"role": "user", "content": "hi"}])
        generated = client.generate(model="fake", prompt="hi")
    assert (chat.message.content, generated.response) == ("chat first", "x")
    assert generated.eval_count == 1  # the tool calls are neither sent nor counted
    assert [r.path for r in server.requests] == ["/api/chat", "/api/generate"]
