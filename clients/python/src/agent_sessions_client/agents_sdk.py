"""An OpenAI Agents SDK `Session` whose history lives in the Agent Sessions service.

Needs the `agents` extra: `pip install 'agent-sessions-client[agents]'`.

Each item is one message of the backing session. The message's `extra_data` holds the item's
full JSON, so items round-trip exactly; role, content and tool fields are filled in the way the
service stores tool calls and results itself, so the service's own agent can
continue a session written here, and people and other clients can read it:

| item | role | content | tool fields |
|---|---|---|---|
| message (`user`, `assistant`, `system`; `developer`) | its role (`developer` → `system`) | its text | — |
| `function_call` and other tool calls | `assistant` | its arguments (JSON), input or text | `call_id`, `name` |
| `function_call_output` and other `*_output` items | `tool` | the output's text | `call_id`, the call's `name` |
| anything else (reasoning, …) | `assistant` | its text or summary | — |

Messages written by others (the service's agent in `conversation()`, other clients) are read
back the same way in reverse: an `assistant` message with `tool_call_id` and `tool_name` as a
`function_call` item (its content is the arguments), a `tool` message with a call id as a
`function_call_output` item, anything else as an easy input message `{"role": …, "content": …}`;
tool messages without a call id have no item form and are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast

from agent_sessions_client._requests import MAX_BATCH
from agent_sessions_client.aio import AsyncClient
from agent_sessions_client.errors import (
    AbortedError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from agent_sessions_client.models import ConversationMessage, Message, NewSession, Role

try:
    from agents.items import TResponseInputItem
    from agents.memory import SessionSettings
except ImportError as exc:
    raise ImportError(
        "agent_sessions_client.agents_sdk needs the OpenAI Agents SDK: "
        "pip install 'agent-sessions-client[agents]'"
    ) from exc

__all__ = ["AgentSessionsSession"]

T = TypeVar("T")

# The service's largest page: fewer round trips when reading a whole history.
_PAGE_SIZE = 1000
_MESSAGE_ROLES: Mapping[str, Role] = {
    "user": "user",
    "assistant": "assistant",
    "system": "system",
    "developer": "system",
}


@dataclass(frozen=True)
class _Fields:
    """The message fields an item is stored with, besides its JSON."""

    role: Role
    content: str
    tool_call_id: str | None = None
    tool_name: str | None = None


def _clean(value: str) -> str:
    """The service refuses NUL characters in text; the exact item keeps them (JSON-escaped)."""
    return value.replace("\x00", "")


def _text(value: Any) -> str:
    """The text of a content value: a string, or the texts (or refusals) of its parts."""
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, list):
        texts = [p.get("text") or p.get("refusal") for p in value if isinstance(p, dict)]
        return _clean("\n".join(t for t in texts if isinstance(t, str)))
    return ""


def _optional_str(value: Any) -> str | None:
    return _clean(value) if isinstance(value, str) and value else None


def _is_output(item: Mapping[str, Any]) -> bool:
    kind = item.get("type")
    return isinstance(kind, str) and kind.endswith("_output")


def _fields(item: Mapping[str, Any]) -> _Fields:
    """How an item is shown as a message (see the module's table). A result is sent without its
    tool's name: the service fills it in from the call it answers."""
    kind = item.get("type")
    role = item.get("role")
    if isinstance(role, str) and kind in (None, "message"):
        return _Fields(_MESSAGE_ROLES.get(role, "assistant"), _text(item.get("content")))
    call_id = _optional_str(item.get("call_id"))
    if _is_output(item):
        return _Fields("tool", _text(item.get("output")), call_id, _optional_str(item.get("name")))
    if call_id is not None:
        # A call's content is its arguments, as the service stores its own agent's calls.
        content = next(
            (_clean(v) for v in (item.get("arguments"), item.get("input")) if isinstance(v, str)),
            _text(item.get("content")),
        )
    else:
        content = _text(item.get("content")) or _text(item.get("summary"))
    return _Fields("assistant", content, call_id, _optional_str(item.get("name")))


def _item(message: Message) -> TResponseInputItem | None:
    """The item a message holds, or the closest item for a message written by another client."""
    if message.extra_data:
        try:
            data = json.loads(message.extra_data)
        except ValueError:
            data = None
        if isinstance(data, dict) and (
            isinstance(data.get("type"), str) or data.get("role") in _MESSAGE_ROLES
        ):
            return cast(TResponseInputItem, data)
    if message.role == "assistant" and message.tool_call_id and message.tool_name:
        return cast(
            TResponseInputItem,
            {
                "type": "function_call",
                "call_id": message.tool_call_id,
                "name": message.tool_name,
                "arguments": message.content or "{}",
            },
        )
    if message.role != "tool":
        return cast(TResponseInputItem, {"role": message.role, "content": message.content})
    if message.tool_call_id:
        return cast(
            TResponseInputItem,
            {
                "type": "function_call_output",
                "call_id": message.tool_call_id,
                "output": message.content,
            },
        )
    return None


def _orphan_result(error: InvalidArgumentError) -> int | None:
    """The index of the batch's message that `error` refuses as a result answering no call."""
    if error.reason != "UNKNOWN_TOOL_CALL":
        return None
    for violation in error.field_violations:
        if found := re.fullmatch(r"messages\[(\d+)\]\.tool_call_id", violation.field):
            return int(found.group(1))
    return None


async def _settle(awaitable: Awaitable[T]) -> T:
    """Lets a write finish (or roll back) even if the caller is cancelled meanwhile.

    The caller still gets its CancelledError, once the outcome is settled: a cancelled run never
    leaves half a batch behind (as the SDK's own sessions do).
    """
    task = asyncio.ensure_future(awaitable)
    cancellation: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError as exc:
            cancellation = cancellation or exc
    if cancellation is not None:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved
        raise cancellation
    return task.result()


class AgentSessionsSession:
    """A `agents.memory.Session` backed by one session of the Agent Sessions service.

    Args:
        session_id: The service's session id (`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`); the
            session is created on the first `add_items` if it does not exist.
        client: The `AsyncClient` to call the service with (its token decides the owner).
        session_settings: The SDK's settings; `limit` is the default of `get_items`.
        session_name, description, agent_name, agent_instructions: The fields of a session
            this object creates.

    `add_items` stores one message per item, in order, with one call (`create_messages`, which
    also creates the session when it is missing): all the items or none, consecutive in the
    session however many writers append to it (a result whose call the session does not hold
    is shown as an `assistant` message, after a second call). A call of more than 100 items is sent in chunks
    of 100, one call each, and only each chunk is atomic: when a chunk fails, the chunks before
    it stay stored. The client retries a chunk whose answer was lost with the same request id,
    so it is stored once; a cancelled `add_items` lets the chunk in flight settle before its
    CancelledError is raised. Reading a session that does not exist yet returns no items.
    """

    def __init__(
        self,
        session_id: str,
        client: AsyncClient,
        *,
        session_settings: SessionSettings | None = None,
        session_name: str | None = None,
        description: str | None = None,
        agent_name: str | None = None,
        agent_instructions: str | None = None,
    ) -> None:
        self.session_id = session_id
        self.session_settings: SessionSettings | None = session_settings or SessionSettings()
        self._client = client
        self._session_name = session_name
        self._description = description
        self._agent_name = agent_name
        self._agent_instructions = agent_instructions

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """Returns the history, oldest first; with `limit`, its latest `limit` items, oldest first.

        A `limit` of None means `session_settings.limit`; 0 returns nothing and a negative limit
        everything, as in the SDK's SQLiteSession.
        """
        if limit is None and self.session_settings is not None:
            limit = self.session_settings.limit
        if limit == 0:
            return []
        newest_first = limit is not None and limit > 0
        page_size = min(limit, _PAGE_SIZE) if limit is not None and limit > 0 else _PAGE_SIZE
        items: list[TResponseInputItem] = []
        messages = self._client.list_messages(
            self.session_id, page_size=page_size, order="desc" if newest_first else "asc"
        )
        try:
            async with contextlib.aclosing(messages):
                async for message in messages:
                    item = _item(message)
                    if item is not None:
                        items.append(item)
                    if newest_first and len(items) == limit:
                        break
        except NotFoundError:
            return []
        if newest_first:
            items.reverse()
        return items

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Appends the items, in order, creating the backing session if it does not exist: one
        all-or-none call per 100 items."""
        for start in range(0, len(items), MAX_BATCH):
            await _settle(self._add(items[start : start + MAX_BATCH]))

    async def pop_item(self) -> TResponseInputItem | None:
        """Removes and returns the most recent item; None when the history is empty.

        A rewind of the session to the message before the latest, conditional on the session's
        `seq`: a message another writer appends meanwhile is kept (the pop starts over). The
        only message, or a tool result whose call is the message before it (which the service
        will not split from its call by a rewind), is deleted by itself, if unchanged.
        """
        return await _settle(self._pop())

    async def clear_session(self) -> None:
        """Removes every item. The backing session itself (its name and agent) stays."""
        await _settle(self._clear())

    async def _add(self, items: Sequence[TResponseInputItem]) -> None:
        messages = []
        for item in items:
            fields = _fields(cast(Mapping[str, Any], item))
            messages.append(
                ConversationMessage(
                    fields.role,
                    fields.content,
                    tool_call_id=fields.tool_call_id,
                    tool_name=fields.tool_name,
                    extra_data=json.dumps(item, ensure_ascii=False, separators=(",", ":")),
                )
            )
        new_session = NewSession(
            session_name=self._session_name,
            description=self._description,
            agent_name=self._agent_name,
            agent_instructions=self._agent_instructions,
        )
        while True:
            try:
                await self._client.create_messages(
                    self.session_id, messages, create_session=new_session
                )
                return
            except InvalidArgumentError as exc:
                orphan = _orphan_result(exc)
                if orphan is None or messages[orphan].role != "tool":
                    raise
            # Nothing was stored. The service takes a `tool` message only with the call it
            # answers (earlier in the batch, or one the session waits for); a history may hold
            # results whose call is gone (trimmed, popped): shown as an assistant message
            # instead, and read back by its item all the same.
            messages[orphan] = replace(
                messages[orphan], role="assistant", tool_call_id=None, tool_name=None
            )

    async def _pop(self) -> TResponseInputItem | None:
        while True:
            try:
                session = await self._client.get_session(self.session_id)
                page = await self._client.list_messages_page(
                    self.session_id, page_size=2, order="desc"
                )
            except NotFoundError:
                return None
            if not page.items:
                return None
            message = page.items[0]
            try:
                await self._remove_last(page.items, session.seq)
            except AbortedError:
                continue  # the session changed since it was read: look at the new latest one
            except NotFoundError as exc:
                if exc.reason == "SESSION_NOT_FOUND":
                    return None
                continue  # another caller removed it first: look at the new latest one
            item = _item(message)
            if item is not None:
                return item
            # A message with no item form is dropped too, as SQLiteSession drops corrupt rows.

    async def _remove_last(self, newest: Sequence[Message], seq: int) -> None:
        """Removes `newest[0]`, the latest message: a rewind after the one before it, taken
        only if the session's `seq` is still `seq`, so a message appended meanwhile is never
        removed with it. The service cannot rewind to before the first message, and refuses a
        rewind that keeps a tool call and removes its result: then the message alone is
        deleted, only if unchanged (its etag)."""
        last = newest[0]
        if len(newest) > 1:
            try:
                await self._client.rewind_session(self.session_id, newest[1].id, expected_seq=seq)
                return
            except FailedPreconditionError as exc:
                if exc.reason != "SPLITS_TOOL_CALL":
                    raise
        await self._client.delete_message(self.session_id, last.id, etag=last.etag)

    async def _clear(self) -> None:
        with contextlib.suppress(NotFoundError):
            await self._client.clear_messages(self.session_id)
