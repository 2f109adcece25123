"""The agents and tool servers the settings ask for, built at worker start.

Apart from the registry itself, so that importing the registry (the turn service does) never
reaches the OpenAI Agents SDK: only `build_registry` imports it, and only for the OpenAI agent.
"""

from __future__ import annotations

from agent_sessions.agents.mock import MockAgent
from agent_sessions.agents.registry import AgentRegistry
from agent_sessions.agents.tools.access import ToolServerAccess
from agent_sessions.agents.tools.config import parse_mcp_servers
from agent_sessions.settings import Settings


def build_registry(settings: Settings) -> AgentRegistry:
    """The agents AGENT_SESSIONS_AGENT asks for: the mock alone (the default), or the OpenAI
    Agents SDK agent serving by default with the mock beside it."""
    if settings.agent != "openai":
        return AgentRegistry()
    # Imported here: the SDK and its openai client take a while to import, and the mock
    # needs neither.
    from agent_sessions.agents.openai.agent import OpenAIAgent
    from agent_sessions.agents.tools.servers import ToolServers

    tool_servers = None
    if settings.mcp_servers:
        tool_servers = ToolServers.from_setting(
            settings.mcp_servers, tool_timeout=settings.tool_timeout
        )
    agent = OpenAIAgent(settings, tool_servers=tool_servers)
    return AgentRegistry({"mock": MockAgent(), "openai": agent}, default="openai")


def tool_server_access(settings: Settings) -> ToolServerAccess:
    """The configured MCP servers and who may use each (a bad setting raises SettingsError)."""
    return ToolServerAccess(
        {config.name: config.allow_claims for config in parse_mcp_servers(settings.mcp_servers)}
    )


def tool_server_names(settings: Settings) -> tuple[str, ...]:
    """The names of the configured MCP servers (a bad setting raises SettingsError)."""
    return tuple(config.name for config in parse_mcp_servers(settings.mcp_servers))


__all__ = ["build_registry", "tool_server_access", "tool_server_names"]
