"""The connection pool (psycopg 3's own) and SQLAlchemy Core statements compiled for it."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy import Engine, create_engine
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.sql import ClauseElement

log = logging.getLogger(__name__)

DIALECT = PGDialect_psycopg()  # type: ignore[no-untyped-call]


# What a URL scheme may hold (RFC 3986); anything else before `://` is not echoed either.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}")


def libpq_url(database_url: str) -> str:
    """The URL as libpq reads it, untouched but for a SQLAlchemy driver suffix.

    libpq's own parser (through psycopg) handles every form it documents, percent-encoded
    Unix-socket hosts (`postgresql://user@%2Ftmp%2Fpg/db`) and `?host=/tmp/pg` included, which
    SQLAlchemy's URL parser does not.
    """
    scheme, sep, rest = database_url.partition("://")
    base = scheme.split("+", 1)[0]
    if not sep or base not in ("postgresql", "postgres"):
        # Never echo the value: without `://` it may be anything, a password included.
        shown = f"the scheme {scheme!r}" if sep and _SCHEME.fullmatch(scheme) else "no scheme"
        raise ValueError(f"AGENT_SESSIONS_DATABASE_URL must be a postgresql:// URL, got {shown}")
    return f"postgresql://{rest}"


def sync_engine(database_url: str) -> Engine:
    """A SQLAlchemy engine (for Alembic and schema checks) whose connections libpq opens itself."""
    url = libpq_url(database_url)
    return create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(url))


def sql(statement: ClauseElement) -> str:
    """A SQLAlchemy Core statement as psycopg SQL with `%(name)s` parameters, compiled once.

    The statements are written with SQLAlchemy Core (against the models); they are executed on
    psycopg directly, because SQLAlchemy's per-call execution machinery cost several times the
    CPU of the query itself on the hot paths (measured by `make bench`).
    """
    return str(statement.compile(dialect=DIALECT))


def sql_with_params(statement: ClauseElement) -> tuple[str, dict[str, Any]]:
    """Compiles a statement built per call, with the values bound into it."""
    compiled = statement.compile(dialect=DIALECT)
    return str(compiled), dict(compiled.params)


class Connection(psycopg.AsyncConnection[Any]):
    """A pooled connection that keeps one cursor for single-statement calls.

    A new cursor per statement builds a fresh adapter state (dumpers for the parameters,
    loaders for the columns); reusing one cut the client CPU of an append by about a fifth
    (`make bench`). The pool hands a connection to one caller at a time, so one cursor is
    never shared by two statements at once.
    """

    _kept: psycopg.AsyncCursor[Any] | None = None
    # When it last went back to the pool (time.monotonic()); 0.0, never used: a connection idle
    # for a while is checked before it is handed out again (db/checkout.py).
    released_at: float = 0.0

    def kept_cursor(self) -> psycopg.AsyncCursor[Any]:
        """This connection's reusable cursor (created on first use)."""
        if self._kept is None or self._kept.closed:
            self._kept = self.cursor()
        return self._kept


class LifoPool(AsyncConnectionPool[Connection]):
    """psycopg_pool's pool, handing out the connection given back last (its own is FIFO).

    FIFO walks every idle connection in turn, so at low load each call lands on a backend whose
    caches went cold since its last turn: measured at one caller, an append cost PostgreSQL
    0.61 ms of CPU through FIFO against 0.49 ms through LIFO, and 2.2 against 2.0 ms per call.
    LIFO keeps as few backends busy as the load needs; the rest sit idle, and one idle longer
    than a second is checked before use (db/checkout.py), so an idle one that died is found.

    `_get_ready_connection` runs under the pool's lock and takes the leftmost of its deque of
    idle connections; given-back ones are appended on the right. Rotating one step first puts
    the last one given back on the left. Pinned by tests/test_schema.py.
    """

    _checking: asyncio.Task[None] | None = None

    async def _get_ready_connection(self, timeout: float | None) -> Connection | None:  # noqa: ASYNC109 - its signature
        if len(self._pool) > 1:
            self._pool.rotate(1)
        return await super()._get_ready_connection(timeout)

    def check_soon(self) -> None:
        """A dead connection was found: PostgreSQL restarted or ended backends, and the other
        idle connections are likely dead too. FIFO met them on the next calls; LIFO would leave
        them at the bottom until a burst reached them. psycopg_pool's `check()` tests every idle
        connection now and replaces the dead ones (one check at a time)."""
        if self._checking is None or self._checking.done():
            self._checking = asyncio.get_running_loop().create_task(self._check_all())

    async def _check_all(self) -> None:
        try:
            await self.check()
        except Exception as exc:  # noqa: BLE001 - calls still check what they take
            log.warning("checking the pool's idle connections failed (%s)", type(exc).__name__)


