"""Settings read from the environment, and the start-up error when they do not fit the database."""

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


def test_a_pool_that_cannot_open_says_what_to_check(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No PostgreSQL on the configured port: start-up fails with the settings to look at."""
    import asyncio
    import dataclasses

    from agent_sessions import app

    from tests.support import free_port

    monkeypatch.setattr(app, "POOL_OPEN_SECONDS", 1)
    nowhere = dataclasses.replace(
        settings,
        database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/postgres?connect_timeout=1",
        db_pool_size=2,
    )
    with pytest.raises(RuntimeError) as raised:
        asyncio.run(app.start(nowhere))
    message = str(raised.value)
    assert "could not open 2 PostgreSQL connections in 1 s" in message
    assert "AGENT_SESSIONS_DATABASE_URL" in message and "AGENT_SESSIONS_DB_POOL_SIZE" in message
