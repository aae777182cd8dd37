"""Benchmarks for lgstream; not part of the test suite.

Run them with ``make bench`` or ``python -m benchmarks`` (``--help`` for options).
See ``benchmarks/README.md`` for how to read the output.
"""
