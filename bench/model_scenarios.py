"""Model-streaming scenarios of `make bench`: the real server runs its OpenAI Agents SDK agent
(AGENT_SESSIONS_AGENT=openai) against a fake OpenAI-compatible model that streams a fixed number
of pieces at a fixed rate, and a Python gRPC client reads `Converse` streams.

What is measured, per scenario:

- model-stream: BENCH_CONCURRENCY (16) callers repeat Converse streams, each a new session, for
  BENCH_SECONDS after BENCH_WARMUP; twice, with 50 and with 10 pieces (20 ms apart, the first
  after 100 ms). The fake (tests/fakes/model_server.py with `timestamps=True`) notes when each
  request arrived and when each piece left; the client notes when each event arrived. Both read
  time.monotonic(), Linux's CLOCK_MONOTONIC, one clock for every process of the machine, so:
    request -> model call        fake's arrival - client's send: what the service does before
                                 it asks the model (gRPC, auth, the turn's checks, the SDK, HTTP)
    first piece -> first delta   client's receipt of the first delta - the fake's send of the
                                 first piece: what the service adds to the model's first token
    piece -> delta               the same for every later piece
    model's end -> completed     client's receipt of `completed` - the fake's end of stream:
                                 storing the turn (one transaction) and the closing events
  All include the client's own receive path (a Python grpc.aio process on the same 2 cores).
  Server CPU (all worker processes) over the measured window, divided by the deltas and by the
  turns received in that window, gives CPU per token and per turn; the difference between the
  two runs, per extra piece, is the marginal CPU of one streamed token.
- model-1000: BENCH_MODEL_STREAMS (1,000) streams opened over BENCH_MODEL_RAMP (10 s) on a slow
  model (a piece every BENCH_MODEL_DELAY, 2 s, for BENCH_MODEL_LENGTH, 30 s), so that all are
  open at once for a while; the workers' RSS (and USS) summed, idle before against the largest
  sample while the most streams were open, per open stream; every failed stream is counted and
  the first ones printed, with the server log's warnings. The client spreads the streams over
  BENCH_MODEL_CONNECTIONS (200) gRPC connections, so the kernel splits them about evenly between
  the workers (50 connections once split 31:19, and the busier worker fell seconds behind).
  A piece every 500 ms (2,000 tokens/s in all) takes about one core of the two; opened within
  2 s instead of 10, the streams that start last wait seconds for their model call.

The fake runs in a process of its own, so its CPU is not counted as the server's.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from agentsessions.v1 import resources_pb2 as res_pb
from agentsessions.v1 import session_service_pb2 as ses_pb
from agentsessions.v1 import session_service_pb2_grpc as ses_grpc

from bench.harness import FakeModel, Plan, Sent, fake_model
from bench.measure import (
    CpuReading,
    CpuWindow,
    Memory,
    connections_per_worker,
    percentile,
    process_tree,
    say,
    worker_memory,
)

NAMES = ("model-stream", "model-1000")
MODEL = "bench-model"
API_KEY = "bench-model-key"
QUESTION = "Summarise yesterday's design review in a few sentences, please."
CALL_TIMEOUT = 300.0  # seconds; a stream that takes longer failed
FAST = Plan(50, 0.020, 0.100)
SHORT = Plan(10, 0.020, 0.100)
WARM = Plan(5, 0.0, 0.0)


def slow_plan(delay: float, seconds: float) -> Plan:
    """model-1000's slow model: one piece every `delay` seconds for about `seconds`."""
    return Plan(max(1, round(seconds / delay)), delay, delay)


@dataclass(frozen=True)
class ModelLoad:
    """What the model scenarios need: the server (started with extra environment), the gRPC
    target, a token, the PostgreSQL postmaster's pid and the load settings."""

    server: Callable[[dict[str, str]], AbstractContextManager[Any]]
    target: str
    token: str
    postgres_pid: int
    seconds: float
    warmup: float
    concurrency: int
    streams: int
    slow: Plan  # what the fake streams in model-1000
    ramp: float  # seconds over which model-1000 opens its streams
    connections: int  # gRPC connections model-1000's client spreads its streams over
    server_log: Path  # where the server started by `server` writes its log


# -- the client, in its own process -----------------------------------------------------------


