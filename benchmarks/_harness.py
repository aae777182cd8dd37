"""Shared benchmark machinery: interleaved best-of-N timing, a text table, JSON.

The machine the benchmarks run on is small and noisy (medians of single runs
swing by 30%), so the harness follows three rules:

- **interleave**: the variants run round-robin, one run each per round, so slow
  phases of the machine hit every variant alike instead of whichever ran then;
  each round starts one variant later than the last, so no variant always runs
  right after the same other one;
- **best of N**: noise only ever adds time, so the fastest run is the best
  estimate of what the code itself costs; ratios compare best runs;
- **same process, same run**: a ratio is only taken between variants timed
  together, never against numbers from another invocation.
"""

from __future__ import annotations

import gc
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Timing",
    "Variant",
    "check_outputs",
    "environment",
    "format_table",
    "print_progress",
    "run_interleaved",
    "write_json",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Variant:
    """One way of doing the benchmarked work.

    ``run`` does the whole job once (a full graph run) and returns its result,
    which must equal every other variant's: a faster wrong answer measures nothing.
    """

    name: str
    """Row label in the table and key in the JSON."""
    run: Callable[[], object]
    """The timed function."""
    group: str
    """``"sync"`` or ``"async"``: which baseline the variant is also compared to."""


@dataclass(slots=True)
class Timing:
    """Every run of one variant, in seconds."""

    name: str
    group: str
    times: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        """The fastest run: the least noisy estimate of the variant's own cost."""
        return min(self.times)

    @property
    def median(self) -> float:
        """The median run, for a feel of the noise (not used for ratios)."""
        return statistics.median(self.times)


def check_outputs(variants: Sequence[Variant], expected: object) -> None:
    """Run each variant once and check it returns ``expected``.

    This doubles as the warm-up run (imports, caches, first-call costs).

    Raises:
        RuntimeError: a variant's result differs from ``expected``.
    """
    for variant in variants:
        got = variant.run()
        if got != expected:
            raise RuntimeError(_mismatch(variant.name, got, expected))


def _mismatch(name: str, got: object, expected: object) -> str:
    if not (isinstance(got, str) and isinstance(expected, str)):
        return f"variant {name!r} returned {got!r:.200}, expected {expected!r:.200}"
    at = next(
        (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
        min(len(got), len(expected)),
    )
    return (
        f"variant {name!r} returned {len(got)} chars, expected {len(expected)};"
        f" first difference at char {at}: {got[at : at + 40]!r} != {expected[at : at + 40]!r}"
    )


def run_interleaved(
    variants: Sequence[Variant],
    runs: int,
    *,
    expected: object = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Timing]:
    """Time ``runs`` runs of every variant, round-robin, ``gc.collect()`` before each.

    Args:
        variants: what to time, in table order.
        runs: runs per variant.
        expected: if given, every run's result is checked against it (untimed).
        progress: called as ``progress(round, runs)`` after each round.

    Returns:
        One :class:`Timing` per variant, in the order of ``variants``.
    """
    timings = [Timing(v.name, v.group) for v in variants]
    count = len(variants)
    clock = time.perf_counter
    for round_no in range(runs):
        for offset in range(count):
            index = (round_no + offset) % count
            variant = variants[index]
            gc.collect()
            start = clock()
            result = variant.run()
            elapsed = clock() - start
            timings[index].times.append(elapsed)
            if expected is not None and result != expected:
                raise RuntimeError(_mismatch(variant.name, result, expected))
        if progress is not None:
            progress(round_no + 1, runs)
    return timings


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        parts = [first.ljust(widths[0])]
        parts += [cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment(*dists: str) -> dict[str, object]:
    """Where the numbers come from: interpreter, machine, package versions."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "packages": {dist: _version(dist) for dist in dists},
    }


def write_json(path: Path, payload: dict[str, object]) -> None:
    """Write ``payload`` as indented JSON, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def print_progress(done: int, total: int) -> None:
    """``run_interleaved``'s ``progress``: a round counter on stderr."""
    print(f"\r  round {done}/{total}", end="" if done < total else "\n", file=sys.stderr)
    sys.stderr.flush()
