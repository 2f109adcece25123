"""The agent interface and the mock agent of the contract; a model backend implements `Agent`."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

MOCK_PREFIX = "This is a mock response to: "


@dataclass(frozen=True)
class AgentMessage:
    """One message the agent sees, history or new."""

    role: str
    content: str
    tool_call_id: str | None = None
    tool_name: str | None = None


@dataclass(frozen=True)
class AgentTurn:
    """Everything an agent gets for one turn. No database handle: the agent runs unconnected."""

    session_id: str
    agent_name: str | None
    agent_instructions: str | None
    history: Sequence[AgentMessage]
    messages: Sequence[AgentMessage]


class Agent(Protocol):
    """Produces a reply as pieces of text; raising means the turn fails and nothing is stored."""

    def reply(self, turn: AgentTurn) -> AsyncIterator[str]:
        """Yields the reply in order; the pieces concatenated are the whole reply."""
        ...


class MockAgent:
    """Answers `This is a mock response to: <last user message>`, streamed word by word."""

    async def reply(self, turn: AgentTurn) -> AsyncIterator[str]:
        last_user = next((m.content for m in reversed(turn.messages) if m.role == "user"), "")
        text = MOCK_PREFIX + last_user
        # Split after whitespace so every piece but the last ends in its separator.
        for piece in re.findall(r"\S*\s*", text):
            if piece:
                yield piece
