"""Server tools: AGENT_SESSIONS_MCP_SERVERS, the per-process connections to real MCP
servers (the `mcp` package's, over streamable HTTP), a session's narrowing, and tool calls through
a real Agents SDK run with a scripted model."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from agent_sessions.agents.redaction import display_url
from agent_sessions.agents.tools.access import ToolServerAccess, claims_allow
from agent_sessions.agents.tools.allowlist import check_tool_allowlist, parse_tool_allowlist
from agent_sessions.agents.tools.config import McpServerConfig, parse_mcp_servers
from agent_sessions.agents.tools.errors import ToolServerLost
from agent_sessions.agents.tools.names import shared_tool_names
from agent_sessions.agents.tools.output import flatten_tool_output
from agent_sessions.agents.tools.servers import ToolServers
from agent_sessions.domain import Owner
from agent_sessions.errors import InvalidArgument, ToolUnavailable, Unavailable
from agent_sessions.settings import SettingsError
from agents import Agent, Runner, UserError, set_tracing_disabled
from agents.items import ToolCallOutputItem
from agents.mcp import MCPServer
from agents.testing import ScriptedModel, assistant_message, function_call
from mcp.types import TextContent

from tests.fakes.mcp_server import FAIL_MESSAGE, FakeMcpServer
from tests.support import tool_server_status, wait_connected

TOKEN = "tok-0123456789-secret"
QUERY_SECRET = "q-9876543210-secret"
ALL_TOOLS = {"add", "echo", "fail", "hang", "learn"}

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _no_tracing() -> None:
    set_tracing_disabled(True)


@pytest.fixture(params=[False, True], ids=["protocol-2026", "legacy-2025"])
def mcp_server(request: pytest.FixtureRequest) -> Iterator[FakeMcpServer]:
    """A real MCP server: of the current protocol, and of the 2025 one with sessions (which a
    restart forgets)."""
    with FakeMcpServer(legacy=request.param) as server:
        yield server
    assert not server.errors, f"the fake MCP server failed: {server.errors!r}"


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Runs `main()` on a fresh event loop and checks that it left no task behind."""

    async def checked() -> T:
        result = await main()
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not left, f"tasks left running: {left!r}"
        return result

    return asyncio.run(checked())


def quick(configs: list[McpServerConfig], **options: Any) -> ToolServers:
    """ToolServers with test-sized timeouts and no periodic probe (unless asked)."""
    defaults: dict[str, Any] = {
        "tool_timeout": 5.0,
        "connect_timeout": 3.0,
        "retry_initial": 0.05,
        "retry_max": 0.2,
        "probe_interval": None,
    }
    return ToolServers(configs, **{**defaults, **options})


async def tool_names(server: MCPServer) -> set[str]:
    return {tool.name for tool in await server.list_tools()}


async def call_text(server: MCPServer, tool: str, arguments: dict[str, Any]) -> str:
    result = await server.call_tool(tool, arguments)
    return "".join(part.text for part in result.content if isinstance(part, TextContent))


def all_log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record's message and exception text."""
    texts = []
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(texts)


# -- AGENT_SESSIONS_MCP_SERVERS -------------------------------------------------------------------


