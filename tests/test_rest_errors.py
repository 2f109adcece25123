"""Envoy's own refusals through a real Envoy (CONTRACT §3, §4): every error a REST or gRPC client
can get carries an ErrorInfo with a reason, and wrong JSON types are refused, not coerced."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from agentsessions.v1 import session_service_pb2 as spb
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.support import client as grpc_client
from tests.support import free_port, token
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


# (method, path, JSON body or raw bytes, HTTP status, gRPC code, reason, ErrorInfo metadata)
ENVOY_REFUSALS: list[tuple[str, str, Any, int, int, str, dict[str, str]]] = [
    ("POST", API, b'{"session_id": ', 400, 3, "MALFORMED_JSON", {"line": "1", "column": "16"}),
    ("POST", API, b"not json", 400, 3, "MALFORMED_JSON", {"line": "1", "column": "1"}),
    ("POST", API, b'{"session_id": "a",}', 400, 3, "MALFORMED_JSON", {}),
    ("POST", API, b'{"session_name": "raw\nnewline"}', 400, 3, "MALFORMED_JSON", {}),
    ("POST", API, b'{"session_name": "\\ud800"}', 400, 3, "MALFORMED_JSON", {}),
    ("POST", API, b'{"session_id": "a"} trailing', 400, 3, "MALFORMED_JSON", {}),
    ("POST", API, b"   ", 400, 3, "MALFORMED_JSON", {}),
    ("POST", API, [], 400, 3, "INVALID_ARGUMENT", {}),
    (
        "POST",
        f"{API}/target/messages",
        {"role": "bogus", "content": "x"},
        400,
        3,
        "INVALID_ARGUMENT",
        {"field": "role"},
    ),
    (
        "POST",
        f"{API}/conversation",
        {"messages": [{"role": "nobody"}]},
        400,
        3,
        "INVALID_ARGUMENT",
        {"field": "messages[0].role"},
    ),
    ("GET", f"{API}?bogus=1", None, 400, 3, "UNKNOWN_QUERY_PARAMETER", {"parameter": "bogus"}),
    (
        "GET",
        f"{API}/target?session_id=other",
        None,
        400,
        3,
        "UNKNOWN_QUERY_PARAMETER",
        {"parameter": "session_id"},
    ),
    (
        "POST",
        f"{API}?is_active=false",
        {},
        400,
        3,
        "UNKNOWN_QUERY_PARAMETER",
        {"parameter": "is_active"},
    ),
    (
        "PUT",
        f"{API}/target/deactivate?x=1",
        None,
        400,
        3,
        "UNKNOWN_QUERY_PARAMETER",
        {"parameter": "x"},
    ),
    ("GET", f"{API}?page_size=abc", None, 400, 3, "INVALID_ARGUMENT", {"field": "page_size"}),
    # What only the transcoder sees: a body value that contradicts the path.
    ("GET", f"{API}/target", {"session_id": "other"}, 400, 3, "INVALID_ARGUMENT", {}),
    ("GET", "/nope", None, 404, 5, "UNKNOWN_PATH", {"method": "GET", "path": "/nope"}),
    ("GET", f"{API}/target/nope?x=1", None, 404, 5, "UNKNOWN_PATH", {"path": f"{API}/target/nope"}),
    ("DELETE", API, None, 404, 5, "UNKNOWN_PATH", {"method": "DELETE"}),
    (
        "POST",
        f"{API}/target/messages",
        {"role": "user", "content": "x" * 5_000_000},
        413,
        8,
        "BODY_TOO_LARGE",
        {"limit_bytes": "4194304"},
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "reason", "metadata"), ENVOY_REFUSALS
)
def test_envoy_refusals_carry_an_error_info(
    http: httpx.Client,
    target: tuple[Any, Any],
    method: str,
    path: str,
    body: Any,
    status: int,
    code: int,
    reason: str,
    metadata: dict[str, str],
) -> None:
    info = error_info(error(send(http, method, path, body), status, code))
    assert info["reason"] == reason, info
    assert metadata.items() <= info["metadata"].items(), info
    assert snapshot(http) == target


def test_server_errors_keep_their_own_error_info(http: httpx.Client) -> None:
    """The server's statuses pass through unchanged: its reasons, metadata and BadRequest."""
    err = error(http.get(f"{API}/missing"), 404, 5)
    assert err["details"] == [
        {
            "@type": ERROR_INFO,
            "reason": "SESSION_NOT_FOUND",
            "domain": DOMAIN,
            "metadata": {"session_id": "missing"},
        }
    ]
    err = error(http.post(API, json={"session_id": "bad id"}), 400, 3)
    assert [d["@type"] for d in err["details"]] == [ERROR_INFO, BAD_REQUEST]
    assert err["details"][0]["metadata"] == {"field": "session_id"}


