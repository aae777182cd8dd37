"""``create_app`` against hostile requests, over real HTTP on 127.0.0.1: every bad
input is a 4xx that says what was wrong, never a 500, a traceback or a run."""

from __future__ import annotations

import json
import logging
import socket
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from lgstream.sinks.asgi import create_app
from lgstream.testing import FakeChatModel

from .graphs import async_seed_graph
from .test_sinks_asgi import QUESTION, raising_graph, serving

JSON = {"Content-Type": "application/json"}


def app_and_model(**options: Any) -> tuple[Any, FakeChatModel]:
    model = FakeChatModel(script=["fine"], cycle=True)
    return create_app(async_seed_graph(model), **options), model


def test_a_body_over_the_limit_is_a_413_declared_or_chunked() -> None:
    app, model = app_and_model(max_body=10_000)
    big = json.dumps({"input": {"question": "x" * 20_000}}).encode()

    def chunks() -> Any:
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    with serving(app) as url, httpx.Client(timeout=10) as client:
        declared = client.post(f"{url}/stream", content=big, headers=JSON)
        chunked = client.post(f"{url}/stream", content=chunks(), headers=JSON)
        small = client.post(f"{url}/stream?format=ndjson", json={"input": QUESTION})
    for response in (declared, chunked):
        assert response.status_code == 413
        assert "larger than 10000 bytes" in response.json()["error"]
    assert small.status_code == 200
    assert len(model.calls) == 1  # only the small request ran the graph


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_post_that_is_not_json_is_a_415_and_runs_nothing(content_type: str | None) -> None:
    app, model = app_and_model()
    headers = {"Content-Type": content_type} if content_type else {}
    body = json.dumps({"input": QUESTION}).encode()
    with serving(app) as url, httpx.Client(timeout=10) as client:
        response = client.post(f"{url}/stream", content=body, headers=headers)
        charset = client.post(
            f"{url}/stream?format=ndjson",
            content=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]
    assert charset.status_code == 200
    assert len(model.calls) == 1


def raw_requests(url: str, *requests: bytes) -> list[bytes]:
    """Send raw HTTP/1.1 requests on one keep-alive connection; each response's head."""
    host, port = url.removeprefix("http://").split(":")
    heads: list[bytes] = []
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        reader = sock.makefile("rb")
        for request in requests:
            sock.sendall(request)
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = reader.readline()
                assert line, "the server closed the connection"
                head += line
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            heads.append(head + reader.read(length))
    return heads


def post(body: bytes) -> bytes:
    return (
        b"POST /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"input": "\xff\xfe"}', b"not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, b"nests deeper than 100 levels"),
        (b'{"input": ' + b'{"a": ' * 200 + b"1" + b"}" * 201, b"nests deeper than 100 levels"),
    ],
)
def test_bad_bodies_are_400s_and_the_connection_lives_on(body: bytes, says: bytes) -> None:
    app, _ = app_and_model()
    with serving(app) as url:
        bad, after = raw_requests(url, post(body), post(b"{}"))
    assert bad.startswith(b"HTTP/1.1 400 ")
    assert says in bad
    # The same keep-alive connection still answers (the request was refused, not crashed).
    assert after.startswith(b"HTTP/1.1 400 ")
    assert b"needs an input" in after


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"configurable": {"__pregel_checkpointer": "x"}}, "LangGraph-internal"),
        ({"configurable": "thread-1"}, "config.configurable must be a JSON object"),
        ({"tags": "a,b"}, "config.tags must be a list of strings"),
        ({"tags": ["a", 1]}, "config.tags must be a list of strings"),
        ({"metadata": [1]}, "config.metadata must be a JSON object"),
        ({"recursion_limit": "25"}, "config.recursion_limit must be a positive integer"),
        ({"recursion_limit": 0}, "config.recursion_limit must be a positive integer"),
        ({"recursion_limit": True}, "config.recursion_limit must be a positive integer"),
    ],
)
def test_a_bad_config_is_a_400_naming_the_field(config: dict[str, Any], says: str) -> None:
    app, model = app_and_model()
    with serving(app) as url, httpx.Client(timeout=10) as client:
        response = client.post(f"{url}/stream", json={"input": QUESTION, "config": config})
        get = client.get(
            f"{url}/stream", params={"input": json.dumps(QUESTION), "config": json.dumps(config)}
        )
    for answer in (response, get):
        assert answer.status_code == 400
        assert says in answer.json()["error"]
    assert model.calls == []


def test_a_good_config_still_runs() -> None:
    app, model = app_and_model()
    config = {"configurable": {"user": "u1"}, "tags": ["web"], "recursion_limit": 10}
    with serving(app) as url, httpx.Client(timeout=10) as client:
        response = client.post(
            f"{url}/stream?format=ndjson", json={"input": QUESTION, "config": config}
        )
    assert response.status_code == 200
    assert json.loads(response.text.splitlines()[-1])["kind"] == "run_finished"
    assert len(model.calls) == 1


@pytest.mark.parametrize("last_event_id", ["x:\u00b2", "x:" + "9" * 5000])
def test_a_last_event_id_with_odd_digits_is_a_400_not_a_500(last_event_id: str) -> None:
    app, _ = app_and_model()
    with serving(app) as url, httpx.Client(timeout=10) as client:
        response = client.post(
            f"{url}/stream",
            json={},
            headers={b"Last-Event-ID": last_event_id.encode("latin-1")},  # as HTTP reads it
        )
    assert response.status_code == 400
    assert "is not <run_id>:<seq>" in response.json()["error"]
    assert len(response.content) < 300  # the id is not echoed whole


