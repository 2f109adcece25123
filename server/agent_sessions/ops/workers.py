"""The gRPC worker processes sharing one port, and `agent-sessions serve`, which supervises them."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import secrets
import sys
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from agent_sessions.agents.from_settings import tool_server_names
from agent_sessions.ops.health import wait_grpc_serving_async
from agent_sessions.ops.metrics_server import MULTIPROC_DIR, start_metrics, stop_metrics
from agent_sessions.ops.supervisor import Restart, Supervisor
from agent_sessions.settings import PREFIX, Settings

log = logging.getLogger(__name__)

SUPERVISOR_PID = PREFIX + "SUPERVISOR_PID"
STARTUP_SECONDS = 60
# Beyond a worker's drain: its last calls' cancellation and the closing of its pool and agents.
STOP_MARGIN_SECONDS = 10.0


def worker_env(settings: Settings, metrics_dir: str = "") -> dict[str, str]:
    """The environment of a worker: the settings `run` may have filled in, who supervises it,
    and where it keeps its metrics (prometheus-client's multiprocess mode)."""
    env = dict(os.environ)
    env.pop(MULTIPROC_DIR, None)
    if metrics_dir:
        env[MULTIPROC_DIR] = metrics_dir
    env[PREFIX + "DATABASE_URL"] = settings.database_url
    env[PREFIX + "JWT_SECRET"] = settings.jwt_secret
    env[PREFIX + "GRPC_PORT"] = str(settings.grpc_port)
    if settings.page_token_secret:
        env[PREFIX + "PAGE_TOKEN_SECRET"] = settings.page_token_secret
    env[SUPERVISOR_PID] = str(os.getpid())
    return env


def with_page_token_secret(settings: Settings, make: Callable[[], str] | None = None) -> Settings:
    """Workers must share the key of page tokens: when the settings give none (RS*/ES* tokens
    and no AGENT_SESSIONS_PAGE_TOKEN_SECRET), `make` makes one; by default a key for this start
    (tokens issued before a restart then end with it)."""
    if settings.page_token_key() is not None:
        return settings
    if make is None:
        log.info(
            "%sPAGE_TOKEN_SECRET is unset: page tokens are signed with a key made for this start",
            PREFIX,
        )
        make = functools.partial(secrets.token_urlsafe, 32)
    return dataclasses.replace(settings, page_token_secret=make())


def describe_agent(settings: Settings) -> str:
    """Which agent serves conversations, and on which model and endpoint (no credentials)."""
    if settings.agent != "openai":
        return "mock (set AGENT_SESSIONS_AGENT=openai and AGENT_SESSIONS_MODEL for a real model)"
    endpoint = urlsplit(settings.model_endpoint)
    host = endpoint.hostname or ""
    if endpoint.port:
        host = f"{host}:{endpoint.port}"
    shown = urlunsplit((endpoint.scheme, host, endpoint.path, "", ""))
    described = f"openai, model {settings.model} at {shown} ({settings.model_api} API)"
    servers = tool_server_names(settings)
    if servers:
        described += f", tools from MCP servers {', '.join(servers)}"
    return described


def supervisor_pid() -> int | None:
    """The pid of the supervisor that started this worker, if one did."""
    raw = os.environ.get(SUPERVISOR_PID, "")
    return int(raw) if raw.isdigit() else None


async def migrate(supervisor: Supervisor, database_url: str) -> None:
    """Brings the schema up to date (blocking, in a thread; a signal takes effect after it)."""
    from agent_sessions.migrate import upgrade

    await supervisor.blocking("migrations", functools.partial(upgrade, database_url))
    log.info("database schema is up to date")


async def start_workers(supervisor: Supervisor, settings: Settings) -> None:
    """Starts AGENT_SESSIONS_WORKERS processes on one port; returns once health says SERVING.
    The supervisor serves their metrics, summed (ops/metrics_server.py).

    A worker that dies is replaced (the others serve meanwhile), after 0.5 s, 1 s, 2 s, 4 s for
    deaths in a row; the fifth death within a minute stops everything with exit status 1. At a
    stop the workers go first and get AGENT_SESSIONS_DRAIN_SECONDS (and a margin) to finish
    their calls before SIGKILL."""
    metrics = await supervisor.resource(
        "metrics", functools.partial(start_metrics, settings), stop_metrics
    )
    await supervisor.spawn(
        "gRPC worker",
        [sys.executable, "-m", "agent_sessions.cli", "worker"],
        env=worker_env(settings, str(metrics.directory)),
        count=settings.workers,
        restart=Restart(on_exit=metrics.worker_died, on_restart=metrics.restarts.inc),
        stop_timeout=settings.drain_seconds + STOP_MARGIN_SECONDS,
        drain=True,
    )
    target = f"{settings.grpc_host}:{settings.grpc_port}"
    await supervisor.guard(wait_grpc_serving_async(target, timeout=STARTUP_SECONDS))
    log.info("gRPC on %s (%d worker processes)", target, settings.workers)


async def serve(settings: Settings) -> int:
    """`agent-sessions serve`: migrates, then serves until a signal; returns the exit status."""
    tool_server_names(settings)  # a bad AGENT_SESSIONS_MCP_SERVERS stops the start here
    settings = with_page_token_secret(settings)
    log.info("agent: %s", describe_agent(settings))
    async with Supervisor() as supervisor:
        await migrate(supervisor, settings.migration_url)
        await start_workers(supervisor, settings)
        await supervisor.wait()
    return supervisor.exit_status
