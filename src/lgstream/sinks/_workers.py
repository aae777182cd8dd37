"""Threads for served runs' sync nodes, so that stalled runs do not starve the rest.

LangGraph runs a sync node (and LangChain a sync model call) with
``loop.run_in_executor(None, ...)``: on the event loop's *default* executor,
which asyncio sizes at ``min(32, cpus + 4)`` threads (6 on 2 cores). Six runs
stalled on a model that never answers would hold every thread, and every later
sync run would wait behind them. LangChain offers no executor option, so
``create_app`` gives the serving loop a default executor of its own size.
"""

from __future__ import annotations

import asyncio
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["SYNC_WORKERS", "SyncWorkers"]

SYNC_WORKERS: Final = 64
"""Threads for sync nodes that ``create_app`` gives its event loop by default."""


class SyncWorkers:
    """ASGI middleware: the first request on an event loop makes a thread pool of
    ``max_workers`` that loop's default executor. It is a middleware rather than a
    lifespan hook so that it works when the app is mounted in another one (Starlette
    runs no lifespan for mounted apps). The pool lives as long as the loop; asyncio
    shuts it down when the loop ends."""

    def __init__(self, app: ASGIApp, *, max_workers: int) -> None:
        self.app = app
        self.max_workers = max_workers
        self._loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        if loop not in self._loops:
            self._loops.add(loop)
            executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="lgstream-sync")
            loop.set_default_executor(executor)
        await self.app(scope, receive, send)
