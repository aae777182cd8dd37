"""A real LangGraph Server for tests: ``langgraph dev`` (in memory) on loopback.

``LangGraphDevServer`` writes a ``langgraph.json`` for the graphs it is given,
starts ``langgraph dev`` (from ``langgraph-cli[inmem]``) on 127.0.0.1 on a free
port in a subprocess, waits until ``/ok`` answers, and stops the whole process
group on exit. The server imports the graphs itself, so they must be importable
from a file: ``{"chat": "path/to/graphs.py:chat"}``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Final

from .._errors import UsageError

__all__ = ["DevServerError", "LangGraphDevServer"]

# Telemetry and tracing off: the server should talk to nobody but its tests.
_QUIET_ENV: Final = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "PYTHONUNBUFFERED": "1",
}
_LAUNCH: Final = "from langgraph_cli.cli import cli; cli()"
_COLOURS: Final = re.compile(r"\x1b\[[0-9;]*m")
# Loopback never goes through a proxy, whatever the environment says.
_DIRECT: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class DevServerError(RuntimeError):
    """``langgraph dev`` did not start (its log says why) or is missing."""


def _free_port() -> int:
    # langgraph dev takes a port number, not 0: ask the OS for a free one. Another
    # process could take it before the server binds; the start-up check then fails
    # with the server's own "address in use" log.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LangGraphDevServer:
    """``langgraph dev`` in a subprocess, for the length of a ``with`` block::

        with LangGraphDevServer({"chat": "tests/server_graphs.py:chat"}) as server:
            remote = RemoteGraph("chat", url=server.url)

    Args:
        graphs: graph id to ``"file.py:attribute"`` (a compiled graph, or a function
            that builds one), as in ``langgraph.json``; relative files are resolved
            against the current directory.
        env: extra environment variables for the server.
        jobs_per_worker: runs the server may execute at once.
        startup_timeout: seconds to wait for ``/ok``.
        workdir: where ``langgraph.json``, the server's in-memory persistence and
            its log go (default: a new temporary directory, removed on stop).

    Raises:
        UsageError: ``langgraph-cli[inmem]`` is not installed.
    """

    def __init__(
        self,
        graphs: Mapping[str, str],
        *,
        env: Mapping[str, str] | None = None,
        jobs_per_worker: int = 4,
        startup_timeout: float = 60.0,
        workdir: str | Path | None = None,
    ) -> None:
        # Looked up, not imported: the server runs in its own process.
        for module in ("langgraph_cli", "langgraph_api", "langgraph_runtime_inmem"):
            if importlib.util.find_spec(module) is None:
                raise UsageError(
                    f"LangGraphDevServer needs `langgraph dev` ({module} is missing):"
                    " pip install 'langgraph-cli[inmem]' (lgstream's `devserver` extra)"
                )
        self.graphs = {name: self._absolute(spec) for name, spec in graphs.items()}
        self.env = dict(env or {})
        self.jobs_per_worker = jobs_per_worker
        self.startup_timeout = startup_timeout
        self._workdir = Path(workdir) if workdir is not None else None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.url = ""
        """The server's base URL (``http://127.0.0.1:<port>``), once started."""

    @staticmethod
    def _absolute(spec: str) -> str:
        path, sep, attribute = spec.rpartition(":")
        if not sep or not path or not attribute:
            raise UsageError(f"a graph is 'file.py:attribute', got {spec!r}")
        return f"{Path(path).resolve()}:{attribute}"

    @property
    def log_path(self) -> Path:
        """The server's combined stdout and stderr."""
        return self._dir() / "server.log"

    def log(self) -> str:
        """What the server has printed so far, without its terminal colours."""
        try:
            return _COLOURS.sub("", self.log_path.read_text(errors="replace"))
        except FileNotFoundError:
            return ""

    def _dir(self) -> Path:
        if self._workdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="lgstream-devserver-")
            self._workdir = Path(self._tempdir.name)
        return self._workdir

    def start(self) -> str:
        """Start the server and wait until it answers; returns its URL."""
        if self._process is not None:
            return self.url
        workdir = self._dir()
        config = workdir / "langgraph.json"
        config.write_text(json.dumps({"dependencies": ["."], "graphs": self.graphs}))
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        command = [
            sys.executable,
            "-c",
            _LAUNCH,
            "dev",
            "--no-browser",
            "--no-reload",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--config",
            str(config),
            "--n-jobs-per-worker",
            str(self.jobs_per_worker),
        ]
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            command,
            cwd=workdir,
            env={**os.environ, **_QUIET_ENV, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stop() ends the server's own children too
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise DevServerError(
                    f"langgraph dev exited with code {self._process.returncode} before it"
                    f" answered; its log:\n{self.log()[-4000:]}"
                )
            try:
                with _DIRECT.open(f"{self.url}/ok", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise DevServerError(
            f"langgraph dev did not answer {self.url}/ok within {self.startup_timeout}s;"
            f" its log:\n{self.log()[-4000:]}"
        )

    def stop(self) -> None:
        """Stop the server (its whole process group) and remove its temporary files."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None
            self._workdir = None

    def __enter__(self) -> LangGraphDevServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
