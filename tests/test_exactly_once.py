"""Exactly once: request ids on every write (a retry answers the first call's response and
stores nothing), etags on sessions and messages, the session's gap-free `seq` and
`expected_seq`, and batch appends."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import httpx
import psycopg
import pytest
from agentsessions.v1 import message_service_pb2 as mpb
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb

from tests.support import Client, failure, token

USER = rpb.user


def rid() -> str:
    return str(uuid.uuid4())


def _messages(c: Client, sid: str) -> list[Any]:
    return list(
        c.m("ListMessages", mpb.ListMessagesRequest(session_id=sid, page_size=1000)).messages
    )


def _session(c: Client, sid: str) -> Any:
    return c.s("GetSession", spb.GetSessionRequest(session_id=sid))


def _new_session(c: Client, sid: str = "s") -> Any:
    return c.s("CreateSession", spb.CreateSessionRequest(session_id=sid))


def _append(c: Client, sid: str, text: str, **more: Any) -> Any:
    request = mpb.CreateMessageRequest(session_id=sid, role=USER, content=text, **more)
    return c.m("CreateMessage", request)


# -- request ids: every write, replayed --------------------------------------------------------


def _prepared(c: Client) -> dict[str, Any]:
    """A session with two messages, and their ids."""
    _new_session(c, "s")
    first = _append(c, "s", "one")
    second = _append(c, "s", "two")
    return {"first": first.id, "second": second.id}


# Each write: (service, method, request built from the prepared ids).
WRITES: list[tuple[str, str, Callable[[dict[str, Any], str], Any]]] = [
    ("s", "CreateSession", lambda ids, r: spb.CreateSessionRequest(session_id="new", request_id=r)),
    (
        "s",
        "UpdateSession",
        lambda ids, r: spb.UpdateSessionRequest(session_id="s", session_name="x", request_id=r),
    ),
    ("s", "DeleteSession", lambda ids, r: spb.DeleteSessionRequest(session_id="s", request_id=r)),
    (
        "s",
        "DeactivateSession",
        lambda ids, r: spb.DeactivateSessionRequest(session_id="s", request_id=r),
    ),
    (
        "s",
        "ActivateSession",
        lambda ids, r: spb.ActivateSessionRequest(session_id="s", request_id=r),
    ),
    (
        "m",
        "CreateMessage",
        lambda ids, r: mpb.CreateMessageRequest(
            session_id="s", role=USER, content="three", request_id=r
        ),
    ),
    (
        "m",
        "BatchCreateMessages",
        lambda ids, r: mpb.BatchCreateMessagesRequest(
            session_id="s",
            messages=[
                mpb.NewMessage(role=USER, content="b1"),
                mpb.NewMessage(role=USER, content="b2"),
            ],
            request_id=r,
        ),
    ),
    (
        "m",
        "UpdateMessage",
        lambda ids, r: mpb.UpdateMessageRequest(
            session_id="s", message_id=ids["first"], content="edited", request_id=r
        ),
    ),
    (
        "m",
        "DeleteMessage",
        lambda ids, r: mpb.DeleteMessageRequest(
            session_id="s", message_id=ids["first"], request_id=r
        ),
    ),
    ("m", "ClearMessages", lambda ids, r: mpb.ClearMessagesRequest(session_id="s", request_id=r)),
    (
        "s",
        "Conversation",
        lambda ids, r: spb.ConversationRequest(
            session_id="s",
            messages=[spb.ConversationMessage(role=USER, content="hi")],
            request_id=r,
        ),
    ),
]


def _call(c: Client, service: str, method: str, request: Any) -> Any:
    return (c.s if service == "s" else c.m)(method, request)


def _state(c: Client, db: psycopg.Connection[Any]) -> tuple[Any, ...]:
    """Everything of the user's: sessions and messages as stored."""
    return tuple(
        db.execute(
            "SELECT s.session_id, s.seq, s.is_active, s.session_name, s.updated_at, m.id, "
            "m.content, m.seq, m.updated_at FROM agent_sessions s JOIN users u ON u.id = s.user_id "
            "LEFT JOIN session_messages m ON m.session_uuid = s.id WHERE u.subject = %s "
            "ORDER BY s.session_id, m.seq",
            [c.user],
        ).fetchall()
    )


