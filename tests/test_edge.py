"""The public edge: Envoy's admin only on a private Unix socket, timeouts against slow and idle
clients, a cap on HTTP/2 streams, no x-envoy-* overrides from clients, and active gRPC health
checks of the servers behind it. Real Envoy, in front of small real gRPC servers."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import yaml
from agent_sessions.ops import envoy
from agentsessions.v1 import session_service_pb2 as spb
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tests.support import ThreadServer, channel_to, free_port, token
from tests.support import client as grpc_client

PATH = "/api/agent-sessions/s1"
GET_SESSION = "/agentsessions.v1.SessionService/GetSession"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

Config = dict[str, Any]


class Upstream:
    """A real gRPC server with health checking whose GetSession takes `delay` seconds, answers
    an empty Session and counts its calls: which server Envoy routed to, and when. Its Converse
    sends two empty events, each after `delay` seconds of quiet."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0
        self._lock = threading.Lock()
        self.health = health.HealthServicer()
        self.server = grpc.server(futures.ThreadPoolExecutor(8))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        methods = {  # bytes in, bytes out
            "GetSession": grpc.unary_unary_rpc_method_handler(self._get_session),
            "Converse": grpc.unary_stream_rpc_method_handler(self._converse),
        }
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("agentsessions.v1.SessionService", methods),)
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.health.set("", SERVING)

    def _get_session(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        return b""

    def _converse(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        for _ in range(2):
            time.sleep(self.delay)
            yield b""

    def stop(self) -> None:
        self.server.stop(0)


def manager(config: Config) -> Config:
    typed: Config = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0][
        "typed_config"
    ]
    return typed


def routes(config: Config) -> list[Config]:
    found: list[Config] = manager(config)["route_config"]["virtual_hosts"][0]["routes"]
    return found


@contextmanager
def edge(
    tmp: Path, upstreams: list[int], tweak: Callable[[Config], None] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """A real Envoy from the rendered config in front of these gRPC ports, after `tweak` edits
    the config (short timeouts keep tests short); yields it when its admin says it is ready."""
    http_port = free_port()
    path = envoy.write_config(tmp / "envoy.yaml", http_port, upstreams[0])
    config: Config = yaml.safe_load(path.read_text())
    endpoints = config["static_resources"]["clusters"][0]["load_assignment"]["endpoints"][0]
    endpoints["lb_endpoints"] = [
        {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": p}}}}
        for p in upstreams
    ]
    if tweak is not None:
        tweak(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    process = envoy.start(path, log_level="error")
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "Envoy exited"
            try:
                if envoy.admin_get(path, "/ready", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "Envoy was not ready within 30 s"
            time.sleep(0.05)
        yield process, http_port, path
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.stop()


def get(port: int, **headers: str) -> httpx.Response:
    return httpx.get(
        f"http://127.0.0.1:{port}{PATH}",
        headers={"authorization": f"Bearer {token('edge')}", **headers},
        timeout=10,
    )


def listening_tcp_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on, from /proc (IPv4 and IPv6)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_admin_is_a_private_unix_socket_not_a_tcp_port(tmp_path: Path, upstream: Upstream) -> None:
    with edge(tmp_path, [upstream.port]) as (process, http_port, path):
        sock = envoy.admin_socket(path)
        assert stat.S_ISSOCK(sock.stat().st_mode)
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        status, body = envoy.admin_get(path, "/server_info")
        assert status == 200 and b'"state": "LIVE"' in body
        # The only TCP port Envoy listens on is the API's: no admin port (9901 or another).
        assert listening_tcp_ports(process.pid) == {http_port}


def test_clients_that_trickle_headers_are_closed(tmp_path: Path, upstream: Upstream) -> None:
    def tweak(config: Config) -> None:
        manager(config)["request_headers_timeout"] = "1s"

    with edge(tmp_path, [upstream.port], tweak) as (_, http_port, _path):
        sockets = [socket.create_connection(("127.0.0.1", http_port)) for _ in range(50)]
        request = b"GET /api/agent-sessions HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
        open_ = set(range(50))
        started = time.monotonic()
        for sent in range(len(request)):
            for i in list(open_):
                try:
                    sockets[i].send(request[sent : sent + 1])
                    sockets[i].settimeout(0)
                    if sockets[i].recv(4096, socket.MSG_PEEK) == b"":
                        open_.discard(i)
                except BlockingIOError:
                    pass  # still open, nothing to read
                except OSError:
                    open_.discard(i)  # reset by Envoy
            if not open_ or time.monotonic() - started > 8:
                break
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        for s in sockets:
            s.close()
        assert not open_, f"{len(open_)} of 50 slow clients still connected after {elapsed:.1f} s"
        assert elapsed < 5


def test_idle_connections_are_closed(tmp_path: Path, upstream: Upstream) -> None:
    def tweak(config: Config) -> None:
        manager(config)["common_http_protocol_options"]["idle_timeout"] = "1s"
        manager(config)["drain_timeout"] = "0.5s"  # after the idle timeout, before the close

    with edge(tmp_path, [upstream.port], tweak) as (_, http_port, _path):
        s = socket.create_connection(("127.0.0.1", http_port), timeout=10)
        s.sendall(f"GET {PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        started = time.monotonic()
        received = b""
        while chunk := s.recv(65536):  # the reply, then the close
            received += chunk
        s.close()
        assert received.startswith(b"HTTP/1.1 200")
        assert time.monotonic() - started < 5


def test_unary_calls_have_a_deadline(tmp_path: Path) -> None:
    def tweak(config: Config) -> None:
        routes(config)[-1]["route"]["timeout"] = "1s"

    slow = Upstream(delay=3)
    try:
        with edge(tmp_path, [slow.port], tweak) as (_, http_port, _path):
            started = time.monotonic()
            reply = get(http_port)
            assert reply.status_code == 504, reply.text
            assert reply.json()["details"][0]["reason"] == "TIMEOUT"
            assert time.monotonic() - started < 2.5
    finally:
        slow.stop()


def test_streams_may_be_quiet_longer_than_other_calls(tmp_path: Path) -> None:
    """With calls ended after 1 s of quiet, a Converse stream quiet for 1.5 s between events
    still completes, over REST (SSE) and gRPC; a unary call that long is ended."""

    def tweak(config: Config) -> None:
        manager(config)["stream_idle_timeout"] = "1s"

    quiet = Upstream(delay=1.5)
    try:
        with edge(tmp_path, [quiet.port], tweak) as (_, http_port, _path):
            reply = httpx.post(
                f"http://127.0.0.1:{http_port}/api/agent-sessions/conversation:stream",
                headers={"authorization": f"Bearer {token('edge')}"},
                json={"messages": [{"role": "user", "content": "hi"}]},
                timeout=10,
            )
            assert reply.status_code == 200, reply.text
            assert reply.text.count("data: ") == 2, reply.text
            with grpc.insecure_channel(f"127.0.0.1:{http_port}") as channel:
                converse = channel.unary_stream("/agentsessions.v1.SessionService/Converse")
                assert list(converse(b"", timeout=10)) == [b"", b""]
            started = time.monotonic()
            unary = get(http_port)
            assert unary.status_code in (408, 504), unary.text
            assert time.monotonic() - started < 1.4
    finally:
        quiet.stop()


def test_streams_keep_long_deadlines(tmp_path: Path) -> None:
    """The Converse stream, REST and gRPC, has no overall deadline and may be quiet for an hour;
    everything else has 5 minutes, quiet or not."""
    config: Config = yaml.safe_load(
        envoy.write_config(tmp_path / "envoy.yaml", free_port(), free_port()).read_text()
    )
    streams = [r for r in routes(config) if r["route"].get("idle_timeout") == "3600s"]
    assert [r["match"] for r in streams] == [
        {"prefix": "/api/agent-sessions/conversation:stream"},
        {"path": "/agentsessions.v1.SessionService/Converse"},
    ]
    assert all(r["route"]["timeout"] == "0s" for r in streams)
    assert routes(config)[-1] == {
        "match": {"prefix": "/"},
        "route": {"cluster": "grpc_server", "timeout": "300s"},
    }
    assert manager(config)["stream_idle_timeout"] == "300s"
    assert manager(config)["request_headers_timeout"] == "10s"


def _settings_frame(data: bytes) -> dict[int, int]:
    values = {}
    for at in range(0, len(data), 6):
        key, value = struct.unpack(">HI", data[at : at + 6])
        values[key] = value
    return values


def test_one_http2_connection_carries_at_most_100_streams(
    tmp_path: Path, upstream: Upstream
) -> None:
    with (
        edge(tmp_path, [upstream.port]) as (_, http_port, _path),
        socket.create_connection(("127.0.0.1", http_port), timeout=10) as s,
    ):
        # The h2c preface and an empty SETTINGS frame; Envoy answers with its SETTINGS.
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
        header = b""
        while len(header) < 9:
            header += s.recv(9 - len(header))
        length, kind = int.from_bytes(header[:3], "big"), header[3]
        assert kind == 4, "Envoy's first frame is SETTINGS"
        payload = b""
        while len(payload) < length:
            payload += s.recv(length - len(payload))
    assert _settings_frame(payload)[3] == 100  # SETTINGS_MAX_CONCURRENT_STREAMS


def test_clients_cannot_override_timeouts_or_retries(tmp_path: Path) -> None:
    slow = Upstream(delay=0.3)
    try:
        with edge(tmp_path, [slow.port]) as (_, http_port, _path):
            # Honoured, this header would end the call after 1 ms with 504.
            reply = get(http_port, **{"x-envoy-upstream-rq-timeout-ms": "1"})
            assert reply.status_code == 200, reply.text
            with grpc.insecure_channel(f"127.0.0.1:{http_port}") as channel:
                call = channel.unary_unary(GET_SESSION)
                metadata = (("x-envoy-upstream-rq-timeout-ms", "1"),)
                assert call(b"", metadata=metadata, timeout=10) == b""
            calls = slow.calls
            # Honoured, these would make Envoy retry a failed call three times.
            slow.delay = 0
            reply = get(
                http_port,
                **{
                    "x-envoy-max-retries": "3",
                    "x-envoy-retry-on": "5xx,reset,retriable-status-codes",
                },
            )
            assert reply.status_code == 200 and slow.calls == calls + 1
    finally:
        slow.stop()


def _routed_to(http_port: int, servers: list[Upstream], calls: int = 20) -> list[int]:
    """How many of `calls` REST calls each server got."""
    before = [s.calls for s in servers]
    for _ in range(calls):
        assert get(http_port).status_code == 200
    return [s.calls - b for s, b in zip(servers, before, strict=True)]


def _until(condition: Callable[[], bool], within: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within, f"{what} within {within} s"
        time.sleep(0.1)
    return time.monotonic() - started


def test_envoy_stops_routing_to_a_server_that_is_not_serving(tmp_path: Path) -> None:
    a, b = Upstream(), Upstream()
    try:
        with edge(tmp_path, [a.port, b.port]) as (_, http_port, _path):
            # A healthy start: both servers take calls at once.
            assert all(_routed_to(http_port, [a, b]))
            a.health.set("", NOT_SERVING)
            _until(lambda: _routed_to(http_port, [a, b], 10)[0] == 0, 6, "a left out")
            assert _routed_to(http_port, [a, b], 40) == [0, 40]
            a.health.set("", SERVING)
            _until(lambda: _routed_to(http_port, [a, b], 10)[0] > 0, 6, "a back")
            # With none serving, callers get UNAVAILABLE from Envoy at once.
            a.health.set("", NOT_SERVING)
            b.health.set("", NOT_SERVING)
            _until(lambda: get(http_port).status_code == 503, 6, "503")
            reply = get(http_port)
            assert reply.json()["code"] == grpc.StatusCode.UNAVAILABLE.value[0]
    finally:
        a.stop()
        b.stop()


def _set_health(server: ThreadServer, status: int) -> None:
    """What the server reports for itself (service ""), set on its own event loop."""
    running: Any = server._running  # noqa: SLF001 - the test flips the real servicer
    asyncio.run_coroutine_threadsafe(running.health.set("", status), server._loop).result(10)  # noqa: SLF001


def test_envoy_stops_routing_to_the_real_server_when_not_serving(
    tmp_path: Path, settings: Any
) -> None:
    with ThreadServer(settings) as server, edge(tmp_path, [server.port]) as (_, http_port, _path):

        def listed() -> int:
            return httpx.get(
                f"http://127.0.0.1:{http_port}/api/agent-sessions",
                headers={"authorization": f"Bearer {token('edge-health')}"},
                timeout=10,
            ).status_code

        assert listed() == 200
        _set_health(server, NOT_SERVING)
        _until(lambda: listed() == 503, 6, "Envoy to stop routing to the server")
        # The server itself still answers: Envoy, not the server, refuses the calls.
        with channel_to(server.port) as channel:
            assert grpc_client(channel).s("ListSessions", spb.ListSessionsRequest()).sessions == []
        _set_health(server, SERVING)
        _until(lambda: listed() == 200, 6, "Envoy to route to the server again")
