"""``lgstream.sinks.asgi`` over the wire: a real uvicorn server on 127.0.0.1 in a
background thread, and real httpx / httpx-sse clients."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from httpx_sse import ServerSentEvent, aconnect_sse, connect_sse
from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import lgstream as lgs
from lgstream.sinks.asgi import Format, ReplayBuffer, create_app, sse_response
from lgstream.testing import FakeChatModel, Reply

from .graphs import TextState, async_seed_graph, build_seed_graph

Graph = Any
QUESTION = {"question": "Why?"}


# --- a real server --------------------------------------------------------------------


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1:<free port>; yield its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        assert time.monotonic() < deadline, "uvicorn took too long to start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive(), "uvicorn did not stop"


class Recorder:
    """An operator that lets everything through and keeps a copy: what was sent."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def feed(self, item: Any, /) -> Sequence[Any]:
        self.items.append(item)
        return (item,)

    def flush(self) -> Sequence[Any]:
        return ()


def one_route_app(graph: Graph, *, recorder: Recorder | None = None, **options: Any) -> Starlette:
    """An app whose ``POST /run`` is ``sse_response(graph, <body>, **options)``."""

    async def run(request: Request) -> Response:
        ops = (recorder,) if recorder is not None else ()
        return sse_response(graph, await request.json(), ops=ops, **options)

    return Starlette(routes=[Route("/run", run, methods=["POST"])])


def events_of(url: str, body: Any = QUESTION, **kwargs: Any) -> list[ServerSentEvent]:
    with (
        httpx.Client(timeout=10) as client,
        connect_sse(client, "POST", url, json=body, **kwargs) as source,
    ):
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return list(source.iter_sse())


def wait_until_still(read: Callable[[], int], *, quiet: float = 0.3, limit: float = 5.0) -> float:
    """Seconds until ``read()`` stopped changing (for ``quiet`` seconds)."""
    start = time.monotonic()
    last, since = read(), time.monotonic()
    while time.monotonic() - start < limit:
        time.sleep(0.02)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return since - start
    raise AssertionError(f"still changing after {limit} s")


def sync_graph(model: FakeChatModel) -> Graph:
    return build_seed_graph(model)


def raising_graph(model: FakeChatModel) -> Graph:
    """Streams the model's answer, then raises with a long, multi-line message."""

    async def generate(state: TextState) -> dict[str, Any]:
        await model.ainvoke([HumanMessage(state["question"])])
        raise ValueError('bad input\nTraceback (most recent call last):\n  File "secret.py"')

    builder = StateGraph(TextState)
    builder.add_node("generate", generate)
    builder.add_edge(START, "generate")
    builder.add_edge("generate", END)
    return builder.compile()


# --- exactly what was sent --------------------------------------------------------------

TEXTS = [
    "plain",
    "two\nlines",
    "carriage\rreturn",
    "crlf\r\nend",
    "",
    "\n",
    "unicode \u2713 \U0001f680 \u00e9\u4e2d",
    " leading space",
    "data: not a field",
    ": not a comment",
    "line\u2028separator\u0085next",
    "",
]


def test_sse_over_the_wire_is_exactly_what_was_sent() -> None:
    model = FakeChatModel(script=[Reply(text=TEXTS)])
    recorder = Recorder()
    app = one_route_app(async_seed_graph(model), recorder=recorder, modes=["messages", "updates"])
    with serving(app) as url:
        received = events_of(f"{url}/run")

    sent = recorder.items
    assert [ev.event for ev in received] == [item.kind for item in sent]
    assert [json.loads(ev.data) for ev in received] == [lgs.to_jsonable(x) for x in sent]
    run_id = sent[0].run_id
    assert [ev.id for ev in received] == [f"{run_id}:{n}" for n in range(1, len(sent) + 1)]
    tokens = [json.loads(ev.data)["text"] for ev in received if ev.event == "token"]
    assert tokens[: len(TEXTS)] == TEXTS
    assert received[-1].event == "run_finished"


