"""A real grpc.aio server with scripted answers, for what the live service cannot be made to do
on demand: answer UNAVAILABLE a given number of times, answer slowly, or fail mid-stream."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio
from agentsessions.v1 import (
    message_service_pb2,
    message_service_pb2_grpc,
    resources_pb2,
    session_service_pb2,
    session_service_pb2_grpc,
)
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_status import rpc_status

if TYPE_CHECKING:  # generic only in grpc-stubs, not at run time
    Context = grpc.aio.ServicerContext[Any, Any]


def unavailable(reason: str) -> status_pb2.Status:
    """An UNAVAILABLE status with an ErrorInfo, as the real service sends it."""
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="agentsessions.v1"))
    return status_pb2.Status(
        code=grpc.StatusCode.UNAVAILABLE.value[0], message=f"scripted {reason}", details=[info]
    )


class FakeServer:
    """Serves scripted SessionService and MessageService calls on a free port, in its own thread.

    `failures[method]` calls of `method` answer UNAVAILABLE before it succeeds; every call first
    waits `delay` seconds. `calls` counts the calls per method, `tokens` keeps each call's
    authorization header and `request_ids` each write's (method, request id). Converse always
    fails after one delta, with an `error` event. Unscripted methods answer UNIMPLEMENTED.
    """

    def __init__(self) -> None:
        self.port = 0
        self.failures: dict[str, int] = {}
        self.delay = 0.0
        self.calls: Counter[str] = Counter()
        self.tokens: list[str | None] = []
        self.request_ids: list[tuple[str, str]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: grpc.aio.Server | None = None

    def __enter__(self) -> FakeServer:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        asyncio.run_coroutine_threadsafe(self._server.stop(0), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> int:
        self._server = grpc.aio.server()
        add_sessions = session_service_pb2_grpc.add_SessionServiceServicer_to_server
        add_messages = message_service_pb2_grpc.add_MessageServiceServicer_to_server
        add_sessions(_Sessions(self), self._server)  # type: ignore[no-untyped-call]
        add_messages(_Messages(self), self._server)  # type: ignore[no-untyped-call]
        # Envoy health-checks its upstreams and routes only to a SERVING one, like the real server.
        health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        await health.set("", health_pb2.HealthCheckResponse.SERVING)
        return port

    async def answer(self, method: str, request: Any, context: Context) -> None:
        """Records the call, waits, and aborts it with UNAVAILABLE while failures remain."""
        self.calls[method] += 1
        metadata = dict(context.invocation_metadata() or ())
        self.tokens.append(metadata.get("authorization"))
        if "request_id" in request.DESCRIPTOR.fields_by_name:
            self.request_ids.append((method, request.request_id))
        await asyncio.sleep(self.delay)
        if self.failures.get(method, 0) > 0:
            self.failures[method] -= 1
            reason = "AGENT_FAILED" if method == "Conversation" else "UNAVAILABLE"
            status = rpc_status.to_status(unavailable(reason))
            await context.abort_with_status(status)  # type: ignore[attr-defined]  # not in grpc-stubs


def _session(session_id: str) -> resources_pb2.Session:
    return resources_pb2.Session(id=session_id, session_id=session_id, is_active=True)


class _Sessions(session_service_pb2_grpc.SessionServiceServicer):
    def __init__(self, fake: FakeServer) -> None:
        self.fake = fake

    async def GetSession(self, request: Any, context: Context) -> resources_pb2.Session:
        await self.fake.answer("GetSession", request, context)
        return _session(request.session_id)

    async def CreateSession(self, request: Any, context: Context) -> resources_pb2.Session:
        await self.fake.answer("CreateSession", request, context)
        return _session(request.session_id)

    async def UpdateSession(self, request: Any, context: Context) -> resources_pb2.Session:
        await self.fake.answer("UpdateSession", request, context)
        return _session(request.session_id)

    async def ListSessions(
        self, request: Any, context: Context
    ) -> session_service_pb2.ListSessionsResponse:
        """Two pages: `a`, `b`, then `c`."""
        await self.fake.answer("ListSessions", request, context)
        if request.page_token == "":
            return session_service_pb2.ListSessionsResponse(
                sessions=[_session("a"), _session("b")], next_page_token="page-2", total_size=3
            )
        return session_service_pb2.ListSessionsResponse(sessions=[_session("c")], total_size=3)

    async def Conversation(
        self, request: Any, context: Context
    ) -> session_service_pb2.ConversationResponse:
        await self.fake.answer("Conversation", request, context)
        return session_service_pb2.ConversationResponse(session_id=request.session_id)

    async def Converse(
        self, request: Any, context: Context
    ) -> AsyncIterator[session_service_pb2.ConverseEvent]:
        await self.fake.answer("Converse", request, context)
        yield session_service_pb2.ConverseEvent(
            seq=1,
            started=session_service_pb2.ConverseStarted(session_id=request.session_id),
        )
        yield session_service_pb2.ConverseEvent(
            seq=2, delta=session_service_pb2.ConverseDelta(text="Hel")
        )
        failure = unavailable("AGENT_FAILED")
        yield session_service_pb2.ConverseEvent(seq=3, error=failure)
        status = rpc_status.to_status(failure)
        await context.abort_with_status(status)  # type: ignore[attr-defined]  # not in grpc-stubs


class _Messages(message_service_pb2_grpc.MessageServiceServicer):
    def __init__(self, fake: FakeServer) -> None:
        self.fake = fake

    async def CreateMessage(self, request: Any, context: Context) -> resources_pb2.Message:
        await self.fake.answer("CreateMessage", request, context)
        return resources_pb2.Message(id="m", session_id=request.session_id, role=request.role)

    async def ClearMessages(
        self, request: Any, context: Context
    ) -> message_service_pb2.ClearMessagesResponse:
        await self.fake.answer("ClearMessages", request, context)
        return message_service_pb2.ClearMessagesResponse(deleted_count=7)
