"""The one error mapping: any exception to a google.rpc.Status with an ErrorInfo."""

from __future__ import annotations

import collections
import logging
import math
import uuid
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from agent_sessions.errors import DomainError, Internal, InvalidArgument

log = logging.getLogger(__name__)

ERROR_DOMAIN = "agentsessions.v1"


def _packed(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def grpc_code(exc: DomainError) -> grpc.StatusCode:
    """The gRPC status code a domain error names."""
    return grpc.StatusCode[exc.code]


def status_of(exc: DomainError) -> status_pb2.Status:
    """The google.rpc.Status for a domain error: an ErrorInfo, plus BadRequest for a bad field
    and RetryInfo when the error says when to retry."""
    details = [
        _packed(
            error_details_pb2.ErrorInfo(
                reason=exc.reason, domain=ERROR_DOMAIN, metadata=exc.metadata
            )
        )
    ]
    if isinstance(exc, InvalidArgument):
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=exc.field, description=exc.description
        )
        details.append(_packed(error_details_pb2.BadRequest(field_violations=[violation])))
    if exc.retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(max(0, round(exc.retry_after * 1000)))
        details.append(_packed(error_details_pb2.RetryInfo(retry_delay=delay)))
    return status_pb2.Status(code=grpc_code(exc).value[0], message=exc.message, details=details)


def domain_error_of(exc: BaseException) -> DomainError:
    """Any exception as a DomainError; unexpected ones are logged and told apart by an id."""
    if isinstance(exc, DomainError):
        return exc
    incident = uuid.uuid4().hex[:12]
    log.error(
        "unexpected error (incident %s)", incident, exc_info=exc, extra={"incident": incident}
    )
    return Internal(f"internal error (incident {incident}); the operators have the details")


def retry_after_header(seconds: float) -> str:
    """HTTP's Retry-After value for a delay: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


async def abort(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException) -> None:
    """Ends the call with the status of `exc`, details in `grpc-status-details-bin`.

    An error that says when to retry also gets a `retry-after` trailer (whole seconds): Envoy's
    transcoder passes an error's trailers on as the REST reply's headers, so a REST caller gets
    HTTP's Retry-After with the 503 (or 429) as a gRPC caller gets the RetryInfo."""
    error = domain_error_of(exc)
    status = rpc_status.to_status(status_of(error))
    if error.retry_after is not None:
        trailers = (("retry-after", retry_after_header(error.retry_after)),)
        status = _Status(status.code, status.details, (*status.trailing_metadata, *trailers))
    await context.abort_with_status(status)  # type: ignore[attr-defined]  # missing in grpc-stubs


class _Status(
    collections.namedtuple("_Status", ("code", "details", "trailing_metadata")), grpc.Status
):
    """A grpc.Status (what `abort_with_status` takes) with trailers of its own, as grpc_status
    makes them."""
