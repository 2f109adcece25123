"""The real agent: an OpenAI Agents SDK run on any OpenAI-compatible API, streamed as it happens.

What the SDK does by default and why this module does otherwise (../shared/AGENT_RUNTIME_FACTS.md):
- a cancelled or abandoned consumer leaves the run going in the background: every stream is
  closed with `result.cancel()` in a `finally`, which cancels the model request too;
- a Chat Completions stream that ends without a finish reason counts as a complete reply: the
  chunks are checked here, and such a reply fails the turn (MODEL_UNAVAILABLE);
- tracing exports to api.openai.com whenever OPENAI_API_KEY is set: off unless configured;
- `stream_options.include_usage` goes only to api.openai.com: always asked for here;
- openai errors come out raw, with the upstream message (OpenAI's 401 echoes the key, masked):
  they are mapped to the ModelError family with messages of our own, the key redacted.
"""

from __future__ import annotations

import email.utils
import logging
import math
import re
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import suppress
from typing import Any, cast
from urllib.parse import urlsplit

import httpx2
import openai
from agents import (
    Agent as SdkAgent,
)
from agents import (
    FunctionTool,
    MaxTurnsExceeded,
    ModelBehaviorError,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    RunConfig,
    Runner,
    RunResultStreaming,
    Tool,
    TResponseInputItem,
    set_tracing_disabled,
    set_tracing_export_api_key,
)
from agents.items import ToolCallItem, ToolCallOutputItem
from agents.models.interface import Model
from agents.run_error_handlers import RunErrorHandlerInput, RunErrorHandlerResult
from agents.stream_events import RawResponsesStreamEvent, RunItemStreamEvent
from agents.usage import Usage
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseRefusalDeltaEvent, ResponseTextDeltaEvent

from agent_sessions.agents.base import (
    Agent,
    AgentEvent,
    AgentTurn,
    TextDelta,
    ToolCall,
    ToolResult,
    UsageReport,
)
from agent_sessions.agents.history import input_items
from agent_sessions.agents.tool_servers import (
    ToolServers,
    check_tool_names,
    flatten_tool_output,
)
from agent_sessions.domain import CallerTool
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
from agent_sessions.settings import OPENAI_BASE_URL, Settings

logger = logging.getLogger(__name__)

DEFAULT_AGENT_NAME = "assistant"
# Sent as the bearer key to a server configured without one (the openai client needs some key;
# keyless servers ignore it). Never a real key, so never sent on to OpenAI by accident.
NO_KEY = "no-key"
# Upstream error text quoted in our messages is cut to this many characters.
QUOTE_LIMIT = 300
REDACTED = "[redacted]"


class StreamCut(Exception):
    """The model's stream ended without a finish reason: the reply may be incomplete."""


