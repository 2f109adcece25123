"""The `agent-sessions` command: serve, run (development), migrate and token."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import replace

from agent_sessions.settings import PREFIX, Settings, SettingsError

log = logging.getLogger("agent_sessions")


def _configure_logging(settings: Settings) -> None:
    from agent_sessions.logs import configure

    configure(settings.log_level, settings.log_format)


def _warn_of_weak_secret(settings: Settings) -> None:
    """Short secrets are allowed (test setups use them) but said out loud at every start."""
    warning = settings.weak_secret_warning()
    if warning:
        log.warning("%s", warning)


def cmd_worker(settings: Settings) -> int:
    """One gRPC server process (started by `serve` and `run`)."""
    from agent_sessions.api.server import serve
    from agent_sessions.ops.deathsig import die_with_parent
    from agent_sessions.ops.otel import start_tracing
    from agent_sessions.ops.workers import supervisor_pid

    # No worker outlives its supervisor, however the supervisor ends.
    die_with_parent(supervisor_pid())
    settings.require_secret()
    stop_tracing = start_tracing(settings)
    try:
        if settings.event_loop == "uvloop":
            import uvloop

            uvloop.run(serve(settings))
        else:
            asyncio.run(serve(settings))
    finally:
        if stop_tracing is not None:
            stop_tracing()  # exports the spans still batched
    return 0


def cmd_migrate(settings: Settings) -> int:
    """Brings the schema up to date."""
    from agent_sessions.migrate import upgrade

    if not settings.migration_url:
        raise SettingsError(f"{PREFIX}DATABASE_URL is required for migrate")
    upgrade(settings.migration_url)
    log.info("database schema is up to date")
    return 0


def cmd_serve(settings: Settings) -> int:
    """Migrates, then serves gRPC with AGENT_SESSIONS_WORKERS processes on one port."""
    from agent_sessions.ops.workers import serve

    settings.require_secret()
    _warn_of_weak_secret(settings)
    return asyncio.run(serve(settings))


def cmd_run(settings: Settings) -> int:
    """Development: embedded PostgreSQL unless a URL is set, dev secret, migrations, server, Envoy."""
    from agent_sessions.ops.devstack import run

    _warn_of_weak_secret(settings)  # unset: `run` makes a long one
    return asyncio.run(run(settings))


def cmd_token(settings: Settings, subject: str, ttl: int) -> int:
    """Prints a token for `subject`, signed with the configured or the dev secret."""
    from agent_sessions.auth import mint_token
    from agent_sessions.ops.devstack import dev_secret

    if not settings.jwt_secret:
        settings = replace(settings, jwt_secret=dev_secret(settings.data_dir))
    print(mint_token(settings, subject, ttl))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agent-sessions", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="development: embedded PostgreSQL, migrations and the server")
    sub.add_parser("serve", help="migrate, then serve gRPC (needs DATABASE_URL and JWT_SECRET)")
    sub.add_parser("worker", help=argparse.SUPPRESS)
    sub.add_parser("migrate", help="bring the database schema up to date")
    token = sub.add_parser("token", help="print a JWT for a user (development)")
    token.add_argument("--sub", default="dev-user", help="the user (JWT sub); default dev-user")
    token.add_argument("--ttl", type=int, default=86_400, help="lifetime in seconds")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        _configure_logging(settings)
        if args.command == "worker":
            return cmd_worker(settings)
        if args.command == "migrate":
            return cmd_migrate(settings)
        if args.command == "serve":
            return cmd_serve(settings)
        if args.command == "run":
            return cmd_run(settings)
        return cmd_token(settings, args.sub, args.ttl)
    except SettingsError as exc:
        print(f"agent-sessions: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