@dataclass(frozen=True)
class StreamJob:
    """The streams one client process runs."""

    target: str
    token: str
    label: str  # goes into every stream's tag
    callers: int
    channels: int
    plan: Plan
    # Callers repeat streams until `start + repeat_for` (monotonic); 0: one stream each.
    repeat_for: float = 0.0
    ramp: float = 0.0  # seconds over which the callers start


@dataclass
class StreamRecord:
    """What the client saw of one stream (time.monotonic() seconds)."""

    tag: str
    sent: float
    deltas: list[float] = field(default_factory=list)
    completed: float | None = None
    error: str = ""


async def _one_stream(
    stub: Any, job: StreamJob, tag: str, metadata: Any, open_now: Any
) -> StreamRecord:
    expected = job.plan.texts()
    request = ses_pb.ConverseRequest(
        messages=[ses_pb.ConversationMessage(role=res_pb.user, content=f"[{tag}] {QUESTION}")]
    )
    record = StreamRecord(tag, time.monotonic())
    opened = False
    try:
        call = stub.Converse(request, metadata=metadata, timeout=CALL_TIMEOUT)
        async for event in call:
            now = time.monotonic()
            kind = event.WhichOneof("event")
            if kind == "delta":
                index = len(record.deltas)
                record.deltas.append(now)
                if index >= len(expected) or event.delta.text != expected[index]:
                    record.error = record.error or f"delta {index} is {event.delta.text!r}"
                if not opened:
                    opened = True
                    with open_now.get_lock():
                        open_now.value += 1
            elif kind == "completed":
                record.completed = now
            elif kind == "error":
                record.error = f"error event: {event.error.message}"
    except grpc.aio.AioRpcError as exc:
        record.error = f"{exc.code().name}: {exc.details()}"
    except Exception as exc:  # noqa: BLE001 - every failure of a stream is counted, not raised
        record.error = f"{type(exc).__name__}: {exc}"
    finally:
        if opened:
            with open_now.get_lock():
                open_now.value -= 1
    if not record.error and (record.completed is None or len(record.deltas) != len(expected)):
        record.error = (
            f"{len(record.deltas)} of {len(expected)} deltas, "
            f"{'completed' if record.completed else 'no completed event'}"
        )
    return record


async def _run_streams(
    job: StreamJob, ready: Any, go: Any, start: Any, open_now: Any
) -> list[StreamRecord]:
    options = [("grpc.use_local_subchannel_pool", 1)]  # one connection per channel
    channels = [grpc.aio.insecure_channel(job.target, options=options) for _ in range(job.channels)]
    metadata = (("authorization", f"Bearer {job.token}"),)
    records: list[StreamRecord] = []
    try:
        await asyncio.gather(*(c.channel_ready() for c in channels))
        stubs = [ses_grpc.SessionServiceStub(c) for c in channels]  # type: ignore[no-untyped-call]
        ready.release()
        await asyncio.to_thread(go.wait)
        begin = start.value

        async def caller(i: int) -> None:
            stub = stubs[i % len(stubs)]
            if job.ramp:
                await asyncio.sleep(max(0.0, begin + job.ramp * i / job.callers - time.monotonic()))
            n = 0
            while True:
                tag = f"bench-{job.label}-{i}.{n}"
                records.append(await _one_stream(stub, job, tag, metadata, open_now))
                n += 1
                if time.monotonic() >= begin + job.repeat_for:
                    return

        await asyncio.gather(*(caller(i) for i in range(job.callers)))
        return records
    finally:
        await asyncio.gather(*(c.close(None) for c in channels))


def _client_main(job: StreamJob, ready: Any, go: Any, start: Any, open_now: Any, out: Any) -> None:
    out.put(asyncio.run(_run_streams(job, ready, go, start, open_now)))


class StreamClient:
    """One client process running `job`; `go()` starts it, `records()` waits for the end."""

    def __init__(self, job: StreamJob) -> None:
        ctx = mp.get_context("spawn")
        self._ready, self._go, self._out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
        self.start = ctx.Value("d", 0.0)
        self.open_now = ctx.Value("i", 0)
        self.process = ctx.Process(
            target=_client_main,
            args=(job, self._ready, self._go, self.start, self.open_now, self._out),
            daemon=True,
        )
        self.process.start()
        if not self._ready.acquire(timeout=60):
            self.process.kill()
            raise RuntimeError("the client process did not connect within 60 s")

    def go(self) -> float:
        self.start.value = time.monotonic()
        self._go.set()
        return float(self.start.value)

    def records(self, timeout: float) -> list[StreamRecord]:
        try:
            records: list[StreamRecord] = self._out.get(timeout=timeout)
            return records
        finally:
            self.process.join(10)
            if self.process.is_alive():
                self.process.kill()


