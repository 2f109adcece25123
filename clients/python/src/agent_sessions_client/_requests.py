"""Request building and response conversion shared by `Client` and `AsyncClient`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, get_args

from google.protobuf.timestamp_pb2 import Timestamp

from agent_sessions_client._proto.agentsessions.v1 import message_service_pb2 as msg_pb
from agent_sessions_client._proto.agentsessions.v1 import session_service_pb2 as ses_pb
from agent_sessions_client.models import (
    ConversationMessage,
    IfBusy,
    Message,
    NewSession,
    Order,
    Page,
    Session,
    Tool,
    checked_role,
)
from agent_sessions_client.retry import safe_to_retry

USER_AGENT = "agent-sessions-client"

# The methods that may be repeated after a lost answer: those whose proto declares them free of
# side effects or idempotent (`option idempotency_level`). Looked up by name, which is
# unambiguous since no method name occurs in both services (tests/clients/test_idempotency.py).
IDEMPOTENT = frozenset(
    method.name
    for service in (
        ses_pb.DESCRIPTOR.services_by_name["SessionService"],
        msg_pb.DESCRIPTOR.services_by_name["MessageService"],
    )
    for method in service.methods
    if safe_to_retry(method)
)


IF_BUSY: tuple[IfBusy, ...] = get_args(IfBusy)

# The most messages one BatchCreateMessages call takes.
MAX_BATCH = 100


def request_id(given: str | None) -> str:
    """The request id of one logical call: the caller's, else a new UUID. Sent unchanged by
    every retry of the call, so the service stores the call at most once."""
    return str(uuid.uuid4()) if given is None else given


def _present(**fields: Any) -> dict[str, Any]:
    """The fields that are not None: an optional proto field is only set when given."""
    return {name: value for name, value in fields.items() if value is not None}


def timestamp(value: datetime | None) -> Timestamp | None:
    """The proto Timestamp of a datetime (a naive one is taken as UTC); None stays None."""
    if value is None:
        return None
    proto = Timestamp()
    proto.FromDatetime(value)
    return proto


def label_filters(labels: Mapping[str, str] | None) -> list[str]:
    """ListSessions' `label` filters, one `key:value` per label."""
    return [f"{key}:{value}" for key, value in (labels or {}).items()]


def create_session(
    session_id: str,
    session_name: str | None,
    description: str | None,
    agent_name: str | None,
    agent_instructions: str | None,
    is_active: bool | None,
    model: str | None,
    server_tools: str | None,
    request_id: str,
    labels: Mapping[str, str] | None = None,
    expire_time: datetime | None = None,
    ttl: int | None = None,
) -> ses_pb.CreateSessionRequest:
    """The CreateSession request; None leaves a field unset."""
    return ses_pb.CreateSessionRequest(
        session_id=session_id,
        request_id=request_id,
        labels=dict(labels or {}),
        **_present(
            session_name=session_name,
            description=description,
            agent_name=agent_name,
            agent_instructions=agent_instructions,
            is_active=is_active,
            model=model,
            server_tools=server_tools,
            expire_time=timestamp(expire_time),
            ttl=ttl,
        ),
    )


def update_session(
    session_id: str,
    session_name: str | None,
    description: str | None,
    agent_name: str | None,
    agent_instructions: str | None,
    is_active: bool | None,
    model: str | None,
    server_tools: str | None,
    request_id: str,
    etag: str | None,
    labels: Mapping[str, str] | None = None,
    expire_time: datetime | None = None,
) -> ses_pb.UpdateSessionRequest:
    """The UpdateSession request: None keeps a field, an empty string removes it; `labels`
    replaces every label (`{}` removes them all)."""
    request = ses_pb.UpdateSessionRequest(
        session_id=session_id,
        request_id=request_id,
        etag=etag or "",
        **_present(
            session_name=session_name,
            description=description,
            agent_name=agent_name,
            agent_instructions=agent_instructions,
            is_active=is_active,
            model=model,
            server_tools=server_tools,
            expire_time=timestamp(expire_time),
        ),
    )
    if labels is not None:
        # A Struct, so that an empty one is still present: it says "remove every label".
        request.labels.SetInParent()
        request.labels.update(dict(labels))
    return request


def list_sessions(
    page_size: int,
    page_token: str,
    is_active: bool | None,
    agent_name: str | None,
    labels: Mapping[str, str] | None = None,
) -> ses_pb.ListSessionsRequest:
    """The ListSessions request; None means no filter."""
    return ses_pb.ListSessionsRequest(
        page_size=page_size,
        page_token=page_token,
        label=label_filters(labels),
        **_present(is_active=is_active, agent_name=agent_name),
    )


def fork_session(
    session_id: str,
    new_session_id: str,
    up_to_message_id: str,
    session_name: str | None,
    request_id: str,
) -> ses_pb.ForkSessionRequest:
    """The ForkSession request; None keeps the source's name."""
    return ses_pb.ForkSessionRequest(
        session_id=session_id,
        new_session_id=new_session_id,
        up_to_message_id=up_to_message_id,
        request_id=request_id,
        **_present(session_name=session_name),
    )


