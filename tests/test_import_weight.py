"""The services, the agent registry and the mock path load no agent SDK, MCP client or openai
(import-linter checks the import graph; this checks what a fresh interpreter actually loads)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("agents", "mcp", "mcp_types", "openai")


def loaded_after(*modules: str) -> list[str]:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return [m for m in done.stdout.strip().split(",") if m]


def test_services_and_the_mock_agent_load_no_sdk() -> None:
    assert (
        loaded_after(
            "agent_sessions.services",
            "agent_sessions.agents",
            "agent_sessions.agents.from_settings",
            "agent_sessions.agents.tools.allowlist",
        )
        == []
    )


def test_the_openai_agent_does() -> None:
    # The check above could pass by testing nothing; this one shows it can see the SDK load.
    assert set(loaded_after("agent_sessions.agents.openai.agent")) == set(HEAVY)
