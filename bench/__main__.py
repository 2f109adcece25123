"""`make bench` (python -m bench): the gRPC API, REST through Envoy and model streaming, measured
on a throw-away PostgreSQL against pgbench on the same database, and, with BENCH_ANCHOR, REST
against a comparison server under the same load.

In order:

1. a fresh embedded PostgreSQL in a temporary folder, migrated;
2. `agent-sessions serve` (AGENT_SESSIONS_WORKERS processes on one port) once it answers
   SERVING; the gRPC scenarios' sessions, two pre-filled with 10,000 and 10 messages by SQL;
3. pgbench's one-row, message-sized INSERT: the database's own insert rate (the baseline);
4. the gRPC scenarios (bench/grpc_scenarios.py), each CONCURRENCY callers for BENCH_SECONDS
   after BENCH_WARMUP;
5. sdk-add-items (bench/sdk_scenarios.py): the Agents SDK's `Session.add_items` (2 items) from
   1, 8 and 32 asyncio tasks (whatever BENCH_CONCURRENCY), through this client's
   AgentSessionsSession and through the SDK's own SQLAlchemySession (psycopg async, a database
   of its own), interleaved; items/s and their ratio;
6. the REST scenarios (bench/rest_scenarios.py) through the real Envoy with wrk; with
   BENCH_ANCHOR=DIR, DIR/run.sh is started too (`DATABASE_URL=… JWT_SECRET=… PORT=… WORKERS=…`,
   a database of its own on the same PostgreSQL, the same JWT secret and token) and every REST
   scenario runs on this service and on the anchor in turn, BENCH_ANCHOR_ROUNDS times (A, B,
   A, B, …), so that the VM's drift hits both; each round gives a ratio of req/s;
7. pgbench again (the baseline is both windows together: the VM's speed drifts);
8. the model scenarios (bench/model_scenarios.py) on a server restarted with its OpenAI agent
   pointed at the tests' fake model API;
9. the live-turn scenarios (bench/live_scenarios.py) on two replicas of one worker each:
   live-watch, delivery latency from a CreateMessage through replica A to 1,000 WatchSession
   streams on replica B (and to 100 watchers of one session), and memory per open watch;
   live-resume, time to the first event of ResumeTurn on B for a detached turn running on A;
10. last, chaos-worker-kill and chaos-postgres-crash (bench/chaos.py): 8 retrying writers for
   30 s on a server of its own while one of its workers is SIGKILLed at 10 s (the supervisor
   starts another), then while PostgreSQL is crashed (pg_ctl -m immediate stop) at 10 s and
   started 5 s later; every write must be stored exactly once with the id it was answered with
   (part of the default run; the crash waits until PostgreSQL is back before it counts).

Then it prints every table (bench/report.py), writes every raw figure to
bench/results/<UTC start>-<commit>.json and prints a short summary. It fails (exit 1) when any
call failed, or when a chaos scenario lost a write, stored one twice or answered one with
another row's id. CPU per call is read from the processes' own counters over each measured window
(bench/measure.py).

Settings (all optional):
  BENCH_SECONDS        measured seconds per scenario (default 10)
  BENCH_WARMUP         warm-up seconds before each measurement (default 2)
  BENCH_CONCURRENCY    concurrent callers / connections (default 16)
  BENCH_SCENARIOS      comma-separated scenario names (default all), e.g. append-message,
                       rest-create-session, model-stream,model-1000, sdk-add-items,
                       live-watch, live-resume, chaos-worker-kill or chaos-postgres-crash
  BENCH_CLIENT         h2load (default when installed; `make bench` installs it) or python
  BENCH_CLIENT_PROCS   Python client processes the gRPC callers are spread over (default 1)
  BENCH_REST_THREADS   wrk threads the REST connections are spread over (default 2)
  BENCH_ENVOY_NO_LUA   1: Envoy without the Lua request validator (to measure what it costs)
  BENCH_ANCHOR         a folder with a run.sh serving the same REST API to compare with
  BENCH_ANCHOR_ROUNDS  interleaved rounds per REST scenario with an anchor (default 3)
  BENCH_RESULTS        folder of the results files (default bench/results)
  BENCH_MODEL_STREAMS  streams open at once in model-1000 (default 1000)
  BENCH_MODEL_DELAY    seconds between the pieces of model-1000's slow model (default 2)
  BENCH_MODEL_LENGTH   seconds each model-1000 stream lasts (default 30)
  BENCH_MODEL_RAMP     seconds over which model-1000 opens its streams (default 10)
  BENCH_MODEL_CONNECTIONS  gRPC connections model-1000's streams share (default 200)
  BENCH_WATCHERS       live-watch: watches open on replica B, one per session (default 1000)
  BENCH_WATCH_RATE     live-watch: writes/s through replica A over those sessions (default 50)
  BENCH_WATCH_HOT      live-watch: watchers of one session (default 100; 0 skips that part)
  BENCH_WATCH_HOT_RATE live-watch: writes/s to that session (default 10)
  BENCH_SDK_CONCURRENCIES  sdk-add-items: asyncio task counts (default 1,8,32)
  BENCH_RESUME_TRIES   live-resume: detached turns resumed on the other replica (default 30)
  AGENT_SESSIONS_WORKERS  server worker processes (default: the CPU count; the anchor gets as
                       many)
"""

