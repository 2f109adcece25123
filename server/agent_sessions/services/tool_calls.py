"""Tool calls and their results in a request: which calls a session waits for, and whether the
request's results answer them."""

from __future__ import annotations

import dataclasses

from agent_sessions.domain import Message, NewMessage
from agent_sessions.errors import FailedPrecondition, InvalidArgument

# Rows read from the session's end for its pending calls (and at least the agent's history
# window at the start of a turn): the trailing run of tool calls and results they are in.
PENDING_TAIL = 32


def pending_calls(tail: list[Message]) -> dict[str, str]:
    """The tool calls the session's last turn stopped at that no result answers yet, by id, with
    their tool's name, in order. They are in the session's trailing run of tool calls and
    results (a turn that stops at caller tools ends in one)."""
    answered: set[str] = set()
    pending: dict[str, str] = {}
    for m in reversed(tail):
        if m.role == "tool" and m.tool_call_id:
            answered.add(m.tool_call_id)
        elif m.role == "assistant" and m.tool_call_id:
            if m.tool_call_id not in answered:
                pending[m.tool_call_id] = m.tool_name or ""
        else:
            break
    return dict(reversed(pending.items()))


def answer_results(messages: list[NewMessage], pending: dict[str, str]) -> list[NewMessage]:
    """Checks the request's tool results against the calls they answer and names their tool:
    a result must answer a pending call or an assistant tool call earlier in the request
    (UNKNOWN_TOOL_CALL)."""
    earlier: dict[str, str] = {}
    checked: list[NewMessage] = []
    for i, m in enumerate(messages):
        if m.role == "assistant" and m.tool_call_id:
            earlier[m.tool_call_id] = m.tool_name or ""
        elif m.role == "tool":
            call_id = m.tool_call_id or ""
            name = earlier.get(call_id, pending.get(call_id))
            if name is None:
                raise InvalidArgument(
                    f"messages[{i}].tool_call_id",
                    f"{call_id!r} answers no pending tool call of this session and no assistant "
                    "tool call earlier in this request; send the tool_call_id of a call from "
                    "pending_tool_calls",
                    reason="UNKNOWN_TOOL_CALL",
                )
            if m.tool_name is None and name:
                m = dataclasses.replace(m, tool_name=name)
        checked.append(m)
    return checked


def require_answers(messages: list[NewMessage], pending: dict[str, str]) -> None:
    """A turn must answer every call the session waits for (TOOL_RESULTS_MISSING)."""
    answered = {m.tool_call_id for m in messages if m.role == "tool"}
    missing = [call_id for call_id in pending if call_id not in answered]
    if missing:
        raise FailedPrecondition(
            f"the session waits for the results of tool calls {', '.join(missing)}; send one "
            'message {"role": "tool", "tool_call_id": …, "content": …} per call '
            "in this request",
            reason="TOOL_RESULTS_MISSING",
            metadata={"tool_call_ids": ",".join(missing)},
        )
