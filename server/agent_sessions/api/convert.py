"""Protos to the domain's values and back."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from typing import Any

import grpc
from agentsessions.v1 import message_service_pb2 as msg_pb
from agentsessions.v1 import resources_pb2 as res_pb
from agentsessions.v1 import session_service_pb2 as ses_pb
from google.protobuf import json_format, timestamp_pb2

from agent_sessions import validation as v
from agent_sessions.domain import (
    ROLES,
    SESSION_TEXT_FIELDS,
    CallerTool,
    Guard,
    Message,
    NewMessage,
    RequestKey,
    Session,
    SessionFields,
    TurnRequest,
    TurnResult,
    bare_etag,
)
from agent_sessions.errors import InvalidArgument

Context = grpc.aio.ServicerContext[Any, Any]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
ROLE_NUMBER = {name: i + 1 for i, name in enumerate(ROLES)}


def _micros(value: datetime) -> tuple[int, int]:
    """A time as (seconds, nanos) whose JSON always shows exactly six fractional digits.

    Protobuf's JSON printer drops trailing zero groups (`.120Z`, or no fraction at all), while
    the API promises microseconds; a time whose microseconds end in 000 is shown 1 µs later
    (the stored value is unchanged, and order is kept). Computed from integers: Timestamp's own
    FromDatetime is pure Python and showed up in list profiles.
    """
    micros = (value - EPOCH) // MICROSECOND
    if micros % 1000 == 0:
        micros += 1
    seconds, micros = divmod(micros, 1_000_000)
    return seconds, micros * 1000


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """A Timestamp of `value`, shown with exactly six fractional digits (see `_micros`)."""
    seconds, nanos = _micros(value)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


def role_name(number: int) -> str:
    """The proto Role number as its name; '' for unset or unknown (refused by validation)."""
    return ROLES[number - 1] if 1 <= number <= len(ROLES) else ""


def optional(request: Any, name: str) -> Any:
    """An optional proto field's value, or None when absent."""
    return getattr(request, name) if request.HasField(name) else None


