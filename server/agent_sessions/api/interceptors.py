"""Server interceptors: authentication, and mapping every exception to a status (api/status.py)."""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc

from agent_sessions.api.status import abort
from agent_sessions.auth import TokenVerifier
from agent_sessions.domain import Owner
from agent_sessions.errors import InvalidArgument

# Health checking and reflection are the only calls that need no token (CONTRACT §2).
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

_caller: contextvars.ContextVar[Owner] = contextvars.ContextVar("caller")

Behavior = Callable[..., Any]

if TYPE_CHECKING:  # generic only in grpc-stubs, not at run time
    _ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    _ServerInterceptor = grpc.aio.ServerInterceptor


def current_owner() -> Owner:
    """The authenticated caller of the call being handled: whose data it may touch."""
    return _caller.get()


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
