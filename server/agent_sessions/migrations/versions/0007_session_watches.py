"""Session wake-ups only for sessions someone watches.

Every write sent its session's wake-up after the commit (a NOTIFY statement, delivered to every
listening process), whether anyone watched the session or not: at one caller that was a sixth of
an append's cost. `session_watches` holds the sessions watched now, by the process that holds
the watch; every process keeps the set in memory (read at start and every half minute, and told
of each new one by a `w:<session>` notification) and wakes only those sessions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "session_watches",
        sa.Column("session_uuid", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("process", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_uuid", "process", name=op.f("pk_session_watches")),
    )


def downgrade() -> None:
    op.drop_table("session_watches")
