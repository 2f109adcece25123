"""Live turns and sessions: turns that outlive their caller, one at a time per session, resumed,
cancelled and watched from any replica, with PostgreSQL as the only shared part.

A turn that can be stored in one statement (the mock's) never waits: `TurnService.fast` stores
it with its row, already completed. Any other turn is *placed*: its row is inserted (running, or
queued behind the session's running turn — the partial unique index on running turns makes
that hold for every replica), and a driver task runs it, numbering and encoding its events
(with the API's codec), keeping them for its caller, and writing them to `turn_events` in small
batches so that another replica can resume the stream. The replica renews the leases of the
turns it drives; any replica marks a turn whose lease ran out `lost`. Cancels and status
changes reach the driver through NOTIFY (db/listener.py), never through shared memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing, suppress
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol, TypeVar, cast

from agent_sessions.db.listener import Listener, Subscription
from agent_sessions.db.live import Housekeeping
from agent_sessions.db.rows import from_json
from agent_sessions.db.uow import Database
from agent_sessions.domain import (
    Message,
    Owner,
    Session,
    TurnCompleted,
    TurnEvent,
    TurnFailed,
    TurnQueued,
    TurnRecord,
    TurnRequest,
    TurnResult,
    TurnStarted,
)
from agent_sessions.errors import (
    Cancelled,
    DomainError,
    Internal,
    ResourceExhausted,
    TurnLost,
    Unavailable,
    error_record,
    recorded_error,
)
from agent_sessions.metrics import (
    NOTIFY_QUEUE_USAGE,
    TURNS,
    TURNS_QUEUED,
    TURNS_RUNNING,
    WATCHERS,
)
from agent_sessions.services.errors import (
    session_busy,
    session_inactive,
    session_not_found,
    turn_not_found,
)
from agent_sessions.services.once import request_id_reused
from agent_sessions.services.sessions import session_uuid_for
from agent_sessions.services.turns import Placement, Prepared, TurnService, _Stored

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# How often a running turn's new events are written for other replicas (one commit, one NOTIFY
# per batch: commits that NOTIFY serialise in PostgreSQL, so they are kept few).
FLUSH_SECONDS = 0.1
# How often PostgreSQL's NOTIFY queue is looked at, and the fill level that is logged.
WATCHDOG_SECONDS = 30.0
NOTIFY_QUEUE_WARN = 0.5
# A watch with nothing to say sends a heartbeat this often.
HEARTBEAT_SECONDS = 15.0
# When a new watch looks at the tables once more (see _Watch.run), and how often a process
# renews the rows of the sessions it watches (db/live.py WATCH_TTL_SECONDS is their life).
SETTLE_SECONDS = 1.0
WATCH_RENEW_SECONDS = 20.0
# A reader with no wake-up looks at the tables this often anyway (a NOTIFY is a wake-up only).
POLL_SECONDS = 1.0


class EventCodec(Protocol):
    """The API's encoding of a turn's stream (services never see protos): each turn event as
    the stream events it makes, numbered from `seq`; their bytes; and back."""

    def encode(self, seq: int, event: TurnEvent) -> list[Any]: ...

    def dump(self, item: Any) -> bytes: ...

    def load(self, body: bytes) -> Any: ...

    def delta(self, body: bytes) -> str | None: ...


@dataclass(frozen=True, slots=True)
class TurnView:
    """A turn as GetTurn answers it: its row, and its outcome (result or error) once ended."""

    record: TurnRecord
    result: TurnResult | None
    error: DomainError | None


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One event of a watch: `kind` and what it carries (see WatchSession); `seq` for the
    durable ones. The first is always `ready` (the session is found and followed), which the
    API sends as the stream's headers, not as an event."""

    kind: str
    seq: int | None = None
    message: Message | None = None
    session: Session | None = None
    message_id: str = ""
    deleted_count: int = 0
    turn: TurnView | None = None
    turn_id: str = ""
    turn_seq: int = 0
    text: str = ""
    error: DomainError | None = None


class _Attach(Exception):
    """A turn with this request id is live: the call attaches to it instead of running again."""

    def __init__(self, record: TurnRecord) -> None:
        super().__init__(str(record.turn_id))
        self.record = record


def view(record: TurnRecord) -> TurnView:
    result = None
    if record.status == "completed" and record.result is not None:
        last = _Stored.recorded(record.result).events()[1]
        result = last.result
    error = recorded_error(record.error) if record.error else None
    return TurnView(record, result, error)


