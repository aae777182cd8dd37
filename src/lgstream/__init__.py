"""lgstream: typed streaming utilities for LangGraph.

Data flow::

    backends ──► graphs ──► sources ──► events ──► ops ──► sinks
    (ollama,     (qa, chat,  (graph runs,   (one typed  (filter, join,  (SSE, NDJSON,
     fake, any    agent)      raw parts)     union)      text, ...)      console, ...)
                    testing: fake models that really stream, helpers

Quick start::

    import lgstream as lgs

    events = lgs.stream(graph, {"question": "What is Task Decomposition?"},
                        modes=["messages", "updates"])
    for text in events | lgs.ops.nodes("generate") | lgs.ops.text():
        print(text, end="|")
"""

from . import backends as backends
from . import graphs as graphs
from . import ops as ops
from . import protocols as protocols
from . import sinks as sinks
from ._errors import BadOperatorError as BadOperatorError
from ._errors import LgstreamError as LgstreamError
from ._errors import MalformedPartError as MalformedPartError
from ._errors import NotAGraphError as NotAGraphError
from ._errors import RemoteRunError as RemoteRunError
from ._errors import StopRun as StopRun
from ._errors import StreamError as StreamError
from ._errors import TaskError as TaskError
from ._errors import UnknownStreamModeError as UnknownStreamModeError
from ._errors import UsageError as UsageError
from ._events import Checkpoint as Checkpoint
from ._events import Custom as Custom
from ._events import Event as Event
from ._events import EventKind as EventKind
from ._events import Interrupt as Interrupt
from ._events import JSONValue as JSONValue
from ._events import Message as Message
from ._events import MessageDone as MessageDone
from ._events import MessageStart as MessageStart
from ._events import Reasoning as Reasoning
from ._events import RunFailed as RunFailed
from ._events import RunFinished as RunFinished
from ._events import RunStarted as RunStarted
from ._events import StatePatch as StatePatch
from ._events import StateSnapshot as StateSnapshot
from ._events import TaskResult as TaskResult
from ._events import TaskStart as TaskStart
from ._events import Token as Token
from ._events import ToolCallDelta as ToolCallDelta
from ._events import ToolCallInvalid as ToolCallInvalid
from ._events import ToolCallReady as ToolCallReady
from ._events import ToolCallStart as ToolCallStart
from ._events import ToolError as ToolError
from ._events import ToolOutputDelta as ToolOutputDelta
from ._events import ToolResult as ToolResult
from ._events import ToolStart as ToolStart
from ._events import Update as Update
from ._events import Values as Values
from ._events import to_jsonable as to_jsonable
from ._pipeline import AsyncEventStream as AsyncEventStream
from ._pipeline import EventStream as EventStream
from ._pipeline import Operator as Operator
from ._pipeline import TimedOperator as TimedOperator
from ._remote import from_sdk as from_sdk
from ._sources import DEFAULT_MODES as DEFAULT_MODES
from ._sources import STREAM_MODES as STREAM_MODES
from ._sources import GraphLike as GraphLike
from ._sources import Normaliser as Normaliser
from ._sources import StreamMode as StreamMode
from ._sources import afrom_parts as afrom_parts
from ._sources import astream as astream
from ._sources import from_parts as from_parts
from ._sources import revive_message as revive_message
from ._sources import stream as stream

__version__ = "0.1.0.dev0"

__all__ = [
    "DEFAULT_MODES",
    "STREAM_MODES",
    "AsyncEventStream",
    "BadOperatorError",
    "Checkpoint",
    "Custom",
    "Event",
    "EventKind",
    "EventStream",
    "GraphLike",
    "Interrupt",
    "JSONValue",
    "LgstreamError",
    "MalformedPartError",
    "Message",
    "MessageDone",
    "MessageStart",
    "Normaliser",
    "NotAGraphError",
    "Operator",
    "Reasoning",
    "RemoteRunError",
    "RunFailed",
    "RunFinished",
    "RunStarted",
    "StatePatch",
    "StateSnapshot",
    "StopRun",
    "StreamError",
    "StreamMode",
    "TaskError",
    "TaskResult",
    "TaskStart",
    "TimedOperator",
    "Token",
    "ToolCallDelta",
    "ToolCallInvalid",
    "ToolCallReady",
    "ToolCallStart",
    "ToolError",
    "ToolOutputDelta",
    "ToolResult",
    "ToolStart",
    "UnknownStreamModeError",
    "Update",
    "UsageError",
    "Values",
    "afrom_parts",
    "astream",
    "from_parts",
    "from_sdk",
    "revive_message",
    "stream",
    "to_jsonable",
]
