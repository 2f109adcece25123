"""An OpenAI Agents SDK `Session` whose history lives in the Agent Sessions service.

Needs the `agents` extra: `pip install 'agent-sessions-client[agents]'`.

Each item is one message of the backing session. The message's `extra_data` holds the item's
full JSON, so items round-trip exactly; role, content and tool fields are filled in for people
and for other clients reading the session:

| item | role | content | tool fields |
|---|---|---|---|
| message (`user`, `assistant`, `system`; `developer`) | its role (`developer` → `system`) | its text | — |
| `function_call` and other tool calls | `assistant` | its text, if any | `call_id`, `name` |
| `function_call_output` and other `*_output` items | `tool` | the output's text | `call_id` |
| anything else (reasoning, …) | `assistant` | its text or summary | — |

Messages written by other clients (for example by `conversation()`) are read back as easy input
messages `{"role": …, "content": …}`, or as `function_call_output` items for tool messages with a
call id; tool messages without one have no item form and are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from agent_sessions_client.aio import AsyncClient
from agent_sessions_client.errors import AlreadyExistsError, NotFoundError
from agent_sessions_client.models import Message, Role

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


def _fields(item: Mapping[str, Any]) -> _Fields:
    """How an item is shown as a message (see the module's table)."""
    kind = item.get("type")
    role = item.get("role")
    if isinstance(role, str) and kind in (None, "message"):
        return _Fields(_MESSAGE_ROLES.get(role, "assistant"), _text(item.get("content")))
    call_id = _optional_str(item.get("call_id"))
    if isinstance(kind, str) and kind.endswith("_output"):
        return _Fields("tool", _text(item.get("output")), tool_call_id=call_id)
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

    `add_items` stores one message per item, in order. A batch is not one transaction: if an
    item fails, the items of the batch stored before it are deleted again (best effort) and the
    error is raised, and a cancelled call settles this way before its CancelledError is raised.
    Reading a session that does not exist yet returns no items.
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
        """Appends the items, in order, creating the backing session if it does not exist."""
        if items:
            await _settle(self._add(items))

    async def pop_item(self) -> TResponseInputItem | None:
        """Removes and returns the most recent item; None when the history is empty."""
        return await _settle(self._pop())

    async def clear_session(self) -> None:
        """Removes every item. The backing session itself (its name and agent) stays."""
        await _settle(self._clear())

    async def _add(self, items: Sequence[TResponseInputItem]) -> None:
        stored: list[str] = []
        try:
            for item in items:
                stored.append(await self._store(cast(Mapping[str, Any], item)))
        except BaseException:
            for message_id in reversed(stored):
                with contextlib.suppress(Exception):
                    await self._client.delete_message(self.session_id, message_id)
            raise

    async def _store(self, item: Mapping[str, Any]) -> str:
        """Stores one item as a message and returns the message's id."""
        fields = _fields(item)
        extra_data = json.dumps(item, ensure_ascii=False, separators=(",", ":"))

        async def create() -> str:
            message = await self._client.create_message(
                self.session_id,
                fields.role,
                fields.content,
                tool_call_id=fields.tool_call_id,
                tool_name=fields.tool_name,
                extra_data=extra_data,
            )
            return message.id

        try:
            return await create()
        except NotFoundError as exc:
            if exc.reason != "SESSION_NOT_FOUND":
                raise
        # Nothing was stored: create the session, then send the message once more.
        with contextlib.suppress(AlreadyExistsError):
            await self._client.create_session(
                self.session_id,
                session_name=self._session_name,
                description=self._description,
                agent_name=self._agent_name,
                agent_instructions=self._agent_instructions,
            )
        return await create()

    async def _pop(self) -> TResponseInputItem | None:
        while True:
            try:
                page = await self._client.list_messages_page(
                    self.session_id, page_size=1, order="desc"
                )
            except NotFoundError:
                return None
            if not page.items:
                return None
            message = page.items[0]
            try:
                await self._client.delete_message(self.session_id, message.id)
            except NotFoundError as exc:
                if exc.reason == "SESSION_NOT_FOUND":
                    return None
                continue  # another caller removed it first: look at the new latest one
            item = _item(message)
            if item is not None:
                return item
            # A message with no item form is dropped too, as SQLiteSession drops corrupt rows.

    async def _clear(self) -> None:
        with contextlib.suppress(NotFoundError):
            await self._client.clear_messages(self.session_id)
