"""The domain's exceptions; each carries its gRPC status code and a machine-readable reason."""

from __future__ import annotations

import grpc


class DomainError(Exception):
    """A failure the caller can act on. The message is safe to show: no SQL, no internals."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    reason: str = "INTERNAL"

    def __init__(
        self, message: str, *, reason: str | None = None, metadata: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata = metadata or {}


class InvalidArgument(DomainError):
    """The request itself is wrong; `field` names the offending field."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, message: str, *, reason: str | None = None) -> None:
        super().__init__(f"{field}: {message}", reason=reason, metadata={"field": field})
        self.field = field
        self.description = message


class Unauthenticated(DomainError):
    """No usable bearer token."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class NotFound(DomainError):
    """The resource does not exist for this caller (another user's resource looks the same)."""

    code = grpc.StatusCode.NOT_FOUND
    reason = "NOT_FOUND"


class AlreadyExists(DomainError):
    """A resource with this id already exists for this caller."""

    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"


class FailedPrecondition(DomainError):
    """The resource is not in a state that allows the call."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "FAILED_PRECONDITION"


class AgentFailed(DomainError):
    """The agent could not produce a reply; nothing of the turn was stored."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "AGENT_FAILED"


class Unavailable(DomainError):
    """A dependency (the database) cannot be reached right now; retrying later may succeed."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "UNAVAILABLE"
