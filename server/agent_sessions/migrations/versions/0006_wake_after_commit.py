"""Session wake-ups leave the writing transaction, and the session change log outlives its session.

Wake-ups: a NOTIFY in a transaction takes a lock for the
whole database at its commit, held through the WAL flush, so every writing transaction that
notified committed one at a time (measured: appends at half their rate). The service now sends
the wake-ups of the sessions a call changed right after its commit, in batches, from a
connection of its own (db/listener.py `Notifier`). Turn status changes keep their trigger (few,
and their transactions are small), except the insert of a turn that is already completed (the
mock's turns, stored in one statement, which the session's own wake-up covers).

The change log loses its foreign key (a watch reads the changes committed just before a delete,
and the delete itself as a `deleted` entry) and gains the session's `created_at` as
`generation` (a session made again under the same id has the same uuid) and its owner.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A turn's foreign key to its user share-locked the user's row on every turn: concurrent
    # turns of one user contended for it. Statements scope turns by user all the same.
    op.drop_constraint("fk_turns_user_id_users", "turns", type_="foreignkey")
    # The log is a best-effort history for watches that resume; it starts again here.
    op.execute("DELETE FROM session_changes")
    op.drop_constraint(
        "fk_session_changes_session_uuid_agent_sessions", "session_changes", type_="foreignkey"
    )
    op.drop_constraint("pk_session_changes", "session_changes", type_="primary")
    op.add_column(
        "session_changes", sa.Column("generation", sa.DateTime(timezone=True), nullable=False)
    )
    op.add_column(
        "session_changes", sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False)
    )
    op.create_primary_key(
        "pk_session_changes", "session_changes", ["session_uuid", "generation", "seq"]
    )
    op.execute("DROP TRIGGER notify_session_seq ON agent_sessions")
    op.execute("DROP TRIGGER notify_session_made ON agent_sessions")
    op.execute("DROP FUNCTION agent_sessions_notify_session()")
    op.execute("DROP TRIGGER notify_turn_made ON turns")
    op.execute(
        "CREATE TRIGGER notify_turn_made AFTER INSERT ON turns FOR EACH ROW "
        "WHEN (NEW.status <> 'completed') EXECUTE FUNCTION agent_sessions_notify_turn()"
    )


def downgrade() -> None:
    op.create_foreign_key(
        "fk_turns_user_id_users", "turns", "users", ["user_id"], ["id"], ondelete="CASCADE"
    )
    op.execute("DELETE FROM session_changes")
    op.drop_constraint("pk_session_changes", "session_changes", type_="primary")
    op.drop_column("session_changes", "user_id")
    op.drop_column("session_changes", "generation")
    op.create_primary_key("pk_session_changes", "session_changes", ["session_uuid", "seq"])
    op.create_foreign_key(
        "fk_session_changes_session_uuid_agent_sessions",
        "session_changes",
        "agent_sessions",
        ["session_uuid"],
        ["id"],
        ondelete="CASCADE",
    )
    op.execute("DROP TRIGGER notify_turn_made ON turns")
    op.execute(
        "CREATE TRIGGER notify_turn_made AFTER INSERT ON turns "
        "FOR EACH ROW EXECUTE FUNCTION agent_sessions_notify_turn()"
    )
    op.execute("""
CREATE FUNCTION agent_sessions_notify_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('agent_sessions', 'd:' || OLD.id::text);
    RETURN OLD;
  END IF;
  PERFORM pg_notify('agent_sessions', 's:' || NEW.id::text || ':' || NEW.seq::text);
  RETURN NEW;
END $$;
CREATE TRIGGER notify_session_made AFTER INSERT OR DELETE ON agent_sessions
  FOR EACH ROW EXECUTE FUNCTION agent_sessions_notify_session();
CREATE TRIGGER notify_session_seq AFTER UPDATE OF seq ON agent_sessions
  FOR EACH ROW WHEN (OLD.seq IS DISTINCT FROM NEW.seq)
  EXECUTE FUNCTION agent_sessions_notify_session();
""")
