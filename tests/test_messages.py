"""MessageService: success paths field by field, ordering, keyset pages under concurrent inserts."""

from __future__ import annotations

import json
import threading

import grpc
from agentsessions.v1 import message_service_pb2 as mpb
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb

from tests.support import Client, failure
from tests.test_sessions import UUID_RE, _recent


def _session(c: Client, sid: str) -> str:
    return str(c.s("CreateSession", spb.CreateSessionRequest(session_id=sid)).id)


def test_create_get_update_delete_message(alice: Client) -> None:
    uuid_ = _session(alice, "msgs")
    created = alice.m(
        "CreateMessage",
        mpb.CreateMessageRequest(
            session_id="msgs",
            role=rpb.tool,
            content="42",
            tool_call_id="call_1",
            tool_name="calculator",
            extra_data='{"edited": true, "b": [1, 2]}',
        ),
    )
    assert UUID_RE.match(created.id)
    assert created.session_id == "msgs"
    assert created.session_uuid == uuid_
    assert created.role == rpb.tool
    assert created.content == "42"
    assert created.tool_call_id == "call_1"
    assert created.tool_name == "calculator"
    assert created.extra_data == '{"edited": true, "b": [1, 2]}'  # byte for byte
    _recent(created.created_at)
    assert created.updated_at == created.created_at
    got = alice.m("GetMessage", mpb.GetMessageRequest(session_id="msgs", message_id=created.id))
    assert got == created

    updated = alice.m(
        "UpdateMessage",
        mpb.UpdateMessageRequest(
            session_id="msgs", message_id=created.id, extra_data='{"edited":true}', tool_name=""
        ),
    )
    assert updated.extra_data == '{"edited":true}'
    assert not updated.HasField("tool_name")
    assert updated.content == "42" and updated.tool_call_id == "call_1"
    assert updated.role == rpb.tool
    assert updated.created_at == created.created_at
    assert updated.updated_at.ToDatetime() > created.updated_at.ToDatetime()

    assert (
        alice.m(
            "DeleteMessage", mpb.DeleteMessageRequest(session_id="msgs", message_id=created.id)
        ).ByteSize()
        == 0
    )
    f = failure(
        lambda: alice.m(
            "GetMessage", mpb.GetMessageRequest(session_id="msgs", message_id=created.id)
        )
    )
    assert f.code == grpc.StatusCode.NOT_FOUND and f.reason == "MESSAGE_NOT_FOUND"
    assert alice.m("ListMessages", mpb.ListMessagesRequest(session_id="msgs")).total_size == 0


def test_optional_fields_absent_when_not_sent(alice: Client) -> None:
    _session(alice, "bare")
    m = alice.m("CreateMessage", mpb.CreateMessageRequest(session_id="bare", role=rpb.assistant))
    assert m.content == ""
    for name in ("tool_call_id", "tool_name", "extra_data"):
        assert not m.HasField(name)


def test_inactive_session_still_accepts_messages(alice: Client) -> None:
    _session(alice, "sleepy")
    alice.s("DeactivateSession", spb.DeactivateSessionRequest(session_id="sleepy"))
    m = alice.m("CreateMessage", mpb.CreateMessageRequest(session_id="sleepy", role=rpb.user))
    assert m.session_id == "sleepy"


def test_list_orders_pages_and_clear(alice: Client) -> None:
    _session(alice, "ordered")
    contents = [f"m{i}" for i in range(7)]
    for i, text in enumerate(contents):
        alice.m(
            "CreateMessage",
            mpb.CreateMessageRequest(session_id="ordered", role=(i % 4) + 1, content=text),
        )
    for order, expected in (("", contents), ("asc", contents), ("desc", contents[::-1])):
        seen: list[str] = []
        token = ""
        while True:
            page = alice.m(
                "ListMessages",
                mpb.ListMessagesRequest(
                    session_id="ordered", page_size=3, page_token=token, order=order
                ),
            )
            assert page.total_size == 7
            seen += [m.content for m in page.messages]
            token = page.next_page_token
            if not token:
                break
        assert seen == expected
    roles = [
        m.role
        for m in alice.m("ListMessages", mpb.ListMessagesRequest(session_id="ordered")).messages
    ]
    assert roles == [
        rpb.user,
        rpb.assistant,
        rpb.system,
        rpb.tool,
        rpb.user,
        rpb.assistant,
        rpb.system,
    ]

    # A token of one order is refused by the other.
    first = alice.m("ListMessages", mpb.ListMessagesRequest(session_id="ordered", page_size=2))
    f = failure(
        lambda: alice.m(
            "ListMessages",
            mpb.ListMessagesRequest(
                session_id="ordered", page_token=first.next_page_token, order="desc"
            ),
        )
    )
    assert f.code == grpc.StatusCode.INVALID_ARGUMENT and f.fields == ["page_token"]

    cleared = alice.m("ClearMessages", mpb.ClearMessagesRequest(session_id="ordered"))
    assert cleared.deleted_count == 7
    after = alice.m("ListMessages", mpb.ListMessagesRequest(session_id="ordered"))
    assert after.total_size == 0 and list(after.messages) == []
    assert (
        alice.s("GetSession", spb.GetSessionRequest(session_id="ordered")).session_id == "ordered"
    )
    assert (
        alice.m("ClearMessages", mpb.ClearMessagesRequest(session_id="ordered")).deleted_count == 0
    )
    # Positions keep growing after a clear: new messages still list in insertion order.
    for text in ("a", "b"):
        alice.m(
            "CreateMessage",
            mpb.CreateMessageRequest(session_id="ordered", role=rpb.user, content=text),
        )
    listed = alice.m("ListMessages", mpb.ListMessagesRequest(session_id="ordered"))
    assert [m.content for m in listed.messages] == ["a", "b"] and listed.total_size == 2


