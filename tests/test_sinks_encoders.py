"""The wire encoders, checked against an independent SSE parser (httpx-sse)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from httpx_sse import ServerSentEvent
from httpx_sse._decoders import SSEDecoder, SSELineDecoder
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, AIMessageChunk

import lgstream as lgs
from lgstream.sinks import NDJSONEncoder, SSEEncoder, aencode_all, dumps, encode_all
from lgstream.testing import FakeChatModel

from .test_docs_examples import python_blocks

DOCS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "sinks" / "encoders.md"


# --- an independent parser ---------------------------------------------------------------


def parse_sse(wire: bytes, chunk_size: int | None = None) -> list[ServerSentEvent]:
    """Decode an event stream the way a browser does: UTF-8, lines split on
    ``\\r\\n``, ``\\n`` or ``\\r`` (httpx-sse's line decoder, fed in chunks), fields
    interpreted by httpx-sse's ``SSEDecoder``."""
    text = wire.decode("utf-8")
    size = chunk_size or max(len(text), 1)
    lines = SSELineDecoder()
    decoder = SSEDecoder()
    found: list[ServerSentEvent] = []
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    for piece in pieces:
        for line in lines.decode(piece):
            sse = decoder.decode(line)
            if sse is not None:
                found.append(sse)
    for line in lines.flush():
        sse = decoder.decode(line)
        if sse is not None:  # pragma: no cover - every message ends with a blank line
            found.append(sse)
    return found


def normalise_breaks(text: str) -> str:
    """What any SSE client receives for ``text``: every line break as ``\\n``."""
    return re.sub(r"\r\n|\r", "\n", text)


# Text with all three line breaks, the characters other splitters break on, and
# unicode beyond the BMP.
tricky = st.lists(
    st.one_of(
        st.sampled_from(["\n", "\r", "\r\n", " ", ":", "\x85", "\u2028", "\x0b", "é", "🦜"]),
        st.characters(codec="utf-8"),
    ),
).map("".join)
field_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\0"))


# --- encode_message ------------------------------------------------------------------------


@given(
    data=tricky, event=st.none() | field_text, id=st.none() | field_text, chunk=st.integers(1, 7)
)
def test_encode_message_round_trips_through_httpx_sse(
    data: str, event: str | None, id: str | None, chunk: int
) -> None:
    wire = SSEEncoder().encode_message(data, event=event, id=id)
    for chunk_size in (None, chunk):
        [sse] = parse_sse(wire, chunk_size)
        assert sse.data == normalise_breaks(data)
        assert sse.event == (event or "message")
        assert sse.id == (id or "")


@given(messages=st.lists(st.tuples(tricky, field_text), min_size=1, max_size=5))
def test_consecutive_messages_stay_apart(messages: list[tuple[str, str]]) -> None:
    sse = SSEEncoder()
    wire = b"".join(sse.encode_message(data, event=event) for data, event in messages)
    decoded = parse_sse(wire)
    assert [(m.data, m.event) for m in decoded] == [
        (normalise_breaks(data), event or "message") for data, event in messages
    ]


def test_data_is_split_on_every_line_break() -> None:
    wire = SSEEncoder().encode_message("a\r\nb\nc\rd\n", event="e", id="7")
    assert wire == b"id: 7\nevent: e\ndata: a\ndata: b\ndata: c\ndata: d\ndata: \n\n"


def test_empty_data_is_still_a_message() -> None:
    assert SSEEncoder().encode_message("") == b"data: \n\n"
    [sse] = parse_sse(SSEEncoder().encode_message(""))
    assert sse.data == ""


def test_leading_spaces_survive() -> None:
    [sse] = parse_sse(SSEEncoder().encode_message("  two spaces", event=" x"))
    assert sse.data == "  two spaces"
    assert sse.event == " x"


@pytest.mark.parametrize("field", ["event", "id"])
@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\r\nb", "\n"])
def test_line_breaks_in_event_or_id_are_rejected(field: str, bad: str) -> None:
    with pytest.raises(ValueError, match=f"SSE {field} field"):
        SSEEncoder().encode_message("data", **{field: bad})


def test_nul_in_id_is_rejected() -> None:
    with pytest.raises(ValueError, match="NUL"):
        SSEEncoder().encode_message("data", id="a\0b")


def test_retry_goes_with_the_first_message_only() -> None:
    sse = SSEEncoder(retry=2500)
    first, second = sse.encode(lgs.Custom(data=1)), sse.encode(lgs.Custom(data=2))
    assert first.startswith(b"retry: 2500\nid: 1\n")
    assert b"retry" not in second
    assert [m.retry for m in parse_sse(first + second)] == [2500, None]


@pytest.mark.parametrize("retry", [-1, True])
def test_bad_retry_is_rejected(retry: int) -> None:
    with pytest.raises(ValueError, match="milliseconds"):
        SSEEncoder(retry=retry)


# --- comments ------------------------------------------------------------------------------


@given(comment=tricky, data=tricky)
def test_comments_are_ignored_by_the_parser(comment: str, data: str) -> None:
    sse = SSEEncoder()
    wire = sse.comment(comment) + sse.encode_message(data, id="1") + sse.comment(comment)
    [message] = parse_sse(wire)
    assert message.data == normalise_breaks(data)
    assert message.id == "1"


def test_comment_forms() -> None:
    sse = SSEEncoder()
    assert sse.comment() == b": \n"
    assert sse.comment("keep\nalive") == b": keep\n: alive\n"
    assert parse_sse(sse.comment("ping") * 3) == []


def test_keepalives_after_a_message_dispatch_nothing() -> None:
    """httpx-sse dispatches an empty event at any blank line once it has seen an id
    (browsers do not): a keepalive must not end in one."""
    sse = SSEEncoder()
    wire = sse.encode(lgs.Custom(data=1)) + sse.comment("ping") + sse.comment()
    assert [m.id for m in parse_sse(wire)] == ["1"]


# --- events --------------------------------------------------------------------------------

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | tricky,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky, inner, max_size=4),
    max_leaves=12,
)


