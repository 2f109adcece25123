"""Lets the agent call functions of this program (caller tools): `run_tools()` declares them,
runs the calls the agent makes, sends back the results, and repeats until the agent answers.

    AGENT_SESSIONS_TOKEN=$(.venv/bin/agent-sessions token --sub alice) \
        python caller_tools.py "What is the weather in Paris?"

Reads AGENT_SESSIONS_TOKEN and AGENT_SESSIONS_ADDRESS (default 127.0.0.1:50051). The service's
agent must be able to call tools: a real model (AGENT_SESSIONS_AGENT=openai) with tool calling;
the mock agent never calls any.
"""

from __future__ import annotations

import os
import sys
from typing import Literal

from agent_sessions_client import Client


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """The current weather in a city.

    Args:
        city: The city's name, such as "Paris".
        unit: The temperature's unit.
    """
    degrees = 21 if unit == "celsius" else 70
    return f"sunny, {degrees}° {unit} in {city}"


def main() -> None:
    address = os.environ.get("AGENT_SESSIONS_ADDRESS", "127.0.0.1:50051")
    prompt = " ".join(sys.argv[1:]) or "What is the weather in Paris?"
    with Client(address, token=os.environ["AGENT_SESSIONS_TOKEN"], timeout=120) as client:
        # The tool's description and JSON Schema come from the docstring and the signature.
        result = client.run_tools(
            prompt,
            tools={"get_weather": get_weather},
            session_name="Caller tools example",
            agent_instructions="Use the tools to answer.",
        )
        print(f"agent: {result.response}")
        usage = result.usage
        print(f"[{usage.total_tokens} tokens in all turns; {result.messages_count} messages]")

        for message in client.list_messages(result.session_id):
            tool = f" {message.tool_name}#{message.tool_call_id}" if message.tool_call_id else ""
            print(f"  {message.role:>9}{tool}: {message.content}")


if __name__ == "__main__":
    main()
