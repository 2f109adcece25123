"""Repositories: built from one connection and one owner; the only code that runs SQL on user
data. Every statement is bound with the owner's id here, in `_Repository._params`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import psycopg
from psycopg.rows import AsyncRowFactory, tuple_row
from psycopg.types.json import Jsonb

from agent_sessions.db import statements as q
from agent_sessions.db.checkout import Checkout
from agent_sessions.db.ids import uuid7
from agent_sessions.db.rows import MESSAGE_ROW, SESSION_ROW
from agent_sessions.domain import (
    SESSION_TEXT_FIELDS,
    Message,
    NewMessage,
    NewSessionRow,
    Owner,
    RequestKey,
    Retention,
    Session,
    SessionFields,
    Usage,
    from_micros,
)

_N_SESSION = len(q.SESSION_COLUMNS)


def _text_params(fields: SessionFields) -> dict[str, str | None]:
    """A session's text fields as statement parameters, by name."""
    return {name: getattr(fields, name) for name in SESSION_TEXT_FIELDS}


def _labels_text(labels: dict[str, str] | None) -> str:
    """A new session's labels as JSON text for a `::jsonb` parameter: psycopg dumps a str in C,
    where `Jsonb({})` took 1.5 µs of Python for the usual no labels."""
    return json.dumps(labels) if labels else "{}"


class RequestIdTaken(Exception):
    """A write's request id is recorded already (by a call that committed first): the write
    changed nothing; the caller answers from the record (`RequestRepository.get`)."""


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """A recorded request id: the call it named and what that call stored (the rows its
    statement returned, as JSON: `{"rows": [...]}`, or a turn's session and messages)."""

    method: str
    fingerprint: bytes
    result: dict[str, Any]


def _taken(exc: psycopg.errors.UniqueViolation) -> bool:
    return exc.diag.constraint_name == "pk_request_ids"


class _Repository:
    __slots__ = ("_checkout", "_request_ttl", "_session_ttl", "_touched", "_user_id")

    def __init__(
        self,
        checkout: Checkout,
        owner: Owner,
        request_ttl: int = 86_400,
        session_ttl: int | None = None,
        touched: set[uuid.UUID] | None = None,
    ) -> None:
        self._checkout = checkout  # the unit of work's connection, shared by its repositories
        # The sessions this unit of work changed: woken after its commit (db/listener.Notifier).
        self._touched = touched if touched is not None else set()
        self._user_id = owner.user_id
        # How long a request id is kept after its write (AGENT_SESSIONS_REQUEST_ID_TTL).
        self._request_ttl = request_ttl
        # How long a new session lives by default (AGENT_SESSIONS_SESSION_TTL; None: forever).
        self._session_ttl = session_ttl

    def _expiry(self, retention: Retention | None = None) -> dict[str, Any]:
        """The parameters of a new session's expiry: the given time or ttl, else the default."""
        if retention is not None and retention.expire_time is not None:
            return {"expire_time": retention.expire_time, "expire_after": None}
        ttl = retention.ttl if retention is not None and retention.ttl is not None else None
        return {"expire_time": None, "expire_after": ttl if ttl is not None else self._session_ttl}

    async def _purge_expired(self, session_id: str) -> bool:
        """Deletes the owner's expired session with this `session_id` (not yet swept), which
        still holds its id: a new session may take it. Whether there was one."""
        return bool(await self._run(q.PURGE_EXPIRED_SESSION, session_id=session_id))

    def _request(self, request: RequestKey | None) -> dict[str, Any]:
        """The parameters that record a request id with its write (none without one)."""
        if request is None:
            return {}
        return {
            "request_id": request.request_id,
            "method": request.method,
            "fingerprint": request.fingerprint,
            "ttl": self._request_ttl,
        }

    def _append_params(
        self,
        session_uuid: uuid.UUID,
        session_id: str,
        fields: SessionFields,
        is_active: bool,
        messages: Sequence[NewMessage],
        new_user: str | None,
        expected_seq: int | None,
        request: RequestKey | None,
        labels: dict[str, str] | None = None,
        retention: Retention | None = None,
    ) -> dict[str, Any]:
        """The parameters of `append_messages` (each message gets a new id; `labels` and
        `retention`: of the session, if the statement creates it)."""
        return dict(
            subject=new_user,
            id=session_uuid,
            session_id=session_id,
            is_active=is_active,
            labels=_labels_text(labels),
            **_text_params(fields),
            **_message_params(messages),
            **_usage_params(None),
            **self._expiry(retention),
            expected_seq=expected_seq,
            extra=None,
            **self._request(request),
        )

    async def _write(self, query: str, rows: AsyncRowFactory[Any], **params: Any) -> list[Any]:
        """Runs a write; RequestIdTaken when its request id is recorded already."""
        return await self._write_bound(query, rows, self._params(**params))

    async def _write_bound(
        self, query: str, rows: AsyncRowFactory[Any], bound: dict[str, Any]
    ) -> list[Any]:
        """`_write` given parameters bound already (`_params`): no copy of them per layer."""
        try:
            cursor = await self._execute(query, rows, bound)
            return cast(list[Any], await cursor.fetchall())
        except psycopg.errors.UniqueViolation as exc:
            if _taken(exc):
                raise RequestIdTaken from None
            raise

    def _params(self, **params: Any) -> dict[str, Any]:
        """The statement's parameters (`p_` + name), always with the owner's id."""
        bound = {f"p_{name}": value for name, value in params.items()}
        bound["p_user_id"] = self._user_id
        return bound

    async def _execute(
        self,
        query: str,
        rows: AsyncRowFactory[Any],
        params: dict[str, Any],
        prepare: bool | None = None,
    ) -> Any:
        return await self._checkout.execute(query, rows, params, prepare)

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

    async def _planned(self, query: str, rows: AsyncRowFactory[Any], **params: Any) -> list[Any]:
        """Like `_all`, planned for these parameter values every time: never a prepared
        statement's generic plan, which cannot know how selective a label filter is (it walked
        the newest-first index past 5,000 sessions for a 1% filter instead of the GIN index)."""
        cursor = await self._execute(query, rows, self._params(**params), prepare=False)
        return cast(list[Any], await cursor.fetchall())


