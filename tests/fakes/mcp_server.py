"""A real MCP server for tests: the `mcp` package's server on its streamable-HTTP transport,
served by uvicorn in a background thread on 127.0.0.1, with a few tools.

    with FakeMcpServer(token="s3cret") as mcp:
        url = mcp.url                      # http://127.0.0.1:<port>/mcp
        ...
        mcp.stop()                         # down: connections refused
        mcp.start()                        # up again, on the same port, a fresh server process state

Tools: `add(a, b)` → the sum; `fail()` → raises (the client gets an error result);
`hang(seconds)` → sleeps, and records in `cancelled` when the client went away or cancelled it;
`echo(text)` → the text.

`list_delay` (seconds, default 0) makes each `tools/list` answer that much later.

What it records, for assertions: `requests` (every HTTP request: method and JSON-RPC method),
`list_tools_calls`, `tool_calls` (tool names in order), `authorizations` (the Authorization
headers it saw), `tool_call_users()` (per tools/call: its X-Agent-Sessions-User header and the
user in its `_meta`), `rejected` (requests refused for a missing or wrong token), `cancelled`.
When `token` is set, a request without `Authorization: Bearer <token>` gets a 401.

`legacy=True` makes it a server of the 2025 protocol, as most deployed servers still are: it
answers `server/discover` with "method not found", so clients fall back to the `initialize`
handshake and an `Mcp-Session-Id` session, which a restart forgets (404, "session terminated").
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HOST = "127.0.0.1"
PATH = "/mcp"
FAIL_MESSAGE = "the fail tool always fails"


@dataclass(frozen=True)
class Request:
    """One HTTP request the server got: the HTTP method and, for a POST, the JSON-RPC method."""

    http_method: str
    rpc_method: str | None
    authorization: str | None
    # The X-Agent-Sessions-User header, and the user id the JSON-RPC params' `_meta` carried.
    user_header: str | None = None
    meta_user: str | None = None


class FakeMcpServer:
    """A real MCP server on a fixed port that a test can stop and start again.

    The port is chosen once (a free one, unless given) and kept across restarts, so a client
    configured with `url` sees the same server go down and come back.
    """

    def __init__(self, *, token: str | None = None, port: int = 0, legacy: bool = False) -> None:
        self.token = token
        self.legacy = legacy
        self.port = port or _free_port()
        self.requests: list[Request] = []
        self.tool_calls: list[str] = []
        self.cancelled: list[str] = []
        self.rejected = 0
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        # The serving thread's loop and its "stopping" event: open streams end when it is set.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        # Set by `hang` when it starts, so a test can wait for the call to be running.
        self.hanging = threading.Event()
        # Seconds each `tools/list` waits before it is answered (a slow server's listing).
        self.list_delay = 0.0

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{PATH}"

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> FakeMcpServer:
        """Serves on `port` (again); returns when the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the fake MCP server is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self.port))
        config = uvicorn.Config(
            _Recorder(self, self._app()),
            log_level="warning",
            lifespan="on",
            # Stop promptly: a test restarts the server and waits for it.
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        # Uvicorn installs signal handlers only on the main thread; none here.
        self._server = server
        thread = threading.Thread(
            target=self._serve, args=(server, sock), name=f"fake-mcp-{self.port}", daemon=True
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + 10
        while not (server.started and self._stopping is not None):
            if not thread.is_alive():
                self._thread = None
                raise RuntimeError(f"the fake MCP server did not start: {self.errors!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("the fake MCP server did not start within 10 s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stops serving and closes every connection; the port is free for `start()` again."""
        thread, server = self._thread, self._server
        if thread is None or server is None:
            return
        # First end the open streams (a legacy client's GET stream, a running call's answer)
        # as if the clients went away: uvicorn would wait for them, then cancel them noisily.
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            loop.call_soon_threadsafe(stopping.set)
        server.should_exit = True
        thread.join(timeout=10)
        if thread.is_alive():
            raise RuntimeError("the fake MCP server did not stop within 10 s")
        self._thread = None
        self._server = None
        self._loop = None
        self._stopping = None
        self.hanging.clear()

    def __enter__(self) -> FakeMcpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            await server.serve(sockets=[sock])

        try:
            asyncio.run(serve())
        except BaseException as exc:  # noqa: BLE001 - reported to the test through `errors`
            self.errors.append(exc)
        finally:
            sock.close()

    # -- what it recorded ----------------------------------------------------------------------

    @property
    def list_tools_calls(self) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.rpc_method == "tools/list")

    @property
    def authorizations(self) -> list[str | None]:
        with self._lock:
            return [r.authorization for r in self.requests]

    def tool_call_users(self) -> list[tuple[str | None, str | None]]:
        """Per tools/call, in order: its user header and its `_meta` user."""
        with self._lock:
            return [
                (r.user_header, r.meta_user) for r in self.requests if r.rpc_method == "tools/call"
            ]

    def rpc_methods(self) -> list[str]:
        with self._lock:
            return [r.rpc_method for r in self.requests if r.rpc_method]

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    # -- the MCP server ------------------------------------------------------------------------

    def _app(self) -> ASGIApp:
        """A fresh MCP server and app per start: a restart forgets every session, as a real
        server process that restarted would."""
        mcp = MCPServer("fake-tools", log_level="WARNING")
        fake = self

        @mcp.tool()
        def add(a: int, b: int) -> int:
            """Adds two integers."""
            fake.tool_calls.append("add")
            return a + b

        @mcp.tool()
        def fail() -> str:
            """Always fails."""
            fake.tool_calls.append("fail")
            # A ToolError's message reaches the client; any other exception is hidden behind
            # "Error executing tool fail" (and logged with its traceback).
            raise ToolError(FAIL_MESSAGE)

        @mcp.tool()
        async def hang(seconds: float) -> str:
            """Sleeps for `seconds`, then answers."""
            fake.tool_calls.append("hang")
            fake.hanging.set()
            try:
                await asyncio.sleep(seconds)
            except asyncio.CancelledError:
                fake.cancelled.append("hang")
                raise
            return f"slept {seconds:g} s"

        @mcp.tool()
        def echo(text: str) -> str:
            """Answers with the text it got."""
            fake.tool_calls.append("echo")
            return text

        @mcp.tool()
        async def learn(name: str, ctx: Context) -> str:
            """Adds a tool `name` (it answers with its name), then tells the client that the
            tool list changed (`notifications/tools/list_changed`)."""
            fake.tool_calls.append("learn")
            mcp.add_tool(lambda: f"I am {name}", name=name, description=f"Says it is {name}.")
            await ctx.session.send_tool_list_changed()
            return f"learned {name}"

        return mcp.streamable_http_app(streamable_http_path=PATH, host=HOST)


class _Recorder:
    """ASGI middleware: records each request (with its JSON-RPC method) and checks the token."""

    def __init__(self, fake: FakeMcpServer, app: ASGIApp) -> None:
        self._fake = fake
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        authorization = headers.get("authorization")
        body = b""
        messages: list[Message] = []
        if scope["method"] == "POST":
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
        rpc_method = _rpc_method(body)
        self._fake._record(
            Request(
                scope["method"],
                rpc_method,
                authorization,
                headers.get("x-agent-sessions-user"),
                _meta_user(body),
            )
        )
        token = self._fake.token
        if token is not None and authorization != f"Bearer {token}":
            self._fake.rejected += 1
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"error":"unauthorized"}'})
            return

        if rpc_method == "tools/list" and self._fake.list_delay > 0:
            await asyncio.sleep(self._fake.list_delay)
        if self._fake.legacy and rpc_method == "server/discover":
            answer = {
                "jsonrpc": "2.0",
                "id": _rpc_id(body),
                "error": {"code": -32601, "message": "Method not found"},
            }
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": json.dumps(answer).encode()})
            return

        replay = iter(messages)
        stopping = self._fake._stopping
        started = completed = False

        async def receive_again() -> Message:
            message = next(replay, None)
            if message is not None:
                return message
            if stopping is None:
                return await receive()
            # The app waits here to learn that the client went away; so it does when we stop.
            received = asyncio.ensure_future(receive())
            stopped = asyncio.ensure_future(stopping.wait())
            await asyncio.wait([received, stopped], return_when=asyncio.FIRST_COMPLETED)
            if received.done():
                stopped.cancel()
                return received.result()
            received.cancel()
            return {"type": "http.disconnect"}

        async def send_tracked(message: Message) -> None:
            nonlocal started, completed
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                completed = True
            await send(message)

        await self._app(scope, receive_again, send_tracked)
        if started and not completed:
            # A stream cut short by `stop()`: end it properly, so uvicorn closes it quietly.
            await send({"type": "http.response.body", "body": b"", "more_body": False})


def _payload(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _rpc_method(body: bytes) -> str | None:
    method = _payload(body).get("method")
    return method if isinstance(method, str) else None


def _meta_user(body: bytes) -> str | None:
    params = _payload(body).get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    user = meta.get("agent-sessions/user") if isinstance(meta, dict) else None
    return user if isinstance(user, str) else None


def _rpc_id(body: bytes) -> Any:
    return _payload(body).get("id")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def serving(**kwargs: Any) -> Iterator[FakeMcpServer]:
    """For a pytest fixture: a running fake, stopped afterwards; fails the test if it broke."""
    fake = FakeMcpServer(**kwargs)
    with fake:
        yield fake
    assert not fake.errors, f"the fake MCP server failed: {fake.errors!r}"