class OpenAIAgent(Agent):
    """Runs turns with the OpenAI Agents SDK on one shared `AsyncOpenAI` client (one endpoint).

    `tools` are SDK tools every turn's agent gets; `tool_servers` the MCP servers whose tools it
    may call (narrowed per session); the caller's tools of a turn are declared to the model and
    never run here: the run stops at a call to one (`needs_approval`).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        tools: Sequence[Tool] = (),
        client: openai.AsyncOpenAI | None = None,
        tool_servers: ToolServers | None = None,
    ) -> None:
        self._settings = settings
        self._tools = list(tools)
        self._tool_servers = tool_servers
        self._api_key = settings.model_api_key
        self._endpoint = settings.model_endpoint
        official = _is_openai(self._endpoint)
        self._client = client or openai.AsyncOpenAI(
            # Explicit, so OPENAI_API_KEY or OPENAI_BASE_URL in the environment never apply.
            api_key=self._api_key or NO_KEY,
            base_url=self._endpoint,
            # Connect fast to an endpoint that is down; then the model may think for `timeout`.
            timeout=openai.Timeout(
                settings.model_timeout, connect=min(settings.model_timeout, 10.0)
            ),
            max_retries=settings.model_max_retries,
        )
        self._model_settings = ModelSettings(
            include_usage=True,
            # OpenAI stores Chat Completions by default; this service keeps the conversation.
            store=False if official else None,
        )
        configure_tracing(settings)

    @property
    def endpoint(self) -> str:
        """The model API's base URL, without any credentials in it (for logs and `make run`)."""
        return _display(self._endpoint)

    # -- the Agent protocol ----------------------------------------------------------------------

    async def run(self, turn: AgentTurn) -> AsyncGenerator[AgentEvent, None]:
        model = turn.model or self._settings.model
        if not model:
            raise ModelNotFound(
                "no model to run: set the session's `model`, or the operator sets "
                "AGENT_SESSIONS_MODEL",
            )
        # Raises TOOL_UNAVAILABLE before anything runs when a server the session may use is
        # down; sessions that may not use it are unaffected.
        mcp_servers = (
            self._tool_servers.servers_for(turn.server_tools) if self._tool_servers else []
        )
        await check_tool_names(mcp_servers, [tool.name for tool in turn.tools])
        agent: SdkAgent[None] = SdkAgent(
            name=turn.agent_name or DEFAULT_AGENT_NAME,
            instructions=turn.agent_instructions or None,
            model=self._model(model),
            model_settings=self._model_settings,
            tools=[*self._tools, *(_caller_tool(t) for t in turn.tools)],
            mcp_servers=list(mcp_servers),
            # MCP schemas and the caller's go to the model as given, not rewritten as strict.
            mcp_config={"convert_schemas_to_strict": False},
        )
        items = input_items(
            turn.history,
            turn.messages,
            merge_text_with_calls=self._settings.model_api == "chat_completions",
        )
        run_config = RunConfig(
            tracing_disabled=not self._settings.tracing,
            workflow_name="agent-sessions turn",
            group_id=turn.session_id if self._settings.tracing else None,
        )
        started = time.monotonic()
        result = Runner.run_streamed(
            agent,
            cast(list[TResponseInputItem], items),
            max_turns=self._settings.model_max_calls,
            run_config=run_config,
            error_handlers={"model_refusal": _refusal_is_the_answer},
        )
        events = result.stream_events()
        tool_names: dict[str, str] = {}
        try:
            try:
                async for event in events:
                    for out in _translate(event, tool_names):
                        yield out
            except Exception as exc:
                error = map_model_error(exc, model=model, settings=self._settings)
                self._log_failure(error or exc, model, _usage_of(result, exc), started)
                if error is None:
                    raise
                # Not chained: the upstream exception's text may quote the key.
                raise error from None
        finally:
            # Cancels the run task and with it the model request and running tools; harmless
            # after a normal end. Then close the event stream, which now returns at once.
            result.cancel()
            aclose = getattr(events, "aclose", None)  # an async generator, typed as an iterator
            if aclose is not None:
                with suppress(Exception):
                    await aclose()
        usage = result.context_wrapper.usage
        yield UsageReport(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            total_tokens=usage.total_tokens,
        )

    async def start(self) -> None:
        """Connects the MCP servers (a server that is down is retried in the background)."""
        if self._tool_servers is not None:
            await self._tool_servers.start()

    async def aclose(self) -> None:
        if self._tool_servers is not None:
            await self._tool_servers.close()
        await self._client.close()

    # -- helpers ---------------------------------------------------------------------------------

    def _model(self, name: str) -> Model:
        if self._settings.model_api == "responses":
            return OpenAIResponsesModel(model=name, openai_client=self._client)
        return _FinishCheckedChatModel(model=name, openai_client=self._client)

    def _log_failure(
        self, error: Exception, model: str, usage: Usage | None, started: float
    ) -> None:
        reason = getattr(error, "reason", type(error).__name__)
        text = redact(str(error), self._api_key)
        if usage is not None and (usage.requests or usage.total_tokens):
            logger.warning(
                "model turn failed after %.1f s (%s, model %s at %s): %s; used %d model "
                "call(s), %d input + %d output = %d tokens",
                time.monotonic() - started,
                reason,
                model,
                self.endpoint,
                text,
                usage.requests,
                usage.input_tokens,
                usage.output_tokens,
                usage.total_tokens,
            )
        else:
            logger.warning(
                "model turn failed after %.1f s (%s, model %s at %s): %s; usage unknown",
                time.monotonic() - started,
                reason,
                model,
                self.endpoint,
                text,
            )


# -- streaming ------------------------------------------------------------------------------------


def _translate(event: Any, tool_names: dict[str, str]) -> list[AgentEvent]:
    """The agent events one SDK stream event stands for (most stand for none)."""
    if isinstance(event, RawResponsesStreamEvent):
        data = event.data
        # A refusal is the model's answer too ("I can't help with that"); without it the
        # reply would be empty.
        if isinstance(data, ResponseTextDeltaEvent | ResponseRefusalDeltaEvent) and data.delta:
            return [TextDelta(data.delta)]
        return []
    if not isinstance(event, RunItemStreamEvent):
        return []
    item = event.item
    if event.name == "tool_called" and isinstance(item, ToolCallItem):
        raw = item.raw_item
        call_id = _field(raw, "call_id")
        name = _field(raw, "name")
        if not call_id or not name:
            return []  # hosted tools (web search, …) have no call to store
        tool_names[call_id] = name
        return [
            ToolCall(tool_call_id=call_id, name=name, arguments=_field(raw, "arguments") or "{}")
        ]
    if event.name == "tool_output" and isinstance(item, ToolCallOutputItem):
        call_id = _field(item.raw_item, "call_id")
        if not call_id:
            return []
        raw_output = _field_any(item.raw_item, "output")
        output = flatten_tool_output(raw_output if raw_output is not None else item.output)
        return [ToolResult(tool_call_id=call_id, name=tool_names.get(call_id, ""), output=output)]
    return []


