"""Runs an OpenAI Agents SDK agent whose conversation history is kept in Agent Sessions.

    pip install 'agent-sessions-client[agents]'
    AGENT_SESSIONS_TOKEN=$(.venv/bin/agent-sessions token --sub alice) python agents_sdk.py

Reads AGENT_SESSIONS_TOKEN and AGENT_SESSIONS_ADDRESS (default 127.0.0.1:50051). With
OPENAI_API_KEY set the agent uses OpenAI's default model; without it, the SDK's scripted test
model answers, so the example also runs offline. Run it twice with the same AGENT_SESSION_ID to
see the agent remember the earlier run.
"""

from __future__ import annotations

import asyncio
import os
import uuid

from agents import Agent, RunConfig, Runner, function_tool
from agents.models.interface import Model
from agents.testing import ScriptedModel, assistant_message, function_call

from agent_sessions_client import AsyncClient
from agent_sessions_client.agents_sdk import AgentSessionsSession


@function_tool
def get_weather(city: str) -> str:
    """Returns the weather in a city."""
    return f"It is sunny in {city}."


def offline_model() -> Model:
    """Calls the tool, then answers; then answers the second question."""
    return ScriptedModel(
        [
            [function_call("get_weather", {"city": "Paris"}, call_id="call_1")],
            [assistant_message("It is sunny in Paris.")],
            [assistant_message("You asked about the weather in Paris.")],
        ]
    )


async def main() -> None:
    address = os.environ.get("AGENT_SESSIONS_ADDRESS", "127.0.0.1:50051")
    session_id = os.environ.get("AGENT_SESSION_ID", f"agents-example-{uuid.uuid4().hex[:8]}")
    online = bool(os.environ.get("OPENAI_API_KEY"))
    model = None if online else offline_model()  # None: the SDK's default OpenAI model
    agent = Agent(name="Assistant", instructions="Be brief.", model=model, tools=[get_weather])
    run_config = RunConfig(tracing_disabled=not online)  # traces are exported to OpenAI

    async with AsyncClient(address, token=os.environ["AGENT_SESSIONS_TOKEN"]) as client:
        session = AgentSessionsSession(session_id, client, agent_name="Assistant")
        for question in ("What is the weather in Paris?", "What did I just ask you?"):
            result = await Runner.run(agent, question, session=session, run_config=run_config)
            print(f"user: {question}\nagent: {result.final_output}")

        print(f"\nsession {session_id} now holds:")
        async for message in client.list_messages(session_id):
            call = " ".join(filter(None, [message.tool_call_id, message.tool_name]))
            print(f"  {message.role:>9}{f' [{call}]' if call else ''}: {message.content}")


if __name__ == "__main__":
    asyncio.run(main())
