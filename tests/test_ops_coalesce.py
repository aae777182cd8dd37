"""Coalescing operators: batch, throttle, debounce, and the timed-operator drivers."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Literal, TypeAlias, assert_type

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessageChunk
from langchain_core.messages.ai import add_ai_message_chunks

import lgstream as lgs
from lgstream import TimedOperator
from lgstream.ops import Batch, Debounce, Throttle
from lgstream.testing import FakeChatModel

from .graphs import build_seed_graph

Item: TypeAlias = lgs.Event | str

# --- building items -------------------------------------------------------------------


def tok(
    text: str,
    mid: str | None = "m1",
    node: str = "a",
    ns: tuple[str, ...] = (),
    *,
    step: int = 1,
    tags: tuple[str, ...] = (),
    **chunk_fields: Any,
) -> lgs.Token:
    chunk = AIMessageChunk(content=text, id=mid, **chunk_fields)
    return lgs.Token(
        text=chunk.text, message_id=mid, chunk=chunk, node=node, ns=ns, step=step, tags=tags
    )


def not_text_tokens() -> list[lgs.Token]:
    """Tokens that carry more than text: never merged, always passed through as they are."""
    usage = {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}
    call = {"name": "add", "args": '{"a": 1', "id": "c1", "index": 0, "type": "tool_call_chunk"}
    return [
        tok("", tool_call_chunks=[call]),
        tok("end", chunk_position="last"),
        tok("think", additional_kwargs={"reasoning_content": "hmm"}),
        tok("used", usage_metadata=usage),
        lgs.Token(
            text="blocks",
            message_id="m1",
            node="a",
            chunk=AIMessageChunk(content=[{"type": "text", "text": "blocks"}], id="m1"),
        ),
    ]


KEYS = st.tuples(
    st.sampled_from(["m1", "m2", None]),
    st.sampled_from(["a", "b"]),
    st.sampled_from([(), ("s:1",)]),
)
TEXT = st.text(alphabet="ab| ", max_size=4)


@st.composite
def items(draw: st.DrawFn, *, others: bool = True) -> Item:
    """A text Token, a plain string, or (if ``others``) anything else."""
    choices = ["token", "str"] + (["custom", "not_text"] if others else [])
    kind = draw(st.sampled_from(choices))
    if kind == "token":
        mid, node, ns = draw(KEYS)
        return tok(draw(TEXT), mid, node, ns)
    if kind == "str":
        return draw(TEXT)
    if kind == "custom":
        return lgs.Custom(data=draw(st.integers(0, 3)))
    token: lgs.Token = draw(st.sampled_from(not_text_tokens()))
    return token


def key_of(item: object) -> object:
    """The merge rules, written again independently of the implementation."""
    if type(item) is str:
        return "str"
    if type(item) is lgs.Token:
        chunk = item.chunk
        pure = (
            isinstance(chunk.content, str)
            and not chunk.tool_call_chunks
            and chunk.usage_metadata is None
            and not chunk.additional_kwargs
            and chunk.chunk_position is None
        )
        if pure:
            return (item.message_id, item.node, item.ns)
    return None


def text_of(item: object) -> str:
    if isinstance(item, str):
        return item
    return item.text if isinstance(item, lgs.Token) else ""


def shape(seq: Sequence[object]) -> list[tuple[Any, ...]]:
    """``seq`` with every run of mergeable items of one key collapsed into its text and
    every other item kept as itself: equal shapes mean the same events in the same
    order, with the same text between them."""
    out: list[tuple[Any, ...]] = []
    for item in seq:
        key = key_of(item)
        if key is None:
            out.append(("item", id(item)))
        elif out and out[-1][0] == "text" and out[-1][1] == key:
            out[-1] = ("text", key, out[-1][2] + text_of(item))
        else:
            out.append(("text", key, text_of(item)))
    return out


def texts_by_message(seq: Sequence[object]) -> dict[object, str]:
    texts: dict[object, str] = {}
    for item in seq:
        if isinstance(item, str):
            key: object = "str"
        elif isinstance(item, lgs.Token):
            key = (item.message_id, item.node, item.ns)
        else:
            continue
        texts[key] = texts.get(key, "") + text_of(item)
    return texts


def check_coalesced(inputs: Sequence[object], outputs: Sequence[object]) -> None:
    """What every coalescing operator promises, whatever it holds and when."""
    assert texts_by_message(outputs) == texts_by_message(inputs)
    assert shape(outputs) == shape(inputs)
    originals = {id(item) for item in inputs}
    for out in outputs:
        if id(out) in originals:
            continue
        assert key_of(out) is not None  # only text deltas are ever made anew
        if isinstance(out, lgs.Token):
            assert out.chunk.content == out.text
            assert out.chunk.id == out.message_id


def drive(
    op: TimedOperator[Item, Item],
    steps: Sequence[tuple[str, Item | None, float]],
    start: float = 0.0,
) -> tuple[list[Item], list[tuple[float, str, Item | None, list[Item], float | None]]]:
    """Run a timed core by hand: ``("feed", item, dt)`` / ``("poll", None, dt)``, the
    time moving on by ``dt`` before each; then flush. Checks the deadline contract."""
    now = start
    outputs: list[Item] = []
    log: list[tuple[float, str, Item | None, list[Item], float | None]] = []
    for kind, item, dt in steps:
        now += dt
        before = op.deadline()
        got = list(op.feed(item, now) if item is not None else op.poll(now))
        deadline = op.deadline()
        assert deadline is None or deadline > now  # nothing left over that is due
        if kind == "poll" and before is not None and now >= before:
            assert got  # due means due
        log.append((now, kind, item, got, before))
        outputs.extend(got)
    outputs.extend(op.flush())
    assert op.deadline() is None
    return outputs, log


DT = st.sampled_from([0.0, 0.001, 0.02, 0.05, 0.1, 0.3, 2.0])


def steps_of(item_strategy: st.SearchStrategy[Item]) -> st.SearchStrategy[list[Any]]:
    feed = st.tuples(st.just("feed"), item_strategy, DT)
    poll = st.tuples(st.just("poll"), st.none(), DT)
    return st.lists(st.one_of(feed, feed, poll), max_size=30)


# --- batch ---------------------------------------------------------------------------


@given(
    seq=st.lists(items(), max_size=30),
    max_items=st.one_of(st.none(), st.integers(1, 5)),
    max_chars=st.one_of(st.none(), st.integers(1, 8)),
)
def test_batch_keeps_text_and_order(
    seq: list[Item], max_items: int | None, max_chars: int | None
) -> None:
    op = lgs.ops.batch(max_items=max_items, max_chars=max_chars)
    out: list[Item] = []
    for item in seq:
        out.extend(op.feed(item))
    out.extend(op.flush())
    check_coalesced(seq, out)


@st.composite
def marked_runs(draw: st.DrawFn) -> list[Item]:
    """Text deltas that each end with one "|", so a batch's size is its count of "|"."""
    pieces = draw(st.lists(st.text(alphabet="ab", max_size=4).map(lambda s: s + "|"), max_size=30))
    out: list[Item] = []
    for piece in pieces:
        kind = draw(st.sampled_from(["m1", "m2", "str", "custom"]))
        if kind == "str":
            out.append(piece)
        elif kind == "custom":
            out.append(lgs.Custom(data=piece))
        else:
            out.append(tok(piece, kind))
    return out


