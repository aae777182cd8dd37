"""The graph ``bench_remote`` runs on a LangGraph Server (``langgraph dev``).

The server imports this file by its path (see ``GRAPHS``), so it must import
nothing from ``benchmarks``. ``long`` is a one-node chat graph whose fake model
answers every question with the same reply of ``TOKENS`` words (set by
``LGSTREAM_BENCH_REMOTE_TOKENS`` in its environment, 2,000 by default), one token
each, with no delay: the server streams tokens as fast as it can and the client
does nothing but read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from langchain_core.messages import BaseMessage

import lgstream as lgs
from lgstream.testing import FakeChatModel, Reply

__all__ = ["DEFAULT_TOKENS", "GRAPHS", "TOKENS", "TOKENS_ENV", "long", "reply_text"]

TOKENS_ENV: Final = "LGSTREAM_BENCH_REMOTE_TOKENS"
"""The environment variable that sets ``TOKENS`` (the benchmark passes ``--tokens``)."""
DEFAULT_TOKENS: Final = 2_000
TOKENS: Final = int(os.environ.get(TOKENS_ENV, DEFAULT_TOKENS))
"""Words the ``long`` graph's model streams, one token each."""

_VOCABULARY: Final = (
    "task", "decomposition", "breaks", "a", "complex", "problem", "into", "smaller",
    "simpler", "steps", "that", "an", "agent", "can", "plan", "and", "carry", "out",
)  # fmt: skip


def reply_text(words: int) -> str:
    """The reply ``long`` streams: ``words`` words joined by single spaces."""
    return " ".join(_VOCABULARY[i % len(_VOCABULARY)] for i in range(words))


_REPLY: Final = reply_text(TOKENS)


def _answer(messages: list[BaseMessage]) -> Reply:
    return Reply(text=_REPLY)


long = lgs.graphs.chat(FakeChatModel(script=_answer, split="words", delay=0.0), name="long")

GRAPHS: Final = {"long": f"{Path(__file__).resolve()}:long"}
"""Graph id to ``file:attribute``, for ``LangGraphDevServer``."""