def test_keepalive_comments_while_the_graph_is_silent() -> None:
    model = FakeChatModel(script=["late answer"], first_token_delay=1.0, cycle=True)
    app = one_route_app(async_seed_graph(model), keepalive=0.2)
    with serving(app) as url, httpx.Client(timeout=10) as client:
        raw = client.post(f"{url}/run", json=QUESTION).content
        events = events_of(f"{url}/run")
    assert raw.count(b": keepalive\n") >= 3
    assert b": keepalive\n\n" not in raw  # no blank line: httpx-sse would see an empty event
    # Invisible to a client: every parsed event is one of ours.
    assert all(ev.event != "message" and ev.data for ev in events)
    assert [ev.event for ev in events][-1] == "run_finished"


def test_ndjson_keepalives_are_blank_lines() -> None:
    model = FakeChatModel(script=["late answer"], first_token_delay=0.8)
    app = one_route_app(async_seed_graph(model), keepalive=0.2, format="ndjson")
    with serving(app) as url, httpx.Client(timeout=10) as client:
        lines = client.post(f"{url}/run", json=QUESTION).text.split("\n")
    assert lines.count("") >= 3
    events = [json.loads(line) for line in lines if line]
    assert [event["id"] for event in events] == list(range(1, len(events) + 1))
    assert events[-1]["kind"] == "run_finished"


# --- client disconnect --------------------------------------------------------------------

LONG_ANSWER = " ".join(f"word{i}" for i in range(300))


@pytest.mark.parametrize("make_graph", [async_seed_graph, sync_graph], ids=["async", "sync"])
def test_disconnect_cancels_the_run(make_graph: Callable[[FakeChatModel], Graph]) -> None:
    model = FakeChatModel(script=[LONG_ANSWER], delay=0.01)
    app = one_route_app(make_graph(model), grace=0.5)
    with serving(app) as url:
        with (
            httpx.Client(timeout=10) as client,
            connect_sse(client, "POST", f"{url}/run", json=QUESTION) as source,
        ):
            tokens = 0
            for event in source.iter_sse():
                tokens += event.event == "token"
                if tokens == 5:
                    break
        closed_at = model.tokens_streamed
        settled = wait_until_still(lambda: model.tokens_streamed)
        assert settled < 0.5  # the run stopped within the grace period
        assert model.tokens_streamed < 300
        assert model.tokens_streamed - closed_at < 50
        assert len(model.calls) == 1


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["sse", "ndjson"])
def test_an_error_mid_run_is_one_safe_error_event(fmt: Format) -> None:
    model = FakeChatModel(script=["partial answer"])
    app = one_route_app(raising_graph(model), format=fmt)
    with serving(app) as url, httpx.Client(timeout=10) as client:
        response = client.post(f"{url}/run", json=QUESTION)
    assert response.status_code == 200
    body = response.text
    assert "Traceback" not in body
    assert "secret.py" not in body
    if fmt == "sse":
        assert "event: error\n" in body
        last = body.rstrip("\n").rsplit("\n\n", 1)[-1]
        data = json.loads(last.split("data: ", 1)[1])
    else:
        data = json.loads(body.splitlines()[-1])
    assert data["kind"] == "error"
    assert data["type"] == "ValueError"
    assert data["message"] == "the run failed; the server's log has the details"
    assert "bad input" not in body  # an exception's text is the server's, not the client's
    assert "partial" in body  # the tokens before the error went out


def test_a_model_error_mid_stream() -> None:
    model = FakeChatModel(script=[Reply(text=["a", "b", "c", "d"], fail_after=2)])
    app = one_route_app(async_seed_graph(model))
    with serving(app) as url:
        events = events_of(f"{url}/run")
    assert [ev.event for ev in events].count("token") == 2
    assert events[-1].event == "error"
    assert json.loads(events[-1].data)["type"] == "FakeModelError"


