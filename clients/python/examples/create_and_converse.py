"""Creates a session, runs a conversation turn in it, and prints the stored messages.

    AGENT_SESSIONS_TOKEN=$(.venv/bin/agent-sessions token --sub alice) \
        python create_and_converse.py "Hello there"

Reads AGENT_SESSIONS_TOKEN and AGENT_SESSIONS_ADDRESS (default 127.0.0.1:50051).
"""

from __future__ import annotations

import os
import sys

from agent_sessions_client import Client, ConversationMessage, NotFoundError


def main() -> None:
    address = os.environ.get("AGENT_SESSIONS_ADDRESS", "127.0.0.1:50051")
    prompt = " ".join(sys.argv[1:]) or "Hello!"
    with Client(address, token=os.environ["AGENT_SESSIONS_TOKEN"]) as client:
        session = client.create_session(session_name="Example", agent_name="mock")
        print(f"created session {session.session_id}")

        result = client.conversation(
            [ConversationMessage("system", "Be brief."), ConversationMessage("user", prompt)],
            session_id=session.session_id,
        )
        print(f"agent: {result.response}")

        for message in client.list_messages(session.session_id):
            print(f"  {message.created_at:%H:%M:%S} {message.role:>9}: {message.content}")

        client.delete_session(session.session_id)
        try:
            client.get_session(session.session_id)
        except NotFoundError as exc:
            print(f"deleted ({exc.reason})")


if __name__ == "__main__":
    main()
