"""Live turns and sessions across two replicas: two `agent-sessions serve` processes on one
PostgreSQL, each with its own LISTEN connection, behind one Envoy cluster (two endpoints) and
directly, on a fake model API that streams slowly enough to act while a turn runs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from agent_sessions.ops.health import wait_rest_ready
from agentsessions.v1 import message_service_pb2 as mpb
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb

from tests.conftest import start_envoy
from tests.fakes.model_server import FakeModelServer, Step
from tests.served import Served, value, wait_for
from tests.support import Client, client, failure, token

LEASE = 2.0  # seconds: a killed replica's turns are lost this soon


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeModelServer]:
    with FakeModelServer(timestamps=True) as server:
        yield server


def _replica(database_url: str, log: Path, fake: FakeModelServer) -> Served:
    return Served(
        database_url,
        log,
        AGENT_SESSIONS_WORKERS="1",
        # Three replicas at once beside the suite's own server: few connections each, so the
        # test PostgreSQL's 100 are enough.
        AGENT_SESSIONS_DB_POOL_SIZE="4",
        AGENT_SESSIONS_AGENT="openai",
        AGENT_SESSIONS_MODEL_BASE_URL=fake.base_url,
        AGENT_SESSIONS_MODEL_API_KEY="test-key",
        AGENT_SESSIONS_MODEL="fake-model",
        AGENT_SESSIONS_MODEL_MAX_RETRIES="0",
        AGENT_SESSIONS_TURN_LEASE=str(LEASE),
        AGENT_SESSIONS_DRAIN_SECONDS="5",
    )


@pytest.fixture(scope="module")
def replicas(
    database_url: str, fake: FakeModelServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Served, Served]]:
    logs = tmp_path_factory.mktemp("replicas")
    with (
        _replica(database_url, logs / "a.log", fake) as a,
        _replica(database_url, logs / "b.log", fake) as b,
    ):
        yield a, b


@pytest.fixture(scope="module")
def edge(
    replicas: tuple[Served, Served], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    """One Envoy whose cluster has both replicas as endpoints."""
    a, b = replicas
    process, http_port = start_envoy(
        tmp_path_factory.mktemp("edge"), a.port, more_grpc_ports=(b.port,)
    )
    try:
        wait_rest_ready(http_port, process=process)
        yield http_port
    finally:
        process.terminate()
        process.wait(10)


def _channel(served: Served) -> grpc.Channel:
    return grpc.insecure_channel(f"127.0.0.1:{served.port}")


def _user() -> str:
    return f"live-{uuid.uuid4().hex[:8]}"


def _hi(text: str = "hi") -> spb.ConversationMessage:
    return spb.ConversationMessage(role=rpb.user, content=text)


def _kind(event: Any) -> str:
    return str(event.WhichOneof("event"))


def _slow(pieces: int = 40, delay: float = 0.05) -> Step:
    return Step.text([f"p{i} " for i in range(pieces)], delay=delay)


def test_a_turn_started_on_one_replica_is_resumed_and_cancelled_on_the_other(
    replicas: tuple[Served, Served], fake: FakeModelServer, db: Any
) -> None:
    a, b = replicas
    user = _user()
    fake.script(_slow(pieces=200))
    before = len(fake.requests)
    with _channel(a) as ca, _channel(b) as cb:
        on_a, on_b = client(ca, user), client(cb, user)
        stream = on_a.s(
            "Converse", spb.ConverseRequest(session_id="s", messages=[_hi()], detach=True)
        )
        seen = []
        for event in stream:
            seen.append(event)
            if len(seen) == 6:  # started and five deltas
                break
        stream.cancel()  # the caller goes away: a detached turn runs on
        started = seen[0].started
        assert started.turn_id and [e.seq for e in seen] == [1, 2, 3, 4, 5, 6]
        turn = on_b.s("GetTurn", spb.GetTurnRequest(session_id="s", turn_id=started.turn_id))
        assert turn.status == spb.running

        # Resumed on the other replica: the same events with the same seqs, then live ones.
        resumed = on_b.s(
            "ResumeTurn",
            spb.ResumeTurnRequest(session_id="s", turn_id=started.turn_id, after_seq=2),
        )
        again = []
        for event in resumed:
            again.append(event)
            if len(again) == 8:
                break
        assert [e.seq for e in again] == list(range(3, 11))
        assert [e.delta.text for e in again[:4]] == [e.delta.text for e in seen[2:6]]

        # Cancelled through the other replica: the model request stops, nothing is stored.
        cancelled = on_b.s(
            "CancelTurn", spb.CancelTurnRequest(session_id="s", turn_id=started.turn_id)
        )
        assert cancelled.status == spb.cancelled
        assert wait_for(
            lambda: value(a.samples(), "agent_sessions_turns_total", status="cancelled") >= 1,
            timeout=10,
        )
        rest = list(resumed)
        assert (
            _kind(rest[-1]) == "error" and rest[-1].error.code == grpc.StatusCode.CANCELLED.value[0]
        )
        assert [e.seq for e in rest] == list(range(11, 11 + len(rest)))
        assert wait_for(lambda: fake.requests[before].disconnected.is_set(), timeout=5)
        turn = on_a.s("GetTurn", spb.GetTurnRequest(session_id="s", turn_id=started.turn_id))
        assert (
            turn.status == spb.cancelled and turn.error.code == grpc.StatusCode.CANCELLED.value[0]
        )
        assert not db.execute(
            "SELECT 1 FROM agent_sessions a JOIN users u ON u.id = a.user_id WHERE u.subject = %s",
            [user],
        ).fetchall()
        # A later resume of the ended turn tells the same story from the start.
        replay = list(
            on_a.s("ResumeTurn", spb.ResumeTurnRequest(session_id="s", turn_id=started.turn_id))
        )
        assert [e.seq for e in replay] == list(range(1, len(replay) + 1))
        assert replay[:6] == seen and replay[-1] == rest[-1]


def test_concurrent_turns_on_one_session_across_replicas_run_one_at_a_time(
    replicas: tuple[Served, Served], fake: FakeModelServer
) -> None:
    a, b = replicas
    user = _user()
    turns = 6
    fake.script(*[Step.text([f"reply{i} ", "done"], delay=0.05) for i in range(turns)])
    before = len(fake.requests)
    with _channel(a) as ca, _channel(b) as cb:
        callers = [client(ca, user), client(cb, user)]

        def turn(i: int) -> list[Any]:
            request = spb.ConverseRequest(session_id="q", messages=[_hi(f"m{i}")])
            return list(callers[i % 2].s("Converse", request))

        with ThreadPoolExecutor(turns) as pool:
            streams = list(pool.map(turn, range(turns)))
        assert all(_kind(s[-1]) == "completed" for s in streams), [s[-1] for s in streams]
        waited = [s for s in streams if any(_kind(e) == "queued" for e in s)]
        assert waited, "no turn waited: they cannot all have run at once"
        for s in streams:
            positions = [e.queued.position for e in s if _kind(e) == "queued"]
            # The last place a waiting turn is told before it runs is 1: next.
            assert not positions or positions[-1] == 1, positions
        # The model was asked one turn at a time, each seeing every earlier turn's messages.
        requests = fake.requests[before:]
        assert len(requests) == turns
        spans = sorted((r.received_at or 0, r.ended_at or 0) for r in requests)
        assert all(spans[i][1] <= spans[i + 1][0] for i in range(turns - 1)), spans
        sizes = [len(r.messages) for r in sorted(requests, key=lambda r: r.received_at or 0)]
        assert sizes == sorted(sizes) and len(set(sizes)) == turns, sizes
        page = callers[0].m("ListMessages", mpb.ListMessagesRequest(session_id="q"))
        assert page.total_size == 2 * turns
        # Each turn's two messages are contiguous.
        roles = [m.role for m in page.messages]
        assert roles == [rpb.user, rpb.assistant] * turns


def test_reject_answers_session_busy_and_interrupt_replaces_the_running_turn(
    replicas: tuple[Served, Served], fake: FakeModelServer
) -> None:
    a, b = replicas
    user = _user()
    gate = threading.Event()
    fake.script(Step.text(["slow ", "reply"], gate=gate), Step.text(["second"]))
    try:
        with _channel(a) as ca, _channel(b) as cb:
            on_a, on_b = client(ca, user), client(cb, user)
            stream = on_a.s("Converse", spb.ConverseRequest(session_id="r", messages=[_hi()]))
            events = iter(stream)
            started = next(events).started
            assert _kind(next(events)) == "delta"  # running, held at the gate
            rejected = spb.ConversationRequest(
                session_id="r", messages=[_hi("again")], if_busy=spb.reject
            )
            f = failure(lambda: on_b.s("Conversation", rejected))
            assert (f.code, f.reason) == (grpc.StatusCode.ABORTED, "SESSION_BUSY")
            assert _error_info(lambda: on_b.s("Conversation", rejected))["turn_id"] == (
                started.turn_id
            )

            replaced = on_b.s(
                "Conversation",
                spb.ConversationRequest(
                    session_id="r", messages=[_hi("instead")], if_busy=spb.interrupt
                ),
            )
            assert replaced.response == "second" and replaced.messages_count == 2
            rest = []
            with pytest.raises(grpc.RpcError) as ended:  # the error event, then the same status
                for event in events:
                    rest.append(event)
            assert ended.value.code() == grpc.StatusCode.CANCELLED
            assert _kind(rest[-1]) == "error"
            assert rest[-1].error.code == grpc.StatusCode.CANCELLED.value[0]
            first = on_a.s("GetTurn", spb.GetTurnRequest(session_id="r", turn_id=started.turn_id))
            assert first.status == spb.cancelled
    finally:
        gate.set()


def _error_info(call: Any) -> dict[str, str]:
    """The ErrorInfo metadata of the failure of `call`."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    try:
        call()
    except grpc.RpcError as exc:
        status = rpc_status.from_call(exc)  # type: ignore[arg-type]
        assert status is not None
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                return dict(info.metadata)
    raise AssertionError("no ErrorInfo")


