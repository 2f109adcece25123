"""Sessions name the model their agent runs on and the server tools it may call.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable with no default: adding them rewrites nothing, whatever the table's size.
    op.add_column("agent_sessions", sa.Column("model", sa.Text(), nullable=True))
    op.add_column("agent_sessions", sa.Column("server_tools", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("agent_sessions", "server_tools")
    op.drop_column("agent_sessions", "model")
