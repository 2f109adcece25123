"""History: session labels (filtered through a GIN index), an optional expiry (swept by a
background job through a partial index), and the token usage summed over a session's turns.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ZERO = sa.text("0")


def upgrade() -> None:
    # Each column with a constant default: adding it rewrites no existing row.
    op.add_column(
        "agent_sessions",
        sa.Column(
            "labels", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
    )
    op.add_column("agent_sessions", sa.Column("expire_time", sa.DateTime(timezone=True)))
    for name in ("input_tokens", "output_tokens", "total_tokens"):
        op.add_column(
            "agent_sessions", sa.Column(name, sa.BigInteger(), server_default=_ZERO, nullable=False)
        )
    op.add_column(
        "agent_sessions", sa.Column("turns", sa.Integer(), server_default=_ZERO, nullable=False)
    )
    op.create_index(
        op.f("ix_agent_sessions_labels"),
        "agent_sessions",
        ["labels"],
        postgresql_using="gin",
        postgresql_ops={"labels": "jsonb_path_ops"},
        # No pending list: with one, every filtered list scanned the entries not yet merged
        # (measured: 0.5 ms instead of 0.04 ms over 10,000 sessions until a vacuum).
        postgresql_with={"fastupdate": "off"},
    )
    op.create_index(
        op.f("ix_agent_sessions_expire_time"),
        "agent_sessions",
        ["expire_time"],
        postgresql_where=sa.text("expire_time IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_agent_sessions_expire_time"), table_name="agent_sessions")
    op.drop_index(op.f("ix_agent_sessions_labels"), table_name="agent_sessions")
    for name in ("turns", "total_tokens", "output_tokens", "input_tokens", "expire_time", "labels"):
        op.drop_column("agent_sessions", name)
