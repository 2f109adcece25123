"""Owner-scoped data access: every query of user data goes through an `Owner`, so none can forget it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agent_sessions.db.models import AgentSession, SessionMessage, User
from agent_sessions.errors import AlreadyExists, FailedPrecondition, NotFound

S = cast(Table, AgentSession.__table__)
M = cast(Table, SessionMessage.__table__)

SESSION_COLUMNS = (
    S.c.id,
    S.c.session_id,
    S.c.session_name,
    S.c.description,
    S.c.is_active,
    S.c.user_id,
    S.c.agent_name,
    S.c.agent_instructions,
    S.c.created_at,
    S.c.updated_at,
)
MESSAGE_COLUMNS = (
    M.c.id,
    M.c.session_uuid,
    M.c.seq,
    M.c.role,
    M.c.content,
    M.c.tool_call_id,
    M.c.tool_name,
    M.c.extra_data,
    M.c.created_at,
    M.c.updated_at,
)
# The writable session fields, as the API names them.
SESSION_FIELDS = ("session_name", "description", "agent_name", "agent_instructions", "is_active")
MESSAGE_FIELDS = ("content", "tool_call_id", "tool_name", "extra_data")

# The caller's session `session_id`: every statement below that touches user data is scoped by
# this clause, with `user_id` always supplied by `Owner` (see `Owner._params`).
# (Parameter names carry a `p_` prefix: in an UPDATE, a parameter named like a column would
# become a SET value.)
OWNED_SESSION = and_(
    S.c.user_id == bindparam("p_user_id"), S.c.session_id == bindparam("p_session_id")
)

# Hot paths are built once: SQLAlchemy then only binds parameters (building a statement per call
# cost more CPU than running it). They run in autocommit: each is a single atomic statement.
GET_SESSION = select(*SESSION_COLUMNS).where(OWNED_SESSION)
_BUMP_ONE = (
    update(S)
    .where(OWNED_SESSION)
    .values(last_seq=S.c.last_seq + 1, message_count=S.c.message_count + 1)
    .returning(S.c.id, S.c.last_seq)
    .cte("bump")
)
# Bump the session's counters (row-locking it until the statement commits) and insert the
# message at the reserved position: one statement, one round trip.
CREATE_MESSAGE = (
    insert(M)
    .from_select(
        ["id", "session_uuid", "seq", "role", *MESSAGE_FIELDS],
        select(
            bindparam("p_id", type_=UUID(as_uuid=True)),
            _BUMP_ONE.c.id,
            _BUMP_ONE.c.last_seq,
            bindparam("p_role", type_=M.c.role.type),
            *(bindparam(f"p_{name}", type_=M.c[name].type) for name in MESSAGE_FIELDS),
        ),
    )
    .returning(*MESSAGE_COLUMNS)
)


def _page_query(descending: bool, after: bool) -> Select[Any]:
    """One round trip for a message page: the session's id and count, and up to `limit` rows."""
    order = M.c.seq.desc() if descending else M.c.seq.asc()
    page = select(*MESSAGE_COLUMNS).where(M.c.session_uuid == S.c.id)
    if after:
        page = page.where(
            M.c.seq < bindparam("p_after") if descending else M.c.seq > bindparam("p_after")
        )
    rows = page.order_by(order).limit(bindparam("p_limit")).lateral("page")
    return (
        select(S.c.id.label("owning_session"), S.c.message_count, *rows.c)
        .select_from(S.outerjoin(rows, literal(True)))
        .where(OWNED_SESSION)
        .order_by(rows.c.seq.desc() if descending else rows.c.seq.asc())
    )


LIST_MESSAGES = {(d, a): _page_query(d, a) for d in (False, True) for a in (False, True)}


@dataclass(frozen=True)
class NewMessage:
    """A message to store, already validated."""

    role: str
    content: str
    tool_call_id: str | None = None
    tool_name: str | None = None
    extra_data: str | None = None

    def values(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "content": self.content,
            "tool_call_id": self.tool_call_id,
            "tool_name": self.tool_name,
            "extra_data": self.extra_data,
        }