@given(
    seq=marked_runs(),
    max_items=st.one_of(st.none(), st.integers(1, 5)),
    max_chars=st.one_of(st.none(), st.integers(1, 12)),
)
def test_batch_respects_its_limits_and_fills_batches(
    seq: list[Item], max_items: int | None, max_chars: int | None
) -> None:
    op = lgs.ops.batch(max_items, max_chars)
    out = [x for item in seq for x in op.feed(item)] + list(op.flush())
    check_coalesced(seq, out)
    for item in out:
        text = text_of(item)
        size = text.count("|")
        if max_items is not None:
            assert size <= max_items
        if max_chars is not None and size > 1:
            assert len(text) <= max_chars  # only a single delta may be bigger
    # Greedy: two neighbours of one message were kept apart only because of a limit.
    for left, right in itertools.pairwise(out):
        if key_of(left) is not None and key_of(left) == key_of(right):
            a, b = text_of(left), text_of(right)
            assert (max_items is not None and a.count("|") >= max_items) or (
                max_chars is not None and len(a) + len(b) > max_chars
            )


def test_batch_merges_runs_and_stops_at_everything_else() -> None:
    t1, t2, t3 = tok("Hel"), tok("lo"), tok(" you")
    other_message = tok("x", "m2")
    custom = lgs.Custom(data=1)
    out = list(
        lgs.EventStream[Item](iter([t1, t2, custom, t3, other_message, "a", "b"])) | lgs.ops.batch()
    )
    assert [text_of(x) for x in out] == ["Hello", "", " you", "x", "ab"]
    assert out[1] is custom
    assert out[2] is t3  # a batch of one is the delta itself
    assert out[3] is other_message


