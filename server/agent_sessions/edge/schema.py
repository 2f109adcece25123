"""The request validator's Lua source: its schema (the REST calls and their request types, from
the proto descriptor) and its bounds (from agent_sessions.validation), then validator.lua."""

from __future__ import annotations

import string
from importlib import resources

from google.api import annotations_pb2  # type: ignore[import-untyped]
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool

from agent_sessions.api.status import ERROR_DOMAIN
from agent_sessions.validation import MAX_JSON_DEPTH

# Field types (FieldDescriptor.TYPE_*) by the JSON form the validator expects of them.
_KINDS = {
    1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "uint64", 7: "uint32",
    8: "bool", 9: "string", 10: "message", 11: "message", 12: "bytes", 13: "uint32", 14: "enum",
    15: "int32", 16: "int64", 17: "int32", 18: "int64",
}  # fmt: skip

_LUA_SAFE = {ord(c): c for c in string.ascii_letters + string.digits + " ._-/:{}*"}


def lua(value: object) -> str:
    """A Lua literal of strings, integers, booleans, lists and str-keyed dicts."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + "".join(_LUA_SAFE.get(b) or f"\\{b:03d}" for b in value.encode()) + '"'
    if isinstance(value, list):
        return "{" + ", ".join(lua(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua(k)}] = {lua(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Lua literal for {value!r}")


def _segments(template: str) -> tuple[list[object], str | bool]:
    """A path template's segments (a literal, or [field path] for a variable) and custom verb."""
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
            # The validator refuses any REST request it cannot match to a call, so a call it
            # cannot match would be unreachable: refuse to render rather than to serve it.
            raise ValueError(f"the request validator cannot match the path template {template!r}")
    return segments, verb


def rest_schema(files: descriptor_pb2.FileDescriptorSet) -> dict[str, object]:
    """The REST calls (google.api.http rules) of a descriptor set and the message and enum types
    of their requests, as the tables validator.lua reads."""
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    routes: list[object] = []
    wanted: list[descriptor.Descriptor] = []
    for file in files.file:
        for service in pool.FindFileByName(file.name).services_by_name.values():
            for method in service.methods:
                rule = method.GetOptions().Extensions[annotations_pb2.http]
                for binding in [rule, *rule.additional_bindings]:
                    kind = binding.WhichOneof("pattern")
                    if kind is None:
                        continue
                    verb, template = (
                        (binding.custom.kind, binding.custom.path)
                        if kind == "custom"
                        else (kind.upper(), getattr(binding, kind))
                    )
                    request = method.input_type
                    segments, custom_verb = _segments(template)
                    routes.append(
                        [verb, template, segments, custom_verb, binding.body, request.full_name]
                    )
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
    return {"routes": routes, "messages": messages, "enums": enums}


def limits() -> dict[str, object]:
    """The bounds the validator applies, each defined once on the Python side."""
    return {"max_depth": MAX_JSON_DEPTH, "domain": ERROR_DOMAIN}


def validator_source(files: descriptor_pb2.FileDescriptorSet) -> str:
    """validator.lua after one line that defines its API and LIMITS tables."""
    script = (
        resources.files("agent_sessions.edge").joinpath("validator.lua").read_text(encoding="utf-8")
    )
    return f"local API, LIMITS = {lua(rest_schema(files))}, {lua(limits())}\n{script}"