@pytest.mark.parametrize(("service", "method", "build"), WRITES, ids=[w[1] for w in WRITES])
def test_a_retry_answers_the_first_response_and_stores_nothing(
    alice: Client,
    db: psycopg.Connection[Any],
    service: str,
    method: str,
    build: Callable[[dict[str, Any], str], Any],
) -> None:
    ids = _prepared(alice)
    request_id = rid()
    first = _call(alice, service, method, build(ids, request_id))
    after_first = _state(alice, db)
    again = _call(alice, service, method, build(ids, request_id))
    assert again.SerializeToString(deterministic=True) == first.SerializeToString(
        deterministic=True
    )
    assert _state(alice, db) == after_first, "the retry changed something"


@pytest.mark.parametrize(("service", "method", "build"), WRITES, ids=[w[1] for w in WRITES])
def test_a_request_id_reused_for_another_request_is_refused(
    alice: Client,
    db: psycopg.Connection[Any],
    service: str,
    method: str,
    build: Callable[[dict[str, Any], str], Any],
) -> None:
    ids = _prepared(alice)
    request_id = rid()
    _call(alice, service, method, build(ids, request_id))
    after_first = _state(alice, db)
    # Another message under the id: other fields (CreateMessage) or another method.
    other = mpb.CreateMessageRequest(
        session_id="s", role=USER, content="else", request_id=request_id
    )
    f = failure(lambda: alice.m("CreateMessage", other))
    assert (f.code, f.reason, f.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "REQUEST_ID_REUSED",
        ["request_id"],
    )
    assert _state(alice, db) == after_first


def test_the_first_answer_comes_back_after_the_resource_changed(alice: Client) -> None:
    """Even deleted since: the retry answers the message as first stored, and stores nothing."""
    _new_session(alice)
    request_id = rid()
    created = _append(alice, "s", "kept", request_id=request_id)
    alice.m("DeleteMessage", mpb.DeleteMessageRequest(session_id="s", message_id=created.id))
    again = _append(alice, "s", "kept", request_id=request_id)
    assert again == created
    assert _messages(alice, "s") == []
    # A retried delete answers as the first did, not NOT_FOUND; so does a retried clear.
    delete_id = rid()
    gone = _append(alice, "s", "gone")
    for _ in range(2):
        alice.m(
            "DeleteMessage",
            mpb.DeleteMessageRequest(session_id="s", message_id=gone.id, request_id=delete_id),
        )
    _append(alice, "s", "a")
    clear_id = rid()
    counts = [
        alice.m("ClearMessages", mpb.ClearMessagesRequest(session_id="s", request_id=clear_id))
        for _ in range(2)
    ]
    assert [c.deleted_count for c in counts] == [1, 1]


def test_only_what_committed_is_remembered(alice: Client) -> None:
    """A call that failed stored nothing and leaves its id unused: a retry runs anew."""
    request_id = rid()
    f = failure(lambda: _append(alice, "later", "x", request_id=request_id))
    assert f.code == grpc.StatusCode.NOT_FOUND
    _new_session(alice, "later")
    created = _append(alice, "later", "x", request_id=request_id)
    assert [m.id for m in _messages(alice, "later")] == [created.id]


def test_a_request_id_is_a_uuid_and_scoped_to_its_user(alice: Client, bob: Client) -> None:
    _new_session(alice)
    f = failure(lambda: _append(alice, "s", "x", request_id="not-a-uuid"))
    assert (f.code, f.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["request_id"])
    shared = rid()
    _append(alice, "s", "alice's", request_id=shared)
    _new_session(bob)
    _append(bob, "s", "bob's", request_id=shared)  # another user's id space
    assert [m.content for m in _messages(bob, "s")] == ["bob's"]


def test_concurrent_calls_with_one_request_id_store_once(alice: Client) -> None:
    """Eight at once: the others wait for the first to commit, then answer its response."""
    _new_session(alice)
    request_id = rid()
    barrier = threading.Barrier(8)

    def send(_: int) -> Any:
        barrier.wait()
        return _append(alice, "s", "once", request_id=request_id)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    assert len({a.id for a in answers}) == 1
    assert [m.content for m in _messages(alice, "s")] == ["once"]


