"""Every SQL statement on user data, written with SQLAlchemy Core against the models and compiled
once; each one is scoped by the owner (`p_user_id`), which the repositories always bind."""

from __future__ import annotations

from dataclasses import fields
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    Float,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert

from agent_sessions.db.engine import sql
from agent_sessions.db.models import AgentSession, RequestId, SessionChange, SessionMessage, User
from agent_sessions.domain import SESSION_TEXT_FIELDS, Message, Session

S = cast(Table, AgentSession.__table__)
M = cast(Table, SessionMessage.__table__)
U = cast(Table, User.__table__)
R = cast(Table, RequestId.__table__)
C = cast(Table, SessionChange.__table__)

# What a statement returns of a session or message: the domain dataclass's fields, in its order,
# so rows become `Session` / `Message` positionally (db/rows.py).
SESSION_COLUMNS = tuple(S.c[f.name] for f in fields(Session))
MESSAGE_COLUMNS = tuple(M.c[f.name] for f in fields(Message))
MESSAGE_FIELDS = ("content", "tool_call_id", "tool_name", "extra_data")

# The caller's session `session_id`. Every statement below that touches user data is scoped by
# this clause or by the caller's `user_id`, and the repositories always bind `p_user_id`.
# (Parameters carry a `p_` prefix: in an UPDATE, one named like a column would become a SET.)
OWNER = bindparam("p_user_id", type_=UUID(as_uuid=True))
# A session past its `expire_time` is gone for every call, at once: every statement on a session
# takes only live ones (the sweep in db/maintenance.py deletes the rows later).
LIVE = or_(S.c.expire_time.is_(None), S.c.expire_time > func.now())
_LIVE_SQL = "(a.expire_time IS NULL OR a.expire_time > now())"
OWNED_SESSION = and_(S.c.user_id == OWNER, S.c.session_id == bindparam("p_session_id"), LIVE)
OWNED_SESSION_ID = select(S.c.id).where(OWNED_SESSION).scalar_subquery()
# Constants written into the SQL (a Python int would become a parameter of its own).
ONE: Any = literal_column("1")
ZERO: Any = literal_column("0")

GET_SESSION = sql(select(*SESSION_COLUMNS).where(OWNED_SESSION))
GET_MESSAGE = sql(
    select(*MESSAGE_COLUMNS).where(
        M.c.id == bindparam("p_message_id"), M.c.session_uuid == OWNED_SESSION_ID
    )
)
_TEXT_NAMES = ", ".join(SESSION_TEXT_FIELDS)
_TEXT_PARAMS = ", ".join(f"%(p_{name})s" for name in SESSION_TEXT_FIELDS)
_SESSION_RETURNING = ", ".join(f"a.{column.name}" for column in SESSION_COLUMNS)
_SESSION_SELECTED = ", ".join(f"s.{column.name}" for column in SESSION_COLUMNS)
_MESSAGE_NAMES = ", ".join(column.name for column in MESSAGE_COLUMNS)
_MESSAGE_SELECTED = ", ".join(f"m.{column.name}" for column in MESSAGE_COLUMNS)
_ENSURE_USER_SQL = """ensure_user AS (
  INSERT INTO users (id, subject) VALUES (%(p_user_id)s, %(p_subject)s) ON CONFLICT DO NOTHING
), """


# Unless the session's newest message is a tool call or a tool result (it may wait for results).
_NO_TRAILING_TOOL_RUN = """
      AND NOT EXISTS (
        SELECT 1 FROM (SELECT t.role, t.tool_call_id FROM session_messages t
                       WHERE t.session_uuid = a.id ORDER BY t.seq DESC LIMIT 1) AS newest
        WHERE newest.role = 'tool'
           OR (newest.role = 'assistant' AND newest.tool_call_id IS NOT NULL))"""


# The request-id record a write with a request id adds to its own statement (see `_recorded`).
_RECORD_COLUMNS = "user_id, request_id, method, fingerprint, result, expires_at"
_RECORD_VALUES = (
    "%(p_user_id)s, %(p_request_id)s, %(p_method)s, %(p_fingerprint)s, {result}, "
    "now() + %(p_ttl)s * interval '1 second'"
)


