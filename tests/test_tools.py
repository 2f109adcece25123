"""Agents with tools, all real parts: the OpenAI agent on a fake
OpenAI-compatible model API, a real MCP server (the `mcp` package) for server tools, a real
gRPC server, PostgreSQL and Envoy."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from agent_sessions.auth import user_id_for
from agent_sessions.settings import Settings
from agentsessions.v1 import message_service_pb2 as mpb
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb

from tests.fakes.mcp_server import FAIL_MESSAGE, FakeMcpServer
from tests.fakes.model_server import FakeModelServer, FakeToolCall, RecordedRequest, Step
from tests.support import (
    Client,
    ThreadServer,
    bearer,
    channel_to,
    client,
    failed_stream,
    failure,
    failure_of,
    openai_settings,
    token,
)

MCP_TOKEN = "mcp-secret-token-3c9d"
LOOKUP_SCHEMA = {
    "type": "object",
    "properties": {"q": {"type": "string", "minLength": 1}},
    "required": ["q"],
}


def _canonical(value: Any) -> str:
    """JSON text with sorted keys: tells 1 from 1.0 (== does not; a Struct carries every number
    as a double), not the order of an object's keys (a Struct does not keep it)."""
    return json.dumps(value, sort_keys=True)


def assert_paired(requests: list[RecordedRequest]) -> None:
    """No request to the model carries a tool call without its result or the other way round."""
    for request in requests:
        calls: set[str] = set()
        results: set[str] = set()
        for m in request.messages:
            for call in m.get("tool_calls") or []:
                calls.add(call["id"])
            if m.get("role") == "tool":
                assert m["tool_call_id"] in calls, ("result before or without its call", m)
                results.add(m["tool_call_id"])
        assert calls == results, ("a call without its result", calls - results)


