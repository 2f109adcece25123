"""The SDK's trace export: off unless the operator turns it on (the SDK's default is on)."""

from __future__ import annotations

from urllib.parse import urlsplit

from agents import set_tracing_disabled, set_tracing_export_api_key

from agent_sessions.settings import OPENAI_BASE_URL, Settings


def is_openai(url: str) -> bool:
    """Whether `url` is OpenAI's own API (its defaults: trace export, stored completions)."""
    return urlsplit(url).hostname == urlsplit(OPENAI_BASE_URL).hostname


def configure_tracing(settings: Settings) -> None:
    """Turns the SDK's trace export off (the default here), or on as the operator asked.

    The switch is the SDK's global one: every run in the process follows it. The exporter sends
    to OpenAI with OPENAI_API_KEY; when the model itself is OpenAI's, its key serves as well.
    A key for another endpoint is never handed to OpenAI.
    """
    set_tracing_disabled(not settings.tracing)
    if settings.tracing and settings.model_api_key and is_openai(settings.model_endpoint):
        set_tracing_export_api_key(settings.model_api_key)


__all__ = ["configure_tracing", "is_openai"]
