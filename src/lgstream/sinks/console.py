"""Console output: a run as it streams, readable in a terminal or a log file.

``print_stream`` writes each event as it arrives (one flush per token), so a
slow model is watched, not waited for::

    ── generate ──
    Hello there
    ── 2 tokens · 1 message · first token 0.21 s · total 0.25 s ──

Output goes through ``rich`` (extra ``console``) when the target is a
terminal, and is plain text with no ANSI codes otherwise (a pipe, a file, an
``io.StringIO``). One I/O-free renderer turns events into styled pieces of text;
the sync and async printers only drive it and write what it returns.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, TextIO, TypeAlias

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from .._events import (
    Event,
    Interrupt,
    Message,
    Reasoning,
    RunFailed,
    Token,
    ToolCallInvalid,
    ToolCallReady,
    ToolError,
    ToolResult,
    ToolStart,
    to_jsonable,
)
from ..ops import ToolCalls, node_path, reasoning_text
from ..ops._join import is_closing_chunk

__all__ = ["StreamSummary", "aprint_stream", "print_stream"]

Style: TypeAlias = Literal[
    "header", "text", "reasoning", "tool", "result", "interrupt", "error", "footer"
]
Segment: TypeAlias = tuple[str, Style]

_RICH_STYLES: Final[dict[Style, str]] = {
    "header": "bold cyan",
    "text": "",
    "reasoning": "dim italic",
    "tool": "yellow",
    "result": "green",
    "interrupt": "bold black on yellow",
    "error": "bold red",
    "footer": "dim",
}

_MAX_DETAIL: Final = 200

# Model and tool text is untrusted: C0/C1 control characters (ESC above all) could
# move the cursor or restyle the terminal, and plain output promises no escape codes.
_CONTROLS: Final[dict[int, None]] = {
    c: None for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if c not in (0x09, 0x0A)
}


def _clean(text: str) -> str:
    return text.translate(_CONTROLS)


def _short(value: object) -> str:
    """One line of at most ``_MAX_DETAIL`` characters for a value."""
    if isinstance(value, BaseMessage):
        value = value.text
    if not isinstance(value, str):
        value = json.dumps(to_jsonable(value), ensure_ascii=False)
    line = " ".join(_clean(value).split())
    return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 1] + "…"


def _call(name: str, args: object) -> str:
    if isinstance(args, dict):
        inner = ", ".join(
            f"{k}={json.dumps(to_jsonable(v), ensure_ascii=False)}" for k, v in args.items()
        )
    else:
        inner = "" if args is None else json.dumps(to_jsonable(args), ensure_ascii=False)
    return _short(f"→ {name}({inner})")


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamSummary:
    """What ``print_stream`` saw, as numbers (also shown in its footer)."""

    tokens: int
    """Model chunks that carried answer text or reasoning."""
    messages: int
    """Messages seen: streamed ones (by id) plus whole ``Message`` events."""
    tool_calls: int
    """Tool calls shown (ready or invalid)."""
    interrupts: int
    """Interrupts the run stopped at."""
    time_to_first_token: float | None
    """Seconds from the start of printing to the first token; ``None`` if none came."""
    total_time: float
    """Seconds from the start of printing to the end of the stream."""
    error: str | None = None
    """``"Type: message"`` of the error the run failed with, if it failed."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class _Renderer:
    """Events in, styled text out; no I/O and no clock, so sync and async share it.

    Tracks where the cursor is (start of a line or not, inside answer text or
    reasoning) so that headers, tool lines and the footer always start a line.
    """

    def __init__(self) -> None:
        self._calls = ToolCalls()  # assembles streamed tool-call pieces into ready calls
        self._path: tuple[str, ...] | None = None
        self._at_line_start = True
        self._inline: Style | None = None
        self._call_names: dict[str, str] = {}
        self._results: set[str] = set()
        self._split_reasoning: set[tuple[object, ...]] = set()  # messages with Reasoning
        self._messages: set[tuple[object, ...]] = set()
        self._streamed_ids: set[str] = set()
        self.tokens = 0
        self.whole_messages = 0
        self.interrupts = 0
        self.error: str | None = None

    # --- layout ---------------------------------------------------------------------

    def _newline(self, out: list[Segment]) -> None:
        if not self._at_line_start:
            out.append(("\n", "text"))
            self._at_line_start = True
        self._inline = None

    def _section(self, event: Event, out: list[Segment]) -> None:
        path = node_path(event)
        if path != self._path:
            # An event from no node in particular (a tools-mode result, an interrupt)
            # ends the section too, so the next node's text gets its header again.
            if path:
                self._newline(out)
                out.append((f"── {' › '.join(path)} ──\n", "header"))  # noqa: RUF001
            self._path = path

    def _inline_text(self, text: str, style: Style, out: list[Segment]) -> None:
        if self._inline != style:
            self._newline(out)
            if style == "reasoning":
                out.append(("thinking: ", "reasoning"))
        out.append((text, style))
        self._inline = style
        self._at_line_start = text.endswith("\n")

    def _line(self, text: str, style: Style, out: list[Segment]) -> None:
        self._newline(out)
        out.append((text + "\n", style))

    # --- events ---------------------------------------------------------------------

    def feed(self, event: Event) -> list[Segment]:
        """The text to write for one event (often nothing)."""
        out: list[Segment] = []
        for item in self._calls.feed(event):
            self._render(item, out)
        return out

    def flush(self) -> list[Segment]:
        """The stream ended: show tool calls still being assembled."""
        out: list[Segment] = []
        for item in self._calls.flush():
            self._render(item, out)
        return out

    def _render(self, event: Event, out: list[Segment]) -> None:
        if isinstance(event, Token):
            self._token(event, out)
        elif isinstance(event, Reasoning):
            self._split_reasoning.add((event.ns, event.node, event.message_id))
            if event.text:
                self._section(event, out)
                self._inline_text(_clean(event.text), "reasoning", out)
        elif isinstance(event, Message):
            # A message already streamed token by token is not shown (or counted) again.
            if event.message_id is None or event.message_id not in self._streamed_ids:
                self.whole_messages += 1
                self._message(event, event.message, out)
        elif isinstance(event, ToolCallReady):
            self._tool_call(event, event.call_id, event.name, event.args, out)
        elif isinstance(event, ToolCallInvalid):
            self._call_names[event.call_id] = event.name
            self._section(event, out)
            detail = _short(f"→ {event.name}({event.raw_args}) invalid: {event.error}")
            self._line(detail, "error", out)
        elif isinstance(event, ToolStart):
            self._tool_call(event, event.call_id, event.name, event.input, out)
        elif isinstance(event, ToolResult):
            self._result(event, event.call_id, event.output, out)
        elif isinstance(event, ToolError):
            self._results.add(event.call_id)
            name = self._call_names.get(event.call_id, "tool")
            self._section(event, out)
            self._line(_short(f"✗ {name} failed: {event.message}"), "error", out)
        elif isinstance(event, Interrupt):
            self.interrupts += 1
            self._section(event, out)
            self._line(f"⏸ interrupt: {_short(event.value)}", "interrupt", out)
        elif isinstance(event, RunFailed):
            self.error = f"{type(event.error).__name__}: {event.error}"
            self._section(event, out)
            self._line(_short(f"✗ {self.error}"), "error", out)

    def _token(self, token: Token, out: list[Segment]) -> None:
        key = (token.ns, token.node, token.message_id)
        if is_closing_chunk(token) and any(k[:2] == key[:2] for k in self._messages):
            return  # langchain-core's closing chunk: the end of a message counted already
        self._messages.add(key)
        if token.message_id is not None:
            self._streamed_ids.add(token.message_id)
        thought = "" if key in self._split_reasoning else reasoning_text(token.chunk)
        if not (thought or token.text):
            return
        self.tokens += 1
        self._section(token, out)
        if thought:
            self._inline_text(_clean(thought), "reasoning", out)
        if token.text:
            self._inline_text(_clean(token.text), "text", out)

    def _message(self, event: Message, message: BaseMessage, out: list[Segment]) -> None:
        if isinstance(message, ToolMessage):
            self._result(event, message.tool_call_id, message, out)
        elif isinstance(message, AIMessage):
            # A whole answer (a model that did not stream): its text, then its calls.
            if message.text:
                self._section(event, out)
                self._inline_text(_clean(message.text), "text", out)
            for call in message.tool_calls:
                call_id = call.get("id") or f"{event.message_id}:{call['name']}"
                self._tool_call(event, call_id, call["name"], call["args"], out)

    def _tool_call(
        self, event: Event, call_id: str, name: str, args: object, out: list[Segment]
    ) -> None:
        if call_id in self._call_names:  # already shown (by tokens, or a user's tool_calls())
            return
        self._call_names[call_id] = name
        self._section(event, out)
        self._line(_call(name, args), "tool", out)

    def _result(self, event: Event, call_id: str, output: Any, out: list[Segment]) -> None:
        if call_id in self._results:  # tools mode and messages mode both carry it
            return
        self._results.add(call_id)
        name = self._call_names.get(call_id)
        if name is None:
            name = getattr(output, "name", None) or "tool"
        self._section(event, out)
        self._line(f"← {_short(f'{name}: {_short(output)}')}", "result", out)

    def summary(self, ttft: float | None, total: float) -> StreamSummary:
        """The numbers so far."""
        return StreamSummary(
            tokens=self.tokens,
            messages=len(self._messages) + self.whole_messages,
            tool_calls=len(self._call_names),
            interrupts=self.interrupts,
            time_to_first_token=ttft,
            total_time=total,
            error=self.error,
        )

    def footer(self, summary: StreamSummary) -> list[Segment]:
        """The closing line: counts and timings."""
        out: list[Segment] = []
        self._newline(out)
        first = (
            "no tokens"
            if summary.time_to_first_token is None
            else f"first token {summary.time_to_first_token:.2f} s"
        )
        parts = [
            _plural(summary.tokens, "token"),
            _plural(summary.messages, "message"),
            first,
            f"total {summary.total_time:.2f} s",
        ]
        out.append((f"── {' · '.join(parts)} ──\n", "footer"))
        return out


