"""Reading what a client sends to a served graph, as hostile input: every way a
request can be wrong is a 4xx that says what was wrong, never a 500 or unbounded
memory."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from langchain_core.runnables import RunnableConfig
from starlette.requests import Request

__all__ = [
    "MAX_BODY",
    "MAX_DEPTH",
    "BadRequestError",
    "client_config",
    "parse_json",
    "read_json_body",
]

MAX_BODY: Final = 1_000_000
"""The default limit of a request body, in bytes (``create_app(max_body=)``)."""

MAX_DEPTH: Final = 100
"""How deeply a request's JSON may nest: deeper input is refused before a graph (or
``json``'s own recursion) sees it."""

# Client-settable config keys; callbacks and the like stay on the server.
CLIENT_CONFIG: Final = frozenset({"configurable", "tags", "metadata", "recursion_limit"})


class BadRequestError(Exception):
    """A request the server refuses: its HTTP status and a message for the client."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _depth(value: Any) -> int:
    """The nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(name: str, text: str) -> Any:
    """``text`` as JSON, or a 400 naming ``name``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadRequestError(f"{name} is not valid JSON: {error}") from None
    except RecursionError:
        raise BadRequestError(f"{name} nests deeper than {MAX_DEPTH} levels") from None
    if _depth(value) > MAX_DEPTH:
        raise BadRequestError(f"{name} nests deeper than {MAX_DEPTH} levels")
    return value


def _is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def read_json_body(request: Request, max_bytes: int) -> Any:
    """The request's JSON body (``{}`` if empty), refused with 415 unless it says it is
    JSON (a cross-site form or ``text/plain`` POST needs no CORS preflight: it must not
    start a run), 413 past ``max_bytes`` (checked as it arrives, chunked or not), 400
    if it is not UTF-8 or not JSON."""
    if not _is_json(request.headers.get("content-type", "")):
        raise BadRequestError(
            "send the body as JSON, with Content-Type: application/json", status=415
        )
    declared = request.headers.get("content-length")
    if (
        declared is not None
        and declared.isascii()
        and declared.isdigit()
        and (len(declared) > 18 or int(declared) > max_bytes)
    ):
        raise BadRequestError(_too_large(max_bytes), status=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise BadRequestError(_too_large(max_bytes), status=413)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequestError(f"the body is not UTF-8 (byte {error.start})") from None
    return parse_json("the body", text) if text.strip() else {}


def _too_large(max_bytes: int) -> str:
    return f"the body is larger than {max_bytes} bytes, this server's limit"


def client_config(value: Any) -> RunnableConfig | None:
    """A client's ``config``, checked field by field: only the keys a client may set,
    each of its type, and no LangGraph-internal ``configurable`` keys."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise BadRequestError("config must be a JSON object")
    unknown = sorted(set(value) - CLIENT_CONFIG)
    if unknown:
        raise BadRequestError(
            f"config keys {', '.join(unknown)} are not accepted"
            f" (only {', '.join(sorted(CLIENT_CONFIG))})"
        )
    configurable = value.get("configurable")
    if configurable is not None:
        if not isinstance(configurable, Mapping):
            raise BadRequestError("config.configurable must be a JSON object")
        internal = sorted(key for key in configurable if key.startswith("__"))
        if internal:
            raise BadRequestError(
                f"config.configurable keys {', '.join(internal)} are LangGraph-internal;"
                " a client may not set them"
            )
    tags = value.get("tags")
    if tags is not None and not (
        isinstance(tags, list) and all(isinstance(tag, str) for tag in tags)
    ):
        raise BadRequestError("config.tags must be a list of strings")
    metadata = value.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise BadRequestError("config.metadata must be a JSON object")
    limit = value.get("recursion_limit")
    if limit is not None and (type(limit) is not int or limit < 1):
        raise BadRequestError(f"config.recursion_limit must be a positive integer, got {limit!r}")
    return {key: item for key, item in value.items() if item is not None}  # type: ignore[return-value]
