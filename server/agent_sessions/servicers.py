"""Thin gRPC servicers: translate protos to domain calls and rows back to protos."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from agentsessions.v1 import (
    message_service_pb2 as msg_pb,
)
from agentsessions.v1 import (
    message_service_pb2_grpc as msg_grpc,
)
from agentsessions.v1 import (
    resources_pb2 as res_pb,
)
from agentsessions.v1 import (
    session_service_pb2 as ses_pb,
)
from agentsessions.v1 import (
    session_service_pb2_grpc as ses_grpc,
)
from google.protobuf import empty_pb2, timestamp_pb2

from agent_sessions import validation as v
from agent_sessions.conversation import Conversations, TurnRequest
from agent_sessions.db.repository import NewMessage, Owner, Pool, Row
from agent_sessions.errors import InvalidArgument
from agent_sessions.interceptors import current_caller, domain_error_of, status_of
from agent_sessions.pagination import PageTokens

Context = grpc.aio.ServicerContext[Any, Any]
ROLE_NUMBER = {name: i + 1 for i, name in enumerate(v.ROLES)}
SESSION_TEXT_FIELDS = ("session_name", "description", "agent_name", "agent_instructions")
MESSAGE_TEXT_FIELDS = ("tool_call_id", "tool_name")


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """A Timestamp whose JSON always shows exactly six fractional digits.

    Protobuf's JSON printer drops trailing zero groups (`.120Z`, or no fraction at all), while
    the contract promises microseconds; a time whose microseconds end in 000 is shown 1 µs later
    (the stored value is unchanged, and order is kept). Built from integers: Timestamp's own
    FromDatetime is pure Python and showed up in list profiles.
    """
    micros = (value - EPOCH) // MICROSECOND
    if micros % 1000 == 0:
        micros += 1
    seconds, micros = divmod(micros, 1_000_000)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=micros * 1000)


def _present_values(row: Row, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: row[name] for name in names if row[name] is not None}


def session_proto(row: Row) -> res_pb.Session:
    """A sessions row as the API's Session."""
    return res_pb.Session(
        id=str(row["id"]),
        session_id=row["session_id"],
        is_active=row["is_active"],
        user_id=str(row["user_id"]),
        created_at=timestamp(row["created_at"]),
        updated_at=timestamp(row["updated_at"]),
        **_present_values(row, SESSION_TEXT_FIELDS),
    )


MESSAGE_OPTIONAL_FIELDS = ("tool_call_id", "tool_name", "extra_data")


def message_proto(row: Row, session_id: str) -> res_pb.Message:
    """A messages row as the API's Message."""
    created_at = timestamp(row["created_at"])
    updated_at = (
        created_at if row["updated_at"] == row["created_at"] else timestamp(row["updated_at"])
    )
    return res_pb.Message(
        id=str(row["id"]),
        session_id=session_id,
        session_uuid=str(row["session_uuid"]),
        role=ROLE_NUMBER[row["role"]],  # type: ignore[arg-type]
        content=row["content"],
        created_at=created_at,
        updated_at=updated_at,
        **_present_values(row, MESSAGE_OPTIONAL_FIELDS),
    )


# The most text one page carries. Beyond it a page holds fewer rows than page_size (and a
# next_page_token): gRPC clients refuse answers over 4 MiB by default, and Envoy must buffer a
# whole answer to transcode it. Only pages of very large messages ever reach it.
PAGE_TEXT_BUDGET = 3 * 1024 * 1024
TEXT_COLUMNS = (*SESSION_TEXT_FIELDS, "content", "tool_call_id", "tool_name", "extra_data")


def _fitting(rows: Sequence[Row], limit: int) -> int:
    """How many of the first `limit` rows fit in one page (always at least one)."""
    used = 0
    for count, row in enumerate(rows[:limit]):
        for name in TEXT_COLUMNS:
            value = row.get(name)
            if value:
                # Short text: its worst-case UTF-8 size; long text: its exact size.
                used += len(value) * 4 if len(value) < 256 else len(value.encode())
        if used > PAGE_TEXT_BUDGET and count > 0:
            return count
    return min(len(rows), limit)


def _present(request: Any, name: str) -> bool:
    return bool(request.HasField(name))


def _new_message(field: str, m: Any) -> NewMessage:
    """Validates one incoming message (CreateMessageRequest or ConversationMessage)."""
    return NewMessage(
        role=v.role(f"{field}role", m.role),
        content=v.text(f"{field}content", m.content),
        tool_call_id=v.optional_text(f"{field}tool_call_id", m.tool_call_id),
        tool_name=v.optional_text(f"{field}tool_name", m.tool_name),
        extra_data=v.json_text(
            f"{field}extra_data", m.extra_data if m.HasField("extra_data") else None
        ),
    )


