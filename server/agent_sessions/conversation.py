"""Conversation turns: check the session, run the agent unconnected, store the turn whole."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from agent_sessions.agent import Agent, AgentMessage, AgentTurn
from agent_sessions.db.repository import (
    NewMessage,
    Owner,
    Row,
    StoredTurn,
    inactive_session,
    session_uuid_for,
)
from agent_sessions.errors import AgentFailed, DomainError

log = logging.getLogger(__name__)

# How many earlier messages an agent sees; a bounded window keeps a turn's cost independent of
# the session's length.
HISTORY_LIMIT = 50


@dataclass(frozen=True)
class TurnRequest:
    """A validated conversation request."""

    messages: list[NewMessage]
    session_id: str
    new_session_fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedTurn:
    """A turn whose session has been checked; holds no connection."""

    request: TurnRequest
    session_id: str
    session_uuid: uuid.UUID
    existing: Row | None
    history: list[AgentMessage]


def _agent_message(row: Row | NewMessage) -> AgentMessage:
    if isinstance(row, NewMessage):
        return AgentMessage(row.role, row.content, row.tool_call_id, row.tool_name)
    return AgentMessage(row["role"], row["content"], row["tool_call_id"], row["tool_name"])


class Conversations:
    """Runs turns with one agent. No connection or lock is held while the agent works."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    async def prepare(self, owner: Owner, request: TurnRequest) -> PreparedTurn:
        """Finds (or plans) the session and refuses an inactive one, before anything streams."""
        session_id = request.session_id or str(uuid.uuid4())
        existing = await owner.find_session(session_id) if request.session_id else None
        history: list[AgentMessage] = []
        if existing is not None:
            if not existing["is_active"]:
                raise inactive_session(session_id)
            history = [
                _agent_message(r)
                for r in await owner.recent_messages(existing["id"], HISTORY_LIMIT)
            ]
        return PreparedTurn(
            request=request,
            session_id=session_id,
            session_uuid=(
                existing["id"]
                if existing is not None
                else session_uuid_for(owner.user_id, session_id)
            ),
            existing=existing,
            history=history,
        )

    async def reply(self, turn: PreparedTurn) -> AsyncIterator[str]:
        """The agent's reply, piece by piece; any agent failure becomes AgentFailed."""
        fields = turn.existing or turn.request.new_session_fields
        agent_turn = AgentTurn(
            session_id=turn.session_id,
            agent_name=fields.get("agent_name"),
            agent_instructions=fields.get("agent_instructions"),
            history=turn.history,
            messages=[_agent_message(m) for m in turn.request.messages],
        )
        try:
            async for piece in self.agent.reply(agent_turn):
                yield piece
        except DomainError:
            raise
        except Exception as exc:  # noqa: BLE001 - any agent failure fails the turn, cleanly
            log.warning("agent failed in session %s", turn.session_id, exc_info=exc)
            raise AgentFailed(
                f"the agent failed to reply ({exc.__class__.__name__}); nothing of this turn was "
                "stored, so the turn can be sent again",
                metadata={"session_id": turn.session_id},
            ) from None

    async def store(self, owner: Owner, turn: PreparedTurn, response: str) -> StoredTurn:
        """Stores the request's messages and the reply in one transaction."""
        messages = [*turn.request.messages, NewMessage(role="assistant", content=response)]
        return await owner.store_turn(
            turn.session_id, turn.session_uuid, turn.request.new_session_fields, messages
        )
