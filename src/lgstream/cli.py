"""The ``lgstream`` command: stream a graph run to the terminal or as a wire format.

::

    lgstream demo [--model SPEC] [--question Q] [--modes M,...] [--format F] [--delay S]
    lgstream run module:graph --input JSON [--modes M,...] [--subgraphs] [--node NAME]
                 [--format F]
    lgstream serve module:graph [--host H] [--port P] [--modes M,...] [--subgraphs]
                   [--input JSON] [--allow-remote] [--format agui|vercel]

Formats: ``console`` (``lgstream.sinks.console``, needs rich), ``sse`` and
``ndjson`` (the wire encoders, numbered events), ``jsonl`` (one
``to_jsonable(event)`` per line), ``agui`` and ``vercel`` (the frames of the UI
protocols, ``lgstream.protocols``). ``serve`` runs
``lgstream.sinks.asgi.create_app`` under uvicorn (the ``server`` extra); with
``--format agui|vercel`` its ``POST /stream`` speaks that protocol. Bad
arguments print one line on stderr and exit with 2; a graph that raises prints
one line and exits with 1.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

from langgraph.pregel.protocol import PregelProtocol

import lgstream as lgs

if TYPE_CHECKING:
    from .serving.runs import RunManager

from . import demo as seed
from ._loopback import is_loopback
from ._sources import STREAM_MODES
from .protocols import PROTOCOL_MODES
from .sinks import Encoder, NDJSONEncoder, SSEEncoder

__all__ = ["main"]

FORMATS = ("console", "sse", "ndjson", "jsonl", "agui", "vercel")
PROTOCOLS = ("agui", "vercel")
# The page shows the state as it changes: `values` on top of the defaults.
_SERVE_MODES = (*lgs.DEFAULT_MODES, "values")

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
SHUTDOWN_TIMEOUT = 3.0
"""Seconds ``lgstream serve`` lets open streams go on after SIGTERM or Ctrl-C."""
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A problem the CLI reports in one line, exiting with ``code`` (2, bad
    arguments, unless said otherwise)."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line instead of usage plus message."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _csv(values: Sequence[str] | None) -> list[str]:
    """``--x a,b --x c`` -> ``["a", "b", "c"]``."""
    return [item.strip() for value in values or () for item in value.split(",") if item.strip()]


def _modes(values: Sequence[str] | None, default: Sequence[str] = lgs.DEFAULT_MODES) -> list[str]:
    modes = _csv(values) or list(default)
    for mode in modes:  # checked before any model is resolved or graph imported
        if mode not in STREAM_MODES:
            raise lgs.UnknownStreamModeError(mode, STREAM_MODES)
    return modes


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--modes",
        action="append",
        metavar="MODE[,MODE...]",
        help=(
            "LangGraph stream modes, comma-separated or repeated"
            f" (default: {','.join(lgs.DEFAULT_MODES)}; any of {', '.join(STREAM_MODES)})"
        ),
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="console",
        help=(
            "console: readable output (needs rich); sse: Server-Sent Events; ndjson: one"
            " numbered JSON event per line; jsonl: one plain JSON event per line;"
            " agui, vercel: the frames of that UI protocol (default modes"
            f" {','.join(PROTOCOL_MODES)}) (default: console)"
        ),
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lgstream",
        description="Stream LangGraph runs as typed lgstream events.",
        epilog="Run 'lgstream <command> --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"lgstream {lgs.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)

    demo = commands.add_parser(
        "demo",
        help="stream the seed question -> answer graph",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Stream the seed question -> answer graph. Needs no server: the default\n"
            "model is an embedded fake that streams a canned answer word by word."
        ),
        epilog=(
            "examples:\n"
            "  lgstream demo\n"
            "  lgstream demo --format jsonl --delay 0\n"
            "  lgstream demo --model ollama:llama3.2 --modes messages,updates,values\n"
            "\n"
            "exit status: 0 done, 1 the graph raised, 2 bad arguments, 130 Ctrl-C"
        ),
    )
    demo.add_argument(
        "--model",
        metavar="SPEC",
        help="a model spec such as ollama:llama3.2 or fake:Hello (default: the embedded model)",
    )
    demo.add_argument("--question", default=seed.DEMO_QUESTION, help="what to ask")
    demo.add_argument(
        "--delay",
        type=float,
        default=0.04,
        metavar="S",
        help="seconds per token of the embedded model (default: 0.04)",
    )
    _add_output_options(demo)

    run = commands.add_parser(
        "run",
        help="stream any graph: module:graph or path/to/file.py:graph",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Import a graph and stream one run of it. TARGET names a module (importable\n"
            "from the current directory) or a .py file, then the attribute that holds a\n"
            "compiled graph, or a function that takes no arguments and returns one."
        ),
        epilog=(
            "examples:\n"
            """  lgstream run my_app.graphs:graph --input '{"question": "Hi?"}'\n"""
            """  lgstream run path/to/app.py:make_graph --input '{"question": "Hi?"}' \\\n"""
            "      --node generate --format ndjson\n"
            "\n"
            "exit status: 0 done, 1 the graph raised, 2 bad arguments, 130 Ctrl-C"
        ),
    )
    run.add_argument(
        "target", metavar="TARGET", help="module:attribute or path/to/file.py:attribute"
    )
    run.add_argument(
        "--input",
        default="{}",
        metavar="JSON",
        help="the graph's input as JSON (default: {})",
    )
    run.add_argument(
        "--subgraphs", action="store_true", help="also stream events from inside subgraphs"
    )
    run.add_argument(
        "--node",
        action="append",
        metavar="NAME",
        help=(
            "keep only events from this node (a root node, or a path such as"
            " parent/child); repeat or comma-separate for several"
        ),
    )
    _add_output_options(run)

    serve = commands.add_parser(
        "serve",
        help="serve any graph over HTTP, with a page that shows runs live",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Serve a graph (TARGET as for 'run') with lgstream.sinks.asgi.create_app under\n"
            'uvicorn: POST /stream with {"input": ...} streams a run as SSE (or NDJSON\n'
            "with Accept: application/x-ndjson), and / is a page that streams it in the\n"
            "browser. Needs the server extra: pip install 'lgstream[server]'."
        ),
        epilog=(
            "examples:\n"
            """  lgstream serve my_app.graphs:graph --input '{"question": "Hi?"}'\n"""
            "  lgstream serve path/to/app.py:make_graph --port 9000 --modes messages,values\n"
            "\n"
            "exit status: 0 stopped, 1 the server could not start, 2 bad arguments"
        ),
    )
    serve.add_argument(
        "target", metavar="TARGET", help="module:attribute or path/to/file.py:attribute"
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=8000,
        help="port to listen on, 0 for any free one (default: 8000)",
    )
    serve.add_argument(
        "--modes",
        action="append",
        metavar="MODE[,MODE...]",
        help=(
            "LangGraph stream modes, comma-separated or repeated"
            f" (default: {','.join(_SERVE_MODES)}; any of {', '.join(STREAM_MODES)})"
        ),
    )
    serve.add_argument(
        "--subgraphs", action="store_true", help="also stream events from inside subgraphs"
    )
    serve.add_argument("--input", metavar="JSON", help="the input the page starts with, as JSON")
    serve.add_argument(
        "--format",
        choices=PROTOCOLS,
        help=(
            "POST /stream speaks this UI protocol: agui (an AG-UI RunAgentInput in,"
            " AG-UI events out) or vercel (a useChat body in, the AI SDK UI message"
            " stream out); ?format=sse|ndjson still asks for lgstream's events"
        ),
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host that is not loopback (anyone who reaches it can run the graph)",
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a web origin whose pages may call the server (repeatable; '*' for any)",
    )
    serve.add_argument(
        "--store",
        default="memory",
        metavar="URL",
        help=(
            "where /runs keeps runs: 'memory' (default, this process) or a redis:// URL"
            " shared by several workers (needs the redis extra)"
        ),
    )
    serve.add_argument(
        "--lifetime",
        choices=["attached", "detached"],
        default="detached",
        help="what a /runs run does when its viewers leave (default detached: runs on)",
    )
    serve.add_argument(
        "--protocol-lifetime",
        choices=["attached", "detached"],
        default="attached",
        help=(
            "the same for a --format run: attached (default) stops when its client"
            " leaves; detached outlives a page reload, for useChat({resume: true})"
        ),
    )
    serve.add_argument(
        "--sync-workers",
        type=int,
        default=None,
        metavar="N",
        help="threads for sync nodes and model calls (default 64)",
    )
    serve.add_argument(
        "--shutdown-timeout",
        type=float,
        default=SHUTDOWN_TIMEOUT,
        metavar="SECONDS",
        help=(
            "on SIGTERM or Ctrl-C, how long open streams may go on before they are"
            f" ended and their runs cancelled (default {SHUTDOWN_TIMEOUT:g})"
        ),
    )
    return parser


# --- finding the graph -----------------------------------------------------------------


def _import_target(module_ref: str) -> Any:
    if module_ref.endswith(".py") or os.sep in module_ref or "/" in module_ref:
        path = Path(module_ref)
        if not path.is_file():
            raise CliError(f"no such file: {module_ref}")
        name = f"_lgstream_target_{path.stem}_{abs(hash(path.resolve()))}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise CliError(f"cannot import {module_ref}: not a Python file")
        module = importlib.util.module_from_spec(spec)
        # As `python file.py` would: the file's siblings are importable, and the
        # module is registered (dataclasses and pickling look it up there).
        folder = str(path.resolve().parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return module
    # A console script does not put the current directory on sys.path, as
    # `python -m` does; a user's own module is most likely right there.
    cwd = os.getcwd()
    if "" not in sys.path and cwd not in sys.path:
        sys.path.insert(0, cwd)
    return importlib.import_module(module_ref)


def _looks_like_graph(value: object) -> bool:
    # A module (`import lgstream`) or a class has `stream` and `astream` too.
    if isinstance(value, ModuleType | type):
        return False
    return callable(getattr(value, "stream", None)) and callable(getattr(value, "astream", None))


def load_graph(target: str) -> Any:
    """The graph that ``module:attr`` or ``path/to/file.py:attr`` names.

    The attribute may be a compiled graph (or anything ``lgs.stream()`` takes), or a
    function of no arguments that returns one.

    Raises:
        CliError: the target is malformed, cannot be imported, or names nothing.
        NotAGraphError: what it names is no graph.
    """
    module_ref, sep, attr = target.rpartition(":")
    if not sep or not module_ref or not attr:
        raise CliError(f"expected module:graph or path/to/file.py:graph, got {target!r}")
    try:
        module = _import_target(module_ref)
    except ModuleNotFoundError as error:
        raise CliError(f"cannot import {module_ref!r}: {error}") from error
    except Exception as error:  # the user's module raised: say where, in one line
        raise CliError(
            f"importing {module_ref!r} failed: {type(error).__name__}: {error}"
        ) from error
    value: Any = module
    for part in attr.split("."):
        if not hasattr(value, part):
            # Graphs only: a chat model, or any other Runnable, streams too.
            graphs = sorted(
                n
                for n, v in vars(module).items()
                if not n.startswith("_") and isinstance(v, PregelProtocol)
            )
            hint = f"; graphs it has: {', '.join(graphs)}" if graphs else ""
            raise CliError(f"{module_ref!r} has no attribute {attr!r}{hint}")
        value = getattr(value, part)
    if _looks_like_graph(value):
        return value
    if callable(value) and _takes_no_arguments(value):
        try:
            value = value()
        except Exception as error:
            raise CliError(f"{target}() failed: {type(error).__name__}: {error}") from error
    if not _looks_like_graph(value):
        raise lgs.NotAGraphError(value)
    return value


def _takes_no_arguments(function: Any) -> bool:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in signature.parameters.values()
    )


def _run_manager(store: str) -> RunManager:
    """The ``RunManager`` for ``lgstream serve --store``."""
    from .serving.runs import RunManager

    if store == "memory":
        return RunManager()
    if not store.startswith(("redis://", "rediss://", "unix://")):
        raise CliError(f"--store is 'memory' or a redis:// URL, got {store!r}")
    try:
        from .serving.stores.redis import RedisStore
    except ModuleNotFoundError as error:
        raise CliError(
            f"--store {store.partition('@')[2] or 'redis'} needs the redis extra"
            f" ({error.name} is missing): pip install 'lgstream[redis]'"
        ) from error
    manager = RunManager(RedisStore(store))
    _check_reachable(manager.store)
    return manager


def _check_reachable(store: Any) -> None:
    """Fail at start, in one line, when the run store's Redis does not answer (not
    at the first request, as a 503)."""
    import redis

    from .serving.stores.redis import _masked

    client = redis.Redis.from_url(store.url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        raise CliError(
            f"--store: the Redis at {_masked(store.url)} does not answer"
            f" ({type(error).__name__}: {error}); start it, or point --store at one that runs",
            EXIT_RUN_FAILED,
        ) from None
    finally:
        client.close()


def _parse_input(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CliError(f"--input is not valid JSON: {error}") from error


# --- output ----------------------------------------------------------------------------


def _write_bytes(events: Iterable[lgs.Event], encoder: Encoder) -> None:
    _write_frames(encoder.encode(event) for event in events)


def _write_frames(frames: Iterable[bytes]) -> None:
    # The wire formats are bytes: write them as they are, whatever stdout's
    # text encoding, and flush each frame so that a pipe sees it at once.
    stdout = sys.stdout
    buffer = getattr(stdout, "buffer", None)
    for data in frames:
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:
            stdout.write(data.decode())
            stdout.flush()


def _write_protocol(events: Iterable[lgs.Event], fmt: str) -> None:
    # Imported here: AG-UI needs the agui extra, and only its users have it.
    try:
        if fmt == "agui":
            from .protocols.agui import encode_agui

            frames: Iterable[bytes] = encode_agui(events, raise_errors=False)
        else:
            from .protocols.vercel import encode_vercel

            frames = encode_vercel(events)
    except ModuleNotFoundError as error:
        raise CliError(
            f"--format {fmt} needs {error.name}: pip install 'lgstream[agui]'"
        ) from error
    _write_frames(frames)


def _print_console(events: Iterable[lgs.Event]) -> None:
    # Imported here: rich is an optional extra, and the console sink may need it
    # at import, or only once it writes to a terminal.
    try:
        from .sinks.console import print_stream

        print_stream(events, file=sys.stdout)
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] != "rich":
            raise
        raise CliError(
            "--format console needs rich: pip install 'lgstream[console]'"
            " (or use --format jsonl, ndjson or sse)"
        ) from error


def _output(
    events: lgs.EventStream[lgs.Event], fmt: str, node_filter: lgs.ops.Filter | None = None
) -> int:
    """Send the events out; 1 if the run failed (after saying why on stderr)."""
    failed: list[lgs.RunFailed] = []

    def watch(event: lgs.Event) -> bool:
        if isinstance(event, lgs.RunFailed):
            failed.append(event)
        return True

    # `where` only watches, before any node filter (which drops run events): the
    # failure is reported on stderr, and still goes out as an event unfiltered.
    watched = events | lgs.ops.where(watch)
    if node_filter is not None:
        watched = watched | node_filter
    with watched:
        if fmt in PROTOCOLS:
            _write_protocol(watched, fmt)
        elif fmt == "console":
            _print_console(watched)
        elif fmt == "sse":
            _write_bytes(watched, SSEEncoder())
        elif fmt == "ndjson":
            _write_bytes(watched, NDJSONEncoder())
        else:
            _write_bytes(watched, NDJSONEncoder(ids=False))
    if failed:
        error = failed[-1].error
        print(f"lgstream: the graph raised {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_RUN_FAILED
    return EXIT_OK


# --- commands --------------------------------------------------------------------------


def _default_modes(fmt: str) -> Sequence[str]:
    return PROTOCOL_MODES if fmt in PROTOCOLS else lgs.DEFAULT_MODES


def _demo(args: argparse.Namespace) -> int:
    modes = _modes(args.modes, _default_modes(args.format))
    spec: str | None = args.model
    model = lgs.backends.resolve(spec, check=True) if spec else seed.demo_model(args.delay)
    graph = seed.build_seed_graph(model)
    events = lgs.stream(graph, {"question": args.question}, modes=modes, raise_errors=False)
    return _output(events, args.format)


def _run(args: argparse.Namespace) -> int:
    modes = _modes(args.modes, _default_modes(args.format))
    graph_input = _parse_input(args.input)
    node_names = _csv(args.node)
    node_filter = lgs.ops.nodes(*node_names) if node_names else None
    graph = load_graph(args.target)
    events = lgs.stream(
        graph, graph_input, modes=modes, subgraphs=args.subgraphs, raise_errors=False
    )
    return _output(events, args.format, node_filter)


def _serve(args: argparse.Namespace) -> int:
    modes = _modes(args.modes) if args.modes else list(_SERVE_MODES)
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port is 0 to 65535, got {args.port}")
    if not is_loopback(args.host) and not args.allow_remote:
        raise CliError(
            f"--host {args.host} is not loopback: anyone who reaches it could run the"
            " graph; add --allow-remote if you mean it"
        )
    example = _parse_input(args.input) if args.input is not None else None
    try:  # the server extra is optional: say so in one line
        import uvicorn

        from .sinks.asgi import create_app
    except ModuleNotFoundError as error:
        raise CliError(
            f"serve needs the server extra ({error.name} is missing):"
            " pip install 'lgstream[server]'"
        ) from error
    graph = load_graph(args.target)
    app = create_app(
        graph,
        modes=modes,
        subgraphs=args.subgraphs,
        example_input=example,
        title=args.target,
        protocol=args.format,
        cors_origins=args.cors_origin,
        **({} if args.sync_workers is None else {"sync_workers": args.sync_workers}),
        runs=_run_manager(args.store),
        lifetime=args.lifetime,
        protocol_lifetime=args.protocol_lifetime,
    )
    if args.shutdown_timeout < 0:
        raise CliError(f"--shutdown-timeout is seconds >= 0, got {args.shutdown_timeout:g}")
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        # uvicorn waits for every open stream by default: a long run held a SIGTERM
        # for its whole length.
        timeout_graceful_shutdown=args.shutdown_timeout,
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot bind; it has logged why
        print(f"lgstream serve: error: cannot listen on {args.host}:{args.port}", file=sys.stderr)
        return EXIT_RUN_FAILED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``lgstream`` command.

    Args:
        argv: the arguments, without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 1 if the graph raised, 2 for bad arguments,
        130 when interrupted.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, argparse errors
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    command = {"demo": _demo, "run": _run, "serve": _serve}[args.command]
    for stream in (sys.stdout, sys.stderr):
        # Text the terminal's encoding cannot hold (a lone surrogate from JSON
        # input) is written escaped instead of ending the run with a traceback.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        return command(args)
    except (CliError, lgs.LgstreamError) as error:
        print(f"lgstream {args.command}: error: {error}", file=sys.stderr)
        return error.code if isinstance(error, CliError) else EXIT_USAGE
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader left (`lgstream ... | head`): stop quietly, and keep Python
        # from complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