# --- writing ----------------------------------------------------------------------------


class _Writer(Protocol):
    def write(self, segments: Sequence[Segment]) -> None: ...


class _PlainWriter:
    def __init__(self, file: TextIO) -> None:
        self._file = file

    def write(self, segments: Sequence[Segment]) -> None:
        if segments:
            self._file.write("".join(text for text, _ in segments))
            self._file.flush()  # the point is to see tokens as they come


class _RichWriter:
    def __init__(self, file: TextIO) -> None:
        from rich.console import Console  # the console extra: only needed for terminals

        self._file = file
        self._console = Console(
            file=file, force_terminal=True, highlight=False, markup=False, emoji=False
        )

    def write(self, segments: Sequence[Segment]) -> None:
        if not segments:
            return
        from rich.text import Text

        line = Text()
        for text, style in segments:
            line.append(text, style=_RICH_STYLES[style])
        # soft_wrap: let the terminal wrap, so a token never gets a newline of rich's own.
        self._console.print(line, end="", soft_wrap=True)
        self._file.flush()


def _is_terminal(file: TextIO) -> bool:
    isatty = getattr(file, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed file
        return False


def _writer(file: TextIO | None, plain: bool | None) -> _Writer:
    target = sys.stdout if file is None else file
    if plain is None:
        plain = not _is_terminal(target)
    return _PlainWriter(target) if plain else _RichWriter(target)


class _Run:
    """One printing run: the renderer, the writer and the clock readings."""

    def __init__(self, file: TextIO | None, plain: bool | None, clock: Callable[[], float]) -> None:
        self.writer = _writer(file, plain)
        self.renderer = _Renderer()
        self.clock = clock
        self.start = clock()
        self.ttft: float | None = None

    def feed(self, event: Event) -> None:
        self.writer.write(self.renderer.feed(event))
        if self.ttft is None and self.renderer.tokens:
            self.ttft = self.clock() - self.start

    def finish(self) -> StreamSummary:
        self.writer.write(self.renderer.flush())
        summary = self.renderer.summary(self.ttft, self.clock() - self.start)
        self.writer.write(self.renderer.footer(summary))
        return summary


def print_stream(
    events: Iterable[Event],
    *,
    file: TextIO | None = None,
    plain: bool | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> StreamSummary:
    """Print a run's events as they arrive, and a footer with counts and timings.

    Tokens are written (and flushed) one by one under a header line naming the
    node that produces them (``── generate ──``, ``── research › inner ──`` inside a
    subgraph); reasoning is dimmed, tool calls show as ``→ tool(args)`` once their
    arguments are complete, tool results as ``← tool: output``, interrupts and
    errors on highlighted lines of their own.

    Args:
        events: any event stream, such as ``lgs.stream(graph, input)``.
        file: where to write; ``sys.stdout`` by default.
        plain: ``True`` for plain text, ``False`` for ``rich`` output (colours, even
            when ``file`` is not a terminal); ``None`` (the default) uses ``rich``
            only when ``file.isatty()``.
        clock: the time source, in seconds. It is read at the start, at the first
            token and at the end; pass a fake one for deterministic timings.

    Returns:
        The counts and timings shown in the footer.

    Whatever the stream raises (a failed run, by default) is raised again after the
    footer is printed and the stream is closed, which stops the run.
    """  # noqa: RUF002
    run = _Run(file, plain, clock)
    iterator = iter(events)
    try:
        for event in iterator:
            run.feed(event)
    except BaseException:
        close = getattr(iterator, "close", None)
        if callable(close):
            close()
        run.finish()
        raise
    return run.finish()


async def aprint_stream(
    events: AsyncIterable[Event],
    *,
    file: TextIO | None = None,
    plain: bool | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> StreamSummary:
    """``print_stream`` for async streams (``lgs.astream(...)``); same arguments.

    Writes to ``file`` directly: terminal writes are short, and a token should
    show the moment it arrives.
    """
    run = _Run(file, plain, clock)
    iterator = aiter(events)
    try:
        async for event in iterator:
            run.feed(event)
    except BaseException:
        aclose = getattr(iterator, "aclose", None)
        if callable(aclose):
            await aclose()
        run.finish()
        raise
    return run.finish()
