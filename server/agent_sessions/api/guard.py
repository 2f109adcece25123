"""Every call's guard: authentication, tolerant request parsing, and one mapping of any exception
to a status (api/status.py), wrapped around each method once, when the services are registered.

Why not grpc.aio interceptors: an interceptor runs per call, as a coroutine chain that resolves
the method handler again (`_run_interceptor`), and the wrapped behaviour then runs inside two more
coroutine layers. Wrapping each method once at registration does the same work with one layer
and no per-call handler lookup through interceptors.

Why generic handlers only: grpc.aio's accept loop waits, for every call, on one pending future per
*registered* method (`asyncio.wait` over all of them: ~20 with both services, health and
reflection); with generic handlers it waits on one. `Registrar` registers every service the
generated `add_*_to_server` functions hand it as a generic handler.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import grpc

from agent_sessions.api.status import abort, domain_error_of
from agent_sessions.auth import TokenVerifier
from agent_sessions.domain import Owner
from agent_sessions.errors import InvalidArgument
from agent_sessions.logs import CALL, CallInfo
from agent_sessions.metrics import OPEN_STREAMS, CallMeter

log = logging.getLogger(__name__)

# Health checking and reflection are the only services that need no token.
PUBLIC_SERVICES = frozenset(
    (
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    )
)

_caller: contextvars.ContextVar[Owner] = contextvars.ContextVar("caller")

Behavior = Callable[..., Any]
if TYPE_CHECKING:  # generic only in grpc-stubs, not at run time
    Context = grpc.aio.ServicerContext[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]


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


def _authorization(context: Context) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str):
            return value
    return None


def _finished(meter: CallMeter, code: str, started: float, method: str) -> None:
    """Counts a call that ended with status `code` (and logs it at DEBUG)."""
    seconds = time.perf_counter() - started
    meter.leave()
    meter.handled(code)(1)
    meter.observe(seconds)
    if log.isEnabledFor(logging.DEBUG):
        duration = round(seconds, 6)
        log.debug(
            "call %s ended with %s after %.6f s",
            method,
            code,
            duration,
            extra={"code": code, "duration": duration},
        )


class Guard:
    """Wraps a method's behaviour: verify the bearer token and set the caller, refuse an
    unparsable request as INVALID_ARGUMENT (only once the caller is authenticated), and end the
    call with the status of whatever it raises, in unary and streaming calls alike. It also
    counts each call (started, handled by code, duration, in flight: metrics.py) and names it
    for the log lines written while it runs (logs.py).

    Counting costs a few increments of mmap'd values per call (the labelled metrics are looked
    up once per method, in `CallMeter`); a call cancelled by its client counts as CANCELLED."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verify = verifier.verify

    def _authenticate(self, request: Any, context: Context) -> None:
        # grpc.aio runs each call in its own task, so the value dies with the call.
        _caller.set(self._verify(_authorization(context)))
        if isinstance(request, Undecodable):
            raise InvalidArgument(
                "request", "is not a valid protobuf message (string fields must be valid UTF-8)"
            )

    def unary(self, behavior: Behavior, service: str = "", method: str = "") -> Behavior:
        authenticate = self._authenticate
        meter = CallMeter("unary", service, method)
        full_name = f"/{service}/{method}"

        async def guarded(request: Any, context: Context) -> Any:
            meter.start(1)
            meter.enter()
            started = time.perf_counter()
            CALL.set(CallInfo(full_name, context.invocation_metadata))
            code = "CANCELLED"  # unless it ends otherwise: only cancellation skips both below
            try:
                authenticate(request, context)
                result = await behavior(request, context)
                code = "OK"
                return result
            except Exception as exc:  # noqa: BLE001 - this is the one place that maps them
                error = domain_error_of(exc)
                code = error.code
                await abort(context, error)
            finally:
                _finished(meter, code, started, full_name)

        return guarded

    def stream(self, behavior: Behavior, service: str = "", method: str = "") -> Behavior:
        authenticate = self._authenticate
        meter = CallMeter("server_stream", service, method)
        full_name = f"/{service}/{method}"

        async def guarded(request: Any, context: Context) -> AsyncIterator[Any]:
            meter.start(1)
            meter.enter()
            OPEN_STREAMS.inc()
            started = time.perf_counter()
            CALL.set(CallInfo(full_name, context.invocation_metadata))
            code = "CANCELLED"
            try:
                authenticate(request, context)
                async for item in behavior(request, context):
                    yield item
                code = "OK"
            except Exception as exc:  # noqa: BLE001
                error = domain_error_of(exc)
                code = error.code
                await abort(context, error)
            finally:
                OPEN_STREAMS.dec()
                _finished(meter, code, started, full_name)

        return guarded

    def handler(self, handler: Handler, service: str = "", method: str = "") -> Handler:
        """The method handler with its behaviour guarded and its request parsed tolerantly;
        `service` and `method` name it in metrics and logs."""
        deserialize = _tolerant(handler.request_deserializer)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self.unary(handler.unary_unary, service, method),
                request_deserializer=deserialize,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self.stream(handler.unary_stream, service, method),
                request_deserializer=deserialize,
                response_serializer=handler.response_serializer,
            )
        raise ValueError("this API has no client-streaming calls")


class Registrar:
    """What the generated `add_*_to_server(servicer, server)` functions are given instead of the
    server: each service they register becomes one generic handler on the real server, its
    methods guarded unless the service is public (health, reflection)."""

    def __init__(self, server: grpc.aio.Server, guard: Guard) -> None:
        self._server = server
        self._guard = guard

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        """Ignored: the generated code hands the same methods to add_registered_method_handlers."""

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Handler]) -> None:
        if service not in PUBLIC_SERVICES:
            handlers = {name: self._guard.handler(h, service, name) for name, h in handlers.items()}
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, handlers),)
        )
