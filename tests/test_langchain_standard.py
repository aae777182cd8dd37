"""LangChain's own standard tests (``langchain-tests``) for lgstream's fake models.

The suite every LangChain integration runs: ``ChatModelUnitTests`` and
``ChatModelIntegrationTests`` for :class:`FakeChatModel` (its script answers
what each test asks), and the unit suite for ``ChatOllama`` pointed at
:class:`FakeOllamaServer`, so the fake server is what ChatOllama expects.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, ToolMessage
from langchain_ollama import ChatOllama
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from lgstream.testing import FakeChatModel, FakeOllamaServer, Reply, ScriptCall


def _value(schema: dict[str, Any], text: str) -> Any:
    """A value a schema accepts; strings carry the question's quoted words."""
    kind = schema.get("type")
    if kind == "integer":
        return 3
    if kind == "number":
        return 3.0
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return text


def _args(tool: dict[str, Any], question: str) -> dict[str, Any]:
    quoted = question.split("'")[1] if question.count("'") >= 2 else "cat"
    parameters = tool.get("function", tool).get("parameters", {})
    required = parameters.get("required", list(parameters.get("properties", {})))
    return {
        name: _value(spec, quoted)
        for name, spec in parameters.get("properties", {}).items()
        if name in required
    }


def answer(messages: list[BaseMessage], call: ScriptCall) -> Reply:
    """What the standard tests ask for: a tool call when tools are bound and no
    tool has answered yet, else a short text."""
    last = messages[-1]
    if call.tools and not isinstance(last, ToolMessage):
        names = call.tool_names
        choice = call.tool_choice
        name = choice if isinstance(choice, str) and choice in names else names[0]
        tool = call.tools[names.index(name)]
        return Reply(tool_calls=[{"name": name, "args": _args(dict(tool), last.text)}])
    if "json" in last.text.lower() or "joke" in last.text.lower():
        return Reply(text=json.dumps({"setup": "Why?", "punchline": "Because."}))
    return Reply(text="Hello! How can I help you today?")


class TestFakeChatModelUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return FakeChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"script": answer}

    @property
    def has_tool_choice(self) -> bool:
        return True


@pytest.fixture(scope="module")
def ollama_server() -> Iterator[FakeOllamaServer]:
    with FakeOllamaServer(models={"llama3.2": ["Hello!"]}) as server:
        yield server


class TestChatOllamaOnFakeServerUnit(ChatModelUnitTests):
    @pytest.fixture(autouse=True)
    def _server(self, ollama_server: FakeOllamaServer, request: pytest.FixtureRequest) -> None:
        self.url = ollama_server.url
        # The suite forbids overriding its tests; a known ChatOllama defect is marked here.
        if request.node.name == "test_standard_params_model_override":
            request.applymarker(
                pytest.mark.xfail(
                    strict=True,
                    reason="langchain-ollama 1.1 reports self.model, not a call's model=",
                )
            )

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ChatOllama

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "llama3.2", "base_url": getattr(self, "url", None)}


class TestFakeChatModelIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return FakeChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"script": answer}

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "fake-other"

    # Left skipped, by the suite's own switches: image, audio, PDF and Anthropic
    # inputs (a scripted model does not read them, so a pass would prove nothing)
    # and the VCR stream-time test (it times real HTTP against a cassette).


def _mark_async_tests(*classes: type) -> None:
    """Mark the suite's coroutine tests for pytest-asyncio (the project runs it in
    strict mode). ``pytest.mark`` marks the function in place, so the classes
    still override nothing (the suite's ``test_no_overrides_DO_NOT_OVERRIDE``)."""
    for cls in classes:
        for name in dir(cls):
            function = getattr(cls, name)
            if name.startswith("test_") and inspect.iscoroutinefunction(function):
                pytest.mark.asyncio(function)


_mark_async_tests(TestFakeChatModelIntegration)
