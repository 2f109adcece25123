"""Secrets out of text that leaves the process: URLs without credentials, secrets replaced, quotes cut.

Every agent module that shows foreign text (an upstream error, a tool server's failure, a URL from
the settings) in a log line, an error message or a tool output passes it through here, so the
rules (what is hidden, how long a quote may be) are stated once.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

REDACTED = "[redacted]"
# Text from elsewhere (an upstream error, a URL) quoted in our messages and logs is cut to this
# many characters: enough to tell what went wrong, too little to flood a log line.
QUOTE_LIMIT = 300
# A tool's own failure quoted back to the model as the tool's output gets more: the model reads it
# to correct its call (a missing argument, an invalid value), and nobody's log holds it.
TOOL_ERROR_LIMIT = 500
# Shorter secrets are not replaced: they would blank out ordinary words of the text.
MIN_SECRET_LENGTH = 4


def display_url(url: str) -> str:
    """The URL fit for logs and messages: no user:password@, no query (it may hold a token), no
    fragment, at most QUOTE_LIMIT characters."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "an unparsable URL"
    if not parts.scheme or not host:
        return "an unparsable URL"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    return f"{parts.scheme}://{netloc}{parts.path}"[:QUOTE_LIMIT]


def redact(text: str, secrets: Iterable[str] = (), urls: Iterable[str] = ()) -> str:
    """`text` with every secret replaced by REDACTED and every URL by its `display_url`."""
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LENGTH:
            text = text.replace(secret, REDACTED)
    for url in urls:
        if url and url in text:
            text = text.replace(url, display_url(url))
    return text


def quote(
    text: str, secrets: Iterable[str] = (), urls: Iterable[str] = (), *, limit: int = QUOTE_LIMIT
) -> str:
    """Foreign text fit to show: secrets and URLs redacted, on one line, at most `limit`
    characters (cut ones end in "…"). Empty stays empty: the caller says what that means."""
    text = " ".join(redact(text, secrets, urls).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = [
    "QUOTE_LIMIT",
    "REDACTED",
    "TOOL_ERROR_LIMIT",
    "display_url",
    "quote",
    "redact",
]