def test_a_merged_token_keeps_the_first_tokens_fields() -> None:
    meta = {"langgraph_node": "a"}
    first = lgs.Token(
        text="a",
        message_id="m1",
        chunk=AIMessageChunk(content="a", id="m1", name="bot"),
        node="a",
        ns=("s:1",),
        step=3,
        tags=("t",),
        metadata=meta,
    )
    second = tok("b", "m1", "a", ("s:1",), step=4, tags=("u",))
    op = lgs.ops.batch()
    assert op.feed(first) == []
    assert op.feed(second) == []
    [merged] = op.flush()
    assert type(merged) is lgs.Token
    assert (merged.text, merged.message_id, merged.node, merged.ns) == ("ab", "m1", "a", ("s:1",))
    assert (merged.step, merged.tags) == (3, ("t",))
    assert merged.metadata is meta
    assert merged.chunk == AIMessageChunk(content="ab", id="m1", name="bot")


def test_response_metadata_is_merged_as_langchain_merges_chunks() -> None:
    chunks = [
        {"model_provider": "ollama", "logprobs": [{"token": "He", "logprob": -0.1}]},
        {},
        {"model_provider": "ollama", "logprobs": [{"token": "llo", "logprob": -0.2}]},
    ]
    tokens = [tok(t, response_metadata=m) for t, m in zip(["He", "", "llo"], chunks, strict=True)]
    op = lgs.ops.batch()
    for token in tokens:
        op.feed(token)
    [merged] = op.flush()
    assert isinstance(merged, lgs.Token)
    oracle = add_ai_message_chunks(*(t.chunk for t in tokens))
    assert merged.chunk.response_metadata == oracle.response_metadata
    assert merged.chunk.content == oracle.content
    assert merged.chunk.response_metadata["logprobs"] == [
        {"token": "He", "logprob": -0.1},
        {"token": "llo", "logprob": -0.2},
    ]


def test_metadata_that_cannot_be_merged_keeps_the_tokens_apart() -> None:
    tokens = [tok("a", response_metadata={"x": 1.5}), tok("b", response_metadata={"x": "s"})]
    op = lgs.ops.batch()
    out = [x for t in tokens for x in op.feed(t)] + list(op.flush())
    assert out == tokens  # langchain-core raises on these; batch loses nothing


def test_merging_is_linear() -> None:
    """A whole run is joined once: 200 000 one-character deltas take well under a second."""
    op = lgs.ops.batch()
    started = time.perf_counter()
    for _ in range(200_000):
        op.feed("x")
    [joined] = op.flush()
    assert joined == "x" * 200_000
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    "kwargs", [{"max_items": 0}, {"max_chars": -1}, {"max_items": True}, {"max_chars": 1.5}]
)
def test_batch_rejects_bad_limits(kwargs: dict[str, Any]) -> None:
    with pytest.raises(lgs.UsageError, match="positive int"):
        lgs.ops.batch(**kwargs)


@pytest.mark.parametrize("make", [lgs.ops.throttle, lgs.ops.debounce])
@pytest.mark.parametrize("interval", [0, -1.0, float("nan"), float("inf"), True])
def test_timed_operators_reject_bad_intervals(
    make: Callable[[float], object], interval: float
) -> None:
    with pytest.raises(lgs.UsageError, match="positive number of seconds"):
        make(interval)


def test_reprs() -> None:
    assert repr(lgs.ops.batch(max_chars=80)) == "batch(max_items=None, max_chars=80)"
    assert repr(lgs.ops.throttle(0.05)) == "throttle(0.05)"
    assert repr(lgs.ops.debounce(1)) == "debounce(1.0)"


# --- throttle and debounce: the cores, driven with explicit times ----------------------


