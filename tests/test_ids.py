"""Message ids are UUIDv7: RFC 9562's layout, time-ordered across milliseconds, never repeated."""

from __future__ import annotations

import time

from agent_sessions.db.ids import uuid7


def test_uuid7_layout_order_and_uniqueness() -> None:
    before = time.time_ns() // 1_000_000
    first = uuid7()
    time.sleep(0.002)
    ids = [uuid7() for _ in range(10_000)]
    after = time.time_ns() // 1_000_000
    assert first.version == 7 and first.variant == "specified in RFC 4122"
    assert before <= first.int >> 80 <= after
    assert all(first < later for later in ids)  # a later millisecond sorts later
    assert len(set(ids)) == len(ids)
