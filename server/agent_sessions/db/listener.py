"""One LISTEN connection per process: PostgreSQL's NOTIFY wake-ups, handed to the subscribers of
each session.

A notification carries keys only, never content: `s:<session>` after a change of the session
or its messages (sent by `Notifier` after the commit, only for sessions someone watches),
`t:<session>:<turn>:<status>` when a turn is made or changes status (a trigger, migrations 0005
and 0006), `e:<session>:<turn>:<seq>` per batch of a turn's events, `w:<session>` when a
process starts watching a session. It is a wake-up, never the data:
a subscriber re-reads the tables. Notifications are lost while the connection is down, so after
every reconnect each subscriber is woken with `resync` and reads again from what it has.

Which sessions are watched (`session_watches`, migration 0007): every process keeps the set in
memory, read on this connection after each LISTEN and every `RELOAD_SECONDS`, and adds each
`w:` as it comes. Until the first read on a connection (and while it is down) the set is not
known and every session is woken, as before.

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
# How often the watched sessions are read again (dropping those no longer watched).
RELOAD_SECONDS = 30.0
RELOAD_TIMEOUT_SECONDS = 10.0
_WATCHED = "SELECT DISTINCT session_uuid FROM session_watches WHERE expires_at > now()"
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
    # The listener's count of pushes when the last one came here: a read of the tables that
    # starts at a count at least this sees every change those wake-ups were sent for.
    pushed: int = 0

    def _push(self, payload: str | None, count: int = 0) -> None:
        self.pushed = count
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
        # This process, as session_watches names the holder of a watch.
        self.process = uuid.uuid4()
        # The sessions someone watches (None: not known, wake every session).
        self._watched: set[uuid.UUID] | None = None
        self._local: dict[uuid.UUID, int] = {}  # this process's watches, per session
        # Pushes to subscribers so far (wake-ups and resyncs): see Subscription.pushed.
        self.pushes = 0

    def wakes(self, session_uuids: set[uuid.UUID]) -> set[uuid.UUID]:
        """Of these changed sessions, those whose wake-up someone waits for (all of them while
        the watched ones are not known)."""
        watched = self._watched
        if watched is None:
            return session_uuids
        return {u for u in session_uuids if u in watched}

    def watch(self, session_uuid: uuid.UUID) -> None:
        """A watch of this process follows the session (after `session_watches` holds it)."""
        self._local[session_uuid] = self._local.get(session_uuid, 0) + 1
        if self._watched is not None:
            self._watched.add(session_uuid)

    def unwatch(self, session_uuid: uuid.UUID) -> None:
        left = self._local.get(session_uuid, 0) - 1
        if left > 0:
            self._local[session_uuid] = left
        else:
            self._local.pop(session_uuid, None)

    @property
    def watching(self) -> list[uuid.UUID]:
        """The sessions this process's watches follow (their rows are renewed)."""
        return list(self._local)

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
        if parts[0] == "w":
            if self._watched is not None:
                self._watched.add(session_uuid)
            return
        subs = self._subscribers.get(session_uuid)
        if subs:
            self.pushes += 1
            for sub in tuple(subs):
                sub._push(payload, self.pushes)

    def _resync_all(self) -> None:
        self.pushes += 1
        for subs in tuple(self._subscribers.values()):
            for sub in tuple(subs):
                sub._push(None, self.pushes)

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
                    await self._reload(conn)
                    # Whatever happened while no connection listened: everyone reads again.
                    self._resync_all()
                    while True:
                        # Notifications that come while the set is read wait in psycopg's
                        # backlog: they are handled after it, so none is lost to the read.
                        async for note in conn.notifies(timeout=RELOAD_SECONDS):
                            self._dispatch(note.payload)
                        await self._reload(conn)
            except (psycopg.Error, TimeoutError) as exc:
                log.warning("LISTEN connection lost (%s); reconnecting", exc.__class__.__name__)
            finally:
                self.connected = False
                self._watched = None
            await asyncio.sleep(delay)

    async def _reload(self, conn: psycopg.AsyncConnection[object]) -> None:
        """Reads the watched sessions (with this process's own, whatever the table says). A
        connection that does not answer within RELOAD_TIMEOUT_SECONDS is given up (and every
        session woken until a new one has read the set): one that stalled would otherwise
        leave the set without the watches started since."""
        async with asyncio.timeout(RELOAD_TIMEOUT_SECONDS):
            cursor = await conn.execute(_WATCHED)
            watched = {row[0] for row in await cursor.fetchall()}  # type: ignore[index]
        self._watched = watched | set(self._local)


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

    Only sessions someone watches are woken (given the process's `Listener`, which knows them):
    a write to a session nobody watches sends nothing. A watch that starts on another replica
    while a write is under way here may miss that write's wake-up (this process learns of the
    watch a notification later); the watch looks at the tables once more a second after it
    starts (services/live.py), so such a write reaches it then.
    """

    def __init__(self, database_url: str, listener: Listener | None = None) -> None:
        self._url = libpq_url(database_url)
        # Which sessions anyone watches (None: wake every changed session).
        self._listener = listener
        self._pending: set[str] = set()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: psycopg.AsyncConnection[object] | None = None

    def wake(self, session_uuids: set[uuid.UUID]) -> None:
        """Wakes whoever follows these sessions (on every replica), soon."""
        if self._listener is not None:
            session_uuids = self._listener.wakes(session_uuids)
            if not session_uuids:
                return
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
