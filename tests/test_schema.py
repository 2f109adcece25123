"""The schema and the SQL on it: migrations match the models, indexes serve the lists, racing
inserts and failed statements leave connections and rows as they should."""

from __future__ import annotations

from typing import Any

import pytest
from agent_sessions.db.engine import libpq_url, sync_engine
from agent_sessions.db.models import Base
from agent_sessions.migrate import upgrade
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext


def test_migrations_match_the_models(database_url: str) -> None:
    engine = sync_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_migrating_again_changes_nothing(database_url: str, db: Any) -> None:
    before = db.execute("SELECT version_num FROM alembic_version").fetchall()
    upgrade(database_url)
    upgrade(database_url)
    assert db.execute("SELECT version_num FROM alembic_version").fetchall() == before


def test_list_pages_read_an_index_not_the_table(db: Any) -> None:
    """With 10,000 messages, list-latest-50 walks (session_uuid, seq) backwards: no sort, no scan."""
    user, session = "3f2b8a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "4f2b8a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
    db.execute("INSERT INTO users (id, subject) VALUES (%s, 'plan-test')", [user])
    db.execute(
        "INSERT INTO agent_sessions (id, user_id, session_id) VALUES (%s, %s, 'big')",
        [session, user],
    )
    try:
        db.execute(
            "INSERT INTO session_messages (id, session_uuid, seq, role, content) "
            "SELECT gen_random_uuid(), %s, g, 'user', 'm' FROM generate_series(1, 10000) g",
            [session],
        )
        db.execute("ANALYZE session_messages")
        # The sessions table is tiny here; forbid scans and sorts to prove the index serves the
        # order (a "Sort" would still appear in the plan if it could not).
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            db.execute(f"SET {setting} = off")
        for query, index in (
            (
                f"SELECT * FROM session_messages WHERE session_uuid = '{session}' "
                "ORDER BY seq DESC LIMIT 51",
                "uq_session_messages_session_uuid_seq",
            ),
            (
                f"SELECT * FROM session_messages WHERE session_uuid = '{session}' AND seq > 5000 "
                "ORDER BY seq LIMIT 51",
                "uq_session_messages_session_uuid_seq",
            ),
            (
                f"SELECT * FROM agent_sessions WHERE user_id = '{user}' "
                "ORDER BY created_at DESC, id DESC LIMIT 51",
                "ix_agent_sessions_user_id_created_at_id",
            ),
        ):
            plan = "\n".join(row[0] for row in db.execute("EXPLAIN " + query))
            assert (
                f"Index Scan Backward using {index}" in plan or f"Index Scan using {index}" in plan
            ), plan
            assert "Sort" not in plan, plan
        # A mock turn's context: the session and its trailing tool calls (none here), with the
        # newest other message found walking the index backwards, not by reading 10,000 rows.
        from agent_sessions.db import statements as q

        params = {"p_user_id": user, "p_session_id": "big", "p_limit": 32}
        analyzed = db.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + q.turn_context(history=False), params
        )
        plan_json = analyzed.fetchone()[0][0]
        assert (
            db.execute(q.turn_context(history=False), params).fetchall()[0][len(q.SESSION_COLUMNS)]
            is None
        )  # no message

        def rows_read(node: dict[str, Any]) -> int:
            own = int(node.get("Actual Rows", 0)) * int(node.get("Actual Loops", 1))
            return own + sum(rows_read(child) for child in node.get("Plans", []))

        assert rows_read(plan_json["Plan"]) < 20, plan_json
    finally:
        db.execute("DELETE FROM users WHERE id = %s", [user])


