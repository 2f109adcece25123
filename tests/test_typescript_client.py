"""The TypeScript client (clients/typescript): its node tests, run against this suite's live server
and Envoy, and against a second server (with its own Envoy) whose scripted agent calls tools."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from agent_sessions.ops.health import wait_rest_ready
from agent_sessions.settings import Settings

from tests.clients.agents import ToolsAgent
from tests.conftest import start_envoy
from tests.support import ThreadServer, token
from tests.typescript import ensure_installed, npm, run


@pytest.fixture(scope="module")
def tools_stack(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, int]]:
    """A real server whose agent is the scripted `ToolsAgent`, and a real Envoy in front of it:
    (gRPC port, Envoy port)."""
    with ThreadServer(settings, ToolsAgent()) as server:
        process, http_port = start_envoy(tmp_path_factory.mktemp("tools-envoy"), server.port)
        try:
            wait_rest_ready(http_port, process=process)
            yield server.port, http_port
        finally:
            process.terminate()
            process.wait(10)


def test_typescript_client(server_port: int, rest_port: int, tools_stack: tuple[int, int]) -> None:
    """`npm test`: every call of the gRPC client (direct and through Envoy) and the REST helper,
    on the live service and, for tools and usage, on the tool-calling one."""
    tools_grpc, tools_http = tools_stack
    env = {
        "AGENT_SESSIONS_GRPC_URL": f"http://127.0.0.1:{server_port}",
        "AGENT_SESSIONS_ENVOY_URL": f"http://127.0.0.1:{rest_port}",
        "AGENT_SESSIONS_TOOLS_GRPC_URL": f"http://127.0.0.1:{tools_grpc}",
        "AGENT_SESSIONS_TOOLS_ENVOY_URL": f"http://127.0.0.1:{tools_http}",
        "AGENT_SESSIONS_TOKEN": token(f"ts-{uuid.uuid4().hex[:8]}"),
        "AGENT_SESSIONS_OTHER_TOKEN": token(f"ts-other-{uuid.uuid4().hex[:8]}"),
    }
    ensure_installed()
    run([npm(), "test"], env, timeout=600)
