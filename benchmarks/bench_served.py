"""Server CPU per delivered token: one graph served three ways, over real HTTP.

The graph is ``long`` from ``benchmarks/remote_graphs.py`` (one chat node whose
``FakeChatModel`` streams ``--tokens`` words, one token each, with no delay). It
lives in a file of its own because ``langgraph dev`` imports its graphs by path;
the two uvicorn servers import the same module (``LGSTREAM_BENCH_REMOTE_TOKENS``
in their environment sets the reply's length), so all three serve the same graph
definition. Every server runs in its own process on a free port of 127.0.0.1 and
is stopped at the end:

- ``lgstream POST /stream``: ``lgstream.sinks.asgi.create_app(long)`` under uvicorn
  (uvloop, httptools), the plain SSE route; the baseline. Its ``ReplayBuffer``
  keeps 10,000 events a run (the default 1,000 is outrun by a run with no model
  delay, and its reader gets an ``error`` event);
- ``lgstream POST /runs/stream``: the same app's durable-run route (its default
  ``RunManager`` over a ``MemoryStore``);
- ``langgraph dev``: the in-memory LangGraph Server (``LangGraphDevServer``)
  serving ``long``; the client POSTs ``/runs/stream`` (a stateless run,
  ``stream_mode="messages-tuple"``), what ``client.runs.stream(None, "long", ...)``
  of langgraph-sdk sends;
- ``ag-ui-langgraph``: a FastAPI app with ``add_langgraph_fastapi_endpoint`` over
  ``LangGraphAgent(name="long", graph=long + InMemorySaver())`` (defaults, so
  ``emit_raw_events=True``; the agent reads the thread's state, so it needs a
  checkpointer), under uvicorn like lgstream's; the client POSTs a
  ``RunAgentInput`` with a fresh ``threadId``.

The client is this process (``httpx``, no proxies), reading each SSE response
to its end. Server CPU is the server process's CPU clock (``clock_gettime`` on
its process CPU-time clock: user + system of all its threads, including ones
that have ended, nanosecond resolution; ``/proc/<pid>/stat`` ticks are 10 ms),
read before the request and again once the server has gone quiet after the
last byte (under 0.2 ms of CPU in 10 ms, at most 1 s), so work the server does
after the response, such as finishing the run, counts too. The descendants of
each server process are counted too; ``langgraph dev --no-reload`` has none
(its queue worker runs in the server process), and neither do the uvicorn
servers; the output says how many processes each server had.

Part 1: one client at a time, one run per request, ``--runs`` runs of each
variant, interleaved (round-robin, each round starting one variant later).
Part 2: ``--clients`` (20) concurrent clients, each streaming a run of its own;
the server CPU over the whole exchange, divided by the tokens all clients got.
Every response's token text must be the model's reply: checked on the untimed
warm-up run of each variant and after every timed run (parsing is not timed).
Ratios are best against best, against ``lgstream POST /stream`` of the same part.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from lgstream.testing import LangGraphDevServer

from ._harness import environment, format_table, write_json
from .remote_graphs import GRAPHS, TOKENS_ENV, reply_text

__all__ = ["main", "serve"]

ROOT: Final = Path(__file__).resolve().parent.parent
GRAPH_ID: Final = "long"
QUESTION: Final = "Stream it all."
INPUT: Final[dict[str, Any]] = {"messages": [{"role": "user", "content": QUESTION}]}
REPLAY_EVENTS: Final = 10_000
MAX_TOKENS: Final = 9_000  # a run's events must fit the replay buffer and the store
AGUI_PATH: Final = "/agui"

LGS_STREAM: Final = "lgstream POST /stream"
LGS_RUNS: Final = "lgstream POST /runs/stream"
LG_DEV: Final = "langgraph dev /runs/stream"
AGUI: Final = "ag-ui-langgraph"

_TICK: Final = os.sysconf("SC_CLK_TCK")
_QUIET_CPU: Final = 0.0002  # seconds of server CPU in a 10 ms window that count as idle
_TIMEOUT: Final = httpx.Timeout(600.0, connect=10.0)


# --- the uvicorn server processes -----------------------------------------------------


def serve(argv: Sequence[str]) -> None:
    """A server process: ``lgstream`` or ``agui`` over ``long``, on a free port.

    Prints ``PORT <n>`` once its socket is bound. ``long``'s reply length comes
    from ``LGSTREAM_BENCH_REMOTE_TOKENS``, which must be set before this module
    (and so ``remote_graphs``) is imported.
    """
    import uvicorn

    from .remote_graphs import TOKENS, long

    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["lgstream", "agui"])
    parser.add_argument("--tokens", type=int, required=True)
    args = parser.parse_args(argv)
    if args.tokens != TOKENS:
        raise SystemExit(f"{TOKENS_ENV}={TOKENS}, but --tokens {args.tokens}")

    app: Any
    if args.kind == "lgstream":
        from lgstream.sinks.asgi import ReplayBuffer, create_app

        app = create_app(long, replay=ReplayBuffer(max_events=REPLAY_EVENTS), page=False)
    else:
        from fastapi import FastAPI
        from langgraph.checkpoint.memory import InMemorySaver

        # ag_ui_langgraph has no type information (no py.typed): loaded untyped.
        agui = importlib.import_module("ag_ui_langgraph")
        graph = long.copy(update={"checkpointer": InMemorySaver()})
        app = FastAPI()
        agui.add_langgraph_fastapi_endpoint(
            app, agui.LangGraphAgent(name=GRAPH_ID, graph=graph), AGUI_PATH
        )

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, backlog=1024, timeout_graceful_shutdown=2
    )
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])


@contextlib.contextmanager
def uvicorn_server(kind: str, tokens: int) -> Iterator[tuple[int, str]]:
    """Start ``serve(kind)`` in a subprocess; yields its pid and base URL; stops it."""
    code = "import sys; from benchmarks.bench_served import serve; serve(sys.argv[1:])"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-c", code, kind, "--tokens", str(tokens)],
            cwd=ROOT,
            env={**os.environ, TOKENS_ENV: str(tokens), "LANGSMITH_TRACING": "false"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line.startswith("PORT "):
                process.wait(10)
                log.seek(0)
                said = log.read().decode(errors="replace")[-3000:]
                raise RuntimeError(f"the {kind} server did not start:\n{said}")
            url = f"http://127.0.0.1:{int(line.split()[1])}"
            _wait_until_up(url, process)
            yield process.pid, url
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/", timeout=5, trust_env=False)  # any answer will do
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# --- server CPU -----------------------------------------------------------------------


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads, ended ones too)."""
    try:
        # Linux: the process CPU-time clock of another process, MAKE_PROCESS_CPUCLOCK
        # (pid, CPUCLOCK_SCHED), as clock_getcpuclockid(3) returns it; nanoseconds.
        return time.clock_gettime(((~pid) << 3) | 2)
    except OSError:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / _TICK


