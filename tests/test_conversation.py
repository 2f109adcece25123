"""Conversation turns: unary and streaming, atomic storage, concurrency and agent failures."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from agent_sessions.agents import MOCK_PREFIX, Agent, AgentEvent, AgentTurn, MockAgent, TextDelta
from agent_sessions.settings import Settings
from agentsessions.v1 import message_service_pb2 as mpb
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb
from google.rpc import code_pb2

from tests.support import Client, ThreadServer, channel_to, client, failure, failure_of
from tests.test_sessions import UUID_RE

MOCK = "This is a mock response to: "


def _user(text: str) -> spb.ConversationMessage:
    return spb.ConversationMessage(role=rpb.user, content=text)


def _append_call(c: Client, sid: str, call_id: str) -> None:
    """Appends an assistant tool call of `lookup` (no result) to a session."""
    c.m(
        "CreateMessage",
        mpb.CreateMessageRequest(
            session_id=sid,
            role=rpb.assistant,
            content="{}",
            tool_call_id=call_id,
            tool_name="lookup",
        ),
    )


def _contents(c: Client, sid: str) -> list[tuple[int, str]]:
    page = c.m("ListMessages", mpb.ListMessagesRequest(session_id=sid, page_size=1000))
    return [(m.role, m.content) for m in page.messages]


def test_first_turn_creates_a_session_with_a_generated_id(alice: Client) -> None:
    r = alice.s("Conversation", spb.ConversationRequest(messages=[_user("Hello")]))
    assert UUID_RE.match(r.session_id) and UUID_RE.match(r.session_uuid)
    assert r.response == MOCK + "Hello"
    assert r.messages_count == 2
    assert r.session_active is True
    s = alice.s("GetSession", spb.GetSessionRequest(session_id=r.session_id))
    assert s.id == r.session_uuid
    assert _contents(alice, r.session_id) == [(rpb.user, "Hello"), (rpb.assistant, MOCK + "Hello")]


def test_unknown_session_id_creates_it_with_the_given_fields_then_continues(alice: Client) -> None:
    r = alice.s(
        "Conversation",
        spb.ConversationRequest(
            session_id="chat-1",
            session_name="Chat",
            agent_name="mock",
            agent_instructions="Answer.",
            messages=[
                spb.ConversationMessage(role=rpb.system, content="Be kind."),
                _user("first"),
                # A complete call/result pair of the caller's own is stored as sent.
                spb.ConversationMessage(
                    role=rpb.assistant, content='{"q": 1}', tool_call_id="c1", tool_name="t"
                ),
                spb.ConversationMessage(
                    role=rpb.tool, content="out", tool_call_id="c1", tool_name="t", extra_data="{}"
                ),
                _user("last one"),
            ],
        ),
    )
    assert r.session_id == "chat-1" and r.messages_count == 6
    assert r.response == MOCK + "last one"  # the last user message, not the last message
    s = alice.s("GetSession", spb.GetSessionRequest(session_id="chat-1"))
    assert (s.session_name, s.agent_name, s.agent_instructions) == ("Chat", "mock", "Answer.")
    again = alice.s(
        "Conversation", spb.ConversationRequest(session_id="chat-1", messages=[_user("more")])
    )
    assert again.session_uuid == r.session_uuid and again.messages_count == 8
    listed = alice.m("ListMessages", mpb.ListMessagesRequest(session_id="chat-1")).messages
    assert [m.content for m in listed] == [
        "Be kind.",
        "first",
        '{"q": 1}',
        "out",
        "last one",
        MOCK + "last one",
        "more",
        MOCK + "more",
    ]
    assert (listed[3].tool_call_id, listed[3].tool_name, listed[3].extra_data) == ("c1", "t", "{}")


def test_inactive_session_refuses_turns_and_stores_nothing(alice: Client) -> None:
    alice.s("CreateSession", spb.CreateSessionRequest(session_id="off", is_active=False))
    for call in (
        lambda: alice.s(
            "Conversation", spb.ConversationRequest(session_id="off", messages=[_user("x")])
        ),
        lambda: list(
            alice.s("Converse", spb.ConverseRequest(session_id="off", messages=[_user("x")]))
        ),
    ):
        f = failure(call)
        assert f.code == grpc.StatusCode.FAILED_PRECONDITION
        assert f.reason == "SESSION_INACTIVE"
        assert "activate" in f.message
    assert _contents(alice, "off") == []


def test_empty_messages_is_invalid(alice: Client) -> None:
    for method, request in (
        ("Conversation", spb.ConversationRequest(session_id="none")),
        ("Converse", spb.ConverseRequest(session_id="none")),
    ):
        f = failure(
            lambda m=method, r=request: list(alice.s(m, r)) if m == "Converse" else alice.s(m, r)
        )  # type: ignore[misc]
        assert f.code == grpc.StatusCode.INVALID_ARGUMENT and f.fields == ["messages"]
    assert (
        failure(lambda: alice.s("GetSession", spb.GetSessionRequest(session_id="none"))).code
        == grpc.StatusCode.NOT_FOUND
    )


@pytest.mark.parametrize("word", ["word ", "x" * 100_000 + " ", "\U0001f600" * 40 + "\n"])
def test_a_long_mock_reply_streams_in_a_few_dozen_deltas(alice: Client, db: Any, word: str) -> None:
    """A 1,000,000-character message: the mock's reply (prefix + the message, exactly) comes in
    words at first, then in pieces of at most 16,384 characters — not one event per word, which
    the turn held (and recorded) until it was stored."""
    content = (word * (1_000_000 // len(word) + 1))[:1_000_000]
    events = list(
        alice.s(
            "Converse",
            spb.ConverseRequest(session_id="long-mock", messages=[_user(content)]),
        )
    )
    deltas = [e.delta.text for e in events if e.WhichOneof("event") == "delta"]
    assert "".join(deltas) == MOCK_PREFIX + content == events[-1].completed.response
    assert len(deltas) <= 400, len(deltas)
    assert max(len(d) for d in deltas) <= 16_384
    shown = db.execute(
        "SELECT result->'extra'->'shown' FROM turns WHERE id = %s", [events[0].started.turn_id]
    ).fetchone()[0]
    assert len(shown) == len(deltas)
    alice.s("DeleteSession", spb.DeleteSessionRequest(session_id="long-mock"))


def test_stream_events_in_order(alice: Client) -> None:
    events = list(
        alice.s(
            "Converse",
            spb.ConverseRequest(session_id="streamed", messages=[_user("tell me a story")]),
        )
    )
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[0] == "started" and kinds[-2:] == ["message", "completed"]
    deltas = [e.delta.text for e in events if e.WhichOneof("event") == "delta"]
    assert len(deltas) > 1, "the reply must arrive in several pieces"
    assert kinds[1:-2] == ["delta"] * len(deltas)
    started, message, completed = events[0].started, events[-2].message, events[-1].completed
    assert started.session_id == "streamed" and UUID_RE.match(started.session_uuid)
    assert "".join(deltas) == completed.response == MOCK + "tell me a story"
    assert completed.session_id == "streamed" and completed.session_uuid == started.session_uuid
    assert completed.messages_count == 2 and completed.session_active is True
    assert message.role == rpb.assistant and message.content == completed.response
    stored = alice.m(
        "GetMessage", mpb.GetMessageRequest(session_id="streamed", message_id=message.id)
    )
    assert stored == message


def test_concurrent_turns_on_one_session_stay_contiguous(alice: Client) -> None:
    alice.s("CreateSession", spb.CreateSessionRequest(session_id="crowded"))
    turns = 12

    def turn(i: int) -> Any:
        msgs = [
            _user(f"t{i}-a"),
            spb.ConversationMessage(role=rpb.system, content=f"t{i}-b"),
            _user(f"t{i}-c"),
        ]
        if i % 2:
            return list(
                alice.s("Converse", spb.ConverseRequest(session_id="crowded", messages=msgs))
            )
        return alice.s("Conversation", spb.ConversationRequest(session_id="crowded", messages=msgs))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(turn, range(turns)))
    assert len(results) == turns
    contents = [c for _, c in _contents(alice, "crowded")]
    assert len(contents) == turns * 4
    for start in range(0, len(contents), 4):
        block = contents[start : start + 4]
        prefix = block[0].split("-")[0]
        assert block == [f"{prefix}-a", f"{prefix}-b", f"{prefix}-c", MOCK + f"{prefix}-c"], block
    counts = sorted(
        r.messages_count
        if isinstance(r, spb.ConversationResponse)
        else r[-1].completed.messages_count
        for r in results
    )
    assert counts == [4 * (i + 1) for i in range(turns)]


class FailingAgent(Agent):
    """Streams a little, then fails, like a model backend dropping mid-reply."""

    async def run(self, turn: AgentTurn) -> AsyncGenerator[AgentEvent, None]:
        yield TextDelta("partial ")
        raise RuntimeError("model backend went away (secret=hunter2)")

    async def aclose(self) -> None:
        pass


class SlowAgent(Agent):
    """A model that takes its time; counts how many turns ran at once."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0

    async def run(self, turn: AgentTurn) -> AsyncGenerator[AgentEvent, None]:
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(0.5)
            async for event in MockAgent().run(turn):
                yield event
        finally:
            self.running -= 1

    async def aclose(self) -> None:
        pass


