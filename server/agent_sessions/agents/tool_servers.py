"""Server tools (CONTRACT §6): the MCP servers of AGENT_SESSIONS_MCP_SERVERS, connected once per
worker process and shared by every turn, each session narrowed to the servers and tools it may use.

Lifecycle. `ToolServers.start()` starts one long-lived task per server that owns its connection:
it connects (streamable HTTP), lists the tools once to fill the SDK's cache, and keeps the
connection until it is lost or `close()` asks it to stop, then cleans up *in the same task* (the
MCP client's anyio cancel scopes must be exited by the task that entered them). A server that is
down at start does not fail the start: its task keeps trying with capped, jittered backoff.

Losing a server. A connection is judged lost when a call or listing fails with "connection
closed", or fails otherwise and a ping then gets no answer, or a periodic ping gets none. The
owner task then drops it, cleans it up and reconnects in the background. Until it is back,
`servers_for()` refuses turns that may use the server (ToolUnavailable, TOOL_UNAVAILABLE,
retryable) and serves every other turn as usual; a turn whose tool call hits the lost
connection fails the same way (ToolServerLost), so nothing of it is stored.

Tool failures that are the tool's own go back to the model as the tool's output, as the SDK does:
an error result (`isError`), an MCP error answer, and a call cut off by the timeout
(`client_session_timeout_seconds`, the MCP session's read timeout; the client then cancels the
request on the server). A hang is a fault of one tool, not of the server: the turn goes on and the
model can tell the user or try something else.

Narrowing. One connected SDK server object per process serves every session, so a session's
narrowing cannot live on it. `servers_for(allow)` hands each turn light `agents.mcp.MCPServer`
views of the connected servers the session may use; a view narrowed to some tools carries the
SDK's static tool filter (`create_static_tool_filter(allowed_tool_names=...)`) over the shared,
cached tool list: no request per turn, no copy of the tools. Each periodic probe
(`probe_interval`, 30 s) lists the tools again past the cache and, only when they changed, has
the next turn list them; so does a server's `notifications/tools/list_changed` (servers of the
2025 protocol that declare `tools.listChanged` send it on their own).

Secrets. Header values are sent to their server and nowhere else: not in reprs, logs or errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from agents import AgentsException, RunContextWrapper, UserError
from agents.agent import AgentBase
from agents.mcp import (
    MCPServer,
    MCPServerStreamableHttp,
    ToolFilterStatic,
    create_static_tool_filter,
)
from mcp.client.session import ClientSession
from mcp.shared.exceptions import MCPError
from mcp.types import (
    CallToolResult,
    GetPromptResult,
    ListPromptsResult,
    PaginatedRequestParams,
    ToolListChangedNotification,
)
from mcp.types import Tool as McpTool
from mcp_types import CONNECTION_CLOSED, INVALID_PARAMS, METHOD_NOT_FOUND, REQUEST_TIMEOUT

from agent_sessions.errors import InvalidArgument, ToolNameConflict, ToolUnavailable
from agent_sessions.settings import PREFIX, SettingsError

logger = logging.getLogger(__name__)

SETTING = f"{PREFIX}MCP_SERVERS"
EXAMPLE = '[{"name": "files", "url": "http://127.0.0.1:9000/mcp", "headers": {...}}]'
# A server's name: how sessions name it in their narrowing, and the SDK's name for it.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The session field that narrows its tools, and the value that allows no server tools.
ALLOWLIST_FIELD = "server_tools"
NONE = "none"
ALLOWLIST_MAX_LENGTH = 4096
# A tool's name in a narrowing entry `server/tool`: whatever a server calls it, bar separators.
_TOOL_PATTERN = re.compile(r"[^\s,]{1,128}")
# RFC 9110 field names (tokens); values: visible ASCII, spaces and tabs.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
REDACTED = "[redacted]"
# MCP errors about a request itself, from a server that is there: not a lost connection.
_REQUEST_ERRORS = frozenset({REQUEST_TIMEOUT, INVALID_PARAMS, METHOD_NOT_FOUND})

T = TypeVar("T")


# -- configuration --------------------------------------------------------------------------------


@dataclass(frozen=True)
class McpServerConfig:
    """One MCP server of AGENT_SESSIONS_MCP_SERVERS. `headers` go with every request to it."""

    name: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __repr__(self) -> str:
        # Header values are secrets (bearer tokens); their names are not.
        names = ", ".join(self.headers)
        return (
            f"McpServerConfig(name={self.name!r}, url={display_url(self.url)!r}, headers=[{names}])"
        )

    __str__ = __repr__


def parse_mcp_servers(raw: str) -> list[McpServerConfig]:
    """The servers of AGENT_SESSIONS_MCP_SERVERS (empty → none); SettingsError naming the
    variable for any unusable value. Header values never appear in the message."""
    text = raw.strip()
    if not text:
        return []
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        # The message and position only: the document may hold tokens.
        raise SettingsError(
            f"{SETTING} must be a JSON list such as {EXAMPLE}; it is not valid JSON "
            f"({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(value, list):
        raise SettingsError(f"{SETTING} must be a JSON list such as {EXAMPLE}, got {_kind(value)}")
    configs: list[McpServerConfig] = []
    seen: set[str] = set()
    for index, entry in enumerate(value):
        config = _parse_entry(entry, f"{SETTING}[{index}]")
        if config.name.lower() in seen:
            raise SettingsError(
                f"{SETTING} names the server {config.name!r} twice; names must be unique "
                "(compared ignoring case)"
            )
        seen.add(config.name.lower())
        configs.append(config)
    return configs


def _parse_entry(entry: Any, where: str) -> McpServerConfig:
    if not isinstance(entry, dict):
        raise SettingsError(
            f"{where} must be an object with name, url and headers, got {_kind(entry)}"
        )
    unknown = sorted(str(key) for key in set(entry) - {"name", "url", "headers"})
    if unknown:
        raise SettingsError(f"{where} has unknown keys {unknown}; allowed are name, url, headers")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        shown = repr(name[:70]) if isinstance(name, str) else _kind(name)
        raise SettingsError(
            f"{where}.name must be 1 to 64 letters, digits, '_' or '-' (sessions name the server "
            f"by it), got {shown}"
        )
    if name.lower() == NONE:
        raise SettingsError(f"{where}.name must not be {NONE!r}: sessions use it for 'no tools'")
    url = entry.get("url")
    if not isinstance(url, str) or not _usable_url(url):
        shown = repr(display_url(url)) if isinstance(url, str) else _kind(url)
        raise SettingsError(
            f"{where}.url (server {name!r}) must be an http:// or https:// URL such as "
            f"http://127.0.0.1:9000/mcp, got {shown}"
        )
    headers = entry.get("headers")
    if headers is None:
        headers = {}
    if not isinstance(headers, dict):
        raise SettingsError(
            f"{where}.headers (server {name!r}) must be an object of header names to text "
            f"values, got {_kind(headers)}"
        )
    seen: set[str] = set()
    for key, header in headers.items():
        if not _HEADER_NAME.fullmatch(key):
            raise SettingsError(
                f"{where}.headers (server {name!r}) has an invalid header name {key[:70]!r}"
            )
        if key.lower() in seen:
            raise SettingsError(f"{where}.headers (server {name!r}) sets {key!r} twice")
        seen.add(key.lower())
        # Never the value itself, nor its type's repr: it is a secret.
        if not isinstance(header, str):
            raise SettingsError(
                f"{where}.headers[{key!r}] (server {name!r}) must be text, got {_kind(header)} "
                "(the value is not shown)"
            )
        if not _HEADER_VALUE.fullmatch(header):
            raise SettingsError(
                f"{where}.headers[{key!r}] (server {name!r}) must be printable ASCII without "
                "line breaks (check for a pasted newline; the value is not shown)"
            )
    return McpServerConfig(name=name, url=url, headers=dict(headers))


def _usable_url(url: str) -> bool:
    """Whether `url` is an http(s) URL with a host, a valid port and no fragment or spaces."""
    if any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for an invalid port
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname) and not parts.fragment


def display_url(url: str) -> str:
    """The URL fit for logs and messages: no user:password@, no query (it may hold a token)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "an unparsable URL"
    if not parts.scheme or not host:
        return "an unparsable URL"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    return f"{parts.scheme}://{netloc}{parts.path}"[:200]


