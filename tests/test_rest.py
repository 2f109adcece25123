"""REST through a real Envoy: every path, its JSON, its errors, and SSE."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from agentsessions.v1 import session_service_pb2 as spb

from tests.support import client as grpc_client
from tests.support import token

API = "/api/agent-sessions"
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MOCK = "This is a mock response to: "
SESSION_KEYS = {
    "etag",
    "seq",
    "id",
    "session_id",
    "session_name",
    "description",
    "is_active",
    "user_id",
    "agent_name",
    "agent_instructions",
    "created_at",
    "updated_at",
    "model",
    "labels",
    "expire_time",
    "usage",
}
MESSAGE_KEYS = {
    "etag",
    "seq",
    "id",
    "session_id",
    "session_uuid",
    "role",
    "content",
    "tool_call_id",
    "tool_name",
    "extra_data",
    "created_at",
    "updated_at",
}


@pytest.fixture
def http(rest_port: int) -> Iterator[httpx.Client]:
    user = f"rest-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {token(user)}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{rest_port}", headers=headers, timeout=20) as c:
        yield c


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    """Checks an error response: the status, and a JSON google.rpc.Status body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body.get("details"), list), body  # {"code", "message", "details"} always
    assert "Traceback" not in body["message"] and "SELECT" not in body["message"]
    return dict(body)


def check_session(s: dict[str, Any]) -> None:
    assert set(s) <= SESSION_KEYS and {"id", "session_id", "is_active", "user_id"} <= set(s)
    assert UUID_RE.match(s["id"]) and UUID_RE.match(s["user_id"])
    assert isinstance(s["is_active"], bool)
    assert TIME_RE.match(s["created_at"]) and TIME_RE.match(s["updated_at"]), s


def check_message(m: dict[str, Any]) -> None:
    assert set(m) <= MESSAGE_KEYS and {
        "id",
        "session_id",
        "session_uuid",
        "role",
        "content",
    } <= set(m)
    assert UUID_RE.match(m["id"]) and UUID_RE.match(m["session_uuid"])
    assert m["role"] in ("user", "assistant", "system", "tool")
    assert TIME_RE.match(m["created_at"]) and TIME_RE.match(m["updated_at"]), m


def test_sessions_crud(http: httpx.Client) -> None:
    body = {
        "session_id": "rest-1",
        "session_name": "Name",
        "description": "Desc",
        "agent_name": "agent",
        "agent_instructions": "Do.",
        "is_active": True,
        "ignored": 1,
    }
    created = ok(http.post(API, json=body))
    check_session(created)
    assert {k: created[k] for k in body if k != "ignored"} == {
        k: v for k, v in body.items() if k != "ignored"
    }
    assert created["created_at"] == created["updated_at"]
    assert ok(http.get(f"{API}/rest-1")) == created

    patched = ok(http.patch(f"{API}/rest-1", json={"description": "New"}))
    assert patched["description"] == "New" and patched["session_name"] == "Name"
    assert (
        patched["created_at"] == created["created_at"]
        and patched["updated_at"] > created["updated_at"]
    )
    off = ok(http.put(f"{API}/rest-1/deactivate"))
    assert off["is_active"] is False and off["updated_at"] > patched["updated_at"]
    on = ok(http.put(f"{API}/rest-1/activate"))
    assert on["is_active"] is True and on["updated_at"] > off["updated_at"]
    patched = ok(http.patch(f"{API}/rest-1", json={"is_active": False}))
    assert patched["is_active"] is False

    listed = ok(http.get(API))
    assert listed["total_size"] == 1 and listed["next_page_token"] == ""
    assert listed["sessions"] == [patched]
    filtered = ok(http.get(API, params={"is_active": "true", "agent_name": "agent"}))
    assert filtered == {"sessions": [], "next_page_token": "", "total_size": 0}

    assert ok(http.delete(f"{API}/rest-1")) == {}
    error(http.get(f"{API}/rest-1"), 404, 5)


