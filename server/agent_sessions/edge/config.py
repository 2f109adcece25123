"""Renders Envoy's config: the packaged envoy.yaml, parsed, with what Python defines filled in."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from agent_sessions.edge import replies
from agent_sessions.edge.descriptor import descriptor_set
from agent_sessions.edge.schema import validator_source

# A Unix socket's path must fit in sockaddr_un.sun_path (108 bytes with its NUL on Linux).
_MAX_SOCKET_PATH = 107

# What a browser page on an allowed origin may send and read (CORS). Request headers: the token,
# JSON bodies, the clients' retry and concurrency headers, SSE resumption and trace context.
CORS_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
CORS_REQUEST_HEADERS = (
    "authorization",
    "content-type",
    "idempotency-key",
    "if-match",
    "last-event-id",
    "traceparent",
)
# A page reads the JSON body and the safelisted headers anyway; beyond them the API answers with
# a gRPC status (REST errors carry theirs in the JSON body; an SSE stream's end is only there).
CORS_EXPOSE_HEADERS = ("grpc-status", "grpc-message")
CORS_MAX_AGE_SECONDS = 600


def admin_socket(config_path: Path) -> Path:
    """The Unix socket of Envoy's admin interface, beside its config."""
    return config_path.with_suffix(".admin.sock").resolve()


def cors_policy(origins: Sequence[str]) -> dict[str, Any]:
    """The CorsPolicy granting exactly these origins (compared as browsers send them)."""
    return {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
        "allow_origin_string_match": [{"exact": origin} for origin in origins],
        "allow_methods": ", ".join(CORS_METHODS),
        "allow_headers": ", ".join(CORS_REQUEST_HEADERS),
        "expose_headers": ", ".join(CORS_EXPOSE_HEADERS),
        "max_age": str(CORS_MAX_AGE_SECONDS),
        # Bearer tokens, not cookies: a page never needs to send credentials Envoy would honour.
        "allow_credentials": False,
    }


def template() -> dict[str, Any]:
    """The packaged envoy.yaml, parsed."""
    text = resources.files("agent_sessions.edge").joinpath("envoy.yaml").read_text("utf-8")
    parsed: dict[str, Any] = yaml.safe_load(text)
    return parsed


def _named(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [item for item in items if item.get("name") == name]
    if len(found) != 1:
        raise ValueError(f"envoy.yaml must hold exactly one {name!r}, found {len(found)}")
    return found[0]


def _unfilled(node: object, at: str = "") -> list[str]:
    """Where the config still holds a null: a value envoy.yaml leaves to rendering."""
    if node is None:
        return [at]
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in _unfilled(value, f"{at}.{key}")]
    if isinstance(node, list):
        return [p for i, value in enumerate(node) for p in _unfilled(value, f"{at}[{i}]")]
    return []


def render(
    http_port: int,
    grpc_port: int,
    admin: Path,
    descriptor: Path,
    validator: Path,
    cors_origins: Sequence[str] = (),
    more_grpc_ports: Sequence[int] = (),
) -> dict[str, Any]:
    """The config with these ports (`more_grpc_ports`: more replicas of the server on this host,
    endpoints of the same cluster, each health-checked), the admin socket, the absolute paths of the rendered
    descriptor set and request validator, the request limits, every reply Envoy makes itself,
    and the origins whose pages may call the API (none: no CORS grant to anyone)."""
    config = template()
    if len(str(admin).encode()) > _MAX_SOCKET_PATH:
        raise ValueError(f"the admin socket's path is too long for a Unix socket: {admin}")
    config["admin"]["address"]["pipe"]["path"] = str(admin)
    resources_ = config["static_resources"]
    listener = _named(resources_["listeners"], "rest_and_grpc")
    listener["address"]["socket_address"]["port_value"] = http_port
    cluster = _named(resources_["clusters"], "grpc_server")
    endpoints = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    for endpoint in endpoints:
        endpoint["endpoint"]["address"]["socket_address"]["port_value"] = grpc_port
    for port in more_grpc_ports:
        endpoints.append(copy.deepcopy(endpoints[0]))
        endpoints[-1]["endpoint"]["address"]["socket_address"]["port_value"] = port

    hcm = _named(
        listener["filter_chains"][0]["filters"], "envoy.filters.network.http_connection_manager"
    )
    manager = hcm["typed_config"]
    manager["max_request_headers_kb"] = replies.MAX_REQUEST_HEADERS_KB
    manager["local_reply_config"] = replies.local_reply_config()
    if cors_origins:
        (host,) = manager["route_config"]["virtual_hosts"]
        host["typed_per_filter_config"] = {"envoy.filters.http.cors": cors_policy(cors_origins)}
    filters = manager["http_filters"]
    _named(filters, "envoy.filters.http.buffer")["typed_config"]["max_request_bytes"] = (
        replies.MAX_REQUEST_BYTES
    )
    lua = _named(filters, "envoy.filters.http.lua")["typed_config"]
    lua["default_source_code"] = {"filename": str(validator.resolve())}
    transcoder = _named(filters, "envoy.filters.http.grpc_json_transcoder")["typed_config"]
    transcoder["proto_descriptor"] = str(descriptor.resolve())
    transcoder["max_request_body_size"] = replies.MAX_REQUEST_BYTES
    if missing := _unfilled(config):
        raise ValueError(f"envoy.yaml leaves values to rendering that it did not set: {missing}")
    return config


def write_config(
    path: Path,
    http_port: int,
    grpc_port: int,
    *,
    cors_origins: Sequence[str] = (),
    more_grpc_ports: Sequence[int] = (),
) -> Path:
    """Writes the config to `path`, with its descriptor set (`.pb`) and request validator
    (`.lua`) beside it, creating the folder: nothing else may have made it yet. Envoy's admin
    interface listens on `admin_socket(path)`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    files = descriptor_set()
    descriptor, validator = path.with_suffix(".pb"), path.with_suffix(".lua")
    descriptor.write_bytes(files.SerializeToString())
    validator.write_text(validator_source(files), encoding="utf-8")
    config = render(
        http_port,
        grpc_port,
        admin_socket(path),
        descriptor,
        validator,
        cors_origins,
        more_grpc_ports,
    )
    path.write_text(yaml.safe_dump(config, sort_keys=False, width=100))
    return path