# --- load ---------------------------------------------------------------------------------


def echo(messages: list[BaseMessage]) -> Reply:
    question = messages[-1].text
    return Reply(text=[f"{question}:{i} " for i in range(8)])


def test_200_concurrent_streams_each_get_their_own_tokens() -> None:
    model = FakeChatModel(script=echo, delay=0.002)
    app = create_app(async_seed_graph(model), replay=False)

    async def one(client: httpx.AsyncClient, url: str, n: int) -> list[str]:
        body = {"input": {"question": f"q{n}"}}
        async with aconnect_sse(client, "POST", url, json=body) as source:
            return [
                json.loads(ev.data)["text"]
                async for ev in source.aiter_sse()
                if ev.event == "token"
            ]

    async def main(url: str) -> list[list[str]]:
        limits = httpx.Limits(max_connections=250, max_keepalive_connections=250)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            return await asyncio.gather(*(one(client, f"{url}/stream", n) for n in range(200)))

    start = time.monotonic()
    with serving(app) as url:
        results = asyncio.run(main(url))
    assert time.monotonic() - start < 30
    for n, tokens in enumerate(results):
        assert [t for t in tokens if t] == [f"q{n}:{i} " for i in range(8)]


# --- resume -------------------------------------------------------------------------------


def test_resume_after_a_disconnect_gives_the_whole_run() -> None:
    model = FakeChatModel(script=[LONG_ANSWER[:400]], delay=0.005, cycle=True)
    app = create_app(async_seed_graph(model), grace=3.0)
    with serving(app) as url, httpx.Client(timeout=10) as client:
        first: list[ServerSentEvent] = []
        body = {"input": QUESTION}
        with connect_sse(client, "POST", f"{url}/stream", json=body) as source:
            for event in source.iter_sse():
                first.append(event)
                if len(first) == 10:
                    break
        headers = {"Last-Event-ID": first[-1].id}
        with connect_sse(client, "POST", f"{url}/stream", json=body, headers=headers) as source:
            second = list(source.iter_sse())
        run_id = first[0].id.rpartition(":")[0]
        # The run as a whole, from its buffer: what an uninterrupted client saw.
        with connect_sse(
            client, "GET", f"{url}/stream", headers={"Last-Event-ID": f"{run_id}:0"}
        ) as source:
            whole = list(source.iter_sse())
        # And a fresh, uninterrupted run streams the same tokens.
        fresh = events_of(f"{url}/stream", body)

    def view(events: list[ServerSentEvent]) -> list[tuple[str, str, str]]:
        return [(ev.id, ev.event, ev.data) for ev in events]

    assert view(first + second) == view(whole)
    assert whole[-1].event == "run_finished"
    ids = [int(ev.id.rpartition(":")[2]) for ev in whole]
    assert ids == list(range(1, len(whole) + 1))

    def texts(events: list[ServerSentEvent]) -> list[str]:
        return [json.loads(ev.data)["text"] for ev in events if ev.event == "token"]

    assert texts(first + second) == texts(fresh)
    assert len(model.calls) == 2  # resuming did not run the graph again


def test_a_run_nobody_listens_to_is_cancelled_after_the_grace_period() -> None:
    model = FakeChatModel(script=[LONG_ANSWER], delay=0.01)
    app = create_app(async_seed_graph(model), grace=0.3)
    with serving(app) as url, httpx.Client(timeout=10) as client:
        with connect_sse(client, "POST", f"{url}/stream", json={"input": QUESTION}) as source:
            first = [ev for _, ev in zip(range(5), source.iter_sse(), strict=False)]
        settled = wait_until_still(lambda: model.tokens_streamed)
        assert settled < 0.3 + 0.5
        assert model.tokens_streamed < 300
        with connect_sse(
            client, "GET", f"{url}/stream", headers={"Last-Event-ID": first[-1].id}
        ) as source:
            rest = list(source.iter_sse())
    assert rest[-1].event == "error"
    assert json.loads(rest[-1].data)["type"] == "RunCancelled"


