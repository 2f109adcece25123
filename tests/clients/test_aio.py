"""The asyncio client against the live service, directly and through Envoy.

The root pytest configuration runs no async tests, so each test drives asyncio.run itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from agent_sessions_client import (
    AlreadyExistsError,
    AsyncClient,
    Completed,
    ConversationMessage,
    Delta,
    FailedPreconditionError,
    InvalidArgumentError,
    MessageStored,
    NotFoundError,
    Started,
    UnauthenticatedError,
)

MOCK = "This is a mock response to: "


def new_id() -> str:
    return f"a-{uuid.uuid4().hex[:12]}"


def test_every_call(address: str, user_token: str) -> None:
    async def main() -> None:
        async with AsyncClient(address, token=user_token, timeout=20) as c:
            sid = new_id()
            created = await c.create_session(sid, session_name="Async", agent_name="mock")
            assert (await c.get_session(sid)) == created
            updated = await c.update_session(sid, agent_instructions="short", session_name="")
            assert (updated.agent_instructions, updated.session_name) == ("short", None)
            assert not (await c.deactivate_session(sid)).is_active
            assert (await c.activate_session(sid)).is_active
            page = await c.list_sessions_page(agent_name="mock")
            assert [s.session_id for s in page.items] == [sid] and page.total_size == 1

            user = await c.create_message(sid, "user", "Hi", extra_data="[1, 2]")
            tool = await c.create_message(sid, "tool", "out", tool_call_id="c1", tool_name="f")
            assert (await c.get_message(sid, tool.id)) == tool
            edited = await c.update_message(sid, user.id, content="Hey", tool_call_id="c0")
            assert (edited.content, edited.tool_call_id, edited.extra_data) == (
                "Hey",
                "c0",
                "[1, 2]",
            )
            await c.delete_message(sid, tool.id)
            assert [m.id async for m in c.list_messages(sid)] == [user.id]
            assert (await c.list_messages_page(sid, order="desc")).items == (edited,)
            assert await c.clear_messages(sid) == 1

            result = await c.conversation("Hello", session_id=sid)
            assert (result.response, result.messages_count) == (MOCK + "Hello", 2)
            events = [e async for e in c.converse("Stream", session_id=sid)]
            assert isinstance(events[0], Started) and isinstance(events[-1], Completed)
            assert isinstance(events[-2], MessageStored)
            deltas = [e.text for e in events if isinstance(e, Delta)]
            assert "".join(deltas) == events[-1].result.response == MOCK + "Stream"
            turn = [ConversationMessage("user", "Text only")]
            pieces = [p async for p in c.converse_text(turn, session_id=sid)]
            assert "".join(pieces) == MOCK + "Text only"
            assert (await c.list_messages_page(sid)).total_size == 6

            await c.delete_session(sid)
            with pytest.raises(NotFoundError):
                await c.get_session(sid)

    asyncio.run(main())


def test_iterators_follow_page_tokens(address: str, user_token: str) -> None:
    async def main() -> None:
        async with AsyncClient(address, token=user_token) as c:
            ids = [(await c.create_session(new_id())).session_id for _ in range(5)]
            listed = [s.session_id async for s in c.list_sessions(page_size=2)]
            assert listed == ids[::-1]
            sid = ids[0]
            for i in range(7):
                await c.create_message(sid, "assistant", f"m{i}")
            asc = [m.content async for m in c.list_messages(sid, page_size=3)]
            desc = [m.content async for m in c.list_messages(sid, page_size=3, order="desc")]
            assert asc == [f"m{i}" for i in range(7)] and desc == asc[::-1]

            # A loop left early: the generator closes without fetching the next page.
            messages = c.list_messages(sid, page_size=3)
            async with contextlib.aclosing(messages):
                async for message in messages:
                    assert message.content == "m0"
                    break

    asyncio.run(main())


def test_typed_errors_and_token_providers(address: str, user_token: str) -> None:
    calls: list[str] = []

    def sync_provider() -> str:
        calls.append("sync")
        return user_token

    async def async_provider() -> str:
        await asyncio.sleep(0)
        calls.append("async")
        return user_token

    async def main() -> None:
        async with AsyncClient(address, token=sync_provider) as c:
            sid = (await c.create_session(new_id())).session_id
            with pytest.raises(AlreadyExistsError) as exists:
                await c.create_session(sid)
            assert exists.value.reason == "SESSION_ALREADY_EXISTS"
        async with AsyncClient(address, token=async_provider) as c:
            with pytest.raises(NotFoundError) as missing:
                await c.list_messages_page("no-such-session")
            assert missing.value.reason == "SESSION_NOT_FOUND"
            with pytest.raises(InvalidArgumentError) as invalid:
                await c.conversation([])
            assert [v.field for v in invalid.value.field_violations] == ["messages"]
            await c.deactivate_session(sid)
            with pytest.raises(FailedPreconditionError) as inactive:
                async for _ in c.converse("Hi", session_id=sid):
                    pass
            assert inactive.value.reason == "SESSION_INACTIVE"
        async with AsyncClient(address) as anonymous:
            with pytest.raises(UnauthenticatedError) as unauthenticated:
                await anonymous.get_session(sid)
            assert unauthenticated.value.reason == "TOKEN_MISSING"

    asyncio.run(main())
    assert calls == ["sync", "sync"] + ["async"] * 4
