"""The SDK's models with each call measured: time to first token, duration, tokens by kind.

`stream_response` is the SDK's public `Model` interface, which the runner calls once per model
call (each tool round trip is one more); a subclass wraps its stream. The model label is the
configured model or one a call succeeded with (metrics.model_label), so a session naming any
model it likes cannot make label values without bound.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from agents import OpenAIResponsesModel
from openai.types.responses import ResponseStreamEvent
from opentelemetry import trace

from agent_sessions.agents.sdk_hooks import FinishCheckedChatModel
from agent_sessions.metrics import (
    MODEL_CALL_SECONDS,
    MODEL_FIRST_TOKEN,
    MODEL_TOKENS,
    allow_model,
    model_label,
)

tracer = trace.get_tracer("agent_sessions.model")


async def measured(model: str, stream: AsyncIterator[ResponseStreamEvent]) -> AsyncIterator[Any]:
    """Passes a model call's stream events through, measuring the call as they go, in a span
    of its own (a no-op unless traces are exported: ops/otel.py). The span is not made current:
    the generator's steps run in contexts it does not own."""
    span = tracer.start_span(
        f"chat {model}",
        kind=trace.SpanKind.CLIENT,
        attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": model},
    )
    started = time.perf_counter()
    first: float | None = None
    usage: Any = None
    try:
        async for event in stream:
            kind = getattr(event, "type", "")
            # The first piece of the reply: text, a refusal or a tool call's arguments.
            if first is None and kind.endswith(".delta"):
                first = time.perf_counter() - started
            elif kind == "response.completed":
                usage = getattr(event.response, "usage", None)  # type: ignore[union-attr]
                allow_model(model)
            yield event
    except BaseException as exc:
        # The type only: an API error's text may quote the request.
        span.set_status(trace.StatusCode.ERROR, type(exc).__name__)
        raise
    finally:
        if usage is not None:
            span.set_attribute("gen_ai.usage.input_tokens", getattr(usage, "input_tokens", 0) or 0)
            span.set_attribute(
                "gen_ai.usage.output_tokens", getattr(usage, "output_tokens", 0) or 0
            )
        span.end()
        label = model_label(model)
        MODEL_CALL_SECONDS.labels(label).observe(time.perf_counter() - started)
        if first is not None:
            MODEL_FIRST_TOKEN.labels(label).observe(first)
        if usage is not None:
            MODEL_TOKENS.labels(label, "input").inc(getattr(usage, "input_tokens", 0) or 0)
            MODEL_TOKENS.labels(label, "output").inc(getattr(usage, "output_tokens", 0) or 0)


class MeasuredChatModel(FinishCheckedChatModel):
    """Chat Completions (finish-checked), each call measured."""

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        return measured(str(self.model), super().stream_response(*args, **kwargs))


class MeasuredResponsesModel(OpenAIResponsesModel):
    """OpenAI's Responses API, each call measured."""

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        return measured(str(self.model), super().stream_response(*args, **kwargs))


__all__ = ["MeasuredChatModel", "MeasuredResponsesModel", "measured"]