def test_a_retry_with_the_request_id_attaches_to_the_running_turn_on_another_replica(
    replicas: tuple[Served, Served], fake: FakeModelServer
) -> None:
    a, b = replicas
    user = _user()
    fake.script(_slow(pieces=20, delay=0.05))
    before = len(fake.requests)
    rid = str(uuid.uuid4())
    with _channel(a) as ca, _channel(b) as cb:
        on_a, on_b = client(ca, user), client(cb, user)
        request = spb.ConverseRequest(session_id="t", messages=[_hi()], request_id=rid)
        first = on_a.s("Converse", request)
        head = [next(iter(first)) for _ in range(3)]
        retried = list(on_b.s("Converse", request))
        original = head + list(first)
        assert retried == original
        assert _kind(original[-1]) == "completed"
        assert len(fake.requests) - before == 1  # the agent ran once
        # And once stored, a retry replays the same stream again.
        assert list(on_a.s("Converse", request)) == original


def test_a_watch_on_one_replica_sees_every_change_made_through_the_other(
    replicas: tuple[Served, Served],
) -> None:
    a, b = replicas
    user = _user()
    with _channel(a) as ca, _channel(b) as cb:
        on_a, on_b = client(ca, user), client(cb, user)
        on_a.s("CreateSession", spb.CreateSessionRequest(session_id="w"))
        first = on_a.m(
            "CreateMessage", mpb.CreateMessageRequest(session_id="w", role=rpb.user, content="one")
        )
        watch = on_b.s("WatchSession", spb.WatchSessionRequest(session_id="w", after_seq=0))
        got: list[Any] = []

        def read() -> None:
            for event in watch:
                got.append(event)
                if _kind(event) == "deleted":
                    return

        reader = threading.Thread(target=read)
        reader.start()
        assert wait_for(lambda: value(b.samples(), "agent_sessions_watchers") >= 1, timeout=10)
        m2 = on_a.m(
            "CreateMessage", mpb.CreateMessageRequest(session_id="w", role=rpb.user, content="two")
        )
        on_a.m(
            "UpdateMessage",
            mpb.UpdateMessageRequest(session_id="w", message_id=m2.id, content="two!"),
        )
        on_a.m("DeleteMessage", mpb.DeleteMessageRequest(session_id="w", message_id=first.id))
        on_a.s("UpdateSession", spb.UpdateSessionRequest(session_id="w", description="d"))
        on_a.m("ClearMessages", mpb.ClearMessagesRequest(session_id="w"))
        on_a.s("DeleteSession", spb.DeleteSessionRequest(session_id="w"))
        reader.join(20)
        assert not reader.is_alive(), got
        durable = [e for e in got if e.HasField("seq")]
        assert [e.seq for e in durable] == list(range(1, 8))  # the delete's too
        assert [_kind(e) for e in got] == [
            "message",
            "message",
            "message_updated",
            "message_deleted",
            "session",
            "cleared",
            "deleted",
        ]
        assert got[2].message_updated.content == "two!"
        assert got[3].message_deleted.message_id == first.id
        assert got[4].session.description == "d" and got[5].cleared.deleted_count == 1


