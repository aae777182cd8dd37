"""The errors lgstream raises.

Every error is an ``LgstreamError``, and each one writes its own message
that says what was wrong and what to do about it::

    LgstreamError
    ├── UsageError                  the call was wrong; fix the code that made it
    │   ├── UnknownStreamModeError  (also ValueError) a stream mode LangGraph does not have
    │   ├── NotAGraphError          (also TypeError)  the source cannot be streamed
    │   └── BadOperatorError        (also TypeError)  something piped that is no operator
    └── StreamError                 something went wrong while events were flowing
        ├── MalformedPartError      (also ValueError) a raw part of no known shape
        ├── RemoteRunError          a run on a LangGraph Server failed (its type and message)
        ├── TaskError               a task's error from a server or recorded parts
                                    (``TaskResult.error``: its type and message)
        └── PatchError              (also ValueError) a JSON Patch that cannot be applied
                                    (``lgstream.ops.PatchError``)

    StopRun (a BaseException)       not an error: the signal that stops a run whose
                                    stream was closed, like GeneratorExit

Errors raised by the graph itself are never wrapped: they reach the caller as
they were raised, after a ``RunFailed`` event that carries them. A run on a
LangGraph Server cannot send its exception, only the exception's type name and
message: those arrive as a ``RemoteRunError``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "BadOperatorError",
    "LgstreamError",
    "MalformedPartError",
    "NotAGraphError",
    "RemoteRunError",
    "StopRun",
    "StreamError",
    "TaskError",
    "UnknownStreamModeError",
    "UsageError",
]


def error_name(error: BaseException) -> str:
    """The error's type name: the original one for a stand-in from the wire
    (``TaskError``, ``RemoteRunError``), else its class name."""
    name = getattr(error, "error_type", None)
    return name if isinstance(name, str) and name else type(error).__name__


# Errors whose message is LangGraph's own and says nothing about the server: a client
# may see it. Matched by name, so LangGraph is not imported for it.
_SAFE_TO_SHOW: frozenset[str] = frozenset({"GraphRecursionError"})
_HIDDEN: str = "the run failed; the server's log has the details"


def client_message(error: BaseException, limit: int = 200) -> str:
    """What a client of a served run may read about its failure.

    An error's message can carry a backend's URL, a provider's raw response, a
    prompt, a key: none of that goes to a client. It gets the error's own
    ``client_message`` attribute when it has one (lgstream's backend errors do;
    give your own exceptions one to show a message of yours), the message of a
    few LangGraph errors that are safe (``GraphRecursionError``), and otherwise
    a fixed sentence. The server's log has the whole story.
    """
    own = getattr(error, "client_message", None)
    if isinstance(own, str) and own:
        return _shortened(own, limit)
    if type(error).__name__ in _SAFE_TO_SHOW:
        return short_message(error, limit)
    return _HIDDEN


def _shortened(text: str, limit: int) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


def short_message(error: BaseException, limit: int = 200) -> str:
    """The gist of an error for a client: the first line of its message, at most
    ``limit`` characters (``""`` if it has none). Exception messages can hold a whole
    prompt or response body; a client needs the gist, never a traceback."""
    return _shortened(str(error), limit)


class LgstreamError(Exception):
    """Base class of every error lgstream raises."""


class UsageError(LgstreamError):
    """lgstream was called with something it cannot work with."""


class StreamError(LgstreamError):
    """Something went wrong while a stream was running."""


def _suggest(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


class UnknownStreamModeError(UsageError, ValueError):
    """A stream mode that LangGraph does not know."""

    def __init__(self, mode: object, valid: Iterable[str]) -> None:
        valid = tuple(valid)
        self.mode = mode
        self.valid = valid
        hint = _suggest(mode, valid) if isinstance(mode, str) else ""
        super().__init__(f"unknown stream mode {mode!r}; valid modes are {', '.join(valid)}.{hint}")


class NotAGraphError(UsageError, TypeError):
    """The source passed to ``stream()`` / ``astream()`` cannot be streamed."""

    def __init__(self, source: object) -> None:
        self.source = source
        kind = type(source).__name__
        if hasattr(source, "compile") and not hasattr(source, "stream"):
            hint = f" It looks like an uncompiled builder: pass `{kind}.compile()` instead."
        else:
            hint = (
                " Pass a compiled LangGraph graph (`StateGraph(...).compile()`), a"
                " `RemoteGraph`, or any object with `stream()` and `astream()` methods;"
                " to normalise parts you already have, use `lgs.from_parts()`."
            )
        super().__init__(f"cannot stream a {kind}: it has no `stream`/`astream` methods.{hint}")


class BadOperatorError(UsageError, TypeError):
    """Something that is not an operator was piped into a stream."""

    def __init__(self, value: object) -> None:
        self.value = value
        super().__init__(
            f"cannot pipe a {type(value).__name__} into a stream: an operator needs"
            " `feed(item) -> Sequence` and `flush() -> Sequence` methods"
            " (see `lgs.Operator`; `lgs.ops` has the built-in ones)."
        )


class StopRun(BaseException):
    """Raised inside a graph run whose consumer has closed the stream.

    lgstream raises it from a callback at the model's next token (or the next
    model, tool or chain start), so a sync run stops promptly instead of
    generating for nobody. It derives from ``BaseException`` so that node retry
    policies and ``except Exception`` blocks in user code let it through, as they
    do ``KeyboardInterrupt``; lgstream ends the closed stream quietly on it.
    """

    def __init__(self) -> None:
        super().__init__("the event stream was closed by its consumer; the run was stopped")


class MalformedPartError(StreamError, ValueError):
    """A raw stream part of a shape lgstream does not know."""

    def __init__(self, part: object, reason: str) -> None:
        self.part = part
        text = repr(part)
        if len(text) > 200:
            text = text[:200] + "..."
        super().__init__(
            f"cannot read stream part {text}: {reason}. Expected a LangGraph part: a v2"
            ' dict {"type", "ns", "data"}, a v1 (mode, data) or (ns, mode, data) tuple,'
            " or a bare item with `mode=` given."
        )


class RemoteRunError(StreamError):
    """A run on a LangGraph Server failed: the server's ``error`` event.

    Attributes:
        error_type: the exception's class name on the server (``"ValueError"``).
        message: the exception's message, as the server sent it.
        run_id: the server's run id, where known.
    """

    def __init__(self, error_type: str, message: str, run_id: str | None = None) -> None:
        self.error_type = error_type
        self.message = message
        self.run_id = run_id
        where = f" (run {run_id})" if run_id else ""
        super().__init__(f"{error_type}: {message} [raised on the LangGraph Server{where}]")


class TaskError(StreamError):
    """A task's error as it arrived over the wire, from a LangGraph Server or
    recorded parts, which send its type name and message but not the exception
    (``TaskResult.error``). ``str(error)`` is the message.

    Attributes:
        error_type: the exception's class name where it ran (``"ValueError"``).
        message: its message, as sent.
    """

    def __init__(self, error_type: str, message: str) -> None:
        self.error_type = error_type
        self.message = message
        super().__init__(message)

    def __repr__(self) -> str:
        return f"TaskError({self.error_type!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaskError):
            return NotImplemented
        return (self.error_type, self.message) == (other.error_type, other.message)

    def __hash__(self) -> int:
        return hash((self.error_type, self.message))

    @classmethod
    def from_wire(cls, value: object) -> TaskError:
        """From what a server or a recording sent: ``{"error"|"type", "message"}``
        (LangGraph Server's and lgstream's JSON forms) or a plain string."""
        if isinstance(value, dict):
            kind = value.get("error", value.get("type"))
            message = value.get("message")
            return cls(str(kind or "Error"), "" if message is None else str(message))
        return cls("Error", str(value))