# A session's usage: summed over its stored turns by the statement that stores each turn (a turn
# binds its usage and `p_turns` 1; a batch binds zeros).
_USAGE = ("input_tokens", "output_tokens", "total_tokens", "turns")
_USAGE_NAMES = ", ".join(_USAGE)
_USAGE_PARAMS = ", ".join(f"%(p_{name})s" for name in _USAGE)
_USAGE_ADDED = ", ".join(f"{name} = a.{name} + %(p_{name})s" for name in _USAGE)
_USAGE_ADDED_EXCLUDED = ", ".join(f"{name} = a.{name} + EXCLUDED.{name}" for name in _USAGE)
# A new session's expiry: `p_expire_time`, else `p_expire_after` seconds from now (the caller's
# ttl or the server's default); both NULL: never.
_DEFAULT_EXPIRY = (
    "COALESCE(%(p_expire_time)s::timestamptz, "
    "now() + %(p_expire_after)s::float8 * interval '1 second')"
)

_DEFAULT_EXPIRY_CLAUSE: Any = func.coalesce(
    bindparam("p_expire_time", type_=S.c.expire_time.type),
    func.now() + bindparam("p_expire_after", type_=Float) * literal_column("interval '1 second'"),
)


@cache
def append_messages(
    *,
    with_user: bool,
    create: bool,
    active_only: bool,
    unread: bool = False,
    expected_seq: bool = False,
    request: bool = False,
    turn: str = "",
) -> str:
    """Messages appended to a session in one statement, so one round trip and atomic without a
    transaction: a conversation turn (the request's messages and the agent's) or a batch.

    The session's `seq` is bumped by the number of messages — row-locking it until the
    statement commits, so a concurrent writer of the same session waits and gets the next
    block: every append is contiguous and the seqs gap-free. With `create` an upsert creates
    the session if it is new (a turn; a batch with `create_session`); otherwise a missing
    session changes nothing. The session is left alone, and nothing inserted, when
    `active_only` and it is inactive (a turn), or with `expected_seq` when its seq moved on.
    Each returned row is the session, its message count, and one stored message.

    `unread`: for a turn whose session was not read first (an agent that reads none). The
    session is then also left alone when its newest message is a tool call or result, since
    the turn would have to answer pending calls: the caller then reads it and checks.

    `request`: the request id is recorded in the same statement with what it stored, the
    session and the messages (and `p_extra`, what the caller adds to its answer).

    `turn`, for a conversation turn, records the turn (`p_turn_id`) as completed with the same
    record in `result`. "new": a turn that had no row yet (one stored in this one statement,
    see services/live.py); nothing is stored while another turn of the session waits or runs.
    "gated": a turn whose row is running; the row is locked first and nothing is stored unless
    it is still running (a CancelTurn or a lost lease that committed first wins; one that comes
    after finds the turn completed).
    """
    conditions = f" AND {_LIVE_SQL}"
    gate = ""
    if turn == "new":
        gate = """ AND NOT EXISTS (SELECT 1 FROM turns t WHERE t.session_uuid = %(p_id)s
                         AND t.status IN ('queued', 'running'))"""
    elif turn == "gated":
        gate = " AND EXISTS (SELECT 1 FROM gate)"
    conditions += gate
    conditions += " AND a.is_active" if active_only else ""
    conditions += _NO_TRAILING_TOOL_RUN if unread else ""
    conditions += " AND a.seq = %(p_expected_seq)s" if expected_seq else ""
    if create:
        session = f"""INSERT INTO agent_sessions AS a (id, user_id, session_id, is_active, {_TEXT_NAMES},
                                   labels, seq, message_count, expire_time, {_USAGE_NAMES})
  SELECT %(p_id)s, %(p_user_id)s, %(p_session_id)s, %(p_is_active)s, {_TEXT_PARAMS},
         %(p_labels)s::jsonb, %(p_count)s, %(p_count)s, {_DEFAULT_EXPIRY}, {_USAGE_PARAMS}
  WHERE true{gate}
  ON CONFLICT (id) DO UPDATE
    SET seq = a.seq + EXCLUDED.seq,
        message_count = a.message_count + EXCLUDED.message_count,
        {_USAGE_ADDED_EXCLUDED}
    WHERE a.user_id = %(p_user_id)s{conditions}"""
    else:
        session = f"""UPDATE agent_sessions AS a
    SET seq = a.seq + %(p_count)s, message_count = a.message_count + %(p_count)s,
        {_USAGE_ADDED}
    WHERE a.user_id = %(p_user_id)s AND a.session_id = %(p_session_id)s{conditions}"""
    record = ""
    if request:
        result = (
            "jsonb_build_object('session', (SELECT to_jsonb(s) FROM s), 'messages', "
            "(SELECT jsonb_agg(to_jsonb(m) ORDER BY m.seq) FROM m), 'extra', %(p_extra)s::jsonb)"
        )
        record = f""", record AS (
  INSERT INTO request_ids ({_RECORD_COLUMNS})
  SELECT {_RECORD_VALUES.format(result=result)}
  WHERE EXISTS (SELECT 1 FROM s)
)"""
    turn_sql = ""
    if turn:
        stored = (
            "jsonb_build_object('session', (SELECT to_jsonb(s) FROM s), 'messages', "
            "(SELECT jsonb_agg(to_jsonb(m) ORDER BY m.seq) FROM m), 'extra', %(p_turn_extra)s::jsonb)"
        )
        if turn == "new":
            turn_sql = f""", turn AS (
  INSERT INTO turns (id, user_id, session_uuid, session_id, status, request_id, method,
                     fingerprint, lease_until, result)
  SELECT %(p_turn_id)s, %(p_user_id)s, s.id, s.session_id, 'completed', %(p_turn_request_id)s,
         %(p_turn_method)s, %(p_turn_fingerprint)s, now(), {stored}
  FROM s
)"""
        else:
            turn_sql = f""", turn AS (
  UPDATE turns SET status = 'completed', result = {stored}, updated_at = now()
  WHERE id = %(p_turn_id)s AND EXISTS (SELECT 1 FROM s)
)"""
    gate_sql = ""
    if turn == "gated":
        gate_sql = """gate AS (
  SELECT id FROM turns WHERE id = %(p_turn_id)s AND status = 'running' FOR UPDATE
), """
    return f"""
WITH {_ENSURE_USER_SQL if with_user else ""}{gate_sql}s AS (
  {session}
  RETURNING {_SESSION_RETURNING}, a.message_count
), m AS (
  INSERT INTO session_messages (id, session_uuid, seq, role, content, tool_call_id, tool_name,
                                extra_data)
  SELECT m.id, s.id, s.seq - %(p_count)s + m.i, m.role, m.content, m.tool_call_id,
         m.tool_name, m.extra_data
  FROM s, unnest(%(p_ids)b::uuid[], %(p_roles)b::text[], %(p_contents)b::text[],
                 %(p_tool_call_ids)b::text[], %(p_tool_names)b::text[], %(p_extra_data)b::text[])
       WITH ORDINALITY AS m(id, role, content, tool_call_id, tool_name, extra_data, i)
  RETURNING {_MESSAGE_NAMES}
){record}{turn_sql}
SELECT {_SESSION_SELECTED}, s.message_count, {_MESSAGE_SELECTED}
FROM s CROSS JOIN m
ORDER BY m.seq
"""