def test_a_retried_conversation_runs_once_and_streams_the_stored_turn(alice: Client) -> None:
    request_id = rid()
    messages = [spb.ConversationMessage(role=USER, content="hello")]
    first = alice.s(
        "Conversation",
        spb.ConversationRequest(session_id="t", messages=messages, request_id=request_id),
    )
    # The same turn retried as a stream (another method: refused) and as itself.
    f = failure(
        lambda: list(
            alice.s(
                "Converse",
                spb.ConverseRequest(session_id="t", messages=messages, request_id=request_id),
            )
        )
    )
    assert f.reason == "REQUEST_ID_REUSED"
    again = alice.s(
        "Conversation",
        spb.ConversationRequest(session_id="t", messages=messages, request_id=request_id),
    )
    assert again == first
    assert len(_messages(alice, "t")) == 2
    stream_id = rid()
    request = spb.ConverseRequest(session_id="t", messages=messages, request_id=stream_id)
    streamed = list(alice.s("Converse", request))
    replayed = list(alice.s("Converse", request))
    assert replayed[-1].completed == streamed[-1].completed
    kinds = [e.WhichOneof("event") for e in replayed]
    assert kinds[0] == "started" and kinds[-2:] == ["message", "completed"]
    assert "".join(e.delta.text for e in replayed) == streamed[-1].completed.response
    assert len(_messages(alice, "t")) == 4


# -- the same id, killed at the commit ---------------------------------------------------------


def test_a_write_killed_before_its_commit_leaves_neither_the_write_nor_its_id(
    alice: Client, db: psycopg.Connection[Any], database_url: str
) -> None:
    """The request id and its write are one statement: killing the backend while it waits to
    commit leaves neither; the retry then stores the message exactly once."""
    _new_session(alice)
    user_id = db.execute("SELECT id FROM users WHERE subject = %s", [alice.user]).fetchone()[0]
    request_id = rid()
    with psycopg.connect(database_url) as locker:
        # Hold the session's row lock: the write's statement blocks inside, before its commit.
        locker.execute(
            "SELECT 1 FROM agent_sessions WHERE user_id = %s AND session_id = 's' FOR UPDATE",
            [user_id],
        )
        outcome: list[Any] = []
        writer = threading.Thread(
            target=lambda: outcome.append(
                failure(lambda: _append(alice, "s", "x", request_id=request_id))
            )
        )
        writer.start()
        for _ in range(100):
            waiting = db.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%%request_ids%%'"
            ).fetchall()
            if waiting:
                break
            threading.Event().wait(0.05)
        assert waiting, "the write never reached its statement"
        db.execute("SELECT pg_terminate_backend(%s)", [waiting[0][0]])
        writer.join(20)
    assert outcome and outcome[0].code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL)
    stored = db.execute(
        "SELECT count(*) FROM request_ids WHERE user_id = %s AND request_id = %s",
        [user_id, request_id],
    ).fetchone()[0]
    assert (stored, len(_messages(alice, "s"))) == (0, 0)
    created = _append(alice, "s", "x", request_id=request_id)
    assert [m.id for m in _messages(alice, "s")] == [created.id]


# -- etags ---------------------------------------------------------------------------------------


def test_a_stale_etag_changes_nothing(alice: Client) -> None:
    session = _new_session(alice)
    assert session.etag and session.seq == 0
    updated = alice.s(
        "UpdateSession",
        spb.UpdateSessionRequest(session_id="s", session_name="a", etag=session.etag),
    )
    assert updated.etag != session.etag and updated.seq == 1
    for stale in (
        lambda: alice.s(
            "UpdateSession",
            spb.UpdateSessionRequest(session_id="s", session_name="b", etag=session.etag),
        ),
        lambda: alice.s(
            "DeactivateSession", spb.DeactivateSessionRequest(session_id="s", etag=session.etag)
        ),
        lambda: alice.s("DeleteSession", spb.DeleteSessionRequest(session_id="s", etag="garbage")),
    ):
        f = failure(stale)
        assert (f.code, f.reason) == (grpc.StatusCode.ABORTED, "ETAG_MISMATCH")
    assert _session(alice, "s") == updated
    message = _append(alice, "s", "m")
    changed = alice.m(
        "UpdateMessage",
        mpb.UpdateMessageRequest(
            session_id="s", message_id=message.id, content="n", etag=message.etag
        ),
    )
    assert changed.etag != message.etag
    f = failure(
        lambda: alice.m(
            "DeleteMessage",
            mpb.DeleteMessageRequest(session_id="s", message_id=message.id, etag=message.etag),
        )
    )
    assert (f.code, f.reason) == (grpc.StatusCode.ABORTED, "ETAG_MISMATCH")
    alice.m(
        "DeleteMessage",
        mpb.DeleteMessageRequest(session_id="s", message_id=message.id, etag=changed.etag),
    )
    # A missing one is still NOT_FOUND, whatever the etag.
    f = failure(
        lambda: alice.s("DeleteSession", spb.DeleteSessionRequest(session_id="nope", etag="x"))
    )
    assert f.code == grpc.StatusCode.NOT_FOUND


