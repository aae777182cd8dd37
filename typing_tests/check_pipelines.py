"""Static checks of the public types: mypy --strict checks this file, nothing runs it.

Each ``assert_type`` pins what a user's editor shows for a pipeline.
"""

from __future__ import annotations

from typing import Any, assert_type

import lgstream as lgs


def sync_pipelines(graph: Any) -> None:
    events = lgs.stream(graph, {"question": "q"}, modes=["messages", "updates"])
    assert_type(events, lgs.EventStream[lgs.Event])
    assert_type(events | lgs.ops.nodes("generate"), lgs.EventStream[lgs.Event])
    assert_type(events | lgs.ops.text(), lgs.EventStream[str])
    assert_type(events.pipe(lgs.ops.nodes("a"), lgs.ops.text()), lgs.EventStream[str])
    assert_type(events.collect(), list[lgs.Event])
    assert_type(events.text(), str)
    for event in events:
        assert_type(event, lgs.Event)
        if event.kind == "token":
            assert_type(event, lgs.Token)
            assert_type(event.text, str)
        match event:
            case lgs.Interrupt(value=value):
                assert_type(value, Any)
            case lgs.RunFinished(output=output):
                assert_type(output, Any)
            case _:
                pass


async def async_pipelines(graph: Any) -> None:
    events = lgs.astream(graph, {"question": "q"})
    assert_type(events, lgs.AsyncEventStream[lgs.Event])
    assert_type(events | lgs.ops.text(), lgs.AsyncEventStream[str])
    assert_type(await events.collect(), list[lgs.Event])
    async for event in events:
        assert_type(event, lgs.Event)


class Lengths:
    """A user-written operator: str in, int out."""

    def feed(self, item: str, /) -> list[int]:
        return [len(item)]

    def flush(self) -> list[int]:
        return []


def user_operators(graph: Any) -> None:
    events = lgs.stream(graph, {})
    lengths = events | lgs.ops.text() | Lengths()
    assert_type(lengths, lgs.EventStream[int])
    assert_type(events.pipe(lgs.ops.text(), Lengths()), lgs.EventStream[int])
    # an operator that takes str cannot be fed events:
    events | Lengths()  # type: ignore[operator]