@pytest.fixture(scope="module")
def mcp() -> Iterator[FakeMcpServer]:
    with FakeMcpServer(token=MCP_TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def model() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server
        assert not server.errors, server.errors
        assert_paired(server.requests)


def configured(settings: Settings, model: FakeModelServer, mcp_url: str, **more: Any) -> Settings:
    servers = [
        {"name": "calc", "url": mcp_url, "headers": {"Authorization": f"Bearer {MCP_TOKEN}"}}
    ]
    return openai_settings(
        settings,
        model.base_url,
        "sk-tools",
        "fake-model",
        mcp_servers=json.dumps(servers),
        tool_timeout=1.0,
        **more,
    )


@pytest.fixture(scope="module")
def server(
    settings: Settings, model: FakeModelServer, mcp: FakeMcpServer
) -> Iterator[ThreadServer]:
    with ThreadServer(configured(settings, model, mcp.url)) as running:
        yield running


@pytest.fixture
def c(server: ThreadServer, model: FakeModelServer) -> Iterator[Client]:
    model.script()
    with channel_to(server.port) as ch:
        yield client(ch)


def _user(text: str) -> spb.ConversationMessage:
    return spb.ConversationMessage(role=rpb.user, content=text)


def _stored(c: Client, session_id: str) -> list[tuple[str, str, str, str]]:
    listed = c.m("ListMessages", mpb.ListMessagesRequest(session_id=session_id)).messages
    return [(rpb.Role.Name(m.role), m.content, m.tool_call_id, m.tool_name) for m in listed]


def _lookup() -> spb.Tool:
    tool = spb.Tool(name="lookup", description="Looks a thing up at the caller.")
    tool.parameters.update(LOOKUP_SCHEMA)
    return tool


def test_a_server_tool_round_runs_the_mcp_tool_and_stores_every_step(
    c: Client, model: FakeModelServer, mcp: FakeMcpServer
) -> None:
    model.script(
        Step.tool_calls(FakeToolCall("call_add", "add", '{"a": 2, "b": 3}', pieces=3)),
        Step.text(["It is ", "5."]),
    )
    before = len(model.requests)
    events = list(
        c.sessions.Converse(
            spb.ConverseRequest(session_id="server-tool", messages=[_user("2+3?")]),
            metadata=c.metadata,
            timeout=30,
        )
    )
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[:3] == ["started", "tool_call", "tool_result"], kinds
    assert events[1].tool_call.arguments == '{"a": 2, "b": 3}'
    assert events[2].tool_result.output == "5" and events[2].tool_result.name == "add"
    assert kinds[-4:] == ["message", "message", "message", "completed"]
    completed = events[-1].completed
    assert completed.response == "It is 5." and completed.stop_reason == "end_turn"
    assert completed.messages_count == 4
    assert _stored(c, "server-tool") == [
        ("user", "2+3?", "", ""),
        ("assistant", '{"a": 2, "b": 3}', "call_add", "add"),
        ("tool", "5", "call_add", "add"),
        ("assistant", "It is 5.", "", ""),
    ]
    assert "add" in mcp.tool_calls and f"Bearer {MCP_TOKEN}" in mcp.authorizations
    second = model.requests[before + 1].messages
    assert [m["role"] for m in second[-2:]] == ["assistant", "tool"]
    # The next turn hands the model the call with its result.
    model.script(Step.text(["ok"]))
    c.s("Conversation", spb.ConversationRequest(session_id="server-tool", messages=[_user("k")]))
    history = model.requests[-1].messages
    assert any(m.get("tool_calls") for m in history) and any(m["role"] == "tool" for m in history)


def test_tool_errors_and_hangs_go_back_to_the_model_as_the_tools_output(
    c: Client, model: FakeModelServer, mcp: FakeMcpServer
) -> None:
    model.script(
        Step.tool_calls(
            FakeToolCall("call_fail", "fail", "{}"),
            FakeToolCall("call_hang", "hang", '{"seconds": 30}'),
        ),
        Step.text(["Both failed."]),
    )
    reply = c.s(
        "Conversation", spb.ConversationRequest(session_id="bad-tools", messages=[_user("go")])
    )
    assert reply.response == "Both failed." and reply.stop_reason == "end_turn"
    stored = {m[2]: m for m in _stored(c, "bad-tools") if m[0] == "tool"}
    assert FAIL_MESSAGE in stored["call_fail"][1]
    assert stored["call_hang"][1] == (
        "Error: the tool hang did not answer within 1 seconds and was stopped."
    )
    assert "hang" in mcp.cancelled


def test_a_caller_tool_round_across_two_requests(c: Client, model: FakeModelServer) -> None:
    model.script(Step.tool_calls(FakeToolCall("call_lookup", "lookup", '{"q": "oslo"}')))
    first = c.s(
        "Conversation",
        spb.ConversationRequest(
            session_id="caller-tool", messages=[_user("Weather?")], tools=[_lookup()]
        ),
    )
    assert first.stop_reason == "tool_calls" and first.response == ""
    assert [(p.tool_call_id, p.name, p.arguments) for p in first.pending_tool_calls] == [
        ("call_lookup", "lookup", '{"q": "oslo"}')
    ]
    # The caller's JSON Schema reached the model as sent (not rewritten as strict).
    declared = {t["function"]["name"]: t["function"] for t in model.requests[-1].body["tools"]}
    assert _canonical(declared["lookup"]["parameters"]) == _canonical(LOOKUP_SCHEMA)
    assert "add" in declared  # the MCP server's tools too
    assert _stored(c, "caller-tool") == [
        ("user", "Weather?", "", ""),
        ("assistant", '{"q": "oslo"}', "call_lookup", "lookup"),
    ]

    f = failure(
        lambda: c.s(
            "Conversation", spb.ConversationRequest(session_id="caller-tool", messages=[_user("?")])
        )
    )
    assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "TOOL_RESULTS_MISSING")

    model.script(Step.text(["Sunny in Oslo."]))
    done = c.s(
        "Conversation",
        spb.ConversationRequest(
            session_id="caller-tool",
            messages=[
                spb.ConversationMessage(
                    role=rpb.tool, tool_call_id="call_lookup", content="sunny, 21 C"
                )
            ],
            tools=[_lookup()],
        ),
    )
    assert done.response == "Sunny in Oslo." and done.stop_reason == "end_turn"
    assert _stored(c, "caller-tool")[2] == ("tool", "sunny, 21 C", "call_lookup", "lookup")
    sent = model.requests[-1].messages
    assert sent[-2]["tool_calls"][0]["id"] == "call_lookup"
    assert sent[-1] == {"role": "tool", "tool_call_id": "call_lookup", "content": "sunny, 21 C"}


def test_parallel_calls_of_both_kinds_in_one_response(c: Client, model: FakeModelServer) -> None:
    model.script(
        Step.tool_calls(
            FakeToolCall("call_s", "add", '{"a": 1, "b": 1}'),
            FakeToolCall("call_c", "lookup", '{"q": "x"}'),
            text=["Working on it. "],
        )
    )
    reply = c.s(
        "Conversation",
        spb.ConversationRequest(session_id="mixed", messages=[_user("both")], tools=[_lookup()]),
    )
    assert reply.stop_reason == "tool_calls"
    assert [p.tool_call_id for p in reply.pending_tool_calls] == ["call_c"]
    stored = _stored(c, "mixed")
    assert stored[0] == ("user", "both", "", "")
    assert stored[1] == ("assistant", "Working on it. ", "", "")
    # The server tool ran, the caller's stayed pending; both calls in the model's order.
    assert [s[2] for s in stored[2:] if s[0] == "assistant"] == ["call_s", "call_c"]
    assert ("tool", "2", "call_s", "add") in stored
    assert not any(s[0] == "tool" and s[2] == "call_c" for s in stored)

    model.script(Step.text(["Done."]))
    done = c.s(
        "Conversation",
        spb.ConversationRequest(
            session_id="mixed",
            messages=[spb.ConversationMessage(role=rpb.tool, tool_call_id="call_c", content="y")],
        ),
    )
    assert done.response == "Done."


