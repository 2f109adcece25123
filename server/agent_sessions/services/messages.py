"""Messages: append, read, list, change and delete the messages of the caller's sessions."""

from __future__ import annotations

import uuid
from typing import Any

from agent_sessions import validation as v
from agent_sessions.db.uow import Database
from agent_sessions.domain import Message, Owner, Page
from agent_sessions.services import pagination
from agent_sessions.services.errors import message_not_found, session_not_found
from agent_sessions.services.pagination import PageTokens

OPTIONAL_TEXT_FIELDS = ("tool_call_id", "tool_name")


def _message_texts(message: Message) -> tuple[str | None, ...]:
    return (message.content, message.tool_call_id, message.tool_name, message.extra_data)


class MessageService:
    """The rules of the MessageService calls."""

    def __init__(self, db: Database, tokens: PageTokens) -> None:
        self.db = db
        self.tokens = tokens

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
                session_id, descending=order == "desc", limit=limit + 1, after_seq=after
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
    ) -> Message:
        """Appends a message at the session's end (one statement, one round trip)."""
        session_id = v.session_id(session_id)
        message = v.new_message("", role, content, tool_call_id, tool_name, extra_data)
        async with self.db.work(owner) as uow:
            stored = await uow.messages.append(session_id, message)
        if stored is None:
            raise session_not_found(session_id)
        return stored

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
        self, owner: Owner, session_id: str, message_id: str, changes: dict[str, Any]
    ) -> Message:
        """Changes the fields present in `changes`: content, extra_data, tool_call_id, tool_name
        (for the last two, empty removes)."""
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
        if not checked:
            return await self.get(owner, session_id, message_id)
        async with self.db.work(owner) as uow:
            message = await uow.messages.update(session_id, id_, checked)
        if message is None:
            raise await self._missing(owner, session_id, id_)
        return message

    async def delete(self, owner: Owner, session_id: str, message_id: str) -> None:
        session_id = v.session_id(session_id)
        id_ = v.uuid_value("message_id", message_id)
        async with self.db.work(owner, transaction=True) as uow:
            # Lock the session row first: the count must move with the delete.
            if not await uow.sessions.lock(session_id):
                raise session_not_found(session_id)
            if not await uow.messages.delete(session_id, id_):
                raise message_not_found(id_)
            await uow.sessions.add_to_message_count(session_id, -1)

    async def clear(self, owner: Owner, session_id: str) -> int:
        """Deletes every message of the session; returns how many."""
        session_id = v.session_id(session_id)
        async with self.db.work(owner, transaction=True) as uow:
            if not await uow.sessions.lock(session_id):
                raise session_not_found(session_id)
            deleted = await uow.messages.clear(session_id)
            await uow.sessions.reset_message_count(session_id)
        return deleted
