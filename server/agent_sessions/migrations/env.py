"""Alembic environment: migrates the database named by the caller's URL, one migrator at a time."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import text

from agent_sessions.db.engine import sync_engine
from agent_sessions.db.models import Base

# Several processes may start at once (workers, tests); this lock makes them migrate in turn.
MIGRATION_LOCK = 0x4A6E7453  # arbitrary, fixed

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.attributes.get("database_url") or os.environ.get("AGENT_SESSIONS_DATABASE_URL")
    engine = sync_engine(str(url))
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
        try:
            context.configure(
                connection=connection, target_metadata=target_metadata, compare_type=True
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
            connection.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `agent-sessions migrate`")
run_migrations_online()
