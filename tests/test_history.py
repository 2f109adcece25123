"""History: forks, rewinds, labels, retention and usage, over gRPC and REST, scoped to their
owner, atomic, and never cutting a tool call from its result."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import AsyncGenerator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest
from agent_sessions.agents import Agent, AgentEvent, AgentTurn, TextDelta, UsageReport
from agentsessions.v1 import message_service_pb2 as mpb
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb
from google.protobuf import timestamp_pb2

from tests.support import Client, ThreadServer, channel_to, client, failure, token

USER, ASSISTANT, TOOL = rpb.user, rpb.assistant, rpb.tool


def _create(c: Client, sid: str, **more: Any) -> Any:
    return c.s("CreateSession", spb.CreateSessionRequest(session_id=sid, **more))


def _get(c: Client, sid: str) -> Any:
    return c.s("GetSession", spb.GetSessionRequest(session_id=sid))


def _append(c: Client, sid: str, content: str, role: int = USER, **more: Any) -> Any:
    request = mpb.CreateMessageRequest(session_id=sid, role=role, content=content, **more)
    return c.m("CreateMessage", request)


def _contents(c: Client, sid: str) -> list[str]:
    listed = c.m("ListMessages", mpb.ListMessagesRequest(session_id=sid, page_size=1000))
    return [m.content for m in listed.messages]


def _fork(c: Client, sid: str, **more: Any) -> Any:
    return c.s("ForkSession", spb.ForkSessionRequest(session_id=sid, **more))


def _rewind(c: Client, sid: str, after: str, **more: Any) -> Any:
    request = spb.RewindSessionRequest(session_id=sid, after_message_id=after, **more)
    return c.s("RewindSession", request)


def _with_tool_call(c: Client, sid: str) -> dict[str, str]:
    """A session: a question, a call, its result, an answer; their ids by name."""
    _create(c, sid, agent_name="weather", agent_instructions="Be brief.", model="m1")
    ids = {"question": _append(c, sid, "Weather?").id}
    ids["call"] = _append(c, sid, "{}", ASSISTANT, tool_call_id="c1", tool_name="get").id
    ids["result"] = _append(c, sid, "sunny", TOOL, tool_call_id="c1").id
    ids["answer"] = _append(c, sid, "It is sunny.", ASSISTANT).id
    return ids


# -- fork --------------------------------------------------------------------------------------


def test_fork_copies_fields_and_messages_with_new_ids(alice: Client) -> None:
    ids = _with_tool_call(alice, "src")
    source = _get(alice, "src")
    fork = _fork(alice, "src", new_session_id="copy", session_name="Copy")
    assert fork.session_id == "copy" and fork.session_name == "Copy"
    assert (fork.agent_name, fork.agent_instructions, fork.model) == ("weather", "Be brief.", "m1")
    assert fork.id != source.id and fork.seq == 4
    copied = alice.m("ListMessages", mpb.ListMessagesRequest(session_id="copy")).messages
    assert [m.content for m in copied] == ["Weather?", "{}", "sunny", "It is sunny."]
    assert [m.seq for m in copied] == [1, 2, 3, 4]
    assert not {m.id for m in copied} & set(ids.values())
    assert copied[1].tool_call_id == "c1" and copied[2].tool_call_id == "c1"
    assert _get(alice, "src") == source  # the source is unchanged
    # Up to a message: that one included.
    part = _fork(alice, "src", new_session_id="part", up_to_message_id=ids["result"])
    assert _contents(alice, "part") == ["Weather?", "{}", "sunny"] and part.seq == 3
    # A generated id when none is given; the source's name when none is given.
    named = _fork(alice, "part")
    assert named.session_id and named.session_id != "part"
    assert uuid.UUID(named.session_id)


def test_fork_never_ends_between_a_tool_call_and_its_result(alice: Client) -> None:
    ids = _with_tool_call(alice, "src")
    refused = failure(lambda: _fork(alice, "src", new_session_id="f", up_to_message_id=ids["call"]))
    assert refused.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.reason == "SPLITS_TOOL_CALL"
    # Nothing was made: all or nothing.
    assert failure(lambda: _get(alice, "f")).code == grpc.StatusCode.NOT_FOUND
    assert _fork(alice, "src", new_session_id="f", up_to_message_id=ids["question"]).seq == 1


def test_fork_refusals_and_owner_scope(alice: Client, bob: Client) -> None:
    ids = _with_tool_call(alice, "src")
    _create(alice, "taken")
    taken = failure(lambda: _fork(alice, "src", new_session_id="taken"))
    assert taken.code == grpc.StatusCode.ALREADY_EXISTS
    assert _contents(alice, "taken") == []  # nothing copied into the existing session
    missing = failure(lambda: _fork(alice, "nope", new_session_id="x"))
    assert missing.code == grpc.StatusCode.NOT_FOUND and missing.reason == "SESSION_NOT_FOUND"
    other = failure(lambda: _fork(bob, "src", new_session_id="x"))
    assert other.code == grpc.StatusCode.NOT_FOUND
    stranger = failure(lambda: _fork(alice, "src", up_to_message_id=str(uuid.uuid4())))
    assert stranger.code == grpc.StatusCode.NOT_FOUND and stranger.reason == "MESSAGE_NOT_FOUND"
    bad = failure(lambda: _fork(alice, "src", up_to_message_id="not-a-uuid"))
    assert bad.code == grpc.StatusCode.INVALID_ARGUMENT and bad.fields == ["up_to_message_id"]
    # Bob's message id does not cut Alice's session.
    _create(bob, "b")
    bobs = _append(bob, "b", "bob's").id
    assert failure(lambda: _fork(alice, "src", up_to_message_id=bobs)).reason == (
        "MESSAGE_NOT_FOUND"
    )
    assert ids  # Alice's session is still there
    assert len(_contents(alice, "src")) == 4


def test_fork_is_replayed_with_its_request_id(alice: Client) -> None:
    _with_tool_call(alice, "src")
    rid = str(uuid.uuid4())
    first = _fork(alice, "src", new_session_id="f", request_id=rid)
    again = _fork(alice, "src", new_session_id="f", request_id=rid)
    assert again == first
    reused = failure(lambda: _fork(alice, "src", new_session_id="g", request_id=rid))
    assert reused.reason == "REQUEST_ID_REUSED"


def test_fork_copies_all_or_nothing(alice: Client, db: Any) -> None:
    """Many forks of one session at once: each copy is whole (never a prefix being written)."""
    _create(alice, "big")
    for i in range(40):
        _append(alice, "big", f"m{i}")
    with ThreadPoolExecutor(8) as pool:
        forks = list(pool.map(lambda i: _fork(alice, "big", new_session_id=f"f{i}"), range(16)))
    for fork in forks:
        assert fork.seq == 40
        assert _contents(alice, fork.session_id) == [f"m{i}" for i in range(40)]


# -- rewind ------------------------------------------------------------------------------------


def test_rewind_deletes_after_a_message_each_taking_a_seq(alice: Client) -> None:
    ids = _with_tool_call(alice, "s")
    before = _get(alice, "s")
    rewound = _rewind(alice, "s", ids["question"])
    assert _contents(alice, "s") == ["Weather?"]
    assert rewound.seq == before.seq + 3 and rewound.etag != before.etag
    # The next message takes the next seq.
    assert _append(alice, "s", "again").seq == rewound.seq + 1
    # Nothing after it: nothing changes.
    last = _append(alice, "s", "last")
    same = _rewind(alice, "s", last.id)
    assert same.seq == _get(alice, "s").seq == last.seq


def test_rewind_never_ends_between_a_tool_call_and_its_result(alice: Client) -> None:
    ids = _with_tool_call(alice, "s")
    refused = failure(lambda: _rewind(alice, "s", ids["call"]))
    assert refused.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.reason == "SPLITS_TOOL_CALL"
    assert len(_contents(alice, "s")) == 4
    assert _contents(alice, "s") == _contents(alice, "s")
    assert _rewind(alice, "s", ids["result"]).seq == 5
    assert _contents(alice, "s") == ["Weather?", "{}", "sunny"]


def test_rewind_conditions_and_owner_scope(alice: Client, bob: Client) -> None:
    ids = _with_tool_call(alice, "s")
    session = _get(alice, "s")
    stale = failure(lambda: _rewind(alice, "s", ids["question"], etag="AAAAAAAAAAE"))
    assert stale.code == grpc.StatusCode.ABORTED and stale.reason == "ETAG_MISMATCH"
    moved = failure(lambda: _rewind(alice, "s", ids["question"], expected_seq=1))
    assert moved.code == grpc.StatusCode.ABORTED and moved.reason == "SESSION_CHANGED"
    assert failure(lambda: _rewind(bob, "s", ids["question"])).code == grpc.StatusCode.NOT_FOUND
    gone = failure(lambda: _rewind(alice, "s", str(uuid.uuid4())))
    assert gone.reason == "MESSAGE_NOT_FOUND"
    assert len(_contents(alice, "s")) == 4
    rid = str(uuid.uuid4())
    first = _rewind(alice, "s", ids["question"], etag=session.etag, request_id=rid)
    _append(alice, "s", "later")
    assert _rewind(alice, "s", ids["question"], etag=session.etag, request_id=rid) == first
    assert _contents(alice, "s") == ["Weather?", "later"]  # the replay deleted nothing


def test_rewind_under_concurrent_appends_is_atomic(alice: Client) -> None:
    """Appends racing a rewind land wholly before it (and are deleted) or after it."""
    _create(alice, "s")
    keep = _append(alice, "s", "keep")
    for i in range(20):
        _append(alice, "s", f"old{i}")
    stop = threading.Event()

    def appender(n: int) -> list[Any]:
        made = []
        while not stop.is_set() and len(made) < 30:
            made.append(_append(alice, "s", f"new{n}"))
        return made

    with ThreadPoolExecutor(4) as pool:
        running = [pool.submit(appender, n) for n in range(3)]
        time.sleep(0.05)
        rewound = _rewind(alice, "s", keep.id)
        stop.set()
        appended = [m for future in running for m in future.result()]
    listed = alice.m("ListMessages", mpb.ListMessagesRequest(session_id="s", page_size=1000))
    survivors = {m.id for m in listed.messages}
    assert listed.messages[0].id == keep.id
    for message in appended:
        # After the rewind: kept; before it: deleted by it.
        assert (message.id in survivors) == (message.seq > rewound.seq), message.seq
    assert listed.total_size == len(survivors) == 1 + sum(m.seq > rewound.seq for m in appended)
    assert _get(alice, "s").seq == max([rewound.seq, *(m.seq for m in appended)])


# -- labels ------------------------------------------------------------------------------------


def test_labels_set_replace_clear_and_filter(alice: Client, bob: Client) -> None:
    made = _create(alice, "a", labels={"team": "search", "tier": "gold"})
    assert dict(made.labels) == {"team": "search", "tier": "gold"}
    _create(alice, "b", labels={"team": "search", "tier": "free"})
    _create(alice, "c", labels={"team": "ads"})
    _create(bob, "d", labels={"team": "search", "tier": "gold"})

    def listed(*labels: str, user: Client = alice) -> list[str]:
        page = user.s("ListSessions", spb.ListSessionsRequest(label=list(labels)))
        return [s.session_id for s in page.sessions]

    assert listed("team:search") == ["b", "a"]
    assert listed("team:search", "tier:gold") == ["a"]
    assert listed("tier:gold", "team:search") == ["a"]
    assert listed("team:search", "team:ads") == []
    assert listed() == ["c", "b", "a"]
    assert listed("team:search", user=bob) == ["d"]
    # PATCH replaces the whole map; an empty one clears it; absent leaves it.
    update = spb.UpdateSessionRequest
    replaced = alice.s("UpdateSession", update(session_id="a", labels={"tier": "free"}))
    assert dict(replaced.labels) == {"tier": "free"}
    renamed = alice.s("UpdateSession", update(session_id="a", session_name="n"))
    assert dict(renamed.labels) == {"tier": "free"}
    cleared = alice.s("UpdateSession", update(session_id="a", labels={}))
    assert dict(cleared.labels) == {} and cleared.seq == renamed.seq + 1
    assert listed("tier:free") == ["b"]


def test_label_pages_keep_their_filters(alice: Client) -> None:
    for i in range(5):
        _create(alice, f"s{i}", labels={"k": "v" if i % 2 else "w"})
    first = alice.s("ListSessions", spb.ListSessionsRequest(label=["k:w"], page_size=2))
    assert [s.session_id for s in first.sessions] == ["s4", "s2"] and first.total_size == 3
    second = alice.s(
        "ListSessions",
        spb.ListSessionsRequest(label=["k:w"], page_size=2, page_token=first.next_page_token),
    )
    assert [s.session_id for s in second.sessions] == ["s0"]
    other = failure(
        lambda: alice.s(
            "ListSessions",
            spb.ListSessionsRequest(label=["k:v"], page_token=first.next_page_token),
        )
    )
    assert other.code == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("labels", "field"),
    [
        ({"Bad": "x"}, "labels[Bad]"),
        ({"1abc": "x"}, "labels[1abc]"),
        ({"k" * 64: "x"}, f"labels[{'k' * 64}]"),
        ({"ok": "v" * 257}, "labels[ok]"),
        ({f"k{i}": "v" for i in range(65)}, "labels"),
    ],
)
def test_bad_labels_are_refused_naming_the_field(
    alice: Client, labels: dict[str, str], field: str
) -> None:
    refused = failure(lambda: _create(alice, "x", labels=labels))
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT and refused.fields == [field]
    _create(alice, "y")
    patch = spb.UpdateSessionRequest(session_id="y", labels=labels)
    refused = failure(lambda: alice.s("UpdateSession", patch))
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT and refused.fields == [field]


def test_label_edge_values_are_accepted(alice: Client) -> None:
    labels = {"a": "", "k" * 63: "v" * 256, **{f"k{i}": "v" for i in range(62)}}
    assert dict(_create(alice, "x", labels=labels).labels) == labels
    update = spb.UpdateSessionRequest(session_id="x", labels={"n": 1})  # type: ignore[dict-item]
    assert failure(lambda: alice.s("UpdateSession", update)).fields == ["labels[n]"]
    for bad in ("nocolon", "Bad:x"):
        request = spb.ListSessionsRequest(label=[bad])
        refused = failure(lambda request=request: alice.s("ListSessions", request))
        assert refused.code == grpc.StatusCode.INVALID_ARGUMENT and refused.fields == ["label[0]"]


# -- retention ---------------------------------------------------------------------------------


def _stamp(value: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def test_an_expired_session_is_gone_for_every_call(alice: Client) -> None:
    past = _stamp(datetime.now(UTC) - timedelta(seconds=1))
    made = _create(alice, "old", expire_time=past)
    assert made.expire_time == past
    calls = [
        lambda: _get(alice, "old"),
        lambda: _append(alice, "old", "x"),
        lambda: alice.m("ListMessages", mpb.ListMessagesRequest(session_id="old")),
        lambda: alice.s("UpdateSession", spb.UpdateSessionRequest(session_id="old", model="m")),
        lambda: alice.s("DeleteSession", spb.DeleteSessionRequest(session_id="old")),
        lambda: _fork(alice, "old"),
        lambda: _rewind(alice, "old", str(uuid.uuid4())),
        lambda: alice.m("ClearMessages", mpb.ClearMessagesRequest(session_id="old")),
    ]
    for call in calls:
        assert failure(call).code == grpc.StatusCode.NOT_FOUND
    assert alice.s("ListSessions", spb.ListSessionsRequest()).total_size == 0
    # Its id is free again, at once (before any sweep).
    again = _create(alice, "old")
    assert again.session_id == "old" and not again.HasField("expire_time")
    assert _get(alice, "old").id == again.id


def test_patch_expires_a_session_and_a_turn_starts_it_anew(alice: Client) -> None:
    _create(alice, "s")
    _append(alice, "s", "before")
    future = _stamp(datetime.now(UTC) + timedelta(days=1))
    moved = alice.s("UpdateSession", spb.UpdateSessionRequest(session_id="s", expire_time=future))
    assert moved.expire_time == future
    past = _stamp(datetime.now(UTC) - timedelta(seconds=1))
    alice.s("UpdateSession", spb.UpdateSessionRequest(session_id="s", expire_time=past))
    assert failure(lambda: _get(alice, "s")).code == grpc.StatusCode.NOT_FOUND
    reply = alice.s(
        "Conversation",
        spb.ConversationRequest(
            session_id="s", messages=[spb.ConversationMessage(role=USER, content="hi")]
        ),
    )
    assert reply.messages_count == 2
    assert _contents(alice, "s")[0] == "hi"  # a new session: nothing of the expired one


def test_ttl_sets_the_expiry_and_refuses_nonsense(alice: Client) -> None:
    before = datetime.now(UTC)
    made = _create(alice, "t", ttl=3600)
    expires = made.expire_time.ToDatetime(tzinfo=UTC)
    assert before + timedelta(seconds=3590) < expires < before + timedelta(seconds=3610)
    for ttl in (0, -5):
        refused = failure(lambda ttl=ttl: _create(alice, "u", ttl=ttl))
        assert refused.code == grpc.StatusCode.INVALID_ARGUMENT and refused.fields == ["ttl"]
    both = failure(lambda: _create(alice, "u", ttl=5, expire_time=_stamp(datetime.now(UTC))))
    assert both.fields == ["ttl"]
    short = _create(alice, "short", ttl=1)
    assert short.session_id == "short"
    time.sleep(1.2)
    assert failure(lambda: _get(alice, "short")).code == grpc.StatusCode.NOT_FOUND


@pytest.fixture(scope="module")
def ttl_server(settings: Any) -> Iterator[ThreadServer]:
    """A server whose new sessions live an hour unless told otherwise."""
    import dataclasses

    with ThreadServer(dataclasses.replace(settings, session_ttl=3600)) as running:
        yield running


def test_the_server_default_ttl_applies_to_every_new_session(ttl_server: ThreadServer) -> None:
    with channel_to(ttl_server.port) as ch:
        c = client(ch)
        now = datetime.now(UTC)
        made = [
            _create(c, "created"),
            c.s(
                "Conversation",
                spb.ConversationRequest(
                    session_id="turned",
                    messages=[spb.ConversationMessage(role=USER, content="hi")],
                ),
            )
            and _get(c, "turned"),
            _fork(c, "created", new_session_id="forked"),
        ]
        for session in made:
            expires = session.expire_time.ToDatetime(tzinfo=UTC)
            assert now + timedelta(seconds=3500) < expires < now + timedelta(seconds=3700)
        kept = _create(c, "kept", ttl=60).expire_time.ToDatetime(tzinfo=UTC)
        assert kept < now + timedelta(seconds=120)


def test_the_sweep_deletes_expired_sessions_in_batches_one_worker_at_a_time(
    alice: Client, database_url: str, db: Any
) -> None:
    """Expired sessions with messages under a load of writes: each delete takes one batch, the
    writes all complete meanwhile, and a second sweeper skips while the first holds the lock."""
    import asyncio

    from agent_sessions.db.engine import open_pool
    from agent_sessions.db.maintenance import SESSION_SWEEP_LOCK, sweep_sessions

    user = alice.user
    _create(alice, "live")
    owner = db.execute(
        "SELECT user_id FROM agent_sessions WHERE session_id = 'live' AND "
        "user_id = (SELECT id FROM users WHERE subject = %s)",
        [user],
    ).fetchone()[0]
    db.execute(
        "INSERT INTO agent_sessions (id, user_id, session_id, expire_time) "
        "SELECT gen_random_uuid(), %s, 'gone-' || g, now() - interval '1 minute' "
        "FROM generate_series(1, 1000) g",
        [owner],
    )
    db.execute(
        "INSERT INTO session_messages (id, session_uuid, seq, role, content) "
        "SELECT gen_random_uuid(), s.id, g, 'user', 'x' FROM agent_sessions s, "
        "generate_series(1, 5) g WHERE s.user_id = %s AND s.session_id LIKE 'gone-%%'",
        [owner],
    )
    # Another worker holds the lock: this one skips the round and deletes nothing.
    db.execute("SELECT pg_advisory_lock(%s)", [SESSION_SWEEP_LOCK])

    async def sweep() -> list[int] | None:
        pool = await open_pool(database_url, 2)
        try:
            return await sweep_sessions(pool, batch=50)
        finally:
            await pool.close()

    assert asyncio.run(sweep()) is None
    db.execute("SELECT pg_advisory_unlock(%s)", [SESSION_SWEEP_LOCK])
    count = "SELECT count(*) FROM agent_sessions WHERE user_id = %s"
    assert db.execute(count, [owner]).fetchone()[0] == 1001

    stop = threading.Event()

    def writer() -> int:
        written = 0
        while not stop.is_set():
            _append(alice, "live", "w")
            written += 1
        return written

    with ThreadPoolExecutor(2) as pool:
        writers = [pool.submit(writer) for _ in range(2)]
        try:
            batches = asyncio.run(sweep())
        finally:
            stop.set()
        written = sum(w.result(timeout=30) for w in writers)
    # (Expired sessions other tests left are swept too.)
    assert batches is not None and sum(batches) >= 1000
    assert all(b <= 50 for b in batches) and len(batches) >= 20
    assert written > 0 and len(_contents(alice, "live")) == written
    assert db.execute(count, [owner]).fetchone()[0] == 1
    # The lock is released for the next round.
    assert asyncio.run(sweep()) is not None


# -- usage -------------------------------------------------------------------------------------


class UsageAgent(Agent):
    """Answers and reports 10 input and 3 output tokens per turn."""

    async def run(self, turn: AgentTurn) -> AsyncGenerator[AgentEvent, None]:
        yield TextDelta("ok")
        yield UsageReport(input_tokens=10, output_tokens=3, total_tokens=13)

    async def aclose(self) -> None:
        pass


@pytest.fixture(scope="module")
def usage_server(settings: Any) -> Iterator[ThreadServer]:
    with ThreadServer(settings, UsageAgent()) as running:
        yield running


def _turn(c: Client, sid: str, text: str = "hi") -> Any:
    return c.s(
        "Conversation",
        spb.ConversationRequest(
            session_id=sid, messages=[spb.ConversationMessage(role=USER, content=text)]
        ),
    )


def test_usage_sums_the_stored_turns(usage_server: ThreadServer) -> None:
    with channel_to(usage_server.port) as ch:
        c = client(ch)
        for _ in range(3):
            _turn(c, "s")
        usage = _get(c, "s").usage
        assert (usage.input_tokens, usage.output_tokens, usage.total_tokens, usage.turns) == (
            30,
            9,
            39,
            3,
        )
        # Batches and single messages are no turns; a fork starts at zero.
        batch = mpb.BatchCreateMessagesRequest(
            session_id="s", messages=[mpb.NewMessage(role=USER, content="x")]
        )
        c.m("BatchCreateMessages", batch)
        _append(c, "s", "y")
        assert _get(c, "s").usage.turns == 3
        assert _fork(c, "s", new_session_id="f").usage.turns == 0


def test_mock_turns_count_with_zero_tokens(alice: Client) -> None:
    _turn(alice, "m")
    _turn(alice, "m")
    usage = _get(alice, "m").usage
    assert (usage.turns, usage.input_tokens, usage.total_tokens) == (2, 0, 0)
    assert _create(alice, "fresh").usage.turns == 0


# -- REST --------------------------------------------------------------------------------------


@pytest.fixture
def http(rest_port: int) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {token(f'rest-{uuid.uuid4().hex[:8]}')}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{rest_port}", headers=headers, timeout=20) as c:
        yield c


def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_history_over_rest(http: httpx.Client) -> None:
    base = "/api/agent-sessions"
    made = _ok(http.post(base, json={"session_id": "r", "labels": {"team": "search"}, "ttl": 600}))
    assert made["labels"] == {"team": "search"} and made["expire_time"].endswith("Z")
    assert made["usage"] == {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0, "turns": 0}
    ids = [
        _ok(http.post(f"{base}/r/messages", json={"role": "user", "content": t}))["id"]
        for t in ("one", "two", "three")
    ]
    fork = _ok(
        http.post(f"{base}/r:fork", json={"new_session_id": "f", "up_to_message_id": ids[1]})
    )
    assert fork["session_id"] == "f" and fork["labels"] == {"team": "search"} and fork["seq"] == 2
    rewound = _ok(http.post(f"{base}/r:rewind", json={"after_message_id": ids[0]}))
    assert rewound["seq"] == 5
    listed = _ok(http.get(f"{base}/r/messages"))
    assert [m["content"] for m in listed["messages"]] == ["one"]
    # Labels: filter; PATCH replaces; `{}` clears; absent leaves them.
    _ok(http.post(base, json={"session_id": "g", "labels": {"team": "search", "tier": "gold"}}))
    found = _ok(http.get(base, params=[("label", "team:search"), ("label", "tier:gold")]))
    assert [s["session_id"] for s in found["sessions"]] == ["g"]
    assert _ok(http.patch(f"{base}/g", json={"labels": {"tier": "free"}}))["labels"] == {
        "tier": "free"
    }
    assert _ok(http.patch(f"{base}/g", json={"description": "d"}))["labels"] == {"tier": "free"}
    assert _ok(http.patch(f"{base}/g", json={"labels": {}}))["labels"] == {}
    bad = http.patch(f"{base}/g", json={"labels": {"Bad": "x"}})
    assert bad.status_code == 400
    violations = [d for d in bad.json()["details"] if "field_violations" in d]
    assert violations[0]["field_violations"][0]["field"] == "labels[Bad]"
    # A split: 400 FAILED_PRECONDITION; an expired session: 404.
    call = _ok(
        http.post(
            f"{base}/g/messages",
            json={"role": "assistant", "content": "{}", "tool_call_id": "c", "tool_name": "t"},
        )
    )
    _ok(http.post(f"{base}/g/messages", json={"role": "tool", "content": "r", "tool_call_id": "c"}))
    split = http.post(f"{base}/g:fork", json={"up_to_message_id": call["id"]})
    assert split.status_code == 400 and split.json()["code"] == 9
    reasons = [d.get("reason") for d in split.json()["details"]]
    assert "SPLITS_TOOL_CALL" in reasons
    past = "2020-01-01T00:00:00Z"
    # Shown with six fractional digits, like every time (a whole second shows 1 µs later).
    shown = _ok(http.patch(f"{base}/g", json={"expire_time": past}))["expire_time"]
    assert shown == "2020-01-01T00:00:00.000001Z"
    assert http.get(f"{base}/g").status_code == 404