def _kind(value: Any) -> str:
    """What a JSON value is, without its content."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# -- listing ------------------------------------------------------------------------------------

# At most this many pages of one server's tools/list (the SDK's own listing has no limit).
MAX_LIST_PAGES = 100


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


# -- a session's narrowing ------------------------------------------------------------------------


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
        if not NAME_PATTERN.fullmatch(server):
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


# -- errors ---------------------------------------------------------------------------------------


class ToolServerLost(ToolUnavailable, AgentsException):
    """A server's connection was lost during a turn (a listing or a call failed on it).

    Also an AgentsException, so that the SDK lets it out of the run as it is (it wraps other
    exceptions of tools in a UserError): the turn fails with UNAVAILABLE, TOOL_UNAVAILABLE.
    """


def _unavailable_message(name: str) -> str:
    return (
        f"the tool server {name!r} cannot be reached right now; the service reconnects in the "
        "background and the turn can be retried"
    )


def _chain(error: BaseException) -> Iterable[BaseException]:
    """`error` and its causes and contexts, each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _find(error: BaseException, kind: type[T]) -> T | None:
    for link in _chain(error):
        if isinstance(link, kind):
            return link
    return None


def _mcp_code(error: BaseException) -> int | None:
    found = _find(error, MCPError)
    return None if found is None else found.code


