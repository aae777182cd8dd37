"""Runs on a LangGraph Server: ``RemoteGraph`` sources and langgraph-sdk streams.

A server streams Server-Sent Events: ``metadata`` (the run id) first, then one
event per stream part, named by mode and, inside subgraphs, by namespace
(``updates|sub:<task id>``), with messages as dicts; ``error`` when the run
fails, and sometimes ``end``. ``_RemoteRun`` turns those parts into the same
events a local run gives, with no I/O: the shared normaliser revives the
messages, ``metadata`` becomes ``RunStarted`` (with the server's run id),
``error`` becomes ``RunFailed`` carrying a ``RemoteRunError``, and the server's
SSE ids (runs created with ``stream_resumable=True``) stay on the events as
``event_id``.

Closing the local stream before the run ends cancels the server run through the
SDK's ``runs.cancel`` where the thread is known; ``lgs.stream(remote_graph)`` also
asks the server to cancel on disconnect, which covers thread-less runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import asdict
from typing import Any, overload

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import merge_configs
from langgraph.pregel.remote import RemoteGraph
from langgraph.types import Command
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient

from ._errors import MalformedPartError, RemoteRunError, UsageError
from ._events import Event, RunFailed, RunStarted, stamp_event_id
from ._pipeline import AsyncEventStream, EventStream
from ._sources import STREAM_MODES, Normaliser, _check_modes

__all__ = ["astream_remote", "from_sdk", "stream_remote"]


class _RemoteRun:
    """SDK stream parts in, lgstream events out: one server run, no I/O.

    Args:
        modes: the modes whose events are emitted (``None``: every mode).
        input: what the run was given, for ``RunStarted`` (``None`` if unknown).
        thread_id: the run's thread, for cancelling it.
    """

    def __init__(
        self, *, modes: tuple[str, ...] | None, input: Any = None, thread_id: str | None = None
    ) -> None:
        self.normaliser = Normaliser(emit=STREAM_MODES if modes is None else modes, revive=True)
        self.modes = modes or ()
        self.input = input
        self.run_id: str | None = None
        self.thread_id = thread_id
        self.started = False
        self.ended = False
        """The server said the run is over (``end``, ``error``, or the stream ran out)."""
        self.error: RemoteRunError | None = None

    def on_run_created(self, metadata: Mapping[str, Any]) -> None:
        """The SDK's ``on_run_created`` hook: ids from the response headers."""
        self.run_id = self.run_id or metadata.get("run_id")
        self.thread_id = self.thread_id or metadata.get("thread_id")

    def _start(self, event_id: str | None = None) -> list[Event]:
        if self.started:
            return []
        self.started = True
        started = RunStarted(run_id=self.run_id or "", input=self.input, modes=self.modes)
        if event_id is not None:
            stamp_event_id(started, event_id)
        return [started]

    def feed(self, part: Any) -> list[Event]:
        """Events for one SDK part: a v1 ``StreamPart(event, data, id)`` or a v2 dict."""
        if isinstance(part, dict) and "type" in part:  # v2: the SDK keeps no ids
            name, data, event_id = part["type"], part.get("data"), None
        elif isinstance(part, tuple) and len(part) == 3 and isinstance(part[0], str):
            name, data, event_id = part  # v1 StreamPart, a NamedTuple
        else:
            raise MalformedPartError(part, "not a langgraph-sdk stream part")
        if name == "metadata":
            if isinstance(data, Mapping) and data.get("run_id"):
                self.run_id = str(data["run_id"])
            return self._start(event_id)
        out = self._start()
        if name == "end":
            self.ended = True
        elif name == "error":
            self.ended = True
            info = data if isinstance(data, Mapping) else {"message": data}
            self.error = RemoteRunError(
                str(info.get("error") or "Error"), str(info.get("message") or ""), self.run_id
            )
        elif name.startswith(("messages/", "events")):
            raise MalformedPartError(
                part,
                f"lgstream reads the server's `messages-tuple` mode, not {name!r}: stream"
                " with stream_mode=['messages-tuple', ...] (RemoteGraph maps `messages` to it)",
            )
        else:
            # The normaliser reads "mode|ns" names and revives dict messages.
            events = self.normaliser.feed(part if isinstance(part, dict) else (name, data))
            if event_id is not None:
                for event in events:
                    stamp_event_id(event, event_id)
            out.extend(events)
        return out

    def failed(self, error: BaseException) -> list[Event]:
        return [*self._start(), RunFailed(run_id=self.run_id or "", error=error)]

    def finished(self) -> list[Event]:
        return [*self._start(), self.normaliser.finished(self.run_id or "")]

    def cancellable(self) -> bool:
        """Closed early, and the run can be named to the server."""
        return not self.ended and self.run_id is not None and self.thread_id is not None


