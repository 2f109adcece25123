"""The synchronous client against the live service, directly and through Envoy."""

from __future__ import annotations

import json
import uuid
from datetime import UTC

import grpc
import pytest
from agent_sessions_client import (
    AgentSessionsError,
    AlreadyExistsError,
    Client,
    Completed,
    ConversationMessage,
    Delta,
    FailedPreconditionError,
    InvalidArgumentError,
    MessageStored,
    NotFoundError,
    Started,
    UnauthenticatedError,
)

from tests.support import token

MOCK = "This is a mock response to: "


def new_id() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


def test_session_calls(client: Client) -> None:
    sid = new_id()
    created = client.create_session(
        sid,
        session_name="Demo",
        description="about",
        agent_name="mock",
        agent_instructions="be brief",
    )
    assert (created.session_id, created.session_name, created.description) == (sid, "Demo", "about")
    assert (created.agent_name, created.agent_instructions) == ("mock", "be brief")
    assert created.is_active and created.created_at.tzinfo == UTC
    assert client.get_session(sid) == created

    updated = client.update_session(sid, description="", session_name="Renamed")
    assert (updated.session_name, updated.description, updated.agent_name) == (
        "Renamed",
        None,
        "mock",
    )
    assert updated.updated_at > created.updated_at
    assert updated.created_at == created.created_at

    assert not client.deactivate_session(sid).is_active
    assert [s.session_id for s in client.list_sessions(is_active=False)] == [sid]
    assert client.activate_session(sid).is_active
    assert list(client.list_sessions(is_active=False)) == []
    assert [s.session_id for s in client.list_sessions(agent_name="mock")] == [sid]

    generated = client.create_session()
    assert generated.session_id and generated.session_name is None

    client.delete_session(sid)
    with pytest.raises(NotFoundError):
        client.get_session(sid)
    assert [s.session_id for s in client.list_sessions()] == [generated.session_id]


def test_message_calls(client: Client) -> None:
    sid = client.create_session(new_id()).session_id
    first = client.create_message(sid, "user", "Hi", extra_data='{"edited": false}')
    call = client.create_message(sid, "assistant", tool_call_id="call-1", tool_name="lookup")
    output = client.create_message(sid, "tool", "42", tool_call_id="call-1", tool_name="lookup")
    system = client.create_message(sid, "system", "Be brief")
    assert (first.role, first.content, first.extra_data, first.session_id) == (
        "user",
        "Hi",
        '{"edited": false}',
        sid,
    )
    assert (call.role, call.content, call.tool_call_id, call.tool_name) == (
        "assistant",
        "",
        "call-1",
        "lookup",
    )
    assert (output.role, system.role) == ("tool", "system")
    assert first.tool_call_id is None and first.tool_name is None
    assert client.get_message(sid, output.id) == output

    changed = client.update_message(sid, first.id, extra_data='{"edited": true}', content="Hey")
    assert (changed.content, json.loads(changed.extra_data or "")) == ("Hey", {"edited": True})
    cleared = client.update_message(sid, call.id, tool_name="")
    assert cleared.tool_name is None and cleared.tool_call_id == "call-1"

    assert [m.id for m in client.list_messages(sid)] == [first.id, call.id, output.id, system.id]
    client.delete_message(sid, call.id)
    with pytest.raises(NotFoundError) as missing:
        client.get_message(sid, call.id)
    assert missing.value.reason == "MESSAGE_NOT_FOUND"
    assert [m.id for m in client.list_messages(sid, order="desc")] == [
        system.id,
        output.id,
        first.id,
    ]
    assert client.clear_messages(sid) == 3
    assert list(client.list_messages(sid)) == []
    assert client.get_session(sid).session_id == sid  # the session stays


def test_iterators_follow_page_tokens(client: Client) -> None:
    ids = [client.create_session(new_id()).session_id for _ in range(7)]
    assert [s.session_id for s in client.list_sessions(page_size=3)] == ids[::-1]

    first = client.list_sessions_page(page_size=3)
    assert len(first.items) == 3 and first.total_size == 7 and first.next_page_token
    second = client.list_sessions_page(page_size=3, page_token=first.next_page_token)
    third = client.list_sessions_page(page_size=3, page_token=second.next_page_token)
    assert (len(second.items), len(third.items), third.next_page_token) == (3, 1, "")
    assert [s.session_id for s in first.items + second.items + third.items] == ids[::-1]

    sid = ids[0]
    contents = [f"m{i}" for i in range(9)]
    for content in contents:
        client.create_message(sid, "user", content)
    assert [m.content for m in client.list_messages(sid, page_size=2)] == contents
    assert [m.content for m in client.list_messages(sid, page_size=4, order="desc")] == (
        contents[::-1]
    )
    page = client.list_messages_page(sid, page_size=5)
    assert (len(page.items), page.total_size) == (5, 9)
    rest = client.list_messages_page(sid, page_size=5, page_token=page.next_page_token)
    assert [m.content for m in page.items + rest.items] == contents
    assert rest.next_page_token == ""