def rewind_session(
    session_id: str,
    after_message_id: str,
    request_id: str,
    etag: str | None,
    expected_seq: int | None,
) -> ses_pb.RewindSessionRequest:
    """The RewindSession request; None leaves a condition out."""
    return ses_pb.RewindSessionRequest(
        session_id=session_id,
        after_message_id=after_message_id,
        request_id=request_id,
        etag=etag or "",
        **_present(expected_seq=expected_seq),
    )


def sessions_page(response: ses_pb.ListSessionsResponse) -> Page[Session]:
    """A ListSessions response as a Page."""
    return Page(
        tuple(Session.from_proto(s) for s in response.sessions),
        response.next_page_token,
        response.total_size,
    )


def turn(
    messages: str | Sequence[ConversationMessage],
    session_id: str,
    session_name: str | None,
    agent_name: str | None,
    agent_instructions: str | None,
    model: str | None,
    server_tools: str | None,
    tools: Sequence[Tool],
    request_id: str,
    expected_seq: int | None,
    if_busy: IfBusy | None = None,
    detach: bool = False,
) -> dict[str, Any]:
    """The fields of a Conversation or Converse request; a plain string is one user message."""
    if isinstance(messages, str):
        messages = [ConversationMessage("user", messages)]
    if if_busy is not None and if_busy not in IF_BUSY:
        raise ValueError(f"if_busy must be one of {', '.join(IF_BUSY)}, got {if_busy!r}")
    return {
        "messages": [m.to_proto() for m in messages],
        "session_id": session_id,
        "tools": [t.to_proto() for t in tools],
        "request_id": request_id,
        "detach": detach,
        "if_busy": if_busy or "if_busy_unspecified",
        **_present(
            session_name=session_name,
            agent_name=agent_name,
            agent_instructions=agent_instructions,
            model=model,
            server_tools=server_tools,
            expected_seq=expected_seq,
        ),
    }


def create_message(
    session_id: str,
    role: str,
    content: str,
    tool_call_id: str | None,
    tool_name: str | None,
    extra_data: str | None,
    request_id: str,
    expected_seq: int | None,
) -> msg_pb.CreateMessageRequest:
    """The CreateMessage request; the role is one of the four role strings."""
    return msg_pb.CreateMessageRequest(
        session_id=session_id,
        role=checked_role(role),
        content=content,
        request_id=request_id,
        **_present(
            tool_call_id=tool_call_id,
            tool_name=tool_name,
            extra_data=extra_data,
            expected_seq=expected_seq,
        ),
    )


def create_messages(
    session_id: str,
    messages: Sequence[ConversationMessage],
    create_session: NewSession | None,
    request_id: str,
    expected_seq: int | None,
) -> msg_pb.BatchCreateMessagesRequest:
    """The BatchCreateMessages request; more than MAX_BATCH messages is a ValueError, since the
    service would refuse them (and splitting them would make the append not atomic)."""
    if len(messages) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} messages per call, got {len(messages)}")
    return msg_pb.BatchCreateMessagesRequest(
        session_id=session_id,
        messages=[m.to_new_message() for m in messages],
        request_id=request_id,
        **_present(
            expected_seq=expected_seq,
            # Present even when empty: an empty NewSession still asks for the session.
            create_session=None if create_session is None else create_session.to_proto(),
        ),
    )


def update_message(
    session_id: str,
    message_id: str,
    content: str | None,
    extra_data: str | None,
    tool_call_id: str | None,
    tool_name: str | None,
    request_id: str,
    etag: str | None,
) -> msg_pb.UpdateMessageRequest:
    """The UpdateMessage request: None keeps a field, an empty string removes it (not extra_data,
    which must be JSON text: send "null" to say there is none)."""
    return msg_pb.UpdateMessageRequest(
        session_id=session_id,
        message_id=message_id,
        request_id=request_id,
        etag=etag or "",
        **_present(
            content=content, extra_data=extra_data, tool_call_id=tool_call_id, tool_name=tool_name
        ),
    )


def list_messages(
    session_id: str, page_size: int, page_token: str, order: Order
) -> msg_pb.ListMessagesRequest:
    """The ListMessages request."""
    return msg_pb.ListMessagesRequest(
        session_id=session_id, page_size=page_size, page_token=page_token, order=order
    )


def messages_page(response: msg_pb.ListMessagesResponse) -> Page[Message]:
    """A ListMessages response as a Page."""
    return Page(
        tuple(Message.from_proto(m) for m in response.messages),
        response.next_page_token,
        response.total_size,
    )


def watch_session(session_id: str, after_seq: int | None) -> ses_pb.WatchSessionRequest:
    """The WatchSession request; None watches from now on."""
    return ses_pb.WatchSessionRequest(session_id=session_id, **_present(after_seq=after_seq))
