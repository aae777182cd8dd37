"""FakeChatModel: scripted replies through LangChain's real streaming path."""

from __future__ import annotations

import asyncio
import json
import time
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolCall,
    ToolCallChunk,
    ToolMessage,
    message_chunk_to_message,
)
from langchain_core.messages.ai import UsageMetadata, add_ai_message_chunks
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, create_react_agent, tools_condition
from langgraph.warnings import LangGraphDeprecatedSinceV10
from pydantic import BaseModel
from typing_extensions import TypedDict

import lgstream as lgs
from lgstream.testing import (
    FakeChatModel,
    FakeModelError,
    ReasoningStyle,
    Reply,
    ScriptExhaustedError,
    ToolCallStyle,
    split_tokens,
)

from .graphs import build_seed_graph


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


# -- Reply: reasoning, tool calls, usage, ids -----------------------------------

CALLS: list[dict[str, Any]] = [
    {"name": "search", "args": {"query": "weather in Paris", "days": 3}, "id": "call_a"},
    {"name": "calc", "args": {"expr": "1 + 2 * 3"}, "id": "call_b"},
]
STYLES: list[ToolCallStyle] = ["indexed", "parallel", "whole"]


def joined(chunks: Sequence[AIMessageChunk]) -> AIMessageChunk:
    return add_ai_message_chunks(chunks[0], *chunks[1:])


def reasoning_of(message: BaseMessage) -> str:
    found = message.additional_kwargs.get("reasoning_content", "")
    if isinstance(message.content, list):
        found += "".join(
            b["reasoning"]
            for b in message.content
            if isinstance(b, dict) and b.get("type") == "reasoning"
        )
    return str(found)


def scripted_calls(message: AIMessage) -> list[dict[str, Any]]:
    return [{"name": c["name"], "args": c["args"], "id": c["id"]} for c in message.tool_calls]


def test_text_as_a_list_streams_exactly_those_chunks() -> None:
    model = FakeChatModel(script=[Reply(text=["Hel", "lo", " there"])])
    assert [c.text for c in model.stream("hi")] == ["Hel", "lo", " there", ""]


@pytest.mark.parametrize("reasoning_style", ["ollama", "blocks"])
@pytest.mark.parametrize("tool_call_style", STYLES)
def test_every_reply_part_streams_and_joins(
    reasoning_style: ReasoningStyle, tool_call_style: ToolCallStyle
) -> None:
    reply = Reply(
        text="It is sunny.",
        reasoning="Look it up first.",
        tool_calls=CALLS,
        response_metadata={"finish_reason": "tool_calls", "model_name": "fake"},
        id="msg-1",
    )
    model = FakeChatModel(
        script=[reply], reasoning_style=reasoning_style, tool_call_style=tool_call_style
    )
    chunks = list(model.stream("what is the weather"))
    message = joined(chunks)
    assert message.text == "It is sunny."
    assert reasoning_of(message) == "Look it up first."
    assert scripted_calls(message) == CALLS
    assert message.id == "msg-1"
    assert {c.id for c in chunks[:-1]} == {"msg-1"}  # the base class's closing chunk has its own
    assert message.response_metadata["finish_reason"] == "tool_calls"
    # reasoning comes first, then the text
    texts = [c.text for c in chunks]
    first_text = next(i for i, t in enumerate(texts) if t)
    assert reasoning_of(joined(chunks[:first_text])) == "Look it up first."
    # default usage: 4 input words, one output token per chunk the model made
    made = len(chunks) - 1  # the base class adds an empty closing chunk
    assert message.usage_metadata == {
        "input_tokens": 4,
        "output_tokens": made,
        "total_tokens": 4 + made,
    }
    # usage and response metadata ride on the model's last chunk only
    assert [c.usage_metadata is not None for c in chunks[:made]] == [False] * (made - 1) + [True]


def tool_pieces(chunks: Sequence[AIMessageChunk]) -> list[ToolCallChunk]:
    pieces = [tc for c in chunks for tc in c.tool_call_chunks]
    assert all(len(c.tool_call_chunks) <= 1 for c in chunks)
    return pieces


