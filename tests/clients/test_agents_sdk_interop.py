"""One session, two agents: `AgentSessionsSession` stores tool calls and results the way the
service stores its own agent's, so an OpenAI Agents SDK agent running in a client
and the service's agent can continue each other's sessions. Both ways, against real servers."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from agent_sessions_client import AsyncClient
from agent_sessions_client.agents_sdk import AgentSessionsSession
from agents import Agent, OpenAIChatCompletionsModel, RunConfig, Runner, function_tool
from agents.testing import ScriptedModel, assistant_message, function_call
from openai import AsyncOpenAI

from tests.fakes.model_server import FakeModelServer, Step
from tests.support import token

NO_TRACING = RunConfig(tracing_disabled=True)


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def new_id() -> str:
    return f"interop-{uuid.uuid4().hex[:12]}"


def test_the_services_agent_continues_a_session_an_sdk_agent_wrote_in_the_client(
    openai_address: str, model_api: FakeModelServer
) -> None:
    """(a) client → server: a Runner in the client calls a local tool; the service's OpenAI
    agent then continues the session, and the model gets the call and its result, paired."""
    sid = new_id()
    model = ScriptedModel(
        [
            [function_call("get_weather", {"city": "Paris"}, call_id="call_paris")],
            [assistant_message("It is sunny in Paris.")],
        ]
    )
    agent = Agent(name="weather", model=model, tools=[get_weather])

    async def main() -> None:
        async with AsyncClient(openai_address, token=token("interop-a"), timeout=20) as client:
            session = AgentSessionsSession(
                sid, client, agent_name="weather", agent_instructions="Be brief."
            )
            first = await Runner.run(
                agent, "Weather in Paris?", session=session, run_config=NO_TRACING
            )
            assert first.final_output == "It is sunny in Paris."

            model_api.script(Step.text(["You asked ", "about Paris."], usage=(40, 5)))
            result = await client.conversation("What did I ask?", session_id=sid)
            assert result.response == "You asked about Paris."
            assert result.usage.total_tokens == 45

    asyncio.run(main())
    model.assert_complete()
    sent = model_api.requests[-1].messages
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert sent[0]["content"] == "Be brief." and sent[1]["content"] == "Weather in Paris?"
    (call,) = sent[2]["tool_calls"]
    assert call["id"] == "call_paris" and call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert (sent[3]["tool_call_id"], sent[3]["content"]) == ("call_paris", "sunny in Paris")
    assert sent[4]["content"] == "It is sunny in Paris."
    assert sent[5]["content"] == "What did I ask?"


def test_an_sdk_agent_in_the_client_continues_a_session_the_services_agent_wrote(
    tools_address: str, model_api: FakeModelServer
) -> None:
    """(b) server → client: the service's agent calls a server tool; the client's session reads
    the call and its result as SDK items, which the SDK hands a model as a paired call."""
    sid = new_id()

    async def main() -> None:
        async with AsyncClient(tools_address, token=token("interop-b"), timeout=20) as client:
            await client.conversation("What time is it?", session_id=sid)
            session = AgentSessionsSession(sid, client)
            items: list[Any] = await session.get_items()
            call_id = items[2]["call_id"]
            assert items == [
                {"role": "user", "content": "What time is it?"},
                {"role": "assistant", "content": "Checking the clock. "},
                {"type": "function_call", "call_id": call_id, "name": "clock", "arguments": "{}"},
                {"type": "function_call_output", "call_id": call_id, "output": "12:00"},
                {"role": "assistant", "content": "It is 12:00. You said: What time is it?"},
            ]

            # The SDK takes them as a turn's history: with its scripted model…
            scripted = ScriptedModel([[assistant_message("Noon, as I said.")]])
            agent = Agent(name="clock", model=scripted)
            result = await Runner.run(agent, "Sure?", session=session, run_config=NO_TRACING)
            assert result.final_output == "Noon, as I said."
            last_call = scripted.last_call
            assert last_call is not None
            assert last_call.input == [*items, {"role": "user", "content": "Sure?"}]

            # …and with a Chat Completions model, whose converter pairs the call and result.
            model_api.script(Step.text(["Yes."]))
            openai = AsyncOpenAI(base_url=model_api.base_url, api_key="sk-test", max_retries=0)
            chat = OpenAIChatCompletionsModel(model="m", openai_client=openai)
            agent = Agent(name="clock", model=chat)
            result = await Runner.run(agent, "Really?", session=session, run_config=NO_TRACING)
            assert result.final_output == "Yes."
            await openai.close()

            sent = model_api.requests[-1].messages
            roles = [m["role"] for m in sent]
            assert roles == [
                "user",
                "assistant",
                "assistant",
                "tool",
                "assistant",
                "user",
                "assistant",
                "user",
            ]
            assert sent[1]["content"] == "Checking the clock. "
            (call,) = sent[2]["tool_calls"]
            assert (call["id"], call["function"]["name"]) == (call_id, "clock")
            assert (sent[3]["tool_call_id"], sent[3]["content"]) == (call_id, "12:00")
            assert sent[-1]["content"] == "Really?"

            # What the client's agent added reads back on the server as the conversation it was.
            stored = [(m.role, m.tool_name) async for m in client.list_messages(sid)]
            assert stored[-4:] == [
                ("user", None),
                ("assistant", None),
                ("user", None),
                ("assistant", None),
            ]

    asyncio.run(main())
    assert model_api.remaining == 0


def test_a_result_stored_apart_from_its_call_is_named_after_the_calls_tool(
    tools_address: str,
) -> None:
    sid = new_id()
    call: Any = {"type": "function_call", "call_id": "c7", "name": "lookup", "arguments": "{}"}
    output: Any = {"type": "function_call_output", "call_id": "c7", "output": "found"}

    async def main() -> None:
        async with AsyncClient(tools_address, token=token("interop-c"), timeout=20) as client:
            await AgentSessionsSession(sid, client).add_items([call])
            # Another session object, as after an approval in another process.
            await AgentSessionsSession(sid, client).add_items([output])
            stored = [
                (m.role, m.tool_call_id, m.tool_name) async for m in client.list_messages(sid)
            ]
            assert stored == [("assistant", "c7", "lookup"), ("tool", "c7", "lookup")]

    asyncio.run(main())
