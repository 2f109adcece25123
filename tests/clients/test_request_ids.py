"""Exactly once from the client's side, against the live service: a write whose answer is lost
(a proxy drops it after the service stored it) is retried with its request id and stored once;
each call makes its own id; etag and expected_seq conflicts raise AbortedError; create_messages
is one all-or-none call."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from agent_sessions_client import (
    NO_RETRY,
    AbortedError,
    AsyncClient,
    Client,
    Completed,
    ConversationMessage,
    Delta,
    InvalidArgumentError,
    NewSession,
    NotFoundError,
    RetryPolicy,
    Started,
    UnavailableError,
)
from agent_sessions_client.agents_sdk import AgentSessionsSession

from tests.clients.lossy_proxy import LossyProxy

FAST = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)
MOCK = "This is a mock response to: "


@pytest.fixture(scope="module")
def proxy(server_port: int) -> Iterator[LossyProxy]:
    with LossyProxy(f"127.0.0.1:{server_port}") as running:
        yield running


@pytest.fixture
def lossy(proxy: LossyProxy, user_token: str) -> Iterator[tuple[LossyProxy, Client]]:
    """The proxy, fresh, and a client that reaches the service through it."""
    proxy.reset()
    with Client(f"127.0.0.1:{proxy.port}", token=user_token, retry=FAST, timeout=20) as c:
        yield proxy, c


def contents(c: Client, session_id: str) -> list[str]:
    return [m.content for m in c.list_messages(session_id)]


# Each write, called with the session "s" holding one message: (method, call, check afterwards).
WRITES: list[tuple[str, Callable[[Client, str], Any], Callable[[Client], None]]] = [
    (
        "CreateSession",
        lambda c, _: c.create_session("new"),
        lambda c: c.get_session("new"),
    ),
    (
        "CreateMessage",
        lambda c, _: c.create_message("s", "user", "two"),
        lambda c: assert_equal(contents(c, "s"), ["one", "two"]),
    ),
    (
        "BatchCreateMessages",
        lambda c, _: c.create_messages(
            "s", [ConversationMessage("user", "two"), ConversationMessage("user", "three")]
        ),
        lambda c: assert_equal(contents(c, "s"), ["one", "two", "three"]),
    ),
    (
        "Conversation",
        lambda c, _: c.conversation("hi", session_id="s"),
        lambda c: assert_equal(contents(c, "s"), ["one", "hi", MOCK + "hi"]),
    ),
    (
        "UpdateSession",
        lambda c, _: c.update_session("s", session_name="renamed"),
        lambda c: assert_equal(c.get_session("s").seq, 2),
    ),
    (
        "DeactivateSession",
        lambda c, _: c.deactivate_session("s"),
        lambda c: assert_equal(c.get_session("s").seq, 2),
    ),
    (
        "UpdateMessage",
        lambda c, message_id: c.update_message("s", message_id, content="edited"),
        lambda c: assert_equal(c.get_session("s").seq, 2),
    ),
    (
        "DeleteMessage",
        lambda c, message_id: c.delete_message("s", message_id),
        lambda c: assert_equal(contents(c, "s"), []),
    ),
    (
        "ClearMessages",
        lambda c, _: assert_equal(c.clear_messages("s"), 1),
        lambda c: assert_equal(c.get_session("s").seq, 2),
    ),
    (
        "DeleteSession",
        lambda c, _: c.delete_session("s"),
        lambda c: pytest.raises(NotFoundError, c.get_session, "s"),
    ),
]


def assert_equal(actual: object, expected: object) -> None:
    assert actual == expected


@pytest.mark.parametrize(("method", "call", "check"), WRITES, ids=[w[0] for w in WRITES])
def test_a_write_whose_answer_is_lost_is_retried_and_stored_once(
    lossy: tuple[LossyProxy, Client],
    method: str,
    call: Callable[[Client, str], Any],
    check: Callable[[Client], None],
) -> None:
    proxy, c = lossy
    c.create_session("s")
    first = c.create_message("s", "user", "one")
    proxy.reset()
    proxy.lose[method] = 2  # the first two answers: stored by the first attempt, lost twice
    call(c, first.id)
    ids = proxy.request_ids(method)
    assert len(ids) == 3 and len(set(ids)) == 1, ids
    check(c)  # stored once: a second store would show (or fail the check)


def test_each_call_makes_its_own_request_id_and_takes_the_callers(
    lossy: tuple[LossyProxy, Client],
) -> None:
    proxy, c = lossy
    c.create_session("s")
    c.create_message("s", "user", "a")
    c.create_message("s", "user", "a")
    mine = str(uuid.uuid4())
    first = c.create_message("s", "user", "b", request_id=mine)
    # The same logical call sent again by the caller (after a crash, say): answered, not stored.
    again = c.create_message("s", "user", "b", request_id=mine)
    assert again == first
    made = proxy.request_ids("CreateMessage")
    assert len(set(made[:2])) == 2 and made[2:] == [mine, mine]
    assert contents(c, "s") == ["a", "a", "b"]
    with pytest.raises(InvalidArgumentError) as reused:
        c.create_message("s", "user", "other", request_id=mine)
    assert reused.value.reason == "REQUEST_ID_REUSED"


def test_a_stream_lost_before_its_first_event_is_retried_and_stored_once(
    lossy: tuple[LossyProxy, Client],
) -> None:
    """The service stored the turn, the proxy showed nothing of it: the retry (same request id)
    streams the stored turn, and no event is shown twice."""
    proxy, c = lossy
    proxy.lose["Converse"] = 1
    events = list(c.converse("hello", session_id="t"))
    assert proxy.calls["Converse"] == 2 and len(set(proxy.request_ids("Converse"))) == 1
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert "".join(e.text for e in events if isinstance(e, Delta)) == MOCK + "hello"
    assert isinstance(events[-1], Completed) and events[-1].result.messages_count == 2
    assert contents(c, "t") == ["hello", MOCK + "hello"]


def test_a_stream_cut_after_its_first_event_reads_on_from_the_turn(
    lossy: tuple[LossyProxy, Client],
) -> None:
    """Sending the turn again would show `started` again: the client reads the rest of the
    turn with ResumeTurn after the last seq it showed, so each event comes once."""
    proxy, c = lossy
    proxy.lose["Converse"] = 1
    proxy.events_before_loss = 1
    request_id = str(uuid.uuid4())
    seen = list(c.converse("hello", session_id="t", request_id=request_id))
    assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
    assert isinstance(seen[0], Started) and isinstance(seen[-1], Completed)
    assert (proxy.calls["Converse"], proxy.calls["ResumeTurn"]) == (1, 1)
    (resume,) = [r for m, r in proxy.requests if m == "ResumeTurn"]
    assert (resume.turn_id, resume.after_seq) == (seen[0].turn_id, 1)
    replayed = list(c.converse("hello", session_id="t", request_id=request_id))
    assert replayed == seen
    assert contents(c, "t") == ["hello", MOCK + "hello"]


def test_the_async_client_keeps_the_request_id_across_retries(
    proxy: LossyProxy, user_token: str
) -> None:
    proxy.reset()

    async def main() -> None:
        async with AsyncClient(f"127.0.0.1:{proxy.port}", token=user_token, retry=FAST) as c:
            proxy.lose.update(BatchCreateMessages=1, Conversation=1)
            stored = await c.create_messages(
                "a", [ConversationMessage("user", "x")], create_session=NewSession()
            )
            assert [m.seq for m in stored] == [1]
            result = await c.conversation("y", session_id="a")
            assert result.messages_count == 3
            assert [m.content async for m in c.list_messages("a")] == ["x", "y", MOCK + "y"]

    asyncio.run(main())
    for method in ("BatchCreateMessages", "Conversation"):
        ids = proxy.request_ids(method)
        assert len(ids) == 2 and len(set(ids)) == 1


def test_without_retries_a_lost_answer_raises(proxy: LossyProxy, user_token: str) -> None:
    """And the caller can send the call again with its request id to learn what was stored."""
    proxy.reset()
    with Client(f"127.0.0.1:{proxy.port}", token=user_token, retry=NO_RETRY) as c:
        c.create_session("s")
        proxy.lose["CreateMessage"] = 1
        request_id = str(uuid.uuid4())
        with pytest.raises(UnavailableError):
            c.create_message("s", "user", "once", request_id=request_id)
        stored = c.create_message("s", "user", "once", request_id=request_id)
        assert contents(c, "s") == ["once"] and stored.content == "once"


# Conflicts, against the live service directly and through Envoy (`client`).


def test_a_stale_etag_raises_aborted(client: Client) -> None:
    session = client.create_session("e")
    assert session.etag and session.seq == 0
    renamed = client.update_session("e", session_name="one", etag=session.etag)
    assert renamed.etag != session.etag and renamed.seq == 1
    for stale in (
        lambda: client.update_session("e", session_name="two", etag=session.etag),
        lambda: client.deactivate_session("e", etag=session.etag),
        lambda: client.activate_session("e", etag=session.etag),
        lambda: client.delete_session("e", etag=session.etag),
    ):
        with pytest.raises(AbortedError) as conflict:
            stale()
        assert conflict.value.reason == "ETAG_MISMATCH"
    assert client.get_session("e") == renamed
    message = client.create_message("e", "user", "m")
    assert message.etag and message.seq == 2
    edited = client.update_message("e", message.id, content="n", etag=message.etag)
    with pytest.raises(AbortedError) as conflict:
        client.delete_message("e", message.id, etag=message.etag)
    assert conflict.value.reason == "ETAG_MISMATCH"
    client.delete_message("e", message.id, etag=edited.etag)
    current = client.get_session("e")
    client.deactivate_session("e", etag=current.etag)
    client.delete_session("e", etag=client.get_session("e").etag)


def test_a_stale_expected_seq_raises_aborted(client: Client) -> None:
    session = client.create_session("q")
    first = client.create_message("q", "user", "a", expected_seq=session.seq)
    appends: list[Callable[[], Any]] = [
        lambda: client.create_message("q", "user", "b", expected_seq=session.seq),
        lambda: client.create_messages(
            "q", [ConversationMessage("user", "b")], expected_seq=session.seq
        ),
        lambda: client.conversation("b", session_id="q", expected_seq=session.seq),
        lambda: list(client.converse("b", session_id="q", expected_seq=session.seq)),
    ]
    for append in appends:
        with pytest.raises(AbortedError) as conflict:
            append()
        assert conflict.value.reason == "SESSION_CHANGED"
    result = client.conversation("c", session_id="q", expected_seq=first.seq)
    assert result.messages_count == 3
    assert contents(client, "q") == ["a", "c", MOCK + "c"]


def test_create_messages_is_all_or_none_and_creates_its_session(client: Client) -> None:
    batch = [ConversationMessage("user", "1"), ConversationMessage("assistant", "2")]
    with pytest.raises(NotFoundError):
        client.create_messages("b", batch)
    stored = client.create_messages(
        "b",
        batch,
        create_session=NewSession(
            session_name="B", is_active=False, labels={"team": "search"}, ttl=3600
        ),
    )
    assert [(m.role, m.content, m.seq) for m in stored] == [("user", "1", 1), ("assistant", "2", 2)]
    session = client.get_session("b")
    assert (session.session_name, session.is_active, session.seq) == ("B", False, 2)
    assert session.labels == {"team": "search"} and session.expire_time is not None
    bad = [*batch, ConversationMessage("user", "x", extra_data="not json")]
    with pytest.raises(InvalidArgumentError) as refused:
        client.create_messages("b", bad)
    assert refused.value.field_violations[0].field == "messages[2].extra_data"
    call = ConversationMessage("assistant", "{}", tool_call_id="c1", tool_name="add")
    answered = client.create_messages("b", [call, ConversationMessage.tool_result("c1", "2")])
    assert answered[1].tool_name == "add"  # named from its call by the service
    assert contents(client, "b") == ["1", "2", "{}", "2"]
    with pytest.raises(ValueError):
        client.create_messages("b", [ConversationMessage("user")] * 101)


def test_add_items_is_one_call_even_for_a_new_session(proxy: LossyProxy, user_token: str) -> None:
    """One BatchCreateMessages call per add_items, creating the session; a lost answer is
    retried and stored once; over 100 items go in chunks of 100."""
    proxy.reset()
    items: list[Any] = [{"role": "user", "content": f"m{i}"} for i in range(3)]
    many: list[Any] = [{"role": "user", "content": f"n{i}"} for i in range(150)]

    async def main() -> None:
        async with AsyncClient(f"127.0.0.1:{proxy.port}", token=user_token, retry=FAST) as c:
            session = AgentSessionsSession("sdk", c, session_name="SDK")
            proxy.lose["BatchCreateMessages"] = 1
            await session.add_items(items)
            assert dict(proxy.calls) == {"BatchCreateMessages": 2}
            assert await session.get_items() == items
            assert (await c.get_session("sdk")).session_name == "SDK"
            proxy.reset()
            await session.add_items(many)
            assert dict(proxy.calls) == {"BatchCreateMessages": 2}
            sizes = [len(r.messages) for _, r in proxy.requests]
            assert sizes == [100, 50]
            assert await session.get_items() == items + many

    asyncio.run(main())