def test_indexed_tool_calls_come_one_after_the_other_in_fragments() -> None:
    model = FakeChatModel(script=[Reply(tool_calls=CALLS)], tool_call_style="indexed")
    pieces = tool_pieces(list(model.stream("go")))
    indexes = [p["index"] for p in pieces]
    assert indexes == sorted(i for i in indexes if i is not None)
    assert indexes.count(0) > 1
    assert indexes.count(1) > 1
    for i, call in enumerate(CALLS):
        mine = [p for p in pieces if p["index"] == i]
        assert (mine[0]["name"], mine[0]["id"]) == (call["name"], call["id"])
        assert all(p["name"] is None and p["id"] is None for p in mine[1:])
        assert json.loads("".join(p["args"] or "" for p in mine)) == call["args"]


def test_parallel_tool_calls_interleave() -> None:
    model = FakeChatModel(script=[Reply(tool_calls=CALLS, tool_call_style="parallel")])
    indexes = [p["index"] for p in tool_pieces(list(model.stream("go")))]
    assert indexes[:4] == [0, 1, 0, 1]


def test_whole_tool_calls_are_one_chunk_each_without_index() -> None:
    model = FakeChatModel(script=[Reply(tool_calls=CALLS)], tool_call_style="whole")
    pieces = tool_pieces(list(model.stream("go")))
    assert [(p["name"], p["id"], p["index"]) for p in pieces] == [
        ("search", "call_a", None),
        ("calc", "call_b", None),
    ]
    assert [json.loads(p["args"] or "") for p in pieces] == [c["args"] for c in CALLS]


def test_missing_tool_call_ids_are_made_up_and_stable() -> None:
    model = FakeChatModel(script=[Reply(tool_calls=[{"name": "f", "args": {}}])], cycle=True)
    assert [c["id"] for c in model.invoke("a").tool_calls] == ["call_0_0"]
    assert [c["id"] for c in joined(list(model.stream("b"))).tool_calls] == ["call_1_0"]


def test_scripted_usage_and_ai_message_replies() -> None:
    usage = UsageMetadata(input_tokens=10, output_tokens=2, total_tokens=12)
    reply = AIMessage(
        content="Calling.",
        tool_calls=[ToolCall(name="f", args={"x": 1}, id="t1")],
        usage_metadata=usage,
        additional_kwargs={"reasoning_content": "hmm"},
        id="ai-1",
    )
    model = FakeChatModel(script=[reply])
    message = joined(list(model.stream("go")))
    assert (message.text, message.id, message.usage_metadata) == ("Calling.", "ai-1", usage)
    assert scripted_calls(message) == [{"name": "f", "args": {"x": 1}, "id": "t1"}]
    assert reasoning_of(message) == "hmm"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
tool_call_specs = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
            "args": st.dictionaries(st.text(max_size=6), json_values, max_size=4),
        }
    ),
    max_size=3,
).map(lambda calls: [{**call, "id": f"id{i}"} for i, call in enumerate(calls)])


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(max_size=40),
    reasoning=st.text(max_size=20),
    calls=tool_call_specs,
    tool_call_style=st.sampled_from(STYLES),
    reasoning_style=st.sampled_from(["ollama", "blocks"]),
    split=st.sampled_from(["words", "chars"]),
)
def test_generate_equals_the_joined_stream(
    text: str,
    reasoning: str,
    calls: list[dict[str, Any]],
    tool_call_style: ToolCallStyle,
    reasoning_style: ReasoningStyle,
    split: Literal["words", "chars"],
) -> None:
    reply = Reply(text=text, reasoning=reasoning, tool_calls=calls, id="same")
    model = FakeChatModel(
        script=[reply],
        cycle=True,
        split=split,
        tool_call_style=tool_call_style,
        reasoning_style=reasoning_style,
    )
    streamed = joined(list(model.stream("q")))
    generated = model.invoke("q")
    assert generated == message_chunk_to_message(streamed)
    assert generated.text == text
    assert reasoning_of(generated) == reasoning
    assert scripted_calls(streamed) == calls
    assert scripted_calls(generated) == calls


# -- failures, latency -----------------------------------------------------------


def test_fail_after_streams_that_many_chunks_then_raises() -> None:
    model = FakeChatModel(script=[Reply(text="one two three four", fail_after=2)], cycle=True)
    got: list[str] = []
    with pytest.raises(FakeModelError, match="after 2 chunks"):
        got.extend(c.text for c in model.stream("go"))
    assert got == ["one", " two"]
    assert model.tokens_streamed == 2
    with pytest.raises(FakeModelError):
        model.invoke("go")


