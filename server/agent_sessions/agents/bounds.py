"""What an agent produced, made storable: no NUL characters, and bounded text per message.

A model or a tool may produce anything. PostgreSQL text cannot hold NUL (U+0000), so each one
becomes U+FFFD (the replacement character) in the stream and in what is stored alike. The text
of one assistant message (the text between tool events), a tool call's arguments and a tool's
output are each cut at MAX_STORED_TEXT characters, ending with TRUNCATED_MARKER; the stream's
deltas are cut the same way, so they still add up to the stored reply.
"""

from __future__ import annotations

from typing import Final

from agent_sessions.agents.base import AgentEvent, TextDelta, ToolCall, ToolResult

# Above the longest message a caller may send (1,000,000 characters), so the mock's reply to one
# is never cut.
MAX_STORED_TEXT: Final = 1_048_576
TRUNCATED_MARKER: Final = "\n[truncated by agent-sessions: longer than 1048576 characters]"
REPLACEMENT: Final = "\ufffd"


def storable(text: str) -> str:
    """`text` with every NUL character replaced by U+FFFD."""
    return text.replace("\x00", REPLACEMENT) if "\x00" in text else text


def capped(text: str) -> str:
    """`text` (storable), cut to MAX_STORED_TEXT characters with the marker when longer."""
    text = storable(text)
    if len(text) <= MAX_STORED_TEXT:
        return text
    return text[: MAX_STORED_TEXT - len(TRUNCATED_MARKER)] + TRUNCATED_MARKER


class Bounded:
    """Makes one turn's events storable, in order; `take` returns None for text beyond the cap
    of the current message (its marker was sent already)."""

    def __init__(self) -> None:
        self._text = 0  # characters of the current assistant message so far
        self._cut = False  # whether the current message was cut

    def take(self, event: AgentEvent) -> AgentEvent | None:
        if isinstance(event, TextDelta):
            return self._text_delta(event.text)
        self._text, self._cut = 0, False  # a tool event ends the current message
        if isinstance(event, ToolCall):
            return ToolCall(
                storable(event.tool_call_id), storable(event.name), capped(event.arguments)
            )
        if isinstance(event, ToolResult):
            return ToolResult(
                storable(event.tool_call_id), storable(event.name), capped(event.output)
            )
        return event

    def _text_delta(self, text: str) -> TextDelta | None:
        if self._cut:
            return None
        text = storable(text)
        room = MAX_STORED_TEXT - self._text
        if len(text) <= room - len(TRUNCATED_MARKER):
            self._text += len(text)
            return TextDelta(text)
        # Too long for what is left: keep what fits before the marker (the marker itself always
        # fits, as it is only sent once the text reaches the room kept for it).
        self._cut = True
        kept = text[: max(0, room - len(TRUNCATED_MARKER))] + TRUNCATED_MARKER
        self._text += len(kept)
        return TextDelta(kept)
