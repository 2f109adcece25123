"""The agent interface: a turn in, a stream of typed events out; raising fails the turn."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Protocol

from agent_sessions.domain import CallerTool, TextDelta, ToolCall, ToolResult, Usage


@dataclass(frozen=True, slots=True)
class AgentMessage:
    """One message the agent sees, from the history or the turn's request."""

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
    # The session's model; None means the server's default.
    model: str | None = None
    # Which server tools the agent may call (Session.server_tools); None means all.
    server_tools: str | None = None
    # Tools the caller declared for this turn; the agent must not run them (it stops at a call).
    tools: Sequence[CallerTool] = ()


# The tokens the turn's model calls used, summed: sent once, at the end of a run.
UsageReport = Usage

AgentEvent = TextDelta | ToolCall | ToolResult | Usage

__all__ = ["Agent", "AgentEvent", "AgentMessage", "AgentTurn", "TextDelta", "ToolCall"]
__all__ += ["ToolResult", "UsageReport"]


class Agent(Protocol):
    """Runs one turn. Events come in the order things happened; text between tool events is a
    message of its own. Raising (a DomainError, or anything else) fails the turn: nothing of it
    is stored. A cancelled iteration must stop all work of the turn (model requests, tools)."""

    def run(self, turn: AgentTurn) -> AsyncGenerator[AgentEvent, None]:
        """Yields the turn's events in order."""
        ...

    async def aclose(self) -> None:
        """Releases what the agent holds (HTTP clients, tool connections); called at shutdown."""
        ...


# An agent that holds connections may also define `async def start(self) -> None`, which the
# registry awaits once when the worker starts (the OpenAI agent connects its MCP servers there).
# An agent that never reads the session's history says so with `uses_history = False`: the
# turn service then reads it none (the mock). One whose reply depends on the turn's own
# messages alone (no history, no session settings) and that has no side effects says
# `reads_session = False` too: a turn may then run it before the session is read, and store
# in one statement what it produced (the mock).
