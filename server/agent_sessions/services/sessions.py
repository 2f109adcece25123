"""Sessions: create, read, list, change and delete the caller's sessions."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Sequence
from typing import Any

from agent_sessions import validation as v
from agent_sessions.agents.tools.access import ToolServerAccess, access_of
from agent_sessions.agents.tools.allowlist import check_tool_allowlist, parse_tool_allowlist
from agent_sessions.db.rows import from_json
from agent_sessions.db.uow import Database
from agent_sessions.domain import (
    SESSION_TEXT_FIELDS,
    UNGUARDED,
    Guard,
    Owner,
    Page,
    Retention,
    Session,
    SessionFields,
    bare_etag,
)
from agent_sessions.errors import InvalidArgument
from agent_sessions.services import pagination
from agent_sessions.services.errors import (
    message_not_found,
    session_busy,
    session_exists,
    session_not_found,
    splits_tool_call,
)
from agent_sessions.services.once import (
    check_unchanged,
    etag_mismatch,
    etag_numbers,
    recorded,
    session_changed,
    true_or_none,
    write_once,
)
from agent_sessions.services.pagination import PageTokens

# Sessions get a UUID derived from their owner and `session_id`, so every path that may create
# one (CreateSession, and the first turn of a conversation, which creates it only when it stores)
# agrees on it: two first turns racing on one new session announce the same `session_uuid` in
# their `started` events, whichever of them inserts the row. Session UUIDs are never an input.
SESSION_NAMESPACE = uuid.UUID("0b5e8c1e-3f6a-4a8e-9d2c-6a1f4e7b9c30")


def session_uuid_for(user_id: uuid.UUID, session_id: str) -> uuid.UUID:
    """The id a session of this owner with this `session_id` gets when it is created."""
    return uuid.uuid5(SESSION_NAMESPACE, f"{user_id}/{session_id}")


def server_tools(value: str | None, tool_servers: Sequence[str]) -> str | None:
    """A session's server tool allowlist in its canonical form (None: every server's tools).
    With MCP servers configured, every server it names must be one of them; with none, only
    its shape is checked (the operator may configure them later)."""
    value = v.optional_text("server_tools", value)
    if value is None:
        return None
    if tool_servers:
        return check_tool_allowlist(value, tool_servers) or None
    return parse_tool_allowlist(value).canonical() or None


def _checked(
    name: str,
    value: str | None,
    tool_servers: Sequence[str],
    models: frozenset[str] | None = None,
) -> str | None:
    if name == "server_tools":
        return server_tools(value, tool_servers)
    if name == "model":
        return v.model(value, models)
    return v.optional_text(name, value)


def session_fields(
    fields: SessionFields,
    tool_servers: Sequence[str] = (),
    models: frozenset[str] | None = None,
) -> SessionFields:
    """Checks the text fields of a new session (absent or empty becomes None); `models`: the
    models callers may choose (None: any)."""
    return SessionFields(
        **{
            name: _checked(name, getattr(fields, name), tool_servers, models)
            for name in SESSION_TEXT_FIELDS
        }
    )


_session_texts = operator.attrgetter(*SESSION_TEXT_FIELDS)


def check_retention(retention: Retention | None, prefix: str = "") -> None:
    """A new session's expiry: `expire_time` or `ttl` (1 to MAX_TTL), not both; `prefix`
    names where the fields are in the request (`create_session.`)."""
    if retention is not None and retention.ttl is not None:
        if retention.expire_time is not None:
            raise InvalidArgument(f"{prefix}ttl", "give expire_time or ttl, not both")
        v.ttl(retention.ttl, f"{prefix}ttl")


class SessionService:
    """The rules of the SessionService calls but the conversation (see TurnService)."""

    def __init__(
        self,
        db: Database,
        tokens: PageTokens,
        tool_servers: Sequence[str] | ToolServerAccess = (),
        models: frozenset[str] | None = None,
    ) -> None:
        self.db = db
        self.tokens = tokens
        # The configured MCP servers `server_tools` may name, per user.
        self.tool_servers = access_of(tool_servers)
        # The models a session may name (AGENT_SESSIONS_MODELS); None: any.
        self.models = models

    async def list(
        self,
        owner: Owner,
        *,
        page_size: int,
        page_token: str,
        is_active: bool | None,
        agent_name: str | None,
        labels: list[str] | None = None,
    ) -> Page[Session]:
        limit = v.page_size(page_size)
        if agent_name is not None:
            agent_name = v.text("agent_name", agent_name)
        try:
            wanted = v.label_filters(labels or [])
        except v.LabelConflict:
            return Page([], "", 0)  # two values wanted of one key: no session has both
        # The filters in a fixed order, so a token holds whatever order they come in.
        filters = sorted(wanted.items()) if wanted else None
        # (Without label filters the scope is as before them, so earlier tokens still hold.)
        scope = pagination.scope(
            "sessions", owner.user_id, is_active, agent_name, *([filters] if filters else [])
        )
        after = self.tokens.read(scope, page_token, pagination.session_position)
        async with self.db.work(owner) as uow:
            rows = await uow.sessions.page(
                is_active=is_active,
                agent_name=agent_name,
                limit=limit + 1,
                after=after,
                labels=wanted,
            )
            total = await uow.sessions.count(
                is_active=is_active, agent_name=agent_name, labels=wanted
            )
        shown = pagination.fitting(rows, limit, _session_texts)
        token = ""
        if len(rows) > shown:
            last = rows[shown - 1]
            token = self.tokens.issue(scope, [last.created_at.isoformat(), str(last.id)])
        return Page(rows[:shown], token, total)

    async def create(
        self,
        owner: Owner,
        session_id: str,
        texts: SessionFields,
        is_active: bool | None,
        guard: Guard = UNGUARDED,
        *,
        labels: dict[str, str] | None = None,
        retention: Retention | None = None,
    ) -> Session:
        """Creates a session; an empty `session_id` gets a generated one."""
        session_id = v.session_id(session_id) if session_id else str(uuid.uuid4())
        fields = session_fields(texts, self.tool_servers.names_for(owner), self.models)
        checked_labels = v.labels(labels or {})
        check_retention(retention)
        async with self.db.work(owner) as uow:
            created = await write_once(
                uow,
                guard.request,
                lambda: uow.sessions.create(
                    session_uuid_for(owner.user_id, session_id),
                    session_id,
                    fields,
                    True if is_active is None else is_active,
                    uow.new_user(),
                    labels=checked_labels,
                    retention=retention,
                    request=guard.request,
                ),
                _replay_session,
            )
        if created is None:
            raise session_exists(session_id)
        return created

    async def get(self, owner: Owner, session_id: str) -> Session:
        session_id = v.session_id(session_id)
        async with self.db.work(owner) as uow:
            session = await uow.sessions.get(session_id)
        if session is None:
            raise session_not_found(session_id)
        return session

    async def update(
        self,
        owner: Owner,
        session_id: str,
        changes: dict[str, Any],
        guard: Guard = UNGUARDED,
    ) -> Session:
        """Changes the fields present in `changes` (text fields: empty removes; `is_active`);
        the session takes its next seq."""
        session_id = v.session_id(session_id)
        checked: dict[str, Any] = {
            name: _checked(name, value, self.tool_servers.names_for(owner), self.models)
            for name, value in changes.items()
            if name in SESSION_TEXT_FIELDS
        }
        if "is_active" in changes:
            checked["is_active"] = bool(changes["is_active"])
        if "labels" in changes:
            checked["labels"] = v.labels(changes["labels"])
        if "expire_time" in changes:
            checked["expire_time"] = changes["expire_time"]
        etag = etag_numbers(guard.etag, 2)
        async with self.db.work(owner) as uow:
            if checked:
                session = await write_once(
                    uow,
                    guard.request,
                    lambda: uow.sessions.update(
                        session_id, checked, etag=etag, request=guard.request
                    ),
                    _replay_session,
                )
                if session is not None:
                    return session
            # Nothing to change, or nothing changed: say why.
            current = await uow.sessions.get(session_id)
        if current is None:
            raise session_not_found(session_id)
        check_unchanged("session", current, guard, tried=bool(checked))
        return current

    async def set_active(
        self, owner: Owner, session_id: str, active: bool, guard: Guard = UNGUARDED
    ) -> Session:
        return await self.update(owner, session_id, {"is_active": active}, guard)

    async def delete(self, owner: Owner, session_id: str, guard: Guard = UNGUARDED) -> None:
        """Deletes the session and its messages. A retry with the request id of a delete that
        went through answers as it did (no NOT_FOUND)."""
        session_id = v.session_id(session_id)
        etag = etag_numbers(guard.etag, 2)
        async with self.db.work(owner) as uow:
            deleted = await write_once(
                uow,
                guard.request,
                lambda: true_or_none(
                    uow.sessions.delete(session_id, etag=etag, request=guard.request)
                ),
                lambda _: True,
            )
            if deleted:
                return
            current = await uow.sessions.get(session_id)
        if current is None:
            raise session_not_found(session_id)
        check_unchanged("session", current, guard, tried=True)

    async def fork(
        self,
        owner: Owner,
        session_id: str,
        *,
        new_session_id: str,
        up_to_message_id: str,
        session_name: str | None,
        guard: Guard = UNGUARDED,
    ) -> Session:
        """A new session with the source's fields and copies of its messages (all, or up to
        and including `up_to_message_id`), made in one statement: all or nothing."""
        session_id = v.session_id(session_id)
        new_id = (
            v.session_id(new_session_id, "new_session_id") if new_session_id else str(uuid.uuid4())
        )
        up_to = v.uuid_value("up_to_message_id", up_to_message_id) if up_to_message_id else None
        name = v.optional_text("session_name", session_name)
        outcome: tuple[bool, bool, bool, Session | None] = (True, True, False, None)

        async def write() -> Session | None:
            nonlocal outcome
            outcome = await uow.sessions.fork(
                session_id,
                session_uuid_for(owner.user_id, new_id),
                new_id,
                up_to,
                name,
                request=guard.request,
            )
            return outcome[3]

        async with self.db.work(owner) as uow:
            made = await write_once(uow, guard.request, write, _replay_session)
        if made is not None:
            return made
        found, cut_found, splits, _ = outcome
        if not found:
            raise session_not_found(session_id)
        if up_to is not None and not cut_found:
            raise message_not_found(up_to)
        if splits and up_to is not None:
            raise splits_tool_call(up_to)
        raise session_exists(new_id)

    async def rewind(
        self, owner: Owner, session_id: str, after_message_id: str, guard: Guard = UNGUARDED
    ) -> Session:
        """Deletes every message after `after_message_id`; each takes its own seq. In one
        transaction that row-locks the session first, so a concurrent append lands wholly
        before (and is deleted if after the cut) or wholly after the rewind."""
        session_id = v.session_id(session_id)
        after = v.uuid_value("after_message_id", after_message_id)
        etag = bare_etag(guard.etag) if guard.etag is not None else None
        async with self.db.work(owner, transaction=True) as uow:
            session = await uow.sessions.lock(session_id)
            # The lock orders a retry after the first call: its record is there by now.
            first = await recorded(uow, guard.request)
            if first is not None:
                return _replay_session(first.result)
            if session is None:
                raise session_not_found(session_id)
            if etag is not None and session.etag != etag:
                raise etag_mismatch("session", session.etag)
            if guard.expected_seq is not None and session.seq != guard.expected_seq:
                raise session_changed(session_id, session.seq, guard.expected_seq)
            marker, busy = await uow.live.hold(session.id, session_id)
            if marker is None:
                raise session_busy(
                    session_id, busy, "wait for it to end (or cancel it), then rewind again"
                )
            cut = await uow.sessions.rewind_cut(session_id, after)
            if cut is None:
                raise message_not_found(after)
            if cut[1]:
                raise splits_tool_call(after)
            rewound = await uow.sessions.rewind(session_id, cut[0], request=guard.request)
            await uow.live.release(marker)
        if rewound is None:  # the session is locked: it cannot have gone
            raise session_not_found(session_id)
        return rewound


def _replay_session(result: dict[str, Any]) -> Session:
    return from_json(Session, result["rows"][0])
