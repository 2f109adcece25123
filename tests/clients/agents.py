"""A scripted agent for the client tests: deterministic tool calls, tool results and usage,
served by a real server (`tests.support.ThreadServer`) without a model.

By default each turn follows simple rules, so concurrent callers (the TypeScript tests, the
examples) get the same answers whatever the order:

- a turn whose last message is a tool result answers with every result of the turn;
- a turn that declares caller tools calls each of them once, in one response (parallel calls),
  with arguments made from the user's last word for each required string parameter (`"…in Paris?"` →
  `{"city": "Paris"}`), 2 for a number, true for a boolean;
- any other turn calls the server tool `clock` (a `ToolCall` and its `ToolResult`), then answers.

A test that needs something else queues whole turns of events with `script()`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncGenerator, Iterable, Mapping
from typing import Any

from agent_sessions.agents import (
    Agent,
    AgentEvent,
    AgentTurn,
    TextDelta,
    ToolCall,
    ToolResult,
    UsageReport,
)

CALL_USAGE = UsageReport(input_tokens=20, output_tokens=5, total_tokens=25)
ANSWER_USAGE = UsageReport(input_tokens=30, output_tokens=10, total_tokens=40)
CLOCK_USAGE = UsageReport(input_tokens=12, output_tokens=8, total_tokens=20)


def _last_word(text: str) -> str:
    words = re.findall(r"[\w-]+", text)
    return words[-1] if words else ""


def arguments_for(parameters: Mapping[str, Any], text: str) -> dict[str, Any]:
    """Arguments for a JSON Schema object, from the user's text (see the module's docstring)."""
    values: dict[str, Any] = {}
    properties = parameters.get("properties") or {}
    required = parameters.get("required")
    for name, schema in properties.items():
        if required is not None and name not in required:
            continue  # optional: left to its default
        kind = schema.get("type") if isinstance(schema, Mapping) else None
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        if kind in ("integer", "number"):
            values[name] = 2
        elif kind == "boolean":
            values[name] = True
        else:
            values[name] = _last_word(text)
    return values


class ToolsAgent(Agent):
    """See the module's docstring. `turns` keeps every turn the agent was given."""

    def __init__(self) -> None:
        self.turns: list[AgentTurn] = []
        self._script: list[list[AgentEvent]] = []

    def script(self, *turns: Iterable[AgentEvent]) -> None:
        """Queues turns: each later turn yields the next list of events instead of the rules."""
        self._script.extend(list(turn) for turn in turns)

    def reset(self) -> int:
        """Drops the queued turns nobody used; returns how many there were."""
        left = len(self._script)
        self._script.clear()
        return left

    async def run(self, turn: AgentTurn) -> AsyncGenerator[AgentEvent, None]:
        self.turns.append(turn)
        if self._script:
            for event in self._script.pop(0):
                yield event
            return
        last = turn.messages[-1]
        model = f" (model {turn.model})" if turn.model else ""
        if last.role == "tool":
            results = [m for m in turn.messages if m.role == "tool"]
            said = "; ".join(f"{m.tool_name} said {m.content}" for m in results)
            yield TextDelta(f"Done{model}: ")
            yield TextDelta(f"{said}.")
            yield ANSWER_USAGE
            return
        user = next((m.content for m in reversed(turn.messages) if m.role == "user"), "")
        if turn.tools:
            yield TextDelta("Let me check. ")
            for tool in turn.tools:
                arguments = arguments_for(tool.parameters, user)
                yield ToolCall(f"call_{uuid.uuid4().hex[:10]}", tool.name, json.dumps(arguments))
            yield CALL_USAGE
            return
        call_id = f"clock_{uuid.uuid4().hex[:10]}"
        yield TextDelta("Checking the clock. ")
        yield ToolCall(call_id, "clock", "{}")
        yield ToolResult(call_id, "clock", "12:00")
        yield TextDelta(f"It is 12:00{model}. ")
        yield TextDelta(f"You said: {user}")
        yield CLOCK_USAGE

    async def aclose(self) -> None:
        pass