def _descendants(pid: int) -> list[int]:
    """``pid``'s children, their children, and so on (from ``/proc/*/stat``)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


@dataclass(slots=True)
class ServerCPU:
    """The CPU of one server: its process and every descendant of it."""

    pid: int
    pids: list[int] = field(default_factory=list)

    def refresh(self) -> int:
        """Look the descendants up again; returns how many processes are counted."""
        self.pids = [self.pid, *_descendants(self.pid)]
        return len(self.pids)

    def read(self) -> float:
        total = 0.0
        for pid in self.pids or [self.pid]:
            with contextlib.suppress(OSError):
                total += _process_cpu(pid)
        return total

    def settled(self) -> float:
        """``read()`` once the server has gone quiet (at most 1 s from now)."""
        last = self.read()
        deadline = time.monotonic() + 1.0
        while True:
            time.sleep(0.01)
            now = self.read()
            if now - last < _QUIET_CPU or time.monotonic() > deadline:
                return now
            last = now


# --- the variants ---------------------------------------------------------------------


def _sse(body: bytes) -> Iterator[tuple[str, str]]:
    """``(event, data)`` of each SSE message in ``body`` (comments skipped)."""
    for block in body.decode().replace("\r\n", "\n").split("\n\n"):
        name = "message"
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            yield name, "\n".join(data)


def lgstream_text(body: bytes) -> str:
    """The token text of an lgstream SSE response (``token`` events)."""
    return "".join(json.loads(data)["text"] for name, data in _sse(body) if name == "token")


def langgraph_text(body: bytes) -> str:
    """The token text of a LangGraph Server ``messages-tuple`` stream."""
    pieces: list[str] = []
    for name, data in _sse(body):
        if name == "messages":
            content = json.loads(data)[0]["content"]
            pieces.append(content if isinstance(content, str) else "")
    return "".join(pieces)


def agui_text(body: bytes) -> str:
    """The token text of an AG-UI stream (``TEXT_MESSAGE_CONTENT`` deltas)."""
    pieces: list[str] = []
    for _, data in _sse(body):
        event = json.loads(data)
        if event.get("type") == "TEXT_MESSAGE_CONTENT":
            pieces.append(event["delta"])
    return "".join(pieces)


def _lgstream_body() -> dict[str, Any]:
    return {"input": INPUT}


def _langgraph_body() -> dict[str, Any]:
    return {"assistant_id": GRAPH_ID, "input": INPUT, "stream_mode": "messages-tuple"}


def _agui_body() -> dict[str, Any]:
    return {
        "threadId": str(uuid.uuid4()),
        "runId": str(uuid.uuid4()),
        "state": {},
        "messages": [{"id": "question", "role": "user", "content": QUESTION}],
        "tools": [],
        "context": [],
        "forwardedProps": {},
    }


@dataclass(frozen=True, slots=True)
class Target:
    """One variant: where to POST, what, how to read the answer, whose CPU to count."""

    name: str
    url: str
    body: Callable[[], dict[str, Any]]
    """A fresh request body (AG-UI gets a new thread every time)."""
    text: Callable[[bytes], str]
    cpu: ServerCPU


@dataclass(slots=True)
class Measured:
    """Every run (or exchange) of one variant."""

    name: str
    clients: int
    tokens: int
    """Tokens delivered per run or exchange: the reply's tokens x clients."""
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)
    bytes_per_run: int = 0

    def us_per_token(self, seconds: float) -> float:
        return seconds * 1e6 / self.tokens


