"""Turn rows, their events and the session change log: what lets any replica run, queue, resume,
cancel and watch turns and sessions, with PostgreSQL as the only shared part.

Every statement on a user's turns is scoped by the owner (`p_user_id`); the lease statements at
the end are the service's own housekeeping and touch only the turns' status.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from agent_sessions.db.checkout import IDEMPOTENT
from agent_sessions.db.engine import libpq_url
from agent_sessions.db.repositories import _Repository
from agent_sessions.db.statements import _LIVE_SQL
from agent_sessions.domain import RequestKey, TurnRecord

_ACTIVE = "status IN ('queued', 'running')"
_LEASE = "now() + %(p_lease)s * interval '1 second'"
_TURN_COLUMNS = (
    "t.id, t.session_id, t.session_uuid, t.status, t.request_id, t.created_at, t.updated_at, "
    "t.result, t.error, t.lease_until < now()"
)

# A new turn, in one round trip: the session it goes to (the stored one's id, else the id a
# session made now would get), refused when the session is inactive, when the owner has too many
# live turns, when the session's queue is full, or (reject) when the session is busy; otherwise
# running when nothing else of the session runs or waits (an interrupting turn only needs nothing
# running), else queued. The partial unique indexes decide races: a second running turn of the
# session, or a second live turn with the same request id, inserts nothing (ON CONFLICT) and
# the caller looks again.
INSERT_TURN = f"""
WITH ensure_user AS (
  INSERT INTO users (id, subject) SELECT %(p_user_id)s, %(p_subject)s
  WHERE %(p_subject)s::text IS NOT NULL ON CONFLICT DO NOTHING
), found AS (
  SELECT a.id, a.is_active FROM agent_sessions a
  WHERE a.user_id = %(p_user_id)s AND a.session_id = %(p_session_id)s AND {_LIVE_SQL}
), target AS (
  SELECT COALESCE((SELECT id FROM found), %(p_derived)s::uuid) AS id,
         COALESCE((SELECT is_active FROM found), true) AS is_active
), busy AS (
  SELECT t.id, t.status FROM turns t, target WHERE t.session_uuid = target.id AND t.{_ACTIVE}
), mine AS (
  SELECT count(*) AS n FROM turns t WHERE t.user_id = %(p_user_id)s AND t.{_ACTIVE}
), ins AS (
  INSERT INTO turns (id, user_id, session_uuid, session_id, status, priority, detach,
                     request_id, method, fingerprint, lease_until)
  SELECT %(p_turn_id)s, %(p_user_id)s, target.id, %(p_session_id)s,
         CASE WHEN EXISTS (SELECT 1 FROM busy WHERE status = 'running')
                   OR (%(p_priority)s = 0 AND EXISTS (SELECT 1 FROM busy))
              THEN 'queued' ELSE 'running' END,
         %(p_priority)s, %(p_detach)s, %(p_request_id)s, %(p_method)s, %(p_fingerprint)s,
         {_LEASE}
  FROM target
  WHERE target.is_active
    AND (SELECT n FROM mine) < %(p_max_user)s
    AND (SELECT count(*) FROM busy WHERE status = 'queued') < %(p_max_queued)s
    AND NOT (%(p_reject)s AND EXISTS (SELECT 1 FROM busy))
  ON CONFLICT DO NOTHING
  RETURNING status
)
SELECT (SELECT status FROM ins), target.id, target.is_active, (SELECT n FROM mine),
       (SELECT count(*) FROM busy WHERE status = 'queued'),
       (SELECT id FROM busy ORDER BY status = 'running' DESC LIMIT 1)
FROM target
"""

# An interrupting turn first cancels the session's running turn.
CANCEL_RUNNING = f"""
UPDATE turns t SET status = 'cancelled', error = %(p_error)s, updated_at = now()
WHERE t.user_id = %(p_user_id)s AND t.status = 'running' AND t.id <> %(p_keep)s
  AND t.session_uuid = COALESCE(
    (SELECT a.id FROM agent_sessions a
     WHERE a.user_id = %(p_user_id)s AND a.session_id = %(p_session_id)s AND {_LIVE_SQL}),
    %(p_derived)s::uuid)
