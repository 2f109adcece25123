"""Owner-scoped data access: every query of user data goes through an `Owner`, so none can forget it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert

from agent_sessions.db.engine import Connection, sql, sql_with_params
from agent_sessions.db.models import AgentSession, SessionMessage, User
from agent_sessions.errors import AlreadyExists, FailedPrecondition, NotFound

Row = dict[str, Any]
Pool = AsyncConnectionPool[Connection]

S = cast(Table, AgentSession.__table__)
M = cast(Table, SessionMessage.__table__)
U = cast(Table, User.__table__)

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
MESSAGE_FIELDS = ("content", "tool_call_id", "tool_name", "extra_data")

# The caller's session `session_id`. Every statement below that touches user data is scoped by
# this clause or by the caller's `user_id`, and `Owner._params` always supplies `p_user_id`.
# (Parameters carry a `p_` prefix: in an UPDATE, one named like a column would become a SET.)
OWNER = bindparam("p_user_id", type_=UUID(as_uuid=True))
OWNED_SESSION = and_(S.c.user_id == OWNER, S.c.session_id == bindparam("p_session_id"))
OWNED_SESSION_ID = select(S.c.id).where(OWNED_SESSION).scalar_subquery()
# Constants written into the SQL (a Python int would become a parameter of its own).
ONE: Any = literal_column("1")
ZERO: Any = literal_column("0")

# Both inserts below name no conflict target: PostgreSQL then treats every unique index as an
# arbiter. With one target, two concurrent first calls that collide on another unique index
# (users.subject; the session's derived id) fail with a unique violation instead of doing nothing.
ENSURE_USER = sql(
    pg_insert(U).values(id=OWNER, subject=bindparam("p_subject")).on_conflict_do_nothing()
)
GET_SESSION = sql(select(*SESSION_COLUMNS).where(OWNED_SESSION))
LOCK_SESSION = sql(select(S.c.id).where(OWNED_SESSION).with_for_update())
DELETE_SESSION = sql(delete(S).where(OWNED_SESSION).returning(S.c.id))
COUNT_SESSIONS_BASE = select(func.count().label("total")).select_from(S).where(S.c.user_id == OWNER)
_BUMP_ONE = (
    update(S)
    .where(OWNED_SESSION)
    .values(last_seq=S.c.last_seq + ONE, message_count=S.c.message_count + ONE)
    .returning(S.c.id, S.c.last_seq)
    .cte("bump")
)
# Bump the session's counters (row-locking it until the statement commits) and insert the
# message at the reserved position: one statement, one round trip. It returns only what the
# database chose; the rest of the stored row is what was sent (no need to echo the content).
CREATE_MESSAGE = sql(
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
    .returning(M.c.session_uuid, M.c.seq, M.c.created_at, M.c.updated_at)
)
GET_MESSAGE = sql(
    select(*MESSAGE_COLUMNS).where(
        M.c.id == bindparam("p_message_id"), M.c.session_uuid == OWNED_SESSION_ID
    )
)
DELETE_MESSAGE = sql(
    delete(M)
    .where(M.c.id == bindparam("p_message_id"), M.c.session_uuid == bindparam("p_session_uuid"))
    .returning(M.c.id)
)
CLEAR_MESSAGES = sql(delete(M).where(M.c.session_uuid == bindparam("p_session_uuid")))
SET_MESSAGE_COUNT = sql(
    update(S)
    .where(S.c.id == bindparam("p_session_uuid"))
    .values(message_count=S.c.message_count + bindparam("p_change"))
)
RESET_MESSAGE_COUNT = sql(
    update(S).where(S.c.id == bindparam("p_session_uuid")).values(message_count=ZERO)
)
RECENT_MESSAGES = sql(
    select(*MESSAGE_COLUMNS)
    .where(M.c.session_uuid == bindparam("p_session_uuid"))
    .order_by(M.c.seq.desc())
    .limit(bindparam("p_limit"))
)
CREATE_SESSION_IF_NEW = sql(
    pg_insert(S)
    .values(
        id=bindparam("p_id", type_=UUID(as_uuid=True)),
        user_id=OWNER,
        session_id=bindparam("p_session_id"),
        session_name=bindparam("p_session_name"),
        agent_name=bindparam("p_agent_name"),
        agent_instructions=bindparam("p_agent_instructions"),
    )
    .on_conflict_do_nothing()
)
BUMP_TURN = sql(
    update(S)
    .where(OWNED_SESSION)
    .values(
        last_seq=S.c.last_seq + bindparam("p_count"),
        message_count=S.c.message_count + bindparam("p_count"),
    )
    .returning(S.c.last_seq, S.c.message_count, *SESSION_COLUMNS)
)
# All of a turn's messages in one statement; unnest keeps their order.
INSERT_TURN = """
INSERT INTO session_messages (id, session_uuid, seq, role, content, tool_call_id, tool_name, extra_data)
SELECT m.id, %(p_session_uuid)s, %(p_first_seq)s + m.i - 1, m.role, m.content, m.tool_call_id,
       m.tool_name, m.extra_data
