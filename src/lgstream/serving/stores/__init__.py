"""Run stores: where served runs and their events live (see ``RunStore``)."""

from ._base import (
    LIVE_STATUSES,
    NewRun,
    Read,
    RunExistsError,
    RunGapError,
    RunInfo,
    RunNotFoundError,
    RunStatus,
    RunStore,
    StoredEvent,
    StoreError,
    ThreadBusyError,
)

__all__ = [
    "LIVE_STATUSES",
    "NewRun",
    "Read",
    "RunExistsError",
    "RunGapError",
    "RunInfo",
    "RunNotFoundError",
    "RunStatus",
    "RunStore",
    "StoreError",
    "StoredEvent",
    "ThreadBusyError",
]