def _sync_events(
    run: _RemoteRun,
    parts: Iterable[Any],
    cancel: Callable[[str, str], object] | None,
    raise_errors: bool,
) -> Iterator[Event]:
    iterator = iter(parts)
    try:
        for part in iterator:
            yield from run.feed(part)
            if run.ended:
                break
        run.ended = True
    except Exception as error:
        run.ended = True  # a broken connection or a bad part: nothing left to cancel
        yield from run.failed(error)
        if raise_errors:
            raise
        return
    finally:
        # Closed early (break, close(), garbage collection): stop the server run.
        if cancel is not None and run.cancellable():
            # Best effort: the run may have ended meanwhile (the server answers 404
            # or 409), and an error here would hide why the stream was closed.
            with contextlib.suppress(Exception):
                cancel(run.thread_id, run.run_id)  # type: ignore[arg-type]
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    if run.error is not None:
        yield from run.failed(run.error)
        if raise_errors:
            raise run.error
        return
    yield from run.finished()


async def _async_events(
    run: _RemoteRun,
    parts: AsyncIterable[Any],
    cancel: Callable[[str, str], Awaitable[object]] | None,
    raise_errors: bool,
) -> AsyncIterator[Event]:
    iterator = aiter(parts)
    try:
        async for part in iterator:
            for event in run.feed(part):
                yield event
            if run.ended:
                break
        run.ended = True
    except Exception as error:
        run.ended = True
        for event in run.failed(error):
            yield event
        if raise_errors:
            raise
        return
    finally:
        # Also on task cancellation: the await below runs once the task is cancelled.
        if cancel is not None and run.cancellable():
            with contextlib.suppress(Exception):  # best effort, as in _sync_events
                await cancel(run.thread_id, run.run_id)  # type: ignore[arg-type]
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
    if run.error is not None:
        for event in run.failed(run.error):
            yield event
        if raise_errors:
            raise run.error
        return
    for event in run.finished():
        yield event


# --- from_sdk() ---------------------------------------------------------------------


@overload
def from_sdk(
    parts: AsyncIterable[Any],
    *,
    client: LangGraphClient | None = None,
    thread_id: str | None = None,
    modes: Iterable[str] | None = None,
    raise_errors: bool = True,
) -> AsyncEventStream[Event]: ...
@overload
def from_sdk(
    parts: Iterable[Any],
    *,
    client: SyncLangGraphClient | None = None,
    thread_id: str | None = None,
    modes: Iterable[str] | None = None,
    raise_errors: bool = True,
) -> EventStream[Event]: ...
def from_sdk(
    parts: Iterable[Any] | AsyncIterable[Any],
    *,
    client: LangGraphClient | SyncLangGraphClient | None = None,
    thread_id: str | None = None,
    modes: Iterable[str] | None = None,
    raise_errors: bool = True,
) -> EventStream[Event] | AsyncEventStream[Event]:
    """Stream a LangGraph Server run from langgraph-sdk's ``client.runs.stream(...)``.

    The same events as ``lgs.stream()`` gives for a local graph: ``RunStarted``
    (with the server's run id), the run's events with messages as LangChain
    messages again, then ``RunFinished`` (final state, interrupts) or ``RunFailed``.
    Stream with ``stream_mode=["messages-tuple", "updates", "values", ...]``:
    ``messages-tuple`` gives tokens; ``values`` gives ``RunFinished`` its output.
    The SDK's v1 parts (its default) keep the server's event ids as
    ``event.event_id`` when the run was created with ``stream_resumable=True``;
    ``client.runs.join_stream(thread_id, run_id, last_event_id=...)`` resumes
    after one.

    Args:
        parts: ``client.runs.stream(...)`` or ``client.runs.join_stream(...)`` of a
            sync client (gives an ``EventStream``) or an async one (gives an
            ``AsyncEventStream``), v1 or v2.
        client: the client that started the run. With ``thread_id``, closing the
            stream before the run ends cancels it (``client.runs.cancel``). For a
            thread-less run, pass ``on_disconnect="cancel"`` to ``runs.stream``.
        thread_id: the run's thread.
        modes: emit only these modes' events (interrupts are always kept).
        raise_errors: raise a failed run's error after ``RunFailed`` (the default).

    Raises:
        RemoteRunError: the run failed on the server (after ``RunFailed``).
        MalformedPartError: a part the SDK does not send, or the SDK's
            ``messages`` mode (accumulated messages; use ``messages-tuple``).
    """
    emit = None if modes is None else _check_modes(modes)
    run = _RemoteRun(modes=emit, thread_id=thread_id)
    if isinstance(parts, AsyncIterable):
        acancel = client.runs.cancel if isinstance(client, LangGraphClient) else None
        return AsyncEventStream(_async_events(run, parts, acancel, raise_errors))
    if isinstance(client, LangGraphClient):
        raise UsageError(
            "from_sdk() got a sync stream with an async client: pass the client whose"
            " runs.stream() made the stream (get_sync_client() for a sync stream)"
        )
    cancel = client.runs.cancel if client is not None else None
    return EventStream(_sync_events(run, parts, cancel, raise_errors))


