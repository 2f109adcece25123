"""A unit of work's connection: checked before use when it may have died while idle, and traded
for a fresh one when a statement that is safe to send again finds it dead."""

from __future__ import annotations

import asyncio
import logging
import select
import time
from contextlib import AbstractAsyncContextManager
from typing import Any

import psycopg
from psycopg.rows import AsyncRowFactory
from psycopg_pool import AsyncConnectionPool

from agent_sessions.db.engine import Connection, LifoPool

log = logging.getLogger(__name__)

# A connection idle longer than this is checked (one round trip) before it is handed out: a
# PostgreSQL restart (or anything else that ends its backend) while it sat in the pool is found
# there, not by the statement. A busy pool, whose connections were all used within the last
# second, pays no round trip per checkout.
IDLE_CHECK_SECONDS = 1.0


def suspect(conn: Connection) -> bool:
    """Whether to check the connection before use: closed, idle too long, or the server sent it
    something while it was idle, which in practice is a backend's last words (a FATAL
    "terminating connection ...") before it closed. A zero-timeout poll (0.6 µs), no round trip."""
    if conn.closed or time.monotonic() - conn.released_at > IDLE_CHECK_SECONDS:
        return True
    poll = select.poll()  # not select(): it fails on descriptors above 1023
    poll.register(conn.fileno(), select.POLLIN)
    return bool(poll.poll(0))


# The first line of a write that is safe to run twice (an upsert whose second run changes
# nothing that matters), so that it is sent again like a read.
IDEMPOTENT = "-- idempotent"


def writes_nothing(query: str) -> bool:
    """Whether running the statement twice is safe: a SELECT, or a write marked IDEMPOTENT.

    The statements are compiled from SQLAlchemy Core or written in db/statements.py; every one
    that writes starts with INSERT, UPDATE, DELETE or WITH, since PostgreSQL allows data-modifying
    statements in WITH only at the top level, never inside a SELECT. (A SELECT ... FOR UPDATE
    locks rows until its transaction ends, and statements in a transaction are never sent again.)
    """
    head = query.lstrip()
    return head[:6].upper() == "SELECT" or head.startswith(IDEMPOTENT)


class Checkout:
    """One pooled connection for a unit of work, given back with `release()`.

    Outside a transaction a statement gets a second try on a fresh connection when its own died
    and the try is provably safe: the connection was known dead before the statement was sent
    (so nothing of it reached PostgreSQL), or the statement writes nothing. A write whose
    connection died after it was sent may have committed; it is not sent again, and the unit of
    work answers UNAVAILABLE. In a transaction only a failed BEGIN is sent again (it changed
    nothing): later statements depend on the ones before them on the same connection.
    """

    __slots__ = ("_conn", "_pool", "_transactional")

    def __init__(self, pool: AsyncConnectionPool[Connection]) -> None:
        self._pool = pool
        self._conn: Connection | None = None
        self._transactional = False

    @property
    def lost(self) -> bool:
        """True when the unit of work holds no working connection (it died, or none came)."""
        return self._conn is None or self._conn.closed

    async def take(self, *, check: bool = False) -> Connection:
        """A connection that works, as far as a check can tell (see `suspect`; `check`: always),
        within the pool's `timeout` in all (AGENT_SESSIONS_DATABASE_WAIT_SECONDS): then an
        OperationalError (PoolTimeout is one), which the unit of work answers UNAVAILABLE.

        psycopg_pool's own `check` callback is not used: its getconn waits 1 s, 2 s, 4 s, ...
        (its reconnection backoff) after each connection that fails the check, so after a
        restart a pool of 8 dead connections answered its first checkout with a PoolTimeout
        after 30 s. Here the dead ones are closed and given back at once (the pool opens new
        ones in their place) and the next one is taken.
        """
        pool = self._pool
        deadline = time.monotonic() + pool.timeout
        for _ in range(pool.max_size + 1):
            conn = await pool.getconn(timeout=max(0.0, deadline - time.monotonic()))
            try:
                if check or suspect(conn):
                    # A host that stopped answering (no reset, no refusal) must not hold the
                    # call past its bound.
                    async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                        await AsyncConnectionPool.check_connection(conn)
            except (psycopg.Error, TimeoutError):
                await conn.close()
                await pool.putconn(conn)
                _dead_found(pool)
                if time.monotonic() >= deadline:
                    break
                continue
            except BaseException:
                await pool.putconn(conn)
                raise
            self._conn = conn
            return conn
        raise psycopg.OperationalError("no pooled connection passed its check")

    async def release(self) -> None:
        """Gives the connection back to the pool (one the pool finds closed, it replaces)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.released_at = time.monotonic()
            await self._pool.putconn(conn)

    async def discard(self) -> None:
        """Closes the connection (still to be released): the pool opens another in its place."""
        if self._conn is not None:
            await self._conn.close()

    async def _replace(self) -> Connection:
        await self.release()
        return await self.take(check=True)

    async def begin(self) -> AbstractAsyncContextManager[Any]:
        """Starts the unit's transaction (a psycopg transaction, entered: leave it with
        `__aexit__`). A BEGIN that finds the connection dead is sent again on a fresh one."""
        self._transactional = True
        assert self._conn is not None
        try:
            return await _entered(self._conn)
        except psycopg.Error:
            if not self.lost:
                raise
        return await _entered(await self._replace())

    async def execute(
        self,
        query: str,
        rows: AsyncRowFactory[Any],
        params: dict[str, Any],
        prepare: bool | None = None,
    ) -> psycopg.AsyncCursor[Any]:
        """Runs one statement on the connection's kept cursor (see the class for the retry);
        `prepare` as psycopg takes it (False: planned per call, for a statement whose generic
        plan is poor)."""
        conn = self._conn
        assert conn is not None
        if conn.closed and not self._transactional:
            conn = await self._replace()  # nothing was sent yet: any statement may go
        try:
            return await _run(conn, query, rows, params, prepare)
        except psycopg.Error as exc:
            if conn.closed:
                _dead_found(self._pool)
            if self._transactional or not conn.closed or not writes_nothing(query):
                raise
            log.warning("connection lost (%s); the read runs again", exc.__class__.__name__)
        return await _run(await self._replace(), query, rows, params, prepare)


def _dead_found(pool: AsyncConnectionPool[Connection]) -> None:
    """The pool's other idle connections may be dead too: have them checked (LifoPool)."""
    if isinstance(pool, LifoPool):
        pool.check_soon()


async def _run(
    conn: Connection,
    query: str,
    rows: AsyncRowFactory[Any],
    params: dict[str, Any],
    prepare: bool | None,
) -> psycopg.AsyncCursor[Any]:
    cursor = conn.kept_cursor()
    cursor.row_factory = rows
    await cursor.execute(query, params, prepare=prepare)
    return cursor


async def _entered(conn: Connection) -> AbstractAsyncContextManager[Any]:
    transaction = conn.transaction()
    await transaction.__aenter__()
    return transaction
