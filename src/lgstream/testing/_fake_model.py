"""A scripted chat model that really streams, for tests and the offline demo.

A script reply becomes a list of ``AIMessageChunk`` once, when the model is
called; ``_stream`` / ``_astream`` then only wrap and yield them, and
``_generate`` joins the same list with ``add_ai_message_chunks``, so the
streaming and the non-streaming paths always agree on the final message.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, TypeVar

import pydantic.v1
from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    message_chunk_to_message,
)
from langchain_core.messages.ai import UsageMetadata, add_ai_message_chunks
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    PydanticUserError,
    TypeAdapter,
    model_validator,
)

from .._errors import UsageError, _suggest

__all__ = [
    "FakeChatModel",
    "FakeModelError",
    "ReasoningStyle",
    "Reply",
    "ScriptCall",
    "ScriptExhaustedError",
    "ScriptReply",
    "ToolCallStyle",
    "split_tokens",
]

Split = Literal["words", "chars"]
ReasoningStyle = Literal["ollama", "blocks"]
"""Where reasoning goes: ``"ollama"`` puts each piece in
``additional_kwargs["reasoning_content"]``; ``"blocks"`` makes every chunk's
content a list of langchain-core standard content blocks."""
ToolCallStyle = Literal["indexed", "parallel", "whole"]
"""How tool calls stream: ``"indexed"`` (JSON argument fragments with ``index=i``,
one call after the other, OpenAI's shape), ``"parallel"`` (the same fragments
interleaved round-robin across calls) or ``"whole"`` (each call in one chunk with
``index=None``, Ollama's shape)."""

_WORDS = re.compile(r"\s*\S+|\s+")
_M = TypeVar("_M", bound=BaseModel)


class ScriptExhaustedError(UsageError, LookupError):
    """The fake model was called more times than its script has replies."""

    def __init__(self, calls: int, replies: int) -> None:
        super().__init__(
            f"FakeChatModel was called {calls} times but its script has {replies}"
            " replies; add replies, pass a function as the script, or set cycle=True."
        )


class FakeModelError(RuntimeError):
    """The failure a :class:`Reply` with ``fail_after`` scripts: a provider that
    dies in the middle of a stream."""

    def __init__(self, chunks: int) -> None:
        super().__init__(f"FakeChatModel failed on purpose after {chunks} chunks (fail_after)")
        self.chunks = chunks


def split_tokens(text: str, split: Split = "words") -> list[str]:
    """Split text the way the fake model streams it.

    ``"words"`` keeps the whitespace before each word with it, so the pieces
    join back to the text exactly; ``"chars"`` gives one character per token.
    """
    if split == "chars":
        return list(text)
    return _WORDS.findall(text)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """One scripted reply with everything a real provider can stream.

    The chunks come in this order: reasoning, text, tool calls; the last chunk
    carries the usage and the response metadata.
    """

    text: str | Sequence[str] = ""
    """The answer: a string, cut into tokens by the model's ``split``, or a list
    of strings streamed as exactly those chunks."""
    reasoning: str | Sequence[str] = ""
    """Thinking streamed before the text; a string or explicit chunks, like ``text``."""
    tool_calls: Sequence[Mapping[str, Any]] = ()
    """Tool calls as ``{"name": ..., "args": {...}, "id": ...}`` dicts (a
    langchain-core ``ToolCall`` fits); a missing id becomes
    ``"call_<call number>_<position>"``."""
    usage: UsageMetadata | None = None
    """Token usage on the last chunk; ``None`` computes it: input tokens are the
    whitespace-separated words of the input messages, output tokens the chunks."""
    response_metadata: Mapping[str, Any] = field(default_factory=dict)
    """Provider metadata (``finish_reason``, ``model_name``, ...) on the last chunk."""
    fail_after: int | None = None
    """Stream this many chunks, then raise :class:`FakeModelError` (the
    non-streaming path raises at once)."""
    id: str | None = None
    """The message id on every chunk; ``None`` lets LangChain assign a run id."""
    reasoning_style: ReasoningStyle | None = None
    """Overrides the model's ``reasoning_style`` for this reply."""
    tool_call_style: ToolCallStyle | None = None
    """Overrides the model's ``tool_call_style`` for this reply."""


ScriptReply: TypeAlias = str | AIMessage | Reply
"""Anything a script can answer with."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptCall:
    """What a two-argument script function sees of a call besides the messages:
    ``script(messages, call)``, so it can answer "call the tool I was given"."""

    index: int
    """The call's number, from 0."""
    tools: Sequence[Mapping[str, Any]]
    """The bound tools as OpenAI tool dicts (``bind_tools`` converts them)."""
    tool_choice: Any
    """The ``tool_choice`` bound with the tools (``"any"``, a tool name, ...), or ``None``."""
    stop: Sequence[str]
    """The stop sequences in force for this call."""

    @property
    def tool_names(self) -> list[str]:
        """The names of the bound tools, in order."""
        return [_tool_name(tool) for tool in self.tools]


Script: TypeAlias = (
    Sequence[ScriptReply]
    | Callable[[list[BaseMessage]], ScriptReply]
    | Callable[[list[BaseMessage], ScriptCall], ScriptReply]
)


def _takes_call(function: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: one argument
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    starred = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    return starred or len(positional) >= 2


def _as_reply(reply: ScriptReply) -> Reply:
    if isinstance(reply, Reply):
        return reply
    if isinstance(reply, str):
        return Reply(text=reply)
    if not isinstance(reply, AIMessage):
        raise TypeError(
            f"a FakeChatModel script reply must be a str, an AIMessage or a Reply,"
            f" not {type(reply).__name__}"
        )
    reasoning = reply.additional_kwargs.get("reasoning_content", "")
    return Reply(
        text=reply.content if isinstance(reply.content, str) else reply.text,
        reasoning=reasoning if isinstance(reasoning, str) else "",
        tool_calls=reply.tool_calls,
        usage=reply.usage_metadata,
        response_metadata=reply.response_metadata,
        id=reply.id,
    )


def _pieces(value: str | Sequence[str], split: Split) -> Sequence[str]:
    if isinstance(value, str):
        return split_tokens(value, split)
    return value


def _tool_calls(reply: Reply, call_no: int) -> list[tuple[str, str, str]]:
    calls = []
    for position, call in enumerate(reply.tool_calls):
        if "name" not in call or not isinstance(call.get("args", {}), Mapping):
            raise TypeError(
                f"a scripted tool call needs a 'name' and a dict of 'args', got {call!r}"
            )
        call_id = call.get("id") or f"call_{call_no}_{position}"
        calls.append((str(call["name"]), json.dumps(call.get("args", {})), call_id))
    return calls


def _stop_at(pieces: Sequence[str], stop: Sequence[str]) -> Sequence[str]:
    """Cut the text before the first stop sequence, keeping the pieces' boundaries."""
    text = "".join(pieces)
    ends = [at for at in (text.find(word) for word in stop if word) if at >= 0]
    if not ends:
        return pieces
    end = min(ends)
    out: list[str] = []
    seen = 0
    for piece in pieces:
        if seen + len(piece) >= end:
            if end > seen:
                out.append(piece[: end - seen])
            break
        out.append(piece)
        seen += len(piece)
    return out


def _input_tokens(messages: Sequence[BaseMessage]) -> int:
    return sum(len(message.text.split()) for message in messages)


# Building a chunk is the per-token cost that matters: pydantic validation of an
# AIMessageChunk and a ChatGenerationChunk takes ~6 us, more than LangChain's
# own per-chunk work. Text chunks are all alike, so they are made the way
# pydantic's own ``BaseModel.__copy__`` makes a copy (a new instance over a
# copied ``__dict__``), from a validated template, with fresh containers so
# that no two chunks share a mutable dict or list.
_new = object.__new__
_set = object.__setattr__


def _copy_with(template: _M, updates: dict[str, Any]) -> _M:
    copy = _new(type(template))
    values = template.__dict__.copy()
    values.update(updates)
    _set(copy, "__dict__", values)
    _set(copy, "__pydantic_fields_set__", set(template.__pydantic_fields_set__))
    extra = template.__pydantic_extra__
    _set(copy, "__pydantic_extra__", None if extra is None else dict(extra))
    _set(copy, "__pydantic_private__", template.__pydantic_private__)
    return copy


_GENERATION = ChatGenerationChunk(message=AIMessageChunk(content=""))


def _generation(message: AIMessageChunk) -> ChatGenerationChunk:
    content = message.content
    if isinstance(content, str):  # what ChatGenerationChunk's validator would compute
        return _copy_with(_GENERATION, {"message": message, "text": content})
    return ChatGenerationChunk(message=message)


@dataclass(frozen=True, slots=True)
class _Plan:
    """A reply cut into pieces, once per call; chunks are made from it lazily."""

    reasoning: Sequence[str]
    text: Sequence[str]
    tools: list[AIMessageChunk]
    blocks: bool
    id: str | None
    usage: UsageMetadata
    response_metadata: Mapping[str, Any]
    fail_after: int | None

    @property
    def size(self) -> int:
        """How many chunks the reply makes."""
        return max(1, len(self.reasoning) + len(self.text) + len(self.tools))

    def chunks(self) -> Iterator[AIMessageChunk]:
        """The reply's chunks; the last one carries usage and response metadata."""
        remaining = self.size
        for chunk in self._parts():
            remaining -= 1
            if not remaining:
                chunk.usage_metadata = self.usage
                if self.response_metadata:
                    chunk.response_metadata = dict(self.response_metadata)
            yield chunk

    def _parts(self) -> Iterator[AIMessageChunk]:
        rid = self.id
        if self.blocks:
            # An "index" per block lets add_ai_message_chunks merge the pieces
            # into one reasoning block and one text block.
            for piece in self.reasoning:
                block = {"type": "reasoning", "reasoning": piece, "index": 0}
                yield AIMessageChunk(content=[block], id=rid)
            text_index = 1 if self.reasoning else 0
            for piece in self.text:
                block = {"type": "text", "text": piece, "index": text_index}
                yield AIMessageChunk(content=[block], id=rid)
        else:
            template = AIMessageChunk(content="", id=rid)
            for piece in self.reasoning:
                yield _copy_with(template, _fresh("", {"reasoning_content": piece}))
            for piece in self.text:
                yield _copy_with(template, _fresh(piece, {}))
        yield from self.tools
        if not (self.reasoning or self.text or self.tools):
            yield AIMessageChunk(content=[] if self.blocks else "", id=rid)


def _fresh(content: str, additional_kwargs: dict[str, Any]) -> dict[str, Any]:
    return {
        "content": content,
        "additional_kwargs": additional_kwargs,
        "response_metadata": {},
        "tool_calls": [],
        "invalid_tool_calls": [],
        "tool_call_chunks": [],
    }


class FakeChatModel(BaseChatModel):
    """A chat model that answers from a script and streams it token by token.

    It goes through LangChain's real streaming path: inside a graph streamed
    with ``messages`` mode, a node that calls ``model.invoke()`` still yields
    one ``Token`` per piece. Construct it with keyword arguments:
    ``FakeChatModel(script=["Hello there"], delay=0.05)``. A reply can be a
    string, an ``AIMessage`` or a :class:`Reply` (reasoning, tool calls, usage,
    failures); ``bind_tools`` and ``with_structured_output`` work, so agents
    and structured-output nodes run on it.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    model: str = "fake"
    """The model name LangChain sees: ``ls_model_name`` in traces and
    ``response_metadata["model_name"]`` on the reply (what
    ``get_usage_metadata_callback()`` keys usage by); a call's ``model=`` overrides it."""
    stop: list[str] | None = None
    """Stop sequences: the reply's text ends before the first one (a call's
    ``stop=`` replaces them), as a provider's does."""
    temperature: float | None = None
    """LangChain's standard parameter, reported in traces; it changes nothing."""
    max_tokens: int | None = None
    """LangChain's standard parameter, reported in traces; it changes nothing."""
    timeout: float | None = None
    """LangChain's standard parameter; accepted so provider code runs, it changes nothing."""
    max_retries: int | None = None
    """LangChain's standard parameter; accepted so provider code runs, it changes nothing."""
    api_key: str | None = None
    """LangChain's standard parameter; accepted so provider code runs, never sent anywhere."""
    streaming: bool = False
    """``True`` makes ``invoke()`` go through the streaming path, as in ChatOpenAI."""
    keep_calls: int | None = 100
    """How many recent calls :attr:`calls` and :attr:`bound_tools` keep, so a model
    serving a long run does not grow without end; ``None`` keeps every call, ``0`` none."""

    script: Any = Field(default_factory=lambda: ["Hello from FakeChatModel."])
    """The replies, one per call (a string, an ``AIMessage`` or a :class:`Reply`),
    or a function from the input messages (and, if it takes a second argument, a
    :class:`ScriptCall`: bound tools, ``tool_choice``) to the reply."""
    split: Split = "words"
    """How to cut reply strings into tokens: ``"words"`` or ``"chars"``."""
    delay: float = 0.0
    """Seconds to wait before each token (``time.sleep`` in sync calls,
    ``asyncio.sleep`` in async ones), to look and behave like a real model."""
    first_token_delay: float | None = None
    """Seconds to wait before the first token instead of ``delay`` (time to first
    token); ``None`` waits ``delay`` as before every other token."""
    cycle: bool = False
    """Start the script again when it runs out instead of raising."""
    reasoning_style: ReasoningStyle = "ollama"
    """How reasoning streams (see :data:`ReasoningStyle`); a :class:`Reply` may override it."""
    tool_call_style: ToolCallStyle = "indexed"
    """How tool calls stream (see :data:`ToolCallStyle`); a :class:`Reply` may override it."""

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _calls: deque[list[BaseMessage]] = PrivateAttr(default_factory=deque)
    _tools: deque[list[str]] = PrivateAttr(default_factory=deque)
    _count: int = PrivateAttr(default=0)
    _streamed: int = PrivateAttr(default=0)

    @model_validator(mode="before")
    @classmethod
    def _known_arguments(cls, data: Any) -> Any:
        # extra="forbid" alone says "Extra inputs are not permitted" without a hint.
        if isinstance(data, Mapping):
            known = set(cls.model_fields)
            for key in data:
                if key not in known:
                    raise UsageError(
                        f"FakeChatModel() got an unknown argument {key!r}."
                        f"{_suggest(str(key), known)} Arguments: {', '.join(sorted(known))}"
                    )
        return data

    def model_post_init(self, context: Any, /) -> None:
        """Bound the call history to :attr:`keep_calls`."""
        super().model_post_init(context)
        if self.keep_calls is not None and self.keep_calls < 0:
            raise UsageError(f"keep_calls must be None or >= 0, got {self.keep_calls}")
        self._calls = deque(maxlen=self.keep_calls)
        self._tools = deque(maxlen=self.keep_calls)

    @property
    def _llm_type(self) -> str:
        return "lgstream-fake"

    @property
    def calls(self) -> list[list[BaseMessage]]:
        """The input messages of the calls so far, in order (the last
        :attr:`keep_calls` of them)."""
        return list(self._calls)

    @property
    def call_count(self) -> int:
        """How many calls the model has answered, kept or not."""
        return self._count

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop or self.stop, **kwargs)
        params["ls_provider"] = "fake"
        return params

    @property
    def bound_tools(self) -> list[list[str]]:
        """The names of the tools bound (``bind_tools``) on every call so far, in
        order (the last :attr:`keep_calls`); an empty list for a call without tools."""
        return [list(names) for names in self._tools]

    @property
    def tokens_streamed(self) -> int:
        """How many tokens the model has produced through its streaming path so far:
        the count to check that a closed stream stopped it."""
        return self._streamed

    # -- the script -------------------------------------------------------------

    def _next_reply(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: Mapping[str, Any]
    ) -> _Plan:
        tools = [_tool_name(tool) for tool in kwargs.get("tools") or ()]
        with self._lock:
            index = self._count
            self._count += 1
            if self.keep_calls != 0:
                self._calls.append(list(messages))
                self._tools.append(tools)
        script = self.script
        in_force = stop if stop is not None else self.stop
        if callable(script):
            if _takes_call(script):
                call = ScriptCall(
                    index=index,
                    tools=list(kwargs.get("tools") or ()),
                    tool_choice=kwargs.get("tool_choice"),
                    stop=list(in_force or ()),
                )
                reply: ScriptReply = script(messages, call)
            else:
                reply = script(messages)
        else:
            replies = script if isinstance(script, Sequence) else list(script)
            position = index
            if position >= len(replies):
                if not (self.cycle and replies):
                    raise ScriptExhaustedError(index + 1, len(replies))
                position %= len(replies)
            reply = replies[position]
        model = kwargs.get("model")
        name = model if isinstance(model, str) else self.model
        return self._plan(_as_reply(reply), messages, index, in_force, name)

    def _plan(
        self,
        reply: Reply,
        messages: list[BaseMessage],
        call_no: int,
        stop: Sequence[str] | None,
        model_name: str,
    ) -> _Plan:
        blocks = (reply.reasoning_style or self.reasoning_style) == "blocks"
        reasoning = _pieces(reply.reasoning, self.split)
        text = _stop_at(_pieces(reply.text, self.split), stop or ())
        tools = self._tool_chunks(reply, call_no, reply.id, blocks)
        outputs = max(1, len(reasoning) + len(text) + len(tools))
        inputs = _input_tokens(messages)
        usage = reply.usage or UsageMetadata(
            input_tokens=inputs, output_tokens=outputs, total_tokens=inputs + outputs
        )
        return _Plan(
            reasoning=reasoning,
            text=text,
            tools=tools,
            blocks=blocks,
            id=reply.id,
            usage=usage,
            response_metadata={"model_name": model_name, **reply.response_metadata},
            fail_after=reply.fail_after,
        )

    def _tool_chunks(
        self, reply: Reply, call_no: int, rid: str | None, blocks: bool
    ) -> list[AIMessageChunk]:
        calls = _tool_calls(reply, call_no)
        if not calls:
            return []
        style = reply.tool_call_style or self.tool_call_style

        def chunk(
            name: str | None, args: str, call_id: str | None, index: int | None
        ) -> AIMessageChunk:
            return AIMessageChunk(
                content=[] if blocks else "",
                tool_call_chunks=[tool_call_chunk(name=name, args=args, id=call_id, index=index)],
                id=rid,
            )

        if style == "whole":
            return [chunk(name, args, call_id, None) for name, args, call_id in calls]
        # Fragments cut where a streaming provider would: at the JSON's spaces.
        fragments = [split_tokens(args) or [args] for _, args, _ in calls]
        out: list[AIMessageChunk] = []
        if style == "indexed":
            for i, ((name, _, call_id), parts) in enumerate(zip(calls, fragments, strict=True)):
                out.append(chunk(name, parts[0], call_id, i))
                out += [chunk(None, part, None, i) for part in parts[1:]]
            return out
        for step in range(max(len(parts) for parts in fragments)):
            for i, ((name, _, call_id), parts) in enumerate(zip(calls, fragments, strict=True)):
                if step < len(parts):
                    first = step == 0
                    out.append(
                        chunk(name if first else None, parts[step], call_id if first else None, i)
                    )
        return out

    # -- LangChain's hooks --------------------------------------------------------

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        plan = self._next_reply(messages, stop, kwargs)
        chunks = plan.chunks()
        if plan.fail_after is not None:
            chunks = itertools.islice(chunks, plan.fail_after)
        delay = self.delay
        wait = delay if self.first_token_delay is None else self.first_token_delay
        streamed = 0
        # The base class calls on_llm_new_token for each chunk; calling it here too
        # would report every token twice.
        for message in chunks:
            if wait:
                time.sleep(wait)
            wait = delay
            self._streamed += 1
            streamed += 1
            yield _generation(message)
        if plan.fail_after is not None:
            raise FakeModelError(streamed)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        plan = self._next_reply(messages, stop, kwargs)
        chunks = plan.chunks()
        if plan.fail_after is not None:
            chunks = itertools.islice(chunks, plan.fail_after)
        delay = self.delay
        wait = delay if self.first_token_delay is None else self.first_token_delay
        streamed = 0
        for message in chunks:
            if wait:
                await asyncio.sleep(wait)
            wait = delay
            self._streamed += 1
            streamed += 1
            yield _generation(message)
        if plan.fail_after is not None:
            raise FakeModelError(streamed)

    def _result(self, plan: _Plan) -> ChatResult:
        if plan.fail_after is not None:
            raise FakeModelError(0)
        message = message_chunk_to_message(add_ai_message_chunks(*plan.chunks()))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _total_delay(self, chunks: int) -> float:
        first = self.delay if self.first_token_delay is None else self.first_token_delay
        return first + self.delay * (chunks - 1)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        plan = self._next_reply(messages, stop, kwargs)
        if wait := self._total_delay(plan.size):
            time.sleep(wait)
        return self._result(plan)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        plan = self._next_reply(messages, stop, kwargs)
        if wait := self._total_delay(plan.size):
            await asyncio.sleep(wait)
        return self._result(plan)

    # -- tools and structured output ----------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools the way a real provider does, so agents and ``ToolNode``
        loops run; the model records their names in :attr:`bound_tools`.

        The script still decides what the model answers: script the tool calls
        you want with a :class:`Reply` or an ``AIMessage``.

        Args:
            tools: Tools, functions, pydantic models or OpenAI tool dicts.
            tool_choice: Passed through like any provider option (not enforced).
            **kwargs: Other options bound to every call.

        Returns:
            The model with ``tools`` (as OpenAI tool dicts) bound.
        """
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=[convert_to_openai_tool(tool) for tool in tools], **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Parse the reply's text as JSON into ``schema``.

        When the reply has no text but tool calls, the first call's arguments
        are parsed instead (how function-calling providers answer).

        Args:
            schema: A pydantic model (gives an instance), a ``TypedDict`` (gives a
                validated dict) or a JSON-schema dict (gives the parsed dict).
            include_raw: Return ``{"raw": message, "parsed": ..., "parsing_error": ...}``
                instead of raising on a reply that does not parse.
            **kwargs: Accepted for compatibility (``method``, ``strict``) and ignored.

        Returns:
            A runnable: the model, then the parser.
        """
        parse = _parser(schema)
        # What LangChain's own with_structured_output binds: the callbacks (tracing,
        # LangSmith) see the schema in on_chat_model_start's options.
        model = self.bind(
            ls_structured_output_format={
                "kwargs": {"method": kwargs.get("method", "function_calling")},
                "schema": schema,
            }
        )
        if not include_raw:
            return model | RunnableLambda(parse, name="parse_structured_output")

        def parse_with_raw(message: BaseMessage) -> dict[str, Any]:
            try:
                return {"raw": message, "parsed": parse(message), "parsing_error": None}
            except (ValueError, TypeError) as exc:
                return {"raw": message, "parsed": None, "parsing_error": exc}

        return model | RunnableLambda(parse_with_raw, name="parse_structured_output")


def _tool_name(tool: Any) -> str:
    if isinstance(tool, Mapping):
        function = tool.get("function")
        if isinstance(function, Mapping) and "name" in function:
            return str(function["name"])
        return str(tool.get("name", "?"))
    return str(getattr(tool, "name", getattr(tool, "__name__", "?")))


def _parser(schema: dict[str, Any] | type) -> Callable[[BaseMessage], Any]:
    adapter: TypeAdapter[Any] | None = None
    v1: Any = None
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        model: type[BaseModel] | None = schema
    elif isinstance(schema, type) and issubclass(schema, pydantic.v1.BaseModel):
        model, v1 = None, schema  # TypeAdapter refuses pydantic.v1 models
    else:
        model = None
        if isinstance(schema, type):  # a TypedDict or a dataclass
            try:
                adapter = TypeAdapter(schema)
            except PydanticUserError:  # typing.TypedDict before 3.12: parse, do not validate
                adapter = None

    def parse(message: BaseMessage) -> Any:
        text = message.text
        if text.strip():
            data = json.loads(text)
        elif isinstance(message, AIMessage) and message.tool_calls:
            data = message.tool_calls[0]["args"]
        else:
            raise ValueError("the reply has neither JSON text nor a tool call to parse")
        if model is not None:
            return model.model_validate(data)
        if v1 is not None:
            return v1.parse_obj(data)
        if adapter is not None:
            return adapter.validate_python(data)
        return data

    return parse
