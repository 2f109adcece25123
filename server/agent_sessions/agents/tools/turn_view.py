"""What one turn gets of a connected MCP server: the SDK's `MCPServer`, narrowed for its session.

One connected SDK server object per process serves every session, so a session's narrowing
cannot live on it. Each turn gets a light view instead: it shares the connection and its cached
tool list (no request per turn, no copy of the tools) and carries the session's narrowing as the
SDK's static tool filter (`create_static_tool_filter(allowed_tool_names=...)`).
"""

from __future__ import annotations

from typing import Any

from agents import RunContextWrapper, UserError
from agents.agent import AgentBase
from agents.mcp import (
    MCPServer,
    MCPServerStreamableHttp,
    ToolFilterStatic,
    create_static_tool_filter,
)
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, GetPromptResult, ListPromptsResult
from mcp.types import Tool as McpTool
from mcp_types import REQUEST_TIMEOUT
from opentelemetry import trace

from agent_sessions.agents.redaction import TOOL_ERROR_LIMIT
from agent_sessions.agents.tools.connection import Connection
from agent_sessions.agents.tools.errors import ToolServerLost, find, lost, mcp_code
from agent_sessions.agents.tools.user_header import USER_META_KEY
from agent_sessions.metrics import TOOL_CALLS

tracer = trace.get_tracer("agent_sessions.tools")


class TurnView(MCPServer):
    """One turn's view of a connected server: the SDK lists and calls its tools through it.

    It turns a lost connection into ToolServerLost (failing the turn) and gives the model
    readable messages for the tool's own failures (an error result, an MCP error answer, a call
    cut off by the tool timeout): the turn goes on and the model can tell the user or try
    something else.
    """

    def __init__(
        self, connection: Connection, tools: frozenset[str] | None, user: str | None = None
    ) -> None:
        super().__init__(failure_error_function=self._failure_output)
        self._connection = connection
        # The turn's user id: sent with every tool call so a stateful tool can scope by user.
        self._user = user
        self.tool_filter: ToolFilterStatic | None = (
            None if tools is None else create_static_tool_filter(allowed_tool_names=sorted(tools))
        )

    @property
    def name(self) -> str:
        return self._connection.name

    def __repr__(self) -> str:
        return f"<MCP server {self.name!r} for a turn, tools {self._allowed_text()}>"

    async def connect(self) -> None:
        """Nothing to do: `ToolServers` keeps the connection for the whole process."""

    async def cleanup(self) -> None:
        """Nothing to do: the connection outlives the turn."""

    # -- tools ---------------------------------------------------------------------------------

    async def list_tools(
        self,
        run_context: RunContextWrapper[Any] | None = None,
        agent: AgentBase[Any] | None = None,
    ) -> list[McpTool]:
        live = self._live()
        try:
            tools = await live.list_tools(run_context, agent)  # cached: no request
        except Exception as exc:
            if await self._connection.judge(live, exc):
                raise lost(self.name) from None
            raise
        return self._filtered(tools)

    async def call_tool(
        self,
        tool_name: str,
        arguments: dict[str, Any] | None,
        meta: dict[str, Any] | None = None,
    ) -> CallToolResult:
        if not self._allows(tool_name):
            # The SDK calls only listed tools; this guards the narrowing all the same.
            raise UserError(f"the tool {tool_name!r} is not available to this session")
        # A span per call (a no-op unless traces are exported); never the arguments.
        with tracer.start_as_current_span(
            f"execute_tool {tool_name}",
            kind=trace.SpanKind.CLIENT,
            attributes={"gen_ai.tool.name": tool_name, "mcp.server": self.name},
        ) as span:
            if self._user is not None:
                meta = {**(meta or {}), USER_META_KEY: self._user}
            outcome = await self._call(tool_name, arguments, meta)
            result = outcome[1]
            span.set_attribute("outcome", outcome[0])
            if outcome[0] != "ok":
                span.set_status(trace.StatusCode.ERROR, outcome[0])
        # The tool's name is one the server listed and the session may call: a bounded label.
        TOOL_CALLS.labels(self.name, tool_name, outcome[0]).inc()
        if isinstance(result, BaseException):
            raise result
        return result

    async def _call(
        self, tool_name: str, arguments: dict[str, Any] | None, meta: dict[str, Any] | None
    ) -> tuple[str, CallToolResult | BaseException]:
        """The call's outcome (ok, error, timeout, lost) and its result or what it raised."""
        try:
            live = self._live()
        except ToolServerLost as exc:
            return "lost", exc
        try:
            result = await live.call_tool(tool_name, arguments, meta)
        except Exception as exc:
            if await self._connection.judge(live, exc):
                return "lost", lost(self.name)
            return ("timeout" if mcp_code(exc) == REQUEST_TIMEOUT else "error"), exc
        return ("error" if result.is_error else "ok"), result

    async def list_prompts(self) -> ListPromptsResult:
        return await self._live().list_prompts()

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None
    ) -> GetPromptResult:
        return await self._live().get_prompt(name, arguments)

    # -- helpers ---------------------------------------------------------------------------------

    def _live(self) -> MCPServerStreamableHttp:
        live = self._connection.live
        if live is None:
            raise lost(self.name)
        return live

    def _allows(self, tool_name: str) -> bool:
        if self.tool_filter is None:
            return True
        return tool_name in self.tool_filter.get("allowed_tool_names", [])

    def _allowed_text(self) -> str:
        if self.tool_filter is None:
            return "all"
        return ",".join(self.tool_filter.get("allowed_tool_names", []))

    def _filtered(self, tools: list[McpTool]) -> list[McpTool]:
        # The SDK's static-filter semantics (agents.mcp.ToolFilterStatic): an allowlist.
        if self.tool_filter is None:
            return tools
        return [tool for tool in tools if self._allows(tool.name)]

    def _failure_output(self, ctx: RunContextWrapper[Any], error: Exception) -> str:
        """The tool output the model gets for a failed call (the SDK's failure_error_function);
        a lost connection is raised instead, failing the turn."""
        lost_error = find(error, ToolServerLost)
        if lost_error is not None:
            raise lost_error
        tool = getattr(ctx, "tool_name", None) or "the tool"
        if mcp_code(error) == REQUEST_TIMEOUT:
            return (
                f"Error: the tool {tool} did not answer within "
                f"{self._connection.tool_timeout:g} seconds and was stopped."
            )
        mcp_error = find(error, MCPError)
        if mcp_error is not None:
            return f"Error: the tool {tool} failed: {self._quote(mcp_error.message)}"
        user_error = find(error, UserError)
        if user_error is not None:
            # The SDK's own messages (missing arguments, …), free of credentials.
            return f"Error: the tool {tool} failed: {self._quote(str(user_error))}"
        return f"Error: the tool {tool} failed. Please try again."

    def _quote(self, text: str) -> str:
        return self._connection.quote(text, limit=TOOL_ERROR_LIMIT)


__all__ = ["TurnView"]
