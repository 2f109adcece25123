"""The real agent: an OpenAI Agents SDK run on any OpenAI-compatible API, streamed as it happens.

What the SDK does by default and why this package does otherwise:
- a cancelled or abandoned consumer leaves the run going in the background: every stream is
  closed with `result.cancel()` in a `finally`, which cancels the model request too;
- a Chat Completions stream that ends without a finish reason counts as a complete reply: the
  chunks are checked (`agents.sdk_hooks`), and such a reply fails the turn (MODEL_UNAVAILABLE);
- tracing exports to api.openai.com whenever OPENAI_API_KEY is set: off unless configured
  (`tracing`);
- `stream_options.include_usage` goes only to api.openai.com: always asked for here;
- openai errors come out raw, with the upstream message: they are mapped to the ModelError
  family with messages of our own, the key redacted (`errors`);
- a request longer than the model's context fails the run: it goes again with the oldest
  history left out (`agents.fit`), so only a turn whose own messages do not fit fails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import suppress
from typing import Any, cast

import openai
from agents import Agent as SdkAgent
from agents import (
    FunctionTool,
    ModelSettings,
    RunConfig,
    Runner,
    Tool,
    TResponseInputItem,
)
from agents.models.interface import Model
from agents.run_error_handlers import RunErrorHandlerInput, RunErrorHandlerResult
from agents.usage import Usage

from agent_sessions.agents.base import (
    Agent,
    AgentEvent,
    AgentMessage,
    AgentTurn,
    TextDelta,
    ToolCall,
    ToolResult,
    UsageReport,
)
from agent_sessions.agents.fit import (
    Refusal,
    at_a_question,
    estimate_fixed,
    estimate_items,
    units_after_refusal,
    units_over_bytes,
    units_to_fit,
)
from agent_sessions.agents.history import Item, join_items, split_items
from agent_sessions.agents.openai.errors import context_refusal, map_model_error
from agent_sessions.agents.openai.measured import MeasuredChatModel, MeasuredResponsesModel
from agent_sessions.agents.openai.stream import translate
from agent_sessions.agents.openai.tracing import configure_tracing, is_openai
from agent_sessions.agents.redaction import display_url, redact
from agent_sessions.agents.tools.names import check_tool_names
from agent_sessions.agents.tools.servers import ToolServers
from agent_sessions.domain import CallerTool
from agent_sessions.errors import ModelNotFound
from agent_sessions.metrics import allow_model
from agent_sessions.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_AGENT_NAME = "assistant"
# Sent as the bearer key to a server configured without one (the openai client needs some key;
# keyless servers ignore it). Never a real key, so never sent on to OpenAI by accident.
NO_KEY = "no-key"
EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


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
        official = is_openai(self._endpoint)
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
            # The SDK sends it as `max_tokens` (Chat Completions) or `max_output_tokens`.
            max_tokens=settings.model_max_tokens or None,
        )
        configure_tracing(settings)
        allow_model(settings.model)  # a label value of the model metrics from the start

    @property
    def endpoint(self) -> str:
        """The model API's base URL, without any credentials in it (for logs and `make run`)."""
        return display_url(self._endpoint)

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
            self._tool_servers.servers_for(turn.server_tools, turn.owner)
            if self._tool_servers
            else []
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
        run_config = RunConfig(
            tracing_disabled=not self._settings.tracing,
            workflow_name="agent-sessions turn",
            group_id=turn.session_id if self._settings.tracing else None,
        )
        merge = self._settings.model_api == "chat_completions"
        fixed = estimate_fixed(
            turn.agent_instructions,
            [
                {"name": t.name, "description": t.description, "parameters": t.parameters}
                for t in turn.tools
            ],
        )
        # Oldest history units left out of the request: first as many as the configured context
        # size asks for, then more after each refusal of the request as too long.
        dropped = self._units_to_fit(turn, fixed)
        # What this turn produced so far, as history rows: a retry after tools ran goes on
        # from there instead of running them again.
        progress: list[AgentMessage] = []
        text: list[str] = []
        calls_made = 0
        usage = Usage()
        started = time.monotonic()
        retry = 0
        while True:
            units, own = split_items(turn.history, [*turn.messages, *progress])
            kept = units[dropped:]
            if dropped:
                logger.info(
                    "session %s: %d of %d earlier message(s) left out of the model's request "
                    "to fit its context and AGENT_SESSIONS_HISTORY_BYTES",
                    turn.session_id,
                    _messages_in(units[:dropped]),
                    _messages_in(units),
                )
            items = join_items(kept, own, merge_text_with_calls=merge)
            result = Runner.run_streamed(
                agent,
                cast(list[TResponseInputItem], items),
                max_turns=self._settings.model_max_calls - calls_made,
                run_config=run_config,
                error_handlers={"model_refusal": _refusal_is_the_answer},
            )
            events = result.stream_events()
            tool_names: dict[str, str] = {}
            # Whether text of a model call is out while that call may still go on: a retry
            # then would repeat it.
            mid_reply = False
            refused: Refusal | None = None
            try:
                try:
                    async for event in events:
                        for out in translate(event, tool_names):
                            mid_reply = _note(out, progress, text)
                            yield out
                except Exception as exc:
                    refused = context_refusal(exc)
                    if refused is None or mid_reply or not kept:
                        error = map_model_error(exc, model=model, settings=self._settings)
                        usage.add(result.context_wrapper.usage)
                        self._log_failure(error or exc, model, usage, started)
                        if error is None:
                            raise
                        # Not chained: the upstream exception's text may quote the key.
                        raise error from None
            finally:
                # Cancels the run task and with it the model request and running tools;
                # harmless after a normal end. Then close the event stream, which now returns
                # at once.
                result.cancel()
                aclose = getattr(events, "aclose", None)  # an async generator, typed as iterator
                if aclose is not None:
                    with suppress(Exception):
                        await aclose()
            usage.add(result.context_wrapper.usage)
            if refused is None:
                break
            # Refused before any of the current model call's output: the same turn again with
            # fewer of the oldest history units, the turn's own work so far kept.
            calls_made = usage.requests
            retry += 1
            dropped += units_after_refusal(
                kept,
                fixed + estimate_items(own),
                refused,
                self._settings.model_max_tokens,
                retry,
            )
            dropped = at_a_question(units, dropped)
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

    def _units_to_fit(self, turn: AgentTurn, fixed: int) -> int:
        """How many of the oldest history units to leave out before the first request: those
        beyond AGENT_SESSIONS_HISTORY_BYTES, and by the estimate against
        AGENT_SESSIONS_MODEL_CONTEXT_TOKENS when that is set."""
        units, own = split_items(turn.history, turn.messages)
        dropped = units_over_bytes(units, self._settings.history_bytes)
        if self._settings.model_context_tokens:
            fitted = units_to_fit(
                units,
                fixed + estimate_items(own),
                self._settings.model_context_tokens,
                self._settings.model_max_tokens,
            )
            dropped = max(dropped, fitted)
        return at_a_question(units, dropped)

    def _model(self, name: str) -> Model:
        if self._settings.model_api == "responses":
            return MeasuredResponsesModel(model=name, openai_client=self._client)
        return MeasuredChatModel(model=name, openai_client=self._client)

    def _log_failure(
        self, error: Exception, model: str, usage: Usage | None, started: float
    ) -> None:
        reason = getattr(error, "reason", type(error).__name__)
        text = redact(str(error), [self._api_key])
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


