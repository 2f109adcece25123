"""Work on the tables as a whole, not on one user's data: sweeping expired request ids and
expired sessions."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from psycopg.rows import tuple_row
from sqlalchemy import Table, bindparam, delete, func, select, tuple_

from agent_sessions.db.engine import sql
from agent_sessions.db.models import AgentSession, RequestId
from agent_sessions.db.uow import Pool

log = logging.getLogger(__name__)

R = cast(Table, RequestId.__table__)
S = cast(Table, AgentSession.__table__)

# Request ids past their expiry, a small batch at a time, oldest first. SKIP LOCKED: sweeps of
# several workers (and replicas) at once take disjoint rows and never wait on one another, and
# a sweep never waits on a write recording an id.
_EXPIRED: Any = (
    select(R.c.user_id, R.c.request_id)
    .where(R.c.expires_at < func.now())
    .order_by(R.c.expires_at)
    .limit(bindparam("p_limit"))
    .with_for_update(skip_locked=True)
)
SWEEP_REQUEST_IDS = sql(
    delete(R).where(tuple_(R.c.user_id, R.c.request_id).in_(_EXPIRED.scalar_subquery()))
)
SWEEP_BATCH = 500
SWEEP_EVERY_SECONDS = 60.0

# Expired sessions, a small batch at a time (their messages go with them, by the foreign key's
# cascade), through the partial index on expire_time. Every call already treats them as
# missing; this only frees the rows. SKIP LOCKED: a session a write holds is left for the next
# batch, so the sweep never waits on a call and no call waits on more than one batch.
_EXPIRED_SESSIONS: Any = (
    select(S.c.id)
    .where(S.c.expire_time.isnot(None), S.c.expire_time <= func.now())
    .order_by(S.c.expire_time)
    .limit(bindparam("p_limit"))
    .with_for_update(skip_locked=True)
)
SWEEP_SESSIONS = sql(delete(S).where(S.c.id.in_(_EXPIRED_SESSIONS.scalar_subquery())))
SESSION_SWEEP_BATCH = 100
# One sweeper of sessions at a time across workers and replicas: the holder of this advisory
# lock (a constant of this service) sweeps; the others skip the round.
SESSION_SWEEP_LOCK = 0x6167_7365_7373_0001
TRY_LOCK = "SELECT pg_try_advisory_lock(%(p_key)s)"
UNLOCK = "SELECT pg_advisory_unlock(%(p_key)s)"


async def sweep_request_ids(pool: Pool, batch: int = SWEEP_BATCH) -> int:
    """Deletes every expired request id, one short statement per batch (each holds its rows'
    locks only while it runs); returns how many."""
    swept = 0
    while True:
        async with pool.connection() as conn:
            cursor = await conn.execute(SWEEP_REQUEST_IDS, {"p_limit": batch})
            done = cursor.rowcount
        swept += done
        if done < batch:
            return swept


# Ended turns (their events go with them) and the session change log, kept as long as request
# ids: a small batch at a time, oldest first, never waiting on a row another statement holds.
SWEEP_TURNS = """
DELETE FROM turns WHERE id IN (
  SELECT id FROM turns
  WHERE updated_at < now() - %(p_ttl)s * interval '1 second'
    AND status NOT IN ('queued', 'running')
  ORDER BY updated_at LIMIT %(p_limit)s FOR UPDATE SKIP LOCKED)
"""
SWEEP_CHANGES = """
DELETE FROM session_changes WHERE (session_uuid, seq) IN (
  SELECT session_uuid, seq FROM session_changes
  WHERE created_at < now() - %(p_ttl)s * interval '1 second'
  ORDER BY created_at LIMIT %(p_limit)s FOR UPDATE SKIP LOCKED)
"""


# Watched sessions whose process stopped renewing them (it died) a while ago.
SWEEP_WATCHES = """
DELETE FROM session_watches WHERE (session_uuid, process) IN (
  SELECT session_uuid, process FROM session_watches
  WHERE expires_at < now() - interval '1 minute'
  LIMIT %(p_limit)s FOR UPDATE SKIP LOCKED)
"""


async def sweep_history(pool: Pool, ttl: int, batch: int = SWEEP_BATCH) -> int:
    """Deletes ended turns and logged session changes older than `ttl` seconds, and the
    registrations of watches whose process is gone; how many."""
    swept = 0
    for statement in (SWEEP_TURNS, SWEEP_CHANGES, SWEEP_WATCHES):
        while True:
            async with pool.connection() as conn:
                cursor = await conn.execute(statement, {"p_ttl": ttl, "p_limit": batch})
                done = cursor.rowcount
            swept += done
            if done < batch:
                break
    return swept


async def sweep_sessions(pool: Pool, batch: int = SESSION_SWEEP_BATCH) -> list[int] | None:
    """Deletes every expired session, one short autocommitted statement per batch, while
    holding the sweep's advisory lock; returns each batch's count, or None when another worker
    holds the lock (it is sweeping)."""
    async with pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
        await cursor.execute(TRY_LOCK, {"p_key": SESSION_SWEEP_LOCK})
        locked = await cursor.fetchone()
        if locked is None or not locked[0]:
            return None
        batches: list[int] = []
        try:
            while True:
                await cursor.execute(SWEEP_SESSIONS, {"p_limit": batch})
                batches.append(cursor.rowcount)
                if cursor.rowcount < batch:
                    return batches
        finally:
            # A session-level lock outlives the statement: release it before the connection
            # goes back to the pool.
            await cursor.execute(UNLOCK, {"p_key": SESSION_SWEEP_LOCK})


async def keep_sweeping(
    pool: Pool, every: float = SWEEP_EVERY_SECONDS, history_ttl: int = 86_400
) -> None:
    """Sweeps now and then, for as long as the worker runs; a failure waits for the next round.
    `history_ttl`: how long ended turns and logged session changes are kept."""
    while True:
        try:
            swept = await sweep_request_ids(pool)
            if swept:
                log.info("swept %d expired request ids", swept)
            swept = await sweep_history(pool, history_ttl)
            if swept:
                log.info("swept %d ended turns and logged session changes", swept)
            batches = await sweep_sessions(pool)
            if batches and sum(batches):
                log.info("swept %d expired sessions", sum(batches))
        except Exception as exc:  # noqa: BLE001 - a database hiccup waits for the next round
            log.warning("sweeping expired rows failed (%s); will try again", exc.__class__.__name__)
        await asyncio.sleep(every)
