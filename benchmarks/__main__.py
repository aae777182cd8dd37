"""``python -m benchmarks``: run the benchmarks (today: the overhead benchmark)."""

from __future__ import annotations

from .bench_overhead import main

if __name__ == "__main__":
    raise SystemExit(main())
