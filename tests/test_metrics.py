"""/metrics of a real `serve` with two workers: gRPC calls under go-grpc-prometheus's names,
summed over both workers, the pool, turns, the model (a fake OpenAI-compatible server) and the
tools of a real MCP server."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb

from tests.fakes.mcp_server import FakeMcpServer
from tests.fakes.model_server import FakeModelServer, FakeToolCall, Step
from tests.served import Served, value, wait_for
from tests.support import channel_to, client

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "docs" / "grafana" / "agent-sessions.json"
MCP_TOKEN = "mcp-metrics-token-71c2"
SERVICE = "agentsessions.v1.SessionService"


@pytest.fixture(scope="module")
def model() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server


@pytest.fixture(scope="module")
def mcp() -> Iterator[FakeMcpServer]:
    with FakeMcpServer(token=MCP_TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def served(
    database_url: str,
    model: FakeModelServer,
    mcp: FakeMcpServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    servers = [
        {"name": "calc", "url": mcp.url, "headers": {"Authorization": f"Bearer {MCP_TOKEN}"}}
    ]
    log = tmp_path_factory.mktemp("metrics") / "serve.log"
    with Served(
        database_url,
        log,
        AGENT_SESSIONS_AGENT="openai",
        AGENT_SESSIONS_MODEL_BASE_URL=model.base_url,
        AGENT_SESSIONS_MODEL_API_KEY="sk-metrics",
        AGENT_SESSIONS_MODEL="fake-model",
        AGENT_SESSIONS_MODEL_MAX_RETRIES="0",
        AGENT_SESSIONS_MCP_SERVERS=json.dumps(servers),
        # Each call's "call ... ended" line names the worker (pid) that served it.
        AGENT_SESSIONS_LOG_LEVEL="DEBUG",
        AGENT_SESSIONS_LOG_FORMAT="json",
    ) as running:
        yield running


def _pids_that_served(log: Path, method: str) -> set[int]:
    pids = set()
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if (
                str(record.get("message", "")).startswith("call /")
                and record.get("method") == method
            ):
                pids.add(record["pid"])
    return pids


def test_calls_are_counted_over_both_workers(served: Served) -> None:
    labels = {"grpc_service": SERVICE, "grpc_method": "ListSessions", "grpc_type": "unary"}
    before = served.samples()
    calls = 0
    # The kernel spreads connections over the workers: new channels until both served some.
    while len(_pids_that_served(served.log, f"/{SERVICE}/ListSessions")) < 2:
        assert calls < 400, "one worker served every connection"
        with channel_to(served.port) as channel:
            user = client(channel)
            for _ in range(5):
                user.s("ListSessions", spb.ListSessionsRequest())
                calls += 1
        # A call refused as unauthenticated counts too, under its code.
        with channel_to(served.port) as channel, pytest.raises(grpc.RpcError):
            client(channel).sessions.GetSession(spb.GetSessionRequest(session_id="x"), timeout=5)

    after = served.samples()

    def added(name: str, **more: str) -> float:
        return value(after, name, **labels, **more) - value(before, name, **labels, **more)

    assert added("grpc_server_started_total") == calls
    assert added("grpc_server_handled_total", grpc_code="OK") == calls
    assert added("grpc_server_handling_seconds_count") == calls
    assert added("grpc_server_handling_seconds_bucket", le="+Inf") == calls
    assert added("grpc_server_handling_seconds_sum") > 0
    unauthenticated = {
        "grpc_service": SERVICE,
        "grpc_method": "GetSession",
        "grpc_code": "UNAUTHENTICATED",
    }
    assert value(after, "grpc_server_handled_total", **unauthenticated) >= 1
    # Histogram buckets, from a millisecond up.
    buckets = {
        dict(ls)["le"]
        for (n, ls) in after
        if n == "grpc_server_handling_seconds_bucket" and dict(ls)["grpc_method"] == "ListSessions"
    }
    assert {"0.001", "0.1", "1.0", "+Inf"} <= buckets
    assert value(after, "agent_sessions_calls_in_flight") == 0


def test_the_pool_gauges_sum_both_workers(served: Served) -> None:
    # Each worker's pool holds AGENT_SESSIONS_DB_POOL_SIZE connections (16 by default).
    samples = wait_for(
        lambda: (
            (s := served.samples()) and value(s, "agent_sessions_db_pool_connections") == 32 and s
        )
    )
    assert samples, served.scrape()
    assert value(samples, "agent_sessions_db_pool_connections_in_use") >= 0
    assert ("agent_sessions_db_pool_requests_waiting", ()) in samples
    assert value(samples, "agent_sessions_db_up") == 1


def test_turns_model_calls_and_tool_calls(served: Served, model: FakeModelServer) -> None:
    before = served.samples()
    model.script(
        Step.tool_calls(FakeToolCall("call_add", "add", '{"a": 2, "b": 3}'), usage=(11, 7)),
        Step.text(["It is ", "5."], usage=(20, 3)),
        Step.server_error(400),
    )
    with channel_to(served.port) as channel:
        user = client(channel)
        message = spb.ConversationMessage(role=rpb.user, content="2+3?")
        reply = user.s("Conversation", spb.ConversationRequest(messages=[message]))
        assert reply.response == "It is 5."
        with pytest.raises(grpc.RpcError):
            user.s("Conversation", spb.ConversationRequest(messages=[message]))
    after = served.samples()

    def added(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert added("agent_sessions_turns_total", status="completed") == 1
    assert added("agent_sessions_turns_total", status="failed") == 1
    assert added("agent_sessions_model_call_duration_seconds_count", model="fake-model") == 3
    assert added("agent_sessions_model_time_to_first_token_seconds_count", model="fake-model") == 2
    assert added("agent_sessions_model_tokens_total", model="fake-model", kind="input") == 31
    assert added("agent_sessions_model_tokens_total", model="fake-model", kind="output") == 10
    assert added("agent_sessions_tool_calls_total", server="calc", tool="add", outcome="ok") == 1


def test_a_model_a_session_names_is_no_label_until_a_call_with_it_succeeds(
    served: Served, model: FakeModelServer
) -> None:
    model.script(Step.unknown_model("made-up-model-93"))
    with channel_to(served.port) as channel:
        user = client(channel)
        request = spb.ConversationRequest(
            model="made-up-model-93",
            messages=[spb.ConversationMessage(role=rpb.user, content="hi")],
        )
        with pytest.raises(grpc.RpcError):
            user.s("Conversation", request)
    text = served.scrape()
    assert "made-up-model-93" not in text
    assert 'model="other"' in text


def test_names_follow_prometheus_conventions(served: Served) -> None:
    text = served.scrape()
    for name in (
        "grpc_server_started_total",
        "grpc_server_handled_total",
        "grpc_server_handling_seconds",
        "agent_sessions_open_streams",
        "agent_sessions_watchers",
        "agent_sessions_turns_total",
        "agent_sessions_model_tokens_total",
        "agent_sessions_tool_calls_total",
    ):
        assert f"# TYPE {name} " in text, name
    assert "# TYPE grpc_server_handling_seconds histogram" in text
    # Nothing but Prometheus's text format, served at /metrics only to loopback by default.
    reply = httpx.get(f"http://127.0.0.1:{served.metrics_port}/metrics", timeout=10)
    assert reply.headers["content-type"].startswith("text/plain")


def test_a_taken_metrics_port_is_logged_and_port_0_serves_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import socket

    from agent_sessions.ops.metrics_server import start_metrics
    from agent_sessions.settings import Settings, SettingsError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        metrics = start_metrics(Settings(metrics_port=port))
        try:
            assert metrics.server is None and metrics.directory.is_dir()
        finally:
            metrics.stop()
    assert not metrics.directory.exists()  # each start's directory goes with it
    assert f"cannot serve metrics on 127.0.0.1:{port}" in caplog.text
    none = start_metrics(Settings(metrics_port=0))
    none.stop()
    assert none.server is None
    assert Settings.from_env({"AGENT_SESSIONS_METRICS_PORT": "0"}).metrics_port == 0
    assert Settings.from_env({}).metrics_host == "127.0.0.1"
    assert Settings.from_env({}).log_format == "text"
    with pytest.raises(SettingsError, match="AGENT_SESSIONS_LOG_FORMAT"):
        Settings.from_env({"AGENT_SESSIONS_LOG_FORMAT": "xml"})


# PromQL words that are not metric names: keywords, and the clauses whose parentheses hold
# label names, not expressions.
_PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool"}
_PROMQL_KEYWORDS |= {"offset", "and", "or", "unless", "inf", "nan"}
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions (followed
    by `(`), keywords, label names (inside `{}` or a `by (...)`), strings or ranges."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = _LABEL_LISTS.sub(" ", expr)
    expr = re.sub(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:ms|[smhdwy])?\b", " ", expr)  # numbers
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        word = match.group()
        if word.lower() in _PROMQL_KEYWORDS or expr[match.end() :].lstrip().startswith("("):
            continue
        names.add(word)
    return names


def test_the_promql_parser_finds_metric_names_only() -> None:
    expr = (
        'histogram_quantile(0.9, sum by (le, model) (rate(a_seconds_bucket{job=~"$job", '
        'model!="x y"}[$__rate_interval]))) / on (model) group_left b_total offset 5m > bool 1'
    )
    assert metric_names(expr) == {"a_seconds_bucket", "b_total"}


def test_the_grafana_dashboard_reads_only_metrics_the_service_exports(
    served: Served, model: FakeModelServer
) -> None:
    """docs/grafana/agent-sessions.json: every expression names metrics a real `serve` exports
    (after a turn with a model call and a tool call, so the labelled ones have samples too)."""
    model.script(
        Step.tool_calls(FakeToolCall("call_add", "add", '{"a": 1, "b": 1}'), usage=(3, 2)),
        Step.text(["2"], usage=(4, 1)),
    )
    with channel_to(served.port) as channel:
        message = spb.ConversationMessage(role=rpb.user, content="1+1?")
        client(channel).s("Conversation", spb.ConversationRequest(messages=[message]))
    exported = {name for name, _labels in served.samples()}

    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    assert len(expressions) >= 20
    read: set[str] = set()
    for expr in expressions:
        names = metric_names(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= exported, (expr, sorted(names - exported))
        read |= names
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            found = re.fullmatch(r"label_values\((\w+), *\w+\)", query["query"])
            assert found and found.group(1) in exported, query
    # What an operator looks at first is all there.
    assert {
        "grpc_server_handled_total",
        "grpc_server_handling_seconds_bucket",
        "agent_sessions_turns_total",
        "agent_sessions_model_time_to_first_token_seconds_bucket",
        "agent_sessions_model_call_duration_seconds_bucket",
        "agent_sessions_model_tokens_total",
        "agent_sessions_tool_calls_total",
        "agent_sessions_watchers",
        "agent_sessions_open_streams",
        "agent_sessions_db_pool_connections_in_use",
        "agent_sessions_db_pool_requests_waiting",
        "agent_sessions_notify_queue_usage_ratio",
    } <= read
    # Every panel asks the data source the dashboard's variable chooses.
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
