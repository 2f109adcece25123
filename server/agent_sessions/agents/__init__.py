"""Agents: the interface a turn runs (a stream of typed events), a registry, and the agents."""

from agent_sessions.agents.base import (
    Agent,
    AgentEvent,
    AgentMessage,
    AgentTurn,
    TextDelta,
    ToolCall,
    ToolResult,
    UsageReport,
)
from agent_sessions.agents.mock import MOCK_PREFIX, MockAgent
from agent_sessions.agents.registry import AgentRegistry

__all__ = [
    "MOCK_PREFIX",
    "Agent",
    "AgentEvent",
    "AgentMessage",
    "AgentRegistry",
    "AgentTurn",
    "MockAgent",
    "TextDelta",
    "ToolCall",
    "ToolResult",
    "UsageReport",
]
