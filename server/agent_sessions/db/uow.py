"""The unit of work: one pooled connection, optionally one transaction, and the owner's
repositories on it. Services open one per call; everything in it commits together."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any

import psycopg
from psycopg.errors import ReadOnlySqlTransaction
from psycopg_pool import AsyncConnectionPool

from agent_sessions.db.checkout import Checkout
from agent_sessions.db.engine import Connection
from agent_sessions.db.listener import Notifier
from agent_sessions.db.live import LiveRepository
from agent_sessions.db.repositories import (
    MessageRepository,
    RequestRepository,
    SessionRepository,
    TurnRepository,
)
from agent_sessions.domain import Owner
from agent_sessions.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

Pool = AsyncConnectionPool[Connection]


def _unavailable(exc: BaseException, checkout: Checkout) -> DatabaseUnavailable | None:
    """The answer to a failure that says the database is out of reach (None for other ones):
    any OperationalError (no connection came within AGENT_SESSIONS_DATABASE_WAIT_SECONDS, the
    connection was lost, the server is shutting down or starting: SQLSTATE 57P01-57P03, a
    statement was cancelled), a write refused by a server that is no primary (25006: a hot
    standby, or a primary demoted in a failover), and any psycopg error on a lost connection.
    Its message says to retry, and its RetryInfo when; nothing of psycopg's goes into it."""
    if not isinstance(exc, psycopg.OperationalError | ReadOnlySqlTransaction) and not (
        isinstance(exc, psycopg.Error) and checkout.lost
    ):
        return None
    log.warning("database unavailable: %s", exc.__class__.__name__)
    return DatabaseUnavailable("the database is unavailable right now; retry in a few seconds")


async def _give_back(checkout: Checkout, failure: BaseException | None) -> None:
    """Returns the connection to the pool; one on a server that refused a write as read-only is
    closed first, so that the pool connects anew (a multi-host URL with
    target_session_attrs=read-write then finds the primary) rather than lend it again."""
    if isinstance(failure, ReadOnlySqlTransaction):
        await checkout.discard()
    await checkout.release()


class UnitOfWork:
    """`async with db.work(owner) as uow:` — repositories on one connection; with
    `transaction=True` all their statements commit together (or none, on any exception)."""

    __slots__ = (
        "_after_commit",
        "_checkout",
        "_owner",
        "_pool",
        "_tx",
        "_transactional",
        "_request_ttl",
        "_session_ttl",
        "messages",
        "requests",
        "sessions",
        "turns",
        "live",
        "_touched",
        "_notifier",
    )

    # Users known to be stored, so most writes skip the insert. Filled only after a commit:
    # a concurrent first call must not skip the insert while the first one is uncommitted.
    _known_users: set[Any] = set()

    def __init__(
        self,
        pool: Pool,
        owner: Owner,
        transactional: bool,
        request_ttl: int,
        session_ttl: int | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self._pool = pool
        self._notifier = notifier
        self._touched: set[Any] = set()  # sessions changed here: woken after the commit
        self._request_ttl = request_ttl
        self._session_ttl = session_ttl
        self._owner = owner
        self._transactional = transactional
        self._tx: AbstractAsyncContextManager[Any] | None = None
        self._after_commit: list[Callable[[], None]] = []

    async def __aenter__(self) -> UnitOfWork:
        # A Checkout rather than `pool.connection()`: a single autocommit statement needs no
        # transaction handling, and the checkout checks a connection that sat idle, sends a
        # statement again when that is safe (see Checkout), and gives the connection back (the
        # pool replaces one a failure left unusable).
        self._checkout = checkout = Checkout(self._pool)
        try:
            await checkout.take()
            if self._transactional:
                self._tx = await checkout.begin()
        except BaseException as exc:
            unavailable = _unavailable(exc, checkout)
            await checkout.release()
            if unavailable:
                raise unavailable from None
            raise
        ttl, session_ttl, touched = self._request_ttl, self._session_ttl, self._touched
        self.sessions = SessionRepository(checkout, self._owner, ttl, session_ttl, touched)
        self.messages = MessageRepository(checkout, self._owner, ttl, session_ttl, touched)
        self.turns = TurnRepository(checkout, self._owner, ttl, session_ttl, touched)
        self.requests = RequestRepository(checkout, self._owner, ttl, session_ttl, touched)
        self.live = LiveRepository(checkout, self._owner, ttl, session_ttl, touched)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        checkout = self._checkout
        try:
            if self._tx is not None:
                await self._tx.__aexit__(exc_type, exc, tb)
        except BaseException as commit_failure:
            # Whether the connection was lost is read before it goes back to the pool.
            unavailable = _unavailable(commit_failure, checkout)
            await _give_back(checkout, commit_failure)
            if unavailable:
                raise unavailable from None
            raise
        unavailable = _unavailable(exc, checkout) if exc is not None else None
        await _give_back(checkout, exc)
        if unavailable:
            raise unavailable from None
        if exc is None:
            for callback in self._after_commit:
                callback()
            if self._touched and self._notifier is not None:
                self._notifier.wake(self._touched)

    def new_user(self) -> str | None:
        """The owner's subject when its user row may not be stored yet, for a write that
        stores it too; None when it is known to exist (most calls)."""
        user_id = self._owner.user_id
        if user_id in UnitOfWork._known_users:
            return None
        self._after_commit.append(lambda: UnitOfWork._known_users.add(user_id))
        return self._owner.subject


class Database:
    """Opens units of work on the pool."""

    def __init__(
        self,
        pool: Pool,
        request_ttl: int = 86_400,
        session_ttl: int | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.pool = pool
        # Wakes the followers of the sessions a unit of work changed, after its commit.
        self.notifier = notifier
        # How long request ids are kept after their write (AGENT_SESSIONS_REQUEST_ID_TTL).
        self.request_ttl = request_ttl
        # How long a new session lives unless told otherwise (AGENT_SESSIONS_SESSION_TTL).
        self.session_ttl = session_ttl

    def work(self, owner: Owner, *, transaction: bool = False) -> UnitOfWork:
        """One connection for the owner's repositories; `transaction=True` makes it atomic."""
        return UnitOfWork(
            self.pool, owner, transaction, self.request_ttl, self.session_ttl, self.notifier
        )
