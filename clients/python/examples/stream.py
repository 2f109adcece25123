"""Streams an agent's reply with the asyncio client, printing it as it arrives.

    AGENT_SESSIONS_TOKEN=$(.venv/bin/agent-sessions token --sub alice) \
        python stream.py "Tell me a story"

Reads AGENT_SESSIONS_TOKEN and AGENT_SESSIONS_ADDRESS (default 127.0.0.1:50051).
"""

from __future__ import annotations

import asyncio
import os
import sys

from agent_sessions_client import AgentSessionsError, AsyncClient, Completed, Delta, Started


async def main() -> int:
    address = os.environ.get("AGENT_SESSIONS_ADDRESS", "127.0.0.1:50051")
    prompt = " ".join(sys.argv[1:]) or "Tell me a story"
    async with AsyncClient(address, token=os.environ["AGENT_SESSIONS_TOKEN"]) as client:
        try:
            async for event in client.converse(prompt, session_name="Streaming example"):
                if isinstance(event, Started):
                    print(f"[session {event.session_id}]")
                elif isinstance(event, Delta):
                    print(event.text, end="", flush=True)
                elif isinstance(event, Completed):
                    print(f"\n[stored; {event.result.messages_count} messages in the session]")
        except AgentSessionsError as exc:
            # Nothing of the turn was stored: it can be sent again.
            print(f"\nthe turn failed: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
