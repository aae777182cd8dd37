"""The serving code's layout: one module per job, the public names still importable
from ``lgstream.sinks.asgi`` (the same objects), and the page shipped as a file."""

from __future__ import annotations

from importlib.resources import files

import lgstream.serving.app
import lgstream.serving.replay
import lgstream.serving.responses
import lgstream.sinks.asgi as asgi


def test_the_old_home_re_exports_the_same_objects() -> None:
    assert asgi.create_app is lgstream.serving.app.create_app
    assert asgi.sse_response is lgstream.serving.responses.sse_response
    assert asgi.ReplayBuffer is lgstream.serving.replay.ReplayBuffer
    assert set(asgi.__all__) >= {"create_app", "sse_response", "ReplayBuffer", "Format"}


def test_the_page_is_a_package_file() -> None:
    page = files("lgstream.serving").joinpath("page.html").read_text(encoding="utf-8")
    assert "__PATH__" in page
    assert "<script" in page