def _recorded(write: Any) -> str:
    """`write` (a statement that returns rows) with its request id recorded in the same
    statement: a CTE inserts the id, the method, the request's fingerprint and the rows the
    write returned (`{"rows": [...]}`), only when it returned any (a write that changed nothing
    leaves the id unused). A second call with the id fails on the record's primary key, after
    the first committed (it waits for an uncommitted one): the whole statement then changes
    nothing and the caller answers from the record."""
    w = write.cte("w")
    return sql(select(*w.c).add_cte(_recorded_cte(w)))


def _recorded_cte(w: Any) -> Any:
    """The CTE that records the request id with the rows of the CTE `w` (see `_recorded`)."""
    return (
        insert(R)
        .from_select(
            ["user_id", "request_id", "method", "fingerprint", "result", "expires_at"],
            select(
                OWNER,
                bindparam("p_request_id", type_=UUID(as_uuid=True)),
                bindparam("p_method"),
                bindparam("p_fingerprint", type_=R.c.fingerprint.type),
                func.jsonb_build_object(
                    literal_column("'rows'"), func.jsonb_agg(literal_column("w"))
                ),
                func.now() + bindparam("p_ttl") * literal_column("interval '1 second'"),
            )
            .select_from(w)
            .having(func.count() > ZERO),
        )
        .cte("record")
    )


def _write(statement: Any, request: bool) -> str:
    return _recorded(statement) if request else sql(statement)


