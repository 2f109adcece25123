"""One LISTEN connection per process: PostgreSQL's NOTIFY wake-ups, handed to the subscribers of
each session.

A notification carries keys only (see migration 0005): `s:<session>:<seq>`, `d:<session>`,
`t:<session>:<turn>:<status>`, `e:<session>:<turn>:<seq>`. It is a wake-up, never the data:
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
