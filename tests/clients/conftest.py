"""Fixtures of the client tests: addresses of the live service, tokens, and a scripted server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from agent_sessions_client import Client

from tests.clients.fake_server import FakeServer
from tests.support import token


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