def test_session_model_over_rest(http: httpx.Client) -> None:
    """`model` on create, get, list and PATCH; empty is the server's default."""
    created = ok(http.post(API, json={"session_id": "rest-model", "model": "llama3.2:1b"}))
    assert created["model"] == "llama3.2:1b"
    assert ok(http.get(f"{API}/rest-model"))["model"] == "llama3.2:1b"
    assert ok(http.patch(f"{API}/rest-model", json={"model": "gpt-4o"}))["model"] == "gpt-4o"
    assert [s.get("model") for s in ok(http.get(API))["sessions"]] == ["gpt-4o"]
    assert ok(http.patch(f"{API}/rest-model", json={"model": ""})).get("model") in (None, "")
    reply = ok(
        http.post(
            f"{API}/conversation",
            json={
                "session_id": "rest-model-2",
                "model": "m",
                "messages": [{"role": "user", "content": "x"}],
            },
        )
    )
    assert reply["messages_count"] == 2
    assert ok(http.get(f"{API}/rest-model-2"))["model"] == "m"


def test_list_pages(http: httpx.Client) -> None:
    for i in range(5):
        ok(http.post(API, json={"session_id": f"p-{i}"}))
    seen, page_token = [], None
    while True:
        params: dict[str, Any] = {"page_size": 2}
        if page_token:
            params["page_token"] = page_token
        page = ok(http.get(API, params=params))
        assert page["total_size"] == 5
        seen += [s["session_id"] for s in page["sessions"]]
        page_token = page["next_page_token"]
        if not page_token:
            break
    assert seen == [f"p-{i}" for i in reversed(range(5))]


def test_messages_crud(http: httpx.Client) -> None:
    session = ok(http.post(API, json={"session_id": "rest-m"}))
    base = f"{API}/rest-m/messages"
    first = ok(http.post(base, json={"role": "user", "content": "hello"}))
    check_message(first)
    assert (first["session_id"], first["session_uuid"], first["role"], first["content"]) == (
        "rest-m",
        session["id"],
        "user",
        "hello",
    )
    tool = ok(
        http.post(
            base,
            json={
                "role": "tool",
                "content": "42",
                "tool_call_id": "c1",
                "tool_name": "calc",
                "extra_data": '{"edited": true}',
            },
        )
    )
    assert (tool["tool_call_id"], tool["tool_name"], tool["extra_data"]) == (
        "c1",
        "calc",
        '{"edited": true}',
    )
    assert ok(http.get(f"{base}/{tool['id']}")) == tool

    listed = ok(http.get(base))
    assert [m["id"] for m in listed["messages"]] == [first["id"], tool["id"]]
    assert listed["total_size"] == 2 and listed["next_page_token"] == ""
    latest = ok(http.get(base, params={"order": "desc", "page_size": 1}))
    assert [m["id"] for m in latest["messages"]] == [tool["id"]] and latest["next_page_token"]
    rest = ok(http.get(base, params={"order": "desc", "page_token": latest["next_page_token"]}))
    assert [m["id"] for m in rest["messages"]] == [first["id"]]

    patched = ok(
        http.patch(f"{base}/{tool['id']}", json={"content": "43", "extra_data": '{"v": 2}'})
    )
    assert (patched["content"], patched["extra_data"], patched["tool_name"]) == (
        "43",
        '{"v": 2}',
        "calc",
    )
    assert patched["role"] == "tool" and patched["updated_at"] > tool["updated_at"]

    assert ok(http.delete(f"{base}/{first['id']}")) == {}
    error(http.get(f"{base}/{first['id']}"), 404, 5)
    assert ok(http.delete(f"{API}/rest-m/clear-messages")) == {"deleted_count": 1}
    assert ok(http.delete(f"{API}/rest-m/clear-messages")) == {"deleted_count": 0}
    assert ok(http.get(base)) == {"messages": [], "next_page_token": "", "total_size": 0}
    assert ok(http.get(f"{API}/rest-m"))["session_id"] == "rest-m"