@pytest.fixture
def failing_server(settings: Settings) -> Any:
    with ThreadServer(settings, FailingAgent()) as server, channel_to(server.port) as ch:
        yield ch


def test_failed_agent_leaves_nothing_behind(failing_server: grpc.Channel, db: Any) -> None:
    c = client(failing_server)
    f = failure(
        lambda: c.s(
            "Conversation", spb.ConversationRequest(session_id="doomed", messages=[_user("hi")])
        )
    )
    assert f.code == grpc.StatusCode.UNAVAILABLE and f.reason == "AGENT_FAILED"
    assert "hunter2" not in f.message and "nothing of this turn was stored" in f.message
    # No session was created for the failed first turn.
    assert (
        failure(lambda: c.s("GetSession", spb.GetSessionRequest(session_id="doomed"))).code
        == grpc.StatusCode.NOT_FOUND
    )

    c.s("CreateSession", spb.CreateSessionRequest(session_id="kept"))
    c.m(
        "CreateMessage",
        mpb.CreateMessageRequest(session_id="kept", role=rpb.user, content="before"),
    )
    events: list[Any] = []
    with pytest.raises(grpc.RpcError) as raised:
        for e in c.s("Converse", spb.ConverseRequest(session_id="kept", messages=[_user("hi")])):
            events.append(e)
    assert failure_of(raised.value).code == grpc.StatusCode.UNAVAILABLE
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds == ["started", "delta", "error"]
    assert [e.seq for e in events] == [1, 2, 3]
    assert (
        events[-1].error.code == code_pb2.UNAVAILABLE and "hunter2" not in events[-1].error.message
    )
    assert _contents(c, "kept") == [(rpb.user, "before")]
    count = db.execute(
        "SELECT message_count, seq FROM agent_sessions WHERE session_id = 'kept' AND user_id = "
        "(SELECT user_id FROM agent_sessions s JOIN users u ON u.id = s.user_id WHERE u.subject = %s LIMIT 1)",
        [c.user],
    ).fetchone()
    assert count == (1, 1)


