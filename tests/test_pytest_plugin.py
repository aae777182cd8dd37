"""lgstream's pytest plugin, run on generated test files with ``pytester``.

The plugin is loaded through the ``pytest11`` entry point, as in a user's project.
No test here reaches the network: the one address refused (192.0.2.1, TEST-NET-1)
is only connected to after the generated test has checked the guard is in place,
and this suite runs with the guard on around it as well.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

GUARDED = """
import socket

import pytest

from lgstream.testing import NetworkBlockedError

# What connect() is when lgstream's guard is off for a test (at collection time).
UNGUARDED = socket.socket.connect


def guarded():
    return socket.socket.connect is not UNGUARDED


def test_off_loopback_is_refused():
    assert guarded()  # never try the connect below without the guard
    with socket.socket() as sock:
        with pytest.raises(NetworkBlockedError) as caught:
            sock.connect(("192.0.2.1", 80))
    assert "('192.0.2.1', 80)" in str(caught.value)


def test_loopback_is_allowed():
    assert guarded()
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname(), timeout=5):
            pass


@pytest.mark.live
def test_live_lifts_the_guard():
    assert not guarded()
"""

INI_ON = "[pytest]\nlgstream_block_network = true\n"


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # In-process, with only the plugins the test is about (the pytest11 ones load).
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio", *args)


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    (plugin,) = [ep for ep in entry_points(group="pytest11") if ep.name == "lgstream"]
    assert plugin.value == "lgstream.testing.pytest_plugin"


def test_the_fixtures_work(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import lgstream as lgs
        from lgstream.demo import build_seed_graph
        from lgstream.testing import FakeChatModel, assert_events


        def test_fake_model(fake_model):
            model = fake_model(script=["Hello there"], split="chars")
            assert isinstance(model, FakeChatModel)
            assert model.split == "chars"
            assert model.invoke("hi").text == "Hello there"
            assert isinstance(fake_model(), FakeChatModel)


        def test_recorder(recorder, fake_model, tmp_path):
            graph = build_seed_graph(fake_model(script=["Hi you"]))
            live = recorder(lgs.stream(graph, {"question": "q"}, modes=["messages"]), "run")
            assert live.text() == "Hi you"
            assert recorder.path("run") == tmp_path / "run.jsonl"
            assert recorder.replay("run").text() == "Hi you"
            assert_events(recorder.replay("run"), [lgs.RunStarted, ..., lgs.RunFinished])


        def test_fake_ollama(fake_ollama):
            import httpx

            server = fake_ollama(script=["Hi"])
            assert server.running
            assert httpx.get(server.url + "/api/version").status_code == 200
            test_fake_ollama.server = server


        def test_fake_ollama_was_stopped():
            assert not test_fake_ollama.server.running
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=4)


def test_the_guard_blocks_off_loopback_and_allows_loopback(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI_ON)
    pytester.makepyfile(GUARDED)
    result = _run(pytester, "--strict-markers")
    result.assert_outcomes(passed=3)


def test_an_unhandled_block_fails_the_test_with_a_clear_message(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INI_ON)
    pytester.makepyfile(
        """
        import socket


        def test_calls_a_remote_model():
            assert socket.socket.connect.__name__ == "guarded_connect"  # the guard is on
            socket.create_connection(("192.0.2.1", 11434), timeout=1)
        """
    )
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*NetworkBlockedError: lgstream blocked a network connection to"
            " ('192.0.2.1', 11434): tests may only connect to loopback*"
            "Mark a test that needs the network with @pytest.mark.live*"
            "--lgstream-allow-network*"
        ]
    )


def test_the_command_line_flag_lifts_the_guard(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI_ON)
    pytester.makepyfile(
        """
        import socket

        UNGUARDED = socket.socket.connect


        def test_unguarded():
            assert socket.socket.connect is UNGUARDED
        """
    )
    result = _run(pytester, "--lgstream-allow-network")
    result.assert_outcomes(passed=1)


def test_the_guard_is_off_by_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import socket

        UNGUARDED = socket.socket.connect


        def test_unguarded():
            assert socket.socket.connect is UNGUARDED
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1)


def test_the_live_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.live: the test may use the network*"])
    result = _run(pytester, "--help")
    result.stdout.fnmatch_lines(["*--lgstream-allow-network*", "*lgstream_block_network*"])
