"""Forks, rewinds, labels, expiry and usage through the Python clients, against the live
service (directly and through Envoy): each argument reaches the server and comes back."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from agent_sessions_client import (
    AbortedError,
    AsyncClient,
    Client,
    ConversationMessage,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    SessionUsage,
)


def new_id() -> str:
    return f"h-{uuid.uuid4().hex[:12]}"


def test_labels_are_created_replaced_cleared_and_filtered(client: Client) -> None:
    gold, silver, plain = new_id(), new_id(), new_id()
    created = client.create_session(gold, labels={"team": "search", "tier": "gold"})
    assert created.labels == {"team": "search", "tier": "gold"}
    client.create_session(silver, labels={"team": "search", "tier": "silver"})
    client.create_session(plain)
    assert client.get_session(gold).labels == {"team": "search", "tier": "gold"}
    assert client.get_session(plain).labels == {}

    def listed(**labels: str) -> list[str]:
        return [s.session_id for s in client.list_sessions(labels=labels, page_size=1)]

    assert listed(team="search") == [silver, gold]  # newest first, over pages of one
    assert listed(team="search", tier="gold") == [gold]
    assert listed(team="other") == []
    assert sorted(listed()) == sorted([gold, silver, plain])
    page = client.list_sessions_page(labels={"tier": "silver"})
    assert [s.session_id for s in page.items] == [silver] and page.total_size == 1

    # An update without labels keeps them; with labels it replaces all of them; {} clears.
    assert client.update_session(gold, description="d").labels == created.labels
    assert client.update_session(gold, labels={"team": "ads"}).labels == {"team": "ads"}
    assert listed(team="search") == [silver]
    assert client.update_session(gold, labels={}).labels == {}
    assert client.get_session(gold).labels == {}

    with pytest.raises(InvalidArgumentError) as bad:
        client.create_session(new_id(), labels={"Bad Key": "x"})
    assert [v.field for v in bad.value.field_violations] == ["labels[Bad Key]"]


def test_expire_time_and_ttl(client: Client) -> None:
    never = client.create_session(new_id())
    assert never.expire_time is None
    # Microseconds not ending in 000: the service shows those 1 µs later (always six digits).
    at = datetime.now(UTC).replace(microsecond=123456) + timedelta(days=3)
    dated = client.create_session(new_id(), expire_time=at)
    assert dated.expire_time == at and client.get_session(dated.session_id).expire_time == at

    before = datetime.now(UTC)
    timed = client.create_session(new_id(), ttl=3600)
    assert timed.expire_time is not None
    lifetime = timed.expire_time - timed.created_at
    assert abs(lifetime - timedelta(seconds=3600)) <= timedelta(microseconds=1)
    assert timed.expire_time > before + timedelta(seconds=3590)

    with pytest.raises(InvalidArgumentError):
        client.create_session(new_id(), expire_time=at, ttl=60)

    later = at + timedelta(days=1)
    assert client.update_session(dated.session_id, expire_time=later).expire_time == later
    assert client.update_session(never.session_id, expire_time=later).expire_time == later
    # A time in the past ends the session at once.
    client.update_session(dated.session_id, expire_time=datetime.now(UTC) - timedelta(1))
    with pytest.raises(NotFoundError):
        client.get_session(dated.session_id)


def test_usage_counts_turns(client: Client) -> None:
    sid = new_id()
    assert client.create_session(sid).usage == SessionUsage()
    client.conversation("one", session_id=sid)
    client.conversation("two", session_id=sid)
    client.create_message(sid, "user", "not a turn")
    # The mock agent reports no tokens: two turns of 0 tokens.
    assert client.get_session(sid).usage == SessionUsage(0, 0, 0, 2)


def test_fork_copies_up_to_a_message(client: Client) -> None:
    source = client.create_session(
        new_id(), session_name="Source", agent_name="mock", labels={"team": "a"}
    )
    sid = source.session_id
    client.conversation("first", session_id=sid)
    client.conversation("second", session_id=sid)
    messages = list(client.list_messages(sid))
    assert len(messages) == 4

    whole = client.fork_session(sid)
    assert whole.session_id != sid and whole.session_name == "Source"
    assert whole.labels == {"team": "a"} and whole.usage.turns == 0 and whole.seq == 4
    copied = list(client.list_messages(whole.session_id))
    assert [m.content for m in copied] == [m.content for m in messages]

    fork_id = new_id()
    part = client.fork_session(
        sid, new_session_id=fork_id, up_to_message_id=messages[1].id, session_name="Part"
    )
    assert (part.session_id, part.session_name, part.agent_name) == (fork_id, "Part", "mock")
    assert [m.content for m in client.list_messages(fork_id)] == [m.content for m in messages[:2]]
    # The same request id answers the first fork again and makes nothing new.
    rid = str(uuid.uuid4())
    first = client.fork_session(sid, request_id=rid)
    assert client.fork_session(sid, request_id=rid).session_id == first.session_id
    assert len(list(client.list_messages(sid))) == 4  # the source is unchanged

    with pytest.raises(NotFoundError) as missing:
        client.fork_session(sid, up_to_message_id=str(uuid.uuid4()))
    assert missing.value.reason == "MESSAGE_NOT_FOUND"


def test_rewind_with_its_conditions(client: Client) -> None:
    sid = new_id()
    client.conversation("first", session_id=sid)
    early = client.get_session(sid)
    client.conversation("second", session_id=sid)
    messages = list(client.list_messages(sid))
    session = client.get_session(sid)

    with pytest.raises(AbortedError) as changed:
        client.rewind_session(sid, messages[1].id, expected_seq=session.seq - 1)
    assert changed.value.reason == "SESSION_CHANGED"
    with pytest.raises(AbortedError) as stale:
        client.rewind_session(sid, messages[1].id, etag=early.etag)
    assert stale.value.reason == "ETAG_MISMATCH"
    assert len(list(client.list_messages(sid))) == 4

    rid = str(uuid.uuid4())
    conditions = {"etag": session.etag, "expected_seq": session.seq, "request_id": rid}
    rewound = client.rewind_session(sid, messages[1].id, **conditions)
    assert rewound.seq == session.seq + 2 and rewound.usage.turns == 2  # usage stays
    assert [m.id for m in client.list_messages(sid)] == [m.id for m in messages[:2]]
    # A retry with the same request id deletes nothing, even after an append.
    client.create_message(sid, "user", "after")
    assert client.rewind_session(sid, messages[1].id, **conditions).seq == rewound.seq
    assert len(list(client.list_messages(sid))) == 3


def test_rewind_refuses_to_split_a_tool_call(client: Client) -> None:
    sid = new_id()
    client.create_session(sid)
    stored = client.create_messages(
        sid,
        [
            ConversationMessage("user", "go"),
            ConversationMessage("assistant", "{}", tool_call_id="c1", tool_name="t"),
            ConversationMessage("tool", "done", tool_call_id="c1"),
        ],
    )
    with pytest.raises(FailedPreconditionError) as split:
        client.rewind_session(sid, stored[1].id)
    assert split.value.reason == "SPLITS_TOOL_CALL"
    with pytest.raises(FailedPreconditionError):
        client.fork_session(sid, up_to_message_id=stored[1].id)
    assert client.rewind_session(sid, stored[0].id).seq == 5


def test_async_client_forks_rewinds_and_labels(address: str, user_token: str) -> None:
    async def main() -> None:
        async with AsyncClient(address, token=user_token, timeout=20) as c:
            sid = new_id()
            at = datetime(2100, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
            created = await c.create_session(sid, labels={"k": "v"}, expire_time=at)
            assert (created.labels, created.expire_time) == ({"k": "v"}, at)
            assert (await c.create_session(new_id(), ttl=60)).expire_time is not None
            updated = await c.update_session(sid, labels={}, expire_time=at + timedelta(1))
            assert (updated.labels, updated.expire_time) == ({}, at + timedelta(1))
            await c.update_session(sid, labels={"k": "w"})
            assert [s.session_id async for s in c.list_sessions(labels={"k": "w"})] == [sid]
            await c.conversation("hi", session_id=sid)
            messages = [m async for m in c.list_messages(sid)]
            fork = await c.fork_session(sid, up_to_message_id=messages[0].id)
            assert fork.labels == {"k": "w"} and fork.seq == 1
            rewound = await c.rewind_session(sid, messages[0].id, expected_seq=updated.seq + 3)
            assert rewound.usage == SessionUsage(0, 0, 0, 1)
            assert [m.id async for m in c.list_messages(sid)] == [messages[0].id]

    asyncio.run(main())