def _scope(*parts: object) -> str:
    """A page token's scope: which list, for whom, with which filters (hashed, fixed size)."""
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:24]


class Services:
    """What the servicers share: the connection pool, page tokens and the conversation runner."""

    def __init__(self, pool: Pool, tokens: PageTokens, conversations: Conversations):
        self.pool = pool
        self.tokens = tokens
        self.conversations = conversations

    def owner(self) -> Owner:
        caller = current_caller()
        return Owner(self.pool, caller.user_id, caller.subject)


class SessionServicer(ses_grpc.SessionServiceServicer):
    """agentsessions.v1.SessionService."""

    def __init__(self, services: Services) -> None:
        self.s = services

    async def ListSessions(
        self, request: ses_pb.ListSessionsRequest, context: Context
    ) -> ses_pb.ListSessionsResponse:
        limit = v.page_size(request.page_size)
        is_active = request.is_active if _present(request, "is_active") else None
        agent_name = (
            v.text("agent_name", request.agent_name) if _present(request, "agent_name") else None
        )
        owner = self.s.owner()
        scope = _scope("sessions", owner.user_id, is_active, agent_name)
        position = self.s.tokens.read(scope, request.page_token)
        after = None
        if position is not None:
            after = (datetime.fromisoformat(position[0]), uuid.UUID(position[1]))
        rows, total = await owner.list_sessions(
            is_active=is_active, agent_name=agent_name, limit=limit, after=after
        )
        shown = _fitting(rows, limit)
        response = ses_pb.ListSessionsResponse(
            sessions=[session_proto(r) for r in rows[:shown]],
            total_size=total,
        )
        if len(rows) > shown:
            last = rows[shown - 1]
            response.next_page_token = self.s.tokens.issue(
                scope, [last["created_at"].isoformat(), str(last["id"])]
            )
        return response

    async def CreateSession(self, request: ses_pb.CreateSessionRequest, context: Context) -> Any:
        session_id = v.session_id(request.session_id) if request.session_id else str(uuid.uuid4())
        fields: dict[str, Any] = {
            name: v.optional_text(name, getattr(request, name)) for name in SESSION_TEXT_FIELDS
        }
        fields["is_active"] = request.is_active if _present(request, "is_active") else True
        row = await self.s.owner().create_session(session_id, fields)
        return session_proto(row)

    async def GetSession(self, request: ses_pb.GetSessionRequest, context: Context) -> Any:
        return session_proto(await self.s.owner().get_session(v.session_id(request.session_id)))

    async def UpdateSession(self, request: ses_pb.UpdateSessionRequest, context: Context) -> Any:
        session_id = v.session_id(request.session_id)
        changes: dict[str, Any] = {
            name: v.optional_text(name, getattr(request, name))
            for name in SESSION_TEXT_FIELDS
            if _present(request, name)
        }
        if _present(request, "is_active"):
            changes["is_active"] = request.is_active
        return session_proto(await self.s.owner().update_session(session_id, changes))

    async def DeleteSession(self, request: ses_pb.DeleteSessionRequest, context: Context) -> Any:
        await self.s.owner().delete_session(v.session_id(request.session_id))
        return empty_pb2.Empty()

    async def ActivateSession(
        self, request: ses_pb.ActivateSessionRequest, context: Context
    ) -> Any:
        owner = self.s.owner()
        row = await owner.update_session(v.session_id(request.session_id), {"is_active": True})
        return session_proto(row)

    async def DeactivateSession(
        self, request: ses_pb.DeactivateSessionRequest, context: Context
    ) -> Any:
        owner = self.s.owner()
        row = await owner.update_session(v.session_id(request.session_id), {"is_active": False})
        return session_proto(row)

    @staticmethod
    def _turn_request(request: Any) -> TurnRequest:
        if not request.messages:
            raise InvalidArgument("messages", "must hold at least one message")
        if len(request.messages) > v.MAX_TURN_MESSAGES:
            raise InvalidArgument("messages", f"must hold at most {v.MAX_TURN_MESSAGES} messages")
        messages = [_new_message(f"messages[{i}].", m) for i, m in enumerate(request.messages)]
        return TurnRequest(
            messages=messages,
            session_id=v.session_id(request.session_id) if request.session_id else "",
            new_session_fields={
                name: v.optional_text(name, getattr(request, name))
                for name in ("session_name", "agent_name", "agent_instructions")
            },
        )

    async def Conversation(
        self, request: ses_pb.ConversationRequest, context: Context
    ) -> ses_pb.ConversationResponse:
        owner = self.s.owner()
        turn = await self.s.conversations.prepare(owner, self._turn_request(request))
        response = "".join([piece async for piece in self.s.conversations.reply(turn)])
        stored = await self.s.conversations.store(owner, turn, response)
        return ses_pb.ConversationResponse(
            session_id=stored.session["session_id"],
            session_uuid=str(stored.session["id"]),
            response=response,
            messages_count=stored.messages_count,
            session_active=stored.session["is_active"],
        )

    async def Converse(
        self, request: ses_pb.ConverseRequest, context: Context
    ) -> AsyncIterator[ses_pb.ConverseEvent]:
        owner = self.s.owner()
        # Failures up to here end the call with a plain status (an HTTP error through Envoy).
        turn = await self.s.conversations.prepare(owner, self._turn_request(request))
        seq = 0

        def event(**kwargs: Any) -> ses_pb.ConverseEvent:
            nonlocal seq
            seq += 1
            return ses_pb.ConverseEvent(seq=seq, **kwargs)

        yield event(
            started=ses_pb.ConverseStarted(
                session_id=turn.session_id, session_uuid=str(turn.session_uuid)
            )
        )
        try:
            pieces: list[str] = []
            async for piece in self.s.conversations.reply(turn):
                pieces.append(piece)
                yield event(delta=ses_pb.ConverseDelta(text=piece))
            response = "".join(pieces)
            stored = await self.s.conversations.store(owner, turn, response)
        except Exception as exc:
            # The 200 is out: REST clients only see what is in the body, so say it there too;
            # the interceptor then ends the call with the same status for gRPC clients.
            error = domain_error_of(exc)
            yield event(error=status_of(error))
            raise error from None
        yield event(message=message_proto(stored.messages[-1], stored.session["session_id"]))
        yield event(
            completed=ses_pb.ConversationResponse(
                session_id=stored.session["session_id"],
                session_uuid=str(stored.session["id"]),
                response=response,
                messages_count=stored.messages_count,
                session_active=stored.session["is_active"],
            )
        )


