"""Who may talk to a served graph: the ``Host`` a request names (DNS rebinding) and
the web page it comes from (``Origin``, ``Sec-Fetch-Site``), checked before any
route runs."""

from __future__ import annotations

import functools
import ipaddress
import json
from collections.abc import Sequence
from typing import Any, Final, Literal, TypeAlias

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["HostGuard", "TrustedHosts"]

TrustedHosts: TypeAlias = "Sequence[str] | Literal['auto'] | None"
"""The ``Host`` names a served app answers: ``"auto"`` (loopback names only when the
server listens on loopback), a list of names, or None for any."""

_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.", "::1", "[::1]"})


# Asked twice per request (the server's address and the Host): parsing an address
# was 5% of the loop's time with 200 viewers. Bounded, for hostile Host headers.
@functools.lru_cache(maxsize=256)
def _is_loopback(host: str) -> bool:
    host = host.lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _hostname(host_header: str) -> str:
    """``"127.0.0.1:8000"`` -> ``"127.0.0.1"``, ``"[::1]:80"`` -> ``"[::1]"``."""
    if host_header.startswith("["):
        return host_header.partition("]")[0] + "]"
    return host_header.rpartition(":")[0] if ":" in host_header else host_header


class HostGuard:
    """ASGI middleware: refuses, with a 403 that says why, a request whose ``Host`` is
    not trusted (a web page that rebinds its DNS name to 127.0.0.1 sends its own name),
    or that a browser sent from another site (``Origin`` not this server's and not in
    ``cors_origins``; ``Sec-Fetch-Site: cross-site``)."""

    def __init__(
        self, app: ASGIApp, *, trusted_hosts: TrustedHosts, cors_origins: Sequence[str]
    ) -> None:
        self.app = app
        self.trusted_hosts = (
            trusted_hosts
            if trusted_hosts is None or trusted_hosts == "auto"
            else frozenset(host.lower() for host in trusted_hosts)
        )
        self.cors_origins = frozenset(origin.rstrip("/") for origin in cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await _forbidden(refusal, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> str | None:
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        host = headers.get("host", "")
        name = _hostname(host).lower()
        trusted = self.trusted_hosts
        if trusted == "auto":
            server: Any = scope.get("server")
            if server and _is_loopback(str(server[0])) and not _is_loopback(name):
                return (
                    f"Host {host!r} is not a loopback name, and this server listens on"
                    " loopback (a web page rebinding its DNS name to 127.0.0.1 sends its"
                    " own); behind a proxy, pass trusted_hosts=[...] to create_app"
                )
        elif trusted is not None and name not in trusted:
            return f"Host {host!r} is not one this server answers (trusted_hosts)"
        origin = headers.get("origin")
        if origin is not None and origin != "null":
            same = origin.rstrip("/") in (f"http://{host}", f"https://{host}")
            if (
                not same
                and origin.rstrip("/") not in self.cors_origins
                and ("*" not in self.cors_origins)
            ):
                return (
                    f"cross-origin request from {origin} refused: add it to"
                    " create_app(cors_origins=[...]) to allow it"
                )
        elif headers.get("sec-fetch-site") == "cross-site" and "*" not in self.cors_origins:
            return "cross-site request refused (Sec-Fetch-Site: cross-site)"
        return None


async def _forbidden(message: str, send: Send) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
