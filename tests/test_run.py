"""`agent-sessions run` (what `make run` starts): serves REST and gRPC, then stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import psutil
import pytest
from agentsessions.v1 import session_service_pb2 as spb

from tests.support import client, free_port

ROOT = Path(__file__).resolve().parent.parent
CHILD_CANARY = "sk-child-canary-2d8a"


@pytest.mark.parametrize(
    ("command", "stop_signal", "to_group"),
    [
        (["agent-sessions", "run"], signal.SIGTERM, False),
        (["agent-sessions", "run"], signal.SIGINT, False),
        (["make", "--no-print-directory", "run"], signal.SIGTERM, False),
        # Ctrl-C in a terminal: SIGINT reaches make and every process of the group at once.
        (["make", "--no-print-directory", "run"], signal.SIGINT, True),
    ],
    ids=["run-sigterm", "run-sigint", "make-run-sigterm", "make-run-ctrl-c"],
)
def test_run_serves_then_stops_every_child(
    tmp_path: Path, command: list[str], stop_signal: signal.Signals, to_group: bool
) -> None:
    http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AGENT_SESSIONS_")},
        "AGENT_SESSIONS_DATA_DIR": str(tmp_path / "data"),
        "AGENT_SESSIONS_HTTP_PORT": str(http_port),
        "AGENT_SESSIONS_GRPC_PORT": str(grpc_port),
        "AGENT_SESSIONS_METRICS_PORT": str(metrics_port),
        "AGENT_SESSIONS_WORKERS": "2",
        # A secret of the service's own: Envoy and PostgreSQL must not inherit it.
        "AGENT_SESSIONS_MODEL_API_KEY": CHILD_CANARY,
    }
    if command[0] == "agent-sessions":
        command = [sys.executable, "-m", "agent_sessions.cli", *command[1:]]
    else:
        env.pop("MAKEFLAGS", None)
        env.pop("MAKELEVEL", None)
    run = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True
    )
    assert run.stdout is not None
    try:
        printed = []
        for line in run.stdout:
            printed.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        output = "".join(printed)
        assert f"http://127.0.0.1:{http_port}/api/agent-sessions" in output, output
        token = printed[printed.index("Dev token (sub=dev-user, 24 h):\n") + 1].strip()

        # REST without a token: 401 (the readiness signal); with the printed token: 200.
        base = f"http://127.0.0.1:{http_port}/api/agent-sessions"
        assert httpx.get(base).status_code == 401
        assert httpx.get(base, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        for port in (grpc_port, http_port):
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                c = client(channel, "dev-user")
                c.metadata = (("authorization", f"Bearer {token}"),)
                c.s("CreateSession", spb.CreateSessionRequest(session_id=f"p{port}"))
        # `run` serves the workers' metrics too, summed: both calls are counted.
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        created = (
            'grpc_server_handled_total{grpc_code="OK",grpc_method="CreateSession",'
            'grpc_service="agentsessions.v1.SessionService",grpc_type="unary"} 2.0'
        )
        assert created in metrics, metrics
        children = psutil.Process(run.pid).children(recursive=True)
        postgres = [
            p
            for p in psutil.process_iter(["cmdline"])
            if str(tmp_path) in " ".join(p.info["cmdline"] or [])
        ]
        # Two workers and Envoy (under make, also the run command), and the embedded PostgreSQL.
        assert len(children) >= 3 and postgres
        envoy = [p for p in children if "envoy" in " ".join(p.cmdline())]
        assert envoy
        for child in envoy + postgres:
            environ = child.environ()
            assert "PATH" in environ, child.cmdline()
            assert not [k for k in environ if k.startswith("AGENT_SESSIONS_")], child.cmdline()
            assert CHILD_CANARY not in " ".join(environ.values()), child.cmdline()

        if to_group:
            os.killpg(run.pid, stop_signal)
        else:
            run.send_signal(stop_signal)
        assert run.wait(60) == 0
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(
            p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in children + postgres
        ):
            time.sleep(0.2)
        alive = [
            p for p in children + postgres if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        ]
        assert alive == [], f"orphans left behind: {alive}"
        assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()  # data is kept
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        run.stdout.close()


def _start_run(env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    """`agent-sessions run` in a session of its own; returns once it printed its banner."""
    run = subprocess.Popen(
        [sys.executable, "-m", "agent_sessions.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    assert run.stdout is not None
    printed = []
    for line in run.stdout:
        printed.append(line)
        if line.startswith("Press Ctrl-C"):
            break
    if not (printed and printed[-1].startswith("Press Ctrl-C")):
        run.kill()
        raise AssertionError(f"run exited with {run.wait(30)}: {''.join(printed)}")
    return run, printed


@pytest.mark.parametrize("jwt_secret", ["", "configured-secret"], ids=["dev-secret", "set-secret"])
def test_run_with_a_database_url_and_a_fresh_data_dir(
    tmp_path: Path, database_url: str, jwt_secret: str
) -> None:
    """Defect 6.1: with a database URL, nothing else creates the data folder Envoy's config goes to."""
    http_port = free_port()
    data_dir = tmp_path / "fresh" / "data"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AGENT_SESSIONS_")},
        "AGENT_SESSIONS_DATABASE_URL": database_url,
        "AGENT_SESSIONS_DATA_DIR": str(data_dir),
        "AGENT_SESSIONS_HTTP_PORT": str(http_port),
        "AGENT_SESSIONS_GRPC_PORT": str(free_port()),
        "AGENT_SESSIONS_METRICS_PORT": str(free_port()),
        "AGENT_SESSIONS_WORKERS": "1",
    }
    if jwt_secret:
        env["AGENT_SESSIONS_JWT_SECRET"] = jwt_secret
    run, printed = _start_run(env)
    assert run.stdout is not None
    try:
        token = printed[printed.index("Dev token (sub=dev-user, 24 h):\n") + 1].strip()
        base = f"http://127.0.0.1:{http_port}/api/agent-sessions"
        assert httpx.get(base).status_code == 401
        assert httpx.get(base, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        children = psutil.Process(run.pid).children(recursive=True)
        assert len(children) >= 2  # the worker and Envoy

        run.send_signal(signal.SIGTERM)
        assert run.wait(60) == 0
        psutil.wait_procs(children, timeout=15)
        alive = [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert alive == [], f"orphans left behind: {alive}"
        assert not (data_dir / "postgres").exists()  # the URL's database, no embedded one
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        run.stdout.close()


def test_embedded_postgres_stops_even_after_a_user_was_killed(tmp_path: Path) -> None:
    """A run killed with SIGKILL never lets go of PostgreSQL; later runs must still stop it."""
    from agent_sessions.ops.postgres import start_postgres, stop_postgres

    _, handle = start_postgres(tmp_path)
    stop_postgres(handle)
    killed = subprocess.Popen([sys.executable, "-c", "pass"])
    killed.wait()
    # What the embedded-postgres library keeps after a user of the server was SIGKILLed.
    (tmp_path / "postgres" / ".handle_pids.json").write_text(json.dumps([killed.pid]))

    _, handle = start_postgres(tmp_path)
    postmaster = psutil.Process(handle.get_pid())
    stop_postgres(handle)
    try:
        postmaster.wait(15)
    except psutil.TimeoutExpired:
        postmaster.kill()
        raise AssertionError("PostgreSQL kept running after the last run stopped") from None


def test_run_with_a_model_endpoint_holds_a_real_conversation_over_rest_sse_and_grpc(
    tmp_path: Path, database_url: str
) -> None:
    """The model settings pointed at an OpenAI-compatible API (the fake) and an MCP server:
    `run` says which agent, model and tool servers serve, the agent calls the MCP tool, and
    REST, SSE and gRPC (direct and through Envoy) reach the model."""
    from agentsessions.v1 import resources_pb2 as rpb

    from tests.fakes.mcp_server import FakeMcpServer
    from tests.fakes.model_server import FakeModelServer, FakeToolCall, Step

    http_port, grpc_port = free_port(), free_port()
    with FakeModelServer() as fake, FakeMcpServer() as mcp:
        # The first turn calls the MCP server's tool; every later answer is plain text.
        fake.script(Step.tool_calls(FakeToolCall("call_1", "add", '{"a": 20, "b": 22}')))
        fake.always(Step.text(["Hello ", "from ", "the model."], usage=(12, 3)))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AGENT_SESSIONS_")},
            "AGENT_SESSIONS_DATABASE_URL": database_url,
            "AGENT_SESSIONS_DATA_DIR": str(tmp_path / "data"),
            "AGENT_SESSIONS_HTTP_PORT": str(http_port),
            "AGENT_SESSIONS_GRPC_PORT": str(grpc_port),
            "AGENT_SESSIONS_METRICS_PORT": str(free_port()),
            "AGENT_SESSIONS_WORKERS": "1",
            "AGENT_SESSIONS_AGENT": "openai",
            "AGENT_SESSIONS_MODEL": "tiny-chat",
            "AGENT_SESSIONS_MODEL_BASE_URL": fake.base_url,
            "AGENT_SESSIONS_MODEL_API_KEY": "sk-run-secret-7f2e",
            "AGENT_SESSIONS_MCP_SERVERS": json.dumps([{"name": "calc", "url": mcp.url}]),
        }
        run, printed = _start_run(env)
        assert run.stdout is not None
        try:
            output = "".join(printed)
            assert f"Agent: openai, model tiny-chat at {fake.base_url}" in output, output
            assert "tools from MCP servers calc" in output
            assert "sk-run-secret-7f2e" not in output
            token = printed[printed.index("Dev token (sub=dev-user, 24 h):\n") + 1].strip()
            headers = {"Authorization": f"Bearer {token}"}
            base = f"http://127.0.0.1:{http_port}/api/agent-sessions"
            body = {"session_id": "real-run", "messages": [{"role": "user", "content": "Hi"}]}
            unary = httpx.post(f"{base}/conversation", json=body, headers=headers, timeout=30)
            assert unary.status_code == 200, unary.text
            assert unary.json()["response"] == "Hello from the model."
            assert unary.json()["messages_count"] == 4  # user, tool call, result, reply
            assert mcp.tool_calls == ["add"]
            sse = httpx.post(f"{base}/conversation:stream", json=body, headers=headers, timeout=30)
            assert sse.status_code == 200 and sse.text.count('"delta"') == 3
            for port in (grpc_port, http_port):
                with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                    c = client(channel, "dev-user")
                    c.metadata = (("authorization", f"Bearer {token}"),)
                    reply = c.s(
                        "Conversation",
                        spb.ConversationRequest(
                            session_id="real-run",
                            messages=[spb.ConversationMessage(role=rpb.user, content="More")],
                        ),
                    )
                    assert reply.response == "Hello from the model."
            assert reply.messages_count == 10
            assert {r.model for r in fake.requests} == {"tiny-chat"}
            assert {r.authorization for r in fake.requests} == {"Bearer sk-run-secret-7f2e"}
            run.send_signal(signal.SIGTERM)
            assert run.wait(60) == 0
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
            run.stdout.close()