def _post(client: httpx.Client, target: Target) -> bytes:
    headers = {"accept": "text/event-stream"}
    with client.stream("POST", target.url, json=target.body(), headers=headers) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{target.name}: HTTP {response.status_code}")
        return b"".join(response.iter_bytes())


async def _apost(client: httpx.AsyncClient, target: Target) -> bytes:
    headers = {"accept": "text/event-stream"}
    async with client.stream("POST", target.url, json=target.body(), headers=headers) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{target.name}: HTTP {response.status_code}")
        return b"".join([chunk async for chunk in response.aiter_bytes()])


async def _crowd(target: Target, clients: int) -> list[bytes]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=_TIMEOUT, limits=limits, trust_env=False) as client:
        return list(await asyncio.gather(*(_apost(client, target) for _ in range(clients))))


def _check(target: Target, bodies: Sequence[bytes], expected: str) -> None:
    for body in bodies:
        got = target.text(body)
        if got != expected:
            raise RuntimeError(
                f"{target.name}: {len(got)} chars of token text, expected {len(expected)}"
                f" (the first 300 bytes of the response: {body[:300]!r})"
            )


def measure(
    targets: Sequence[Target],
    runs: int,
    expected: str,
    tokens: int,
    clients: int,
    runner: asyncio.Runner,
    *,
    warm_up: bool,
    label: str,
) -> list[Measured]:
    """Interleaved runs (``clients == 1``) or exchanges of every target, checked."""
    results = [Measured(t.name, clients, tokens * clients) for t in targets]

    def once(target: Target, client: httpx.Client) -> tuple[list[bytes], float, float, float]:
        gc.collect()
        before = target.cpu.read()
        client_before = time.process_time()
        start = time.perf_counter()
        one = clients == 1
        bodies = [_post(client, target)] if one else runner.run(_crowd(target, clients))
        wall = time.perf_counter() - start
        client_cpu = time.process_time() - client_before
        cpu = target.cpu.settled() - before
        return bodies, wall, cpu, client_cpu

    with httpx.Client(timeout=_TIMEOUT, trust_env=False) as client:
        if warm_up:
            for target in targets:
                bodies, *_ = once(target, client)
                _check(target, bodies, expected)
        for round_no in range(runs):
            for offset in range(len(targets)):
                index = (round_no + offset) % len(targets)
                target, result = targets[index], results[index]
                bodies, wall, cpu, client_cpu = once(target, client)
                _check(target, bodies, expected)
                result.wall.append(wall)
                result.cpu.append(cpu)
                result.client_cpu.append(client_cpu)
                result.bytes_per_run = round(sum(map(len, bodies)) / len(bodies))
            _progress(f"{label} round {round_no + 1}/{runs}")
    _progress("")
    return results