# --- RemoteGraph sources --------------------------------------------------------------


def _sdk_modes(modes: tuple[str, ...]) -> list[str]:
    # The server names the (message, metadata) mode `messages-tuple`; `values` gives
    # RunFinished its output and `updates` carries interrupts, so both always go.
    wanted = ["messages-tuple" if mode == "messages" else mode for mode in modes]
    return list(dict.fromkeys([*wanted, "values", "updates"]))


class _RemoteGraphRun:
    """What ``lgs.stream(remote_graph, ...)`` asks the server for."""

    def __init__(
        self,
        graph: RemoteGraph,
        input: Any,
        modes: tuple[str, ...],
        subgraphs: bool,
        config: RunnableConfig | None,
        graph_kwargs: dict[str, Any],
    ) -> None:
        sanitized = graph._sanitize_config(merge_configs(graph.config, config))
        configurable = dict(sanitized.get("configurable") or {})
        thread_id = configurable.pop("thread_id", None)
        sanitized["configurable"] = configurable
        self.run = _RemoteRun(modes=modes, input=input, thread_id=thread_id)
        command: dict[str, Any] | None = None
        if isinstance(input, Command):
            command, input = asdict(input), None
        self.thread_id: str | None = thread_id
        self.kwargs: dict[str, Any] = {
            "input": input,
            "command": command,
            "config": sanitized,
            "stream_mode": _sdk_modes(modes),
            "stream_subgraphs": subgraphs,
            "if_not_exists": "create",
            # Thread-less runs cannot be cancelled by id: let the server do it.
            "on_disconnect": "cancel",
            "on_run_created": self.run.on_run_created,
            **graph_kwargs,
        }
        self.assistant_id = graph.assistant_id


def stream_remote(
    graph: RemoteGraph,
    input: Any,
    modes: tuple[str, ...],
    subgraphs: bool,
    config: RunnableConfig | None,
    raise_errors: bool,
    graph_kwargs: dict[str, Any],
) -> EventStream[Event]:
    """``lgs.stream()`` for a ``RemoteGraph``: its sync client, straight to the SDK."""
    client = graph.sync_client
    if client is None:
        raise UsageError(
            "this RemoteGraph has no sync client: create it with `url=` (or pass"
            " `sync_client=`), or stream it with `lgs.astream()`"
        )
    call = _RemoteGraphRun(graph, input, modes, subgraphs, config, graph_kwargs)
    parts = client.runs.stream(call.thread_id, call.assistant_id, **call.kwargs)
    return EventStream(_sync_events(call.run, parts, client.runs.cancel, raise_errors))


def astream_remote(
    graph: RemoteGraph,
    input: Any,
    modes: tuple[str, ...],
    subgraphs: bool,
    config: RunnableConfig | None,
    raise_errors: bool,
    graph_kwargs: dict[str, Any],
) -> AsyncEventStream[Event]:
    """``lgs.astream()`` for a ``RemoteGraph``: its async client, straight to the SDK."""
    client = graph.client
    if client is None:
        raise UsageError(
            "this RemoteGraph has no async client: create it with `url=` (or pass"
            " `client=`), or stream it with `lgs.stream()`"
        )
    call = _RemoteGraphRun(graph, input, modes, subgraphs, config, graph_kwargs)
    parts = client.runs.stream(call.thread_id, call.assistant_id, **call.kwargs)
    return AsyncEventStream(_async_events(call.run, parts, client.runs.cancel, raise_errors))