# The etag of a session holds its seq and creation time; a message's its updated_at.
_SESSION_ETAG = and_(
    S.c.seq == bindparam("p_etag_seq"), S.c.created_at == bindparam("p_etag_created_at")
)
_MESSAGE_ETAG = M.c.updated_at == bindparam("p_etag_updated_at")


@cache
def create_message(*, expected_seq: bool, request: bool) -> str:
    """Takes the session's next seq (row-locking it until the statement commits) and inserts
    the message there: one statement, one round trip. It returns only what the database
    chose; the rest of the stored row is what was sent (no need to echo the content)."""
    bump = (
        update(S)
        .where(OWNED_SESSION, *([S.c.seq == bindparam("p_expected_seq")] if expected_seq else []))
        .values(seq=S.c.seq + ONE, message_count=S.c.message_count + ONE)
        .returning(S.c.id, S.c.seq)
        .cte("bump")
    )
    insert_message = insert(M).from_select(
        ["id", "session_uuid", "seq", "role", *MESSAGE_FIELDS],
        select(
            bindparam("p_id", type_=UUID(as_uuid=True)),
            bump.c.id,
            bump.c.seq,
            bindparam("p_role", type_=M.c.role.type),
            *(bindparam(f"p_{name}", type_=M.c[name].type) for name in MESSAGE_FIELDS),
        ),
    )
    if not request:
        return sql(
            insert_message.returning(M.c.session_uuid, M.c.seq, M.c.created_at, M.c.updated_at)
        )
    # The record keeps the whole row, so a retry answers the message as it was stored.
    w = insert_message.returning(*MESSAGE_COLUMNS).cte("w")
    record = _recorded_cte(w)
    return sql(select(w.c.session_uuid, w.c.seq, w.c.created_at, w.c.updated_at).add_cte(record))


# Every write of a session's existing messages (update, delete, clear, rewind) runs in a transaction
# that first row-locks the session with this, as appends and turns do in their own statement:
# one lock order, and the write's statement then reads a snapshot taken after the lock, so it
# sees every message committed before it and none can commit beside it.
LOCK_SESSION = sql(select(*SESSION_COLUMNS).where(OWNED_SESSION).with_for_update())


def _change(kind: str, session: Any, body: Any, source: Any) -> Any:
    """A CTE that logs a change (other than a stored message) at the session seq it took, for
    watches that resume after a seq (see SessionChange); `session`: the columns (a CTE's) of
    the changed session row after the change."""
    return (
        insert(C)
        .from_select(
            ["session_uuid", "generation", "seq", "user_id", "kind", "body"],
            select(
                session.id,
                session.created_at,
                session.seq,
                session.user_id,
                literal_column(f"'{kind}'"),
                body,
            ).select_from(source),
        )
        .cte(f"log_{kind}")
    )


_LOGGED = (S.c.id, S.c.seq, S.c.created_at, S.c.user_id)


def _message_write(write: Any, values: dict[str, Any], kind: str) -> Any:
    """`write` (an UPDATE or DELETE of one message, returning its row) and, only when it
    changed the message, the session's next seq (and `values`) and the change's log entry:
    one statement."""
    changed = write.cte("changed")
    bump = (
        update(S)
        .where(S.c.id == changed.c.session_uuid)
        .values(seq=S.c.seq + ONE, **values)
        .returning(*_LOGGED)
        .cte("bump")
    )
    if kind == "message_updated":
        body: Any = func.to_jsonb(literal_column("changed"))
    else:
        body = func.jsonb_build_object(literal_column("'message_id'"), changed.c.id)
    log = _change(kind, bump.c, body, changed.join(bump, true()))
    statement = select(*changed.c).add_cte(bump).add_cte(log)
    if kind == "message_deleted":
        statement = statement.add_cte(_kept(changed, bump))
    return statement


def _kept(gone: Any, session: Any) -> Any:
    """A CTE that keeps deleted messages in the change log at the seqs they were stored at: the
    messages table is the log of stored messages, and a watch that reads late must still see
    a message that was stored and then deleted (`gone`: a CTE of the deleted rows; `session`:
    of the session after the change)."""
    return (
        insert(C)
        .from_select(
            ["session_uuid", "generation", "seq", "user_id", "kind", "body"],
            select(
                session.c.id,
                session.c.created_at,
                gone.c.seq,
                session.c.user_id,
                literal_column("'message'"),
                func.to_jsonb(literal_column(gone.name)),
            ).select_from(gone.join(session, true())),
        )
        .cte(f"kept_{gone.name}")
    )


