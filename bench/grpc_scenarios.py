"""The gRPC scenarios: CONCURRENCY callers repeat one call straight to the server's port, each
on a session of its own, from h2load (a C HTTP/2 load generator, one process per caller) or from
Python grpc.aio client processes (BENCH_CLIENT=python)."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from agentsessions.v1 import message_service_pb2 as msg_pb
from agentsessions.v1 import message_service_pb2_grpc as msg_grpc
from agentsessions.v1 import resources_pb2 as res_pb
from agentsessions.v1 import session_service_pb2 as ses_pb
from agentsessions.v1 import session_service_pb2_grpc as ses_grpc

from bench.config import Config
from bench.harness import BIG, CONTENT, LABELLED, SMALL, TARGET
from bench.measure import CpuWindow, percentile, say

GROUPS = ("client", "server", "postgres")  # the process groups whose CPU is measured


@dataclass(frozen=True)
class Scenario:
    """One gRPC workload: which call, on which session (`{i}` is the caller's number)."""

    name: str
    call: str
    session: str
    page_size: int = 50
    labels: tuple[str, ...] = ()


SCENARIOS = (
    Scenario("append-message", "CreateMessage", "bench-{i}"),
    Scenario("get-session", "GetSession", "bench-{i}"),
    Scenario(f"list-latest-50 ({BIG:,})", "ListMessages", "big"),
    Scenario(f"list-latest-50 ({SMALL:,})", "ListMessages", "small"),
    # The same 10 messages per answer as the line above, out of the 10,000-message session.
    Scenario(f"list-latest-10 ({BIG:,})", "ListMessages", "big", page_size=SMALL),
    Scenario("conversation", "Conversation", "conv-{i}"),
    # A page of the newest sessions, unfiltered, and of those that have two labels (1% of
    # LABELLED, found through the GIN index).
    Scenario(f"list-sessions ({LABELLED:,})", "ListSessions", ""),
    Scenario(
        f"list-sessions-2-labels ({LABELLED:,})",
        "ListSessions",
        "",
        labels=("team:search", "tier:gold"),
    ),
)
NAMES = tuple(s.name for s in SCENARIOS)


@dataclass
class Result:
    """What one workload (or pgbench) measured; latencies in seconds."""

    name: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int = 0
    first_error: str = ""
    cpu: CpuWindow = field(default_factory=lambda: CpuWindow({}))

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def ms(self, q: float) -> float:
        """Latency percentile in milliseconds."""
        return 1000 * percentile(self.latencies, q)

    def cpu_ms(self, group: str) -> float:
        return self.cpu.ms_per_call(group, self.rate)

    def figures(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": self.seconds,
            "req_per_s": self.rate,
            "p50_ms": self.ms(0.5),
            "p99_ms": self.ms(0.99),
            "errors": self.errors,
            **self.cpu.figures(self.rate),
        }


def request(scenario: Scenario, index: int) -> Any:
    """The request caller `index` repeats."""
    session_id = scenario.session.format(i=index)
    user = res_pb.Role.Value("user")
    if scenario.call == "CreateMessage":
        return msg_pb.CreateMessageRequest(session_id=session_id, role=user, content=CONTENT)
    if scenario.call == "GetSession":
        return ses_pb.GetSessionRequest(session_id=session_id)
    if scenario.call == "ListMessages":
        return msg_pb.ListMessagesRequest(
            session_id=session_id, page_size=scenario.page_size, order="desc"
        )
    if scenario.call == "ListSessions":
        return ses_pb.ListSessionsRequest(page_size=scenario.page_size, label=scenario.labels)
    if scenario.call == "Conversation":
        return ses_pb.ConversationRequest(
            session_id=session_id, messages=[ses_pb.ConversationMessage(role=user, content=CONTENT)]
        )
    raise ValueError(f"unknown call {scenario.call}")


SERVICE_OF = {
    "CreateMessage": "MessageService",
    "ListMessages": "MessageService",
    "GetSession": "SessionService",
    "Conversation": "SessionService",
    "ListSessions": "SessionService",
}


def path_of(scenario: Scenario) -> str:
    return f"/agentsessions.v1.{SERVICE_OF[scenario.call]}/{scenario.call}"


# -- Python client processes --------------------------------------------------------------------


@dataclass(frozen=True)
class ClientJob:
    """The callers one client process runs, and the measured window's length."""

    scenario: Scenario
    callers: tuple[int, ...]
    token: str
    warmup: float
    seconds: float


def _make_call(
    channel: grpc.aio.Channel, job: ClientJob, index: int
) -> Callable[[], Awaitable[Any]]:
    """The call caller `index` repeats, bound to its own channel."""
    metadata = (("authorization", f"Bearer {job.token}"),)
    message = request(job.scenario, index)
    stubs = {
        "MessageService": msg_grpc.MessageServiceStub(channel),
        "SessionService": ses_grpc.SessionServiceStub(channel),
    }
    method = getattr(stubs[SERVICE_OF[job.scenario.call]], job.scenario.call)
    return lambda: method(message, metadata=metadata)


@dataclass
class Tally:
    """One client process's share of a Result."""

    requests: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""


async def _caller(
    call: Callable[[], Awaitable[Any]], begin: float, end: float, tally: Tally
) -> None:
    """Calls back to back until `end`; counts the calls that complete inside [begin, end]."""
    while time.time() < end:
        started = time.perf_counter()
        try:
            await call()
        except grpc.aio.AioRpcError as exc:
            if begin <= time.time() <= end:
                tally.errors += 1
                tally.first_error = tally.first_error or f"{exc.code().name}: {exc.details()}"
            continue
        elapsed = time.perf_counter() - started
        if begin <= time.time() <= end:
            tally.requests += 1
            tally.latencies.append(elapsed)


async def _run_client(job: ClientJob, ready: Any, go: Any, start: Any) -> Tally:
    # One connection per caller: channels to the same target otherwise share one subchannel.
    channels = [
        grpc.aio.insecure_channel(TARGET, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in job.callers
    ]
    try:
        await asyncio.gather(*(c.channel_ready() for c in channels))
        calls = [_make_call(c, job, i) for c, i in zip(channels, job.callers, strict=True)]
        ready.release()
        await asyncio.to_thread(go.wait)
        begin = start.value + job.warmup
        tally = Tally()
        await asyncio.gather(*(_caller(c, begin, begin + job.seconds, tally) for c in calls))
        return tally
    finally:
        await asyncio.gather(*(c.close(None) for c in channels))


def client_process(job: ClientJob, ready: Any, go: Any, start: Any, results: Any) -> None:
    """Entry point of one client process: runs its callers, puts its Tally on `results`."""
    results.put(asyncio.run(_run_client(job, ready, go, start)))


def run_python(
    scenario: Scenario, config: Config, token: str, groups: dict[str, list[int]]
) -> Result:
    """Runs one scenario in `config.client_procs` processes and merges what they measured.
    Measured on 2 cores, one client process spends ~0.3 ms CPU per call, so one is the default."""
    ctx = mp.get_context("spawn")
    ready, go, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    start = ctx.Value("d", 0.0)
    shares = [
        tuple(range(config.concurrency))[p :: config.client_procs]
        for p in range(config.client_procs)
    ]
    procs = [
        ctx.Process(
            target=client_process,
            args=(
                ClientJob(scenario, share, token, config.warmup, config.seconds),
                ready,
                go,
                start,
                results,
            ),
            daemon=True,
        )
        for share in shares
    ]
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            if not ready.acquire(timeout=60):
                raise RuntimeError("a client process did not connect within 60 s")
        start.value = time.time()
        go.set()
        cpu = CpuWindow({**groups, "client": [p.pid for p in procs if p.pid is not None]})
        time.sleep(max(0.0, start.value + config.warmup - time.time()))
        cpu.begin()
        time.sleep(max(0.0, start.value + config.warmup + config.seconds - time.time()))
        cpu.end()
        tallies: list[Tally] = [results.get(timeout=60) for _ in procs]
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    return Result(
        scenario.name,
        requests=sum(t.requests for t in tallies),
        seconds=config.seconds,
        latencies=[x for t in tallies for x in t.latencies],
        errors=sum(t.errors for t in tallies),
        first_error=next((t.first_error for t in tallies if t.first_error), ""),
        cpu=cpu,
    )


# -- h2load -------------------------------------------------------------------------------------


def run_h2load(
    scenario: Scenario, config: Config, token: str, groups: dict[str, list[int]], work: Path
) -> Result:
    """Runs one scenario with h2load, one process (one connection) per caller.

    A Python gRPC client spends ~0.25-0.3 ms of CPU per call, on the same two cores the server
    and PostgreSQL need; h2load spends a tenth of that, as pgbench does for the baseline. gRPC
    answers errors inside HTTP 200 (in trailers, which h2load does not read), so each request is
    first sent once through a real gRPC stub and must succeed. h2load sends one body per process,
    and each caller appends to a session of its own; the callers of one process would share a
    session and queue on its row lock.
    """
    path = path_of(scenario)
    metadata = (("authorization", f"Bearer {token}"),)
    with grpc.insecure_channel(TARGET) as channel:
        check = channel.unary_unary(path)
        for i in range(config.concurrency):
            check(request(scenario, i).SerializeToString(), metadata=metadata, timeout=30)
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    launched = time.time()
    for i in range(config.concurrency):
        body = request(scenario, i).SerializeToString()
        body_file = work / f"h2load-{i}.bin"
        body_file.write_bytes(b"\0" + len(body).to_bytes(4, "big") + body)  # gRPC framing
        log = work / f"h2load-{i}.log"
        log.unlink(missing_ok=True)
        logs.append(log)
        procs.append(
            subprocess.Popen(
                [
                    *("h2load", "-c", "1", "-m", "1", "-D", f"{config.seconds:g}"),
                    f"--warm-up-time={config.warmup:g}",
                    *("-d", str(body_file)),
                    *("-H", "content-type: application/grpc", "-H", "te: trailers"),
                    *("-H", f"authorization: Bearer {token}"),
                    f"--log-file={log}",
                    f"http://{TARGET}{path}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    # The CPU window starts half a second into the measured time and ends half a second before
    # it, so that connecting and stopping are not counted.
    cpu = CpuWindow({**groups, "client": [p.pid for p in procs]})
    time.sleep(max(0.0, launched + config.warmup + 0.5 - time.time()))
    cpu.begin()
    time.sleep(config.seconds - 1.0)
    cpu.end()
    for proc in procs:
        proc.wait(config.seconds + config.warmup + 30)
    latencies: list[float] = []
    errors = 0
    for log in logs:
        for line in log.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) < 3:
                continue
            if fields[1] == "200":
                latencies.append(int(fields[2]) / 1e6)
            else:
                errors += 1
    return Result(
        scenario.name,
        requests=len(latencies),
        seconds=config.seconds,
        latencies=latencies,
        errors=errors,
        first_error=f"{errors} HTTP errors" if errors else "",
        cpu=cpu,
    )


def run(
    scenario: Scenario, config: Config, token: str, groups: dict[str, list[int]], work: Path
) -> Result:
    where = (
        "h2load processes"
        if config.client == "h2load"
        else f"callers in {config.client_procs} Python client process(es)"
    )
    say(
        f"{scenario.name}: {config.concurrency} {where}, "
        f"warm-up {config.warmup:g} s, measuring {config.seconds:g} s"
    )
    if config.client == "h2load":
        result = run_h2load(scenario, config, token, groups, work)
    else:
        result = run_python(scenario, config, token, groups)
    say(f"  {result.rate:.0f} req/s; {result.cpu.describe()}")
    return result