def test_conversation(http: httpx.Client) -> None:
    first = ok(
        http.post(f"{API}/conversation", json={"messages": [{"role": "user", "content": "Hi"}]})
    )
    assert set(first) == {
        "session_id",
        "session_uuid",
        "response",
        "messages_count",
        "session_active",
        "stop_reason",
        "pending_tool_calls",
        "usage",
        "turn_id",
    }
    assert first["response"] == MOCK + "Hi" and first["messages_count"] == 2
    # The mock ends its turn, calls no tools and uses no tokens (JSON numbers).
    assert first["stop_reason"] == "end_turn" and first["pending_tool_calls"] == []
    assert first["usage"] == {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    assert first["session_active"] is True and UUID_RE.match(first["session_uuid"])
    again = ok(
        http.post(
            f"{API}/conversation",
            json={
                "session_id": first["session_id"],
                "messages": [{"role": "user", "content": "More"}],
            },
        )
    )
    assert again["messages_count"] == 4 and again["session_uuid"] == first["session_uuid"]
    named = ok(
        http.post(
            f"{API}/conversation",
            json={
                "session_id": "rest-conv",
                "session_name": "N",
                "agent_name": "A",
                "agent_instructions": "I",
                "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}],
            },
        )
    )
    assert named["session_id"] == "rest-conv" and named["messages_count"] == 3
    s = ok(http.get(f"{API}/rest-conv"))
    assert (s["session_name"], s["agent_name"], s["agent_instructions"]) == ("N", "A", "I")
    roles = [m["role"] for m in ok(http.get(f"{API}/rest-conv/messages"))["messages"]]
    assert roles == ["system", "user", "assistant"]


def sse_events(response: httpx.Response) -> list[dict[str, Any]]:
    """Parses a text/event-stream body: one `data: <json>` line per event."""
    events = []
    for block in response.text.split("\n\n"):
        if block.strip():
            assert block.startswith("data: "), block
            events.append(json.loads(block[len("data: ") :]))
    return events


def test_stream(http: httpx.Client) -> None:
    body = {"session_id": "rest-sse", "messages": [{"role": "user", "content": "stream please"}]}
    with http.stream("POST", f"{API}/conversation:stream", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        response.read()
    events = sse_events(response)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    kinds = [next(k for k in e if k != "seq") for e in events]
    assert kinds[0] == "started" and kinds[-2:] == ["message", "completed"]
    assert set(kinds[1:-2]) == {"delta"} and len(kinds) > 4
    assert events[0]["started"]["session_id"] == "rest-sse"
    text = "".join(e["delta"]["text"] for e in events[1:-2])
    completed, message = events[-1]["completed"], events[-2]["message"]
    assert text == completed["response"] == MOCK + "stream please"
    assert completed["messages_count"] == 2 and completed["session_active"] is True
    assert completed["session_uuid"] == events[0]["started"]["session_uuid"]
    check_message(message)
    assert ok(http.get(f"{API}/rest-sse/messages/{message['id']}")) == message


def test_stream_error_before_start_is_a_plain_http_error(http: httpx.Client) -> None:
    ok(http.post(API, json={"session_id": "rest-off", "is_active": False}))
    body = {"session_id": "rest-off", "messages": [{"role": "user", "content": "x"}]}
    err = error(http.post(f"{API}/conversation:stream", json=body), 400, 9)
    assert err["details"][0]["reason"] == "SESSION_INACTIVE"
    error(http.post(f"{API}/conversation", json=body), 400, 9)
    assert ok(http.get(f"{API}/rest-off/messages"))["total_size"] == 0


BAD_REQUESTS: list[tuple[str, str, Any, int, int, str | None]] = [
    # (method, path, JSON body or raw bytes, HTTP status, gRPC code, field named in the message)
    ("POST", API, b'{"session_id": ', 400, 3, None),
    ("POST", API, b"not json", 400, 3, None),
    ("POST", API, {"session_id": 123}, 400, 3, "session_id"),
    ("POST", API, {"is_active": "maybe"}, 400, 3, "is_active"),
    ("POST", API, {"session_id": "has space"}, 400, 3, "session_id"),
    ("POST", API, {"session_id": "target"}, 409, 6, None),
    ("POST", API, {"session_name": "nul\u0000"}, 400, 3, "session_name"),
    ("POST", API, {"description": "d" * 5000}, 400, 3, "description"),
    ("PATCH", f"{API}/target", {"agent_name": "\u0000"}, 400, 3, "agent_name"),
    ("PATCH", f"{API}/target", {"session_id": "other"}, 400, 3, None),
    ("POST", f"{API}/target/messages", {"role": "robot", "content": "x"}, 400, 3, "role"),
    ("POST", f"{API}/target/messages", {"content": "no role"}, 400, 3, "role"),
    ("POST", f"{API}/target/messages", {"role": "user", "content": "a\u0000b"}, 400, 3, "content"),
    (
        "POST",
        f"{API}/target/messages",
        {"role": "user", "extra_data": "not json"},
        400,
        3,
        "extra_data",
    ),
    (
        "POST",
        f"{API}/target/messages",
        {"role": "user", "extra_data": {"a": 1}},
        400,
        3,
        "extra_data",
    ),
    (
        "POST",
        f"{API}/target/messages",
        {"role": "user", "content": "x" * 1_000_001},
        400,
        3,
        "content",
    ),
    ("POST", f"{API}/target/messages", {"role": "user", "content": "x" * 5_000_000}, 413, 8, None),
    ("GET", f"{API}/target/messages?page_token=forged", None, 400, 3, "page_token"),
    ("GET", f"{API}/target/messages?page_size=-1", None, 400, 3, "page_size"),
    ("GET", f"{API}/target/messages?page_size=abc", None, 400, 3, "page_size"),
    ("GET", f"{API}/target/messages?order=sideways", None, 400, 3, "order"),
    ("GET", f"{API}?page_size=-3", None, 400, 3, "page_size"),
    ("GET", f"{API}?bogus=1", None, 400, 3, "bogus"),
    ("GET", f"{API}/target?session_id=other", None, 400, 3, "session_id"),
    ("POST", f"{API}?is_active=false", {"session_id": "q"}, 400, 3, "query"),
    ("PATCH", f"{API}/target?description=x", {}, 400, 3, "query"),
    ("POST", f"{API}/target/messages?role=user", {"content": "x"}, 400, 3, "query"),
    ("PUT", f"{API}/target/deactivate?x=1", None, 400, 3, "x"),
    ("POST", f"{API}/target/messages", {"role": "user", "extra_data": ""}, 400, 3, "extra_data"),
    ("GET", f"{API}/target/messages/not-a-uuid", None, 400, 3, "message_id"),
    ("GET", f"{API}/missing", None, 404, 5, None),
    ("GET", f"{API}/target/nope", None, 404, 5, None),
    ("GET", "/nope", None, 404, 5, None),
    ("POST", f"{API}/conversation", {"session_id": "target", "messages": []}, 400, 3, "messages"),
    (
        "POST",
        f"{API}/conversation?session_id=target",
        {"messages": [{"role": "user"}]},
        400,
        3,
        "session_id",
    ),
    (
        "POST",
        f"{API}/conversation",
        {"messages": [{"role": "user", "content": "\u0000"}]},
        400,
        3,
        "messages[0].content",
    ),
    ("POST", f"{API}/conversation:stream", {"messages": [{"role": "nobody"}]}, 400, 3, "role"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "code", "field"), BAD_REQUESTS)
def test_bad_input_is_a_4xx_json_error_and_changes_nothing(
    http: httpx.Client, method: str, path: str, body: Any, status: int, code: int, field: str | None
) -> None:
    ok(http.post(API, json={"session_id": "target", "session_name": "kept"}))
    ok(http.post(f"{API}/target/messages", json={"role": "user", "content": "kept"}))
    before = (ok(http.get(API)), ok(http.get(f"{API}/target/messages")))
    kwargs = (
        {"content": body} if isinstance(body, bytes) else {"json": body} if body is not None else {}
    )
    err = error(http.request(method, path, **kwargs), status, code)  # type: ignore[arg-type]
    if field:
        assert field in err["message"], err
    assert (ok(http.get(API)), ok(http.get(f"{API}/target/messages"))) == before


def test_auth_failures_and_isolation(rest_port: int, http: httpx.Client) -> None:
    base = f"http://127.0.0.1:{rest_port}"
    for headers in (
        {},
        {"Authorization": "Bearer junk"},
        {"Authorization": f"Bearer {token('x', ttl=-60)}"},
    ):
        err = error(httpx.get(base + API, headers=headers), 401, 16)
        assert err["details"][0]["reason"].startswith("TOKEN_")
    ok(http.post(API, json={"session_id": "mine"}))
    other = {"Authorization": f"Bearer {token('someone-else')}"}
    error(httpx.get(f"{base}{API}/mine", headers=other), 404, 5)
    error(httpx.delete(f"{base}{API}/mine", headers=other), 404, 5)
    assert ok(httpx.get(base + API, headers=other))["total_size"] == 0
    assert ok(http.get(f"{API}/mine"))["session_id"] == "mine"


def test_grpc_through_envoy(rest_port: int) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{rest_port}") as channel:
        c = grpc_client(channel)
        created = c.s("CreateSession", spb.CreateSessionRequest(session_id="via-envoy"))
        assert c.s("GetSession", spb.GetSessionRequest(session_id="via-envoy")) == created
        events = list(
            c.s(
                "Converse",
                spb.ConverseRequest(
                    session_id="via-envoy", messages=[spb.ConversationMessage(role=1, content="hi")]
                ),
            )
        )
        assert events[-1].completed.response == MOCK + "hi"


def test_upstream_down_is_json_503(tmp_path: Any) -> None:
    """Envoy up, gRPC server down: a JSON 503 (UNAVAILABLE) that says to retry, not text/plain."""
    import time

    from tests.conftest import start_envoy
    from tests.support import free_port

    process, http_port = start_envoy(tmp_path, free_port())
    try:
        response, last_error = None, None
        for _ in range(100):
            try:
                response = httpx.get(f"http://127.0.0.1:{http_port}{API}", timeout=5)
                break
            except httpx.TransportError as exc:
                last_error = exc
                time.sleep(0.1)
        assert response is not None, f"envoy did not start: {last_error}"
        err = error(response, 503, 14)
        assert "retry" in err["message"]
    finally:
        process.terminate()
        process.wait(10)


def test_python_client_example(rest_port: int) -> None:
    """The README's httpx.AsyncClient example, as written: create a session, then converse."""
    import asyncio

    async def main() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token('example-user')}"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{rest_port}", headers=headers
        ) as c:
            session = (await c.post("/api/agent-sessions", json={"session_name": "Demo"})).json()
            reply = await c.post(
                "/api/agent-sessions/conversation",
                json={
                    "session_id": session["session_id"],
                    "messages": [{"role": "user", "content": "Hello!"}],
                },
            )
            reply.raise_for_status()
            return dict(reply.json())

    result = asyncio.run(asyncio.wait_for(main(), 30))
    assert result["response"] == MOCK + "Hello!" and result["messages_count"] == 2


