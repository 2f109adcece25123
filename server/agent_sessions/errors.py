"""The domain's exceptions; each names its status (a gRPC code name) and a machine-readable reason.

No layer below the API imports grpc: the code is a plain name here, and `api/status.py` turns it
into a gRPC status with an `ErrorInfo` in the one error mapping.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """A failure the caller can act on. The message is safe to show: no SQL, no internals."""

    code: ClassVar[str] = "INTERNAL"
    reason: str = "INTERNAL"
    # Seconds after which a retry may succeed, when known: a RetryInfo in the status.
    retry_after: float | None = None

    def __init__(
        self, message: str, *, reason: str | None = None, metadata: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata = metadata or {}


class Internal(DomainError):
    """Something went wrong that the caller cannot fix; the log has the incident."""

    code = "INTERNAL"
    reason = "INTERNAL"


class InvalidArgument(DomainError):
    """The request itself is wrong; `field` names the offending field."""

    code = "INVALID_ARGUMENT"
    reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, message: str, *, reason: str | None = None) -> None:
        super().__init__(f"{field}: {message}", reason=reason, metadata={"field": field})
        self.field = field
        self.description = message


class Unauthenticated(DomainError):
    """No usable bearer token."""

    code = "UNAUTHENTICATED"
    reason = "UNAUTHENTICATED"


class NotFound(DomainError):
    """The resource does not exist for this caller (another user's resource looks the same)."""

    code = "NOT_FOUND"
    reason = "NOT_FOUND"


class AlreadyExists(DomainError):
    """A resource with this id already exists for this caller."""

    code = "ALREADY_EXISTS"
    reason = "ALREADY_EXISTS"


class FailedPrecondition(DomainError):
    """The resource is not in a state that allows the call."""

    code = "FAILED_PRECONDITION"
    reason = "FAILED_PRECONDITION"


class Aborted(DomainError):
    """The call conflicts with a concurrent change (an etag or seq the caller expected moved on);
    read again and retry with the new value."""

    code = "ABORTED"
    reason = "ABORTED"


class ResourceExhausted(DomainError):
    """A quota or rate limit was hit; `retry_after` (seconds) says when to try again, if known."""

    code = "RESOURCE_EXHAUSTED"
    reason = "RESOURCE_EXHAUSTED"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A dependency (the database, the model) cannot be reached right now; retrying may succeed
    (after `retry_after` seconds, when known)."""

    code = "UNAVAILABLE"
    reason = "UNAVAILABLE"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        if retry_after is not None:
            self.retry_after = retry_after


class DatabaseUnavailable(Unavailable):
    """PostgreSQL cannot be reached right now, or the connection to it was lost during the call
    at a point where the service could not safely send the statement again, or the server it
    reached accepts no writes (a standby, during a failover). A retry after about a second may
    find it, or its new primary, again."""

    reason = "DATABASE_UNAVAILABLE"
    retry_after = 1.0


class AgentFailed(Unavailable):
    """The agent could not produce a reply; nothing of the turn was stored."""

    reason = "AGENT_FAILED"


# -- The model's API. Caught together as ModelError, e.g. to log a failed turn. -----


class ModelError(DomainError):
    """The model's API failed the turn. Subclasses also derive from the status they map to."""


class ModelUnavailable(ModelError, Unavailable):
    """The model's API is unreachable, timed out, failed (5xx) or broke off its answer."""

    reason = "MODEL_UNAVAILABLE"


class ModelAuthFailed(ModelError, Unavailable):
    """The model's API refused the service's own key: the operator's setting, not the caller."""

    reason = "MODEL_AUTH_FAILED"


class ModelRateLimited(ModelError, ResourceExhausted):
    """The model's API is rate limiting the service; `retry_after` is its delay when it gave one."""

    reason = "MODEL_RATE_LIMITED"


class ModelNotFound(ModelError, FailedPrecondition):
    """The session's model is unknown to the model's API."""

    reason = "MODEL_NOT_FOUND"


class ContextTooLong(ModelError, FailedPrecondition):
    """The turn's own messages (with the instructions) do not fit the model's context; earlier
    messages are left out of the request before this is raised."""

    reason = "CONTEXT_TOO_LONG"


class ModelRejectedRequest(ModelError, FailedPrecondition):
    """The model's API refused the turn's request for another reason it stated (a 4xx)."""

    reason = "MODEL_REJECTED_REQUEST"


class ModelCallLimit(ModelError, ResourceExhausted):
    """The agent made the most model calls a turn may make without finishing the turn."""

    reason = "MODEL_CALL_LIMIT"


# -- Server tools. ------------------------------------------------------------------


class ToolUnavailable(Unavailable):
    """A tool server the turn needs (an MCP server of AGENT_SESSIONS_MCP_SERVERS) cannot be
    reached right now; nothing of the turn was stored and retrying may succeed."""

    reason = "TOOL_UNAVAILABLE"


class ToolNameConflict(FailedPrecondition):
    """Two tool servers a session may use offer tools of one name, which the model could not
    tell apart; the session's `server_tools` can choose between them."""

    reason = "TOOL_NAME_CONFLICT"


# -- Live turns. -----


class Cancelled(DomainError):
    """The turn was cancelled (CancelTurn, an interrupting turn, or its caller going away)."""

    code = "CANCELLED"
    reason = "CANCELLED"


class TurnLost(Aborted):
    """The replica that ran the turn stopped renewing its lease (it died); nothing was stored."""

    reason = "TURN_LOST"


class RecordedError(DomainError):
    """An error as a turn's row keeps it (see `error_record`), told again to a later reader."""

    def __init__(
        self, code: str, message: str, *, reason: str, metadata: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.code = code  # type: ignore[misc]  # per instance: whatever the recorded code was


def error_record(exc: DomainError) -> dict[str, object]:
    """A domain error as JSON for a turn's row."""
    return {
        "code": exc.code,
        "message": exc.message,
        "reason": exc.reason,
        "metadata": dict(exc.metadata),
    }


def recorded_error(record: dict[str, object]) -> RecordedError:
    """The error a turn's row keeps."""
    metadata = record.get("metadata") or {}
    return RecordedError(
        str(record["code"]),
        str(record["message"]),
        reason=str(record["reason"]),
        metadata={str(k): str(v) for k, v in dict(metadata).items()},  # type: ignore[call-overload]
    )
