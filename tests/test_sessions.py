"""SessionService: every call's success path field by field, presence, pagination and isolation."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import grpc
from agentsessions.v1 import message_service_pb2 as mpb
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb

from tests.support import Client, failure

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _recent(ts: object) -> None:
    when = ts.ToDatetime(tzinfo=UTC)  # type: ignore[attr-defined]
    assert abs(datetime.now(UTC) - when) < timedelta(minutes=1)


def test_create_returns_every_field(alice: Client) -> None:
    s = alice.s(
        "CreateSession",
        spb.CreateSessionRequest(
            session_id="my-session-001",
            session_name="Support chat",
            description="A test",
            agent_name="helper",
            agent_instructions="Be brief.",
        ),
    )
    assert UUID_RE.match(s.id)
    assert s.session_id == "my-session-001"
    assert s.session_name == "Support chat"
    assert s.description == "A test"
    assert s.agent_name == "helper"
    assert s.agent_instructions == "Be brief."
    assert s.is_active is True
    assert UUID_RE.match(s.user_id)
    _recent(s.created_at)
    assert s.updated_at == s.created_at
    assert alice.s("GetSession", spb.GetSessionRequest(session_id="my-session-001")) == s


def test_create_defaults_generated_id_and_absent_optionals(alice: Client) -> None:
    s = alice.s("CreateSession", spb.CreateSessionRequest())
    assert UUID_RE.match(s.session_id)
    assert s.is_active is True
    for name in ("session_name", "description", "agent_name", "agent_instructions"):
        assert not s.HasField(name)
    inactive = alice.s("CreateSession", spb.CreateSessionRequest(is_active=False))
    assert inactive.is_active is False


def test_duplicate_session_id_is_already_exists_but_other_users_may_use_it(
    alice: Client, bob: Client
) -> None:
    alice.s("CreateSession", spb.CreateSessionRequest(session_id="dup"))
    f = failure(lambda: alice.s("CreateSession", spb.CreateSessionRequest(session_id="dup")))
    assert f.code == grpc.StatusCode.ALREADY_EXISTS
    assert f.reason == "SESSION_ALREADY_EXISTS"
    assert "dup" in f.message
    other = bob.s("CreateSession", spb.CreateSessionRequest(session_id="dup"))
    assert other.session_id == "dup"
    mine = alice.s("GetSession", spb.GetSessionRequest(session_id="dup"))
    assert other.user_id != mine.user_id
    assert other.id != mine.id


def test_a_session_id_is_derived_from_its_owner_and_session_id(alice: Client) -> None:
    """Every path that creates a session agrees on its id, also after a delete and re-create."""
    first = alice.s("CreateSession", spb.CreateSessionRequest(session_id="again"))
    alice.s("DeleteSession", spb.DeleteSessionRequest(session_id="again"))
    turn = alice.s(
        "Conversation",
        spb.ConversationRequest(
            session_id="again",
            messages=[spb.ConversationMessage(role=rpb.user, content="hello")],
        ),
    )
    assert turn.session_uuid == first.id


def test_uuid_sub_is_the_user_id(channel: grpc.Channel) -> None:
    from tests.support import client

    user = str(uuid.uuid4())
    s = client(channel, user).s("CreateSession", spb.CreateSessionRequest())
    assert s.user_id == user
    # Any other string maps to a stable UUID: the same sub always gets the same id.
    a = client(channel, "stable-sub").s("CreateSession", spb.CreateSessionRequest())
    b = client(channel, "stable-sub").s("CreateSession", spb.CreateSessionRequest())
    assert a.user_id == b.user_id and UUID_RE.match(a.user_id)


def test_update_changes_only_the_fields_sent(alice: Client) -> None:
    created = alice.s(
        "CreateSession",
        spb.CreateSessionRequest(session_id="upd", session_name="old", description="keep"),
    )
    updated = alice.s(
        "UpdateSession", spb.UpdateSessionRequest(session_id="upd", session_name="new")
    )
    assert updated.session_name == "new"
    assert updated.description == "keep"
    assert updated.is_active is True
    assert updated.created_at == created.created_at
    assert updated.updated_at.ToDatetime() > created.updated_at.ToDatetime()
    # An explicit false is a change; empty text removes the field.
    off = alice.s(
        "UpdateSession", spb.UpdateSessionRequest(session_id="upd", is_active=False, description="")
    )
    assert off.is_active is False
    assert not off.HasField("description")
    assert off.session_name == "new"
    # Nothing sent: nothing changes, updated_at included.
    same = alice.s("UpdateSession", spb.UpdateSessionRequest(session_id="upd"))
    assert same == off


def test_activate_and_deactivate_move_updated_at(alice: Client) -> None:
    created = alice.s("CreateSession", spb.CreateSessionRequest(session_id="act"))
    off = alice.s("DeactivateSession", spb.DeactivateSessionRequest(session_id="act"))
    assert off.is_active is False
    assert off.updated_at.ToDatetime() > created.updated_at.ToDatetime()
    on = alice.s("ActivateSession", spb.ActivateSessionRequest(session_id="act"))
    assert on.is_active is True
    assert on.updated_at.ToDatetime() > off.updated_at.ToDatetime()
    assert on.created_at == created.created_at


def test_delete_removes_the_session_and_its_messages(alice: Client, db) -> None:  # type: ignore[no-untyped-def]
    s = alice.s("CreateSession", spb.CreateSessionRequest(session_id="del"))
    alice.m("CreateMessage", mpb.CreateMessageRequest(session_id="del", role=rpb.user, content="x"))
    assert alice.s("DeleteSession", spb.DeleteSessionRequest(session_id="del")).ByteSize() == 0
    f = failure(lambda: alice.s("GetSession", spb.GetSessionRequest(session_id="del")))
    assert f.code == grpc.StatusCode.NOT_FOUND
    left = db.execute("SELECT count(*) FROM session_messages WHERE session_uuid = %s", [s.id])
    assert left.fetchone()[0] == 0
    f = failure(lambda: alice.s("DeleteSession", spb.DeleteSessionRequest(session_id="del")))
    assert f.code == grpc.StatusCode.NOT_FOUND and f.reason == "SESSION_NOT_FOUND"


def test_list_newest_first_with_pages_filters_and_total(alice: Client) -> None:
    ids = [f"list-{i}" for i in range(7)]
    for i, sid in enumerate(ids):
        alice.s(
            "CreateSession",
            spb.CreateSessionRequest(
                session_id=sid, agent_name="even" if i % 2 == 0 else "odd", is_active=i != 3
            ),
        )
    seen: list[str] = []
    token = ""
    while True:
        page = alice.s("ListSessions", spb.ListSessionsRequest(page_size=3, page_token=token))
        assert page.total_size == 7
        assert len(page.sessions) <= 3
        seen += [s.session_id for s in page.sessions]
        token = page.next_page_token
        if not token:
            break
    assert seen == list(reversed(ids))

    even = alice.s("ListSessions", spb.ListSessionsRequest(agent_name="even"))
    assert [s.session_id for s in even.sessions] == ["list-6", "list-4", "list-2", "list-0"]
    assert even.total_size == 4 and even.next_page_token == ""
    inactive = alice.s("ListSessions", spb.ListSessionsRequest(is_active=False))
    assert [s.session_id for s in inactive.sessions] == ["list-3"]
    active_odd = alice.s("ListSessions", spb.ListSessionsRequest(is_active=True, agent_name="odd"))
    assert [s.session_id for s in active_odd.sessions] == ["list-5", "list-1"]
    assert active_odd.total_size == 2


def _tampered(token: str) -> str:
    """The token with one character of its signature changed. Not one of the last two: the last
    character of unpadded base64 carries bits the decoder ignores, so replacing the end with
    fixed text left about one token in a thousand the same bytes (and the test failing)."""
    i = len(token) - 5
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]


def test_page_token_is_bound_to_its_filters_and_user(alice: Client, bob: Client) -> None:
    for i in range(3):
        alice.s("CreateSession", spb.CreateSessionRequest(session_id=f"tok-{i}", agent_name="a"))
    page = alice.s("ListSessions", spb.ListSessionsRequest(page_size=1))
    assert page.next_page_token
    for who, request in (
        (alice, spb.ListSessionsRequest(page_token=page.next_page_token, agent_name="a")),
        (bob, spb.ListSessionsRequest(page_token=page.next_page_token)),
        (alice, spb.ListSessionsRequest(page_token=_tampered(page.next_page_token))),
        (alice, spb.ListSessionsRequest(page_token="not-a-token")),
    ):
        f = failure(lambda w=who, r=request: w.s("ListSessions", r))  # type: ignore[misc]
        assert f.code == grpc.StatusCode.INVALID_ARGUMENT
        assert f.fields == ["page_token"]


def test_page_size_default_and_cap(alice: Client) -> None:
    for i in range(3):
        alice.s("CreateSession", spb.CreateSessionRequest(session_id=f"ps-{i}"))
    assert len(alice.s("ListSessions", spb.ListSessionsRequest(page_size=0)).sessions) == 3
    assert len(alice.s("ListSessions", spb.ListSessionsRequest(page_size=5000)).sessions) == 3
    f = failure(lambda: alice.s("ListSessions", spb.ListSessionsRequest(page_size=-1)))
    assert f.code == grpc.StatusCode.INVALID_ARGUMENT and f.fields == ["page_size"]


def test_users_are_isolated(alice: Client, bob: Client) -> None:
    alice.s("CreateSession", spb.CreateSessionRequest(session_id="private"))
    m = alice.m(
        "CreateMessage", mpb.CreateMessageRequest(session_id="private", role=rpb.user, content="x")
    )
    assert bob.s("ListSessions", spb.ListSessionsRequest()).total_size == 0
    calls = [
        lambda: bob.s("GetSession", spb.GetSessionRequest(session_id="private")),
        lambda: bob.s(
            "UpdateSession", spb.UpdateSessionRequest(session_id="private", description="x")
        ),
        lambda: bob.s("DeleteSession", spb.DeleteSessionRequest(session_id="private")),
        lambda: bob.s("ActivateSession", spb.ActivateSessionRequest(session_id="private")),
        lambda: bob.s("DeactivateSession", spb.DeactivateSessionRequest(session_id="private")),
        lambda: bob.m("ListMessages", mpb.ListMessagesRequest(session_id="private")),
        lambda: bob.m(
            "CreateMessage", mpb.CreateMessageRequest(session_id="private", role=rpb.user)
        ),
        lambda: bob.m("GetMessage", mpb.GetMessageRequest(session_id="private", message_id=m.id)),
        lambda: bob.m(
            "UpdateMessage",
            mpb.UpdateMessageRequest(session_id="private", message_id=m.id, content="y"),
        ),
        lambda: bob.m(
            "DeleteMessage", mpb.DeleteMessageRequest(session_id="private", message_id=m.id)
        ),
        lambda: bob.m("ClearMessages", mpb.ClearMessagesRequest(session_id="private")),
    ]
    for call in calls:
        f = failure(call)
        assert f.code == grpc.StatusCode.NOT_FOUND, f
        assert "private" in f.message or m.id in f.message
    # Bob's own session of the same name does not reach Alice's message either.
    bob.s("CreateSession", spb.CreateSessionRequest(session_id="private"))
    f = failure(
        lambda: bob.m("GetMessage", mpb.GetMessageRequest(session_id="private", message_id=m.id))
    )
    assert f.code == grpc.StatusCode.NOT_FOUND and f.reason == "MESSAGE_NOT_FOUND"
    # Nothing of Alice's changed.
    got = alice.m("GetMessage", mpb.GetMessageRequest(session_id="private", message_id=m.id))
    assert got == m


def test_model_is_created_changed_listed_and_removed(alice: Client) -> None:
    """A session names its model; PATCH changes it; empty means the default."""
    s = alice.s("CreateSession", spb.CreateSessionRequest(session_id="m1", model="llama3.2:1b"))
    assert s.model == "llama3.2:1b"
    assert alice.s("GetSession", spb.GetSessionRequest(session_id="m1")).model == "llama3.2:1b"
    assert not alice.s("CreateSession", spb.CreateSessionRequest(session_id="m2")).HasField("model")
    listed = alice.s("ListSessions", spb.ListSessionsRequest())
    assert {x.session_id: x.model for x in listed.sessions} == {"m1": "llama3.2:1b", "m2": ""}
    changed = alice.s("UpdateSession", spb.UpdateSessionRequest(session_id="m1", model="gpt-4o"))
    assert changed.model == "gpt-4o" and changed.updated_at != s.updated_at
    # Absent in a PATCH: unchanged; empty: back to the server's default (no model).
    kept = alice.s("UpdateSession", spb.UpdateSessionRequest(session_id="m1", session_name="n"))
    assert kept.model == "gpt-4o"
    cleared = alice.s("UpdateSession", spb.UpdateSessionRequest(session_id="m1", model=""))
    assert not cleared.HasField("model")
    f = failure(
        lambda: alice.s("CreateSession", spb.CreateSessionRequest(session_id="m3", model="x" * 257))
    )
    assert f.code == grpc.StatusCode.INVALID_ARGUMENT and f.fields == ["model"]


def test_a_conversation_creates_its_session_with_the_requested_model(alice: Client) -> None:
    reply = alice.s(
        "Conversation",
        spb.ConversationRequest(
            session_id="m-conv",
            model="qwen2.5:0.5b",
            messages=[spb.ConversationMessage(role=rpb.user, content="hi")],
        ),
    )
    assert reply.stop_reason == "end_turn" and list(reply.pending_tool_calls) == []
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.total_tokens) == (
        0,
        0,
        0,
    )
    assert alice.s("GetSession", spb.GetSessionRequest(session_id="m-conv")).model == "qwen2.5:0.5b"
    # An existing session keeps its own model: the request's applies to new sessions only.
    alice.s(
        "Conversation",
        spb.ConversationRequest(
            session_id="m-conv",
            model="other",
            messages=[spb.ConversationMessage(role=rpb.user, content="again")],
        ),
    )
    assert alice.s("GetSession", spb.GetSessionRequest(session_id="m-conv")).model == "qwen2.5:0.5b"


def test_server_tools_allowlist_is_kept_checked_and_cleared(alice: Client) -> None:
    s = alice.s(
        "CreateSession",
        spb.CreateSessionRequest(session_id="st", server_tools="files, search/web_search"),
    )
    assert s.server_tools == "files,search/web_search"
    off = alice.s("UpdateSession", spb.UpdateSessionRequest(session_id="st", server_tools="none"))
    assert off.server_tools == "none"
    cleared = alice.s("UpdateSession", spb.UpdateSessionRequest(session_id="st", server_tools=""))
    assert not cleared.HasField("server_tools")
    for bad in ("files,,x", "sp ace", "x" * 65, "none,files"):
        f = failure(
            lambda bad=bad: alice.s(  # type: ignore[misc]
                "UpdateSession", spb.UpdateSessionRequest(session_id="st", server_tools=bad)
            )
        )
        assert f.code == grpc.StatusCode.INVALID_ARGUMENT and f.fields == ["server_tools"], bad
    assert not alice.s("GetSession", spb.GetSessionRequest(session_id="st")).HasField(
        "server_tools"
    )
