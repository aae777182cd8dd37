from __future__ import annotations

import pytest

from lgstream.testing import FakeChatModel


@pytest.fixture
def model() -> FakeChatModel:
    """A fast fake model that answers 'Hello streaming world' to every call."""
    return FakeChatModel(script=["Hello streaming world"], cycle=True)
