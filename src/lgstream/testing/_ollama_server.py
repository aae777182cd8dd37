"""A fake Ollama: a real HTTP server on 127.0.0.1 that speaks Ollama's wire protocol.

Tests point the real clients at it (``ollama.Client(host=server.url)``,
``ChatOllama(base_url=server.url)``) and get scripted replies streamed as NDJSON,
one flushed HTTP chunk per line, so the clients really stream. Faults (error
lines, dropped connections, delays, malformed lines, unknown models) are
injected per reply or for the whole server, and every request is recorded.

Standard library only: a ``ThreadingHTTPServer`` in a background thread. The
streaming responses use chunked transfer encoding on purpose: a connection
closed before the terminating chunk is then an error the client notices
(``httpx.RemoteProtocolError``), as a crashed Ollama would be, rather than a
quietly shorter reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self, TypeAlias

from .._errors import UsageError
from ._fake_model import split_tokens

__all__ = [
    "FakeOllamaServer",
    "OllamaReply",
    "OllamaRequest",
    "OllamaScript",
]

DEFAULT_MODEL: Final = "fake"
"""The model name a server made with ``script=`` (or with no script) answers to."""

_DEFAULT_TEXT: Final = "Hello from FakeOllamaServer."
_STOP_JOIN_SECONDS: Final = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class OllamaReply:
    """One scripted answer of the fake server, with optional faults.

    Fault fields left at ``None`` fall back to the server-wide setting of the
    same name. Lines are counted over the message lines (thinking, content and
    tool-call lines), never the final ``done`` line; a fault whose count is at
    or past the number of message lines happens in place of the ``done`` line.
    """

    content: str | Sequence[str] = ""
    """The answer: a string is cut into word tokens like ``split_tokens``; a list is
    sent as the exact chunks given."""
    thinking: str | Sequence[str] = ""
    """Reasoning, streamed before the content in ``message.thinking`` (``thinking`` on
    ``/api/generate``); sent only when the request asks for it with ``"think": true`` or
    a level such as ``"high"``, as Ollama separates it only then."""
    tool_calls: Sequence[Mapping[str, Any]] = ()
    """Tool calls, all sent whole in one line after the content, as Ollama does. Each is
    ``{"name": ..., "arguments": {...}}`` or Ollama's own ``{"function": {...}}``. Only
    ``/api/chat`` sends them; ``/api/generate`` has no tools."""
    eval_count: int | None = None
    """Output token count of the ``done`` line; default: the chunks generated (a chunk is
    one token, the tool-call line one more), after ``stop`` and ``num_predict``."""
    prompt_eval_count: int | None = None
    """Input token count of the ``done`` line; default: the words in the request."""
    done_reason: str = "stop"
    """The ``done_reason`` of the final line (``"stop"``, ``"length"``, ...), unless the
    request's ``stop`` (then ``"stop"``) or ``num_predict`` (then ``"length"``) cut the
    answer short."""
    error_after: int | None = None
    """Send an ``{"error": ...}`` line after this many message lines, then end."""
    error_message: str | None = None
    """The text of that error line (default: ``"fake error injected by FakeOllamaServer"``)."""
    drop_after: int | None = None
    """Close the connection abruptly after this many message lines."""
    malformed_after: int | None = None
    """Send a line that is not JSON after this many message lines."""
    first_token_delay: float | None = None
    """Seconds to wait before the first line (the time to first token)."""
    token_delay: float | None = None
    """Seconds to wait before each later line."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OllamaRequest:
    """One request the fake server received."""

    method: str
    """``"GET"`` or ``"POST"``."""
    path: str
    """The URL path, e.g. ``"/api/chat"``."""
    model: str | None
    """The ``model`` of the body (``name`` for old ``/api/show`` clients), if any."""
    messages: list[dict[str, Any]]
    """The chat messages as sent (``[]`` for other endpoints, ``/api/generate`` too)."""
    options: dict[str, Any]
    """The ``options`` object (``temperature``, ``num_predict``, ``stop``...)."""
    tools: list[dict[str, Any]]
    """The tool schemas sent with the request."""
    stream: bool
    """Whether the reply streams (Ollama streams unless ``"stream": false``)."""
    think: bool | str | None
    """The ``think`` flag, if the client sent one."""
    body: dict[str, Any]
    """The whole parsed JSON body (``{}`` when there is none or it is not an object)."""
    raw: bytes
    """The body's bytes as received."""
    prompt: str | None = None
    """The ``prompt`` of an ``/api/generate`` request (``None`` elsewhere, or absent)."""
    system: str | None = None
    """The ``system`` prompt of an ``/api/generate`` request, if any."""


