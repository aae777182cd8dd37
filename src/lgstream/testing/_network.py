"""The network guard for offline test suites: ``block_network()`` makes connecting
to anything but loopback raise ``NetworkBlockedError``; lgstream's pytest plugin
turns it on per test (``lgstream_block_network = true``)."""

from __future__ import annotations

import _socket
import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any, Final

from .._errors import UsageError
from .._loopback import is_loopback

__all__ = ["NetworkBlockedError", "block_network"]


class NetworkBlockedError(UsageError, ConnectionError):
    """A test tried to connect to a host that is not on loopback while the network
    guard was on (``lgstream_block_network = true``, or ``block_network()``).

    It is a ``ConnectionError``, so clients that handle refused connections handle
    this too; its message says how to allow the connection.
    """

    def __init__(self, address: object, *, service: str | None = None) -> None:
        fake = ""
        if service is not None:  # the backend's own message would hide the guard's
            fake = f" The connection was to {service}: point the test at a fake server"
            fake += " on loopback (lgstream.testing.FakeOllamaServer) instead."
        super().__init__(
            f"lgstream blocked a network connection to {address!r}: tests may only"
            " connect to loopback (127.0.0.0/8, ::1, localhost)."
            f"{fake} Mark a test that needs the network with @pytest.mark.live, or run"
            " pytest with --lgstream-allow-network."
        )
        self.address = address
        """The address the test tried to connect to."""


def blocked_connection(error: BaseException) -> NetworkBlockedError | None:
    """The guard's error behind a client's connection error (httpx and ollama wrap
    it, sometimes ``from None``), or None if the guard did not block it."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, NetworkBlockedError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


_INET: Final = (socket.AF_INET, socket.AF_INET6)
_guard_lock = threading.Lock()


@contextlib.contextmanager
def block_network() -> Iterator[None]:
    """Within the block, connecting a socket to a host not on loopback raises
    ``NetworkBlockedError`` before any packet is sent.

    It patches ``socket.socket.connect`` and ``connect_ex``, which every Python
    client goes through (``socket.create_connection``, asyncio, httpx); Unix
    sockets and loopback addresses are let through, so fake servers work. It
    affects all threads while it is on. Blocks nest.
    """
    with _guard_lock:
        connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

        def guarded_connect(sock: _socket.socket, address: Any, /) -> None:
            if sock.family in _INET and not is_loopback(address):
                raise NetworkBlockedError(address)
            connect(sock, address)

        def guarded_connect_ex(sock: _socket.socket, address: Any, /) -> int:
            if sock.family in _INET and not is_loopback(address):
                raise NetworkBlockedError(address)
            return connect_ex(sock, address)

        socket.socket.connect = guarded_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    try:
        yield
    finally:
        with _guard_lock:
            socket.socket.connect = connect  # type: ignore[method-assign]
            socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
