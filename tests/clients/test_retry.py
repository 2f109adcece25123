"""Retries, deadlines and stream failures, against a scripted grpc.aio server (directly and
through a real Envoy), with the sync and the asyncio client."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from agent_sessions_client import (
    NO_RETRY,
    AgentSessionsError,
    AsyncClient,
    Client,
    Delta,
    RetryPolicy,
    Started,
    UnavailableError,
)
from agent_sessions_client.retry import Deadline, retry_delay

from tests.clients.fake_server import FakeServer
from tests.conftest import start_envoy
from tests.support import free_port

FAST = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)


@pytest.fixture(scope="module")
def fake_envoy_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeServer, int]]:
    """A scripted server with a real Envoy in front of it, for the whole module."""
    with FakeServer() as server:
        process, port = start_envoy(tmp_path_factory.mktemp("envoy-fake"), server.port)
        try:
            wait_for_envoy(port, process)
            yield server, port
        finally:
            process.terminate()
            process.wait(10)


def wait_for_envoy(port: int, process: object) -> None:
    """Envoy serves once a call through it reaches the scripted server (UNIMPLEMENTED there)."""
    deadline = time.monotonic() + 30
    with Client(f"127.0.0.1:{port}", retry=NO_RETRY, timeout=1) as c:
        while time.monotonic() < deadline:
            try:
                c.get_message("s", "m")
            except AgentSessionsError as exc:
                if exc.code == grpc.StatusCode.UNIMPLEMENTED:
                    return
            time.sleep(0.1)
    raise RuntimeError("envoy in front of the scripted server did not come up")


@pytest.fixture(params=["direct", "envoy"])
def scripted(
    request: pytest.FixtureRequest, fake_envoy_port: tuple[FakeServer, int]
) -> Iterator[tuple[FakeServer, str]]:
    """The scripted server, fresh state, and the address to reach it by (itself or Envoy)."""
    server, envoy_port = fake_envoy_port
    server.failures.clear()
    server.calls.clear()
    server.tokens.clear()
    server.request_ids.clear()
    server.delay = 0.0
    port = server.port if request.param == "direct" else envoy_port
    yield server, f"127.0.0.1:{port}"


def test_idempotent_calls_are_retried_on_unavailable(scripted: tuple[FakeServer, str]) -> None:
    server, address = scripted
    issued: list[str] = []

    def provider() -> str:
        issued.append(f"t{len(issued)}")
        return issued[-1]

    server.failures.update(GetSession=2, UpdateSession=3, ClearMessages=1, ListSessions=1)
    with Client(address, token=provider, retry=FAST) as c:
        assert c.get_session("x").session_id == "x"
        assert c.update_session("x", description="d").session_id == "x"
        assert c.clear_messages("x") == 7
        assert [s.session_id for s in c.list_sessions()] == ["a", "b", "c"]
    assert server.calls == {
        "GetSession": 3,
        "UpdateSession": 4,
        "ClearMessages": 2,
        "ListSessions": 3,
    }
    # The token provider is asked again for every attempt, so a retry can use a refreshed token.
    assert server.tokens == [f"Bearer {t}" for t in issued] and len(issued) == 12


def test_retries_stop_after_max_attempts(scripted: tuple[FakeServer, str]) -> None:
    server, address = scripted
    server.failures["GetSession"] = 10
    with Client(address, token="t", retry=FAST) as c, pytest.raises(UnavailableError) as failed:
        c.get_session("x")
    assert failed.value.reason == "UNAVAILABLE" and server.calls["GetSession"] == 4
    with Client(address, token="t", retry=NO_RETRY) as c, pytest.raises(UnavailableError):
        c.get_session("x")
    assert server.calls["GetSession"] == 5


def test_writes_and_turns_are_retried_with_one_request_id(
    scripted: tuple[FakeServer, str],
) -> None:
    """Every attempt of a call sends the call's request id; each call makes its own."""
    server, address = scripted
    server.failures.update(CreateSession=1, CreateMessage=2, Conversation=1)
    with Client(address, token="t", retry=FAST) as c:
        assert c.create_session("x").session_id == "x"
        assert c.create_message("x", "user", "hi").id == "m"
        assert c.create_message("x", "user", "again", request_id="my-own").id == "m"
        assert c.conversation("hi", session_id="x").session_id == "x"
        assert c.clear_messages("x") == 7
    assert server.calls == {
        "CreateSession": 2,
        "CreateMessage": 4,
        "Conversation": 2,
        "ClearMessages": 1,
    }
    ids = server.request_ids
    assert [method for method, _ in ids] == [
        "CreateSession",
        "CreateSession",
        "CreateMessage",
        "CreateMessage",
        "CreateMessage",
        "CreateMessage",
        "Conversation",
        "Conversation",
        "ClearMessages",
    ]
    assert ids[0][1] == ids[1][1] and ids[2][1] == ids[3][1] == ids[4][1]
    assert ids[5][1] == "my-own" and ids[6][1] == ids[7][1]
    made = {ids[i][1] for i in (0, 2, 6, 8)}
    assert len(made) == 4 and all(uuid.UUID(i).version == 4 for i in made)


