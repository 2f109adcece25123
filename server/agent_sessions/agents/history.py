"""A session's messages as the OpenAI Agents SDK's input items, free of orphans.

Stored rows: a tool call is an `assistant` row with `tool_call_id`, `tool_name` and
the arguments' JSON as `content`; its result is a `tool` row with the same `tool_call_id`. Chat
Completions refuses a call without its result and a result without its call (400), and the
history window (the last N messages, chosen by the turn service) can cut a pair apart, so the
items are sanitized:

- a call is kept only when a result for it comes later; the result is moved up to follow the call
  run directly (a user message sent beside a tool result must not orphan it);
- a result with no earlier call is dropped, and so is a second result for the same call;
- consecutive calls stay one run (one assistant message with parallel `tool_calls`), their
  results follow in call order.

Items are plain dicts (`TResponseInputItem` is a union of TypedDicts); this module needs no SDK.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from agent_sessions.agents.base import AgentMessage

Item = dict[str, Any]

_CALL = "function_call"
_OUTPUT = "function_call_output"
_TEXT_ROLES = frozenset({"user", "assistant", "system"})


def input_items(
    history: Sequence[AgentMessage],
    messages: Sequence[AgentMessage],
    *,
    merge_text_with_calls: bool = True,
) -> list[Item]:
    """The history (already windowed) then the turn's messages, as sanitized input items.

    `merge_text_with_calls` writes assistant text that precedes tool calls in the output-message
    form, so Chat Completions gets one assistant message with text and `tool_calls` instead of
    two assistant messages in a row (which some local chat templates refuse). The Responses API
    takes separate items as they are, so it goes without.
    """
    items = sanitize(item for m in (*history, *messages) if (item := to_item(m)) is not None)
    return _merge_text_with_calls(items) if merge_text_with_calls else items


def split_items(
    history: Sequence[AgentMessage], messages: Sequence[AgentMessage]
) -> tuple[list[list[Item]], list[Item]]:
    """The sanitized items as (history units, oldest first; the turn's own items).

    A unit is what may be left out of a request as one: a text message, or a run of calls with
    their results. Only units made wholly of history are; from the first unit that holds any of
    the turn's own items (a call in the history answered by a result in `messages`) on,
    everything is the turn's own. `join_items` puts them back together.
    """
    own_items = [item for m in messages if (item := to_item(m)) is not None]
    history_items = [item for m in history if (item := to_item(m)) is not None]
    own = {id(item) for item in own_items}
    items = sanitize([*history_items, *own_items])
    units: list[list[Item]] = []
    position = 0
    while position < len(items):
        end = position + 1
        if items[position].get("type") == _CALL:
            while end < len(items) and items[end].get("type") in (_CALL, _OUTPUT):
                if items[end].get("type") == _CALL and items[end - 1].get("type") == _OUTPUT:
                    break  # the next run of calls is a unit of its own
                end += 1
        unit = items[position:end]
        if any(id(item) in own for item in unit):
            return units, items[position:]
        units.append(unit)
        position = end
    return units, []


def join_items(
    units: Sequence[Sequence[Item]], own: Sequence[Item], *, merge_text_with_calls: bool = True
) -> list[Item]:
    """The input items of history `units` (those kept) followed by the turn's own items."""
    items = [item for unit in units for item in unit] + list(own)
    return _merge_text_with_calls(items) if merge_text_with_calls else items


def to_item(message: AgentMessage) -> Item | None:
    """One stored message as an input item; None for a row the model cannot be given."""
    if message.role == "assistant" and message.tool_call_id:
        if not message.tool_name:
            return None  # a call without a name is unusable; its result goes as an orphan
        return {
            "type": _CALL,
            "call_id": message.tool_call_id,
            "name": message.tool_name,
            "arguments": message.content or "{}",
        }
    if message.role == "tool":
        if not message.tool_call_id:
            return None
        return {"type": _OUTPUT, "call_id": message.tool_call_id, "output": message.content}
    if message.role in _TEXT_ROLES:
        return {"role": message.role, "content": message.content}
    return None


def sanitize(items: Iterable[Item]) -> list[Item]:
    """The items with every call followed by its result and no orphan call or result."""
    items = list(items)
    # Where each call's results are, in order, to pair every call with the first one after it.
    outputs: dict[str, list[int]] = {}
    for position, item in enumerate(items):
        if item.get("type") == _OUTPUT:
            outputs.setdefault(item["call_id"], []).append(position)

    out: list[Item] = []
    used: set[int] = set()  # positions of results already placed after their call
    position = 0
    while position < len(items):
        item = items[position]
        kind = item.get("type")
        if kind == _OUTPUT:
            position += 1  # placed with its call already, or an orphan
            continue
        if kind != _CALL:
            out.append(item)
            position += 1
            continue
        calls: list[Item] = []
        answers: list[int] = []
        while position < len(items) and items[position].get("type") == _CALL:
            call = items[position]
            answer = next(
                (p for p in outputs.get(call["call_id"], []) if p > position and p not in used),
                None,
            )
            if answer is not None:
                used.add(answer)
                calls.append(call)
                answers.append(answer)
            position += 1
        out.extend(calls)
        out.extend(items[p] for p in answers)
    return out


def _merge_text_with_calls(items: list[Item]) -> list[Item]:
    merged: list[Item] = []
    for index, item in enumerate(items):
        following = items[index + 1] if index + 1 < len(items) else None
        if (
            item.get("role") == "assistant"
            and "type" not in item
            and item.get("content")
            and following is not None
            and following.get("type") == _CALL
        ):
            item = {
                "type": "message",
                "role": "assistant",
                "id": f"msg_{index}",
                "status": "completed",
                "content": [{"type": "output_text", "text": item["content"], "annotations": []}],
            }
        merged.append(item)
    return merged
