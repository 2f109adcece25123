"""The OpenAI Agents SDK session on the live service: the Session protocol's semantics (as the
SDK's SQLiteSession has them), exact round trips, and real `Runner` runs with fake models."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from agent_sessions_client import AsyncClient, InvalidArgumentError, Message, NotFoundError
from agent_sessions_client.agents_sdk import AgentSessionsSession
from agents import Agent, RunConfig, Runner, TResponseInputItem, function_tool
from agents.items import ModelResponse, TResponseOutputItem, TResponseStreamEvent
from agents.memory import Session, SessionSettings
from agents.models.interface import Model
from agents.testing import ScriptedModel, assistant_message
from agents.usage import Usage
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

NO_TRACING = RunConfig(tracing_disabled=True)

# A realistic history: what the Runner stores for a turn with a tool call, plus reasoning.
MIXED: list[Any] = [
    {"role": "developer", "content": "Answer in one line."},
    {"content": "What's the weather in Paris? ✓ \x00", "role": "user"},
    {
        "id": "rs_1",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Need the weather tool."}],
        "content": [{"type": "reasoning_text", "text": "Call get_weather."}],
        "encrypted_content": None,
        "status": None,
    },
    {
        "arguments": '{"city":"Paris"}',
        "call_id": "call_42",
        "name": "get_weather",
        "type": "function_call",
        "id": "fc_1",
        "status": "completed",
    },
    {"call_id": "call_42", "output": "sunny, 21°C", "type": "function_call_output"},
    {
        "id": "msg_1",
        "content": [
            {
                "annotations": [],
                "text": "It is sunny in Paris (21°C).",
                "type": "output_text",
                "logprobs": [],
            }
        ],
        "role": "assistant",
        "status": "completed",
        "type": "message",
    },
    {
        "type": "function_call_output",
        "call_id": "call_43",
        "output": [
            {"type": "input_text", "text": "part one"},
            {"type": "input_text", "text": "two"},
        ],
    },
    {"role": "user", "content": [{"type": "input_text", "text": "Thanks! 1.5e3 {} []"}]},
]


def run(address: str, user_token: str, body: Callable[[AsyncClient, str], Awaitable[None]]) -> None:
    """Runs `body(client, new session id)` in a fresh event loop, with a client made in it."""

    async def main() -> None:
        async with AsyncClient(address, token=user_token, timeout=20) as client:
            await body(client, f"agents-{uuid.uuid4().hex[:12]}")

    asyncio.run(main())


def items(*texts: str) -> list[TResponseInputItem]:
    return [
        {"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)
    ]


def test_protocol_order_limit_pop_clear(address: str, user_token: str) -> None:
    async def body(client: AsyncClient, sid: str) -> None:
        session = AgentSessionsSession(sid, client, session_name="SDK", agent_name="runner")
        assert isinstance(session, Session) and session.session_id == sid

        # Nothing stored yet: reads are empty and create nothing.
        assert await session.get_items() == [] and await session.pop_item() is None
        await session.clear_session()
        with pytest.raises(NotFoundError):
            await client.get_session(sid)

        await session.add_items([])
        history = items("m1", "r1", "m2", "r2", "m3", "r3")
        await session.add_items(history[:2])
        await session.add_items(history[2:])
        backing = await client.get_session(sid)
        assert (backing.session_name, backing.agent_name) == ("SDK", "runner")

        assert await session.get_items() == history
        assert await session.get_items(limit=2) == history[-2:]
        assert await session.get_items(limit=4) == history[-4:]
        assert await session.get_items(limit=10) == history
        assert await session.get_items(limit=0) == []
        assert await session.get_items(limit=-1) == history  # as SQLite's negative LIMIT

        limited = AgentSessionsSession(sid, client, session_settings=SessionSettings(limit=3))
        assert await limited.get_items() == history[-3:]
        assert await limited.get_items(limit=1) == history[-1:]

        assert await session.pop_item() == history[-1]
        assert await session.pop_item() == history[-2]
        assert await session.get_items() == history[:-2]

        await session.clear_session()
        assert await session.get_items() == [] and await session.pop_item() is None
        assert (await client.get_session(sid)).session_name == "SDK"  # the session stays

    run(address, user_token, body)


def test_pop_until_empty_and_sessions_are_separate(address: str, user_token: str) -> None:
    async def body(client: AsyncClient, sid: str) -> None:
        one = AgentSessionsSession(sid, client)
        two = AgentSessionsSession(sid + "-2", client)
        await one.add_items(items("only one"))
        await two.add_items(items("two a", "two b"))
        assert await two.pop_item() == items("two a", "two b")[1]
        assert await one.get_items() == items("only one")
        assert await one.pop_item() == items("only one")[0]
        assert await one.pop_item() is None
        assert await two.get_items() == items("two a")

    run(address, user_token, body)


def test_pop_keeps_a_message_appended_while_it_pops(address: str, user_token: str) -> None:
    """pop_item rewinds on the session's seq: another writer's append between its read and its
    rewind makes it read again, so it pops that new latest item and removes nothing else."""

    async def body(client: AsyncClient, sid: str) -> None:
        session = AgentSessionsSession(sid, client)
        await session.add_items(items("a", "b"))
        read_page = client.list_messages_page
        appended = False

        async def page_then_append(*args: Any, **kwargs: Any) -> Any:
            nonlocal appended
            page = await read_page(*args, **kwargs)
            if not appended:
                appended = True
                await session.add_items(items("c"))  # lands after the read, before the rewind
            return page

        client.list_messages_page = page_then_append  # type: ignore[method-assign]
        before = (await client.get_session(sid)).seq
        assert await session.pop_item() == items("c")[0]
        assert appended and await session.get_items() == items("a", "b")
        # One message appended, one removed by a rewind: two seqs, nothing else deleted.
        assert (await client.get_session(sid)).seq == before + 2

    run(address, user_token, body)


def test_items_round_trip_exactly(address: str, user_token: str) -> None:
    async def body(client: AsyncClient, sid: str) -> None:
        session = AgentSessionsSession(sid, client)
        await session.add_items(copy.deepcopy(MIXED))
        assert await session.get_items() == MIXED
        assert await session.get_items(limit=3) == MIXED[-3:]

        messages = [m async for m in client.list_messages(sid)]
        assert [json.loads(m.extra_data or "") for m in messages] == MIXED
        shown = [(m.role, m.content, m.tool_call_id, m.tool_name) for m in messages]
        assert shown == [
            ("system", "Answer in one line.", None, None),
            ("user", "What's the weather in Paris? ✓ ", None, None),
            ("assistant", "Call get_weather.", None, None),
            # A call and its result as the service stores its own agent's.
            ("assistant", '{"city":"Paris"}', "call_42", "get_weather"),
            ("tool", "sunny, 21°C", "call_42", "get_weather"),
            ("assistant", "It is sunny in Paris (21°C).", None, None),
            ("assistant", "part one\ntwo", None, None),  # its call is not in the session
            ("user", "Thanks! 1.5e3 {} []", None, None),
        ]

        popped = [await session.pop_item() for _ in MIXED]
        assert popped == MIXED[::-1] and await session.pop_item() is None

    run(address, user_token, body)


def test_history_written_by_other_clients(address: str, user_token: str) -> None:
    async def body(client: AsyncClient, sid: str) -> None:
        await client.conversation("Hello", session_id=sid)
        await client.create_message(
            sid, "assistant", '{"q": 6}', tool_call_id="c1", tool_name="answer"
        )
        await client.create_message(sid, "tool", "42", tool_call_id="c1", extra_data='{"n": 1}')
        await client.create_message(sid, "tool", "no call id")
        session = AgentSessionsSession(sid, client)
        assert await session.get_items() == [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "This is a mock response to: Hello"},
            {"type": "function_call", "call_id": "c1", "name": "answer", "arguments": '{"q": 6}'},
            {"type": "function_call_output", "call_id": "c1", "output": "42"},
        ]
        assert await session.get_items(limit=1) == [
            {"type": "function_call_output", "call_id": "c1", "output": "42"}
        ]
        # The tool message without a call id has no item form: popping drops it on the way.
        assert await session.pop_item() == {
            "type": "function_call_output",
            "call_id": "c1",
            "output": "42",
        }
        assert (await client.list_messages_page(sid)).total_size == 3

    run(address, user_token, body)


def test_a_failed_batch_stores_nothing(address: str, user_token: str) -> None:
    async def body(client: AsyncClient, sid: str) -> None:
        session = AgentSessionsSession(sid, client)
        await session.add_items(items("kept"))
        too_large: Any = {"role": "user", "content": "x" * 70_000}  # over the 64 KiB extra_data
        with pytest.raises(InvalidArgumentError) as refused:
            await session.add_items([*items("a", "b"), too_large, *items("c")])
        assert refused.value.field_violations[0].field == "messages[2].extra_data"
        assert await session.get_items() == items("kept")
        # A first batch that fails creates no session either.
        fresh = AgentSessionsSession(f"{sid}-fresh", client)
        with pytest.raises(InvalidArgumentError):
            await fresh.add_items([*items("a"), too_large])
        with pytest.raises(NotFoundError):
            await client.get_session(fresh.session_id)

    run(address, user_token, body)


def test_a_cancelled_batch_settles_before_cancelling(address: str, user_token: str) -> None:
    sent = asyncio.Event()

    class Observed(AsyncClient):
        """Tells when the batch is on its way."""

        async def create_messages(self, *args: Any, **kwargs: Any) -> list[Message]:
            sent.set()
            return await super().create_messages(*args, **kwargs)

    async def main() -> None:
        async with Observed(address, token=user_token, timeout=20) as client:
            session = AgentSessionsSession(f"agents-{uuid.uuid4().hex[:12]}", client)
            batch = items(*(f"m{i}" for i in range(10)))
            task = asyncio.create_task(session.add_items(batch))
            await sent.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # The caller was cancelled mid-batch, yet the batch is whole.
            assert await session.get_items() == batch

    asyncio.run(main())


class FakeModel(Model):
    """A `Model` that answers from a script, one list of output items per call, and keeps each
    call's input; it never touches the network."""

    def __init__(self, *turns: list[TResponseOutputItem]) -> None:
        self.turns = list(turns)
        self.inputs: list[list[TResponseInputItem]] = []

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        *args: Any,
        **kwargs: Any,
    ) -> ModelResponse:
        assert isinstance(input, list)
        self.inputs.append(copy.deepcopy(input))
        return ModelResponse(output=self.turns.pop(0), usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        raise NotImplementedError("these tests run the agent with Runner.run")


def text(message: str, item_id: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id=item_id,
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(text=message, type="output_text", annotations=[])],
    )


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def test_runner_keeps_history_in_the_service(address: str, user_token: str) -> None:
    model = FakeModel(
        [
            ResponseFunctionToolCall(
                id="fc_1",
                call_id="call_1",
                type="function_call",
                name="get_weather",
                arguments='{"city": "Paris"}',
            )
        ],
        [text("It is sunny in Paris.", "msg_1")],
        [text("You asked about Paris.", "msg_2")],
    )
    agent = Agent(name="weather", model=model, tools=[get_weather])

    async def body(client: AsyncClient, sid: str) -> None:
        session = AgentSessionsSession(sid, client, agent_name="weather")
        first = await Runner.run(agent, "Weather in Paris?", session=session, run_config=NO_TRACING)
        assert first.final_output == "It is sunny in Paris."
        after_first = await session.get_items()

        # A new session object (as in another process): the history comes from the service.
        again = AgentSessionsSession(sid, client)
        second = await Runner.run(agent, "What did I ask?", session=again, run_config=NO_TRACING)
        assert second.final_output == "You asked about Paris."
        assert model.inputs[2] == [*after_first, {"content": "What did I ask?", "role": "user"}]

        stored = [m async for m in client.list_messages(sid)]
        roles = ["user", "assistant", "tool", "assistant", "user", "assistant"]
        assert [m.role for m in stored] == roles
        assert (stored[1].tool_call_id, stored[1].tool_name) == ("call_1", "get_weather")
        assert stored[1].content == '{"city": "Paris"}'  # the arguments, as the service stores them
        assert (stored[2].tool_call_id, stored[2].tool_name) == ("call_1", "get_weather")
        assert stored[2].content == "sunny in Paris"
        assert [m.content for m in stored if m.role == "assistant" and not m.tool_call_id] == [
            "It is sunny in Paris.",
            "You asked about Paris.",
        ]
        assert (await client.get_session(sid)).agent_name == "weather"
        history = await again.get_items()
        assert history[:-1] == [*after_first, {"content": "What did I ask?", "role": "user"}]
        assert history[-1]["id"] == "msg_2"  # type: ignore[typeddict-item]

    run(address, user_token, body)


def test_streamed_runs_with_the_sdks_scripted_model(address: str, user_token: str) -> None:
    """The SDK ships no generic session tests; its ScriptedModel drives a streamed run here."""
    model = ScriptedModel([[assistant_message("First.")], [assistant_message("Second.")]])
    agent = Agent(name="scripted", model=model)

    async def body(client: AsyncClient, sid: str) -> None:
        session = AgentSessionsSession(sid, client)
        for prompt in ("one", "two"):
            result = Runner.run_streamed(agent, prompt, session=session, run_config=NO_TRACING)
            async for _ in result.stream_events():
                pass
        model.assert_complete()
        history = await session.get_items()
        assert [item.get("role") for item in history] == ["user", "assistant", "user", "assistant"]
        assert history[0] == {"content": "one", "role": "user"}
        last_call = model.last_call
        assert last_call is not None and last_call.input == history[:3]

    run(address, user_token, body)
