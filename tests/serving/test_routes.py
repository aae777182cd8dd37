"""The durable-run routes of ``create_app`` over real HTTP on 127.0.0.1: start,
stream, join from a cursor, facts, cancel, and every refusal a 4xx that says why."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from lgstream.sinks.asgi import create_app
from lgstream.testing import FakeChatModel

from ..graphs import async_seed_graph
from ..test_sinks_asgi import QUESTION, serving

ANSWER = " ".join(f"word{i}" for i in range(60))
JSON = {"Content-Type": "application/json"}


def app_and_model(delay: float = 0.005, **options: Any) -> tuple[Any, FakeChatModel]:
    model = FakeChatModel(script=[ANSWER], delay=delay, cycle=True)
    return create_app(async_seed_graph(model), **options), model


def ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def wait_for_status(client: httpx.Client, url: str, *statuses: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        info: dict[str, Any] = client.get(url).json()
        if info["status"] in statuses:
            return info
        time.sleep(0.05)
    raise AssertionError(f"{url} never reached {statuses}")


def test_a_detached_run_survives_its_client_and_is_joined_from_a_cursor() -> None:
    app, model = app_and_model()
    with serving(app) as url, httpx.Client(timeout=10) as client:
        with connect_sse(client, "POST", f"{url}/runs/stream", json={"input": QUESTION}) as source:
            location = source.response.headers["content-location"]
            first = [ev for _, ev in zip(range(5), source.iter_sse(), strict=False)]
        run_id = location.rpartition("/")[2]
        assert first[-1].id == f"{run_id}:5"
        info = wait_for_status(client, f"{url}{location}", "finished")  # it went on alone
        assert info["last_seq"] > 5
        with connect_sse(
            client, "GET", f"{url}{location}/stream", headers={"Last-Event-ID": first[-1].id}
        ) as source:
            rest = list(source.iter_sse())
        whole = ndjson(client.get(f"{url}{location}/stream?format=ndjson").text)
        by_after = ndjson(client.get(f"{url}{location}/stream?format=ndjson&after=5").text)
        done = client.get(f"{url}{location}/stream", headers={"Last-Event-ID": rest[-1].id})
    assert [ev.id for ev in first + rest] == [f"{run_id}:{n}" for n in range(1, len(whole) + 1)]
    assert [json.loads(ev.data) for ev in first + rest] == [
        {k: v for k, v in line.items() if k != "id"} for line in whole
    ]
    assert by_after == whole[5:]
    assert rest[-1].event == "run_finished"
    assert done.status_code == 204  # nothing more: EventSource stops
    assert model.tokens_streamed == 60


def test_start_in_the_background_then_read_facts_and_cancel() -> None:
    app, model = app_and_model(delay=0.02)
    with serving(app) as url, httpx.Client(timeout=10) as client:
        started = client.post(f"{url}/runs", json={"input": QUESTION})
        assert started.status_code == 202
        run = started.json()
        assert run["status"] == "pending"
        location = started.headers["location"]
        assert location == f"/runs/{run['run_id']}"
        time.sleep(0.3)
        stopped = client.post(f"{url}{location}/cancel")
        assert stopped.status_code == 202
        info = wait_for_status(client, f"{url}{location}", "cancelled")
        tokens = model.tokens_streamed
        time.sleep(0.3)
        again = client.post(f"{url}{location}/cancel")
        lines = ndjson(client.get(f"{url}{location}/stream?format=ndjson").text)
    assert model.tokens_streamed == tokens < 60  # the model stopped
    assert info["error"]["type"] == "RunCancelled"
    assert again.status_code == 200  # ended already: nothing to do
    assert lines[-1]["type"] == "RunCancelled"


def test_a_thread_with_a_live_run_is_a_409_unless_told_to_interrupt() -> None:
    app, _ = app_and_model(delay=0.02)
    config = {"configurable": {"thread_id": "t-1"}}
    with serving(app) as url, httpx.Client(timeout=10) as client:
        first = client.post(f"{url}/runs", json={"input": QUESTION, "config": config}).json()
        busy = client.post(f"{url}/runs", json={"input": QUESTION, "config": config})
        second = client.post(
            f"{url}/runs",
            json={"input": QUESTION, "config": config, "multitask_strategy": "interrupt"},
        )
        first_after = client.get(f"{url}/runs/{first['run_id']}").json()
        client.post(f"{url}/runs/{second.json()['run_id']}/cancel")
    assert busy.status_code == 409
    assert busy.json()["run_id"] == first["run_id"]
    assert "has a run going" in busy.json()["error"]
    assert second.status_code == 202
    assert second.json()["thread_id"] == "t-1"
    assert first_after["status"] == "cancelled"


def test_an_attached_run_is_cancelled_when_its_client_leaves() -> None:
    app, model = app_and_model(delay=0.02, grace=0.2, lifetime="attached")
    with serving(app) as url, httpx.Client(timeout=10) as client:
        with connect_sse(client, "POST", f"{url}/runs/stream", json={"input": QUESTION}) as source:
            location = source.response.headers["content-location"]
            [ev for _, ev in zip(range(3), source.iter_sse(), strict=False)]
        info = wait_for_status(client, f"{url}{location}", "cancelled")
    assert "no client listened" in info["error"]["message"]
    assert model.tokens_streamed < 60


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "says"),
    [
        ("GET", "/runs/nope", None, {}, 404, "not in the run store"),
        ("GET", "/runs/nope/stream", None, {}, 404, "not in the run store"),
        ("POST", "/runs/nope/cancel", None, {}, 404, "not in the run store"),
        ("POST", "/runs", {"input": 1, "lifetime": "forever"}, {}, 400, "lifetime is"),
        ("POST", "/runs", {"input": 1, "multitask_strategy": "x"}, {}, 400, "multitask"),
        ("POST", "/runs", {"input": 1, "run_id": "mine"}, {}, 400, "unknown fields run_id"),
        ("POST", "/runs", {"config": {}}, {}, 400, "needs an input"),
        ("POST", "/runs", {"input": 1, "config": {"tags": "x"}}, {}, 400, "config.tags"),
        ("POST", "/runs/stream?format=agui", {"input": 1}, {}, 400, "sse or ndjson"),
    ],
)
def test_bad_requests_are_4xx_that_say_why(
    method: str, path: str, body: Any, headers: dict[str, str], status: int, says: str
) -> None:
    app, model = app_and_model()
    with serving(app) as url, httpx.Client(timeout=10) as client:
        response = client.request(method, f"{url}{path}", json=body, headers=headers)
    assert response.status_code == status
    assert says in response.json()["error"]
    assert model.calls == []


def test_join_cursors_that_cannot_be_served() -> None:
    app, _ = app_and_model(delay=0)
    with serving(app) as url, httpx.Client(timeout=10) as client:
        run = client.post(f"{url}/runs", json={"input": QUESTION}).json()
        location = f"/runs/{run['run_id']}"
        info = wait_for_status(client, f"{url}{location}", "finished")
        ahead = client.get(f"{url}{location}/stream?after={info['last_seq'] + 1}")
        other = client.get(f"{url}{location}/stream", headers={"Last-Event-ID": "other-run:3"})
        odd = client.get(f"{url}{location}/stream?after=%C2%B2")
    assert ahead.status_code == 400
    assert "has no event" in ahead.json()["error"]
    assert other.status_code == 400
    assert odd.status_code == 400


def test_a_cursor_older_than_the_store_keeps_is_a_410() -> None:
    from lgstream.serving.runs import RunManager
    from lgstream.serving.stores.memory import MemoryStore

    app, _ = app_and_model(delay=0, runs=RunManager(MemoryStore(max_events=5)))
    with serving(app) as url, httpx.Client(timeout=10) as client:
        run = client.post(f"{url}/runs", json={"input": QUESTION}).json()
        location = f"/runs/{run['run_id']}"
        info = wait_for_status(client, f"{url}{location}", "finished")
        gone = client.get(f"{url}{location}/stream?after=1")
        kept = client.get(f"{url}{location}/stream?format=ndjson&after={info['last_seq'] - 5}")
    assert gone.status_code == 410
    assert "no longer kept" in gone.json()["error"]
    assert len(ndjson(kept.text)) == 5


def test_a_quiet_run_s_viewers_get_keepalives() -> None:
    from lgstream.serving.runs import RunManager

    model = FakeChatModel(script=["late words"], first_token_delay=1.5)
    app = create_app(async_seed_graph(model), keepalive=0.3, runs=RunManager(heartbeat=0.1))
    with serving(app) as url, httpx.Client(timeout=10) as client:
        run = client.post(f"{url}/runs", json={"input": QUESTION}).json()
        with client.stream("GET", f"{url}/runs/{run['run_id']}/stream?format=ndjson") as body:
            raw = b"".join(body.iter_bytes())
    lines = raw.split(b"\n")
    events = [json.loads(line) for line in lines if line.strip()]
    assert events[-1]["kind"] == "run_finished"
    first_token = next(i for i, line in enumerate(lines) if b'"kind":"token"' in line)
    assert lines[:first_token].count(b"") >= 2  # blank lines while the model was quiet
