"""Exactly once: a write with a request id that changed nothing answers from the id's record.

A write records its request id in its own statement (db/statements.py `_recorded`), so the id
is committed exactly when the write is. When the write changes nothing — its request id is
recorded already (a retry; a concurrent duplicate waits for the first to commit), or its
conditions failed because the first call changed things (a retried delete finds nothing, a
retried update a new etag) — the record answers: the first call's result again, or
REQUEST_ID_REUSED when the id named another request. Only what committed is recorded: a call
that stored nothing leaves its id unused, and a retry runs anew.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from agent_sessions.db.repositories import RequestIdTaken, StoredRequest
from agent_sessions.db.uow import Database, UnitOfWork
from agent_sessions.domain import (
    Guard,
    Message,
    Owner,
    RequestKey,
    Session,
    bare_etag,
    read_etag,
)
from agent_sessions.errors import Aborted, InvalidArgument

T = TypeVar("T")


def request_id_reused(key: RequestKey) -> InvalidArgument:
    return InvalidArgument(
        "request_id",
        f"{key.request_id} was already used for another request; make a new request id for "
        "each logical call (and keep it only across retries of that call)",
        reason="REQUEST_ID_REUSED",
    )


async def recorded(uow: UnitOfWork, key: RequestKey | None) -> StoredRequest | None:
    """The record of `key`'s request id, when it names this same request; None when unused."""
    if key is None:
        return None
    stored = await uow.requests.get(key.request_id)
    if stored is None:
        return None
    if stored.method != key.method or stored.fingerprint != key.fingerprint:
        raise request_id_reused(key)
    return stored


async def write_once(
    uow: UnitOfWork,
    key: RequestKey | None,
    write: Callable[[], Awaitable[T | None]],
    replay: Callable[[dict[str, Any]], T],
) -> T | None:
    """Runs `write` (None: it changed nothing). When it changed nothing, the answer recorded
    with the request id, if any; None when the id is unused (the caller says why nothing
    changed: not found, an etag or seq that moved on)."""
    try:
        done = await write()
    except RequestIdTaken:
        done = None
    if done is not None:
        return done
    stored = await recorded(uow, key)
    return replay(stored.result) if stored is not None else None


async def true_or_none(done: Awaitable[bool]) -> bool | None:
    """A delete's outcome as `write_once` takes it: None when it deleted nothing."""
    return True if await done else None


async def write_once_locked(
    db: Database,
    owner: Owner,
    session_id: str,
    key: RequestKey | None,
    write: Callable[[UnitOfWork], Awaitable[T | None]],
    replay: Callable[[dict[str, Any]], T],
) -> T | None:
    """`write_once` for a write of a session's existing messages: in a transaction that locks
    the session first (see LOCK_SESSION in db/statements.py). A write whose request id is taken
    rolls its transaction back; the record is then read on a connection of its own."""
    try:
        async with db.work(owner, transaction=True) as uow:
            if await uow.sessions.lock(session_id):
                done = await write(uow)
                if done is not None:
                    return done
    except RequestIdTaken:
        pass
    async with db.work(owner) as uow:
        stored = await recorded(uow, key)
    return replay(stored.result) if stored is not None else None


def etag_numbers(etag: str | None, count: int) -> tuple[int, ...] | None:
    """What a write compares for an etag the caller sent (None: no condition). Text this
    service never made matches nothing."""
    if etag is None:
        return None
    return read_etag(etag, count) or (-1,) * count


def check_unchanged(what: str, current: Session | Message, guard: Guard, tried: bool) -> None:
    """Why a write of a resource that is there changed nothing: its etag is not the one the
    caller sent (ETAG_MISMATCH; also when the write was `tried` and found nothing, as when it
    changed between the write and this read). Returns when nothing was asked to change and the
    etag, if any, is current."""
    if tried or (guard.etag is not None and current.etag != bare_etag(guard.etag)):
        raise etag_mismatch(what, current.etag)


def etag_mismatch(what: str, current: str) -> Aborted:
    return Aborted(
        f"the {what} changed since you read it: its etag is now {current}; read it again, "
        "then retry with the new etag if the change still applies",
        reason="ETAG_MISMATCH",
        metadata={"etag": current},
    )


def session_changed(session_id: str, seq: int, expected: int) -> Aborted:
    return Aborted(
        f"session {session_id!r} changed since seq {expected} (its seq is now {seq}); read "
        "what changed, then retry with expected_seq set to the new seq",
        reason="SESSION_CHANGED",
        metadata={"session_id": session_id, "seq": str(seq)},
    )
