"""Settings read from the environment: defaults that fit the database, explicit values win."""

from __future__ import annotations

import pytest
from agent_sessions.settings import DEFAULT_CONNECTION_BUDGET, Settings


@pytest.mark.parametrize("workers", [1, 2, 4, 7, 12, 16, 64])
def test_default_pool_keeps_all_workers_within_postgres_connection_limit(workers: int) -> None:
    """PostgreSQL allows 100 connections by default: one worker per core must still start."""
    settings = Settings.from_env({"AGENT_SESSIONS_WORKERS": str(workers)})
    assert settings.workers == workers
    assert 1 <= settings.db_pool_size <= 16
    assert settings.db_pool_size * workers <= DEFAULT_CONNECTION_BUDGET
    if workers <= 4:
        assert settings.db_pool_size == 16


def test_explicit_pool_size_wins() -> None:
    env = {"AGENT_SESSIONS_WORKERS": "12", "AGENT_SESSIONS_DB_POOL_SIZE": "30"}
    assert Settings.from_env(env).db_pool_size == 30
