"""Operators: composable, stateful, I/O-free stream transformations.

Each works on sync and async streams alike::

    for piece in lgs.stream(graph, inputs) | lgs.ops.nodes("generate") | lgs.ops.text():
        print(piece, end="")
"""

from ._coalesce import Batch as Batch
from ._coalesce import Debounce as Debounce
from ._coalesce import Throttle as Throttle
from ._coalesce import batch as batch
from ._coalesce import debounce as debounce
from ._coalesce import throttle as throttle
from ._dedupe import Dedupe as Dedupe
from ._dedupe import dedupe as dedupe
from ._diff import DiffState as DiffState
from ._diff import PatchError as PatchError
from ._diff import apply_patch as apply_patch
from ._diff import diff_state as diff_state
from ._diff import json_diff as json_diff
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
from ._tool_calls import ToolCalls as ToolCalls
from ._tool_calls import tool_calls as tool_calls

__all__ = [
    "Batch",
    "Debounce",
    "Dedupe",
    "DiffState",
    "Filter",
    "JoinMessages",
    "PatchError",
    "ReasoningSplit",
    "TextDeltas",
    "Throttle",
    "ToolCalls",
    "apply_patch",
    "batch",
    "debounce",
    "dedupe",
    "diff_state",
    "exclude_nodes",
    "join_messages",
    "json_diff",
    "kinds",
    "namespaces",
    "node_path",
    "nodes",
    "reasoning",
    "reasoning_text",
    "tags",
    "text",
    "throttle",
    "tool_calls",
    "where",
]
