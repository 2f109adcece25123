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
  family with messages of our own, the key redacted (`errors`).
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
    OpenAIResponsesModel,
    RunConfig,
    Runner,
    RunResultStreaming,
    Tool,
    TResponseInputItem,
)
from agents.models.interface import Model
from agents.run_error_handlers import RunErrorHandlerInput, RunErrorHandlerResult
from agents.usage import Usage

from agent_sessions.agents.base import Agent, AgentEvent, AgentTurn, UsageReport
from agent_sessions.agents.history import input_items
from agent_sessions.agents.openai.errors import map_model_error
from agent_sessions.agents.openai.stream import translate
from agent_sessions.agents.openai.tracing import configure_tracing, is_openai
from agent_sessions.agents.redaction import display_url, redact
from agent_sessions.agents.sdk_hooks import FinishCheckedChatModel
from agent_sessions.agents.tools.names import check_tool_names
from agent_sessions.agents.tools.servers import ToolServers
from agent_sessions.domain import CallerTool
from agent_sessions.errors import ModelNotFound
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
        )
        configure_tracing(settings)

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
                    for out in translate(event, tool_names):
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
        return FinishCheckedChatModel(model=name, openai_client=self._client)

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


def _usage_of(result: RunResultStreaming, exc: BaseException) -> Usage | None:
    run_data = getattr(exc, "run_data", None)
    wrapper = getattr(run_data, "context_wrapper", None) or result.context_wrapper
    usage = getattr(wrapper, "usage", None)
    return usage if isinstance(usage, Usage) else None


__all__ = ["DEFAULT_AGENT_NAME", "OpenAIAgent"]
