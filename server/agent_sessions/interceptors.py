"""Server interceptors: authentication, and the one place that maps exceptions to gRPC statuses."""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
import psycopg
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from psycopg_pool import PoolTimeout

from agent_sessions.auth import Caller, TokenVerifier
from agent_sessions.errors import DomainError, InvalidArgument, Unavailable

log = logging.getLogger(__name__)

ERROR_DOMAIN = "agentsessions.v1"
# Health checking and reflection are the only calls that need no token (CONTRACT §2).
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

_caller: contextvars.ContextVar[Caller] = contextvars.ContextVar("caller")

Behavior = Callable[..., Any]

if TYPE_CHECKING:  # generic only in grpc-stubs, not at run time
    _ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    _ServerInterceptor = grpc.aio.ServerInterceptor


def current_caller() -> Caller:
    """The authenticated caller of the call being handled."""
    return _caller.get()


def status_of(exc: DomainError) -> status_pb2.Status:
    """The google.rpc.Status for a domain error: an ErrorInfo, plus BadRequest for bad fields."""
    info = any_pb2.Any()
    info.Pack(
        error_details_pb2.ErrorInfo(reason=exc.reason, domain=ERROR_DOMAIN, metadata=exc.metadata)
    )
    details = [info]
    if isinstance(exc, InvalidArgument):
        bad = any_pb2.Any()
        bad.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=exc.field, description=exc.description
                    )
                ]
            )
        )
        details.append(bad)
    return status_pb2.Status(code=exc.code.value[0], message=exc.message, details=details)


def domain_error_of(exc: BaseException) -> DomainError:
    """Any exception as a DomainError; unexpected ones are logged and told apart by an id."""
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, (psycopg.OperationalError, PoolTimeout)):
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return Unavailable("the database is unavailable right now; retry in a few seconds")
    incident = uuid.uuid4().hex[:12]
    log.error("unexpected error (incident %s)", incident, exc_info=exc)
    error = DomainError(f"internal error (incident {incident}); the operators have the details")
    error.code = grpc.StatusCode.INTERNAL
    error.reason = "INTERNAL"
    return error


async def abort(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException) -> None:
    """Ends the call with the status of `exc`, details in `grpc-status-details-bin`."""
    status = rpc_status.to_status(status_of(domain_error_of(exc)))
    await context.abort_with_status(status)  # type: ignore[attr-defined]  # missing in grpc-stubs


class Undecodable:
    """Stands for a request whose bytes are not a valid message (for example invalid UTF-8)."""


def _tolerant(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """grpc answers INTERNAL when a request cannot be parsed; this lets us answer 400 instead."""
    if deserialize is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception:  # noqa: BLE001 - protobuf raises DecodeError and friends
            return Undecodable()

    return parse


def _undecodable_error() -> InvalidArgument:
    return InvalidArgument(
        "request", "is not a valid protobuf message (string fields must be valid UTF-8)"
    )


def _wrap(
    handler: grpc.RpcMethodHandler[Any, Any],
    around_unary: Callable[[Behavior], Behavior],
    around_stream: Callable[[Behavior], Behavior],
    tolerant: bool = False,
) -> grpc.RpcMethodHandler[Any, Any]:
    deserializer = handler.request_deserializer
    if tolerant:
        deserializer = _tolerant(deserializer)
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            around_unary(handler.unary_unary),
            request_deserializer=deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            around_stream(handler.unary_stream),
            request_deserializer=deserializer,
            response_serializer=handler.response_serializer,
        )
    return handler  # this API has no client-streaming calls


class _WrappingInterceptor(_ServerInterceptor):
    """Wraps each method's behaviour once and reuses the wrapped handler for every call.

    Building handlers per call cost more than the wrapping itself; nothing per call (metadata
    included) is captured, so one wrapped handler per method is enough.
    """

    tolerant = False

    def __init__(self) -> None:
        self._handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def unary(self, behavior: Behavior) -> Behavior:
        raise NotImplementedError

    def stream(self, behavior: Behavior) -> Behavior:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        method = handler_call_details.method
        wrapped = self._handlers.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None or method.startswith(PUBLIC_PREFIXES):
            return handler
        wrapped = _wrap(handler, self.unary, self.stream, tolerant=self.tolerant)
        self._handlers[method] = wrapped
        return wrapped


class ErrorInterceptor(_WrappingInterceptor):
    """Maps every exception a handler raises, in unary and streaming calls, to a gRPC status.

    It also parses requests tolerantly; AuthInterceptor (inside it) refuses an unparsable one
    as INVALID_ARGUMENT once the caller is authenticated.
    """

    tolerant = True

    def unary(self, behavior: Behavior) -> Behavior:
        async def mapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                return await behavior(request, context)
            except Exception as exc:  # noqa: BLE001 - this is the one place that maps them
                await abort(context, exc)

        return mapped

    def stream(self, behavior: Behavior) -> Behavior:
        async def mapped(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            try:
                async for item in behavior(request, context):
                    yield item
            except Exception as exc:  # noqa: BLE001
                await abort(context, exc)

        return mapped


def _authorization(context: grpc.aio.ServicerContext[Any, Any]) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str):
            return value
    return None


class AuthInterceptor(_WrappingInterceptor):
    """Verifies the bearer token of every call but health and reflection; sets the caller."""

    def __init__(self, verifier: TokenVerifier) -> None:
        super().__init__()
        self._verify = verifier.verify

    def _authenticate(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        # grpc.aio runs each call in its own task, so the value dies with the call.
        _caller.set(self._verify(_authorization(context)))
        if isinstance(request, Undecodable):
            raise _undecodable_error()

    def unary(self, behavior: Behavior) -> Behavior:
        async def authenticated(request: Any, context: Any) -> Any:
            self._authenticate(request, context)
            return await behavior(request, context)

        return authenticated

    def stream(self, behavior: Behavior) -> Behavior:
        async def authenticated(request: Any, context: Any) -> AsyncIterator[Any]:
            self._authenticate(request, context)
            async for item in behavior(request, context):
                yield item

        return authenticated
