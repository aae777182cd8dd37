"""Testing kit: fake models that really stream, and helpers for asserting on streams."""

from ._fake_model import FakeChatModel as FakeChatModel
from ._fake_model import ScriptExhaustedError as ScriptExhaustedError
from ._fake_model import split_tokens as split_tokens

__all__ = ["FakeChatModel", "ScriptExhaustedError", "split_tokens"]
