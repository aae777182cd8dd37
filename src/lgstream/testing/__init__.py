"""Testing kit: fake models that really stream, and helpers for asserting on streams."""

from ._assertions import EventPattern as EventPattern
from ._assertions import assert_aevents as assert_aevents
from ._assertions import assert_events as assert_events
from ._dev_server import DevServerError as DevServerError
from ._dev_server import LangGraphDevServer as LangGraphDevServer
from ._fake_model import FakeChatModel as FakeChatModel
from ._fake_model import FakeModelError as FakeModelError
from ._fake_model import ReasoningStyle as ReasoningStyle
from ._fake_model import Reply as Reply
from ._fake_model import ScriptCall as ScriptCall
from ._fake_model import ScriptExhaustedError as ScriptExhaustedError
from ._fake_model import ScriptReply as ScriptReply
from ._fake_model import ToolCallStyle as ToolCallStyle
from ._fake_model import split_tokens as split_tokens
from ._network import NetworkBlockedError as NetworkBlockedError
from ._network import block_network as block_network
from ._ollama_server import FakeOllamaServer as FakeOllamaServer
from ._ollama_server import OllamaReply as OllamaReply
from ._ollama_server import OllamaRequest as OllamaRequest
from ._ollama_server import OllamaScript as OllamaScript
from ._record import CASSETTE_VERSION as CASSETTE_VERSION
from ._record import CassetteError as CassetteError
from ._record import RecordedError as RecordedError
from ._record import Recorder as Recorder
from ._record import areplay as areplay
from ._record import record as record
from ._record import replay as replay
from ._redis_server import RedisServer as RedisServer
from ._redis_server import RedisServerError as RedisServerError
from ._redis_server import redis_server_binary as redis_server_binary

__all__ = [
    "CASSETTE_VERSION",
    "CassetteError",
    "DevServerError",
    "EventPattern",
    "FakeChatModel",
    "FakeModelError",
    "FakeOllamaServer",
    "LangGraphDevServer",
    "NetworkBlockedError",
    "OllamaReply",
    "OllamaRequest",
    "OllamaScript",
    "ReasoningStyle",
    "RecordedError",
    "Recorder",
    "RedisServer",
    "RedisServerError",
    "Reply",
    "ScriptCall",
    "ScriptExhaustedError",
    "ScriptReply",
    "ToolCallStyle",
    "areplay",
    "assert_aevents",
    "assert_events",
    "block_network",
    "record",
    "redis_server_binary",
    "replay",
    "split_tokens",
]
