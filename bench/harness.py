"""What the scenarios run against: a throw-away PostgreSQL, `agent-sessions serve`, the real Envoy,
the comparison server of BENCH_ANCHOR, the fake model API, and the ports they listen on."""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import grpc
from agentsessions.v1 import message_service_pb2 as msg_pb
from agentsessions.v1 import message_service_pb2_grpc as msg_grpc
from agentsessions.v1 import session_service_pb2 as ses_pb
from agentsessions.v1 import session_service_pb2_grpc as ses_grpc

from bench.measure import say

GRPC_HOST = "127.0.0.1"
GRPC_PORT = 47051
TARGET = f"{GRPC_HOST}:{GRPC_PORT}"
SUBJECT = "bench-user"
BIG, SMALL = 10_000, 10  # messages pre-filled into the sessions "big" and "small"
LABELLED = 10_000  # sessions with labels pre-filled for the label-filter list
# About 200 characters, like a short chat message.
CONTENT = (
    "Could you summarise the main points of yesterday's design review, list the open questions "
    "about the storage layer, and suggest who should own each follow-up item before Friday? Thanks"
)
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def require_free_port() -> None:
    with socket.socket() as probe:
        try:
            probe.bind((GRPC_HOST, GRPC_PORT))
        except OSError:
            raise SystemExit(
                f"bench: port {GRPC_PORT} is in use; stop whatever listens there"
            ) from None


def stop_process(process: subprocess.Popen[Any], name: str, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL after `timeout`."""
    if process.poll() is not None:
        return
    say(f"stopping {name} (SIGTERM)")
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- PostgreSQL -------------------------------------------------------------------------------


@contextmanager
def embedded_postgres(work: Path) -> Iterator[tuple[str, Any]]:
    """A fresh, migrated PostgreSQL in `work`, stopped on the way out whatever happens."""
    from agent_sessions.migrate import upgrade
    from agent_sessions.ops.postgres import start_postgres, stop_postgres

    say(f"starting embedded PostgreSQL in {work / 'postgres'}")
    url, handle = start_postgres(work)
    try:
        say("running migrations")
        upgrade(url)
        yield url, handle
    finally:
        say("stopping PostgreSQL")
        stop_postgres(handle)


def other_database(url: str, name: str) -> str:
    """A new, empty database `name` on the same PostgreSQL; its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


# -- the server -------------------------------------------------------------------------------


def mint(secret: str) -> str:
    """A token for SUBJECT that the server (and an anchor given the same secret) accepts."""
    from agent_sessions.auth import mint_token
    from agent_sessions.settings import Settings

    return mint_token(Settings(jwt_secret=secret), SUBJECT, ttl_seconds=3600)


@contextmanager
def grpc_server(
    url: str,
    secret: str,
    workers: int,
    work: Path,
    extra_env: dict[str, str] | None = None,
    log_name: str = "server.log",
    port: int = GRPC_PORT,
) -> Iterator[subprocess.Popen[bytes]]:
    """`agent-sessions serve` on `port` (GRPC_PORT), stopped with SIGTERM on the way out (its
    supervisor handles SIGTERM from before it starts the workers, and the workers die with it)."""
    from agent_sessions.ops.health import NotReady, wait_grpc_serving

    env = {
        **os.environ,
        "AGENT_SESSIONS_DATABASE_URL": url,
        "AGENT_SESSIONS_JWT_SECRET": secret,
        "AGENT_SESSIONS_GRPC_HOST": GRPC_HOST,
        "AGENT_SESSIONS_GRPC_PORT": str(port),
        "AGENT_SESSIONS_WORKERS": str(workers),
        **(extra_env or {}),
    }
    log = work / log_name
    target = f"{GRPC_HOST}:{port}"
    say(f"starting agent-sessions serve on {target} with {workers} worker process(es)")
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "agent-sessions"), "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_grpc_serving(target, timeout=60, process=server)
        except NotReady as exc:
            raise RuntimeError(f"{exc}:\n{log.read_text()}") from None
        say("server is SERVING")
        yield server
    finally:
        stop_process(server, "the server")


def create_grpc_sessions(token: str, concurrency: int) -> None:
    """The gRPC scenarios' sessions: one per caller for writes, and the two to list."""
    metadata = (("authorization", f"Bearer {token}"),)
    names = ["big", "small"]
    names += [f"{kind}-{i}" for kind in ("bench", "conv") for i in range(concurrency)]
    with grpc.insecure_channel(TARGET) as channel:
        stub = ses_grpc.SessionServiceStub(channel)
        for name in names:
            stub.CreateSession(ses_pb.CreateSessionRequest(session_id=name), metadata=metadata)