def _cpu_window(h: ModelLoad, server_pid: int, client: StreamClient, fake: Any) -> CpuWindow:
    """The CPU window of a model scenario: server, PostgreSQL, the client and the fake."""
    return CpuWindow(
        {
            "server": [server_pid],
            "postgres": [h.postgres_pid],
            "client": [client.process.pid or 0],
            "fake": [fake.process.pid or 0],
        }
    )


@dataclass
class Latencies:
    """Milliseconds the service added, per measure (see the module's docstring)."""

    to_model: list[float] = field(default_factory=list)
    first: list[float] = field(default_factory=list)
    later: list[float] = field(default_factory=list)
    store: list[float] = field(default_factory=list)
    model_ttft: list[float] = field(default_factory=list)  # the fake's own, as a check

    def add(self, record: StreamRecord, sent: Sent) -> None:
        ms = 1000.0
        self.to_model.append(ms * (sent.received_at - record.sent))
        if sent.sent_at:
            self.model_ttft.append(ms * (sent.sent_at[0] - sent.received_at))
        pairs = list(zip(record.deltas, sent.sent_at, strict=False))
        if pairs:
            self.first.append(ms * (pairs[0][0] - pairs[0][1]))
            self.later.extend(ms * (got - left) for got, left in pairs[1:])
        if record.completed is not None and sent.ended_at is not None:
            self.store.append(ms * (record.completed - sent.ended_at))

    def figures(self) -> dict[str, float]:
        """p50 and p99 of each measure, in milliseconds."""
        keys = ("to_model", "first_delta", "later_delta", "completed")
        return {
            f"{key}_{name}_ms": percentile(values, q)
            for key, (_, values) in zip(keys, self.rows(), strict=True)
            for name, q in (("p50", 0.5), ("p99", 0.99))
        }

    def rows(self) -> list[tuple[str, list[float]]]:
        return [
            ("request -> model call", self.to_model),
            ("first piece -> first delta", self.first),
            ("later piece -> its delta", self.later),
            ("model's end -> completed", self.store),
        ]


@dataclass
class StreamResult:
    """One model-stream window."""

    name: str
    plan: Plan
    streams: int
    tokens: int
    turns: int
    seconds: float
    cpu: CpuWindow
    latencies: Latencies
    errors: list[str]
    load: float  # the 1-minute load average at the window's end

    def per_token_ms(self, group: str) -> float:
        return 1000 * self.cpu.used.get(group, 0.0) / self.tokens if self.tokens else float("nan")

    def per_turn_ms(self, group: str) -> float:
        return 1000 * self.cpu.used.get(group, 0.0) / self.turns if self.turns else float("nan")

    def figures(self) -> dict[str, Any]:
        return {
            "streams": self.streams,
            "tokens": self.tokens,
            "turns": self.turns,
            "seconds": self.seconds,
            "tokens_per_s": self.tokens / self.seconds if self.seconds else float("nan"),
            "server_cpu_ms_per_token": self.per_token_ms("server"),
            "server_cpu_ms_per_turn": self.per_turn_ms("server"),
            "postgres_cpu_ms_per_turn": self.per_turn_ms("postgres"),
            "errors": len(self.errors),
            "load": self.load,
            **self.latencies.figures(),
        }


@dataclass
class ManyResult:
    """The many-open-streams run."""

    streams: int
    peak_open: int
    idle: Memory
    during: Memory  # the largest sample while the most streams were open
    after: Memory
    workers: int
    cpu: CpuWindow  # while the most streams were open
    tokens_in_window: int
    latencies: Latencies
    errors: list[str]
    ramp: float
    plan: Plan
    load: tuple[float, float, float]
    # Everything seen, for a closer look: the client's records, and the fake's by tag.
    split: list[int] = field(default_factory=list)  # gRPC connections per worker
    records: list[StreamRecord] = field(default_factory=list, repr=False)
    sent: dict[str, Sent] = field(default_factory=dict, repr=False)

    def figures(self) -> dict[str, Any]:
        per_stream = max(1, self.peak_open)
        return {
            "streams": self.streams,
            "peak_open": self.peak_open,
            "failed": len(self.errors),
            "rss_idle_bytes": self.idle.rss,
            "rss_open_bytes": self.during.rss,
            "rss_after_bytes": self.after.rss,
            "rss_per_open_stream_bytes": (self.during.rss - self.idle.rss) / per_stream,
            "uss_per_open_stream_bytes": (self.during.uss - self.idle.uss) / per_stream,
            "server_cpu_share_open": self.cpu.share("server"),
            **self.latencies.figures(),
        }


