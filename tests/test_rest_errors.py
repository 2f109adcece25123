"""Bad REST input through a real Envoy (CONTRACT §3, §4): wrong JSON types are refused with an
ErrorInfo naming the field, not coerced."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import token
from tests.test_rest import API, error, ok

DOMAIN = "agentsessions.v1"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


@pytest.fixture
def http(rest_port: int) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {token(f'rest-errors-{uuid.uuid4().hex[:8]}')}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{rest_port}", headers=headers, timeout=20) as c:
        yield c


def error_info(body: dict[str, Any]) -> dict[str, Any]:
    """The body's ErrorInfo, checked to be the first detail and in the service's domain."""
    info = body["details"][0]
    assert info["@type"] == ERROR_INFO and info["domain"] == DOMAIN, body
    assert isinstance(info["reason"], str) and info["reason"], body
    assert all(isinstance(v, str) for v in info["metadata"].values()), body
    return dict(info)


def send(http: httpx.Client, method: str, path: str, body: Any) -> httpx.Response:
    if isinstance(body, bytes):
        return http.request(method, path, content=body)
    return http.request(method, path, **({} if body is None else {"json": body}))


def snapshot(http: httpx.Client) -> tuple[Any, Any]:
    return ok(http.get(API)), ok(http.get(f"{API}/target/messages"))


@pytest.fixture
def target(http: httpx.Client) -> tuple[Any, Any]:
    """A session `target` with one message; returns what the user's data looks like."""
    ok(http.post(API, json={"session_id": "target", "session_name": "kept"}))
    ok(http.post(f"{API}/target/messages", json={"role": "user", "content": "kept"}))
    return snapshot(http)


# Wrong JSON types (CONTRACT §4): (method, path, body, the field the error names). Before the
# validator, the transcoder coerced the first ones and the calls succeeded: a list of one from an
# object, booleans from "yes"/"no"/"0"/"true" (body) and "yes"/"1" (query), enums from numbers.
WRONG_TYPES: list[tuple[str, str, Any, str]] = [
    ("POST", f"{API}/conversation", {"messages": {"role": "user", "content": "x"}}, "messages"),
    (
        "POST",
        f"{API}/conversation:stream",
        {"messages": {"role": "user", "content": "x"}},
        "messages",
    ),
    (
        "POST",
        f"{API}/conversation",
        {"messages": [{"role": 1, "content": "x"}]},
        "messages[0].role",
    ),
    ("POST", API, {"session_id": "new", "is_active": "yes"}, "is_active"),
    ("POST", API, {"session_id": "new", "is_active": "true"}, "is_active"),
    ("PATCH", f"{API}/target", {"is_active": "no"}, "is_active"),
    ("PATCH", f"{API}/target", {"is_active": "0"}, "is_active"),
    ("POST", f"{API}/target/messages", {"role": 2, "content": "x"}, "role"),
    ("POST", f"{API}/target/messages", {"role": "2", "content": "x"}, "role"),
    (
        "POST",
        f"{API}/conversation",
        {"messages": [{"role": "user"}], "tools": {"name": "calc", "parameters": {}}},
        "tools",
    ),
    ("GET", f"{API}?is_active=yes", None, "is_active"),
    ("GET", f"{API}?is_active=1", None, "is_active"),
    # Refused before as well (without a reason), and still.
    (
        "POST",
        f"{API}/conversation",
        {"messages": [{"role": "user"}], "tools": [{"parameters": []}]},
        "tools[0].parameters",
    ),
    ("POST", f"{API}/conversation", {"messages": [None]}, "messages[0]"),
    ("POST", f"{API}/conversation", {"messages": ["hi"]}, "messages[0]"),
    ("POST", f"{API}/target/messages", {"role": "user", "content": ["x"]}, "content"),
    ("POST", f"{API}/target/messages", {"role": "user", "content": {"x": 1}}, "content"),
    ("POST", f"{API}/target/messages", {"role": "user", "tool_name": True}, "tool_name"),
    ("POST", API, {"session_id": "new", "is_active": 1}, "is_active"),
    ("GET", f"{API}/target/messages?page_size=1.5", None, "page_size"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), WRONG_TYPES)
def test_wrong_json_types_are_refused_and_change_nothing(
    http: httpx.Client, target: tuple[Any, Any], method: str, path: str, body: Any, field: str
) -> None:
    err = error(send(http, method, path, body), 400, 3)
    assert err["message"].startswith(f"{field}: "), err
    assert error_info(err) == {
        "@type": ERROR_INFO,
        "reason": "INVALID_ARGUMENT",
        "domain": DOMAIN,
        "metadata": {"field": field},
    }
    assert err["details"][1]["@type"] == BAD_REQUEST
    assert err["details"][1]["field_violations"][0]["field"] == field
    assert snapshot(http) == target


def test_right_json_types_still_pass(http: httpx.Client) -> None:
    """The validator refuses types, not JSON: escapes, null, camelCase names, unknown fields,
    whitespace and numbers in unknown fields are all as before."""
    body = (
        b'{\n  "sessionId": "typed",\n  "session_name": "caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\\\ \\/",'
        b'\n\t"description": null, "is_active": false,\r\n'
        b'  "unknown": {"deep": [1, -2.5e3, true, null, {"x": []}], "s": "\\n"}\n}'
    )
    created = ok(http.post(API, content=body))
    assert created["session_name"] == 'café 😀 "q" \\ /' and created["is_active"] is False
    assert "description" not in created
    message = ok(http.post(f"{API}/typed/messages", json={"role": "tool", "content": "é" * 10_000}))
    assert message["role"] == "tool" and message["content"] == "é" * 10_000
    listed = ok(http.get(API, params={"is_active": "false", "pageSize": "5"}))
    assert [s["session_id"] for s in listed["sessions"]] == ["typed"]
    reply = ok(
        http.post(
            f"{API}/conversation",
            json={
                "session_id": "typed-conv",
                "messages": [{"role": "user", "content": "Hi"}],
                "tools": [
                    {
                        "name": "calc",
                        "parameters": {"type": "object", "properties": {"x": {"type": "number"}}},
                    }
                ],
            },
        )
    )
    assert reply["messages_count"] == 2