from __future__ import annotations

import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    chaos,
    grpc_scenarios,
    live_scenarios,
    model_scenarios,
    pgbench,
    report,
    rest_scenarios,
    sdk_scenarios,
)
from bench.config import Config
from bench.harness import (
    BIG,
    GRPC_PORT,
    ROOT,
    SMALL,
    TARGET,
    anchor_server,
    check_lists,
    create_grpc_sessions,
    embedded_postgres,
    envoy,
    grpc_server,
    mint,
    plan_latest_50,
    prefill,
    prefill_labelled,
    require_free_port,
)
from bench.measure import say
from bench.report import Run


def chosen(names: str) -> tuple[tuple[str, ...], ...]:
    """The gRPC, SDK, REST, model, live and chaos scenarios named in BENCH_SCENARIOS (all when
    empty), in the order they run."""
    # Split on commas, but not the thousands separators inside names like "(10,000)".
    wanted = [n.strip() for n in re.split(r",(?!\d{3}\))", names) if n.strip()]
    every = (
        grpc_scenarios.NAMES,
        sdk_scenarios.NAMES,
        rest_scenarios.NAMES,
        model_scenarios.NAMES,
        live_scenarios.NAMES,
        chaos.NAMES,
    )
    if not wanted:
        return every
    known = {n for group in every for n in group}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise SystemExit(
            f"BENCH_SCENARIOS: unknown {', '.join(unknown)}; "
            f"choose from {', '.join(n for group in every for n in group)}"
        )
    return tuple(tuple(n for n in group if n in wanted) for group in every)


def commit() -> str:
    """The short commit, with "+dirty" when the work tree differs from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    short = git("rev-parse", "--short", "HEAD") or "unknown"
    return short + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def run_rest(
    run: Run, names: tuple[str, ...], url: str, secret: str, token: str, work: Path, pids: Any
) -> None:
    """The REST scenarios through Envoy, each interleaved with the anchor's when there is one."""
    config = run.config
    if shutil.which("wrk") is None:
        run.rest_skipped = "wrk is not installed (`make bench` installs Debian's wrk)"
        say(f"REST scenarios skipped: {run.rest_skipped}")
        return
    server_pid, postgres_pid = pids
    anchoring = (
        anchor_server(config.anchor, url, secret, token, config.workers, work)
        if config.anchor
        else nullcontext()
    )
    with envoy(work, config.envoy_no_lua) as proxy, anchoring as anchor:
        run.envoy_concurrency = proxy.concurrency()
        say(f"Envoy is ready (concurrency {run.envoy_concurrency}); creating the REST sessions")
        rest_scenarios.create_sessions(proxy.http_port, token, big=False)
        targets = [
            rest_scenarios.Target(
                "agent-sessions",
                proxy.http_port,
                {"server": [server_pid], "envoy": [proxy.process.pid], "postgres": [postgres_pid]},
                grpc_port=GRPC_PORT,
                database_url=url,
            )
        ]
        if anchor is not None:
            run.anchor = str(anchor.directory)
            say(f"creating the anchor's sessions (and its {BIG:,}-message one, through REST)")
            rest_scenarios.create_sessions(anchor.port, token, big=True)
            targets.append(
                rest_scenarios.Target(
                    "anchor",
                    anchor.port,
                    {"server": [anchor.process.pid], "postgres": [postgres_pid]},
                )
            )
        rounds = config.anchor_rounds if anchor is not None else 1
        load = rest_scenarios.Load.of(config, token, work)
        run_id = f"{int(time.time()) % 100000}"
        for scenario in rest_scenarios.SCENARIOS:
            if scenario.name not in names:
                continue
            say(
                f"{scenario.name}: wrk, {config.concurrency} connections in "
                f"{config.rest_threads} threads, checked warm-up {config.warmup:g} s, "
                f"measuring {config.seconds:g} s"
                + (f"; {rounds} rounds, this service then the anchor" if rounds > 1 else "")
            )
            for round_ in range(rounds):
                for target in targets:
                    if target.name == "anchor" and not scenario.anchor:
                        continue
                    run.rest.append(
                        rest_scenarios.run_scenario(load, target, scenario, run_id, round_)
                    )


