"""sdk-add-items: the OpenAI Agents SDK's `Session.add_items`, as a user of the SDK calls it,
through this client's `AgentSessionsSession` (one BatchCreateMessages call over gRPC) and through
the SDK's own `SQLAlchemySession` on the same PostgreSQL (a database of its own, psycopg async).

Each run is one client process (spawned, so its CPU is its own) with N asyncio tasks, each on a
session of its own, each calling `add_items([user message, assistant message])` back to back:
one turn's worth. Ours share one `AsyncClient` (one channel); theirs one async engine whose pool
holds a connection per task. Every concurrency runs ours, then theirs, then ours and theirs
again (the VM drifts); each side's figure is its two windows together.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.config import Config
from bench.harness import CONTENT, TARGET, other_database
from bench.measure import CpuWindow, percentile, say

NAME = "sdk-add-items"
NAMES = (NAME,)
# BENCH_SDK_CONCURRENCIES=1 measures one task only (while working on it).
CONCURRENCIES = tuple(
    int(c) for c in (os.environ.get("BENCH_SDK_CONCURRENCIES") or "1,8,32").split(",") if c.strip()
)
ROUNDS = 2
ITEMS_PER_CALL = 2
SIDES = ("agent-sessions", "sqlalchemy")
ANSWER = "Here is the summary you asked for, with the open questions and an owner for each."


def turn(caller: int, n: int) -> list[dict[str, Any]]:
    """What one turn adds: the user's message and the model's answer, as the SDK's items."""
    return [
        {"role": "user", "content": f"{CONTENT} ({caller}-{n})"},
        {
            "id": f"msg_{caller}_{n}",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": ANSWER, "annotations": []}],
        },
    ]


@dataclass(frozen=True)
class Job:
    """What one client process runs."""

    side: str
    concurrency: int
    prefix: str  # the sessions' ids are prefix + caller number
    token: str
    sqlalchemy_url: str
    warmup: float
    seconds: float


@dataclass
class Tally:
    calls: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""


async def _load(job: Job, ready: Any, go: Any, start: Any, done: Any) -> Tally:
    """The tasks of one run; calls completed inside the measured window are counted."""
    from agent_sessions_client.agents_sdk import AgentSessionsSession
    from agent_sessions_client.aio import AsyncClient
    from agents.extensions.memory import SQLAlchemySession
    from sqlalchemy.ext.asyncio import create_async_engine

    client = engine = None
    sessions: list[Any]
    if job.side == "agent-sessions":
        client = AsyncClient(TARGET, token=job.token)
        sessions = [
            AgentSessionsSession(f"{job.prefix}{i}", client) for i in range(job.concurrency)
        ]
    else:
        engine = create_async_engine(job.sqlalchemy_url, pool_size=job.concurrency, max_overflow=0)
        sessions = [
            SQLAlchemySession(f"{job.prefix}{i}", engine=engine, create_tables=True)
            for i in range(job.concurrency)
        ]
    tally = Tally()
    try:
        # Connected, tables created, sessions created: the first call of each is not measured.
        for i, session in enumerate(sessions):
            await session.add_items(turn(i, -1))
        ready.release()
        await asyncio.to_thread(go.wait)
        begin = start.value + job.warmup
        end = begin + job.seconds

        async def caller(i: int) -> None:
            n = 0
            while time.time() < end:
                items = turn(i, n)
                n += 1
                began = time.perf_counter()
                try:
                    await sessions[i].add_items(items)
                except Exception as exc:  # noqa: BLE001 - counted, and fails the run
                    if begin <= time.time() <= end:
                        tally.errors += 1
                        tally.first_error = tally.first_error or repr(exc)
                    continue
                elapsed = time.perf_counter() - began
                if begin <= time.time() <= end:
                    tally.calls += 1
                    tally.latencies.append(elapsed)

        await asyncio.gather(*(caller(i) for i in range(job.concurrency)))
        # The connections stay open until the parent has read the CPU counters: PostgreSQL
        # backends that end inside the window are not seen.
        await asyncio.to_thread(done.wait, 120)
        return tally
    finally:
        if client is not None:
            await client.close()
        if engine is not None:
            await engine.dispose()


def _child(job: Job, ready: Any, go: Any, start: Any, done: Any, results: Any) -> None:
    """The client process: sets up, says it is ready, runs from `start` once `go` is set, and
    closes its connections once `done` is set."""
    results.put(asyncio.run(_load(job, ready, go, start, done)))


