"""The public surface: what `import lgstream as lgs` offers, kept tidy (anyio style)."""

from __future__ import annotations

import importlib
import types
from pathlib import Path

import pytest

import lgstream as lgs

MODULES = ["lgstream", "lgstream.ops", "lgstream.testing"]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n.startswith("_"), n))
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType)
    }
    assert public - set(exported) == set(), "public names missing from __all__"
    for n in exported:
        assert hasattr(module, n), n


def test_py_typed_is_shipped() -> None:
    assert (Path(lgs.__file__).parent / "py.typed").exists()


def test_public_names_come_from_private_modules_or_subpackages() -> None:
    for n in lgs.__all__:
        obj = getattr(lgs, n)
        if not isinstance(obj, type | types.FunctionType):
            continue  # constants and type aliases
        module = obj.__module__
        assert module.startswith("lgstream"), (n, module)


def test_the_error_tree() -> None:
    assert issubclass(lgs.UsageError, lgs.LgstreamError)
    assert issubclass(lgs.StreamError, lgs.LgstreamError)
    for usage in (lgs.UnknownStreamModeError, lgs.NotAGraphError, lgs.BadOperatorError):
        assert issubclass(usage, lgs.UsageError)
    assert issubclass(lgs.MalformedPartError, lgs.StreamError)
    assert not issubclass(lgs.StopRun, Exception)
