"""Joining tokens into messages, and splitting reasoning from the answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from langchain_core.messages import AIMessageChunk
from langchain_core.messages.ai import add_ai_message_chunks

from .._events import (
    Event,
    MessageDone,
    MessageStart,
    Reasoning,
    RunFailed,
    RunFinished,
    Token,
    Update,
)
from ._filters import inside_node

__all__ = ["JoinMessages", "ReasoningSplit", "join_messages", "reasoning", "reasoning_text"]

_EndReason = Literal["last_chunk", "node_update", "end_of_stream"]


class _Open:
    """A message whose tokens are still arriving."""

    __slots__ = ("chunks", "first", "texts")

    def __init__(self, first: Token) -> None:
        self.first = first
        self.chunks: list[AIMessageChunk] = [first.chunk]
        self.texts: list[str] = [first.text]


def _compact(run: list[AIMessageChunk]) -> list[AIMessageChunk]:
    """One chunk with the run's joined text, then one empty chunk per change of id."""
    if len(run) == 1:
        return run
    ids: list[str | None] = []
    last: object = object()
    for chunk in run:
        if chunk.id != last:
            last = chunk.id
            ids.append(chunk.id)
    text = "".join([chunk.content for chunk in run])  # type: ignore[misc]
    out = [AIMessageChunk(content=text, id=ids[0])]
    out.extend(AIMessageChunk(content="", id=i) for i in ids[1:])
    return out


def merge_chunks(chunks: Sequence[AIMessageChunk]) -> AIMessageChunk:
    """``add_ai_message_chunks(chunks[0], *chunks[1:])``, faster for text streams.

    Most chunks of a text stream carry only a string delta and an id. Each run of
    such *plain* chunks (exact ``AIMessageChunk``, string content, no metadata,
    usage, tool-call chunks or position) is handed to langchain-core as one chunk with the run's
    text joined by ``"".join``, followed by an empty chunk per change of id; every
    other chunk goes in unchanged. The result is equal to the oracle's because,
    in ``add_ai_message_chunks``:

    - consecutive string contents merge by concatenation whatever came before
      (a string, a block list ending in a string, an empty list), and ``""`` is a
      no-op, so one joined string merges as its pieces do;
    - plain chunks add nothing to ``additional_kwargs``, ``response_metadata``,
      ``tool_call_chunks`` or ``chunk_position``, and their ``usage_metadata=None``
      step is idempotent (``None`` becomes zeros once, then stays);
    - the id chosen is the first of the best rank, which repeats of one id in a
      row cannot change;
    - the result's class is the first chunk's, and only exact ``AIMessageChunk`` objects
      count as plain.
    """
    merged: list[AIMessageChunk] = []
    run: list[AIMessageChunk] = []
    for chunk in chunks:
        # _plain(chunk), inlined: this loop is the merge's hot path.
        if (
            type(chunk) is AIMessageChunk
            and type(chunk.content) is str
            and chunk.usage_metadata is None
            and chunk.chunk_position is None
            and not chunk.tool_call_chunks
            and not chunk.additional_kwargs
            and not chunk.response_metadata
        ):
            run.append(chunk)
            continue
        if run:
            merged.extend(_compact(run))
            run = []
        merged.append(chunk)
    if run:
        merged.extend(_compact(run))
    return add_ai_message_chunks(merged[0], *merged[1:])


def is_closing_chunk(token: Token) -> bool:
    """Whether ``token`` is langchain-core's empty ``chunk_position="last"`` chunk,
    which ends a model's stream and carries nothing (its id may be the run's, not
    the message's)."""
    chunk = token.chunk
    return (
        chunk.chunk_position == "last"
        and not token.text
        and not chunk.content
        and not chunk.tool_call_chunks
        and not chunk.usage_metadata
    )