def test_writes_wake_only_sessions_someone_watches(
    replicas: tuple[Served, Served], database_url: str, db: Any
) -> None:
    """A write to a session nobody watches sends no wake-up; one to a session watched on the
    other replica does (and the watch gets it), seen on a LISTEN connection of the test's own.
    The watch's registration ends with it (its row is gone when its replica forgets it, or
    expires): here, its row is there while it watches."""
    import psycopg

    a, b = replicas
    user = _user()
    with (
        _channel(a) as ca,
        _channel(b) as cb,
        psycopg.connect(database_url, autocommit=True) as listening,
    ):
        on_a, on_b = client(ca, user), client(cb, user)
        for name in ("quiet", "seen"):
            on_a.s("CreateSession", spb.CreateSessionRequest(session_id=name))
        ids = dict(
            db.execute(
                "SELECT a.session_id, a.id FROM agent_sessions a JOIN users u ON u.id = a.user_id"
                " WHERE u.subject = %s",
                [user],
            ).fetchall()
        )
        quiet, seen = ids["quiet"], ids["seen"]
        watch = on_b.s("WatchSession", spb.WatchSessionRequest(session_id="seen"))
        got: list[Any] = []

        def read() -> None:
            with contextlib.suppress(grpc.RpcError):
                for event in watch:
                    got.append(event)

        reader = threading.Thread(target=read)
        reader.start()
        try:
            assert wait_for(
                lambda: (
                    db.execute(
                        "SELECT count(*) FROM session_watches WHERE session_uuid = %s", [seen]
                    ).fetchone()[0]
                    == 1
                ),
                timeout=10,
            )
            listening.execute("LISTEN agent_sessions")
            # Both through replica A, the unwatched one first: its wake-up, were it sent, would
            # come before (or with) the watched one's.
            on_a.m(
                "CreateMessage",
                mpb.CreateMessageRequest(session_id="quiet", role=rpb.user, content="nobody"),
            )
            on_a.m(
                "CreateMessage",
                mpb.CreateMessageRequest(session_id="seen", role=rpb.user, content="watched"),
            )
            payloads: list[str] = []
            for note in listening.notifies(timeout=10):
                payloads.append(note.payload)
                if note.payload.startswith(f"s:{seen}"):
                    break
            assert any(p.startswith(f"s:{seen}") for p in payloads), payloads
            assert not any(str(quiet) in p for p in payloads), payloads
            assert wait_for(
                lambda: any(_kind(e) == "message" and e.message.content == "watched" for e in got),
                timeout=10,
            ), got
        finally:
            watch.cancel()
            reader.join(10)