# -- the session sequence ------------------------------------------------------------------------


def test_every_change_takes_the_next_seq(alice: Client) -> None:
    _new_session(alice)
    first = _append(alice, "s", "a")
    second = _append(alice, "s", "b")
    assert (first.seq, second.seq) == (1, 2)
    alice.m(
        "UpdateMessage", mpb.UpdateMessageRequest(session_id="s", message_id=first.id, content="A")
    )
    alice.m("DeleteMessage", mpb.DeleteMessageRequest(session_id="s", message_id=second.id))
    alice.s("DeactivateSession", spb.DeactivateSessionRequest(session_id="s"))
    alice.s("ActivateSession", spb.ActivateSessionRequest(session_id="s"))
    alice.s("UpdateSession", spb.UpdateSessionRequest(session_id="s", description="d"))
    assert _session(alice, "s").seq == 7
    alice.m("ClearMessages", mpb.ClearMessagesRequest(session_id="s"))
    assert _session(alice, "s").seq == 8
    result = alice.s(
        "Conversation",
        spb.ConversationRequest(
            session_id="s", messages=[spb.ConversationMessage(role=USER, content="x")]
        ),
    )
    assert _session(alice, "s").seq == 10  # the turn stored two messages
    assert [m.seq for m in _messages(alice, "s")] == [9, 10]
    assert result.messages_count == 2


def test_concurrent_writers_get_gap_free_seqs_in_commit_order(
    alice: Client, db: psycopg.Connection[Any]
) -> None:
    """Many writers on one session, single messages and batches: every seq from 1 to the
    session's is taken exactly once, and each batch is contiguous."""
    _new_session(alice)

    def write(i: int) -> list[int]:
        if i % 3 == 0:
            batch = mpb.BatchCreateMessagesRequest(
                session_id="s",
                messages=[mpb.NewMessage(role=USER, content=f"{i}.{k}") for k in range(3)],
            )
            return [m.seq for m in alice.m("BatchCreateMessages", batch).messages]
        return [_append(alice, "s", str(i)).seq]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(write, range(60)))
    for seqs in results:
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a batch was split"
    total = sum(len(seqs) for seqs in results)
    assert sorted(seq for seqs in results for seq in seqs) == list(range(1, total + 1))
    assert _session(alice, "s").seq == total
    assert [m.seq for m in _messages(alice, "s")] == list(range(1, total + 1))


def test_expected_seq_is_a_compare_and_swap(alice: Client) -> None:
    session = _new_session(alice)
    created = _append(alice, "s", "a", expected_seq=session.seq)
    f = failure(lambda: _append(alice, "s", "b", expected_seq=session.seq))
    assert (f.code, f.reason) == (grpc.StatusCode.ABORTED, "SESSION_CHANGED")
    turn = [spb.ConversationMessage(role=USER, content="t")]
    f = failure(
        lambda: alice.s(
            "Conversation", spb.ConversationRequest(session_id="s", messages=turn, expected_seq=0)
        )
    )
    assert (f.code, f.reason) == (grpc.StatusCode.ABORTED, "SESSION_CHANGED")
    alice.s(
        "Conversation",
        spb.ConversationRequest(session_id="s", messages=turn, expected_seq=created.seq),
    )
    batch = mpb.BatchCreateMessagesRequest(
        session_id="s", messages=[mpb.NewMessage(role=USER, content="x")], expected_seq=1
    )
    f = failure(lambda: alice.m("BatchCreateMessages", batch))
    assert (f.code, f.reason) == (grpc.StatusCode.ABORTED, "SESSION_CHANGED")
    assert [m.content for m in _messages(alice, "s")] == ["a", "t", "This is a mock response to: t"]