def raw_http(port: int, request: bytes) -> tuple[int, dict[str, Any]]:
    """Sends bytes no HTTP client would, and returns the status and JSON body."""
    import json

    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), head
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize(
    ("request_bytes", "status", "code", "reason"),
    [
        (b"GET /api/agent-sessions HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400, 3, "MALFORMED_REQUEST"),
        (b"POST /api/agent-sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, 2, "UNKNOWN"),
        (b"GET /api/agent-sessions HTTP/1.0\r\n\r\n", 426, 2, "UNKNOWN"),
    ],
)  # fmt: skip
def test_protocol_errors_carry_an_error_info(
    rest_port: int, request_bytes: bytes, status: int, code: int, reason: str
) -> None:
    got, body = raw_http(rest_port, request_bytes)
    assert (got, body["code"], error_info(body)["reason"]) == (status, code, reason), body
    assert body["message"], body


def test_headers_too_large_carry_an_error_info(http: httpx.Client) -> None:
    err = error(http.get(API, headers={"x-padding": "p" * 70_000}), 431, 8)
    assert error_info(err) == {
        "@type": ERROR_INFO,
        "reason": "HEADERS_TOO_LARGE",
        "domain": DOMAIN,
        "metadata": {"limit_bytes": "61440"},
    }


def test_server_down_is_unavailable_with_an_error_info_for_rest_and_grpc(tmp_path: Path) -> None:
    """Envoy up, gRPC server down: REST gets a JSON Status, gRPC a status with details (and so
    does a gRPC request over Envoy's 4 MiB limit)."""
    from tests.conftest import start_envoy

    process, http_port = start_envoy(tmp_path, free_port())
    try:
        response = None
        for _ in range(100):
            try:
                response = httpx.get(f"http://127.0.0.1:{http_port}{API}", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert response is not None, "envoy did not start"
        info = error_info(error(response, 503, 14))
        assert info["reason"] == "UNAVAILABLE"
        body = error(httpx.post(f"http://127.0.0.1:{http_port}{API}", json={}), 503, 14)
        assert error_info(body)["reason"] == "UNAVAILABLE"

        with grpc.insecure_channel(f"127.0.0.1:{http_port}") as channel:
            stub = grpc_client(channel)
            for method, request, code, reason in (
                (
                    "GetSession",
                    spb.GetSessionRequest(session_id="x"),
                    grpc.StatusCode.UNAVAILABLE,
                    "UNAVAILABLE",
                ),
                (
                    "CreateSession",
                    spb.CreateSessionRequest(description="d" * 5_000_000),
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    "BODY_TOO_LARGE",
                ),
            ):
                with pytest.raises(grpc.RpcError) as caught:
                    stub.s(method, request)
                call: Any = caught.value
                assert call.code() == code, call
                status = rpc_status.from_call(call)  # also checks code and message match
                assert status is not None and len(status.details) == 1
                grpc_info = error_details_pb2.ErrorInfo()
                assert status.details[0].Unpack(grpc_info)
                assert (grpc_info.reason, grpc_info.domain) == (reason, DOMAIN)
    finally:
        process.terminate()
        process.wait(10)


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
