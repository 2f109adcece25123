"""A span per SQL statement (OpenTelemetry's psycopg instrumentation), when tracing is on.

Each pooled connection is instrumented as the pool opens it (its `configure` callback): its
cursors then open a span per statement. The statement's text is recorded, its parameters never.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from agent_sessions.db.engine import Connection


def traced_connections() -> Callable[[Connection], Awaitable[None]]:
    """The pool's `configure` callback that instruments each new connection."""
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    async def configure(conn: Connection) -> None:
        PsycopgInstrumentor.instrument_connection(conn)

    return configure
