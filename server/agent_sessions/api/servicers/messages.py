"""agentsessions.v1.MessageService."""

from __future__ import annotations

from typing import Any

import grpc
from agentsessions.v1 import message_service_pb2 as msg_pb
from agentsessions.v1 import message_service_pb2_grpc as msg_grpc
from agentsessions.v1 import resources_pb2 as res_pb
from google.protobuf import empty_pb2

from agent_sessions.api import convert as c
from agent_sessions.api.guard import current_owner
from agent_sessions.domain import NewSessionRow, Retention
from agent_sessions.services import MessageService

Context = grpc.aio.ServicerContext[Any, Any]
UPDATABLE_FIELDS = ("content", "tool_call_id", "tool_name", "extra_data")


class MessageServicer(msg_grpc.MessageServiceServicer):
    """agentsessions.v1.MessageService."""

    def __init__(self, messages: MessageService) -> None:
        self.messages = messages

    async def ListMessages(
        self, request: msg_pb.ListMessagesRequest, context: Context
    ) -> msg_pb.ListMessagesResponse:
        session_id = request.session_id
        page = await self.messages.list(
            current_owner(),
            session_id,
            page_size=request.page_size,
            page_token=request.page_token,
            order=request.order,
        )
        return c.message_page(page.items, session_id, page.next_page_token, page.total_size)

    async def CreateMessage(
        self, request: msg_pb.CreateMessageRequest, context: Context
    ) -> res_pb.Message:
        message = await self.messages.create(
            current_owner(),
            request.session_id,
            c.role_name(request.role),
            request.content,
            request.tool_call_id,
            request.tool_name,
            c.optional(request, "extra_data"),
            c.guard(request, context),
        )
        return c.message_proto(message, request.session_id)

    async def BatchCreateMessages(
        self, request: msg_pb.BatchCreateMessagesRequest, context: Context
    ) -> msg_pb.BatchCreateMessagesResponse:
        create = None
        if request.HasField("create_session"):
            new = request.create_session
            is_active = c.optional(new, "is_active")
            create = NewSessionRow(
                c.session_fields(new),
                True if is_active is None else is_active,
                dict(new.labels),
                Retention(c.time_of(new, "expire_time"), c.optional(new, "ttl")),
            )
        stored = await self.messages.create_batch(
            current_owner(),
            request.session_id,
            [c.new_message(m) for m in request.messages],
            create,
            c.guard(request, context),
        )
        return c.message_batch(stored, request.session_id)

    async def GetMessage(
        self, request: msg_pb.GetMessageRequest, context: Context
    ) -> res_pb.Message:
        message = await self.messages.get(current_owner(), request.session_id, request.message_id)
        return c.message_proto(message, request.session_id)

    async def UpdateMessage(
        self, request: msg_pb.UpdateMessageRequest, context: Context
    ) -> res_pb.Message:
        message = await self.messages.update(
            current_owner(),
            request.session_id,
            request.message_id,
            c.present(request, UPDATABLE_FIELDS),
            c.guard(request, context),
        )
        return c.message_proto(message, request.session_id)

    async def DeleteMessage(
        self, request: msg_pb.DeleteMessageRequest, context: Context
    ) -> empty_pb2.Empty:
        await self.messages.delete(
            current_owner(), request.session_id, request.message_id, c.guard(request, context)
        )
        return empty_pb2.Empty()

    async def ClearMessages(
        self, request: msg_pb.ClearMessagesRequest, context: Context
    ) -> msg_pb.ClearMessagesResponse:
        deleted = await self.messages.clear(
            current_owner(), request.session_id, c.guard(request, context)
        )
        return msg_pb.ClearMessagesResponse(deleted_count=deleted)
