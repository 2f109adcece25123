"""How much of a session's history fits the model's context: a cheap token estimate, and which
oldest units to leave out before a request (a configured context size) or after a refusal.

The estimate needs no tokenizer: a quarter of the UTF-8 bytes of each item's text (about right
for English with the common BPE tokenizers, low for code and most other scripts) plus a few
tokens per message for the chat template's role markers; budgets compare it times 1.25. A
refusal that states the real prompt size corrects the estimate in proportion.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Item = dict[str, Any]

# Tokens a chat template adds around each message (role markers, separators).
MESSAGE_OVERHEAD = 4
# Budgets hold the estimate times this: chars/4 is short for code and non-English text.
SAFETY = 1.25
# Room kept for the reply when AGENT_SESSIONS_MODEL_MAX_TOKENS does not say: a quarter of the
# context, at most this many tokens.
REPLY_RESERVE_CAP = 1024
# Retries of one turn with a shorter history after the model's API refused it as too long; the
# last one sends no history at all.
MAX_FIT_RETRIES = 3


@dataclass(frozen=True)
class Refusal:
    """What a context-length refusal said: the context size and the request's prompt and
    completion tokens, each None when the server did not say."""

    limit: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


def estimate_text(text: str) -> int:
    """The estimated tokens of `text`: a quarter of its UTF-8 bytes, rounded up."""
    return -(-len(text.encode()) // 4)


def estimate_item(item: Item) -> int:
    """The estimated tokens of one input item (its text, not its JSON keys), with overhead."""
    return MESSAGE_OVERHEAD + sum(estimate_text(text) for text in _texts(item))


def estimate_items(items: Iterable[Item]) -> int:
    return sum(estimate_item(item) for item in items)


def estimate_fixed(instructions: str | None, tool_schemas: Sequence[Any]) -> int:
    """The estimated tokens every request of a turn carries besides its items: the instructions
    and the declared tools' schemas."""
    total = (MESSAGE_OVERHEAD + estimate_text(instructions)) if instructions else 0
    return total + sum(estimate_text(json.dumps(schema)) for schema in tool_schemas)


def reply_reserve(context_tokens: int, max_tokens: int) -> int:
    """Tokens kept free for the reply: AGENT_SESSIONS_MODEL_MAX_TOKENS when set, else a quarter
    of the context, at most REPLY_RESERVE_CAP."""
    return max_tokens or min(context_tokens // 4, REPLY_RESERVE_CAP)


def units_to_fit(
    units: Sequence[Sequence[Item]], other_tokens: int, context_tokens: int, max_tokens: int
) -> int:
    """How many of the oldest `units` to leave out so the request fits a context of
    `context_tokens` (estimated, with SAFETY) and leaves the reply its reserve. `other_tokens`
    is the estimate of the rest of the request. All of them when even none would not fit."""
    budget = context_tokens - reply_reserve(context_tokens, max_tokens)
    sizes = [estimate_items(unit) for unit in units]
    total = other_tokens + sum(sizes)
    dropped = 0
    while dropped < len(sizes) and total * SAFETY > budget:
        total -= sizes[dropped]
        dropped += 1
    return dropped


def unit_bytes(unit: Sequence[Item]) -> int:
    """The UTF-8 bytes of one unit's text (as `estimate_item` counts it, without overhead)."""
    return sum(len(text.encode()) for item in unit for text in _texts(item))


def units_over_bytes(units: Sequence[Sequence[Item]], budget: int) -> int:
    """How many of the oldest `units` to leave out so the text of those kept is at most
    `budget` bytes (AGENT_SESSIONS_HISTORY_BYTES); a unit (a call with its result) goes whole."""
    total = sum(unit_bytes(unit) for unit in units)
    dropped = 0
    while dropped < len(units) and total > budget:
        total -= unit_bytes(units[dropped])
        dropped += 1
    return dropped


def units_after_refusal(
    units: Sequence[Sequence[Item]],
    other_tokens: int,
    refusal: Refusal,
    max_tokens: int,
    retry: int,
) -> int:
    """How many more of the oldest `units` (those still sent) to leave out after a refusal.

    With the context size and the prompt's real size, the estimate of each unit is scaled by
    their ratio to the request's estimate, and enough units go to bring the prompt under the
    context less the reply's reserve and a 5 % margin, in one retry when the tokens are spread
    like the text. Without them, half of the history's estimate goes. At least one unit goes;
    at the last retry (MAX_FIT_RETRIES) all of them.
    """
    if not units:
        return 0
    if retry >= MAX_FIT_RETRIES:
        return len(units)
    sizes = [estimate_items(unit) for unit in units]
    estimate = other_tokens + sum(sizes)
    limit, prompt = refusal.limit, refusal.prompt_tokens
    if limit and prompt and estimate > 0:
        reserve = refusal.completion_tokens or reply_reserve(limit, max_tokens)
        target = limit - reserve - limit // 20
        excess = (prompt - target) * estimate / prompt  # in estimated tokens
    else:
        excess = sum(sizes) / 2
    dropped, removed = 0, 0
    while dropped < len(sizes) and (dropped == 0 or removed < excess):
        removed += sizes[dropped]
        dropped += 1
    return dropped


def at_a_question(units: Sequence[Sequence[Item]], dropped: int) -> int:
    """`dropped`, or more, so that what is kept of a shortened history starts at a user message
    (an answer without its question confuses the model, and some chat templates refuse a
    conversation that does not start with the user). Unchanged when nothing is left out, or no
    user message is left to start at."""
    if dropped == 0:
        return 0
    start = next((i for i in range(dropped, len(units)) if units[i][0].get("role") == "user"), None)
    return dropped if start is None else start


def _texts(item: Item) -> Iterable[str]:
    for key in ("content", "output", "arguments", "name"):
        value = item.get(key)
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):  # content parts (the output-message form, MCP outputs)
            for part in value:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    yield part["text"]


__all__ = [
    "MAX_FIT_RETRIES",
    "Refusal",
    "at_a_question",
    "estimate_fixed",
    "estimate_item",
    "estimate_items",
    "estimate_text",
    "reply_reserve",
    "unit_bytes",
    "units_after_refusal",
    "units_over_bytes",
    "units_to_fit",
]
