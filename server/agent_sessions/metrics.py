"""Every Prometheus metric the service keeps, defined once, low enough that every layer may count.

In a worker that `serve` (or `run`) started, PROMETHEUS_MULTIPROC_DIR is set before this module
is imported: prometheus-client then keeps each value in an mmap'd file of this process, and the
supervisor sums the files of all workers at /metrics (ops/metrics_server.py). Elsewhere (tests,
embedders) the values live in this process's default registry.

Labels have bounded values only: gRPC method and code names, model names the service called or
was configured with, configured MCP servers and the tools they list; never a session or user id,
and never free text.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from functools import partial
from typing import cast

from prometheus_client import Counter, Gauge, Histogram

# gRPC calls: the names and labels of go-grpc-prometheus (grpc-ecosystem), which dashboards and
# alerts for gRPC services already use.
CALL_LABELS = ("grpc_type", "grpc_service", "grpc_method")
# Calls from a few milliseconds (an append) to minutes (a streamed turn with tools).
CALL_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
    300.0,
)  # fmt: skip
MODEL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

GRPC_STARTED = Counter(
    "grpc_server_started_total", "RPCs started on the server.", CALL_LABELS
)  # fmt: skip
GRPC_HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, whatever their status.",
    (*CALL_LABELS, "grpc_code"),
)
GRPC_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "How long RPCs took to complete on the server, from start to status.",
    CALL_LABELS,
    buckets=CALL_BUCKETS,
)
CALLS_IN_FLIGHT = Gauge(
    "agent_sessions_calls_in_flight",
    "RPCs started and not yet completed.",
    CALL_LABELS,
    multiprocess_mode="livesum",
)
OPEN_STREAMS = Gauge(
    "agent_sessions_open_streams",
    "Server-streaming RPCs (Converse) open right now.",
    multiprocess_mode="livesum",
)
WATCHERS = Gauge(
    "agent_sessions_watchers",
    "Callers watching a session for new events right now.",
    multiprocess_mode="livesum",
)

# The database pool (psycopg_pool), sampled every probe (db/probe.py).
DB_POOL_SIZE = Gauge(
    "agent_sessions_db_pool_connections",
    "Connections the database pools hold (open or being opened).",
    multiprocess_mode="livesum",
)
DB_POOL_IN_USE = Gauge(
    "agent_sessions_db_pool_connections_in_use",
    "Pooled connections lent to a call right now.",
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "agent_sessions_db_pool_requests_waiting",
    "Calls waiting for a pooled connection.",
    multiprocess_mode="livesum",
)
DB_UP = Gauge(
    "agent_sessions_db_up",
    "1 while the database answers the probe, else 0 (the lowest of all workers).",
    multiprocess_mode="livemin",
)

# Turns by how they ended: completed, failed, cancelled, lost (counted by the replica that saw
# the end: the one that ran the turn, or for a lost one the replica whose sweep marked it).
TURNS = Counter("agent_sessions_turns_total", "Turns that ended, by status.", ("status",))
TURNS_RUNNING = Gauge(
    "agent_sessions_turns_running",
    "Turns this server runs right now (placed turns, with a row and a lease).",
    multiprocess_mode="livesum",
)
NOTIFY_QUEUE_USAGE = Gauge(
    "agent_sessions_notify_queue_usage_ratio",
    "PostgreSQL's NOTIFY queue fill level (pg_notification_queue_usage(), 0 to 1); when it is "
    "full every transaction that notifies fails at commit.",
    multiprocess_mode="livemax",
)
TURNS_QUEUED = Gauge(
    "agent_sessions_turns_queued",
    "Turns waiting here for an earlier turn of their session to end.",
    multiprocess_mode="livesum",
)

MODEL_FIRST_TOKEN = Histogram(
    "agent_sessions_model_time_to_first_token_seconds",
    "From sending a model request to the first piece of its reply (text or a tool call).",
    ("model",),
    buckets=MODEL_BUCKETS,
)
MODEL_CALL_SECONDS = Histogram(
    "agent_sessions_model_call_duration_seconds",
    "How long one model call took, from the request to the end of its streamed reply.",
    ("model",),
    buckets=MODEL_BUCKETS,
)
MODEL_TOKENS = Counter(
    "agent_sessions_model_tokens_total",
    "Tokens the model calls used, by model and kind (input, output).",
    ("model", "kind"),
)
TOOL_CALLS = Counter(
    "agent_sessions_tool_calls_total",
    "Calls of MCP server tools, by server, tool and outcome (ok, error, timeout, lost).",
    ("server", "tool", "outcome"),
)

# The model label's values: the configured model plus the models calls succeeded with, at most
# this many; further ones are counted as "other" (a session may name any model).
MODEL_LABEL_LIMIT = 50
OTHER_MODEL = "other"
_models: set[str] = set()


def allow_model(model: str) -> None:
    """Makes `model` a label value (the configured one, or one a call succeeded with)."""
    if model and len(_models) < MODEL_LABEL_LIMIT:
        _models.add(model)


def model_label(model: str) -> str:
    """`model` as a label value: itself when allowed, else "other"."""
    return model if model in _models else OTHER_MODEL


Inc = Callable[[float], None]


def _inc(child: Counter | Gauge) -> Inc:
    """The cheapest way to add to a labelled counter or gauge: its value's own `inc`, which
    skips the per-call checks of the metric's (about 0.4 us of 1.4 in multiprocess mode); the
    public `inc` if prometheus-client ever keeps its value elsewhere."""
    inc = getattr(getattr(child, "_value", None), "inc", None)
    return cast(Inc, inc) if callable(inc) else child.inc


def _observe(child: Histogram) -> Inc:
    """The cheapest way to observe into a labelled histogram: the sum and the one bucket the
    value falls in (prometheus-client sums the buckets up when collecting), as its own
    `observe` does without its checks; the public `observe` if its layout ever changes."""
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    total = getattr(getattr(child, "_sum", None), "inc", None)
    if not (isinstance(bounds, list) and isinstance(buckets, list) and callable(total)):
        return child.observe
    add_to_sum = cast(Inc, total)
    incs = [cast(Inc, bucket.inc) for bucket in buckets]  # values, as the sum is

    def observe(amount: float) -> None:
        add_to_sum(amount)
        incs[bisect_left(bounds, amount)](1)  # the first bound >= amount ("le"); +Inf last

    return observe


class CallMeter:
    """The metrics of one RPC method, their labelled children looked up once (at registration):
    a call then costs a few increments of mmap'd values and no label lookup."""

    __slots__ = ("_handled", "_labels", "enter", "leave", "observe", "start")

    def __init__(self, grpc_type: str, service: str, method: str) -> None:
        self._labels = (grpc_type, service, method)
        self.start = _inc(GRPC_STARTED.labels(*self._labels))
        in_flight = _inc(CALLS_IN_FLIGHT.labels(*self._labels))
        self.enter = partial(in_flight, 1)
        self.leave = partial(in_flight, -1)
        self.observe = _observe(GRPC_SECONDS.labels(*self._labels))
        self._handled: dict[str, Inc] = {}

    def handled(self, code: str) -> Inc:
        """Adds to the calls handled with status `code` (a gRPC code name: OK, NOT_FOUND, ...)."""
        inc = self._handled.get(code)
        if inc is None:
            inc = self._handled[code] = _inc(GRPC_HANDLED.labels(*self._labels, code))
        return inc
