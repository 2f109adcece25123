"""The supervisor on its own, with small child processes: order, exit status, signals, no orphan."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from agent_sessions.ops.supervisor import HANDLED_SIGNALS, Restart, Supervisor

# A child that notes when it is ready and when SIGTERM stops it (or, with "stubborn", ignores it).
CHILD = """
import pathlib, signal, sys, time
log, name = pathlib.Path(sys.argv[1]), sys.argv[2]
def note(line):
    with log.open("a") as f:
        f.write(line + "\\n")
def stop(*_):
    note("stopped " + name)
    sys.exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN if name == "stubborn" else stop)
note("ready " + name)
while True:
    time.sleep(1)
"""


@pytest.fixture(autouse=True)
def _restore_signal_handlers() -> Iterator[None]:
    """A supervisor leaves its signals ignored (its process is exiting); this one is pytest."""
    saved = {sig: signal.getsignal(sig) for sig in HANDLED_SIGNALS}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def child(log: Path, name: str) -> list[str]:
    return [sys.executable, "-c", CHILD, str(log), name]


async def ready(log: Path, *names: str) -> None:
    """Until each named child has installed its SIGTERM handler."""
    await asyncio.to_thread(_wait_ready, log, names)


def _wait_ready(log: Path, names: tuple[str, ...]) -> None:
    deadline = time.monotonic() + 30
    # Each name as many times as it is given: the processes of one spawn share a name.
    while not log.exists() or any(
        log.read_text().splitlines().count(f"ready {n}") < names.count(n) for n in names
    ):
        assert time.monotonic() < deadline, f"not ready: {names}"
        time.sleep(0.05)


def note(log: Path, line: str) -> None:
    with log.open("a") as f:
        f.write(line + "\n")


def stops(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.startswith("stopped")]


def test_stops_in_reverse_start_order_and_the_resource_last(tmp_path: Path) -> None:
    log = tmp_path / "log"

    async def scenario() -> int:
        async with Supervisor() as supervisor:
            handle = await supervisor.resource(
                "database", lambda: "db", lambda h: note(log, f"stopped {h}")
            )
            assert handle == "db"
            await supervisor.spawn("workers", child(log, "worker"), count=2)
            await supervisor.spawn("proxy", child(log, "proxy"))
            await ready(log, "worker", "worker", "proxy")
            supervisor.request_stop("the test is done")
            await supervisor.wait()
        return supervisor.exit_status

    assert asyncio.run(scenario()) == 0
    assert stops(log) == ["stopped proxy", "stopped worker", "stopped worker", "stopped db"]


def test_a_child_that_exits_stops_everything_with_status_1(tmp_path: Path) -> None:
    log = tmp_path / "log"

    async def scenario() -> tuple[int, int | None]:
        async with Supervisor() as supervisor:
            [worker] = await supervisor.spawn("worker", child(log, "worker"))
            await ready(log, "worker")
            await supervisor.spawn("short-lived", [sys.executable, "-c", "pass"])
            await supervisor.wait()
        return supervisor.exit_status, worker.returncode

    assert asyncio.run(scenario()) == (1, 0)
    assert stops(log) == ["stopped worker"]


def test_a_restartable_child_that_dies_is_replaced_and_the_others_run_on(tmp_path: Path) -> None:
    log = tmp_path / "log"
    exits: list[tuple[int, int]] = []
    restarts: list[None] = []

    async def scenario() -> tuple[int, int, list[int], list[int | None]]:
        policy = Restart(first_delay=0.05, on_exit=lambda *e: exits.append(e),
                         on_restart=lambda: restarts.append(None))  # fmt: skip
        async with Supervisor() as supervisor:
            workers = await supervisor.spawn(
                "worker", child(log, "worker"), count=2, restart=policy
            )
            await ready(log, "worker", "worker")
            first, second = list(workers)
            first.kill()
            await ready(log, "worker", "worker", "worker")  # the replacement
            supervisor.request_stop("the test is done")
            await supervisor.wait()
        pids = [p.pid for p in workers]
        return supervisor.exit_status, first.pid, pids, [p.returncode for p in workers]

    status, killed, pids, codes = asyncio.run(scenario())
    assert status == 0
    assert exits == [(killed, -signal.SIGKILL)] and len(restarts) == 1
    # The unit now holds the survivor and the replacement, both stopped by SIGTERM.
    assert killed not in pids and len(pids) == 2 and codes == [0, 0]
    assert stops(log) == ["stopped worker", "stopped worker"]


def test_children_that_die_in_a_loop_stop_everything_with_status_1(tmp_path: Path) -> None:
    log = tmp_path / "log"
    exits: list[tuple[int, int]] = []
    restarts: list[None] = []

    async def scenario() -> int:
        policy = Restart(first_delay=0.01, limit=3, on_exit=lambda *e: exits.append(e),
                         on_restart=lambda: restarts.append(None))  # fmt: skip
        async with Supervisor() as supervisor:
            await supervisor.spawn("steady", child(log, "steady"))
            await ready(log, "steady")
            crash = [sys.executable, "-c", "import sys; sys.exit(3)"]
            await supervisor.spawn("crasher", crash, restart=policy)
            await supervisor.wait()
        return supervisor.exit_status

    assert asyncio.run(scenario()) == 1
    assert [code for _, code in exits] == [3, 3, 3] and len(restarts) == 2
    assert stops(log) == ["stopped steady"]


def test_draining_children_are_stopped_first(tmp_path: Path) -> None:
    """Servers that drain go before the proxy in front of them, which carries their answers."""
    log = tmp_path / "log"

    async def scenario() -> int:
        async with Supervisor() as supervisor:
            await supervisor.spawn("worker", child(log, "worker"), drain=True, stop_timeout=5)
            await supervisor.spawn("proxy", child(log, "proxy"))
            await ready(log, "worker", "proxy")
            supervisor.request_stop("the test is done")
        return supervisor.exit_status

    assert asyncio.run(scenario()) == 0
    assert stops(log) == ["stopped worker", "stopped proxy"]


def test_a_signal_during_start_up_stops_what_was_started_and_exits_0(tmp_path: Path) -> None:
    log = tmp_path / "log"
    reached: list[str] = []

    async def scenario() -> int:
        async with Supervisor() as supervisor:
            await supervisor.spawn("worker", child(log, "worker"))
            await ready(log, "worker")
            asyncio.get_running_loop().call_later(0.2, os.kill, os.getpid(), signal.SIGTERM)
            await supervisor.guard(asyncio.sleep(60))  # a readiness wait that never ends
            reached.append("after the wait")
            await supervisor.spawn("proxy", child(log, "proxy"))
        return supervisor.exit_status

    started = time.monotonic()
    assert asyncio.run(scenario()) == 0
    assert time.monotonic() - started < 30
    assert reached == []
    assert stops(log) == ["stopped worker"]


def test_a_child_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    log = tmp_path / "log"

    async def scenario() -> int | None:
        async with Supervisor(stop_timeout=0.5) as supervisor:
            [stubborn] = await supervisor.spawn("stubborn", child(log, "stubborn"))
            await ready(log, "stubborn")
            supervisor.request_stop("the test is done")
        return stubborn.returncode

    assert asyncio.run(scenario()) == -signal.SIGKILL


SUPERVISED_SLEEPER = """
import asyncio, sys
from agent_sessions.ops.supervisor import Supervisor

async def main():
    async with Supervisor() as supervisor:
        [sleeper] = await supervisor.spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
        print(sleeper.pid, flush=True)
        await supervisor.wait()

asyncio.run(main())
"""


def test_children_die_with_a_supervisor_killed_by_sigkill() -> None:
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISED_SLEEPER], stdout=subprocess.PIPE, text=True
    )
    assert supervisor.stdout is not None
    try:
        sleeper = psutil.Process(int(supervisor.stdout.readline()))
        time.sleep(0.5)  # past the point where the child asked Linux for its parent-death signal
        supervisor.kill()
        supervisor.wait()
        deadline = time.monotonic() + 15
        while sleeper.is_running() and sleeper.status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the child outlived its SIGKILLed supervisor"
            time.sleep(0.1)
    finally:
        supervisor.kill()
        supervisor.wait()
        supervisor.stdout.close()