RETURNING t.id
"""

# A queued turn takes its session's running slot when nothing runs and nothing waits before it
# (the unique index refuses a second running turn whatever the race). Returns the turn's status
# before, how many wait before it, and whether it runs now.
PROMOTE = f"""
WITH me AS (
  SELECT id, session_uuid, status, priority, created_at FROM turns
  WHERE id = %(p_turn_id)s AND user_id = %(p_user_id)s
), ahead AS (
  SELECT count(*) AS n FROM turns o, me
  WHERE o.session_uuid = me.session_uuid AND o.status = 'queued' AND o.id <> me.id
    AND (o.priority > me.priority
         OR (o.priority = me.priority AND (o.created_at, o.id) < (me.created_at, me.id)))
), running AS (
  SELECT count(*) AS n FROM turns o, me WHERE o.session_uuid = me.session_uuid
    AND o.status = 'running'
), up AS (
  UPDATE turns t SET status = 'running', lease_until = {_LEASE}, updated_at = now()
  FROM ahead, running
  WHERE t.id = %(p_turn_id)s AND t.status = 'queued' AND ahead.n = 0 AND running.n = 0
  RETURNING t.id
)
SELECT (SELECT status FROM me), (SELECT n FROM ahead), EXISTS (SELECT 1 FROM up)
"""

GET_TURN = f"""
SELECT {_TURN_COLUMNS} FROM turns t
WHERE t.id = %(p_turn_id)s AND t.user_id = %(p_user_id)s AND t.session_id = %(p_session_id)s
"""

# The turn's row, locked: what a runner reads before it ends a turn that stored nothing.
LOCK_TURN = f"""
SELECT {_TURN_COLUMNS} FROM turns t
WHERE t.id = %(p_turn_id)s AND t.user_id = %(p_user_id)s FOR UPDATE
"""

ACTIVE_BY_REQUEST = f"""
SELECT {_TURN_COLUMNS}, t.method, t.fingerprint FROM turns t
WHERE t.user_id = %(p_user_id)s AND t.request_id = %(p_request_id)s AND t.{_ACTIVE}
"""

END_TURN = """
UPDATE turns SET status = %(p_status)s, error = %(p_error)s, updated_at = now()
WHERE id = %(p_turn_id)s AND user_id = %(p_user_id)s AND status IN ('queued', 'running')
RETURNING id
"""

# The events of a turn's stream, in batches; one NOTIFY per batch wakes readers on every replica.
ADD_EVENTS = """
WITH added AS (
  INSERT INTO turn_events (turn_id, seq, body, last)
  SELECT %(p_turn_id)s, e.seq, e.body, e.last
  FROM unnest(%(p_seqs)b::int[], %(p_bodies)b::bytea[], %(p_lasts)b::bool[]) AS e(seq, body, last)
  WHERE EXISTS (SELECT 1 FROM turns WHERE id = %(p_turn_id)s AND user_id = %(p_user_id)s)
  ON CONFLICT DO NOTHING
  RETURNING seq
)
SELECT pg_notify('agent_sessions',
                 'e:' || %(p_session_uuid)s::text || ':' || %(p_turn_id)s::text || ':' || max(seq))
