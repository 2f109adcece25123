"""A gRPC proxy in front of the live service that loses answers on demand: it forwards a call,
lets the service store it, then answers the client UNAVAILABLE instead of the response (the
failure a retry with the same request id must survive)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio
from agentsessions.v1 import message_service_pb2, session_service_pb2
from google.protobuf import message_factory

if TYPE_CHECKING:  # generic only in grpc-stubs, not at run time
    Context = grpc.aio.ServicerContext[Any, Any]

_SERVICES = {
    service.full_name: service
    for module in (session_service_pb2, message_service_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
}
LOST = "the proxy lost the answer"
STREAMS = frozenset({"Converse", "ResumeTurn", "WatchSession"})


def _request_type(path: str) -> Any:
    """The request class of `/package.Service/Method`."""
    service, method = path.strip("/").split("/")
    return message_factory.GetMessageClass(_SERVICES[service].methods_by_name[method].input_type)


class LossyProxy:
    """Forwards every call to `upstream`, on a free port, in its own thread.

    `lose[method]` answers of `method` are lost after the service answered them: a unary call
    answers UNAVAILABLE, a stream is cut after `events_before_loss` events (0: before the first
    one) once the service sent all of them. `calls` counts the calls per method and `requests`
    keeps each (method, request) as the proxy received it.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = 0
        self.lose: Counter[str] = Counter()
        self.events_before_loss = 0
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[str, Any]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: grpc.aio.Server | None = None
        self._channel: grpc.aio.Channel | None = None

    def __enter__(self) -> LossyProxy:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def reset(self) -> None:
        self.lose.clear()
        self.events_before_loss = 0
        self.calls.clear()
        self.requests.clear()

    def request_ids(self, method: str) -> list[str]:
        """The request id of every call of `method`, in order."""
        return [r.request_id for m, r in self.requests if m == method]

    async def _start(self) -> int:
        self._channel = grpc.aio.insecure_channel(self.upstream)
        self._server = grpc.aio.server()
        self._server.add_generic_rpc_handlers((_Handler(self),))
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        return port

    async def _stop(self) -> None:
        assert self._server is not None and self._channel is not None
        await self._server.stop(0)
        await self._channel.close()

    def _received(self, path: str, request: bytes, context: Context) -> tuple[str, Any]:
        """Records the call; returns its method name and the metadata to forward."""
        method = path.rsplit("/", 1)[1]
        self.calls[method] += 1
        self.requests.append((method, _request_type(path).FromString(request)))
        forwarded = tuple(
            (key, value)
            for key, value in context.invocation_metadata() or ()
            if key == "authorization"
        )
        return method, forwarded

    def _losing(self, method: str) -> bool:
        if self.lose[method] > 0:
            self.lose[method] -= 1
            return True
        return False

    async def unary(self, path: str, request: bytes, context: Context) -> bytes:
        method, metadata = self._received(path, request, context)
        assert self._channel is not None
        try:
            response: bytes = await self._channel.unary_unary(path)(request, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            await context.abort(
                exc.code(),
                exc.details() or "",
                trailing_metadata=tuple(exc.trailing_metadata() or ()),
            )
        if self._losing(method):
            await context.abort(grpc.StatusCode.UNAVAILABLE, LOST)
        return response

    async def stream(self, path: str, request: bytes, context: Context) -> AsyncIterator[bytes]:
        method, metadata = self._received(path, request, context)
        assert self._channel is not None
        losing = self._losing(method)
        call = self._channel.unary_stream(path)(request, metadata=metadata)
        sent = 0
        try:
            async for event in call:
                if losing and sent == self.events_before_loss:
                    continue  # read on: the service finishes (and stores) the turn
                sent += 1
                yield event
        except grpc.aio.AioRpcError as exc:
            await context.abort(
                exc.code(),
                exc.details() or "",
                trailing_metadata=tuple(exc.trailing_metadata() or ()),
            )
        if losing:
            await context.abort(grpc.StatusCode.UNAVAILABLE, LOST)


class _Handler(grpc.GenericRpcHandler):
    """Every method: unary ones and the server streams, as raw bytes."""

    def __init__(self, proxy: LossyProxy) -> None:
        self.proxy = proxy

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        path: str = details.method  # type: ignore[attr-defined]  # not in grpc-stubs
        if path.rsplit("/", 1)[1] in STREAMS:
            # partial, not a lambda: grpc.aio runs a handler it cannot tell is async in a thread.
            return grpc.unary_stream_rpc_method_handler(partial(self.proxy.stream, path))
        return grpc.unary_unary_rpc_method_handler(partial(self.proxy.unary, path))
