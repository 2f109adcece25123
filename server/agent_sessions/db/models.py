"""The schema as SQLAlchemy models; Alembic migrations create it and a test keeps both in step."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class User(Base):
    """A caller, known by the `sub` of their tokens."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    subject: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at: Mapped[datetime] = _now()


class AgentSession(Base):
    """A conversation with an agent, owned by one user."""

    __tablename__ = "agent_sessions"
    __table_args__ = (
        UniqueConstraint("user_id", "session_id"),
        # ListSessions walks this index newest-first, a page at a time (keyset pagination).
        Index("ix_agent_sessions_user_id_created_at_id", "user_id", "created_at", "id"),
        # ListSessions' label filters (`labels @> {...}`) find their sessions here.
        Index(
            "ix_agent_sessions_labels",
            "labels",
            postgresql_using="gin",
            postgresql_ops={"labels": "jsonb_path_ops"},
            # No pending list for filtered lists to scan (see migration 0004).
            postgresql_with={"fastupdate": "off"},
        ),
        # The sweep finds expired sessions here; most sessions never expire.
        Index(
            "ix_agent_sessions_expire_time",
            "expire_time",
            postgresql_where=text("expire_time IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    session_id: Mapped[str] = mapped_column(String(128), nullable=False)
    session_name: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    agent_name: Mapped[str | None] = mapped_column(Text)
    agent_instructions: Mapped[str | None] = mapped_column(Text)
    # The model the session's agent runs on; NULL means the server's default.
    model: Mapped[str | None] = mapped_column(Text)
    # Which MCP server tools the agent may call; NULL means all (see Session.server_tools).
    server_tools: Mapped[str | None] = mapped_column(Text)
    # The session's change counter: every committed change of the session's fields or messages
    # takes the next value, and a stored message keeps the one it took as its own `seq`.
    # Bumping it reserves a contiguous block and row-locks the session until commit, which is
    # what keeps concurrent writers gap-free and contiguous across processes.
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    # Kept in step with session_messages in the same transactions, so total_size costs O(1).
    message_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    # Caller-given string labels, a JSON object of strings; ListSessions filters on them.
    labels: Mapped[dict[str, str]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    # When the session expires (NULL: never). From then on every statement treats it as
    # missing; a background sweep deletes it later.
    expire_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The token usage summed over the session's stored turns, kept by the statement that stores
    # a turn; `turns` counts them.
    input_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    output_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    total_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    turns: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))


class SessionMessage(Base):
    """One message of a session; `seq` is its insertion order within the session."""

    __tablename__ = "session_messages"
    __table_args__ = (
        # Both ListMessages orders walk this index a page at a time.
        UniqueConstraint("session_uuid", "seq"),
        CheckConstraint("role IN ('user', 'assistant', 'system', 'tool')", name="role"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    session_uuid: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("agent_sessions.id", ondelete="CASCADE"), nullable=False
    )
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("''"))
    tool_call_id: Mapped[str | None] = mapped_column(Text)
    tool_name: Mapped[str | None] = mapped_column(Text)
    # JSON text kept byte for byte as the caller sent it (jsonb would reorder keys).
    extra_data: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class RequestId(Base):
    """A request id (per user) and the outcome of the write it names, stored by the same
    statement or transaction as that write, so a retry answers the same and changes nothing."""

    __tablename__ = "request_ids"

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    request_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # The RPC and a hash of its request (request_id aside): a reuse for another is refused.
    method: Mapped[str] = mapped_column(Text, nullable=False)
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    # What the first call answered, as the rows it returned (see db/receipts.py).
    result: Mapped[Any] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = _now()
    # Swept after this (in small batches), AGENT_SESSIONS_REQUEST_ID_TTL after the write.
    expires_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )


# A turn waits or runs while its status is one of these; the partial indexes below hold only
# those rows, so they stay small whatever the history.
ACTIVE_TURN = "status IN ('queued', 'running')"


class Turn(Base):
    """A conversation turn as a resource: queued, running, or how it ended. One runs at a time
    per session, enforced by the partial unique index on the running ones."""

    __tablename__ = "turns"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'lost')",
            name="status",
        ),
        # At most one running turn per session, for every replica at once.
        Index(
            "ux_turns_running_session",
            "session_uuid",
            unique=True,
            postgresql_where=text("status = 'running'"),
        ),
        # The session's queue, in order; and a request id names at most one live turn.
        Index(
            "ix_turns_active_session",
            "session_uuid",
            "priority",
            "created_at",
            postgresql_where=text(ACTIVE_TURN),
        ),
        Index(
            "ux_turns_active_request",
            "user_id",
            "request_id",
            unique=True,
            postgresql_where=text(f"{ACTIVE_TURN} AND request_id IS NOT NULL"),
        ),
        # The lease sweep and the per-user limit read only live turns.
        Index("ix_turns_active_lease", "lease_until", postgresql_where=text(ACTIVE_TURN)),
        Index("ix_turns_active_user", "user_id", postgresql_where=text(ACTIVE_TURN)),
        # The sweep of ended turns (AGENT_SESSIONS_REQUEST_ID_TTL after they ended).
        Index("ix_turns_updated_at", "updated_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # No foreign key to users: its check share-locks the user's row, which every concurrent
    # turn of one user then contends for (the owner scopes every statement all the same).
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    # No foreign key: a session's first turn exists before its session is stored.
    session_uuid: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    session_id: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # An interrupting turn runs before the waiting ones (1); otherwise first come first served.
    priority: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    detach: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    request_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    method: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Renewed by the replica that runs (or queues) the turn; past it, any replica marks it lost.
    lease_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()
    )
    updated_at: Mapped[datetime] = _now()
    # A completed turn: the session, its stored messages and the answer (as request ids keep
    # it). A turn that stored nothing: the google.rpc.Status of why, as JSON.
    result: Mapped[Any] = mapped_column(JSONB, nullable=True)
    error: Mapped[Any] = mapped_column(JSONB, nullable=True)


class TurnEvent(Base):
    """The events of a turn's stream, as its stream numbered them (the API's encoding), written
    in small batches while it runs so that any replica can resume it."""

    __tablename__ = "turn_events"

    turn_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("turns.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    # The last event of the stream (`completed` or `error`).
    last: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))


class SessionChange(Base):
    """A change of a session other than a stored message (the messages table keeps those), at
    the session `seq` it took: what a watch that resumes after a seq reads back.

    No foreign key: the log outlives its session, so a watch still reads the changes committed
    just before a delete, and the delete itself (`deleted`). A session deleted and made again
    under the same id has the same uuid and starts its seq again: `generation` (the session's
    `created_at`) tells the two apart."""

    __tablename__ = "session_changes"

    session_uuid: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    generation: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    # message_updated, message_deleted, cleared, session or deleted
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    body: Mapped[Any] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), index=True
    )


class SessionWatch(Base):
    """Sessions someone watches, by the process that holds the watch: the wake-ups after a
    write (db/listener.py) go out only for these. A process renews its rows while it watches;
    a row left by a process that died expires and is swept."""

    __tablename__ = "session_watches"

    session_uuid: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    process: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
