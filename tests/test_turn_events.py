"""The turn service with an agent that calls tools and reports usage: what is stored, in which
order, and what Conversation and Converse (gRPC and SSE) say about it."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from agent_sessions.agents import (
    Agent,
    AgentEvent,
    AgentTurn,
    TextDelta,
    ToolCall,
    ToolResult,
    UsageReport,
)
from agent_sessions.settings import Settings
from agentsessions.v1 import message_service_pb2 as mpb
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb

from tests.support import ThreadServer, channel_to, client, failure, token


class ToolUsingAgent(Agent):
    """Says something, calls a tool, gets its result, then answers; reports usage at the end."""

    def __init__(self) -> None:
        self.turns: list[AgentTurn] = []

    async def run(self, turn: AgentTurn) -> AsyncGenerator[AgentEvent, None]:
        self.turns.append(turn)
        yield TextDelta("Let me ")
        yield TextDelta("check. ")
        yield ToolCall("call_1", "get_weather", '{"city": "Oslo"}')
        yield ToolResult("call_1", "get_weather", "sunny")
        yield TextDelta("It is ")
        yield TextDelta("sunny.")
        yield UsageReport(input_tokens=31, output_tokens=10, total_tokens=41)

    async def aclose(self) -> None:
        pass


@pytest.fixture(scope="module")
def agent() -> ToolUsingAgent:
    return ToolUsingAgent()


@pytest.fixture(scope="module")
def server(settings: Settings, agent: ToolUsingAgent) -> Iterator[ThreadServer]:
    with ThreadServer(settings, agent) as running:
        yield running


def _stored(c: Any, session_id: str) -> list[tuple[str, str, str, str]]:
    listed = c.m("ListMessages", mpb.ListMessagesRequest(session_id=session_id))
    return [
        (rpb.Role.Name(m.role), m.content, m.tool_call_id, m.tool_name) for m in listed.messages
    ]


TURN = [
    ("user", "Weather?", "", ""),
    ("assistant", "Let me check. ", "", ""),
    ("assistant", '{"city": "Oslo"}', "call_1", "get_weather"),
    ("tool", "sunny", "call_1", "get_weather"),
    ("assistant", "It is sunny.", "", ""),
]


def test_unary_turn_stores_text_calls_and_results_in_order_with_usage(
    server: ThreadServer, agent: ToolUsingAgent
) -> None:
    with channel_to(server.port) as ch:
        c = client(ch)
        reply = c.s(
            "Conversation",
            spb.ConversationRequest(
                session_id="tools",
                messages=[spb.ConversationMessage(role=rpb.user, content="Weather?")],
            ),
        )
        assert reply.response == "Let me check. It is sunny."
        assert reply.messages_count == 5 and reply.stop_reason == "end_turn"
        assert (reply.usage.input_tokens, reply.usage.output_tokens) == (31, 10)
        assert reply.usage.total_tokens == 41
        assert _stored(c, "tools") == TURN
        # The usage is kept with the turn's last assistant message, so a total can be summed.
        last = c.m("ListMessages", mpb.ListMessagesRequest(session_id="tools")).messages[-1]
        assert json.loads(last.extra_data) == {
            "usage": {"input_tokens": 31, "output_tokens": 10, "total_tokens": 41}
        }
        # The next turn hands the agent the whole history, tool call and result included.
        c.s(
            "Conversation",
            spb.ConversationRequest(
                session_id="tools",
                messages=[spb.ConversationMessage(role=rpb.user, content="Thanks")],
            ),
        )
        seen = [(m.role, m.content, m.tool_call_id) for m in agent.turns[-1].history]
        assert seen == [(r, content, call or None) for r, content, call, _ in TURN]


def test_stream_sends_tool_events_as_they_happen_then_one_message_event_per_stored_message(
    server: ThreadServer,
) -> None:
    with channel_to(server.port) as ch:
        c = client(ch)
        events = list(
            c.sessions.Converse(
                spb.ConverseRequest(
                    session_id="tools-stream",
                    messages=[spb.ConversationMessage(role=rpb.user, content="Weather?")],
                ),
                metadata=c.metadata,
                timeout=20,
            )
        )
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds == [
        "started",
        "delta",
        "delta",
        "tool_call",
        "tool_result",
        "delta",
        "delta",
        "message",
        "message",
        "message",
        "message",
        "completed",
    ]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    call, result = events[3].tool_call, events[4].tool_result
    assert (call.tool_call_id, call.name, call.arguments) == (
        "call_1",
        "get_weather",
        '{"city": "Oslo"}',
    )
    assert (result.tool_call_id, result.name, result.output) == ("call_1", "get_weather", "sunny")
    stored = [(rpb.Role.Name(e.message.role), e.message.content) for e in events[7:11]]
    assert stored == [(r, content) for r, content, _, _ in TURN[1:]]
    assert all(e.message.id for e in events[7:11])
    assert events[-1].completed.usage.total_tokens == 41


def test_sse_carries_the_tool_events_and_usage_as_json(
    server: ThreadServer, tmp_path: Path
) -> None:
    from tests.conftest import start_envoy, wait_rest_ready

    process, http_port = start_envoy(tmp_path, server.port)
    try:
        wait_rest_ready(http_port, process=process)
        headers = {"Authorization": f"Bearer {token('sse-tools')}"}
        body = {"session_id": "sse-tools", "messages": [{"role": "user", "content": "Weather?"}]}
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", headers=headers) as http:
            response = http.post("/api/agent-sessions/conversation:stream", json=body, timeout=20)
        assert response.status_code == 200
        events = [
            json.loads(line[len("data: ") :])
            for line in response.text.splitlines()
            if line.startswith("data: ")
        ]
        by_kind = {next(k for k in e if k != "seq"): e for e in events}
        assert by_kind["tool_call"]["tool_call"] == {
            "tool_call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city": "Oslo"}',
        }
        assert by_kind["tool_result"]["tool_result"]["output"] == "sunny"
        completed = by_kind["completed"]["completed"]
        assert completed["usage"] == {"input_tokens": 31, "output_tokens": 10, "total_tokens": 41}
        assert completed["stop_reason"] == "end_turn" and completed["messages_count"] == 5
    finally:
        process.terminate()
        process.wait(10)


def test_a_turn_on_another_users_session_id_starts_the_callers_own(server: ThreadServer) -> None:
    with channel_to(server.port) as ch:
        alice, bob = client(ch), client(ch)
        alice.s("CreateSession", spb.CreateSessionRequest(session_id="mine"))
        reply = bob.s(
            "Conversation",
            spb.ConversationRequest(
                session_id="mine", messages=[spb.ConversationMessage(role=rpb.user, content="x")]
            ),
        )
        assert reply.messages_count == 5
        assert len(_stored(alice, "mine")) == 0
        with pytest.raises(grpc.RpcError):
            alice.s("GetSession", spb.GetSessionRequest(session_id="nope"))


class CallerToolAgent(Agent):
    """Calls the caller's first tool, then answers with the result once it is sent."""

    def __init__(self) -> None:
        self.turns: list[AgentTurn] = []

    async def run(self, turn: AgentTurn) -> AsyncGenerator[AgentEvent, None]:
        self.turns.append(turn)
        last = turn.messages[-1]
        if last.role == "tool":
            yield TextDelta(f"The result was {last.content}.")
            return
        yield TextDelta("One moment.")
        yield ToolCall("call_9", turn.tools[0].name, '{"q": "x"}')

    async def aclose(self) -> None:
        pass