def test_a_lone_surrogate_in_the_input_streams_to_the_end() -> None:
    app, _ = app_and_model()
    body = b'{"input": {"question": "a\\ud800b"}}'
    with serving(app) as url, httpx.Client(timeout=10) as client:
        sse = client.post(f"{url}/stream", content=body, headers=JSON)
        ndjson = client.post(f"{url}/stream?format=ndjson", content=body, headers=JSON)
    assert "event: run_finished" in sse.text
    assert "\\ud800" in sse.text
    lines = [json.loads(line) for line in ndjson.text.splitlines() if line]
    assert lines[0]["input"] == {"question": "a\ud800b"}
    assert lines[-1]["kind"] == "run_finished"


def test_a_failing_run_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(raising_graph(FakeChatModel(script=["partial"])))
    with (
        caplog.at_level(logging.ERROR, logger="lgstream.serve"),
        serving(app) as url,
        httpx.Client(timeout=10) as client,
    ):
        response = client.post(f"{url}/stream?format=ndjson", json={"input": QUESTION})
    last = json.loads(response.text.splitlines()[-1])
    assert (last["kind"], last["type"]) == ("error", "ValueError")
    assert "bad input" not in last["message"]  # the client gets a fixed sentence
    (record,) = [r for r in caplog.records if r.name == "lgstream.serve"]
    assert record.getMessage() == f"run {last['run_id']} failed"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)
    assert "secret.py" in str(record.exc_info[1])  # the whole message is in the log


def test_resuming_at_a_finished_runs_last_event_is_a_204() -> None:
    """SSE's way to stop EventSource from reconnecting forever to a finished run."""
    app, _ = app_and_model()
    with serving(app) as url, httpx.Client(timeout=10) as client:
        with connect_sse(client, "POST", f"{url}/stream", json={"input": QUESTION}) as source:
            events = list(source.iter_sse())
        last = events[-1].id
        done = client.get(f"{url}/stream", headers={"Last-Event-ID": last})
        before_last = last.rpartition(":")[0] + f":{int(last.rpartition(':')[2]) - 1}"
        rest = client.get(f"{url}/stream", headers={"Last-Event-ID": before_last})
    assert events[-1].event == "run_finished"
    assert done.status_code == 204
    assert done.content == b""
    assert rest.status_code == 200
    assert "event: run_finished" in rest.text


# --- who may call: Host, Origin, CORS --------------------------------------------------


def test_a_foreign_host_on_loopback_is_refused_dns_rebinding() -> None:
    app, model = app_and_model()
    body = {"input": QUESTION}
    with serving(app) as url, httpx.Client(timeout=10) as client:
        port = url.rpartition(":")[2]
        rebound = client.post(
            f"{url}/stream", json=body, headers={"Host": f"attacker.example:{port}"}
        )
        page = client.get(f"{url}/", headers={"Host": "attacker.example"})
        named = [
            client.post(f"{url}/stream?format=ndjson", json=body, headers={"Host": host})
            for host in (f"localhost:{port}", f"127.0.0.1:{port}", "[::1]")
        ]
    assert rebound.status_code == page.status_code == 403
    assert "not a loopback name" in rebound.json()["error"]
    assert [r.status_code for r in named] == [200, 200, 200]
    assert len(model.calls) == 3


def test_trusted_hosts_names_the_hosts_behind_a_proxy() -> None:
    app, _ = app_and_model(trusted_hosts=["chat.example"])
    with serving(app) as url, httpx.Client(timeout=10) as client:
        proxied = client.get(f"{url}/", headers={"Host": "chat.example"})
        other = client.get(f"{url}/", headers={"Host": "localhost"})
    assert proxied.status_code == 200
    assert other.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://attacker.example", "Content-Type": "text/plain"},
        {"Origin": "https://attacker.example", "Content-Type": "application/json"},
        {"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
    ],
)
def test_a_cross_site_request_starts_no_run(headers: dict[str, str]) -> None:
    app, model = app_and_model()
    body = json.dumps({"input": QUESTION}).encode()
    with serving(app) as url, httpx.Client(timeout=10) as client:
        response = client.post(f"{url}/stream", content=body, headers=headers)
        get = client.get(f"{url}/stream", params={"input": json.dumps(QUESTION)}, headers=headers)
    assert response.status_code == get.status_code == 403
    assert "refused" in response.json()["error"]
    assert model.calls == []


def test_the_apps_own_page_and_allowed_origins_may_call() -> None:
    app, model = app_and_model(cors_origins=["https://chat.example"])
    body = {"input": QUESTION}
    with serving(app) as url, httpx.Client(timeout=10) as client:
        own = client.post(f"{url}/stream?format=ndjson", json=body, headers={"Origin": url})
        preflight = client.options(
            f"{url}/stream",
            headers={
                "Origin": "https://chat.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        allowed = client.post(
            f"{url}/stream?format=ndjson", json=body, headers={"Origin": "https://chat.example"}
        )
        other = client.post(f"{url}/stream", json=body, headers={"Origin": "https://x.example"})
    assert own.status_code == 200
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://chat.example"
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://chat.example"
    assert other.status_code == 403
    assert len(model.calls) == 2