def test_cancelling_during_a_running_server_tool_stops_it_and_stores_nothing(
    c: Client, model: FakeModelServer, mcp: FakeMcpServer
) -> None:
    mcp.hanging.clear()
    cancelled_before = mcp.cancelled.count("hang")
    model.script(Step.tool_calls(FakeToolCall("call_h", "hang", '{"seconds": 0.9}')))
    stream = c.sessions.Converse(
        spb.ConverseRequest(session_id="cancel-tool", messages=[_user("wait")]),
        metadata=c.metadata,
        timeout=30,
    )
    assert next(stream).WhichOneof("event") == "started"
    assert next(stream).WhichOneof("event") == "tool_call"
    assert mcp.hanging.wait(5)
    stream.cancel()
    deadline = threading.Event()
    for _ in range(50):
        if mcp.cancelled.count("hang") > cancelled_before:
            break
        deadline.wait(0.05)
    assert mcp.cancelled.count("hang") > cancelled_before, "the tool call kept running"
    f = failure(lambda: c.s("GetSession", spb.GetSessionRequest(session_id="cancel-tool")))
    assert f.code == grpc.StatusCode.NOT_FOUND


def test_a_session_can_narrow_the_server_tools(c: Client, model: FakeModelServer) -> None:
    c.s("CreateSession", spb.CreateSessionRequest(session_id="narrow", server_tools="calc/echo"))
    model.script(Step.text(["ok"]))
    c.s("Conversation", spb.ConversationRequest(session_id="narrow", messages=[_user("x")]))
    names = {t["function"]["name"] for t in model.requests[-1].body.get("tools") or []}
    assert names == {"echo"}
    f = failure(
        lambda: c.s(
            "UpdateSession", spb.UpdateSessionRequest(session_id="narrow", server_tools="nope")
        )
    )
    assert (f.code, f.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["server_tools"])
    c.s("UpdateSession", spb.UpdateSessionRequest(session_id="narrow", server_tools="none"))
    model.script(Step.text(["ok"]))
    c.s("Conversation", spb.ConversationRequest(session_id="narrow", messages=[_user("y")]))
    assert not model.requests[-1].body.get("tools")


def test_an_mcp_server_down_at_start_fails_only_the_turns_that_need_it_then_comes_back(
    settings: Settings, model: FakeModelServer
) -> None:
    down = FakeMcpServer(token=MCP_TOKEN)  # not started: nothing listens on its port
    with (
        ThreadServer(configured(settings, model, down.url)) as running,
        channel_to(running.port) as ch,
    ):
        c = client(ch)
        with pytest.raises(grpc.RpcError) as raised:
            c.s("Conversation", spb.ConversationRequest(session_id="needs", messages=[_user("x")]))
        f = failure_of(raised.value)
        assert (f.code, f.reason) == (grpc.StatusCode.UNAVAILABLE, "TOOL_UNAVAILABLE")
        assert failure(
            lambda: c.s("GetSession", spb.GetSessionRequest(session_id="needs"))
        ).code == (grpc.StatusCode.NOT_FOUND)
        # A session that may use no server tools is unaffected.
        model.script(Step.text(["fine"]))
        unaffected = c.s(
            "Conversation",
            spb.ConversationRequest(
                session_id="no-tools", server_tools="none", messages=[_user("x")]
            ),
        )
        assert unaffected.response == "fine"
        with down:
            model.script(Step.text(["back"]))
            for _ in range(100):  # reconnects in the background (backoff from 0.5 s)
                try:
                    reply = c.s(
                        "Conversation",
                        spb.ConversationRequest(session_id="needs", messages=[_user("x")]),
                    )
                    break
                except grpc.RpcError as exc:
                    assert failure_of(exc).reason == "TOOL_UNAVAILABLE"
                    threading.Event().wait(0.1)
            else:
                raise AssertionError("the MCP server was never reconnected")
            assert reply.response == "back"


