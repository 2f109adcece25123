"""Bounds on every input field, declared once here and enforced by the functions below."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Final

from agent_sessions.domain import ROLES, CallerTool, NewMessage
from agent_sessions.errors import InvalidArgument

SESSION_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

# The most characters each text field accepts. Large enough for real agent traffic, small enough
# that one request cannot fill the database; `content` stays below gRPC's 4 MiB message limit.
MAX_LENGTH: Final[dict[str, int]] = {
    "session_name": 256,
    "description": 4_096,
    "agent_name": 256,
    "agent_instructions": 65_536,
    "model": 256,
    "server_tools": 4_096,
    "content": 1_000_000,
    "tool_call_id": 256,
    "tool_name": 256,
    "extra_data": 65_536,
}
LABEL_KEY_PATTERN: Final = re.compile(r"[a-z][a-z0-9_.-]{0,62}")
MAX_LABELS: Final = 64
MAX_LABEL_VALUE: Final = 256
# The longest a session may be given to live (ttl, and AGENT_SESSIONS_SESSION_TTL): 100 years.
MAX_TTL: Final = 100 * 365 * 86_400
MAX_TURN_MESSAGES: Final = 100
MAX_BATCH_MESSAGES: Final = 100
# The deepest a JSON request body may nest objects and arrays (protobuf's parsers stop at 100);
# Envoy's request validator refuses deeper bodies before they are transcoded.
MAX_JSON_DEPTH: Final = 100
DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 1000
ORDERS: Final = ("asc", "desc")


def _base_name(field: str) -> str:
    """`messages[2].content` is bounded like `content`."""
    return field.rsplit(".", 1)[-1]


def text(field: str, value: str) -> str:
    """Checks a text field's length and refuses NUL bytes (PostgreSQL text cannot hold them)."""
    limit = MAX_LENGTH[_base_name(field)]
    if len(value) > limit:
        raise InvalidArgument(field, f"must be at most {limit} characters, got {len(value)}")
    if "\x00" in value:
        raise InvalidArgument(field, "must not contain NUL (\\u0000) characters")
    return value


def optional_text(field: str, value: str | None) -> str | None:
    """Like `text`, for optional fields: absent or empty becomes None (stored as NULL)."""
    if not value:
        return None
    return text(field, value)


# The allowed models a MODEL_NOT_ALLOWED refusal names, at most.
MODELS_SHOWN: Final = 20


