"""OpenTelemetry traces of a real two-worker `serve`, sent over OTLP/HTTP to a collector of the
test's own: the caller's W3C trace continued by the call's span, a span per SQL statement, per
model call and per MCP tool call; and nothing secret in them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.fakes.mcp_server import FakeMcpServer
from tests.fakes.model_server import FakeModelServer, FakeToolCall, Step
from tests.served import Served, wait_for
from tests.support import channel_to, client

TRACE = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE}-b7ad6b7169203331-01"
MCP_TOKEN = "mcp-traces-token-44d1"
CONTENT = "trace-content-canary-2c8e"
ARGUMENTS = '{"a": 771177, "b": 1}'


class Collector:
    """An OTLP/HTTP receiver: keeps every span posted to /v1/traces."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            collector.spans.append(
                                {
                                    "name": span.name,
                                    "trace_id": span.trace_id.hex(),
                                    "attributes": {a.key: a.value for a in span.attributes},
                                }
                            )
                collector.raw.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Collector:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    with Collector() as running:
        yield running


def test_a_turn_is_traced_from_the_callers_trace_to_sql_model_and_tool(
    database_url: str, collector: Collector, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with FakeModelServer() as model, FakeMcpServer(token=MCP_TOKEN) as mcp:
        servers = [
            {"name": "calc", "url": mcp.url, "headers": {"Authorization": f"Bearer {MCP_TOKEN}"}}
        ]
        model.script(
            Step.tool_calls(FakeToolCall("call_add", "add", ARGUMENTS), usage=(9, 4)),
            Step.text(["It is ", "771178."], usage=(15, 2)),
        )
        with (
            Served(
                database_url,
                tmp_path_factory.mktemp("traces") / "serve.log",
                AGENT_SESSIONS_AGENT="openai",
                AGENT_SESSIONS_MODEL_BASE_URL=model.base_url,
                AGENT_SESSIONS_MODEL_API_KEY="sk-traces",
                AGENT_SESSIONS_MODEL="fake-model",
                AGENT_SESSIONS_MCP_SERVERS=json.dumps(servers),
                OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
                OTEL_BSP_SCHEDULE_DELAY="100",
            ) as served,
            channel_to(served.port) as channel,
        ):
            user = client(channel)
            message = spb.ConversationMessage(role=rpb.user, content=CONTENT)
            reply = user.sessions.Conversation(
                spb.ConversationRequest(messages=[message]),
                metadata=(*user.metadata, ("traceparent", TRACEPARENT)),
                timeout=30,
            )
            assert reply.response == "It is 771178."

            def traced() -> list[dict[str, Any]]:
                spans = [s for s in collector.spans if s["trace_id"] == TRACE]
                names = {s["name"] for s in spans}
                # Batches are exported as spans end: wait for the call's own span too.
                wanted = {
                    "chat fake-model",
                    "execute_tool add",
                    "/agentsessions.v1.SessionService/Conversation",
                }
                return spans if wanted <= names and len(spans) >= 5 else []

            spans = wait_for(traced, timeout=15)
    names = [s["name"] for s in spans]
    assert spans, [s["name"] for s in collector.spans]
    # The call's own span, continuing the caller's trace.
    assert "/agentsessions.v1.SessionService/Conversation" in names, names
    assert names.count("chat fake-model") == 2, names
    tool = next(s for s in spans if s["name"] == "execute_tool add")
    assert tool["attributes"]["mcp.server"].string_value == "calc"
    sql = [s for s in spans if s["attributes"].get("db.system") is not None]
    assert sql, names  # statements of the turn's store
    everything = b"".join(collector.raw)
    for secret in (CONTENT.encode(), b"771177", MCP_TOKEN.encode(), b"sk-traces"):
        assert secret not in everything
