"""agentsessions.v1.SessionService."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import grpc
from agentsessions.v1 import resources_pb2 as res_pb
from agentsessions.v1 import session_service_pb2 as ses_pb
from agentsessions.v1 import session_service_pb2_grpc as ses_grpc
from google.protobuf import empty_pb2
from google.rpc import error_details_pb2

from agent_sessions import validation as v
from agent_sessions.api import convert as c
from agent_sessions.api.guard import current_owner
from agent_sessions.api.turn_events import CODEC, session_event, turn_proto
from agent_sessions.domain import SESSION_TEXT_FIELDS, Retention
from agent_sessions.errors import DomainError, InvalidArgument, RecordedError
from agent_sessions.services import SessionService
from agent_sessions.services.live import LiveTurns

Context = grpc.aio.ServicerContext[Any, Any]
UPDATABLE_FIELDS = (*SESSION_TEXT_FIELDS, "is_active")


class SessionServicer(ses_grpc.SessionServiceServicer):
    """agentsessions.v1.SessionService."""

    def __init__(self, sessions: SessionService, live: LiveTurns) -> None:
        self.sessions = sessions
        self.live = live

    async def ListSessions(
        self, request: ses_pb.ListSessionsRequest, context: Context
    ) -> ses_pb.ListSessionsResponse:
        page = await self.sessions.list(
            current_owner(),
            page_size=request.page_size,
            page_token=request.page_token,
            is_active=c.optional(request, "is_active"),
            agent_name=c.optional(request, "agent_name"),
            labels=list(request.label),
        )
        return c.session_page(page.items, page.next_page_token, page.total_size)

    async def CreateSession(
        self, request: ses_pb.CreateSessionRequest, context: Context
    ) -> res_pb.Session:
        session = await self.sessions.create(
            current_owner(),
            request.session_id,
            c.session_fields(request),
            c.optional(request, "is_active"),
            c.guard(request, context),
            labels=dict(request.labels),
            retention=Retention(c.time_of(request, "expire_time"), c.optional(request, "ttl")),
        )
        return c.session_proto(session)

    async def GetSession(
        self, request: ses_pb.GetSessionRequest, context: Context
    ) -> res_pb.Session:
        return c.session_proto(await self.sessions.get(current_owner(), request.session_id))

    async def UpdateSession(
        self, request: ses_pb.UpdateSessionRequest, context: Context
    ) -> res_pb.Session:
        changes = c.present(request, UPDATABLE_FIELDS)
        if request.HasField("labels"):
            changes["labels"] = c.struct_labels(request)
        if request.HasField("expire_time"):
            changes["expire_time"] = c.time_of(request, "expire_time")
        session = await self.sessions.update(
            current_owner(), request.session_id, changes, c.guard(request, context)
        )
        return c.session_proto(session)

    async def DeleteSession(
        self, request: ses_pb.DeleteSessionRequest, context: Context
    ) -> empty_pb2.Empty:
        await self.sessions.delete(current_owner(), request.session_id, c.guard(request, context))
        return empty_pb2.Empty()

    async def ActivateSession(
        self, request: ses_pb.ActivateSessionRequest, context: Context
    ) -> res_pb.Session:
        session = await self.sessions.set_active(
            current_owner(), request.session_id, True, c.guard(request, context)
        )
        return c.session_proto(session)

    async def DeactivateSession(
        self, request: ses_pb.DeactivateSessionRequest, context: Context
    ) -> res_pb.Session:
        session = await self.sessions.set_active(
            current_owner(), request.session_id, False, c.guard(request, context)
        )
        return c.session_proto(session)

    async def ForkSession(
        self, request: ses_pb.ForkSessionRequest, context: Context
    ) -> res_pb.Session:
        session = await self.sessions.fork(
            current_owner(),
            request.session_id,
            new_session_id=request.new_session_id,
            up_to_message_id=request.up_to_message_id,
            session_name=c.optional(request, "session_name"),
            guard=c.guard(request, context),
        )
        return c.session_proto(session)

    async def RewindSession(
        self, request: ses_pb.RewindSessionRequest, context: Context
    ) -> res_pb.Session:
        session = await self.sessions.rewind(
            current_owner(),
            request.session_id,
            request.after_message_id,
            c.guard(request, context),
        )
        return c.session_proto(session)

    async def Conversation(
        self, request: ses_pb.ConversationRequest, context: Context
    ) -> ses_pb.ConversationResponse:
        """The turn's outcome in one answer."""
        result = await self.live.conversation(
            current_owner(), c.turn_request(request, context), CODEC
        )
        return c.conversation_response(result)

    async def Converse(
        self, request: ses_pb.ConverseRequest, context: Context
    ) -> AsyncIterator[ses_pb.ConverseEvent]:
        """The turn's events as ConverseEvents. Failures before `started` end the call with a
        plain status (an HTTP error through Envoy); later ones are an `error` event (REST
        clients see only the body once the 200 is out) and then the same status."""
        async with aclosing(
            self.live.converse(current_owner(), c.turn_request(request, context), CODEC)
        ) as events:
            async for event in events:
                yield event
                if event.WhichOneof("event") == "error":
                    raise recorded_error_of(event.error)

    async def GetTurn(self, request: ses_pb.GetTurnRequest, context: Context) -> ses_pb.Turn:
        turn = await self.live.get(
            current_owner(),
            v.session_id(request.session_id),
            v.uuid_value("turn_id", request.turn_id),
        )
        return turn_proto(turn)

    async def CancelTurn(self, request: ses_pb.CancelTurnRequest, context: Context) -> ses_pb.Turn:
        turn = await self.live.cancel(
            current_owner(),
            v.session_id(request.session_id),
            v.uuid_value("turn_id", request.turn_id),
        )
        return turn_proto(turn)

    async def ResumeTurn(
        self, request: ses_pb.ResumeTurnRequest, context: Context
    ) -> AsyncIterator[ses_pb.ConverseEvent]:
        """The turn's events after `after_seq`, then its live ones; its `error` event, if it
        failed, is the stream's last (the call itself ends OK: it told the turn's end)."""
        if request.after_seq < 0:
            raise InvalidArgument("after_seq", "must not be negative")
        async with aclosing(
            self.live.resume(
                current_owner(),
                v.session_id(request.session_id),
                v.uuid_value("turn_id", request.turn_id),
                request.after_seq,
                CODEC,
            )
        ) as events:
            async for event in events:
                yield event

    async def WatchSession(
        self, request: ses_pb.WatchSessionRequest, context: Context
    ) -> AsyncIterator[ses_pb.SessionEvent]:
        after = c.optional(request, "after_seq")
        if after is not None and after < 0:
            raise InvalidArgument("after_seq", "must not be negative")
        async with aclosing(
            self.live.watch(current_owner(), v.session_id(request.session_id), after, CODEC)
        ) as events:
            async for event in events:
                if event.kind == "ready":
                    # The session is there and followed: the headers go out now (a browser's
                    # EventSource fires `open` on them), not with the first change, which may
                    # be a heartbeat 15 s away.
                    await context.send_initial_metadata(())
                    continue
                yield session_event(event, request.session_id)
                if event.error is not None:  # told in the body for REST, then as the status
                    raise event.error


def recorded_error_of(status: Any) -> DomainError:
    """The status an `error` event told, as the error that ends the call with it."""
    reason = "INTERNAL"
    metadata: dict[str, str] = {}
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            reason = info.reason
            metadata = dict(info.metadata)
    code = grpc.StatusCode(_CODES[status.code]).name if status.code in _CODES else "INTERNAL"
    return RecordedError(code, status.message, reason=reason, metadata=metadata)


_CODES = {code.value[0]: code.value for code in grpc.StatusCode}
