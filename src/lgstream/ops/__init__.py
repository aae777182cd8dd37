"""Operators: composable, stateful, I/O-free stream transformations.

Each works on sync and async streams alike::

    for piece in lgs.stream(graph, inputs) | lgs.ops.nodes("generate") | lgs.ops.text():
        print(piece, end="")
"""

from ._dedupe import Dedupe as Dedupe
from ._dedupe import dedupe as dedupe
from ._filters import Filter as Filter
from ._filters import exclude_nodes as exclude_nodes
from ._filters import kinds as kinds
from ._filters import namespaces as namespaces
from ._filters import node_path as node_path
from ._filters import nodes as nodes
from ._filters import tags as tags
from ._filters import where as where
from ._join import JoinMessages as JoinMessages
from ._join import ReasoningSplit as ReasoningSplit
from ._join import join_messages as join_messages
from ._join import reasoning as reasoning
from ._join import reasoning_text as reasoning_text
from ._text import TextDeltas as TextDeltas
from ._text import text as text

__all__ = [
    "Dedupe",
    "Filter",
    "JoinMessages",
    "ReasoningSplit",
    "TextDeltas",
    "dedupe",
    "exclude_nodes",
    "join_messages",
    "kinds",
    "namespaces",
    "node_path",
    "nodes",
    "reasoning",
    "reasoning_text",
    "tags",
    "text",
    "where",
]