def test_a_sigkilled_replica_s_turn_becomes_lost_and_the_queue_moves_on(
    database_url: str, fake: FakeModelServer, tmp_path: Path, replicas: tuple[Served, Served]
) -> None:
    _, b = replicas
    user = _user()
    victim = _replica(database_url, tmp_path / "victim.log", fake)
    victim.__enter__()
    assert victim.process is not None
    try:
        fake.script(_slow(pieces=400), Step.text(["after"]))
        with _channel(victim) as cv, _channel(b) as cb:
            on_v, on_b = client(cv, user), client(cb, user)
            stream = on_v.s(
                "Converse", spb.ConverseRequest(session_id="k", messages=[_hi()], detach=True)
            )
            events = iter(stream)
            started = next(events).started
            next(events)
            queued: list[Any] = []
            waiter = threading.Thread(
                target=lambda: queued.extend(
                    on_b.s("Converse", spb.ConverseRequest(session_id="k", messages=[_hi("2")]))
                )
            )
            waiter.start()
            assert wait_for(lambda: any(_kind(e) == "queued" for e in queued), timeout=10)
            _kill_tree(victim.process.pid)
            waiter.join(30)
            assert not waiter.is_alive()
            assert _kind(queued[-1]) == "completed" and queued[-1].completed.response == "after"
            lost = on_b.s("GetTurn", spb.GetTurnRequest(session_id="k", turn_id=started.turn_id))
            assert lost.status == spb.lost
            assert lost.error.code == grpc.StatusCode.ABORTED.value[0]
            resumed = list(
                on_b.s("ResumeTurn", spb.ResumeTurnRequest(session_id="k", turn_id=started.turn_id))
            )
            assert _kind(resumed[-1]) == "error" and "TURN_LOST" in str(resumed[-1].error)
            page = on_b.m("ListMessages", mpb.ListMessagesRequest(session_id="k"))
            assert [m.content for m in page.messages] == ["2", "after"]  # nothing of the lost one
    finally:
        victim.process.kill()
        victim.process.wait(10)


def _kill_tree(pid: int) -> None:
    """SIGKILL a `serve` and its workers, as a machine that vanishes would."""
    children = subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    os.kill(pid, signal.SIGKILL)
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(child), signal.SIGKILL)


