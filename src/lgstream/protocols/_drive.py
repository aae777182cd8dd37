"""One driver for every protocol encoder: an event stream in, a response's bytes out.

An encoder is a stateful core that does no I/O (``feed`` / ``close`` / ``frame``);
``encode`` and ``aencode`` run one over a sync or async event stream, the same way
for every protocol: frame what each event gives; when the events end or raise,
``close()`` ends every open start and the run; then the protocol's trailer. Closing
the returned generator (a web framework does when the client leaves) closes the
events, which stops the graph run behind them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable
from typing import Protocol, TypeVar

from .._events import Event

__all__ = ["Encoder", "aencode", "encode"]

P = TypeVar("P")


class Encoder(Protocol[P]):
    """What ``encode`` / ``aencode`` drive (``AGUIEncoder``, ``VercelEncoder``)."""

    @property
    def trailer(self) -> bytes:
        """Bytes that end the response after the last frame (``b""`` for none)."""
        ...

    @property
    def closed(self) -> bool:
        """Whether ``close()`` (or a run-ending event) has ended the run."""
        ...

    def feed(self, event: Event, /) -> list[P]: ...

    def close(self, error: BaseException | None = None, *, cancelled: bool = False) -> list[P]: ...

    def frame(self, part: P, /) -> bytes: ...


def encode(
    encoder: Encoder[P], events: Iterable[Event], *, raise_errors: bool
) -> Generator[bytes, None, None]:
    """The bytes of a sync event stream. An exception from ``events`` is framed
    (``close(error)``), then re-raised if ``raise_errors``."""
    iterator = iter(events)
    try:
        failure: Exception | None = None
        try:
            for event in iterator:
                for part in encoder.feed(event):
                    yield encoder.frame(part)
        except Exception as error:
            failure = error
        for part in encoder.close(failure):
            yield encoder.frame(part)
        if encoder.trailer:
            yield encoder.trailer
        if failure is not None and raise_errors:
            raise failure
    finally:
        if not encoder.closed:  # cut short: nothing more can be sent, but end the state
            encoder.close(cancelled=True)
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


async def aencode(
    encoder: Encoder[P], events: AsyncIterable[Event], *, raise_errors: bool
) -> AsyncGenerator[bytes, None]:
    """The async twin of ``encode``. Cancelling the task that reads it closes the
    events too, which cancels the graph run behind an ``lgs.astream()``."""
    iterator = aiter(events)
    try:
        failure: Exception | None = None
        try:
            async for event in iterator:
                for part in encoder.feed(event):
                    yield encoder.frame(part)
        except Exception as error:
            failure = error
        for part in encoder.close(failure):
            yield encoder.frame(part)
        if encoder.trailer:
            yield encoder.trailer
        if failure is not None and raise_errors:
            raise failure
    finally:
        if not encoder.closed:
            encoder.close(cancelled=True)
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
