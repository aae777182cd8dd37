"""``python -m benchmarks [NAME ...] [options]``: run the named benchmarks (all by default).

Each benchmark module has a ``main(argv) -> int``; options after the names go to
every benchmark that runs (``--runs``, ``--json``, ...; see each one's ``--help``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from . import (
    bench_diff,
    bench_encoders,
    bench_fake_model,
    bench_join,
    bench_overhead,
    bench_protocols,
    bench_remote,
    bench_served,
    bench_serving,
)

BENCHMARKS: dict[str, Callable[[Sequence[str] | None], int]] = {
    "overhead": bench_overhead.main,
    "join": bench_join.main,
    "diff": bench_diff.main,
    "fake_model": bench_fake_model.main,
    "encoders": bench_encoders.main,
    "protocols": bench_protocols.main,  # ~45 s
    "remote": bench_remote.main,  # starts a local `langgraph dev` (~3 s)
    "serving": bench_serving.main,  # uvicorn + redis-server subprocesses, ~4 min
    "served": bench_served.main,  # lgstream vs langgraph dev vs ag-ui-langgraph, ~4 min
}


def main(argv: Sequence[str]) -> int:
    names = [arg for arg in argv if arg in BENCHMARKS]
    options = [arg for arg in argv if arg not in BENCHMARKS]
    status = 0
    for name in names or list(BENCHMARKS):
        print(f"== {name} ==", flush=True)
        status |= BENCHMARKS[name](options)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
