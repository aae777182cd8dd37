"""A scripted chat model that really streams, for tests and the offline demo."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

from .._errors import UsageError

__all__ = ["FakeChatModel", "ScriptExhaustedError", "split_tokens"]

Reply = str | AIMessage
Script = Sequence[Reply] | Callable[[list[BaseMessage]], Reply]
Split = Literal["words", "chars"]

_WORDS = re.compile(r"\s*\S+|\s+")


class ScriptExhaustedError(UsageError, LookupError):
    """The fake model was called more times than its script has replies."""

    def __init__(self, calls: int, replies: int) -> None:
        super().__init__(
            f"FakeChatModel was called {calls} times but its script has {replies}"
            " replies; add replies, pass a function as the script, or set cycle=True."
        )


def split_tokens(text: str, split: Split = "words") -> list[str]:
    """Split text the way the fake model streams it.

    ``"words"`` keeps the whitespace before each word with it, so the pieces
    join back to the text exactly; ``"chars"`` gives one character per token.
    """
    if split == "chars":
        return list(text)
    return _WORDS.findall(text)


class FakeChatModel(BaseChatModel):
    """A chat model that answers from a script and streams it token by token.

    It goes through LangChain's real streaming path: inside a graph streamed
    with ``messages`` mode, a node that calls ``model.invoke()`` still yields
    one ``Token`` per piece. Construct it with keyword arguments:
    ``FakeChatModel(script=["Hello there"], delay=0.05)``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    script: Any = Field(default_factory=lambda: ["Hello from FakeChatModel."])
    """The replies, one per call (a string or an ``AIMessage``), or a function from
    the input messages to the reply."""
    split: Split = "words"
    """How to cut replies into tokens: ``"words"`` or ``"chars"``."""
    delay: float = 0.0
    """Seconds to wait before each token (``time.sleep`` in sync calls,
    ``asyncio.sleep`` in async ones), to look and behave like a real model."""
    cycle: bool = False
    """Start the script again when it runs out instead of raising."""

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _calls: list[list[BaseMessage]] = PrivateAttr(default_factory=list)
    _streamed: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        return "lgstream-fake"

    @property
    def calls(self) -> list[list[BaseMessage]]:
        """The input messages of every call so far, in order."""
        return list(self._calls)

    @property
    def tokens_streamed(self) -> int:
        """How many tokens the model has produced through its streaming path so far:
        the count to check that a closed stream stopped it."""
        return self._streamed

    def _next_reply(self, messages: list[BaseMessage]) -> AIMessage:
        with self._lock:
            index = len(self._calls)
            self._calls.append(list(messages))
        script = self.script
        if callable(script):
            reply: Reply = script(messages)
        else:
            replies = list(script)
            if index >= len(replies):
                if not (self.cycle and replies):
                    raise ScriptExhaustedError(index + 1, len(replies))
                index %= len(replies)
            reply = replies[index]
        return AIMessage(content=reply) if isinstance(reply, str) else reply

    def _chunks(self, reply: AIMessage) -> list[AIMessageChunk]:
        content = reply.content if isinstance(reply.content, str) else reply.text
        pieces = split_tokens(content, self.split) or [""]
        return [AIMessageChunk(content=piece, id=reply.id) for piece in pieces]

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        delay = self.delay
        for chunk in self._chunks(self._next_reply(messages)):
            if delay:
                time.sleep(delay)
            self._streamed += 1
            yield ChatGenerationChunk(message=chunk)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        delay = self.delay
        for chunk in self._chunks(self._next_reply(messages)):
            if delay:
                await asyncio.sleep(delay)
            self._streamed += 1
            yield ChatGenerationChunk(message=chunk)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = self._next_reply(messages)
        return ChatResult(generations=[ChatGeneration(message=reply)])