FROM added HAVING count(*) > 0
"""

EVENTS_AFTER = """
SELECT e.seq, e.body, e.last FROM turn_events e JOIN turns t ON t.id = e.turn_id
WHERE e.turn_id = %(p_turn_id)s AND t.user_id = %(p_user_id)s AND e.seq > %(p_after)s
ORDER BY e.seq LIMIT 500
"""

WATCHED_SESSION = f"""
SELECT a.id, a.seq, a.created_at FROM agent_sessions a
WHERE a.user_id = %(p_user_id)s AND a.session_id = %(p_session_id)s AND {_LIVE_SQL}
"""

# How long a watched session's row lives unless the process holding the watch renews it.
WATCH_TTL_SECONDS = 60

# Sessions this process (p_process) watches, (re)registered: `w:<session>` for each one that was
# not registered live before, so that every process adds it to its set at once (db/listener.py).
_REGISTER = """
old AS (
  SELECT session_uuid FROM session_watches
  WHERE process = %(p_process)s AND session_uuid = ANY(%(p_sessions)s::uuid[])
    AND expires_at > now()
), w AS (
  INSERT INTO session_watches (session_uuid, process, expires_at)
  SELECT u, %(p_process)s, now() + %(p_ttl)s * interval '1 second'
  FROM unnest(%(p_sessions)s::uuid[]) AS u
  ON CONFLICT (session_uuid, process) DO UPDATE SET expires_at = EXCLUDED.expires_at
  RETURNING session_uuid
)"""
_ANNOUNCE = (
    "(SELECT count(*) FROM (SELECT pg_notify('agent_sessions', 'w:' || w.session_uuid::text) "
    "FROM w WHERE w.session_uuid NOT IN (SELECT session_uuid FROM old)) AS n)"
)

# A watch's start: the session (id, seq, creation time) and, when there is one, its watch
# registered, in one statement; sent again on a fresh connection like a read (twice registers
# once, and a second `w:` is harmless).
FOLLOW_SESSION = f"""{IDEMPOTENT}
WITH s AS (
  SELECT a.id, a.seq, a.created_at FROM agent_sessions a
  WHERE a.user_id = %(p_user_id)s AND a.session_id = %(p_session_id)s AND {_LIVE_SQL}
), {_REGISTER.replace("%(p_sessions)s::uuid[]", "ARRAY(SELECT id FROM s)")}
SELECT s.id, s.seq, s.created_at, {_ANNOUNCE} FROM s
"""

RENEW_WATCHES = f"WITH {_REGISTER.strip()}\nSELECT {_ANNOUNCE}"

# A stopping process's watches: gone at once rather than when they expire.
FORGET_WATCHES = "DELETE FROM session_watches WHERE process = %(p_process)s"

# The session's durable changes after a seq, in seq order: stored messages (from the messages
# table, and from the log for those deleted since) and the logged changes.
CHANGES_AFTER = """
SELECT c.seq, c.kind, c.body FROM (
  SELECT m.seq, 'message' AS kind, to_jsonb(m) AS body FROM session_messages m
  WHERE m.session_uuid = %(p_session_uuid)s AND m.seq > %(p_after)s
    AND EXISTS (SELECT 1 FROM agent_sessions a
                WHERE a.id = %(p_session_uuid)s AND a.user_id = %(p_user_id)s
                  AND a.created_at = %(p_generation)s)
  UNION ALL
  SELECT g.seq, g.kind, g.body FROM session_changes g
  WHERE g.session_uuid = %(p_session_uuid)s AND g.generation = %(p_generation)s
    AND g.user_id = %(p_user_id)s AND g.seq > %(p_after)s
) AS c
ORDER BY c.seq LIMIT 500
"""

# The session's live turns, oldest first (what a new watch is told first).
ACTIVE_TURNS = f"""
SELECT {_TURN_COLUMNS} FROM turns t
WHERE t.session_uuid = %(p_session_uuid)s AND t.user_id = %(p_user_id)s AND t.{_ACTIVE}
ORDER BY t.created_at, t.id
"""

# The text deltas of a turn's events after a seq (watch: `turn_delta` events).
TURN_EVENTS_OF_SESSION = """
SELECT e.seq, e.body FROM turn_events e JOIN turns t ON t.id = e.turn_id
WHERE e.turn_id = %(p_turn_id)s AND t.user_id = %(p_user_id)s
  AND t.session_uuid = %(p_session_uuid)s AND e.seq > %(p_after)s
ORDER BY e.seq LIMIT 500
"""

# A change of a session's history that no turn may run beside (a rewind) holds the session's
# running slot for its transaction: a marker turn, inserted running and deleted before the commit,
# so nobody ever sees it. A turn already waiting or running makes it refuse (the busy turn's id);
# a turn placed meanwhile waits on the unique index until the transaction ends, then reads the
# history as it left it.
HOLD_SESSION = f"""
WITH busy AS (
  SELECT t.id FROM turns t
  WHERE t.session_uuid = %(p_session_uuid)s AND t.{_ACTIVE} ORDER BY t.created_at LIMIT 1
), held AS (
  INSERT INTO turns (id, user_id, session_uuid, session_id, status, lease_until)
  SELECT %(p_marker)s, %(p_user_id)s, %(p_session_uuid)s, %(p_session_id)s, 'running', now()
  WHERE NOT EXISTS (SELECT 1 FROM busy)
  ON CONFLICT DO NOTHING
  RETURNING id
)
SELECT (SELECT id FROM held), (SELECT id FROM busy)
"""
RELEASE_SESSION = "DELETE FROM turns WHERE id = %(p_marker)s AND user_id = %(p_user_id)s"

# -- Housekeeping (no owner): leases of this process's turns, and turns whose lease ran out.

RENEW = f"""
UPDATE turns SET lease_until = {_LEASE}
WHERE id = ANY(%(p_ids)s::uuid[]) AND {_ACTIVE}
"""

REAP = f"""
UPDATE turns SET status = 'lost', error = %(p_error)s, updated_at = now()
WHERE id IN (SELECT id FROM turns WHERE {_ACTIVE} AND lease_until < now()
             ORDER BY lease_until LIMIT 100 FOR UPDATE SKIP LOCKED)
