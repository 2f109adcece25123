"""SIGTERM to `serve`: no new calls, running turns finish within AGENT_SESSIONS_DRAIN_SECONDS and
are stored; a turn still running after it is cancelled and stores nothing; `serve` exits 0."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import psycopg
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb

from tests.fakes.model_server import FakeModelServer, Step
from tests.served import Served, wait_for
from tests.support import channel_to, client, failure_of

pytest_plugins = ["tests.fakes.fixtures"]

PIECE_SECONDS = 0.05


def _settings(fake: FakeModelServer, drain: float) -> dict[str, str]:
    """The model agent on the fake model API, and the drain's length."""
    return {
        "AGENT_SESSIONS_AGENT": "openai",
        "AGENT_SESSIONS_MODEL_BASE_URL": fake.base_url,
        "AGENT_SESSIONS_MODEL_API_KEY": "drain-key",
        "AGENT_SESSIONS_MODEL": "drain-model",
        "AGENT_SESSIONS_MODEL_MAX_RETRIES": "0",
        "AGENT_SESSIONS_DRAIN_SECONDS": str(drain),
    }


def _served(database_url: str, log: Path, fake: FakeModelServer, drain: float) -> Served:
    return Served(database_url, log, **_settings(fake, drain))


class Turn(threading.Thread):
    """One Conversation call (a whole turn), in a thread: its reply or its failure."""

    def __init__(self, port: int, session_id: str) -> None:
        super().__init__()
        self.port, self.session_id = port, session_id
        self.reply: Any = None
        self.error: grpc.RpcError | None = None

    def run(self) -> None:
        with channel_to(self.port) as channel:
            user = client(channel, "drain-user")
            request = spb.ConversationRequest(
                session_id=self.session_id,
                messages=[spb.ConversationMessage(role=rpb.user, content="Take your time")],
            )
            try:
                self.reply = user.sessions.Conversation(request, metadata=user.metadata, timeout=60)
            except grpc.RpcError as exc:
                self.error = exc


def _start_turn_then_sigterm(served: Served, fake: FakeModelServer, session_id: str) -> Turn:
    """Starts a turn, waits until its model request is being answered, then sends SIGTERM."""
    turn = Turn(served.port, session_id)
    turn.start()
    deadline = time.monotonic() + 20
    while not fake.requests:
        assert time.monotonic() < deadline, "the turn's model request never came"
        time.sleep(0.01)
    time.sleep(0.2)  # a few pieces of the reply are out
    assert served.process is not None
    served.process.send_signal(signal.SIGTERM)
    return turn


def _refused(port: int) -> bool:
    """Whether a new call is refused (the server takes no new calls) rather than served."""
    with channel_to(port) as channel:
        try:
            user = client(channel)
            user.sessions.ListSessions(spb.ListSessionsRequest(), metadata=user.metadata, timeout=2)
        except grpc.RpcError as exc:
            return bool(failure_of(exc).code == grpc.StatusCode.UNAVAILABLE)
    return False


def _stored(db: psycopg.Connection[Any], session_id: str) -> list[str]:
    rows = db.execute(
        "SELECT m.role FROM agent_sessions s JOIN session_messages m ON m.session_uuid = s.id "
        "WHERE s.session_id = %s ORDER BY m.seq",
        (session_id,),
    ).fetchall()
    sessions = db.execute(
        "SELECT count(*) FROM agent_sessions WHERE session_id = %s", (session_id,)
    ).fetchone()
    assert sessions is not None
    return [f"session x{sessions[0]}", *(row[0] for row in rows)]


def test_a_turn_running_at_sigterm_finishes_and_is_stored(
    database_url: str, tmp_path: Path, model_server: FakeModelServer, db: psycopg.Connection[Any]
) -> None:
    session_id = f"drain-{uuid.uuid4().hex[:8]}"
    # A 7 s reply: longer than the fixed 5 s the server used to give calls in flight.
    model_server.script(Step.slow(pieces=140, delay=PIECE_SECONDS))
    served = _served(database_url, tmp_path / "serve.log", model_server, drain=20)
    with served:
        turn = _start_turn_then_sigterm(served, model_server, session_id)
        signalled = time.monotonic()
        # Once the supervisor has passed SIGTERM on, the workers take no new calls.
        assert wait_for(lambda: _refused(served.port), timeout=3), "new calls are still served"
        assert served.process is not None
        assert served.process.wait(30) == 0
        exited = time.monotonic()
        turn.join(10)
    assert turn.error is None, turn.error
    assert turn.reply.response == "tick " * 140
    assert _stored(db, session_id) == ["session x1", "user", "assistant"]
    assert 6.0 < exited - signalled < 15, exited - signalled