@dataclass
class Window:
    """One side at one concurrency, its rounds together."""

    side: str
    concurrency: int
    calls: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    @property
    def items_per_s(self) -> float:
        return ITEMS_PER_CALL * self.calls_per_s

    def cpu_ms_per_call(self, group: str) -> float:
        used = self.cpu_seconds.get(group)
        return 1000 * used / self.calls if used is not None and self.calls else float("nan")

    def figures(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "concurrency": self.concurrency,
            "calls": self.calls,
            "seconds": self.seconds,
            "calls_per_s": self.calls_per_s,
            "items_per_s": self.items_per_s,
            "p50_ms": 1000 * percentile(self.latencies, 0.5),
            "p99_ms": 1000 * percentile(self.latencies, 0.99),
            "errors": self.errors,
            "first_error": self.first_error or None,
            "cpu_ms_per_call": {g: self.cpu_ms_per_call(g) for g in self.cpu_seconds},
        }


@dataclass
class SdkResults:
    windows: list[Window]

    def window(self, side: str, concurrency: int) -> Window:
        return next(w for w in self.windows if w.side == side and w.concurrency == concurrency)

    def ratio(self, concurrency: int) -> float:
        theirs = self.window("sqlalchemy", concurrency).calls_per_s
        return self.window("agent-sessions", concurrency).calls_per_s / theirs if theirs else 0.0

    def figures(self) -> dict[str, Any]:
        return {
            "items_per_call": ITEMS_PER_CALL,
            "rounds": ROUNDS,
            "windows": [w.figures() for w in self.windows],
            "ratio_by_concurrency": {str(c): self.ratio(c) for c in CONCURRENCIES},
        }


def _measure(job: Job, groups: dict[str, list[int]], into: Window) -> None:
    ctx = mp.get_context("spawn")
    ready, go, done, results = ctx.Semaphore(0), ctx.Event(), ctx.Event(), ctx.Queue()
    start = ctx.Value("d", 0.0)
    proc = ctx.Process(target=_child, args=(job, ready, go, start, done, results), daemon=True)
    proc.start()
    try:
        if not ready.acquire(timeout=120):
            raise RuntimeError(f"{NAME} {job.side}: the client did not get ready within 120 s")
        start.value = time.time()
        go.set()
        assert proc.pid is not None
        cpu = CpuWindow({**groups, "client": [proc.pid]})
        time.sleep(max(0.0, start.value + job.warmup - time.time()))
        cpu.begin()
        time.sleep(max(0.0, start.value + job.warmup + job.seconds - time.time()))
        cpu.end()
        done.set()
        tally: Tally = results.get(timeout=120)
    finally:
        done.set()
        proc.join(30)
        if proc.is_alive():
            proc.kill()
    into.calls += tally.calls
    into.seconds += job.seconds
    into.latencies += tally.latencies
    into.errors += tally.errors
    into.first_error = into.first_error or tally.first_error
    for group, used in cpu.used.items():
        into.cpu_seconds[group] = into.cpu_seconds.get(group, 0.0) + used


def sqlalchemy_url(url: str) -> str:
    """A database of its own for the SDK's tables, as an async psycopg URL."""
    parts = urlsplit(other_database(url, "bench_sdk_sqlalchemy"))
    scheme = "postgresql+psycopg"
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def run(config: Config, url: str, token: str, groups: dict[str, list[int]]) -> SdkResults:
    """Every concurrency, each side ROUNDS times, interleaved."""
    database = sqlalchemy_url(url)
    windows = []
    for concurrency in CONCURRENCIES:
        say(
            f"{NAME}: {concurrency} asyncio task(s), add_items of {ITEMS_PER_CALL} items, "
            f"{ROUNDS} rounds of warm-up {config.warmup:g} s + {config.seconds:g} s per side"
        )
        pair = {side: Window(side, concurrency) for side in SIDES}
        for round_ in range(ROUNDS):
            for side in SIDES:
                job = Job(
                    side,
                    concurrency,
                    f"sdk-{concurrency}-{round_}-",
                    token,
                    database,
                    config.warmup,
                    config.seconds,
                )
                _measure(job, groups, pair[side])
        windows += pair.values()
        mine, theirs = pair["agent-sessions"], pair["sqlalchemy"]
        say(
            f"{NAME} x{concurrency}: {mine.items_per_s:.0f} vs {theirs.items_per_s:.0f} "
            f"items/s ({mine.calls_per_s / theirs.calls_per_s if theirs.calls else 0:.2f}x)"
        )
    return SdkResults(windows)
