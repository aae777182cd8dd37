"""Model backends: one string names a chat model.

``resolve("ollama:llama3.2")`` gives a ``ChatOllama`` (the default backend),
``resolve("fake")`` or ``resolve("fake:Hello there")`` a streaming
``FakeChatModel``, and any LangChain ``BaseChatModel`` passes through as it is.
Options come as keyword arguments or as a query suffix, keywords winning::

    resolve("ollama:llama3.2?temperature=0.2&num_predict=128&reasoning=true")
    resolve("ollama:qwen3", base_url="http://gpu-box:11434", first_token_timeout=30)

Third-party schemes plug in with ``register("name", factory)`` or an entry point
in the ``lgstream.backends`` group (``name = "package.module:factory"``); a
factory takes the model name and the options and returns a chat model.

The Ollama backend turns the client's raw failures into lgstream errors that say
what to do (the original stays as ``__cause__``): an unreachable server
(``BackendUnavailableError``), a model that was never pulled
(``ModelNotFoundError``), an error line, a malformed line or a dropped
connection mid-stream (``BackendStreamError``), a first token that takes too
long (``BackendTimeoutError``).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeAlias
from urllib.parse import parse_qsl

from langchain_core.language_models import BaseChatModel

from ._errors import LgstreamError, UsageError

__all__ = [
    "BackendError",
    "BackendFactory",
    "BackendStreamError",
    "BackendTimeoutError",
    "BackendUnavailableError",
    "ModelNotFoundError",
    "UnknownBackendError",
    "ollama_url",
    "register",
    "resolve",
    "schemes",
]

BackendFactory: TypeAlias = Callable[[str, dict[str, Any]], BaseChatModel]
"""Makes a chat model from a model name (the part after ``scheme:``) and options."""

ENTRY_POINT_GROUP = "lgstream.backends"


# --- errors ----------------------------------------------------------------------------


class BackendError(LgstreamError):
    """A model backend failed; the message says what to do."""


class UnknownBackendError(UsageError, ValueError):
    """A model spec whose scheme no backend handles."""

    def __init__(self, spec: str, known: tuple[str, ...]) -> None:
        self.spec = spec
        super().__init__(
            f"unknown model backend in {spec!r}; known schemes: {', '.join(known)}."
            " Write 'scheme:model' (e.g. 'ollama:llama3.2'), pass a LangChain chat model,"
            " or register a backend with lgstream.backends.register()."
        )


class BackendUnavailableError(BackendError):
    """The model server cannot be reached."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"cannot reach Ollama at {url}: is `ollama serve` running at {url}?"
            " (set OLLAMA_HOST or base_url= if it runs elsewhere)"
        )


class ModelNotFoundError(BackendError):
    """The server does not have the model."""

    def __init__(self, model: str, url: str) -> None:
        self.model = model
        self.url = url
        super().__init__(
            f"model {model!r} not found at Ollama {url}: run `ollama pull {model}` first"
        )


class BackendStreamError(BackendError):
    """The model's stream broke off: an error line, a malformed line, a dropped
    connection. What arrived before it was already streamed."""


class BackendTimeoutError(BackendError):
    """The model took too long to send its first token (or the next one)."""


# --- the registry ------------------------------------------------------------------------

_REGISTRY: dict[str, BackendFactory] = {}


def register(scheme: str, factory: BackendFactory) -> None:
    """Make ``resolve("<scheme>:<model>")`` call ``factory(model, options)``."""
    if not scheme or not scheme.isidentifier():
        raise UsageError(f"a backend scheme is a plain name such as 'openai', got {scheme!r}")
    _REGISTRY[scheme] = factory


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def schemes() -> tuple[str, ...]:
    """Every scheme ``resolve()`` knows: built in, registered, and from entry points."""
    return tuple(sorted({*_REGISTRY, *_entry_points()}))


def _factory(scheme: str, spec: str) -> BackendFactory:
    factory = _REGISTRY.get(scheme)
    if factory is None:
        entry_point = _entry_points().get(scheme)
        if entry_point is None:
            raise UnknownBackendError(spec, schemes())
        factory = entry_point.load()
        _REGISTRY[scheme] = factory
    return factory


