"""Live turns through the Python clients: get, cancel, resume and watch, `if_busy`, and streams
that continue by themselves when their connection is cut (a real TCP proxy between the client
and a real server whose OpenAI agent streams slowly from the fake model API)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from agent_sessions_client import (
    AbortedError,
    AgentSessionsError,
    AsyncClient,
    Client,
    Completed,
    ConverseEvent,
    Delta,
    MessageAdded,
    MessageDeleted,
    MessagesCleared,
    MessageUpdated,
    NotFoundError,
    Queued,
    SessionDeleted,
    SessionEvent,
    SessionUpdated,
    Started,
    TurnDelta,
    TurnUpdated,
)

from tests.clients.tcp_proxy import TcpProxy
from tests.fakes.model_server import FakeModelServer, Step
from tests.support import token

MOCK = "This is a mock response to: "


def new_id() -> str:
    return f"lt-{uuid.uuid4().hex[:12]}"


def _pieces(count: int, delay: float = 0.05) -> tuple[list[str], Step]:
    pieces = [f"p{i} " for i in range(count)]
    return pieces, Step.text(pieces, delay=delay)


@pytest.fixture
def proxy(openai_server: Any) -> Iterator[TcpProxy]:
    """A cuttable TCP path to the server whose agent runs on the fake model API."""
    with TcpProxy(openai_server.port) as running:
        yield running


def _assert_once_in_order(events: list[ConverseEvent], pieces: list[str]) -> Completed:
    """Every seq from 1 exactly once, the deltas whole, and the last event the turn's result."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert isinstance(events[0], Started) and isinstance(events[-1], Completed)
    text = "".join(e.text for e in events if isinstance(e, Delta))
    assert text == "".join(pieces) == events[-1].result.response
    return events[-1]


def test_get_cancel_and_resume_a_stored_turn(address: str, user_token: str) -> None:
    with Client(address, token=user_token, timeout=20) as c:
        sid = new_id()
        result = c.conversation("Hello", session_id=sid)
        assert result.turn_id and result.response == MOCK + "Hello"
        turn = c.get_turn(sid, result.turn_id)
        assert (turn.status, turn.session_id, turn.result, turn.error) == (
            "completed",
            sid,
            result,
            None,
        )
        assert not turn.active and turn.request_id
        # Cancelling an ended turn changes nothing and answers it as it is.
        assert c.cancel_turn(sid, result.turn_id) == turn

        streamed = list(c.converse("Again", session_id=sid))
        started = streamed[0]
        assert isinstance(started, Started) and started.turn_id
        assert isinstance(streamed[-1], Completed)
        assert streamed[-1].result.turn_id == started.turn_id
        # A resume tells the same story, event for event; after_seq skips what the caller has.
        assert list(c.resume_turn(sid, started.turn_id)) == streamed
        assert list(c.resume_turn(sid, started.turn_id, after_seq=2)) == streamed[2:]

        with pytest.raises(NotFoundError):
            c.get_turn(sid, str(uuid.uuid4()))
        with pytest.raises(NotFoundError):
            list(c.resume_turn(sid, str(uuid.uuid4())))


def test_watch_sees_every_change_in_order_and_ends_at_delete(address: str, user_token: str) -> None:
    with Client(address, token=user_token, timeout=20) as c:
        sid = new_id()
        c.create_session(sid)
        one = c.create_message(sid, "user", "one")
        got: list[SessionEvent] = []
        opened = threading.Event()

        def watch() -> None:
            with Client(address, token=user_token, timeout=20) as w:
                events = w.watch_session(sid, after_seq=0)
                for event in events:
                    got.append(event)
                    opened.set()

        reader = threading.Thread(target=watch)
        reader.start()
        assert opened.wait(10)  # the backlog's `one` arrived: the watch is open
        two = c.create_message(sid, "user", "two")
        c.update_message(sid, two.id, content="two!")
        c.delete_message(sid, one.id)
        c.update_session(sid, description="d")
        c.conversation("turn", session_id=sid)
        c.clear_messages(sid)
        # Seen before the delete: the service's watch may otherwise end at a delete that
        # commits right after a change without sending that change.
        deadline = time.monotonic() + 10
        while not any(isinstance(e, MessagesCleared) for e in got):
            assert time.monotonic() < deadline, got
            time.sleep(0.02)
        c.delete_session(sid)
        reader.join(20)
        assert not reader.is_alive(), got
        durable = [e for e in got if not isinstance(e, (TurnUpdated, TurnDelta))]
        assert [type(e) for e in durable] == [
            MessageAdded,
            MessageAdded,
            MessageUpdated,
            MessageDeleted,
            SessionUpdated,
            MessageAdded,
            MessageAdded,
            MessagesCleared,
            SessionDeleted,
        ]
        seqs = [getattr(e, "seq", None) for e in durable[:-1]]
        assert seqs == list(range(seqs[0], seqs[0] + 8))
        assert isinstance(durable[2], MessageUpdated) and durable[2].message.content == "two!"
        assert isinstance(durable[3], MessageDeleted) and durable[3].message_id == one.id
        assert isinstance(durable[4], SessionUpdated) and durable[4].session.description == "d"
        assert isinstance(durable[7], MessagesCleared) and durable[7].deleted_count == 3


