"""LangGraphDevServer: its mistakes and failures say what went wrong (the happy path
runs in tests/test_remote.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import lgstream as lgs
from lgstream.testing import DevServerError, LangGraphDevServer


def test_a_graph_spec_needs_a_file_and_an_attribute() -> None:
    with pytest.raises(lgs.UsageError, match=r"file\.py:attribute"):
        LangGraphDevServer({"chat": "graphs.py"})


def test_a_server_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('this graph module cannot be imported')\n")
    server = LangGraphDevServer({"broken": f"{broken}:graph"}, startup_timeout=60)
    with pytest.raises(DevServerError, match="cannot be imported"):
        server.start()
    assert server.url.startswith("http://127.0.0.1:")
    server.stop()  # stopping twice is harmless