class SessionRepository(_Repository):
    """The owner's sessions."""

    __slots__ = ()

    async def get(self, session_id: str) -> Session | None:
        return cast(
            Session | None, await self._one(q.GET_SESSION, SESSION_ROW, session_id=session_id)
        )

    async def create(
        self,
        id: uuid.UUID,
        session_id: str,
        fields: SessionFields,
        is_active: bool,
        new_user: str | None,
        *,
        labels: dict[str, str] | None = None,
        retention: Retention | None = None,
        request: RequestKey | None = None,
    ) -> Session | None:
        """Inserts a session (and the owner's user row, given its subject as `new_user`) in one
        statement; None when the owner already has one with this `session_id`."""
        bound = self._params(
            subject=new_user,
            id=id,
            session_id=session_id,
            is_active=is_active,
            labels=_labels_text(labels),
            **_text_params(fields),
            **self._expiry(retention),
            **self._request(request),
        )
        query = q.create_session(with_user=new_user is not None, request=request is not None)
        rows = await self._write_bound(query, SESSION_ROW, bound)
        if not rows and await self._purge_expired(session_id):
            rows = await self._write_bound(query, SESSION_ROW, bound)
        if rows:
            self._touched.add(rows[0].id)
        return rows[0] if rows else None

    async def fork(
        self,
        session_id: str,
        new_id: uuid.UUID,
        new_session_id: str,
        up_to: uuid.UUID | None,
        session_name: str | None,
        *,
        request: RequestKey | None = None,
    ) -> tuple[bool, bool, bool, Session | None]:
        """Copies the session and its messages (up to and including `up_to`) into a new one,
        in one statement. Returns whether the source and the cut were found, whether the cut
        splits a tool call from its result, and the new session (None: nothing made)."""
        query = q.fork_session(up_to=up_to is not None, request=request is not None)
        params = dict(
            session_id=session_id,
            id=new_id,
            new_session_id=new_session_id,
            up_to=up_to,
            session_name=session_name,
            **self._expiry(),
            **self._request(request),
        )
        row = (await self._write(query, tuple_row, **params))[0]
        taken = row[3] is None and row[0] and row[1] and not row[2]
        if taken and await self._purge_expired(new_session_id):
            row = (await self._write(query, tuple_row, **params))[0]
        made = Session(*row[3:]) if row[3] is not None else None
        return bool(row[0]), bool(row[1]), bool(row[2]), made

    async def lock(self, session_id: str) -> Session | None:
        """The live session, row-locked until the transaction ends."""
        return cast(
            Session | None, await self._one(q.LOCK_SESSION, SESSION_ROW, session_id=session_id)
        )

    async def rewind_cut(self, session_id: str, after: uuid.UUID) -> tuple[int, bool] | None:
        """The seq of the message a rewind keeps last, and whether cutting after it splits a
        tool call from its result; None when the session has no such message."""
        row = await self._one(q.REWIND_CUT, tuple_row, session_id=session_id, after=after)
        return (int(row[0]), bool(row[1])) if row is not None else None

    async def rewind(
        self, session_id: str, cut: int, *, request: RequestKey | None = None
    ) -> Session | None:
        """Deletes the messages after seq `cut`; the session takes one seq for each."""
        rows = await self._write(
            q.rewind_session(request=request is not None),
            SESSION_ROW,
            session_id=session_id,
            cut=cut,
            **self._request(request),
        )
        if rows:
            self._touched.add(rows[0].id)
        return rows[0] if rows else None

    async def page(
        self,
        *,
        is_active: bool | None,
        agent_name: str | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
        labels: dict[str, str] | None = None,
    ) -> list[Session]:
        """Up to `limit` sessions, newest first, after the position `after`; with `labels`,
        only those that have all of them."""
        query = q.list_sessions(
            is_active=is_active is not None,
            agent_name=agent_name is not None,
            after=after is not None,
            labels=bool(labels),
        )
        run = self._planned if labels else self._all
        return await run(
            query,
            SESSION_ROW,
            is_active=is_active,
            agent_name=agent_name,
            labels=Jsonb(labels) if labels else None,
            limit=limit,
            after_created_at=after[0] if after else None,
            after_id=after[1] if after else None,
        )

    async def count(
        self,
        *,
        is_active: bool | None,
        agent_name: str | None,
        labels: dict[str, str] | None = None,
    ) -> int:
        query = q.count_sessions(
            is_active=is_active is not None, agent_name=agent_name is not None, labels=bool(labels)
        )
        run = self._planned if labels else self._all
        rows = await run(
            query,
            tuple_row,
            is_active=is_active,
            agent_name=agent_name,
            labels=Jsonb(labels) if labels else None,
        )
        return int(rows[0][0])

    async def update(
        self,
        session_id: str,
        changes: dict[str, Any],
        *,
        etag: tuple[int, ...] | None = None,
        request: RequestKey | None = None,
    ) -> Session | None:
        """Sets the given fields, `updated_at` and the next seq; None when there is no such
        session (or, given the numbers of an etag, it is not the current one)."""
        query = q.update_session(
            frozenset(changes), etag=etag is not None, request=request is not None
        )
        rows = await self._write(
            query,
            SESSION_ROW,
            session_id=session_id,
            **{
                name: Jsonb(value) if name == "labels" else value for name, value in changes.items()
            },
            **_session_etag(etag),
            **self._request(request),
        )
        if rows:
            self._touched.add(rows[0].id)
        return rows[0] if rows else None

    async def delete(
        self,
        session_id: str,
        *,
        etag: tuple[int, ...] | None = None,
        request: RequestKey | None = None,
    ) -> bool:
        query = q.delete_session(etag=etag is not None, request=request is not None)
        rows = await self._write(
            query, tuple_row, session_id=session_id, **_session_etag(etag), **self._request(request)
        )
        if rows:
            self._touched.add(rows[0][0])
        return bool(rows)


