"""Remote runs: the same pipelines over a real LangGraph Server (``langgraph dev``).

Each graph in ``tests/server_graphs.py`` runs in-process and on the server, and
both runs go through the same lgstream pipeline; the results must match, task
ids, message ids and run ids aside (those differ between any two runs).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.pregel.remote import RemoteGraph
from langgraph.types import Command
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

import lgstream as lgs
from lgstream.ops._filters import ns_names
from lgstream.testing import FakeModelError, LangGraphDevServer

from . import server_graphs

MODES = ["messages", "updates", "values", "custom"]
QUESTION: Any = {"messages": [{"role": "user", "content": "Does it stream remotely?"}]}


@pytest.fixture(scope="module")
def server() -> Iterator[LangGraphDevServer]:
    with LangGraphDevServer(server_graphs.GRAPHS) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: LangGraphDevServer) -> Iterator[SyncLangGraphClient]:
    with get_sync_client(url=server.url) as sync_client:
        yield sync_client


@pytest.fixture
def remote(client: SyncLangGraphClient) -> Callable[[str], RemoteGraph]:
    """A RemoteGraph for a graph id, on the module's (closed at the end) sync client."""
    return lambda name: RemoteGraph(name, sync_client=client)


def piped(events: lgs.EventStream[lgs.Event]) -> lgs.EventStream[lgs.Event]:
    """The pipeline every comparison runs: reasoning, tool calls, joined messages."""
    return events.pipe(lgs.ops.reasoning(), lgs.ops.tool_calls(), lgs.ops.join_messages())


# --- what must be equal: everything but the ids of one run ------------------------------


