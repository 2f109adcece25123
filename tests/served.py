"""A real `agent-sessions serve` of a test's own: 2 workers, its metrics port, its log file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from agent_sessions.ops.health import wait_grpc_serving
from prometheus_client.parser import text_string_to_metric_families

from tests.support import SECRET, free_port

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class Served:
    """`agent-sessions serve` with two workers on free ports; stderr (every log line of the
    supervisor and its workers) goes to `log`."""

    def __init__(self, database_url: str, log: Path, **env: str) -> None:
        self.port = free_port()
        self.metrics_port = free_port()
        self.log = log
        self.env = {
            **os.environ,
            "AGENT_SESSIONS_DATABASE_URL": database_url,
            "AGENT_SESSIONS_JWT_SECRET": SECRET,
            "AGENT_SESSIONS_GRPC_PORT": str(self.port),
            "AGENT_SESSIONS_METRICS_PORT": str(self.metrics_port),
            "AGENT_SESSIONS_WORKERS": "2",
            "AGENT_SESSIONS_LOG_LEVEL": "WARNING",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Served:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "agent_sessions.cli", "serve"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_grpc_serving(f"127.0.0.1:{self.port}", process=self.process)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        assert self.process.wait(30) == 0, "serve must exit 0 on SIGTERM"

    def scrape(self) -> str:
        reply = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10)
        reply.raise_for_status()
        return reply.text

    def samples(self) -> Samples:
        """Every sample of a scrape, by name and sorted labels."""
        found: Samples = {}
        for family in text_string_to_metric_families(self.scrape()):
            for sample in family.samples:
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return found


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    """Polls `check()` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)