class LiveTurns:
    """Runs placed turns and answers GetTurn, CancelTurn, ResumeTurn and WatchSession."""

    def __init__(
        self,
        db: Database,
        turns: TurnService,
        listener: Listener,
        *,
        lease: float = 10.0,
        max_queued: int = 16,
        max_turns_per_user: int = 32,
        max_watches_per_user: int = 64,
    ) -> None:
        self.db = db
        self.turns = turns
        self.listener = listener
        self.lease = lease
        self.max_queued = max_queued
        self.max_turns_per_user = max_turns_per_user
        self.max_watches_per_user = max_watches_per_user
        self._runs: dict[uuid.UUID, _Run] = {}  # the placed turns this process drives
        self._watches: dict[uuid.UUID, int] = {}  # open watches per user
        self._watching: set[Subscription] = set()
        self.closing = False  # the server is shutting down: watches end
        self._keeper: asyncio.Task[None] | None = None
        self._housekeeping = Housekeeping(listener.database_url)
        self.reads = SharedReads(listener)  # the watches' reads, shared (see SharedReads)

    # -- The process's part: leases of its turns, lost turns of everyone. ------------------

    def start(self) -> None:
        self._keeper = asyncio.create_task(self._keep_leases(), name="turn-leases")

    async def drain(self, seconds: float) -> None:
        """Lets the turns driven here (detached ones too) run to their end for up to
        `seconds`, the leases still renewed."""
        tasks = [run.task for run in self._runs.values()]
        if tasks and seconds > 0:
            await asyncio.wait(tasks, timeout=seconds)

    async def stop(self) -> None:
        """Stops the turns still driven here: an attached one is cancelled (it stores
        nothing); a detached one is left as it is, and becomes lost when its lease runs out
        (another replica's sweep marks it; it is never run again on its own)."""
        runs = list(self._runs.values())
        for run in runs:
            run.abandoned = run.request.detach
            run.cancel(None)
        if runs:  # an attached turn writes its end (cancelled) before the pool closes
            await asyncio.wait([run.task for run in runs], timeout=5)
        if self._keeper is not None:
            self._keeper.cancel()
            with suppress(asyncio.CancelledError):
                await self._keeper
        if runs:
            await asyncio.wait([run.task for run in runs], timeout=5)
        with suppress(Exception):  # else they expire (WATCH_TTL_SECONDS)
            await self._housekeeping.forget_watches(self.listener.process)
        await self._housekeeping.close()

    async def close_watches(self) -> None:
        """Ends every open watch with UNAVAILABLE (its client watches again, on another
        replica, from its last seq): the server is shutting down."""
        self.closing = True
        for sub in tuple(self._watching):
            sub._push(None)

    @property
    def running(self) -> int:
        return len(self._runs)

    async def _keep_leases(self) -> None:
        """Renews the leases of this process's turns a few times per lease, and marks the
        turns whose lease ran out (their replica died) lost, so their queues move on."""
        lost = error_record(
            TurnLost(
                "the replica that ran this turn stopped before it ended; nothing of it was "
                "stored — send it again (with the same request id) to run it anew"
            )
        )
        every = max(0.05, min(self.lease / 4, WATCH_RENEW_SECONDS))
        watched_at = renewed_at = 0.0
        while True:
            await asyncio.sleep(every)
            try:
                if time.monotonic() - watched_at >= WATCHDOG_SECONDS:
                    watched_at = time.monotonic()
                    await self._watch_notify_queue()
                watching = self.listener.watching
                if watching and time.monotonic() - renewed_at >= WATCH_RENEW_SECONDS:
                    await self._housekeeping.renew_watches(self.listener.process, watching)
                    renewed_at = time.monotonic()
                if self._runs:
                    await self._housekeeping.renew(list(self._runs), self.lease)
                reaped = await self._housekeeping.reap(lost)
                TURNS.labels("lost").inc(len(reaped))
                if reaped:
                    log.warning("%d turns lost their replica; marked lost", len(reaped))
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.warning("renewing turn leases failed (%s)", exc.__class__.__name__)

    async def _watch_notify_queue(self) -> None:
        usage = await self._housekeeping.notify_queue_usage()
        NOTIFY_QUEUE_USAGE.set(usage)
        if usage >= NOTIFY_QUEUE_WARN:
            log.warning(
                "PostgreSQL's NOTIFY queue is %.0f%% full: a session that ran LISTEN is stuck in "
                "a long transaction (see pg_stat_activity); when the queue is full every write "
                "of this service fails at commit",
                usage * 100,
            )

    # -- TurnQueue: what TurnService.placed asks of the turn rows. --------------------------

    async def place(
        self, owner: Owner, session_id: str, request: TurnRequest, turn_id: uuid.UUID
    ) -> Placement:
        derived = session_uuid_for(owner.user_id, session_id)
        interrupt = request.if_busy == "interrupt"
        key = request.guard.request
        for _ in range(5):
            # An interrupting turn is placed (queued first in line, priority 1) and the running
            # turn cancelled in one transaction: no waiting turn can take the freed slot first.
            async with self.db.work(owner, transaction=interrupt) as uow:
                placed = await uow.live.place(
                    turn_id,
                    session_id,
                    derived,
                    uow.new_user(),
                    priority=1 if interrupt else 0,
                    reject=request.if_busy == "reject",
                    detach=request.detach,
                    request=key,
                    lease=self.lease,
                    max_user=self.max_turns_per_user,
                    max_queued=self.max_queued,
                )
                if interrupt and placed.status is not None:
                    cancelled = Cancelled("a turn sent with if_busy interrupt replaced this one")
                    await uow.live.cancel_running(
                        session_id, derived, error_record(cancelled), keep=turn_id
                    )
                if placed.status is None and key is not None:
                    active = await uow.live.active_by_request(key.request_id)
                    if active is not None:
                        record, method, fingerprint = active
                        if method != key.method or fingerprint != key.fingerprint:
                            raise request_id_reused(key)
                        raise _Attach(record)
            if placed.status is not None:
                run = self._runs.get(turn_id)
                if run is not None:
                    run.placed(placed.session_uuid)
                return Placement(placed.status, placed.session_uuid)
            if not placed.is_active:
                raise session_inactive(session_id)
            if placed.user_turns >= self.max_turns_per_user:
                raise ResourceExhausted(
                    f"you have {placed.user_turns} turns running or queued, the most allowed "
                    f"(AGENT_SESSIONS_MAX_TURNS_PER_USER={self.max_turns_per_user}); wait for "
                    "one to end",
                    reason="USER_LIMIT",
                    retry_after=1.0,
                )
            if request.if_busy == "reject" and placed.busy_with is not None:
                raise session_busy(
                    session_id,
                    placed.busy_with,
                    'wait for it (send this turn with if_busy "enqueue"), cancel it, or send '
                    'this one with if_busy "interrupt"',
                )
            if placed.queued >= self.max_queued:
                raise ResourceExhausted(
                    f"session {session_id!r} has {placed.queued} turns waiting, the most "
                    f"allowed (AGENT_SESSIONS_MAX_QUEUED_TURNS={self.max_queued}); wait for "
                    "them to run",
                    reason="SESSION_QUEUE_FULL",
                    metadata={"session_id": session_id},
                    retry_after=1.0,
                )
            # Lost a race for the running slot: look again (it is queued now).
        raise Internal("the turn could not be placed in its session's queue")

    async def wait(self, owner: Owner, turn_id: uuid.UUID) -> AsyncGenerator[TurnQueued, None]:
        """Until the queued turn runs: its place in the queue whenever it changes. Raises
        the recorded error when it was cancelled or lost while it waited."""
        run = self._runs.get(turn_id)
        sub = self.listener.subscribe(run.session_uuid) if run and run.session_uuid else None
        position = 0
        TURNS_QUEUED.inc()
        try:
            while True:
                async with self.db.work(owner) as uow:
                    status, ahead, promoted = await uow.live.promote(turn_id, self.lease)
                if promoted:
                    return
                if status != "queued":
                    async with self.db.work(owner) as uow:
                        record = await uow.live.lock(turn_id)
                    if record is not None and record.error:
                        raise recorded_error(record.error)
                    raise Cancelled("the turn was cancelled while it waited")
                if ahead + 1 != position:
                    position = ahead + 1
                    yield TurnQueued(turn_id, position)
                if sub is not None:
                    await sub.wait(POLL_SECONDS)
                else:
                    await asyncio.sleep(POLL_SECONDS / 4)
        finally:
            TURNS_QUEUED.dec()
            if sub is not None:
                self.listener.unsubscribe(sub)

    async def refused(self, owner: Owner, turn_id: uuid.UUID, error: DomainError) -> None:
        async with self.db.work(owner) as uow:
            await uow.live.end(turn_id, "failed", error_record(error))

    # -- Conversation and Converse. -----------------------------------------------------------

    async def converse(
        self, owner: Owner, request: TurnRequest, codec: EventCodec
    ) -> AsyncGenerator[Any, None]:
        """The turn's stream, encoded by `codec`. A retry of a stored turn streams it again; of
        a live one, attaches to it from its first event."""
        replay = await self.turns.replay(owner, request)
        if replay is not None:
            for item in _numbered(codec, replay):
                yield item
            return
        turn_id = uuid.uuid4()
        try:
            prepared = await self.turns.fast(owner, request, turn_id)
            if prepared.events is not None:
                TURNS_COMPLETED.inc()
                for item in _numbered(codec, prepared.events):
                    yield item
                return
            run = _Run(self, owner, request, turn_id, prepared, codec)
            try:
                async for item in run.follow():
                    yield item
            finally:
                if not run.done and not request.detach:
                    run.cancel(None)
        except _Attach as attach:
            async for item in self.resume(
                owner, attach.record.session_id, attach.record.turn_id, 0, codec
            ):
                yield item

    async def conversation(
        self, owner: Owner, request: TurnRequest, codec: EventCodec
    ) -> TurnResult:
        """The turn's outcome; a retry of a live turn waits for it."""
        replay = await self.turns.replay(owner, request)
        if replay is not None:
            return _completed(replay)
        turn_id = uuid.uuid4()
        try:
            prepared = await self.turns.fast(owner, request, turn_id)
            if prepared.events is not None:
                TURNS_COMPLETED.inc()
                return _completed(prepared.events)
            run = _Run(self, owner, request, turn_id, prepared, codec)
            try:
                await run.finished()
            finally:
                if not run.done and not request.detach:
                    run.cancel(None)
            if run.result is not None:
                return run.result
            raise run.failed or run.error or Internal("the turn ended without an outcome")
        except _Attach as attach:
            return await self._outcome(owner, attach.record)

    async def _outcome(self, owner: Owner, record: TurnRecord) -> TurnResult:
        """Waits for a live turn (run anywhere) to end; its result, or its error raised."""
        sub = self.listener.subscribe(record.session_uuid)
        try:
            while True:
                async with self.db.work(owner) as uow:
                    found = await uow.live.get(record.session_id, record.turn_id)
                if found is None:
                    raise turn_not_found(record.session_id, record.turn_id)
                if not found.active:
                    ended = view(found)
                    if ended.result is not None:
                        return ended.result
                    raise ended.error or Internal("the turn ended without an outcome")
                await sub.wait(POLL_SECONDS)
        finally:
            self.listener.unsubscribe(sub)

    # -- GetTurn, CancelTurn, ResumeTurn. ------------------------------------------------------

    async def get(self, owner: Owner, session_id: str, turn_id: uuid.UUID) -> TurnView:
        async with self.db.work(owner) as uow:
            record = await uow.live.get(session_id, turn_id)
        if record is None:
            raise turn_not_found(session_id, turn_id)
        return view(record)

    async def cancel(self, owner: Owner, session_id: str, turn_id: uuid.UUID) -> TurnView:
        """Cancels a queued or running turn (its driver, on whichever replica, stops it when
        the NOTIFY of the change reaches it); a turn that ended is answered as it is."""
        async with self.db.work(owner) as uow:
            record = await uow.live.get(session_id, turn_id)
            if record is None:
                raise turn_not_found(session_id, turn_id)
            if record.active:
                error = Cancelled("the turn was cancelled (CancelTurn); nothing of it was stored")
                await uow.live.end(turn_id, "cancelled", error_record(error))
                record = await uow.live.get(session_id, turn_id)
        assert record is not None
        return view(record)

    async def resume(
        self,
        owner: Owner,
        session_id: str,
        turn_id: uuid.UUID,
        after_seq: int,
        codec: EventCodec,
    ) -> AsyncGenerator[Any, None]:
        """The turn's events after `after_seq` as its stream numbered them, then the live ones
        until its last (`completed` or `error`)."""
        async with self.db.work(owner) as uow:
            record = await uow.live.get(session_id, turn_id)
        if record is None:
            raise turn_not_found(session_id, turn_id)
        sub = self.listener.subscribe(record.session_uuid)
        last = after_seq
        ended_at: float | None = None
        try:
            while True:
                async with self.db.work(owner) as uow:
                    rows = await uow.live.events_after(turn_id, last)
                    if len(rows) < 500:
                        record = await uow.live.get(session_id, turn_id)
                for seq, body, is_last in rows:
                    yield codec.load(body)
                    last = seq
                    if is_last:
                        return
                if len(rows) == 500 or record is None:
                    continue
                if not record.active:
                    ended_at = ended_at or time.monotonic()
                    # Its driver writes the last events right after the row ends; a stored
                    # turn without any (one stored in one statement, or whose replica died
                    # just after storing) is rebuilt from its record; an ended turn whose
                    # driver is gone gets its error as the next event.
                    gone = record.expired or record.status == "lost"
                    if record.status == "completed" and record.result is not None:
                        if last == 0 and not rows or time.monotonic() - ended_at > 2.0:
                            events = _Stored.recorded(record.result).replayed()
                            for item in _numbered(codec, events):
                                if _seq_of(item) > last:
                                    yield item
                            return
                    elif gone or time.monotonic() - ended_at > self.lease:
                        error = recorded_error(record.error) if record.error else Cancelled("")
                        for item in codec.encode(last + 1, TurnFailed(error)):
                            yield item
                        return
                await sub.wait(POLL_SECONDS)
        finally:
            self.listener.unsubscribe(sub)

    # -- WatchSession. -------------------------------------------------------------------------

    async def watch(
        self, owner: Owner, session_id: str, after_seq: int | None, codec: EventCodec
    ) -> AsyncGenerator[WatchEvent, None]:
        """Every change of the session as it commits, from any replica (see WatchSession)."""
        open_watches = self._watches.get(owner.user_id, 0)
        if open_watches >= self.max_watches_per_user:
            raise ResourceExhausted(
                f"you have {open_watches} open watches on this replica, the most allowed "
                f"(AGENT_SESSIONS_MAX_WATCHES_PER_USER={self.max_watches_per_user}); close one",
                reason="USER_LIMIT",
            )
        # Counted before anything is awaited: concurrent watches of one user see each other.
        self._watches[owner.user_id] = open_watches + 1
        sub: Subscription | None = None
        followed: uuid.UUID | None = None
        try:
            async with self.db.work(owner) as uow:
                # Registered as watched (session_watches) in the same statement: from its
                # commit on, writes through any replica wake this session.
                found = await uow.live.follow(session_id, self.listener.process)
            if found is None:
                raise session_not_found(session_id)
            session_uuid, seq_now, created_at = found
            # Subscribed before the backlog is read: nothing committed after it is missed.
            self.listener.watch(session_uuid)
            followed = session_uuid
            sub = self.listener.subscribe(session_uuid)
            self._watching.add(sub)
            WATCHERS.inc()
            yield WatchEvent("ready")  # found and followed: nothing refuses it from here on
            async for event in _Watch(self, owner, session_id, session_uuid, created_at, codec).run(
                seq_now if after_seq is None else after_seq, sub
            ):
                yield event
        finally:
            if followed is not None:
                self.listener.unwatch(followed)
            if sub is not None:
                WATCHERS.dec()
                self._watching.discard(sub)
                self.listener.unsubscribe(sub)
            left = self._watches.get(owner.user_id, 1) - 1
            if left:
                self._watches[owner.user_id] = left
            else:
                self._watches.pop(owner.user_id, None)


