"""The rendered Envoy config: its own replies are the server's error mapping, its files are
where it says, and Envoy accepts it."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from agent_sessions.api.status import ERROR_DOMAIN, status_of
from agent_sessions.edge import replies
from agent_sessions.errors import NotFound, ResourceExhausted, Unavailable
from agent_sessions.ops import envoy
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = envoy.write_config(tmp_path_factory.mktemp("edge") / "envoy.yaml", 18000, 50000)
    return path, yaml.safe_load(path.read_text())


def manager(config: dict[str, Any]) -> dict[str, Any]:
    listener = config["static_resources"]["listeners"][0]
    typed: dict[str, Any] = listener["filter_chains"][0]["filters"][0]["typed_config"]
    return typed


def http_filter(config: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [f for f in manager(config)["http_filters"] if f["name"] == name]
    typed: dict[str, Any] = found["typed_config"]
    return typed


def test_envoy_accepts_the_config(rendered: tuple[Path, dict[str, Any]]) -> None:
    path, _ = rendered
    result = subprocess.run(
        [envoy.envoy_binary(), "--mode", "validate", "-c", str(path), "-l", "error"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_files_it_names_are_the_rendered_ones(rendered: tuple[Path, dict[str, Any]]) -> None:
    path, config = rendered
    lua = Path(http_filter(config, "envoy.filters.http.lua")["default_source_code"]["filename"])
    descriptor = Path(
        http_filter(config, "envoy.filters.http.grpc_json_transcoder")["proto_descriptor"]
    )
    assert lua == path.with_suffix(".lua") and lua.is_absolute()
    assert descriptor == path.with_suffix(".pb") and descriptor.is_absolute()
    assert lua.read_text().startswith("local API, LIMITS = ")
    assert "function envoy_on_request(handle)" in lua.read_text()
    listener = config["static_resources"]["listeners"][0]
    assert listener["address"]["socket_address"]["port_value"] == 18000
    assert config["admin"]["address"] == {
        "pipe": {"path": str(envoy.admin_socket(path)), "mode": 0o600}
    }
    (cluster,) = config["static_resources"]["clusters"]
    (endpoint,) = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    assert endpoint["endpoint"]["address"]["socket_address"]["port_value"] == 50000


def test_one_body_limit(rendered: tuple[Path, dict[str, Any]]) -> None:
    _, config = rendered
    limit = replies.MAX_REQUEST_BYTES
    assert http_filter(config, "envoy.filters.http.buffer")["max_request_bytes"] == limit
    transcoder = http_filter(config, "envoy.filters.http.grpc_json_transcoder")
    assert transcoder["max_request_body_size"] == limit
    assert manager(config)["max_request_headers_kb"] == replies.MAX_REQUEST_HEADERS_KB


def expression(mapper: dict[str, Any]) -> str:
    text: str = mapper["filter"]["extension_filter"]["typed_config"]["expression"]
    return text


# What the server's own mapping makes of the errors Envoy reports to gRPC clients.
GRPC_EXPECTED = [
    ("response.code == 502", Unavailable(
        "the Agent Sessions gRPC server is unavailable; retry shortly", retry_after=1.0)),
    ("response.code == 413", ResourceExhausted(
        "request too large: the limit is 4 MiB", reason="BODY_TOO_LARGE",
        metadata={"limit_bytes": "4194304"})),
    ("true", replies.Unknown("Envoy ended the call before the server answered")),
]  # fmt: skip


def test_grpc_replies_carry_the_servers_status(rendered: tuple[Path, dict[str, Any]]) -> None:
    """grpc-status-details-bin decodes to what api/status.py builds for the same error, and its
    code and message are grpc-status and grpc-message (the body), as gRPC clients check."""
    _, config = rendered
    mappers = manager(config)["local_reply_config"]["mappers"]
    grpc_mappers = [m for m in mappers if "application/grpc+" in expression(m)]
    assert len(grpc_mappers) == len(GRPC_EXPECTED)
    for mapper, (condition, error) in zip(grpc_mappers, GRPC_EXPECTED, strict=True):
        assert condition in expression(mapper)
        assert "application/grpc+" in expression(mapper)
        headers = {h["header"]["key"]: h["header"]["value"] for h in mapper["headers_to_add"]}
        status = status_pb2.Status.FromString(base64.b64decode(headers["grpc-status-details-bin"]))
        assert status == status_of(error)
        assert headers["grpc-status"] == str(status.code)
        assert (
            mapper["body_format_override"]["text_format_source"]["inline_string"] == status.message
        )
        info = error_details_pb2.ErrorInfo()
        assert status.details[0].Unpack(info) and info.domain == ERROR_DOMAIN


# (HTTP status the mapper matches, gRPC code, reason) of every REST reply Envoy makes itself.
REST_EXPECTED = [
    ("grpc_json_transcode_failure", 3, "INVALID_ARGUMENT"),
    ("response.code == 400", 3, "MALFORMED_REQUEST"),
    ("response.code == 404", 5, "UNKNOWN_PATH"),
    ("response.code == 413", 8, "BODY_TOO_LARGE"),
    ("response.code == 431", 8, "HEADERS_TOO_LARGE"),
    ("response.code == 503", 14, "UNAVAILABLE"),
    ("response.code == 504", 4, "TIMEOUT"),
]


def test_rest_replies_are_the_servers_status_in_json(rendered: tuple[Path, dict[str, Any]]) -> None:
    _, config = rendered
    local = manager(config)["local_reply_config"]
    rest = [m for m in local["mappers"] if "json_format" in m.get("body_format_override", {})]
    bodies = [m["body_format_override"]["json_format"] for m in rest]
    bodies.append(local["body_format"]["json_format"])
    expected = [*REST_EXPECTED, ("", 2, "UNKNOWN")]
    assert len(bodies) == len(expected)
    for mapper, (condition, _, _) in zip([*rest, None], expected, strict=True):
        if mapper is not None:
            assert condition in expression(mapper)
    for body, (_, code, reason) in zip(bodies, expected, strict=True):
        status = json_format.ParseDict(body, status_pb2.Status())
        info = error_details_pb2.ErrorInfo()
        assert status.code == code and status.details[0].Unpack(info)
        assert (info.reason, info.domain) == (reason, ERROR_DOMAIN)
        assert body["details"][0]["metadata"] == dict(info.metadata)  # always printed
    # Envoy's own 503 (no server took the call) says when to retry, as the server's does.
    unavailable = rest[REST_EXPECTED.index(("response.code == 503", 14, "UNAVAILABLE"))]
    assert unavailable["headers_to_add"][0]["header"] == {"key": "retry-after", "value": "1"}
    assert bodies[5]["details"][1]["retry_delay"] in ("1s", "1.000s")
    not_found = NotFound(
        "unknown path: no call answers %REQ(:METHOD)% %PATH(NQ)%",
        reason="UNKNOWN_PATH",
        metadata={"method": "%REQ(:METHOD)%", "path": "%PATH(NQ)%"},
    )
    # Compared unpacked: the bytes of a packed map's entries follow no fixed order.
    assert _unpacked(json_format.ParseDict(bodies[2], status_pb2.Status())) == _unpacked(
        status_of(not_found)
    )


def _unpacked(status: status_pb2.Status) -> tuple[int, str, list[Any]]:
    """A Status with its details unpacked (ErrorInfo here)."""
    infos = []
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        assert detail.Unpack(info)
        infos.append((info.reason, info.domain, dict(info.metadata)))
    return status.code, status.message, infos
