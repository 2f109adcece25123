"""The TypeScript client (clients/typescript): its node tests, run against this suite's live server
and Envoy, and against a second server (with its own Envoy) whose scripted agent calls tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_sessions.ops.health import wait_rest_ready
from agent_sessions.settings import Settings

from tests.clients.agents import ToolsAgent
from tests.conftest import start_envoy
from tests.support import ThreadServer, token

CLIENT = Path(__file__).resolve().parent.parent / "clients" / "typescript"


def npm() -> str:
    found = shutil.which("npm")
    assert found, (
        "npm is required to test the TypeScript client in clients/typescript: install Node.js 20+ "
        "(with npm) and run the tests again"
    )
    return found


def run(command: list[str], env: dict[str, str], timeout: float) -> None:
    result = subprocess.run(
        command,
        cwd=CLIENT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"`{' '.join(command[1:])}` in clients/typescript exited {result.returncode}:\n"
        f"{result.stdout}"
    )


def installed() -> bool:
    """Whether node_modules exists and is at least as new as package-lock.json."""
    marker = CLIENT / "node_modules" / ".package-lock.json"
    lock = CLIENT / "package-lock.json"
    return marker.is_file() and marker.stat().st_mtime >= lock.stat().st_mtime


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
    executable = npm()
    tools_grpc, tools_http = tools_stack
    env = {
        **os.environ,
        "AGENT_SESSIONS_GRPC_URL": f"http://127.0.0.1:{server_port}",
        "AGENT_SESSIONS_ENVOY_URL": f"http://127.0.0.1:{rest_port}",
        "AGENT_SESSIONS_TOOLS_GRPC_URL": f"http://127.0.0.1:{tools_grpc}",
        "AGENT_SESSIONS_TOOLS_ENVOY_URL": f"http://127.0.0.1:{tools_http}",
        "AGENT_SESSIONS_TOKEN": token(f"ts-{uuid.uuid4().hex[:8]}"),
        "AGENT_SESSIONS_OTHER_TOKEN": token(f"ts-other-{uuid.uuid4().hex[:8]}"),
        "NO_COLOR": "1",
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }
    if not installed():
        run([executable, "ci", "--loglevel=error"], env, timeout=600)
    run([executable, "test"], env, timeout=600)
