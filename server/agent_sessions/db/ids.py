"""Message ids: UUIDv7 (RFC 9562), time-ordered, so the primary key index grows at its end.

Random (v4) ids land anywhere in the index: each insert touches a different leaf page, which
costs PostgreSQL cache misses and page splits on the append hot path. v7 ids from one process
are increasing; 74 random bits keep them unguessable enough to never collide.
"""

from __future__ import annotations

import os
import time
import uuid

_VERSION_7 = 0x7 << 76
_VARIANT = 0b10 << 62
_RAND_A = (1 << 12) - 1
_RAND_B = (1 << 62) - 1


def uuid7() -> uuid.UUID:
    """A new UUIDv7: 48 bits of Unix milliseconds, then 74 random bits."""
    random = int.from_bytes(os.urandom(10), "big")
    value = (
        (time.time_ns() // 1_000_000) << 80
        | _VERSION_7
        | ((random >> 62) & _RAND_A) << 64
        | _VARIANT
        | (random & _RAND_B)
    )
    return uuid.UUID(int=value)