def _errors(
    records: list[StreamRecord], sent: dict[str, Sent], fake_errors: list[str]
) -> list[str]:
    errors = [f"{r.tag}: {r.error}" for r in records if r.error]
    errors += [f"{r.tag}: the fake saw no request" for r in records if r.tag not in sent]
    errors += [f"fake model server: {e}" for e in fake_errors]
    return errors


# -- model-stream -----------------------------------------------------------------------------


def run_stream_window(
    h: ModelLoad, fake: FakeModel, server_pid: int, name: str, plan: Plan
) -> StreamResult:
    """BENCH_CONCURRENCY callers repeat streams of `plan`; CPU and latencies over the window."""
    fake.stream(plan)
    job = StreamJob(
        h.target,
        h.token,
        label=name.replace(" ", ""),
        callers=h.concurrency,
        channels=h.concurrency,
        plan=plan,
        repeat_for=h.warmup + h.seconds,
    )
    client = StreamClient(job)
    cpu = _cpu_window(h, server_pid, client, fake)
    start = client.go()
    begin, end = start + h.warmup, start + h.warmup + h.seconds
    time.sleep(max(0.0, begin - time.monotonic()))
    cpu.begin()
    time.sleep(max(0.0, end - time.monotonic()))
    cpu.end()
    load = os.getloadavg()[0]
    records = client.records(timeout=CALL_TIMEOUT + 60)
    sent, fake_errors = fake.collect()
    latencies = Latencies()
    for record in records:
        if record.sent >= begin and not record.error and record.tag in sent:
            latencies.add(record, sent[record.tag])
    return StreamResult(
        name,
        plan,
        streams=len(records),
        tokens=sum(1 for r in records for t in r.deltas if begin <= t <= end),
        turns=sum(1 for r in records if r.completed is not None and begin <= r.completed <= end),
        seconds=cpu.seconds,
        cpu=cpu,
        latencies=latencies,
        errors=_errors(records, sent, fake_errors),
        load=load,
    )


def _warm_up(h: ModelLoad, fake: FakeModel, seconds: float = 3.0) -> None:
    """Quick streams for a few seconds: lazy imports, pools and the first full garbage
    collections are then not counted as the streams' time, CPU or memory."""
    fake.stream(WARM)
    job = StreamJob(h.target, h.token, "warm", 16, 16, WARM, repeat_for=seconds)
    client = StreamClient(job)
    client.go()
    records = client.records(timeout=CALL_TIMEOUT + 60)
    fake.collect()
    failed = [r for r in records if r.error]
    if failed:
        raise RuntimeError(f"warm-up streams failed: {failed[0].tag}: {failed[0].error}")


# -- model-1000 -------------------------------------------------------------------------------


