"""Retries of calls that are safe to repeat, with exponential backoff and jitter."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import grpc
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.descriptor_pb2 import MethodOptions

from agent_sessions_client.errors import AgentSessionsError

__all__ = ["NO_RETRY", "RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """How a call that is safe to repeat is retried when the service answers UNAVAILABLE (the
    transport's failures, a lost connection or a refused one, are UNAVAILABLE too).

    The calls whose proto declares them free of side effects or idempotent are retried: reads
    and every write, turns included. A write is safe to repeat because the client sends one
    `request_id` per logical call and keeps it across its retries: when the first attempt was
    stored but its answer lost, the service answers the retry with the first response and
    stores nothing again. A stream (`converse()`, `resume_turn()`, `watch_session()`) that
    breaks continues from the last event it yielded; each break gets the attempts and backoff
    below, counted afresh once an attempt has brought new events.

    Before retry *n* the client waits a random time between 0 and
    `min(initial_backoff * multiplier ** (n - 1), max_backoff)` seconds ("full jitter", as in
    gRPC's own retry design). It stops after `max_attempts` attempts in all, or when the wait
    would run past the call's deadline: the timeout bounds all attempts together.
    """

    max_attempts: int = 4
    initial_backoff: float = 0.1
    max_backoff: float = 2.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.multiplier < 1:
            raise ValueError("backoffs must not be negative and multiplier must be at least 1")

    def backoff(self, retry: int) -> float:
        """A random wait in seconds before retry number `retry` (1 for the first retry)."""
        ceiling = min(self.initial_backoff * self.multiplier ** (retry - 1), self.max_backoff)
        return random.uniform(0, ceiling)


NO_RETRY = RetryPolicy(max_attempts=1)
"""A policy that never retries."""


class Deadline:
    """The end of a call's time budget, shared by all its attempts; None means no deadline."""

    def __init__(self, timeout: float | None) -> None:
        self._end = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        """Seconds left (0 when past), or None without a deadline."""
        return None if self._end is None else max(0.0, self._end - time.monotonic())


def safe_to_retry(method: MethodDescriptor) -> bool:
    """Whether the proto declares `method` free of side effects or idempotent, so that a
    repeat after a lost answer changes nothing the first attempt did not."""
    return method.GetOptions().idempotency_level != MethodOptions.IDEMPOTENCY_UNKNOWN


def retry_delay(
    policy: RetryPolicy,
    error: AgentSessionsError,
    *,
    attempt: int,
    idempotent: bool,
    deadline: Deadline,
) -> float | None:
    """Seconds to wait before attempt `attempt + 1`, or None when `error` is final."""
    if not idempotent or error.code != grpc.StatusCode.UNAVAILABLE:
        return None
    if attempt >= policy.max_attempts:
        return None
    delay = policy.backoff(attempt)
    remaining = deadline.remaining()
    if remaining is not None and delay >= remaining:
        return None
    return delay
