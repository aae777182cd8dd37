"""Served sync runs get threads of their own: runs stalled on a model that never
answers do not hold up the next one (asyncio's default executor has 6 threads
on 2 cores). Over real HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from langgraph.graph import END, START, StateGraph

from lgstream import UsageError
from lgstream.sinks.asgi import create_app

from .graphs import TextState
from .test_sinks_asgi import serving

# More stalled runs than asyncio's default executor has threads, on any machine.
STALLED = min(32, (os.cpu_count() or 1) + 4) + 2


def gated_graph(gate: threading.Event) -> Any:
    """A sync node that waits on ``gate`` when asked to stall (a hung model call)."""

    def answer(state: TextState) -> dict[str, Any]:
        if state["question"] == "stall":
            gate.wait(30)
        return {"answer": "done"}

    builder = StateGraph(TextState)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    builder.add_edge("answer", END)
    return builder.compile()


def quick_run_while_stalled(**options: Any) -> bool:
    """Start STALLED runs that hang, then ask for a quick one: did it finish in 3 s?"""
    gate = threading.Event()
    app = create_app(gated_graph(gate), replay=False, **options)
    with serving(app) as url, ThreadPoolExecutor(STALLED) as pool:
        try:

            def post(question: str, timeout: float) -> str:
                with httpx.Client(timeout=timeout) as client:
                    body = {"input": {"question": question}}
                    return client.post(f"{url}/stream?format=ndjson", json=body).text

            stalled = [pool.submit(post, "stall", 30) for _ in range(STALLED)]
            time.sleep(1.0)  # every stalled run has taken its thread
            try:
                quick = post("quick", 3)
            except httpx.TimeoutException:
                return False
            return '"kind":"run_finished"' in quick
        finally:
            gate.set()
            for future in stalled:
                future.result()


def test_a_quick_sync_run_is_not_held_up_by_stalled_ones() -> None:
    assert quick_run_while_stalled(sync_workers=STALLED + 8)


def test_without_its_own_threads_the_quick_run_waits() -> None:
    # The control: asyncio's default executor is what starved it.
    assert not quick_run_while_stalled(sync_workers=None)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "8"])
def test_bad_sync_workers_are_refused(bad: Any) -> None:
    with pytest.raises(UsageError, match="sync_workers is a number of threads"):
        create_app(gated_graph(threading.Event()), sync_workers=bad)
