"""Conversation turns: check the session, run the agent unconnected, store the turn whole."""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard

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
from agent_sessions.agents.bounds import Bounded
from agent_sessions.agents.tools.access import ToolServerAccess, access_of
from agent_sessions.db.repositories import RequestIdTaken
from agent_sessions.db.rows import from_json
from agent_sessions.db.uow import Database
from agent_sessions.domain import (
    CallerTool,
    Guard,
    Message,
    NewMessage,
    Owner,
    PendingToolCall,
    Session,
    SessionFields,
    TurnCompleted,
    TurnEvent,
    TurnFailed,
    TurnQueued,
    TurnRequest,
    TurnResult,
    TurnStarted,
    TurnStored,
    Usage,
)
from agent_sessions.errors import AgentFailed, DomainError, InvalidArgument
from agent_sessions.services.errors import session_inactive
from agent_sessions.services.once import recorded, session_changed
from agent_sessions.services.sessions import session_fields, session_uuid_for
from agent_sessions.services.tool_calls import (
    PENDING_TAIL,
    answer_results,
    pending_calls,
    require_answers,
)

log = logging.getLogger(__name__)


def _agent_message(m: Message | NewMessage) -> AgentMessage:
    return AgentMessage(m.role, m.content, m.tool_call_id, m.tool_name)


def _tool_message(role: str, content: str, event: ToolCall | ToolResult) -> NewMessage:
    """A tool call (role `assistant`, the arguments) or its result (role `tool`, the output)."""
    return NewMessage(
        role=role, content=content, tool_call_id=event.tool_call_id, tool_name=event.name
    )


def _answered(messages: list[NewMessage], pending: dict[str, str]) -> list[NewMessage]:
    """The turn's messages with their tool results named; every pending call answered."""
    checked = answer_results(messages, pending)
    require_answers(checked, pending)
    return checked