MAKERS: dict[str, Callable[[], TimedOperator[Item, Item]]] = {
    "throttle": lambda: lgs.ops.throttle(0.1),
    "debounce": lambda: lgs.ops.debounce(0.1),
}


@given(name=st.sampled_from(sorted(MAKERS)), steps=steps_of(items()))
def test_timed_operators_keep_text_and_order(name: str, steps: list[Any]) -> None:
    out, _ = drive(MAKERS[name](), steps, start=1000.0)
    check_coalesced([item for kind, item, _ in steps if kind == "feed"], out)


@given(name=st.sampled_from(sorted(MAKERS)), steps=steps_of(items()))
def test_non_text_items_go_out_at_once(name: str, steps: list[Any]) -> None:
    _, log = drive(MAKERS[name](), steps)
    for _, kind, item, got, _ in log:
        if kind == "feed" and key_of(item) is None:
            assert got[-1] is item


ONE_MESSAGE = st.text(alphabet="ab", min_size=1, max_size=3)


@given(steps=steps_of(ONE_MESSAGE), start=st.sampled_from([0.0, 10.0, 1e6]))
def test_throttle_leads_and_then_emits_once_per_window(steps: list[Any], start: float) -> None:
    interval = 0.1
    op = lgs.ops.throttle(interval)
    _, log = drive(op, steps, start=start)
    last_emit: float | None = None
    for now, kind, item, got, held_before in log:
        in_window = last_emit is not None and now < last_emit + interval
        if in_window:
            assert got == []  # held for the window's end
        elif kind == "feed" and held_before is None:
            assert got == [item]  # the leading edge: out at once
        if got:
            last_emit = now


def test_throttle_window_starts_at_the_first_token_not_at_subscription() -> None:
    op = lgs.ops.throttle(1.0)
    first, second, third = tok("a"), tok("b"), tok("c")
    assert op.poll(0.0) == []
    assert op.deadline() is None
    # Silent for 10 s before the first token: it goes out at once all the same.
    assert op.feed(first, 10.0) == [first]
    assert op.feed(second, 10.2) == []
    assert op.feed(third, 10.5) == []
    assert op.deadline() == 11.0
    assert op.poll(10.99) == []
    [merged] = op.poll(11.0)
    assert text_of(merged) == "bc"
    assert op.deadline() is None
    # The trailing edge opened a window; it ends with nothing held, and closes.
    assert op.feed("x", 11.5) == []  # a string is a delta of another kind...
    assert op.deadline() == 12.0


def test_throttle_emits_pending_before_a_delta_of_another_message() -> None:
    op = lgs.ops.throttle(1.0)
    a1, a2, b1 = tok("a1"), tok("a2"), tok("b1", "m2")
    assert op.feed(a1, 0.0) == [a1]
    assert op.feed(a2, 0.1) == []
    assert op.feed(b1, 0.2) == [a2]  # a1's message is done with; b1 waits its turn
    assert op.poll(1.0) == [b1]


def test_an_empty_opening_delta_does_not_use_up_the_leading_edge() -> None:
    op = lgs.ops.throttle(1.0)
    opening, word = tok(""), tok("Hello")
    assert op.feed(opening, 0.0) == [opening]
    assert op.feed(word, 0.01) == [word]


@given(steps=steps_of(ONE_MESSAGE))
def test_debounce_waits_for_quiet(steps: list[Any]) -> None:
    interval = 0.1
    _, log = drive(lgs.ops.debounce(interval), steps)
    last_arrival: float | None = None
    for now, kind, _, got, _ in log:
        if got:
            assert last_arrival is not None
            assert now >= last_arrival + interval  # only after `interval` of quiet
        if kind == "feed":
            last_arrival = now


def test_debounce_emits_after_quiet_and_at_the_end() -> None:
    op = lgs.ops.debounce(0.5)
    assert op.feed("a", 0.0) == []
    assert op.feed("b", 0.4) == []
    assert op.deadline() == pytest.approx(0.9)
    assert op.poll(0.8) == []
    assert op.poll(0.9) == ["ab"]
    assert op.feed("c", 5.0) == []
    custom = lgs.Custom(data=1)
    assert op.feed(custom, 5.1) == ["c", custom]
    assert op.feed("d", 5.2) == []
    assert op.flush() == ["d"]
    assert op.deadline() is None