def test_a_stream_is_sent_again_before_its_first_event_and_its_error_event_is_final(
    scripted: tuple[FakeServer, str],
) -> None:
    """Failing before any event, Converse is sent again with its request id; the `error` event
    that ends it after `started` and a delta is the turn's own failure (nothing stored): it is
    raised, UNAVAILABLE as it is, and neither retried nor resumed."""
    server, address = scripted
    server.failures["Converse"] = 2
    seen: list[object] = []
    with Client(address, token="t", retry=FAST) as c, pytest.raises(UnavailableError) as failed:
        for event in c.converse("hi", session_id="x"):
            seen.append(event)
    assert [type(e) for e in seen] == [Started, Delta]
    assert failed.value.reason == "AGENT_FAILED"
    assert server.calls["Converse"] == 3 and server.calls["ResumeTurn"] == 0
    assert len({request_id for _, request_id in server.request_ids}) == 1


def test_stream_failure_after_start_raises_the_error_event(
    scripted: tuple[FakeServer, str],
) -> None:
    server, address = scripted
    seen: list[object] = []
    with Client(address, token="t", retry=FAST) as c, pytest.raises(UnavailableError) as failed:
        for event in c.converse("hi", session_id="x"):
            seen.append(event)
    assert [type(e) for e in seen] == [Started, Delta]
    assert failed.value.reason == "AGENT_FAILED" and failed.value.message == "scripted AGENT_FAILED"
    assert server.calls["Converse"] == 1


def test_other_codes_raise_the_base_class(scripted: tuple[FakeServer, str]) -> None:
    _, address = scripted
    with Client(address, token="t") as c, pytest.raises(AgentSessionsError) as failed:
        c.get_message("s", "m")
    assert type(failed.value) is AgentSessionsError
    assert failed.value.code == grpc.StatusCode.UNIMPLEMENTED and failed.value.reason is None


def test_deadlines_default_and_per_call(scripted: tuple[FakeServer, str]) -> None:
    server, address = scripted
    server.delay = 0.5
    with Client(address, token="t", timeout=0.1) as c:
        with pytest.raises(AgentSessionsError) as late:
            c.get_session("x")
        assert late.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert type(late.value) is AgentSessionsError
        assert c.get_session("x", timeout=5).session_id == "x"
    with Client(address, token="t", timeout=None) as c:
        assert c.get_session("x").session_id == "x"
        with pytest.raises(AgentSessionsError) as per_call:
            c.get_session("x", timeout=0.1)
        assert per_call.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