@pytest.mark.parametrize(
    ("last_event_id", "status", "says"),
    [
        ("nonsense", 400, "is not <run_id>:<seq>"),
        (f"{uuid.uuid4()}:3", 404, "is not in the replay buffer"),
    ],
)
def test_resuming_what_cannot_be_resumed_is_a_4xx_so_eventsource_stops(
    last_event_id: str, status: int, says: str
) -> None:
    app = create_app(async_seed_graph(FakeChatModel(script=["hi"])))
    with serving(app) as url, httpx.Client(timeout=10) as client:
        for fmt in ("sse", "ndjson"):
            response = client.get(
                f"{url}/stream?format={fmt}", headers={"Last-Event-ID": last_event_id}
            )
            assert response.status_code == status
            assert response.json()["type"] == "ResumeError"
            assert says in response.json()["error"]


def test_resuming_older_than_the_buffer_window_is_a_410() -> None:
    model = FakeChatModel(script=[LONG_ANSWER[:200]], delay=0.005)
    app = create_app(async_seed_graph(model), replay=ReplayBuffer(max_events=5))
    with serving(app) as url, httpx.Client(timeout=10) as client:
        events = events_of(f"{url}/stream", {"input": QUESTION})
        # The first reader kept up; a resume from event 1 cannot.
        run_id = events[0].id.rpartition(":")[0]
        again = client.get(f"{url}/stream", headers={"Last-Event-ID": f"{run_id}:1"})
        ahead = client.get(f"{url}/stream", headers={"Last-Event-ID": f"{run_id}:99999"})
        window = client.get(
            f"{url}/stream", headers={"Last-Event-ID": f"{run_id}:{len(events) - 5}"}
        )
    assert events[-1].event == "run_finished"
    assert again.status_code == 410
    assert "no longer buffered" in again.json()["error"]
    assert ahead.status_code == 400
    assert "has no event 99999 yet" in ahead.json()["error"]
    assert window.status_code == 200  # the last five are still there
    assert window.text.count("event: ") == 5


# --- NDJSON, the app's routes ----------------------------------------------------------------


def test_ndjson() -> None:
    model = FakeChatModel(script=[Reply(text=TEXTS)])
    recorder = Recorder()
    app = one_route_app(async_seed_graph(model), recorder=recorder, format="ndjson")
    with serving(app) as url, httpx.Client(timeout=10) as client:
        response = client.post(f"{url}/run", json=QUESTION)
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines() if line]
    assert [line.pop("id") for line in lines] == list(range(1, len(recorder.items) + 1))
    assert lines == [lgs.to_jsonable(x) for x in recorder.items]