def prefill(url: str, session_id: str, count: int) -> None:
    """Appends `count` messages to a session with SQL, keeping its counters in step."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(
            """
            INSERT INTO session_messages (id, session_uuid, seq, role, content)
            SELECT gen_random_uuid(), s.id, g,
                   CASE WHEN g %% 2 = 1 THEN 'user' ELSE 'assistant' END, %(content)s
            FROM agent_sessions s, generate_series(1, %(count)s) AS g
            WHERE s.session_id = %(session_id)s
            """,
            {"content": CONTENT, "count": count, "session_id": session_id},
        )
        conn.execute(
            "UPDATE agent_sessions SET seq = %(count)s, message_count = %(count)s"
            " WHERE session_id = %(session_id)s",
            {"count": count, "session_id": session_id},
        )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE session_messages")
        conn.execute("ANALYZE agent_sessions")


def prefill_labelled(url: str, count: int = LABELLED) -> None:
    """`count` more sessions of the bench user (the owner of "big"), with labels: `team` is
    `search` on 10% of them and `tier` is `gold` on 10%, both on 1%."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO agent_sessions (id, user_id, session_id, labels, created_at)
            SELECT gen_random_uuid(), s.user_id, 'labelled-' || g,
                   jsonb_build_object(
                     'team', CASE WHEN g %% 10 = 0 THEN 'search' ELSE 'team' || g %% 7 END,
                     'tier', CASE WHEN g %% 100 < 10 THEN 'gold' ELSE 'free' END),
                   now() - g * interval '1 second'
            FROM agent_sessions s, generate_series(1, %(count)s) AS g
            WHERE s.session_id = 'big'
            """,
            {"count": count},
        )
        conn.execute("ANALYZE agent_sessions")


def check_lists(token: str) -> None:
    """Each list scenario really reads the newest 50 (or all 10) messages."""
    metadata = (("authorization", f"Bearer {token}"),)
    with grpc.insecure_channel(TARGET) as channel:
        stub = msg_grpc.MessageServiceStub(channel)
        for session_id, total in (("big", BIG), ("small", SMALL)):
            request = msg_pb.ListMessagesRequest(session_id=session_id, page_size=50, order="desc")
            reply = stub.ListMessages(request, metadata=metadata)
            if reply.total_size != total or len(reply.messages) != min(50, total):
                raise RuntimeError(f"{session_id}: got {len(reply.messages)} of {reply.total_size}")


def plan_latest_50(url: str, session_id: str) -> str:
    """How PostgreSQL alone runs ListMessages' page query (best of 5): plan, time, buffers."""
    import psycopg

    query = (
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM session_messages"
        " WHERE session_uuid = %s ORDER BY seq DESC LIMIT 51"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT id FROM agent_sessions WHERE session_id = %s", (session_id,)
        ).fetchone()
        assert row is not None
        runs = [conn.execute(query, (row[0],)).fetchone()[0][0] for _ in range(5)]  # type: ignore[index]
    best = min(runs, key=lambda r: r["Execution Time"])
    node = best["Plan"]["Plans"][0]
    return (
        f"{best['Execution Time']:.3f} ms, {node['Node Type']}, {node['Actual Rows']} rows, "
        f"{node.get('Shared Hit Blocks', 0)} buffers"
    )


# -- Envoy ------------------------------------------------------------------------------------


def strip_lua_filter(config: str) -> str:
    """The rendered config without its `envoy.filters.http.lua` HTTP filter (the request
    validator): the filter's list item, down to the next item at its indentation."""
    lines = config.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == "- name: envoy.filters.http.lua"]
    if len(starts) != 1:
        raise ValueError(f"expected one envoy.filters.http.lua filter, found {len(starts)}")
    start = starts[0]
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
    ):
        end += 1
    if end == len(lines) or not lines[end].lstrip().startswith("- name: "):
        raise ValueError("the Lua filter is not followed by another HTTP filter")
    return "".join(lines[:start] + lines[end:])


@dataclass
class Envoy:
    process: subprocess.Popen[bytes]
    http_port: int
    config: Path

    def concurrency(self) -> str:
        """Envoy's worker threads, from /server_info on its admin socket."""
        from agent_sessions.ops.envoy import admin_get

        try:
            _, body = admin_get(self.config, "/server_info")
            info = json.loads(body)
            return str(info["command_line_options"]["concurrency"])
        except (OSError, ValueError, KeyError, http.client.HTTPException) as exc:
            return f"? ({exc})"


@contextmanager
def envoy(work: Path, no_lua: bool) -> Iterator[Envoy]:
    """Envoy from the rendered envoy.yaml on free ports, in front of the server, with the command
    line of `agent_sessions.ops.envoy.command`; stopped on the way out."""
    from agent_sessions.ops import envoy as ops_envoy
    from agent_sessions.ops.health import NotReady, wait_rest_ready

    http_port = free_port()
    config = ops_envoy.write_config(work / "envoy.yaml", http_port, GRPC_PORT)
    if no_lua:
        config.write_text(strip_lua_filter(config.read_text()))
    command = ops_envoy.command(config)
    log = work / "envoy.log"
    say(
        f"starting Envoy on 127.0.0.1:{http_port} (admin {ops_envoy.admin_socket(config)})"
        f" -> gRPC :{GRPC_PORT}"
        f"{'; Lua request validator REMOVED (BENCH_ENVOY_NO_LUA=1)' if no_lua else ''}: "
        + " ".join(command)
    )
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            wait_rest_ready(http_port, timeout=60, process=process)
        except NotReady as exc:
            raise RuntimeError(f"{exc}:\n{log.read_text(errors='replace')}") from None
        yield Envoy(process, http_port, config)
    finally:
        stop_process(process, "Envoy")


