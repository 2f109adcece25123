"""gRPC health of a real two-worker `serve`: NOT_SERVING while PostgreSQL is down and during
shutdown, SERVING again once PostgreSQL is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.served import Served, value
from tests.test_db_outage import Postgres
from tests.test_db_outage import postgres as postgres  # the fixture: a PostgreSQL of our own

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# The probe runs every second with a one-second limit; this leaves room for a loaded machine.
NOTICE_SECONDS = 10.0


@pytest.fixture
def served(postgres: Postgres, tmp_path: Path) -> Iterator[Served]:
    with Served(postgres.url, tmp_path / "serve.log", AGENT_SESSIONS_DB_POOL_SIZE="4") as running:
        yield running


def _statuses(port: int, channels: int = 8) -> set[int]:
    """The whole server's status as several connections see it (the kernel spreads them over
    both workers)."""
    seen = set()
    for _ in range(channels):
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            seen.add(stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status)
    return seen


def _until(port: int, status: int) -> float:
    """Seconds until every connection sees `status`; fails after NOTICE_SECONDS."""
    start = time.monotonic()
    while (seen := _statuses(port)) != {status}:
        assert time.monotonic() - start < NOTICE_SECONDS, seen
        time.sleep(0.1)
    return time.monotonic() - start


def test_not_serving_while_the_database_is_down_then_serving_again(
    served: Served, postgres: Postgres
) -> None:
    assert _statuses(served.port) == {SERVING}
    postgres.pg_ctl("-m", "fast", "stop")
    try:
        _until(served.port, NOT_SERVING)
        assert value(served.samples(), "agent_sessions_db_up") == 0
    finally:
        postgres.start()
    while not postgres.accepts_connections():
        time.sleep(0.05)
    _until(served.port, SERVING)
    assert value(served.samples(), "agent_sessions_db_up") == 1


def test_not_serving_during_shutdown(served: Served) -> None:
    assert served.process is not None
    with grpc.insecure_channel(f"127.0.0.1:{served.port}") as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(), timeout=30
        )
        assert next(watch).status == SERVING
        served.process.terminate()
        assert next(watch).status == NOT_SERVING
        watch.cancel()
