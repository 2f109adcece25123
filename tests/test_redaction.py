"""The one set of rules for foreign text the agents show: secrets out, URLs bare, quotes cut."""

from __future__ import annotations

from agent_sessions.agents.redaction import (
    QUOTE_LIMIT,
    REDACTED,
    TOOL_ERROR_LIMIT,
    display_url,
    quote,
    redact,
)
from agent_sessions.agents.tools.config import McpServerConfig


def test_display_url_drops_credentials_query_and_fragment() -> None:
    assert display_url("https://u:p@models.example:8443/v1?key=s#x") == (
        "https://models.example:8443/v1"
    )
    assert display_url("https://api.openai.com/v1") == "https://api.openai.com/v1"
    assert display_url("nonsense") == "an unparsable URL"
    assert len(display_url("http://h/" + "a" * 1000)) == QUOTE_LIMIT


def test_redact_replaces_secrets_and_urls_but_not_short_words() -> None:
    text = "failed for sk-secret-1 at http://h/mcp?token=q (id ab)"
    assert redact(text, ["sk-secret-1", "ab"], ["http://h/mcp?token=q"]) == (
        f"failed for {REDACTED} at http://h/mcp (id ab)"
    )


def test_quote_is_one_line_and_cut_at_its_limit() -> None:
    assert quote("a\n  b\tc") == "a b c"
    assert quote("") == ""
    cut = quote("x" * 1000)
    assert len(cut) == QUOTE_LIMIT and cut.endswith("…")
    longer = quote("x" * 1000, limit=TOOL_ERROR_LIMIT)
    assert len(longer) == TOOL_ERROR_LIMIT and longer.endswith("…")


def test_a_server_config_names_its_header_values_and_bearer_token_as_secrets() -> None:
    config = McpServerConfig("files", "http://h/mcp", {"Authorization": "Bearer tok-1", "X": "v"})
    assert list(config.secrets()) == ["Bearer tok-1", "tok-1", "v"]
    assert "tok-1" not in repr(config)
