"""Live-turn scenarios of `make bench`: two replicas (two `agent-sessions serve`, one worker each,
on the bench's PostgreSQL, both with the OpenAI agent pointed at the tests' fake model), the
way several machines behind one load balancer would share one database and nothing else.

- live-watch: BENCH_WATCHERS (1,000) WatchSession streams open on replica B, one per session
  (50 sessions per user), read by a grpc.aio client process of their own; CreateMessage through
  replica A at BENCH_WATCH_RATE (50) writes/s, open loop, spread over the sessions, for
  BENCH_SECONDS. For every write the writer notes when it sent the call and when the answer came
  back; the watcher notes when the `message` event arrived (time.monotonic(), one clock for all
  processes of the machine). The commit lies between send and answer, so
    answer -> event   is a lower bound of commit-to-watcher latency (negative when the event
                      overtook the answer on its way back to the writer),
    send -> event     an upper bound.
  Then the same with BENCH_WATCH_HOT (100) watchers on one session and BENCH_WATCH_HOT_RATE (10)
  writes/s to it: every write wakes every watcher, and each re-reads the session's changes.
  Memory: replica B's RSS with every watch open (each had its first event) minus before they
  were opened, per watch; and B's and PostgreSQL's CPU per delivered event.
- live-resume: BENCH_RESUME_TRIES (30) turns, three at a time, each a detached Converse on A
  against a fake model streaming 40 pieces 50 ms apart; once A's caller has event 6,
  ResumeTurn(after_seq=2) on B. Time to first event: from B's call to its first event (seq 3,
  read from `turn_events`). Then, for the events that were still to come, how much later B's
  stream had each one than A's (the live lag across replicas: the 100 ms event batches, NOTIFY,
  B's read).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from agentsessions.v1 import message_service_pb2 as msg_pb
from agentsessions.v1 import message_service_pb2_grpc as msg_grpc
from agentsessions.v1 import resources_pb2 as res_pb
from agentsessions.v1 import session_service_pb2 as ses_pb
from agentsessions.v1 import session_service_pb2_grpc as ses_grpc

from bench.harness import CONTENT, GRPC_HOST, FakeModel, Plan, fake_model, free_port, grpc_server
from bench.measure import CpuWindow, Memory, percentile, say, worker_memory

NAMES = ("live-watch", "live-resume")
PER_USER = 50  # sessions (and watches) per user in the spread case; the default limit is 64
RESUME_PLAN = Plan(40, 0.050, 0.050)
RESUME_AFTER = 2  # ResumeTurn(after_seq=2) ...
RESUME_AT = 6  # ... once A's caller has event 6
RESUME_AT_ONCE = 3
CALL_TIMEOUT = 120.0


@dataclass(frozen=True)
class LiveLoad:
    url: str
    secret: str
    work: Path
    postgres_pid: int
    seconds: float
    watchers: int
    rate: float
    hot: int
    hot_rate: float
    resume_tries: int


def _token(secret: str, subject: str) -> str:
    from agent_sessions.auth import mint_token
    from agent_sessions.settings import Settings

    return mint_token(Settings(jwt_secret=secret), subject, ttl_seconds=3600)


def _metadata(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Replica:
    process: Any
    port: int

    @property
    def target(self) -> str:
        return f"{GRPC_HOST}:{self.port}"


@contextmanager
def replicas(load: LiveLoad, fake: FakeModel) -> Iterator[tuple[Replica, Replica]]:
    """Replicas A and B: one worker each, on free ports, the fake model as their model API."""
    with ExitStack() as stack:
        out = []
        for name in ("a", "b"):
            port = free_port()
            env = {
                "AGENT_SESSIONS_AGENT": "openai",
                "AGENT_SESSIONS_MODEL_BASE_URL": fake.base_url,
                "AGENT_SESSIONS_MODEL_API_KEY": "bench-model-key",
                "AGENT_SESSIONS_MODEL": "bench-model",
                "AGENT_SESSIONS_MODEL_MAX_RETRIES": "0",
                "AGENT_SESSIONS_METRICS_PORT": str(free_port()),
                # The hot watch has every watcher on one session, so of one user.
                "AGENT_SESSIONS_MAX_WATCHES_PER_USER": str(max(64, load.hot + 1)),
            }
            process = stack.enter_context(
                grpc_server(load.url, load.secret, 1, load.work, env, f"replica-{name}.log", port)
            )
            out.append(Replica(process, port))
        yield out[0], out[1]


# -- the watchers, in a process of their own ---------------------------------------------------


@dataclass(frozen=True)
class WatchJob:
    target: str
    watches: tuple[tuple[str, str], ...]  # (token, session id) per watcher
    channels: int


async def _watch_loop(job: WatchJob, conn: Any) -> None:
    options = [("grpc.use_local_subchannel_pool", 1)]  # one connection per channel
    channels = [grpc.aio.insecure_channel(job.target, options=options) for _ in range(job.channels)]
    await asyncio.gather(*(c.channel_ready() for c in channels))
    stubs = [ses_grpc.SessionServiceStub(c) for c in channels]  # type: ignore[no-untyped-call]
    arrivals: list[tuple[str, int, float]] = []  # (tag, watcher, monotonic)
    errors: list[str] = []

    async def read(i: int, call: Any) -> None:
        try:
            async for event in call:
                if event.WhichOneof("event") == "message":
                    tag = event.message.content.split(" ", 1)[0]
                    arrivals.append((tag, i, time.monotonic()))
        except asyncio.CancelledError:
            pass  # stopped by us
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                errors.append(f"watch {i}: {exc.code().name}: {exc.details()}")

    calls = [
        stubs[i % len(stubs)].WatchSession(
            # From seq 0 (the sessions are new): a write that commits before the watch has
            # subscribed still reaches it, from the backlog.
            ses_pb.WatchSessionRequest(session_id=session_id, after_seq=0),
            metadata=_metadata(token),
        )
        for i, (token, session_id) in enumerate(job.watches)
    ]
    tasks = [asyncio.create_task(read(i, call)) for i, call in enumerate(calls)]
    conn.send("open")
    while True:
        command, prefix = await asyncio.to_thread(conn.recv)
        if command == "count":
            conn.send((sum(1 for a in arrivals if a[0].startswith(prefix)), len(errors)))
        else:
            for call in calls:
                call.cancel()
            await asyncio.gather(*tasks)
            await asyncio.gather(*(c.close(None) for c in channels))
            conn.send((arrivals, errors))
            return


def _watch_main(job: WatchJob, conn: Any) -> None:
    asyncio.run(_watch_loop(job, conn))


class Watchers:
    """A client process holding `job`'s watches open; `count()` while open, `stop()` at the end."""

    def __init__(self, job: WatchJob) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_watch_main, args=(job, child), daemon=True)
        self.process.start()
        child.close()
        if not self._conn.poll(60) or self._conn.recv() != "open":
            self.process.kill()
            raise RuntimeError("the watch client did not start within 60 s")

    def count(self, prefix: str) -> tuple[int, int]:
        """Events received so far whose tag starts with `prefix`, and failed watches."""
        self._conn.send(("count", prefix))
        got: tuple[int, int] = self._conn.recv()
        return got

    def wait_for(self, prefix: str, events: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got, failed = self.count(prefix)
            if got >= events or failed:
                return got >= events
            time.sleep(0.05)
        return False

    def stop(self) -> tuple[list[tuple[str, int, float]], list[str]]:
        self._conn.send(("stop", ""))
        if not self._conn.poll(60):
            self.process.kill()
            raise RuntimeError("the watch client did not stop within 60 s")
        out: tuple[list[tuple[str, int, float]], list[str]] = self._conn.recv()
        self.process.join(10)
        return out


# -- the writer, in this process -----------------------------------------------------------------

Write = tuple[str, str, str]  # (token, session id, tag)


@dataclass
class Written:
    sent: float
    answered: float = math.nan
    error: str = ""


async def _write_all(target: str, writes: list[Write], rate: float) -> dict[str, Written]:
    """Every write at its time (open loop: `rate` per second whatever the answers do)."""
    channels = [grpc.aio.insecure_channel(target) for _ in range(4)]
    stubs = [msg_grpc.MessageServiceStub(c) for c in channels]  # type: ignore[no-untyped-call]
    done: dict[str, Written] = {}

    async def one(k: int, write: Write) -> None:
        token, session_id, tag = write
        request = msg_pb.CreateMessageRequest(
            session_id=session_id, role=res_pb.user, content=f"{tag} {CONTENT}"
        )
        record = done[tag] = Written(time.monotonic())
        try:
            await stubs[k % len(stubs)].CreateMessage(
                request, metadata=_metadata(token), timeout=30
            )
            record.answered = time.monotonic()
        except grpc.aio.AioRpcError as exc:
            record.error = f"{exc.code().name}: {exc.details()}"

    try:
        start = time.monotonic()
        tasks = []
        for k, write in enumerate(writes):
            await asyncio.sleep(max(0.0, start + k / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(k, write)))
        await asyncio.gather(*tasks)
        return done
    finally:
        await asyncio.gather(*(c.close(None) for c in channels))


def write_all(target: str, writes: list[Write], rate: float) -> dict[str, Written]:
    return asyncio.run(_write_all(target, writes, rate))


async def _create_sessions(target: str, sessions: list[tuple[str, str]]) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = ses_grpc.SessionServiceStub(channel)  # type: ignore[no-untyped-call]
        queue = list(sessions)

        async def worker() -> None:
            while queue:
                token, session_id = queue.pop()
                await stub.CreateSession(
                    ses_pb.CreateSessionRequest(session_id=session_id), metadata=_metadata(token)
                )

        await asyncio.gather(*(worker() for _ in range(16)))


# -- live-watch -------------------------------------------------------------------------------


@dataclass
class WatchWindow:
    """One measured window of writes and their deliveries."""

    name: str
    watchers: int
    sessions: int
    writes: int
    rate: float
    delivered: int
    expected: int
    from_answer: list[float]  # ms
    from_send: list[float]  # ms
    write_ms: list[float]  # ms, the writer's own call time
    cpu: CpuWindow
    errors: list[str]

    def figures(self) -> dict[str, Any]:
        def ms_per_event(group: str) -> float:
            used = self.cpu.used.get(group, 0.0)
            return 1000 * used / self.delivered if self.delivered else math.nan

        return {
            "scenario": self.name,
            "watchers": self.watchers,
            "sessions": self.sessions,
            "writes": self.writes,
            "writes_per_s": self.rate,
            "delivered": self.delivered,
            "expected": self.expected,
            "answer_to_event_p50_ms": percentile(self.from_answer, 0.5),
            "answer_to_event_p99_ms": percentile(self.from_answer, 0.99),
            "send_to_event_p50_ms": percentile(self.from_send, 0.5),
            "send_to_event_p99_ms": percentile(self.from_send, 0.99),
            "send_to_event_max_ms": max(self.from_send, default=math.nan),
            "write_p50_ms": percentile(self.write_ms, 0.5),
            "write_p99_ms": percentile(self.write_ms, 0.99),
            "replica_b_cpu_ms_per_event": ms_per_event("replica-b"),
            "replica_a_cpu_ms_per_write": 1000 * self.cpu.used.get("replica-a", 0.0) / self.writes
            if self.writes
            else math.nan,
            "postgres_cpu_ms_per_event": ms_per_event("postgres"),
            "cpu_share_replica_b": self.cpu.share("replica-b"),
            "cpu_share_watch_client": self.cpu.share("watch-client"),
            "cpu_share_machine": self.cpu.share("machine"),
            "cpu_share_other": self.cpu.other(),
            "errors": len(self.errors),
        }


@dataclass
class WatchResult:
    idle: Memory
    open: Memory
    after: Memory
    opened: int
    windows: list[WatchWindow] = field(default_factory=list)

    @property
    def per_watch_bytes(self) -> float:
        return (self.open.rss - self.idle.rss) / self.opened if self.opened else math.nan

    def figures(self) -> dict[str, Any]:
        return {
            "watches_open": self.opened,
            "rss_idle_bytes": self.idle.rss,
            "rss_open_bytes": self.open.rss,
            "rss_after_bytes": self.after.rss,
            "rss_per_watch_bytes": self.per_watch_bytes,
            "uss_per_watch_bytes": (self.open.uss - self.idle.uss) / self.opened
            if self.opened
            else math.nan,
            "windows": [w.figures() for w in self.windows],
        }


def _median_memory(pid: int, samples: int = 5) -> Memory:
    taken = []
    for _ in range(samples):
        taken.append(worker_memory(pid))
        time.sleep(0.2)
    taken.sort(key=lambda m: m.rss)
    return taken[len(taken) // 2]


def _prime(client: Watchers, a: Replica, watches: list[tuple[str, str]], label: str) -> None:
    """One write to every watched session; returns once every watcher had its event, so
    every watch is subscribed (and warm) before anything is measured."""
    sessions = list(dict.fromkeys(watches))
    writes = [(t, s, f"[{label}-{k}]") for k, (t, s) in enumerate(sessions)]
    done = write_all(a.target, writes, rate=400)
    failed = [f"{tag}: {w.error}" for tag, w in done.items() if w.error]
    if failed:
        raise RuntimeError(f"priming writes failed: {failed[:3]}")
    if not client.wait_for(f"[{label}-", len(watches), timeout=60):
        got, failed_watches = client.count(f"[{label}-")
        raise RuntimeError(
            f"only {got} of {len(watches)} watchers saw the priming write "
            f"({failed_watches} watches failed)"
        )


def _window(
    name: str,
    client: Watchers,
    a: Replica,
    watches: list[tuple[str, str]],
    rate: float,
    seconds: float,
    cpu: CpuWindow,
) -> tuple[WatchWindow, dict[str, Written], dict[str, int]]:
    """Writes at `rate` over the watched sessions (round robin) for `seconds`; waits for the
    deliveries; the arrivals are matched after the client stops."""
    sessions = list(dict.fromkeys(watches))
    watchers_of: dict[str, int] = {}
    for watch in watches:
        watchers_of[watch[1]] = watchers_of.get(watch[1], 0) + 1
    count = max(1, round(rate * seconds))
    label = name.replace(" ", "")
    writes = [
        (sessions[k % len(sessions)][0], sessions[k % len(sessions)][1], f"[{label}-{k}]")
        for k in range(count)
    ]
    expected = {tag: watchers_of[s] for _, s, tag in writes}
    cpu.begin()
    done = write_all(a.target, writes, rate)
    client.wait_for(f"[{label}-", sum(expected.values()), timeout=15)
    cpu.end()
    window = WatchWindow(
        name,
        len(watches),
        len(sessions),
        count,
        rate,
        0,
        sum(expected.values()),
        [],
        [],
        [1000 * (w.answered - w.sent) for w in done.values() if not w.error],
        cpu,
        [f"{tag}: {w.error}" for tag, w in done.items() if w.error],
    )
    return window, done, expected


def _match(
    window: WatchWindow,
    done: dict[str, Written],
    expected: dict[str, int],
    arrivals: list[tuple[str, int, float]],
) -> None:
    seen: dict[str, int] = {}
    for tag, _, at in arrivals:
        if tag not in expected:
            continue
        seen[tag] = seen.get(tag, 0) + 1
        written = done[tag]
        window.from_send.append(1000 * (at - written.sent))
        if not math.isnan(written.answered):
            window.from_answer.append(1000 * (at - written.answered))
    window.delivered = sum(seen.values())
    for tag, want in expected.items():
        if seen.get(tag, 0) != want and not done[tag].error:
            window.errors.append(f"{tag}: {seen.get(tag, 0)} of {want} watchers got it")


def run_watch(load: LiveLoad, a: Replica, b: Replica) -> WatchResult:
    users = math.ceil(load.watchers / PER_USER)
    tokens = [_token(load.secret, f"bench-watch-{u}") for u in range(users)]
    spread = [(tokens[i // PER_USER], f"watch-{i}") for i in range(load.watchers)]
    hot_token = _token(load.secret, "bench-watch-hot")
    say(f"live-watch: creating {load.watchers:,} sessions of {users} users through replica A")
    asyncio.run(_create_sessions(a.target, [*spread, (hot_token, "watch-hot")]))
    groups = {
        "replica-a": [a.process.pid],
        "replica-b": [b.process.pid],
        "postgres": [load.postgres_pid],
    }

    # Warm-up: a few watches opened, used and closed, so that B's lazy imports and first
    # allocations are not counted as the watches' memory.
    warm = Watchers(WatchJob(b.target, tuple(spread[:50]), 10))
    _prime(warm, a, spread[:50], "warm")
    warm.stop()
    time.sleep(1.0)
    idle = _median_memory(b.process.pid)

    say(f"live-watch: {load.watchers:,} watches on replica B, one per session")
    client = Watchers(WatchJob(b.target, tuple(spread), 50))
    _prime(client, a, spread, "prime")
    opened = _median_memory(b.process.pid)
    cpu = CpuWindow({**groups, "watch-client": [client.process.pid or 0]})
    name = f"spread ({load.watchers:,} sessions)"
    say(f"  {name}: {load.rate:g} writes/s through A for {load.seconds:g} s")
    window, done, expected = _window(name, client, a, spread, load.rate, load.seconds, cpu)
    arrivals, errors = client.stop()
    _match(window, done, expected, arrivals)
    window.errors += errors
    time.sleep(1.0)
    after = _median_memory(b.process.pid)
    result = WatchResult(idle, opened, after, load.watchers, [window])

    if load.hot:
        hot = [(hot_token, "watch-hot")] * load.hot
        say(f"live-watch: {load.hot:,} watches of one session on replica B")
        client = Watchers(WatchJob(b.target, tuple(hot), min(50, load.hot)))
        _prime(client, a, hot, "hotprime")
        cpu = CpuWindow({**groups, "watch-client": [client.process.pid or 0]})
        name = f"one session ({load.hot:,} watchers)"
        say(f"  {name}: {load.hot_rate:g} writes/s through A for {load.seconds:g} s")
        window, done, expected = _window(name, client, a, hot, load.hot_rate, load.seconds, cpu)
        arrivals, errors = client.stop()
        _match(window, done, expected, arrivals)
        window.errors += errors
        result.windows.append(window)
    return result


# -- live-resume ------------------------------------------------------------------------------


@dataclass
class ResumeResult:
    tries: int
    first_event_ms: list[float] = field(default_factory=list)
    live_lag_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        return {
            "tries": self.tries,
            "plan": RESUME_PLAN.describe(),
            "after_seq": RESUME_AFTER,
            "resumed_when_a_had": RESUME_AT,
            "first_event_p50_ms": percentile(self.first_event_ms, 0.5),
            "first_event_p99_ms": percentile(self.first_event_ms, 0.99),
            "first_event_max_ms": max(self.first_event_ms, default=math.nan),
            "live_lag_events": len(self.live_lag_ms),
            "live_lag_p50_ms": percentile(self.live_lag_ms, 0.5),
            "live_lag_p99_ms": percentile(self.live_lag_ms, 0.99),
            "errors": len(self.errors),
        }


async def _resume_try(stub_a: Any, stub_b: Any, token: str, k: int, out: ResumeResult) -> None:
    session_id = f"resume-{k}"
    metadata = _metadata(token)
    request = ses_pb.ConverseRequest(
        session_id=session_id,
        messages=[ses_pb.ConversationMessage(role=res_pb.user, content=f"[bench-resume-{k}] hi")],
        detach=True,
    )
    on_a: dict[int, float] = {}
    on_b: dict[int, float] = {}
    kinds_b: list[str] = []
    reached = asyncio.Event()
    turn_id = ""
    ends: list[str] = []

    async def follow_a() -> None:
        nonlocal turn_id
        async for event in stub_a.Converse(request, metadata=metadata, timeout=CALL_TIMEOUT):
            on_a[event.seq] = time.monotonic()
            kind = event.WhichOneof("event")
            if kind == "started":
                turn_id = event.started.turn_id
            if event.seq >= RESUME_AT:
                reached.set()
            if kind in ("completed", "error"):
                ends.append(f"A {kind}")

    async def resume_b() -> None:
        await reached.wait()
        resume = ses_pb.ResumeTurnRequest(
            session_id=session_id, turn_id=turn_id, after_seq=RESUME_AFTER
        )
        sent = time.monotonic()
        had = max(on_a)
        async for event in stub_b.ResumeTurn(resume, metadata=metadata, timeout=CALL_TIMEOUT):
            now = time.monotonic()
            if not on_b:
                out.first_event_ms.append(1000 * (now - sent))
                had = max(on_a)
            on_b[event.seq] = now
            kinds_b.append(str(event.WhichOneof("event")))
        # The live lag: events that A's caller had not yet had when B's first one came.
        for seq, at in on_b.items():
            if seq > had and seq in on_a:
                out.live_lag_ms.append(1000 * (at - on_a[seq]))

    try:
        await asyncio.gather(follow_a(), resume_b())
    except grpc.aio.AioRpcError as exc:
        out.errors.append(f"try {k}: {exc.code().name}: {exc.details()}")
        return
    seqs = sorted(on_b)
    if seqs != list(range(RESUME_AFTER + 1, max(on_a) + 1)) or kinds_b[-1:] != ["completed"]:
        out.errors.append(
            f"try {k}: B had seqs {seqs[:3]}…{seqs[-3:]} ending {kinds_b[-1:]}, A up to "
            f"{max(on_a)} ({ends})"
        )


async def _resume_all(load: LiveLoad, a: Replica, b: Replica) -> ResumeResult:
    token = _token(load.secret, "bench-resume")
    out = ResumeResult(load.resume_tries)
    async with (
        grpc.aio.insecure_channel(a.target) as ca,
        grpc.aio.insecure_channel(b.target) as cb,
    ):
        stub_a = ses_grpc.SessionServiceStub(ca)  # type: ignore[no-untyped-call]
        stub_b = ses_grpc.SessionServiceStub(cb)  # type: ignore[no-untyped-call]
        # One warm-up turn: the first turn of a process pays for imports.
        await _resume_try(stub_a, stub_b, token, load.resume_tries, ResumeResult(1))
        for first in range(0, load.resume_tries, RESUME_AT_ONCE):
            last = min(load.resume_tries, first + RESUME_AT_ONCE)
            await asyncio.gather(
                *(_resume_try(stub_a, stub_b, token, k, out) for k in range(first, last))
            )
    return out


def run_resume(load: LiveLoad, a: Replica, b: Replica, fake: FakeModel) -> ResumeResult:
    fake.stream(RESUME_PLAN)
    say(
        f"live-resume: {load.resume_tries} detached turns on A ({RESUME_PLAN.describe()}), "
        f"{RESUME_AT_ONCE} at a time; ResumeTurn(after_seq={RESUME_AFTER}) on B once A's caller "
        f"has event {RESUME_AT}"
    )
    result = asyncio.run(_resume_all(load, a, b))
    _, fake_errors = fake.collect()
    result.errors += [f"fake model server: {e}" for e in fake_errors]
    return result


# -- the run ------------------------------------------------------------------------------------


@dataclass
class LiveResults:
    load: LiveLoad
    watch: WatchResult | None = None
    resume: ResumeResult | None = None

    @property
    def errors(self) -> list[str]:
        out = [e for w in (self.watch.windows if self.watch else []) for e in w.errors]
        return out + (self.resume.errors if self.resume else [])

    def figures(self) -> dict[str, Any]:
        return {
            "watch": self.watch.figures() if self.watch else None,
            "resume": self.resume.figures() if self.resume else None,
        }


def run(load: LiveLoad, names: tuple[str, ...]) -> LiveResults:
    out = LiveResults(load)
    with fake_model() as fake, replicas(load, fake) as (a, b):
        if "live-watch" in names:
            out.watch = run_watch(load, a, b)
        if "live-resume" in names:
            out.resume = run_resume(load, a, b, fake)
    return out
