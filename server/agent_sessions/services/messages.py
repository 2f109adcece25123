"""Messages: append, read, list, change and delete the messages of the caller's sessions."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from agent_sessions import validation as v
from agent_sessions.agents.tools.access import ToolServerAccess, access_of
from agent_sessions.db.rows import from_json
from agent_sessions.db.uow import Database, UnitOfWork
from agent_sessions.domain import (
    UNGUARDED,
    Guard,
    Message,
    NewMessage,
    NewSessionRow,
    Owner,
    Page,
)
from agent_sessions.errors import InvalidArgument
from agent_sessions.services import pagination
from agent_sessions.services.errors import message_not_found, session_not_found
from agent_sessions.services.once import (
    check_unchanged,
    etag_numbers,
    recorded,
    session_changed,
    true_or_none,
    write_once,
    write_once_locked,
)
from agent_sessions.services.pagination import PageTokens
from agent_sessions.services.sessions import check_retention, session_fields, session_uuid_for
from agent_sessions.services.tool_calls import PENDING_TAIL, answer_results, pending_calls

OPTIONAL_TEXT_FIELDS = ("tool_call_id", "tool_name")


def _message_texts(message: Message) -> tuple[str | None, ...]:
    return (message.content, message.tool_call_id, message.tool_name, message.extra_data)


class MessageService:
    """The rules of the MessageService calls."""

    def __init__(
        self,
        db: Database,
        tokens: PageTokens,
        tool_servers: Sequence[str] | ToolServerAccess = (),
        models: frozenset[str] | None = None,
    ) -> None:
        self.db = db
        self.tokens = tokens
        # The configured MCP servers a created session's `server_tools` may name, per user.
        self.tool_servers = access_of(tool_servers)
        # The models a session it creates may name (AGENT_SESSIONS_MODELS); None: any.
        self.models = models

    async def list(
        self, owner: Owner, session_id: str, *, page_size: int, page_token: str, order: str
    ) -> Page[Message]:
        session_id = v.session_id(session_id)
        limit = v.page_size(page_size)
        order = v.order(order)
        scope = pagination.scope("messages", owner.user_id, session_id, order)
        after = self.tokens.read(scope, page_token, pagination.message_position)
        async with self.db.work(owner) as uow:
            found = await uow.messages.page(
                session_id,
                descending=order == "desc",
                limit=limit + 1,
                after_seq=after,
                budget=pagination.PAGE_TEXT_BUDGET,
            )
        if found is None:
            raise session_not_found(session_id)
        rows, total = found
        shown = pagination.fitting(rows, limit, _message_texts)
        token = self.tokens.issue(scope, [rows[shown - 1].seq]) if len(rows) > shown else ""
        return Page(rows[:shown], token, total)

    async def create(
        self,
        owner: Owner,
        session_id: str,
        role: str,
        content: str,
        tool_call_id: str | None,
        tool_name: str | None,
        extra_data: str | None,
        guard: Guard = UNGUARDED,
    ) -> Message:
        """Appends a message at the session's end (one statement, one round trip)."""
        session_id = v.session_id(session_id)
        message = v.new_message("", role, content, tool_call_id, tool_name, extra_data)
        async with self.db.work(owner) as uow:
            stored = await write_once(
                uow,
                guard.request,
                lambda: uow.messages.append(
                    session_id, message, expected_seq=guard.expected_seq, request=guard.request
                ),
                _replay_message,
            )
            if stored is not None:
                return stored
            await self._why_unchanged(uow, session_id, guard)
        raise session_not_found(session_id)

    async def create_batch(
        self,
        owner: Owner,
        session_id: str,
        messages: Sequence[NewMessage],
        create: NewSessionRow | None,
        guard: Guard = UNGUARDED,
    ) -> builtins.list[Message]:
        """Appends up to MAX_BATCH_MESSAGES messages in one statement: all or none, contiguous.
        A tool result must answer a tool call earlier in the batch or one the session waits
        for (its `tool_name` is filled in from the call). With `create` (the new session's
        fields, and whether it is active) a missing session is created."""
        session_id = v.session_id(session_id)
        if not messages:
            raise InvalidArgument("messages", "must hold at least one message")
        if len(messages) > v.MAX_BATCH_MESSAGES:
            raise InvalidArgument(
                "messages",
                f"must hold at most {v.MAX_BATCH_MESSAGES} messages, got {len(messages)}",
            )
        checked = [
            v.new_message(
                f"messages[{i}].", m.role, m.content, m.tool_call_id, m.tool_name, m.extra_data
            )
            for i, m in enumerate(messages)
        ]
        new_session = None
        if create is not None:
            check_retention(create.retention, "create_session.")
            new_session = replace(
                create,
                fields=session_fields(
                    create.fields, self.tool_servers.names_for(owner), self.models
                ),
                labels=v.labels(create.labels, "create_session.labels"),
            )
        if guard.expected_seq not in (None, 0):
            new_session = None  # a missing session's seq is 0: only an existing one can match
        replay = _replay_batch
        async with self.db.work(owner) as uow:
            if any(m.role == "tool" for m in checked):
                # A retry answers as the first call did, although the calls its results
                # answered are no longer pending.
                first = await recorded(uow, guard.request)
                if first is not None:
                    return replay(first.result)
                # Results need the calls they answer: the session's pending ones, read first.
                found = await uow.turns.context(session_id, PENDING_TAIL, history=False)
                checked = answer_results(checked, pending_calls(found[1]) if found else {})
            stored = await write_once(
                uow,
                guard.request,
                lambda: uow.messages.append_batch(
                    session_uuid_for(owner.user_id, session_id),
                    session_id,
                    checked,
                    create=new_session,
                    new_user=uow.new_user() if new_session is not None else None,
                    expected_seq=guard.expected_seq,
                    request=guard.request,
                ),
                replay,
            )
            if stored is not None:
                return stored
            await self._why_unchanged(uow, session_id, guard, create is not None)
        raise session_not_found(session_id)

    @staticmethod
    async def _why_unchanged(
        uow: UnitOfWork, session_id: str, guard: Guard, creates: bool = False
    ) -> None:
        """An append stored nothing and its request id is unused: SESSION_CHANGED when the
        session's seq moved on (one a batch would create counts as 0); else the caller answers
        NOT_FOUND."""
        if guard.expected_seq is None:
            return
        current = await uow.sessions.get(session_id)
        if current is not None:
            raise session_changed(session_id, current.seq, guard.expected_seq)
        if creates:
            raise session_changed(session_id, 0, guard.expected_seq)

    async def _missing(self, owner: Owner, session_id: str, message_id: uuid.UUID) -> Exception:
        """Which one is missing: the session or the message?"""
        async with self.db.work(owner) as uow:
            session = await uow.sessions.get(session_id)
        if session is None:
            return session_not_found(session_id)
        return message_not_found(message_id)

    async def get(self, owner: Owner, session_id: str, message_id: str) -> Message:
        session_id = v.session_id(session_id)
        id_ = v.uuid_value("message_id", message_id)
        async with self.db.work(owner) as uow:
            message = await uow.messages.get(session_id, id_)
        if message is None:
            raise await self._missing(owner, session_id, id_)
        return message

    async def update(
        self,
        owner: Owner,
        session_id: str,
        message_id: str,
        changes: dict[str, Any],
        guard: Guard = UNGUARDED,
    ) -> Message:
        """Changes the fields present in `changes`: content, extra_data, tool_call_id, tool_name
        (for the last two, empty removes); the session takes its next seq."""
        session_id = v.session_id(session_id)
        id_ = v.uuid_value("message_id", message_id)
        checked: dict[str, Any] = {}
        if "content" in changes:
            checked["content"] = v.text("content", changes["content"])
        for name in OPTIONAL_TEXT_FIELDS:
            if name in changes:
                checked[name] = v.optional_text(name, changes[name])
        if "extra_data" in changes:
            checked["extra_data"] = v.json_text("extra_data", changes["extra_data"])
        etag = etag_numbers(guard.etag, 1)
        if checked:
            message = await write_once_locked(
                self.db,
                owner,
                session_id,
                guard.request,
                lambda uow: uow.messages.update(
                    session_id, id_, checked, etag=etag, request=guard.request
                ),
                _replay_message,
            )
            if message is not None:
                return message
        async with self.db.work(owner) as uow:
            current = await uow.messages.get(session_id, id_)
        if current is None:
            raise await self._missing(owner, session_id, id_)
        check_unchanged("message", current, guard, tried=bool(checked))
        return current

    async def delete(
        self, owner: Owner, session_id: str, message_id: str, guard: Guard = UNGUARDED
    ) -> None:
        """Deletes one message (the session takes its next seq and counts one less)."""
        session_id = v.session_id(session_id)
        id_ = v.uuid_value("message_id", message_id)
        etag = etag_numbers(guard.etag, 1)
        deleted = await write_once_locked(
            self.db,
            owner,
            session_id,
            guard.request,
            lambda uow: true_or_none(
                uow.messages.delete(session_id, id_, etag=etag, request=guard.request)
            ),
            lambda _: True,
        )
        if deleted:
            return
        async with self.db.work(owner) as uow:
            current = await uow.messages.get(session_id, id_)
        if current is None:
            raise await self._missing(owner, session_id, id_)
        check_unchanged("message", current, guard, tried=True)

    async def clear(self, owner: Owner, session_id: str, guard: Guard = UNGUARDED) -> int:
        """Deletes every message of the session (one seq for all); returns how many."""
        session_id = v.session_id(session_id)
        deleted = await write_once_locked(
            self.db,
            owner,
            session_id,
            guard.request,
            lambda uow: uow.messages.clear(session_id, request=guard.request),
            lambda result: int(result["rows"][0]["deleted_count"]),
        )
        if deleted is None:
            raise session_not_found(session_id)
        return deleted


def _replay_batch(result: dict[str, Any]) -> builtins.list[Message]:
    return [from_json(Message, row) for row in result["messages"]]


def _replay_message(result: dict[str, Any]) -> Message:
    return from_json(Message, result["rows"][0])
