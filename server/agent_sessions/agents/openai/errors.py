"""Failures of the model API as the ModelError family, with messages of our own.

openai errors come out raw, with the upstream message (OpenAI's 401 echoes the key, masked):
upstream text is quoted only where it helps, cut short, with the key redacted, and never for
authentication failures.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from contextlib import suppress
from typing import Any

import httpx2
import openai
from agents import MaxTurnsExceeded, ModelBehaviorError

from agent_sessions.agents.fit import Refusal
from agent_sessions.agents.redaction import quote
from agent_sessions.errors import (
    ContextTooLong,
    ModelAuthFailed,
    ModelCallLimit,
    ModelError,
    ModelNotFound,
    ModelRateLimited,
    ModelRejectedRequest,
    ModelUnavailable,
)
from agent_sessions.settings import Settings


class StreamCut(Exception):
    """The model's stream ended without a finish reason: the reply may be incomplete."""


_CONTEXT_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})
_CONTEXT_TEXT = re.compile(
    r"context[ _-]?(length|window|size)|maximum context|too many tokens|prompt is too long"
    r"|exceeds? the (available )?context",
    re.IGNORECASE,
)
_MODEL_MISSING_TEXT = re.compile(
    r"model\b.*\b(not found|does not exist|not exist|unknown|not available|no such)"
    r"|(unknown|invalid|no such) model|model_not_found",
    re.IGNORECASE,
)


def map_model_error(exc: BaseException, *, model: str, settings: Settings) -> ModelError | None:
    """The ModelError for a failure of the model's API; None when `exc` is something else.

    Messages are ours: upstream text is quoted only where it helps, cut short, with the key
    redacted, and never for authentication failures (OpenAI echoes the key there).
    """
    key = settings.model_api_key
    if isinstance(exc, ModelError):
        return exc
    if isinstance(exc, MaxTurnsExceeded):
        return ModelCallLimit(
            f"the agent made {settings.model_max_calls} model calls without finishing the turn "
            "(the limit per turn is AGENT_SESSIONS_MODEL_MAX_CALLS); ask for a smaller step",
            metadata={"model": model, "limit": str(settings.model_max_calls)},
        )
    if isinstance(exc, StreamCut):
        return ModelUnavailable(f"{exc}; try again", metadata={"model": model})
    if isinstance(exc, openai.APITimeoutError):
        return ModelUnavailable(
            f"the model API did not answer within {settings.model_timeout:g} s "
            "(AGENT_SESSIONS_MODEL_TIMEOUT); try again later",
            metadata={"model": model},
        )
    if isinstance(exc, openai.APIConnectionError):
        return ModelUnavailable(
            "the model API cannot be reached; try again later (the operator should check "
            "AGENT_SESSIONS_MODEL_BASE_URL and that the model server is running)",
            metadata={"model": model},
        )
    if isinstance(exc, openai.APIStatusError):
        return _map_status(exc, model=model, key=key)
    if isinstance(exc, openai.APIError):
        # An error event inside a 200 stream: no status, only the body the server sent.
        code, kind, text = _upstream(exc)
        if _is_context_error(code, kind, text):
            return _context_too_long(model, text, key)
        return ModelUnavailable(
            f"the model API reported an error while answering: {_quote(text, key)}; "
            "try again later",
            metadata={"model": model},
        )
    if isinstance(exc, httpx2.TransportError):
        return ModelUnavailable(
            "the connection to the model API broke off; try again later",
            metadata={"model": model},
        )
    if isinstance(exc, ModelBehaviorError):
        return ModelUnavailable(
            f"the model's answer could not be used: {_quote(str(exc), key)}; try again",
            metadata={"model": model},
        )
    return None


def _map_status(exc: openai.APIStatusError, *, model: str, key: str) -> ModelError:
    status = exc.status_code
    code, kind, text = _upstream(exc)
    metadata = {"model": model, "http_status": str(status)}
    if _is_context_error(code, kind, text):
        # Before the 5xx branch: early llama.cpp answered a full context with a 500.
        return _context_too_long(model, text, key)
    if status in (401, 403):
        return ModelAuthFailed(
            f"the model API refused this service's API key (HTTP {status}); the operator must "
            "check AGENT_SESSIONS_MODEL_API_KEY (the caller's token is fine)",
            metadata=metadata,
        )
    if status == 429:
        retry_after = retry_after_seconds(exc.response.headers)
        when = f"retry after {retry_after:g} s" if retry_after is not None else "try again later"
        return ModelRateLimited(
            f"the model API is rate limiting this service; {when}",
            metadata=metadata,
            retry_after=retry_after,
        )
    if status in (400, 404, 422) and (
        code == "model_not_found" or _MODEL_MISSING_TEXT.search(text)
    ):
        return ModelNotFound(
            f"the model API does not know the model {model!r}; set the session's `model` to "
            "one it serves (sessions that name none use AGENT_SESSIONS_MODEL)",
            metadata=metadata,
        )
    if status == 404:
        # Not an API error about the model: the path itself is wrong (e.g. no /v1).
        return ModelUnavailable(
            "the model API answered 404 for its chat endpoint; the operator should check "
            "AGENT_SESSIONS_MODEL_BASE_URL (it usually ends in /v1)",
            metadata=metadata,
        )
    if status >= 500 or status in (408, 409):
        return ModelUnavailable(
            f"the model API failed (HTTP {status}); try again later", metadata=metadata
        )
    return ModelRejectedRequest(
        f"the model API refused the request (HTTP {status}): {_quote(text, key)}",
        metadata=metadata,
    )