@pytest.mark.parametrize(("name", "held"), [("throttle", "bc"), ("debounce", "abc")])
def test_both_flush_everything_at_the_end(name: str, held: str) -> None:
    op = MAKERS[name]()
    for i, piece in enumerate(["a", "b", "c"]):
        op.feed(piece, i * 0.01)
    assert op.flush() == [held]
    assert op.flush() == []
    assert op.deadline() is None


# --- the sync driver ---------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def timed_source(clock: FakeClock, timeline: list[tuple[float, Item]]) -> Iterator[Item]:
    for at, item in timeline:
        clock.now = at
        yield item


def test_sync_streams_poll_before_each_item() -> None:
    clock = FakeClock()
    timeline: list[tuple[float, Item]] = [(10.0, "a"), (10.1, "b"), (10.2, "c"), (12.0, "d")]
    stream = lgs.EventStream[Item](timed_source(clock, timeline)) | lgs.ops.throttle(
        1.0, clock=clock
    )
    # "bc" fell due at 11.0 while the source was silent; a sync stream lets it out
    # when "d" arrives, before "d", which is the next window's leading edge... held
    # in the window the trailing edge opened.
    assert list(stream) == ["a", "bc", "d"]


@given(
    timeline=st.lists(st.tuples(DT, items()), max_size=25),
    name=st.sampled_from(sorted(MAKERS)),
)
def test_the_sync_driver_is_poll_then_feed(timeline: list[tuple[float, Item]], name: str) -> None:
    clock = FakeClock()
    times: list[tuple[float, Item]] = []
    now = 0.0
    for dt, item in timeline:
        now += dt
        times.append((now, item))
    reference = MAKERS[name]()
    expected: list[Item] = []
    for at, item in times:
        expected.extend(reference.poll(at))
        expected.extend(reference.feed(item, at))
    expected.extend(reference.flush())

    op = (
        lgs.ops.throttle(0.1, clock=clock)
        if name == "throttle"
        else lgs.ops.debounce(0.1, clock=clock)
    )
    got = list(lgs.EventStream[Item](timed_source(clock, times)).pipe(op))
    assert [text_of(x) for x in got] == [text_of(x) for x in expected]
    assert shape(got) == shape([item for _, item in times])


class Double:
    def feed(self, item: str, /) -> Sequence[str]:
        return [item, item]

    def flush(self) -> Sequence[str]:
        return ["!"]


def test_timed_and_plain_operators_mix_in_one_pipeline() -> None:
    clock = FakeClock()
    timeline: list[tuple[float, Item]] = [(0.0, "a"), (0.1, "b"), (5.0, "c")]
    stream = lgs.EventStream[str](timed_source(clock, timeline)).pipe(
        Double(), lgs.ops.debounce(1.0, clock=clock), lgs.ops.batch(max_chars=3), Double()
    )
    # "aabb" fell due at 1.1 and goes out when "c" arrives; at the end each operator
    # is flushed in order, through the ones after it: "!" joins "cc" in debounce.
    assert list(stream) == ["aabb", "aabb", "cc!", "cc!", "!"]


# --- the async driver, with real time -------------------------------------------------------


def test_async_throttle_emits_while_the_source_is_silent() -> None:
    yielded: dict[str, float] = {}

    async def source() -> AsyncIterator[Item]:
        for burst in (["a", "b", "c"], ["d", "e"], ["f"]):
            for piece in burst:
                yielded[piece] = time.monotonic()
                yield piece
            await asyncio.sleep(0.25)

    async def main() -> list[tuple[float, Item]]:
        return [
            (time.monotonic(), piece)
            async for piece in lgs.AsyncEventStream[Item](source()) | lgs.ops.throttle(0.05)
        ]

    received = asyncio.run(main())
    pieces = [text_of(piece) for _, piece in received]
    assert "".join(pieces) == "abcdef"
    assert len(pieces) < 6
    assert pieces[0] == "a"

    def emitted(char: str) -> float:
        return next(at for at, piece in received if char in text_of(piece))

    # "c" and "e" went out while the source was still asleep, before the next burst.
    assert emitted("c") < yielded["d"]
    assert emitted("e") < yielded["f"]
    assert emitted("a") - yielded["a"] < 0.05  # the leading edge, at once