def test_async_client_retries_and_deadlines(scripted: tuple[FakeServer, str]) -> None:
    server, address = scripted
    issued: list[str] = []

    async def provider() -> str:
        issued.append("async-token")
        return "async-token"

    async def main() -> None:
        async with AsyncClient(address, token=provider, retry=FAST) as c:
            server.failures.update(GetSession=3, ListSessions=2)
            assert (await c.get_session("x")).session_id == "x"
            assert [s.session_id async for s in c.list_sessions()] == ["a", "b", "c"]

            server.failures.update(CreateSession=1, Conversation=1, Converse=1)
            assert (await c.create_session("x")).session_id == "x"
            assert (await c.conversation("hi", session_id="x")).session_id == "x"

            seen = []
            with pytest.raises(UnavailableError) as stream:
                async for event in c.converse("hi", session_id="x"):
                    seen.append(type(event))
            assert seen == [Started, Delta] and stream.value.reason == "AGENT_FAILED"

            server.failures["GetSession"] = 10
            with pytest.raises(UnavailableError):
                await c.get_session("x")

            server.failures.clear()
            server.delay = 0.5
            with pytest.raises(AgentSessionsError) as late:
                await c.get_session("x", timeout=0.1)
            assert late.value.code == grpc.StatusCode.DEADLINE_EXCEEDED

    asyncio.run(main())
    assert server.calls == {
        "GetSession": 4 + 4 + 1,
        "ListSessions": 4,
        "CreateSession": 2,
        "Conversation": 2,
        "Converse": 2,
    }
    assert set(server.tokens) == {"Bearer async-token"}
    assert len(issued) == len(server.tokens) == sum(server.calls.values())


def test_unreachable_server_is_unavailable_and_retried(tmp_path: Path) -> None:
    """Nothing listening (directly), or Envoy with its upstream down: both are UNAVAILABLE."""
    dead = free_port()
    attempts: list[str] = []

    def provider() -> str:
        attempts.append("t")
        return "t"

    direct = Client(f"127.0.0.1:{dead}", token=provider, retry=FAST, timeout=5)
    with direct, pytest.raises(UnavailableError):
        direct.get_session("x")
    assert len(attempts) == 4

    process, envoy_port = start_envoy(tmp_path, dead)
    try:
        with Client(f"127.0.0.1:{envoy_port}", token=provider, retry=FAST, timeout=5) as c:
            deadline = time.monotonic() + 30
            while True:  # until Envoy itself answers, rather than refusing the connection
                attempts.clear()
                with pytest.raises(UnavailableError) as failed:
                    c.get_session("x")
                if "gRPC server is unavailable" in failed.value.message:
                    break
                assert time.monotonic() < deadline, "envoy did not come up"
                time.sleep(0.1)
        assert len(attempts) == 4
    finally:
        process.terminate()
        process.wait(10)


def test_backoff_is_bounded_jittered_and_within_the_deadline() -> None:
    policy = RetryPolicy(max_attempts=10, initial_backoff=0.1, max_backoff=0.5, multiplier=2)
    for retry, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (9, 0.5)]:
        delays = [policy.backoff(retry) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 100  # jittered, not a fixed wait

    unavailable = UnavailableError(grpc.StatusCode.UNAVAILABLE, "down")
    not_found = AgentSessionsError(grpc.StatusCode.NOT_FOUND, "gone")
    no_deadline = Deadline(None)

    def delay(error: AgentSessionsError, attempt: int, **kw: object) -> float | None:
        options = {"idempotent": True, "deadline": no_deadline, **kw}
        return retry_delay(policy, error, attempt=attempt, **options)  # type: ignore[arg-type]

    assert delay(unavailable, 1) is not None
    assert delay(unavailable, 10) is None  # max_attempts reached
    assert delay(unavailable, 1, idempotent=False) is None
    assert delay(not_found, 1) is None
    assert delay(unavailable, 1, deadline=Deadline(0)) is None  # no time left to wait
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
