"""Opaque keyset page tokens: a signed position, bound to the list call that issued it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from agent_sessions.errors import InvalidArgument


class PageTokens:
    """Issues and checks page tokens; a token from another user, list or filter is refused."""

    def __init__(self, key: bytes) -> None:
        self._key = hashlib.sha256(b"agent-sessions page token\x00" + key).digest()

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:16]

    def issue(self, scope: str, position: list[Any]) -> str:
        """Returns a token for the page after `position` in the list identified by `scope`."""
        body = json.dumps([scope, position], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(body + self._mac(body)).decode().rstrip("=")

    def read(self, scope: str, token: str) -> list[Any] | None:
        """Returns the position a token holds, None for no token; refuses anything not ours."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            body, mac = raw[:-16], raw[-16:]
            if len(raw) > 16 and hmac.compare_digest(mac, self._mac(body)):
                token_scope, position = json.loads(body)
                if token_scope == scope and isinstance(position, list):
                    return position
        except (ValueError, TypeError):
            pass
        raise InvalidArgument(
            "page_token",
            "is not a token this list issued; pass the next_page_token of the previous page with "
            "the same filters, or omit it to start from the first page",
        )
