"""The ``js_harness`` fixture for every protocol test module."""

from ._js import js_harness_fixture as js_harness_fixture

__all__ = ["js_harness_fixture"]
