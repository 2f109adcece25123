"""A session's text fields are declared once (domain.SessionFields); every other list of them is
derived from it, and these checks fail when a place that cannot derive it disagrees."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
from agent_sessions import validation
from agent_sessions.db import statements
from agent_sessions.db.models import AgentSession
from agent_sessions.domain import SESSION_TEXT_FIELDS, Session, SessionFields
from agentsessions.v1 import resources_pb2, session_service_pb2

# A conversation creates its session from these too, but has no description of its own.
NOT_IN_A_TURN = {"description"}


def test_the_one_list_is_the_dataclass() -> None:
    assert tuple(f.name for f in dataclasses.fields(SessionFields)) == SESSION_TEXT_FIELDS
    assert set(SESSION_TEXT_FIELDS) <= {f.name for f in dataclasses.fields(Session)}


@pytest.mark.parametrize("name", SESSION_TEXT_FIELDS)
def test_each_field_is_bounded_stored_and_in_the_api(name: str) -> None:
    assert name in validation.MAX_LENGTH, f"validation.MAX_LENGTH has no bound for {name}"
    assert name in AgentSession.__table__.c, f"agent_sessions has no column {name}"
    assert statements.S.c[name] in statements.SESSION_COLUMNS
    for message in (
        resources_pb2.Session,
        session_service_pb2.CreateSessionRequest,
        session_service_pb2.UpdateSessionRequest,
    ):
        assert name in message.DESCRIPTOR.fields_by_name, f"{message.__name__} lacks {name}"
    for turn in (session_service_pb2.ConversationRequest, session_service_pb2.ConverseRequest):
        assert (name in turn.DESCRIPTOR.fields_by_name) == (name not in NOT_IN_A_TURN)


def test_the_python_client_takes_every_field() -> None:
    """The client is a package of its own (it cannot import the server): its arguments are
    checked against the list instead."""
    from agent_sessions_client import AsyncClient, Client

    for cls in (AsyncClient, Client):
        for method in ("create_session", "update_session"):
            parameters = inspect.signature(getattr(cls, method)).parameters
            assert set(SESSION_TEXT_FIELDS) <= set(parameters), (cls.__name__, method)
        for method in ("conversation", "converse"):
            parameters = inspect.signature(getattr(cls, method)).parameters
            assert set(SESSION_TEXT_FIELDS) - NOT_IN_A_TURN <= set(parameters), method
