"""assert_events / assert_aevents and the network guard (lgstream.testing._assertions)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessageChunk

import lgstream as lgs
from lgstream.demo import build_seed_graph
from lgstream.testing import (
    EventPattern,
    FakeChatModel,
    NetworkBlockedError,
    assert_aevents,
    assert_events,
    block_network,
)


def _token(text: str, node: str = "generate") -> lgs.Token:
    return lgs.Token(
        node=node, text=text, message_id="m", chunk=AIMessageChunk(content=text, id="m")
    )


EVENTS: list[lgs.Event] = [
    lgs.RunStarted(run_id="r"),
    _token("Hi"),
    _token(" there"),
    lgs.Update(node="generate", data={"answer": "Hi there"}),
    lgs.RunFinished(run_id="r"),
]


# --- passing ---------------------------------------------------------------------------


def test_classes_instances_and_dicts_match() -> None:
    got = assert_events(
        EVENTS,
        [
            lgs.RunStarted,
            _token("Hi"),
            {"kind": "token", "text": " there", "node": "generate"},
            {"data": {"answer": "Hi there"}},
            lgs.RunFinished,
        ],
    )
    assert got == EVENTS


@pytest.mark.parametrize(
    "expected",
    [
        [...],
        [lgs.RunStarted, ...],
        [..., lgs.RunFinished],
        [..., {"text": " there"}, ...],
        [lgs.RunStarted, ..., lgs.Token, ..., lgs.Update, lgs.RunFinished],
        [..., lgs.Token, lgs.Token, ...],
        [lgs.RunStarted, ..., ..., lgs.Token, lgs.Token, lgs.Update, lgs.RunFinished, ...],
    ],
)
def test_ellipsis_skips_any_number_of_events(expected: list[EventPattern]) -> None:
    assert_events(EVENTS, expected)


def test_an_empty_stream_matches_nothing_or_an_ellipsis() -> None:
    assert_events([], [])
    assert_events([], [...])


def test_a_graph_run_is_consumed_and_closed() -> None:
    graph = build_seed_graph(FakeChatModel(script=["Hello world"]))
    stream = lgs.stream(graph, {"question": "q"}, modes=["messages", "updates"])
    events = assert_events(
        stream,
        [
            lgs.RunStarted,
            {"kind": "token", "text": "Hello"},
            {"kind": "token", "text": " world"},
            ...,
            {"kind": "update", "node": "generate", "data": {"answer": "Hello world"}},
            lgs.RunFinished,
        ],
    )
    assert isinstance(events[0], lgs.RunStarted)
    assert stream._closed


@pytest.mark.asyncio
async def test_the_async_variant() -> None:
    async def source() -> AsyncIterator[lgs.Event]:
        for event in EVENTS:
            yield event

    stream: lgs.AsyncEventStream[lgs.Event] = lgs.AsyncEventStream(source())
    assert await assert_aevents(stream, [lgs.RunStarted, ..., lgs.RunFinished]) == EVENTS
    assert stream._closed
    with pytest.raises(AssertionError, match=r"event \[0\] does not match expected\[0\]"):
        await assert_aevents(source(), [lgs.Token, ...])


@given(st.lists(st.sampled_from(EVENTS), max_size=8), st.data())
def test_any_list_matches_itself_with_ellipses_anywhere(
    events: list[lgs.Event], data: st.DataObject
) -> None:
    expected: list[EventPattern] = []
    for event in events:
        if data.draw(st.booleans()):
            expected.append(...)
        expected.append(data.draw(st.sampled_from([event, type(event), {"kind": event.kind}])))
    if data.draw(st.booleans()):
        expected.append(...)
    assert_events(events, expected)


# --- failing: the messages ------------------------------------------------------------


def _failure(events: list[lgs.Event], expected: list[EventPattern]) -> str:
    with pytest.raises(AssertionError) as caught:
        assert_events(events, expected)
    return str(caught.value)


def test_a_field_mismatch_names_the_index_the_field_and_the_window() -> None:
    message = _failure(EVENTS, [lgs.RunStarted, {"kind": "token", "text": "Ho"}, ...])
    assert message.splitlines()[:3] == [
        "event [1] does not match expected[1]: field 'text' is 'Hi', expected 'Ho'",
        "  expected: an event with kind='token', text='Ho'",
        "  got:      Token(node='generate', text='Hi')",
    ]
    assert "events around [1]:" in message
    assert "  > [1] Token(node='generate', text='Hi')" in message
    assert "    [0] RunStarted()" in message
    assert "    [3] Update(node='generate', data={'answer': 'Hi there'})" in message
    assert "... 1 later event(s)" in message


def test_a_wrong_kind_is_named() -> None:
    message = _failure(EVENTS, [lgs.Token, ...])
    assert message.startswith("event [0] does not match expected[0]: it is a RunStarted, not a")
    assert "  expected: any Token" in message


def test_an_unequal_instance_names_the_first_differing_field() -> None:
    message = _failure(EVENTS, [lgs.RunStarted(run_id="other"), ...])
    assert message.startswith(
        "event [0] does not match expected[0]: field 'run_id' is 'r', expected 'other'"
    )


def test_a_missing_field_is_named() -> None:
    message = _failure(EVENTS, [{"text": "Hi"}, ...])
    assert "event [0] does not match expected[0]: it has no field 'text'" in message


def test_extra_events_are_reported() -> None:
    message = _failure(EVENTS, [lgs.RunStarted, lgs.Token])
    assert message.startswith("event [2] is unexpected: all 2 expected pattern(s) matched")
    assert "end the expected list with ..." in message
    assert "  got: Token(node='generate', text=' there')" in message


def test_a_stream_that_ends_early_is_reported() -> None:
    message = _failure(EVENTS[:2], [lgs.RunStarted, lgs.Token, lgs.Update, lgs.RunFinished])
    assert message.startswith(
        "the stream ended after 2 event(s), but expected[2] and 1 more pattern(s) still"
    )
    assert "  expected[2]: any Update" in message
    assert "  > [1] Token(node='generate', text='Hi')" in message


def test_after_an_ellipsis_the_furthest_attempt_is_reported() -> None:
    message = _failure(EVENTS, [..., {"text": " there"}, lgs.RunFinished])
    # " there" matched at [2]; the next pattern then failed on the Update at [3].
    assert message.startswith(
        "event [3] does not match expected[2]: it is a Update, not a RunFinished"
    )


def test_an_empty_stream_that_should_have_events() -> None:
    message = _failure([], [lgs.RunStarted])
    assert message.startswith("the stream ended after 0 event(s), but expected[0] still")
    assert "(no events)" in message


def test_long_values_are_shortened_in_the_message() -> None:
    update = lgs.Update(node="n", data="x" * 500)
    message = _failure([update], [{"data": "y"}])
    assert "x" * 500 not in message
    assert "..." in message


def test_a_pattern_of_no_known_kind_is_a_usage_error() -> None:
    with pytest.raises(lgs.UsageError, match=r"expected\[1\] is 'token'"):
        assert_events(EVENTS, [lgs.RunStarted, "token"])  # type: ignore[list-item]


# --- the network guard -----------------------------------------------------------------
# The blocked addresses are TEST-NET (192.0.2.0/24, 2001:db8::/32): even if the guard
# failed, nothing would answer there. Every test first checks the guard is in place.


def _guarded() -> bool:
    return socket.socket.connect is not _UNGUARDED


_UNGUARDED = socket.socket.connect


@pytest.fixture
def guard() -> Iterator[None]:
    with block_network():
        assert _guarded()
        yield


@pytest.mark.usefixtures("guard")
@pytest.mark.parametrize(
    ("family", "address"),
    [
        (socket.AF_INET, ("192.0.2.1", 80)),
        (socket.AF_INET, ("example.com", 443)),
        (socket.AF_INET6, ("2001:db8::1", 80, 0, 0)),
    ],
)
def test_connecting_off_loopback_is_refused_before_any_packet(
    family: socket.AddressFamily, address: tuple[object, ...]
) -> None:
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        with pytest.raises(NetworkBlockedError, match=r"@pytest.mark.live") as caught:
            sock.connect(address)
        assert repr(address[0]) in str(caught.value)
        with pytest.raises(NetworkBlockedError):
            sock.connect_ex(address)
    assert caught.value.address == address
    assert isinstance(caught.value, ConnectionError)
    assert isinstance(caught.value, lgs.UsageError)


@pytest.mark.usefixtures("guard")
@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "localhost"])
def test_loopback_is_allowed(host: str) -> None:
    bind = "127.0.0.1" if host == "localhost" else host
    with socket.create_server((bind, 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection((host, port), timeout=5):
            pass
        with socket.socket() as sock:
            assert sock.connect_ex((bind, port)) == 0


@pytest.mark.usefixtures("guard")
def test_ipv6_loopback_is_allowed() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback")
    with server, socket.socket(socket.AF_INET6) as sock:
        sock.connect(("::1", server.getsockname()[1]))


def test_unix_sockets_are_allowed(guard: None) -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"x")
        assert right.recv(1) == b"x"


def test_the_guard_is_undone_and_nests() -> None:
    before = socket.socket.connect
    with block_network():
        inner_before = socket.socket.connect
        with block_network():
            assert socket.socket.connect is not inner_before
        assert socket.socket.connect is inner_before
    assert socket.socket.connect is before
