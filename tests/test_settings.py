"""Settings read from the environment, and the start-up error when they do not fit the database."""

from __future__ import annotations

import pytest
from agent_sessions.agents import MockAgent
from agent_sessions.settings import DEFAULT_CONNECTION_BUDGET, Settings, SettingsError


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

    from agent_sessions.api import server as app
    from agent_sessions.db import engine

    from tests.support import free_port

    monkeypatch.setattr(engine, "POOL_OPEN_SECONDS", 1)
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


class _FailingStart(MockAgent):
    """An agent whose start fails (a tool server it cannot reach, say)."""

    async def start(self) -> None:
        raise OSError("cannot start")


@pytest.mark.parametrize("failure", ["agent start", "bind"])
def test_a_start_that_fails_closes_what_it_opened(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    """The pool start() opened is closed again when a later step fails."""
    import asyncio
    import dataclasses

    from agent_sessions.api import server as app

    opened = []
    real_open_pool = app.open_pool

    async def recording_open_pool(*args: object, **kwargs: object) -> object:
        pool = await real_open_pool(*args, **kwargs)  # type: ignore[arg-type]
        opened.append(pool)
        return pool

    monkeypatch.setattr(app, "open_pool", recording_open_pool)
    if failure == "bind":
        broken, agent = dataclasses.replace(settings, grpc_host="203.0.113.300"), None
    else:
        broken, agent = settings, _FailingStart()
    with pytest.raises((OSError, RuntimeError)):
        asyncio.run(app.start(broken, agent))
    assert len(opened) == 1
    assert opened[0].closed, f"the pool stayed open after the {failure} failed"


# -- the model-backed agent ---------------------------------------------------------

OPENAI = {"AGENT_SESSIONS_AGENT": "openai", "AGENT_SESSIONS_MODEL": "llama3.2"}
LOCAL = {**OPENAI, "AGENT_SESSIONS_MODEL_BASE_URL": "http://127.0.0.1:11434/v1"}


def test_without_agent_settings_the_mock_serves() -> None:
    settings = Settings.from_env({})
    assert settings.agent == "mock"
    assert (settings.model_base_url, settings.model_api_key, settings.model) == ("", "", "")
    assert settings.model_api == "chat_completions"
    assert settings.model_timeout == 60.0
    assert settings.model_max_retries == 2
    assert settings.model_max_calls == 10
    assert settings.history_window == 50
    assert settings.tracing is False


def test_agent_settings_are_read() -> None:
    settings = Settings.from_env(
        {
            **LOCAL,
            "AGENT_SESSIONS_AGENT": "OpenAI",
            "AGENT_SESSIONS_MODEL_BASE_URL": "https://models.internal:8443/v1/",
            "AGENT_SESSIONS_MODEL_API_KEY": "sk-abc",
            "AGENT_SESSIONS_MODEL_API": "responses",
            "AGENT_SESSIONS_MODEL_TIMEOUT": "2.5",
            "AGENT_SESSIONS_MODEL_MAX_RETRIES": "0",
            "AGENT_SESSIONS_MODEL_MAX_CALLS": "3",
            "AGENT_SESSIONS_HISTORY_WINDOW": "0",
            "AGENT_SESSIONS_TRACING": "true",
        }
    )
    assert settings.agent == "openai" and settings.model == "llama3.2"
    assert settings.model_base_url == "https://models.internal:8443/v1"
    assert settings.model_endpoint == "https://models.internal:8443/v1"
    assert settings.model_api_key == "sk-abc"
    assert settings.model_api == "responses"
    assert settings.model_timeout == 2.5
    assert (settings.model_max_retries, settings.model_max_calls) == (0, 3)
    assert settings.history_window == 0  # no history at all is allowed
    assert settings.tracing is True


def test_a_local_server_needs_no_key_and_openai_is_the_default_endpoint() -> None:
    assert Settings.from_env(LOCAL).model_api_key == ""
    settings = Settings.from_env({**OPENAI, "AGENT_SESSIONS_MODEL_API_KEY": "sk-abc"})
    assert settings.model_endpoint == "https://api.openai.com/v1"


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_tracing_switches_on(value: str) -> None:
    assert Settings.from_env({"AGENT_SESSIONS_TRACING": value}).tracing is True


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"AGENT_SESSIONS_AGENT": "gpt"}, "AGENT_SESSIONS_AGENT"),
        ({"AGENT_SESSIONS_AGENT": "openai"}, "AGENT_SESSIONS_MODEL"),
        (OPENAI, "AGENT_SESSIONS_MODEL_API_KEY"),  # OpenAI's endpoint without a key
        ({"AGENT_SESSIONS_MODEL_BASE_URL": "localhost:11434"}, "AGENT_SESSIONS_MODEL_BASE_URL"),
        ({"AGENT_SESSIONS_MODEL_BASE_URL": "ftp://host/v1"}, "AGENT_SESSIONS_MODEL_BASE_URL"),
        ({"AGENT_SESSIONS_MODEL_BASE_URL": "http://"}, "AGENT_SESSIONS_MODEL_BASE_URL"),
        ({"AGENT_SESSIONS_MODEL_BASE_URL": "http://h:port/v1"}, "AGENT_SESSIONS_MODEL_BASE_URL"),
        ({"AGENT_SESSIONS_MODEL_BASE_URL": "http://h/v1?x=1"}, "AGENT_SESSIONS_MODEL_BASE_URL"),
        ({"AGENT_SESSIONS_MODEL_API": "completions"}, "AGENT_SESSIONS_MODEL_API"),
        ({"AGENT_SESSIONS_MODEL_TIMEOUT": "0"}, "AGENT_SESSIONS_MODEL_TIMEOUT"),
        ({"AGENT_SESSIONS_MODEL_TIMEOUT": "-5"}, "AGENT_SESSIONS_MODEL_TIMEOUT"),
        ({"AGENT_SESSIONS_MODEL_TIMEOUT": "nan"}, "AGENT_SESSIONS_MODEL_TIMEOUT"),
        ({"AGENT_SESSIONS_MODEL_TIMEOUT": "1m"}, "AGENT_SESSIONS_MODEL_TIMEOUT"),
        ({"AGENT_SESSIONS_MODEL_MAX_RETRIES": "-1"}, "AGENT_SESSIONS_MODEL_MAX_RETRIES"),
        ({"AGENT_SESSIONS_MODEL_MAX_RETRIES": "many"}, "AGENT_SESSIONS_MODEL_MAX_RETRIES"),
        ({"AGENT_SESSIONS_MODEL_MAX_CALLS": "0"}, "AGENT_SESSIONS_MODEL_MAX_CALLS"),
        ({"AGENT_SESSIONS_HISTORY_WINDOW": "-1"}, "AGENT_SESSIONS_HISTORY_WINDOW"),
        ({"AGENT_SESSIONS_TRACING": "maybe"}, "AGENT_SESSIONS_TRACING"),
    ],
)
def test_a_bad_agent_setting_stops_the_start_naming_the_variable(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)
    assert str(raised.value).startswith(variable + " ")


