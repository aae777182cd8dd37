"""The replay buffer's bounds (events, runs, bytes) and what a resuming or
lagging reader is told, so that a browser's ``EventSource`` stops asking."""

from __future__ import annotations

import asyncio
import json
import random

import httpx
import pytest

from lgstream.serving._wire import _Wire
from lgstream.serving.replay import _buffered_body, _RunLog
from lgstream.sinks.asgi import ReplayBuffer, create_app
from lgstream.testing import FakeChatModel

from .graphs import async_seed_graph
from .test_sinks_asgi import serving

JSON = {"Content-Type": "application/json"}


def sizes_add_up(buffer: ReplayBuffer) -> bool:
    logs = [buffer._get(key) for key in list(buffer._runs)]
    return buffer.size == sum(log.size for log in logs if log is not None) and all(
        log is not None and log.size == sum(item.size for item in log.items) for log in logs
    )


def finished(log: _RunLog) -> None:
    log.finish()


def test_finished_runs_go_first_when_the_bytes_run_out() -> None:
    buffer = ReplayBuffer(max_bytes=20_000)
    old = buffer._add("old")
    for _ in range(5):
        old.append("token", {"text": "x" * 1000})
    finished(old)
    new = buffer._add("new")
    for _ in range(15):
        new.append("token", {"text": "y" * 1000})
    assert "old" not in buffer  # dropped whole, before the live run lost anything
    assert [item.seq for item in new.items] == list(range(1, 16))
    assert buffer.size <= buffer.max_bytes
    assert sizes_add_up(buffer)


def test_a_live_run_past_the_bytes_gives_up_its_own_oldest_events_but_never_its_latest() -> None:
    buffer = ReplayBuffer(max_bytes=10_000)
    other = buffer._add("other")  # still going: never dropped for another run
    other.append("token", {"text": "z" * 2000})
    log = buffer._add("big")
    for _ in range(30):
        log.append("token", {"text": "y" * 1000})
    assert buffer.size <= buffer.max_bytes
    assert log.items[-1].seq == 30
    assert log.first_seq > 1
    assert [item.seq for item in other.items] == [1]
    huge = buffer._add("huge")
    huge.append("token", {"text": "h" * 50_000})  # one event larger than the whole bound
    assert [item.seq for item in huge.items] == [1]
    assert sizes_add_up(buffer)


def test_size_accounting_stays_exact_under_random_use() -> None:
    rng = random.Random(7)
    buffer = ReplayBuffer(max_events=7, max_runs=4, max_bytes=30_000)
    logs: list[_RunLog] = []
    for step in range(2000):
        action = rng.random()
        if action < 0.05 or not logs:
            logs.append(buffer._add(f"run{step}"))
            logs[-1].task = object()  # type: ignore[assignment]  # its response started
        elif action < 0.1:
            rng.choice(logs).finish()
        else:
            rng.choice(logs).append("token", {"text": "t" * rng.randrange(0, 3000)})
        assert sizes_add_up(buffer), step
        assert all(len(log.items) <= 7 for log in logs)


def test_an_app_with_a_byte_bound_keeps_within_it() -> None:
    replay = ReplayBuffer(max_bytes=200_000)
    model = FakeChatModel(script=["fine"], cycle=True)
    app = create_app(async_seed_graph(model), replay=replay)
    question = {"input": {"question": "q" * 60_000}}  # echoed in several events
    with serving(app) as url, httpx.Client(timeout=10) as client:
        bodies = [client.post(f"{url}/stream", json=question).text for _ in range(6)]
        last_id = next(
            line.removeprefix("id: ") for line in bodies[-1].splitlines() if line.startswith("id:")
        )
        resumed = client.get(f"{url}/stream", headers={"Last-Event-ID": last_id})
    assert all("event: run_finished" in body for body in bodies)
    assert replay.size <= 200_000
    assert 1 <= len(replay) < 6
    assert resumed.status_code == 200  # the newest run is still there to resume
    assert "event: run_finished" in resumed.text


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(Exception, match="max_bytes=0"):
        ReplayBuffer(max_bytes=0)


@pytest.mark.parametrize("fmt", ["sse", "ndjson"])
def test_a_reader_that_fell_behind_gets_an_error_without_an_id(fmt: str) -> None:
    async def main() -> list[bytes]:
        buffer = ReplayBuffer(max_events=3)
        log = buffer._add("r1")
        for n in range(6):
            log.append("token", {"n": n})
        log.finish()
        return [chunk async for chunk in _buffered_body(log, 0, _Wire("r1", fmt), 0.1, None)]  # type: ignore[arg-type]

    (chunk,) = asyncio.run(main())
    text = chunk.decode()
    if fmt == "sse":
        assert "event: error" in text
        assert "id:" not in text  # the browser's Last-Event-ID stays at the last real event
    else:
        line = json.loads(text)
        assert "id" not in line
        assert line["type"] == "ResumeError"
    assert "events 1 to 3 of run r1 are no longer buffered" in text


@pytest.mark.parametrize(
    "value", [{"a": 1, "b": [1, {"c": None}]}, {}, [1, 2], "text", 3.5, None, {"id": "own"}]
)
def test_ndjson_lines_are_the_value_with_its_id(value: object) -> None:
    buffer = ReplayBuffer()
    log = buffer._add("r")
    log.append("custom", value)  # type: ignore[arg-type]
    line = json.loads(_Wire("r", "ndjson").encode(log.items[0]))
    expected = (
        {"id": 1, **value}
        if isinstance(value, dict)
        else {"id": 1, "kind": "custom", "data": value}
    )
    assert line == expected


def test_a_fast_run_does_not_outrun_its_only_reader() -> None:
    """A model with no delay streams faster than one client reads: the default
    buffer keeps enough (2,000 tokens here) that the reader still gets every event."""
    model = FakeChatModel(script=[" ".join(f"w{i}" for i in range(2000))])
    app = create_app(async_seed_graph(model))
    with serving(app) as url, httpx.Client(timeout=30) as client:
        response = client.post(f"{url}/stream?format=ndjson", json={"input": {"question": "Why?"}})
    lines = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    assert [line["id"] for line in lines] == list(range(1, len(lines) + 1))
    assert [line for line in lines if line["kind"] == "error"] == []
    assert sum(line["kind"] == "token" for line in lines) >= 2000
    assert lines[-1]["kind"] == "run_finished"