def test_async_debounce_emits_after_quiet_while_the_source_is_silent() -> None:
    yielded: dict[str, float] = {}

    async def source() -> AsyncIterator[str]:
        for piece in ["a", "b", "c"]:
            yielded[piece] = time.monotonic()
            yield piece
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        yielded["d"] = time.monotonic()
        yield "d"

    async def main() -> list[tuple[float, str]]:
        stream = lgs.AsyncEventStream[str](source()) | lgs.ops.debounce(0.05)
        return [(time.monotonic(), piece) async for piece in stream]

    received = asyncio.run(main())
    assert [piece for _, piece in received] == ["abc", "d"]
    at_abc = received[0][0]
    assert at_abc - yielded["c"] >= 0.05
    assert at_abc < yielded["d"]


def test_an_error_in_the_source_flushes_then_raises() -> None:
    async def source() -> AsyncIterator[str]:
        yield "a"
        yield "b"
        raise RuntimeError("upstream broke")

    async def main() -> list[str]:
        got: list[str] = []

        async def drain() -> None:
            async for piece in lgs.AsyncEventStream[str](source()) | lgs.ops.throttle(10.0):
                got.append(piece)

        with pytest.raises(RuntimeError, match="upstream broke"):
            await drain()
        return got

    assert asyncio.run(main()) == ["a", "b"]