# -- the comparison server (BENCH_ANCHOR) -------------------------------------------------------


@dataclass
class Anchor:
    process: subprocess.Popen[bytes]
    port: int
    directory: Path


def _answers(port: int, token: str) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request(
            "GET", "/api/agent-sessions", headers={"Authorization": f"Bearer {token}"}
        )
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


@contextmanager
def anchor_server(
    directory: Path, url: str, secret: str, token: str, workers: int, work: Path
) -> Iterator[Anchor]:
    """`DATABASE_URL=… JWT_SECRET=… PORT=… WORKERS=… DIR/run.sh` on a database of its own in the
    same PostgreSQL, with the same JWT secret; stopped on the way out. The first start may
    install its environment (minutes), so readiness is waited for up to 10 minutes."""
    port = free_port()
    database = other_database(url, "bench_anchor")
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "JWT_SECRET": secret,
        "PORT": str(port),
        "WORKERS": str(workers),
    }
    log = work / "anchor.log"
    say(f"starting the anchor {directory}/run.sh on 127.0.0.1:{port} with {workers} workers")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(directory / "run.sh")], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 600
        while not _answers(port, token):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the anchor did not answer on :{port}:\n{log.read_text(errors='replace')}"
                )
            time.sleep(0.5)
        say("the anchor answers")
        yield Anchor(process, port, directory)
    finally:
        stop_process(process, "the anchor")


# -- the fake model API, in a process of its own -----------------------------------------------

TAG = re.compile(r"\[(bench-[^\]]+)\]")


@dataclass(frozen=True)
class Plan:
    """What the fake model streams for every request: `pieces` text chunks, `delay` seconds
    apart, the first after `first_delay` (the model's own time to first token)."""

    pieces: int
    delay: float
    first_delay: float

    def texts(self) -> list[str]:
        return [f"t{i} " for i in range(self.pieces)]

    def describe(self) -> str:
        return (
            f"{self.pieces} pieces, {1000 * self.delay:g} ms apart, "
            f"the first after {1000 * self.first_delay:g} ms"
        )


@dataclass(frozen=True)
class Sent:
    """What the fake noted for one request (time.monotonic() seconds)."""

    received_at: float
    sent_at: tuple[float, ...]
    ended_at: float | None
    disconnected: bool


def _fake_main(conn: Any) -> None:
    """The fake's process: serves until told to stop; answers `stream` and `collect`."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.fakes.model_server import FakeModelServer, Step

    with FakeModelServer(timestamps=True) as fake:
        conn.send(fake.port)
        seen = 0
        while True:
            command, argument = conn.recv()
            if command == "stream":
                plan: Plan = argument
                step = Step.text(plan.texts(), delay=plan.delay, first_delay=plan.first_delay)
                fake.always(step)
                conn.send(None)
            elif command == "collect":
                requests = fake.requests
                new, seen = requests[seen:], len(requests)
                out: dict[str, Sent] = {}
                for r in new:
                    match = TAG.search(json.dumps(r.messages[-1:]))
                    if r.method == "POST" and match and r.received_at is not None:
                        out[match.group(1)] = Sent(
                            r.received_at, tuple(r.sent_at), r.ended_at, r.disconnected.is_set()
                        )
                conn.send((out, [repr(e) for e in fake.errors]))
            else:
                conn.send(None)
                return


class FakeModel:
    """The tests' fake OpenAI-compatible API (tests/fakes/model_server.py) in a process of its
    own, so its CPU is not counted as the server's."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_fake_main, args=(child,), daemon=True)
        self.process.start()
        child.close()
        if not self._conn.poll(60):
            raise RuntimeError("the fake model server did not start within 60 s")
        self.port: int = self._conn.recv()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _ask(self, command: str, argument: Any = None) -> Any:
        self._conn.send((command, argument))
        if not self._conn.poll(60):
            raise RuntimeError(f"the fake model server did not answer {command!r}")
        return self._conn.recv()

    def stream(self, plan: Plan) -> None:
        """Every request from now on gets `plan`."""
        self._ask("stream", plan)

    def collect(self) -> tuple[dict[str, Sent], list[str]]:
        """What the fake noted for the requests since the last call, by tag; and its errors."""
        out: tuple[dict[str, Sent], list[str]] = self._ask("collect")
        return out

    def close(self) -> None:
        with suppress(OSError, EOFError, RuntimeError):
            self._ask("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


@contextmanager
def fake_model() -> Iterator[FakeModel]:
    fake = FakeModel()
    try:
        yield fake
    finally:
        fake.close()
