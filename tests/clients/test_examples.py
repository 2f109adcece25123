"""The client's examples run as a user runs them, against the live service, and against servers
whose agent calls tools or runs on a (fake) model API."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.model_server import FakeModelServer, Step

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
    assert "tool [call_1 get_weather]: It is sunny in Paris." in out
    # The call stored as the service stores its own agent's: its arguments as the content.
    assert 'assistant [call_1 get_weather]: {"city":"Paris"}\n' in out


def test_real_model_streams_and_prints_the_usage(
    openai_address: str, model_api: FakeModelServer, user_token: str
) -> None:
    """Against the service's OpenAI agent on the fake model API, as with a real endpoint."""
    model_api.script(Step.text(["Blue light ", "scatters more."], usage=(17, 4)))
    out = run_example(
        "real_model.py", openai_address, user_token, "--model", "tiny-7b", "Why", "blue?"
    )
    assert re.search(r"^\[session \S+\]$", out, re.MULTILINE), out
    assert (
        "Blue light scatters more.\n[model tiny-7b; usage: 17 in + 4 out = 21 tokens; 2 messages]"
        in out
    )
    request = model_api.requests[-1]
    assert request.model == "tiny-7b"
    assert request.messages[0] == {"role": "system", "content": "Answer briefly."}


@pytest.mark.parametrize("address", ["direct"], indirect=True)
def test_real_model_says_when_the_service_runs_the_mock(address: str, user_token: str) -> None:
    out = run_example("real_model.py", address, user_token, "Hi")
    assert "This is a mock response to: Hi\n[model default; usage: 0 in + 0 out = 0 tokens" in out
    assert "[no tokens: the service answers with its mock agent" in out


def test_real_model_shows_server_tool_events(tools_address: str, user_token: str) -> None:
    out = run_example("real_model.py", tools_address, user_token, "Time?")
    assert "Checking the clock. \n[calls clock {}]\n[clock answered: 12:00]\n" in out
    assert "[model default; usage: 12 in + 8 out = 20 tokens; 5 messages]" in out


def test_caller_tools(tools_address: str, user_token: str) -> None:
    out = run_example("caller_tools.py", tools_address, user_token, "Weather in Oslo?")
    assert "agent: Done: get_weather said sunny, 21° celsius in Oslo.\n" in out
    assert "[65 tokens in all turns; 5 messages]" in out
    assert re.search(r'assistant get_weather#\S+: \{"city": "Oslo"\}\n', out), out
    assert re.search(r"tool get_weather#\S+: sunny, 21° celsius in Oslo\n", out), out
