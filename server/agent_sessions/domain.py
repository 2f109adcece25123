"""Typed values passed between the layers: what is stored, what is asked for, what a turn did."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# The roles a message may have, in the order of the API's Role enum (1-based there).
ROLES = ("user", "assistant", "system", "tool")


@dataclass(frozen=True, slots=True)
class Owner:
    """The authenticated user whose data a call may touch."""

    user_id: uuid.UUID
    subject: str


@dataclass(slots=True)
class Session:
    """A stored session (an agent's configuration owned by a user)."""

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


# What a turn does, in order: TurnStarted; TextDelta / ToolCall / ToolResult as the agent works
# (the agent's own events, passed on); then TurnStored and TurnCompleted once the whole turn is
# committed — or TurnFailed, after which nothing of the turn is stored.


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """The session is checked (or planned, for a new one) and the agent starts."""

    session_id: str
    session_uuid: uuid.UUID


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
    """The turn is committed; `messages` are those the agent produced, in order."""

    messages: list[Message]


@dataclass(frozen=True, slots=True)
class TurnCompleted:
    """The turn's outcome (after TurnStored)."""

    result: TurnResult


@dataclass(frozen=True, slots=True)
class TurnFailed:
    """The turn failed after it started; nothing of it was stored."""

    error: BaseException


TurnEvent = (
    TurnStarted | TextDelta | ToolCall | ToolResult | TurnStored | TurnCompleted | TurnFailed
)