# --- output ---------------------------------------------------------------------------


def _row_json(m: Measured, base: Measured) -> dict[str, Any]:
    return {
        "name": m.name,
        "clients": m.clients,
        "tokens_delivered": m.tokens,
        "bytes_per_response": m.bytes_per_run,
        "wall_s": m.wall,
        "server_cpu_s": m.cpu,
        "client_cpu_s": m.client_cpu,
        "wall_best_ms": min(m.wall) * 1e3,
        "server_cpu_best_ms": min(m.cpu) * 1e3,
        "server_cpu_us_per_token": m.us_per_token(min(m.cpu)),
        "server_cpu_vs_lgstream_stream": min(m.cpu) / min(base.cpu),
        "wall_vs_lgstream_stream": min(m.wall) / min(base.wall),
    }


def table(results: Sequence[Measured]) -> str:
    base = results[0]
    rows = [
        [
            m.name,
            f"{m.clients}",
            f"{m.bytes_per_run / 1000:,.0f}",
            f"{min(m.wall) * 1e3:,.0f}",
            f"{statistics.median(m.wall) * 1e3:,.0f}",
            f"{min(m.wall) / min(base.wall):.2f}x",
            f"{min(m.cpu) * 1e3:,.0f}",
            f"{m.us_per_token(min(m.cpu)):.1f}",
            f"{m.us_per_token(statistics.median(m.cpu)):.1f}",
            f"{min(m.cpu) / min(base.cpu):.2f}x",
            f"{m.us_per_token(min(m.client_cpu)):.1f}",
        ]
        for m in results
    ]
    header = [
        "variant",
        "clients",
        "KB/resp",
        "wall ms",
        "median",
        "wall vs",
        "srv cpu ms",
        "srv us/tok",
        "median",
        "cpu vs",
        "client us/tok",
    ]
    return format_table(header, rows)