def test_a_caller_tool_round_over_rest_and_sse(
    server: ThreadServer, model: FakeModelServer, tmp_path: Path
) -> None:
    from tests.conftest import start_envoy, wait_rest_ready

    process, http_port = start_envoy(tmp_path, server.port)
    try:
        wait_rest_ready(http_port, process=process)
        headers = {"Authorization": f"Bearer {token(f'rest-tools-{uuid.uuid4().hex[:6]}')}"}
        tool = {"name": "lookup", "description": "Looks up.", "parameters": LOOKUP_SCHEMA}
        with httpx.Client(
            base_url=f"http://127.0.0.1:{http_port}/api/agent-sessions", headers=headers, timeout=30
        ) as http:
            model.script(Step.tool_calls(FakeToolCall("call_r", "lookup", '{"q": "rest"}')))
            streamed = http.post(
                "/conversation:stream",
                json={
                    "session_id": "rest-tools",
                    "messages": [{"role": "user", "content": "x"}],
                    "tools": [tool],
                },
            )
            events = [
                json.loads(line[len("data: ") :])
                for line in streamed.text.splitlines()
                if line.startswith("data: ")
            ]
            kinds = [next(k for k in e if k != "seq") for e in events]
            assert kinds == ["started", "tool_call", "message", "completed"], kinds
            assert events[1]["tool_call"] == {
                "tool_call_id": "call_r",
                "name": "lookup",
                "arguments": '{"q": "rest"}',
            }
            completed = events[-1]["completed"]
            assert completed["stop_reason"] == "tool_calls"
            assert completed["pending_tool_calls"] == [events[1]["tool_call"]]
            declared = {t["function"]["name"]: t for t in model.requests[-1].body["tools"]}
            sent = declared["lookup"]["function"]["parameters"]
            assert _canonical(sent) == _canonical(LOOKUP_SCHEMA)

            model.script(Step.text(["Answered."]))
            done = http.post(
                "/conversation",
                json={
                    "session_id": "rest-tools",
                    "messages": [{"role": "tool", "tool_call_id": "call_r", "content": "r"}],
                },
            ).json()
            assert done["response"] == "Answered." and done["stop_reason"] == "end_turn"
            unknown = http.post(
                "/conversation",
                json={
                    "session_id": "rest-tools",
                    "messages": [{"role": "tool", "tool_call_id": "nope", "content": "r"}],
                },
            )
            assert unknown.status_code == 400
            reasons = [d.get("reason") for d in unknown.json()["details"]]
            assert "UNKNOWN_TOOL_CALL" in reasons
    finally:
        process.terminate()
        process.wait(10)


def test_tools_of_one_name_twice_are_refused_and_server_tools_choose(
    settings: Settings, model: FakeModelServer, mcp: FakeMcpServer
) -> None:
    """Two servers offering the same tools (here: one MCP server configured twice), and a
    caller tool named like a server tool: refused before the model is asked, nothing stored."""
    servers = [
        {"name": name, "url": mcp.url, "headers": {"Authorization": f"Bearer {MCP_TOKEN}"}}
        for name in ("calc", "also")
    ]
    twice = dataclasses.replace(
        configured(settings, model, mcp.url), mcp_servers=json.dumps(servers)
    )
    with ThreadServer(twice) as running, channel_to(running.port) as ch:
        c = client(ch)
        model.script()
        before = len(model.requests)
        f = failure(
            lambda: c.s(
                "Conversation", spb.ConversationRequest(session_id="b", messages=[_user("x")])
            )
        )
        assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "TOOL_NAME_CONFLICT")
        assert "'calc' and 'also'" in f.message and "server_tools" in f.message, f.message
        events, f = failed_stream(c, spb.ConverseRequest(session_id="b", messages=[_user("x")]))
        assert [e.WhichOneof("event") for e in events] == ["started", "error"]
        assert f.reason == "TOOL_NAME_CONFLICT"
        assert len(model.requests) == before  # the model was never asked
        assert failure(lambda: c.s("GetSession", spb.GetSessionRequest(session_id="b"))).code == (
            grpc.StatusCode.NOT_FOUND
        )

        # The session's server_tools choose: calc's add and the other's echo.
        model.script(Step.text(["ok"]))
        c.s(
            "Conversation",
            spb.ConversationRequest(
                session_id="chosen", server_tools="calc/add,also/echo", messages=[_user("x")]
            ),
        )
        names = {t["function"]["name"] for t in model.requests[-1].body.get("tools") or []}
        assert names == {"add", "echo"}

        # A caller tool named like a server tool the session may use names its field.
        echo = spb.Tool(name="echo", description="The caller's own echo.")
        asked = len(model.requests)
        f = failure(
            lambda: c.s(
                "Conversation",
                spb.ConversationRequest(
                    session_id="chosen", messages=[_user("y")], tools=[_lookup(), echo]
                ),
            )
        )
        assert (f.code, f.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["tools[1].name"])
        assert "'also'" in f.message, f.message
        assert len(model.requests) == asked
        assert [m[1] for m in _stored(c, "chosen")] == ["x", "ok"]
        # Once the session no longer may use that server's echo, the name is the caller's.
        c.s("UpdateSession", spb.UpdateSessionRequest(session_id="chosen", server_tools="calc/add"))
        model.script(Step.text(["fine"]))
        reply = c.s(
            "Conversation",
            spb.ConversationRequest(session_id="chosen", messages=[_user("z")], tools=[echo]),
        )
        assert reply.response == "fine"
        names = {t["function"]["name"] for t in model.requests[-1].body.get("tools") or []}
        assert names == {"add", "echo"}