def test_stream_failing_midway_ends_with_an_error_event(settings: Any, tmp_path: Any) -> None:
    """After the 200 is out, a failure arrives as a last `error` event and nothing is stored."""
    from agent_sessions.ops.health import wait_rest_ready

    from tests.conftest import start_envoy
    from tests.support import ThreadServer
    from tests.test_conversation import FailingAgent

    with ThreadServer(settings, FailingAgent()) as server:
        process, http_port = start_envoy(tmp_path, server.port)
        try:
            wait_rest_ready(http_port, process=process)
            headers = {"Authorization": f"Bearer {token('sse-failure')}"}
            with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", headers=headers) as c:
                body = {"session_id": "sse-fail", "messages": [{"role": "user", "content": "x"}]}
                response = c.post(f"{API}/conversation:stream", json=body)
                assert response.status_code == 200
                events = sse_events(response)
                assert [next(k for k in e if k != "seq") for e in events] == [
                    "started",
                    "delta",
                    "error",
                ]
                assert events[-1]["seq"] == 3
                assert events[-1]["error"]["code"] == 14
                assert "nothing of this turn was stored" in events[-1]["error"]["message"]
                assert events[-1]["error"]["details"][0]["reason"] == "AGENT_FAILED"
                error(c.get(f"{API}/sse-fail"), 404, 5)
        finally:
            process.terminate()
            process.wait(10)