def test_a_running_detached_turn_is_resumed_cancelled_and_got(
    openai_address: str, model_api: FakeModelServer
) -> None:
    pieces, step = _pieces(200)
    model_api.script(step)
    with Client(openai_address, token=token(new_id()), timeout=30) as c:
        sid = new_id()
        stream = c.converse("Hi", session_id=sid, detach=True)
        head = [next(stream) for _ in range(4)]
        stream.close()  # the caller goes away: a detached turn runs on
        started = head[0]
        assert isinstance(started, Started)
        assert c.get_turn(sid, started.turn_id).status == "running"
        resumed = c.resume_turn(sid, started.turn_id, after_seq=2)
        again = [next(resumed) for _ in range(4)]
        assert [e.seq for e in again] == [3, 4, 5, 6] and again[:2] == head[2:]
        cancelled = c.cancel_turn(sid, started.turn_id)
        assert cancelled.status == "cancelled"
        with pytest.raises(AgentSessionsError) as ended:
            list(resumed)
        assert ended.value.code == grpc.StatusCode.CANCELLED
        turn = c.get_turn(sid, started.turn_id)
        assert turn.status == "cancelled" and turn.error is not None
        assert turn.error.code == grpc.StatusCode.CANCELLED and turn.result is None
        with pytest.raises(NotFoundError):  # nothing of the first turn of a session was stored
            c.get_session(sid)


def test_if_busy_queues_rejects_and_interrupts(
    openai_address: str, model_api: FakeModelServer
) -> None:
    gate = threading.Event()
    model_api.script(
        Step.text(["slow ", "one"], gate=gate), Step.text(["second"]), Step.text(["third"])
    )
    try:
        with Client(openai_address, token=token(new_id()), timeout=30) as c:
            sid = new_id()
            c.create_session(sid)
            first = c.converse("one", session_id=sid)
            started = next(first)
            assert isinstance(started, Started) and isinstance(next(first), Delta)
            with pytest.raises(AbortedError) as busy:
                c.conversation("no", session_id=sid, if_busy="reject")
            assert busy.value.reason == "SESSION_BUSY"
            assert busy.value.metadata["turn_id"] == started.turn_id

            waiting: list[ConverseEvent] = []
            waiter = threading.Thread(
                target=lambda: waiting.extend(c.converse("two", session_id=sid))
            )
            waiter.start()
            deadline = time.monotonic() + 10
            while not any(isinstance(e, Queued) for e in waiting):
                assert time.monotonic() < deadline, waiting
                time.sleep(0.05)
            queued = next(e for e in waiting if isinstance(e, Queued))
            assert queued.position == 1 and queued.turn_id == waiting[0].turn_id  # type: ignore[union-attr]
            gate.set()
            waiter.join(20)
            assert isinstance(waiting[-1], Completed) and waiting[-1].result.response == "second"
            assert [e.text for e in first if isinstance(e, Delta)] == ["one"]

            with pytest.raises(ValueError):
                c.conversation("x", session_id=sid, if_busy="later")  # type: ignore[arg-type]
            third = c.conversation("three", session_id=sid, if_busy="interrupt")
            assert third.response == "third" and third.messages_count == 6
    finally:
        gate.set()


def test_a_converse_cut_mid_stream_continues_with_every_event_once(
    proxy: TcpProxy, model_api: FakeModelServer
) -> None:
    pieces, step = _pieces(60)
    model_api.script(step)
    with Client(proxy.address, token=token(new_id()), timeout=30) as c:
        events: list[ConverseEvent] = []
        for event in c.converse("Hi", session_id=new_id(), detach=True):
            events.append(event)
            if len(events) == 10:
                assert proxy.cut() == 1
        completed = _assert_once_in_order(events, pieces)
        assert proxy.connections == 2  # the turn's own, then the resume's
        assert c.get_turn(completed.result.session_id, completed.result.turn_id).status == (
            "completed"
        )