def run_api(
    run: Run,
    names: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]],
    url: str,
    handle: Any,
    secret: str,
    token: str,
    work: Path,
) -> None:
    """pgbench, the gRPC scenarios, the REST ones, pgbench again: one server, the mock agent."""
    config = run.config
    grpc_names, sdk_names, rest_names = names
    with grpc_server(url, secret, config.workers, work) as server:
        info = handle.get_postmaster_info()
        groups = {"server": [server.pid], "postgres": [info.pid]}
        say(
            f"creating {2 * config.concurrency + 2} sessions; "
            f"pre-filling {BIG:,} and {SMALL} messages"
        )
        create_grpc_sessions(token, config.concurrency)
        prefill(url, "big", BIG)
        prefill(url, "small", SMALL)
        prefill_labelled(url)
        check_lists(token)
        run.plans = {s: plan_latest_50(url, s) for s in ("big", "small")}
        socket_dir = str(info.socket_dir)
        run.pgbench.append(
            pgbench.run_pgbench(url, socket_dir, config, work, groups, "pgbench before")
        )
        for scenario in grpc_scenarios.SCENARIOS:
            if scenario.name in grpc_names:
                run.grpc.append(grpc_scenarios.run(scenario, config, token, groups, work))
        if sdk_names:
            run.sdk = sdk_scenarios.run(config, url, token, groups)
        if rest_names:
            run_rest(run, rest_names, url, secret, token, work, (server.pid, info.pid))
        run.pgbench.append(
            pgbench.run_pgbench(url, socket_dir, config, work, groups, "pgbench after")
        )


def run_model(
    run: Run, names: tuple[str, ...], url: str, handle: Any, secret: str, token: str, work: Path
) -> None:
    config = run.config
    load = model_scenarios.ModelLoad(
        server=lambda env: grpc_server(url, secret, config.workers, work, env, "server-model.log"),
        target=TARGET,
        token=token,
        postgres_pid=handle.get_postmaster_info().pid,
        seconds=config.seconds,
        warmup=config.warmup,
        concurrency=config.concurrency,
        streams=config.model_streams,
        slow=model_scenarios.slow_plan(config.model_delay, config.model_length),
        ramp=config.model_ramp,
        connections=config.model_connections,
        server_log=work / "server-model.log",
    )
    run.model = model_scenarios.run(load, names)


def run_live(
    run: Run, names: tuple[str, ...], url: str, handle: Any, secret: str, work: Path
) -> None:
    config = run.config
    load = live_scenarios.LiveLoad(
        url=url,
        secret=secret,
        work=work,
        postgres_pid=handle.get_postmaster_info().pid,
        seconds=config.seconds,
        watchers=config.watchers,
        rate=config.watch_rate,
        hot=config.watch_hot,
        hot_rate=config.watch_hot_rate,
        resume_tries=config.resume_tries,
    )
    run.live = live_scenarios.run(load, names)


def main() -> int:
    config = Config.from_env()
    grpc_names, sdk_names, rest_names, model_names, live_names, chaos_names = chosen(
        config.scenarios
    )
    require_free_port()
    # A SIGTERM unwinds like Ctrl-C, so the servers and PostgreSQL are still stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run = Run(config, datetime.now(UTC), commit())
    work = Path(tempfile.mkdtemp(prefix="agent-sessions-bench-"))
    secret = secrets.token_urlsafe(32)
    token = mint(secret)
    try:
        with embedded_postgres(work) as (url, handle):
            if grpc_names or sdk_names or rest_names:
                names = (grpc_names, sdk_names, rest_names)
                run_api(run, names, url, handle, secret, token, work)
            if model_names:
                run_model(run, model_names, url, handle, secret, token, work)
            if live_names:
                run_live(run, live_names, url, handle, secret, work)
            if chaos_names:
                # Last: it crashes and restarts PostgreSQL.
                for name in chaos_names:
                    run.chaos.append(
                        chaos.run(url, handle, secret, token, config.workers, work, name)
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ok = report.print_report(run)
    path = report.write_results(run)
    report.print_summary(run, path)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