def _context_too_long(model: str, text: str, key: str) -> ContextTooLong:
    return ContextTooLong(
        f"the turn is too long for the model {model!r} even with no earlier messages of the "
        f"session ({_quote(text, key)}); send shorter messages, or use a model with a larger "
        "context",
        metadata={"model": model},
    )


def _upstream(exc: openai.APIError) -> tuple[str, str, str]:
    """(code, type, message) of an API error, from its body when the client did not parse it."""
    body: Any = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if not isinstance(body, dict):
        body = {}
    code = exc.code if exc.code is not None else body.get("code")
    kind = exc.type if exc.type is not None else body.get("type")
    message = body.get("message")
    if not isinstance(message, str):
        # A status error's own message quotes the whole body; redacted before it is shown.
        message = exc.message or ""
    return str(code or ""), str(kind or ""), message


def _is_context_error(code: str, kind: str, text: str) -> bool:
    return code in _CONTEXT_CODES or kind in _CONTEXT_CODES or bool(_CONTEXT_TEXT.search(text))


# The numbers each server kind states (OpenAI and vLLM share the first sentence):
# OpenAI   "This model's maximum context length is N tokens. However, your messages resulted
#           in M tokens." (or "you requested M tokens (P in the messages, C in the completion)")
# vLLM     "This model's maximum context length is N tokens. However, you requested M tokens
#           (P in the messages, C in the completion)." / "... your request has P input tokens"
# llama.cpp  type exceed_context_size_error with `n_prompt_tokens` and `n_ctx` beside
#           "request (P tokens) exceeds the available context size (N tokens)"; before that a
#           500 "the request exceeds the available context size", with no numbers.
_LIMIT = re.compile(
    r"maximum context length is (\d+)|available context size \((\d+) tokens?\)"
    r"|context (?:size|window|length) (?:is|of) (\d+)",
    re.IGNORECASE,
)
_PROMPT = re.compile(
    r"(\d+) in the messages|messages resulted in (\d+)|request has (\d+) input"
    r"|request \((\d+) tokens?\)",
    re.IGNORECASE,
)
_COMPLETION = re.compile(r"(\d+) in the completion", re.IGNORECASE)


def context_refusal(exc: BaseException) -> Refusal | None:
    """What the model's API said when it refused a request as longer than the model's context,
    the numbers it gave included; None for any other failure."""
    if not isinstance(exc, openai.APIError) or isinstance(exc, openai.APIConnectionError):
        return None
    code, kind, text = _upstream(exc)
    if not _is_context_error(code, kind, text):
        return None
    body: Any = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    fields = body if isinstance(body, dict) else {}
    return Refusal(
        limit=_number(fields.get("n_ctx")) or _first(_LIMIT, text),
        prompt_tokens=_number(fields.get("n_prompt_tokens")) or _first(_PROMPT, text),
        completion_tokens=_first(_COMPLETION, text),
    )


def _first(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text)
    if match is None:
        return None
    return next((int(group) for group in match.groups() if group), None)


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def retry_after_seconds(headers: Any) -> float | None:
    """The delay an API asked for: `retry-after-ms` (OpenAI), else `retry-after` (seconds or
    an HTTP date). None when absent or unreadable."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        with suppress(ValueError):
            value = float(raw_ms) / 1000
            if math.isfinite(value) and value >= 0:
                return value
    raw = headers.get("retry-after")
    if not raw:
        return None
    with suppress(ValueError):
        value = float(raw)
        return value if math.isfinite(value) and value >= 0 else None
    with suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(raw)
        return max(0.0, when.timestamp() - time.time())
    return None


def _quote(text: str, key: str) -> str:
    """Upstream text fit to show: key redacted, one line, cut short."""
    return quote(text, [key]) or "no details given"


__all__ = ["StreamCut", "context_refusal", "map_model_error", "retry_after_seconds"]
