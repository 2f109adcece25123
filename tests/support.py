"""Helpers shared by the tests: tokens, stubs, free ports and error inspection."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
import jwt
from agentsessions.v1 import (
    message_service_pb2_grpc,
    session_service_pb2_grpc,
)
from google.rpc import error_details_pb2
from grpc_status import rpc_status

if TYPE_CHECKING:
    from agent_sessions.agents.tools.servers import ToolServers

SECRET = "test-secret-" + uuid.uuid4().hex + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def token(sub: str, *, secret: str = SECRET, ttl: int = 3600, **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {"sub": sub, "iat": now, "exp": now + ttl, **claims}
    return jwt.encode(body, secret, algorithm="HS256")


def bearer(sub: str, **kwargs: Any) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token(sub, **kwargs)}"),)


@dataclass
class Client:
    """Stubs bound to one user's token."""

    sessions: session_service_pb2_grpc.SessionServiceStub
    messages: message_service_pb2_grpc.MessageServiceStub
    metadata: tuple[tuple[str, str], ...]
    user: str

    def s(self, method: str, request: Any, **kwargs: Any) -> Any:
        return getattr(self.sessions, method)(request, metadata=self.metadata, timeout=20, **kwargs)

    def m(self, method: str, request: Any, **kwargs: Any) -> Any:
        return getattr(self.messages, method)(request, metadata=self.metadata, timeout=20, **kwargs)


def client(channel: grpc.Channel, user: str | None = None) -> Client:
    user = user or f"user-{uuid.uuid4().hex[:8]}"
    return Client(
        session_service_pb2_grpc.SessionServiceStub(channel),
        message_service_pb2_grpc.MessageServiceStub(channel),
        bearer(user),
        user,
    )


@dataclass
class Failure:
    """What a failed call said: code, message, ErrorInfo reason and BadRequest fields."""

    code: grpc.StatusCode
    message: str
    reason: str | None
    fields: list[str]


def failure(call: Any) -> Failure:
    """Runs `call` and returns how it failed; the test fails if it succeeded."""
    try:
        call()
    except grpc.RpcError as exc:
        return failure_of(exc)
    raise AssertionError("the call succeeded but was expected to fail")


def failure_of(exc: grpc.RpcError) -> Failure:
    reason = None
    fields: list[str] = []
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason = info.reason
                assert info.domain == "agentsessions.v1"
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                fields += [v.field for v in bad.field_violations]
    return Failure(exc.code(), exc.details() or "", reason, fields)  # type: ignore[attr-defined]


def failed_stream(c: Client, request: Any, timeout: float = 20) -> tuple[list[Any], Failure]:
    """A Converse stream that must end in an error: the events it sent, and how it failed."""
    events: list[Any] = []
    try:
        for event in c.sessions.Converse(request, metadata=c.metadata, timeout=timeout):
            events.append(event)
    except grpc.RpcError as exc:
        return events, failure_of(exc)
    raise AssertionError(f"the stream ended without an error after {len(events)} events")


def openai_settings(settings: Any, base_url: str, key: str, model: str, **more: Any) -> Any:
    """`settings` with the service's OpenAI agent on a (fake) model API at `base_url`: no
    retries, so a scripted failure is the turn's failure, and a 10 s model timeout."""
    return dataclasses.replace(
        settings,
        agent="openai",
        model_base_url=base_url,
        model_api_key=key,
        model=model,
        model_max_retries=0,
        model_timeout=10.0,
        **more,
    )


class ThreadServer:
    """A real grpc.aio server run in a background thread, for tests that choose its agent."""

    def __init__(self, settings: Any, agent: Any = None) -> None:
        self.settings = settings
        self.agent = agent
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._running: Any = None

    def __enter__(self) -> ThreadServer:
        from agent_sessions.api.server import start

        self._thread.start()
        future: Future[Any] = asyncio.run_coroutine_threadsafe(
            start(self.settings, self.agent), self._loop
        )
        self._running = future.result(30)
        self.port = self._running.port
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._running.stop(0.5), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@contextmanager
def channel_to(port: int) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel


def tool_server_status(servers: ToolServers) -> dict[str, str]:
    """Each MCP server's state: `connected` or `unavailable`."""
    return {
        name: "connected" if servers.connected(name) else "unavailable" for name in servers.names
    }


async def wait_connected(servers: ToolServers, name: str, within: float) -> bool:
    """Waits (polling) until the MCP server `name` is connected; whether it is within `within`
    seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not servers.connected(name):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True
