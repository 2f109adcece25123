"""What the operator bounds and what the service makes storable: the models callers may choose,
the history's bytes sent to the model, NUL and over-long text from the model or a tool, and
numbers JSON cannot write. Real gRPC server, PostgreSQL, fake model API and MCP server."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from agent_sessions.agents.bounds import MAX_STORED_TEXT, TRUNCATED_MARKER
from agent_sessions.settings import Settings
from agentsessions.v1 import message_service_pb2 as mpb
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb

from tests.fakes.mcp_server import FakeMcpServer
from tests.fakes.model_server import FakeModelServer, FakeToolCall, Step
from tests.support import Client, ThreadServer, channel_to, client, failure, openai_settings

MODEL = "fake-default-model"
ALLOWED = ("small-1b", "large-70b")
MCP_TOKEN = "mcp-values-token-8e1f"
HISTORY_BYTES = 3_000


@pytest.fixture(scope="module")
def model() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server
        assert not server.errors, server.errors


@pytest.fixture(scope="module")
def mcp() -> Iterator[FakeMcpServer]:
    with FakeMcpServer(token=MCP_TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def server(
    settings: Settings, model: FakeModelServer, mcp: FakeMcpServer
) -> Iterator[ThreadServer]:
    servers = [
        {"name": "calc", "url": mcp.url, "headers": {"Authorization": f"Bearer {MCP_TOKEN}"}}
    ]
    configured = openai_settings(
        settings,
        model.base_url,
        "sk-values",
        MODEL,
        mcp_servers=json.dumps(servers),
        models=ALLOWED,
        history_bytes=HISTORY_BYTES,
    )
    with ThreadServer(configured) as running:
        yield running


@pytest.fixture
def c(server: ThreadServer, model: FakeModelServer) -> Iterator[Client]:
    model.script()
    with channel_to(server.port) as ch:
        yield client(ch)


def _user(text: str) -> spb.ConversationMessage:
    return spb.ConversationMessage(role=rpb.user, content=text)


def _stored(c: Client, session_id: str) -> list[tuple[str, str]]:
    listed = c.m("ListMessages", mpb.ListMessagesRequest(session_id=session_id)).messages
    return [(rpb.Role.Name(m.role), m.content) for m in listed]


def test_only_the_allowed_models_may_be_chosen(c: Client, model: FakeModelServer) -> None:
    for call in (
        lambda: c.s("CreateSession", spb.CreateSessionRequest(session_id="m1", model="gpt-5-pro")),
        lambda: c.s(
            "Conversation",
            spb.ConversationRequest(session_id="m2", model="gpt-5-pro", messages=[_user("hi")]),
        ),
    ):
        refused = failure(call)
        assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.reason == "MODEL_NOT_ALLOWED" and refused.fields == ["model"]
        assert "small-1b" in refused.message
    c.s("CreateSession", spb.CreateSessionRequest(session_id="m3", model="small-1b"))
    refused = failure(
        lambda: c.s("UpdateSession", spb.UpdateSessionRequest(session_id="m3", model="huge"))
    )
    assert refused.reason == "MODEL_NOT_ALLOWED" and refused.fields == ["model"]
    # The server's default is allowed by name too, and empty means the default.
    for chosen in (MODEL, "large-70b", ""):
        c.s("UpdateSession", spb.UpdateSessionRequest(session_id="m3", model=chosen))
    model.script(Step.text(["ok"]))
    c.s("Conversation", spb.ConversationRequest(session_id="m3", messages=[_user("hi")]))
    assert model.requests[-1].model == MODEL
    assert "m1" not in [
        s.session_id for s in c.s("ListSessions", spb.ListSessionsRequest()).sessions
    ]


@pytest.mark.parametrize("bad", ["llama\nFORGED 2026 INFO admin logged in", "a\tb", "x\x1b[31m"])
def test_control_characters_in_a_model_are_refused(c: Client, bad: str) -> None:
    refused = failure(
        lambda: c.s("CreateSession", spb.CreateSessionRequest(session_id="ctl", model=bad))
    )
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT and refused.fields == ["model"]
    assert refused.reason == "INVALID_ARGUMENT"


def test_the_history_sent_is_bounded_by_bytes_never_splitting_a_tool_call(
    c: Client, model: FakeModelServer
) -> None:
    """Earlier messages beyond AGENT_SESSIONS_HISTORY_BYTES stay out of the model's request,
    the oldest first; a call and its result go together."""
    model.script(
        Step.tool_calls(FakeToolCall("call_echo", "echo", json.dumps({"text": "e" * 900}))),
        Step.text(["r" * 900]),
    )
    c.s("Conversation", spb.ConversationRequest(session_id="hb", messages=[_user("u" * 900)]))
    for turn in range(2):
        model.script(Step.text([f"reply{turn}-" + "r" * 900]))
        c.s(
            "Conversation",
            spb.ConversationRequest(session_id="hb", messages=[_user(f"q{turn}-" + "q" * 900)]),
        )
    model.script(Step.text(["last"]))
    c.s("Conversation", spb.ConversationRequest(session_id="hb", messages=[_user("now")]))
    sent = model.requests[-1].messages
    history = sent[:-1]
    size = sum(
        len((m.get("content") or "").encode())
        + sum(len(t["function"]["arguments"].encode()) for t in m.get("tool_calls") or [])
        for m in history
    )
    assert 0 < size <= HISTORY_BYTES, size
    assert history[0]["role"] == "user", history  # what is kept starts at a question
    assert not any(m.get("tool_calls") for m in history), "the old tool round should be out"
    assert not any(m["role"] == "tool" for m in history)
    assert history[-1]["content"].startswith("reply1-"), history
    # Everything is still stored: the budget only bounds what the model is sent.
    assert len(_stored(c, "hb")) == 10


def test_nul_from_the_model_or_a_tool_is_stored_as_a_replacement_character(
    c: Client, model: FakeModelServer
) -> None:
    model.script(
        Step.tool_calls(FakeToolCall("call_echo", "echo", json.dumps({"text": "tool\x00out"}))),
        Step.text(["model\x00", "text"]),
    )
    events = list(
        c.sessions.Converse(
            spb.ConverseRequest(session_id="nul", messages=[_user("go")]),
            metadata=c.metadata,
            timeout=30,
        )
    )
    completed = events[-1].completed
    assert completed.response == "model\ufffdtext"
    deltas = "".join(e.delta.text for e in events if e.WhichOneof("event") == "delta")
    assert deltas == completed.response
    result = next(e.tool_result for e in events if e.WhichOneof("event") == "tool_result")
    assert result.output == "tool\ufffdout"
    assert _stored(c, "nul")[1:] == [
        ("assistant", json.dumps({"text": "tool\x00out"})),  # JSON escapes it: no NUL in text
        ("tool", "tool\ufffdout"),
        ("assistant", "model\ufffdtext"),
    ]
    # A caller tool's arguments with a raw NUL: stored and answered with U+FFFD.
    lookup = spb.Tool(name="lookup", description="Looks up.")
    lookup.parameters.update({"type": "object"})
    model.script(Step.tool_calls(FakeToolCall("call_l", "lookup", '{"q": "a\x00b"}')))
    answer = c.s(
        "Conversation",
        spb.ConversationRequest(session_id="nul2", messages=[_user("x")], tools=[lookup]),
    )
    assert answer.stop_reason == "tool_calls"
    assert answer.pending_tool_calls[0].arguments == '{"q": "a\ufffdb"}'
    assert _stored(c, "nul2")[1] == ("assistant", '{"q": "a\ufffdb"}')


def test_over_long_model_text_and_tool_arguments_are_cut_with_a_marker(
    c: Client, model: FakeModelServer
) -> None:
    piece = "w" * 400_000
    model.script(Step.text([piece] * 3))
    events = list(
        c.sessions.Converse(
            spb.ConverseRequest(session_id="long", messages=[_user("talk")]),
            metadata=c.metadata,
            timeout=60,
        )
    )
    completed = events[-1].completed
    reply = _stored(c, "long")[1][1]
    assert len(reply) <= MAX_STORED_TEXT and reply.endswith(TRUNCATED_MARKER)
    assert reply.startswith("w" * 1_000_000)
    assert completed.response == reply
    deltas = "".join(e.delta.text for e in events if e.WhichOneof("event") == "delta")
    assert deltas == reply
    lookup = spb.Tool(name="lookup", description="Looks up.")
    lookup.parameters.update({"type": "object"})
    arguments = json.dumps({"q": "a" * 1_100_000})
    model.script(Step.tool_calls(FakeToolCall("call_big", "lookup", arguments)))
    answer = c.s(
        "Conversation",
        spb.ConversationRequest(session_id="long2", messages=[_user("x")], tools=[lookup]),
    )
    stored = _stored(c, "long2")[1][1]
    assert len(stored) <= MAX_STORED_TEXT and stored.endswith(TRUNCATED_MARKER)
    assert answer.pending_tool_calls[0].arguments == stored


def _answer(c: Client, method: str, request: Any) -> Any:
    """A unary call's answer, or a stream's events."""
    answer = c.s(method, request)
    return list(answer) if method == "Converse" else answer


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_in_tool_parameters_are_invalid(c: Client, number: float) -> None:
    tool = spb.Tool(name="lookup", description="Looks up.")
    schema: dict[str, Any] = {"type": "object", "properties": {"n": {"maximum": 1}}}
    tool.parameters.update(schema)
    tool.parameters["properties"]["n"]["maximum"] = number
    for method, request in (
        ("Conversation", spb.ConversationRequest(messages=[_user("x")], tools=[tool])),
        ("Converse", spb.ConverseRequest(messages=[_user("x")], tools=[tool])),
    ):
        refused = failure(lambda m=method, r=request: _answer(c, m, r))  # type: ignore[misc]
        assert refused.code == grpc.StatusCode.INVALID_ARGUMENT, refused
        assert refused.fields == ["tools[0].parameters"]
        assert "Traceback" not in refused.message