def run_many(h: ModelLoad, fake: FakeModel, server_pid: int) -> ManyResult:
    """h.streams slow streams opened over h.ramp seconds; memory idle, while open, and after."""
    plan, ramp = h.slow, h.ramp
    _warm_up(h, fake)
    time.sleep(1.0)
    idle = _median_memory(server_pid)
    fake.stream(plan)
    job = StreamJob(
        h.target,
        h.token,
        label="many",
        callers=h.streams,
        channels=max(1, min(h.connections, h.streams)),
        plan=plan,
        ramp=ramp,
    )
    client = StreamClient(job)
    cpu = _cpu_window(h, server_pid, client, fake)
    start = client.go()
    # Every half second: streams open, CPU so far, the workers' memory.
    series: list[tuple[int, CpuReading, Memory]] = []
    split: list[int] = []
    deadline = start + ramp + plan.first_delay + plan.pieces * plan.delay + CALL_TIMEOUT
    while client.process.is_alive() and time.monotonic() < deadline:
        time.sleep(0.5)
        open_now = int(client.open_now.value)
        series.append((open_now, cpu.read(), worker_memory(server_pid)))
        if not split and time.monotonic() > start + ramp:
            split = connections_per_worker(server_pid, int(h.target.rsplit(":", 1)[1]))
        if not open_now and max(n for n, _, _ in series):
            break
    peak = max((n for n, _, _ in series), default=0)
    at_peak = [(reading, memory) for n, reading, memory in series if n == peak and peak]
    during = max((memory for _, memory in at_peak), key=lambda m: m.rss, default=Memory(0, 0))
    window = (at_peak[0][0][0], at_peak[-1][0][0]) if at_peak else (0.0, 0.0)
    if len(at_peak) >= 2:
        cpu.between(at_peak[0][0], at_peak[-1][0])
    load = os.getloadavg()
    records = client.records(timeout=CALL_TIMEOUT + 60)
    time.sleep(2.0)
    after = _median_memory(server_pid)
    sent, fake_errors = fake.collect()
    latencies = Latencies()
    for record in records:
        if not record.error and record.tag in sent:
            latencies.add(record, sent[record.tag])
    return ManyResult(
        streams=len(records),
        peak_open=peak,
        idle=idle,
        during=during,
        after=after,
        workers=len(process_tree(server_pid)) - 1,
        cpu=cpu,
        tokens_in_window=sum(1 for r in records for t in r.deltas if window[0] <= t <= window[1]),
        latencies=latencies,
        errors=_errors(records, sent, fake_errors),
        ramp=ramp,
        plan=plan,
        load=load,
        split=split,
        records=records,
        sent=sent,
    )


def _median_memory(server_pid: int, samples: int = 3) -> Memory:
    taken = []
    for _ in range(samples):
        taken.append(worker_memory(server_pid))
        time.sleep(0.2)
    taken.sort(key=lambda m: m.rss)
    return taken[len(taken) // 2]


# -- the run ------------------------------------------------------------------------------------


@dataclass
class ModelResults:
    """What the model scenarios measured (None: not run)."""

    load: ModelLoad
    streams: list[StreamResult] = field(default_factory=list)
    many: ManyResult | None = None

    @property
    def ok(self) -> bool:
        many_ok = self.many is None or (
            not self.many.errors and self.many.peak_open == self.load.streams
        )
        return many_ok and not any(r.errors for r in self.streams)


def run(h: ModelLoad, names: tuple[str, ...]) -> ModelResults:
    """Runs the chosen model scenarios on a server pointed at the fake."""
    out = ModelResults(h)
    with fake_model() as fake:
        env = {
            "AGENT_SESSIONS_AGENT": "openai",
            "AGENT_SESSIONS_MODEL_BASE_URL": fake.base_url,
            "AGENT_SESSIONS_MODEL_API_KEY": API_KEY,
            "AGENT_SESSIONS_MODEL": MODEL,
            # A failure shows as a failed stream, not as a silent retry.
            "AGENT_SESSIONS_MODEL_MAX_RETRIES": "0",
            "AGENT_SESSIONS_MODEL_TIMEOUT": str(int(CALL_TIMEOUT)),
            # One bench user holds every stream (model-1000: 1,000 at once); the per-user limit
            # on turns running or queued (32 by default) would refuse all but the first ones.
            "AGENT_SESSIONS_MAX_TURNS_PER_USER": str(max(h.streams, h.concurrency) + 16),
        }
        say(f"fake model API at {fake.base_url} (pid {fake.process.pid}); model {MODEL}")
        with h.server(env) as server:
            if "model-stream" in names:
                # The first turns after a start pay for lazy imports and a few full garbage
                # collections (100-150 ms each); they are not what a stream costs.
                _warm_up(h, fake)
                for name, plan in (
                    (f"model-stream ({FAST.pieces})", FAST),
                    (f"model-stream ({SHORT.pieces})", SHORT),
                ):
                    say(f"{name}: {h.concurrency} streams of {plan.describe()}")
                    result = run_stream_window(h, fake, server.pid, name, plan)
                    say(
                        f"  {result.tokens / result.seconds:.0f} tokens/s, "
                        f"{result.turns / result.seconds:.1f} turns/s; {result.cpu.describe()}"
                    )
                    out.streams.append(result)
            if "model-1000" in names:
                say(f"model-1000: {h.streams:,} streams of {h.slow.describe()}")
                out.many = run_many(h, fake, server.pid)
                say(f"  {out.many.peak_open:,} open at once; {len(out.many.errors)} failed")
    return out
