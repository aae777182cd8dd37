"""lgstream's pytest plugin: fixtures for testing graphs, and an opt-in network guard.

Installed with lgstream and loaded by pytest through the ``pytest11`` entry point,
so nothing needs to be imported. It gives:

- ``fake_model``: a factory, ``fake_model(script=[...], **kw) -> FakeChatModel``;
- ``fake_ollama``: a factory of running ``FakeOllamaServer`` instances, stopped after the
  test: ``fake_ollama(script=[...]).url``;
- ``recorder``: a factory that records streams to cassettes under ``tmp_path``:
  ``recorder(stream, "run")``, then ``recorder.replay("run")``;
- the ``live`` marker, and a network guard that is off unless the ini option
  ``lgstream_block_network = true`` turns it on. Then, in every test not marked
  ``live``, connecting to a host that is not on loopback raises
  ``NetworkBlockedError``; ``--lgstream-allow-network`` lifts it for a whole run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, overload

import pytest

from .._events import Event
from .._pipeline import AsyncEventStream, EventStream
from ._fake_model import FakeChatModel
from ._network import block_network
from ._ollama_server import FakeOllamaServer
from ._record import areplay, record, replay

__all__ = ["CassetteRecorder", "fake_model", "fake_ollama", "recorder"]

E = TypeVar("E", bound=Event)

_INI_BLOCK = "lgstream_block_network"
_OPT_ALLOW = "--lgstream-allow-network"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ini option and the command-line flag of the network guard."""
    parser.addini(
        _INI_BLOCK,
        "lgstream: in tests not marked live, refuse connections to hosts not on loopback",
        type="bool",
        default=False,
    )
    group = parser.getgroup("lgstream")
    group.addoption(
        _OPT_ALLOW,
        action="store_true",
        default=False,
        help=f"lgstream: allow network connections in every test, even with {_INI_BLOCK}",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``live`` marker, so ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        "live: the test may use the network (lifts lgstream's network guard)",
    )


@pytest.fixture(autouse=True)
def _lgstream_network_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Block connections off loopback in this test, if the project asked for it."""
    config = request.config
    if (
        not config.getini(_INI_BLOCK)
        or config.getoption(_OPT_ALLOW)
        or request.node.get_closest_marker("live") is not None
    ):
        yield
        return
    with block_network():
        yield


@pytest.fixture
def fake_model() -> Callable[..., FakeChatModel]:
    """A factory of ``FakeChatModel``: ``fake_model(script=["Hi"], delay=0.01)``.

    Each call makes a new model; every keyword is a ``FakeChatModel`` field.
    """

    def make(script: Any = None, **kwargs: Any) -> FakeChatModel:
        if script is not None:
            kwargs["script"] = script
        return FakeChatModel(**kwargs)

    return make


class CassetteRecorder:
    """Records streams to cassettes in one directory and replays them by name.

    The ``recorder`` fixture gives one writing under the test's ``tmp_path``.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        """Where the cassettes go."""

    def path(self, name: str = "cassette") -> Path:
        """The file of the cassette called ``name``: ``<directory>/<name>.jsonl``."""
        return self.directory / f"{name}.jsonl"

    @overload
    def __call__(self, stream: EventStream[E], name: str = ...) -> EventStream[E]: ...
    @overload
    def __call__(self, stream: AsyncEventStream[E], name: str = ...) -> AsyncEventStream[E]: ...
    def __call__(
        self, stream: EventStream[E] | AsyncEventStream[E], name: str = "cassette"
    ) -> EventStream[E] | AsyncEventStream[E]:
        """Record ``stream`` to the cassette ``name`` as it is read (see ``record()``)."""
        return record(stream, self.path(name))

    def replay(self, name: str = "cassette") -> EventStream[Event]:
        """The events of the cassette ``name``, as a sync stream."""
        return replay(self.path(name))

    def areplay(self, name: str = "cassette") -> AsyncEventStream[Event]:
        """The events of the cassette ``name``, as an async stream."""
        return areplay(self.path(name))


@pytest.fixture
def recorder(tmp_path: Path) -> CassetteRecorder:
    """Records streams to cassettes under ``tmp_path``: ``recorder(stream, "run")``
    yields the events and writes ``run.jsonl``; ``recorder.replay("run")`` reads it."""
    return CassetteRecorder(tmp_path)


@pytest.fixture
def fake_ollama() -> Iterator[Callable[..., FakeOllamaServer]]:
    """A factory of running ``FakeOllamaServer`` instances, all stopped after the test:
    ``server = fake_ollama(script=["Hi"])``, then point a client at ``server.url``.

    Every argument is ``FakeOllamaServer``'s. The servers listen on 127.0.0.1, so
    the network guard lets clients reach them.
    """
    servers: list[FakeOllamaServer] = []

    def start(*args: Any, **kwargs: Any) -> FakeOllamaServer:
        server = FakeOllamaServer(*args, **kwargs).start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