FROM unnest(%(p_ids)s::uuid[], %(p_roles)s::text[], %(p_contents)s::text[],
            %(p_tool_call_ids)s::text[], %(p_tool_names)s::text[], %(p_extra_data)s::text[])
     WITH ORDINALITY AS m(id, role, content, tool_call_id, tool_name, extra_data, i)
ORDER BY m.i
RETURNING id, session_uuid, seq, role, content, tool_call_id, tool_name, extra_data,
          created_at, updated_at
"""


def _page_query(descending: bool, after: bool) -> str:
    """One round trip for a message page: the session's id and count, and up to `limit` rows."""
    order = M.c.seq.desc() if descending else M.c.seq.asc()
    page = select(*MESSAGE_COLUMNS).where(M.c.session_uuid == S.c.id)
    if after:
        after_seq: Any = bindparam("p_after")
        page = page.where(M.c.seq < after_seq if descending else M.c.seq > after_seq)
    rows = page.order_by(order).limit(bindparam("p_limit")).lateral("page")
    return sql(
        select(S.c.id.label("owning_session"), S.c.message_count, *rows.c)
        .select_from(S.outerjoin(rows, true()))
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

    session: Row
    messages: list[Row]
    messages_count: int


# Sessions get a UUID derived from their owner and `session_id`, so every path that may create
# one (CreateSession, and the first turn of a conversation, which creates it only when it stores)
# agrees on it: two first turns racing on one new session announce the same `session_uuid` in
# their `started` events, whichever of them inserts the row. Session UUIDs are never an input.
SESSION_NAMESPACE = uuid.UUID("0b5e8c1e-3f6a-4a8e-9d2c-6a1f4e7b9c30")


def session_uuid_for(user_id: uuid.UUID, session_id: str) -> uuid.UUID:
    """The id a session of this owner with this `session_id` gets when it is created."""
    return uuid.uuid5(SESSION_NAMESPACE, f"{user_id}/{session_id}")


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


def inactive_session(session_id: str) -> FailedPrecondition:
    """The refusal of a conversation turn in an inactive session."""
    return FailedPrecondition(
        f"session {session_id!r} is inactive; activate it with "
        f"PUT /api/agent-sessions/{session_id}/activate to continue the conversation",
        reason="SESSION_INACTIVE",
        metadata={"session_id": session_id},
    )


class Owner:
    """The caller's view of the data: the only code that runs queries on user data."""

    # Users already stored, so most calls skip the insert; filled only after a commit, or a
    # concurrent first call could skip the insert while the first one is still uncommitted.
    _known_users: set[uuid.UUID] = set()

    def __init__(self, pool: Pool, user_id: uuid.UUID, subject: str) -> None:
        self.pool = pool
        self.user_id = user_id
        self.subject = subject

    def _params(self, **params: Any) -> dict[str, Any]:
        """Parameters for the statements above, always with the caller's user id."""
        bound = {f"p_{name}": value for name, value in params.items()}
        bound["p_user_id"] = self.user_id
        return bound

    async def _one(self, query: str, **params: Any) -> Row | None:
        # getconn/putconn rather than `pool.connection()`: one autocommit statement needs no
        # transaction handling on the way out, and putconn still resets or discards a
        # connection a failure left unusable.
        conn = await self.pool.getconn()
        try:
            cursor = conn.kept_cursor()
            await cursor.execute(query, self._params(**params))
            return cast(Row | None, await cursor.fetchone())
        finally:
            await self.pool.putconn(conn)

    async def _ensure_user(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if self.user_id not in Owner._known_users:
            await conn.execute(ENSURE_USER, self._params(subject=self.subject))

    # -- sessions ------------------------------------------------------------------------------

    async def create_session(self, session_id: str, fields: dict[str, Any]) -> Row:
        values = {k: v for k, v in fields.items() if v is not None}
        query, params = sql_with_params(
            insert(S)
            .values(
                id=session_uuid_for(self.user_id, session_id),
                user_id=OWNER,
                session_id=session_id,
                **values,
            )
            .returning(*SESSION_COLUMNS)
        )
        try:
            async with self.pool.connection() as conn, conn.transaction():
                await self._ensure_user(conn)
                cursor = await conn.execute(query, params | self._params())
                row = cast(Row, await cursor.fetchone())
        except psycopg.errors.UniqueViolation:
            raise AlreadyExists(
                f"session {session_id!r} already exists; choose another session_id or "
                "update the existing session with PATCH",
                reason="SESSION_ALREADY_EXISTS",
                metadata={"session_id": session_id},
            ) from None
        Owner._known_users.add(self.user_id)
        return row

    async def get_session(self, session_id: str) -> Row:
        row = await self._one(GET_SESSION, session_id=session_id)
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
    ) -> tuple[Sequence[Row], int]:
        filters = []
        if is_active is not None:
            filters.append(S.c.is_active == is_active)
        if agent_name is not None:
            filters.append(S.c.agent_name == agent_name)
        page: Select[Any] = select(*SESSION_COLUMNS).where(S.c.user_id == OWNER, *filters)
        if after is not None:
            created_at, id_ = after
            page = page.where(
                or_(S.c.created_at < created_at, and_(S.c.created_at == created_at, S.c.id < id_))
            )
        page_sql, page_params = sql_with_params(
            page.order_by(S.c.created_at.desc(), S.c.id.desc()).limit(limit + 1)
        )
        count_sql, count_params = sql_with_params(COUNT_SESSIONS_BASE.where(*filters))
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(page_sql, page_params | self._params())).fetchall()
            total = await (await conn.execute(count_sql, count_params | self._params())).fetchone()
        return rows, int(cast(Row, total)["total"])

    async def update_session(self, session_id: str, changes: dict[str, Any]) -> Row:
        if not changes:
            return await self.get_session(session_id)
        query, params = sql_with_params(
            update(S)
            .where(OWNED_SESSION)
            .values(**changes, updated_at=func.clock_timestamp())
            .returning(*SESSION_COLUMNS)
        )
        async with self.pool.connection() as conn:
            cursor = await conn.execute(query, params | self._params(session_id=session_id))
            row = await cursor.fetchone()
        if row is None:
            raise _not_found(session_id)
        return cast(Row, row)

    async def delete_session(self, session_id: str) -> None:
        if await self._one(DELETE_SESSION, session_id=session_id) is None:
            raise _not_found(session_id)

    # -- messages ------------------------------------------------------------------------------

    async def create_message(self, session_id: str, message: NewMessage) -> Row:
        message_id = uuid.uuid4()
        values = message.values()
        stored = await self._one(CREATE_MESSAGE, session_id=session_id, id=message_id, **values)
        if stored is None:
            raise _not_found(session_id)
        return {"id": message_id, **values, **stored}

    async def get_message(self, session_id: str, message_id: uuid.UUID) -> Row:
        row = await self._one(GET_MESSAGE, session_id=session_id, message_id=message_id)
        if row is None:
            await self.get_session(session_id)  # which one is missing?
            raise _message_not_found(message_id)
        return row

    async def list_messages(
        self, session_id: str, *, descending: bool, limit: int, after_seq: int | None
    ) -> tuple[uuid.UUID, Sequence[Row], int]:
        """A page of messages after `after_seq`, with one row more than `limit` if there are more."""
        query = LIST_MESSAGES[descending, after_seq is not None]
        params = self._params(session_id=session_id, limit=limit + 1, after=after_seq)
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(query, params)).fetchall()
        if not rows:
            raise _not_found(session_id)
        messages = [row for row in rows if row["id"] is not None]
        return rows[0]["owning_session"], messages, int(rows[0]["message_count"])

    async def update_message(
        self, session_id: str, message_id: uuid.UUID, changes: dict[str, Any]
    ) -> Row:
        if not changes:
            return await self.get_message(session_id, message_id)
        query, params = sql_with_params(
            update(M)
            .where(M.c.id == bindparam("p_message_id"), M.c.session_uuid == OWNED_SESSION_ID)
            .values(**changes, updated_at=func.clock_timestamp())
            .returning(*MESSAGE_COLUMNS)
        )
        params |= self._params(session_id=session_id, message_id=message_id)
        async with self.pool.connection() as conn:
            row = await (await conn.execute(query, params)).fetchone()
        if row is None:
            await self.get_session(session_id)
            raise _message_not_found(message_id)
        return cast(Row, row)

    async def delete_message(self, session_id: str, message_id: uuid.UUID) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            # Lock the session row first: the count must move with the delete.
            locked = await conn.execute(LOCK_SESSION, self._params(session_id=session_id))
            session = await locked.fetchone()
            if session is None:
                raise _not_found(session_id)
            params = self._params(session_uuid=session["id"], message_id=message_id, change=-1)
            deleted = await (await conn.execute(DELETE_MESSAGE, params)).fetchone()
            if deleted is None:
                raise _message_not_found(message_id)
            await conn.execute(SET_MESSAGE_COUNT, params)

    async def clear_messages(self, session_id: str) -> int:
        async with self.pool.connection() as conn, conn.transaction():
            locked = await conn.execute(LOCK_SESSION, self._params(session_id=session_id))
            session = await locked.fetchone()
            if session is None:
                raise _not_found(session_id)
            params = self._params(session_uuid=session["id"])
            deleted = await conn.execute(CLEAR_MESSAGES, params)
            await conn.execute(RESET_MESSAGE_COUNT, params)
        return int(deleted.rowcount)

    # -- conversation turns --------------------------------------------------------------------

    async def find_session(self, session_id: str) -> Row | None:
        return await self._one(GET_SESSION, session_id=session_id)

    async def recent_messages(self, session_uuid: uuid.UUID, limit: int) -> list[Row]:
        """The last `limit` messages of a session, oldest first (the agent's context)."""
        async with self.pool.connection() as conn:
            params = self._params(session_uuid=session_uuid, limit=limit)
            rows = await (await conn.execute(RECENT_MESSAGES, params)).fetchall()
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
        new = {
            name: new_session_fields.get(name)
            for name in ("session_name", "agent_name", "agent_instructions")
        }
        async with self.pool.connection() as conn, conn.transaction():
            await self._ensure_user(conn)
            await conn.execute(
                CREATE_SESSION_IF_NEW,
                self._params(id=new_session_uuid, session_id=session_id, **new),
            )
            bumped = await conn.execute(
                BUMP_TURN, self._params(session_id=session_id, count=len(messages))
            )
            session = cast(Row, await bumped.fetchone())
            if not session["is_active"]:
                raise inactive_session(session_id)  # deactivated while the agent worked; rolls back
            stored = await conn.execute(
                INSERT_TURN,
                self._params(
                    session_uuid=session["id"],
                    first_seq=session["last_seq"] - len(messages) + 1,
                    ids=[uuid.uuid4() for _ in messages],
                    roles=[m.role for m in messages],
                    contents=[m.content for m in messages],
                    tool_call_ids=[m.tool_call_id for m in messages],
                    tool_names=[m.tool_name for m in messages],
                    extra_data=[m.extra_data for m in messages],
                ),
            )
            rows = await stored.fetchall()
        Owner._known_users.add(self.user_id)
        count = int(session.pop("message_count"))
        session.pop("last_seq")
        return StoredTurn(session=session, messages=rows, messages_count=count)
