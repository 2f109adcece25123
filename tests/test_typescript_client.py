"""The TypeScript client (clients/typescript): its node tests, run against this suite's live server
and Envoy, against a second server (with its own Envoy) whose scripted agent calls tools, and
against a third whose OpenAI agent streams slowly from the fake model API (live turns)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from agent_sessions.ops.health import wait_rest_ready
from agent_sessions.settings import Settings

from tests.clients.agents import ToolsAgent
from tests.conftest import start_envoy
from tests.fakes.model_server import FakeModelServer, Step
from tests.support import ThreadServer, openai_settings, token
from tests.typescript import ensure_installed, npm, run

# The pieces of every reply of the slow stack's model: `p0 `, `p1 `, … (40 ms apart).
SLOW_PIECES = 60


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


@pytest.fixture(scope="module")
def slow_stack(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, int]]:
    """A real server whose OpenAI agent answers every turn slowly from the fake model API (so a
    turn still runs while a test cuts, resumes or cancels it), and a real Envoy in front of it:
    (gRPC port, Envoy port)."""
    pieces = [f"p{i} " for i in range(SLOW_PIECES)]
    with FakeModelServer() as model:
        model.always(Step.text(pieces, delay=0.04))
        configured = openai_settings(settings, model.base_url, "sk-ts-slow", "fake-model")
        with ThreadServer(configured) as server:
            process, http_port = start_envoy(tmp_path_factory.mktemp("slow-envoy"), server.port)
            try:
                wait_rest_ready(http_port, process=process)
                yield server.port, http_port
            finally:
                process.terminate()
                process.wait(10)


def test_typescript_client(
    server_port: int,
    rest_port: int,
    tools_stack: tuple[int, int],
    slow_stack: tuple[int, int],
) -> None:
    """`npm test`: every call of the gRPC client (direct and through Envoy) and the REST helper,
    on the live service and, for tools and usage, on the tool-calling one; live turns (cut,
    resumed, cancelled, watched) on the slow one."""
    tools_grpc, tools_http = tools_stack
    slow_grpc, slow_http = slow_stack
    env = {
        "AGENT_SESSIONS_SLOW_GRPC_URL": f"http://127.0.0.1:{slow_grpc}",
        "AGENT_SESSIONS_SLOW_ENVOY_URL": f"http://127.0.0.1:{slow_http}",
        "AGENT_SESSIONS_SLOW_PIECES": str(SLOW_PIECES),
        "AGENT_SESSIONS_GRPC_URL": f"http://127.0.0.1:{server_port}",
        "AGENT_SESSIONS_ENVOY_URL": f"http://127.0.0.1:{rest_port}",
        "AGENT_SESSIONS_TOOLS_GRPC_URL": f"http://127.0.0.1:{tools_grpc}",
        "AGENT_SESSIONS_TOOLS_ENVOY_URL": f"http://127.0.0.1:{tools_http}",
        "AGENT_SESSIONS_TOKEN": token(f"ts-{uuid.uuid4().hex[:8]}"),
        "AGENT_SESSIONS_OTHER_TOKEN": token(f"ts-other-{uuid.uuid4().hex[:8]}"),
    }
    ensure_installed()
    run([npm(), "test"], env, timeout=600)