def test_a_turn_still_running_after_the_drain_is_cancelled_and_stores_nothing(
    database_url: str, tmp_path: Path, model_server: FakeModelServer, db: psycopg.Connection[Any]
) -> None:
    session_id = f"drain-{uuid.uuid4().hex[:8]}"
    model_server.script(Step.slow(pieces=400, delay=PIECE_SECONDS))  # a 20 s reply
    served = _served(database_url, tmp_path / "serve.log", model_server, drain=1)
    with served:
        turn = _start_turn_then_sigterm(served, model_server, session_id)
        signalled = time.monotonic()
        assert served.process is not None
        assert served.process.wait(30) == 0
        exited = time.monotonic()
        turn.join(10)
    assert turn.error is not None and turn.reply is None
    assert model_server.requests[-1].disconnected.wait(5), "the model request went on"
    assert _stored(db, session_id) == ["session x0"]
    # The drain's 1 s, then the cancellation and the closing of the pool.
    assert 1.0 <= exited - signalled < 4, exited - signalled


def test_the_drain_ends_what_at_drain_names_at_once(settings: Any) -> None:
    """Hooks for calls the drain should end at once (not let run through it) run as it begins."""
    import dataclasses

    from tests.support import ThreadServer

    ended: list[float] = []

    async def end_watches() -> None:
        ended.append(time.monotonic())

    async def failing() -> None:
        raise RuntimeError("a hook that fails must not stop the others or the drain")

    server = ThreadServer(dataclasses.replace(settings, grpc_port=0))
    with server:
        server._running.at_drain.extend([failing, end_watches])
        stopping = time.monotonic()
    assert len(ended) == 1 and ended[0] - stopping < 0.5


def test_run_keeps_envoy_until_its_workers_drained(
    database_url: str, tmp_path: Path, model_server: FakeModelServer, db: psycopg.Connection[Any]
) -> None:
    """Under `run`, a REST turn in flight at SIGTERM is answered through Envoy: the workers drain
    first, and Envoy, which carries their answers, stops after them."""
    import os
    import subprocess
    import sys

    import httpx

    from tests.support import SECRET, free_port, token
    from tests.test_run import ROOT

    http_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AGENT_SESSIONS_")},
        **_settings(model_server, drain=20),
        "AGENT_SESSIONS_DATABASE_URL": database_url,
        "AGENT_SESSIONS_JWT_SECRET": SECRET,
        "AGENT_SESSIONS_DATA_DIR": str(tmp_path / "data"),
        "AGENT_SESSIONS_HTTP_PORT": str(http_port),
        "AGENT_SESSIONS_GRPC_PORT": str(free_port()),
        "AGENT_SESSIONS_METRICS_PORT": "0",
        "AGENT_SESSIONS_WORKERS": "2",
    }
    model_server.script(Step.slow(pieces=60, delay=PIECE_SECONDS))  # a 3 s reply
    session_id = f"drain-run-{uuid.uuid4().hex[:8]}"
    replies: list[httpx.Response] = []

    def rest_turn() -> None:
        replies.append(
            httpx.post(
                f"http://127.0.0.1:{http_port}/api/agent-sessions/conversation",
                json={"session_id": session_id, "messages": [{"role": "user", "content": "Hi"}]},
                headers={"Authorization": f"Bearer {token('drain-run-user')}"},
                timeout=60,
            )
        )

    with (tmp_path / "run.log").open("wb") as log:
        run = subprocess.Popen(
            [sys.executable, "-m", "agent_sessions.cli", "run"],
            env=env, stdout=subprocess.PIPE, stderr=log, cwd=ROOT, text=True,
        )  # fmt: skip
    assert run.stdout is not None
    try:
        for line in run.stdout:
            if line.startswith("Press Ctrl-C"):
                break
        turn = threading.Thread(target=rest_turn)
        turn.start()
        deadline = time.monotonic() + 20
        while not model_server.requests:
            assert time.monotonic() < deadline, "the turn's model request never came"
            time.sleep(0.01)
        run.send_signal(signal.SIGTERM)
        assert run.wait(40) == 0
        turn.join(10)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        run.stdout.close()
    assert [r.status_code for r in replies] == [200], [r.text for r in replies]
    assert replies[0].json()["response"] == "tick " * 60
    assert _stored(db, session_id) == ["session x1", "user", "assistant"]