# -- batches -------------------------------------------------------------------------------------


def test_a_batch_is_all_or_nothing(alice: Client) -> None:
    _new_session(alice)
    bad = mpb.BatchCreateMessagesRequest(
        session_id="s",
        messages=[
            mpb.NewMessage(role=USER, content="fine"),
            mpb.NewMessage(role=USER, content="bad", extra_data="not json"),
        ],
    )
    f = failure(lambda: alice.m("BatchCreateMessages", bad))
    assert (f.code, f.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["messages[1].extra_data"])
    f = failure(
        lambda: alice.m(
            "BatchCreateMessages",
            mpb.BatchCreateMessagesRequest(
                session_id="s", messages=[mpb.NewMessage(role=USER)] * 101
            ),
        )
    )
    assert f.fields == ["messages"]
    assert _messages(alice, "s") == []


def test_a_batch_creates_its_session_only_when_asked(alice: Client) -> None:
    one = [mpb.NewMessage(role=USER, content="x")]
    f = failure(
        lambda: alice.m(
            "BatchCreateMessages", mpb.BatchCreateMessagesRequest(session_id="new", messages=one)
        )
    )
    assert f.code == grpc.StatusCode.NOT_FOUND
    created = alice.m(
        "BatchCreateMessages",
        mpb.BatchCreateMessagesRequest(
            session_id="new",
            messages=one,
            create_session=mpb.NewSession(session_name="N", agent_name="a", is_active=False),
        ),
    )
    assert [m.seq for m in created.messages] == [1]
    session = _session(alice, "new")
    assert (session.session_name, session.agent_name, session.is_active, session.seq) == (
        "N",
        "a",
        False,
        1,
    )


def test_a_batch_creates_its_session_with_labels_and_expiry(alice: Client) -> None:
    """`create_session` takes what CreateSession takes: labels, and `ttl` or `expire_time`;
    they are refused as CreateSession refuses them, named under create_session, and nothing
    is stored then."""
    import time

    one = [mpb.NewMessage(role=USER, content="x")]
    alice.m(
        "BatchCreateMessages",
        mpb.BatchCreateMessagesRequest(
            session_id="labelled",
            messages=one,
            create_session=mpb.NewSession(labels={"team": "search", "tier": "gold"}, ttl=3600),
        ),
    )
    session = _session(alice, "labelled")
    assert dict(session.labels) == {"team": "search", "tier": "gold"}
    assert 3500 < session.expire_time.seconds - time.time() <= 3600
    listed = alice.s("ListSessions", spb.ListSessionsRequest(label=["team:search"]))
    assert [s.session_id for s in listed.sessions] == ["labelled"]
    # An existing session keeps its own: the batch only appends.
    alice.m(
        "BatchCreateMessages",
        mpb.BatchCreateMessagesRequest(
            session_id="labelled",
            messages=one,
            create_session=mpb.NewSession(labels={"team": "other"}),
        ),
    )
    assert dict(_session(alice, "labelled").labels) == {"team": "search", "tier": "gold"}
    at = mpb.NewSession()
    at.expire_time.FromSeconds(int(time.time()) + 7200)
    alice.m(
        "BatchCreateMessages",
        mpb.BatchCreateMessagesRequest(session_id="until", messages=one, create_session=at),
    )
    assert _session(alice, "until").expire_time.seconds == at.expire_time.seconds
    for bad, field in (
        (mpb.NewSession(labels={"Bad Key": "x"}), "create_session.labels[Bad Key]"),
        (mpb.NewSession(ttl=0), "create_session.ttl"),
        (mpb.NewSession(ttl=5, expire_time=at.expire_time), "create_session.ttl"),
    ):
        f = failure(
            lambda bad=bad: alice.m(
                "BatchCreateMessages",
                mpb.BatchCreateMessagesRequest(
                    session_id="refused", messages=one, create_session=bad
                ),
            )
        )
        assert (f.code, f.fields) == (grpc.StatusCode.INVALID_ARGUMENT, [field]), f
    assert failure(lambda: _session(alice, "refused")).code == grpc.StatusCode.NOT_FOUND


