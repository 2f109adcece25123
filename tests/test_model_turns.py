"""Conversations run by the OpenAI Agents SDK agent against a fake OpenAI-compatible model API
(a real HTTP server), through a real gRPC server, PostgreSQL and Envoy."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from agent_sessions.settings import Settings
from agentsessions.v1 import message_service_pb2 as mpb
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.fakes.model_server import FakeModelServer, Step
from tests.support import (
    Client,
    ThreadServer,
    channel_to,
    client,
    failed_stream,
    failure,
    failure_of,
    openai_settings,
    token,
)

pytest_plugins = ["tests.fakes.fixtures"]

KEY = "sk-turns-DISTINCTIVE-4b1d9e0c7a3f"
MODEL = "fake-default-model"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server
        assert not server.errors, f"the fake model server failed: {server.errors!r}"


@pytest.fixture(scope="module")
def server(settings: Settings, fake: FakeModelServer) -> Iterator[ThreadServer]:
    with ThreadServer(openai_settings(settings, fake.base_url, KEY, MODEL)) as running:
        yield running


@pytest.fixture
def c(server: ThreadServer, fake: FakeModelServer) -> Iterator[Client]:
    fake.script()  # no leftovers from another test
    with channel_to(server.port) as ch:
        yield client(ch)


def _user(text: str) -> spb.ConversationMessage:
    return spb.ConversationMessage(role=rpb.user, content=text)


def _stored(c: Client, session_id: str) -> list[tuple[str, str]]:
    listed = c.m("ListMessages", mpb.ListMessagesRequest(session_id=session_id)).messages
    return [(rpb.Role.Name(m.role), m.content) for m in listed]


def _retry_delay(exc: grpc.RpcError) -> float | None:
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToMilliseconds()) / 1000
    return None


def test_a_turn_runs_on_the_model_and_is_stored_with_its_usage(
    c: Client, fake: FakeModelServer
) -> None:
    c.s(
        "CreateSession",
        spb.CreateSessionRequest(
            session_id="real", agent_name="helper", agent_instructions="Answer briefly."
        ),
    )
    c.m(
        "CreateMessage",
        mpb.CreateMessageRequest(session_id="real", role=rpb.user, content="Earlier question"),
    )
    fake.script(Step.text(["The ", "answer ", "is 42."], usage=(11, 4)))
    before = len(fake.requests)
    reply = c.s(
        "Conversation", spb.ConversationRequest(session_id="real", messages=[_user("Why?")])
    )
    assert reply.response == "The answer is 42." and reply.stop_reason == "end_turn"
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.total_tokens) == (
        11,
        4,
        15,
    )
    assert reply.messages_count == 3
    assert _stored(c, "real") == [
        ("user", "Earlier question"),
        ("user", "Why?"),
        ("assistant", "The answer is 42."),
    ]
    last = c.m("ListMessages", mpb.ListMessagesRequest(session_id="real")).messages[-1]
    assert json.loads(last.extra_data)["usage"]["total_tokens"] == 15

    (request,) = fake.requests[before:]
    assert request.model == MODEL and request.authorization == f"Bearer {KEY}"
    assert request.include_usage
    assert request.messages[0] == {"role": "system", "content": "Answer briefly."}
    assert [(m["role"], m["content"]) for m in request.messages[1:]] == [
        ("user", "Earlier question"),
        ("user", "Why?"),
    ]


def test_the_sessions_model_is_the_one_asked_for(c: Client, fake: FakeModelServer) -> None:
    fake.script(Step.text(["ok"]))
    c.s(
        "Conversation",
        spb.ConversationRequest(session_id="own-model", model="small-1b", messages=[_user("x")]),
    )
    assert fake.requests[-1].model == "small-1b"


def test_deltas_leave_while_the_model_is_still_answering(c: Client, fake: FakeModelServer) -> None:
    gate = threading.Event()
    fake.script(Step.text(["Hel", "lo", " there"], gate=gate, gate_after=1))
    stream = c.sessions.Converse(
        spb.ConverseRequest(session_id="live", messages=[_user("Hi")]),
        metadata=c.metadata,
        timeout=20,
    )
    try:
        assert next(stream).WhichOneof("event") == "started"
        first = next(stream)
        # The model has sent one piece and is held: the delta reached the client regardless.
        assert first.delta.text == "Hel" and not fake.requests[-1].finished.is_set()
    finally:
        gate.set()
    rest = list(stream)
    assert "".join(e.delta.text for e in [first, *rest] if e.HasField("delta")) == "Hello there"
    assert rest[-1].completed.response == "Hello there"
    assert [e.message.content for e in rest if e.HasField("message")] == ["Hello there"]


FAILURES = [
    (
        Step.rate_limited(retry_after_ms=1500),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "MODEL_RATE_LIMITED",
    ),
    (Step.server_error(500), grpc.StatusCode.UNAVAILABLE, "MODEL_UNAVAILABLE"),
    (Step.server_error(503), grpc.StatusCode.UNAVAILABLE, "MODEL_UNAVAILABLE"),
    (Step.unknown_model(), grpc.StatusCode.FAILED_PRECONDITION, "MODEL_NOT_FOUND"),
    (Step.context_too_long(), grpc.StatusCode.FAILED_PRECONDITION, "CONTEXT_TOO_LONG"),
    (Step.context_too_long("llamacpp"), grpc.StatusCode.FAILED_PRECONDITION, "CONTEXT_TOO_LONG"),
    (Step.unauthorized(), grpc.StatusCode.UNAVAILABLE, "MODEL_AUTH_FAILED"),
    (Step.error_in_stream(["partial "]), grpc.StatusCode.UNAVAILABLE, "MODEL_UNAVAILABLE"),
    (Step.cut(["no finish"]), grpc.StatusCode.UNAVAILABLE, "MODEL_UNAVAILABLE"),
]


@pytest.mark.parametrize(("step", "code", "reason"), FAILURES)
def test_model_failures_map_to_the_contracts_errors_and_store_nothing(
    c: Client, fake: FakeModelServer, step: Step, code: grpc.StatusCode, reason: str
) -> None:
    session_id = f"fail-{uuid.uuid4().hex[:8]}"
    fake.script(step)
    with pytest.raises(grpc.RpcError) as raised:
        c.s("Conversation", spb.ConversationRequest(session_id=session_id, messages=[_user("x")]))
    f = failure_of(raised.value)
    assert (f.code, f.reason) == (code, reason), f.message
    assert KEY not in f.message
    if reason == "MODEL_RATE_LIMITED":
        assert _retry_delay(raised.value) == 1.5
    # Not even the session its first turn would have created.
    missing = failure(lambda: c.s("GetSession", spb.GetSessionRequest(session_id=session_id)))
    assert missing.code == grpc.StatusCode.NOT_FOUND


def test_a_failure_after_the_stream_began_is_an_error_event(
    c: Client, fake: FakeModelServer
) -> None:
    fake.script(Step.error_in_stream(["partial "]))
    events, f = failed_stream(c, spb.ConverseRequest(session_id="midway", messages=[_user("x")]))
    assert [e.WhichOneof("event") for e in events] == ["started", "delta", "error"]
    assert events[-1].error.code == grpc.StatusCode.UNAVAILABLE.value[0]
    assert f.reason == "MODEL_UNAVAILABLE"
    assert failure(lambda: c.s("GetSession", spb.GetSessionRequest(session_id="midway"))).code == (
        grpc.StatusCode.NOT_FOUND
    )


def test_a_cancelled_stream_stops_the_model_request_and_stores_nothing(
    c: Client, fake: FakeModelServer
) -> None:
    fake.script(Step.slow(pieces=400, delay=0.05))
    before = len(fake.requests)
    stream = c.sessions.Converse(
        spb.ConverseRequest(session_id="cancelled", messages=[_user("x")]),
        metadata=c.metadata,
        timeout=30,
    )
    assert next(stream).WhichOneof("event") == "started"
    assert next(stream).HasField("delta")
    stream.cancel()
    request = fake.requests[-1]
    assert request.disconnected.wait(5), "the model request kept going after the cancel"
    assert not request.finished.is_set()
    time.sleep(0.3)
    assert len(fake.requests) == before + 1  # and nothing started again
    assert failure(
        lambda: c.s("GetSession", spb.GetSessionRequest(session_id="cancelled"))
    ).code == (grpc.StatusCode.NOT_FOUND)


def test_rest_and_sse_through_envoy(
    server: ThreadServer, fake: FakeModelServer, tmp_path: Path
) -> None:
    from tests.conftest import start_envoy, wait_rest_ready

    process, http_port = start_envoy(tmp_path, server.port)
    try:
        wait_rest_ready(http_port, process=process)
        headers = {"Authorization": f"Bearer {token('rest-model-user')}"}
        with httpx.Client(
            base_url=f"http://127.0.0.1:{http_port}", headers=headers, timeout=20
        ) as http:
            fake.script(Step.text(["Hi ", "there"], usage=(7, 2)))
            unary = http.post(
                "/api/agent-sessions/conversation",
                json={"session_id": "rest-real", "messages": [{"role": "user", "content": "Hi"}]},
            ).json()
            assert unary["response"] == "Hi there"
            assert unary["usage"] == {"input_tokens": 7, "output_tokens": 2, "total_tokens": 9}

            fake.script(Step.text(["Stream", "ed"]))
            streamed = http.post(
                "/api/agent-sessions/conversation:stream",
                json={"session_id": "rest-real", "messages": [{"role": "user", "content": "Go"}]},
            )
            events = [
                json.loads(line[len("data: ") :])
                for line in streamed.text.splitlines()
                if line.startswith("data: ")
            ]
            assert "".join(e["delta"]["text"] for e in events if "delta" in e) == "Streamed"
            assert events[-1]["completed"]["messages_count"] == 4

            fake.script(Step.rate_limited(retry_after_ms=2000))
            limited = http.post(
                "/api/agent-sessions/conversation",
                json={"session_id": "rest-real", "messages": [{"role": "user", "content": "x"}]},
            )
            assert limited.status_code == 429
            body = limited.json()
            assert body["code"] == 8 and KEY not in limited.text
            kinds = {d["@type"].rsplit("/", 1)[-1]: d for d in body["details"]}
            assert kinds["google.rpc.ErrorInfo"]["reason"] == "MODEL_RATE_LIMITED"
            assert kinds["google.rpc.RetryInfo"]["retry_delay"] in ("2s", "2.000s")
    finally:
        process.terminate()
        process.wait(10)