class JoinMessages:
    """Groups ``Token``\\ s by message id into whole messages; see ``join_messages()``."""

    __slots__ = ("_anonymous", "_open")

    def __init__(self) -> None:
        self._open: dict[str, _Open] = {}
        self._anonymous = 0

    def feed(self, item: Event, /) -> Sequence[Event]:
        """Pass ``item`` on, with ``MessageStart`` / ``MessageDone`` around it as due."""
        if type(item) is Token:
            key = item.message_id
            if key is None:  # LangChain ids every chunk; a raw part may not
                key = self._anonymous_key(item)
            message = self._open.get(key)
            if message is None:
                ends = self._ended_by(item)
                if ends is not None:
                    return (item, self._done(ends, "last_chunk"))
                self._open[key] = _Open(item)
                start = MessageStart(ns=item.ns, node=item.node, message_id=key)
                if item.chunk.chunk_position == "last":
                    return (start, item, self._done(key, "last_chunk"))
                return (start, item)
            # The hot path: remember the chunk, let the delta through. Chunks are
            # joined once, at the end: linear in the message's size.
            message.chunks.append(item.chunk)
            message.texts.append(item.text)
            if item.chunk.chunk_position == "last":
                return (item, self._done(key, "last_chunk"))
            return (item,)
        if isinstance(item, Update) and self._open:
            # The node returned: whatever it was streaming is complete.
            ended = [
                key
                for key, message in self._open.items()
                if item.node is not None
                and inside_node(message.first.ns, message.first.node, item.ns, item.node)
            ]
            return (*(self._done(key, "node_update") for key in ended), item)
        if isinstance(item, RunFinished | RunFailed) and self._open:
            return (*self.flush(), item)
        return (item,)

    def flush(self) -> Sequence[Event]:
        """The stream ended: complete every open message, in the order they began."""
        return [self._done(key, "end_of_stream") for key in list(self._open)]

    def current_text(self, message_id: str) -> str:
        """The text streamed so far for an open message (``""`` if it is not open)."""
        message = self._open.get(message_id)
        return "".join(message.texts) if message is not None else ""

    @property
    def open_messages(self) -> tuple[str, ...]:
        """Ids of the messages still streaming, in the order they began."""
        return tuple(self._open)

    def _ended_by(self, token: Token) -> str | None:
        """The open message an empty last chunk of another id ends, if any.

        langchain-core ends every stream with an empty ``chunk_position="last"``
        chunk whose id is the run's (``lc_run--...``), also when the provider gave
        its chunks an id of its own: that chunk ends the provider's message, it is
        no message of its own.
        """
        if not is_closing_chunk(token):
            return None
        for key in reversed(self._open):
            first = self._open[key].first
            if first.node == token.node and first.ns == token.ns:
                return key
        return None

    def _anonymous_key(self, token: Token) -> str:
        # Id-less chunks of one model call come from one node in one namespace.
        for key, message in self._open.items():
            first = message.first
            if first.message_id is None and first.node == token.node and first.ns == token.ns:
                return key
        self._anonymous += 1
        return f"lgs-anonymous-{self._anonymous}"

    def _done(self, key: str, reason: _EndReason) -> MessageDone:
        message = self._open.pop(key)
        first = message.first
        whole = merge_chunks(message.chunks)
        return MessageDone(
            ns=first.ns,
            node=first.node,
            message_id=key,
            message=whole,
            text="".join(message.texts),
            reason=reason,
        )

    def __repr__(self) -> str:
        return "join_messages()"


def join_messages() -> JoinMessages:
    """Join each streamed message's tokens into the whole message.

    Tokens pass through unchanged (they are the live deltas); around them the
    operator adds a ``MessageStart`` before a message's first token and a
    ``MessageDone`` carrying the whole message when it ends: at its
    ``chunk_position="last"`` chunk, when its node's ``Update`` arrives, or at the
    end of the run or the stream. Messages are told apart by id, so models
    streaming at once from parallel nodes are joined separately.

    ``MessageDone.message`` equals langchain-core's
    ``add_ai_message_chunks(first, *rest)`` for the message's chunks (content,
    tool calls, usage, metadata, id); the cost is linear in the message's size.
    ``JoinMessages.current_text(id)`` gives the text of a message still streaming.
    """
    return JoinMessages()


# --- reasoning -------------------------------------------------------------------------


def _block_reasoning(block: Mapping[str, Any]) -> str:
    kind = block.get("type")
    if kind == "thinking":  # Anthropic
        value = block.get("thinking")
        return value if isinstance(value, str) else ""
    if kind != "reasoning":
        return ""
    value = block.get("reasoning")  # langchain-core standard blocks
    if isinstance(value, str):
        return value
    summary = block.get("summary")  # OpenAI Responses: a list of summary parts
    if isinstance(summary, list):
        return "".join(part.get("text", "") for part in summary if isinstance(part, Mapping))
    return ""


def reasoning_text(chunk: AIMessageChunk) -> str:
    """The reasoning / thinking text a chunk carries, wherever its provider put it:
    ``additional_kwargs["reasoning_content"]`` (Ollama, DeepSeek), or ``reasoning``
    and ``thinking`` content blocks (langchain-core standard blocks, OpenAI,
    Anthropic). ``""`` if none; the answer text (``chunk.text``) never includes it."""
    found = chunk.additional_kwargs.get("reasoning_content")
    text = found if isinstance(found, str) else ""
    content = chunk.content
    if isinstance(content, list):
        text += "".join(_block_reasoning(b) for b in content if isinstance(b, Mapping))
    return text


class ReasoningSplit:
    """Adds a ``Reasoning`` event before each token that carries reasoning."""

    __slots__ = ()

    def feed(self, item: Event, /) -> Sequence[Event]:
        """``(Reasoning, token)`` for a token with reasoning, else ``(item,)``."""
        if isinstance(item, Token):
            text = reasoning_text(item.chunk)
            if text:
                thought = Reasoning(
                    ns=item.ns, node=item.node, message_id=item.message_id, text=text
                )
                return (thought, item)
        return (item,)

    def flush(self) -> Sequence[Event]:
        """Nothing: reasoning is never held back."""
        return ()

    def __repr__(self) -> str:
        return "reasoning()"


def reasoning() -> ReasoningSplit:
    """Keep a model's reasoning apart from its answer.

    Before each token that carries reasoning (see ``reasoning_text``), emit a
    ``Reasoning`` event with that text; tokens pass through unchanged, and their
    ``text`` is the answer only, so ``text()`` downstream never shows thinking.
    With ``ChatOllama`` reasoning only streams when the model is created with
    ``reasoning=True``.
    """
    return ReasoningSplit()
