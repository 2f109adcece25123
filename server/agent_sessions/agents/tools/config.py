"""AGENT_SESSIONS_MCP_SERVERS: the MCP servers to connect, parsed and checked (no SDK needed).

Header values are secrets (bearer tokens): they go to their server and nowhere else, not in
reprs, logs or error messages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from agent_sessions.agents.redaction import display_url
from agent_sessions.agents.tools.access import ClaimRule, ClaimValue
from agent_sessions.agents.tools.allowlist import NONE, SERVER_NAME_PATTERN
from agent_sessions.settings import PREFIX, SettingsError
from agent_sessions.validation import TOOL_NAME_RULE

SETTING = f"{PREFIX}MCP_SERVERS"
EXAMPLE = '[{"name": "files", "url": "http://127.0.0.1:9000/mcp", "headers": {...}}]'
_KEYS = ("name", "url", "headers", "allow_claims")
# RFC 9110 field names (tokens); values: visible ASCII, spaces and tabs.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


@dataclass(frozen=True)
class McpServerConfig:
    """One MCP server of AGENT_SESSIONS_MCP_SERVERS. `headers` go with every request to it;
    `allow_claims` says which users may use it (None: everyone; see `access`)."""

    name: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    allow_claims: ClaimRule | None = field(default=None, hash=False)

    def __repr__(self) -> str:
        # Header values are secrets (bearer tokens); their names are not.
        names = ", ".join(self.headers)
        return (
            f"McpServerConfig(name={self.name!r}, url={display_url(self.url)!r}, headers=[{names}])"
        )

    __str__ = __repr__

    def secrets(self) -> Iterator[str]:
        """What must never be shown: each header's value, and a bearer header's token alone."""
        for value in self.headers.values():
            yield value
            _scheme, _, token = value.partition(" ")
            if token:
                yield token


def parse_mcp_servers(raw: str) -> list[McpServerConfig]:
    """The servers of AGENT_SESSIONS_MCP_SERVERS (empty → none); SettingsError naming the
    variable for any unusable value. Header values never appear in the message."""
    text = raw.strip()
    if not text:
        return []
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        # The message and position only: the document may hold tokens.
        raise SettingsError(
            f"{SETTING} must be a JSON list such as {EXAMPLE}; it is not valid JSON "
            f"({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(value, list):
        raise SettingsError(f"{SETTING} must be a JSON list such as {EXAMPLE}, got {_kind(value)}")
    configs: list[McpServerConfig] = []
    seen: set[str] = set()
    for index, entry in enumerate(value):
        config = _parse_entry(entry, f"{SETTING}[{index}]")
        if config.name.lower() in seen:
            raise SettingsError(
                f"{SETTING} names the server {config.name!r} twice; names must be unique "
                "(compared ignoring case)"
            )
        seen.add(config.name.lower())
        configs.append(config)
    return configs


def _parse_entry(entry: Any, where: str) -> McpServerConfig:
    if not isinstance(entry, dict):
        raise SettingsError(
            f"{where} must be an object with name, url and headers, got {_kind(entry)}"
        )
    unknown = sorted(str(key) for key in set(entry) - set(_KEYS))
    if unknown:
        raise SettingsError(f"{where} has unknown keys {unknown}; allowed are {', '.join(_KEYS)}")
    name = entry.get("name")
    if not isinstance(name, str) or not SERVER_NAME_PATTERN.fullmatch(name):
        shown = repr(name[:70]) if isinstance(name, str) else _kind(name)
        raise SettingsError(
            f"{where}.name must be {TOOL_NAME_RULE} (sessions name the server by it), got {shown}"
        )
    if name.lower() == NONE:
        raise SettingsError(f"{where}.name must not be {NONE!r}: sessions use it for 'no tools'")
    url = entry.get("url")
    if not isinstance(url, str) or not _usable_url(url):
        shown = repr(display_url(url)) if isinstance(url, str) else _kind(url)
        raise SettingsError(
            f"{where}.url (server {name!r}) must be an http:// or https:// URL such as "
            f"http://127.0.0.1:9000/mcp, got {shown}"
        )
    headers = entry.get("headers")
    if headers is None:
        headers = {}
    if not isinstance(headers, dict):
        raise SettingsError(
            f"{where}.headers (server {name!r}) must be an object of header names to text "
            f"values, got {_kind(headers)}"
        )
    seen: set[str] = set()
    for key, header in headers.items():
        if not _HEADER_NAME.fullmatch(key):
            raise SettingsError(
                f"{where}.headers (server {name!r}) has an invalid header name {key[:70]!r}"
            )
        if key.lower() in seen:
            raise SettingsError(f"{where}.headers (server {name!r}) sets {key!r} twice")
        seen.add(key.lower())
        # Never the value itself, nor its type's repr: it is a secret.
        if not isinstance(header, str):
            raise SettingsError(
                f"{where}.headers[{key!r}] (server {name!r}) must be text, got {_kind(header)} "
                "(the value is not shown)"
            )
        if not _HEADER_VALUE.fullmatch(header):
            raise SettingsError(
                f"{where}.headers[{key!r}] (server {name!r}) must be printable ASCII without "
                "line breaks (check for a pasted newline; the value is not shown)"
            )
    return McpServerConfig(
        name=name,
        url=url,
        headers=dict(headers),
        allow_claims=_allow_claims(entry.get("allow_claims"), f"{where}.allow_claims", name),
    )


def _allow_claims(value: Any, where: str, name: str) -> ClaimRule | None:
    """`allow_claims`: claim name → a value or a non-empty list of values (text, integers,
    booleans); absent or null → the server is open to every user."""
    if value is None:
        return None
    shape = 'an object of claim names to a value or a list of values, e.g. {"groups": ["search"]}'
    if not isinstance(value, dict) or not value:
        raise SettingsError(f"{where} (server {name!r}) must be {shape}, got {_kind(value)}")
    rule: dict[str, tuple[ClaimValue, ...]] = {}
    for claim, wanted in value.items():
        values = wanted if isinstance(wanted, list) else [wanted]
        if not claim or not values or not all(_claim_value(v) for v in values):
            raise SettingsError(
                f"{where}[{claim[:70]!r}] (server {name!r}) must be a text, integer or boolean "
                "value, or a non-empty list of them"
            )
        rule[claim] = tuple(values)
    return rule


def _claim_value(value: Any) -> bool:
    return isinstance(value, str | int)  # booleans are ints; floats and null are refused


def _usable_url(url: str) -> bool:
    """Whether `url` is an http(s) URL with a host, a valid port and no fragment or spaces."""
    if any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for an invalid port
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname) and not parts.fragment


def _kind(value: Any) -> str:
    """What a JSON value is, without its content."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


__all__ = ["SETTING", "McpServerConfig", "parse_mcp_servers"]