def test_a_batch_answers_tool_calls_as_a_turn_does(alice: Client) -> None:
    _new_session(alice)
    call = mpb.NewMessage(role=rpb.assistant, content="{}", tool_call_id="c1", tool_name="add")
    result = mpb.NewMessage(role=rpb.tool, content="2", tool_call_id="c1")
    stored = alice.m(
        "BatchCreateMessages",
        mpb.BatchCreateMessagesRequest(session_id="s", messages=[call, result]),
    )
    assert stored.messages[1].tool_name == "add"  # filled in from the call
    orphan = mpb.NewMessage(role=rpb.tool, content="?", tool_call_id="nobody")
    f = failure(
        lambda: alice.m(
            "BatchCreateMessages", mpb.BatchCreateMessagesRequest(session_id="s", messages=[orphan])
        )
    )
    assert (f.reason, f.fields) == ("UNKNOWN_TOOL_CALL", ["messages[0].tool_call_id"])
    # A result answering the call the session waits for (pending) is fine.
    alice.m("BatchCreateMessages", mpb.BatchCreateMessagesRequest(session_id="s", messages=[call]))
    alice.m(
        "BatchCreateMessages", mpb.BatchCreateMessagesRequest(session_id="s", messages=[result])
    )


# -- REST: headers ---------------------------------------------------------------------------------


@pytest.fixture
def http(rest_port: int) -> Iterator[httpx.Client]:
    user = f"rest-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {token(user)}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{rest_port}", headers=headers, timeout=20) as c:
        yield c


def test_rest_takes_the_idempotency_key_and_if_match_headers(http: httpx.Client) -> None:
    key = rid()
    first = http.post(
        "/api/agent-sessions", json={"session_id": "h"}, headers={"Idempotency-Key": key}
    )
    again = http.post(
        "/api/agent-sessions", json={"session_id": "h"}, headers={"Idempotency-Key": key}
    )
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert isinstance(first.json()["seq"], int)
    etag = first.json()["etag"]
    stale = http.put("/api/agent-sessions/h/deactivate", headers={"If-Match": '"nope"'})
    assert stale.status_code == 409 and stale.json()["details"][0]["reason"] == "ETAG_MISMATCH"
    done = http.put("/api/agent-sessions/h/deactivate", headers={"If-Match": f'"{etag}"'})
    assert done.status_code == 200 and done.json()["is_active"] is False
    clash = http.post(
        "/api/agent-sessions/h/messages",
        json={"role": "user", "content": "x", "request_id": rid()},
        headers={"Idempotency-Key": rid()},
    )
    assert clash.status_code == 400 and "request_id" in clash.json()["message"]
    delete_key = rid()
    for _ in range(2):
        gone = http.delete("/api/agent-sessions/h", headers={"Idempotency-Key": delete_key})
        assert (gone.status_code, gone.json()) == (200, {})
    assert http.get("/api/agent-sessions/h").status_code == 404
    batch = http.post(
        "/api/agent-sessions/b/messages:batchCreate",
        json={"messages": [{"role": "user", "content": "1"}], "create_session": {}},
    )
    assert batch.status_code == 200 and batch.json()["messages"][0]["seq"] == 1
    labelled = http.post(
        "/api/agent-sessions/bl/messages:batchCreate",
        json={
            "messages": [{"role": "user", "content": "1"}],
            "create_session": {"labels": {"team": "search"}, "ttl": 600},
        },
    )
    assert labelled.status_code == 200, labelled.text
    made = http.get("/api/agent-sessions/bl").json()
    assert made["labels"] == {"team": "search"} and made["expire_time"]


# -- how long ids are kept -----------------------------------------------------------------------


