"""One MCP server's connection for a whole worker process: a task that owns it, and its health.

Lifecycle. `start()` starts one long-lived task that owns the connection: it connects
(streamable HTTP), lists the tools once to fill the SDK's cache, and keeps the connection until
it is lost or `stop()` asks it to end, then cleans up *in the same task* (the MCP client's anyio
cancel scopes must be exited by the task that entered them). A server that is down does not fail
the start: the task keeps trying with capped, jittered backoff.

Losing it. A connection is judged lost when a call or listing fails with "connection closed", or
fails otherwise and a ping then gets no answer, or a periodic ping gets none. The owner task then
drops it, cleans it up and reconnects in the background.

Its tool list. Each periodic probe lists the tools again past the SDK's cache and, only when they
changed, has the next turn list them; so does a server's `notifications/tools/list_changed`.

What the SDK does here: `agents.mcp.MCPServerStreamableHttp` is the connection (transport, MCP
session, cached tool list, per-call timeout, cache invalidation). What is ours, and why not the
SDK's `agents.mcp.MCPServerManager`: the manager connects a fixed list of servers and reconnects
on request, `reconnect(failed_only=True)` retrying every server whose *connect* failed, under one
lock for all of them. A server lost after it connected is not among those: nothing public marks
it failed, and `reconnect(failed_only=False)` would cycle every healthy connection with it. It has
no backoff between attempts, no liveness probe, no tool list refresh, and it logs each failed
attempt at ERROR without the reason (or, with OPENAI_AGENTS_DONT_LOG_TOOL_DATA=0, with the
unredacted exception). What it would give us, connect and cleanup in one task per server, is what
the owner task below does anyway, so this module keeps its own.

Secrets. Header values go to the server and nowhere else: logs show `describe()`d failures.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agents.mcp import MCPServerStreamableHttp
from mcp.client.session import ClientSession
from mcp.shared.exceptions import MCPError
from mcp.types import PaginatedRequestParams, ToolListChangedNotification
from mcp.types import Tool as McpTool
from mcp_types import CONNECTION_CLOSED, INVALID_PARAMS, METHOD_NOT_FOUND, REQUEST_TIMEOUT

from agent_sessions.agents.redaction import QUOTE_LIMIT, display_url, quote
from agent_sessions.agents.sdk_hooks import allow_concurrent_requests
from agent_sessions.agents.tools.config import McpServerConfig
from agent_sessions.agents.tools.errors import mcp_code
from agent_sessions.agents.tools.user_header import http_client

logger = logging.getLogger(__name__)

# MCP errors about a request itself, from a server that is there: not a lost connection.
_REQUEST_ERRORS = frozenset({REQUEST_TIMEOUT, INVALID_PARAMS, METHOD_NOT_FOUND})
# At most this many pages of one server's tools/list (the SDK's own listing has no limit).
MAX_LIST_PAGES = 100


@dataclass(frozen=True)
class ConnectionOptions:
    """The timeouts and retry pacing of every connection (see `ToolServers`)."""

    tool_timeout: float
    connect_timeout: float
    retry_initial: float
    retry_max: float
    probe_interval: float | None
    probe_timeout: float
    close_timeout: float


class Connection:
    """One configured server: its owner task connects, watches and cleans up its SDK object."""

    def __init__(self, config: McpServerConfig, options: ConnectionOptions) -> None:
        self.config = config
        self.name = config.name
        self.url = display_url(config.url)
        self._options = options
        self.tool_timeout = options.tool_timeout
        # The connected SDK object, or None while (re)connecting.
        self.live: MCPServerStreamableHttp | None = None
        self.failures = 0
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._first_attempt: asyncio.Event | None = None
        self._stopping = False
        self._lost_reason: str | None = None
        # What the owner task is doing: "connecting", "waiting" (before a retry), "connected"
        # or "disconnecting". Only the first two may be cut short by cancelling it.
        self._state = "connecting"

    # -- lifecycle, in the owner task -------------------------------------------------------------

    def start(self) -> asyncio.Event:
        """Starts the owner task; the event is set once its first attempt connected or failed."""
        self._wake = asyncio.Event()
        self._first_attempt = asyncio.Event()
        self._task = asyncio.create_task(self._own(), name=f"mcp-server-{self.name}")
        return self._first_attempt

    async def _own(self) -> None:
        assert self._first_attempt is not None
        try:
            await self._connect_and_keep()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.error(
                "MCP server %r at %s: its connection task failed (%s); no more retries",
                self.name,
                self.url,
                self.describe(exc),
            )
        finally:
            self._first_attempt.set()

    async def _connect_and_keep(self) -> None:
        assert self._wake is not None and self._first_attempt is not None
        delay = self._options.retry_initial
        while not self._stopping:
            self._state = "connecting"
            try:
                server = self._new_server()
                async with asyncio.timeout(self._options.connect_timeout):
                    await self._connect(server)
            except Exception as exc:
                self.failures += 1
                wait = delay * random.uniform(0.8, 1.2)
                self._log_unreachable(exc, wait)
                self._first_attempt.set()
                self._state = "waiting"
                await asyncio.sleep(wait)
                delay = min(delay * 2, self._options.retry_max)
                continue
            tools = len(server.cached_tools or ())
            if self.failures or self._lost_reason:
                logger.info(
                    "MCP server %r at %s connected again (%d tools)", self.name, self.url, tools
                )
            else:
                logger.info("MCP server %r at %s connected (%d tools)", self.name, self.url, tools)
            self.failures = 0
            self._lost_reason = None
            delay = self._options.retry_initial
            self._wake.clear()
            self.live = server
            self._state = "connected"
            self._first_attempt.set()
            try:
                await self._watch(server)
            finally:
                self.live = None
                self._state = "disconnecting"
                # The same task that connected: the MCP client's cancel scopes require it.
                await self._cleanup(server)
            if self._lost_reason and not self._stopping:
                logger.warning(
                    "MCP server %r at %s: connection lost (%s); reconnecting in the background",
                    self.name,
                    self.url,
                    self._lost_reason,
                )

    def _new_server(self) -> MCPServerStreamableHttp:
        options = self._options
        server: MCPServerStreamableHttp

        async def on_message(message: Any) -> None:
            # The server's tools changed (MCP `notifications/tools/list_changed`): the next
            # listing (a turn's) asks the server again instead of serving the cached list.
            if isinstance(message, ToolListChangedNotification):
                server.invalidate_tools_cache()  # type: ignore[no-untyped-call]
                logger.debug(
                    "MCP server %r at %s: its tool list changed; listing it again at the next turn",
                    self.name,
                    self.url,
                )

        server = MCPServerStreamableHttp(
            params={
                "url": self.config.url,
                "headers": dict(self.config.headers),
                # Connecting and sending; reading an answer may take up to the tool timeout.
                "timeout": options.connect_timeout,
                "sse_read_timeout": max(300.0, options.tool_timeout + 5),
                # Puts each tool call's user id in a header too (see `user_header`).
                "httpx_client_factory": http_client,
            },
            cache_tools_list=True,
            name=self.name,
            client_session_timeout_seconds=options.tool_timeout,
            # A failed call is never repeated: the tool may have run (and isolated-session
            # retries would run a hanging tool twice).
            max_retry_attempts=0,
            message_handler=on_message,
        )
        allow_concurrent_requests(server)
        return server

    async def _connect(self, server: MCPServerStreamableHttp) -> None:
        await server.connect()  # type: ignore[no-untyped-call]  # cleans up when it fails
        try:
            # Fills the SDK's cache (turns then list without a request), and proves the
            # server answers with the configured headers.
            await server.list_tools()
        except BaseException:
            await self._cleanup(server)
            raise

    async def _cleanup(self, server: MCPServerStreamableHttp) -> None:
        try:
            async with asyncio.timeout(self._options.close_timeout):
                await server.cleanup()  # type: ignore[no-untyped-call]
        except Exception as exc:
            logger.warning(
                "MCP server %r at %s: disconnecting failed (%s)",
                self.name,
                self.url,
                self.describe(exc),
            )

    async def _watch(self, server: MCPServerStreamableHttp) -> None:
        """Returns when the connection is lost or the server is to stop."""
        assert self._wake is not None
        interval = self._options.probe_interval
        while True:
            try:
                async with asyncio.timeout(interval):
                    await self._wake.wait()
            except TimeoutError:
                if not await self.alive(server):
                    self.mark_lost(server, "no answer to a ping")
                    return
                await self._refresh_tools(server)
                continue
            self._wake.clear()
            if self._stopping or self.live is not server:
                return

    async def _refresh_tools(self, server: MCPServerStreamableHttp) -> None:
        """Lists the server's tools again, past the SDK's cache, and has the next turn list them
        when they changed. Servers of the 2025 protocol that declare `tools.listChanged` also
        announce a change at once (`on_message` in `_new_server`); those of the 2026-07-28
        protocol tell only a `subscriptions/listen` stream, which this does not hold.

        Turns go on using the cached list meanwhile: a listing that fails or takes longer than
        `probe_timeout` changes nothing for them (a closed connection is marked lost).
        """
        session = server.session
        if self._stopping or self.live is not server or session is None:
            return
        try:
            async with asyncio.timeout(self._options.probe_timeout):
                tools = await _listed_tools(session)
        except Exception as exc:
            if mcp_code(exc) == CONNECTION_CLOSED:
                self.mark_lost(server, "connection closed")
            logger.debug(
                "MCP server %r at %s: listing its tools again failed (%s)",
                self.name,
                self.url,
                self.describe(exc, self._options.probe_timeout),
            )
            return
        cached = server.cached_tools
        if cached is not None and _same_tools(cached, tools):
            return
        server.invalidate_tools_cache()  # type: ignore[no-untyped-call]
        logger.info(
            "MCP server %r at %s: its tools changed (%d, had %d); turns list them again",
            self.name,
            self.url,
            len(tools),
            0 if cached is None else len(cached),
        )

    async def stop(self) -> None:
        """Disconnects (in the owner task) and ends it; cancels it when it does not end."""
        self._stopping = True
        task = self._task
        if task is None:
            return
        if self._state in {"connecting", "waiting"}:
            task.cancel()  # nothing to keep (a connect cut short cleans up after itself)
        elif self._wake is not None:
            self._wake.set()  # the owner disconnects and ends
        # asyncio.wait, not awaiting the task: its cancellation must not look like ours.
        _, pending = await asyncio.wait({task}, timeout=self._options.close_timeout + 1)
        if pending:
            task.cancel()
            await asyncio.wait({task})
        self._task = None

    # -- judged from turns --------------------------------------------------------------------------

    def mark_lost(self, server: MCPServerStreamableHttp, reason: str) -> None:
        """The connection `server` is gone: no new turn gets it; the owner reconnects."""
        if self.live is server:
            self.live = None
            self._lost_reason = reason
            if self._wake is not None:
                self._wake.set()

    async def judge(self, server: MCPServerStreamableHttp, error: BaseException) -> bool:
        """Whether a failed listing or call means the connection is lost (then marked so).

        "Connection closed" means lost. A timeout (the tool's hang) and an answer about the
        request itself (invalid arguments, unknown tool) come from a server that is there. For
        anything else (a legacy server that restarted answers "session terminated"; an HTTP
        error comes as a generic "error response"; transport errors) a ping decides.
        """
        if self.live is not server:
            return True  # replaced or lost meanwhile
        code = mcp_code(error)
        if code == CONNECTION_CLOSED:
            self.mark_lost(server, "connection closed")
            return True
        if code in _REQUEST_ERRORS:
            return False
        if await self.alive(server):
            return False
        self.mark_lost(server, self.describe(error))
        return True

    async def alive(self, server: MCPServerStreamableHttp) -> bool:
        """Whether the server answers a ping on this connection. "Method not found" counts as
        an answer (servers of the 2026-07-28 protocol have no ping); so does no answer in time
        (a busy server is not a lost one). Any other failure does not: a closed connection, a
        session the server no longer knows, an HTTP error."""
        session = server.session
        if session is None:
            return False
        try:
            async with asyncio.timeout(self._options.probe_timeout):
                await session.send_ping()
        except MCPError as exc:
            return exc.code == METHOD_NOT_FOUND
        except TimeoutError:
            return True
        except Exception:
            return False
        return True

    # -- logs ---------------------------------------------------------------------------------------

    def _log_unreachable(self, error: BaseException, wait: float) -> None:
        text = self.describe(error)
        if self.failures == 1:
            logger.warning(
                "MCP server %r at %s cannot be reached (%s); turns that may use it fail with "
                "TOOL_UNAVAILABLE until it is back; retrying in the background",
                self.name,
                self.url,
                text,
            )
        else:
            logger.debug(
                "MCP server %r at %s still unreachable after %d attempts (%s); next in %.1f s",
                self.name,
                self.url,
                self.failures,
                text,
                wait,
            )

    def describe(self, error: BaseException, timeout: float | None = None) -> str:
        """A short, secret-free account of a failure for logs (`timeout`: the limit a
        TimeoutError was cut at, connect_timeout when not given)."""
        if isinstance(error, TimeoutError):
            limit = self._options.connect_timeout if timeout is None else timeout
            return f"no answer within {limit:g} s"
        while isinstance(error, BaseExceptionGroup) and error.exceptions:
            error = error.exceptions[0]  # anyio task groups wrap the actual failure
        return self.quote(str(error) or type(error).__name__)

    def quote(self, text: str, *, limit: int = QUOTE_LIMIT) -> str:
        """`text` fit to show: this server's header values and URL redacted, one line, cut."""
        return quote(text, self.config.secrets(), [self.config.url], limit=limit)


async def _listed_tools(session: ClientSession) -> list[McpTool]:
    """Every page of a server's `tools/list`, straight from its session (not the SDK's cache)."""
    tools: list[McpTool] = []
    cursor: str | None = None
    for _ in range(MAX_LIST_PAGES):
        params = None if cursor is None else PaginatedRequestParams(cursor=cursor)
        result = await session.list_tools(params=params)
        tools.extend(result.tools)
        cursor = result.next_cursor
        if cursor is None:
            break
    return tools


def _same_tools(a: Sequence[McpTool], b: Sequence[McpTool]) -> bool:
    return [t.model_dump() for t in a] == [t.model_dump() for t in b]


__all__ = ["MAX_LIST_PAGES", "Connection", "ConnectionOptions"]