def _one_message(etag: bool) -> list[Any]:
    return [
        M.c.id == bindparam("p_message_id"),
        M.c.session_uuid == OWNED_SESSION_ID,
        *([_MESSAGE_ETAG] if etag else []),
    ]


@cache
def update_message(names: frozenset[str], *, etag: bool, request: bool) -> str:
    """Sets the named message fields (bound as `p_<name>`); the session takes its next seq.
    After LOCK_SESSION, in its transaction."""
    write = (
        update(M)
        .where(*_one_message(etag))
        .values(
            **{name: bindparam(f"p_{name}", type_=M.c[name].type) for name in sorted(names)},
            updated_at=func.clock_timestamp(),
        )
        .returning(*MESSAGE_COLUMNS)
    )
    return _write(_message_write(write, {}, "message_updated"), request)


@cache
def delete_message(*, etag: bool, request: bool) -> str:
    """Deletes one message; the session takes its next seq and counts one message less.
    After LOCK_SESSION, in its transaction."""
    # Returns the whole row (id and session_uuid first), which the change log keeps.
    write = delete(M).where(*_one_message(etag)).returning(*MESSAGE_COLUMNS)
    return _write(
        _message_write(write, {"message_count": S.c.message_count - ONE}, "message_deleted"),
        request,
    )


@cache
def clear_messages(*, request: bool) -> str:
    """Deletes every message of the session, which takes one seq for it; one row (the session's
    id and how many were deleted) when the session is there. After LOCK_SESSION, in its
    transaction (so no message committed before it is missed)."""
    bump = (
        update(S)
        .where(OWNED_SESSION)
        .values(seq=S.c.seq + ONE, message_count=ZERO)
        .returning(*_LOGGED)
        .cte("bump")
    )
    deleted = (
        delete(M)
        .where(M.c.session_uuid == OWNED_SESSION_ID)
        .returning(*MESSAGE_COLUMNS)
        .cte("deleted")
    )
    count = select(func.count()).select_from(deleted).scalar_subquery()
    body = func.jsonb_build_object(literal_column("'deleted_count'"), count)
    log = _change("cleared", bump.c, body, bump)
    kept = _kept(deleted, bump)
    return _write(
        select(bump.c.id, count.label("deleted_count")).add_cte(log).add_cte(kept), request
    )


@cache
def list_messages(*, descending: bool, after: bool) -> str:
    """One round trip for a message page: the session's id and count, and up to `p_limit` rows
    — fewer when their text passes `p_budget` bytes: the rows whose predecessors in the page
    hold at most that much text, and always the first two (the service shows those that fit
    and knows there are more). Sizes come from `octet_length`, which reads a TOASTed value's
    size without reading the value, so rows past the budget are never loaded."""
    order = M.c.seq.desc() if descending else M.c.seq.asc()
    size = sum((func.coalesce(func.octet_length(M.c[name]), ZERO) for name in MESSAGE_FIELDS), ZERO)
    page = select(
        *MESSAGE_COLUMNS,
        (func.sum(size).over(order_by=order) - size).label("before"),
        func.row_number().over(order_by=order).label("place"),
    ).where(M.c.session_uuid == S.c.id)
    page = page.correlate(S)
    if after:
        after_seq: Any = bindparam("p_after")
        page = page.where(M.c.seq < after_seq if descending else M.c.seq > after_seq)
    limited = page.order_by(order).limit(bindparam("p_limit")).subquery("limited")
    rows = (
        select(*(limited.c[c.name] for c in MESSAGE_COLUMNS))
        .where(
            or_(
                limited.c.place <= literal_column("2"),
                limited.c.before <= bindparam("p_budget"),
            )
        )
        .lateral("page")
    )
    return sql(
        select(S.c.id.label("owning_session"), S.c.message_count, *rows.c)
        .select_from(S.outerjoin(rows, true()))
        .where(OWNED_SESSION)
        .order_by(rows.c.seq.desc() if descending else rows.c.seq.asc())
    )