class Recorder:
    """What a source saw of its own end."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def source(self) -> AsyncIterator[str]:
        try:
            yield "a"
            yield "b"
            await asyncio.sleep(30)  # silent: the stream's read is pending here
            yield "never"
        except asyncio.CancelledError:
            self.events.append("cancelled")
            raise
        finally:
            self.events.append("closed")


def other_tasks() -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - {asyncio.current_task()}


def test_aclose_cancels_the_pending_read_and_closes_the_source() -> None:
    recorder = Recorder()

    async def main() -> None:
        stream = lgs.AsyncEventStream[str](recorder.source()) | lgs.ops.throttle(0.05)
        assert await anext(stream) == "a"
        assert await anext(stream) == "b"  # the trailing edge, while the source sleeps
        started = time.monotonic()
        await stream.aclose()
        assert time.monotonic() - started < 1.0
        assert not other_tasks()

    asyncio.run(main())
    assert recorder.events == ["cancelled", "closed"]


def test_cancelling_the_consumer_cancels_the_pending_read_and_closes_the_source() -> None:
    recorder = Recorder()

    async def main() -> None:
        got: list[str] = []
        second = asyncio.Event()

        async def consume() -> None:
            async for piece in lgs.AsyncEventStream[str](recorder.source()) | lgs.ops.throttle(
                0.05
            ):
                got.append(piece)
                if piece == "b":
                    second.set()

        task = asyncio.create_task(consume())
        await second.wait()
        await asyncio.sleep(0.05)  # the consumer waits inside the stream now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert got == ["a", "b"]
        assert not other_tasks()

    asyncio.run(main())
    assert recorder.events == ["cancelled", "closed"]


@pytest.mark.parametrize(
    ("stop_after", "seen"),
    [
        ("a", ["closed"]),  # the leading edge: the source waits at its `yield`
        ("b", ["cancelled", "closed"]),  # the trailing edge: a read is pending
    ],
)
def test_break_closes_the_source_once_collected(stop_after: str, seen: list[str]) -> None:
    recorder = Recorder()

    async def main() -> None:
        async for piece in lgs.AsyncEventStream[str](recorder.source()) | lgs.ops.throttle(0.05):
            if piece == stop_after:
                break
        gc.collect()
        for _ in range(100):  # the loop's async-generator finaliser runs aclose()
            if "closed" in recorder.events:
                break
            await asyncio.sleep(0.01)
        assert not other_tasks()

    started = time.monotonic()
    asyncio.run(main())
    assert recorder.events == seen
    assert time.monotonic() - started < 5.0


def test_context_variables_set_by_the_source_survive_between_items() -> None:
    var: contextvars.ContextVar[int] = contextvars.ContextVar("var", default=0)

    async def source() -> AsyncIterator[str]:
        for i in range(1, 4):
            assert var.get() == i - 1
            var.set(i)
            yield str(i)
            await asyncio.sleep(0.01)

    async def main() -> str:
        return "".join(
            [piece async for piece in lgs.AsyncEventStream[str](source()) | lgs.ops.throttle(0.5)]
        )

    assert asyncio.run(main()) == "123"


def test_two_timed_operators_in_one_async_pipeline() -> None:
    async def source() -> AsyncIterator[str]:
        for i in range(20):
            yield f"{i},"
            await asyncio.sleep(0.005)

    async def main() -> list[str]:
        stream = lgs.AsyncEventStream[str](source()).pipe(
            lgs.ops.throttle(0.02), lgs.ops.batch(max_items=2), lgs.ops.debounce(0.01)
        )
        return await stream.collect()

    pieces = asyncio.run(main())
    assert "".join(pieces) == "".join(f"{i}," for i in range(20))
    assert len(pieces) < 20


# --- end to end: a real graph run --------------------------------------------------------


def test_a_throttled_graph_stream_has_fewer_pieces_and_the_same_text() -> None:
    words = " ".join(f"w{i}" for i in range(40))
    model = FakeChatModel(script=[words], delay=0.01)

    async def main() -> list[str]:
        stream = lgs.astream(build_seed_graph(model), {"question": "q"})
        piped = stream.pipe(lgs.ops.nodes("generate"), lgs.ops.throttle(0.05), lgs.ops.text())
        return [piece async for piece in piped]

    pieces = asyncio.run(main())
    assert "".join(pieces) == words
    assert model.tokens_streamed == 40
    assert len(pieces) < 20


def test_closing_a_throttled_graph_stream_stops_the_run() -> None:
    model = FakeChatModel(script=[" ".join(f"w{i}" for i in range(200))], delay=0.02)

    async def main() -> None:
        stream = lgs.astream(build_seed_graph(model), {"question": "q"}) | lgs.ops.throttle(0.05)
        tokens = 0
        async for event in stream:
            if isinstance(event, lgs.Token):
                tokens += 1
                if tokens == 3:
                    break
        await stream.aclose()
        produced = model.tokens_streamed
        await asyncio.sleep(0.1)
        assert model.tokens_streamed <= produced + 1

    asyncio.run(main())
    assert model.tokens_streamed < 100


def test_cancelling_a_throttled_graph_stream_stops_the_run() -> None:
    model = FakeChatModel(script=[" ".join(f"w{i}" for i in range(200))], delay=0.02)

    async def main() -> None:
        first = asyncio.Event()

        async def consume() -> None:
            stream = lgs.astream(build_seed_graph(model), {"question": "q"})
            async for piece in stream | lgs.ops.throttle(0.05) | lgs.ops.text():
                assert piece
                first.set()

        task = asyncio.create_task(consume())
        await first.wait()
        await asyncio.sleep(0.03)  # a throttled read is pending now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        produced = model.tokens_streamed
        await asyncio.sleep(0.1)
        assert model.tokens_streamed <= produced + 1

    asyncio.run(main())
    assert model.tokens_streamed < 100


# --- types -----------------------------------------------------------------------------------


def test_pipeline_types() -> None:
    events = lgs.EventStream[lgs.Event](iter([]))
    assert_type(events | lgs.ops.throttle(0.05), lgs.EventStream[lgs.Event])
    texts = lgs.EventStream[lgs.Event](iter([])) | lgs.ops.text() | lgs.ops.batch(max_chars=10)
    assert_type(texts, lgs.EventStream[str])
    assert_type(lgs.EventStream[str](iter([])).pipe(lgs.ops.batch()), lgs.EventStream[str])
    aevents = lgs.AsyncEventStream[lgs.Event](aiter_of([]))
    piped = aevents.pipe(lgs.ops.nodes("a"), lgs.ops.debounce(0.1), lgs.ops.text())
    assert_type(piped, lgs.AsyncEventStream[str])
    assert isinstance(lgs.ops.throttle(1), TimedOperator)
    assert not isinstance(lgs.ops.batch(), TimedOperator)
    assert isinstance(lgs.ops.batch(), lgs.Operator)
    kinds: list[Literal["throttle", "debounce"]] = ["throttle", "debounce"]
    assert all(isinstance(MAKERS[k](), Throttle | Debounce) for k in kinds)
    assert isinstance(lgs.ops.batch(), Batch)


async def aiter_of(seq: list[lgs.Event]) -> AsyncIterator[lgs.Event]:
    for item in seq:
        yield item