def test_an_async_converse_cut_twice_continues_with_every_event_once(
    proxy: TcpProxy, model_api: FakeModelServer
) -> None:
    pieces, step = _pieces(60)
    model_api.script(step)

    async def main() -> list[ConverseEvent]:
        async with AsyncClient(proxy.address, token=token(new_id()), timeout=30) as c:
            events: list[ConverseEvent] = []
            async for event in c.converse("Hi", session_id=new_id(), detach=True):
                events.append(event)
                if len(events) in (5, 25):
                    assert proxy.cut() == 1
            return events

    _assert_once_in_order(asyncio.run(main()), pieces)
    assert proxy.connections == 3


def test_a_cut_stream_of_a_turn_that_is_not_detached_raises_its_cancellation(
    proxy: TcpProxy, model_api: FakeModelServer
) -> None:
    pieces, step = _pieces(200)
    model_api.script(step)
    with Client(proxy.address, token=token(new_id()), timeout=30) as c:
        sid = new_id()
        events: list[ConverseEvent] = []
        with pytest.raises(AgentSessionsError) as ended:
            for event in c.converse("Hi", session_id=sid):
                events.append(event)
                if len(events) == 5:
                    proxy.cut()
        # The service cancelled the turn when its caller's connection broke; the resumed
        # stream told that, after the events the caller had, none of them twice.
        assert ended.value.code == grpc.StatusCode.CANCELLED
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        started = events[0]
        assert isinstance(started, Started)
        assert c.get_turn(sid, started.turn_id).status == "cancelled"


def test_a_watch_cut_resumes_without_gap_or_duplicate(proxy: TcpProxy, openai_server: Any) -> None:
    user = token(new_id())
    direct = f"127.0.0.1:{openai_server.port}"
    with Client(direct, token=user, timeout=20) as c, Client(proxy.address, token=user) as w:
        sid = new_id()
        c.create_session(sid)
        got: list[SessionEvent] = []
        arrived = threading.Condition()

        def watch() -> None:
            for event in w.watch_session(sid):  # from now on: the session's current seq
                with arrived:
                    got.append(event)
                    arrived.notify_all()

        def wait_for(count: int) -> None:
            with arrived:
                assert arrived.wait_for(lambda: len(got) >= count, 10), got

        reader = threading.Thread(target=watch)
        reader.start()
        time.sleep(0.5)  # opened (it cannot tell when: nothing happened yet)
        c.create_message(sid, "user", "m0")
        wait_for(1)
        for cut in range(3):
            assert proxy.cut() == 1
            # Written while the watch is down: read from the tables once it is back.
            for i in range(3):
                c.create_message(sid, "user", f"m{1 + 3 * cut + i}")
            wait_for(1 + 3 * (cut + 1))
        c.delete_session(sid)
        reader.join(20)
        assert not reader.is_alive()
        added = [e for e in got if isinstance(e, MessageAdded)]
        assert [e.message.content for e in added] == [f"m{i}" for i in range(10)]
        assert [e.seq for e in added] == [e.message.seq for e in added]
        assert [e.seq for e in added] == list(range(added[0].seq, added[0].seq + 10))
        assert isinstance(got[-1], SessionDeleted)
        assert proxy.connections == 4


def test_a_watch_of_a_turn_sees_its_status_and_deltas(
    openai_address: str, model_api: FakeModelServer
) -> None:
    pieces, step = _pieces(5)
    model_api.script(step)
    user = token(new_id())
    with Client(openai_address, token=user, timeout=20) as c:
        sid = new_id()
        c.create_session(sid)
        got: list[SessionEvent] = []
        watcher = c.watch_session(sid)

        def done() -> bool:
            added = [e for e in got if isinstance(e, MessageAdded)]
            ended = [e for e in got if isinstance(e, TurnUpdated) and not e.turn.active]
            return len(added) == 2 and bool(ended)

        def watch() -> None:
            with contextlib.closing(watcher):
                for event in watcher:
                    got.append(event)
                    if done():
                        return

        reader = threading.Thread(target=watch)
        reader.start()
        time.sleep(0.5)
        result = c.conversation("Hi", session_id=sid)
        reader.join(20)
        assert not reader.is_alive(), got
        statuses = [e.turn.status for e in got if isinstance(e, TurnUpdated)]
        assert statuses[-1] == "completed" and "running" in statuses
        assert all(e.turn.turn_id == result.turn_id for e in got if isinstance(e, TurnUpdated))
        deltas = [e for e in got if isinstance(e, TurnDelta)]
        # Live pieces while it runs (those of its last batch may come after its end, or never).
        assert deltas and "".join(pieces).startswith("".join(d.text for d in deltas))
        assert [d.seq for d in deltas] == sorted({d.seq for d in deltas})
        assert all(d.turn_id == result.turn_id for d in deltas)
        added = [e.message.role for e in got if isinstance(e, MessageAdded)]
        assert added == ["user", "assistant"]
