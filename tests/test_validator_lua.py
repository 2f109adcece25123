"""The request validator (edge/validator.lua) in-process, in LuaJIT as Envoy runs it, with a stub
of Envoy's request handle: the same cases as the end-to-end tests, and its own edges."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import lupa.luajit21 as luajit
import pytest
from agent_sessions.api.status import ERROR_DOMAIN, status_of
from agent_sessions.edge import schema
from agent_sessions.edge.descriptor import descriptor_set
from agent_sessions.errors import InvalidArgument, NotFound
from agent_sessions.validation import MAX_JSON_DEPTH
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2

from tests.rest_cases import ENVOY_REFUSALS, WAYS_IN, WRONG_TYPES, Refusal
from tests.test_rest import API

# Envoy's request handle, as much of it as the validator uses: headers():get, body():length and
# :getBytes (0-based), respond and logErr. Returns the reply ({status, body}) or nil if passed on.
STUB = """
return function(method, path, content_type, body)
  local reply, headers = nil, {[":method"] = method, [":path"] = path, ["content-type"] = content_type}
  local handle = {}
  function handle:headers() return {get = function(_, name) return headers[name] end} end
  function handle:body()
    if body == nil then return nil end
    return {length = function() return #body end,
            getBytes = function(_, start, n) return body:sub(start + 1, start + n) end}
  end
  function handle:respond(h, b) reply = {h[":status"], h["content-type"], b} end
  function handle:logErr(message) error("the validator failed: " .. message) end
  envoy_on_request(handle)
  return reply
end
"""

Validate = Callable[..., tuple[int, dict[str, Any]] | None]


def load(source: str) -> Validate:
    runtime = luajit.LuaRuntime(encoding=None)  # Lua strings are bytes, as in Envoy
    runtime.execute(source.encode())
    call = runtime.execute(STUB.encode())

    def validate(
        method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> tuple[int, dict[str, Any]] | None:
        reply = call(method.encode(), path.encode(), (content_type or "").encode() or None, body)
        if reply is None:
            return None
        status, kind, text = reply[1], reply[2], reply[3]
        assert kind == b"application/json"
        return int(status), json.loads(text)

    return validate


@pytest.fixture(scope="module")
def validate() -> Iterator[Validate]:
    yield load(schema.validator_source(descriptor_set()))


def refused(
    reply: tuple[int, dict[str, Any]] | None, status: int, code: int, reason: str
) -> dict[str, Any]:
    """The reply's ErrorInfo metadata, once the reply is checked to be this refusal."""
    assert reply is not None, "passed on"
    got, body = reply
    assert (got, body["code"]) == (status, code), body
    info = body["details"][0]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo", body
    assert (info["reason"], info["domain"]) == (reason, "agentsessions.v1"), body
    assert body["message"], body
    return dict(info["metadata"])


def run(validate: Validate, case: Refusal) -> tuple[int, dict[str, Any]] | None:
    return validate(case.method, case.path, case.body_bytes(), case.content_type)


@pytest.mark.parametrize(
    "case", [c for c in ENVOY_REFUSALS + WAYS_IN if c.by != "normalized"], ids=str
)
def test_the_end_to_end_cases(validate: Validate, case: Refusal) -> None:
    reply = run(validate, case)
    if case.by == "envoy":
        assert reply is None, reply
        return
    metadata = refused(reply, case.status, case.code, case.reason)
    assert case.metadata.items() <= metadata.items(), metadata