def test_a_page_of_large_messages_stops_reading_at_its_text_budget(db: Any) -> None:
    """300 messages of 100 kB, page_size 1000: the page's statement hands over the rows that
    fit the page's text budget and one more, not all 300 (30 MB) for the service to trim."""
    from agent_sessions.db import statements as q
    from agent_sessions.services.pagination import PAGE_TEXT_BUDGET

    user, session = "6f2b8a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "7f2b8a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
    db.execute("INSERT INTO users (id, subject) VALUES (%s, 'page-budget-test')", [user])
    db.execute(
        "INSERT INTO agent_sessions (id, user_id, session_id, message_count) "
        "VALUES (%s, %s, 'large', 300)",
        [session, user],
    )
    try:
        db.execute(
            "INSERT INTO session_messages (id, session_uuid, seq, role, content) "
            "SELECT gen_random_uuid(), %s, g, 'user', repeat(md5(g::text), 3125) "
            "FROM generate_series(1, 300) g",
            [session],
        )
        size = 100_000
        fit = PAGE_TEXT_BUDGET // size  # rows whose text fits the budget
        for descending, after in ((False, None), (True, None), (False, 100), (True, 200)):
            params = {
                "p_user_id": user,
                "p_session_id": "large",
                "p_limit": 1001,
                "p_after": after,
                "p_budget": PAGE_TEXT_BUDGET,
            }
            statement = q.list_messages(descending=descending, after=after is not None)
            rows = db.execute(statement, params).fetchall()
            seqs = [row[4] for row in rows]
            start = (after or (301 if descending else 0)) + (-1 if descending else 1)
            step = -1 if descending else 1
            assert seqs == list(range(start, start + step * (fit + 1), step)), (descending, seqs)
            assert all(row[1] == 300 for row in rows)
        # The first two rows come whatever their size, so a page of one huge message still
        # knows there is a next one.
        tiny = {**params, "p_after": None, "p_budget": 10}
        rows = db.execute(q.list_messages(descending=False, after=False), tiny).fetchall()
        assert [row[4] for row in rows] == [1, 2]
    finally:
        db.execute("DELETE FROM users WHERE id = %s", [user])


def test_label_filters_read_the_gin_index_not_every_session(db: Any) -> None:
    """With 10,000 sessions of one user, two label filters (1% match both) find their page
    through the GIN index on labels: the rows read stay near the matches, not the 10,000."""
    from agent_sessions.db import statements as q
    from psycopg.types.json import Jsonb

    user = "5f2b8a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
    db.execute("INSERT INTO users (id, subject) VALUES (%s, 'label-plan-test')", [user])
    try:
        db.execute(
            "INSERT INTO agent_sessions (id, user_id, session_id, labels, created_at) "
            "SELECT gen_random_uuid(), %s, 's' || g, jsonb_build_object("
            "'team', CASE WHEN g %% 10 = 0 THEN 'search' ELSE 'team' || g %% 7 END, "
            "'tier', CASE WHEN g %% 100 < 10 THEN 'gold' ELSE 'free' END, 'n', g::text), "
            "now() - g * interval '1 second' FROM generate_series(1, 10000) g",
            [user],
        )
        db.execute("ANALYZE agent_sessions")
        params = {
            "p_user_id": user,
            "p_labels": Jsonb({"team": "search", "tier": "gold"}),
            "p_limit": 51,
        }
        query = q.list_sessions(is_active=False, agent_name=False, after=False, labels=True)
        assert len(db.execute(query, params).fetchall()) == 51  # 100 of 10,000 match
        plan = db.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, params).fetchone()[0][0]

        def nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
            return [node, *(n for child in node.get("Plans", []) for n in nodes(child))]

        used = {n.get("Index Name") for n in nodes(plan["Plan"])}
        assert "ix_agent_sessions_labels" in used, plan
        heap_rows = sum(
            int(n.get("Actual Rows", 0)) * int(n.get("Actual Loops", 1))
            for n in nodes(plan["Plan"])
            if n["Node Type"] in ("Bitmap Heap Scan", "Seq Scan", "Index Scan")
        )
        assert heap_rows <= 200, plan
        count = q.count_sessions(is_active=False, agent_name=False, labels=True)
        assert db.execute(count, params).fetchone()[0] == 100
    finally:
        db.execute("DELETE FROM users WHERE id = %s", [user])