def test_the_api_key_is_never_shown() -> None:
    key = "sk-NEVER-SHOWN-3b9d"
    settings = Settings.from_env({**LOCAL, "AGENT_SESSIONS_MODEL_API_KEY": key})
    assert key not in repr(settings) and key not in str(settings)
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**LOCAL, "AGENT_SESSIONS_MODEL_API_KEY": key[:8] + "\n " + key[8:]})
    assert "AGENT_SESSIONS_MODEL_API_KEY" in str(raised.value)
    assert key[:8] not in str(raised.value) and key[8:] not in str(raised.value)


def test_a_base_url_with_credentials_is_not_echoed() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"AGENT_SESSIONS_MODEL_BASE_URL": "ftp://user:hunter2@host/v1"})
    assert "hunter2" not in str(raised.value)


def test_the_models_callers_may_choose() -> None:
    assert Settings.from_env({}).allowed_models is None  # unset: any
    listed = Settings.from_env(
        {**LOCAL, "AGENT_SESSIONS_MODELS": " small-1b, large-70b ,", "AGENT_SESSIONS_MODEL": "d"}
    )
    assert listed.models == ("small-1b", "large-70b")
    assert listed.allowed_models == frozenset({"small-1b", "large-70b", "d"})
    assert Settings.from_env({"AGENT_SESSIONS_HISTORY_BYTES": "0"}).history_bytes == 0
    assert Settings.from_env({}).history_bytes == 1_048_576
    for bad in ({"AGENT_SESSIONS_MODELS": "a,b\x1bc"}, {"AGENT_SESSIONS_HISTORY_BYTES": "-1"}):
        with pytest.raises(SettingsError, match=next(iter(bad))):
            Settings.from_env(bad)


@pytest.mark.parametrize(
    "url",
    ["admin:hunter2@db.internal/app", "mysql://admin:hunter2@db.internal/app", "hunter2"],
)
def test_a_database_url_that_is_not_postgresql_is_refused_unechoed(url: str) -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL must be a postgresql://") as refused:
        Settings.from_env({"AGENT_SESSIONS_DATABASE_URL": url})
    assert "hunter2" not in str(refused.value)
    for good in ("postgresql://u:p@h/db", "postgres://h/db", "postgresql+psycopg://h/db"):
        assert Settings.from_env({"AGENT_SESSIONS_DATABASE_URL": good}).database_url == good
