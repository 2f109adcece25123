"""Whether the database answers, asked of the pool every second; the pool's gauges with it.

The worker's health reports NOT_SERVING while the probe fails (api/server.py), so a load
balancer or orchestrator stops sending calls that could only fail UNAVAILABLE. A pool whose
connections are all lent out is busy, not down: a probe that gets no connection in time says
"down" only when the pool's connection attempts failed since the last probe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg
from psycopg_pool import PoolTimeout

from agent_sessions.db.uow import Pool
from agent_sessions.metrics import DB_POOL_IN_USE, DB_POOL_SIZE, DB_POOL_WAITING, DB_UP

log = logging.getLogger(__name__)

PROBE_EVERY_SECONDS = 1.0
PROBE_TIMEOUT_SECONDS = 1.0


def measure_pool(pool: Pool) -> dict[str, int]:
    """Sets the pool gauges from psycopg_pool's `get_stats()`; returns the stats."""
    stats = pool.get_stats()
    size = stats.get("pool_size", 0)
    DB_POOL_SIZE.set(size)
    DB_POOL_IN_USE.set(max(0, size - stats.get("pool_available", 0)))
    DB_POOL_WAITING.set(stats.get("requests_waiting", 0))
    return stats


class Probe:
    """One `SELECT 1` on a pooled connection per call: True (answered), False (down), or None
    (busy: no connection free in time, and no connection attempt failed meanwhile)."""

    def __init__(self, pool: Pool, timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
        self._pool = pool
        self._timeout = timeout
        self._errors = pool.get_stats().get("connections_errors", 0)

    async def __call__(self) -> bool | None:
        try:
            async with self._pool.connection(timeout=self._timeout) as conn:
                async with asyncio.timeout(self._timeout):
                    await conn.execute("SELECT 1")
            return True
        except PoolTimeout:
            errors = self._pool.get_stats().get("connections_errors", 0)
            failed, self._errors = errors > self._errors, errors
            return False if failed else None
        except (psycopg.Error, TimeoutError):
            return False


async def keep_probing(
    pool: Pool,
    on_change: Callable[[bool], Awaitable[None]],
    every: float = PROBE_EVERY_SECONDS,
) -> None:
    """Probes every `every` seconds for as long as the worker runs; awaits `on_change(up)`
    whenever the answer changes (a busy pool changes nothing)."""
    probe = Probe(pool)
    up = True
    DB_UP.set(1)
    while True:
        measure_pool(pool)
        now = await probe()
        if now is not None and now != up:
            up = now
            DB_UP.set(1 if up else 0)
            if up:
                log.info("the database answers again")
            else:
                log.warning("the database does not answer")
            await on_change(up)
        await asyncio.sleep(every)