def _refusal_is_the_answer(data: RunErrorHandlerInput[None]) -> RunErrorHandlerResult:
    """A refusal ends the turn as its reply (its text was streamed as deltas), not as an error."""
    refusal = getattr(data.error, "refusal", "")
    return RunErrorHandlerResult(final_output=refusal, include_in_history=True)


def _field_any(raw: Any, name: str) -> Any:
    return raw.get(name) if isinstance(raw, dict) else getattr(raw, name, None)


def _field(raw: Any, name: str) -> str:
    value = _field_any(raw, name)
    return value if isinstance(value, str) else ""


async def _never_here(ctx: Any, arguments: str) -> str:
    """A caller tool runs at the caller; the run stops at its call before this could run."""
    raise RuntimeError("a caller tool is run by the caller, not by the service")


EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def _caller_tool(tool: CallerTool) -> FunctionTool:
    """A caller's tool as the SDK's: its schema as sent (not made strict), and an approval the
    service never gives, so the run stops at a call to it (AGENT_RUNTIME_FACTS §4b)."""
    return FunctionTool(
        name=tool.name,
        description=tool.description,
        params_json_schema=tool.parameters or EMPTY_SCHEMA,
        on_invoke_tool=_never_here,
        strict_json_schema=False,
        needs_approval=True,
    )


def _usage_of(result: RunResultStreaming, exc: BaseException) -> Usage | None:
    run_data = getattr(exc, "run_data", None)
    wrapper = getattr(run_data, "context_wrapper", None) or result.context_wrapper
    usage = getattr(wrapper, "usage", None)
    return usage if isinstance(usage, Usage) else None


class _FinishChecked:
    """Passes a Chat Completions stream through; fails at its end unless choice 0 finished.

    A server that dies mid-reply may close the body cleanly: the SDK would then take the partial
    text for the whole reply (it checks the finish reason only for api.openai.com).
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._iterator: Any = None
        self._finished = False
        # The SDK reads the request id from here.
        self.response = getattr(stream, "response", None)

    def __aiter__(self) -> _FinishChecked:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        if self._iterator is None:
            self._iterator = self._stream.__aiter__()
        try:
            chunk: ChatCompletionChunk = await self._iterator.__anext__()
        except StopAsyncIteration:
            if not self._finished:
                raise StreamCut(
                    "the model's stream ended before the reply was complete (no finish reason)"
                ) from None
            raise
        if not self._finished:
            self._finished = any(
                c.index == 0 and c.finish_reason is not None for c in chunk.choices or ()
            )
        return chunk

    async def close(self) -> None:
        await self._stream.close()


class _FinishCheckedChatModel(OpenAIChatCompletionsModel):
    """The SDK's Chat Completions model with every stream checked by `_FinishChecked`."""

    async def _fetch_response(self, *args: Any, **kwargs: Any) -> Any:
        fetched = await super()._fetch_response(*args, **kwargs)
        if isinstance(fetched, tuple):
            response, stream = fetched
            return response, _FinishChecked(stream)
        return fetched


# -- tracing --------------------------------------------------------------------------------------


def configure_tracing(settings: Settings) -> None:
    """Turns the SDK's trace export off (the default here), or on as the operator asked.

    The switch is the SDK's global one: every run in the process follows it. The exporter sends
    to OpenAI with OPENAI_API_KEY; when the model itself is OpenAI's, its key serves as well.
    A key for another endpoint is never handed to OpenAI.
    """
    set_tracing_disabled(not settings.tracing)
    if settings.tracing and settings.model_api_key and _is_openai(settings.model_endpoint):
        set_tracing_export_api_key(settings.model_api_key)


# -- errors ---------------------------------------------------------------------------------------

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
        f"the conversation is too long for the model {model!r} ({_quote(text, key)}); "
        "start a new session, delete old messages, or use a model with a larger context",
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


def redact(text: str, key: str) -> str:
    """`text` with the API key (when there is one worth hiding) replaced."""
    if key and len(key) >= 4:
        text = text.replace(key, REDACTED)
    return text


def _quote(text: str, key: str) -> str:
    """Upstream text fit to show: key redacted, one line, at most QUOTE_LIMIT characters."""
    text = " ".join(redact(text, key).split())
    if not text:
        return "no details given"
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 1] + "…"


def _is_openai(url: str) -> bool:
    return urlsplit(url).hostname == urlsplit(OPENAI_BASE_URL).hostname


def _display(url: str) -> str:
    """The URL without user:password@."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return parts._replace(netloc=host).geturl()


__all__ = [
    "DEFAULT_AGENT_NAME",
    "OpenAIAgent",
    "StreamCut",
    "configure_tracing",
    "map_model_error",
    "redact",
    "retry_after_seconds",
]
