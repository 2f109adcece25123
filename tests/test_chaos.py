"""PostgreSQL crashes under load while clients that retry keep writing: every message the
writers meant to store is stored exactly once, none lost, none twice, and the id of each final
answer is the stored row's (the exactly-once promise, end to end: the Python client's request
ids kept across its retries, the server's records of them, the dead connections it throws away).
`make bench` has the longer figure (8 writers, 30 s, a 5 s outage)."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
from agent_sessions.settings import Settings
from agent_sessions_client import Client, RetryPolicy

from tests.support import SECRET, ThreadServer, token
from tests.test_db_outage import Postgres, postgres  # noqa: F401 - the fixture

WRITERS = 8
SECONDS = 6.0
OUTAGE_SECONDS = 2.0
# Retries outlast the outage: a write waits for PostgreSQL rather than fail.
PATIENT = RetryPolicy(max_attempts=60, initial_backoff=0.05, max_backoff=0.5)


def test_every_write_is_stored_exactly_once_through_a_crash(postgres: Postgres) -> None:  # noqa: F811
    settings = Settings(
        database_url=postgres.url, jwt_secret=SECRET, grpc_port=0, db_pool_size=8, workers=1
    )
    answered: dict[str, str] = {}  # content -> the id of its final answer
    failed: list[tuple[str, BaseException]] = []
    stop = threading.Event()
    with ThreadServer(settings) as server:
        address = f"127.0.0.1:{server.port}"
        with Client(address, token=token("chaos"), retry=PATIENT, timeout=60) as setup:
            setup.create_session("chaos")

        def write(writer: int) -> None:
            with Client(address, token=token("chaos"), retry=PATIENT, timeout=60) as client:
                n = 0
                while not stop.is_set():
                    content = f"w{writer}-{n}"
                    try:
                        answered[content] = client.create_message("chaos", "user", content).id
                    except Exception as exc:  # noqa: BLE001 - counted, and fails the test
                        failed.append((content, exc))
                    n += 1

        threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
        for thread in threads:
            thread.start()
        try:
            time.sleep((SECONDS - OUTAGE_SECONDS) / 2)
            postgres.crash()
            time.sleep(OUTAGE_SECONDS)
            postgres.start()
            time.sleep((SECONDS - OUTAGE_SECONDS) / 2)
        finally:
            stop.set()
            for thread in threads:
                thread.join(120)
        assert not [t for t in threads if t.is_alive()], "a writer never finished"

    assert not failed, f"{len(failed)} writes failed for good, the first: {failed[0]}"
    with psycopg.connect(postgres.url) as db:
        rows: list[Any] = db.execute(
            "SELECT m.content, m.id::text FROM session_messages m "
            "JOIN agent_sessions s ON s.id = m.session_uuid WHERE s.session_id = 'chaos'"
        ).fetchall()
    stored: dict[str, list[str]] = {}
    for content, id_ in rows:
        stored.setdefault(content, []).append(id_)
    twice = {c: ids for c, ids in stored.items() if len(ids) > 1}
    assert not twice, f"stored twice: {list(twice)[:5]}"
    assert set(stored) == set(answered), (
        f"lost: {sorted(set(answered) - set(stored))[:5]}, "
        f"unasked: {sorted(set(stored) - set(answered))[:5]}"
    )
    assert {c: ids[0] for c, ids in stored.items()} == answered
    assert len(answered) > 100, f"only {len(answered)} writes: the load was too light to tell"