def _session_etag(etag: tuple[int, ...] | None) -> dict[str, Any]:
    if etag is None:
        return {}
    return {"etag_seq": etag[0], "etag_created_at": from_micros(etag[1])}


def _message_etag(etag: tuple[int, ...] | None) -> dict[str, Any]:
    return {} if etag is None else {"etag_updated_at": from_micros(etag[0])}


def _usage_params(usage: Usage | None) -> dict[str, int]:
    """What `append_messages` adds to a session's usage: a turn's (None: a batch, no turn)."""
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0, "turns": 0}
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "turns": 1,
    }


def _message_params(messages: Sequence[NewMessage]) -> dict[str, Any]:
    """Messages as the array parameters of `append_messages`, each with a new id."""
    return dict(
        count=len(messages),
        ids=[uuid7() for _ in messages],
        roles=[m.role for m in messages],
        contents=[m.content for m in messages],
        tool_call_ids=[m.tool_call_id for m in messages],
        tool_names=[m.tool_name for m in messages],
        extra_data=[m.extra_data for m in messages],
    )


class MessageRepository(_Repository):
    """The messages of the owner's sessions."""

    __slots__ = ()

    async def append(
        self,
        session_id: str,
        message: NewMessage,
        *,
        expected_seq: int | None = None,
        request: RequestKey | None = None,
    ) -> Message | None:
        """Appends one message at the session's end in one statement; None without a session
        (or when its seq is no longer `expected_seq`)."""
        message_id = uuid7()
        rows = await self._write(
            q.create_message(expected_seq=expected_seq is not None, request=request is not None),
            tuple_row,
            session_id=session_id,
            id=message_id,
            role=message.role,
            content=message.content,
            tool_call_id=message.tool_call_id,
            tool_name=message.tool_name,
            extra_data=message.extra_data,
            expected_seq=expected_seq,
            **self._request(request),
        )
        if not rows:
            return None
        session_uuid, seq, created_at, updated_at = rows[0]
        self._touched.add(session_uuid)
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

    async def append_batch(
        self,
        session_uuid: uuid.UUID,
        session_id: str,
        messages: Sequence[NewMessage],
        *,
        create: NewSessionRow | None,
        new_user: str | None,
        expected_seq: int | None = None,
        request: RequestKey | None = None,
    ) -> list[Message] | None:
        """Appends messages at the session's end in one statement, contiguous; with `create`
        (the new session: its fields, whether it is active, labels, expiry) a missing session
        is created. None: nothing stored (no session, or its seq is no longer `expected_seq`)."""
        new = create if create is not None else NewSessionRow(SessionFields())
        params = self._append_params(
            session_uuid,
            session_id,
            new.fields,
            new.is_active,
            messages,
            new_user,
            expected_seq,
            request,
            new.labels,
            new.retention,
        )

        def query(create: bool) -> str:
            return q.append_messages(
                with_user=new_user is not None,
                create=create,
                active_only=False,
                expected_seq=expected_seq is not None,
                request=request is not None,
            )

        try:
            rows = await self._write(query(create is not None), tuple_row, **params)
        except psycopg.errors.UniqueViolation:
            # The session exists under another id than the derived one (or a concurrent first
            # write won on the (user_id, session_id) index): the statement changed nothing;
            # append to the session that is there.
            rows = await self._write(query(False), tuple_row, **params)
        if not rows and create is not None and await self._purge_expired(session_id):
            rows = await self._write(query(True), tuple_row, **params)
        if not rows:
            return None
        self._touched.add(rows[0][0])  # the session's id, the first column
        return [Message(*row[_N_SESSION + 1 :]) for row in rows]

    async def get(self, session_id: str, message_id: uuid.UUID) -> Message | None:
        return cast(
            Message | None,
            await self._one(
                q.GET_MESSAGE, MESSAGE_ROW, session_id=session_id, message_id=message_id
            ),
        )

    async def page(
        self,
        session_id: str,
        *,
        descending: bool,
        limit: int,
        after_seq: int | None,
        budget: int,
    ) -> tuple[list[Message], int] | None:
        """Up to `limit` messages after `after_seq` and the session's count; None without a
        session. Rows past `budget` bytes of text are not read (but the first two always are:
        see `list_messages`). One round trip."""
        rows = await self._all(
            q.list_messages(descending=descending, after=after_seq is not None),
            tuple_row,
            session_id=session_id,
            limit=limit,
            after=after_seq,
            budget=budget,
        )
        if not rows:
            return None
        # Columns: the session's id and count, then the message (NULLs for an empty session).
        messages = [Message(*row[2:]) for row in rows if row[2] is not None]
        return messages, int(rows[0][1])

    async def update(
        self,
        session_id: str,
        message_id: uuid.UUID,
        changes: dict[str, Any],
        *,
        etag: tuple[int, ...] | None = None,
        request: RequestKey | None = None,
    ) -> Message | None:
        """Sets the given fields and `updated_at`; the session takes its next seq. None when
        the message is not there (or, given an etag's numbers, is no longer that)."""
        query = q.update_message(
            frozenset(changes), etag=etag is not None, request=request is not None
        )
        rows = await self._write(
            query,
            MESSAGE_ROW,
            session_id=session_id,
            message_id=message_id,
            **changes,
            **_message_etag(etag),
            **self._request(request),
        )
        if rows:
            self._touched.add(rows[0].session_uuid)
        return rows[0] if rows else None

    async def delete(
        self,
        session_id: str,
        message_id: uuid.UUID,
        *,
        etag: tuple[int, ...] | None = None,
        request: RequestKey | None = None,
    ) -> bool:
        """Deletes the message (the session takes its next seq); False when it is not there."""
        rows = await self._write(
            q.delete_message(etag=etag is not None, request=request is not None),
            tuple_row,
            session_id=session_id,
            message_id=message_id,
            **_message_etag(etag),
            **self._request(request),
        )
        if rows:
            self._touched.add(rows[0][1])
        return bool(rows)

    async def clear(self, session_id: str, *, request: RequestKey | None = None) -> int | None:
        """Deletes every message of the session; how many, or None without a session."""
        rows = await self._write(
            q.clear_messages(request=request is not None),
            tuple_row,
            session_id=session_id,
            **self._request(request),
        )
        if rows:
            self._touched.add(rows[0][0])
        return int(rows[0][1]) if rows else None


