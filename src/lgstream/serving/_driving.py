"""Driving one run for a response: iterating it, and turning its failures into the
error events a client may read (the whole story goes to the log)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any, Final, TypeAlias

from langchain_core.runnables import RunnableConfig

from .._errors import TaskError, UsageError, client_message, error_name
from .._events import JSONValue, RunFailed, to_jsonable
from .._pipeline import AsyncEventStream, Operator, TimedOperator

AnyOperator: TypeAlias = "Operator[Any, Any] | TimedOperator[Any, Any]"
"""An operator to pipe a run's events through before they are sent."""

_MAX_MESSAGE: Final = 200

_logger = logging.getLogger("lgstream.serve")


def _error_value(run_id: str | None, type_name: str, message: str) -> dict[str, JSONValue]:
    return {"kind": "error", "run_id": run_id, "type": type_name, "message": message}


def _failure(run_id: str | None, error: BaseException) -> dict[str, JSONValue]:
    return _error_value(run_id, error_name(error), client_message(error, _MAX_MESSAGE))


def _log_failure(run_id: str | None, error: BaseException) -> None:
    """The whole story for the server's log; the client gets only the short message."""
    _logger.error("run %s failed", run_id, exc_info=(type(error), error, error.__traceback__))


def _shown(error: BaseException) -> TaskError:
    """The stand-in a client sees: the type's name and ``client_message()``."""
    return TaskError(error_name(error), client_message(error, _MAX_MESSAGE))


async def _for_clients(events: AsyncEventStream[Any], run_id: str) -> AsyncIterator[Any]:
    """A protocol response's events, with failures logged whole and handed on as
    only what a client may read, whether the run or an operator failed (the
    protocol encoders turn them into their own error event)."""
    try:
        async for item in events:
            if isinstance(item, RunFailed):
                _log_failure(run_id, item.error)
                item = replace(item, error=_shown(item.error))
            yield item
    except Exception as error:  # an operator failed
        _log_failure(run_id, error)
        yield RunFailed(run_id=run_id, error=_shown(error))
    finally:
        await events.aclose()  # the response closes us when its client leaves: stop the run


_Emit: TypeAlias = Callable[[str, JSONValue], Awaitable[None]]


async def _drive(events: AsyncEventStream[Any], run_id: str, emit: _Emit) -> None:
    """Iterate one run and hand each item to ``emit`` as (event name, JSON value)."""
    try:
        async with events:  # leaving it, cancelled or not, closes astream: the run stops
            async for item in events:
                if isinstance(item, RunFailed):
                    error = item.error
                    _log_failure(run_id, error)
                    await emit("error", _failure(run_id, error))
                else:
                    # Operators such as text() let out plain values, not events.
                    await emit(getattr(item, "kind", "message"), to_jsonable(item))
    except Exception as error:  # an operator failed: still one clean error event
        _log_failure(run_id, error)
        await emit("error", _failure(run_id, error))


def _run_config(config: RunnableConfig | None, run_id: str | None) -> tuple[RunnableConfig, str]:
    merged: RunnableConfig = dict(config or {})  # type: ignore[assignment]
    if run_id is None:
        run_id = str(merged.get("run_id") or uuid.uuid4())
    try:
        merged["run_id"] = uuid.UUID(run_id)
    except ValueError:
        raise UsageError(f"a run_id is a UUID, got {run_id!r}") from None
    return merged, str(merged["run_id"])