def _token(text: str) -> lgs.Token:
    return lgs.Token(
        node="generate",
        text=text,
        message_id="m1",
        chunk=AIMessageChunk(content=text, id="m1"),
        step=1,
    )


events_strategy: st.SearchStrategy[lgs.Event] = st.one_of(
    tricky.map(_token),
    st.builds(
        lgs.Update,
        node=field_text,
        data=st.dictionaries(tricky, json_values, max_size=4),
        ns=st.lists(field_text, max_size=3).map(tuple),
    ),
    st.builds(lgs.Values, data=json_values),
    st.builds(lgs.Custom, data=json_values),
    tricky.map(lambda text: lgs.RunFailed(run_id="r1", error=ValueError(text))),
    st.builds(lgs.Interrupt, value=json_values, interrupt_id=st.none() | field_text),
    tricky.map(lambda text: lgs.Message(message=AIMessage(text, id="m2"), message_id="m2")),
)


@given(events=st.lists(events_strategy, max_size=8), chunk=st.integers(1, 50))
def test_sse_events_decode_to_their_json_form(events: list[lgs.Event], chunk: int) -> None:
    sse = SSEEncoder()
    wire = b"".join(sse.encode(event) for event in events)
    decoded = parse_sse(wire, chunk)
    assert [json.loads(m.data) for m in decoded] == [lgs.to_jsonable(e) for e in events]
    assert [m.event for m in decoded] == [e.kind for e in events]
    assert [m.id for m in decoded] == [str(i) for i in range(1, len(events) + 1)]
    assert sse.last_id == len(events)


@given(events=st.lists(events_strategy, max_size=8))
def test_ndjson_lines_round_trip(events: list[lgs.Event]) -> None:
    ndjson = NDJSONEncoder()
    wire = b"".join(ndjson.encode(event) for event in events)
    lines = wire.decode("utf-8").split("\n")
    assert lines.pop() == ""  # every line ends in "\n", and none has another
    assert [json.loads(line) for line in lines] == [
        {"id": i, **lgs.to_jsonable(e)} for i, e in enumerate(events, 1)
    ]
    # No line breaks that str.splitlines() or a JS line reader would see either.
    assert wire.decode("utf-8").splitlines() == lines