class RequestRepository(_Repository):
    """The owner's recorded request ids."""

    __slots__ = ()

    async def get(self, request_id: uuid.UUID) -> StoredRequest | None:
        row = await self._one(q.GET_REQUEST, tuple_row, request_id=request_id)
        return StoredRequest(row[0], bytes(row[1]), row[2]) if row else None


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
        expected_seq: int | None = None,
        request: RequestKey | None = None,
        extra: str | None = None,
        usage: Usage | None = None,
        turn: str = "",
        turn_id: uuid.UUID | None = None,
        turn_extra: str | None = None,
    ) -> tuple[Session, list[Message], int] | None:
        """Stores a whole turn in one statement, creating the session if it is new; returns
        the session, the stored messages and the session's new count, or None (nothing
        stored) when the session is inactive or its seq is no longer `expected_seq`.

        `unread`: the session was not read before the turn, so `session_uuid` is only what a
        session created now would get. None (nothing stored) also when the session's newest
        message is a tool call or result, when the stored session has another id (one created
        before ids were derived), or when a concurrent first turn created it meanwhile; the
        caller then reads the session and stores again.

        `request`: the request id is recorded with the turn, and `extra` (JSON text) with it:
        what the answer holds beyond the stored rows.

        `usage`: the turn's token usage (None: the agent reported none), added to the
        session's in the same statement; the session counts one turn more either way."""
        params = self._append_params(
            session_uuid, session_id, fields, True, messages, new_user, expected_seq, request
        )
        params.update(extra=extra, **_usage_params(usage or Usage()))
        if turn:
            params.update(
                turn_id=turn_id,
                turn_extra=turn_extra,
                turn_request_id=request.request_id if request else None,
                turn_method=request.method if request else None,
                turn_fingerprint=request.fingerprint if request else None,
            )
        query = q.append_messages(
            with_user=new_user is not None,
            create=True,
            active_only=True,
            unread=unread,
            expected_seq=expected_seq is not None,
            request=request is not None,
            turn=turn,
        )
        try:
            rows = await self._write(query, tuple_row, **params)
        except psycopg.errors.UniqueViolation:
            # Two first turns of a new session raced: the upsert's arbiter is the id, and the
            # other insert can win on the (user_id, session_id) index first. The statement
            # changed nothing. An unread turn lets the caller read the session (it may also be
            # one with another id, which no retry would reach); otherwise the session now
            # exists, so the retry takes the update path.
            if unread:
                return None
            rows = await self._write(query, tuple_row, **params)
        if not rows and await self._purge_expired(session_id):
            # The session had expired (unswept, it still held the id): the turn starts anew.
            rows = await self._write(query, tuple_row, **params)
        if not rows:
            return None
        session = Session(*rows[0][:_N_SESSION])
        self._touched.add(session.id)
        count = int(rows[0][_N_SESSION])
        return session, [Message(*row[_N_SESSION + 1 :]) for row in rows], count
