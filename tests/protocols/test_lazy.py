"""``lgs.protocols.agui`` / ``lgs.protocols.vercel`` load on first use and expose
their ``__all__``."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

import lgstream as lgs


def test_the_submodules_load_only_when_used() -> None:
    code = (
        "import sys\n"
        "import lgstream as lgs\n"
        "assert 'lgstream.protocols.agui' not in sys.modules\n"
        "assert 'lgstream.protocols.vercel' not in sys.modules\n"
        "assert 'ag_ui' not in sys.modules\n"
        "lgs.protocols.vercel.VercelEncoder\n"
        "assert 'lgstream.protocols.vercel' in sys.modules\n"
        "assert 'ag_ui' not in sys.modules\n"
        "lgs.protocols.agui.AGUIEncoder\n"
        "assert 'ag_ui' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", ["agui", "vercel"])
def test_each_protocol_exposes_its_all(name: str) -> None:
    module = getattr(lgs.protocols, name)
    assert isinstance(module, types.ModuleType)
    assert module.__name__ == f"lgstream.protocols.{name}"
    exported = module.__all__
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))
    for attribute in exported:
        assert getattr(module, attribute) is not None, attribute
    assert module.ProtocolInputError is lgs.protocols.agui.ProtocolInputError
    assert issubclass(module.ProtocolInputError, lgs.UsageError)


def test_an_unknown_protocol_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="nope"):
        lgs.protocols.nope  # noqa: B018
