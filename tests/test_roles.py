"""Serving as a role that may only read and write rows, with the migrations run by the owner
(AGENT_SESSIONS_MIGRATION_DATABASE_URL)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb
from psycopg.conninfo import conninfo_to_dict

from tests.served import Served
from tests.support import channel_to, client


def test_a_row_only_role_serves_turns_and_watches_but_cannot_change_the_schema(
    database_url: str, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    role = f"as_app_{uuid.uuid4().hex[:8]}"
    db.execute(f"CREATE ROLE {role} LOGIN")
    db.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    db.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    params = {**conninfo_to_dict(database_url), "user": role}
    params.pop("password", None)
    app_url = "postgresql://?" + urlencode(params)
    try:
        with (
            psycopg.connect(app_url, autocommit=True) as app,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            app.execute("CREATE TABLE not_allowed (i int)")
        served = Served(
            app_url,
            tmp_path / "serve.log",
            AGENT_SESSIONS_MIGRATION_DATABASE_URL=database_url,
            AGENT_SESSIONS_WORKERS="1",
            AGENT_SESSIONS_DB_POOL_SIZE="2",
        )
        with served, channel_to(served.port) as channel:
            user = client(channel)
            message = spb.ConversationMessage(role=rpb.user, content="hi")
            reply = user.s("Conversation", spb.ConversationRequest(messages=[message]))
            assert reply.messages_count == 2 and reply.turn_id
            watch = user.s(
                "WatchSession", spb.WatchSessionRequest(session_id=reply.session_id, after_seq=0)
            )
            first = next(iter(watch))
            watch.cancel()
            assert first.message.content == "hi"
            turn = user.s(
                "GetTurn", spb.GetTurnRequest(session_id=reply.session_id, turn_id=reply.turn_id)
            )
            assert turn.status == spb.completed
            serving = db.execute(
                "SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name LIKE "
                "'agent-sessions%%'"
            ).fetchall()
            assert (role,) in serving  # the workers' connections are the row-only role's
    finally:
        db.execute(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
        db.execute(f"DROP OWNED BY {role}")
        db.execute(f"DROP ROLE {role}")
