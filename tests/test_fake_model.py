"""FakeChatModel: scripted replies through LangChain's real streaming path."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from lgstream.testing import FakeChatModel, ScriptExhaustedError, split_tokens


@given(st.text())
def test_word_tokens_join_back_to_the_text(text: str) -> None:
    assert "".join(split_tokens(text)) == text
    assert "".join(split_tokens(text, "chars")) == text


def test_streams_its_script_in_order() -> None:
    model = FakeChatModel(script=["one two", "three"])
    assert [c.text for c in model.stream("hi")] == ["one", " two", ""]
    assert model.invoke("again").text == "three"
    assert [m[0].content for m in model.calls] == ["hi", "again"]
    assert model.tokens_streamed == 2  # invoke() outside a graph does not stream


def test_chars_and_async() -> None:
    model = FakeChatModel(script=["abc"], split="chars")

    async def main() -> list[str]:
        return [c.text async for c in model.astream("x")]

    assert asyncio.run(main()) == ["a", "b", "c", ""]


def test_script_as_a_function_and_messages() -> None:
    def echo(messages: list[BaseMessage]) -> AIMessage:
        return AIMessage(content=f"you said {messages[-1].text}", id="fixed")

    model = FakeChatModel(script=echo)
    reply = model.invoke([HumanMessage("hello")])
    assert (reply.text, reply.id) == ("you said hello", "fixed")


def test_running_out_of_script_is_a_clear_error() -> None:
    model = FakeChatModel(script=["only one"])
    model.invoke("a")
    with pytest.raises(ScriptExhaustedError, match="called 2 times but its script has 1 replies"):
        model.invoke("b")
    cycling = FakeChatModel(script=["x", "y"], cycle=True)
    assert [cycling.invoke("?").text for _ in range(3)] == ["x", "y", "x"]
