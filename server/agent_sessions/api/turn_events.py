"""A turn's stream as ConverseEvents (the codec the live turns store and resume with), turns as
Turn messages, and watch events as SessionEvents."""

from __future__ import annotations

from typing import Any

from agentsessions.v1 import session_service_pb2 as ses_pb

from agent_sessions.api import convert as c
from agent_sessions.api.status import domain_error_of, status_of
from agent_sessions.domain import (
    TextDelta,
    ToolCall,
    ToolResult,
    TurnCompleted,
    TurnEvent,
    TurnFailed,
    TurnQueued,
    TurnStarted,
    TurnStored,
)
from agent_sessions.services.live import TurnView, WatchEvent

_STATUS = dict(ses_pb.TurnStatus.items())


class ConverseCodec:
    """Each turn event as the ConverseEvents it makes, numbered from `seq`."""

    def encode(self, seq: int, event: TurnEvent) -> list[ses_pb.ConverseEvent]:
        E = ses_pb.ConverseEvent
        if isinstance(event, TextDelta):
            return [E(seq=seq, delta=ses_pb.ConverseDelta(text=event.text))]
        if isinstance(event, TurnStarted):
            started = ses_pb.ConverseStarted(
                session_id=event.session_id,
                session_uuid=str(event.session_uuid),
                turn_id=str(event.turn_id or ""),
            )
            return [E(seq=seq, started=started)]
        if isinstance(event, TurnQueued):
            queued = ses_pb.ConverseQueued(turn_id=str(event.turn_id), position=event.position)
            return [E(seq=seq, queued=queued)]
        if isinstance(event, TurnStored):
            return [
                E(seq=seq + i, message=c.message_proto(m, event.session_id))
                for i, m in enumerate(event.messages)
            ]
        if isinstance(event, TurnCompleted):
            return [E(seq=seq, completed=c.conversation_response(event.result))]
        if isinstance(event, TurnFailed):
            return [E(seq=seq, error=status_of(domain_error_of(event.error)))]
        if isinstance(event, ToolCall):
            call = ses_pb.ToolCall(
                tool_call_id=event.tool_call_id, name=event.name, arguments=event.arguments
            )
            return [E(seq=seq, tool_call=call)]
        if isinstance(event, ToolResult):
            result = ses_pb.ToolResult(
                tool_call_id=event.tool_call_id, name=event.name, output=event.output
            )
            return [E(seq=seq, tool_result=result)]
        raise TypeError(f"not a turn event: {event!r}")

    def dump(self, item: Any) -> bytes:
        return bytes(item.SerializeToString())

    def load(self, body: bytes) -> ses_pb.ConverseEvent:
        return ses_pb.ConverseEvent.FromString(body)

    def delta(self, body: bytes) -> str | None:
        event = ses_pb.ConverseEvent.FromString(body)
        return event.delta.text if event.WhichOneof("event") == "delta" else None


CODEC = ConverseCodec()


def turn_proto(turn: TurnView) -> ses_pb.Turn:
    record = turn.record
    proto = ses_pb.Turn(
        turn_id=str(record.turn_id),
        session_id=record.session_id,
        status=_STATUS[record.status],  # type: ignore[arg-type]
        request_id=str(record.request_id or ""),
        created_at=c.timestamp(record.created_at),
        updated_at=c.timestamp(record.updated_at),
    )
    if turn.result is not None:
        proto.result.CopyFrom(c.conversation_response(turn.result))
    if turn.error is not None:
        proto.error.CopyFrom(status_of(turn.error))
    return proto


def session_event(event: WatchEvent, session_id: str) -> ses_pb.SessionEvent:
    proto = _session_event(event, session_id)
    if event.seq is not None:
        proto.seq = event.seq
    return proto


def _session_event(event: WatchEvent, session_id: str) -> ses_pb.SessionEvent:
    E = ses_pb.SessionEvent
    kind = event.kind
    if kind == "message":
        assert event.message is not None
        return E(message=c.message_proto(event.message, session_id))
    if kind == "message_updated":
        assert event.message is not None
        return E(message_updated=c.message_proto(event.message, session_id))
    if kind == "message_deleted":
        return E(message_deleted=ses_pb.MessageDeleted(message_id=event.message_id))
    if kind == "cleared":
        return E(cleared=ses_pb.MessagesCleared(deleted_count=event.deleted_count))
    if kind == "session":
        assert event.session is not None
        return E(session=c.session_proto(event.session))
    if kind == "deleted":
        return E(deleted=ses_pb.SessionDeleted())
    if kind == "turn":
        assert event.turn is not None
        return E(turn=turn_proto(event.turn))
    if kind == "turn_delta":
        delta = ses_pb.TurnDelta(turn_id=event.turn_id, seq=event.turn_seq, text=event.text)
        return E(turn_delta=delta)
    if kind == "heartbeat":
        return E(heartbeat=ses_pb.Heartbeat())
    assert event.error is not None
    return E(error=status_of(event.error))
