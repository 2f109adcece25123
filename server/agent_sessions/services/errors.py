"""The user-facing refusals the services share, each with what to do next."""

from __future__ import annotations

import uuid

from agent_sessions.errors import Aborted, AlreadyExists, FailedPrecondition, NotFound


def session_not_found(session_id: str) -> NotFound:
    return NotFound(
        f"session {session_id!r} not found; list your sessions with GET /api/agent-sessions",
        reason="SESSION_NOT_FOUND",
        metadata={"session_id": session_id},
    )


def turn_not_found(session_id: str, turn_id: uuid.UUID) -> NotFound:
    return NotFound(
        f"turn {turn_id} not found in session {session_id!r}; a turn is found from its "
        "`started` event on, for as long as request ids are kept",
        reason="TURN_NOT_FOUND",
        metadata={"session_id": session_id, "turn_id": str(turn_id)},
    )


def message_not_found(message_id: uuid.UUID) -> NotFound:
    return NotFound(
        f"message {message_id} not found in this session",
        reason="MESSAGE_NOT_FOUND",
        metadata={"message_id": str(message_id)},
    )


def session_exists(session_id: str) -> AlreadyExists:
    return AlreadyExists(
        f"session {session_id!r} already exists; choose another session_id or "
        "update the existing session with PATCH",
        reason="SESSION_ALREADY_EXISTS",
        metadata={"session_id": session_id},
    )


def session_inactive(session_id: str) -> FailedPrecondition:
    """The refusal of a conversation turn in an inactive session."""
    return FailedPrecondition(
        f"session {session_id!r} is inactive; activate it with "
        f"PUT /api/agent-sessions/{session_id}/activate to continue the conversation",
        reason="SESSION_INACTIVE",
        metadata={"session_id": session_id},
    )


def splits_tool_call(message_id: uuid.UUID) -> FailedPrecondition:
    """The refusal of a fork or rewind that would end between a tool call and its result."""
    return FailedPrecondition(
        f"message {message_id} is a tool call (or a result among several) whose result comes "
        "after it: a fork or rewind must not end between a tool call and its result; choose the "
        "message with the last result, or the message before the call",
        reason="SPLITS_TOOL_CALL",
        metadata={"message_id": str(message_id)},
    )


def session_busy(session_id: str, turn_id: uuid.UUID | None, advice: str) -> Aborted:
    """The session runs (or queues) a turn that a call may not run beside."""
    return Aborted(
        f"session {session_id!r} is running a turn ({turn_id or 'starting'}); {advice}",
        reason="SESSION_BUSY",
        metadata={"session_id": session_id, "turn_id": str(turn_id or "")},
    )