@dataclass(frozen=True)
class StoredTurn:
    """What a stored conversation turn left in the session."""

    session: RowMapping
    messages: list[RowMapping]
    messages_count: int


def _not_found(session_id: str) -> NotFound:
    return NotFound(
        f"session {session_id!r} not found; list your sessions with GET /api/agent-sessions",
        reason="SESSION_NOT_FOUND",
        metadata={"session_id": session_id},
    )


def _message_not_found(message_id: uuid.UUID) -> NotFound:
    return NotFound(
        f"message {message_id} not found in this session",
        reason="MESSAGE_NOT_FOUND",
        metadata={"message_id": str(message_id)},
    )


class Owner:
    """The caller's view of the data. The only place that writes `WHERE user_id = …`."""

    _known_users: set[uuid.UUID] = set()

    def __init__(self, engine: AsyncEngine, user_id: uuid.UUID, subject: str) -> None:
        self.engine = engine
        self.user_id = user_id
        self.subject = subject

    # -- scoping -------------------------------------------------------------------------------

    def _params(self, **params: Any) -> dict[str, Any]:
        """Parameters for the prebuilt statements, always with the caller's user id."""
        bound = {f"p_{name}": value for name, value in params.items()}
        bound["p_user_id"] = self.user_id
        return bound

    @asynccontextmanager
    async def _autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection for one self-contained statement: no BEGIN/COMMIT round trips."""
        async with self.engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    def _owns(self) -> ColumnElement[bool]:
        return S.c.user_id == self.user_id

    def _session_is(self, session_id: str) -> ColumnElement[bool]:
        return and_(S.c.user_id == self.user_id, S.c.session_id == session_id)

    def _session_uuid_of(self, session_id: str) -> Any:
        """A scalar subquery: the UUID of the caller's session `session_id` (NULL if none)."""
        return select(S.c.id).where(self._session_is(session_id)).scalar_subquery()

    async def _ensure_user(self, conn: AsyncConnection) -> None:
        # Callers add the user to `_known_users` only after their transaction commits: a
        # concurrent call must not skip this insert while the first one is still uncommitted.
        if self.user_id in Owner._known_users:
            return
        await conn.execute(
            pg_insert(cast(Table, User.__table__))
            .values(id=self.user_id, subject=self.subject)
            .on_conflict_do_nothing(index_elements=["id"])
        )

    # -- sessions ------------------------------------------------------------------------------

    async def create_session(self, session_id: str, fields: dict[str, Any]) -> RowMapping:
        values = {k: v for k, v in fields.items() if v is not None}
        try:
            async with self.engine.begin() as conn:
                await self._ensure_user(conn)
                result = await conn.execute(
                    insert(S)
                    .values(id=uuid.uuid4(), user_id=self.user_id, session_id=session_id, **values)
                    .returning(*SESSION_COLUMNS)
                )
                row = result.mappings().one()
            Owner._known_users.add(self.user_id)
            return row
        except IntegrityError as exc:
            if "uq_agent_sessions_user_id_session_id" in str(exc.orig):
                raise AlreadyExists(
                    f"session {session_id!r} already exists; choose another session_id or "
                    "update the existing session with PATCH",
                    reason="SESSION_ALREADY_EXISTS",
                    metadata={"session_id": session_id},
                ) from None
            Owner._known_users.discard(self.user_id)
            raise

    async def get_session(self, session_id: str) -> RowMapping:
        async with self._autocommit() as conn:
            result = await conn.execute(GET_SESSION, self._params(session_id=session_id))
            row = result.mappings().first()
        if row is None:
            raise _not_found(session_id)
        return row

    async def list_sessions(
        self,
        *,
        is_active: bool | None,
        agent_name: str | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> tuple[Sequence[RowMapping], int]:
        filters = [self._owns()]
        if is_active is not None:
            filters.append(S.c.is_active == is_active)
        if agent_name is not None:
            filters.append(S.c.agent_name == agent_name)
        page: Select[Any] = select(*SESSION_COLUMNS).where(*filters)
        if after is not None:
            created_at, id_ = after
            page = page.where(
                or_(S.c.created_at < created_at, and_(S.c.created_at == created_at, S.c.id < id_))
            )
        page = page.order_by(S.c.created_at.desc(), S.c.id.desc()).limit(limit + 1)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(page)).mappings().all()
            total = (
                await conn.execute(select(func.count()).select_from(S).where(*filters))
            ).scalar_one()
        return rows, int(total)

    async def update_session(self, session_id: str, changes: dict[str, Any]) -> RowMapping:
        if not changes:
            return await self.get_session(session_id)
        async with self.engine.begin() as conn:
            row = (
                (
                    await conn.execute(
                        update(S)
                        .where(self._session_is(session_id))
                        .values(**changes, updated_at=func.clock_timestamp())
                        .returning(*SESSION_COLUMNS)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise _not_found(session_id)
        return row

    async def delete_session(self, session_id: str) -> None:
        async with self.engine.begin() as conn:
            deleted = (
                await conn.execute(delete(S).where(self._session_is(session_id)).returning(S.c.id))
            ).first()
        if deleted is None:
            raise _not_found(session_id)

    # -- messages ------------------------------------------------------------------------------

    async def _require_session(self, conn: AsyncConnection, session_id: str) -> uuid.UUID:
        found = (await conn.execute(select(S.c.id).where(self._session_is(session_id)))).scalar()
        if found is None:
            raise _not_found(session_id)
        return cast(uuid.UUID, found)

    async def create_message(self, session_id: str, message: NewMessage) -> RowMapping:
        params = self._params(session_id=session_id, id=uuid.uuid4(), **message.values())
        async with self._autocommit() as conn:
            row = (await conn.execute(CREATE_MESSAGE, params)).mappings().first()
        if row is None:
            raise _not_found(session_id)
        return row

    async def get_message(self, session_id: str, message_id: uuid.UUID) -> RowMapping:
        async with self.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(*MESSAGE_COLUMNS).where(
                            M.c.id == message_id,
                            M.c.session_uuid == self._session_uuid_of(session_id),
                        )
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                await self._require_session(conn, session_id)
                raise _message_not_found(message_id)
        return row

    async def list_messages(
        self, session_id: str, *, descending: bool, limit: int, after_seq: int | None
    ) -> tuple[uuid.UUID, Sequence[RowMapping], int]:
        """A page of messages after `after_seq`, with one row more than `limit` if there are more."""
        params = self._params(session_id=session_id, limit=limit + 1, after=after_seq)
        statement = LIST_MESSAGES[descending, after_seq is not None]
        async with self._autocommit() as conn:
            rows = (await conn.execute(statement, params)).mappings().all()
        if not rows:
            raise _not_found(session_id)
        messages = [row for row in rows if row["id"] is not None]
        return rows[0]["owning_session"], messages, int(rows[0]["message_count"])

    async def update_message(
        self, session_id: str, message_id: uuid.UUID, changes: dict[str, Any]
    ) -> RowMapping:
        if not changes:
            return await self.get_message(session_id, message_id)
        async with self.engine.begin() as conn:
            row = (
                (
                    await conn.execute(
                        update(M)
                        .where(
                            M.c.id == message_id,
                            M.c.session_uuid == self._session_uuid_of(session_id),
                        )
                        .values(**changes, updated_at=func.clock_timestamp())
                        .returning(*MESSAGE_COLUMNS)
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                await self._require_session(conn, session_id)
                raise _message_not_found(message_id)
        return row

    async def delete_message(self, session_id: str, message_id: uuid.UUID) -> None:
        async with self.engine.begin() as conn:
            # Lock the session row first: the count must move with the delete.
            session_uuid = (
                await conn.execute(
                    select(S.c.id).where(self._session_is(session_id)).with_for_update()
                )
            ).scalar()
            if session_uuid is None:
                raise _not_found(session_id)
            deleted = (
                await conn.execute(
                    delete(M)
                    .where(M.c.id == message_id, M.c.session_uuid == session_uuid)
                    .returning(M.c.id)
                )
            ).first()
            if deleted is None:
                raise _message_not_found(message_id)
            await conn.execute(
                update(S).where(S.c.id == session_uuid).values(message_count=S.c.message_count - 1)
            )

    async def clear_messages(self, session_id: str) -> int:
        async with self.engine.begin() as conn:
            session_uuid = (
                await conn.execute(
                    select(S.c.id).where(self._session_is(session_id)).with_for_update()
                )
            ).scalar()
            if session_uuid is None:
                raise _not_found(session_id)
            result = await conn.execute(delete(M).where(M.c.session_uuid == session_uuid))
            await conn.execute(update(S).where(S.c.id == session_uuid).values(message_count=0))
        return int(result.rowcount)

    # -- conversation turns --------------------------------------------------------------------

    async def find_session(self, session_id: str) -> RowMapping | None:
        async with self._autocommit() as conn:
            result = await conn.execute(GET_SESSION, self._params(session_id=session_id))
            return result.mappings().first()

    async def recent_messages(self, session_uuid: uuid.UUID, limit: int) -> list[RowMapping]:
        """The last `limit` messages of a session, oldest first (the agent's context)."""
        async with self.engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        select(*MESSAGE_COLUMNS)
                        .where(M.c.session_uuid == session_uuid)
                        .order_by(M.c.seq.desc())
                        .limit(limit)
                    )
                )
                .mappings()
                .all()
            )
        return list(reversed(rows))

    async def store_turn(
        self,
        session_id: str,
        new_session_uuid: uuid.UUID,
        new_session_fields: dict[str, Any],
        messages: list[NewMessage],
    ) -> StoredTurn:
        """Stores a whole turn in one transaction, creating the session if it is new.

        Bumping `last_seq` by the turn's size row-locks the session, so a concurrent turn on the
        same session waits for this one's commit and gets the next block: turns stay contiguous.
        """
        async with self.engine.begin() as conn:
            await self._ensure_user(conn)
            await conn.execute(
                pg_insert(S)
                .values(
                    id=new_session_uuid,
                    user_id=self.user_id,
                    session_id=session_id,
                    **{k: v for k, v in new_session_fields.items() if v is not None},
                )
                .on_conflict_do_nothing(index_elements=["user_id", "session_id"])
            )
            bumped = (
                (
                    await conn.execute(
                        update(S)
                        .where(self._session_is(session_id))
                        .values(
                            last_seq=S.c.last_seq + len(messages),
                            message_count=S.c.message_count + len(messages),
                        )
                        .returning(S.c.last_seq, S.c.message_count, *SESSION_COLUMNS)
                    )
                )
                .mappings()
                .one()
            )
            if not bumped["is_active"]:
                # Deactivated while the agent worked: refuse, and roll the bump back.
                raise FailedPrecondition(
                    f"session {session_id!r} is inactive; activate it with "
                    f"PUT /api/agent-sessions/{session_id}/activate to continue the conversation",
                    reason="SESSION_INACTIVE",
                    metadata={"session_id": session_id},
                )
            first_seq = bumped["last_seq"] - len(messages) + 1
            stored = (
                (
                    await conn.execute(
                        insert(M).returning(*MESSAGE_COLUMNS, sort_by_parameter_order=True),
                        [
                            {
                                "id": uuid.uuid4(),
                                "session_uuid": bumped["id"],
                                "seq": first_seq + i,
                                **m.values(),
                            }
                            for i, m in enumerate(messages)
                        ],
                    )
                )
                .mappings()
                .all()
            )
        Owner._known_users.add(self.user_id)
        session = {k: bumped[k] for k in bumped if k not in ("last_seq", "message_count")}
        return StoredTurn(
            session=session,  # type: ignore[arg-type]
            messages=list(stored),
            messages_count=int(bumped["message_count"]),
        )