TURNS_COMPLETED = TURNS.labels("completed")
_SHUTTING_DOWN = Unavailable(
    "this server is shutting down; watch again with after_seq set to the last seq you received "
    "(another replica continues from there)"
)


def _domain_error(error: BaseException) -> DomainError:
    """A turn's failure as the error its stream tells (the API's mapping logs unknown ones
    when it tells them; here they are logged once, with the turn's incident)."""
    if isinstance(error, DomainError):
        return error
    incident = uuid.uuid4().hex[:12]
    log.error("turn failed (incident %s)", incident, exc_info=error, extra={"incident": incident})
    return Internal(f"internal error (incident {incident}); the operators have the details")


def _seq_of(item: Any) -> int:
    return int(getattr(item, "seq", 0))


def _numbered(codec: EventCodec, events: Sequence[TurnEvent]) -> list[Any]:
    items: list[Any] = []
    for event in events:
        items.extend(codec.encode(len(items) + 1, event))
    return items


def _completed(events: Sequence[TurnEvent]) -> TurnResult:
    for event in events:
        if isinstance(event, TurnCompleted):
            return event.result
    raise Internal("the turn ended without an outcome")


class _Run:
    """One placed turn driven by this process: a task runs it, its caller (if any) follows its
    encoded events, and they are written to `turn_events` in small batches."""

    def __init__(
        self,
        live: LiveTurns,
        owner: Owner,
        request: TurnRequest,
        turn_id: uuid.UUID,
        prepared: Prepared,
        codec: EventCodec,
    ) -> None:
        self.live = live
        self.owner = owner
        self.request = request
        self.turn_id = turn_id
        self.prepared = prepared
        self.codec = codec
        self.items: list[Any] = []
        self.unflushed: list[tuple[int, bytes, bool]] = []
        self.session_uuid: uuid.UUID | None = None
        self.result: TurnResult | None = None
        self.error: BaseException | None = None  # a refusal before the turn began
        self.failed: DomainError | None = None  # why it ended without being stored
        self.done = False
        self.cancel_error: DomainError | None = None
        self.abandoned = False  # the server stops: leave the row for the lease sweep
        self.cancelling = False
        self._changed = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._helpers: list[asyncio.Task[None]] = []
        self._counted = False
        live._runs[turn_id] = self
        self.task = asyncio.create_task(self._drive(), name=f"turn-{turn_id}")

    def placed(self, session_uuid: uuid.UUID) -> None:
        """The turn has its row: its events can be written, and it can be cancelled."""
        self.session_uuid = session_uuid
        TURNS_RUNNING.inc()
        self._counted = True
        self._helpers.append(asyncio.create_task(self._flush_often()))
        self._helpers.append(asyncio.create_task(self._watch_cancel()))

    def cancel(self, error: DomainError | None) -> None:
        """Stops the turn: its caller went away (None), or its row was ended elsewhere. Once:
        a second cancel would cut off the first one's writing of the turn's end."""
        if not self.done and not self.cancelling:
            self.cancelling = True
            self.cancel_error = error
            self.task.cancel()

    async def follow(self) -> AsyncGenerator[Any, None]:
        sent = 0
        while True:
            while sent < len(self.items):
                sent += 1
                yield self.items[sent - 1]
            if self.done:
                if sent == 0 and self.error is not None:
                    raise self.error
                return
            self._changed.clear()
            await self._changed.wait()

    async def finished(self) -> None:
        while not self.done:
            self._changed.clear()
            await self._changed.wait()

    def _emit(self, event: TurnEvent, last: bool = False) -> None:
        items = self.codec.encode(len(self.items) + 1, event)
        for i, item in enumerate(items):
            self.items.append(item)
            seq = len(self.items)
            self.unflushed.append((seq, self.codec.dump(item), last and i == len(items) - 1))
        self._changed.set()

    async def _drive(self) -> None:
        turns = self.live.turns
        try:
            events = turns.placed(self.owner, self.request, self.turn_id, self.prepared, self.live)
            async with aclosing(events) as running:
                async for event in running:
                    if isinstance(event, TurnFailed):
                        await self._fail(event.error)
                        return
                    if isinstance(event, TurnStarted):
                        self.session_uuid = event.session_uuid
                    if isinstance(event, TurnCompleted):
                        self.result = event.result
                        TURNS_COMPLETED.inc()
                    self._emit(event, last=isinstance(event, TurnCompleted))
            await self._flush()
        except asyncio.CancelledError:
            if not self.abandoned:
                await self._fail(
                    self.cancel_error
                    or Cancelled("the turn's caller went away; nothing of it was stored")
                )
        except Exception as exc:  # noqa: BLE001 - a refusal before it began, or a bug
            if self.items and not isinstance(exc, _Attach):
                await self._fail(exc)  # it began: its stream ends with an error event
            else:
                self.error = exc
        finally:
            self.done = True
            self._changed.set()
            self.live._runs.pop(self.turn_id, None)
            if self._counted:
                TURNS_RUNNING.dec()
            for helper in self._helpers:
                helper.cancel()
            await asyncio.gather(*self._helpers, return_exceptions=True)

    async def _fail(self, error: BaseException) -> None:
        """Ends the turn's row (unless it was ended elsewhere: then its recorded error is the
        one told) and writes the last events, in one transaction."""
        told = _domain_error(error)
        try:
            # The flush lock first: a periodic flush in flight inserts events whose foreign key
            # waits for the row lock taken below, while this would wait for the flush lock.
            async with self._flush_lock, self.live.db.work(self.owner, transaction=True) as uow:
                record = await uow.live.lock(self.turn_id)
                if record is not None and record.active:
                    status = "cancelled" if isinstance(told, Cancelled) else "failed"
                    await uow.live.end(self.turn_id, status, error_record(told))
                elif record is not None and record.error:
                    told = recorded_error(record.error)
                if self.session_uuid is None:  # never began: the caller gets the error itself
                    self.error = told
                    return
                self.failed = told
                if told.reason != "TURN_LOST":  # a lost turn is counted by the sweep
                    TURNS.labels("cancelled" if told.reason == "CANCELLED" else "failed").inc()
                self._emit(TurnFailed(told), last=True)
                await self._flush(uow, locked=True)
        except Exception as exc:  # noqa: BLE001 - the lease ends it (lost) if this fails
            log.warning("ending turn %s failed (%s)", self.turn_id, exc.__class__.__name__)
            self.failed = told
            if not self.items or not self.unflushed:
                self._emit(TurnFailed(told), last=True)

    async def _flush(self, uow: Any = None, *, locked: bool = False) -> None:
        """Writes the events not yet written (on `uow`, in its transaction, when given);
        `locked`: the caller holds the flush lock."""
        if not locked:
            async with self._flush_lock:
                await self._flush(uow, locked=True)
            return
        if not self.unflushed or self.session_uuid is None:
            return
        batch, self.unflushed = self.unflushed, []
        try:
            if uow is not None:
                await uow.live.add_events(self.turn_id, self.session_uuid, batch)
            else:
                async with self.live.db.work(self.owner) as own:
                    await own.live.add_events(self.turn_id, self.session_uuid, batch)
        except BaseException:
            self.unflushed = batch + self.unflushed
            raise

    async def _flush_often(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self._flush()
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.warning("writing turn events failed (%s)", exc.__class__.__name__)

    async def _watch_cancel(self) -> None:
        """Stops the turn when its row is ended elsewhere (CancelTurn, an interrupt, a lost
        lease), as soon as the NOTIFY of it arrives."""
        assert self.session_uuid is not None
        sub = self.live.listener.subscribe(self.session_uuid)
        mine = f":{self.turn_id}:"
        try:
            while not self.done:
                payloads = await sub.wait(POLL_SECONDS * 5)
                ended = [
                    p
                    for p in payloads
                    if p.startswith("t:")
                    and mine in p
                    and p.rsplit(":", 1)[1] in ("cancelled", "lost", "failed")
                ]
                # No wake-up for a while (or the LISTEN connection came back): look anyway.
                if ended or not payloads or sub.take_resync():
                    async with self.live.db.work(self.owner) as uow:
                        record = await uow.live.lock(self.turn_id)
                    if record is not None and not record.active and record.status != "completed":
                        self.cancel(recorded_error(record.error) if record.error else None)
                        return
        finally:
            self.live.listener.unsubscribe(sub)


class SharedReads:
    """The reads of this process's watches, shared while they run: the watches of one session
    woken by one wake-up need the same rows, and one statement answers them all (100 watchers of
    a session cost 100 statements per change, and per batch of a streaming turn, before).

    A read is shared only with a watch whose wake-ups all came before the read started
    (`needed`, the listener's count of pushes: `Subscription.pushed`), so every watch still
    reads every change it was woken for. The read runs as a task of its own: a watch that goes
    away while others wait for it does not take it down.
    """

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self._running: dict[tuple[Any, ...], tuple[int, asyncio.Future[Any]]] = {}

    async def read(
        self, key: tuple[Any, ...], needed: int, read: Callable[[], Awaitable[_T]]
    ) -> _T:
        found = self._running.get(key)
        if found is None or found[0] < needed:
            task = asyncio.ensure_future(read())
            found = (self._listener.pushes, task)
            self._running[key] = found
            task.add_done_callback(partial(self._done, key))
        return cast(_T, await asyncio.shield(found[1]))

    def _done(self, key: tuple[Any, ...], task: asyncio.Future[Any]) -> None:
        found = self._running.get(key)
        if found is not None and found[1] is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved, even when every watch waiting for it went away

    def __len__(self) -> int:
        return len(self._running)


class _Watch:
    """One WatchSession: the backlog after a seq, then every change as it commits."""

    def __init__(
        self,
        live: LiveTurns,
        owner: Owner,
        session_id: str,
        session_uuid: uuid.UUID,
        created_at: datetime,
        codec: EventCodec,
    ) -> None:
        self.live = live
        self.owner = owner
        self.session_id = session_id
        self.session_uuid = session_uuid
        self.created_at = created_at
        self.codec = codec
        self.statuses: dict[uuid.UUID, str] = {}
        self.deltas: dict[uuid.UUID, int] = {}

    async def run(self, after: int, sub: Subscription) -> AsyncGenerator[WatchEvent, None]:
        last = after
        db = self.live.db
        # The backlog, and the turns live now.
        async for event in self._durable(last, self.live.listener.pushes):
            last = event.seq or last
            yield event
        async with db.work(self.owner) as uow:
            live_turns = await uow.live.active_turns(self.session_uuid)
        for record in live_turns:
            self.statuses[record.turn_id] = record.status
            yield WatchEvent("turn", turn=view(record))
        # One look at the tables SETTLE_SECONDS after the start, whatever else happens: a write
        # that was under way on another replica as the watch was registered may have sent no
        # wake-up (that replica learns of the watch a notification later).
        settle_at: float | None = time.monotonic() + SETTLE_SECONDS
        while True:
            payloads = await sub.wait(
                HEARTBEAT_SECONDS if settle_at is None else max(0.0, settle_at - time.monotonic())
            )
            resync = sub.take_resync()
            if self.live.closing:
                yield WatchEvent("error", error=_SHUTTING_DOWN)
                return
            quiet = not payloads and not resync
            settled = settle_at is not None and time.monotonic() >= settle_at
            if settled:
                settle_at = None
            kinds = {p[0] for p in payloads}
            # A read shared with other watches of the session must have started after the
            # wake-ups this one got (a look without any: after now).
            needed = sub.pushed if payloads and not settled else self.live.listener.pushes
            if quiet or resync or settled or "s" in kinds:
                # A wake-up, or a quiet while (a wake-up may have been lost with the process
                # that was to send it): what changed after `last`, or whether it is gone.
                changed = False
                async for event in self._durable(last, needed):
                    yield event
                    if event.kind == "deleted":
                        return
                    last = event.seq or last
                    changed = True
                if not changed:
                    async with db.work(self.owner) as uow:
                        found = await uow.live.watched(self.session_id)
                    if found is None or (found[0], found[2]) != (
                        self.session_uuid,
                        self.created_at,
                    ):
                        yield WatchEvent("deleted")  # expired (or deleted before the log had it)
                        return
                if quiet and not changed and not settled:
                    yield WatchEvent("heartbeat")
            turn_ids = {uuid.UUID(p.split(":")[2]) for p in payloads if p[0] in "te"}
            for turn_id in sorted(turn_ids, key=str):
                async for event in self._turn(turn_id, needed):
                    yield event

    async def _changes(self, after: int) -> list[tuple[int, str, dict[str, Any]]]:
        async with self.live.db.work(self.owner) as uow:
            return await uow.live.changes_after(self.session_uuid, self.created_at, after)

    async def _turn_read(
        self, turn_id: uuid.UUID, after: int
    ) -> tuple[TurnRecord | None, list[tuple[int, bytes]]]:
        async with self.live.db.work(self.owner) as uow:
            record = await uow.live.get(self.session_id, turn_id)
            deltas = await uow.live.session_turn_events(self.session_uuid, turn_id, after)
        return record, deltas

    async def _durable(self, after: int, needed: int) -> AsyncGenerator[WatchEvent, None]:
        while True:
            key = ("changes", self.owner.user_id, self.session_uuid, self.created_at, after)
            changes = await self.live.reads.read(key, needed, partial(self._changes, after))
            for seq, kind, body in changes:
                after = seq
                if kind == "message":
                    yield WatchEvent("message", seq, message=from_json(Message, body))
                elif kind == "message_updated":
                    yield WatchEvent("message_updated", seq, message=from_json(Message, body))
                elif kind == "message_deleted":
                    yield WatchEvent("message_deleted", seq, message_id=str(body["message_id"]))
                elif kind == "cleared":
                    yield WatchEvent("cleared", seq, deleted_count=int(body["deleted_count"]))
                elif kind == "session":
                    yield WatchEvent("session", seq, session=from_json(Session, body))
                elif kind == "deleted":
                    yield WatchEvent("deleted", seq)  # the seq the delete would have taken
                    return
            if len(changes) < 500:
                return

    async def _turn(self, turn_id: uuid.UUID, needed: int) -> AsyncGenerator[WatchEvent, None]:
        after = self.deltas.get(turn_id, 0)
        key = ("turn", self.owner.user_id, self.session_uuid, self.session_id, turn_id, after)
        record, deltas = await self.live.reads.read(
            key, needed, partial(self._turn_read, turn_id, after)
        )
        for seq, body in deltas:
            self.deltas[turn_id] = seq
            text = self.codec.delta(body)
            if text is not None:
                yield WatchEvent("turn_delta", turn_id=str(turn_id), turn_seq=seq, text=text)
        if record is not None and self.statuses.get(turn_id) != record.status:
            self.statuses[turn_id] = record.status
            yield WatchEvent("turn", turn=view(record))
        if len(self.deltas) > 64:  # keep what the latest turns were told, not every turn's
            for old in list(self.deltas)[:-64]:
                self.deltas.pop(old, None)
                self.statuses.pop(old, None)
