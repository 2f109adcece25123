"""Renders Envoy's config: the packaged envoy.yaml, parsed, with what Python defines filled in."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from agent_sessions.edge import replies
from agent_sessions.edge.descriptor import descriptor_set
from agent_sessions.edge.schema import validator_source


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
    http_port: int, grpc_port: int, admin_port: int, descriptor: Path, validator: Path
) -> dict[str, Any]:
    """The config with these ports, the absolute paths of the rendered descriptor set and
    request validator, the request limits and every reply Envoy makes itself."""
    config = template()
    config["admin"]["address"]["socket_address"]["port_value"] = admin_port
    resources_ = config["static_resources"]
    listener = _named(resources_["listeners"], "rest_and_grpc")
    listener["address"]["socket_address"]["port_value"] = http_port
    cluster = _named(resources_["clusters"], "grpc_server")
    for endpoint in cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]:
        endpoint["endpoint"]["address"]["socket_address"]["port_value"] = grpc_port

    hcm = _named(
        listener["filter_chains"][0]["filters"], "envoy.filters.network.http_connection_manager"
    )
    manager = hcm["typed_config"]
    manager["max_request_headers_kb"] = replies.MAX_REQUEST_HEADERS_KB
    manager["local_reply_config"] = replies.local_reply_config()
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


def write_config(path: Path, http_port: int, grpc_port: int, admin_port: int) -> Path:
    """Writes the config to `path`, with its descriptor set (`.pb`) and request validator
    (`.lua`) beside it, creating the folder: nothing else may have made it yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    files = descriptor_set()
    descriptor, validator = path.with_suffix(".pb"), path.with_suffix(".lua")
    descriptor.write_bytes(files.SerializeToString())
    validator.write_text(validator_source(files), encoding="utf-8")
    config = render(http_port, grpc_port, admin_port, descriptor, validator)
    path.write_text(yaml.safe_dump(config, sort_keys=False, width=100))
    return path
