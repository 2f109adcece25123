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

from agent_sessions.api import convert as c
from agent_sessions.api.guard import current_owner
from agent_sessions.api.status import domain_error_of, status_of
from agent_sessions.domain import (
    SESSION_TEXT_FIELDS,
    Retention,
    TextDelta,
    ToolCall,
    ToolResult,
    TurnCompleted,
    TurnFailed,
    TurnResult,
    TurnStarted,
    TurnStored,
)
from agent_sessions.metrics import TURNS
from agent_sessions.services import SessionService, TurnService

Context = grpc.aio.ServicerContext[Any, Any]
UPDATABLE_FIELDS = (*SESSION_TEXT_FIELDS, "is_active")
TURNS_COMPLETED = TURNS.labels("completed")
TURNS_FAILED = TURNS.labels("failed")


class SessionServicer(ses_grpc.SessionServiceServicer):
    """agentsessions.v1.SessionService."""

    def __init__(self, sessions: SessionService, turns: TurnService) -> None:
        self.sessions = sessions
        self.turns = turns

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
        """The turn's events folded into one answer."""
        result: TurnResult | None = None
        async with aclosing(
            self.turns.run(current_owner(), c.turn_request(request, context))
        ) as events:
            async for event in events:
                if isinstance(event, TurnFailed):
                    TURNS_FAILED.inc()
                    raise event.error
                if isinstance(event, TurnCompleted):
                    TURNS_COMPLETED.inc()
                    result = event.result
        if result is None:  # the turn service always ends in TurnCompleted or TurnFailed
            raise RuntimeError("the turn ended without an outcome")
        return c.conversation_response(result)

    async def Converse(
        self, request: ses_pb.ConverseRequest, context: Context
    ) -> AsyncIterator[ses_pb.ConverseEvent]:
        """The turn's events as ConverseEvents. Failures before `started` end the call with a
        plain status (an HTTP error through Envoy); later ones are an `error` event too."""
        seq = 0

        def event(**kwargs: Any) -> ses_pb.ConverseEvent:
            nonlocal seq
            seq += 1
            return ses_pb.ConverseEvent(seq=seq, **kwargs)

        session_id = ""
        async with aclosing(
            self.turns.run(current_owner(), c.turn_request(request, context))
        ) as events:
            async for item in events:
                if isinstance(item, TextDelta):
                    yield event(delta=ses_pb.ConverseDelta(text=item.text))
                elif isinstance(item, TurnStarted):
                    session_id = item.session_id
                    yield event(
                        started=ses_pb.ConverseStarted(
                            session_id=item.session_id, session_uuid=str(item.session_uuid)
                        )
                    )
                elif isinstance(item, TurnStored):
                    for message in item.messages:
                        yield event(message=c.message_proto(message, session_id))
                elif isinstance(item, TurnCompleted):
                    TURNS_COMPLETED.inc()
                    yield event(completed=c.conversation_response(item.result))
                elif isinstance(item, TurnFailed):
                    TURNS_FAILED.inc()
                    # The 200 is out: REST clients only see what is in the body, so say it
                    # there too; the interceptor then ends the call with the same status.
                    error = domain_error_of(item.error)
                    yield event(error=status_of(error))
                    raise error
                elif isinstance(item, ToolCall):
                    yield event(
                        tool_call=ses_pb.ToolCall(
                            tool_call_id=item.tool_call_id, name=item.name, arguments=item.arguments
                        )
                    )
                elif isinstance(item, ToolResult):
                    yield event(
                        tool_result=ses_pb.ToolResult(
                            tool_call_id=item.tool_call_id, name=item.name, output=item.output
                        )
                    )