@cache
def turn_context(*, history: bool) -> str:
    """One round trip before a turn: the session, and its last `p_limit` messages oldest first
    (NULLs for a session without messages; no row without a session).

    Without `history` (an agent that reads none, like the mock), only the session's trailing
    run of tool calls and results, where pending calls are: usually no message at all. The
    newest message that is not part of that run is found walking the (session_uuid, seq)
    index backwards, so the cost does not grow with the session.
    """
    messages = select(*MESSAGE_COLUMNS).where(M.c.session_uuid == S.c.id)
    if not history:
        other = M.alias("other")
        newest_other = (
            select(func.max(other.c.seq))
            .where(
                other.c.session_uuid == S.c.id,
                ~or_(
                    other.c.role == literal_column("'tool'"),
                    and_(
                        other.c.role == literal_column("'assistant'"),
                        other.c.tool_call_id.isnot(None),
                    ),
                ),
            )
            .correlate(S)
            .scalar_subquery()
        )
        messages = messages.where(M.c.seq > func.coalesce(newest_other, ZERO))
    recent = messages.order_by(M.c.seq.desc()).limit(bindparam("p_limit")).lateral("recent")
    return sql(
        select(*SESSION_COLUMNS, *recent.c)
        .select_from(S.outerjoin(recent, true()))
        .where(OWNED_SESSION)
        .order_by(recent.c.seq.asc())
    )


@cache
def create_session(*, with_user: bool, request: bool) -> str:
    """Inserts a session; nothing on a clash with an existing one (RETURNING then yields no
    row). No conflict target, as above, so a race on the derived id is no error either. With
    `with_user`, the owner's user row is inserted in the same statement (a data-modifying CTE;
    the foreign key is checked at the statement's end): one round trip, no transaction."""
    statement = (
        pg_insert(S)
        .values(
            id=bindparam("p_id", type_=UUID(as_uuid=True)),
            user_id=OWNER,
            session_id=bindparam("p_session_id"),
            is_active=bindparam("p_is_active"),
            **{name: bindparam(f"p_{name}", type_=S.c[name].type) for name in SESSION_TEXT_FIELDS},
            labels=bindparam("p_labels", type_=JSONB),
            expire_time=_DEFAULT_EXPIRY_CLAUSE,
        )
        .on_conflict_do_nothing()
        .returning(*SESSION_COLUMNS)
    )
    if with_user:
        statement = statement.add_cte(_ENSURE_USER_CTE)
    return _write(statement, request)


# The inserts of users and of CreateSession's sessions name no conflict target: PostgreSQL then
# treats every unique index as an arbiter. With one target, two concurrent first calls that
# collide on another unique index (users.subject; the session's derived id) fail with a unique
# violation instead of doing nothing.
_ENSURE_USER_CTE = (
    pg_insert(U)
    .values(id=OWNER, subject=bindparam("p_subject"))
    .on_conflict_do_nothing()
    .cte("ensure_user")
)


def _session_filters(is_active: bool, agent_name: bool, labels: bool) -> list[Any]:
    filters: list[Any] = [S.c.user_id == OWNER, LIVE]
    if labels:
        # Containment, which the GIN index on labels answers.
        filters.append(S.c.labels.op("@>")(bindparam("p_labels", type_=JSONB)))
    if is_active:
        filters.append(S.c.is_active == bindparam("p_is_active"))
    if agent_name:
        filters.append(S.c.agent_name == bindparam("p_agent_name"))
    return filters


@cache
def list_sessions(*, is_active: bool, agent_name: bool, after: bool, labels: bool = False) -> str:
    """A page of sessions, newest first, for the filters present (compiled once per shape)."""
    page = select(*SESSION_COLUMNS).where(*_session_filters(is_active, agent_name, labels))
    if after:
        created_at: Any = bindparam("p_after_created_at")
        id_: Any = bindparam("p_after_id")
        page = page.where(
            or_(S.c.created_at < created_at, and_(S.c.created_at == created_at, S.c.id < id_))
        )
    return sql(page.order_by(S.c.created_at.desc(), S.c.id.desc()).limit(bindparam("p_limit")))


@cache
def count_sessions(*, is_active: bool, agent_name: bool, labels: bool = False) -> str:
    """How many sessions the filters select."""
    return sql(
        select(func.count().label("total"))
        .select_from(S)
        .where(*_session_filters(is_active, agent_name, labels))
    )