def test_prebuilt_statements_only_take_owner_scoped_parameters() -> None:
    """Every compiled statement binds only `p_…` parameters, and those touching sessions take
    the caller's id: a constant compiled into a parameter would fail at run time instead."""
    import re
    from itertools import product

    from agent_sessions.db import statements as q
    from agent_sessions.domain import SESSION_TEXT_FIELDS

    statements = {
        name: value
        for name, value in vars(q).items()
        if isinstance(value, str) and re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)", value)
    }
    # The statements built per shape: every keyword combination of each builder.
    for build, keywords in (
        (q.list_messages, ("descending", "after")),
        (q.turn_context, ("history",)),
        (
            q.append_messages,
            ("with_user", "create", "active_only", "unread", "expected_seq", "request"),
        ),
        (q.create_session, ("with_user", "request")),
        (q.create_message, ("expected_seq", "request")),
        (q.delete_message, ("etag", "request")),
        (q.delete_session, ("etag", "request")),
        (q.clear_messages, ("request",)),
        (q.list_sessions, ("is_active", "agent_name", "after", "labels")),
        (q.count_sessions, ("is_active", "agent_name", "labels")),
        (q.fork_session, ("up_to", "request")),
        (q.rewind_session, ("request",)),
    ):
        for shape in product((False, True), repeat=len(keywords)):
            chosen = dict(zip(keywords, shape, strict=True))
            statements[f"{build.__name__}{chosen}"] = build(**chosen)
    for shape in product((False, True), repeat=2):
        chosen = dict(zip(("etag", "request"), shape, strict=True))
        statements[f"update_session{chosen}"] = q.update_session(
            frozenset(SESSION_TEXT_FIELDS), **chosen
        )
        statements[f"update_message{chosen}"] = q.update_message(
            frozenset(q.MESSAGE_FIELDS), **chosen
        )
    assert len(statements) > 20
    for name, statement in statements.items():
        parameters = set(re.findall(r"%\((\w+)\)s", statement))
        assert all(p.startswith("p_") for p in parameters), (name, parameters)
        # Every statement on user data is scoped by its owner.
        assert "p_user_id" in parameters, name


def test_every_libpq_url_form_reaches_the_database(database_url: str) -> None:
    """Any libpq URL, Unix-socket ones too, percent-encoded host included."""
    from urllib.parse import parse_qs, quote, urlsplit

    import psycopg

    socket_dir = parse_qs(urlsplit(database_url).query)["host"][0]
    for url in (
        f"postgresql://postgres@/postgres?host={socket_dir}",
        f"postgres://postgres@/postgres?host={socket_dir}",
        f"postgresql://postgres@{quote(socket_dir, safe='')}/postgres",
        f"postgresql+psycopg://postgres@/postgres?host={socket_dir}",
    ):
        with psycopg.connect(libpq_url(url)) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        upgrade(url)  # Alembic goes through the same URL handling


@pytest.mark.parametrize(
    "url",
    [
        "postgres:admin:hunter2@db.internal/app",  # no `://`: the whole text could be echoed
        "admin:hunter2@db.internal/app",
        "mysql://admin:hunter2@db.internal/app",
        "x hunter2://db",
    ],
)
def test_a_bad_database_url_is_refused_without_echoing_it(url: str) -> None:
    """The refusal names what is wrong, never the value: it may hold a password."""
    with pytest.raises(ValueError, match="must be a postgresql:// URL") as refused:
        libpq_url(url)
    assert "hunter2" not in str(refused.value)
    assert "db.internal" not in str(refused.value)


