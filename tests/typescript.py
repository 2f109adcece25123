"""The TypeScript client's folder and its npm: installs its node_modules for any test that needs
them, so no test depends on another test (or on `make lint`) having installed them first."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

CLIENT = Path(__file__).resolve().parent.parent / "clients" / "typescript"

QUIET_NPM = {
    "NO_COLOR": "1",
    "npm_config_update_notifier": "false",
    "npm_config_fund": "false",
    "npm_config_audit": "false",
}

_installing = threading.Lock()


def npm() -> str:
    found = shutil.which("npm")
    assert found, (
        "npm is required to test the TypeScript client in clients/typescript: install Node.js 20+ "
        "(with npm) and run the tests again"
    )
    return found


def run(command: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> None:
    """Runs a command in clients/typescript; fails the test with its output if it fails."""
    result = subprocess.run(
        command,
        cwd=CLIENT,
        env={**os.environ, **QUIET_NPM, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"`{' '.join(command[1:])}` in clients/typescript exited {result.returncode}:\n"
        f"{result.stdout}"
    )


def installed() -> bool:
    """Whether node_modules exists and is at least as new as package-lock.json."""
    marker = CLIENT / "node_modules" / ".package-lock.json"
    lock = CLIENT / "package-lock.json"
    return marker.is_file() and marker.stat().st_mtime >= lock.stat().st_mtime


def ensure_installed() -> None:
    """`npm ci` in clients/typescript unless its node_modules are current."""
    with _installing:
        if not installed():
            run([npm(), "ci", "--loglevel=error"])