def test_the_app_streams_get_and_post_in_both_formats() -> None:
    app = create_app(build_seed_graph(FakeChatModel(script=["Hello there"], cycle=True)))
    question = json.dumps(QUESTION)
    with serving(app) as url, httpx.Client(timeout=10) as client:
        with connect_sse(client, "GET", f"{url}/stream", params={"input": question}) as source:
            got = [ev.event for ev in source.iter_sse()]
        ndjson = client.post(
            f"{url}/stream",
            json={"input": QUESTION},
            headers={"Accept": "application/x-ndjson"},
        )
        bad = client.post(
            f"{url}/stream", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        no_input = client.post(f"{url}/stream", json={})
        bad_config = client.post(
            f"{url}/stream", json={"input": QUESTION, "config": {"callbacks": []}}
        )
    assert got[0] == "run_started"
    assert got[-1] == "run_finished"
    assert "token" in got
    assert ndjson.headers["content-type"] == "application/x-ndjson"
    assert json.loads(ndjson.text.splitlines()[-1])["kind"] == "run_finished"
    assert bad.status_code == 400
    assert "not valid JSON" in bad.json()["error"]
    assert no_input.status_code == 400
    assert bad_config.status_code == 400
    assert "callbacks" in bad_config.json()["error"]


def test_the_html_page_is_served() -> None:
    app = create_app(build_seed_graph(FakeChatModel(script=["hi"])), example_input=QUESTION)
    with serving(app) as url, httpx.Client(timeout=10) as client:
        page = client.get(f"{url}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "new EventSource(" in page.text
    assert '"/stream"' in page.text
    assert "&quot;question&quot;" in page.text  # the example input, escaped
    # Nothing external: no scripts, styles or images from elsewhere.
    assert "src=" not in page.text
    assert "href=" not in page.text


def test_bad_arguments_raise_at_once() -> None:
    graph = build_seed_graph(FakeChatModel(script=["hi"]))
    with pytest.raises(lgs.UnknownStreamModeError):
        sse_response(graph, QUESTION, modes=["nope"])
    with pytest.raises(lgs.UsageError, match="UUID"):
        sse_response(graph, QUESTION, run_id="run-1")
    with pytest.raises(lgs.UsageError, match="format"):
        sse_response(graph, QUESTION, format="xml")  # type: ignore[arg-type]
    with pytest.raises(lgs.UnknownStreamModeError):
        create_app(graph, modes=["nope"])
    with pytest.raises(lgs.UsageError):
        ReplayBuffer(max_events=0)


def test_resumable_streams_ask_browsers_to_reconnect_within_the_grace_period() -> None:
    """EventSource waits ~3 s before reconnecting unless told: with a replay buffer
    the first event carries `retry:` (half the grace period), without one none."""
    graph = build_seed_graph(FakeChatModel(script=["Hello there"], cycle=True))
    with serving(create_app(graph, grace=2.0)) as url:
        resumable = [ev.retry for ev in events_of(f"{url}/stream", {"input": QUESTION})]
    with serving(one_route_app(graph)) as url:
        plain = [ev.retry for ev in events_of(f"{url}/run")]
    assert resumable[0] == 1000
    assert set(resumable[1:]) == {None}
    assert set(plain) == {None}


# --- UI protocols --------------------------------------------------------------------------

AGUI_BODY = {
    "threadId": "t-1",
    "runId": "r-1",
    "messages": [{"id": "u1", "role": "user", "content": "Why?"}],
}
VERCEL_BODY = {
    "id": "c-1",
    "trigger": "submit-message",
    "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Why?"}]}],
}
PROTOCOL_BODIES = {"agui": AGUI_BODY, "vercel": VERCEL_BODY}


