"""`agent-sessions run`: embedded PostgreSQL (unless a URL is set), a dev secret, workers, Envoy."""

from __future__ import annotations

import functools
import logging
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent_sessions.agents.from_settings import tool_server_names
from agent_sessions.ops import envoy
from agent_sessions.ops.childenv import child_env
from agent_sessions.ops.health import wait_rest_ready_async
from agent_sessions.ops.postgres import start_postgres, stop_postgres
from agent_sessions.ops.supervisor import Supervisor
from agent_sessions.ops.workers import (
    describe_agent,
    migrate,
    start_workers,
    with_page_token_secret,
)
from agent_sessions.settings import Settings

log = logging.getLogger(__name__)

REST_STARTUP_SECONDS = 30


def dev_secret(data_dir: Path, name: str = "jwt-secret") -> str:
    """A development secret (the JWT one by default), generated once and kept beside the data
    (mode 0600)."""
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


async def run(settings: Settings) -> int:
    """Starts the whole stack, prints where it serves, and runs until a signal or a child's exit."""
    tool_server_names(settings)  # a bad AGENT_SESSIONS_MCP_SERVERS stops the start here
    if not settings.jwt_secret and settings.uses_hmac:
        settings = replace(settings, jwt_secret=dev_secret(settings.data_dir))
    # Without a key from the settings, page tokens get one of their own, kept like the JWT's.
    settings = with_page_token_secret(
        settings, functools.partial(dev_secret, settings.data_dir, "page-token-secret")
    )
    async with Supervisor() as supervisor:
        settings = await _start(supervisor, settings)
        _print_banner(settings)
        await supervisor.wait()
    return supervisor.exit_status


async def _start(supervisor: Supervisor, settings: Settings) -> Settings:
    if not settings.database_url:
        log.info("starting embedded PostgreSQL in %s", settings.data_dir / "postgres")
        url, _ = await supervisor.resource(
            "PostgreSQL", functools.partial(start_postgres, settings.data_dir), _stop_postgres
        )
        settings = replace(settings, database_url=url)
    await migrate(supervisor, settings.migration_url)
    await start_workers(supervisor, settings)
    config = envoy.write_config(
        settings.data_dir / "envoy.yaml",
        settings.http_port,
        settings.grpc_port,
        cors_origins=settings.cors_origins,
    )
    # Envoy needs none of the service's secrets: it gets none of the supervisor's environment.
    await supervisor.spawn("Envoy", envoy.command(config), env=child_env())
    await supervisor.guard(wait_rest_ready_async(settings.http_port, timeout=REST_STARTUP_SECONDS))
    return settings


def _stop_postgres(started: tuple[str, Any]) -> None:
    stop_postgres(started[1])


def _print_banner(settings: Settings) -> None:
    from agent_sessions.auth import mint_token

    print(f"REST:  http://127.0.0.1:{settings.http_port}/api/agent-sessions", flush=True)
    print(
        f"gRPC:  {settings.grpc_host}:{settings.grpc_port} (direct) and "
        f"127.0.0.1:{settings.http_port} (through Envoy)",
        flush=True,
    )
    print(f"Agent: {describe_agent(settings)}", flush=True)
    if settings.uses_hmac:
        token = mint_token(settings, "dev-user")
        print(f"Dev token (sub=dev-user, 24 h):\n  {token}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