@given(value=json_values)
def test_dumps_is_one_line_of_json(value: Any) -> None:
    data = lgs.to_jsonable(value)  # NaN and infinities become strings
    text = dumps(data)
    assert len(text.splitlines()) == 1
    assert json.loads(text) == data


def test_ndjson_without_ids_is_the_plain_json_form() -> None:
    event = lgs.RunFailed(run_id="r1", error=RuntimeError("boom"))
    line = NDJSONEncoder(ids=False).encode(event)
    assert json.loads(line) == lgs.to_jsonable(event)
    assert json.loads(line)["error"] == {"type": "RuntimeError", "message": "boom"}


# --- encode_all / aencode_all ------------------------------------------------------------


def test_encode_all_streams_a_graph_run(model: FakeChatModel) -> None:
    graph = lgs.graphs.qa(model)
    wire = b"".join(encode_all(lgs.stream(graph, {"question": "Hi?"}), SSEEncoder()))
    decoded = parse_sse(wire)
    assert decoded[0].event == "run_started"
    assert decoded[-1].event == "run_finished"
    text = "".join(json.loads(m.data)["text"] for m in decoded if m.event == "token")
    assert text == "Hello streaming world"


def test_closing_encode_all_closes_the_events() -> None:
    closed: list[bool] = []

    def events() -> Iterator[lgs.Event]:
        try:
            while True:
                yield lgs.Custom(data=1)
        finally:
            closed.append(True)

    encoded = encode_all(events(), NDJSONEncoder())
    assert next(encoded) == b'{"id":1,"kind":"custom","ns":[],"node":null,"data":1}\n'
    encoded.close()
    assert closed == [True]


def test_aencode_all_closes_the_events_too() -> None:
    closed: list[bool] = []

    async def events() -> AsyncIterator[lgs.Event]:
        try:
            for i in range(100):
                yield lgs.Custom(data=i)
        finally:
            closed.append(True)

    async def main() -> list[bytes]:
        encoded = aencode_all(events(), NDJSONEncoder(ids=False))
        got = [await anext(encoded), await anext(encoded)]
        await encoded.aclose()
        return got

    got = asyncio.run(main())
    assert [json.loads(line)["data"] for line in got] == [0, 1]
    assert closed == [True]


def test_aencode_all_streams_an_async_graph_run(model: FakeChatModel) -> None:
    graph = lgs.graphs.qa(model)

    async def main() -> list[bytes]:
        events = lgs.astream(graph, {"question": "Hi?"}, modes=["updates"])
        return [data async for data in aencode_all(events, NDJSONEncoder())]

    lines = [json.loads(line) for line in asyncio.run(main())]
    assert [line["kind"] for line in lines] == ["run_started", "update", "run_finished"]
    assert [line["id"] for line in lines] == [1, 2, 3]


# --- the docs page -------------------------------------------------------------------------


def test_the_docs_table_shows_every_kind_as_encoded() -> None:
    """The table in docs/sinks/encoders.md is what the encoder really writes for the
    events that the page's own example builds."""
    [example] = [b for b in python_blocks(DOCS_PAGE) if "examples: list[lgs.Event] =" in b.code]
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    exec(compile(example.code, str(DOCS_PAGE), "exec"), namespace)
    examples: list[lgs.Event] = namespace["examples"]
    assert sorted(e.kind for e in examples) == sorted(get_args(lgs.EventKind))

    rows = {}
    for line in DOCS_PAGE.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"\| `(\w+)` \| `(\w+)` \| `(.*)` \|", line)
        if match:
            rows[match[1]] = (match[2], match[3])
    assert set(rows) == {e.kind for e in examples}
    for event in examples:
        cls, shown = rows[event.kind]
        assert cls == type(event).__name__
        assert shown == dumps(lgs.to_jsonable(event)), event.kind
