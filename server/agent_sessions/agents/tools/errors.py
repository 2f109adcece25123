"""A tool server lost during a turn, and how to read the MCP client's failures."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from agents import AgentsException
from mcp.shared.exceptions import MCPError

from agent_sessions.errors import ToolUnavailable

T = TypeVar("T")


class ToolServerLost(ToolUnavailable, AgentsException):
    """A server's connection was lost during a turn (a listing or a call failed on it).

    Also an AgentsException, so that the SDK lets it out of the run as it is (it wraps other
    exceptions of tools in a UserError): the turn fails with UNAVAILABLE, TOOL_UNAVAILABLE.
    """


def unavailable_message(name: str) -> str:
    return (
        f"the tool server {name!r} cannot be reached right now; the service reconnects in the "
        "background and the turn can be retried"
    )


def lost(name: str) -> ToolServerLost:
    """The error of a turn whose server `name` is not connected."""
    return ToolServerLost(unavailable_message(name), metadata={"server": name})


def _chain(error: BaseException) -> Iterable[BaseException]:
    """`error` and its causes and contexts, each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def find(error: BaseException, kind: type[T]) -> T | None:
    """The first exception of `kind` among `error`, its causes and contexts."""
    for link in _chain(error):
        if isinstance(link, kind):
            return link
    return None


def mcp_code(error: BaseException) -> int | None:
    """The JSON-RPC error code of the MCP error behind `error`, if there is one."""
    found = find(error, MCPError)
    return None if found is None else found.code


__all__ = ["ToolServerLost", "find", "lost", "mcp_code", "unavailable_message"]
