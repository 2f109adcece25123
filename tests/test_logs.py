"""Logs of a real two-worker `serve`: JSON lines that parse and name the call, and never a
secret, token, message content or tool arguments, even at DEBUG."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from agent_sessions.logs import CALL, CallInfo, JsonFormatter, TextFormatter, trace_id
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb

from tests.fakes.mcp_server import FakeMcpServer
from tests.fakes.model_server import FakeModelServer, FakeToolCall, Step
from tests.served import Served, wait_for
from tests.support import SECRET, channel_to, client

MCP_HEADER = "mcp-header-canary-5e1f0a"
MODEL_KEY = "sk-model-key-canary-0b7d2c"
CONTENT = "content-canary-9f3e1d what is 918273 plus 645"
ARGUMENTS = '{"a": 918273, "b": 645}'
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def served(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with FakeModelServer() as model, FakeMcpServer(token=MCP_HEADER) as mcp:
        servers = [
            {"name": "calc", "url": mcp.url, "headers": {"Authorization": f"Bearer {MCP_HEADER}"}}
        ]
        log = tmp_path_factory.mktemp("logs") / "serve.log"
        with Served(
            database_url,
            log,
            AGENT_SESSIONS_AGENT="openai",
            AGENT_SESSIONS_MODEL_BASE_URL=model.base_url,
            AGENT_SESSIONS_MODEL_API_KEY=MODEL_KEY,
            AGENT_SESSIONS_MODEL="fake-model",
            AGENT_SESSIONS_MODEL_MAX_RETRIES="0",
            AGENT_SESSIONS_MCP_SERVERS=json.dumps(servers),
            AGENT_SESSIONS_LOG_LEVEL="DEBUG",
            AGENT_SESSIONS_LOG_FORMAT="json",
        ) as running:
            running.model = model  # type: ignore[attr-defined]
            yield running


def _records(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def test_nothing_secret_reaches_the_logs_at_debug(served: Served) -> None:
    model: FakeModelServer = served.model  # type: ignore[attr-defined]
    model.script(
        Step.tool_calls(FakeToolCall("call_add", "add", ARGUMENTS)),
        Step.text(["It is ", "918918."]),
        Step.server_error(500),
    )
    with channel_to(served.port) as channel:
        user = client(channel)
        message = spb.ConversationMessage(role=rpb.user, content=CONTENT)
        reply = user.s("Conversation", spb.ConversationRequest(messages=[message]))
        assert reply.response == "It is 918918."
        with pytest.raises(grpc.RpcError):  # a failed model call is logged, redacted
            user.s("Conversation", spb.ConversationRequest(messages=[message]))
        with pytest.raises(grpc.RpcError):  # a refused token too
            user.sessions.ListSessions(
                spb.ListSessionsRequest(),
                metadata=(("authorization", f"Bearer {SECRET}.not-a-jwt"),),
                timeout=10,
            )
    token = user.metadata[0][1].removeprefix("Bearer ")
    # Every line the supervisor and both workers wrote so far, the turn's included.
    text = wait_for(lambda: (t := served.log.read_text()) and "Conversation" in t and t)
    assert " ended with OK after " in text  # DEBUG lines were written: the check below sees them
    for secret in (SECRET, token, MODEL_KEY, MCP_HEADER, "content-canary", "918273", "918918"):
        assert secret not in text, f"{secret!r} is in the logs"


def test_json_lines_parse_and_name_the_call(served: Served) -> None:
    with channel_to(served.port) as channel:
        user = client(channel)
        metadata = (*user.metadata, ("traceparent", TRACEPARENT))
        user.sessions.ListSessions(spb.ListSessionsRequest(), metadata=metadata, timeout=10)

    def traced() -> list[dict[str, object]]:
        return [r for r in _records(served.log) if r.get("trace_id") == TRACE]

    lines = wait_for(traced)
    assert lines, "no line carries the call's trace id"
    ended = [r for r in lines if str(r["message"]).startswith("call /")]
    assert ended[0]["method"] == "/agentsessions.v1.SessionService/ListSessions"
    assert ended[0]["code"] == "OK"
    assert isinstance(ended[0]["duration"], float)
    for record in _records(served.log):  # every line is one JSON object with these fields
        assert {"time", "level", "message"} <= set(record)


def test_an_internal_errors_incident_id_is_a_field() -> None:
    logger = logging.getLogger("agent_sessions.api.status")
    record = logger.makeRecord(
        logger.name,
        logging.ERROR,
        __file__,
        1,
        "unexpected error (incident %s)",
        ("abc123",),
        None,
        extra={"incident": "abc123"},
    )
    token = CALL.set(CallInfo("/x.Y/Z", lambda: [("traceparent", TRACEPARENT)]))
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        CALL.reset(token)
    assert line["incident"] == "abc123" and line["method"] == "/x.Y/Z"
    assert line["trace_id"] == TRACE and line["level"] == "ERROR"


def test_a_text_line_escapes_the_control_characters_a_caller_sent() -> None:
    """A value a caller chose (a session id, a tool's name) with a line break in it cannot add
    a forged line to the text log."""
    logger = logging.getLogger("agent_sessions.services.turns")
    forged = "s1\n2026-12-06 09:00:00,000 INFO agent_sessions.auth [1] admin logged in\r\x1b[2K"
    record = logger.makeRecord(
        logger.name, logging.WARNING, __file__, 1, "agent failed in session %s", (forged,), None
    )
    line = TextFormatter().format(record)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line.endswith(
        "agent failed in session s1\\n2026-12-06 09:00:00,000 INFO agent_sessions.auth [1] "
        "admin logged in\\r\\x1b[2K"
    )
    assert record.getMessage() == f"agent failed in session {forged}"  # the record is unchanged


def test_trace_ids_come_only_from_valid_traceparents() -> None:
    assert trace_id(TRACEPARENT) == TRACE
    assert trace_id("00-" + "0" * 32 + "-00f067aa0ba902b7-01") is None
    assert trace_id("not a header") is None
    assert trace_id(None) is None
