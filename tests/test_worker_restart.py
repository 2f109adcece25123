"""A `serve` worker that dies is replaced while the other one serves on; workers that die in a
loop make the supervisor give up with a non-zero exit."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import psycopg
from agentsessions.v1 import message_service_pb2 as mpb
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb

from tests.served import Served, value, wait_for
from tests.support import channel_to, client

WRITERS = 4
RESTARTS = "agent_sessions_worker_restarts_total"
POOL = "agent_sessions_db_pool_connections"
# What gRPC says of a call whose connection broke under it.
BROKEN = ("Connection reset by peer", "Socket closed", "Broken pipe")


def workers(supervisor: int) -> list[int]:
    """The pids of the supervisor's worker processes (its children running `... cli worker`)."""
    try:
        children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    except OSError:
        return []
    found = []
    for pid in map(int, children):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # exited meanwhile
        if b"worker" in argv and b"agent_sessions.cli" in argv:
            found.append(pid)
    return found


@dataclass
class Writers:
    """Threads appending messages back to back, each to a session of its own, over a channel of
    its own. A call that fails UNAVAILABLE (it was in flight on the killed worker: its connection
    broke) is sent again with the same request_id, as the service's clients do, so it stores
    once; every other failure is recorded as one."""

    port: int
    acknowledged: dict[str, int] = field(default_factory=dict)  # session: messages stored
    # When each UNAVAILABLE came, and what it said.
    unavailable: list[tuple[float, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        with channel_to(self.port) as channel:
            user = client(channel)
            session = f"restart-{uuid.uuid4().hex[:8]}"
            user.s("CreateSession", spb.CreateSessionRequest(session_id=session))
            stored = 0
            while not self.stop.is_set():
                request = mpb.CreateMessageRequest(
                    session_id=session,
                    role=rpb.user,
                    content=f"m{stored}",
                    request_id=str(uuid.uuid4()),
                )
                while True:
                    try:
                        # wait_for_ready: a call made while the channel reconnects waits for
                        # the connection rather than failing at once.
                        user.m("CreateMessage", request, wait_for_ready=True)
                        break
                    except grpc.RpcError as exc:
                        with self.lock:
                            if exc.code() != grpc.StatusCode.UNAVAILABLE:
                                self.failures.append(f"{exc.code()}: {exc.details()}")
                                return
                            self.unavailable.append((time.monotonic(), exc.details() or ""))
                stored += 1
                with self.lock:
                    self.acknowledged[session] = stored

    def count(self) -> int:
        with self.lock:
            return sum(self.acknowledged.values())


def stored(db: psycopg.Connection[Any], sessions: list[str]) -> dict[str, tuple[int, int]]:
    """Per session: messages stored, and distinct contents among them."""
    rows = db.execute(
        "SELECT s.session_id, count(m.id), count(DISTINCT m.content) FROM agent_sessions s "
        "JOIN session_messages m ON m.session_uuid = s.id WHERE s.session_id = ANY(%s) "
        "GROUP BY s.session_id",
        (sessions,),
    ).fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def test_a_killed_worker_is_replaced_while_the_other_serves(
    database_url: str, tmp_path: Path, db: psycopg.Connection[Any]
) -> None:
    with Served(database_url, tmp_path / "serve.log") as served:
        assert served.process is not None
        supervisor = served.process.pid
        original = wait_for(lambda: len(found := workers(supervisor)) == 2 and found)
        assert original and len(original) == 2, original
        writers = Writers(served.port)
        threads = [threading.Thread(target=writers.run) for _ in range(WRITERS)]
        for thread in threads:
            thread.start()
        try:
            assert wait_for(lambda: writers.count() >= 40), "the writers did not get going"

            os.kill(original[0], signal.SIGKILL)
            killed_at, before = time.monotonic(), writers.count()
            kills = [killed_at]
            # Writes go on through the other worker meanwhile.
            assert wait_for(lambda: writers.count() >= before + 40, timeout=5)
            replaced = wait_for(
                lambda: (
                    len(found := workers(supervisor)) == 2 and original[0] not in found and found
                ),  # fmt: skip
                timeout=10,
            )
            assert replaced and original[1] in replaced, replaced
            assert time.monotonic() - killed_at < 5, "no replacement within 5 s"
            (replacement,) = set(replaced) - set(original)
            assert wait_for(lambda: value(served.samples(), RESTARTS) == 1)
            # The replacement serves: wait until it listens on the port, then kill the other
            # original worker. Until that one's replacement starts (1 s later:
            # the second death in a row), the first replacement alone takes the writes.
            assert wait_for(lambda: _listening(replacement), timeout=15)
            # The dead worker's gauges left the sums (its files are gone): two pools of 16.
            metrics_dir = Path(_environ(replacement)["PROMETHEUS_MULTIPROC_DIR"])
            assert list(metrics_dir.glob(f"counter_{original[0]}.db"))  # its counts stay
            assert not list(metrics_dir.glob(f"gauge_live*_{original[0]}.db"))
            assert list(metrics_dir.glob(f"gauge_livesum_{replacement}.db"))
            time.sleep(1.5)  # the replacement's probe has set its pool gauge
            assert value(served.samples(), POOL) == 32
            os.kill(original[1], signal.SIGKILL)
            kills.append(time.monotonic())
            alone_from, progress = writers.count(), 0
            others = (replacement, *original)
            while not any(p not in others and _listening(p) for p in workers(supervisor)):
                progress = writers.count() - alone_from
                time.sleep(0.01)
            assert progress >= 20, f"{progress} writes while the replacement served alone"
            assert wait_for(lambda: len(workers(supervisor)) == 2, timeout=10)
            assert wait_for(lambda: value(served.samples(), RESTARTS) == 2)
        finally:
            writers.stop.set()
            for thread in threads:
                thread.join(30)

    assert not writers.failures, writers.failures
    # Only calls on a killed worker's connections failed: transport failures (the server sent no
    # status) right after a kill; each stored once, through its retry with the same request_id.
    assert 0 < len(writers.unavailable) <= 4 * WRITERS, writers.unavailable
    for at, details in writers.unavailable:
        assert any(0 <= at - kill < 1.0 for kill in kills), (at, details, kills)
        assert any(broken in details for broken in BROKEN), details
    assert stored(db, list(writers.acknowledged)) == {
        session: (count, count) for session, count in writers.acknowledged.items()
    }
    log = (tmp_path / "serve.log").read_text()
    assert f"pid {original[0]} exited with -9; starting another in 0.5 s" in log, log
    assert f"pid {original[1]} exited with -9; starting another in 1 s" in log, log
    assert "Traceback" not in log, log


def _environ(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(p.decode().split("=", 1) for p in pairs if b"=" in p)


def _listening(pid: int) -> bool:
    """Whether the process has a listening TCP socket (its gRPC port)."""
    sockets = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                sockets.add(target[len("socket:[") : -1])
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in sockets:  # 0A: LISTEN
                return True
    return False


def test_workers_dying_in_a_loop_make_serve_give_up(database_url: str, tmp_path: Path) -> None:
    """Each worker is killed as soon as it shows up, as a worker that crashes at every start
    would die: the fifth death within a minute stops `serve` with exit status 1."""
    served = Served(database_url, tmp_path / "serve.log")
    served.__enter__()
    assert served.process is not None
    killed: set[int] = set()
    try:
        deadline = time.monotonic() + 40
        while served.process.poll() is None:
            assert time.monotonic() < deadline, "serve did not give up"
            for pid in set(workers(served.process.pid)) - killed:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            time.sleep(0.02)
    finally:
        if served.process.poll() is None:
            served.process.kill()
        code = served.process.wait(30)
    assert code == 1
    # The two first workers die together, and so do their replacements (0.5 s and 1 s later);
    # the first of the next two (2 s and 4 s later) dies fifth: the one still waiting to start
    # never does.
    assert len(killed) == 5, killed
    log = (tmp_path / "serve.log").read_text()
    assert "5 exits within 60 s, so it would only die again; giving up" in log, log
    for delay in ("0.5 s", "1 s", "2 s", "4 s"):
        assert f"starting another in {delay}" in log, log