def test_parse_servers() -> None:
    configs = parse_mcp_servers(
        '[{"name": "files", "url": "http://127.0.0.1:9000/mcp", '
        f'"headers": {{"Authorization": "Bearer {TOKEN}"}}}},'
        ' {"name": "web-2_x", "url": "https://tools.example/mcp"}]'
    )
    assert [(c.name, c.url, dict(c.headers)) for c in configs] == [
        ("files", "http://127.0.0.1:9000/mcp", {"Authorization": f"Bearer {TOKEN}"}),
        ("web-2_x", "https://tools.example/mcp", {}),
    ]
    assert parse_mcp_servers("") == []
    assert parse_mcp_servers("  \n") == []
    assert parse_mcp_servers("[]") == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            f'[{{"name": "files", "url": "http://h/mcp", "headers": {{"A": "{TOKEN}"}}',
            "not valid JSON",
        ),
        (f'{{"name": "files", "headers": {{"A": "{TOKEN}"}}}}', "must be a JSON list"),
        ('["files"]', "[0] must be an object"),
        (f'[{{"name": "f", "url": "http://h/", "header": {{"A": "{TOKEN}"}}}}]', "unknown keys"),
        ('[{"url": "http://h/mcp"}]', ".name must be"),
        ('[{"name": "", "url": "http://h/mcp"}]', ".name must be"),
        ('[{"name": "has space", "url": "http://h/mcp"}]', ".name must be"),
        ('[{"name": "a/b", "url": "http://h/mcp"}]', ".name must be"),
        ('[{"name": "' + "x" * 65 + '", "url": "http://h/mcp"}]', ".name must be"),
        ('[{"name": "None", "url": "http://h/mcp"}]', "must not be 'none'"),
        (
            '[{"name": "a", "url": "http://h/1"}, {"name": "A", "url": "http://h/2"}]',
            "twice",
        ),
        ('[{"name": "a"}]', ".url (server 'a') must be"),
        ('[{"name": "a", "url": "ftp://h/mcp"}]', ".url (server 'a') must be"),
        ('[{"name": "a", "url": "http:///mcp"}]', ".url (server 'a') must be"),
        ('[{"name": "a", "url": "http://h:99999/mcp"}]', ".url (server 'a') must be"),
        ('[{"name": "a", "url": "http://h/mcp#x"}]', ".url (server 'a') must be"),
        ('[{"name": "a", "url": "http://h/m cp"}]', ".url (server 'a') must be"),
        ('[{"name": "a", "url": 7}]', ".url (server 'a') must be"),
        (f'[{{"name": "a", "url": "http://h/", "headers": ["{TOKEN}"]}}]', ".headers (server"),
        ('[{"name": "a", "url": "http://h/", "headers": {"A": 12345678}}]', "must be text"),
        (f'[{{"name": "a", "url": "http://h/", "headers": {{"A": ["{TOKEN}"]}}}}]', "must be text"),
        (f'[{{"name": "a", "url": "http://h/", "headers": {{"A": "{TOKEN}\\n"}}}}]', "line breaks"),
        (
            f'[{{"name": "a", "url": "http://h/", "headers": {{"A": "{TOKEN}é"}}}}]',
            "printable ASCII",
        ),
        (f'[{{"name": "a", "url": "http://h/", "headers": {{"A B": "{TOKEN}"}}}}]', "header name"),
        (
            f'[{{"name": "a", "url": "http://h/", "headers": {{"A": "{TOKEN}", "a": "{TOKEN}"}}}}]',
            "twice",
        ),
        ('[{"name": "a", "url": "http://h/", "allow_claims": {}}]', ".allow_claims (server"),
        ('[{"name": "a", "url": "http://h/", "allow_claims": ["g"]}]', ".allow_claims (server"),
        ('[{"name": "a", "url": "http://h/", "allow_claims": {"g": []}}]', "non-empty list"),
        ('[{"name": "a", "url": "http://h/", "allow_claims": {"g": 1.5}}]', "non-empty list"),
        ('[{"name": "a", "url": "http://h/", "allow_claims": {"g": null}}]', "non-empty list"),
        ('[{"name": "a", "url": "http://h/", "allow_claims": {"g": [{}]}}]', "non-empty list"),
    ],
)
def test_parse_errors_name_the_variable_and_hide_header_values(raw: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_mcp_servers(raw)
    message = str(caught.value)
    assert message.startswith("AGENT_SESSIONS_MCP_SERVERS"), message
    assert expected in message
    assert TOKEN not in message
    assert "12345678" not in message
    # No chained exception (json's) quotes the document either.
    error = caught.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_allow_claims_are_parsed_and_matched() -> None:
    open_server, restricted = parse_mcp_servers(
        '[{"name": "a", "url": "http://h/"}, {"name": "b", "url": "http://h/", '
        '"allow_claims": {"groups": ["search", "ops"], "email_verified": true, "tier": 2}}]'
    )
    assert open_server.allow_claims is None
    rule = restricted.allow_claims
    assert rule == {"groups": ("search", "ops"), "email_verified": (True,), "tier": (2,)}
    assert claims_allow(None, {})
    member = {"groups": ["x", "ops"], "email_verified": True, "tier": 2}
    assert claims_allow(rule, member)
    assert claims_allow(rule, {**member, "groups": "search"})  # a single value: equal
    for refused in (
        {},
        {**member, "groups": ["x"]},
        {**member, "groups": "search ops"},  # compared whole, not split
        {**member, "groups": "Search"},  # case counts
        {**member, "email_verified": "true"},  # type counts
        {**member, "tier": True},  # true is not 1 (nor 2)
        {**member, "tier": 2.0},
        {k: v for k, v in member.items() if k != "tier"},  # every named claim must match
    ):
        assert not claims_allow(rule, refused), refused
    access = ToolServerAccess({"a": None, "b": rule})
    who = uuid.uuid4()
    assert access.names_for(Owner(who, "u", member)) == ("a", "b")
    assert access.names_for(Owner(who, "u")) == ("a",)


def test_config_repr_hides_header_values_and_url_secrets() -> None:
    (config,) = parse_mcp_servers(
        f'[{{"name": "files", "url": "http://user:pw-secret@127.0.0.1:9000/mcp?key={QUERY_SECRET}",'
        f' "headers": {{"Authorization": "Bearer {TOKEN}", "X-Other": "{QUERY_SECRET}"}}}}]'
    )
    for text in (repr(config), str(config), f"{config}", repr([config])):
        assert TOKEN not in text and QUERY_SECRET not in text and "pw-secret" not in text
        assert "Authorization" in text and "files" in text and "127.0.0.1:9000/mcp" in text
    assert display_url("http://u:p@[::1]:8080/a/mcp?token=x") == "http://[::1]:8080/a/mcp"
    assert display_url("nonsense") == "an unparsable URL"


# -- a session's narrowing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "servers", "canonical"),
    [
        (None, None, ""),
        ("", None, ""),
        ("  ", None, ""),
        ("none", {}, "none"),
        (" NONE ", {}, "none"),
        ("files", {"files": None}, "files"),
        ("files/echo, files/add", {"files": frozenset({"add", "echo"})}, "files/add,files/echo"),
        ("files/add,files", {"files": None}, "files"),
        (
            "files,files/add,web/x.y-z",
            {"files": None, "web": frozenset({"x.y-z"})},
            "files,web/x.y-z",
        ),
        ("files/add,files/add", {"files": frozenset({"add"})}, "files/add"),
    ],
)
def test_parse_allowlist(value: str | None, servers: Any, canonical: str) -> None:
    allowlist = parse_tool_allowlist(value)
    assert allowlist.servers == servers
    assert allowlist.canonical() == canonical


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (",", "empty entry"),
        ("files,", "empty entry"),
        ("files,,web", "empty entry"),
        ("none,files", "cannot be combined"),
        ("files,none", "cannot be combined"),
        ("fi les", "server name"),
        ("/add", "server name"),
        ("files/", "tool name"),
        ("x" * 5000, "at most"),
    ],
)
def test_allowlist_syntax_errors(value: str, expected: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_tool_allowlist(value)
    assert caught.value.field == "server_tools"
    assert caught.value.code == "INVALID_ARGUMENT"
    assert expected in caught.value.description


def test_nothing_configured() -> None:
    async def main() -> None:
        async with ToolServers() as servers:
            assert servers.names == () and tool_server_status(servers) == {}
            assert servers.servers_for(None) == [] and servers.servers_for("none") == []

    run(main)
    assert ToolServers.from_setting("").names == ()
    assert ToolServers.from_setting('[{"name": "a", "url": "http://h/mcp"}]').names == ("a",)
    with pytest.raises(SettingsError):
        ToolServers.from_setting("[1]")
    with pytest.raises(ValueError, match="tool_timeout"):
        ToolServers(tool_timeout=0)


def test_check_allowlist_against_the_configured_servers() -> None:
    assert check_tool_allowlist("web/b,files/a", ["files", "web"]) == "web/b,files/a"
    assert check_tool_allowlist(None, ["files"]) == ""
    assert check_tool_allowlist("none", []) == "none"
    with pytest.raises(InvalidArgument) as caught:
        check_tool_allowlist("files,mail/send", ["files", "web"])
    assert caught.value.field == "server_tools"
    assert "'mail'" in caught.value.message and "files, web" in caught.value.message
    with pytest.raises(InvalidArgument, match="none are configured"):
        check_tool_allowlist("files", [])
    with pytest.raises(InvalidArgument) as caught:
        check_tool_allowlist("files", [], field="session.server_tools")
    assert caught.value.field == "session.server_tools"
    servers = ToolServers([McpServerConfig("files", "http://127.0.0.1:1/mcp")])
    assert "files" in servers.names and "web" not in servers.names
    assert check_tool_allowlist(" files/add ", servers.names) == "files/add"
    with pytest.raises(InvalidArgument):
        check_tool_allowlist("web", servers.names)


# -- tool outputs ---------------------------------------------------------------------------------


def test_flatten_tool_output() -> None:
    assert flatten_tool_output("plain") == "plain"
    assert flatten_tool_output(None) == ""
    assert flatten_tool_output({"type": "text", "text": "5"}) == "5"
    assert flatten_tool_output([{"type": "input_text", "text": "5"}]) == "5"
    assert (
        flatten_tool_output([{"type": "input_text", "text": "a"}, {"type": "text", "text": "b"}])
        == "a\nb"
    )
    assert (
        flatten_tool_output([{"type": "input_image", "image_url": "data:image/png;base64,AAAA"}])
        == "[image]"
    )
    assert flatten_tool_output({"type": "input_file", "filename": "r.pdf"}) == "[file r.pdf]"
    assert flatten_tool_output(TextContent(type="text", text="from mcp")) == "from mcp"
    assert flatten_tool_output([1, 2]) == "[1, 2]"
    assert flatten_tool_output({"a": 1}) == '{"a": 1}'
    assert flatten_tool_output(42) == "42"


# -- connections ----------------------------------------------------------------------------------


def test_connects_lists_tools_once_and_serves_them_from_the_cache(
    mcp_server: FakeMcpServer,
) -> None:
    async def main() -> None:
        async with quick([McpServerConfig("files", mcp_server.url)]) as servers:
            assert tool_server_status(servers) == {"files": "connected"}
            assert mcp_server.list_tools_calls == 1  # at connect, to fill the cache
            (view,) = servers.servers_for(None)
            assert view.name == "files"
            assert await tool_names(view) == ALL_TOOLS
            assert await tool_names(view) == ALL_TOOLS
            (other_turn,) = servers.servers_for("files")
            assert await tool_names(other_turn) == ALL_TOOLS
            assert await call_text(view, "add", {"a": 2, "b": 3}) == "5"
            assert await call_text(other_turn, "echo", {"text": "hi"}) == "hi"
            assert mcp_server.list_tools_calls == 1  # no request for any later listing

    run(main)
    assert mcp_server.tool_calls == ["add", "echo"]


@pytest.mark.parametrize(
    ("legacy", "probe_interval"),
    [(True, None), (False, 0.2)],
    ids=["2025 protocol: announced", "2026-07-28 protocol: listed with the periodic probe"],
)
def test_a_changed_tool_list_reaches_the_next_turns(
    legacy: bool, probe_interval: float | None
) -> None:
    """A server whose tools change: a 2025 server announces it
    (`notifications/tools/list_changed`) and the next listing asks it again; a 2026-07-28 server
    announces it only to a subscription, so the periodic probe lists the tools again."""
    with FakeMcpServer(legacy=legacy) as fake:  # its own: `learn` changes its tools for good

        async def main() -> None:
            config = McpServerConfig("files", fake.url)
            async with quick([config], probe_interval=probe_interval) as servers:
                (view,) = servers.servers_for(None)
                assert await tool_names(view) == ALL_TOOLS
                assert await call_text(view, "learn", {"name": "greet"}) == "learned greet"
                for _ in range(150):
                    (next_turn,) = servers.servers_for(None)
                    if "greet" in await tool_names(next_turn):
                        break
                    await asyncio.sleep(0.02)
                assert await tool_names(next_turn) == {*ALL_TOOLS, "greet"}
                assert await call_text(next_turn, "greet", {}) == "I am greet"
                if legacy:  # listed at connect and once after the change, not per turn
                    assert fake.list_tools_calls == 2

        run(main)


def test_a_slow_listing_keeps_the_list_turns_had() -> None:
    """The periodic refresh of a server whose `tools/list` takes longer than the probe timeout
    leaves turns served from the list they had, without a listing of their own (which would
    wait the whole delay)."""
    with FakeMcpServer() as fake:

        async def main() -> None:
            config = McpServerConfig("files", fake.url)
            async with quick([config], probe_interval=0.1, probe_timeout=0.2) as servers:
                (view,) = servers.servers_for(None)
                assert await tool_names(view) == ALL_TOOLS
                fake.list_delay = 60.0
                before = fake.list_tools_calls
                for _ in range(100):  # until two refreshes have asked (and given up)
                    if fake.list_tools_calls >= before + 2:
                        break
                    await asyncio.sleep(0.05)
                assert fake.list_tools_calls >= before + 2
                (next_turn,) = servers.servers_for(None)
                # Served from the cache; a listing of its own would hang for a minute.
                assert await asyncio.wait_for(tool_names(next_turn), 10) == ALL_TOOLS
                assert tool_server_status(servers) == {"files": "connected"}

        run(main)
        fake.list_delay = 0.0


def test_shared_tool_names_by_pair_of_servers() -> None:
    assert shared_tool_names({"a": ["x", "y"], "b": ["y", "z"], "c": ["x", "y", "w"]}) == {
        ("a", "b"): ["y"],
        ("a", "c"): ["x", "y"],
    }
    assert shared_tool_names({"a": ["x"], "b": ["z"]}) == {}


def test_servers_offering_one_tool_name_are_named_in_a_warning_at_start(
    mcp_server: FakeMcpServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        configs = [McpServerConfig(name, mcp_server.url) for name in ("files", "copy")]
        async with quick(configs) as servers:
            assert tool_server_status(servers) == {"files": "connected", "copy": "connected"}

    caplog.set_level(logging.WARNING, logger="agent_sessions")
    run(main)
    (warning,) = [r.getMessage() for r in caplog.records if "both offer" in r.getMessage()]
    assert "'files' and 'copy'" in warning and "'echo'" in warning, warning
    assert "TOOL_NAME_CONFLICT" in warning


def test_configured_headers_reach_the_server() -> None:
    with FakeMcpServer(token=TOKEN) as fake:

        async def main() -> None:
            config = McpServerConfig("files", fake.url, {"Authorization": f"Bearer {TOKEN}"})
            async with quick([config]) as servers:
                (view,) = servers.servers_for(None)
                assert await call_text(view, "add", {"a": 1, "b": 1}) == "2"

        run(main)
        assert fake.requests and set(fake.authorizations) == {f"Bearer {TOKEN}"}
        assert fake.rejected == 0


def test_wrong_token_leaves_the_server_unavailable_and_is_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + TOKEN
    url = None
    with FakeMcpServer(token=TOKEN) as fake:
        url = f"{fake.url}?key={QUERY_SECRET}"

        async def main() -> None:
            config = McpServerConfig("files", url, {"Authorization": f"Bearer {wrong}"})
            async with quick([config]) as servers:
                assert tool_server_status(servers) == {"files": "unavailable"}
                with pytest.raises(ToolUnavailable) as caught:
                    servers.servers_for("files")
                assert wrong not in str(caught.value)
                assert servers.servers_for("none") == []
                assert wrong not in repr(servers)

        run(main)
        assert fake.rejected >= 1
    ours = [r for r in caplog.records if r.name.startswith("agent_sessions")]
    # The mcp client reports a 401 as a bare "Server returned an error response".
    assert any("'files'" in r.getMessage() and "cannot be reached" in r.getMessage() for r in ours)
    assert wrong not in all_log_text(caplog)
    assert QUERY_SECRET not in "\n".join(r.getMessage() for r in ours)


def test_narrowing(mcp_server: FakeMcpServer) -> None:
    async def main() -> None:
        configs = [McpServerConfig("files", mcp_server.url), McpServerConfig("web", mcp_server.url)]
        async with quick(configs) as servers:
            assert servers.servers_for("none") == []
            assert [s.name for s in servers.servers_for(None)] == ["files", "web"]
            assert [s.name for s in servers.servers_for("")] == ["files", "web"]
            (files,) = servers.servers_for("files")
            assert files.name == "files" and await tool_names(files) == ALL_TOOLS
            (files,) = servers.servers_for("files/add,files/echo")
            assert await tool_names(files) == {"add", "echo"}
            # The SDK's static filter, on the view the turn gets.
            assert getattr(files, "tool_filter", None) == {"allowed_tool_names": ["add", "echo"]}
            with pytest.raises(UserError, match="not available to this session"):
                await files.call_tool("hang", {"seconds": 0})
            both = servers.servers_for("web/hang,files/echo")
            assert [s.name for s in both] == ["files", "web"]
            assert [await tool_names(s) for s in both] == [{"echo"}, {"hang"}]
            # A server that is no longer configured grants nothing.
            assert [s.name for s in servers.servers_for("gone,web")] == ["web"]
            # The shared connection keeps every tool for the next session.
            (full,) = servers.servers_for("files")
            assert await tool_names(full) == ALL_TOOLS

    run(main)
    assert "hang" not in mcp_server.tool_calls


def test_down_at_start_fails_only_turns_that_need_it_then_comes_back(
    mcp_server: FakeMcpServer,
) -> None:
    down = FakeMcpServer(legacy=mcp_server.legacy)  # its port is fixed, nothing listens yet

    async def main() -> None:
        configs = [McpServerConfig("files", down.url), McpServerConfig("web", mcp_server.url)]
        servers = quick(configs)
        started = time.monotonic()
        await servers.start()
        try:
            assert time.monotonic() - started < 3
            assert tool_server_status(servers) == {"files": "unavailable", "web": "connected"}
            for allow in (None, "", "files", "files/add", "web,files/echo"):
                with pytest.raises(ToolUnavailable) as caught:
                    servers.servers_for(allow)
                error = caught.value
                assert isinstance(error, Unavailable)
                assert (error.code, error.reason) == ("UNAVAILABLE", "TOOL_UNAVAILABLE")
                assert "'files'" in error.message and "retried" in error.message
                assert error.metadata == {"server": "files"}
            # Unrelated sessions are served.
            assert servers.servers_for("none") == []
            (web,) = servers.servers_for("web")
            assert await call_text(web, "add", {"a": 20, "b": 22}) == "42"

            down.start()  # the same ToolServers picks it up, no restart
            assert await wait_connected(servers, "files", 10)
            files, _ = servers.servers_for(None)
            assert await call_text(files, "add", {"a": 1, "b": 2}) == "3"
        finally:
            await servers.close()

    try:
        run(main)
    finally:
        down.stop()
    assert down.tool_calls == ["add"] and not down.errors


def test_drop_found_by_a_failed_call_then_reconnected(mcp_server: FakeMcpServer) -> None:
    async def main() -> None:
        async with quick([McpServerConfig("files", mcp_server.url)]) as servers:
            (view,) = servers.servers_for("files")
            assert await call_text(view, "add", {"a": 1, "b": 1}) == "2"

            mcp_server.stop()
            # Not known yet (no probe): the turn's call finds out, and fails the turn.
            (view,) = servers.servers_for("files")
            with pytest.raises(ToolServerLost) as caught:
                await view.call_tool("add", {"a": 1, "b": 1})
            assert isinstance(caught.value, ToolUnavailable)
            assert caught.value.reason == "TOOL_UNAVAILABLE"
            assert tool_server_status(servers) == {"files": "unavailable"}
            with pytest.raises(ToolUnavailable):
                servers.servers_for("files")
            assert servers.servers_for("none") == []
            # The view of a turn that began before: unavailable too, not "not initialized".
            with pytest.raises(ToolServerLost):
                await view.list_tools()

            mcp_server.start()
            assert await wait_connected(servers, "files", 10)
            (view,) = servers.servers_for("files")
            assert await call_text(view, "add", {"a": 2, "b": 2}) == "4"

    run(main)


def test_drop_found_by_the_periodic_probe(mcp_server: FakeMcpServer) -> None:
    async def main() -> None:
        servers = quick([McpServerConfig("files", mcp_server.url)], probe_interval=0.1)
        async with servers:
            await asyncio.sleep(0.35)  # a few probes of a healthy server change nothing
            assert tool_server_status(servers) == {"files": "connected"}
            mcp_server.stop()
            deadline = time.monotonic() + 5
            while servers.connected("files"):
                assert time.monotonic() < deadline, "the probe did not notice the drop"
                await asyncio.sleep(0.02)
            with pytest.raises(ToolUnavailable):
                servers.servers_for(None)
            mcp_server.start()
            assert await wait_connected(servers, "files", 10)
            (view,) = servers.servers_for(None)
            assert await call_text(view, "echo", {"text": "back"}) == "back"

    run(main)


def test_close_is_clean(mcp_server: FakeMcpServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    down = FakeMcpServer()

    async def main() -> None:
        servers = quick(
            [McpServerConfig("files", mcp_server.url), McpServerConfig("off", down.url)],
            probe_interval=0.05,
        )
        await servers.start()
        (view,) = servers.servers_for("files")
        assert await call_text(view, "echo", {"text": "x"}) == "x"
        await asyncio.sleep(0.2)  # retries and probes running
        started = time.monotonic()
        await servers.close()
        assert time.monotonic() - started < 2
        await servers.close()  # idempotent
        assert tool_server_status(servers) == {"files": "unavailable", "off": "unavailable"}
        with pytest.raises(ToolUnavailable):
            servers.servers_for("files")
        await ToolServers([McpServerConfig("x", down.url)]).close()  # never started

    run(main)  # also checks that no task was left behind
    text = all_log_text(caplog)
    # The anyio error of a cleanup outside the connecting task, and the SDK's note hiding it.
    assert "in a different task" not in text
    assert "Ignoring cancel scope error" not in text
    assert "Task was destroyed" not in text
    problems = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING
        and not ("'off'" in r.getMessage() and "cannot be reached" in r.getMessage())
    ]
    assert problems == []


def test_calls_of_different_turns_run_concurrently(mcp_server: FakeMcpServer) -> None:
    async def main() -> None:
        async with quick([McpServerConfig("files", mcp_server.url)]) as servers:
            (slow,) = servers.servers_for("files")
            (fast,) = servers.servers_for("files")
            hanging = asyncio.create_task(call_text(slow, "hang", {"seconds": 30}))
            assert await asyncio.to_thread(mcp_server.hanging.wait, 5)
            async with asyncio.timeout(3):  # not 30 s: the slow call does not hold this one up
                assert await call_text(fast, "add", {"a": 1, "b": 2}) == "3"
            assert not hanging.done()
            hanging.cancel()
            with pytest.raises(asyncio.CancelledError):
                await hanging
            # Cancelling one call leaves the shared connection usable.
            assert await call_text(fast, "echo", {"text": "still here"}) == "still here"

    run(main)


# -- through a real agent run ---------------------------------------------------------------------


async def run_agent(agent: Agent[Any]) -> tuple[dict[str, str], str]:
    """Streams a run; the tools' outputs (as stored: flattened) by call id, and the final text."""
    outputs: dict[str, str] = {}
    result = Runner.run_streamed(agent, "go")
    try:
        async for event in result.stream_events():
            if event.type == "run_item_stream_event" and isinstance(event.item, ToolCallOutputItem):
                raw: Any = event.item.raw_item
                assert isinstance(raw, dict)  # {"type": "function_call_output", "call_id", …}
                outputs[raw["call_id"]] = flatten_tool_output(raw["output"])
    finally:
        result.cancel()
    return outputs, str(result.final_output)


def test_agent_run_tool_results_errors_and_timeout_go_back_to_the_model(
    mcp_server: FakeMcpServer,
) -> None:
    model = ScriptedModel(
        [
            [function_call("add", {"a": 2, "b": 3}, call_id="c-add")],
            [function_call("add", {"a": 2}, call_id="c-bad")],
            [function_call("fail", {}, call_id="c-fail")],
            [function_call("hang", {"seconds": 30}, call_id="c-hang")],
            [assistant_message("done")],
        ]
    )

    async def main() -> tuple[dict[str, str], str, float]:
        async with quick([McpServerConfig("files", mcp_server.url)], tool_timeout=1.0) as servers:
            agent: Agent[Any] = Agent(
                name="a",
                model=model,
                mcp_servers=servers.servers_for("files/add,files/fail,files/hang"),
            )
            started = time.monotonic()
            outputs, final = await run_agent(agent)
            return outputs, final, time.monotonic() - started

    outputs, final, elapsed = run(main)
    assert final == "done"
    assert outputs["c-add"] == "5"
    assert outputs["c-bad"].startswith("Error: the tool add failed: ")
    assert "missing required parameters: b" in outputs["c-bad"]
    # The tool's error, as the tool's output: the run went on.
    assert FAIL_MESSAGE in outputs["c-fail"]
    assert (
        outputs["c-hang"] == "Error: the tool hang did not answer within 1 seconds and was stopped."
    )
    assert elapsed < 8
    # The server was told: the hanging call was cancelled there.
    deadline = time.monotonic() + 3
    while "hang" not in mcp_server.cancelled and time.monotonic() < deadline:
        time.sleep(0.02)
    assert mcp_server.cancelled == ["hang"]
    # The model saw each result in its next call, and was offered the narrowed tools only.
    assert [sorted(t.name for t in call.tools) for call in model.calls] == [
        ["add", "fail", "hang"]
    ] * 5
    last_input = model.calls[-1].input
    assert isinstance(last_input, list)
    seen = {
        item["call_id"]: flatten_tool_output(item["output"])
        for item in last_input
        if isinstance(item, dict) and item.get("type") == "function_call_output"
    }
    assert seen == outputs
    # Five model calls, each listing the tools: all from the cache.
    assert mcp_server.list_tools_calls == 1


def test_agent_run_fails_with_tool_unavailable_when_the_server_is_lost(
    mcp_server: FakeMcpServer,
) -> None:
    model = ScriptedModel(
        [
            [function_call("add", {"a": 2, "b": 3}, call_id="c-1")],
            [assistant_message("never")],
        ]
    )

    async def main() -> None:
        async with quick([McpServerConfig("files", mcp_server.url)]) as servers:
            agent: Agent[Any] = Agent(name="a", model=model, mcp_servers=servers.servers_for(None))
            mcp_server.stop()
            with pytest.raises(ToolUnavailable) as caught:
                await run_agent(agent)
            assert caught.value.reason == "TOOL_UNAVAILABLE"
            assert "'files'" in caught.value.message

    run(main)
    assert len(model.calls) == 1  # the turn ended at the failed call


def test_cancelled_turn_cancels_the_running_tool(mcp_server: FakeMcpServer) -> None:
    model = ScriptedModel([[function_call("hang", {"seconds": 30}, call_id="c-1")]])

    async def main() -> None:
        async with quick([McpServerConfig("files", mcp_server.url)], tool_timeout=20) as servers:
            agent: Agent[Any] = Agent(name="a", model=model, mcp_servers=servers.servers_for(None))
            consumer = asyncio.create_task(run_agent(agent))
            deadline = time.monotonic() + 5
            while not mcp_server.hanging.is_set():
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            consumer.cancel()
            with pytest.raises(asyncio.CancelledError):
                await consumer
            while "hang" not in mcp_server.cancelled:
                assert time.monotonic() < deadline + 3, "the tool kept running on the server"
                await asyncio.sleep(0.02)
            # The connection survives a cancelled call.
            (view,) = servers.servers_for(None)
            assert await call_text(view, "add", {"a": 1, "b": 1}) == "2"

    run(main)


def test_the_user_header_comes_from_a_tool_calls_meta_only() -> None:
    """The session's HTTP client copies `_meta`'s user into X-Agent-Sessions-User on a
    tools/call; other requests carry none, even one configured in the server's headers."""
    import httpx2
    from agent_sessions.agents.tools.user_header import USER_HEADER, copy_user_to_header

    def sent(body: dict[str, Any] | None, method: str = "POST") -> str | None:
        request = httpx2.Request(
            method, "http://h/mcp", json=body, headers={USER_HEADER: "configured"}
        )
        asyncio.run(copy_user_to_header(request))
        return request.headers.get(USER_HEADER)

    who = str(uuid.uuid4())
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
    assert sent({**call, "params": {"name": "t", "_meta": {"agent-sessions/user": who}}}) == who
    assert sent({**call, "params": {"name": "t"}}) is None
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
    assert sent({**listing, "params": {"_meta": {"agent-sessions/user": who}}}) is None
    assert sent({**call, "params": {"_meta": {"agent-sessions/user": "a\nb"}}}) is None
    assert sent(None, "GET") is None