@pytest.fixture(scope="module")
def caller_tools(settings: Settings) -> Iterator[tuple[ThreadServer, CallerToolAgent]]:
    agent = CallerToolAgent()
    with ThreadServer(settings, agent) as running:
        yield running, agent


LOOKUP = spb.Tool(name="lookup", description="Looks things up.")
LOOKUP.parameters.update({"type": "object", "properties": {"q": {"type": "string"}}})


def test_a_caller_tool_round_trip_across_two_requests(
    caller_tools: tuple[ThreadServer, CallerToolAgent],
) -> None:
    server, agent = caller_tools
    with channel_to(server.port) as ch:
        c = client(ch)

        def turn(*messages: spb.ConversationMessage, tools: Any = (LOOKUP,)) -> Any:
            return c.s(
                "Conversation",
                spb.ConversationRequest(session_id="ct", messages=messages, tools=tools),
            )

        first = turn(spb.ConversationMessage(role=rpb.user, content="Find x"))
        assert first.stop_reason == "tool_calls" and first.response == "One moment."
        assert [(p.tool_call_id, p.name, p.arguments) for p in first.pending_tool_calls] == [
            ("call_9", "lookup", '{"q": "x"}')
        ]
        # The caller's schema reached the agent as sent.
        assert agent.turns[-1].tools[0].parameters == {
            "type": "object",
            "properties": {"q": {"type": "string"}},
        }
        assert _stored(c, "ct") == [
            ("user", "Find x", "", ""),
            ("assistant", "One moment.", "", ""),
            ("assistant", '{"q": "x"}', "call_9", "lookup"),
        ]

        # A turn that leaves the call unanswered is refused, and changes nothing.
        f = failure(lambda: turn(spb.ConversationMessage(role=rpb.user, content="Well?")))
        assert f.code == grpc.StatusCode.FAILED_PRECONDITION
        assert f.reason == "TOOL_RESULTS_MISSING" and "call_9" in f.message
        # A result for a call nobody made is refused, and changes nothing.
        f = failure(
            lambda: turn(
                spb.ConversationMessage(role=rpb.tool, tool_call_id="call_1", content="?"),
            )
        )
        assert f.code == grpc.StatusCode.INVALID_ARGUMENT and f.reason == "UNKNOWN_TOOL_CALL"
        assert f.fields == ["messages[0].tool_call_id"]
        assert len(_stored(c, "ct")) == 3

        # The result: stored with the tool's name filled in, and the agent goes on.
        done = turn(spb.ConversationMessage(role=rpb.tool, tool_call_id="call_9", content="42"))
        assert done.stop_reason == "end_turn" and list(done.pending_tool_calls) == []
        assert done.response == "The result was 42." and done.messages_count == 5
        assert _stored(c, "ct")[3:] == [
            ("tool", "42", "call_9", "lookup"),
            ("assistant", "The result was 42.", "", ""),
        ]
        seen = [(m.role, m.tool_call_id) for m in agent.turns[-1].history]
        assert seen[-1] == ("assistant", "call_9")
        # Nothing is pending any more: a plain turn goes through (and calls the tool again).
        again = turn(spb.ConversationMessage(role=rpb.user, content="x"))
        assert again.stop_reason == "tool_calls" and again.messages_count == 8


@pytest.mark.parametrize(
    ("tools", "field"),
    [
        ([spb.Tool(name="bad name")], "tools[0].name"),
        ([spb.Tool(name="")], "tools[0].name"),
        ([spb.Tool(name="a"), spb.Tool(name="a")], "tools[1].name"),
        ([spb.Tool(name="a", description="x" * 4097)], "tools[0].description"),
    ],
)
def test_bad_tool_declarations_are_refused(
    caller_tools: tuple[ThreadServer, CallerToolAgent], tools: list[Any], field: str
) -> None:
    server, _ = caller_tools
    with channel_to(server.port) as ch:
        c = client(ch)
        f = failure(
            lambda: c.s(
                "Conversation",
                spb.ConversationRequest(
                    session_id="bad-tools",
                    messages=[spb.ConversationMessage(role=rpb.user, content="x")],
                    tools=tools,
                ),
            )
        )
        assert f.code == grpc.StatusCode.INVALID_ARGUMENT and f.fields == [field]
        missing = failure(lambda: c.s("GetSession", spb.GetSessionRequest(session_id="bad-tools")))
        assert missing.code == grpc.StatusCode.NOT_FOUND  # nothing was stored
