"""Serving over real HTTP: what a streamed run costs the server, per event and per viewer.

Every server is a real ``uvicorn`` (uvloop, httptools) in its own process, on a
free port of 127.0.0.1, serving ``lgstream.sinks.asgi.create_app`` over
``lgs.graphs.qa(FakeChatModel(...))``; the benchmark stops it at the end. Its
CPU (user + system, all its threads, ``getrusage``) is asked from it before and
after each measured request, through a ``GET /__cpu`` the benchmark wraps
around the app, so the client's own work is never counted. ``redis-server``'s
CPU comes from ``/proc/<pid>/stat`` (10 ms ticks: a rough number).

Part 1, per-event cost of one served run (``--tokens`` words, no model delay;
the client is this process, sync ``httpx``; every variant's token text must be
the model's reply, checked before timing and after every run):

- ``POST /stream``: the plain streaming route (``sse_response`` with the app's
  replay buffer, given 10,000 events a run as the ``MemoryStore`` keeps: with the
  default 1,000, a run with no model delay outruns its only reader and the
  reader gets a ``ResumeError`` after ~300 events): the baseline;
- ``POST /runs/stream memory``: the durable-run route of the same app, its
  default ``RunManager`` over a ``MemoryStore``, ``lifetime="detached"``;
- ``POST /runs/stream redis``: the same route of
  ``create_app(graph, runs=RunManager(RedisStore(url)))`` against a real
  ``redis-server`` (``lgstream.testing.RedisServer``); ``redis-server``'s own CPU
  is shown apart.

Part 2, many viewers of one run: one detached run (``POST /runs``) of a
``--live-tokens`` answer (200 words, ``--delay`` 5 ms a token, so the run is live
while viewers read), and ``--viewers`` (200) concurrent
``GET /runs/{run_id}/stream`` from a client process of raw asyncio sockets
(cheap, and not the server's process; it starts, then waits for a go, so the
window holds the exchange alone). Server CPU over the whole exchange,
divided by viewers x events delivered, also with ``--few`` (20) viewers, who
keep up with the run; the same with one viewer gives the run's
own cost, and the difference the marginal cost of a viewer's event. As a
baseline, the same number of clients each ``POST /stream`` a run of their own
(once: it takes ~12 s). Redis runs with ``RedisStore``'s default pools (its
waiting viewers have a pool of their own).

Part 3, where the server's CPU goes in part 2 (``--profile-store``, memory by
default): ``cProfile`` in a fresh server process (main thread: the event loop;
not the worker thread that runs the sync node), switched on and off by signals
around one 200-viewer exchange; top functions by own time, and own time by file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import gc
import json
import os
import pstats
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from ._harness import environment, format_table, write_json
from .bench_overhead import make_text

__all__ = ["main", "serve", "viewers_main"]

ROOT: Final = Path(__file__).resolve().parent.parent
QUESTION: Final = "What is task decomposition?"
REPLAY_EVENTS: Final = 10_000  # = MemoryStore's max_events
MAX_TOKENS: Final = 9_000  # a run's events must fit both
TARGET_US: Final = 100.0  # server CPU per delivered event, memory store, 200 viewers
PLAIN: Final = "POST /stream"
RUNS_MEMORY: Final = "POST /runs/stream memory"
RUNS_REDIS: Final = "POST /runs/stream redis"
_TICK: Final = os.sysconf("SC_CLK_TCK")


# --- the server process ---------------------------------------------------------------


def serve(argv: Sequence[str]) -> None:
    """The server process: ``create_app`` over a qa graph on a free port.

    Prints ``PORT <n>`` once it listens. SIGUSR1 starts ``cProfile`` (with
    ``--profile PATH``), SIGUSR2 stops it and writes the stats to PATH.
    """
    import uvicorn

    import lgstream as lgs
    from lgstream.serving.runs import RunManager
    from lgstream.sinks.asgi import ReplayBuffer, create_app
    from lgstream.testing import FakeChatModel

    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--redis")
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args(argv)

    model = FakeChatModel(
        script=[make_text(args.tokens)], split="words", delay=args.delay, cycle=True
    )
    graph = lgs.graphs.qa(model)
    runs: RunManager | bool = True
    if args.redis:
        from lgstream.serving.stores.redis import RedisStore

        runs = RunManager(RedisStore(args.redis))
    # The app's default buffer keeps 1,000 events a run, and a run with no model
    # delay outruns even its only reader by more than that: the reader gets a
    # ResumeError. 10,000, as the runs' MemoryStore keeps.
    replay = ReplayBuffer(max_events=REPLAY_EVENTS)
    app = _with_cpu(create_app(graph, runs=runs, replay=replay, page=False))

    if args.profile is not None:
        profiler = cProfile.Profile()
        path: Path = args.profile

        def start_profile(signum: int, frame: object) -> None:
            profiler.enable()

        def stop_profile(signum: int, frame: object) -> None:
            profiler.disable()
            profiler.dump_stats(str(path) + ".tmp")
            os.replace(str(path) + ".tmp", path)

        signal.signal(signal.SIGUSR1, start_profile)
        signal.signal(signal.SIGUSR2, stop_profile)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", backlog=4096, timeout_graceful_shutdown=2)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn raises the signal again
        uvicorn.Server(config).run(sockets=[sock])


def _with_cpu(app: Any) -> Any:
    """``app``, plus ``GET /__cpu``: this process's user and system CPU seconds
    (``getrusage``, all threads, microseconds; ``/proc`` counts 10 ms ticks)."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/__cpu":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            body = json.dumps([usage.ru_utime, usage.ru_stime]).encode()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return wrapped


