"""A progress sink: the nodes of a run as a live task list, events passed through.

``track(events)`` yields every event unchanged, the moment it arrives, and on the
side shows one line per node task: a spinner while it runs, ``✓`` or ``✗`` when
it is done. In a terminal the list is a ``rich`` live display (extra
``console``); anywhere else it is plain text, one line per start and finish::

    ▶ generate
    ✓ generate

Node tasks come from ``TaskStart`` / ``TaskResult`` when the run streams
``tasks`` (or ``debug``) mode, and otherwise from what nodes emit: a node starts
with its first token, message or custom event and finishes with its update.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, Protocol, TextIO, TypeAlias, TypeVar

from .._events import (
    Custom,
    Event,
    Message,
    RunFailed,
    RunFinished,
    RunStarted,
    TaskResult,
    TaskStart,
    Token,
    Update,
)
from ..ops._filters import node_path, ns_names

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.progress import Progress, Task, TaskID

__all__ = ["atrack", "track"]

E = TypeVar("E", bound=Event)

Outcome: TypeAlias = Literal["done", "failed", "interrupted"]
_Key: TypeAlias = tuple[object, ...]

_MARKS: Final[dict[Outcome, str]] = {"done": "✓", "failed": "✗", "interrupted": "⏸"}
_TASK_MODES: Final = frozenset({"tasks", "debug"})


@dataclass(frozen=True, slots=True)
class _Started:
    key: _Key
    label: str


@dataclass(frozen=True, slots=True)
class _Ended:
    key: _Key
    label: str
    outcome: Outcome


_Change: TypeAlias = _Started | _Ended


def _label(path: tuple[str, ...]) -> str:
    return " › ".join(path) or "(graph)"  # noqa: RUF001


class _Tracker:
    """Events in, task starts and ends out; no I/O, shared by ``track`` and ``atrack``."""

    def __init__(self) -> None:
        self._tasks_mode = False
        self._open: dict[_Key, str] = {}

    def feed(self, event: Event) -> list[_Change]:
        """The task changes one event causes (often none)."""
        out: list[_Change] = []
        if isinstance(event, RunStarted):
            self._tasks_mode = not _TASK_MODES.isdisjoint(event.modes)
        elif isinstance(event, TaskStart):
            self._tasks_mode = True
            self._start(("task", event.task_id), _label(node_path(event)), out)
        elif isinstance(event, TaskResult):
            key: _Key = ("task", event.task_id)
            outcome: Outcome = (
                "failed" if event.error else "interrupted" if event.interrupts else "done"
            )
            self._end(key, _label(node_path(event)), outcome, out)
        elif isinstance(event, RunFailed):
            self._end_all("failed", out)
        elif isinstance(event, RunFinished):
            self._end_all("interrupted" if event.interrupts else "done", out)
        elif not self._tasks_mode and event.node is not None:
            if isinstance(event, Token | Message | Custom):
                self._ancestors(event.ns, out)
                self._start(("node", event.ns, event.node), _label(node_path(event)), out)
            elif isinstance(event, Update):
                self._ancestors(event.ns, out)
                key = ("node", event.ns, event.node)
                label = _label(node_path(event))
                self._start(key, label, out)  # a node that streamed nothing before it returned
                self._end(key, label, "done", out)
        return out

    def flush(self, outcome: Outcome = "done") -> list[_Change]:
        """The stream ended: end every task still open."""
        out: list[_Change] = []
        self._end_all(outcome, out)
        return out

    def _ancestors(self, ns: tuple[str, ...], out: list[_Change]) -> None:
        # A subgraph's events mean the parent node that runs it has started too.
        names = ns_names(ns)
        for depth, name in enumerate(names):
            self._start(("node", ns[:depth], name), _label(names[: depth + 1]), out)

    def _start(self, key: _Key, label: str, out: list[_Change]) -> None:
        if key not in self._open:
            self._open[key] = label
            out.append(_Started(key, label))

    def _end(self, key: _Key, label: str, outcome: Outcome, out: list[_Change]) -> None:
        if self._open.pop(key, None) is not None:
            out.append(_Ended(key, label, outcome))
        elif key[0] == "task":  # a result without a start (the stream began mid-run)
            out.extend((_Started(key, label), _Ended(key, label, outcome)))

    def _end_all(self, outcome: Outcome, out: list[_Change]) -> None:
        # Innermost (latest started) first, so a subgraph node ends before its parent.
        for key, label in reversed(list(self._open.items())):
            out.append(_Ended(key, label, outcome))
        self._open.clear()


# --- display ------------------------------------------------------------------------------


class _Display(Protocol):
    def show(self, changes: list[_Change]) -> None: ...
    def close(self) -> None: ...


class _PlainDisplay:
    def __init__(self, file: TextIO) -> None:
        self._file = file

    def show(self, changes: list[_Change]) -> None:
        if not changes:
            return
        for change in changes:
            mark = "▶" if isinstance(change, _Started) else _MARKS[change.outcome]
            self._file.write(f"{mark} {change.label}\n")
        self._file.flush()

    def close(self) -> None:
        pass


class _RichDisplay:
    def __init__(self, file: TextIO) -> None:
        from rich.console import Console
        from rich.progress import Progress, ProgressColumn, TextColumn, TimeElapsedColumn
        from rich.spinner import Spinner
        from rich.text import Text

        class StatusColumn(ProgressColumn):
            """A spinner while the task runs, its outcome's mark once it is done."""

            def __init__(self) -> None:
                super().__init__()
                self._spinner = Spinner("dots", style="cyan")

            def render(self, task: Task) -> RenderableType:
                outcome = task.fields.get("outcome")
                if outcome == "failed":
                    return Text("✗", style="bold red")
                if outcome == "interrupted":
                    return Text("⏸", style="bold yellow")
                if outcome == "done":
                    return Text("✓", style="bold green")
                return self._spinner.render(task.get_time())

        console = Console(file=file, force_terminal=True, highlight=False)
        self._progress: Progress = Progress(
            StatusColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._ids: dict[_Key, TaskID] = {}
        self._progress.start()

    def show(self, changes: list[_Change]) -> None:
        for change in changes:
            if isinstance(change, _Started):
                self._ids[change.key] = self._progress.add_task(change.label, total=1)
            else:
                task_id = self._ids.pop(change.key)
                self._progress.update(task_id, completed=1, outcome=change.outcome)
        if changes:
            self._progress.refresh()

    def close(self) -> None:
        self._progress.stop()


def _display(file: TextIO | None, plain: bool | None) -> _Display:
    target = sys.stdout if file is None else file
    if plain is None:
        isatty = getattr(target, "isatty", None)
        plain = not (callable(isatty) and isatty())
    return _PlainDisplay(target) if plain else _RichDisplay(target)


def track(
    events: Iterable[E], *, file: TextIO | None = None, plain: bool | None = None
) -> Iterator[E]:
    """Pass a stream through unchanged while showing its node tasks as they run.

    Args:
        events: any event stream, such as ``lgs.stream(graph, input)``; stream
            ``tasks`` mode for exact task boundaries.
        file: where to draw; ``sys.stdout`` by default.
        plain: ``True`` for one plain line per node start and finish, ``False`` for
            a ``rich`` live task list (even when ``file`` is not a terminal);
            ``None`` (the default) uses ``rich`` only when ``file.isatty()``.

    Yields:
        Every event of ``events``, in order, as soon as it arrives.
    """
    tracker = _Tracker()
    display = _display(file, plain)
    outcome: Outcome = "failed"
    try:
        for event in events:
            display.show(tracker.feed(event))
            yield event
        outcome = "done"
    finally:
        # Stopped early (break, close) or failed: tasks still open did not finish.
        display.show(tracker.flush(outcome))
        display.close()


async def atrack(
    events: AsyncIterable[E], *, file: TextIO | None = None, plain: bool | None = None
) -> AsyncIterator[E]:
    """``track`` for async streams (``lgs.astream(...)``); same arguments.

    Yields:
        Every event of ``events``, in order, as soon as it arrives.
    """
    tracker = _Tracker()
    display = _display(file, plain)
    outcome: Outcome = "failed"
    try:
        async for event in events:
            display.show(tracker.feed(event))
            yield event
        outcome = "done"
    finally:
        display.show(tracker.flush(outcome))
        display.close()