def test_no_connection_is_held_while_the_agent_works(settings: Settings) -> None:
    """Eight slow turns at once on a pool of one connection: all run together, none waits."""
    agent = SlowAgent()
    one_connection = dataclasses.replace(settings, db_pool_size=1)
    with ThreadServer(one_connection, agent) as server, channel_to(server.port) as ch:
        c = client(ch)
        with ThreadPoolExecutor(8) as pool:
            results = list(
                pool.map(
                    lambda i: c.s(
                        "Conversation",
                        spb.ConversationRequest(session_id=f"slow-{i}", messages=[_user(str(i))]),
                    ),
                    range(8),
                )
            )
    assert [r.response for r in results] == [MOCK + str(i) for i in range(8)]
    assert agent.peak == 8


def test_racing_first_turns_announce_the_session_that_is_stored(settings: Settings) -> None:
    """Two first turns on one new session_id: both `started` events name the stored session."""
    with ThreadServer(settings, SlowAgent()) as server, channel_to(server.port) as ch:
        c = client(ch)

        def turn(i: int) -> list[Any]:
            request = spb.ConverseRequest(session_id="raced", messages=[_user(f"r{i}")])
            return list(c.s("Converse", request))

        with ThreadPoolExecutor(2) as pool:
            streams = list(pool.map(turn, range(2)))
        stored = c.s("GetSession", spb.GetSessionRequest(session_id="raced"))
        for events in streams:
            assert events[0].started.session_uuid == stored.id
            assert events[-1].completed.session_uuid == stored.id
        assert sorted(e[-1].completed.messages_count for e in streams) == [2, 4]
        assert sorted(content for _, content in _contents(c, "raced")) == sorted(
            ["r0", "r1", MOCK + "r0", MOCK + "r1"]
        )


