"""Typed values passed between the layers: what is stored, what is asked for, what a turn did."""

from __future__ import annotations

import base64
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# The roles a message may have, in the order of the API's Role enum (1-based there).
ROLES = ("user", "assistant", "system", "tool")


@dataclass(frozen=True, slots=True)
class Owner:
    """The authenticated user whose data a call may touch."""

    user_id: uuid.UUID
    subject: str
    # The token's claims, for rules such as which MCP servers the user may use (never logged).
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(value: datetime) -> int:
    """A time as whole microseconds since the epoch (what PostgreSQL keeps)."""
    return (value - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    return _EPOCH + value * _MICROSECOND


_FIRST_MICROS = micros(datetime.min.replace(tzinfo=UTC))
_LAST_MICROS = micros(datetime.max.replace(tzinfo=UTC))


# Big-endian signed 64-bit numbers, one struct per count of numbers an etag holds.
_PACKED = {count: struct.Struct(f">{count}q") for count in (1, 2)}


def make_etag(*numbers: int) -> str:
    """An opaque etag holding the numbers a write compares (URL-safe base64, no padding)."""
    packed = _PACKED.get(len(numbers)) or struct.Struct(f">{len(numbers)}q")
    return base64.urlsafe_b64encode(packed.pack(*numbers)).rstrip(b"=").decode()


def bare_etag(etag: str) -> str:
    """An etag as this service writes it: an HTTP form (`"…"`, `W/"…"`) reads as the bare
    value."""
    text = etag.strip()
    if text.startswith('W/"'):
        text = text[2:]
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return text


def read_etag(etag: str, count: int) -> tuple[int, ...] | None:
    """The numbers of an etag this service made; None for any other text."""
    text = bare_etag(etag)
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None
    if len(raw) != 8 * count or make_etag(*_numbers(raw)) != text:
        return None
    numbers = _numbers(raw)
    # Every number an etag holds is a seq or a time in microseconds: one that no datetime can
    # hold was not made here.
    if not all(_FIRST_MICROS <= n <= _LAST_MICROS for n in numbers):
        return None
    return numbers


def _numbers(raw: bytes) -> tuple[int, ...]:
    return tuple(int.from_bytes(raw[i : i + 8], "big", signed=True) for i in range(0, len(raw), 8))


@dataclass(slots=True)
class Session:
    """A stored session (an agent's configuration owned by a user). The field order is the
    statements' column order (db/statements.py derives it from here)."""

    id: uuid.UUID
    session_id: str
    session_name: str | None
    description: str | None
    is_active: bool
    user_id: uuid.UUID
    agent_name: str | None
    agent_instructions: str | None
    created_at: datetime
    updated_at: datetime
    model: str | None
    server_tools: str | None
    # The change counter: every committed change of the session or its messages takes one.
    seq: int
    # Caller-given labels (ListSessions filters on them).
    labels: dict[str, str]
    # When the session expires (None: never); from then on it is gone for every call.
    expire_time: datetime | None
    # Token usage summed over the session's stored turns, and how many turns that is.
    input_tokens: int
    output_tokens: int
    total_tokens: int
    turns: int

    @property
    def etag(self) -> str:
        """Moves with `seq` (every change); a session deleted and created again under the same
        `session_id` differs by its creation time."""
        return make_etag(self.seq, micros(self.created_at))


@dataclass(slots=True)
class Message:
    """A stored message of a session, at position `seq` in the session's order."""

    id: uuid.UUID
    session_uuid: uuid.UUID
    seq: int
    role: str
    content: str
    tool_call_id: str | None
    tool_name: str | None
    extra_data: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def etag(self) -> str:
        """Moves with `updated_at`, which every change of the message sets."""
        return make_etag(micros(self.updated_at))


@dataclass(frozen=True, slots=True)
class RequestKey:
    """A write's request id, and what tells its request from another under the same id: the
    method and a hash of its fields (the request id aside)."""

    request_id: uuid.UUID
    method: str
    fingerprint: bytes


@dataclass(frozen=True, slots=True)
class Guard:
    """What makes a write exactly once and conditional: its request id, the etag of the
    resource it expects, and the session `seq` it expects."""

    request: RequestKey | None = None
    etag: str | None = None
    expected_seq: int | None = None


UNGUARDED = Guard()


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to store, already validated."""

    role: str
    content: str
    tool_call_id: str | None = None
    tool_name: str | None = None
    extra_data: str | None = None


@dataclass(frozen=True, slots=True)
class SessionFields:
    """The writable text fields of a session; None means absent (or removed, in a change).

    The one list of them: the statements' columns and parameters, the checks, the API's
    request fields and the converters all derive theirs from this class (SESSION_TEXT_FIELDS).
    A new text field of a session is added here, to `Session`, to the table and its migration,
    to the protos, and to validation.MAX_LENGTH; tests fail until all agree.
    """

    session_name: str | None = None
    description: str | None = None
    agent_name: str | None = None
    agent_instructions: str | None = None
    model: str | None = None
    server_tools: str | None = None


SESSION_TEXT_FIELDS = tuple(f.name for f in fields(SessionFields))


@dataclass(frozen=True, slots=True)
class Retention:
    """When a new session expires: at `expire_time`, or `ttl` seconds after it is created;
    neither: the server's default (AGENT_SESSIONS_SESSION_TTL, unset: never)."""

    expire_time: datetime | None = None
    ttl: int | None = None


@dataclass(frozen=True, slots=True)
class NewSessionRow:
    """A session a write creates when it is missing (a batch's `create_session`): its text
    fields, whether it is active, its labels and when it expires (checked by the service)."""

    fields: SessionFields
    is_active: bool = True
    labels: dict[str, str] = field(default_factory=dict)
    retention: Retention | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: its items, the token of the next page ('' on the last) and the total."""

    items: list[T]
    next_page_token: str
    total_size: int


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens a turn's model calls used, summed over every call (all 0 for the mock)."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True, slots=True)
class PendingToolCall:
    """A caller-tool call a turn stopped at, waiting for its result."""

    tool_call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class TurnResult:
    """What a stored turn left in the session: the unary answer and the stream's `completed`."""

    session: Session
    response: str
    messages_count: int
    stored: list[Message] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    # "end_turn", or "tool_calls" when the turn waits for the results of `pending_tool_calls`.
    stop_reason: str = "end_turn"
    pending_tool_calls: list[PendingToolCall] = field(default_factory=list)
    turn_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class CallerTool:
    """A tool the caller declares in a conversation request and runs itself."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class TurnRequest:
    """A conversation request as received (the turn service checks it): the messages to store
    and, for a session the turn creates, its fields (a conversation sets no description)."""

    messages: list[NewMessage]
    session_id: str = ""
    session: SessionFields = field(default_factory=SessionFields)
    tools: list[CallerTool] = field(default_factory=list)
    # Its request id and the session `seq` it expects (a turn takes no etag).
    guard: Guard = UNGUARDED
    # "enqueue" (the default), "reject" or "interrupt": what to do while another turn runs.
    if_busy: str = "enqueue"
    # Run to the end even when the caller goes away.
    detach: bool = False


# What a turn does, in order: TurnStarted; TextDelta / ToolCall / ToolResult as the agent works
# (the agent's own events, passed on); then TurnStored and TurnCompleted once the whole turn is
# committed — or TurnFailed, after which nothing of the turn is stored.


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """The session is checked (or planned, for a new one) and the turn is accepted: it runs
    now, or waits its turn (TurnQueued follows)."""

    session_id: str
    session_uuid: uuid.UUID
    turn_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class TurnQueued:
    """The turn waits for earlier turns of its session; `position` 1 runs next."""

    turn_id: uuid.UUID
    position: int


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the assistant's text, in order; the pieces of a turn concatenate to its text."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model called a tool; `arguments` is the arguments' JSON text."""

    tool_call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool the server ran answered; `output` is its output as text."""

    tool_call_id: str
    name: str
    output: str


@dataclass(frozen=True, slots=True)
class TurnStored:
    """The turn is committed; `messages` are those the agent produced, in order, in the
    session with this `session_id`."""

    messages: list[Message]
    session_id: str = ""


@dataclass(frozen=True, slots=True)
class TurnCompleted:
    """The turn's outcome (after TurnStored)."""

    result: TurnResult


@dataclass(frozen=True, slots=True)
class TurnFailed:
    """The turn failed after it started; nothing of it was stored."""

    error: BaseException


TurnEvent = (
    TurnStarted
    | TurnQueued
    | TextDelta
    | ToolCall
    | ToolResult
    | TurnStored
    | TurnCompleted
    | TurnFailed
)


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """A turn as its row keeps it. `result`: a completed turn's record (the session, its
    messages and the answer); `error`: why one that stored nothing ended (errors.error_record).
    `expired`: its lease ran out (the replica that ran it is gone)."""

    turn_id: uuid.UUID
    session_id: str
    session_uuid: uuid.UUID
    status: str
    request_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    expired: bool = False

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")