@pytest.mark.parametrize(("method", "path", "body", "field"), WRONG_TYPES)
def test_the_end_to_end_wrong_types(
    validate: Validate, method: str, path: str, body: Any, field: str
) -> None:
    content = None if body is None else json.dumps(body).encode()
    reply = validate(method, path, content, "application/json")
    assert refused(reply, 400, 3, "INVALID_ARGUMENT") == {"field": field}
    assert reply is not None
    details = reply[1]["details"]
    assert reply[1]["message"].startswith(f"{field}: ")
    assert details[1]["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert details[1]["field_violations"][0]["field"] == field


@pytest.mark.parametrize(
    "content_type", ["application/grpc", "application/grpc+proto", "application/grpc+json"]
)
def test_native_grpc_passes_untouched(validate: Validate, content_type: str) -> None:
    assert (
        validate("POST", "/agentsessions.v1.SessionService/CreateSession", b"\x00", content_type)
        is None
    )
    assert validate("POST", API, b"not json", content_type) is None


def body_of(validate: Validate, body: bytes, path: str = API, method: str = "POST") -> Any:
    """The reply to a body: None if passed on, else (reason, metadata)."""
    reply = validate(method, path, body, "application/json")
    if reply is None:
        return None
    info = reply[1]["details"][0]
    return info["reason"], info["metadata"]


MALFORMED = "MALFORMED_JSON"


@pytest.mark.parametrize(
    ("text", "passes"),
    [
        (r'"\ud83d\ude00"', True),  # a valid pair
        (r'"a\ud83d\ude00b\u00e9"', True),
        (r'"\ud800"', False),  # a lone high surrogate
        (r'"\udc00"', False),  # a lone low surrogate
        (r'"\ude00\ud83d"', False),  # a pair in the wrong order
        (r'"\ud800\u0041"', False),  # high, then not a low
        (r'"\ud800x"', False),
        (r'"\ud83d\ude0"', False),  # a short escape
        (r'"\u00g1"', False),
        (r'"\x"', False),
    ],
)
def test_surrogates_and_escapes(validate: Validate, text: str, passes: bool) -> None:
    got = body_of(validate, b'{"session_name": ' + text.encode() + b"}")
    assert (got is None) == passes, got
    if not passes:
        assert got[0] == MALFORMED


def nested(depth: int) -> bytes:
    """A body whose unknown field nests `depth` arrays."""
    return b'{"unknown": ' + b"[" * depth + b"]" * depth + b"}"


def test_nesting_depth_is_the_python_bound(validate: Validate) -> None:
    assert body_of(validate, nested(MAX_JSON_DEPTH)) is None
    assert body_of(validate, nested(MAX_JSON_DEPTH + 1))[0] == MALFORMED
    # The body itself is level 0: MAX_JSON_DEPTH levels may nest inside it.
    for inside, refused_ in ((MAX_JSON_DEPTH, False), (MAX_JSON_DEPTH + 1, True)):
        deep = b'{"a":' * (inside + 1) + b"1" + b"}" * (inside + 1)
        assert (body_of(validate, deep) is not None) == refused_


def test_the_bounds_come_from_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendering carries validation.MAX_JSON_DEPTH into the script: change it, the script follows."""
    monkeypatch.setattr(schema, "MAX_JSON_DEPTH", 3)
    validate = load(schema.validator_source(descriptor_set()))
    assert body_of(validate, nested(3)) is None
    reason, _ = body_of(validate, nested(4))
    assert reason == MALFORMED
    reply = validate("POST", API, nested(4), "application/json")
    assert reply is not None and "nested more than 3 levels deep" in reply[1]["message"]


# page_size is an int32: the GET of a list checks a JSON body against its request type too.
@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (b"7", None),
        (b"1e3", None),  # a whole number in any form is a whole number
        (b"1E+2", None),
        (b"-0", None),
        (b"1.0", None),
        (b"2147483647", None),
        (b"-2147483648", None),
        (b"1.5", "INVALID_ARGUMENT"),
        (b"2147483648", "INVALID_ARGUMENT"),
        (b"-2147483649", "INVALID_ARGUMENT"),
        (b"1e400", "INVALID_ARGUMENT"),
        (b"123456789012345678901234567890", "INVALID_ARGUMENT"),
        (b'"7"', "INVALID_ARGUMENT"),
        (b"01", MALFORMED),  # leading zeros
        (b"-01", MALFORMED),
        (b"1.", MALFORMED),
        (b".5", MALFORMED),
        (b"+1", MALFORMED),
        (b"1e", MALFORMED),
        (b"-", MALFORMED),
        (b"0x10", MALFORMED),
        (b"NaN", MALFORMED),
        (b"Infinity", MALFORMED),
    ],
)
def test_number_forms(validate: Validate, number: bytes, expected: str | None) -> None:
    got = body_of(validate, b'{"page_size": ' + number + b"}", method="GET")
    assert (got and got[0]) == expected, got
    if expected == "INVALID_ARGUMENT":
        assert got[1] == {"field": "page_size"}


def test_numbers_anywhere_else_need_only_be_json(validate: Validate) -> None:
    huge = b'{"unknown": [123456789012345678901234567890, -0, 1e400, 0.000001, -2.5E-3]}'
    assert body_of(validate, huge) is None
    assert body_of(validate, b'{"unknown": 00}')[0] == MALFORMED


def test_duplicate_keys_are_each_checked(validate: Validate) -> None:
    """JSON allows a name twice (the transcoder keeps the last); every value is checked, so a
    valid first value cannot cover a wrong second one."""
    assert body_of(validate, b'{"session_id": "a", "session_id": "b"}') is None
    assert body_of(validate, b'{"is_active": true, "is_active": "no"}') == (
        "INVALID_ARGUMENT",
        {"field": "is_active"},
    )
    assert body_of(validate, b'{"is_active": "no", "isActive": true}')[1] == {"field": "is_active"}


@pytest.mark.parametrize(
    "body",
    [b'{"session_name": "a\x00b"}', b'{"session_id": "a"}\x00', b'\x00{"session_id": "a"}',
     b'{"session_name": "a\x1fb"}'],
)  # fmt: skip
def test_raw_control_characters_are_malformed(validate: Validate, body: bytes) -> None:
    got = body_of(validate, body)
    assert got is not None and got[0] == MALFORMED


def test_escaped_nul_is_left_to_the_server(validate: Validate) -> None:
    """\\u0000 is valid JSON; the server refuses NUL in text fields, naming the field."""
    assert body_of(validate, b'{"session_name": "a\\u0000b"}') is None


@pytest.mark.parametrize(
    "body",
    [b'{"session_name": "\xff\xfe"}', b'{"session_name": "\xc3"}', b'{"unknown": "\xed\xa0\x80"}'],
)
def test_invalid_utf8_is_left_to_the_transcoder(validate: Validate, body: bytes) -> None:
    """The validator does not spend a pass over every byte on UTF-8: the transcoder refuses
    invalid UTF-8 with 400 (INVALID_ARGUMENT, test_rest_errors), so it is passed on."""
    assert body_of(validate, body) is None


def test_enum_names_may_be_escaped(validate: Validate) -> None:
    path = f"{API}/target/messages"
    assert body_of(validate, b'{"role": "\\u0075ser", "content": "x"}', path=path) is None
    assert body_of(validate, b'{"role": "us\\u0065", "content": "x"}', path=path)[1] == {
        "field": "role"
    }


def test_valid_bodies_pass(validate: Validate) -> None:
    body = (
        b'{\n  "sessionId": "typed",\n  "session_name": "caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\\\ \\/",'
        b'\n\t"description": null, "is_active": false,\r\n'
        b'  "unknown": {"deep": [1, -2.5e3, true, null, {"x": []}], "s": "\\n"}\n}'
    )
    assert body_of(validate, body) is None
    assert body_of(validate, b"{}") is None
    assert validate("PUT", f"{API}/target/activate", None, "application/json") is None
    assert validate("GET", f"{API}?is_active=false&pageSize=5", None, None) is None


def test_its_replies_are_the_servers_statuses(validate: Validate) -> None:
    """The Status the validator writes is what api/status.py builds for the same error: a wrong
    type is the server's InvalidArgument (ErrorInfo and BadRequest), an unknown path NotFound."""
    reply = validate("PATCH", f"{API}/target", b'{"is_active": "no"}', "application/json")
    assert reply is not None
    got = json_format.ParseDict(reply[1], status_pb2.Status())
    field, description = reply[1]["message"].split(": ", 1)
    assert got == status_of(InvalidArgument(field, description))

    reply = validate("GET", "/nope", None, None)
    assert reply is not None
    got = json_format.ParseDict(reply[1], status_pb2.Status())
    metadata = {"method": "GET", "path": "/nope"}
    expected = NotFound(
        "unknown path: no call answers GET /nope", reason="UNKNOWN_PATH", metadata=metadata
    )
    # Compared unpacked: the bytes of a packed map's entries follow no fixed order.
    want = status_of(expected)
    assert (got.code, got.message) == (want.code, want.message)
    got_info, want_info = error_details_pb2.ErrorInfo(), error_details_pb2.ErrorInfo()
    assert got.details[0].Unpack(got_info) and want.details[0].Unpack(want_info)
    assert got_info == want_info  # messages compare maps as maps

    reply = validate("POST", API, b"{", "application/json")
    assert reply is not None
    got = json_format.ParseDict(reply[1], status_pb2.Status())
    info = error_details_pb2.ErrorInfo()
    assert got.code == 3 and len(got.details) == 1 and got.details[0].Unpack(info)
    assert (info.reason, info.domain) == ("MALFORMED_JSON", ERROR_DOMAIN)


def test_no_input_makes_it_fail(validate: Validate) -> None:
    """A failing script passes requests on unchecked (so a bug cannot block the API): no body,
    query or path may make it fail. The stub's logErr raises, so a failure fails this test."""
    rng = random.Random(16)
    seeds = [case.body_bytes() or b"" for case in ENVOY_REFUSALS + WAYS_IN if case.by != "envoy"]
    seeds += [b'{"messages": [{"role": "user", "content": "\\u00e9\\ud83d\\ude00"}], "tools": '
              b'[{"name": "t", "parameters": {"a": [1, 2.5e-3, null, true]}}]}']  # fmt: skip
    alphabet = b'{}[]":,\\u0123456789.eE+-truefalsn \t\r\n\x00\xff'
    paths = [f"{API}", f"{API}/target", f"{API}/conversation", f"{API}/target/messages"]
    for _ in range(3000):
        body = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            at = rng.randint(0, len(body))
            if rng.random() < 0.5 and body:
                del body[at : at + rng.randint(1, 3)]
            else:
                body[at:at] = bytes(rng.choices(alphabet, k=rng.randint(1, 3)))
        query = "".join(rng.choices("ab_=&%2F0x.?;", k=rng.randint(0, 12)))
        method = rng.choice(["POST", "PATCH", "GET", "PUT", "DELETE"])
        validate(method, f"{rng.choice(paths)}?{query}", bytes(body), "application/json")
