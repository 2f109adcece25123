"""Repositories: built from one connection and one owner; the only code that runs SQL on user
data. Every statement is bound with the owner's id here, in `_Repository._params`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import psycopg
from psycopg.rows import AsyncRowFactory, tuple_row

from agent_sessions.db import statements as q
from agent_sessions.db.checkout import Checkout
from agent_sessions.db.ids import uuid7
from agent_sessions.db.rows import MESSAGE_ROW, SESSION_ROW
from agent_sessions.domain import (
    SESSION_TEXT_FIELDS,
    Message,
    NewMessage,
    Owner,
    Session,
    SessionFields,
)

_N_SESSION = len(q.SESSION_COLUMNS)


def _text_params(fields: SessionFields) -> dict[str, str | None]:
    """A session's text fields as statement parameters, by name."""
    return {name: getattr(fields, name) for name in SESSION_TEXT_FIELDS}


class _Repository:
    __slots__ = ("_checkout", "_user_id")

    def __init__(self, checkout: Checkout, owner: Owner) -> None:
        self._checkout = checkout  # the unit of work's connection, shared by its repositories
        self._user_id = owner.user_id

    def _params(self, **params: Any) -> dict[str, Any]:
        """The statement's parameters (`p_` + name), always with the owner's id."""
        bound = {f"p_{name}": value for name, value in params.items()}
        bound["p_user_id"] = self._user_id
        return bound

    async def _execute(self, query: str, rows: AsyncRowFactory[Any], params: dict[str, Any]) -> Any:
        return await self._checkout.execute(query, rows, params)

    async def _run(self, query: str, **params: Any) -> int:
        """Runs a statement that returns no rows; returns how many rows it touched."""
        cursor = await self._execute(query, tuple_row, self._params(**params))
        return int(cursor.rowcount)

    async def _one(self, query: str, rows: AsyncRowFactory[Any], **params: Any) -> Any:
        cursor = await self._execute(query, rows, self._params(**params))
        return await cursor.fetchone()

    async def _all(self, query: str, rows: AsyncRowFactory[Any], **params: Any) -> list[Any]:
        cursor = await self._execute(query, rows, self._params(**params))
        return cast(list[Any], await cursor.fetchall())


