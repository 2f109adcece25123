"""The client's examples run as a user runs them, against the live service."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "clients" / "python" / "examples"


def run_example(name: str, address: str, user_token: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env.update(AGENT_SESSIONS_ADDRESS=address, AGENT_SESSIONS_TOKEN=user_token)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_create_and_converse(address: str, user_token: str) -> None:
    out = run_example("create_and_converse.py", address, user_token, "Hi", "there")
    assert "agent: This is a mock response to: Hi there" in out
    assert "system: Be brief." in out and "deleted (SESSION_NOT_FOUND)" in out


def test_stream(address: str, user_token: str) -> None:
    out = run_example("stream.py", address, user_token, "Stream", "this")
    assert "This is a mock response to: Stream this\n" in out
    assert "[stored; 2 messages in the session]" in out


@pytest.mark.parametrize("address", ["direct"], indirect=True)
def test_agents_sdk(address: str, user_token: str) -> None:
    out = run_example("agents_sdk.py", address, user_token)
    assert "agent: It is sunny in Paris.\n" in out
    assert "agent: You asked about the weather in Paris." in out
    assert "tool [call_1]: It is sunny in Paris." in out
    assert "assistant [call_1 get_weather]: \n" in out