def test_the_mock_reads_no_history_yet_a_pending_call_must_be_answered(alice: Client) -> None:
    """The mock gets no history; the tool calls a session ends with are still found."""
    alice.s("CreateSession", spb.CreateSessionRequest(session_id="mock-pending"))
    for i in range(60):  # more than the history window
        alice.m(
            "CreateMessage",
            mpb.CreateMessageRequest(session_id="mock-pending", role=rpb.user, content=f"m{i}"),
        )
    _append_call(alice, "mock-pending", "c-open")
    f = failure(
        lambda: alice.s(
            "Conversation",
            spb.ConversationRequest(session_id="mock-pending", messages=[_user("x")]),
        )
    )
    assert f.code == grpc.StatusCode.FAILED_PRECONDITION and f.reason == "TOOL_RESULTS_MISSING"
    answered = alice.s(
        "Conversation",
        spb.ConversationRequest(
            session_id="mock-pending",
            messages=[
                spb.ConversationMessage(role=rpb.tool, tool_call_id="c-open", content="done"),
                _user("thanks"),
            ],
        ),
    )
    assert answered.response == MOCK + "thanks" and answered.messages_count == 64
    listed = alice.m(
        "ListMessages", mpb.ListMessagesRequest(session_id="mock-pending", order="desc")
    ).messages
    assert (listed[2].role, listed[2].tool_name) == (rpb.tool, "lookup")  # name filled in


def test_a_pending_call_is_found_after_the_newest_message_was_deleted(alice: Client) -> None:
    """The mock's one-statement turn checks the session's newest message, wherever its counter
    stands: here the call is no longer at the last position handed out."""
    alice.s("CreateSession", spb.CreateSessionRequest(session_id="deleted-tail"))
    _append_call(alice, "deleted-tail", "c-left")
    after = alice.m(
        "CreateMessage",
        mpb.CreateMessageRequest(session_id="deleted-tail", role=rpb.user, content="later"),
    )
    alice.m(
        "DeleteMessage", mpb.DeleteMessageRequest(session_id="deleted-tail", message_id=after.id)
    )
    f = failure(
        lambda: alice.s(
            "Conversation",
            spb.ConversationRequest(session_id="deleted-tail", messages=[_user("x")]),
        )
    )
    assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "TOOL_RESULTS_MISSING")
    assert _contents(alice, "deleted-tail") == [(rpb.assistant, "{}")]


