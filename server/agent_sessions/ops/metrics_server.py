"""/metrics of a `serve` or `run`: the workers' metrics summed, served by the supervisor.

Each start makes a fresh directory for prometheus-client's multiprocess mode and hands it to its
workers (PROMETHEUS_MULTIPROC_DIR); each worker keeps its values in mmap'd files there, and the
supervisor's HTTP server (a thread) sums the files at every scrape. A fresh directory per start
keeps a previous run's counts out; it is removed at the stop. The supervisor adds what only it
knows: how often it replaced a worker that died.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, multiprocess, start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from agent_sessions.settings import PREFIX, Settings

log = logging.getLogger(__name__)

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


class WorkerRestarts(Collector):
    """`agent_sessions_worker_restarts_total`: workers the supervisor started in place of one
    that died. Kept in the supervisor's memory (it is no worker), read at each scrape."""

    def __init__(self) -> None:
        self.count = 0

    def inc(self) -> None:
        self.count += 1

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "agent_sessions_worker_restarts",
            "Worker processes started in place of one that died.",
            value=self.count,
        )


@dataclass
class MetricsServer:
    """The multiprocess directory of one start and, unless disabled or its port is taken, the
    HTTP server serving what the workers wrote there."""

    directory: Path
    server: Any = None
    port: int = 0
    restarts: WorkerRestarts = field(default_factory=WorkerRestarts)

    def worker_died(self, pid: int, code: int) -> None:
        """A worker died: its live gauges leave the sums (its counters stay, as counts do)."""
        multiprocess.mark_process_dead(pid, str(self.directory))  # type: ignore[no-untyped-call]

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_metrics(settings: Settings) -> MetricsServer:
    """Makes the directory and serves /metrics on AGENT_SESSIONS_METRICS_HOST:PORT (blocking).

    A port that is taken is logged as an error and the service starts without metrics: calls
    matter more than their counts."""
    metrics = MetricsServer(Path(tempfile.mkdtemp(prefix="agent-sessions-metrics-")))
    if not settings.metrics_port:
        return metrics
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(metrics.directory))  # type: ignore[no-untyped-call]
    registry.register(metrics.restarts)
    try:
        server, _ = start_http_server(
            settings.metrics_port, addr=settings.metrics_host, registry=registry
        )
    except OSError as exc:
        log.error(
            "cannot serve metrics on %s:%d (%s); set %sMETRICS_PORT to a free port (0: none)",
            settings.metrics_host,
            settings.metrics_port,
            exc.strerror or exc,
            PREFIX,
        )
        return metrics
    metrics.server = server
    metrics.port = server.server_port
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, metrics.port)
    return metrics


def stop_metrics(metrics: MetricsServer) -> None:
    metrics.stop()