def model(value: str | None, allowed: frozenset[str] | None = None) -> str | None:
    """A session's model (None: the server's default): printable text only, as it goes to logs
    and to the model API; with an allowlist (AGENT_SESSIONS_MODELS), one of its models."""
    value = optional_text("model", value)
    if value is None:
        return None
    if not value.isprintable():
        raise InvalidArgument(
            "model",
            "must hold printable characters only (no line breaks, tabs or other control "
            "characters)",
        )
    if allowed is not None and value not in allowed:
        listed = sorted(allowed)
        shown = ", ".join(listed[:MODELS_SHOWN]) + (", …" if len(listed) > MODELS_SHOWN else "")
        raise InvalidArgument(
            "model",
            f"{value!r} is not a model this server lets callers choose; choose one of "
            f"{shown}, or none for the server's default",
            reason="MODEL_NOT_ALLOWED",
        )
    return value


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def json_text(field: str, value: str | None) -> str | None:
    """Checks that extra data is JSON text (None when absent). Stored exactly as sent.

    An empty string is not JSON and is refused like any other non-JSON text.
    """
    if value is None:
        return None
    text(field, value)
    try:
        json.loads(value, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidArgument(field, f"must be valid JSON text ({exc})") from None
    return value


def session_id(value: str, field: str = "session_id") -> str:
    """Checks a caller-chosen session id; required."""
    if not value:
        raise InvalidArgument(field, "is required")
    if not SESSION_ID_PATTERN.fullmatch(value):
        raise InvalidArgument(
            field,
            "must start with a letter or digit and hold at most 128 letters, digits, '.', '_' or "
            "'-' (pattern ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$)",
        )
    return value


def uuid_value(field: str, value: str) -> uuid.UUID:
    """Parses a server-assigned id."""
    if not value:
        raise InvalidArgument(field, "is required")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument(
            field, "must be a UUID such as 3f2b8a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
        ) from None


def page_size(value: int) -> int:
    """0 means the default; above the maximum is capped; negative is refused."""
    if value < 0:
        raise InvalidArgument("page_size", f"must not be negative, got {value}")
    if value == 0:
        return DEFAULT_PAGE_SIZE
    return min(value, MAX_PAGE_SIZE)


def role(field: str, value: str) -> str:
    """A message role: one of ROLES; unset and unknown values are refused."""
    if value in ROLES:
        return value
    raise InvalidArgument(field, f"must be one of {', '.join(ROLES)}")


def order(value: str) -> str:
    """`asc` (default) or `desc`."""
    if not value:
        return "asc"
    if value not in ORDERS:
        raise InvalidArgument("order", "must be 'asc' or 'desc'")
    return value


def new_message(
    prefix: str,
    role_name: str,
    content: str,
    tool_call_id: str | None,
    tool_name: str | None,
    extra_data: str | None,
) -> NewMessage:
    """Checks one incoming message; `prefix` locates it in the request (`messages[2].`)."""
    return NewMessage(
        role=role(f"{prefix}role", role_name),
        content=text(f"{prefix}content", content),
        tool_call_id=optional_text(f"{prefix}tool_call_id", tool_call_id),
        tool_name=optional_text(f"{prefix}tool_name", tool_name),
        extra_data=json_text(f"{prefix}extra_data", extra_data),
    )


# A name as model APIs take a function's: a caller tool's, and an MCP server's (sessions write it
# in `server_tools` beside tool names, and the SDK can prefix its tools' names with it).
TOOL_NAME_MAX: Final = 64
TOOL_NAME_PATTERN: Final = re.compile(rf"[A-Za-z0-9_-]{{1,{TOOL_NAME_MAX}}}")
TOOL_NAME_RULE: Final = f"1 to {TOOL_NAME_MAX} letters, digits, '_' or '-'"
MAX_TOOLS: Final = 128
MAX_TOOL_DESCRIPTION: Final = 4_096


def caller_tools(tools: list[CallerTool]) -> list[CallerTool]:
    """Checks the caller's tool declarations: names as model APIs accept them, each once."""
    if len(tools) > MAX_TOOLS:
        raise InvalidArgument("tools", f"must hold at most {MAX_TOOLS} tools")
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        if not TOOL_NAME_PATTERN.fullmatch(tool.name):
            raise InvalidArgument(
                f"tools[{i}].name",
                f"must be {TOOL_NAME_RULE} (pattern ^{TOOL_NAME_PATTERN.pattern}$)",
            )
        if tool.name in seen:
            raise InvalidArgument(f"tools[{i}].name", f"declares {tool.name!r} twice")
        seen.add(tool.name)
        if len(tool.description) > MAX_TOOL_DESCRIPTION:
            raise InvalidArgument(
                f"tools[{i}].description", f"must be at most {MAX_TOOL_DESCRIPTION} characters"
            )
        if "\x00" in tool.description:
            raise InvalidArgument(f"tools[{i}].description", "must not contain NUL characters")
        if len(json.dumps(tool.parameters)) > MAX_LENGTH["extra_data"]:
            raise InvalidArgument(
                f"tools[{i}].parameters",
                f"must be at most {MAX_LENGTH['extra_data']} bytes of JSON",
            )
    return tools


def labels(value: dict[str, Any], field: str = "labels") -> dict[str, str]:
    """Checks a session's labels: at most MAX_LABELS, keys like `team` or `cost.center`,
    string values of at most MAX_LABEL_VALUE characters (empty allowed). A bad label is named
    `labels[key]`."""
    if len(value) > MAX_LABELS:
        raise InvalidArgument(field, f"must have at most {MAX_LABELS} labels, got {len(value)}")
    for key, label_value in value.items():
        label(f"{field}[{key}]", key, label_value)
    return dict(value)


def label(field: str, key: str, value: Any) -> None:
    """Checks one label (see `labels`); `field` names it in the refusal."""
    if not LABEL_KEY_PATTERN.fullmatch(key):
        raise InvalidArgument(
            field,
            f"a label key must match ^[a-z][a-z0-9_.-]{{0,62}}$ (lower case, starting with a "
            f"letter), got {key[:80]!r}",
        )
    if not isinstance(value, str):
        raise InvalidArgument(field, "a label value must be a string")
    if len(value) > MAX_LABEL_VALUE:
        raise InvalidArgument(
            field, f"a label value must be at most {MAX_LABEL_VALUE} characters, got {len(value)}"
        )
    if "\x00" in value:
        raise InvalidArgument(field, "must not contain NUL (\\u0000) characters")


def label_filters(filters: list[str]) -> dict[str, str] | None:
    """ListSessions' `label` filters (`key:value`, all must match) as the labels a session must
    have; None without filters. LabelConflict when two want different values of one key."""
    wanted: dict[str, str] = {}
    for i, item in enumerate(filters):
        key, colon, value = item.partition(":")
        if not colon:
            raise InvalidArgument(f"label[{i}]", "must be key:value, e.g. team:search")
        label(f"label[{i}]", key, value)
        if wanted.get(key, value) != value:
            raise LabelConflict
        wanted[key] = value
    return wanted or None


class LabelConflict(Exception):
    """Two label filters want different values of one key: no session matches."""


def ttl(value: int, field: str = "ttl") -> int:
    """A new session's time to live in seconds: positive, at most MAX_TTL."""
    if not 1 <= value <= MAX_TTL:
        raise InvalidArgument(field, f"must be between 1 and {MAX_TTL} seconds, got {value}")
    return value
