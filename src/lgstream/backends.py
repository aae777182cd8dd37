"""Model backends: one string names a chat model.

``resolve("ollama:llama3.2")`` gives a ``ChatOllama`` (the default backend),
``resolve("fake")`` or ``resolve("fake:Hello there")`` a streaming
``FakeChatModel``, and any LangChain ``BaseChatModel`` passes through as it is.
Options come as keyword arguments or as a query suffix, keywords winning::

    resolve("ollama:llama3.2?temperature=0.2&num_predict=128&reasoning=true")
    resolve("ollama:qwen3", base_url="http://gpu-box:11434", first_token_timeout=30)

Third-party schemes plug in with ``register("name", factory)`` or an entry point
in the ``lgstream.backends`` group (``name = "package.module:factory"``); a
factory takes the model name and the options and returns a chat model. Any other
scheme that LangChain's ``init_chat_model`` knows as a provider (``openai``,
``anthropic``, ``google_genai``, ...) resolves through it, when ``langchain`` and
the provider's package are installed: ``resolve("openai:gpt-4o?temperature=0")``.

The query suffix starts at the last ``?`` followed by nothing but ``key=value``
pairs; any other ``?`` belongs to the name, so ``"fake:Really? Yes"`` scripts
"Really? Yes". The built-in backends refuse options they do not know.

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

from ._errors import LgstreamError, UsageError, _suggest

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
    """A model backend failed; the message says what to do.

    ``client_message`` is what a served run's client reads instead: the message
    names the backend's URL, which stays in the server's log.
    """

    client_message: str = "the model backend failed"


class UnknownBackendError(UsageError, ValueError):
    """A model spec whose scheme no backend handles."""

    def __init__(self, spec: str, known: tuple[str, ...]) -> None:
        self.spec = spec
        providers = sorted(_langchain_providers() or ())
        scheme = spec.partition(":")[0]
        hint = _suggest(scheme, (*known, *providers))
        langchain = (
            f"; LangChain's init_chat_model providers: {', '.join(providers)}" if providers else ""
        )
        super().__init__(
            f"unknown model backend in {spec!r}.{hint} Known schemes: {', '.join(known)}"
            f"{langchain}. Write 'scheme:model' (e.g. 'ollama:llama3.2'), pass a LangChain"
            " chat model, or register a backend with lgstream.backends.register()."
        )


class BackendUnavailableError(BackendError):
    """The model server cannot be reached."""

    client_message = "the model server cannot be reached"

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"cannot reach Ollama at {url}: is `ollama serve` running at {url}?"
            " (set OLLAMA_HOST or base_url= if it runs elsewhere)"
        )


class ModelNotFoundError(BackendError):
    """The server does not have the model."""

    client_message = "the model is not available on its server"

    def __init__(self, model: str, url: str) -> None:
        self.model = model
        self.url = url
        super().__init__(
            f"model {model!r} not found at Ollama {url}: run `ollama pull {model}` first"
        )


class BackendStreamError(BackendError):
    """The model's stream broke off: an error line, a malformed line, a dropped
    connection. What arrived before it was already streamed."""

    client_message = "the model's stream broke off"


class BackendTimeoutError(BackendError):
    """The model took too long to send its first token (or the next one)."""

    client_message = "the model did not answer in time"


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


def _langchain_providers() -> dict[str, str] | None:
    """The providers ``init_chat_model`` knows, each with the package it needs; None
    without ``langchain`` (or if its table moved: then init_chat_model decides)."""
    try:
        from langchain.chat_models import base
    except ImportError:
        return None
    table = getattr(base, "_BUILTIN_PROVIDERS", None)
    if not isinstance(table, dict):
        return {}
    return {
        name: str(entry[0]).partition(".")[0].replace("_", "-") for name, entry in table.items()
    }


def _langchain_factory(scheme: str, spec: str) -> BackendFactory | None:
    providers = _langchain_providers()
    if providers is None or (providers and scheme not in providers):
        return None
    package = providers.get(scheme, f"the package of LangChain's {scheme!r} provider")

    def factory(name: str, options: dict[str, Any]) -> BaseChatModel:
        from langchain.chat_models import init_chat_model

        if not name:
            raise UsageError(f"name the {scheme} model: '{scheme}:model-name'")
        options.pop("check", None)  # no generic way to ask a provider; it errors on use
        try:
            model: BaseChatModel = init_chat_model(name, model_provider=scheme, **options)
        except ImportError as error:
            raise BackendError(
                f"{spec!r} needs {package}, LangChain's integration for {scheme}:"
                f" pip install {package}"
            ) from error
        except ValueError as error:
            if "provider" in str(error) and not providers:  # the table moved, unknown
                raise UnknownBackendError(spec, schemes()) from error
            raise
        return model

    return factory


def _factory(scheme: str, spec: str) -> BackendFactory:
    factory = _REGISTRY.get(scheme)
    if factory is None:
        entry_point = _entry_points().get(scheme)
        if entry_point is not None:
            factory = entry_point.load()
            _REGISTRY[scheme] = factory
        else:
            factory = _langchain_factory(scheme, spec)
            if factory is None:
                raise UnknownBackendError(spec, schemes())
    return factory


def _split_spec(spec: str) -> tuple[str, str]:
    """``"name?k=v&..."`` -> ``("name", "k=v&...")``; a ``?`` not followed by
    ``key=value`` pairs only is part of the name (``"fake:Really? Yes"``)."""
    head, sep, query = spec.rpartition("?")
    if not sep or not query:
        return spec, ""
    for pair in query.split("&"):
        key, eq, _ = pair.partition("=")
        if not eq or not key.isidentifier():
            return spec, ""
    return head, query


def _check_options(backend: str, options: dict[str, Any], known: set[str]) -> None:
    """Refuse an option a backend does not know (a misspelt one would be ignored)."""
    for key in options:
        if key not in known:
            raise UsageError(
                f"unknown option {key!r} for the {backend} backend.{_suggest(key, known)}"
                f" Options: {', '.join(sorted(known))}"
            )


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
        UsageError: an option the backend does not know (the message suggests the
            closest one).
        BackendError: the provider's package is missing (the message says what to
            install), or ``check=True`` found the model unusable.
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
    head, query = _split_spec(spec)
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
    _check_options("fake", options, set(FakeChatModel.model_fields))
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
        from .testing._network import NetworkBlockedError, blocked_connection

        blocked = blocked_connection(error)
        if blocked is not None:  # a test's network guard, not a missing server
            return NetworkBlockedError(blocked.address, service=f"Ollama at {url}")
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