def present(request: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The optional fields present in a request, by name."""
    return {name: getattr(request, name) for name in names if request.HasField(name)}


def _set_time(field: timestamp_pb2.Timestamp, value: datetime) -> None:
    """Sets a Timestamp field of a message in place (see `_micros`)."""
    field.seconds, field.nanos = _micros(value)


def _fill_session(proto: res_pb.Session, session: Session) -> res_pb.Session:
    """Sets a Session's times and optional fields in place."""
    _set_time(proto.created_at, session.created_at)
    _set_time(proto.updated_at, session.updated_at)
    for name in SESSION_TEXT_FIELDS:
        value = getattr(session, name)
        if value is not None:
            setattr(proto, name, value)
    proto.seq = session.seq
    proto.etag = session.etag
    if session.labels:
        proto.labels.update(session.labels)
    if session.expire_time is not None:
        _set_time(proto.expire_time, session.expire_time)
    usage = proto.usage
    if session.turns or session.total_tokens or session.input_tokens or session.output_tokens:
        usage.input_tokens = _int32(session.input_tokens)
        usage.output_tokens = _int32(session.output_tokens)
        usage.total_tokens = _int32(session.total_tokens)
        usage.turns = _int32(session.turns)
    else:
        usage.SetInParent()  # present and all zero, as setting each zero makes it
    return proto


INT32_MAX = 2**31 - 1


def _int32(value: int) -> int:
    """A stored sum as the API's int32 (a JSON number): capped rather than wrapped."""
    return min(value, INT32_MAX)


def time_of(request: Any, name: str) -> datetime | None:
    """A Timestamp field of a request as a UTC time; None when absent."""
    if not request.HasField(name):
        return None
    value: datetime = getattr(request, name).ToDatetime(tzinfo=UTC)
    return value


def struct_labels(request: Any, name: str = "labels") -> dict[str, Any] | None:
    """A Struct field of labels as a dict (values as JSON gave them; the service checks they
    are strings); None when absent."""
    if not request.HasField(name):
        return None
    return struct_dict(name, getattr(request, name))


def struct_dict(field: str, value: Any) -> dict[str, Any]:
    """A Struct as a dict; one holding a number JSON cannot write (NaN, Infinity) is refused
    naming `field`."""
    try:
        result: dict[str, Any] = json_format.MessageToDict(value)
    except ValueError:
        raise InvalidArgument(
            field, "must hold only finite numbers (NaN and Infinity are not JSON)"
        ) from None
    return result


@cache
def _session_fields_of(descriptor: Any) -> tuple[str, ...]:
    """The session text fields a request type has (a conversation has no `description`)."""
    return tuple(name for name in SESSION_TEXT_FIELDS if name in descriptor.fields_by_name)


def session_fields(request: Any) -> SessionFields:
    """The session text fields a CreateSession or conversation request sets (unset or empty:
    None)."""
    return SessionFields(
        **{name: getattr(request, name) or None for name in _session_fields_of(request.DESCRIPTOR)}
    )


def session_proto(session: Session) -> res_pb.Session:
    """A Session as the API's Session."""
    return _fill_session(
        res_pb.Session(
            id=str(session.id),
            session_id=session.session_id,
            is_active=session.is_active,
            user_id=str(session.user_id),
        ),
        session,
    )


def session_page(
    sessions: Sequence[Session], next_page_token: str, total_size: int
) -> ses_pb.ListSessionsResponse:
    """A page of sessions, each built in place in the response (see `message_page`)."""
    page = ses_pb.ListSessionsResponse(next_page_token=next_page_token, total_size=total_size)
    add = page.sessions.add
    for session in sessions:
        _fill_session(
            add(
                id=str(session.id),
                session_id=session.session_id,
                is_active=session.is_active,
                user_id=str(session.user_id),
            ),
            session,
        )
    return page


def _fill_message(proto: res_pb.Message, message: Message) -> res_pb.Message:
    """Sets a Message's times and optional fields in place (no Timestamp built and copied)."""
    seconds, nanos = _micros(message.created_at)
    created_at = proto.created_at
    created_at.seconds = seconds
    created_at.nanos = nanos
    if message.updated_at != message.created_at:
        seconds, nanos = _micros(message.updated_at)
    updated_at = proto.updated_at
    updated_at.seconds = seconds
    updated_at.nanos = nanos
    if message.tool_call_id is not None:
        proto.tool_call_id = message.tool_call_id
    if message.tool_name is not None:
        proto.tool_name = message.tool_name
    if message.extra_data is not None:
        proto.extra_data = message.extra_data
    proto.seq = message.seq
    proto.etag = message.etag
    return proto


def message_proto(message: Message, session_id: str) -> res_pb.Message:
    """A Message as the API's Message; `session_id` is its session's caller-chosen id."""
    return _fill_message(
        res_pb.Message(
            id=str(message.id),
            session_id=session_id,
            session_uuid=str(message.session_uuid),
            role=ROLE_NUMBER[message.role],  # type: ignore[arg-type]
            content=message.content,
        ),
        message,
    )


def message_page(
    messages: Sequence[Message], session_id: str, next_page_token: str, total_size: int
) -> msg_pb.ListMessagesResponse:
    """A page of one session's messages, each built in place in the response: half the CPU of
    building each Message and copying it in (measured on a 50-message page)."""
    page = msg_pb.ListMessagesResponse(next_page_token=next_page_token, total_size=total_size)
    add = page.messages.add
    session_uuid = str(messages[0].session_uuid) if messages else ""
    for message in messages:
        _fill_message(
            add(
                id=str(message.id),
                session_id=session_id,
                session_uuid=session_uuid,
                role=ROLE_NUMBER[message.role],
                content=message.content,
            ),
            message,
        )
    return page


def message_batch(
    messages: Sequence[Message], session_id: str
) -> msg_pb.BatchCreateMessagesResponse:
    """Stored messages of one session, as BatchCreateMessages answers."""
    response = msg_pb.BatchCreateMessagesResponse()
    add = response.messages.add
    for message in messages:
        _fill_message(
            add(
                id=str(message.id),
                session_id=session_id,
                session_uuid=str(message.session_uuid),
                role=ROLE_NUMBER[message.role],
                content=message.content,
            ),
            message,
        )
    return response


def new_message(m: Any) -> NewMessage:
    """A CreateMessageRequest or ConversationMessage as a message to check and store."""
    return NewMessage(
        role=role_name(m.role),
        content=m.content,
        tool_call_id=m.tool_call_id,
        tool_name=m.tool_name,
        extra_data=optional(m, "extra_data"),
    )


# if_busy's values as the turn service names them (unset: enqueue).
IF_BUSY = {
    value: ("enqueue" if name == "if_busy_unspecified" else name)
    for name, value in ses_pb.IfBusy.items()
}


def turn_request(request: Any, context: Context) -> TurnRequest:
    """A ConversationRequest or ConverseRequest as a turn request."""
    return TurnRequest(
        if_busy=IF_BUSY[request.if_busy],
        detach=request.detach,
        guard=guard(request, context),
        messages=[new_message(m) for m in request.messages],
        session_id=request.session_id,
        session=session_fields(request),
        tools=[
            CallerTool(
                name=tool.name,
                description=tool.description,
                parameters=_json_value(struct_dict(f"tools[{i}].parameters", tool.parameters)),
            )
            for i, tool in enumerate(request.tools)
        ],
    )


def _json_value(value: Any) -> Any:
    """A Struct's value as the JSON the caller sent: Struct keeps every number as a double, so
    integral ones become ints again (`"minimum": 1`, not `1.0`)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def conversation_response(result: TurnResult) -> ses_pb.ConversationResponse:
    """A stored turn as the unary answer (and the stream's `completed`)."""
    return ses_pb.ConversationResponse(
        session_id=result.session.session_id,
        session_uuid=str(result.session.id),
        response=result.response,
        messages_count=result.messages_count,
        session_active=result.session.is_active,
        stop_reason=result.stop_reason,
        turn_id=str(result.turn_id or ""),
        pending_tool_calls=[
            ses_pb.ToolCall(
                tool_call_id=call.tool_call_id, name=call.name, arguments=call.arguments
            )
            for call in result.pending_tool_calls
        ],
        usage=ses_pb.Usage(
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            total_tokens=result.usage.total_tokens,
        ),
    )


def _header(context: Context, name: str) -> str:
    """A request header (Envoy passes REST headers on as gRPC metadata); '' when absent."""
    for key, value in context.invocation_metadata() or ():
        if key == name:
            return str(value)
    return ""


def _one_of(
    request: Any, context: Context, field: str, header: str, read: Callable[[str], Any]
) -> Any:
    """A value the body (or gRPC field) or a header may carry, as `read` makes it canonical;
    both given and different: refused."""
    given, sent = getattr(request, field), _header(context, header)
    value = read(given) if given else None
    if sent:
        from_header = read(sent)
        if value is not None and value != from_header:
            raise InvalidArgument(
                field,
                f"differs from the {header} header; send one of them, or the same value in both",
            )
        value = from_header
    return value


def _etag(text: str) -> str | None:
    """An etag as compared: the bare value of an HTTP form; `*` (any) is no condition."""
    bare = bare_etag(text)
    return None if bare == "*" else bare


def guard(request: Any, context: Context) -> Guard:
    """A write request's request id (`request_id` or Idempotency-Key), the etag it expects
    (`etag` or If-Match, where the request has one) and the session seq it expects.

    The request id's fingerprint hashes the method (the request type) and the request's
    fields, the request id aside and the etag as compared, from the body or the header: the
    same call sent again, over gRPC or REST, hashes the same; any other request under the id
    does not."""
    fields = request.DESCRIPTOR.fields_by_name
    request_id = _one_of(
        request, context, "request_id", "idempotency-key", partial(v.uuid_value, "request_id")
    )
    etag = _one_of(request, context, "etag", "if-match", _etag) if "etag" in fields else None
    expected_seq = (
        request.expected_seq
        if "expected_seq" in fields and request.HasField("expected_seq")
        else None
    )
    key = None
    if request_id is not None:
        same = type(request)()
        same.CopyFrom(request)
        same.request_id = ""
        if "etag" in fields:
            same.etag = etag or ""
        name = request.DESCRIPTOR.full_name
        digest = hashlib.sha256(name.encode() + b"\0" + same.SerializeToString(deterministic=True))
        key = RequestKey(request_id, name, digest.digest())
    return Guard(key, etag, expected_seq)
