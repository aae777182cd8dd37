"""Serve the seed question -> answer graph over HTTP, with a page that streams it.

    python examples/serve_seed.py [PORT]

then open http://127.0.0.1:8000/ (or the port you gave), or stream a run from a
terminal::

    curl -N http://127.0.0.1:8000/stream -H 'Content-Type: application/json' \\
        -d '{"input": {"question": "What is Task Decomposition?"}}'

The model is the embedded fake that streams a canned answer word by word (no
server needed); set ``LGSTREAM_MODEL=ollama:llama3.2`` to ask a real Ollama.
"""

from __future__ import annotations

import os
import sys

import uvicorn

import lgstream as lgs
from lgstream.demo import DEMO_QUESTION, build_seed_graph, demo_model
from lgstream.sinks.asgi import create_app


def main(argv: list[str]) -> None:
    port = int(argv[0]) if argv else 8000
    spec = os.environ.get("LGSTREAM_MODEL")
    model = lgs.backends.resolve(spec, check=True) if spec else demo_model()
    app = create_app(
        build_seed_graph(model),
        modes=["messages", "updates", "values"],
        example_input={"question": DEMO_QUESTION},
        title="lgstream: the seed graph",
    )
    # Loopback only: anyone who can reach the server can run the graph.
    uvicorn.run(app, host="127.0.0.1", port=port)


if __name__ == "__main__":
    main(sys.argv[1:])