def _progress(message: str) -> None:
    if sys.stderr.isatty():
        print(f"\r  {message:<40}", end="" if message else "\r", file=sys.stderr, flush=True)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks served",
        description="Server CPU per delivered token: lgstream, langgraph dev, ag-ui-langgraph.",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each variant (5)")
    parser.add_argument(
        "--tokens", type=int, default=1_000, help="tokens the model streams per run (1000)"
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=20,
        help="concurrent clients of part 2, each with a run of its own (20; 0 or 1: no part 2)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write PATH-served.json")
    args, _ = parser.parse_known_args(argv)  # other benchmarks' options are theirs
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if not 1 <= args.tokens <= MAX_TOKENS:
        parser.error(f"--tokens is 1 to {MAX_TOKENS} (a run's events must fit the replay buffer)")
    if args.clients < 0:
        parser.error("--clients must be at least 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Start the three servers, run both parts, print the tables, stop the servers."""
    args = _parse(argv)
    started = time.perf_counter()
    expected = reply_text(args.tokens)
    crowd = args.clients if args.clients > 1 else 0
    print(
        f"served: graph {GRAPH_ID!r} ({args.tokens} tokens, no model delay) behind lgstream,"
        f" `langgraph dev` and ag-ui-langgraph on 127.0.0.1; {args.runs} runs of each"
        f" variant, interleaved{f', then {crowd} concurrent clients' if crowd else ''}",
        flush=True,
    )
    with contextlib.ExitStack() as stack, asyncio.Runner() as runner:
        lgs_pid, lgs_url = stack.enter_context(uvicorn_server("lgstream", args.tokens))
        agui_pid, agui_url = stack.enter_context(uvicorn_server("agui", args.tokens))
        dev = stack.enter_context(
            LangGraphDevServer(
                GRAPHS,
                env={TOKENS_ENV: str(args.tokens)},
                jobs_per_worker=max(4, crowd),  # every client's run at once, as the others
            )
        )
        dev_process = getattr(dev, "_process", None)  # LangGraphDevServer keeps it private
        if dev_process is None:
            raise RuntimeError("LangGraphDevServer has no process to measure")
        lgs_cpu, agui_cpu, dev_cpu = (
            ServerCPU(lgs_pid),
            ServerCPU(agui_pid),
            ServerCPU(dev_process.pid),
        )
        targets = [
            Target(LGS_STREAM, f"{lgs_url}/stream", _lgstream_body, lgstream_text, lgs_cpu),
            Target(LGS_RUNS, f"{lgs_url}/runs/stream", _lgstream_body, lgstream_text, lgs_cpu),
            Target(LG_DEV, f"{dev.url}/runs/stream", _langgraph_body, langgraph_text, dev_cpu),
            Target(AGUI, f"{agui_url}{AGUI_PATH}", _agui_body, agui_text, agui_cpu),
        ]
        print(f"servers up in {time.perf_counter() - started:.1f} s", flush=True)

        single = measure(
            targets, args.runs, expected, args.tokens, 1, runner, warm_up=True, label="part 1"
        )
        servers = {"lgstream": lgs_cpu, "langgraph dev": dev_cpu, "ag-ui-langgraph": agui_cpu}
        processes = {name: cpu.refresh() for name, cpu in servers.items()}
        idle: dict[str, float] = {}
        for name, cpu in servers.items():
            before = cpu.read()
            time.sleep(0.5)
            idle[name] = (cpu.read() - before) / 0.5
        many = (
            measure(
                targets,
                args.runs,
                expected,
                args.tokens,
                crowd,
                runner,
                warm_up=False,
                label="part 2",
            )
            if crowd
            else []
        )
        processes_after = {name: cpu.refresh() for name, cpu in servers.items()}

    print(
        f"\npart 1: one client at a time, {args.tokens} tokens a run; best of {args.runs};"
        " srv cpu = the server's CPU for one run, vs = against lgstream POST /stream"
    )
    print(table(single))
    if many:
        print(
            f"\npart 2: {crowd} concurrent clients, each its own run of {args.tokens} tokens;"
            f" best of {args.runs}; wall and srv cpu are the whole exchange's, srv us/tok ="
            f" srv cpu / {crowd * args.tokens:,} tokens delivered"
        )
        print(table(many))
    print(
        "\nserver CPU counted: the server process's CPU clock (user + system, every thread)"
        " plus its descendants'; processes counted: "
        + ", ".join(f"{name} {processes[name]}" for name in servers)
        + (
            ""
            if processes_after == processes
            else f" (after part 2: {', '.join(f'{n} {c}' for n, c in processes_after.items())})"
        )
    )
    print(
        "idle CPU of each server (part of every number above, for the time it waits to go"
        " quiet): " + ", ".join(f"{name} {rate * 1e3:.1f} ms/s" for name, rate in idle.items())
    )
    print(f"(took {time.perf_counter() - started:.0f} s)")

    if args.json is not None:
        path = args.json.with_name(args.json.stem + "-served" + args.json.suffix)
        write_json(
            path,
            {
                "benchmark": "served",
                "config": {"tokens": args.tokens, "runs": args.runs, "clients": crowd},
                "environment": environment(
                    "lgstream",
                    "langgraph",
                    "langgraph-api",
                    "langgraph-runtime-inmem",
                    "ag-ui-langgraph",
                    "ag-ui-protocol",
                    "fastapi",
                    "uvicorn",
                    "starlette",
                    "sse-starlette",
                    "httpx",
                ),
                "processes_counted": processes,
                "idle_cpu_s_per_s": idle,
                "part1": [_row_json(m, single[0]) for m in single],
                "part2": [_row_json(m, many[0]) for m in many],
            },
        )
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