@cache
def update_session(names: frozenset[str], *, etag: bool, request: bool) -> str:
    """Sets the named session fields (bound as `p_<name>`), `updated_at`, and the next seq;
    compiled once per set of names and shape."""
    changed = (
        update(S)
        .where(OWNED_SESSION, *([_SESSION_ETAG] if etag else []))
        .values(
            **{name: bindparam(f"p_{name}", type_=S.c[name].type) for name in sorted(names)},
            seq=S.c.seq + ONE,
            updated_at=func.clock_timestamp(),
        )
        .returning(*SESSION_COLUMNS)
        .cte("changed")
    )
    log = _change("session", changed.c, func.to_jsonb(literal_column("changed")), changed)
    return _write(select(*changed.c).add_cte(log), request)


@cache
def delete_session(*, etag: bool, request: bool) -> str:
    """Deletes a session (its messages go with it, by the foreign key's cascade) and logs the
    delete at the session's next seq, so watches end with it (see SessionChange)."""
    gone = (
        delete(S)
        .where(OWNED_SESSION, *([_SESSION_ETAG] if etag else []))
        .returning(*_LOGGED)
        .cte("gone")
    )
    tombstone = (
        insert(C)
        .from_select(
            ["session_uuid", "generation", "seq", "user_id", "kind", "body"],
            select(
                gone.c.id,
                gone.c.created_at,
                gone.c.seq + ONE,
                gone.c.user_id,
                literal_column("'deleted'"),
                literal_column("'{}'::jsonb"),
            ),
        )
        .cte("tombstone")
    )
    return _write(select(gone.c.id).add_cte(tombstone), request)


GET_REQUEST = sql(
    select(R.c.method, R.c.fingerprint, R.c.result).where(
        R.c.user_id == OWNER, R.c.request_id == bindparam("p_request_id", type_=UUID(as_uuid=True))
    )
)


# Whether cutting the session `src` after the message at seq `{cut}` would separate a tool call
# (at or before the cut) from its result (after it).
_SPLITS_TOOL_CALL = """EXISTS (
    SELECT 1 FROM session_messages c JOIN session_messages r
      ON r.session_uuid = c.session_uuid AND r.tool_call_id = c.tool_call_id AND r.role = 'tool'
    WHERE c.session_uuid = {session} AND c.role = 'assistant' AND c.tool_call_id IS NOT NULL
      AND c.seq <= {cut} AND r.seq > {cut})"""
# A new UUIDv7 (as db/ids.py makes them): a random UUID's first 48 bits replaced by the Unix
# milliseconds, its version bits turned from 4 to 7.
_UUID7_SQL = """encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
      placing substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
      FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid"""


@cache
def fork_session(*, up_to: bool, request: bool) -> str:
    """A new session (`p_id`, `p_new_session_id`) with the source's fields and copies of its
    messages, all or up to and including `p_up_to`, in one statement: all or nothing.

    Always one row: whether the source is there, whether the cut message is, whether the cut
    would split a tool call from its result, then the new session's columns (NULLs when none
    was made: a missing source or cut, a split, or the new `session_id` taken)."""
    cut = "(SELECT seq FROM cut)"
    if not up_to:
        cut = "(SELECT max(t.seq) FROM session_messages t WHERE t.session_uuid = src.id)"
    record = ""
    if request:
        result = "jsonb_build_object('rows', (SELECT jsonb_agg(to_jsonb(s)) FROM s))"
        record = f""", record AS (
  INSERT INTO request_ids ({_RECORD_COLUMNS})
  SELECT {_RECORD_VALUES.format(result=result)}
  WHERE EXISTS (SELECT 1 FROM s)
)"""
    texts = ", ".join(
        "COALESCE(%(p_session_name)s, src.session_name)"
        if name == "session_name"
        else f"src.{name}"
        for name in SESSION_TEXT_FIELDS
    )
    return f"""
WITH src AS (
  SELECT a.* FROM agent_sessions a
  WHERE a.user_id = %(p_user_id)s AND a.session_id = %(p_session_id)s AND {_LIVE_SQL}
), cut AS (
  SELECT t.seq FROM session_messages t, src
  WHERE t.session_uuid = src.id AND t.id = %(p_up_to)s::uuid
), fits AS (
  SELECT {"EXISTS (SELECT 1 FROM cut)" if up_to else "true"} AS cut_found,
         {_SPLITS_TOOL_CALL.format(session="src.id", cut=cut)} AS splits
  FROM src
), kept AS (
  SELECT t.* FROM session_messages t, src, fits
  WHERE t.session_uuid = src.id AND fits.cut_found AND NOT fits.splits
    {"AND t.seq <= (SELECT seq FROM cut)" if up_to else ""}
), s AS (
  INSERT INTO agent_sessions AS a (id, user_id, session_id, is_active, {_TEXT_NAMES}, labels,
                                   expire_time, seq, message_count)
  SELECT %(p_id)s, src.user_id, %(p_new_session_id)s, src.is_active, {texts}, src.labels,
         {_DEFAULT_EXPIRY}, n.n, n.n
  FROM src, fits, (SELECT count(*) AS n FROM kept) AS n
  WHERE fits.cut_found AND NOT fits.splits
  ON CONFLICT DO NOTHING
  RETURNING {_SESSION_RETURNING}
), m AS (
  INSERT INTO session_messages (id, session_uuid, seq, role, content, tool_call_id, tool_name,
                                extra_data, created_at, updated_at)
  SELECT {_UUID7_SQL}, s.id, row_number() OVER (ORDER BY k.seq), k.role, k.content,
         k.tool_call_id, k.tool_name, k.extra_data, k.created_at, k.updated_at
  FROM s, kept k
){record}
SELECT EXISTS (SELECT 1 FROM src), COALESCE((SELECT cut_found FROM fits), false),
       COALESCE((SELECT splits FROM fits), false), {_SESSION_SELECTED}
FROM (SELECT 1) AS one LEFT JOIN s ON true
"""


