"""Tool names a turn's model would see twice: refused before the run, warned of at start."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from agents.mcp import MCPServer

from agent_sessions.errors import InvalidArgument, ToolNameConflict


async def check_tool_names(servers: Sequence[MCPServer], caller_tools: Sequence[str]) -> None:
    """Refuses a turn that would hand the model two tools of one name: it could not say which it
    calls (the SDK itself refuses two servers' tools of one name, failing the run, and of a
    caller tool and a server tool it would run whichever it finds first).

    Two servers the session may use that offer the same tool are the session's (or operator's)
    setting: ToolNameConflict (FAILED_PRECONDITION), naming both and how `server_tools`
    chooses. A caller tool named like one of those server tools is the request's:
    InvalidArgument on `tools[i].name`. Reads the servers' cached tool lists.
    """
    if len(servers) < 2 and not caller_tools:
        return  # nothing to tell apart
    tool_lists = {
        server.name: [tool.name for tool in await server.list_tools()] for server in servers
    }
    for (first, second), names in shared_tool_names(tool_lists).items():
        example = ",".join(f"{n}/<tool>" if n == second else n for n in tool_lists)
        raise ToolNameConflict(
            f"the tool servers {first!r} and {second!r} both offer a tool named {names[0]!r}, "
            f"and this session may use both; set its server_tools to choose, e.g. "
            f"'{example}' (the named tools of {second!r}, every tool of the others)",
            metadata={"tool": names[0], "server": f"{first},{second}"},
        )
    offered = {tool: server for server, tools in tool_lists.items() for tool in tools}
    for i, name in enumerate(caller_tools):
        server_name = offered.get(name)
        if server_name is not None:
            raise InvalidArgument(
                f"tools[{i}].name",
                f"{name!r} is already a tool of the tool server {server_name!r} this session may "
                "use; give the caller tool another name, or narrow the session's server_tools",
            )


def shared_tool_names(tool_lists: Mapping[str, Iterable[str]]) -> dict[tuple[str, str], list[str]]:
    """The tool names two servers both offer, by pair of servers (in the mapping's order)."""
    offered: dict[str, str] = {}
    shared: dict[tuple[str, str], list[str]] = {}
    for server, names in tool_lists.items():
        for name in names:
            first = offered.setdefault(name, server)
            if first != server:
                shared.setdefault((first, server), []).append(name)
    return shared


__all__ = ["check_tool_names", "shared_tool_names"]
