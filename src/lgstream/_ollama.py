"""The Ollama backend: ``ChatOllama`` with errors that say what to do."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx
from langchain_core.messages import BaseMessage
from langchain_ollama import ChatOllama
from ollama import Client

from .backends import _check_options, _translate, atranslating, ollama_url, translating

__all__ = ["LgstreamChatOllama", "make_chat_ollama"]

CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a TCP connection: a refused one fails at once anyway."""

READ_TIMEOUT = 120.0
"""Seconds without a byte from the server (before the first token, or between two)
before ``BackendTimeoutError``, unless ``first_token_timeout`` says otherwise: long
enough for a cold model to load, short enough that a hung server is noticed."""

_OPTIONS = {"base_url", "first_token_timeout", "check", "client_kwargs"}


class LgstreamChatOllama(ChatOllama):
    """``ChatOllama`` whose client failures become lgstream ``BackendError``\\ s.

    Everything else (streaming, reasoning, tools, structured output) is
    ChatOllama's own: only the two methods that talk to the server are wrapped.
    """

    def _url(self) -> str:
        return ollama_url(self.base_url)

    def _create_chat_stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> Iterator[Mapping[str, Any] | str]:
        parts = super()._create_chat_stream(messages, stop, **kwargs)
        return translating(parts, self.model, self._url())

    def _acreate_chat_stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> AsyncIterator[Mapping[str, Any] | str]:
        parts = super()._acreate_chat_stream(messages, stop, **kwargs)
        return atranslating(parts, self.model, self._url())


def check_model(model: str, url: str, client_kwargs: Mapping[str, Any]) -> None:
    """Ask the server for the model now, so a missing one is reported at once."""
    try:
        Client(host=url, **client_kwargs).show(model)
    except Exception as error:
        better = _translate(error, model, url)
        if better is None:
            raise
        raise better from None  # the message says it all: no wall of traceback


def make_chat_ollama(name: str, options: dict[str, Any]) -> ChatOllama:
    """A ``ChatOllama`` for ``name`` with lgstream's options applied.

    Options: ``base_url`` (else ``OLLAMA_HOST``, else localhost), ``first_token_timeout``
    (seconds without a token before ``BackendTimeoutError``, ``READ_TIMEOUT`` unless
    given; ``None`` or ``"none"`` waits forever), ``check`` (ask the server for the
    model right away), and any ``ChatOllama`` field (``temperature``,
    ``num_predict``, ``reasoning``, ...). Any other option is a ``UsageError``:
    ``ChatOllama`` itself would ignore it.
    """
    options = dict(options)
    known = {*_OPTIONS, *ChatOllama.model_fields}
    known |= {f.alias for f in ChatOllama.model_fields.values() if f.alias}
    known.discard("model")
    _check_options("ollama", options, known)
    url = ollama_url(options.pop("base_url", None))
    read_timeout = options.pop("first_token_timeout", READ_TIMEOUT)
    if isinstance(read_timeout, str) and read_timeout.lower() == "none":
        read_timeout = None
    check = bool(options.pop("check", False))
    client_kwargs = dict(options.pop("client_kwargs", None) or {})
    client_kwargs.setdefault("timeout", httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT))
    if check:
        check_model(name, url, client_kwargs)
    return LgstreamChatOllama(model=name, base_url=url, client_kwargs=client_kwargs, **options)
