"""REST requests Envoy must refuse, as tables that both the end-to-end tests (through a real
Envoy) and the request validator's own tests (validator.lua in lupa) run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.test_rest import API


@dataclass(frozen=True)
class Refusal:
    """A request and Envoy's answer: the HTTP status, the google.rpc.Status code, and its
    ErrorInfo's reason and (some of its) metadata. `by` says who answers: "validator" (the
    request validator, given the request as sent), "envoy" (Envoy after it: the validator passes
    the request on) or "normalized" (the validator, once Envoy has resolved the path's dot
    segments; given the path as sent it could not match the call)."""

    method: str
    path: str
    body: Any  # a JSON value, raw bytes, or None for no body
    status: int
    code: int
    reason: str
    metadata: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"  # "" for none
    by: str = "validator"

    def __str__(self) -> str:  # the test id
        kind = f" [{self.content_type}]" if self.content_type != "application/json" else ""
        return f"{self.method} {self.path[:60]}{kind}"

    def body_bytes(self) -> bytes | None:
        """The body as sent: JSON values as json.dumps writes them."""
        if self.body is None or isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


ENVOY_REFUSALS: list[Refusal] = [
    Refusal("POST", API, b'{"session_id": ', 400, 3, "MALFORMED_JSON", {"line": "1", "column": "16"}),
    Refusal("POST", API, b"not json", 400, 3, "MALFORMED_JSON", {"line": "1", "column": "1"}),
    Refusal("POST", API, b'{"session_id": "a",}', 400, 3, "MALFORMED_JSON"),
    Refusal("POST", API, b'{"session_name": "raw\nnewline"}', 400, 3, "MALFORMED_JSON"),
    Refusal("POST", API, b'{"session_name": "\\ud800"}', 400, 3, "MALFORMED_JSON"),
    Refusal("POST", API, b'{"session_id": "a"} trailing', 400, 3, "MALFORMED_JSON"),
    Refusal("POST", API, b"   ", 400, 3, "MALFORMED_JSON"),
    Refusal("POST", API, [], 400, 3, "INVALID_ARGUMENT"),
    Refusal("POST", f"{API}/target/messages", {"role": "bogus", "content": "x"}, 400, 3,
            "INVALID_ARGUMENT", {"field": "role"}),
    Refusal("POST", f"{API}/conversation", {"messages": [{"role": "nobody"}]}, 400, 3,
            "INVALID_ARGUMENT", {"field": "messages[0].role"}),
    Refusal("GET", f"{API}?bogus=1", None, 400, 3, "UNKNOWN_QUERY_PARAMETER", {"parameter": "bogus"}),
    Refusal("GET", f"{API}/target?session_id=other", None, 400, 3, "UNKNOWN_QUERY_PARAMETER",
            {"parameter": "session_id"}),
    Refusal("POST", f"{API}?is_active=false", {}, 400, 3, "UNKNOWN_QUERY_PARAMETER",
            {"parameter": "is_active"}),
    Refusal("PUT", f"{API}/target/deactivate?x=1", None, 400, 3, "UNKNOWN_QUERY_PARAMETER",
            {"parameter": "x"}),
    Refusal("GET", f"{API}?page_size=abc", None, 400, 3, "INVALID_ARGUMENT", {"field": "page_size"}),
    # What only the transcoder sees: a body value that contradicts the path.
    Refusal("GET", f"{API}/target", {"session_id": "other"}, 400, 3, "INVALID_ARGUMENT", by="envoy"),
    # Invalid UTF-8: the transcoder refuses it (the validator does not look at every byte).
    Refusal("POST", API, b'{"session_id": "utf8", "session_name": "\xff\xfe"}', 400, 3,
            "INVALID_ARGUMENT", by="envoy"),
    Refusal("GET", "/nope", None, 404, 5, "UNKNOWN_PATH", {"method": "GET", "path": "/nope"}),
    Refusal("GET", f"{API}/target/nope?x=1", None, 404, 5, "UNKNOWN_PATH",
            {"path": f"{API}/target/nope"}),
    Refusal("DELETE", API, None, 404, 5, "UNKNOWN_PATH", {"method": "DELETE"}),
    Refusal("POST", f"{API}/target/messages", {"role": "user", "content": "x" * 5_000_000}, 413, 8,
            "BODY_TOO_LARGE", {"limit_bytes": "4194304"}, by="envoy"),
]  # fmt: skip

# Wrong JSON types: (method, path, body, the field the error names). Before the validator, the
# transcoder coerced the first ones and the calls succeeded: a list of one from an object,
# booleans from "yes"/"no"/"0"/"true" (body) and "yes"/"1" (query), enums from numbers.
WRONG_TYPES: list[tuple[str, str, Any, str]] = [
    ("POST", f"{API}/conversation", {"messages": {"role": "user", "content": "x"}}, "messages"),
    ("POST", f"{API}/conversation:stream", {"messages": {"role": "user", "content": "x"}},
     "messages"),
    ("POST", f"{API}/conversation", {"messages": [{"role": 1, "content": "x"}]},
     "messages[0].role"),
    ("POST", API, {"session_id": "new", "is_active": "yes"}, "is_active"),
    ("POST", API, {"session_id": "new", "is_active": "true"}, "is_active"),
    ("PATCH", f"{API}/target", {"is_active": "no"}, "is_active"),
    ("PATCH", f"{API}/target", {"is_active": "0"}, "is_active"),
    ("POST", f"{API}/target/messages", {"role": 2, "content": "x"}, "role"),
    ("POST", f"{API}/target/messages", {"role": "2", "content": "x"}, "role"),
    ("POST", f"{API}/conversation",
     {"messages": [{"role": "user"}], "tools": {"name": "calc", "parameters": {}}}, "tools"),
    ("GET", f"{API}?is_active=yes", None, "is_active"),
    ("GET", f"{API}?is_active=1", None, "is_active"),
    # Refused before as well (without a reason), and still.
    ("POST", f"{API}/conversation",
     {"messages": [{"role": "user"}], "tools": [{"parameters": []}]}, "tools[0].parameters"),
    ("POST", f"{API}/conversation", {"messages": [None]}, "messages[0]"),
    ("POST", f"{API}/conversation", {"messages": ["hi"]}, "messages[0]"),
    ("POST", f"{API}/target/messages", {"role": "user", "content": ["x"]}, "content"),
    ("POST", f"{API}/target/messages", {"role": "user", "content": {"x": 1}}, "content"),
    ("POST", f"{API}/target/messages", {"role": "user", "tool_name": True}, "tool_name"),
    ("POST", API, {"session_id": "new", "is_active": 1}, "is_active"),
    ("GET", f"{API}/target/messages?page_size=1.5", None, "page_size"),
]  # fmt: skip

# Every way a REST request could reach the transcoder, each with a body the transcoder would
# coerce (`"no"` → false): each must be checked (400 naming is_active) or refused (4xx), and
# store nothing. Native gRPC content types are not here: they pass through to the server.
_COERCED = {"session_id": "way-in", "is_active": "no"}
_IS_ACTIVE = {"field": "is_active"}
WAYS_IN: list[Refusal] = [
    # The transcoder ignores trailing slashes; the validator drops them too.
    Refusal("POST", f"{API}/", _COERCED, 400, 3, "INVALID_ARGUMENT", _IS_ACTIVE),
    Refusal("POST", f"{API}//", _COERCED, 400, 3, "INVALID_ARGUMENT", _IS_ACTIVE),
    Refusal("PATCH", f"{API}/target/", {"is_active": "no"}, 400, 3, "INVALID_ARGUMENT", _IS_ACTIVE),
    Refusal("POST", f"{API}/conversation/", {"messages": {"role": "user"}}, 400, 3,
            "INVALID_ARGUMENT", {"field": "messages"}),
    Refusal("POST", f"{API}/conversation:stream/", {"messages": {"role": "user"}}, 400, 3,
            "INVALID_ARGUMENT", {"field": "messages"}),
    # Content types Envoy does not take for gRPC are transcoded as JSON, so they are checked.
    *(
        Refusal("POST", API, _COERCED, 400, 3, "INVALID_ARGUMENT", _IS_ACTIVE, content_type=kind)
        for kind in (
            "application/grpc-web",
            "application/grpc-web+proto",
            "application/grpc-web+json",
            "application/grpc-web-text",
            "application/grpc-web-text+proto",
            "application/grpc-web; charset=utf-8",
            "application/grpc;charset=utf-8",
            "application/grpcx",
            "Application/GRPC",
            "text/plain",
            "",
        )
    ),
    # A gRPC-web body (binary) is not JSON.
    Refusal("POST", API, b"\x00\x00\x00\x00\x02\n\x00", 400, 3, "MALFORMED_JSON",
            content_type="application/grpc-web+proto"),
    # Paths no REST call has: refused by the validator, never passed on.
    *(
        Refusal("POST", path, _COERCED, 404, 5, "UNKNOWN_PATH", {"method": "POST"})
        for path in (
            "/API/agent-sessions",
            "/api/Agent-Sessions",
            "/api//agent-sessions",
            "/api%2Fagent-sessions",
            "/api/agent%2Dsessions",
            "/%61pi/agent-sessions",
            "/api/agent-sessions%2F",
            "/api/agent-sessions;x=1",
            "/agentsessions.v1.SessionService/CreateSession",
        )
    ),
    Refusal("POST", f"{API}/target", {"is_active": "no"}, 404, 5, "UNKNOWN_PATH",
            {"method": "POST", "path": f"{API}/target"}),
    # Envoy resolves dot segments before any filter runs: the validator sees the resolved path.
    Refusal("POST", f"{API}/./", _COERCED, 400, 3, "INVALID_ARGUMENT", _IS_ACTIVE,
            by="normalized"),
    Refusal("POST", "/api/x/../agent-sessions", _COERCED, 400, 3, "INVALID_ARGUMENT", _IS_ACTIVE,
            by="normalized"),
]  # fmt: skip
