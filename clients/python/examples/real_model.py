"""Streams a turn from the service's agent and prints what it used: a real model when the service
is configured with one (AGENT_SESSIONS_AGENT=openai and an OpenAI-compatible API),
the mock otherwise.

    AGENT_SESSIONS_TOKEN=$(.venv/bin/agent-sessions token --sub alice) \
        python real_model.py [--model llama3.2] "Why is the sky blue?"

Reads AGENT_SESSIONS_TOKEN and AGENT_SESSIONS_ADDRESS (default 127.0.0.1:50051). `--model`
gives the new session a model of its own; without it the session uses the server's default.
"""

from __future__ import annotations

import argparse
import os
import sys

from agent_sessions_client import (
    AgentSessionsError,
    Client,
    Completed,
    Delta,
    Started,
    ToolAnswered,
    ToolCalled,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="the session's model (default: the server's)")
    parser.add_argument("prompt", nargs="*", default=["Say hello in five words."])
    args = parser.parse_args()
    address = os.environ.get("AGENT_SESSIONS_ADDRESS", "127.0.0.1:50051")

    with Client(address, token=os.environ["AGENT_SESSIONS_TOKEN"], timeout=120) as client:
        try:
            events = client.converse(
                " ".join(args.prompt),
                session_name="Real model example",
                agent_instructions="Answer briefly.",
                model=args.model,
            )
            for event in events:
                if isinstance(event, Started):
                    print(f"[session {event.session_id}]")
                elif isinstance(event, Delta):
                    print(event.text, end="", flush=True)
                elif isinstance(event, ToolCalled):
                    print(f"\n[calls {event.call.name} {event.call.arguments}]")
                elif isinstance(event, ToolAnswered):
                    print(f"[{event.result.name} answered: {event.result.output}]")
                elif isinstance(event, Completed):
                    # The session exists once its first turn is stored, not before.
                    session = client.get_session(event.result.session_id)
                    usage = event.result.usage
                    print(
                        f"\n[model {session.model or 'default'}; usage: {usage.input_tokens} in "
                        f"+ {usage.output_tokens} out = {usage.total_tokens} tokens; "
                        f"{event.result.messages_count} messages]"
                    )
                    if usage.total_tokens == 0:
                        print(
                            "[no tokens: the service answers with its mock agent; start it with "
                            "AGENT_SESSIONS_AGENT=openai for a real model]"
                        )
        except AgentSessionsError as exc:
            # MODEL_UNAVAILABLE, MODEL_RATE_LIMITED (retry_delay), MODEL_NOT_FOUND, …: nothing
            # of the turn was stored.
            wait = f" (retry in {exc.retry_delay:g} s)" if exc.retry_delay else ""
            print(f"\nthe turn failed: {exc}{wait}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