def test_expired_request_ids_are_swept_in_batches(
    settings: Any, db: psycopg.Connection[Any], database_url: str
) -> None:
    """Ids are kept AGENT_SESSIONS_REQUEST_ID_TTL seconds; then a sweep deletes them a batch at
    a time, and the id is free again: a call with it runs anew."""
    import asyncio
    import dataclasses

    from agent_sessions.db.engine import open_pool
    from agent_sessions.db.maintenance import sweep_request_ids

    from tests.support import ThreadServer, channel_to, client

    short = dataclasses.replace(settings, request_id_ttl=1)
    with ThreadServer(short) as server, channel_to(server.port) as ch:
        c = client(ch)
        _new_session(c)
        request_id = rid()
        ids = [rid() for _ in range(5)]
        for i, each in enumerate([request_id, *ids]):
            _append(c, "s", f"m{i}", request_id=each)
        kept = db.execute(
            "SELECT expires_at - created_at FROM request_ids WHERE request_id = %s", [request_id]
        ).fetchone()[0]
        assert kept.total_seconds() == pytest.approx(1, abs=0.01)
        assert _append(c, "s", "m0", request_id=request_id).seq == 1  # still known: replayed
        db.execute(
            "UPDATE request_ids SET expires_at = now() - interval '1 second' "
            "WHERE request_id = ANY(%s)",
            [[uuid.UUID(x) for x in [request_id, *ids]]],
        )

        async def sweep() -> int:
            pool = await open_pool(database_url, 1)
            try:
                return await sweep_request_ids(pool, batch=2)
            finally:
                await pool.close()

        assert asyncio.run(sweep()) >= 6
        left = db.execute(
            "SELECT count(*) FROM request_ids WHERE request_id = ANY(%s)",
            [[uuid.UUID(x) for x in [request_id, *ids]]],
        ).fetchone()[0]
        assert left == 0
        assert _append(c, "s", "m0", request_id=request_id).seq == 7  # stored anew


def test_first_batches_racing_on_a_new_session_all_land(alice: Client) -> None:
    """Eight batches at once create one session: every one is stored, each contiguous."""
    barrier = threading.Barrier(8)

    def batch(i: int) -> list[int]:
        request = mpb.BatchCreateMessagesRequest(
            session_id="fresh",
            messages=[mpb.NewMessage(role=USER, content=f"{i}.{k}") for k in range(2)],
            create_session=mpb.NewSession(session_name="raced"),
        )
        barrier.wait()
        return [m.seq for m in alice.m("BatchCreateMessages", request).messages]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(batch, range(8)))
    assert sorted(seq for seqs in results for seq in seqs) == list(range(1, 17))
    assert all(seqs[1] == seqs[0] + 1 for seqs in results)
    assert _session(alice, "fresh").session_name == "raced"


# -- races and odd input (found in review) --------------------------------------------------------


def test_concurrent_writers_of_one_message_respect_its_etag_and_the_counts(alice: Client) -> None:
    """Twenty updates with one etag: one wins, the rest are ETAG_MISMATCH, and only the winner
    takes a seq. Concurrent deletes of one message delete it once and count it once."""
    _new_session(alice)
    target = _append(alice, "s", "target")
    barrier = threading.Barrier(10)

    def update(i: int) -> str:
        barrier.wait()
        try:
            alice.m(
                "UpdateMessage",
                mpb.UpdateMessageRequest(
                    session_id="s", message_id=target.id, content=f"v{i}", etag=target.etag
                ),
            )
            return "ok"
        except grpc.RpcError as exc:
            return str(exc.code())

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(update, range(10)))
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) == {"ok", str(grpc.StatusCode.ABORTED)}
    assert _session(alice, "s").seq == 2  # the append and the one update

    _append(alice, "s", "kept")
    barrier = threading.Barrier(10)

    def delete(_: int) -> str:
        barrier.wait()
        try:
            alice.m("DeleteMessage", mpb.DeleteMessageRequest(session_id="s", message_id=target.id))
            return "ok"
        except grpc.RpcError as exc:
            return str(exc.code())

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(delete, range(10)))
    assert outcomes.count("ok") == 1, outcomes
    page = alice.m("ListMessages", mpb.ListMessagesRequest(session_id="s"))
    assert [m.content for m in page.messages] == ["kept"] and page.total_size == 1
    assert _session(alice, "s").seq == 4