def test_a_kept_cursor_works_after_a_failed_statement(database_url: str) -> None:
    """Single-statement calls reuse one cursor per pooled connection; an error must not stick."""
    import asyncio

    import psycopg
    from agent_sessions.db.engine import create_pool

    async def scenario() -> list[Any]:
        pool = create_pool(database_url, size=1)
        await pool.open(wait=True, timeout=30)
        try:
            seen = []
            for statement in ("SELECT 1 / 0 AS x", "SELECT 41 + 1 AS x"):
                conn = await pool.getconn()
                try:
                    cursor = conn.kept_cursor()
                    await cursor.execute(statement)
                    seen.append((await cursor.fetchone())["x"])
                except psycopg.errors.DivisionByZero:
                    seen.append("refused")
                finally:
                    await pool.putconn(conn)
            return seen
        finally:
            await pool.close()

    assert asyncio.run(scenario()) == ["refused", 42]


def test_the_pool_hands_out_the_connection_given_back_last(database_url: str) -> None:
    """LIFO: at low load calls stay on the warm connections (psycopg_pool's own order is FIFO,
    which walks every idle connection in turn). Overrides a private method of psycopg_pool:
    this pins it."""
    import asyncio

    from agent_sessions.db.engine import create_pool

    async def scenario() -> None:
        pool = create_pool(database_url, size=4)
        await pool.open(wait=True, timeout=30)
        try:
            held = [await pool.getconn() for _ in range(4)]
            for conn in held:
                await pool.putconn(conn)
            # Given back in order 0..3: the last one comes out first, then the one before it.
            first = await pool.getconn()
            second = await pool.getconn()
            assert (first, second) == (held[3], held[2])
            await pool.putconn(second)
            await pool.putconn(first)
            again = [await pool.getconn() for _ in range(3)]
            assert again[0] is first  # given back last
            for conn in again:
                await pool.putconn(conn)
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_racing_inserts_of_a_new_user_or_session_do_nothing_instead_of_failing(
    database_url: str,
) -> None:
    """The first calls of a new user, and first turns on a new session, store them at once.

    Eight connections write at the same moment, 100 times: a CreateSession and seven first
    turns, each inserting the new user too. An ON CONFLICT with a single target on users let a
    collision on another unique index through as an error (seen: 19 of 1,600 with
    `ON CONFLICT (id)`); the turns' upsert must neither fail nor give two turns one position.
    """
    import asyncio
    import uuid

    from agent_sessions.db.checkout import Checkout
    from agent_sessions.db.engine import create_pool
    from agent_sessions.db.repositories import SessionRepository, TurnRepository
    from agent_sessions.domain import NewMessage, Owner, SessionFields
    from agent_sessions.services.sessions import session_uuid_for
    from psycopg.rows import tuple_row

    async def scenario() -> list[BaseException]:
        pool = create_pool(database_url, 8)
        await pool.open(wait=True)
        conns = [Checkout(pool) for _ in range(8)]  # eight connections, all held
        for c in conns:
            await c.take()
        failures: list[BaseException] = []
        try:
            for _ in range(100):
                user = uuid.uuid4()
                subject = f"racer-{user.hex}"
                session = session_uuid_for(user, "raced")
                # The first write of a new user: a session created and first turns on it, at once,
                # through the repositories (a turn retries once when it lost the race to create).
                owner = Owner(user, subject)
                turn = [NewMessage(role="user", content="x")]
                results = await asyncio.gather(
                    SessionRepository(conns[0], owner).create(
                        session, "raced", SessionFields(), True, subject
                    ),
                    *(
                        TurnRepository(c, owner).store(
                            session, "raced", SessionFields(), turn, subject
                        )
                        for c in conns[1:]
                    ),
                    return_exceptions=True,
                )
                failures += [e for e in results if isinstance(e, BaseException)]
                # Every turn was stored, each at a position of its own.
                seqs = await (
                    await conns[0].execute(
                        "SELECT m.seq FROM session_messages m WHERE m.session_uuid = %(s)s",
                        tuple_row,
                        {"s": session},
                    )
                ).fetchall()
                assert sorted(seq for (seq,) in seqs) == list(range(1, 8)), (seqs, failures)
        finally:
            for c in conns:
                await c.release()
            await pool.close()
        return failures

    assert asyncio.run(scenario()) == []
