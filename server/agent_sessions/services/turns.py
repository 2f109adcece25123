"""Conversation turns: check the session, run the agent unconnected, store the turn whole."""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import TypeGuard

from agent_sessions import validation as v
from agent_sessions.agents import (
    Agent,
    AgentEvent,
    AgentMessage,
    AgentRegistry,
    AgentTurn,
    TextDelta,
    ToolCall,
    ToolResult,
)
from agent_sessions.db.uow import Database
from agent_sessions.domain import (
    CallerTool,
    Message,
    NewMessage,
    Owner,
    PendingToolCall,
    Session,
    SessionFields,
    TurnCompleted,
    TurnEvent,
    TurnFailed,
    TurnRequest,
    TurnResult,
    TurnStarted,
    TurnStored,
    Usage,
)
from agent_sessions.errors import AgentFailed, DomainError, FailedPrecondition, InvalidArgument
from agent_sessions.services.errors import session_inactive
from agent_sessions.services.sessions import session_fields, session_uuid_for

log = logging.getLogger(__name__)

# How many earlier messages an agent sees by default; a bounded window keeps a turn's cost
# independent of the session's length.
DEFAULT_HISTORY_WINDOW = 50


# Rows read from the session's end at the start of a turn: the agent's history window, and at
# least enough to see the tool calls the last turn stopped at.
PENDING_TAIL = 32


def _agent_message(m: Message | NewMessage) -> AgentMessage:
    return AgentMessage(m.role, m.content, m.tool_call_id, m.tool_name)


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


def _answer_calls(messages: list[NewMessage], pending: dict[str, str]) -> list[NewMessage]:
    """Checks the request's tool results against the calls they answer and names their tool.

    A result must answer a pending call or an assistant tool call earlier in the request
    (UNKNOWN_TOOL_CALL); every pending call must be answered (TOOL_RESULTS_MISSING).
    """
    earlier: dict[str, str] = {}
    answered: set[str] = set()
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
            answered.add(call_id)
            if m.tool_name is None and name:
                m = dataclasses.replace(m, tool_name=name)
        checked.append(m)
    missing = [call_id for call_id in pending if call_id not in answered]
    if missing:
        raise FailedPrecondition(
            f"the session waits for the results of tool calls {', '.join(missing)}; send one "
            'message {"role": "tool", "tool_call_id": …, "content": …} per call '
            "in this request",
            reason="TOOL_RESULTS_MISSING",
            metadata={"tool_call_ids": ",".join(missing)},
        )
    return checked


def _tool_message(role: str, content: str, event: ToolCall | ToolResult) -> NewMessage:
    """A tool call (role `assistant`, the arguments) or its result (role `tool`, the output)."""
    return NewMessage(
        role=role, content=content, tool_call_id=event.tool_call_id, tool_name=event.name
    )


