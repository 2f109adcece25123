"""Timestamps print as RFC 3339 UTC with exactly six fractional digits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from agent_sessions.api.convert import timestamp
from google.protobuf import json_format


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (datetime(2026, 11, 24, 20, 23, 12, 615094, tzinfo=UTC), "2026-11-24T20:23:12.615094Z"),
        # Protobuf would print `…:12Z` and `…:12.120Z`; these are shown 1 µs later instead.
        (datetime(2026, 11, 24, 20, 23, 12, 0, tzinfo=UTC), "2026-11-24T20:23:12.000001Z"),
        (
            datetime(2026, 11, 24, 22, 23, 12, 120000, tzinfo=timezone(timedelta(hours=2))),
            "2026-11-24T20:23:12.120001Z",
        ),
        (datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "1969-12-31T23:59:59.999999Z"),
    ],
)
def test_timestamps_print_six_digits_in_utc(value: datetime, printed: str) -> None:
    text = json_format.MessageToJson(timestamp(value)).strip('"')
    assert text == printed
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", text)
    assert abs(timestamp(value).ToDatetime(tzinfo=UTC) - value) <= timedelta(microseconds=1)