def _refusal_is_the_answer(data: RunErrorHandlerInput[None]) -> RunErrorHandlerResult:
    """A refusal ends the turn as its reply (its text was streamed as deltas), not as an error."""
    refusal = getattr(data.error, "refusal", "")
    return RunErrorHandlerResult(final_output=refusal, include_in_history=True)


async def _never_here(ctx: Any, arguments: str) -> str:
    """A caller tool runs at the caller; the run stops at its call before this could run."""
    raise RuntimeError("a caller tool is run by the caller, not by the service")


def _caller_tool(tool: CallerTool) -> FunctionTool:
    """A caller's tool as the SDK's: its schema as sent (not made strict), and an approval the
    service never gives, so the run stops at a call to it."""
    return FunctionTool(
        name=tool.name,
        description=tool.description,
        params_json_schema=tool.parameters or EMPTY_SCHEMA,
        on_invoke_tool=_never_here,
        strict_json_schema=False,
        needs_approval=True,
    )


def _note(event: AgentEvent, progress: list[AgentMessage], text: list[str]) -> bool:
    """Adds `event` to the turn's progress (as the rows it would be stored as); whether a model
    call's text is out and that call may still go on."""
    if isinstance(event, TextDelta):
        text.append(event.text)
        return True
    if isinstance(event, ToolCall | ToolResult) and text:
        progress.append(AgentMessage("assistant", "".join(text)))
        text.clear()
    if isinstance(event, ToolCall):
        progress.append(
            AgentMessage(
                "assistant", event.arguments, tool_call_id=event.tool_call_id, tool_name=event.name
            )
        )
    elif isinstance(event, ToolResult):
        progress.append(
            AgentMessage(
                "tool", event.output, tool_call_id=event.tool_call_id, tool_name=event.name
            )
        )
    return False


def _messages_in(units: list[list[Item]]) -> int:
    return sum(len(unit) for unit in units)


__all__ = ["DEFAULT_AGENT_NAME", "OpenAIAgent"]