def test_pages_of_huge_messages_shrink_instead_of_failing(http: httpx.Client) -> None:
    """A page holds fewer rows than page_size when its text is huge; every row still comes."""
    ok(http.post(API, json={"session_id": "huge"}))
    big = "\U0001f600" * 1_000_000  # 4 MB of UTF-8, within the content limit and the body limit
    for content in (big, "small", big):
        ok(http.post(f"{API}/huge/messages", json={"role": "user", "content": content}))
    sizes, token = [], None
    while True:
        params = {"page_size": 50, **({"page_token": token} if token else {})}
        page = ok(http.get(f"{API}/huge/messages", params=params))
        assert page["total_size"] == 3 and 1 <= len(page["messages"]) < 3
        sizes += [len(m["content"]) for m in page["messages"]]
        token = page["next_page_token"]
        if not token:
            break
    assert sizes == [1_000_000, 5, 1_000_000]


def test_large_headers_answer_the_same_every_time(http: httpx.Client) -> None:
    """grpc's default soft limit refused 8-16 KiB of headers at random; now there is one limit."""
    ok(http.post(API, json={"session_id": "headers"}))
    for _ in range(10):
        ok(http.get(f"{API}/headers", headers={"x-padding": "p" * 12_000}))
    error(http.get(f"{API}/headers", headers={"x-padding": "p" * 70_000}), 431, 8)
