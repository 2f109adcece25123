"""Readiness waits: the gRPC health check answers SERVING; REST without a token answers 401.

One probe per readiness signal and one polling rule, used by the CLI's supervisor (the `_async`
waits), the tests and the benchmark (the plain ones, which also notice a process that exited).
"""

from __future__ import annotations

import asyncio
import http.client
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

POLL_SECONDS = 0.1
PROBE_SECONDS = 1.0
REST_PATH = "/api/agent-sessions"

Probe = Callable[[], bool]


class NotReady(RuntimeError):
    """What was waited for was not ready in time, or its process exited first."""


class _GrpcServing:
    """One health check of the whole server (service "") per call: SERVING or not."""

    def __init__(self, target: str) -> None:
        self._channel = grpc.insecure_channel(target)
        self._stub = health_pb2_grpc.HealthStub(self._channel)

    def __call__(self) -> bool:
        try:
            reply = self._stub.Check(health_pb2.HealthCheckRequest(), timeout=PROBE_SECONDS)
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def __enter__(self) -> _GrpcServing:
        return self

    def __exit__(self, *_: object) -> None:
        self._channel.close()


def _rest_unauthorized(port: int) -> Probe:
    """A REST call without a token answers 401 once Envoy and the server behind it are both up."""

    def probe() -> bool:
        # http.client rather than urllib: a proxy from the environment must not answer for us.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_SECONDS)
        try:
            connection.request("GET", REST_PATH)
            return connection.getresponse().status == 401
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    return probe


def _attempts(what: str, timeout: float) -> Iterator[None]:
    """One item per attempt until `timeout` seconds have passed; then raises NotReady."""
    deadline = time.monotonic() + timeout
    while True:
        yield
        if time.monotonic() >= deadline:
            raise NotReady(f"{what} was not ready within {timeout:g} s")


def _wait(probe: Probe, what: str, timeout: float, process: subprocess.Popen[Any] | None) -> None:
    for _ in _attempts(what, timeout):
        if process is not None and process.poll() is not None:
            raise NotReady(f"{what}: its process exited with {process.returncode}")
        if probe():
            return
        time.sleep(POLL_SECONDS)


# The async waits take a deadline like the sync ones (rather than leaving it to asyncio.timeout)
# so that NotReady names what was not ready and for how long.
async def _wait_async(probe: Probe, what: str, timeout: float) -> None:  # noqa: ASYNC109
    for _ in _attempts(what, timeout):
        if await asyncio.to_thread(probe):
            return
        await asyncio.sleep(POLL_SECONDS)


def wait_grpc_serving(
    target: str, *, timeout: float = 60, process: subprocess.Popen[Any] | None = None
) -> None:
    """Blocks until the gRPC health check at `target` answers SERVING (or `process` exits)."""
    with _GrpcServing(target) as probe:
        _wait(probe, f"the gRPC server at {target}", timeout, process)


async def wait_grpc_serving_async(target: str, *, timeout: float = 60) -> None:  # noqa: ASYNC109
    """Waits until the gRPC health check at `target` answers SERVING."""
    with _GrpcServing(target) as probe:
        await _wait_async(probe, f"the gRPC server at {target}", timeout)


def wait_rest_ready(
    port: int, *, timeout: float = 30, process: subprocess.Popen[Any] | None = None
) -> None:
    """Blocks until REST on `port` answers 401 without a token (or `process`, Envoy, exits)."""
    _wait(_rest_unauthorized(port), f"REST on port {port}", timeout, process)


async def wait_rest_ready_async(port: int, *, timeout: float = 30) -> None:  # noqa: ASYNC109
    """Waits until REST on `port` answers 401 without a token: Envoy and the server are both up."""
    await _wait_async(_rest_unauthorized(port), f"REST on port {port}", timeout)