class _Reply:
    """Folds an agent's events into the messages the turn stores, in the order they happened:
    text between tool events is an assistant message of its own."""

    def __init__(self) -> None:
        self.messages: list[NewMessage] = []
        self.text: list[str] = []  # all of the turn's text: the response
        self._pending: list[str] = []
        self.usage: Usage | None = None  # None: the agent reported none (the mock)
        self.calls: dict[str, PendingToolCall] = {}  # calls without a result yet

    def _flush(self) -> None:
        if self._pending:
            self.messages.append(NewMessage(role="assistant", content="".join(self._pending)))
            self._pending = []

    def add_text(self, text: str) -> None:
        self.text.append(text)
        self._pending.append(text)

    def add(self, message: NewMessage) -> None:
        self._flush()
        self.messages.append(message)

    def take(self, event: AgentEvent) -> TypeGuard[TextDelta | ToolCall | ToolResult]:
        """Folds one agent event in; True when it is one to pass on (text and tool events)."""
        if isinstance(event, TextDelta):
            self.add_text(event.text)
        elif isinstance(event, ToolCall):
            self.calls[event.tool_call_id] = PendingToolCall(
                event.tool_call_id, event.name, event.arguments
            )
            self.add(_tool_message("assistant", event.arguments, event))
        elif isinstance(event, ToolResult):
            self.calls.pop(event.tool_call_id, None)
            self.add(_tool_message("tool", event.output, event))
        elif isinstance(event, Usage):
            self.usage = event
            return False
        return True

    def completed(
        self, session: Session, stored: list[Message], count: int, sent: int
    ) -> tuple[TurnStored, TurnCompleted]:
        """The last two events of a stored turn; the first `sent` stored messages are the
        caller's."""
        mine = stored[sent:]
        return TurnStored(mine), TurnCompleted(
            TurnResult(
                session=session,
                response="".join(self.text),
                messages_count=count,
                stored=mine,
                usage=self.usage or Usage(),
                stop_reason="tool_calls" if self.calls else "end_turn",
                pending_tool_calls=list(self.calls.values()),
            )
        )

    def finish(self) -> list[NewMessage]:
        """The messages to store. The turn's usage is kept in the extra data of its last
        assistant message, `{"usage": {...}}`, so a session's total can be summed."""
        self._flush()
        if not self.messages:
            self.messages.append(NewMessage(role="assistant", content=""))  # an empty reply
        if self.usage is not None:
            for i in range(len(self.messages) - 1, -1, -1):
                if self.messages[i].role == "assistant":
                    usage = {"usage": dataclasses.asdict(self.usage)}
                    self.messages[i] = dataclasses.replace(
                        self.messages[i], extra_data=json.dumps(usage, separators=(",", ":"))
                    )
                    break
        return self.messages