def plain(value: Any) -> Any:
    """Messages as (type, text, tool calls, tool call id); containers recursively."""
    if isinstance(value, BaseMessage):
        calls = [(c["name"], c["args"], c["id"]) for c in getattr(value, "tool_calls", [])]
        return (value.type, value.text, calls, getattr(value, "tool_call_id", None))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def summary(events: Iterable[lgs.Event]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for ev in events:
        where = (ev.kind, ns_names(ev.ns), ev.node)
        match ev:
            case lgs.Token() | lgs.Reasoning():
                out.append((*where, ev.text))
            case lgs.MessageDone():
                out.append((*where, plain(ev.message), ev.reason))
            case lgs.Message():
                out.append((*where, plain(ev.message)))
            case lgs.ToolCallStart():
                out.append((*where, ev.call_id, ev.name, ev.index))
            case lgs.ToolCallDelta():
                out.append((*where, ev.call_id, ev.args_delta))
            case lgs.ToolCallReady():
                out.append((*where, ev.call_id, ev.name, ev.args))
            case lgs.Update() | lgs.Values() | lgs.Custom():
                out.append((*where, plain(ev.data)))
            case lgs.Interrupt():
                out.append((*where, ev.value))
            case lgs.RunFinished():
                out.append((*where, plain(ev.output), [i.value for i in ev.interrupts]))
            case _:
                out.append(where)
    return out


def by_path(events: list[tuple[Any, ...]]) -> dict[tuple[str, ...], list[str]]:
    """Events per namespace. Parallel branches interleave differently in each run:
    inside a subgraph the order is kept, at the root (where both branches report)
    only what arrived is compared."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for item in events:
        groups.setdefault(item[1], []).append(repr(item))
    if () in groups:
        groups[()].sort()
    return groups


def local_and_remote(
    remote: Callable[[str], RemoteGraph], name: str, input: Any, **kwargs: Any
) -> tuple[list[lgs.Event], list[lgs.Event]]:
    graph = getattr(server_graphs, name)
    local = list(piped(lgs.stream(graph, input, **kwargs)))
    there = list(piped(lgs.stream(remote(name), input, **kwargs)))
    return local, there


# --- the same pipeline, in-process and on the server -----------------------------------


def test_a_chat_run_gives_the_same_events(remote: Callable[[str], RemoteGraph]) -> None:
    local, there = local_and_remote(remote, "chat", QUESTION, modes=MODES)

    assert summary(there) == summary(local)
    done = [ev for ev in there if isinstance(ev, lgs.MessageDone)]
    assert [d.text for d in done] == [
        "You asked: Does it stream remotely? The server streams this just like a laptop."
    ]
    # The server's run id, not one lgstream made up; the same id at both ends.
    assert isinstance(there[0], lgs.RunStarted)
    assert isinstance(there[-1], lgs.RunFinished)
    assert there[0].run_id == there[-1].run_id != ""


def test_tool_calls_streamed_in_parallel_keep_apart(remote: Callable[[str], RemoteGraph]) -> None:
    local, there = local_and_remote(remote, "agent", QUESTION, modes=MODES)

    assert summary(there) == summary(local)
    ready = [(ev.call_id, ev.name, ev.args) for ev in there if isinstance(ev, lgs.ToolCallReady)]
    assert ready == [
        ("call_add", "add", {"a": 2, "b": 3}),
        ("call_multiply", "multiply", {"a": 4, "b": 5}),
    ]
    deltas = [ev for ev in there if isinstance(ev, lgs.ToolCallDelta)]
    assert {ev.call_id for ev in deltas} == {"call_add", "call_multiply"}
    assert [ev.text for ev in there if isinstance(ev, lgs.Reasoning)] != []
    final = there[-1]
    assert isinstance(final, lgs.RunFinished)
    assert final.output["messages"][-1].text == "The tools said 5 and 20."


def test_subgraph_namespaces_and_node_filters_agree(remote: Callable[[str], RemoteGraph]) -> None:
    local, there = local_and_remote(remote, "nested", QUESTION, modes=MODES, subgraphs=True)

    assert by_path(summary(there)) == by_path(summary(local))
    for path, text in [("research/inner", "Research"), ("critic/inner", "Critic")]:
        for events in (local, there):
            tokens = [
                ev.text
                for ev in events
                if isinstance(ev, lgs.Token) and lgs.ops.node_path(ev) == tuple(path.split("/"))
            ]
            assert "".join(tokens) == f"{text} notes on Does it stream remotely?"
    # The operators themselves, on live streams at both ends.
    for source in (server_graphs.nested, remote("nested")):
        live = lgs.stream(source, QUESTION, modes=MODES, subgraphs=True)
        assert (live | lgs.ops.nodes("critic/inner") | lgs.ops.text()).collect() == [
            "Critic",
            " notes",
            " on",
            " Does",
            " it",
            " stream",
            " remotely?",
        ]
        live = lgs.stream(source, QUESTION, modes=MODES, subgraphs=True)
        paths = {ns_names(ev.ns) for ev in live | lgs.ops.namespaces("research", depth=0)}
        assert paths == {("research",)}


def test_without_subgraphs_both_ends_send_the_same_root_events(
    remote: Callable[[str], RemoteGraph],
) -> None:
    # No tokens from inside the subgraphs, their messages whole at the root, at both ends.
    local, there = local_and_remote(remote, "nested", QUESTION, modes=MODES)
    assert by_path(summary(there)) == by_path(summary(local))
    assert {ns_names(ev.ns) for ev in there} == {()}
    assert not any(isinstance(ev, lgs.Token) for ev in there)


def test_an_interrupt_surfaces_and_a_command_resumes(
    remote: Callable[[str], RemoteGraph], client: SyncLangGraphClient
) -> None:
    local_graph = server_graphs.approval_builder().compile(checkpointer=InMemorySaver())
    runs: dict[str, list[list[lgs.Event]]] = {}
    for where, graph in (("local", local_graph), ("remote", remote("approval"))):
        thread_id = client.threads.create()["thread_id"] if where == "remote" else "t-1"
        config: Any = {"configurable": {"thread_id": thread_id}}
        first = list(lgs.stream(graph, {"topic": "streams"}, modes=MODES, config=config))
        second = list(lgs.stream(graph, Command(resume="yes"), modes=MODES, config=config))
        runs[where] = [first, second]

    first, second = runs["remote"]
    interrupts = [ev for ev in first if isinstance(ev, lgs.Interrupt)]
    assert [i.value for i in interrupts] == [
        {"question": "Publish this draft?", "draft": "A short post about streams."}
    ]
    assert isinstance(first[-1], lgs.RunFinished)
    assert first[-1].interrupts == tuple(interrupts)
    assert isinstance(second[-1], lgs.RunFinished)
    assert second[-1].output["published"] is True
    assert second[-1].interrupts == ()
    for remote_run, local_run in zip(runs["remote"], runs["local"], strict=True):
        assert summary(remote_run) == summary(local_run)


def test_a_failing_run_gives_run_failed_then_raises(remote: Callable[[str], RemoteGraph]) -> None:
    seen: dict[str, list[lgs.Event]] = {"local": [], "remote": []}
    with pytest.raises(FakeModelError) as local_error:
        seen["local"].extend(lgs.stream(server_graphs.failing, QUESTION, modes=MODES))
    with pytest.raises(lgs.RemoteRunError) as remote_error:
        seen["remote"].extend(lgs.stream(remote("failing"), QUESTION, modes=MODES))

    error = remote_error.value
    assert error.error_type == "FakeModelError"
    assert error.message == str(local_error.value)
    assert error.run_id == seen["remote"][0].run_id  # type: ignore[union-attr]
    failed = seen["remote"][-1]
    assert isinstance(failed, lgs.RunFailed)
    assert failed.error is error
    # Nothing that arrived before the failure is lost: the same tokens at both ends.
    assert summary(seen["remote"][:-1]) == summary(seen["local"][:-1])
    assert [ev.text for ev in seen["remote"] if isinstance(ev, lgs.Token)] == [
        "This",
        " answer",
        " breaks",
    ]
    # raise_errors=False ends the stream quietly after RunFailed.
    quiet = list(lgs.stream(remote("failing"), QUESTION, raise_errors=False))
    assert isinstance(quiet[-1], lgs.RunFailed)


# --- cancelling -----------------------------------------------------------------------


def wait_for_status(client: SyncLangGraphClient, thread_id: str, run_id: str) -> str:
    deadline = time.monotonic() + 15
    status = ""
    while time.monotonic() < deadline:
        status = client.runs.get(thread_id, run_id)["status"]
        if status not in ("pending", "running"):
            return status
        time.sleep(0.1)
    return status


def first_tokens(events: Iterator[lgs.Event], count: int) -> tuple[str, int]:
    """The run id, after reading ``count`` tokens."""
    run_id, seen = "", 0
    for ev in events:
        if isinstance(ev, lgs.RunStarted):
            run_id = ev.run_id
        if isinstance(ev, lgs.Token):
            seen += 1
            if seen == count:
                break
    return run_id, seen


def test_closing_the_stream_cancels_the_server_run(
    remote: Callable[[str], RemoteGraph], client: SyncLangGraphClient
) -> None:
    thread_id = client.threads.create()["thread_id"]
    config: Any = {"configurable": {"thread_id": thread_id}}
    started = time.monotonic()
    with lgs.stream(remote("slow"), QUESTION, config=config) as events:
        run_id, seen = first_tokens(iter(events), 3)
    assert seen == 3

    assert wait_for_status(client, thread_id, run_id) == "interrupted"
    # Cancelled long before the ~20 s the run would take.
    assert time.monotonic() - started < server_graphs.SLOW_TOKENS * server_graphs.SLOW_DELAY / 2


def test_a_thread_less_run_is_cancelled_by_the_server_on_disconnect(
    server: LangGraphDevServer, remote: Callable[[str], RemoteGraph]
) -> None:
    # No thread: runs.cancel cannot name the run, so lgstream asks the server to cancel
    # it when the stream's connection closes (on_disconnect="cancel"). The SDK cannot
    # look a thread-less run up afterwards; the server's log says what became of it.
    with lgs.stream(remote("slow"), QUESTION) as events:
        run_id, seen = first_tokens(iter(events), 3)
    assert seen == 3
    deadline = time.monotonic() + 15
    interrupted = ""
    while time.monotonic() < deadline and not interrupted:
        interrupted = next(
            (
                line
                for line in server.log().splitlines()
                if "Background run interrupted" in line and run_id in line
            ),
            "",
        )
        time.sleep(0.1)
    assert "on_disconnect=cancel" in interrupted


@pytest.mark.asyncio
async def test_cancelling_the_task_cancels_the_server_run(
    server: LangGraphDevServer, client: SyncLangGraphClient
) -> None:
    thread_id = client.threads.create()["thread_id"]
    config: Any = {"configurable": {"thread_id": thread_id}}
    run_ids: list[str] = []
    three_tokens = asyncio.Event()

    async def consume() -> None:
        seen = 0
        async with get_client(url=server.url) as aclient:
            graph = RemoteGraph("slow", client=aclient)
            async for ev in lgs.astream(graph, QUESTION, config=config):
                if isinstance(ev, lgs.RunStarted):
                    run_ids.append(ev.run_id)
                if isinstance(ev, lgs.Token):
                    seen += 1
                    if seen == 3:
                        three_tokens.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(three_tokens.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    status = await asyncio.to_thread(wait_for_status, client, thread_id, run_ids[0])
    assert status == "interrupted"


def test_from_sdk_with_its_client_cancels_on_close(
    server: LangGraphDevServer, client: SyncLangGraphClient
) -> None:
    thread_id = client.threads.create()["thread_id"]
    parts = client.runs.stream(thread_id, "slow", input=QUESTION, stream_mode=["messages-tuple"])
    with lgs.from_sdk(parts, client=client, thread_id=thread_id) as events:
        run_id, seen = first_tokens(iter(events), 2)
    assert seen == 2
    assert wait_for_status(client, thread_id, run_id) == "interrupted"


# --- the SDK's own streams ------------------------------------------------------------------

SDK_MODES: Any = ["messages-tuple", "updates", "values", "custom"]


def test_from_sdk_reads_v1_and_v2_parts_like_a_local_run(
    server: LangGraphDevServer, client: SyncLangGraphClient
) -> None:
    local = summary(piped(lgs.stream(server_graphs.agent, QUESTION, modes=MODES)))
    v1 = client.runs.stream(None, "agent", input=QUESTION, stream_mode=SDK_MODES)
    v2 = client.runs.stream(None, "agent", input=QUESTION, stream_mode=SDK_MODES, version="v2")
    for parts in (v1, v2):
        there = summary(piped(lgs.from_sdk(parts)))
        # from_sdk does not know the input or modes, the rest is the same.
        assert there[1:] == local[1:]


@pytest.mark.asyncio
async def test_from_sdk_reads_an_async_client_stream(server: LangGraphDevServer) -> None:
    local = summary(lgs.stream(server_graphs.nested, QUESTION, modes=MODES, subgraphs=True))
    async with get_client(url=server.url) as aclient:
        parts = aclient.runs.stream(
            None, "nested", input=QUESTION, stream_mode=SDK_MODES, stream_subgraphs=True
        )
        events = lgs.from_sdk(parts)
        assert isinstance(events, lgs.AsyncEventStream)
        there = summary(await events.collect())
    assert by_path(there[1:]) == by_path(local[1:])


def test_event_ids_let_a_resumed_stream_skip_what_it_saw(
    server: LangGraphDevServer, client: SyncLangGraphClient
) -> None:
    # `counting` streams "1 2 3 ... 40", a token every 20 ms: the in-memory server
    # stamps ids per millisecond, so these are unique (a Redis-backed server's always are).
    thread_id = client.threads.create()["thread_id"]
    parts = client.runs.stream(
        thread_id, "counting", input=QUESTION, stream_mode=SDK_MODES, stream_resumable=True
    )
    seen: list[lgs.Event] = []
    for ev in lgs.from_sdk(parts):  # no client given: leaving does not cancel the run
        seen.append(ev)
        if isinstance(ev, lgs.Token) and ev.text.strip() == "5":
            break
    assert all(ev.event_id for ev in seen), "every server event carries its id"
    run_id = seen[0].run_id  # type: ignore[union-attr]
    # (join_stream's stream_mode filter does not know `messages-tuple`: leave it out.)
    resumed = client.runs.join_stream(thread_id, run_id, last_event_id=seen[-1].event_id)
    rest = list(lgs.from_sdk(resumed))
    assert rest[-1].event_id is None  # RunFinished is lgstream's own
    texts = [ev.text.strip() for ev in seen + rest if isinstance(ev, lgs.Token)]
    assert texts == [str(n) for n in range(1, 41)] + [""]


# --- no server needed: the parts the server sends, pinned --------------------------------


def sdk_part(event: str, data: Any, id: str | None = None) -> Any:
    from langgraph_sdk.schema import StreamPart

    return StreamPart(event=event, data=data, id=id)


def test_metadata_error_and_end_parts_become_run_events() -> None:
    parts = [
        sdk_part("metadata", {"run_id": "r1", "attempt": 1}, "1-0"),
        sdk_part("custom", {"step": 1}, "2-0"),
        sdk_part("error", {"error": "ValueError", "message": "bad input"}, "3-0"),
    ]
    events: list[lgs.Event] = []
    with pytest.raises(lgs.RemoteRunError, match=r"ValueError: bad input .*run r1"):
        events.extend(lgs.from_sdk(parts))
    assert [ev.kind for ev in events] == ["run_started", "custom", "run_failed"]
    assert [ev.event_id for ev in events] == ["1-0", "2-0", None]

    ended = list(lgs.from_sdk([sdk_part("metadata", {"run_id": "r2"}), sdk_part("end", None)]))
    assert [ev.kind for ev in ended] == ["run_started", "run_finished"]


def test_event_ids_stay_out_of_equality_and_of_json_when_absent() -> None:
    [started, custom, _] = list(
        lgs.from_sdk([sdk_part("metadata", {"run_id": "r"}), sdk_part("custom", 7, "9-0")])
    )
    assert custom == lgs.Custom(data=7)
    assert custom.to_dict()["event_id"] == "9-0"
    assert "event_id" not in lgs.Custom(data=7).to_dict()
    assert started.event_id is None


def test_the_sdk_messages_mode_is_refused_with_a_hint() -> None:
    parts = [sdk_part("metadata", {"run_id": "r"}), sdk_part("messages/partial", [{}])]
    with pytest.raises(lgs.MalformedPartError, match="messages-tuple"):
        list(lgs.from_sdk(parts))


@pytest.mark.asyncio
async def test_a_sync_stream_with_an_async_client_is_refused() -> None:
    async with get_client(url="http://127.0.0.1:9") as aclient:
        with pytest.raises(lgs.UsageError, match="get_sync_client"):
            lgs.from_sdk([], client=aclient)  # type: ignore[call-overload]


async def _aparts(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


@pytest.mark.asyncio
async def test_async_sdk_parts_give_the_same_events() -> None:
    items = [
        sdk_part("metadata", {"run_id": "r"}, "1-0"),
        sdk_part("updates|sub:abc", {"inner": {"x": 1}}, "2-0"),
    ]
    events = await lgs.from_sdk(_aparts(items)).collect()
    assert [ev.kind for ev in events] == ["run_started", "update", "run_finished"]
    assert events[1].ns == ("sub:abc",)
    assert events[1] == next(iter(lgs.from_sdk(items[1:]) | lgs.ops.kinds("update")))


def test_tasks_checkpoints_and_debug_modes_read_like_local_ones(
    client: SyncLangGraphClient,
) -> None:
    modes: Any = ["tasks", "checkpoints", "debug"]
    thread_id = client.threads.create()["thread_id"]
    there = list(
        lgs.from_sdk(client.runs.stream(thread_id, "chat", input=QUESTION, stream_mode=modes))
    )
    # The server has a checkpointer; give the local graph one too.
    local_graph = lgs.graphs.chat(server_graphs.chat_model(), checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "t-1"}}
    local = list(lgs.stream(local_graph, QUESTION, modes=modes, config=config))

    def tasks(events: list[lgs.Event]) -> list[tuple[str, str | None]]:
        return [
            (ev.kind, ev.node) for ev in events if isinstance(ev, lgs.TaskStart | lgs.TaskResult)
        ]

    assert tasks(there) == tasks(local) != []
    checkpoints = [ev for ev in there if isinstance(ev, lgs.Checkpoint)]
    assert len(checkpoints) == len([ev for ev in local if isinstance(ev, lgs.Checkpoint)])
    last = checkpoints[-1]
    assert last.next == ()
    assert last.checkpoint_id
    assert [m.type for m in last.values["messages"]] == ["human", "ai"]  # revived