async def events_or_failure(
    events: AsyncGenerator[AgentEvent, None], reply: _Reply, session_id: str
) -> AsyncGenerator[TextDelta | ToolCall | ToolResult | TurnFailed, None]:
    """An agent's events folded into `reply`, the ones to show passed on; a failure of the
    agent ends them with a TurnFailed (nothing of the turn is stored then). Events are made
    storable first (agents/bounds.py): what is shown is what is stored."""
    bounded = Bounded()
    try:
        async for produced in events:
            event = bounded.take(produced)
            if event is not None and reply.take(event):
                yield event
    except DomainError as exc:
        yield TurnFailed(exc)
    except Exception as exc:  # noqa: BLE001 - any agent failure fails the turn, cleanly
        log.warning("agent failed in session %s", session_id, exc_info=exc)
        yield TurnFailed(
            AgentFailed(
                f"the agent failed to reply ({exc.__class__.__name__}); nothing of this "
                "turn was stored, so the turn can be sent again",
                metadata={"session_id": session_id},
            )
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
        self.shown: list[list[str]] = []  # the text and tool events passed on, in order

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
            self.shown.append(["text", event.text])
        elif isinstance(event, ToolCall):
            self.shown.append(["tool_call", event.tool_call_id, event.name, event.arguments])
            self.calls[event.tool_call_id] = PendingToolCall(
                event.tool_call_id, event.name, event.arguments
            )
            self.add(_tool_message("assistant", event.arguments, event))
        elif isinstance(event, ToolResult):
            self.shown.append(["tool_result", event.tool_call_id, event.name, event.output])
            self.calls.pop(event.tool_call_id, None)
            self.add(_tool_message("tool", event.output, event))
        elif isinstance(event, Usage):
            self.usage = event
            return False
        return True

    def answer(self, sent: int, turn_id: uuid.UUID) -> dict[str, Any]:
        """What the turn's answer holds beyond the stored rows (JSON, recorded with a request
        id and in the turn's row); `sent`: how many of the stored messages are the caller's."""
        return {
            "turn_id": str(turn_id),
            "sent": sent,
            "response": "".join(self.text),
            "usage": dataclasses.asdict(self.usage or Usage()),
            "stop_reason": "tool_calls" if self.calls else "end_turn",
            "pending_tool_calls": [dataclasses.asdict(call) for call in self.calls.values()],
            # The events the turn's stream showed, so a retry streams the same ones.
            "shown": self.shown,
        }

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


_SHOWN: dict[str, Any] = {"text": TextDelta, "tool_call": ToolCall, "tool_result": ToolResult}


@dataclass(frozen=True, slots=True)
class _Stored:
    """A stored turn: the session after it, its messages (the caller's first), the session's
    message count, and the rest of the answer (`_Reply.answer`)."""

    session: Session
    messages: list[Message]
    count: int
    answer: dict[str, Any]

    @classmethod
    def recorded(cls, result: dict[str, Any]) -> _Stored:
        """A turn as its request id's record keeps it."""
        session = from_json(Session, result["session"])
        messages = [from_json(Message, row) for row in result["messages"]]
        return cls(session, messages, int(result["session"]["message_count"]), result["extra"])

    @property
    def turn_id(self) -> uuid.UUID | None:
        recorded = self.answer.get("turn_id")  # none in answers recorded before turns had ids
        return uuid.UUID(recorded) if recorded else None

    def started(self) -> TurnStarted:
        return TurnStarted(self.session.session_id, self.session.id, self.turn_id)

    def shown(self) -> list[TextDelta | ToolCall | ToolResult | TurnQueued]:
        """The events the turn's stream showed between `started` and the stored messages, in
        order: text, tool calls and results, and its places in the queue."""
        events: list[TextDelta | ToolCall | ToolResult | TurnQueued] = []
        for kind, *fields in self.answer["shown"]:
            if kind == "queued":
                events.append(TurnQueued(uuid.UUID(fields[0]), int(fields[1])))
            else:
                events.append(_SHOWN[kind](*fields))
        return events

    def replayed(self) -> list[TurnEvent]:
        """Every event of the turn's stream again, as it was."""
        return [self.started(), *self.shown(), *self.events()]

    def events(self) -> tuple[TurnStored, TurnCompleted]:
        """The last two events of the turn."""
        answer = self.answer
        mine = self.messages[answer["sent"] :]
        return TurnStored(mine, self.session.session_id), TurnCompleted(
            TurnResult(
                session=self.session,
                response=answer["response"],
                messages_count=self.count,
                stored=mine,
                usage=Usage(**answer["usage"]),
                stop_reason=answer["stop_reason"],
                pending_tool_calls=[PendingToolCall(**c) for c in answer["pending_tool_calls"]],
                turn_id=self.turn_id,
            )
        )


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a turn goes, as read before it runs: the session (None when the turn creates it),
    the history the agent sees, and the request's messages with their tool results named."""

    session_id: str
    session_uuid: uuid.UUID
    session: Session | None
    history: list[Message]
    messages: list[NewMessage]


@dataclass
class Prepared:
    """A turn as `TurnService.fast` left it: its checked request, the session id it goes to, and
    — when the agent ran already — its reply, the events held back, and its failure; `events`
    when the turn is stored whole."""

    messages: list[NewMessage]
    fields: SessionFields
    tools: list[CallerTool]
    session_id: str
    reply: _Reply = field(default_factory=lambda: _Reply())
    held: list[TextDelta | ToolCall | ToolResult] = field(default_factory=list)
    ran: bool = False
    failure: TurnFailed | None = None
    events: list[TurnEvent] | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a turn was placed: running now or queued, in the session with this uuid."""

    status: str
    session_uuid: uuid.UUID


class TurnQueue(Protocol):
    """The turn rows' side of a turn (services/live.py): places it in its session's queue,
    waits for its turn, and records a refusal."""

    async def place(
        self, owner: Owner, session_id: str, request: TurnRequest, turn_id: uuid.UUID
    ) -> Placement: ...

    def wait(self, owner: Owner, turn_id: uuid.UUID) -> AsyncIterator[TurnQueued]: ...

    async def refused(self, owner: Owner, turn_id: uuid.UUID, error: DomainError) -> None: ...


class TurnService:
    """Runs turns. No connection or lock is held while the agent works."""

    def __init__(
        self,
        db: Database,
        agents: AgentRegistry,
        history_window: int,
        tool_servers: Sequence[str] | ToolServerAccess = (),
        models: frozenset[str] | None = None,
    ) -> None:
        self.db = db
        self.agents = agents
        # Earlier messages an agent that reads history sees (the turn's own come on top).
        self.history_window = history_window
        # The configured MCP servers a new session's `server_tools` may name, per user.
        self.tool_servers = access_of(tool_servers)
        # The models a session it creates may name (AGENT_SESSIONS_MODELS); None: any.
        self.models = models

    def _check(
        self, owner: Owner, request: TurnRequest
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
        fields = session_fields(request.session, self.tool_servers.names_for(owner), self.models)
        return messages, fields, v.caller_tools(request.tools)

    async def replay(self, owner: Owner, request: TurnRequest) -> list[TurnEvent] | None:
        """The events of the stored turn a retry names by its request id (the agent does not
        run again); None when the id names none."""
        key = request.guard.request
        if key is None:
            return None
        self._check(owner, request)  # a bad request is refused, not looked up
        async with self.db.work(owner) as uow:
            stored_before = await recorded(uow, key)
        if stored_before is None:
            return None
        return _Stored.recorded(stored_before.result).replayed()

    async def fast(self, owner: Owner, request: TurnRequest, turn_id: uuid.UUID) -> Prepared:
        """A turn stored in one statement when it can be: an agent that reads nothing of the
        session (the mock), on a turn that answers no tool calls, expects no seq, is not
        detached or interrupting. The agent runs first and its turn is stored with the checks a
        read would have made, in one round trip, recording the turn as completed — unless
        another turn of the session waits or runs. `Prepared.events` then holds the whole
        turn; otherwise the turn goes the placed way (`placed`), with what was prepared."""
        messages, fields, tools = self._check(owner, request)
        session_id = v.session_id(request.session_id) if request.session_id else ""
        agent = self.agents.get()
        prepared = Prepared(messages, fields, tools, session_id)
        if (
            agent.reads_session
            or request.guard.expected_seq is not None
            or any(m.role == "tool" for m in messages)
            or request.detach
            or request.if_busy == "interrupt"
        ):
            return prepared
        target = self._unread(owner, session_id, messages)
        prepared.session_id = target.session_id
        prepared.ran = True
        prepared.failure = await self._run_agent(
            agent.run(self._agent_turn(owner, target, fields, tools)), prepared.reply, prepared.held
        )
        if prepared.failure is not None:
            return prepared
        stored = await self._store(
            owner, target, fields, prepared.reply, request.guard, unread=True, turn_id=turn_id
        )
        if stored is not None:
            prepared.events = [stored.started(), *prepared.held, *stored.events()]
        return prepared

    async def placed(
        self,
        owner: Owner,
        request: TurnRequest,
        turn_id: uuid.UUID,
        prepared: Prepared,
        queue: TurnQueue,
    ) -> AsyncGenerator[TurnEvent, None]:
        """A turn with a row of its own: placed in its session's queue (refusals raise, before
        anything began), then — once it runs — the session read, the agent run (unless `fast`
        ran it already: its reply depends on the turn's own messages alone) and the turn
        stored, gated on its row still running. Failures after TurnStarted are a TurnFailed."""
        guard = request.guard
        agent = self.agents.get()
        window = self.history_window if agent.uses_history else 0
        session_id = prepared.session_id or str(uuid.uuid4())
        placed = await queue.place(owner, session_id, request, turn_id)
        session_uuid = placed.session_uuid
        started = TurnStarted(session_id, session_uuid, turn_id)
        reply = prepared.reply
        began = placed.status != "running"
        try:
            if began:
                yield started
                async for queued in queue.wait(owner, turn_id):
                    reply.shown.append(["queued", str(queued.turn_id), str(queued.position)])
                    yield queued
            target = await self._read(owner, session_id, prepared.messages, window, guard)
        except DomainError as exc:
            if not began:
                await queue.refused(owner, turn_id, exc)
                raise
            yield TurnFailed(exc)
            return
        if not began:
            yield started
        failure = prepared.failure
        if prepared.ran:
            for held in prepared.held:
                yield held
        else:
            async with aclosing(
                agent.run(self._agent_turn(owner, target, prepared.fields, prepared.tools))
            ) as events:
                failure = None
                async for event in events_or_failure(events, reply, target.session_id):
                    if isinstance(event, TurnFailed):
                        failure = event
                    else:
                        yield event
        if failure is not None:
            yield failure
            return
        try:
            stored = await self._store(
                owner, target, prepared.fields, reply, guard, turn_id=turn_id, gated=True
            )
            if stored is None:  # deactivated, changed or cancelled while the agent worked
                raise await self._why_not_stored(owner, target.session_id, guard)
        except Exception as exc:  # noqa: BLE001 - the API layer maps it (INTERNAL if unknown)
            yield TurnFailed(exc)
            return
        for last in stored.events():
            yield last

    @staticmethod
    async def _run_agent(
        events: AsyncGenerator[AgentEvent, None],
        reply: _Reply,
        held: list[TextDelta | ToolCall | ToolResult],
    ) -> TurnFailed | None:
        """Runs an agent to its end, folding its events into `reply` and keeping the ones to
        show in `held`; its failure, if it failed."""
        async with aclosing(events) as running:
            async for event in events_or_failure(running, reply, ""):
                if isinstance(event, TurnFailed):
                    return event
                held.append(event)
        return None

    @staticmethod
    def _agent_turn(
        owner: Owner, target: _Target, fields: SessionFields, tools: list[CallerTool]
    ) -> AgentTurn:
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
            owner=owner,
        )

    @staticmethod
    def _unread(owner: Owner, session_id: str, messages: list[NewMessage]) -> _Target:
        """A turn's target before its session is read: the session it would create."""
        session_id = session_id or str(uuid.uuid4())
        return _Target(session_id, session_uuid_for(owner.user_id, session_id), None, [], messages)

    async def _read(
        self,
        owner: Owner,
        session_id: str,
        messages: list[NewMessage],
        window: int,
        guard: Guard,
    ) -> _Target:
        """Reads the session before a turn (none yet: a new one), refuses an inactive one or
        one whose seq is not the expected one (a new session's is 0), and checks the request's
        tool results against the calls the session waits for."""
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
        seq = session.seq if session else 0
        if guard.expected_seq is not None and seq != guard.expected_seq:
            raise session_changed(session_id, seq, guard.expected_seq)
        return _Target(
            session_id=session_id,
            session_uuid=session.id if session else session_uuid_for(owner.user_id, session_id),
            session=session,
            history=tail[-window:] if window else [],
            messages=_answered(messages, pending_calls(tail)),
        )

    async def _store(
        self,
        owner: Owner,
        target: _Target,
        fields: SessionFields,
        reply: _Reply,
        guard: Guard,
        *,
        turn_id: uuid.UUID,
        unread: bool = False,
        gated: bool = False,
    ) -> _Stored | None:
        """Stores a whole turn (the request's messages, then the agent's), creating the session
        if it is new: one statement, so atomic and one round trip (see `append_messages` in
        db/statements.py for how concurrent turns stay contiguous). With a request id, the id
        is recorded in it, with the answer. None: nothing stored, the session is inactive or
        changed (or, `unread`, needs reading first)."""
        answer = reply.answer(len(target.messages), turn_id)
        async with self.db.work(owner) as uow:
            try:
                stored = await uow.turns.store(
                    target.session_uuid,
                    target.session_id,
                    fields,
                    [*target.messages, *reply.finish()],
                    uow.new_user(),
                    unread=unread,
                    expected_seq=guard.expected_seq,
                    request=guard.request,
                    extra=json.dumps(answer) if guard.request is not None else None,
                    usage=reply.usage,
                    turn="gated" if gated else "new",
                    turn_id=turn_id,
                    turn_extra=json.dumps(answer),
                )
            except RequestIdTaken:
                # A concurrent call with the same request id stored its turn first.
                first = await recorded(uow, guard.request)
                return _Stored.recorded(first.result) if first is not None else None
        if stored is None:
            return None
        session, rows, count = stored
        return _Stored(session, rows, count, answer)

    async def _why_not_stored(self, owner: Owner, session_id: str, guard: Guard) -> DomainError:
        """Why a read-first turn's store changed nothing: its session went inactive, or its seq
        moved on from the expected one, while the agent worked."""
        async with self.db.work(owner) as uow:
            session = await uow.sessions.get(session_id)
        expected = guard.expected_seq
        if session is not None and expected is not None and session.seq != expected:
            return session_changed(session_id, session.seq, expected)
        return session_inactive(session_id)
