"""The mock agent: `This is a mock response to: <last user message>`."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Iterator
from typing import Final

from agent_sessions.agents.base import Agent, AgentEvent, AgentTurn, TextDelta

MOCK_PREFIX = "This is a mock response to: "
_PIECES = re.compile(r"\S*\s*")
# The reply streams word by word up to this many characters, as a model's would; beyond, words
# are sent together in deltas of at most DELTA_CHARS, so a long reply is a few dozen events (a
# 1 MB message made half a million, each held by the turn until it was stored).
WORD_BY_WORD: Final = 1024
DELTA_CHARS: Final = 16_384


def deltas(text: str) -> Iterator[str]:
    """`text` in pieces that add up to it: words (each with the whitespace after it) for its
    first WORD_BY_WORD characters, then runs of words of at most DELTA_CHARS characters (a
    longer word is cut)."""
    sent = 0
    run: list[str] = []
    size = 0
    for word in _PIECES.findall(text):
        if not word:
            continue
        if not run and sent < WORD_BY_WORD and len(word) <= DELTA_CHARS:
            sent += len(word)
            yield word
            continue
        while len(word) > DELTA_CHARS - size:
            room = DELTA_CHARS - size
            yield "".join([*run, word[:room]])
            run, size, word = [], 0, word[room:]
        if word:
            run.append(word)
            size += len(word)
    if run:
        yield "".join(run)


class MockAgent(Agent):
    """Answers with the mock reply, streamed word by word, then in larger pieces."""

    # It answers from the turn's own messages, and does nothing else: the turn service reads
    # it no history, and may run it before reading the session (see Agent).
    uses_history = False
    reads_session = False

    async def run(self, turn: AgentTurn) -> AsyncGenerator[AgentEvent, None]:
        last_user = next((m.content for m in reversed(turn.messages) if m.role == "user"), "")
        for piece in deltas(MOCK_PREFIX + last_user):
            yield TextDelta(piece)

    async def aclose(self) -> None:
        """Holds nothing."""