# The owner's expired session with this id, not yet swept: deleted before a new one takes its id.
PURGE_EXPIRED_SESSION = sql(
    delete(S).where(
        S.c.user_id == OWNER,
        S.c.session_id == bindparam("p_session_id"),
        S.c.expire_time <= func.now(),
    )
)

# Where a rewind cuts (the message's seq; no row: no such message in the session) and whether
# that splits a tool call from its result.
REWIND_CUT = f"""
SELECT t.seq, {_SPLITS_TOOL_CALL.format(session="t.session_uuid", cut="t.seq")}
FROM session_messages t
WHERE t.session_uuid = (SELECT a.id FROM agent_sessions a
                        WHERE a.user_id = %(p_user_id)s AND a.session_id = %(p_session_id)s)
  AND t.id = %(p_after)s::uuid
"""


@cache
def rewind_session(*, request: bool) -> str:
    """Deletes the session's messages after seq `p_cut`; the session takes one seq for each
    (none when there are none) and counts them less. Run under LOCK_SESSION's lock."""
    record = ""
    if request:
        result = "jsonb_build_object('rows', (SELECT jsonb_agg(to_jsonb(s)) FROM s))"
        record = f""", record AS (
  INSERT INTO request_ids ({_RECORD_COLUMNS})
  SELECT {_RECORD_VALUES.format(result=result)}
  WHERE EXISTS (SELECT 1 FROM s)
)"""
    return f"""
WITH target AS (
  SELECT a.id FROM agent_sessions a
  WHERE a.user_id = %(p_user_id)s AND a.session_id = %(p_session_id)s AND {_LIVE_SQL}
), gone AS (
  DELETE FROM session_messages t USING target
  WHERE t.session_uuid = target.id AND t.seq > %(p_cut)s
  RETURNING t.*
), s AS (
  UPDATE agent_sessions a
    SET seq = a.seq + (SELECT count(*) FROM gone),
        message_count = a.message_count - (SELECT count(*) FROM gone)
  FROM target
  WHERE a.id = target.id
  RETURNING {_SESSION_RETURNING}
), log AS (
  INSERT INTO session_changes (session_uuid, generation, seq, user_id, kind, body)
  SELECT s.id, s.created_at,
         s.seq - (SELECT count(*) FROM gone) + row_number() OVER (ORDER BY g.seq),
         s.user_id, 'message_deleted', jsonb_build_object('message_id', g.id)
  FROM s, gone g
), kept AS (
  INSERT INTO session_changes (session_uuid, generation, seq, user_id, kind, body)
  SELECT s.id, s.created_at, g.seq, s.user_id, 'message', to_jsonb(g)
  FROM s, gone g
){record}
SELECT {_SESSION_SELECTED} FROM s
"""
