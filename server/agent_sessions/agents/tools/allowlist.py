"""A session's `server_tools`: which MCP servers and tools its turns may use (no SDK needed).

Absent or empty: every configured server's tools; `none`: no server tools; otherwise
comma-separated entries `server` (all its tools) or `server/tool`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agent_sessions import validation as v
from agent_sessions.errors import InvalidArgument

# The session field that narrows its tools, and the value that allows no server tools.
ALLOWLIST_FIELD = "server_tools"
NONE = "none"
ALLOWLIST_MAX_LENGTH = v.MAX_LENGTH[ALLOWLIST_FIELD]
# A server's name: how sessions name it in their narrowing, and the SDK's name for it.
SERVER_NAME_PATTERN = v.TOOL_NAME_PATTERN
# A tool's name in an entry `server/tool`: whatever a server calls it, bar separators.
_TOOL_PATTERN = re.compile(r"[^\s,]{1,128}")


@dataclass(frozen=True)
class ToolAllowlist:
    """A session's narrowing, parsed. `servers` is None when every server may be used (the field
    is absent or empty); otherwise it maps each allowed server to None (all its tools) or to the
    names of the tools allowed. `none` parses to an empty mapping."""

    servers: Mapping[str, frozenset[str] | None] | None

    def allows_server(self, name: str) -> bool:
        return self.servers is None or name in self.servers

    def tools_of(self, name: str) -> frozenset[str] | None:
        """The tools of `name` allowed (None: all of them); only for an allowed server."""
        return None if self.servers is None else self.servers[name]

    def canonical(self) -> str:
        if self.servers is None:
            return ""
        if not self.servers:
            return NONE
        entries: list[str] = []
        for server, tools in self.servers.items():
            if tools is None:
                entries.append(server)
            else:
                entries.extend(f"{server}/{tool}" for tool in sorted(tools))
        return ",".join(entries)


def parse_tool_allowlist(value: str | None, *, field: str = ALLOWLIST_FIELD) -> ToolAllowlist:
    """Parses a narrowing: absent or empty → every server's tools; `none` → no server tools;
    else comma-separated entries `server` (all its tools) or `server/tool`. Checks the syntax
    only (InvalidArgument on `field`); `check_tool_allowlist` also checks the server names."""
    text = (value or "").strip()
    if not text:
        return ToolAllowlist(None)
    if len(text) > ALLOWLIST_MAX_LENGTH:
        raise InvalidArgument(field, f"must be at most {ALLOWLIST_MAX_LENGTH} characters")
    if text.lower() == NONE:
        return ToolAllowlist({})
    servers: dict[str, set[str] | None] = {}
    for raw_entry in text.split(","):
        entry = raw_entry.strip()
        if not entry:
            raise InvalidArgument(
                field,
                "has an empty entry; use comma-separated `server` or `server/tool` entries, "
                f"or {NONE!r} for no server tools",
            )
        if entry.lower() == NONE:
            raise InvalidArgument(field, f"{NONE!r} cannot be combined with other entries")
        server, slash, tool = entry.partition("/")
        if not SERVER_NAME_PATTERN.fullmatch(server):
            raise InvalidArgument(
                field,
                f"entry {entry[:140]!r} does not start with a server name (`server` or "
                "`server/tool`)",
            )
        if slash and not _TOOL_PATTERN.fullmatch(tool):
            raise InvalidArgument(field, f"entry {entry[:140]!r} has no valid tool name after '/'")
        if not slash:
            servers[server] = None  # the whole server, whatever tools were named before
        elif server not in servers:
            servers[server] = {tool}
        else:
            tools = servers[server]
            if tools is not None:
                tools.add(tool)
    return ToolAllowlist(
        {server: None if tools is None else frozenset(tools) for server, tools in servers.items()}
    )


def check_tool_allowlist(
    value: str | None, configured_names: Iterable[str], *, field: str = ALLOWLIST_FIELD
) -> str:
    """Checks a session's narrowing against the configured servers and returns its canonical
    form ("" = every server, "none", or sorted-per-server entries); InvalidArgument on `field`
    when it is malformed or names a server that is not configured."""
    allowlist = parse_tool_allowlist(value, field=field)
    names = list(configured_names)
    for server in allowlist.servers or {}:
        if server not in names:
            known = ", ".join(names) if names else "none are configured"
            raise InvalidArgument(
                field, f"names the tool server {server!r}, which is not configured ({known})"
            )
    return allowlist.canonical()


__all__ = [
    "ALLOWLIST_FIELD",
    "NONE",
    "SERVER_NAME_PATTERN",
    "ToolAllowlist",
    "check_tool_allowlist",
    "parse_tool_allowlist",
]
