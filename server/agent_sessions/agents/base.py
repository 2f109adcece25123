"""The agent interface: a turn in, a stream of typed events out; raising fails the turn."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Protocol

from agent_sessions.domain import CallerTool, Owner, TextDelta, ToolCall, ToolResult, Usage


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
    # The user whose turn it is: which MCP servers they may use, and whom tool calls act for.
    owner: Owner | None = None


# The tokens the turn's model calls used, summed: sent once, at the end of a run.
UsageReport = Usage

AgentEvent = TextDelta | ToolCall | ToolResult | Usage

__all__ = ["Agent", "AgentEvent", "AgentMessage", "AgentTurn", "TextDelta", "ToolCall"]
__all__ += ["ToolResult", "UsageReport"]


class Agent(Protocol):
    """Runs one turn. Events come in the order things happened; text between tool events is a
    message of its own. Raising (a DomainError, or anything else) fails the turn: nothing of it
    is stored. A cancelled iteration must stop all work of the turn (model requests, tools).

    Agents declare what of the session they read, so a turn reads no more than that; a class
    that subclasses this Protocol inherits the defaults (it reads everything).
    """

    # Whether the agent sees the session's earlier messages (AgentTurn.history). When False
    # the turn service reads it none (the mock).
    uses_history: bool = True
    # Whether the reply depends on anything but the turn's own messages (the session's agent
    # fields, its history) or the agent has side effects. When False (the mock) a turn may run
    # the agent before the session is read and store what it produced in one statement.
    reads_session: bool = True

    def run(self, turn: AgentTurn) -> AsyncGenerator[AgentEvent, None]:
        """Yields the turn's events in order."""
        ...

    async def start(self) -> None:
        """Opens what the agent holds (tool connections); awaited once when the worker starts.
        Nothing by default."""
        return None

    async def aclose(self) -> None:
        """Releases what the agent holds (HTTP clients, tool connections); called at shutdown."""
        ...
