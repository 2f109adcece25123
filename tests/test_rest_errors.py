"""Envoy's own refusals through a real Envoy: every error a REST or gRPC client
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

from tests.rest_cases import ENVOY_REFUSALS, WAYS_IN, WRONG_TYPES, Refusal
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


def send_case(http: httpx.Client, case: Refusal) -> httpx.Response:
    headers = {"content-type": case.content_type} if case.content_type else {}
    return http.request(case.method, case.path, content=case.body_bytes(), headers=headers)


@pytest.mark.parametrize("case", ENVOY_REFUSALS, ids=str)
def test_envoy_refusals_carry_an_error_info(
    http: httpx.Client, target: tuple[Any, Any], case: Refusal
) -> None:
    info = error_info(error(send_case(http, case), case.status, case.code))
    assert info["reason"] == case.reason, info
    assert case.metadata.items() <= info["metadata"].items(), info
    assert snapshot(http) == target


@pytest.mark.parametrize("case", WAYS_IN, ids=str)
def test_no_way_in_reaches_the_transcoder_unchecked(
    http: httpx.Client, target: tuple[Any, Any], case: Refusal
) -> None:
    """Trailing slashes, gRPC-web and other content types, paths in other cases or encodings:
    each request is checked (its wrong type named) or refused, and nothing is stored."""
    err = error(send_case(http, case), case.status, case.code)
    info = error_info(err)
    assert info["reason"] == case.reason, info
    assert case.metadata.items() <= info["metadata"].items(), info
    if "field" in case.metadata:
        assert err["message"].startswith(f"{case.metadata['field']}: "), err
    assert snapshot(http) == target
    assert http.get(f"{API}/way-in").status_code == 404


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


def test_absolute_form_and_method_case_are_no_way_in(
    http: httpx.Client, target: tuple[Any, Any], rest_port: int
) -> None:
    """A request target in absolute form is checked like its path; a lower-case method is not
    HTTP (methods are case-sensitive), and Envoy refuses it before any filter."""
    body = b'{"session_id": "way-in", "is_active": "no"}'
    for request_line, status, reason in (
        (b"POST http://x/api/agent-sessions/ HTTP/1.1", 400, "INVALID_ARGUMENT"),
        (b"post /api/agent-sessions HTTP/1.1", 400, "MALFORMED_REQUEST"),
    ):
        head = request_line + b"\r\nHost: x\r\nConnection: close\r\n"
        head += f"Authorization: {http.headers['Authorization']}\r\n".encode()
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        got, err = raw_http(rest_port, head + body)
        assert (got, error_info(err)["reason"]) == (status, reason), err
    assert snapshot(http) == target
    assert http.get(f"{API}/way-in").status_code == 404


@pytest.mark.parametrize("kind", ["application/grpc+json", "application/grpc"])
def test_native_grpc_content_types_go_to_the_server_untouched(
    http: httpx.Client, target: tuple[Any, Any], kind: str
) -> None:
    """The validator leaves gRPC to the server: a JSON body sent as gRPC reaches it unchecked
    and untranscoded, and the server (not Envoy's validator) refuses it."""
    response = http.post(
        API, content=b'{"session_id": "way-in", "is_active": "no"}', headers={"content-type": kind}
    )
    assert response.headers["content-type"] == "application/grpc", response.headers
    assert response.headers["grpc-status"] not in ("", "0"), response.headers
    assert snapshot(http) == target
    assert http.get(f"{API}/way-in").status_code == 404


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
        assert response.headers["retry-after"] == "1"  # and a RetryInfo of 1 s in the body
        posted = httpx.post(f"http://127.0.0.1:{http_port}{API}", json={})
        body = error(posted, 503, 14)
        assert error_info(body)["reason"] == "UNAVAILABLE"
        assert posted.headers["retry-after"] == "1"
        assert body["details"][1]["retry_delay"] in ("1s", "1.000s")

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
                # UNAVAILABLE also says when to retry (a RetryInfo).
                expected = 2 if code == grpc.StatusCode.UNAVAILABLE else 1
                assert status is not None and len(status.details) == expected
                grpc_info = error_details_pb2.ErrorInfo()
                assert status.details[0].Unpack(grpc_info)
                assert (grpc_info.reason, grpc_info.domain) == (reason, DOMAIN)
    finally:
        process.terminate()
        process.wait(10)


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