def _option(value: str) -> Any:
    """Query-suffix values: true/false, numbers, else the string."""
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def resolve(spec: str | BaseChatModel, **options: Any) -> BaseChatModel:
    """Turn a model spec into a chat model.

    Args:
        spec: ``"scheme:model[?key=value&...]"`` (``"ollama:llama3.2"``), a bare
            scheme (``"fake"``), or a ``BaseChatModel``, returned as it is.
        **options: backend options; they override the query suffix. Every backend
            takes ``check=True``: make sure now that the model can answer (Ollama:
            the server has it), so a missing model fails here with one clear line.

    Raises:
        UnknownBackendError: no backend handles the scheme (the message lists those
            that do).
    """
    if isinstance(spec, BaseChatModel):
        if options:
            raise UsageError("options only apply to a model spec string, not to a chat model")
        return spec
    if not isinstance(spec, str):
        raise UsageError(
            f"a model is a spec such as 'ollama:llama3.2' or a LangChain chat model,"
            f" got {type(spec).__name__}"
        )
    head, _, query = spec.partition("?")
    scheme, _, name = head.partition(":")
    merged = {key: _option(value) for key, value in parse_qsl(query, keep_blank_values=True)}
    merged.update(options)
    return _factory(scheme.strip().lower(), spec)(name.strip(), merged)


# --- ollama ------------------------------------------------------------------------------


def ollama_url(base_url: str | None = None) -> str:
    """The Ollama server a model will talk to: ``base_url``, else ``OLLAMA_HOST``,
    else ``http://127.0.0.1:11434``, completed exactly as the ``ollama`` client
    completes it (``gpu-box`` -> ``http://gpu-box:11434``)."""
    from ollama._client import _parse_host  # the client's own rules, not a copy

    url: str = _parse_host(base_url or os.environ.get("OLLAMA_HOST"))
    return url


def _ollama(name: str, options: dict[str, Any]) -> BaseChatModel:
    if not name:
        raise UsageError("name the Ollama model: 'ollama:llama3.2'")
    from ._ollama import make_chat_ollama  # langchain-ollama is imported on first use

    return make_chat_ollama(name, options)


def _fake(script: str, options: dict[str, Any]) -> BaseChatModel:
    from .testing import FakeChatModel

    options.pop("check", None)  # nothing to check: the fake model is always there
    options.setdefault("cycle", True)
    if script:
        options.setdefault("script", [script])
    return FakeChatModel(**options)


register("ollama", _ollama)
register("fake", _fake)


def _translate(error: BaseException, model: str, url: str) -> BaseException | None:
    """The lgstream error for a raw Ollama client failure, or None to keep it."""
    import httpx
    import ollama

    # The client raises httpx's error when streaming, a builtin ConnectionError
    # (with the cause dropped) for plain requests.
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | ConnectionError):
        return BackendUnavailableError(url)
    if isinstance(error, httpx.TimeoutException):
        return BackendTimeoutError(
            f"Ollama at {url} sent nothing for model {model!r} within the timeout"
            " (first_token_timeout=); is the model still loading, or the machine busy?"
        )
    if isinstance(error, ollama.ResponseError):
        if error.status_code == 404:
            return ModelNotFoundError(model, url)
        return BackendStreamError(f"Ollama at {url} reported an error for {model!r}: {error.error}")
    if isinstance(error, httpx.TransportError):  # dropped connection, broken chunking
        return BackendStreamError(
            f"the connection to Ollama at {url} broke off mid-stream ({type(error).__name__})"
        )
    if isinstance(error, json.JSONDecodeError):
        return BackendStreamError(
            f"Ollama at {url} sent a line that is not JSON: {error.doc!r:.80}"
        )
    return None


def translating(parts: Iterator[Any], model: str, url: str) -> Iterator[Any]:
    """Iterate ``parts``, turning Ollama client failures into lgstream errors."""
    try:
        yield from parts
    except Exception as error:
        better = _translate(error, model, url)
        if better is None:
            raise
        raise better from error


async def atranslating(parts: AsyncIterator[Any], model: str, url: str) -> AsyncIterator[Any]:
    """The async twin of ``translating``."""
    try:
        async for part in parts:
            yield part
    except Exception as error:
        better = _translate(error, model, url)
        if better is None:
            raise
        raise better from error
