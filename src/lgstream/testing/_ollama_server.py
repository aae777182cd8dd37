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
    """Reasoning, streamed before the content in ``message.thinking`` (omitted when the
    request says ``"think": false``, as Ollama does)."""
    tool_calls: Sequence[Mapping[str, Any]] = ()
    """Tool calls, all sent whole in one line after the content, as Ollama does. Each is
    ``{"name": ..., "arguments": {...}}`` or Ollama's own ``{"function": {...}}``."""
    eval_count: int | None = None
    """Output token count of the ``done`` line; default: the number of chunks."""
    prompt_eval_count: int | None = None
    """Input token count of the ``done`` line; default: the words in the request."""
    done_reason: str = "stop"
    """The ``done_reason`` of the final line (``"stop"``, ``"length"``, ...)."""
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
    """The chat messages as sent (``[]`` for other endpoints)."""
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


class _Model:
    """A model the server knows, and where its script is."""

    def __init__(self, name: str, script: OllamaScript) -> None:
        self.name = name
        self.script = script
        self.calls = 0


class FakeOllamaServer:
    """A real HTTP server on ``127.0.0.1`` that answers like Ollama, from a script.

    Endpoints: ``POST /api/chat`` (NDJSON stream, or one JSON object with
    ``"stream": false``), ``GET /api/tags``, ``POST /api/show``, ``GET /api/ps``,
    ``GET /api/version`` and ``GET /``. An unknown model gets HTTP 404
    ``{"error": "model 'x' not found"}``, as from Ollama.

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

    def _not_found(self, model: str | None) -> None:
        self._send_json(404, {"error": f"model '{model}' not found"})

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
            data = b"Ollama is running"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self._send_json(404, {"error": "404 page not found"})

    def do_HEAD(self) -> None:
        """``HEAD /``: Ollama's health check."""
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        """Answer ``/api/chat`` and ``/api/show``."""
        request = self._read()
        fake = self.server.fake
        if request.path == "/api/show":
            if fake._find(request.model) is None:
                self._not_found(request.model)
            else:
                self._send_json(200, fake._show())
        elif request.path == "/api/chat":
            self._chat(request)
        else:
            self._send_json(404, {"error": "404 page not found"})

    def _chat(self, request: OllamaRequest) -> None:
        fake = self.server.fake
        if request.model is None:
            self._send_json(400, {"error": "model is required"})
            return
        model = fake._find(request.model)
        if model is None:
            self._not_found(request.model)
            return
        try:
            reply = fake._next_reply(model, request)
        except Exception as error:  # a script that ran out or a function that raised
            fake._record_error(error)
            self._send_json(500, {"error": str(error)})
            return
        faults = fake._faults(reply)
        lines = self._message_lines(request, reply)
        final = self._final_line(request, reply, lines)
        if request.stream:
            self._stream(lines, final, faults)
        else:
            self._whole(lines, final, faults)

    def _message_lines(self, request: OllamaRequest, reply: OllamaReply) -> list[dict[str, Any]]:
        name = request.model
        messages: list[dict[str, Any]] = []
        if request.think is not False:
            messages += [
                {"role": "assistant", "content": "", "thinking": piece}
                for piece in _chunks(reply.thinking)
            ]
        messages += [{"role": "assistant", "content": piece} for piece in _chunks(reply.content)]
        if reply.tool_calls:
            calls = [_wire_tool_call(i, call) for i, call in enumerate(reply.tool_calls)]
            messages.append({"role": "assistant", "content": "", "tool_calls": calls})
        return [
            {"model": name, "created_at": _now(), "message": message, "done": False}
            for message in messages
        ]

    def _final_line(
        self, request: OllamaRequest, reply: OllamaReply, lines: list[dict[str, Any]]
    ) -> dict[str, Any]:
        eval_count = len(lines) if reply.eval_count is None else reply.eval_count
        prompt_count = reply.prompt_eval_count
        if prompt_count is None:
            prompt_count = _count_words(request.messages)
        return {
            "model": request.model,
            "created_at": _now(),
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": reply.done_reason,
            # Plausible, fixed nanosecond timings: tests compare them, nobody measures.
            "total_duration": 1_000_000 + 100_000 * (prompt_count + eval_count),
            "load_duration": 1_000_000,
            "prompt_eval_count": prompt_count,
            "prompt_eval_duration": 100_000 * prompt_count,
            "eval_count": eval_count,
            "eval_duration": 100_000 * eval_count,
        }

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

    def _whole(self, lines: list[dict[str, Any]], final: dict[str, Any], faults: _Faults) -> None:
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
            self._send_json(200, {**final, "message": message})

    def _drop_quietly(self) -> None:
        self.close_connection = True
        _shutdown(self.connection)
