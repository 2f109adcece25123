"""Typed exceptions for failed calls, built from the gRPC status and its `google.rpc` details."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

if TYPE_CHECKING:
    from agent_sessions_client.models import ConversationResult

__all__ = [
    "AbortedError",
    "AgentSessionsError",
    "AlreadyExistsError",
    "FailedPreconditionError",
    "FieldViolation",
    "InvalidArgumentError",
    "NotFoundError",
    "ResourceExhaustedError",
    "ToolRoundsExceeded",
    "UnauthenticatedError",
    "UnavailableError",
]


@dataclass(frozen=True)
class FieldViolation:
    """One invalid request field, from the status' `google.rpc.BadRequest` detail."""

    field: str
    description: str


class AgentSessionsError(Exception):
    """A call failed. Subclasses name the common status codes; other codes raise this class.

    Attributes:
        code: The gRPC status code.
        message: The server's human-readable message.
        reason: The machine-readable `google.rpc.ErrorInfo` reason (such as
            `SESSION_NOT_FOUND`), or None when the status carried no ErrorInfo.
        domain: The ErrorInfo's domain (`agentsessions.v1` for the service's own errors).
        metadata: The ErrorInfo's metadata (for example `{"field": "role"}`).
        field_violations: The fields a `google.rpc.BadRequest` detail names as invalid.
        retry_delay: Seconds to wait before trying again, from a `google.rpc.RetryInfo`
            detail (a rate-limited model sends one), or None.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str | None = None,
        domain: str | None = None,
        metadata: Mapping[str, str] | None = None,
        field_violations: Sequence[FieldViolation] = (),
        retry_delay: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata: Mapping[str, str] = MappingProxyType(dict(metadata or {}))
        self.field_violations: tuple[FieldViolation, ...] = tuple(field_violations)
        self.retry_delay = retry_delay

    def __str__(self) -> str:
        reason = f" [{self.reason}]" if self.reason else ""
        return f"{self.code.name}{reason}: {self.message}"


class NotFoundError(AgentSessionsError):
    """NOT_FOUND: the session or message does not exist for this caller."""


class AlreadyExistsError(AgentSessionsError):
    """ALREADY_EXISTS: the caller already has a session with this id."""


class InvalidArgumentError(AgentSessionsError):
    """INVALID_ARGUMENT: the request is wrong; `field_violations` names the fields."""


class UnauthenticatedError(AgentSessionsError):
    """UNAUTHENTICATED: no token, or a malformed, expired or wrongly signed one."""


class FailedPreconditionError(AgentSessionsError):
    """FAILED_PRECONDITION: the session's state refuses the call (an inactive session)."""


class AbortedError(AgentSessionsError):
    """ABORTED: a condition the call set no longer holds, and nothing was changed: the `etag`
    is not the current one (`ETAG_MISMATCH`), or the session's `seq` moved past `expected_seq`
    (`SESSION_CHANGED`). Read the current state and decide again."""


class UnavailableError(AgentSessionsError):
    """UNAVAILABLE: the service (or the agent) cannot answer now; retrying later may work."""


class ResourceExhaustedError(AgentSessionsError):
    """RESOURCE_EXHAUSTED: a limit was hit (`MODEL_RATE_LIMITED`); `retry_delay` says how long
    to wait when the model's API said so."""


class ToolRoundsExceeded(Exception):
    """`run_tools()` sent `max_rounds` rounds of tool results and the agent still calls tools.

    `result` is the last turn's result: its `pending_tool_calls` are stored and the session
    waits for their results (its next turn must answer them).
    """

    def __init__(self, max_rounds: int, result: ConversationResult) -> None:
        super().__init__(
            f"the agent still calls tools after {max_rounds} rounds of tool results (session "
            f"{result.session_id} waits for the results of "
            f"{', '.join(c.tool_call_id for c in result.pending_tool_calls)})"
        )
        self.max_rounds = max_rounds
        self.result = result


_CLASSES: Mapping[grpc.StatusCode, type[AgentSessionsError]] = {
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.ABORTED: AbortedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
}
_CODES_BY_NUMBER: Mapping[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}


def _error(code: grpc.StatusCode, message: str, details: Sequence[Any]) -> AgentSessionsError:
    """The exception for `code`, with what the `google.protobuf.Any` details say."""
    reason = domain = None
    metadata: dict[str, str] = {}
    violations: list[FieldViolation] = []
    retry_delay: float | None = None
    for detail in details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, domain, metadata = info.reason, info.domain, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            retry_delay = retry.retry_delay.ToMilliseconds() / 1000
    return _CLASSES.get(code, AgentSessionsError)(
        code,
        message,
        reason=reason,
        domain=domain,
        metadata=metadata,
        field_violations=violations,
        retry_delay=retry_delay,
    )


def error_from_status(status: status_pb2.Status) -> AgentSessionsError:
    """The exception for a `google.rpc.Status` (a Converse stream's `error` event)."""
    code = _CODES_BY_NUMBER.get(status.code, grpc.StatusCode.UNKNOWN)
    return _error(code, status.message, status.details)


def error_from_rpc(exc: grpc.RpcError) -> AgentSessionsError:
    """The exception for a failed call, reading `grpc-status-details-bin` when it is sent.

    `exc` is what grpc raises: a `grpc.Call` (sync) or `grpc.aio.AioRpcError`, both of which
    answer `code()`, `details()` and `trailing_metadata()` without blocking.
    """
    call: Any = exc
    try:
        status = rpc_status.from_call(call)
    except ValueError:  # details that contradict the status code are ignored, not trusted
        status = None
    if status is not None:
        return error_from_status(status)
    return _error(call.code(), call.details() or "", ())