@dataclass(slots=True)
class Server:
    """A running ``serve`` process."""

    process: subprocess.Popen[str]
    port: int
    redis_pid: int | None = None
    """The ``redis-server`` its store uses, if any."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def times(self) -> tuple[float, float]:
        """The server's user and system CPU seconds so far."""
        user, system = httpx.get(f"{self.url}/__cpu", timeout=10).json()
        return float(user), float(system)

    def cpu(self) -> float:
        return sum(self.times())

    def redis_cpu(self) -> float:
        return proc_cpu(self.redis_pid) if self.redis_pid else 0.0


def proc_cpu(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


@contextlib.contextmanager
def running_server(
    tokens: int,
    delay: float = 0.0,
    redis: str | None = None,
    profile: Path | None = None,
    redis_pid: int | None = None,
) -> Iterator[Server]:
    """Start ``serve`` in a subprocess, wait for it to answer, stop it at the end."""
    command = ["--tokens", str(tokens), "--delay", str(delay)]
    if redis:
        command += ["--redis", redis]
    if profile is not None:
        command += ["--profile", str(profile)]
    code = "import sys; from benchmarks.bench_serving import serve; serve(sys.argv[1:])"
    process = subprocess.Popen(
        [sys.executable, "-c", code, *command], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the server did not start (said {line!r})")
        server = Server(process, int(line.split()[1]), redis_pid if redis else None)
        deadline = time.monotonic() + 30
        while True:
            try:
                server.times()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- reading SSE ----------------------------------------------------------------------


@dataclass(slots=True)
class Stream:
    """One SSE response, taken apart."""

    events: int = 0
    text: str = ""
    names: dict[str, int] = field(default_factory=dict)


def parse_sse(body: bytes) -> Stream:
    """Count the events of an SSE body and join its ``token`` texts."""
    stream = Stream()
    pieces: list[str] = []
    for block in body.decode().split("\n\n"):
        name = "message"
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if not data:
            continue  # a keepalive comment, or the end
        stream.events += 1
        stream.names[name] = stream.names.get(name, 0) + 1
        if name == "token":
            pieces.append(json.loads("\n".join(data))["text"])
    stream.text = "".join(pieces)
    return stream


# --- part 1: one run, three routes ----------------------------------------------------


@dataclass(slots=True)
class Timed:
    """Every run of one variant: wall and server CPU seconds, events per run."""

    name: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    redis_cpu: list[float] = field(default_factory=list)
    events: int = 0
    redis: bool = False


def one_run(client: httpx.Client, server: Server, path: str) -> bytes:
    body = {"input": {"question": QUESTION}}
    with client.stream("POST", f"{server.url}{path}", json=body) as response:
        if response.status_code != 200:
            raise RuntimeError(f"POST {path}: {response.status_code}")
        return b"".join(response.iter_bytes())


def part1(
    servers: dict[str, tuple[Server, str]],
    text: str,
    runs: int,
) -> list[Timed]:
    """Interleaved runs of each variant, checked; wall and server CPU of each."""
    names = list(servers)
    timed = {name: Timed(name, redis=servers[name][0].redis_pid is not None) for name in names}
    with httpx.Client(timeout=60) as client:
        for name in names:  # the warm-up, and the check
            server, path = servers[name]
            got = parse_sse(one_run(client, server, path))
            if got.text != text:
                raise RuntimeError(f"{name}: {len(got.text)} chars of text, expected {len(text)}")
            timed[name].events = got.events
        for round_no in range(runs):
            for offset in range(len(names)):
                name = names[(round_no + offset) % len(names)]
                server, path = servers[name]
                gc.collect()
                redis_before = server.redis_cpu()
                cpu_before = server.cpu()
                start = time.perf_counter()
                body = one_run(client, server, path)
                wall = time.perf_counter() - start
                cpu = server.cpu() - cpu_before
                redis_cpu = server.redis_cpu() - redis_before
                got = parse_sse(body)
                if got.text != text or got.events != timed[name].events:
                    raise RuntimeError(f"{name}: the run's output changed ({got.events} events)")
                timed[name].wall.append(wall)
                timed[name].cpu.append(cpu)
                timed[name].redis_cpu.append(redis_cpu)
            _progress(f"part 1 round {round_no + 1}/{runs}")
    return [timed[name] for name in names]


def part1_table(timed: Sequence[Timed]) -> str:
    base = timed[0]
    rows = []
    for t in timed:
        best_wall, best_cpu = min(t.wall), min(t.cpu)
        rows.append(
            [
                t.name,
                f"{t.events}",
                f"{best_wall * 1e3:.0f}",
                f"{statistics.median(t.wall) * 1e3:.0f}",
                f"{best_wall * 1e6 / t.events:.1f}",
                f"{best_wall / min(base.wall):.2f}x",
                f"{best_cpu * 1e3:.0f}",
                f"{best_cpu * 1e6 / t.events:.1f}",
                f"{best_cpu / min(base.cpu):.2f}x",
                f"{min(t.redis_cpu) * 1e6 / t.events:.1f}" if t.redis else "-",
            ]
        )
    header = [
        "variant",
        "events",
        "wall ms",
        "median",
        "wall us/ev",
        "wall vs",
        "cpu ms",
        "cpu us/ev",
        "cpu vs",
        "redis us/ev",
    ]
    return format_table(header, rows)


# --- part 2: many viewers -------------------------------------------------------------


async def _http(port: int, request: bytes) -> tuple[int, bytes]:
    """One request on its own connection (``Connection: close``): status, body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    raw = await reader.read(-1)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    return status, body


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    at = 0
    while True:
        end = body.index(b"\r\n", at)
        size = int(body[at:end].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += body[end + 2 : end + 2 + size]
        at = end + 2 + size + 2


def _request(method: str, port: int, path: str, body: object = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    lines.append("Accept: text/event-stream")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def _viewers(port: int, count: int, mode: str) -> dict[str, Any]:
    start = time.perf_counter()
    if mode == "join":
        status, answer = await _http(
            port, _request("POST", port, "/runs", {"input": {"question": QUESTION}})
        )
        if status != 202:
            raise RuntimeError(f"POST /runs: {status} {answer[:200]!r}")
        run_id = json.loads(answer)["run_id"]
        request = _request("GET", port, f"/runs/{run_id}/stream")
        results = await asyncio.gather(*(_http(port, request) for _ in range(count)))
    else:
        request = _request("POST", port, "/stream", {"input": {"question": QUESTION}})
        results = await asyncio.gather(*(_http(port, request) for _ in range(count)))
    elapsed = time.perf_counter() - start
    return {"elapsed": elapsed, "results": results}


def viewers_main(argv: Sequence[str]) -> None:
    """The client process of part 2: ``PORT COUNT MODE TOKENS`` (``join`` or ``own``).

    Prints ``READY`` once imported and waits for a line on stdin, so that the
    server's CPU is read around the exchange alone; then one JSON line: events
    per client, how many got the whole answer, the wall time and its own CPU."""
    port, count, mode, tokens = int(argv[0]), int(argv[1]), argv[2], int(argv[3])
    text = make_text(tokens)
    print("READY", flush=True)
    sys.stdin.readline()
    cpu = time.process_time()
    out = asyncio.run(_viewers(port, count, mode))
    cpu = time.process_time() - cpu
    events, ok = [], 0
    for status, body in out["results"]:
        stream = parse_sse(body) if status == 200 else Stream()
        events.append(stream.events)
        ok += stream.text == text
    print(json.dumps({"elapsed": out["elapsed"], "cpu": cpu, "events": events, "ok": ok}))


@dataclass(frozen=True, slots=True)
class Exchange:
    """One part-2 exchange, measured."""

    cpu: float  # the server's utime + stime, seconds
    sys: float  # of which stime (the kernel: socket writes, epoll)
    redis_cpu: float  # redis-server's utime + stime
    client_cpu: float
    wall: float  # the client's, from the first request to the last byte
    delivered: int  # events received by all clients together

    @property
    def per_event(self) -> float:
        return self.cpu / self.delivered


@dataclass(slots=True)
class Crowd:
    """Every exchange of one part-2 variant."""

    name: str
    clients: int
    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def best(self) -> Exchange:
        """The exchange with the least server CPU per event."""
        return min(self.exchanges, key=lambda e: e.per_event)


def crowd_once(server: Server, count: int, mode: str, tokens: int) -> Exchange:
    """One exchange of ``count`` clients with the server, in a client process."""
    code = (
        "import sys; from benchmarks.bench_serving import viewers_main; viewers_main(sys.argv[1:])"
    )
    client = subprocess.Popen(
        [sys.executable, "-c", code, str(server.port), str(count), mode, str(tokens)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert client.stdin is not None
    assert client.stdout is not None
    if client.stdout.readline().strip() != "READY":
        client.kill()
        raise RuntimeError("the client process did not start")
    gc.collect()
    redis_before = server.redis_cpu()
    user, system = server.times()
    client.stdin.write("go\n")
    client.stdin.flush()
    output, _ = client.communicate(timeout=600)
    time.sleep(0.05)  # the server's last writes after the last byte
    user_after, system_after = server.times()
    redis_cpu = server.redis_cpu() - redis_before
    if client.returncode != 0:
        raise RuntimeError(f"the client process failed ({client.returncode})")
    out = json.loads(output.strip().splitlines()[-1])
    if out["ok"] != count:
        raise RuntimeError(f"{mode} x{count}: only {out['ok']} clients got the whole answer")
    return Exchange(
        cpu=user_after + system_after - user - system,
        sys=system_after - system,
        redis_cpu=redis_cpu,
        client_cpu=out["cpu"],
        wall=out["elapsed"],
        delivered=sum(out["events"]),
    )


def part2(plan: Sequence[tuple[str, Server, int, str]], tokens: int, runs: int) -> list[Crowd]:
    """Interleaved rounds of every planned exchange (after one warm-up of each)."""
    for _, server, count, mode in plan:
        crowd_once(server, count, mode, tokens)
    crowds = [Crowd(name, count) for name, _, count, _ in plan]
    for round_no in range(runs):
        for offset in range(len(plan)):
            index = (round_no + offset) % len(plan)
            _, server, count, mode = plan[index]
            crowds[index].exchanges.append(crowd_once(server, count, mode, tokens))
        _progress(f"part 2 round {round_no + 1}/{runs}")
    return crowds


def part2_table(crowds: Sequence[Crowd]) -> str:
    rows = []
    for c in crowds:
        e = c.best
        rows.append(
            [
                c.name,
                f"{c.clients}",
                f"{e.delivered:,}",
                f"{e.wall:.2f}",
                f"{e.cpu * 1e3:.0f}",
                f"{100 * e.sys / e.cpu:.0f}%" if e.cpu else "-",
                f"{e.per_event * 1e6:.1f}",
                f"{statistics.median(x.per_event for x in c.exchanges) * 1e6:.1f}",
                f"{e.redis_cpu * 1e6 / e.delivered:.1f}" if e.redis_cpu else "-",
                f"{e.client_cpu * 1e6 / e.delivered:.1f}",
            ]
        )
    header = [
        "variant",
        "clients",
        "events",
        "wall s",
        "server cpu ms",
        "sys",
        "us/ev",
        "median",
        "redis us/ev",
        "client us/ev",
    ]
    return format_table(header, rows)


def marginal(many: Crowd, one: Crowd) -> float:
    """Server CPU per event of the extra viewers (us): (many - one) / extra events."""
    a, b = many.best, one.best
    return (a.cpu - b.cpu) * 1e6 / (a.delivered - b.delivered)


# --- part 3: profile ------------------------------------------------------------------


def profile_crowd(
    tokens: int, delay: float, viewers: int, top: int, redis: str | None = None
) -> tuple[str, str, float]:
    """One exchange under cProfile: the top functions, and own time by file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "serve.prof"
        with running_server(tokens, delay, redis=redis, profile=path) as server:
            crowd_once(server, viewers, "join", tokens)  # warm-up, unprofiled
            server.process.send_signal(signal.SIGUSR1)
            time.sleep(0.2)
            delivered = crowd_once(server, viewers, "join", tokens).delivered
            server.process.send_signal(signal.SIGUSR2)
            deadline = time.monotonic() + 20
            while not path.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            stats = pstats.Stats(str(path))
    return _hot_spots(stats, top, delivered)


def _hot_spots(stats: pstats.Stats, top: int, delivered: int) -> tuple[str, str, float]:
    table: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in table.values())
    ranked = sorted(table.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    rows = []
    for (file, line, func), (_cc, calls, tt, ct, _callers) in ranked:
        rows.append(
            [
                f"{_short(file)}:{line}({func})",
                f"{calls:,}",
                f"{100 * tt / total:.1f}%",
                f"{100 * ct / total:.1f}%",
                f"{tt * 1e6 / delivered:.2f}",
            ]
        )
    funcs = format_table(["function", "calls", "own", "cumulative", "own us/ev"], rows)
    by_file: dict[str, float] = {}
    for (file, _line, _func), row in table.items():
        by_file[_short(file)] = by_file.get(_short(file), 0.0) + row[2]
    files = sorted(by_file.items(), key=lambda kv: kv[1], reverse=True)[:top]
    file_rows = [[f, f"{100 * t / total:.1f}%", f"{t * 1e6 / delivered:.2f}"] for f, t in files]
    return funcs, format_table(["file", "own", "own us/ev"], file_rows), total


def _short(file: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        at = file.rfind(marker)
        if at >= 0:
            rest = file[at + len(marker) :]
            return rest.split("/", 1)[1] if marker == "/lib/python3" and "/" in rest else rest
    return file


# --- main -----------------------------------------------------------------------------


def source_version() -> str:
    """The commit of the code being measured, and whether src/ has changes on top."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} (src/ changed)" if dirty else commit


def _progress(message: str) -> None:
    if sys.stderr.isatty():
        print(f"\r  {message}", end="", file=sys.stderr, flush=True)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks serving", description=__doc__)
    parser.add_argument("--runs", type=int, default=6, help="rounds of each part (6)")
    parser.add_argument("--tokens", type=int, default=2_000, help="tokens of part 1's run (2000)")
    parser.add_argument("--viewers", type=int, default=200, help="viewers of part 2's run (200)")
    parser.add_argument("--live-tokens", type=int, default=200, help="tokens of part 2's run (200)")
    parser.add_argument(
        "--delay", type=float, default=0.005, help="seconds per token in part 2 (0.005)"
    )
    parser.add_argument(
        "--few",
        type=int,
        default=20,
        help="also measure this many viewers, who keep up with the run (20; 0: no)",
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip part 2's POST /stream per client"
    )
    parser.add_argument(
        "--profile-store",
        choices=["memory", "redis", "none"],
        default="memory",
        help="the store of part 3's profiled exchange, or none to skip it (memory)",
    )
    parser.add_argument("--top", type=int, default=25, help="rows of the profile (25)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write PATH-serving.json")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit 1 if the memory store's 200-viewer CPU is over {TARGET_US:.0f} us/event",
    )
    args, _ = parser.parse_known_args(argv)
    if args.runs < 1 or args.viewers < 2:
        parser.error("--runs must be at least 1 and --viewers at least 2")
    if not 1 <= args.tokens <= MAX_TOKENS or not 1 <= args.live_tokens <= MAX_TOKENS:
        parser.error(f"--tokens and --live-tokens are 1 to {MAX_TOKENS} (a run's events are kept)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the serving benchmark and print its tables."""
    from lgstream.testing import RedisServer

    args = _parse(argv)
    text = make_text(args.tokens)
    version = source_version()
    print(
        f"serving: uvicorn on 127.0.0.1, server CPU from getrusage; part 1: one {args.tokens}-token"
        f" run x {args.runs} per variant, interleaved, best compared; part 2: {args.viewers}"
        f" viewers of a {args.live_tokens}-token run ({args.delay * 1e3:g} ms/token);"
        f" code {version}",
        flush=True,
    )
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(RedisServer())
        process = getattr(redis, "_process", None)
        redis_pid: int | None = process.pid if process is not None else None
        fast = stack.enter_context(running_server(args.tokens))
        fast_redis = stack.enter_context(
            running_server(args.tokens, redis=redis.url, redis_pid=redis_pid)
        )
        timed = part1(
            {
                PLAIN: (fast, "/stream"),
                RUNS_MEMORY: (fast, "/runs/stream"),
                RUNS_REDIS: (fast_redis, "/runs/stream"),
            },
            text,
            args.runs,
        )
        print("\npart 1: one run per request; cpu = the server process's utime + stime")
        print(part1_table(timed))

        live = stack.enter_context(running_server(args.live_tokens, args.delay))
        n = args.viewers
        # RedisStore's defaults: waiting viewers on a pool of their own (before
        # e7e3b93 one pool of 100 connections, and past ~100 viewers the owner's
        # appends and heartbeats failed: the URL had to raise the cap).
        pool = redis.url
        live_redis = stack.enter_context(
            running_server(args.live_tokens, args.delay, redis=pool, redis_pid=redis_pid)
        )
        plan: list[tuple[str, Server, int, str]] = [
            (f"memory, {n} viewers", live, n, "join"),
            (f"redis, {n} viewers", live_redis, n, "join"),
            ("memory, 1 viewer", live, 1, "join"),
            ("redis, 1 viewer", live_redis, 1, "join"),
        ]
        if 1 < args.few < n:  # viewers that keep up: one event per read and per write
            plan[2:2] = [
                (f"memory, {args.few} viewers", live, args.few, "join"),
                (f"redis, {args.few} viewers", live_redis, args.few, "join"),
            ]
        crowds = part2(plan, args.live_tokens, args.runs)
        if not args.no_baseline:  # once: 200 graph runs at a time take ~15 s
            baseline = Crowd(f"POST /stream, {n} runs", n)
            baseline.exchanges.append(crowd_once(live, n, "own", args.live_tokens))
            crowds.append(baseline)
        _progress("")
        print(
            f"\npart 2: server CPU per delivered event = server cpu / events received by all"
            f" clients; best of {args.runs} (the baseline: 1):"
        )
        print(part2_table(crowds))
        memory_us = crowds[0].best.per_event * 1e6
        redis_us = crowds[1].best.per_event * 1e6
        extra_memory = marginal(crowds[0], crowds[len(plan) - 2])
        extra_redis = marginal(crowds[1], crowds[len(plan) - 1])
        print(
            f"  each extra viewer's event: memory {extra_memory:.1f} us, redis"
            f" {extra_redis:.1f} us (the {n}-viewer CPU minus the 1-viewer CPU, per extra event)"
        )
        met = memory_us <= TARGET_US
        print(
            f"  target: memory store at most {TARGET_US:.0f} us per delivered event with"
            f" {n} viewers: {memory_us:.1f} us, {'met' if met else 'NOT met'}"
        )

        profile: tuple[str, str, float] | None = None
        if args.profile_store != "none":
            profile = profile_crowd(
                args.live_tokens,
                args.delay,
                n,
                args.top,
                redis=pool if args.profile_store == "redis" else None,
            )
            print(
                f"\npart 3: cProfile of the server's event loop (main thread) during one"
                f" {n}-viewer exchange, {args.profile_store} store; {profile[2]:.2f} s"
                " profiled (cProfile inflates it ~3x); own = in the function itself:"
            )
            print(profile[0])
            print("\nown time by file:")
            print(profile[1])

    if args.json is not None:
        path = args.json.with_name(args.json.stem + "-serving" + args.json.suffix)
        write_json(
            path,
            {
                "benchmark": "serving",
                "code": version,
                "config": {
                    "tokens": args.tokens,
                    "runs": args.runs,
                    "viewers": n,
                    "live_tokens": args.live_tokens,
                    "delay": args.delay,
                },
                "environment": environment(
                    "lgstream", "langgraph", "uvicorn", "starlette", "sse-starlette", "redis"
                ),
                "part1": {
                    t.name: {"events": t.events, "wall_s": t.wall, "cpu_s": t.cpu} for t in timed
                },
                "part2": {
                    c.name: {
                        "clients": c.clients,
                        "exchanges": [dataclasses.asdict(e) for e in c.exchanges],
                    }
                    for c in crowds
                },
                "us_per_delivered_event": {"memory": memory_us, "redis": redis_us},
                "profile": profile[0] if profile else None,
            },
        )
        print(f"\nwrote {path}")
    return 1 if args.check and not met else 0
