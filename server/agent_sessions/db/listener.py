"""One LISTEN connection per process: PostgreSQL's NOTIFY wake-ups, handed to the subscribers of
each session.

A notification carries keys only, never content: `s:<session>` after a change of the session
or its messages (sent by `Notifier` after the commit), `t:<session>:<turn>:<status>` when a turn
is made or changes status (a trigger, migrations 0005 and 0006), `e:<session>:<turn>:<seq>` per
batch of a turn's events. It is a wake-up, never the data:
a subscriber re-reads the tables. Notifications are lost while the connection is down, so after
every reconnect each subscriber is woken with `resync` and reads again from what it has.

psycopg's `notifies()` holds its connection (no other statement can run on it), so this is a
connection of its own, autocommit, outside the pool; it never sits in a transaction, which
would hold back the server's notification queue for every listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import psycopg

from agent_sessions.db.engine import libpq_url

log = logging.getLogger(__name__)

CHANNEL = "agent_sessions"
# How many payloads a subscriber keeps between two reads; beyond, it just re-reads everything.
KEEP = 256


@dataclass(eq=False)
class Subscription:
    """A subscriber's wake-ups for one session: `wait()` returns the payloads since the last
    call (coalesced; `resync` when some were dropped or the connection was lost)."""

    session_uuid: uuid.UUID
    _event: asyncio.Event = field(default_factory=asyncio.Event)
    _payloads: list[str] = field(default_factory=list)
    resync: bool = False

    def _push(self, payload: str | None) -> None:
        if payload is None:
            self.resync = True
        elif len(self._payloads) < KEEP:
            self._payloads.append(payload)
        else:
            self.resync = True
        self._event.set()

    async def wait(self, within: float | None = None) -> list[str]:
        """The payloads since the last call, after waiting up to `within` seconds for one."""
        if not self._event.is_set():
            try:
                await asyncio.wait_for(self._event.wait(), within)
            except TimeoutError:
                return []
        self._event.clear()
        payloads, self._payloads = self._payloads, []
        return payloads

    def take_resync(self) -> bool:
        resync, self.resync = self.resync, False
        return resync


class Listener:
    """The process's LISTEN connection and its subscribers, by session."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._url = libpq_url(database_url)
        self._subscribers: dict[uuid.UUID, set[Subscription]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.connected = False

    def subscribe(self, session_uuid: uuid.UUID) -> Subscription:
        sub = Subscription(session_uuid)
        self._subscribers[session_uuid].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subscribers.get(sub.session_uuid)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscribers[sub.session_uuid]

    @property
    def subscriptions(self) -> int:
        return sum(len(subs) for subs in self._subscribers.values())

    async def start(self, wait: float = 10.0) -> None:
        """Starts listening; returns once the first connection listens (or after `wait`)."""
        self._task = asyncio.create_task(self._run(), name="listener")
        try:
            await asyncio.wait_for(self._ready.wait(), wait)
        except TimeoutError:
            log.warning("the LISTEN connection is not up yet; live events wait for it")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _dispatch(self, payload: str) -> None:
        parts = payload.split(":")
        if len(parts) < 2:
            return
        try:
            session_uuid = uuid.UUID(parts[1])
        except ValueError:
            return
        for sub in tuple(self._subscribers.get(session_uuid, ())):
            sub._push(payload)

    def _resync_all(self) -> None:
        for subs in tuple(self._subscribers.values()):
            for sub in tuple(subs):
                sub._push(None)

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True, application_name="agent-sessions-listener"
                )
            except psycopg.Error as exc:
                log.warning("LISTEN connection failed (%s); retrying", exc.__class__.__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            try:
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.connected = True
                    delay = 0.1
                    self._ready.set()
                    # Whatever happened while no connection listened: everyone reads again.
                    self._resync_all()
                    async for note in conn.notifies():
                        self._dispatch(note.payload)
            except psycopg.Error as exc:
                log.warning("LISTEN connection lost (%s); reconnecting", exc.__class__.__name__)
            finally:
                self.connected = False
            await asyncio.sleep(delay)


# How long a wake-up waits for others to share its statement.
NOTIFY_BATCH_SECONDS = 0.002
_NOTIFY = "SELECT pg_notify('agent_sessions', p) FROM unnest(%s::text[]) AS p"


class Notifier:
    """Sends the wake-ups of the sessions this process changed, right after each commit, in
    batches, on a connection of its own (autocommit, outside the pool).

    Not in the writing transaction on purpose: PostgreSQL takes a lock for the whole database
    at the commit of a transaction that notified, held through its WAL flush, so writers that
    notify commit one at a time. Here the NOTIFY is a transaction of its own, which writes no
    WAL and so waits for no flush. A wake-up lost with its process (killed between a commit
    and the send) only delays readers: a watch also reads the tables whenever it sends a
    heartbeat, and queued turns look once a second.
    """

    def __init__(self, database_url: str) -> None:
        self._url = libpq_url(database_url)
        self._pending: set[str] = set()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: psycopg.AsyncConnection[object] | None = None

    def wake(self, session_uuids: set[uuid.UUID]) -> None:
        """Wakes whoever follows these sessions (on every replica), soon."""
        self._pending.update(f"s:{u}" for u in session_uuids)
        self._ready.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            await self._conn.close()

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            await asyncio.sleep(NOTIFY_BATCH_SECONDS)
            self._ready.clear()
            batch, self._pending = list(self._pending), set()
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await psycopg.AsyncConnection.connect(
                        self._url, autocommit=True, application_name="agent-sessions-notifier"
                    )
                await self._conn.execute(_NOTIFY, [batch])
            except psycopg.Error as exc:  # readers catch up at their next look at the tables
                log.warning("sending wake-ups failed (%s)", exc.__class__.__name__)
                if self._conn is not None:
                    await self._conn.close()
