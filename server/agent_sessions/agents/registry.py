"""Agents by name: the server's default serves turns; others live beside it."""

from __future__ import annotations

from agent_sessions.agents.base import Agent
from agent_sessions.agents.mock import MockAgent
from agent_sessions.settings import Settings


class AgentRegistry:
    """The agents one worker process runs, by name, and which one serves by default."""

    def __init__(self, agents: dict[str, Agent] | None = None, default: str = "mock") -> None:
        self._agents: dict[str, Agent] = dict(agents) if agents else {"mock": MockAgent()}
        if default not in self._agents:
            raise ValueError(f"no agent named {default!r}; known: {sorted(self._agents)}")
        self.default_name = default

    @classmethod
    def single(cls, agent: Agent, name: str = "default") -> AgentRegistry:
        """A registry serving one given agent (tests and embedders choose their own)."""
        return cls({name: agent}, default=name)

    def get(self, name: str | None = None) -> Agent:
        """The named agent, or the default."""
        return self._agents[name or self.default_name]

    @property
    def names(self) -> list[str]:
        return sorted(self._agents)

    async def start(self) -> None:
        """Starts the agents (those that hold connections open them), at worker start."""
        for agent in self._agents.values():
            await agent.start()

    async def aclose(self) -> None:
        """Closes every agent (at shutdown)."""
        for agent in self._agents.values():
            await agent.aclose()


def build_registry(settings: Settings) -> AgentRegistry:
    """The agents AGENT_SESSIONS_AGENT asks for: the mock alone (the default), or the OpenAI
    Agents SDK agent serving by default with the mock beside it."""
    if settings.agent != "openai":
        return AgentRegistry()
    # Imported here: the SDK and its openai client take a while to import, and the mock
    # needs neither.
    from agent_sessions.agents.openai_agent import OpenAIAgent
    from agent_sessions.agents.tool_servers import ToolServers

    tool_servers = None
    if settings.mcp_servers:
        tool_servers = ToolServers.from_setting(
            settings.mcp_servers, tool_timeout=settings.tool_timeout
        )
    agent = OpenAIAgent(settings, tool_servers=tool_servers)
    return AgentRegistry({"mock": MockAgent(), "openai": agent}, default="openai")


def tool_server_names(settings: Settings) -> tuple[str, ...]:
    """The names of the configured MCP servers (a bad setting raises SettingsError)."""
    if not settings.mcp_servers:
        return ()
    from agent_sessions.agents.tool_servers import parse_mcp_servers

    return tuple(config.name for config in parse_mcp_servers(settings.mcp_servers))
