"""The asyncio engine on psycopg 3, built from any libpq-style `postgresql://` URL."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def sqlalchemy_url(database_url: str) -> URL:
    """Maps `postgresql://…` (also `postgres://` and Unix-socket URLs) onto the psycopg driver."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+asyncpg"):
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername != "postgresql+psycopg":
        raise ValueError(
            f"AGENT_SESSIONS_DATABASE_URL must be a postgresql:// URL, got {url.drivername}://"
        )
    return url


def create_engine(database_url: str, pool_size: int = 16) -> AsyncEngine:
    """One bounded pool per process: calls beyond `pool_size` wait for a connection.

    No overflow: overflow connections are closed when returned, so under steady load above the
    pool size every call would open and close a PostgreSQL connection (measured by `make bench`).
    """
    return create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=30,
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={"application_name": "agent-sessions"},
    )
