"""Durable runs across real worker processes: two ``lgstream serve --store redis://``
on two loopback ports share one real ``redis-server``.

A run started on worker A is resumed on worker B with nothing lost or repeated,
stopped from B (the model on A stops: its tokens are counted in a file), and
reported lost on B when A's process is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent, connect_sse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lgstream.testing import RedisServer

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

TOKENS = 300
DELAY = 0.02  # seconds per token: a run streams for about 6 s
LIVENESS = 5.0  # RedisStore's default: seconds a heartbeat counts for

# The model appends one byte to a file per token it generates, so the test can see
# it from outside the worker's process (and see it stop).
GRAPH = f"""
import os

import lgstream as lgs
from lgstream.testing import FakeChatModel

COUNT = os.environ["LGS_TOKENS_FILE"]


def _count():
    with open(COUNT, "a") as file:
        file.write(".")


class CountingModel(FakeChatModel):
    def _stream(self, *args, **kwargs):
        for chunk in super()._stream(*args, **kwargs):
            _count()
            yield chunk

    async def _astream(self, *args, **kwargs):
        async for chunk in super()._astream(*args, **kwargs):
            _count()
            yield chunk


answer = " ".join(f"w{{i}}" for i in range({TOKENS}))
slow = lgs.graphs.qa(CountingModel(script=[answer], delay={DELAY}, cycle=True))
fast = lgs.graphs.qa(CountingModel(script=[" ".join(answer.split()[:40])], delay=0.01, cycle=True))
"""


DETACHED = ("--lifetime", "detached")


@dataclass
class Worker:
    url: str
    process: subprocess.Popen[bytes]
    tokens_file: Path

    @property
    def tokens(self) -> int:
        """Tokens this worker's models have generated so far."""
        return self.tokens_file.stat().st_size if self.tokens_file.exists() else 0


def _console_script() -> str:
    found = shutil.which("lgstream", path=str(Path(sys.executable).parent))
    assert found is not None, "the lgstream console script is not installed"
    return found


@contextlib.contextmanager
def worker(directory: Path, name: str, target: str, store: str) -> Iterator[Worker]:
    """``lgstream serve TARGET --port 0 --store STORE --lifetime detached`` in a
    subprocess; its URL read from uvicorn's log (a file: a pipe nobody drains
    would block the server). Stopped at the end."""
    log = directory / f"{name}.log"
    tokens_file = directory / f"{name}.tokens"
    with (
        log.open("wb") as log_file,
        subprocess.Popen(
            [_console_script(), "serve", target, "--port", "0", "--store", store, *DETACHED],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            env={**os.environ, "LGS_TOKENS_FILE": str(tokens_file)},
        ) as process,
    ):
        try:
            deadline = time.monotonic() + 30
            url = ""
            while not url:
                text = log.read_text(errors="replace")
                if "running on " in text:
                    url = text.split("running on ", 1)[1].split()[0]
                elif process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"worker {name} did not start: {text[-2000:]}")
                else:
                    time.sleep(0.05)
            yield Worker(url, process, tokens_file)
        finally:
            if process.poll() is None:
                process.terminate()
            process.wait(15)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("graphs") / "workers_graph.py"
    path.write_text(textwrap.dedent(GRAPH))
    return path


@pytest.fixture(scope="module")
def workers(
    redis_server: RedisServer, graph_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Worker, Worker]]:
    """Two workers serving the ``fast`` graph (for the many-run property test)."""
    directory = tmp_path_factory.mktemp("workers")
    target = f"{graph_file}:fast"
    with (
        worker(directory, "a", target, redis_server.url) as a,
        worker(directory, "b", target, redis_server.url) as b,
    ):
        yield a, b


@pytest.fixture
def slow_workers(
    redis_server: RedisServer, graph_file: Path, tmp_path: Path
) -> Iterator[tuple[Worker, Worker]]:
    """Two fresh workers serving the ``slow`` graph (a test may kill one)."""
    target = f"{graph_file}:slow"
    with (
        worker(tmp_path, "a", target, redis_server.url) as a,
        worker(tmp_path, "b", target, redis_server.url) as b,
    ):
        yield a, b


QUESTION = {"input": {"question": "Why?"}}


