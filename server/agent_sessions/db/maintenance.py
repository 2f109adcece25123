"""Work on the tables as a whole, not on one user's data: sweeping expired request ids."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select, tuple_

from agent_sessions.db.engine import sql
from agent_sessions.db.models import RequestId
from agent_sessions.db.uow import Pool

log = logging.getLogger(__name__)

R = cast(Table, RequestId.__table__)

# Request ids past their expiry, a small batch at a time, oldest first. SKIP LOCKED: sweeps of
# several workers (and replicas) at once take disjoint rows and never wait on one another, and
# a sweep never waits on a write recording an id.
_EXPIRED: Any = (
    select(R.c.user_id, R.c.request_id)
    .where(R.c.expires_at < func.now())
    .order_by(R.c.expires_at)
    .limit(bindparam("p_limit"))
    .with_for_update(skip_locked=True)
)
SWEEP_REQUEST_IDS = sql(
    delete(R).where(tuple_(R.c.user_id, R.c.request_id).in_(_EXPIRED.scalar_subquery()))
)
SWEEP_BATCH = 500
SWEEP_EVERY_SECONDS = 60.0


async def sweep_request_ids(pool: Pool, batch: int = SWEEP_BATCH) -> int:
    """Deletes every expired request id, one short statement per batch (each holds its rows'
    locks only while it runs); returns how many."""
    swept = 0
    while True:
        async with pool.connection() as conn:
            cursor = await conn.execute(SWEEP_REQUEST_IDS, {"p_limit": batch})
            done = cursor.rowcount
        swept += done
        if done < batch:
            return swept


async def keep_sweeping(pool: Pool, every: float = SWEEP_EVERY_SECONDS) -> None:
    """Sweeps now and then, for as long as the worker runs; a failure waits for the next round."""
    while True:
        try:
            swept = await sweep_request_ids(pool)
            if swept:
                log.info("swept %d expired request ids", swept)
        except Exception as exc:  # noqa: BLE001 - a database hiccup waits for the next round
            log.warning(
                "sweeping expired request ids failed (%s); will try again", exc.__class__.__name__
            )
        await asyncio.sleep(every)
