"""The client's values: frozen dataclasses for what the service returns and what turns send.

Roles are the plain strings `"user"`, `"assistant"`, `"system"` and `"tool"`; timestamps are
aware `datetime`s in UTC; optional text the service never set is None.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, Literal, TypeAlias, TypeVar, cast, get_args

from google.protobuf.timestamp_pb2 import Timestamp

from agent_sessions_client._proto.agentsessions.v1 import resources_pb2
from agent_sessions_client._proto.agentsessions.v1 import session_service_pb2 as ses_pb
from agent_sessions_client.errors import error_from_status

__all__ = [
    "Completed",
    "ConversationMessage",
    "ConversationResult",
    "ConverseEvent",
    "Delta",
    "Message",
    "MessageStored",
    "Order",
    "Page",
    "Role",
    "Session",
    "Started",
]

Role: TypeAlias = Literal["user", "assistant", "system", "tool"]
Order: TypeAlias = Literal["asc", "desc"]
ROLES: tuple[Role, ...] = get_args(Role)

T = TypeVar("T")


def checked_role(role: str) -> Role:
    """The role, which proto constructors take by its enum value name; others are a ValueError.

    Checked here because the enum also names `role_unspecified`, which the service refuses.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return role


def _time(value: Timestamp) -> datetime:
    return value.ToDatetime(tzinfo=UTC)


@dataclass(frozen=True)
class Session:
    """A session: an agent's configuration and metadata, owned by the caller."""

    id: str
    session_id: str
    session_name: str | None
    description: str | None
    is_active: bool
    user_id: str
    agent_name: str | None
    agent_instructions: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_proto(cls, proto: resources_pb2.Session) -> Session:
        """Converts the service's `agentsessions.v1.Session`."""
        return cls(
            id=proto.id,
            session_id=proto.session_id,
            session_name=proto.session_name if proto.HasField("session_name") else None,
            description=proto.description if proto.HasField("description") else None,
            is_active=proto.is_active,
            user_id=proto.user_id,
            agent_name=proto.agent_name if proto.HasField("agent_name") else None,
            agent_instructions=(
                proto.agent_instructions if proto.HasField("agent_instructions") else None
            ),
            created_at=_time(proto.created_at),
            updated_at=_time(proto.updated_at),
        )


@dataclass(frozen=True)
class Message:
    """One stored message of a session. `extra_data` is JSON text, exactly as it was sent."""

    id: str
    session_id: str
    session_uuid: str
    role: Role
    content: str
    tool_call_id: str | None
    tool_name: str | None
    extra_data: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_proto(cls, proto: resources_pb2.Message) -> Message:
        """Converts the service's `agentsessions.v1.Message`."""
        return cls(
            id=proto.id,
            session_id=proto.session_id,
            session_uuid=proto.session_uuid,
            role=cast(Role, resources_pb2.Role.Name(proto.role)),
            content=proto.content,
            tool_call_id=proto.tool_call_id if proto.HasField("tool_call_id") else None,
            tool_name=proto.tool_name if proto.HasField("tool_name") else None,
            extra_data=proto.extra_data if proto.HasField("extra_data") else None,
            created_at=_time(proto.created_at),
            updated_at=_time(proto.updated_at),
        )


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; `next_page_token` is empty on the last page."""

    items: tuple[T, ...]
    next_page_token: str
    total_size: int


@dataclass(frozen=True)
class ConversationMessage:
    """A message sent in a conversation turn; `extra_data` is JSON text."""

    role: Role
    content: str = ""
    tool_call_id: str | None = None
    tool_name: str | None = None
    extra_data: str | None = None

    def to_proto(self) -> ses_pb.ConversationMessage:
        """The `agentsessions.v1.ConversationMessage` of this message."""
        proto = ses_pb.ConversationMessage(role=checked_role(self.role), content=self.content)
        if self.tool_call_id is not None:
            proto.tool_call_id = self.tool_call_id
        if self.tool_name is not None:
            proto.tool_name = self.tool_name
        if self.extra_data is not None:
            proto.extra_data = self.extra_data
        return proto


@dataclass(frozen=True)
class ConversationResult:
    """The outcome of a stored turn: the agent's reply and the session after it."""

    session_id: str
    session_uuid: str
    response: str
    messages_count: int
    session_active: bool

    @classmethod
    def from_proto(cls, proto: ses_pb.ConversationResponse) -> ConversationResult:
        """Converts the service's `agentsessions.v1.ConversationResponse`."""
        return cls(
            session_id=proto.session_id,
            session_uuid=proto.session_uuid,
            response=proto.response,
            messages_count=proto.messages_count,
            session_active=proto.session_active,
        )


@dataclass(frozen=True)
class Started:
    """The first event of a stream: the session the turn runs in."""

    seq: int
    session_id: str
    session_uuid: str


@dataclass(frozen=True)
class Delta:
    """A piece of the agent's reply; all pieces concatenated equal the final response."""

    seq: int
    text: str


@dataclass(frozen=True)
class MessageStored:
    """The stored assistant message, with its id."""

    seq: int
    message: Message


@dataclass(frozen=True)
class Completed:
    """The last event: the turn is stored; the same result `conversation()` returns."""

    seq: int
    result: ConversationResult


ConverseEvent: TypeAlias = Started | Delta | MessageStored | Completed


def event_from_proto(proto: ses_pb.ConverseEvent) -> ConverseEvent | None:
    """Converts one stream event; an `error` event raises its typed exception instead.

    An event kind this client does not know yet (added by a newer service) is None: callers skip
    it, so an older client keeps working.
    """
    kind = proto.WhichOneof("event")
    if kind == "started":
        return Started(proto.seq, proto.started.session_id, proto.started.session_uuid)
    if kind == "delta":
        return Delta(proto.seq, proto.delta.text)
    if kind == "message":
        return MessageStored(proto.seq, Message.from_proto(proto.message))
    if kind == "completed":
        return Completed(proto.seq, ConversationResult.from_proto(proto.completed))
    if kind == "error":
        raise error_from_status(proto.error)
    return None
