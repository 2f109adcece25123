"""Exactly once: request ids kept with the outcome of the write they name; the session's change
counter is `seq`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The counter that ordered messages now counts every change of the session (a rename
    # rewrites nothing).
    op.alter_column("agent_sessions", "last_seq", new_column_name="seq")
    op.create_table(
        "request_ids",
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("request_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=False),
        sa.Column("result", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_request_ids_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "request_id", name=op.f("pk_request_ids")),
    )
    op.create_index(op.f("ix_request_ids_expires_at"), "request_ids", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_request_ids_expires_at"), table_name="request_ids")
    op.drop_table("request_ids")
    op.alter_column("agent_sessions", "seq", new_column_name="last_seq")