def test_fail_after_inside_a_graph_run() -> None:
    model = FakeChatModel(script=[Reply(text="partial answer that dies", fail_after=2)])
    events: list[lgs.Event] = []
    with pytest.raises(FakeModelError):
        events.extend(lgs.stream(build_seed_graph(model), {"question": "q"}))
    assert "".join(ev.text for ev in events if isinstance(ev, lgs.Token)) == "partial answer"
    assert isinstance(events[-1], lgs.RunFailed)
    assert isinstance(events[-1].error, FakeModelError)


def test_delays_sync() -> None:
    model = FakeChatModel(script=["a b c"], first_token_delay=0.15, delay=0.03)
    start = time.perf_counter()
    stream = model.stream("go")
    next(stream)
    first = time.perf_counter() - start
    list(stream)
    total = time.perf_counter() - start
    assert 0.15 <= first < 0.15 + 0.1
    assert total >= 0.15 + 2 * 0.03


def test_delays_async() -> None:
    model = FakeChatModel(script=["a b c"], first_token_delay=0.15, delay=0.03)

    async def main() -> tuple[float, float]:
        start = time.perf_counter()
        stamps = [time.perf_counter() - start async for _ in model.astream("go")]
        return stamps[0], stamps[-1]

    first, total = asyncio.run(main())
    assert 0.15 <= first < 0.15 + 0.1
    assert total >= 0.15 + 2 * 0.03


def test_invoke_waits_as_long_as_the_stream_would() -> None:
    model = FakeChatModel(script=["a b c"], first_token_delay=0.05, delay=0.02)
    start = time.perf_counter()
    model.invoke("go")
    assert time.perf_counter() - start >= 0.05 + 2 * 0.02


# -- tools, structured output, script functions ---------------------------------


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}."


def agent_script(messages: list[BaseMessage]) -> Reply:
    last = messages[-1]
    if isinstance(last, ToolMessage):
        return Reply(text=f"Done: {last.text}")
    return Reply(tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}}])