def test_a_clear_racing_appends_leaves_no_earlier_message(alice: Client) -> None:
    """Whatever commits first: every message stored before the clear is gone, every one after
    it stays, and the count matches what is listed."""
    for attempt in range(5):
        sid = f"race-{attempt}"
        _new_session(alice, sid)
        barrier = threading.Barrier(9)

        def append(i: int, sid: str = sid, barrier: threading.Barrier = barrier) -> int:
            barrier.wait()
            return int(_append(alice, sid, str(i)).seq)

        def clear(sid: str = sid, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            alice.m("ClearMessages", mpb.ClearMessagesRequest(session_id=sid))

        with ThreadPoolExecutor(9) as pool:
            appended = [pool.submit(append, i) for i in range(8)]
            cleared = pool.submit(clear)
            seqs = [f.result() for f in appended]
            cleared.result()
        page = alice.m("ListMessages", mpb.ListMessagesRequest(session_id=sid))
        kept = {m.seq for m in page.messages}
        gone = set(seqs) - kept
        assert page.total_size == len(kept)
        assert not gone or not kept or max(gone) < min(kept), (sorted(gone), sorted(kept))
        assert _session(alice, sid).seq == 9


@pytest.mark.parametrize("etag", ["abcdefghijk", "abcdefghijklmnopqrstuA", 'W/"x"', "*x"])
def test_an_etag_not_made_here_is_a_mismatch_never_internal(alice: Client, etag: str) -> None:
    _new_session(alice)
    message = _append(alice, "s", "m")
    for call in (
        lambda: alice.m(
            "UpdateMessage",
            mpb.UpdateMessageRequest(session_id="s", message_id=message.id, content="x", etag=etag),
        ),
        lambda: alice.m(
            "DeleteMessage",
            mpb.DeleteMessageRequest(session_id="s", message_id=message.id, etag=etag),
        ),
        lambda: alice.s(
            "UpdateSession", spb.UpdateSessionRequest(session_id="s", description="d", etag=etag)
        ),
        lambda: alice.s("DeleteSession", spb.DeleteSessionRequest(session_id="s", etag=etag)),
    ):
        f = failure(call)
        assert (f.code, f.reason) == (grpc.StatusCode.ABORTED, "ETAG_MISMATCH")


def test_a_retried_batch_of_tool_results_answers_as_the_first(alice: Client) -> None:
    _new_session(alice)
    call = mpb.NewMessage(role=rpb.assistant, content="{}", tool_call_id="c1", tool_name="add")
    alice.m("BatchCreateMessages", mpb.BatchCreateMessagesRequest(session_id="s", messages=[call]))
    request = mpb.BatchCreateMessagesRequest(
        session_id="s",
        messages=[mpb.NewMessage(role=rpb.tool, content="2", tool_call_id="c1")],
        request_id=rid(),
    )
    first = alice.m("BatchCreateMessages", request)
    assert alice.m("BatchCreateMessages", request) == first
    assert len(_messages(alice, "s")) == 2


def test_a_batch_that_would_create_its_session_checks_expected_seq(alice: Client) -> None:
    request = mpb.BatchCreateMessagesRequest(
        session_id="fresh",
        messages=[mpb.NewMessage(role=USER, content="x")],
        create_session=mpb.NewSession(),
        expected_seq=5,
    )
    f = failure(lambda: alice.m("BatchCreateMessages", request))
    assert (f.code, f.reason) == (grpc.StatusCode.ABORTED, "SESSION_CHANGED")
    request.expected_seq = 0
    assert [m.seq for m in alice.m("BatchCreateMessages", request).messages] == [1]


def test_a_retried_stream_sends_the_events_the_first_sent(alice: Client) -> None:
    request = spb.ConverseRequest(
        session_id="t",
        messages=[spb.ConversationMessage(role=USER, content="one two three four")],
        request_id=rid(),
    )
    first = list(alice.s("Converse", request))
    again = list(alice.s("Converse", request))
    assert len([e for e in first if e.WhichOneof("event") == "delta"]) > 1
    assert again == first


def test_header_and_body_values_compare_as_values(http: httpx.Client) -> None:
    """A request id in another case, an etag quoted in If-Match: the same values, no clash."""
    key = rid()
    created = http.post(
        "/api/agent-sessions",
        json={"session_id": "v", "request_id": key.upper()},
        headers={"Idempotency-Key": key},
    )
    assert created.status_code == 200, created.text
    etag = created.json()["etag"]
    changed = http.patch(
        "/api/agent-sessions/v",
        json={"description": "d", "etag": etag},
        headers={"If-Match": f'"{etag}"'},
    )
    assert changed.status_code == 200, changed.text
    anything = http.put("/api/agent-sessions/v/deactivate", headers={"If-Match": "*"})
    assert anything.status_code == 200, anything.text
