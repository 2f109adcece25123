"""Fixtures of the client tests: addresses of the live service, tokens, a scripted server, and
servers whose agent calls tools (a scripted agent, and the OpenAI agent on a fake model API)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from agent_sessions.settings import Settings
from agent_sessions_client import Client

from tests.clients.agents import ToolsAgent
from tests.clients.fake_server import FakeServer
from tests.fakes.model_server import FakeModelServer
from tests.support import ThreadServer, openai_settings, token

MODEL_KEY = "sk-clients-test-key"
DEFAULT_MODEL = "fake-model"


@pytest.fixture(params=["direct", "envoy"])
def address(request: pytest.FixtureRequest) -> str:
    """The live service: the gRPC port itself, then Envoy's port (gRPC passes through it)."""
    port_fixture = "server_port" if request.param == "direct" else "rest_port"
    return f"127.0.0.1:{request.getfixturevalue(port_fixture)}"


@pytest.fixture
def user_token() -> str:
    """A JWT of a fresh user, so tests never see each other's data."""
    return token(f"client-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def client(address: str, user_token: str) -> Iterator[Client]:
    with Client(address, token=user_token, timeout=20) as c:
        yield c


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    """A real grpc.aio server whose answers each test scripts (failures, delays)."""
    with FakeServer() as server:
        yield server


@pytest.fixture(scope="session")
def tools_agent() -> ToolsAgent:
    return ToolsAgent()


@pytest.fixture(scope="session")
def tools_server(settings: Settings, tools_agent: ToolsAgent) -> Iterator[ThreadServer]:
    """A real server (PostgreSQL included) whose agent is the scripted `ToolsAgent`."""
    with ThreadServer(settings, tools_agent) as running:
        yield running


@pytest.fixture
def tools_address(tools_server: ThreadServer, tools_agent: ToolsAgent) -> Iterator[str]:
    yield f"127.0.0.1:{tools_server.port}"
    assert tools_agent.reset() == 0, "the test left scripted turns unused"


@pytest.fixture(scope="session")
def model_api() -> Iterator[FakeModelServer]:
    """A fake OpenAI-compatible model API (a real HTTP server), scripted per test."""
    with FakeModelServer() as fake:
        yield fake
        assert not fake.errors, f"the fake model server failed: {fake.errors!r}"


@pytest.fixture(scope="session")
def openai_server(settings: Settings, model_api: FakeModelServer) -> Iterator[ThreadServer]:
    """A real server whose agent is the service's OpenAI Agents SDK agent, on the fake API."""
    configured = openai_settings(settings, model_api.base_url, MODEL_KEY, DEFAULT_MODEL)
    with ThreadServer(configured) as running:
        yield running


@pytest.fixture
def openai_address(openai_server: ThreadServer, model_api: FakeModelServer) -> Iterator[str]:
    yield f"127.0.0.1:{openai_server.port}"
    left = model_api.remaining
    with model_api._lock:  # the fake has no public reset; the next test must start clean
        model_api._script.clear()
    assert left == 0, "the test left scripted model answers unused"