def stream_from(
    client: httpx.Client, url: str, last_event_id: str | None, limit: int | None = None
) -> list[ServerSentEvent]:
    """Up to ``limit`` events of a run's stream (all if None), then disconnect."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    got: list[ServerSentEvent] = []
    with connect_sse(client, "GET", url, headers=headers) as source:
        if source.response.status_code == 204:
            return got
        assert source.response.status_code == 200, source.response.read()
        for event in source.iter_sse():
            got.append(event)
            if limit is not None and len(got) == limit:
                break
    return got


def start_and_read(client: httpx.Client, url: str, count: int) -> tuple[str, list[ServerSentEvent]]:
    """Start a run on ``url`` and read its first ``count`` events, then disconnect."""
    with connect_sse(client, "POST", f"{url}/runs/stream", json=QUESTION) as source:
        assert source.response.status_code == 200
        run_id = source.response.headers["x-run-id"]
        first = [event for _, event in zip(range(count), source.iter_sse(), strict=False)]
    return run_id, first


def wait_for(client: httpx.Client, url: str, *statuses: str, within: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        info: dict[str, Any] = client.get(url).json()
        if info["status"] in statuses or time.monotonic() > deadline:
            return info
        time.sleep(0.05)


def test_a_run_started_on_a_resumes_on_b_with_nothing_lost_or_repeated(
    workers: tuple[Worker, Worker],
) -> None:
    a, b = workers
    with httpx.Client(timeout=30) as client:
        run_id, first = start_and_read(client, a.url, 7)  # then the client leaves
        rest = stream_from(client, f"{b.url}/runs/{run_id}/stream", first[-1].id)
        # After the end, a whole replay from either worker: the uninterrupted stream.
        whole_b = stream_from(client, f"{b.url}/runs/{run_id}/stream", None)
        whole_a = stream_from(client, f"{a.url}/runs/{run_id}/stream", None)
        info = client.get(f"{b.url}/runs/{run_id}").json()
    assert info["status"] == "finished"
    assert [(e.id, e.event, e.data) for e in first + rest] == [
        (e.id, e.event, e.data) for e in whole_b
    ]
    assert [(e.id, e.data) for e in whole_a] == [(e.id, e.data) for e in whole_b]
    assert [e.id for e in whole_b] == [f"{run_id}:{n}" for n in range(1, len(whole_b) + 1)]
    text = "".join(json.loads(e.data)["text"] for e in whole_b if e.event == "token")
    assert text == " ".join(f"w{i}" for i in range(40))
    assert whole_b[-1].event == "run_finished"


def test_a_stop_sent_to_b_stops_the_model_on_a_within_a_second(
    slow_workers: tuple[Worker, Worker],
) -> None:
    a, b = slow_workers
    with httpx.Client(timeout=30) as client:
        started = client.post(f"{a.url}/runs", json=QUESTION)
        assert started.status_code == 202
        run_id = started.json()["run_id"]
        deadline = time.monotonic() + 20
        while a.tokens < 10:
            assert time.monotonic() < deadline, "the model on A never streamed"
            time.sleep(0.02)
        stopped = client.post(f"{b.url}/runs/{run_id}/cancel")  # B does not run it
        asked_at, tokens_then = time.monotonic(), a.tokens
        assert stopped.status_code == 202
        assert stopped.json()["stop_requested"] is True
        info = wait_for(client, f"{b.url}/runs/{run_id}", "cancelled")
        time.sleep(1.0)
        after_stop = a.tokens - tokens_then
        time.sleep(0.5)
        events = stream_from(client, f"{b.url}/runs/{run_id}/stream", None)
    assert info["status"] == "cancelled"
    assert time.monotonic() - asked_at < 20
    # Generated after the stop request: at most 1 s worth (50 tokens at 20 ms each).
    assert after_stop <= 1.0 / DELAY, after_stop
    assert a.tokens - tokens_then == after_stop  # and nothing since
    assert a.tokens < TOKENS / 2
    assert b.tokens == 0
    assert json.loads(events[-1].data)["type"] == "RunCancelled"


def test_killing_a_mid_run_gives_b_s_viewer_a_worker_lost_error_in_time(
    slow_workers: tuple[Worker, Worker],
) -> None:
    a, b = slow_workers
    with httpx.Client(timeout=30) as client:
        run_id, first = start_and_read(client, a.url, 5)
        got: list[ServerSentEvent] = []
        killed_at: list[float] = []
        ended_at: list[float] = []

        def view() -> None:
            got.extend(stream_from(client, f"{b.url}/runs/{run_id}/stream", first[-1].id))
            ended_at.append(time.monotonic())

        viewer = threading.Thread(target=view)
        viewer.start()
        time.sleep(0.5)
        a.process.send_signal(signal.SIGKILL)
        killed_at.append(time.monotonic())
        viewer.join(LIVENESS + 10)
        info = client.get(f"{b.url}/runs/{run_id}").json()
    assert not viewer.is_alive(), "the viewer hung"
    last = json.loads(got[-1].data)
    assert (got[-1].event, last["type"]) == ("error", "WorkerLost")
    assert "stopped answering" in last["message"]
    # Noticed within the store's liveness plus a viewer's wait (2 heartbeats) and slack.
    assert ended_at[0] - killed_at[0] < LIVENESS + 2 * 0.5 + 1.0
    seqs = [int(e.id.rpartition(":")[2]) for e in got[:-1]]
    assert seqs == list(range(6, 6 + len(seqs)))  # what A wrote before it died, in order
    assert info["owner_alive"] is False


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(plan=st.lists(st.tuples(st.integers(1, 15), st.booleans()), min_size=1, max_size=12))
def test_random_cuts_and_targets_give_the_uninterrupted_stream(
    workers: tuple[Worker, Worker], plan: list[tuple[int, bool]]
) -> None:
    """A viewer that leaves after ``cut`` events and comes back on worker A or B
    (``True``: the other one), again and again, gets every event exactly once."""
    a, b = workers
    with httpx.Client(timeout=30) as client:
        started = client.post(f"{a.url}/runs", json=QUESTION)
        run_id = started.json()["run_id"]
        uninterrupted: list[ServerSentEvent] = []
        whole = threading.Thread(
            target=lambda: uninterrupted.extend(
                stream_from(client, f"{a.url}/runs/{run_id}/stream", None)
            )
        )
        whole.start()  # one viewer that stays, while the other comes and goes
        received: list[ServerSentEvent] = []
        at, steps = a, iter(plan)
        while not received or received[-1].event not in ("run_finished", "error"):
            cut, switch = next(steps, (1000, False))
            at = (b if at is a else a) if switch else at
            last_id = received[-1].id if received else None
            part = stream_from(client, f"{at.url}/runs/{run_id}/stream", last_id, cut)
            assert part, f"no event after {last_id} on {at.url}"
            received.extend(part)
        whole.join(30)
    assert received[-1].event == "run_finished"
    assert [(e.id, e.event, e.data) for e in received] == [
        (e.id, e.event, e.data) for e in uninterrupted
    ]