def test_rest_turns_and_an_sse_watch_with_access_token_through_one_envoy_for_both(
    replicas: tuple[Served, Served], edge: int, fake: FakeModelServer
) -> None:
    user = _user()
    api = f"http://127.0.0.1:{edge}/api/agent-sessions"
    headers = {"authorization": f"Bearer {token(user)}"}
    fake.script(Step.text(["rest ", "reply"]))
    with httpx.Client(timeout=20, headers=headers) as http:
        reply = http.post(
            f"{api}/conversation",
            json={"session_id": "e", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert reply.status_code == 200, reply.text
        turn_id = reply.json()["turn_id"]
        turn = http.get(f"{api}/e/turns/{turn_id}")
        assert turn.status_code == 200, turn.text
        body = turn.json()
        assert body["status"] == "completed" and body["result"]["response"] == "rest reply"
        cancel = http.post(f"{api}/e/turns/{turn_id}:cancel")
        assert cancel.status_code == 200 and cancel.json()["status"] == "completed"
        events = _sse(http, f"{api}/e/turns/{turn_id}:stream?after_seq=0")
        assert events[0]["started"]["turn_id"] == turn_id and "completed" in events[-1]
        missing = http.get(f"{api}/e/turns/{uuid.uuid4()}")
        assert missing.status_code == 404
        assert missing.json()["details"][0]["reason"] == "TURN_NOT_FOUND"
        unwatched = http.get(f"{api}/nope:watch")
        assert unwatched.status_code == 404
        assert unwatched.json()["details"][0]["reason"] == "SESSION_NOT_FOUND"
    # A browser's EventSource sends no header: the token comes in the query, on these paths only.
    with httpx.Client(timeout=20) as http:
        url = f"{api}/e:watch?after_seq=0&access_token={token(user)}"
        with http.stream("GET", url) as watch:
            assert watch.status_code == 200
            assert watch.headers["content-type"].startswith("text/event-stream")
            lines = watch.iter_lines()
            first = next(line for line in lines if line.startswith("data: "))
            assert json.loads(first[6:])["message"]["content"] == "hi"
        elsewhere = http.get(f"{api}/e?access_token={token(user)}")
        assert elsewhere.status_code in (400, 401)
        unauthorized = http.get(f"{api}/e:watch?access_token=not-a-token")
        assert unauthorized.status_code == 401


def _sse(http: httpx.Client, url: str) -> list[dict[str, Any]]:
    with http.stream("GET", url) as reply:
        assert reply.status_code == 200, reply.read()
        return [json.loads(line[6:]) for line in reply.iter_lines() if line.startswith("data: ")]


def test_ended_turns_and_logged_changes_are_swept_after_the_request_id_ttl(
    alice: Client, db: Any, database_url: str
) -> None:
    """Turns (with their events) and the session change log are kept as long as request ids,
    then swept in small batches; live turns and newer rows stay. Watch registrations whose
    process stopped renewing them go a minute after they expired."""
    import asyncio

    from agent_sessions.db.engine import open_pool
    from agent_sessions.db.maintenance import sweep_history

    turn = alice.s("Conversation", spb.ConversationRequest(session_id="sw", messages=[_hi()]))
    alice.s("UpdateSession", spb.UpdateSessionRequest(session_id="sw", description="x"))
    session = db.execute(
        "SELECT id FROM agent_sessions WHERE session_id = 'sw' ORDER BY created_at DESC LIMIT 1"
    ).fetchone()[0]
    turn_id = uuid.UUID(turn.turn_id)
    db.execute("UPDATE turns SET updated_at = now() - interval '2 hours' WHERE id = %s", [turn_id])
    db.execute(
        "UPDATE session_changes SET created_at = now() - interval '2 hours'"
        " WHERE session_uuid = %s",
        [session],
    )

    async def sweep(ttl: int) -> int:
        pool = await open_pool(database_url, 1)
        try:
            return await sweep_history(pool, ttl, batch=1)
        finally:
            await pool.close()

    # A watch registration left by a process that died (expired over a minute ago), and a
    # live one.
    gone, live = uuid.uuid4(), uuid.uuid4()
    db.execute(
        "INSERT INTO session_watches (session_uuid, process, expires_at) VALUES"
        " (%s, %s, now() - interval '2 minutes'), (%s, %s, now() + interval '1 minute')",
        [session, gone, session, live],
    )
    asyncio.run(sweep(3 * 3600))  # too young: kept
    assert db.execute("SELECT count(*) FROM turns WHERE id = %s", [turn_id]).fetchone()[0] == 1
    watches = db.execute(
        "SELECT process FROM session_watches WHERE process IN (%s, %s)", [gone, live]
    ).fetchall()
    assert watches == [(live,)]
    assert asyncio.run(sweep(3600)) >= 2
    assert db.execute("SELECT count(*) FROM turns WHERE id = %s", [turn_id]).fetchone()[0] == 0
    left = db.execute(
        "SELECT count(*) FROM session_changes WHERE session_uuid = %s", [session]
    ).fetchone()[0]
    assert left == 0


def test_a_rewind_is_refused_while_a_turn_runs_and_watchers_see_it_after(
    replicas: tuple[Served, Served], fake: FakeModelServer
) -> None:
    a, b = replicas
    user = _user()
    gate = threading.Event()
    fake.script(Step.text(["first"]), Step.text(["held ", "reply"], gate=gate))
    try:
        with _channel(a) as ca, _channel(b) as cb:
            on_a, on_b = client(ca, user), client(cb, user)
            done = on_a.s(
                "Conversation", spb.ConversationRequest(session_id="rw", messages=[_hi()])
            )
            kept = on_a.m("ListMessages", mpb.ListMessagesRequest(session_id="rw")).messages[0]
            stream = on_a.s("Converse", spb.ConverseRequest(session_id="rw", messages=[_hi("2")]))
            events = iter(stream)
            started = next(events).started
            next(events)  # running, held at the gate
            rewind = spb.RewindSessionRequest(session_id="rw", after_message_id=kept.id)
            f = failure(lambda: on_b.s("RewindSession", rewind))
            assert (f.code, f.reason) == (grpc.StatusCode.ABORTED, "SESSION_BUSY")
            assert started.turn_id in f.message
            gate.set()
            assert _kind(list(events)[-1]) == "completed"
            seq = on_b.s("GetSession", spb.GetSessionRequest(session_id="rw")).seq
            watch = on_b.s("WatchSession", spb.WatchSessionRequest(session_id="rw", after_seq=seq))
            got: list[Any] = []
            reader = threading.Thread(target=lambda: got.extend(_take(watch, 3)))
            reader.start()
            rewound = on_b.s("RewindSession", rewind)
            reader.join(10)
            assert rewound.seq == seq + 3 and done.messages_count == 2
            left = on_b.m("ListMessages", mpb.ListMessagesRequest(session_id="rw")).messages
            assert [m.id for m in left] == [kept.id]
            assert [_kind(e) for e in got] == ["message_deleted"] * 3
            assert [e.seq for e in got] == [5, 6, 7]
    finally:
        gate.set()


def _take(stream: Any, n: int) -> list[Any]:
    taken = []
    for event in stream:
        if _kind(event) in ("turn", "heartbeat"):
            continue
        taken.append(event)
        if len(taken) == n:
            stream.cancel()
            break
    return taken


def test_limits_per_user_and_a_stopping_server_ends_its_watches_with_unavailable(
    settings: Any,
) -> None:
    """AGENT_SESSIONS_MAX_WATCHES_PER_USER open watches per replica, then USER_LIMIT; a server
    that stops ends its watches with an `error` event and UNAVAILABLE, so clients watch again
    elsewhere from their last seq."""
    import dataclasses

    from tests.support import ThreadServer, channel_to

    limited = dataclasses.replace(settings, max_watches_per_user=2)
    server = ThreadServer(limited).__enter__()
    with channel_to(server.port) as channel:
        user = client(channel, _user())
        user.s("CreateSession", spb.CreateSessionRequest(session_id="lim"))
        watches = [
            user.s("WatchSession", spb.WatchSessionRequest(session_id="lim", after_seq=0))
            for _ in range(2)
        ]
        seen: list[list[Any]] = [[], []]
        errors: list[grpc.StatusCode] = []

        def read(i: int) -> None:
            try:
                for event in watches[i]:
                    seen[i].append(event)
            except grpc.RpcError as exc:
                errors.append(exc.code())

        readers = [threading.Thread(target=read, args=(i,)) for i in range(2)]
        for reader in readers:
            reader.start()
        user.m("CreateMessage", mpb.CreateMessageRequest(session_id="lim", role=rpb.user))
        assert wait_for(lambda: all(len(s) >= 1 for s in seen), timeout=10)
        third = user.s("WatchSession", spb.WatchSessionRequest(session_id="lim"))
        f = failure(lambda: next(iter(third)))
        assert (f.code, f.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "USER_LIMIT")
        other = client(channel, _user())  # the limit is per user
        other.s("CreateSession", spb.CreateSessionRequest(session_id="lim"))
        mine = other.s("WatchSession", spb.WatchSessionRequest(session_id="lim", after_seq=0))
        mine.cancel()
        server.__exit__(None, None, None)  # the server stops while the watches are open
        for reader in readers:
            reader.join(10)
    assert errors == [grpc.StatusCode.UNAVAILABLE] * 2
    for events in seen:
        assert _kind(events[-1]) == "error"
        assert events[-1].error.code == grpc.StatusCode.UNAVAILABLE.value[0]


def test_a_full_queue_and_the_per_user_turn_limit_refuse_with_their_reasons(
    settings: Any, fake: FakeModelServer
) -> None:
    import dataclasses

    from tests.support import ThreadServer, channel_to, openai_settings

    limited = dataclasses.replace(
        openai_settings(settings, fake.base_url, "test-key", "fake-model"),
        max_turns_per_user=3,
        max_queued_turns=1,
    )
    gate = threading.Event()
    fake.script(
        Step.text(["one"], gate=gate, gate_after=0),
        Step.text(["other"], gate=gate, gate_after=0),
        Step.text(["two"]),
    )
    try:
        with ThreadServer(limited) as server, channel_to(server.port) as channel:
            user = client(channel, _user())
            first = iter(user.s("Converse", spb.ConverseRequest(session_id="f", messages=[_hi()])))
            next(first)  # started: it runs, held at the gate
            second = iter(
                user.s("Converse", spb.ConverseRequest(session_id="f", messages=[_hi("2")]))
            )
            assert _kind(next(second)) == "started" and _kind(next(second)) == "queued"
            full = failure(
                lambda: user.s(
                    "Conversation", spb.ConversationRequest(session_id="f", messages=[_hi("3")])
                )
            )
            assert (full.code, full.reason) == (
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "SESSION_QUEUE_FULL",
            )
            third = iter(user.s("Converse", spb.ConverseRequest(session_id="g", messages=[_hi()])))
            next(third)  # a third live turn of the user, in another session
            limit = failure(
                lambda: user.s(
                    "Conversation", spb.ConversationRequest(session_id="h", messages=[_hi()])
                )
            )
            assert (limit.code, limit.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "USER_LIMIT")
            gate.set()
            assert [_kind(list(s)[-1]) for s in (first, third, second)] == ["completed"] * 3
    finally:
        gate.set()


def test_a_stopping_server_leaves_its_detached_turn_to_be_lost_and_cancels_an_attached_one(
    settings: Any, fake: FakeModelServer, replicas: tuple[Served, Served]
) -> None:
    """Past the drain, an attached turn is cancelled (its caller is being cut off), a detached
    one is left alone: another replica's lease sweep marks it lost, nothing of it stored."""
    import dataclasses

    from tests.support import ThreadServer, channel_to, openai_settings

    _, b = replicas
    one = dataclasses.replace(
        openai_settings(settings, fake.base_url, "test-key", "fake-model"), turn_lease=LEASE
    )
    fake.script(_slow(pieces=400), _slow(pieces=400))
    user = _user()
    server = ThreadServer(one).__enter__()
    with channel_to(server.port) as channel, _channel(b) as cb:
        on_s, on_b = client(channel, user), client(cb, user)
        detached = iter(
            on_s.s("Converse", spb.ConverseRequest(session_id="d1", messages=[_hi()], detach=True))
        )
        attached = iter(on_s.s("Converse", spb.ConverseRequest(session_id="d2", messages=[_hi()])))
        ids = [next(detached).started.turn_id, next(attached).started.turn_id]
        next(detached), next(attached)  # both running
        server.__exit__(None, None, None)  # SIGTERM's path, with a 0.5 s drain
        attached_turn = on_b.s("GetTurn", spb.GetTurnRequest(session_id="d2", turn_id=ids[1]))
        assert attached_turn.status == spb.cancelled
        assert wait_for(
            lambda: (
                on_b.s("GetTurn", spb.GetTurnRequest(session_id="d1", turn_id=ids[0])).status
                == spb.lost
            ),
            timeout=4 * LEASE,
        )
        for missing in (
            spb.GetSessionRequest(session_id="d1"),
            spb.GetSessionRequest(session_id="d2"),
        ):
            f = failure(lambda r=missing: on_b.s("GetSession", r))
            assert f.code == grpc.StatusCode.NOT_FOUND  # nothing of either turn was stored


def test_a_watcher_that_stops_reading_holds_back_no_writer_and_no_other_watcher(
    replicas: tuple[Served, Served],
) -> None:
    """A watch whose client reads nothing fills its transport and then waits; the server keeps
    no queue for it (its wake-ups coalesce), writes go on, another watch gets every change, and
    the stalled one, read at last, catches up from the tables: every seq once, in order."""
    a, b = replicas
    user = _user()
    count, size = 120, 60_000  # ~7 MB: more than the transport's windows hold
    with _channel(a) as ca, _channel(b) as cb, _channel(b) as cb2:
        writer, stalled_client, reader_client = (
            client(ca, user),
            client(cb, user),
            client(cb2, user),
        )
        writer.s("CreateSession", spb.CreateSessionRequest(session_id="slow"))
        stalled = stalled_client.s(
            "WatchSession", spb.WatchSessionRequest(session_id="slow", after_seq=0)
        )
        live = reader_client.s(
            "WatchSession", spb.WatchSessionRequest(session_id="slow", after_seq=0)
        )
        got: list[int] = []

        def read() -> None:
            for event in live:
                if event.HasField("seq"):
                    got.append(event.seq)
                    if len(got) == count:
                        return

        reader = threading.Thread(target=read)
        reader.start()
        body = "x" * size
        for i in range(count):
            writer.m(
                "CreateMessage",
                mpb.CreateMessageRequest(session_id="slow", role=rpb.user, content=f"{i}{body}"),
            )
        reader.join(30)
        assert got == list(range(1, count + 1))
        live.cancel()
        late = []
        for event in stalled:
            if event.HasField("seq"):
                late.append(event.seq)
                if len(late) == count:
                    break
        stalled.cancel()
        assert late == list(range(1, count + 1))


def test_a_conversation_retried_while_its_turn_runs_waits_for_the_same_outcome(
    replicas: tuple[Served, Served], fake: FakeModelServer
) -> None:
    a, b = replicas
    user = _user()
    gate = threading.Event()
    fake.script(Step.text(["only ", "once"], gate=gate))
    before = len(fake.requests)
    request = spb.ConversationRequest(
        session_id="u1", messages=[_hi()], request_id=str(uuid.uuid4())
    )
    try:
        with _channel(a) as ca, _channel(b) as cb:
            on_a, on_b = client(ca, user), client(cb, user)
            with ThreadPoolExecutor(2) as pool:
                first = pool.submit(on_a.s, "Conversation", request)
                assert wait_for(lambda: len(fake.requests) > before, timeout=10)
                retried = pool.submit(on_b.s, "Conversation", request)
                time.sleep(0.2)  # the retry is waiting, not running the agent again
                assert not retried.done() and len(fake.requests) == before + 1
                gate.set()
                assert first.result(20) == retried.result(20)
            assert first.result().response == "only once" and first.result().turn_id
            assert len(fake.requests) == before + 1
    finally:
        gate.set()


def test_another_users_turns_and_sessions_are_not_found(alice: Client, bob: Client) -> None:
    turn = alice.s("Conversation", spb.ConversationRequest(session_id="mine", messages=[_hi()]))
    bob.s("CreateSession", spb.CreateSessionRequest(session_id="mine"))  # his own of that name
    calls = [
        lambda: bob.s("GetTurn", spb.GetTurnRequest(session_id="mine", turn_id=turn.turn_id)),
        lambda: bob.s("CancelTurn", spb.CancelTurnRequest(session_id="mine", turn_id=turn.turn_id)),
        lambda: list(
            bob.s("ResumeTurn", spb.ResumeTurnRequest(session_id="mine", turn_id=turn.turn_id))
        ),
    ]
    for call in calls:
        f = failure(call)
        assert (f.code, f.reason) == (grpc.StatusCode.NOT_FOUND, "TURN_NOT_FOUND")
    alice.s("CreateSession", spb.CreateSessionRequest(session_id="only-alice"))
    f = failure(
        lambda: next(iter(bob.s("WatchSession", spb.WatchSessionRequest(session_id="only-alice"))))
    )
    assert (f.code, f.reason) == (grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND")
    mine = alice.s("GetTurn", spb.GetTurnRequest(session_id="mine", turn_id=turn.turn_id))
    assert mine.status == spb.completed  # untouched by bob's cancel


def test_a_quiet_watch_sends_heartbeats(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_sessions.services import live

    from tests.support import ThreadServer, channel_to

    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.3)  # 15 s in service
    with ThreadServer(settings) as server, channel_to(server.port) as channel:
        user = client(channel, _user())
        user.s("CreateSession", spb.CreateSessionRequest(session_id="hb"))
        watch = user.s("WatchSession", spb.WatchSessionRequest(session_id="hb"))
        events = iter(watch)
        kinds = [_kind(next(events)) for _ in range(2)]
        watch.cancel()
        assert kinds == ["heartbeat", "heartbeat"]


def test_an_interrupt_replaces_only_the_running_turn_and_runs_before_the_waiting_ones(
    replicas: tuple[Served, Served], fake: FakeModelServer
) -> None:
    a, b = replicas
    user = _user()
    gate = threading.Event()
    fake.script(Step.text(["held"], gate=gate, gate_after=0), Step.text(["c"]), Step.text(["b"]))
    try:
        with _channel(a) as ca, _channel(b) as cb:
            on_a, on_b = client(ca, user), client(cb, user)
            first = iter(on_a.s("Converse", spb.ConverseRequest(session_id="i", messages=[_hi()])))
            next(first)  # running, held
            waiting = iter(
                on_b.s("Converse", spb.ConverseRequest(session_id="i", messages=[_hi("b")]))
            )
            assert _kind(next(waiting)) == "started" and _kind(next(waiting)) == "queued"
            c = on_b.s(
                "Conversation",
                spb.ConversationRequest(session_id="i", messages=[_hi("c")], if_busy=spb.interrupt),
            )
            assert c.response == "c"
            ended = list(waiting)
            assert _kind(ended[-1]) == "completed" and ended[-1].completed.response == "b"
            page = on_b.m("ListMessages", mpb.ListMessagesRequest(session_id="i"))
            assert [m.content for m in page.messages] == ["c", "c", "b", "b"]
            with pytest.raises(grpc.RpcError) as cut:
                list(first)
            assert cut.value.code() == grpc.StatusCode.CANCELLED
    finally:
        gate.set()


def test_a_watch_that_reads_late_still_sees_the_messages_deleted_since(alice: Client) -> None:
    alice.s("CreateSession", spb.CreateSessionRequest(session_id="late"))
    one, two = (
        alice.m(
            "CreateMessage", mpb.CreateMessageRequest(session_id="late", role=rpb.user, content=t)
        )
        for t in ("one", "two")
    )
    alice.m("DeleteMessage", mpb.DeleteMessageRequest(session_id="late", message_id=one.id))
    alice.m("ClearMessages", mpb.ClearMessagesRequest(session_id="late"))
    watch = alice.s("WatchSession", spb.WatchSessionRequest(session_id="late", after_seq=0))
    got = _take(watch, 4)
    assert [(e.seq, _kind(e)) for e in got] == [
        (1, "message"),
        (2, "message"),
        (3, "message_deleted"),
        (4, "cleared"),
    ]
    assert [got[0].message.content, got[1].message.content] == ["one", "two"]
    assert got[2].message_deleted.message_id == one.id and two.id == got[1].message.id


def test_a_process_that_does_not_know_the_watched_sessions_wakes_every_session() -> None:
    """Before its LISTEN connection has read session_watches (or while it is down), a process
    must not drop wake-ups: it wakes every session it changed. Once it knows, only watched
    ones, its own watches included."""
    from agent_sessions.db.listener import Listener

    listener = Listener("postgresql://nobody@localhost/none")
    mine, other, nobody = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert listener.wakes({mine, nobody}) == {mine, nobody}
    listener._watched = {other}  # as read from the table
    listener.watch(mine)
    listener._dispatch(f"w:{nobody}")  # another process started watching it
    assert listener.wakes({mine, other, nobody, uuid.uuid4()}) == {mine, other, nobody}
    listener.unwatch(mine)
    assert listener.watching == []


def test_watches_of_one_session_share_a_read_only_when_it_started_after_their_wake_ups() -> None:
    """SharedReads: concurrent reads of one key that need nothing newer share one statement;
    a read needed after a newer wake-up starts its own; a reader that goes away does not take
    the shared read down for the others."""
    import asyncio

    from agent_sessions.services.live import SharedReads

    class Pushes:
        pushes = 5

    async def scenario() -> None:
        listener = Pushes()
        reads = SharedReads(listener)  # type: ignore[arg-type]
        calls: list[int] = []
        gate = asyncio.Event()

        async def read() -> list[int]:
            calls.append(listener.pushes)
            mine = len(calls)
            await gate.wait()
            return [mine]

        async def settle() -> None:
            for _ in range(5):
                await asyncio.sleep(0)

        first = [asyncio.ensure_future(reads.read(("k",), 5, read)) for _ in range(10)]
        await settle()
        assert len(calls) == 1  # ten watches, one statement
        listener.pushes = 6  # a wake-up came after that read started
        later = asyncio.ensure_future(reads.read(("k",), 6, read))
        other = asyncio.ensure_future(reads.read(("other",), 0, read))
        await settle()
        assert len(calls) == 3
        first[0].cancel()  # the watch that started the first read goes away
        gate.set()
        results = await asyncio.gather(*first[1:], later, other)
        assert results[:9] == [[1]] * 9 and results[9] != [1]
        assert len(reads) == 0  # nothing kept once the reads are done

    asyncio.run(scenario())


def test_many_watches_of_one_session_on_one_replica_each_see_every_change_in_order(
    replicas: tuple[Served, Served],
) -> None:
    """Twenty watches of one session on replica B (their reads shared), five messages through A:
    every watch gets all five, in seq order, once."""
    a, b = replicas
    user = _user()
    with _channel(a) as ca, _channel(b) as cb:
        on_a, on_b = client(ca, user), client(cb, user)
        on_a.s("CreateSession", spb.CreateSessionRequest(session_id="many"))
        watches = [
            on_b.s("WatchSession", spb.WatchSessionRequest(session_id="many", after_seq=0))
            for _ in range(20)
        ]
        seen: list[list[int]] = [[] for _ in watches]

        def read(i: int) -> None:
            with contextlib.suppress(grpc.RpcError):
                for event in watches[i]:
                    if _kind(event) == "message":
                        seen[i].append(event.seq)
                        if len(seen[i]) == 5:
                            return

        with ThreadPoolExecutor(len(watches)) as pool:
            futures = [pool.submit(read, i) for i in range(len(watches))]
            assert wait_for(
                lambda: value(b.samples(), "agent_sessions_watchers") >= len(watches), timeout=10
            )
            for n in range(5):
                on_a.m(
                    "CreateMessage",
                    mpb.CreateMessageRequest(session_id="many", role=rpb.user, content=f"m{n}"),
                )
            for future in futures:
                future.result(timeout=30)
        for watch in watches:
            watch.cancel()
    assert seen == [[1, 2, 3, 4, 5]] * len(watches)
