"""The mock agent: `This is a mock response to: <last user message>`."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator

from agent_sessions.agents.base import Agent, AgentEvent, AgentTurn, TextDelta

MOCK_PREFIX = "This is a mock response to: "
_PIECES = re.compile(r"\S*\s*")


class MockAgent(Agent):
    """Answers with the mock reply, streamed word by word."""

    # It answers from the turn's own messages, and does nothing else: the turn service reads
    # it no history, and may run it before reading the session (see Agent).
    uses_history = False
    reads_session = False

    async def run(self, turn: AgentTurn) -> AsyncGenerator[AgentEvent, None]:
        last_user = next((m.content for m in reversed(turn.messages) if m.role == "user"), "")
        # Split after whitespace so every piece but the last ends in its separator.
        for piece in _PIECES.findall(MOCK_PREFIX + last_user):
            if piece:
                yield TextDelta(piece)

    async def aclose(self) -> None:
        """Holds nothing."""