# How long the pool retries one lost connection before it gives up on that attempt and starts a
# fresh one (see `create_pool`): the most a request waits after PostgreSQL accepts connections
# again, beyond one connect.
RECONNECT_SECONDS = 0.2


async def _reconnect_now(pool: AsyncConnectionPool[Any]) -> None:
    """psycopg_pool's `reconnect_failed` callback: start a fresh connection attempt at once.

    `check()` discards the broken connections still idle in the pool and, when the pool is short
    of connections and not already growing, starts one connection attempt right away; once it
    succeeds the pool grows back to its size (waiting requests are served first).
    """
    await pool.check()


# How long a call waits for a connection unless told (AGENT_SESSIONS_DATABASE_WAIT_SECONDS).
WAIT_SECONDS = 5.0


def create_pool(
    database_url: str,
    size: int = 16,
    configure: Callable[[Connection], Awaitable[None]] | None = None,
    wait: float = WAIT_SECONDS,
) -> AsyncConnectionPool[Connection]:
    """One bounded pool per process (not yet open): calls beyond `size` wait for a connection,
    for at most `wait` seconds (then PoolTimeout, which callers answer UNAVAILABLE). While no
    server accepts connections (PostgreSQL restarting, or a failover between the hosts of a
    multi-host URL) every call waits that long: the bound keeps callers from hanging.

    Connections are in autocommit, so a single statement costs a single round trip; code that
    needs several statements to be atomic opens `conn.transaction()`.

    Reconnection after PostgreSQL went away: psycopg_pool retries each lost connection with an
    exponential backoff (`AttemptWithBackoff`: 1 s, 2 s, 4 s, ... until `reconnect_timeout`,
    5 minutes by default), so after a 5 s outage its next attempt could come more than a second
    after PostgreSQL was back, and the longer the outage the later. The backoff itself has no
    setting. With a short `reconnect_timeout` an attempt gives up after `RECONNECT_SECONDS` (two
    tries), and `_reconnect_now` starts a new one at once: while PostgreSQL is down one attempt
    at a time keeps trying, about every `RECONNECT_SECONDS`, whatever the outage's length;
    `open(wait=True)` still waits for a PostgreSQL that starts late.

    The connections that sat idle in the pool through the outage are dead too; the pool does not
    know until one is used. A unit of work checks a connection idle longer than a second before
    using it and takes another when it fails (`Checkout.take`, not the pool's `check` callback);
    a connection used within the last second costs no round trip.
    """
    return LifoPool(
        libpq_url(database_url),
        min_size=size,
        max_size=size,
        timeout=wait,
        kwargs={
            "autocommit": True,
            "row_factory": dict_row,
            "application_name": "agent-sessions",
        },
        connection_class=Connection,
        reconnect_timeout=RECONNECT_SECONDS,
        reconnect_failed=_reconnect_now,
        configure=configure,
        open=False,
    )


# How long start-up waits for the pool's first connections.
POOL_OPEN_SECONDS = 30


async def open_pool(
    database_url: str,
    size: int,
    workers: int = 1,
    configure: Callable[[Connection], Awaitable[None]] | None = None,
    wait: float = WAIT_SECONDS,
) -> AsyncConnectionPool[Connection]:
    """A pool of `size` connections, open; a PostgreSQL that does not answer in time is a
    RuntimeError that says what to check (no pool is left open behind it). `configure` is
    awaited on each new connection (db/tracing.py); `wait` bounds a call's wait (create_pool)."""
    pool = create_pool(database_url, size, configure, wait)
    try:
        await pool.open(wait=True, timeout=POOL_OPEN_SECONDS)
    except PoolTimeout:
        await pool.close()
        raise RuntimeError(
            f"could not open {size} PostgreSQL connections in {POOL_OPEN_SECONDS} s: "
            "check that AGENT_SESSIONS_DATABASE_URL points at a running server, and that "
            f"AGENT_SESSIONS_DB_POOL_SIZE ({size}) x AGENT_SESSIONS_WORKERS "
            f"({workers}) stays below its max_connections"
        ) from None
    return pool
