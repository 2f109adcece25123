"""Conversation turns: check the session, run the agent unconnected, store the turn whole."""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import TypeGuard

from agent_sessions import validation as v
from agent_sessions.agents import (
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


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a turn goes, as read before it runs: the session (None when the turn creates it),
    the history the agent sees, and the request's messages with their tool results named."""

    session_id: str
    session_uuid: uuid.UUID
    session: Session | None
    history: list[Message]
    messages: list[NewMessage]


class TurnService:
    """Runs turns. No connection or lock is held while the agent works."""

    def __init__(
        self,
        db: Database,
        agents: AgentRegistry,
        history_window: int,
        tool_servers: Sequence[str] = (),
    ) -> None:
        self.db = db
        self.agents = agents
        # Earlier messages an agent that reads history sees (the turn's own come on top).
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
        fields = session_fields(request.session, self.tool_servers)
        return messages, fields, v.caller_tools(request.tools)

    async def run(self, owner: Owner, request: TurnRequest) -> AsyncGenerator[TurnEvent, None]:
        """The turn's events. Failures before TurnStarted raise (nothing began); later ones
        are a TurnFailed event, after which the iteration ends.

        How the turn is stored is chosen once, here. Usually the session is read first (its
        agent fields, history and pending tool calls), the agent runs, and its events pass on
        as they come. An agent that reads nothing of the session (the mock) on a turn that
        answers no tool calls is run first instead, and its turn stored in one statement that
        also makes the checks a read would have made: one round trip. Its events then come
        out together after the store, and a refusal still comes before TurnStarted.
        """
        messages, fields, tools = self._check(request)
        session_id = v.session_id(request.session_id) if request.session_id else ""
        agent = self.agents.get()
        window = self.history_window if agent.uses_history else 0
        store_first = not agent.reads_session and all(m.role != "tool" for m in messages)
        if store_first:
            target = self._unread(owner, session_id, messages)
        else:
            target = await self._read(owner, session_id, messages, window)
            yield TurnStarted(target.session_id, target.session_uuid)

        reply = _Reply()
        held: list[TextDelta | ToolCall | ToolResult] = []  # store-first: shown after the store
        failure: TurnFailed | None = None
        try:
            async with aclosing(agent.run(self._agent_turn(target, fields, tools))) as events:
                async for event in events:
                    if reply.take(event):
                        if store_first:
                            held.append(event)
                        else:
                            yield event
        except DomainError as exc:
            failure = TurnFailed(exc)
        except Exception as exc:  # noqa: BLE001 - any agent failure fails the turn, cleanly
            log.warning("agent failed in session %s", target.session_id, exc_info=exc)
            failure = TurnFailed(
                AgentFailed(
                    f"the agent failed to reply ({exc.__class__.__name__}); nothing of this "
                    "turn was stored, so the turn can be sent again",
                    metadata={"session_id": target.session_id},
                )
            )

        stored: tuple[Session, list[Message], int] | None = None
        if store_first:
            if failure is None:
                stored = await self._store(owner, target, fields, reply, unread=True)
            if stored is None:
                # Not stored (or failed): read the session as a read-first turn would have,
                # so its refusals come before anything is shown. The agent's reply stays good:
                # it depends on the turn's own messages alone.
                target = await self._read(owner, target.session_id, messages, window)
            yield TurnStarted(target.session_id, stored[0].id if stored else target.session_uuid)
            for passed in held:
                yield passed
        if failure is not None:
            yield failure
            return
        if stored is None:
            try:
                stored = await self._store(owner, target, fields, reply)
            except Exception as exc:  # noqa: BLE001 - the API layer maps it (INTERNAL if unknown)
                yield TurnFailed(exc)
                return
            if stored is None:  # deactivated while the agent worked
                yield TurnFailed(session_inactive(target.session_id))
                return
        session, rows, count = stored
        for last in reply.completed(session, rows, count, len(target.messages)):
            yield last

    @staticmethod
    def _agent_turn(target: _Target, fields: SessionFields, tools: list[CallerTool]) -> AgentTurn:
        """What the agent gets: the stored session's agent fields, or the request's for a new
        one."""
        session = target.session
        return AgentTurn(
            session_id=target.session_id,
            agent_name=session.agent_name if session else fields.agent_name,
            agent_instructions=session.agent_instructions if session else fields.agent_instructions,
            history=[_agent_message(m) for m in target.history],
            messages=[_agent_message(m) for m in target.messages],
            model=session.model if session else fields.model,
            server_tools=session.server_tools if session else fields.server_tools,
            tools=tools,
        )

    @staticmethod
    def _unread(owner: Owner, session_id: str, messages: list[NewMessage]) -> _Target:
        """A turn's target before its session is read: the session it would create."""
        session_id = session_id or str(uuid.uuid4())
        return _Target(session_id, session_uuid_for(owner.user_id, session_id), None, [], messages)

    async def _read(
        self, owner: Owner, session_id: str, messages: list[NewMessage], window: int
    ) -> _Target:
        """Reads the session before a turn (none yet: a new one), refuses an inactive one, and
        checks the request's tool results against the calls the session waits for."""
        session: Session | None = None
        tail: list[Message] = []
        if session_id:
            # An agent that reads no history gets none; the tail of tool calls is still read,
            # for the pending calls a new turn must answer.
            async with self.db.work(owner) as uow:
                found = await uow.turns.context(
                    session_id, max(window, PENDING_TAIL), history=window > 0
                )
            if found is not None:
                session, tail = found
                if not session.is_active:
                    raise session_inactive(session_id)
        else:
            session_id = str(uuid.uuid4())
        return _Target(
            session_id=session_id,
            session_uuid=session.id if session else session_uuid_for(owner.user_id, session_id),
            session=session,
            history=tail[-window:] if window else [],
            messages=_answer_calls(messages, pending_calls(tail)),
        )

    async def _store(
        self,
        owner: Owner,
        target: _Target,
        fields: SessionFields,
        reply: _Reply,
        *,
        unread: bool = False,
    ) -> tuple[Session, list[Message], int] | None:
        """Stores a whole turn (the request's messages, then the agent's), creating the session
        if it is new: one statement, so atomic and one round trip (see `store_turn` in
        db/statements.py for how concurrent turns stay contiguous). None: nothing stored, the
        session is inactive (or, `unread`, needs reading first)."""
        async with self.db.work(owner) as uow:
            return await uow.turns.store(
                target.session_uuid,
                target.session_id,
                fields,
                [*target.messages, *reply.finish()],
                uow.new_user(),
                unread=unread,
            )