def test_pages_are_stable_while_messages_are_inserted(alice: Client) -> None:
    """Keyset pages: concurrent appends never make a page repeat or skip a message."""
    _session(alice, "busy")
    for i in range(40):
        alice.m(
            "CreateMessage",
            mpb.CreateMessageRequest(session_id="busy", role=rpb.user, content=f"old-{i}"),
        )
    stop = threading.Event()
    written: list[str] = []

    def writer() -> None:
        i = 0
        while not stop.is_set() and i < 200:
            alice.m(
                "CreateMessage",
                mpb.CreateMessageRequest(session_id="busy", role=rpb.user, content=f"new-{i}"),
            )
            written.append(f"new-{i}")
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for order in ("asc", "desc"):
            seen: list[str] = []
            token = ""
            while True:
                page = alice.m(
                    "ListMessages",
                    mpb.ListMessagesRequest(
                        session_id="busy", page_size=7, page_token=token, order=order
                    ),
                )
                seen += [m.content for m in page.messages]
                token = page.next_page_token
                if not token:
                    break
            assert len(seen) == len(set(seen)), "a message appeared twice"
            old = [s for s in seen if s.startswith("old-")]
            expected = [f"old-{i}" for i in range(40)]
            assert old == (expected if order == "asc" else expected[::-1])
            if order == "asc":
                new = [s for s in seen if s.startswith("new-")]
                assert new == [f"new-{i}" for i in range(len(new))], "appends listed out of order"
    finally:
        stop.set()
        thread.join()
    assert written, "the writer never ran concurrently"


def test_extra_data_round_trips_any_json(alice: Client) -> None:
    _session(alice, "json")
    for raw in ('{"z": 1, "a": {"nested": [true, null, 1.5e3]}}', "[1,2]", '"text"', "42", "{}"):
        m = alice.m(
            "CreateMessage",
            mpb.CreateMessageRequest(session_id="json", role=rpb.user, extra_data=raw),
        )
        assert m.extra_data == raw
        assert json.loads(m.extra_data) == json.loads(raw)


def test_concurrent_appends_from_many_users_are_each_stored_once(channel: grpc.Channel) -> None:
    """Concurrent appends share statements (group commit): each is stored exactly once, in its
    caller's session, and a call for a session the caller lacks fails alone."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.support import client

    users = [client(channel) for _ in range(4)]
    for u in users:
        for s in ("a", "b"):
            u.s("CreateSession", spb.CreateSessionRequest(session_id=f"many-{s}"))

    def append(i: int) -> str:
        u = users[i % 4]
        session = "many-a" if i % 3 else "many-b"
        if i % 10 == 7:
            session = "many-missing"
        try:
            m = u.m(
                "CreateMessage",
                mpb.CreateMessageRequest(session_id=session, role=rpb.user, content=f"c{i}"),
            )
        except grpc.RpcError as exc:
            return f"error:{exc.code().name}"  # type: ignore[attr-defined]
        assert m.session_id == session and m.content == f"c{i}"
        return "ok"

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(append, range(200)))
    assert outcomes.count("error:NOT_FOUND") == 20
    assert outcomes.count("ok") == 180
    stored: list[str] = []
    for u in users:
        for s in ("many-a", "many-b"):
            page = u.m("ListMessages", mpb.ListMessagesRequest(session_id=s, page_size=1000))
            assert page.total_size == len(page.messages)
            stored += [m.content for m in page.messages]
    expected = [f"c{i}" for i in range(200) if i % 10 != 7]
    assert sorted(stored) == sorted(expected)