def test_a_server_open_to_some_claims_does_not_exist_for_other_users(
    settings: Settings, model: FakeModelServer, mcp: FakeMcpServer
) -> None:
    """`allow_claims` on a server: users whose token lacks the claim cannot name it (the same
    refusal as an unknown server's, which lists only the servers they may use) and their turns
    never get its tools; every tool call carries the caller's user id, as a header and in
    `_meta`, so a stateful tool can scope its data by user."""
    servers = [
        {"name": "calc", "url": mcp.url, "headers": {"Authorization": f"Bearer {MCP_TOKEN}"}},
        {
            "name": "private",
            "url": mcp.url,
            "headers": {"Authorization": f"Bearer {MCP_TOKEN}"},
            "allow_claims": {"groups": ["search"]},
        },
    ]
    restricted = dataclasses.replace(
        configured(settings, model, mcp.url), mcp_servers=json.dumps(servers)
    )
    with ThreadServer(restricted) as running, channel_to(running.port) as ch:
        member_sub = f"member-{uuid.uuid4().hex[:8]}"
        member = client(ch, member_sub)
        member.metadata = bearer(member_sub, groups=["staff", "search"])
        outsider = client(ch)  # no groups claim at all
        other = client(ch)
        other.metadata = bearer(other.user, groups=["staff"], scope="search")
        model.script()

        # The member may use both servers: both offer `echo`, so an unnarrowed session clashes.
        f = failure(
            lambda: member.s(
                "Conversation", spb.ConversationRequest(session_id="m", messages=[_user("x")])
            )
        )
        assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "TOOL_NAME_CONFLICT")
        assert "'private'" in f.message
        member.s("CreateSession", spb.CreateSessionRequest(session_id="m", server_tools="private"))

        for c in (outsider, other):
            # Naming it is refused exactly as naming a server that is not configured.
            unknown = failure(
                lambda c=c: c.s(  # type: ignore[misc]
                    "CreateSession", spb.CreateSessionRequest(session_id="o", server_tools="nope")
                )
            )
            hidden = failure(
                lambda c=c: c.s(  # type: ignore[misc]
                    "CreateSession",
                    spb.CreateSessionRequest(session_id="o", server_tools="private/echo"),
                )
            )
            assert (hidden.code, hidden.fields) == (unknown.code, unknown.fields)
            assert hidden.message == unknown.message.replace("'nope'", "'private'")
            assert "private" not in unknown.message and "(calc)" in unknown.message
            # So is a turn that names it for the session it creates.
            f = failure(
                lambda c=c: c.s(  # type: ignore[misc]
                    "Conversation",
                    spb.ConversationRequest(
                        session_id="o", server_tools="private", messages=[_user("x")]
                    ),
                )
            )
            assert (f.code, f.fields) == (unknown.code, unknown.fields)
            assert f.message == unknown.message.replace("'nope'", "'private'")
            # No clash on an unnarrowed session: the only echo its turns see is calc's.
            model.script(Step.text(["only calc"]))
            reply = c.s(
                "Conversation", spb.ConversationRequest(session_id="o", messages=[_user("x")])
            )
            assert reply.response == "only calc"

        # The member's turn calls the restricted server's tool, which learns who asked.
        before = len(mcp.tool_call_users())
        model.script(
            Step.tool_calls(FakeToolCall("call_echo", "echo", '{"text": "hi"}')),
            Step.text(["done"]),
        )
        reply = member.s(
            "Conversation", spb.ConversationRequest(session_id="m", messages=[_user("e")])
        )
        assert reply.response == "done"
        member_id = str(user_id_for(member_sub))
        assert mcp.tool_call_users()[before:] == [(member_id, member_id)]
