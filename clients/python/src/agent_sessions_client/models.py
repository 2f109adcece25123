"""The client's values: frozen dataclasses for what the service returns and what turns send.

Roles are the plain strings `"user"`, `"assistant"`, `"system"` and `"tool"`; timestamps are
aware `datetime`s in UTC; optional text the service never set is None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeAlias, TypeVar, cast, get_args

from google.protobuf.timestamp_pb2 import Timestamp

from agent_sessions_client._proto.agentsessions.v1 import message_service_pb2 as msg_pb
from agent_sessions_client._proto.agentsessions.v1 import resources_pb2
from agent_sessions_client._proto.agentsessions.v1 import session_service_pb2 as ses_pb
from agent_sessions_client.errors import AgentSessionsError, error_from_status

__all__ = [
    "Completed",
    "Heartbeat",
    "IfBusy",
    "MessageAdded",
    "MessageDeleted",
    "MessageUpdated",
    "MessagesCleared",
    "Queued",
    "SessionDeleted",
    "SessionEvent",
    "SessionUpdated",
    "Turn",
    "TurnDelta",
    "TurnStatus",
    "TurnUpdated",
    "ConversationMessage",
    "ConversationResult",
    "ConverseEvent",
    "Delta",
    "Message",
    "MessageStored",
    "NewSession",
    "Order",
    "Page",
    "Role",
    "Session",
    "SessionUsage",
    "Started",
    "Tool",
    "ToolAnswered",
    "ToolCall",
    "ToolCalled",
    "ToolResult",
    "Usage",
]

Role: TypeAlias = Literal["user", "assistant", "system", "tool"]
Order: TypeAlias = Literal["asc", "desc"]
IfBusy: TypeAlias = Literal["enqueue", "reject", "interrupt"]
"""What a turn does when its session runs another one: wait its turn (the default), fail with
`AbortedError` (`SESSION_BUSY`, the running turn's id in `metadata["turn_id"]`), or cancel it."""
TurnStatus: TypeAlias = Literal["queued", "running", "completed", "failed", "cancelled", "lost"]
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
class SessionUsage:
    """What a session's stored conversation turns used: token sums and the number of turns
    (batches and single messages are not turns; a fork starts at zero; a rewind lowers
    nothing)."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    turns: int = 0

    @classmethod
    def from_proto(cls, proto: resources_pb2.SessionUsage) -> SessionUsage:
        """Converts the service's `agentsessions.v1.SessionUsage`."""
        return cls(proto.input_tokens, proto.output_tokens, proto.total_tokens, proto.turns)


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
    model: str | None = None
    """The model the session's agent runs on; None means the server's default."""
    server_tools: str | None = None
    """Which server (MCP) tools the agent may call: None means all of them, `none` none,
    otherwise a comma-separated list of `server` or `server/tool` entries."""
    etag: str = ""
    """Changes on every change of the session (its messages included): pass it as `etag=` to
    change or delete the session only if nobody changed it since (else ABORTED,
    `ETAG_MISMATCH`)."""
    seq: int = 0
    """The session's change counter: every committed change of the session or of its messages
    takes the next value. Pass it as `expected_seq=` to append only if nothing changed since
    (else ABORTED, `SESSION_CHANGED`)."""
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    """String labels to find the session by (`list_sessions(labels=...)`)."""
    expire_time: datetime | None = None
    """When the session expires (from then on it is gone); None: never."""
    usage: SessionUsage = SessionUsage()
    """The tokens the session's stored turns used, and how many turns that is."""

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
            model=proto.model if proto.HasField("model") else None,
            server_tools=proto.server_tools if proto.HasField("server_tools") else None,
            etag=proto.etag,
            seq=proto.seq,
            labels=dict(proto.labels),
            expire_time=_time(proto.expire_time) if proto.HasField("expire_time") else None,
            usage=SessionUsage.from_proto(proto.usage),
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
    etag: str = ""
    """Changes on every change of the message: pass it as `etag=` to change or delete the
    message only if nobody changed it since (else ABORTED, `ETAG_MISMATCH`)."""
    seq: int = 0
    """The session's `seq` at which the message was stored: its place in the session's order."""

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
            etag=proto.etag,
            seq=proto.seq,
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
        return ses_pb.ConversationMessage(**_message_fields(self))

    def to_new_message(self) -> msg_pb.NewMessage:
        """The `agentsessions.v1.NewMessage` of this message, for a batch append."""
        return msg_pb.NewMessage(**_message_fields(self))

    @classmethod
    def tool_result(cls, tool_call_id: str, content: str) -> ConversationMessage:
        """The result of a caller tool's call, to send in the next turn (the service fills in
        the tool's name from the call)."""
        return cls("tool", content, tool_call_id=tool_call_id)


def _message_fields(message: ConversationMessage) -> dict[str, Any]:
    """The proto fields of a message; an optional field is only set when given."""
    fields: dict[str, Any] = {"role": checked_role(message.role), "content": message.content}
    for name in ("tool_call_id", "tool_name", "extra_data"):
        if (value := getattr(message, name)) is not None:
            fields[name] = value
    return fields


@dataclass(frozen=True)
class NewSession:
    """The fields of a session `create_messages(..., create_session=NewSession(...))` creates
    when the session is missing; None leaves a field unset (`is_active`: true)."""

    session_name: str | None = None
    description: str | None = None
    agent_name: str | None = None
    agent_instructions: str | None = None
    is_active: bool | None = None
    model: str | None = None
    server_tools: str | None = None
    # At most 64; keys like `team` or `cost.center`, values of at most 256 characters.
    labels: Mapping[str, str] | None = None
    # When the session expires (a naive datetime is taken as UTC); not with `ttl`. Neither:
    # the server's default, if it has one.
    expire_time: datetime | None = None
    # The session expires this many seconds after its creation (1 to 3153600000).
    ttl: int | None = None

    def to_proto(self) -> msg_pb.NewSession:
        """The `agentsessions.v1.NewSession` of these fields."""
        fields: dict[str, Any] = {
            name: value
            for name, value in vars(self).items()
            if value is not None and name not in ("labels", "expire_time")
        }
        proto = msg_pb.NewSession(**fields, labels=dict(self.labels or {}))
        if self.expire_time is not None:
            moment = self.expire_time
            proto.expire_time.FromDatetime(
                moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
            )
        return proto


@dataclass(frozen=True)
class Tool:
    """A caller tool, declared in a conversation request: when the model calls it, the turn
    stops with `stop_reason == "tool_calls"` and the caller sends the result.

    `parameters` is the JSON Schema object of the tool's arguments (a plain dict, sent to the
    model as given; None sends no schema).
    """

    name: str
    description: str = ""
    parameters: Mapping[str, Any] | None = None

    def to_proto(self) -> ses_pb.Tool:
        """The `agentsessions.v1.Tool` of this tool."""
        proto = ses_pb.Tool(name=self.name, description=self.description)
        if self.parameters is not None:
            proto.parameters.update(dict(self.parameters))
        return proto


@dataclass(frozen=True)
class ToolCall:
    """A call the model made to a tool; `arguments` is JSON text."""

    tool_call_id: str
    name: str
    arguments: str

    @classmethod
    def from_proto(cls, proto: ses_pb.ToolCall) -> ToolCall:
        """Converts the service's `agentsessions.v1.ToolCall`."""
        return cls(proto.tool_call_id, proto.name, proto.arguments)

    def result(self, content: str) -> ConversationMessage:
        """The `tool` message that answers this call."""
        return ConversationMessage.tool_result(self.tool_call_id, content)


@dataclass(frozen=True)
class ToolResult:
    """What a server tool answered to a call."""

    tool_call_id: str
    name: str
    output: str


@dataclass(frozen=True)
class Usage:
    """The tokens a turn's model calls used, summed over the turn (all 0 for the mock agent)."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.total_tokens + other.total_tokens,
        )

    @classmethod
    def from_proto(cls, proto: ses_pb.Usage) -> Usage:
        """Converts the service's `agentsessions.v1.Usage`."""
        return cls(proto.input_tokens, proto.output_tokens, proto.total_tokens)


@dataclass(frozen=True)
class ConversationResult:
    """The outcome of a stored turn: the agent's reply and the session after it.

    `stop_reason` is `"end_turn"` when the agent replied, `"tool_calls"` when it waits for the
    results of `pending_tool_calls` (caller tools): send one `tool` message per call
    (`call.result(output)`) in the next turn. `response` is all the assistant text of the turn;
    `messages_count` counts every message of the session, tool calls and results included.
    """

    session_id: str
    session_uuid: str
    response: str
    messages_count: int
    session_active: bool
    stop_reason: str = "end_turn"
    pending_tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    turn_id: str = ""
    """The turn's id (`get_turn`, `resume_turn`, `cancel_turn`)."""

    @classmethod
    def from_proto(cls, proto: ses_pb.ConversationResponse) -> ConversationResult:
        """Converts the service's `agentsessions.v1.ConversationResponse`."""
        return cls(
            session_id=proto.session_id,
            session_uuid=proto.session_uuid,
            response=proto.response,
            messages_count=proto.messages_count,
            session_active=proto.session_active,
            # An older service sends none: its turns always end with the reply.
            stop_reason=proto.stop_reason or "end_turn",
            pending_tool_calls=tuple(ToolCall.from_proto(c) for c in proto.pending_tool_calls),
            usage=Usage.from_proto(proto.usage),
            turn_id=proto.turn_id,
        )


@dataclass(frozen=True)
class Started:
    """The first event of a stream: the session the turn runs in, and the turn's id."""

    seq: int
    session_id: str
    session_uuid: str
    turn_id: str = ""
    """The turn's id: `get_turn`, `resume_turn` and `cancel_turn` find it from this event on."""


@dataclass(frozen=True)
class Queued:
    """The turn waits for earlier turns of its session; sent again when its place changes
    (`position` 1 runs next)."""

    seq: int
    turn_id: str
    position: int


@dataclass(frozen=True)
class Delta:
    """A piece of the agent's reply; all pieces concatenated equal the final response."""

    seq: int
    text: str


@dataclass(frozen=True)
class ToolCalled:
    """The model called a tool (a server tool, whose `ToolAnswered` follows, or a caller tool,
    which ends the turn with the call in `pending_tool_calls`)."""

    seq: int
    call: ToolCall


@dataclass(frozen=True)
class ToolAnswered:
    """A server tool answered a call."""

    seq: int
    result: ToolResult


@dataclass(frozen=True)
class MessageStored:
    """A message the agent stored (a tool call, a tool result, the reply), with its id: one
    event per message, in order, once the turn is committed."""

    seq: int
    message: Message


@dataclass(frozen=True)
class Completed:
    """The last event: the turn is stored; the same result `conversation()` returns."""

    seq: int
    result: ConversationResult


ConverseEvent: TypeAlias = (
    Started | Queued | Delta | ToolCalled | ToolAnswered | MessageStored | Completed
)


def event_from_proto(proto: ses_pb.ConverseEvent) -> ConverseEvent | None:
    """Converts one stream event; an `error` event raises its typed exception instead.

    An event kind this client does not know yet (added by a newer service) is None: callers skip
    it, so an older client keeps working.
    """
    kind = proto.WhichOneof("event")
    if kind == "started":
        started = proto.started
        return Started(proto.seq, started.session_id, started.session_uuid, started.turn_id)
    if kind == "queued":
        return Queued(proto.seq, proto.queued.turn_id, proto.queued.position)
    if kind == "delta":
        return Delta(proto.seq, proto.delta.text)
    if kind == "tool_call":
        return ToolCalled(proto.seq, ToolCall.from_proto(proto.tool_call))
    if kind == "tool_result":
        result = proto.tool_result
        return ToolAnswered(proto.seq, ToolResult(result.tool_call_id, result.name, result.output))
    if kind == "message":
        return MessageStored(proto.seq, Message.from_proto(proto.message))
    if kind == "completed":
        return Completed(proto.seq, ConversationResult.from_proto(proto.completed))
    if kind == "error":
        raise error_from_status(proto.error)
    return None


@dataclass(frozen=True)
class Turn:
    """A conversation turn as a resource: where it is in its life and, once it ended, its
    outcome (`result` when `completed`; `error`, the exception it ended with, when `failed`,
    `cancelled` or `lost`: nothing of it was stored then)."""

    turn_id: str
    session_id: str
    status: TurnStatus
    request_id: str | None
    created_at: datetime
    updated_at: datetime
    result: ConversationResult | None = None
    error: AgentSessionsError | None = field(default=None, compare=False)

    @property
    def active(self) -> bool:
        """Whether the turn still waits or runs."""
        return self.status in ("queued", "running")

    @classmethod
    def from_proto(cls, proto: ses_pb.Turn) -> Turn:
        """Converts the service's `agentsessions.v1.Turn`."""
        return cls(
            turn_id=proto.turn_id,
            session_id=proto.session_id,
            status=cast(TurnStatus, ses_pb.TurnStatus.Name(proto.status)),
            request_id=proto.request_id or None,
            created_at=_time(proto.created_at),
            updated_at=_time(proto.updated_at),
            result=ConversationResult.from_proto(proto.result)
            if proto.HasField("result")
            else None,
            error=error_from_status(proto.error) if proto.HasField("error") else None,
        )


@dataclass(frozen=True)
class MessageAdded:
    """A watched session stored a message (`seq`: the session's `seq` it took)."""

    seq: int
    message: Message


@dataclass(frozen=True)
class MessageUpdated:
    """A message of a watched session changed (the message after the change)."""

    seq: int
    message: Message


@dataclass(frozen=True)
class MessageDeleted:
    """A message of a watched session was deleted."""

    seq: int
    message_id: str


@dataclass(frozen=True)
class MessagesCleared:
    """Every message of a watched session was deleted."""

    seq: int
    deleted_count: int


@dataclass(frozen=True)
class SessionUpdated:
    """A watched session's fields changed (activation included): the session after it."""

    seq: int
    session: Session


@dataclass(frozen=True)
class SessionDeleted:
    """The watched session is gone; the watch ends after this event (its `seq`, when the
    service sends one, is the session's last)."""

    seq: int | None = None


@dataclass(frozen=True)
class TurnUpdated:
    """A turn of a watched session changed status (live: no session `seq`)."""

    turn: Turn


@dataclass(frozen=True)
class TurnDelta:
    """A piece of a running turn's reply (live); `seq` is the event's place in the turn's own
    stream, as `resume_turn` numbers it."""

    turn_id: str
    seq: int
    text: str


@dataclass(frozen=True)
class Heartbeat:
    """Nothing happened for a while; the watch is alive."""


SessionEvent: TypeAlias = (
    MessageAdded
    | MessageUpdated
    | MessageDeleted
    | MessagesCleared
    | SessionUpdated
    | SessionDeleted
    | TurnUpdated
    | TurnDelta
    | Heartbeat
)


def session_event_from_proto(proto: ses_pb.SessionEvent) -> SessionEvent | None:
    """Converts one watch event; an `error` event raises its typed exception instead, and an
    event kind this client does not know yet is None (callers skip it)."""
    kind = proto.WhichOneof("event")
    seq = proto.seq
    if kind == "message":
        return MessageAdded(seq, Message.from_proto(proto.message))
    if kind == "message_updated":
        return MessageUpdated(seq, Message.from_proto(proto.message_updated))
    if kind == "message_deleted":
        return MessageDeleted(seq, proto.message_deleted.message_id)
    if kind == "cleared":
        return MessagesCleared(seq, proto.cleared.deleted_count)
    if kind == "session":
        return SessionUpdated(seq, Session.from_proto(proto.session))
    if kind == "deleted":
        return SessionDeleted(seq if proto.HasField("seq") else None)
    if kind == "turn":
        return TurnUpdated(Turn.from_proto(proto.turn))
    if kind == "turn_delta":
        delta = proto.turn_delta
        return TurnDelta(delta.turn_id, delta.seq, delta.text)
    if kind == "heartbeat":
        return Heartbeat()
    if kind == "error":
        raise error_from_status(proto.error)
    return None
