"""The configured MCP servers of one worker process, and the servers each turn may use.

Connected once per process (`connection`) and shared by every turn; each turn gets views of the
servers its session may use (`turn_view`). Until a lost server is back, `servers_for()` refuses
turns that may use it (ToolUnavailable, TOOL_UNAVAILABLE, retryable) and serves every other turn
as usual; a turn whose tool call hits the lost connection fails the same way (ToolServerLost),
so nothing of it is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from agents.mcp import MCPServer

from agent_sessions.agents.tools.access import claims_allow
from agent_sessions.agents.tools.allowlist import parse_tool_allowlist
from agent_sessions.agents.tools.config import McpServerConfig, parse_mcp_servers
from agent_sessions.agents.tools.connection import Connection, ConnectionOptions
from agent_sessions.agents.tools.names import shared_tool_names
from agent_sessions.agents.tools.turn_view import TurnView
from agent_sessions.domain import Owner
from agent_sessions.errors import ToolUnavailable

logger = logging.getLogger(__name__)


class ToolServers:
    """The configured MCP servers of one worker process; see the module's docstring.

    servers = ToolServers(parse_mcp_servers(raw), tool_timeout=60)
    await servers.start()                       # at worker start; never fails for a server
    Agent(..., mcp_servers=servers.servers_for(session.server_tools))   # per turn
    await servers.close()                       # at shutdown
    """

    def __init__(
        self,
        configs: Sequence[McpServerConfig] = (),
        *,
        tool_timeout: float = 60.0,
        connect_timeout: float = 10.0,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
        probe_interval: float | None = 30.0,
        probe_timeout: float = 5.0,
        close_timeout: float = 5.0,
    ) -> None:
        names = [c.name for c in configs]
        if len({n.lower() for n in names}) != len(names):
            raise ValueError("MCP server names must be unique")
        for value, what in (
            (tool_timeout, "tool_timeout"),
            (connect_timeout, "connect_timeout"),
            (retry_initial, "retry_initial"),
            (retry_max, "retry_max"),
            (probe_timeout, "probe_timeout"),
            (close_timeout, "close_timeout"),
        ):
            if not value > 0:
                raise ValueError(f"{what} must be more than 0 seconds")
        if probe_interval is not None and not probe_interval > 0:
            raise ValueError("probe_interval must be more than 0 seconds, or None for no probes")
        options = ConnectionOptions(
            tool_timeout=tool_timeout,
            connect_timeout=connect_timeout,
            retry_initial=retry_initial,
            retry_max=max(retry_max, retry_initial),
            probe_interval=probe_interval,
            probe_timeout=probe_timeout,
            close_timeout=close_timeout,
        )
        self._connections = {c.name: Connection(c, options) for c in configs}
        self._started = False
        self._closed = False

    @classmethod
    def from_setting(cls, raw: str, **options: Any) -> ToolServers:
        """From the value of AGENT_SESSIONS_MCP_SERVERS (SettingsError when it is unusable)."""
        return cls(parse_mcp_servers(raw), **options)

    def __repr__(self) -> str:
        states = ", ".join(
            f"{name}={'connected' if self.connected(name) else 'unavailable'}"
            for name in self.names
        )
        return f"ToolServers({states})"

    @property
    def names(self) -> tuple[str, ...]:
        """The configured servers' names, in configuration order."""
        return tuple(self._connections)

    def connected(self, name: str) -> bool:
        """Whether the server `name` is connected right now (turns that may use it can run)."""
        connection = self._connections.get(name)
        return connection is not None and connection.live is not None

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connects every server once, concurrently; returns when each has connected or failed
        its first attempt (at most about `connect_timeout`). Failed ones keep retrying."""
        if self._started:
            raise RuntimeError("ToolServers.start() was called twice")
        self._started = True
        first_attempts = [c.start() for c in self._connections.values()]
        await asyncio.gather(*(event.wait() for event in first_attempts))
        self._warn_of_shared_names()

    def _warn_of_shared_names(self) -> None:
        """Logs tools that two servers connected at start both offer: turns of sessions that may
        use both are refused (TOOL_NAME_CONFLICT) until their `server_tools` choose. From the
        cached lists only (no request)."""
        tool_lists: dict[str, list[str]] = {}
        for name, connection in self._connections.items():
            live = connection.live
            cached = live.cached_tools if live is not None else None
            if cached is not None:
                tool_lists[name] = [tool.name for tool in cached]
        for (first, second), names in shared_tool_names(tool_lists).items():
            logger.warning(
                "MCP servers %r and %r both offer tools named %s: turns of sessions that may use "
                "both are refused (TOOL_NAME_CONFLICT) until their server_tools choose",
                first,
                second,
                ", ".join(repr(n) for n in names),
            )

    async def close(self) -> None:
        """Disconnects every server cleanly and stops retrying; idempotent."""
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(c.stop() for c in self._connections.values()))

    async def __aenter__(self) -> ToolServers:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- per turn ----------------------------------------------------------------------------------

    def servers_for(self, allow: str | None, owner: Owner | None = None) -> list[MCPServer]:
        """The servers a session narrowed by `allow` may use, for `Agent(mcp_servers=...)`:
        only those whose `allow_claims` let `owner` in (None: no user, only open servers); each
        call to them carries the owner's user id.

        Raises ToolUnavailable (TOOL_UNAVAILABLE) naming every server the session may use that
        is not connected right now; sessions that may not use it are unaffected. Entries for
        servers no longer configured, or that the user may not use, grant nothing.
        """
        allowlist = parse_tool_allowlist(allow)
        claims = owner.claims if owner is not None else {}
        user = str(owner.user_id) if owner is not None else None
        views: list[MCPServer] = []
        missing: list[str] = []
        for name, connection in self._connections.items():
            if not allowlist.allows_server(name):
                continue
            if not claims_allow(connection.config.allow_claims, claims):
                continue  # as if it were not configured: its name is not even in errors
            if connection.live is None:
                missing.append(name)
                continue
            views.append(TurnView(connection, allowlist.tools_of(name), user))
        if missing:
            shown = ", ".join(repr(n) for n in missing)
            plural = "s" if len(missing) > 1 else ""
            raise ToolUnavailable(
                f"the tool server{plural} {shown} this session may use cannot be reached right "
                "now; the service reconnects in the background and the turn can be retried",
                metadata={"server": ",".join(missing)},
            )
        return views


__all__ = ["ToolServers"]