OllamaScript: TypeAlias = Sequence[str | OllamaReply] | Callable[[OllamaRequest], str | OllamaReply]
"""Replies one per request, in order, or a function from the request to its reply."""


@dataclass(slots=True)
class _Faults:
    error_after: int | None
    error_message: str
    drop_after: int | None
    malformed_after: int | None
    first_token_delay: float
    token_delay: float


class _DroppedError(Exception):
    """The handler stops answering: a scripted drop, or the server is stopping."""


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _full_name(name: str) -> str:
    # Ollama treats "llama3.2" and "llama3.2:latest" as the same model.
    return name if ":" in name else f"{name}:latest"


def _wire_tool_call(index: int, call: Mapping[str, Any]) -> dict[str, Any]:
    function = call.get("function", call)
    return {
        "id": call.get("id", f"call_{uuid.uuid4().hex[:8]}"),
        "function": {
            "index": index,
            "name": function["name"],
            "arguments": dict(function.get("arguments", {})),
        },
    }


def _chunks(value: str | Sequence[str]) -> list[str]:
    return split_tokens(value) if isinstance(value, str) else list(value)


def _count_words(messages: list[Any]) -> int:
    total = 0
    for message in messages:
        if isinstance(message, dict):
            total += len(str(message.get("content") or "").split())
    return total


def _thinks(think: object) -> bool:
    # Ollama separates the thinking only when asked: true or a level ("high", ...).
    return think is True or (isinstance(think, str) and think not in ("", "false"))


def _stop_strings(options: Mapping[str, Any]) -> list[str]:
    stop = options.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list):
        return []
    return [s for s in stop if isinstance(s, str) and s]


def _num_predict(options: Mapping[str, Any]) -> int:
    value = options.get("num_predict")
    # bool is an int: leave it out. 0 and negative values (-1, -2) mean no limit.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(int(value), 0)


_Token: TypeAlias = tuple[str, str]
"""One generated token: its kind (``"thinking"``, ``"content"``, ``"tool_calls"``), text."""


@dataclass(frozen=True, slots=True)
class _Output:
    """What the model "generates" for one request, after ``stop`` and ``num_predict``."""

    tokens: list[_Token]
    generated: int
    """Tokens generated, the one that completed a stop string included."""
    cut: str | None
    """``"stop"`` or ``"length"`` when the request's options cut the answer."""


def _cut_at_stop(tokens: list[_Token], stops: list[str]) -> tuple[list[_Token], int] | None:
    """The tokens sent before the first stop string, and how many were generated.

    Ollama's runner checks the text after each token and holds back a piece that may
    begin a stop string, so nothing of the stop string is ever sent. Thinking and
    content are checked apart: in the model's text, a tag stands between them.
    """
    segment = ""
    start = 0  # index of the segment's first token
    for index, (kind, text) in enumerate(tokens):
        if kind == "tool_calls":
            continue  # tool arguments are not scanned (see the docs)
        if index > 0 and tokens[index - 1][0] != kind:
            segment, start = "", index
        segment += text
        found = [at for at in (segment.find(s) for s in stops) if at >= 0]
        if not found:
            continue
        keep, kept = min(found), list(tokens[:start])
        for piece_kind, piece in tokens[start : index + 1]:
            if keep > 0:
                kept.append((piece_kind, piece[:keep]))
            keep -= len(piece)
        return kept, index + 1
    return None


