"""Live turns and sessions: turns as rows (one running per session, by a partial unique index),
their stream's events, the change log of sessions, and NOTIFY wake-ups on every change.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = "status IN ('queued', 'running')"
_UUID = postgresql.UUID(as_uuid=True)

# Every committed change of a session wakes the replicas' listeners (db/listener.py) with its
# keys only, never content (every database user can read notifications): `s:<session uuid>:<seq>`
# when the session's seq moves or the session is made, `d:<session uuid>` when it is deleted, and
# `t:<session uuid>:<turn id>:<status>` when a turn is made or changes status. A rollback sends
# nothing; the tables stay the truth.
_NOTIFY_FUNCTIONS = """
CREATE FUNCTION agent_sessions_notify_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('agent_sessions', 'd:' || OLD.id::text);
    RETURN OLD;
  END IF;
  PERFORM pg_notify('agent_sessions', 's:' || NEW.id::text || ':' || NEW.seq::text);
  RETURN NEW;
END $$;
CREATE FUNCTION agent_sessions_notify_turn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('agent_sessions',
                    't:' || NEW.session_uuid::text || ':' || NEW.id::text || ':' || NEW.status);
  RETURN NEW;
END $$;
CREATE TRIGGER notify_session_made AFTER INSERT OR DELETE ON agent_sessions
  FOR EACH ROW EXECUTE FUNCTION agent_sessions_notify_session();
CREATE TRIGGER notify_session_seq AFTER UPDATE OF seq ON agent_sessions
  FOR EACH ROW WHEN (OLD.seq IS DISTINCT FROM NEW.seq)
  EXECUTE FUNCTION agent_sessions_notify_session();
CREATE TRIGGER notify_turn_made AFTER INSERT ON turns
  FOR EACH ROW EXECUTE FUNCTION agent_sessions_notify_turn();
CREATE TRIGGER notify_turn_status AFTER UPDATE OF status ON turns
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION agent_sessions_notify_turn();
"""


def upgrade() -> None:
    op.create_table(
        "turns",
        sa.Column("id", _UUID, nullable=False),
        sa.Column("user_id", _UUID, nullable=False),
        sa.Column("session_uuid", _UUID, nullable=False),
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("detach", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("request_id", _UUID, nullable=True),
        sa.Column("method", sa.Text(), nullable=True),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("result", postgresql.JSONB(), nullable=True),
        sa.Column("error", postgresql.JSONB(), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'lost')",
            name=op.f("ck_turns_status"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_turns_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turns")),
    )
    op.create_index(
        "ux_turns_running_session",
        "turns",
        ["session_uuid"],
        unique=True,
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_index(
        "ix_turns_active_session",
        "turns",
        ["session_uuid", "priority", "created_at"],
        postgresql_where=sa.text(_ACTIVE),
    )
    op.create_index(
        "ux_turns_active_request",
        "turns",
        ["user_id", "request_id"],
        unique=True,
        postgresql_where=sa.text(f"{_ACTIVE} AND request_id IS NOT NULL"),
    )
    op.create_index(
        "ix_turns_active_lease", "turns", ["lease_until"], postgresql_where=sa.text(_ACTIVE)
    )
    op.create_index("ix_turns_active_user", "turns", ["user_id"], postgresql_where=sa.text(_ACTIVE))
    op.create_index("ix_turns_updated_at", "turns", ["updated_at"])
    op.create_table(
        "turn_events",
        sa.Column("turn_id", _UUID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("last", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(
            ["turn_id"], ["turns.id"], name=op.f("fk_turn_events_turn_id_turns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("turn_id", "seq", name=op.f("pk_turn_events")),
    )
    op.create_table(
        "session_changes",
        sa.Column("session_uuid", _UUID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("body", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["session_uuid"],
            ["agent_sessions.id"],
            name=op.f("fk_session_changes_session_uuid_agent_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_uuid", "seq", name=op.f("pk_session_changes")),
    )
    op.create_index(
        op.f("ix_session_changes_created_at"), "session_changes", ["created_at"], unique=False
    )
    op.execute(_NOTIFY_FUNCTIONS)


def downgrade() -> None:
    op.execute("DROP TRIGGER notify_turn_status ON turns")
    op.execute("DROP TRIGGER notify_turn_made ON turns")
    op.execute("DROP TRIGGER notify_session_seq ON agent_sessions")
    op.execute("DROP TRIGGER notify_session_made ON agent_sessions")
    op.execute("DROP FUNCTION agent_sessions_notify_turn()")
    op.execute("DROP FUNCTION agent_sessions_notify_session()")
    op.drop_index(op.f("ix_session_changes_created_at"), table_name="session_changes")
    op.drop_table("session_changes")
    op.drop_table("turn_events")
    for name in (
        "ix_turns_updated_at",
        "ix_turns_active_user",
        "ix_turns_active_lease",
        "ux_turns_active_request",
        "ix_turns_active_session",
        "ux_turns_running_session",
    ):
        op.drop_index(name, table_name="turns")
    op.drop_table("turns")