RETURNING id
"""


@dataclass(frozen=True, slots=True)
class Placed:
    """Where INSERT_TURN put a turn: its status ("running", "queued"; None: not inserted), the
    session's uuid, whether the session is active, the owner's live turns, the session's
    queued ones, and the turn that runs (or waits first) there."""

    status: str | None
    session_uuid: uuid.UUID
    is_active: bool
    user_turns: int
    queued: int
    busy_with: uuid.UUID | None


def _record(row: Sequence[Any]) -> TurnRecord:
    return TurnRecord(*row[:10])


class LiveRepository(_Repository):
    """The owner's turns, their events, and the change log of their sessions."""

    __slots__ = ()

    async def place(
        self,
        turn_id: uuid.UUID,
        session_id: str,
        derived: uuid.UUID,
        new_user: str | None,
        *,
        priority: int,
        reject: bool,
        detach: bool,
        request: RequestKey | None,
        lease: float,
        max_user: int,
        max_queued: int,
    ) -> Placed:
        row = await self._one(
            INSERT_TURN,
            tuple_row,
            subject=new_user,
            turn_id=turn_id,
            session_id=session_id,
            derived=derived,
            priority=priority,
            reject=reject,
            detach=detach,
            request_id=request.request_id if request else None,
            method=request.method if request else None,
            fingerprint=request.fingerprint if request else None,
            lease=lease,
            max_user=max_user,
            max_queued=max_queued,
        )
        return Placed(*row)

    async def hold(
        self, session_uuid: uuid.UUID, session_id: str
    ) -> tuple[uuid.UUID | None, uuid.UUID | None]:
        """Takes the session's running slot for this transaction (see HOLD_SESSION): the marker
        to release, or None and the turn that is busy there (None too when one just started)."""
        marker = uuid.uuid4()
        row = await self._one(
            HOLD_SESSION, tuple_row, session_uuid=session_uuid, session_id=session_id, marker=marker
        )
        return row[0], row[1]

    async def release(self, marker: uuid.UUID) -> None:
        await self._run(RELEASE_SESSION, marker=marker)

    async def cancel_running(
        self, session_id: str, derived: uuid.UUID, error: dict[str, Any], *, keep: uuid.UUID
    ) -> list[uuid.UUID]:
        """Cancels the session's running turn (not `keep`, the interrupting one)."""
        rows = await self._all(
            CANCEL_RUNNING,
            tuple_row,
            session_id=session_id,
            derived=derived,
            error=Jsonb(error),
            keep=keep,
        )
        return [row[0] for row in rows]

    async def promote(self, turn_id: uuid.UUID, lease: float) -> tuple[str | None, int, bool]:
        """The queued turn's status, how many wait before it, and whether it runs now (not
        when another turn took the running slot first: the unique index refused it)."""
        try:
            row = await self._one(PROMOTE, tuple_row, turn_id=turn_id, lease=lease)
        except psycopg.errors.UniqueViolation:
            return "queued", 0, False
        return row[0], int(row[1] or 0), bool(row[2])

    async def get(self, session_id: str, turn_id: uuid.UUID) -> TurnRecord | None:
        row = await self._one(GET_TURN, tuple_row, session_id=session_id, turn_id=turn_id)
        return _record(row) if row else None

    async def lock(self, turn_id: uuid.UUID) -> TurnRecord | None:
        row = await self._one(LOCK_TURN, tuple_row, turn_id=turn_id)
        return _record(row) if row else None

    async def active_by_request(
        self, request_id: uuid.UUID
    ) -> tuple[TurnRecord, str, bytes] | None:
        row = await self._one(ACTIVE_BY_REQUEST, tuple_row, request_id=request_id)
        return (_record(row), row[10], bytes(row[11])) if row else None

    async def end(self, turn_id: uuid.UUID, status: str, error: dict[str, Any]) -> bool:
        """Ends a live turn that stored nothing; False when it had ended already."""
        return bool(await self._run(END_TURN, turn_id=turn_id, status=status, error=Jsonb(error)))

    async def add_events(
        self,
        turn_id: uuid.UUID,
        session_uuid: uuid.UUID,
        events: Sequence[tuple[int, bytes, bool]],
    ) -> None:
        await self._run(
            ADD_EVENTS,
            turn_id=turn_id,
            session_uuid=session_uuid,
            seqs=[e[0] for e in events],
            bodies=[e[1] for e in events],
            lasts=[e[2] for e in events],
        )

    async def events_after(self, turn_id: uuid.UUID, after: int) -> list[tuple[int, bytes, bool]]:
        rows = await self._all(EVENTS_AFTER, tuple_row, turn_id=turn_id, after=after)
        return [(int(seq), bytes(body), bool(last)) for seq, body, last in rows]

    async def watched(self, session_id: str) -> tuple[uuid.UUID, int, Any] | None:
        """The session a watch follows: its id, seq and creation time; None when missing."""
        row = await self._one(WATCHED_SESSION, tuple_row, session_id=session_id)
        return (row[0], int(row[1]), row[2]) if row else None

    async def follow(
        self, session_id: str, process: uuid.UUID
    ) -> tuple[uuid.UUID, int, Any] | None:
        """`watched`, and the session registered as watched by `process` (when found), so
        that writes on every replica wake it from the commit of this statement on."""
        row = await self._one(
            FOLLOW_SESSION,
            tuple_row,
            session_id=session_id,
            process=process,
            ttl=WATCH_TTL_SECONDS,
        )
        return (row[0], int(row[1]), row[2]) if row else None

    async def changes_after(
        self, session_uuid: uuid.UUID, generation: Any, after: int
    ) -> list[tuple[int, str, dict[str, Any]]]:
        """The session's durable changes after seq `after` (of the session made at
        `generation`), in seq order; a `deleted` entry ends them."""
        rows = await self._all(
            CHANGES_AFTER, tuple_row, session_uuid=session_uuid, generation=generation, after=after
        )
        return [(int(seq), kind, body) for seq, kind, body in rows]

    async def active_turns(self, session_uuid: uuid.UUID) -> list[TurnRecord]:
        rows = await self._all(ACTIVE_TURNS, tuple_row, session_uuid=session_uuid)
        return [_record(row) for row in rows]

    async def session_turn_events(
        self, session_uuid: uuid.UUID, turn_id: uuid.UUID, after: int
    ) -> list[tuple[int, bytes]]:
        rows = await self._all(
            TURN_EVENTS_OF_SESSION,
            tuple_row,
            session_uuid=session_uuid,
            turn_id=turn_id,
            after=after,
        )
        return [(int(seq), bytes(body)) for seq, body in rows]


