"""The SDK's stream events as the agent events a turn stores (most stand for none)."""

from __future__ import annotations

from typing import Any

from agents.items import ToolCallItem, ToolCallOutputItem
from agents.stream_events import RawResponsesStreamEvent, RunItemStreamEvent
from openai.types.responses import ResponseRefusalDeltaEvent, ResponseTextDeltaEvent

from agent_sessions.agents.base import AgentEvent, TextDelta, ToolCall, ToolResult
from agent_sessions.agents.tools.output import flatten_tool_output


def translate(event: Any, tool_names: dict[str, str]) -> list[AgentEvent]:
    """The agent events one SDK stream event stands for. `tool_names` maps the run's call ids
    to tool names (filled at each call, read at its result)."""
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


def _field_any(raw: Any, name: str) -> Any:
    return raw.get(name) if isinstance(raw, dict) else getattr(raw, name, None)


def _field(raw: Any, name: str) -> str:
    value = _field_any(raw, name)
    return value if isinstance(value, str) else ""


__all__ = ["translate"]
