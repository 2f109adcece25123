"""Pages: opaque keyset page tokens (signed, bound to the list that issued them) and the text
budget that bounds one page's size."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from agent_sessions.errors import InvalidArgument

T = TypeVar("T")

# The most text one page carries. Beyond it a page holds fewer rows than page_size (and a
# next_page_token): gRPC clients refuse answers over 4 MiB by default, and Envoy must buffer a
# whole answer to transcode it. Only pages of very large messages ever reach it.
PAGE_TEXT_BUDGET = 3 * 1024 * 1024


def _not_ours() -> InvalidArgument:
    return InvalidArgument(
        "page_token",
        "is not a token this list issued; pass the next_page_token of the previous page with "
        "the same filters, or omit it to start from the first page",
    )


def scope(*parts: object) -> str:
    """A page token's scope: which list, for whom, with which filters (hashed, fixed size)."""
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:24]


class PageTokens:
    """Issues and checks page tokens; a token from another user, list or filter is refused.

    The key is a secret of its own (AGENT_SESSIONS_PAGE_TOKEN_SECRET), never a public key.
    """

    def __init__(self, key: bytes) -> None:
        self._key = hashlib.sha256(b"agent-sessions page token\x00" + key).digest()

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:16]

    def issue(self, scope: str, position: list[Any]) -> str:
        """Returns a token for the page after `position` in the list identified by `scope`."""
        body = json.dumps([scope, position], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(body + self._mac(body)).decode().rstrip("=")

    def read(self, scope: str, token: str, parse: Callable[[list[Any]], T]) -> T | None:
        """The position a token holds, parsed by `parse`; None for no token. Anything not
        issued by this list, or holding a position of the wrong shape, is INVALID_ARGUMENT."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            body, mac = raw[:-16], raw[-16:]
            if len(raw) > 16 and hmac.compare_digest(mac, self._mac(body)):
                token_scope, position = json.loads(body)
                if token_scope == scope and isinstance(position, list):
                    return parse(position)
        except (ValueError, TypeError, OverflowError):
            pass
        raise _not_ours()


def session_position(position: list[Any]) -> tuple[datetime, uuid.UUID]:
    """A sessions list position: (created_at, id) of the last session shown."""
    created_at, id_ = position
    if not isinstance(created_at, str) or not isinstance(id_, str):
        raise ValueError("position")
    when = datetime.fromisoformat(created_at)
    if when.tzinfo is None:
        raise ValueError("position")
    return when, uuid.UUID(id_)


def message_position(position: list[Any]) -> int:
    """A messages list position: the seq of the last message shown."""
    (seq,) = position
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**63:
        raise ValueError("position")
    return seq


def _text_size(value: str | None) -> int:
    if not value:
        return 0
    # Short text: its worst-case UTF-8 size; long text: its exact size.
    return len(value) * 4 if len(value) < 256 else len(value.encode())


def fitting(items: Sequence[T], limit: int, texts: Callable[[T], Sequence[str | None]]) -> int:
    """How many of the first `limit` items fit in one page (always at least one)."""
    used = 0
    for count, item in enumerate(items[:limit]):
        for value in texts(item):
            used += _text_size(value)
        if used > PAGE_TEXT_BUDGET and count > 0:
            return count
    return min(len(items), limit)