def test_a_session_whose_id_was_not_derived_still_takes_turns(alice: Client, db: Any) -> None:
    """Sessions stored before ids were derived from (owner, session_id) have other ids: the
    mock's one-statement turn cannot find them by id, and the turn goes the usual way."""
    alice.s("CreateSession", spb.CreateSessionRequest(session_id="legacy-id"))
    (legacy,) = db.execute(
        "UPDATE agent_sessions SET id = gen_random_uuid() WHERE session_id = 'legacy-id' "
        "RETURNING id::text"
    ).fetchone()
    r = alice.s(
        "Conversation", spb.ConversationRequest(session_id="legacy-id", messages=[_user("a")])
    )
    assert (r.session_uuid, r.messages_count, r.response) == (legacy, 2, MOCK + "a")
    events = list(
        alice.s("Converse", spb.ConverseRequest(session_id="legacy-id", messages=[_user("b")]))
    )
    assert events[0].started.session_uuid == legacy
    assert events[-1].completed.messages_count == 4
    assert _contents(alice, "legacy-id") == [
        (rpb.user, "a"),
        (rpb.assistant, MOCK + "a"),
        (rpb.user, "b"),
        (rpb.assistant, MOCK + "b"),
    ]
    assert db.execute(
        "SELECT count(*) FROM agent_sessions WHERE session_id = 'legacy-id'"
    ).fetchone() == (1,)


class CountingMock(MockAgent):
    """The mock (it reads no session, so its turns are stored first), counting its runs."""

    def __init__(self) -> None:
        self.runs = 0

    async def run(self, turn: AgentTurn) -> AsyncGenerator[AgentEvent, None]:
        self.runs += 1
        async for event in super().run(turn):
            yield event


@pytest.mark.parametrize("refusal", ["inactive", "tool results missing"])
@pytest.mark.parametrize("method", ["Conversation", "Converse"])
def test_a_store_first_turn_that_is_refused_ran_its_agent_once(
    settings: Settings, refusal: str, method: str
) -> None:
    """A mock turn runs before its session is read; when the one-statement store refuses it,
    the refusal comes (before `started`, nothing stored) without the agent running again."""
    agent = CountingMock()
    with ThreadServer(settings, agent) as server, channel_to(server.port) as ch:
        c = client(ch)
        c.s("CreateSession", spb.CreateSessionRequest(session_id="s"))
        if refusal == "inactive":
            c.s("DeactivateSession", spb.DeactivateSessionRequest(session_id="s"))
            expected = (grpc.StatusCode.FAILED_PRECONDITION, "SESSION_INACTIVE")
        else:
            _append_call(c, "s", "call_1")
            expected = (grpc.StatusCode.FAILED_PRECONDITION, "TOOL_RESULTS_MISSING")
        request = (spb.ConversationRequest if method == "Conversation" else spb.ConverseRequest)(
            session_id="s", messages=[_user("hi")]
        )
        if method == "Conversation":
            f = failure(lambda: c.s(method, request))
        else:
            events: list[Any] = []

            def consume() -> None:
                events.extend(c.s(method, request))

            f = failure(consume)
            assert events == [], "a refusal comes before `started`"
        assert (f.code, f.reason) == expected
        assert agent.runs == 1
        stored = c.m("ListMessages", mpb.ListMessagesRequest(session_id="s")).messages
        assert [m.role for m in stored] == ([] if refusal == "inactive" else [rpb.assistant])


class HistoryReadingMock(MockAgent):
    """The mock's reply, from an agent that reads the session's history (recorded)."""

    uses_history = True
    reads_session = True

    def __init__(self) -> None:
        self.histories: list[list[str]] = []

    async def run(self, turn: AgentTurn) -> AsyncGenerator[AgentEvent, None]:
        self.histories.append([m.content for m in turn.history])
        async for event in super().run(turn):
            yield event


def test_an_agent_sees_the_last_history_window_messages(settings: Settings) -> None:
    """AGENT_SESSIONS_HISTORY_WINDOW earlier messages, the newest, oldest first; the mock none."""
    agent = HistoryReadingMock()
    windowed = dataclasses.replace(settings, history_window=3)
    with ThreadServer(windowed, agent) as server, channel_to(server.port) as ch:
        c = client(ch)
        c.s("CreateSession", spb.CreateSessionRequest(session_id="w"))
        for i in range(5):
            c.m(
                "CreateMessage",
                mpb.CreateMessageRequest(session_id="w", role=rpb.user, content=f"m{i}"),
            )
        c.s("Conversation", spb.ConversationRequest(session_id="w", messages=[_user("now")]))
    assert agent.histories == [["m2", "m3", "m4"]]