class MessageServicer(msg_grpc.MessageServiceServicer):
    """agentsessions.v1.MessageService."""

    def __init__(self, services: Services) -> None:
        self.s = services

    async def ListMessages(
        self, request: msg_pb.ListMessagesRequest, context: Context
    ) -> msg_pb.ListMessagesResponse:
        session_id = v.session_id(request.session_id)
        limit = v.page_size(request.page_size)
        order = v.order(request.order)
        owner = self.s.owner()
        scope = _scope("messages", owner.user_id, session_id, order)
        position = self.s.tokens.read(scope, request.page_token)
        _, rows, total = await owner.list_messages(
            session_id,
            descending=order == "desc",
            limit=limit,
            after_seq=int(position[0]) if position is not None else None,
        )
        shown = _fitting(rows, limit)
        response = msg_pb.ListMessagesResponse(
            messages=[message_proto(r, session_id) for r in rows[:shown]],
            total_size=total,
        )
        if len(rows) > shown:
            response.next_page_token = self.s.tokens.issue(scope, [rows[shown - 1]["seq"]])
        return response

    async def CreateMessage(self, request: msg_pb.CreateMessageRequest, context: Context) -> Any:
        session_id = v.session_id(request.session_id)
        row = await self.s.owner().create_message(session_id, _new_message("", request))
        return message_proto(row, session_id)

    async def GetMessage(self, request: msg_pb.GetMessageRequest, context: Context) -> Any:
        session_id = v.session_id(request.session_id)
        message_id = v.uuid_value("message_id", request.message_id)
        return message_proto(await self.s.owner().get_message(session_id, message_id), session_id)

    async def UpdateMessage(self, request: msg_pb.UpdateMessageRequest, context: Context) -> Any:
        session_id = v.session_id(request.session_id)
        message_id = v.uuid_value("message_id", request.message_id)
        changes: dict[str, Any] = {}
        if _present(request, "content"):
            changes["content"] = v.text("content", request.content)
        for name in MESSAGE_TEXT_FIELDS:
            if _present(request, name):
                changes[name] = v.optional_text(name, getattr(request, name))
        if _present(request, "extra_data"):
            changes["extra_data"] = v.json_text("extra_data", request.extra_data)
        row = await self.s.owner().update_message(session_id, message_id, changes)
        return message_proto(row, session_id)

    async def DeleteMessage(self, request: msg_pb.DeleteMessageRequest, context: Context) -> Any:
        session_id = v.session_id(request.session_id)
        message_id = v.uuid_value("message_id", request.message_id)
        await self.s.owner().delete_message(session_id, message_id)
        return empty_pb2.Empty()

    async def ClearMessages(
        self, request: msg_pb.ClearMessagesRequest, context: Context
    ) -> msg_pb.ClearMessagesResponse:
        deleted = await self.s.owner().clear_messages(v.session_id(request.session_id))
        return msg_pb.ClearMessagesResponse(deleted_count=deleted)