def test_conversation(client: Client) -> None:
    sid = new_id()
    result = client.conversation("Hello", session_id=sid, session_name="Chat", agent_name="mock")
    assert (result.session_id, result.response, result.messages_count) == (sid, MOCK + "Hello", 2)
    assert result.session_active and result.session_uuid == client.get_session(sid).id
    assert client.get_session(sid).session_name == "Chat"

    turn = [
        ConversationMessage("system", "Be brief"),
        ConversationMessage("user", "Again", extra_data='{"n": 2}'),
    ]
    again = client.conversation(turn, session_id=sid)
    assert (again.response, again.messages_count) == (MOCK + "Again", 5)
    stored = list(client.list_messages(sid))
    assert [m.role for m in stored] == ["user", "assistant", "system", "user", "assistant"]
    assert stored[3].extra_data == '{"n": 2}'

    fresh = client.conversation("Hi")
    assert fresh.session_id and fresh.session_id != sid


def test_converse_streams_events(client: Client) -> None:
    sid = new_id()
    events = list(client.converse("Stream me a long enough answer", session_id=sid))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    started, *deltas, stored, completed = events
    assert isinstance(started, Started) and started.session_id == sid
    assert deltas and all(isinstance(d, Delta) for d in deltas)
    assert isinstance(stored, MessageStored) and isinstance(completed, Completed)
    text = "".join(d.text for d in deltas if isinstance(d, Delta))
    assert text == completed.result.response == MOCK + "Stream me a long enough answer"
    assert stored.message.role == "assistant" and stored.message.content == text
    assert completed.result.messages_count == 2

    pieces = list(client.converse_text([ConversationMessage("user", "More")], session_id=sid))
    assert len(pieces) > 1 and "".join(pieces) == MOCK + "More"
    assert client.list_messages_page(sid).total_size == 4


def test_typed_errors(client: Client, address: str) -> None:
    sid = client.create_session(new_id()).session_id

    with pytest.raises(NotFoundError) as not_found:
        client.get_session("missing-session")
    assert not_found.value.code == grpc.StatusCode.NOT_FOUND
    assert not_found.value.reason == "SESSION_NOT_FOUND" and "missing-session" in str(
        not_found.value
    )
    assert not_found.value.domain == "agentsessions.v1"

    with pytest.raises(AlreadyExistsError) as exists:
        client.create_session(sid)
    assert exists.value.reason == "SESSION_ALREADY_EXISTS"

    with pytest.raises(InvalidArgumentError) as invalid:
        client.create_session("not a valid id!")
    assert invalid.value.reason == "INVALID_ARGUMENT"
    assert [v.field for v in invalid.value.field_violations] == ["session_id"]
    assert invalid.value.metadata["field"] == "session_id"

    with pytest.raises(InvalidArgumentError) as bad_json:
        client.create_message(sid, "user", "x", extra_data="not json")
    assert [v.field for v in bad_json.value.field_violations] == ["extra_data"]
    assert bad_json.value.field_violations[0].description

    with pytest.raises(InvalidArgumentError) as negative:
        list(client.list_messages(sid, page_size=-1))
    assert negative.value.field_violations[0].field == "page_size"

    client.deactivate_session(sid)
    with pytest.raises(FailedPreconditionError) as inactive:
        client.conversation("Hi", session_id=sid)
    assert inactive.value.reason == "SESSION_INACTIVE"
    with pytest.raises(FailedPreconditionError):
        list(client.converse("Hi", session_id=sid))

    with pytest.raises(ValueError, match="role"):
        client.create_message(sid, "robot", "x")  # type: ignore[arg-type]

    with Client(address) as anonymous, pytest.raises(UnauthenticatedError) as missing:
        anonymous.get_session(sid)
    assert missing.value.reason == "TOKEN_MISSING"
    expired = token("someone", ttl=-10)
    with Client(address, token=expired) as late, pytest.raises(UnauthenticatedError) as old:
        late.list_sessions_page()
    assert old.value.reason == "TOKEN_EXPIRED"
    with Client(address, token="garbage") as bad, pytest.raises(AgentSessionsError) as wrong:
        list(bad.converse("Hi"))
    assert isinstance(wrong.value, UnauthenticatedError)


def test_token_provider_is_called_per_call(address: str, user_token: str) -> None:
    calls: list[int] = []

    def provider() -> str:
        calls.append(1)
        return user_token

    with Client(address, token=provider) as c:
        sid = c.create_session(new_id()).session_id
        c.get_session(sid)
        c.create_message(sid, "user", "x")
        assert len(list(c.list_messages(sid, page_size=1))) == 1
        assert "".join(c.converse_text("Hi", session_id=sid)) == MOCK + "Hi"
    # create, get, create_message, one list page (page size 1 of 1 message), converse
    assert len(calls) == 5