def test_bind_tools_runs_a_model_and_tool_node_loop() -> None:
    model = FakeChatModel(script=agent_script)
    bound = model.bind_tools([get_weather])

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([get_weather]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    graph = builder.compile()
    events = lgs.stream(graph, {"messages": [HumanMessage("weather?")]}, modes=["messages"])
    text = "".join(ev.text for ev in events if isinstance(ev, lgs.Token) and ev.node == "agent")
    assert text == "Done: Sunny in Paris."
    assert model.bound_tools == [["get_weather"], ["get_weather"]]


def test_bind_tools_runs_create_react_agent() -> None:
    model = FakeChatModel(script=agent_script)
    with warnings.catch_warnings():
        # Deprecated in LangGraph 1.x in favour of langchain.agents, still widely used.
        warnings.simplefilter("ignore", LangGraphDeprecatedSinceV10)
        agent = create_react_agent(model, [get_weather])
    result = agent.invoke({"messages": [HumanMessage("weather?")]})
    assert result["messages"][-1].text == "Done: Sunny in Paris."
    assert isinstance(result["messages"][2], ToolMessage)


class Answer(BaseModel):
    city: str
    degrees: int


class AnswerDict(TypedDict):
    city: str
    degrees: int


def test_with_structured_output() -> None:
    text = '{"city": "Paris", "degrees": 21}'
    model = FakeChatModel(script=[text], cycle=True)
    assert model.with_structured_output(Answer).invoke("?") == Answer(city="Paris", degrees=21)
    assert model.with_structured_output(AnswerDict).invoke("?") == {"city": "Paris", "degrees": 21}
    schema = {"title": "answer", "type": "object", "properties": {"city": {"type": "string"}}}
    assert model.with_structured_output(schema).invoke("?") == {"city": "Paris", "degrees": 21}
    from_tool = FakeChatModel(
        script=[Reply(tool_calls=[{"name": "Answer", "args": {"city": "Rome", "degrees": 25}}])]
    )
    assert from_tool.with_structured_output(Answer).invoke("?") == Answer(city="Rome", degrees=25)
    raw = FakeChatModel(script=["not json"]).with_structured_output(Answer, include_raw=True)
    out = raw.invoke("?")
    assert isinstance(out, dict)
    assert out["parsed"] is None
    assert isinstance(out["parsing_error"], ValueError)


def test_script_function_can_return_any_reply_type() -> None:
    def script(messages: list[BaseMessage]) -> str | Reply:
        if len(messages) > 1:
            return Reply(text=["a", "b"], id="two")
        return "one word"

    model = FakeChatModel(script=script)
    assert model.invoke("x").text == "one word"
    assert [c.text for c in model.stream([HumanMessage("x"), HumanMessage("y")])] == ["a", "b", ""]


def test_a_bad_reply_type_is_a_clear_error() -> None:
    model = FakeChatModel(script=[42])
    with pytest.raises(TypeError, match="str, an AIMessage or a Reply, not int"):
        model.invoke("x")


# -- issue 11: LangChain's standard behaviour -----------------------------------------


def test_a_misspelt_argument_is_refused_with_a_suggestion() -> None:
    from lgstream import UsageError

    with pytest.raises(UsageError, match=r"'scirpt'.*Did you mean 'script'"):
        FakeChatModel(scirpt=["Hi"])  # type: ignore[call-arg]


def test_standard_parameters_are_accepted_and_traced() -> None:
    model = FakeChatModel(streaming=True, temperature=0, max_tokens=10, stop=["x"], api_key="k")
    params = model._get_ls_params()
    assert params["ls_model_name"] == "fake"
    assert params["ls_provider"] == "fake"
    assert params["ls_stop"] == ["x"]
    assert model._get_ls_params(model="other")["ls_model_name"] == "other"


def test_usage_is_recorded_by_get_usage_metadata_callback() -> None:
    from langchain_core.callbacks import get_usage_metadata_callback

    model = FakeChatModel(script=["a b c"], cycle=True, model="m1")
    with get_usage_metadata_callback() as callback:
        model.invoke("hello")
        list(model.stream("hello"))
    assert callback.usage_metadata["m1"]["output_tokens"] == 6


def test_stop_sequences_cut_the_text() -> None:
    model = FakeChatModel(script=["I love you so much"], cycle=True, stop=["you"])
    assert model.invoke("hi").content == "I love "
    assert "".join(str(c.content) for c in model.stream("hi", stop=["love"])) == "I "
    explicit = FakeChatModel(script=[Reply(text=["I l", "ove y", "ou"])])
    assert [c.content for c in explicit.stream("hi", stop=["ve"])][:2] == ["I l", "o"]


def test_structured_output_tells_the_callbacks_its_schema() -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    class Joke(BaseModel):
        setup: str

    seen: list[dict[str, Any]] = []

    class Handler(BaseCallbackHandler):
        def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
            seen.append(kwargs.get("options", {}))

    model = FakeChatModel(script=['{"setup": "s"}'])
    assert model.with_structured_output(Joke).invoke("x", config={"callbacks": [Handler()]}) == (
        Joke(setup="s")
    )
    assert seen[0]["ls_structured_output_format"]["schema"]["title"] == "Joke"


def test_structured_output_takes_a_pydantic_v1_model() -> None:
    import pydantic.v1

    class Joke(pydantic.v1.BaseModel):
        setup: str

    model = FakeChatModel(script=['{"setup": "s"}'])
    assert model.with_structured_output(Joke).invoke("x") == Joke(setup="s")


def test_a_script_function_sees_the_bound_tools_and_tool_choice() -> None:
    from lgstream.testing import ScriptCall

    def script(messages: list[BaseMessage], call: ScriptCall) -> Reply:
        return Reply(text=f"{call.tool_names} {call.tool_choice}")

    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    model = FakeChatModel(script=script)
    assert model.bind_tools([add], tool_choice="add").invoke("x").content == "['add'] add"


def test_calls_are_bounded_by_keep_calls() -> None:
    model = FakeChatModel(script=["a"], cycle=True, keep_calls=3)
    for n in range(10):
        model.invoke(f"q{n}")
    assert [m[0].content for m in model.calls] == ["q7", "q8", "q9"]
    assert len(model.bound_tools) == 3
    assert model.call_count == 10
    assert FakeChatModel(keep_calls=0).calls == []
