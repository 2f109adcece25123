"""Bad input: INVALID_ARGUMENT naming the field, never INTERNAL, and nothing changes."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from agentsessions.v1 import message_service_pb2 as mpb
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb

from tests.support import Client, failure

LONG = "x" * 1_000_001
TARGET = "valid-target"
MSG = "00000000-0000-4000-8000-000000000000"  # replaced by the real message id


def _user(text: str = "hi", **kw: Any) -> spb.ConversationMessage:
    return spb.ConversationMessage(role=rpb.user, content=text, **kw)


# (service, method, request, field the error must name)
CASES: list[tuple[str, str, Any, str]] = [
    ("s", "CreateSession", spb.CreateSessionRequest(session_id="bad id"), "session_id"),
    ("s", "CreateSession", spb.CreateSessionRequest(session_id="-leading"), "session_id"),
    ("s", "CreateSession", spb.CreateSessionRequest(session_id="a" * 129), "session_id"),
    ("s", "CreateSession", spb.CreateSessionRequest(session_id="nul\x00"), "session_id"),
    ("s", "CreateSession", spb.CreateSessionRequest(session_name="n\x00"), "session_name"),
    ("s", "CreateSession", spb.CreateSessionRequest(session_name="n" * 257), "session_name"),
    ("s", "CreateSession", spb.CreateSessionRequest(description="d" * 4097), "description"),
    ("s", "CreateSession", spb.CreateSessionRequest(agent_name="a\x00"), "agent_name"),
    (
        "s",
        "CreateSession",
        spb.CreateSessionRequest(agent_instructions="i" * 65537),
        "agent_instructions",
    ),
    ("s", "GetSession", spb.GetSessionRequest(session_id=""), "session_id"),
    ("s", "GetSession", spb.GetSessionRequest(session_id="x\x00y"), "session_id"),
    (
        "s",
        "UpdateSession",
        spb.UpdateSessionRequest(session_id=TARGET, description="\x00"),
        "description",
    ),
    (
        "s",
        "UpdateSession",
        spb.UpdateSessionRequest(session_id=TARGET, session_name="s" * 300),
        "session_name",
    ),
    ("s", "ListSessions", spb.ListSessionsRequest(page_size=-5), "page_size"),
    ("s", "ListSessions", spb.ListSessionsRequest(page_token="garbage!!"), "page_token"),
    ("s", "ListSessions", spb.ListSessionsRequest(agent_name="\x00"), "agent_name"),
    ("m", "CreateMessage", mpb.CreateMessageRequest(session_id=TARGET, content="x"), "role"),
    (
        "m",
        "CreateMessage",
        mpb.CreateMessageRequest(session_id=TARGET, role=9, content="x"),
        "role",
    ),
    (
        "m",
        "CreateMessage",
        mpb.CreateMessageRequest(session_id=TARGET, role=rpb.user, content="a\x00b"),
        "content",
    ),
    (
        "m",
        "CreateMessage",
        mpb.CreateMessageRequest(session_id=TARGET, role=rpb.user, content=LONG),
        "content",
    ),
    (
        "m",
        "CreateMessage",
        mpb.CreateMessageRequest(session_id=TARGET, role=rpb.user, extra_data="not json"),
        "extra_data",
    ),
    (
        "m",
        "CreateMessage",
        mpb.CreateMessageRequest(session_id=TARGET, role=rpb.user, extra_data=""),
        "extra_data",
    ),
    (
        "m",
        "UpdateMessage",
        mpb.UpdateMessageRequest(session_id=TARGET, message_id=MSG, extra_data=""),
        "extra_data",
    ),
    (
        "m",
        "CreateMessage",
        mpb.CreateMessageRequest(session_id=TARGET, role=rpb.user, extra_data='{"a": NaN}'),
        "extra_data",
    ),
    (
        "m",
        "CreateMessage",
        mpb.CreateMessageRequest(session_id=TARGET, role=rpb.user, extra_data='{"a": 1'),
        "extra_data",
    ),
    (
        "m",
        "CreateMessage",
        mpb.CreateMessageRequest(session_id=TARGET, role=rpb.user, extra_data="[" * 100_000),
        "extra_data",
    ),
    (
        "m",
        "CreateMessage",
        mpb.CreateMessageRequest(session_id=TARGET, role=rpb.user, tool_call_id="\x00"),
        "tool_call_id",
    ),
    (
        "m",
        "CreateMessage",
        mpb.CreateMessageRequest(session_id=TARGET, role=rpb.user, tool_name="t" * 257),
        "tool_name",
    ),
    ("m", "ListMessages", mpb.ListMessagesRequest(session_id=TARGET, order="newest"), "order"),
    ("m", "ListMessages", mpb.ListMessagesRequest(session_id=TARGET, page_size=-1), "page_size"),
    (
        "m",
        "ListMessages",
        mpb.ListMessagesRequest(session_id=TARGET, page_token="AAAA"),
        "page_token",
    ),
    (
        "m",
        "GetMessage",
        mpb.GetMessageRequest(session_id=TARGET, message_id="not-a-uuid"),
        "message_id",
    ),
    (
        "m",
        "UpdateMessage",
        mpb.UpdateMessageRequest(session_id=TARGET, message_id=MSG, extra_data="{oops}"),
        "extra_data",
    ),
    (
        "m",
        "UpdateMessage",
        mpb.UpdateMessageRequest(session_id=TARGET, message_id=MSG, content="\x00"),
        "content",
    ),
    (
        "m",
        "DeleteMessage",
        mpb.DeleteMessageRequest(session_id=TARGET, message_id="x\x00"),
        "message_id",
    ),
    ("m", "ClearMessages", mpb.ClearMessagesRequest(session_id="bad/id"), "session_id"),
    ("s", "Conversation", spb.ConversationRequest(session_id=TARGET), "messages"),
    (
        "s",
        "Conversation",
        spb.ConversationRequest(session_id=TARGET, messages=[_user()] * 101),
        "messages",
    ),
    (
        "s",
        "Conversation",
        spb.ConversationRequest(
            session_id=TARGET, messages=[_user(), spb.ConversationMessage(content="x")]
        ),
        "messages[1].role",
    ),
    (
        "s",
        "Conversation",
        spb.ConversationRequest(session_id=TARGET, messages=[_user("\x00")]),
        "messages[0].content",
    ),
    (
        "s",
        "Conversation",
        spb.ConversationRequest(session_id=TARGET, messages=[_user(extra_data="nope")]),
        "messages[0].extra_data",
    ),
    (
        "s",
        "Conversation",
        spb.ConversationRequest(session_id="bad id", messages=[_user()]),
        "session_id",
    ),
    (
        "s",
        "Conversation",
        spb.ConversationRequest(messages=[_user()], session_name="\x00"),
        "session_name",
    ),
    (
        "s",
        "Converse",
        spb.ConverseRequest(session_id=TARGET, messages=[_user("\x00")]),
        "messages[0].content",
    ),
    ("s", "Converse", spb.ConverseRequest(session_id=TARGET), "messages"),
]


def _snapshot(c: Client) -> tuple[Any, ...]:
    sessions = c.s("ListSessions", spb.ListSessionsRequest(page_size=1000))
    messages = c.m("ListMessages", mpb.ListMessagesRequest(session_id=TARGET, page_size=1000))
    return (sessions, messages)


@pytest.mark.parametrize(
    ("service", "method", "request_", "field"),
    CASES,
    ids=lambda x: str(x)[:40] if isinstance(x, str) else None,
)
def test_bad_input_is_invalid_argument_naming_the_field(
    alice: Client, service: str, method: str, request_: Any, field: str
) -> None:
    alice.s("CreateSession", spb.CreateSessionRequest(session_id=TARGET, session_name="before"))
    message = alice.m(
        "CreateMessage", mpb.CreateMessageRequest(session_id=TARGET, role=rpb.user, content="kept")
    )
    if hasattr(request_, "message_id") and request_.message_id == MSG:
        request_ = type(request_).FromString(request_.SerializeToString())
        request_.message_id = message.id
    before = _snapshot(alice)
    call = getattr(alice, service)
    f = failure(
        lambda: list(call(method, request_)) if method == "Converse" else call(method, request_)
    )
    assert f.code == grpc.StatusCode.INVALID_ARGUMENT, f
    assert f.fields == [field]
    assert f.message.startswith(field + ":")
    assert _snapshot(alice) == before


def test_undecodable_request_is_invalid_argument_not_internal(channel: grpc.Channel) -> None:
    """Invalid UTF-8 in a string field (a non-Python client can send it): 400, not INTERNAL."""
    from tests.support import bearer

    raw = b"\x0a\x03\xff\xfe\xfd"  # field 1 (session_id), 3 bytes that are not UTF-8
    unary = channel.unary_unary("/agentsessions.v1.SessionService/GetSession")
    stream = channel.unary_stream("/agentsessions.v1.SessionService/Converse")
    for metadata, code in (
        (bearer("utf8-user"), grpc.StatusCode.INVALID_ARGUMENT),
        ((), grpc.StatusCode.UNAUTHENTICATED),
    ):
        assert failure(lambda m=metadata: unary(raw, metadata=m, timeout=10)).code == code
        assert failure(lambda m=metadata: list(stream(raw, metadata=m, timeout=10))).code == code