class SessionRepository(_Repository):
    """The owner's sessions."""

    __slots__ = ()

    async def get(self, session_id: str) -> Session | None:
        return cast(
            Session | None, await self._one(q.GET_SESSION, SESSION_ROW, session_id=session_id)
        )

    async def lock(self, session_id: str) -> bool:
        """Row-locks the session until the transaction ends; False when there is none."""
        return await self._one(q.LOCK_SESSION, tuple_row, session_id=session_id) is not None

    async def create(
        self,
        id: uuid.UUID,
        session_id: str,
        fields: SessionFields,
        is_active: bool,
        new_user: str | None,
    ) -> Session | None:
        """Inserts a session (and the owner's user row, given its subject as `new_user`) in one
        statement; None when the owner already has one with this `session_id`."""
        return cast(
            Session | None,
            await self._one(
                q.create_session(with_user=new_user is not None),
                SESSION_ROW,
                subject=new_user,
                id=id,
                session_id=session_id,
                is_active=is_active,
                **_text_params(fields),
            ),
        )

    async def page(
        self,
        *,
        is_active: bool | None,
        agent_name: str | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> list[Session]:
        """Up to `limit` sessions, newest first, after the position `after`."""
        query = q.list_sessions(
            is_active=is_active is not None,
            agent_name=agent_name is not None,
            after=after is not None,
        )
        return await self._all(
            query,
            SESSION_ROW,
            is_active=is_active,
            agent_name=agent_name,
            limit=limit,
            after_created_at=after[0] if after else None,
            after_id=after[1] if after else None,
        )

    async def count(self, *, is_active: bool | None, agent_name: str | None) -> int:
        query = q.count_sessions(is_active=is_active is not None, agent_name=agent_name is not None)
        row = await self._one(query, tuple_row, is_active=is_active, agent_name=agent_name)
        return int(row[0])

    async def update(self, session_id: str, changes: dict[str, Any]) -> Session | None:
        """Sets the given fields (and `updated_at`); None when there is no such session."""
        query = q.update_session(frozenset(changes))
        return cast(
            Session | None,
            await self._one(query, SESSION_ROW, session_id=session_id, **changes),
        )

    async def delete(self, session_id: str) -> bool:
        return await self._one(q.DELETE_SESSION, tuple_row, session_id=session_id) is not None

    async def add_to_message_count(self, session_id: str, change: int) -> None:
        await self._run(q.SET_MESSAGE_COUNT, session_id=session_id, change=change)

    async def reset_message_count(self, session_id: str) -> None:
        await self._run(q.RESET_MESSAGE_COUNT, session_id=session_id)


class MessageRepository(_Repository):
    """The messages of the owner's sessions."""

    __slots__ = ()

    async def append(self, session_id: str, message: NewMessage) -> Message | None:
        """Appends one message at the session's end in one statement; None without a session."""
        message_id = uuid7()
        stored = await self._one(
            q.CREATE_MESSAGE,
            tuple_row,
            session_id=session_id,
            id=message_id,
            role=message.role,
            content=message.content,
            tool_call_id=message.tool_call_id,
            tool_name=message.tool_name,
            extra_data=message.extra_data,
        )
        if stored is None:
            return None
        session_uuid, seq, created_at, updated_at = stored
        return Message(
            message_id,
            session_uuid,
            seq,
            message.role,
            message.content,
            message.tool_call_id,
            message.tool_name,
            message.extra_data,
            created_at,
            updated_at,
        )

    async def get(self, session_id: str, message_id: uuid.UUID) -> Message | None:
        return cast(
            Message | None,
            await self._one(
                q.GET_MESSAGE, MESSAGE_ROW, session_id=session_id, message_id=message_id
            ),
        )

    async def page(
        self, session_id: str, *, descending: bool, limit: int, after_seq: int | None
    ) -> tuple[list[Message], int] | None:
        """Up to `limit` messages after `after_seq` and the session's count; None without a
        session. One round trip."""
        rows = await self._all(
            q.list_messages(descending=descending, after=after_seq is not None),
            tuple_row,
            session_id=session_id,
            limit=limit,
            after=after_seq,
        )
        if not rows:
            return None
        # Columns: the session's id and count, then the message (NULLs for an empty session).
        messages = [Message(*row[2:]) for row in rows if row[2] is not None]
        return messages, int(rows[0][1])

    async def update(
        self, session_id: str, message_id: uuid.UUID, changes: dict[str, Any]
    ) -> Message | None:
        query = q.update_message(frozenset(changes))
        return cast(
            Message | None,
            await self._one(
                query, MESSAGE_ROW, session_id=session_id, message_id=message_id, **changes
            ),
        )

    async def delete(self, session_id: str, message_id: uuid.UUID) -> bool:
        deleted = await self._one(
            q.DELETE_MESSAGE, tuple_row, session_id=session_id, message_id=message_id
        )
        return deleted is not None

    async def clear(self, session_id: str) -> int:
        return await self._run(q.CLEAR_MESSAGES, session_id=session_id)


class TurnRepository(_Repository):
    """What a conversation turn reads before the agent runs, and stores after."""

    __slots__ = ()

    async def context(
        self, session_id: str, limit: int, *, history: bool = True
    ) -> tuple[Session, list[Message]] | None:
        """The session and its last `limit` messages, oldest first (without `history`, only its
        trailing run of tool calls and results); None without a session."""
        query = q.turn_context(history=history)
        rows = await self._all(query, tuple_row, session_id=session_id, limit=limit)
        if not rows:
            return None
        session = Session(*rows[0][:_N_SESSION])
        messages = [Message(*row[_N_SESSION:]) for row in rows if row[_N_SESSION] is not None]
        return session, messages

    async def store(
        self,
        session_uuid: uuid.UUID,
        session_id: str,
        fields: SessionFields,
        messages: Sequence[NewMessage],
        new_user: str | None,
        *,
        unread: bool = False,
    ) -> tuple[Session, list[Message], int] | None:
        """Stores a whole turn in one statement, creating the session if it is new; returns
        the session, the stored messages and the session's new count, or None (nothing
        stored) when the session is inactive.

        `unread`: the session was not read before the turn, so `session_uuid` is only what a
        session created now would get. None (nothing stored) also when the session's newest
        message is a tool call or result, when the stored session has another id (one created
        before ids were derived), or when a concurrent first turn created it meanwhile; the
        caller then reads the session and stores again."""
        params = dict(
            subject=new_user,
            id=session_uuid,
            session_id=session_id,
            **_text_params(fields),
            count=len(messages),
            ids=[uuid7() for _ in messages],
            roles=[m.role for m in messages],
            contents=[m.content for m in messages],
            tool_call_ids=[m.tool_call_id for m in messages],
            tool_names=[m.tool_name for m in messages],
            extra_data=[m.extra_data for m in messages],
        )
        query = q.store_turn(with_user=new_user is not None, unread=unread)
        try:
            rows = await self._all(query, tuple_row, **params)
        except psycopg.errors.UniqueViolation:
            # Two first turns of a new session raced: the upsert's arbiter is the id, and the
            # other insert can win on the (user_id, session_id) index first. The statement
            # changed nothing. An unread turn lets the caller read the session (it may also be
            # one with another id, which no retry would reach); otherwise the session now
            # exists, so the retry takes the update path.
            if unread:
                return None
            rows = await self._all(query, tuple_row, **params)
        if not rows:
            return None
        session = Session(*rows[0][:_N_SESSION])
        count = int(rows[0][_N_SESSION + 1])
        return session, [Message(*row[_N_SESSION + 2 :]) for row in rows], count