class TurnService:
    """Runs turns. No connection or lock is held while the agent works."""

    def __init__(
        self,
        db: Database,
        agents: AgentRegistry,
        history_window: int = DEFAULT_HISTORY_WINDOW,
        tool_servers: Sequence[str] = (),
    ) -> None:
        self.db = db
        self.agents = agents
        self.history_window = history_window
        # The configured MCP servers' names, which a new session's `server_tools` may name.
        self.tool_servers = tuple(tool_servers)

    def _check(
        self, request: TurnRequest
    ) -> tuple[list[NewMessage], SessionFields, list[CallerTool]]:
        if not request.messages:
            raise InvalidArgument("messages", "must hold at least one message")
        if len(request.messages) > v.MAX_TURN_MESSAGES:
            raise InvalidArgument("messages", f"must hold at most {v.MAX_TURN_MESSAGES} messages")
        messages = [
            v.new_message(
                f"messages[{i}].", m.role, m.content, m.tool_call_id, m.tool_name, m.extra_data
            )
            for i, m in enumerate(request.messages)
        ]
        fields = session_fields(
            {
                "session_name": request.session_name,
                "agent_name": request.agent_name,
                "agent_instructions": request.agent_instructions,
                "model": request.model,
                "server_tools": request.server_tools,
            },
            self.tool_servers,
        )
        return messages, fields, v.caller_tools(request.tools)

    async def run(self, owner: Owner, request: TurnRequest) -> AsyncGenerator[TurnEvent, None]:
        """The turn's events. Failures before TurnStarted raise (nothing began); later ones
        are a TurnFailed event, after which the iteration ends."""
        messages, fields, tools = self._check(request)
        session_id = v.session_id(request.session_id) if request.session_id else ""
        agent = self.agents.get()
        if not getattr(agent, "reads_session", True) and all(m.role != "tool" for m in messages):
            unread = await self._run_unread(owner, agent, session_id, messages, fields, tools)
            if unread is not None:
                for item in unread:
                    yield item
                return
        existing: Session | None = None
        tail: list[Message] = []
        # An agent that reads no history (the mock) gets none; the tail of tool calls is still
        # read, for the pending calls a new turn must answer.
        window = self.history_window if getattr(agent, "uses_history", True) else 0
        if session_id:
            async with self.db.work(owner) as uow:
                found = await uow.turns.context(
                    session_id, max(window, PENDING_TAIL), history=window > 0
                )
            if found is not None:
                existing, tail = found
                if not existing.is_active:
                    raise session_inactive(session_id)
        else:
            session_id = str(uuid.uuid4())
        messages = _answer_calls(messages, pending_calls(tail))
        history = tail[-window:] if window else []
        session_uuid = existing.id if existing else session_uuid_for(owner.user_id, session_id)
        yield TurnStarted(session_id, session_uuid)

        agent_turn = AgentTurn(
            session_id=session_id,
            agent_name=existing.agent_name if existing else fields.agent_name,
            agent_instructions=(
                existing.agent_instructions if existing else fields.agent_instructions
            ),
            history=[_agent_message(m) for m in history],
            messages=[_agent_message(m) for m in messages],
            model=existing.model if existing else fields.model,
            server_tools=existing.server_tools if existing else fields.server_tools,
            tools=tools,
        )
        reply = _Reply()
        try:
            async with aclosing(agent.run(agent_turn)) as events:
                async for event in events:
                    if reply.take(event):
                        yield event
        except DomainError as exc:
            yield TurnFailed(exc)
            return
        except Exception as exc:  # noqa: BLE001 - any agent failure fails the turn, cleanly
            log.warning("agent failed in session %s", session_id, exc_info=exc)
            yield TurnFailed(
                AgentFailed(
                    f"the agent failed to reply ({exc.__class__.__name__}); nothing of this "
                    "turn was stored, so the turn can be sent again",
                    metadata={"session_id": session_id},
                )
            )
            return

        produced = reply.finish()
        try:
            session, stored, count = await self._store(
                owner, session_id, session_uuid, fields, [*messages, *produced]
            )
        except Exception as exc:  # noqa: BLE001 - the API layer maps it (INTERNAL for the unknown)
            yield TurnFailed(exc)
            return
        for last in reply.completed(session, stored, count, len(messages)):
            yield last

    async def _run_unread(
        self,
        owner: Owner,
        agent: Agent,
        session_id: str,
        messages: list[NewMessage],
        fields: SessionFields,
        tools: list[CallerTool],
    ) -> list[TurnEvent] | None:
        """A turn of an agent that reads no session (the mock) in one round trip: the agent
        runs first, then one statement stores the turn if the session is active and waits for
        no tool results (then this turn has none to answer: it sends none). The events come
        out together, after the store. None (nothing stored or shown) when the session must
        be read first: `run` then goes the usual way, so refusals come as they always do."""
        session_id = session_id or str(uuid.uuid4())
        turn = AgentTurn(
            session_id=session_id,
            agent_name=fields.agent_name,
            agent_instructions=fields.agent_instructions,
            history=[],
            messages=[_agent_message(m) for m in messages],
            model=fields.model,
            server_tools=fields.server_tools,
            tools=tools,
        )
        reply = _Reply()
        passed: list[TurnEvent] = []
        try:
            async with aclosing(agent.run(turn)) as events:
                async for event in events:
                    if reply.take(event):
                        passed.append(event)
        except Exception:  # noqa: BLE001 - the usual way runs it again and reports the failure
            return None
        session_uuid = session_uuid_for(owner.user_id, session_id)
        async with self.db.work(owner) as uow:
            stored = await uow.turns.store(
                session_uuid,
                session_id,
                fields,
                [*messages, *reply.finish()],
                uow.new_user(),
                unread=True,
            )
        if stored is None:
            return None
        session, rows, count = stored
        return [
            TurnStarted(session_id, session.id),
            *passed,
            *reply.completed(session, rows, count, len(messages)),
        ]

    async def _store(
        self,
        owner: Owner,
        session_id: str,
        session_uuid: uuid.UUID,
        fields: SessionFields,
        messages: list[NewMessage],
    ) -> tuple[Session, list[Message], int]:
        """Stores a whole turn, creating the session if it is new: one statement, so atomic
        and one round trip (see `STORE_TURN` for how concurrent turns stay contiguous)."""
        async with self.db.work(owner) as uow:
            stored = await uow.turns.store(
                session_uuid, session_id, fields, messages, uow.new_user()
            )
        if stored is None:
            raise session_inactive(session_id)  # deactivated while the agent worked
        return stored
