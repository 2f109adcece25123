"""The replies Envoy makes itself, each a google.rpc.Status built by the server's error mapping."""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format

from agent_sessions.api.status import retry_after_header, status_of
from agent_sessions.errors import DomainError, NotFound, ResourceExhausted, Unavailable

MAX_REQUEST_BYTES = 4 * 1024 * 1024
MAX_REQUEST_HEADERS_KB = 60  # Envoy's default, named so the reply can state it
# When a caller may retry after Envoy found no server to take its call (none healthy: all shut
# down or without their database, as in a failover): RetryInfo and, over REST, Retry-After.
RETRY_SECONDS = 1.0
_MIB = f"{MAX_REQUEST_BYTES // (1024 * 1024)} MiB"


class Unknown(DomainError):
    """Envoy ended the call for a reason of its own (a reset, an unsupported encoding)."""

    code = "UNKNOWN"
    reason = "UNKNOWN"


class DeadlineExceeded(DomainError):
    """Envoy gave up waiting for the client or the server."""

    code = "DEADLINE_EXCEEDED"
    reason = "TIMEOUT"


class Refused(DomainError):
    """HTTP that Envoy could not parse, or a value the transcoder could not convert."""

    code = "INVALID_ARGUMENT"
    reason = "INVALID_ARGUMENT"


# Envoy's gRPC test: exactly application/grpc or application/grpc+<codec> (not grpc-web). A
# transcoded REST call carries x-envoy-original-path; its reply is REST, not gRPC.
_GRPC = (
    "!('x-envoy-original-path' in request.headers) && 'content-type' in request.headers"
    " && (request.headers['content-type'] == 'application/grpc'"
    " || request.headers['content-type'].startsWith('application/grpc+'))"
)
_LIMIT = {"limit_bytes": str(MAX_REQUEST_BYTES)}

# gRPC calls passed through get a trailers-only reply: grpc-status, grpc-message (the body), and
# the same Status in grpc-status-details-bin (its message equals grpc-message, as clients check).
GRPC_REPLIES: list[tuple[str, DomainError]] = [
    (
        "response.code == 502 || response.code == 503",
        Unavailable(
            "the Agent Sessions gRPC server is unavailable; retry shortly",
            retry_after=RETRY_SECONDS,
        ),
    ),
    (
        "response.code == 413",
        ResourceExhausted(
            f"request too large: the limit is {_MIB}", reason="BODY_TOO_LARGE", metadata=_LIMIT
        ),
    ),
    ("true", Unknown("Envoy ended the call before the server answered")),
]

# REST replies, a JSON google.rpc.Status; Envoy fills in the %...% operators. The first that
# matches applies, the last one for anything else (500 for a response too large to transcode,
# 501 for an unsupported transfer-encoding, 426 for HTTP/1.0, ...).
REST_REPLIES: list[tuple[str, DomainError]] = [
    # The transcoder refused what the validator let through (a value it cannot convert, or a
    # path value that contradicts the body); its text names the field.
    (
        "response.code == 400 && response.code_details.contains('grpc_json_transcode_failure')",
        Refused("%LOCAL_REPLY_BODY%"),
    ),
    (
        "response.code == 400",
        Refused("malformed HTTP request: %LOCAL_REPLY_BODY%", reason="MALFORMED_REQUEST"),
    ),
    (
        "response.code == 404",
        NotFound(
            "unknown path: no call answers %REQ(:METHOD)% %PATH(NQ)%",
            reason="UNKNOWN_PATH",
            metadata={"method": "%REQ(:METHOD)%", "path": "%PATH(NQ)%"},
        ),
    ),
    (
        "response.code == 413",
        ResourceExhausted(
            f"request body too large: the limit is {_MIB} (%LOCAL_REPLY_BODY%)",
            reason="BODY_TOO_LARGE",
            metadata=_LIMIT,
        ),
    ),
    (
        "response.code == 431",
        ResourceExhausted(
            f"request headers too large: the limit is {MAX_REQUEST_HEADERS_KB} KiB in all",
            reason="HEADERS_TOO_LARGE",
            metadata={"limit_bytes": str(MAX_REQUEST_HEADERS_KB * 1024)},
        ),
    ),
    # The gRPC server is down, overloaded or reset the call: retry.
    (
        "response.code == 502 || response.code == 503",
        Unavailable(
            "the Agent Sessions gRPC server is unavailable; retry shortly (%LOCAL_REPLY_BODY%)",
            retry_after=RETRY_SECONDS,
        ),
    ),
    (
        "response.code == 408 || response.code == 504",
        DeadlineExceeded("timed out: %LOCAL_REPLY_BODY%"),
    ),
]
REST_DEFAULT = Unknown("%LOCAL_REPLY_BODY% (HTTP %RESPONSE_CODE% from Envoy)")


def status_json(error: DomainError) -> dict[str, Any]:
    """The JSON form of the error's Status, every field printed, as the transcoder prints it."""
    text = json_format.MessageToJson(
        status_of(error),
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )
    parsed: dict[str, Any] = json.loads(text)  # plain dicts, which YAML can write
    return parsed


def status_header(error: DomainError) -> str:
    """The error's Status as grpc-status-details-bin carries it (base64 of its bytes)."""
    return base64.b64encode(status_of(error).SerializeToString()).decode()


def _when(expression: str) -> dict[str, Any]:
    cel = "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter"
    return {
        "extension_filter": {
            "name": "cel",
            "typed_config": {"@type": cel, "expression": expression},
        }
    }


def _header(key: str, value: str) -> dict[str, Any]:
    return {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}


def local_reply_config() -> dict[str, Any]:
    """The HTTP connection manager's local_reply_config: gRPC replies, then the validator's own
    answers passed through as they are, then the REST replies."""
    mappers: list[dict[str, Any]] = []
    for expression, error in GRPC_REPLIES:
        code = status_of(error).code
        mappers.append(
            {
                "filter": _when(f"{_GRPC} && ({expression})"),
                "headers_to_add": [
                    _header("grpc-status", str(code)),
                    _header("grpc-status-details-bin", status_header(error)),
                ],
                "body_format_override": {"text_format_source": {"inline_string": error.message}},
            }
        )
    # The request validator writes the whole Status itself (see validator.lua).
    mappers.append(
        {
            "filter": _when("response.code_details == 'lua_response'"),
            "body_format_override": {
                "text_format_source": {"inline_string": "%LOCAL_REPLY_BODY%"},
                "content_type": "application/json",
            },
        }
    )
    for expression, error in REST_REPLIES:
        mapper: dict[str, Any] = {
            "filter": _when(expression),
            "body_format_override": {"json_format": status_json(error)},
        }
        # As the server's own errors that say when to retry (api/status.py's `abort`).
        if error.retry_after is not None:
            mapper["headers_to_add"] = [
                _header("retry-after", retry_after_header(error.retry_after))
            ]
        mappers.append(mapper)
    return {"mappers": mappers, "body_format": {"json_format": status_json(REST_DEFAULT)}}