@pytest.mark.parametrize("runs", [True, False], ids=["stored", "direct"])
@pytest.mark.parametrize("protocol", ["agui", "vercel"])
def test_a_protocol_response_streams_and_a_disconnect_cancels_the_run(
    protocol: str, runs: bool
) -> None:
    model = FakeChatModel(script=[LONG_ANSWER], delay=0.01)
    # Stored (a durable run, attached): cancelled `grace` after its client left.
    app = create_app(
        lgs.graphs.chat(model),
        replay=False,
        protocol=protocol,  # type: ignore[arg-type]
        runs=runs,
        grace=0.1,
    )
    with serving(app) as url:
        with (
            httpx.Client(timeout=10) as client,
            client.stream("POST", f"{url}/stream", json=PROTOCOL_BODIES[protocol]) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            if protocol == "vercel":
                assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
            lines: list[str] = []
            for line in response.iter_lines():
                lines.append(line)
                if sum('-delta"' in x or "CONTENT" in x for x in lines) == 5:
                    break
            # The first frames came while the model was still streaming.
            assert model.tokens_streamed < 300
        closed_at = model.tokens_streamed
        settled = wait_until_still(lambda: model.tokens_streamed)
        assert settled < 0.5  # StreamingResponse's cancellation reached the graph
        assert model.tokens_streamed < 300
        assert model.tokens_streamed - closed_at < 50
        assert len(model.calls) == 1


@pytest.mark.parametrize("protocol", ["agui", "vercel"])
def test_sse_response_speaks_a_protocol(protocol: Format) -> None:
    graph = lgs.graphs.chat(FakeChatModel(script=["Hello\nthere"]))

    async def run(request: Request) -> Response:
        return sse_response(graph, {"messages": [HumanMessage("Hi")]}, format=protocol)

    app = Starlette(routes=[Route("/run", run, methods=["POST"])])
    with serving(app) as url, httpx.Client(timeout=10) as client:
        body = client.post(f"{url}/run").content
    assert b"\r" not in body  # the AG-UI client splits events on "\n\n" only
    frames = body.split(b"\n\n")
    assert frames[-1] == b""
    assert all(frame.startswith(b"data: ") for frame in frames[:-1])
    if protocol == "agui":
        events = [json.loads(frame[6:]) for frame in frames[:-1]]
        assert events[-1]["type"] == "RUN_FINISHED"
        kind, text = "TEXT_MESSAGE_CONTENT", "delta"
    else:
        assert frames[-2] == b"data: [DONE]"
        events = [json.loads(frame[6:]) for frame in frames[:-2]]
        kind, text = "text-delta", "delta"
    assert "".join(e[text] for e in events if e["type"] == kind) == "Hello\nthere"


@pytest.mark.parametrize(
    ("query", "body", "says"),
    [
        ("format=agui", {"threadId": "t"}, "not an AG-UI RunAgentInput: runId: Field required"),
        (
            "format=agui",
            {**AGUI_BODY, "messages": [{"id": "x", "role": "robot", "content": "?"}]},
            "messages.0",
        ),
        ("format=vercel", {"id": "c", "messages": []}, "body.messages is empty"),
        ("format=vercel", {"id": "c", "messages": [{"id": "u", "role": "user"}]}, "parts"),
        ("format=vercel", [1, 2], "must be a JSON object"),
        ("format=xml", {"input": QUESTION}, "format is one of sse, ndjson, agui, vercel"),
    ],
)
def test_bad_protocol_input_is_a_400_that_says_what_is_wrong(
    query: str, body: Any, says: str
) -> None:
    app = create_app(lgs.graphs.chat(FakeChatModel(script=["hi"])), replay=False)
    with serving(app) as url, httpx.Client(timeout=10) as client:
        response = client.post(f"{url}/stream?{query}", json=body)
        get = client.get(f"{url}/stream", params={"input": "{}", "format": "agui"})
    assert response.status_code == 400
    assert says in response.json()["error"]
    assert get.status_code == 400
    assert "takes a POST" in get.json()["error"]


def test_a_graph_with_threads_needs_the_conversation_id() -> None:
    graph = lgs.graphs.chat(FakeChatModel(script=["hi"]), checkpointer=InMemorySaver())
    app = create_app(graph, protocol="vercel")
    with serving(app) as url, httpx.Client(timeout=10) as client:
        response = client.post(f"{url}/stream", json={**VERCEL_BODY, "id": None})
        plain = client.post(f"{url}/stream?format=sse", json={"input": {"messages": []}})
    assert response.status_code == 400
    assert "conversation id" in response.json()["error"]
    assert plain.status_code == 200  # another format still answers on the protocol route


def test_protocol_formats_have_no_replay() -> None:
    graph = build_seed_graph(FakeChatModel(script=["hi"]))
    with pytest.raises(lgs.UsageError, match="without replay"):
        sse_response(graph, QUESTION, format="agui", replay=ReplayBuffer())
    with pytest.raises(lgs.UsageError, match="without replay"):
        sse_response(graph, QUESTION, format="vercel", last_event_id="x:1")
    with pytest.raises(lgs.UsageError, match="protocol"):
        create_app(graph, protocol="xml")  # type: ignore[arg-type]