def _generate(request: OllamaRequest, reply: OllamaReply, *, tools: bool) -> _Output:
    tokens: list[_Token] = []
    if _thinks(request.think):
        tokens += [("thinking", piece) for piece in _chunks(reply.thinking)]
    tokens += [("content", piece) for piece in _chunks(reply.content)]
    if tools and reply.tool_calls:
        tokens.append(("tool_calls", ""))
    limit = _num_predict(request.options)
    stopped = _cut_at_stop(tokens, _stop_strings(request.options))
    needed = len(tokens) if stopped is None else stopped[1]
    # The runner checks num_predict before it generates each token, so a stop string
    # completed by token N still wins over num_predict=N.
    if limit and needed > limit:
        return _Output(tokens[:limit], limit, "length")
    if stopped is not None:
        return _Output(stopped[0], stopped[1], "stop")
    return _Output(tokens, len(tokens), None)


class _Model:
    """A model the server knows, and where its script is."""

    def __init__(self, name: str, script: OllamaScript) -> None:
        self.name = name
        self.script = script
        self.calls = 0


class FakeOllamaServer:
    """A real HTTP server on ``127.0.0.1`` that answers like Ollama, from a script.

    Endpoints: ``POST /api/chat`` and ``POST /api/generate`` (NDJSON stream, or one
    JSON object with ``"stream": false``), ``GET /api/tags``, ``POST /api/show``,
    ``GET /api/ps``, ``GET /api/version`` and ``GET /``. An unknown model gets HTTP 404
    ``{"error": "model 'x' not found"}``, an unknown path the plain text
    ``404 page not found``, as from Ollama. The request's ``options.stop`` and
    ``options.num_predict`` cut the scripted answer short, as Ollama's runner does; a
    load request (no messages, or no prompt) answers ``done_reason: "load"`` and
    uses no reply.

    Use it as a context manager, sync or async, or call ``start()`` / ``stop()``::

        with FakeOllamaServer(script=["Hello there"]) as server:
            model = ChatOllama(model="fake", base_url=server.url)
            assert model.invoke("hi").text == "Hello there"

    Args:
        script: the replies of the one model ``"fake"`` (used when ``models`` is not
            given, or added to it under that name).
        models: model name -> script, for several models. ``"llama3.2"`` also answers
            to ``"llama3.2:latest"``.
        cycle: start a script list again when it runs out, instead of answering
            HTTP 500.
        error_after: server-wide default of ``OllamaReply.error_after``.
        error_message: server-wide default of ``OllamaReply.error_message``.
        drop_after: server-wide default of ``OllamaReply.drop_after``.
        malformed_after: server-wide default of ``OllamaReply.malformed_after``.
        first_token_delay: server-wide default of ``OllamaReply.first_token_delay``.
        token_delay: server-wide default of ``OllamaReply.token_delay``.
        version: what ``GET /api/version`` reports.
    """

    def __init__(
        self,
        script: OllamaScript | None = None,
        *,
        models: Mapping[str, OllamaScript] | None = None,
        cycle: bool = False,
        error_after: int | None = None,
        error_message: str = "fake error injected by FakeOllamaServer",
        drop_after: int | None = None,
        malformed_after: int | None = None,
        first_token_delay: float = 0.0,
        token_delay: float = 0.0,
        version: str = "0.12.6",
    ) -> None:
        known: dict[str, OllamaScript] = dict(models or {})
        if script is not None or not known:
            known.setdefault(DEFAULT_MODEL, script if script is not None else [_DEFAULT_TEXT])
        self._models = {_full_name(name): _Model(name, s) for name, s in known.items()}
        self.cycle = cycle
        self._defaults = _Faults(
            error_after=error_after,
            error_message=error_message,
            drop_after=drop_after,
            malformed_after=malformed_after,
            first_token_delay=first_token_delay,
            token_delay=token_delay,
        )
        self.version = version
        self._lock = threading.Lock()
        self._requests: list[OllamaRequest] = []
        self._errors: list[BaseException] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        """Bind a free port on 127.0.0.1 and serve in a background thread.

        Returns:
            The server itself, for chaining.

        Raises:
            UsageError: the server is already running.
        """
        if self._httpd is not None:
            raise UsageError("this FakeOllamaServer is already running; stop() it first.")
        httpd = _HTTPServer(self)
        thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits at most one poll
            name=f"FakeOllamaServer:{httpd.server_address[1]}",
            daemon=True,
        )
        self._httpd, self._thread = httpd, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut every open connection (streams in progress end with an
        error on the client side) and free the port. Safe to call twice."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._httpd = self._thread = None
        httpd.stopping.set()  # wakes handlers sleeping in a delay
        httpd.shutdown()
        handlers = httpd.cut_connections()
        httpd.server_close()
        thread.join(_STOP_JOIN_SECONDS)
        deadline = time.monotonic() + _STOP_JOIN_SECONDS
        for handler in handlers:
            handler.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # --- what tests look at ------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._httpd is not None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``"http://127.0.0.1:54321"``.

        Raises:
            UsageError: the server is not running.
        """
        return f"http://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        """The port the server listens on.

        Raises:
            UsageError: the server is not running.
        """
        if self._httpd is None:
            raise UsageError("FakeOllamaServer is not running: use `with` or call start().")
        return int(self._httpd.server_address[1])

    @property
    def requests(self) -> list[OllamaRequest]:
        """Every request received so far, in order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[OllamaRequest]:
        """The ``/api/chat`` requests received so far, in order."""
        return [request for request in self.requests if request.path == "/api/chat"]

    @property
    def generate_requests(self) -> list[OllamaRequest]:
        """The ``/api/generate`` requests received so far, in order."""
        return [request for request in self.requests if request.path == "/api/generate"]

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised while answering (a script function that raised, say)."""
        with self._lock:
            return list(self._errors)

    @property
    def models(self) -> list[str]:
        """The names of the models the server knows, as given."""
        return [model.name for model in self._models.values()]

    # --- answering (called from handler threads) ---------------------------------------

    def _record(self, request: OllamaRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _record_error(self, error: BaseException) -> None:
        with self._lock:
            self._errors.append(error)

    def _find(self, name: str | None) -> _Model | None:
        return None if name is None else self._models.get(_full_name(name))

    def _next_reply(self, model: _Model, request: OllamaRequest) -> OllamaReply:
        with self._lock:
            index = model.calls
            model.calls += 1
        script = model.script
        if callable(script):
            reply = script(request)
        else:
            replies = list(script)
            if index >= len(replies):
                if not (self.cycle and replies):
                    raise LookupError(
                        f"FakeOllamaServer: model {model.name!r} got request {index + 1}"
                        f" but its script has {len(replies)} replies; add replies, pass"
                        " a function as the script, or set cycle=True."
                    )
                index %= len(replies)
            reply = replies[index]
        return OllamaReply(content=reply) if isinstance(reply, str) else reply

    def _faults(self, reply: OllamaReply) -> _Faults:
        server = self._defaults

        def pick(mine: Any, default: Any) -> Any:
            return default if mine is None else mine

        return _Faults(
            error_after=pick(reply.error_after, server.error_after),
            error_message=pick(reply.error_message, server.error_message),
            drop_after=pick(reply.drop_after, server.drop_after),
            malformed_after=pick(reply.malformed_after, server.malformed_after),
            first_token_delay=pick(reply.first_token_delay, server.first_token_delay),
            token_delay=pick(reply.token_delay, server.token_delay),
        )

    def _tags(self) -> dict[str, Any]:
        return {"models": [self._model_entry(full) for full in self._models]}

    def _model_entry(self, full: str) -> dict[str, Any]:
        return {
            "name": full,
            "model": full,
            "modified_at": "2025-01-01T00:00:00Z",
            "size": 1_000_000,
            "digest": uuid.uuid5(uuid.NAMESPACE_URL, full).hex * 2,
            "details": _DETAILS,
        }

    def _show(self) -> dict[str, Any]:
        return {
            "modelfile": "# Modelfile of a FakeOllamaServer model\nFROM fake\n",
            "parameters": "",
            "template": "{{ .Prompt }}",
            "details": _DETAILS,
            "model_info": {"general.architecture": "fake", "general.parameter_count": 1_000_000},
            "capabilities": ["completion", "tools", "thinking"],
            "modified_at": "2025-01-01T00:00:00Z",
        }


_DETAILS: Final[dict[str, Any]] = {
    "parent_model": "",
    "format": "gguf",
    "family": "fake",
    "families": ["fake"],
    "parameter_size": "1M",
    "quantization_level": "Q4_0",
}


class _HTTPServer(ThreadingHTTPServer):
    """Keeps track of its connections and handler threads, so stop() can cut them."""

    daemon_threads = True
    block_on_close = False  # stop() joins the handlers itself, with a time limit

    def __init__(self, fake: FakeOllamaServer) -> None:
        self.fake = fake
        self.stopping = threading.Event()
        self._active: dict[socket.socket, threading.Thread] = {}
        self._active_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def register(self, connection: socket.socket) -> bool:
        """Track a new connection; False if the server is stopping (then it is cut)."""
        with self._active_lock:
            if self.stopping.is_set():
                return False
            self._active[connection] = threading.current_thread()
            return True

    def unregister(self, connection: socket.socket) -> None:
        with self._active_lock:
            self._active.pop(connection, None)

    def cut_connections(self) -> list[threading.Thread]:
        """Shut down every open connection; return the threads serving them."""
        with self._active_lock:
            active = list(self._active.items())
        for connection, _ in active:
            _shutdown(connection)
        return [thread for _, thread in active]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up and stop() cutting connections are expected; keep the
        # test output clean, but keep anything else for `server.errors`.
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, (OSError, _DroppedError)):
            self.fake._record_error(error)


def _shutdown(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the other side
        connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked streaming needs it
    server: _HTTPServer
    server_version = "FakeOllama"

    def setup(self) -> None:
        super().setup()
        if not self.server.register(self.connection):
            _shutdown(self.connection)
            self.close_connection = True

    def finish(self) -> None:
        self.server.unregister(self.connection)
        with contextlib.suppress(OSError):  # stop() or a drop cut the connection
            super().finish()

    def end_headers(self) -> None:
        # One request per connection: the client closes its socket once the answer
        # is read, instead of pooling it, so tests leak no sockets (ResourceWarning)
        # and stop() has no idle keep-alive connections to cut.
        self.send_header("Connection", "close")
        self.close_connection = True
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read `server.requests` instead

    # --- plumbing ----------------------------------------------------------------------

    def _read(self) -> OllamaRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {}
        body: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
        model = body.get("model") or body.get("name")
        prompt, system = body.get("prompt"), body.get("system")
        request = OllamaRequest(
            method=self.command,
            path=self.path.split("?", 1)[0],
            model=model if isinstance(model, str) else None,
            messages=list(body.get("messages") or []),
            options=dict(body.get("options") or {}),
            tools=list(body.get("tools") or []),
            stream=body.get("stream", True) is not False,
            think=body.get("think"),
            body=body,
            raw=raw,
            prompt=prompt if isinstance(prompt, str) else None,
            system=system if isinstance(system, str) else None,
        )
        self.server.fake._record(request)
        return request

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_text(self, status: int, text: str, content_type: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _not_found(self, model: str | None) -> None:
        self._send_json(404, {"error": f"model '{model}' not found"})

    def _page_not_found(self) -> None:
        # Ollama's router (gin) answers an unknown path, or a known one with the wrong
        # method, with this plain text, not JSON.
        self._send_text(404, "404 page not found", "text/plain")

    def _chunk(self, data: bytes) -> None:
        if self.server.stopping.is_set():
            raise _DroppedError
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _wait(self, seconds: float) -> None:
        # An Event wait, not time.sleep, so that stop() ends a delay at once.
        if seconds > 0 and self.server.stopping.wait(seconds):
            raise _DroppedError

    def _drop(self) -> None:
        self.close_connection = True
        _shutdown(self.connection)
        raise _DroppedError

    # --- endpoints ---------------------------------------------------------------------

    def do_GET(self) -> None:
        """Answer ``/api/tags``, ``/api/ps``, ``/api/version`` and ``/``."""
        request = self._read()
        fake = self.server.fake
        if request.path == "/api/tags":
            self._send_json(200, fake._tags())
        elif request.path == "/api/ps":
            self._send_json(200, {"models": []})
        elif request.path == "/api/version":
            self._send_json(200, {"version": fake.version})
        elif request.path == "/":
            self._send_text(200, "Ollama is running", "text/plain; charset=utf-8")
        else:
            self._page_not_found()

    def do_HEAD(self) -> None:
        """``HEAD /`` (Ollama's health check), ``/api/version`` and ``/api/tags``."""
        if self.path.split("?", 1)[0] in ("/", "/api/version", "/api/tags"):
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._page_not_found()

    def do_POST(self) -> None:
        """Answer ``/api/chat``, ``/api/generate`` and ``/api/show``."""
        request = self._read()
        fake = self.server.fake
        if request.path == "/api/show":
            if fake._find(request.model) is None:
                self._not_found(request.model)
            else:
                self._send_json(200, fake._show())
        elif request.path == "/api/chat":
            self._complete(request, chat=True)
        elif request.path == "/api/generate":
            self._complete(request, chat=False)
        else:
            self._page_not_found()

    def _complete(self, request: OllamaRequest, *, chat: bool) -> None:
        """``/api/chat`` (``chat=True``) or ``/api/generate``: one scripted answer."""
        fake = self.server.fake
        if request.model is None:
            self._send_json(400, {"error": "model is required"})
            return
        model = fake._find(request.model)
        if model is None:
            self._not_found(request.model)
            return
        if (not request.messages) if chat else (not request.prompt):
            # A load request: Ollama loads the model and answers one JSON object,
            # streaming or not, without generating; so no reply and no faults here.
            self._send_json(200, _load_line(request, chat=chat))
            return
        try:
            reply = fake._next_reply(model, request)
        except Exception as error:  # a script that ran out or a function that raised
            fake._record_error(error)
            self._send_json(500, {"error": str(error)})
            return
        faults = fake._faults(reply)
        output = _generate(request, reply, tools=chat)
        lines = [_line(request, token, reply, chat=chat) for token in output.tokens]
        final = _final_line(request, reply, output, chat=chat)
        if request.stream:
            self._stream(lines, final, faults)
        else:
            self._whole(_whole(lines, final, chat=chat), faults)

    def _stream(self, lines: list[dict[str, Any]], final: dict[str, Any], faults: _Faults) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        try:
            for sent in itertools.count():
                if sent == faults.drop_after:
                    self._drop()
                if sent == faults.malformed_after:
                    self._chunk(b'{"model": "fake", "message": {"role": "assis\n')
                if sent == faults.error_after:
                    self._chunk(json.dumps({"error": faults.error_message}).encode() + b"\n")
                    break
                if sent == len(lines):
                    self._chunk(json.dumps(final).encode() + b"\n")
                    break
                self._wait(faults.first_token_delay if sent == 0 else faults.token_delay)
                self._chunk(json.dumps(lines[sent]).encode() + b"\n")
            self.wfile.write(b"0\r\n\r\n")
        except _DroppedError:
            self.close_connection = True
            _shutdown(self.connection)
        except OSError:  # the client hung up
            self.close_connection = True

    def _whole(self, whole: dict[str, Any], faults: _Faults) -> None:
        # Without streaming a fault anywhere spoils the whole answer.
        try:
            self._wait(faults.first_token_delay)
        except _DroppedError:
            self._drop_quietly()
            return
        if faults.drop_after is not None:
            self._drop_quietly()
        elif faults.error_after is not None:
            self._send_json(500, {"error": faults.error_message})
        elif faults.malformed_after is not None:
            data = b'{"model": "fake", "message": {"role": "assis'
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self._send_json(200, whole)

    def _drop_quietly(self) -> None:
        self.close_connection = True
        _shutdown(self.connection)


# --- the lines of an answer --------------------------------------------------------------


def _load_line(request: OllamaRequest, *, chat: bool) -> dict[str, Any]:
    line: dict[str, Any] = {"model": request.model, "created_at": _now()}
    line |= {"message": {"role": "assistant", "content": ""}} if chat else {"response": ""}
    return {**line, "done": True, "done_reason": "load"}


def _line(
    request: OllamaRequest, token: _Token, reply: OllamaReply, *, chat: bool
) -> dict[str, Any]:
    kind, text = token
    line: dict[str, Any] = {"model": request.model, "created_at": _now()}
    if not chat:
        line["response"] = text if kind == "content" else ""
        if kind == "thinking":
            line["thinking"] = text
    elif kind == "tool_calls":
        calls = [_wire_tool_call(i, call) for i, call in enumerate(reply.tool_calls)]
        line["message"] = {"role": "assistant", "content": "", "tool_calls": calls}
    elif kind == "thinking":
        line["message"] = {"role": "assistant", "content": "", "thinking": text}
    else:
        line["message"] = {"role": "assistant", "content": text}
    return {**line, "done": False}


def _final_line(
    request: OllamaRequest, reply: OllamaReply, output: _Output, *, chat: bool
) -> dict[str, Any]:
    eval_count = output.generated if reply.eval_count is None else reply.eval_count
    prompt_count = reply.prompt_eval_count
    if prompt_count is None:
        prompt_count = _count_words(request.messages) + _count_words(
            [{"content": request.system}, {"content": request.prompt}]
        )
    line: dict[str, Any] = {"model": request.model, "created_at": _now()}
    line |= {"message": {"role": "assistant", "content": ""}} if chat else {"response": ""}
    return {
        **line,
        "done": True,
        "done_reason": output.cut or reply.done_reason,
        # Plausible, fixed nanosecond timings: tests compare them, nobody measures.
        "total_duration": 1_000_000 + 100_000 * (prompt_count + eval_count),
        "load_duration": 1_000_000,
        "prompt_eval_count": prompt_count,
        "prompt_eval_duration": 100_000 * prompt_count,
        "eval_count": eval_count,
        "eval_duration": 100_000 * eval_count,
    }


def _whole(lines: list[dict[str, Any]], final: dict[str, Any], *, chat: bool) -> dict[str, Any]:
    """The one object of a ``"stream": false`` answer: the lines joined into the final."""
    if not chat:
        whole = {**final, "response": "".join(line["response"] for line in lines)}
        thinking = "".join(line.get("thinking", "") for line in lines)
        return {**whole, "thinking": thinking} if thinking else whole
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(line["message"]["content"] for line in lines),
    }
    thinking = "".join(line["message"].get("thinking", "") for line in lines)
    if thinking:
        message["thinking"] = thinking
    calls = [c for line in lines for c in line["message"].get("tool_calls", [])]
    if calls:
        message["tool_calls"] = calls
    return {**final, "message": message}