class Housekeeping:
    """The process's own connection for its turns' leases and the sweep of lost turns: outside
    the pool, so a pool busy with calls never delays a renewal (a late one would make a running
    turn look lost). Reconnects on the next use after a failure."""

    def __init__(self, database_url: str) -> None:
        self._url = libpq_url(database_url)
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, application_name="agent-sessions-leases"
            )
        return self._conn

    async def renew(self, turn_ids: Sequence[uuid.UUID], lease: float) -> None:
        """Moves the leases of this process's live turns on."""
        conn = await self._connection()
        try:
            await conn.execute(RENEW, {"p_ids": list(turn_ids), "p_lease": lease})
        except psycopg.Error:
            await conn.close()
            raise

    async def reap(self, error: dict[str, Any]) -> list[uuid.UUID]:
        """Marks live turns whose lease ran out `lost` (their replica is gone); returns them."""
        conn = await self._connection()
        try:
            async with conn.cursor(row_factory=tuple_row) as cursor:
                await cursor.execute(REAP, {"p_error": Jsonb(error)})
                return [row[0] for row in await cursor.fetchall()]
        except psycopg.Error:
            await conn.close()
            raise

    async def renew_watches(self, process: uuid.UUID, sessions: Sequence[uuid.UUID]) -> None:
        """Keeps the rows of the sessions this process watches (made again if they expired)."""
        conn = await self._connection()
        try:
            await conn.execute(
                RENEW_WATCHES,
                {"p_process": process, "p_sessions": list(sessions), "p_ttl": WATCH_TTL_SECONDS},
            )
        except psycopg.Error:
            await conn.close()
            raise

    async def forget_watches(self, process: uuid.UUID) -> None:
        conn = await self._connection()
        try:
            await conn.execute(FORGET_WATCHES, {"p_process": process})
        except psycopg.Error:
            await conn.close()
            raise

    async def notify_queue_usage(self) -> float:
        """How full PostgreSQL's NOTIFY queue is (0 to 1): a listener stuck in a transaction
        somewhere holds back its cleanup, and a full queue fails every notifying commit."""
        conn = await self._connection()
        try:
            async with conn.cursor(row_factory=tuple_row) as cursor:
                await cursor.execute("SELECT pg_notification_queue_usage()")
                row = await cursor.fetchone()
                return float(row[0]) if row else 0.0
        except psycopg.Error:
            await conn.close()
            raise

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