# -- tool outputs ---------------------------------------------------------------------------------


def flatten_tool_output(value: Any) -> str:
    """A tool's output as text to store. MCP tools give content parts (the SDK's dicts such as
    `{"type": "input_text", "text": "5"}`, one or a list): their texts, one per line; an image
    or a file becomes a placeholder (`[image]`, `[file name]`); anything else, JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, Mapping) and _is_part(value):
        return _part_text(value)
    if isinstance(value, list | tuple) and value and all(_is_part(p) for p in value):
        return "\n".join(_part_text(p) for p in value)
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def _is_part(part: Any) -> bool:
    if hasattr(part, "model_dump"):
        part = part.model_dump(exclude_none=True)
    return isinstance(part, Mapping) and isinstance(part.get("type"), str)


def _part_text(part: Any) -> str:
    if hasattr(part, "model_dump"):
        part = part.model_dump(exclude_none=True)
    kind = part.get("type")
    text = part.get("text")
    if kind in {"text", "input_text", "output_text"} and isinstance(text, str):
        return text
    if kind in {"image", "input_image"}:
        return "[image]"
    if kind in {"file", "input_file"}:
        name = part.get("filename")
        return f"[file {name}]" if isinstance(name, str) and name else "[file]"
    return json.dumps(dict(part), ensure_ascii=False, default=str)


# -- the connections ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    tool_timeout: float
    connect_timeout: float
    retry_initial: float
    retry_max: float
    probe_interval: float | None
    probe_timeout: float
    close_timeout: float


class _Connection:
    """One configured server: its owner task connects, watches and cleans up its SDK object."""

    def __init__(self, config: McpServerConfig, options: _Options) -> None:
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
            },
            cache_tools_list=True,
            name=self.name,
            client_session_timeout_seconds=options.tool_timeout,
            # A failed call is never repeated: the tool may have run (and isolated-session
            # retries would run a hanging tool twice).
            max_retry_attempts=0,
            message_handler=on_message,
        )
        # The SDK sends one request at a time over a shared streamable-HTTP session, so one
        # turn's slow tool would hold up every other turn's calls to that server. The mcp 2.x
        # client matches answers to requests by id; concurrent requests work (tested).
        server._serialize_session_requests = False
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
            if _mcp_code(exc) == CONNECTION_CLOSED:
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
        code = _mcp_code(error)
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
        text = str(error) or type(error).__name__
        return self.redact(" ".join(text.split()))[:300]

    def redact(self, text: str) -> str:
        for value in self.config.headers.values():
            if len(value) >= 4:
                text = text.replace(value, REDACTED)
                # A bearer header's token alone, too.
                scheme, _, token = value.partition(" ")
                if token and len(token) >= 4:
                    text = text.replace(token, REDACTED)
        if self.config.url in text:
            text = text.replace(self.config.url, self.url)
        return text


# -- what a turn gets ----------------------------------------------------------------------------


class _SessionServer(MCPServer):
    """One turn's view of a connected server: the SDK lists and calls its tools through it.

    It shares the process's connection (and its cached tool list) and adds the session's
    narrowing as the SDK's static tool filter. It turns a lost connection into ToolServerLost
    and gives the model readable messages for the tool's own failures.
    """

    def __init__(self, connection: _Connection, tools: frozenset[str] | None) -> None:
        super().__init__(failure_error_function=self._failure_output)
        self._connection = connection
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
                raise self._lost() from None
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
        live = self._live()
        try:
            return await live.call_tool(tool_name, arguments, meta)
        except Exception as exc:
            if await self._connection.judge(live, exc):
                raise self._lost() from None
            raise

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
            raise self._lost()
        return live

    def _lost(self) -> ToolServerLost:
        return ToolServerLost(_unavailable_message(self.name), metadata={"server": self.name})

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
        lost = _find(error, ToolServerLost)
        if lost is not None:
            raise lost
        tool = getattr(ctx, "tool_name", None) or "the tool"
        code = _mcp_code(error)
        if code == REQUEST_TIMEOUT:
            return (
                f"Error: the tool {tool} did not answer within "
                f"{self._connection.tool_timeout:g} seconds and was stopped."
            )
        mcp_error = _find(error, MCPError)
        if mcp_error is not None:
            return f"Error: the tool {tool} failed: {self._quote(mcp_error.message)}"
        user_error = _find(error, UserError)
        if user_error is not None:
            # The SDK's own messages (missing arguments, …), free of credentials.
            return f"Error: the tool {tool} failed: {self._quote(str(user_error))}"
        return f"Error: the tool {tool} failed. Please try again."

    def _quote(self, text: str) -> str:
        text = self._connection.redact(" ".join(text.split()))
        return text if len(text) <= 500 else text[:499] + "…"


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
        options = _Options(
            tool_timeout=tool_timeout,
            connect_timeout=connect_timeout,
            retry_initial=retry_initial,
            retry_max=max(retry_max, retry_initial),
            probe_interval=probe_interval,
            probe_timeout=probe_timeout,
            close_timeout=close_timeout,
        )
        self._connections = {c.name: _Connection(c, options) for c in configs}
        self._started = False
        self._closed = False

    @classmethod
    def from_setting(cls, raw: str, **options: Any) -> ToolServers:
        """From the value of AGENT_SESSIONS_MCP_SERVERS (SettingsError when it is unusable)."""
        return cls(parse_mcp_servers(raw), **options)

    def __repr__(self) -> str:
        return f"ToolServers({self.status()!r})"

    # -- what is configured ----------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """The configured servers' names, in configuration order."""
        return tuple(self._connections)

    def known(self, name: str) -> bool:
        return name in self._connections

    def connected(self, name: str) -> bool:
        connection = self._connections.get(name)
        return connection is not None and connection.live is not None

    def status(self) -> dict[str, str]:
        """Each server's state: `connected` or `unavailable` (for health reports and logs)."""
        return {
            name: "connected" if c.live is not None else "unavailable"
            for name, c in self._connections.items()
        }

    def check_allowlist(self, value: str | None, *, field: str = ALLOWLIST_FIELD) -> str:
        """`check_tool_allowlist` against these servers: the canonical value, or InvalidArgument."""
        return check_tool_allowlist(value, self.names, field=field)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connects every server once, concurrently; returns when each has connected or failed
        its first attempt (at most about `connect_timeout`). Failed ones keep retrying."""
        if self._started:
            raise RuntimeError("ToolServers.start() was called twice")
        self._started = True
        first_attempts = [c.start() for c in self._connections.values()]
        await asyncio.gather(*(event.wait() for event in first_attempts))
        await self._warn_of_shared_names()

    async def _warn_of_shared_names(self) -> None:
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

    async def wait_connected(self, name: str, within: float) -> bool:
        """Waits (polling) until `name` is connected; whether it is within `within` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not self.connected(name):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    # -- per turn ----------------------------------------------------------------------------------

    def servers_for(self, allow: str | None) -> list[MCPServer]:
        """The servers a session narrowed by `allow` may use, for `Agent(mcp_servers=...)`.

        Raises ToolUnavailable (TOOL_UNAVAILABLE) naming every server the session may use that
        is not connected right now; sessions that may not use it are unaffected. Entries for
        servers no longer configured grant nothing.
        """
        allowlist = parse_tool_allowlist(allow)
        views: list[MCPServer] = []
        missing: list[str] = []
        for name, connection in self._connections.items():
            if not allowlist.allows_server(name):
                continue
            if connection.live is None:
                missing.append(name)
                continue
            views.append(_SessionServer(connection, allowlist.tools_of(name)))
        if missing:
            shown = ", ".join(repr(n) for n in missing)
            plural = "s" if len(missing) > 1 else ""
            raise ToolUnavailable(
                f"the tool server{plural} {shown} this session may use cannot be reached right "
                "now; the service reconnects in the background and the turn can be retried",
                metadata={"server": ",".join(missing)},
            )
        return views


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


__all__ = [
    "ALLOWLIST_FIELD",
    "NONE",
    "SETTING",
    "McpServerConfig",
    "ToolAllowlist",
    "ToolServerLost",
    "ToolServers",
    "check_tool_allowlist",
    "check_tool_names",
    "shared_tool_names",
    "display_url",
    "flatten_tool_output",
    "parse_mcp_servers",
    "parse_tool_allowlist",
]
