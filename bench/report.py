"""The one report: the tables printed after a run, the results file (every raw figure, as JSON)
and the short summary printed last."""

from __future__ import annotations

import json
import math
import os
import re
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import grpc_scenarios, sdk_scenarios
from bench.chaos import ChaosResult
from bench.config import Config
from bench.grpc_scenarios import Result
from bench.harness import BIG, SMALL
from bench.live_scenarios import LiveResults
from bench.measure import CpuWindow, percentile
from bench.model_scenarios import Latencies, ManyResult, ModelLoad, ModelResults, StreamResult
from bench.rest_scenarios import TARGETS, RestResult
from bench.sdk_scenarios import SdkResults

TARGET_PERCENT = 15.0  # append-message's target, % of pgbench's insert TPS


@dataclass
class Run:
    """Everything one `make bench` measured."""

    config: Config
    started: datetime
    commit: str
    pgbench: list[Result] = field(default_factory=list)  # before and after the API scenarios
    grpc: list[Result] = field(default_factory=list)
    plans: dict[str, str] = field(default_factory=dict)
    rest: list[RestResult] = field(default_factory=list)
    rest_skipped: str = ""
    envoy_concurrency: str = "?"
    anchor: str = ""  # BENCH_ANCHOR's directory when the anchor ran
    model: ModelResults | None = None
    sdk: SdkResults | None = None
    live: LiveResults | None = None
    chaos: list[ChaosResult] = field(default_factory=list)

    def baseline(self) -> Result | None:
        """One baseline from the pgbench windows before and after the scenarios.

        This machine's speed drifts by up to ~10% within minutes (a shared VM); a baseline
        taken on both sides of the scenarios does not favour the scenarios that run first or
        last."""
        if not self.pgbench:
            return None
        cpu = CpuWindow({})
        cpu.seconds = sum(r.cpu.seconds for r in self.pgbench)
        for r in self.pgbench:
            for group, used in r.cpu.used.items():
                cpu.used[group] = cpu.used.get(group, 0.0) + used
        cpu.groups = dict.fromkeys(self.pgbench[0].cpu.groups, [])
        return Result(
            "pgbench insert",
            requests=sum(r.requests for r in self.pgbench),
            seconds=sum(r.seconds for r in self.pgbench),
            latencies=[x for r in self.pgbench for x in r.latencies],
            cpu=cpu,
        )

    def ours(self) -> list[RestResult]:
        return [r for r in self.rest if r.target == "agent-sessions"]


def _short(name: str) -> str:
    """rest-create-session -> create, rest-list-messages-50 -> list-50."""
    return {
        "rest-create-session": "create",
        "rest-append-message": "append",
        "rest-conversation": "conversation",
        "rest-get-session": "get",
        "rest-list-messages-50": "list-50",
        "rest-patch-session": "patch",
    }.get(name, name)


def _stack_ms(r: RestResult) -> float:
    """CPU ms per call of the serving stack: server, Envoy (this service) and PostgreSQL."""
    return sum(r.cpu_ms(g) for g in ("server", "envoy", "postgres") if g in r.cpu.groups)


def ratios(run: Run, cpu: bool = False) -> dict[str, list[float]]:
    """Per REST scenario and interleaved round: this service's req/s over the anchor's, or
    (`cpu`) the anchor's stack CPU per call over this service's. On a machine other work also
    keeps busy the two differ: the scheduler shares the cores by runnable threads, and this
    service (workers, grpc's threads, Envoy's) has more of them than the anchor."""
    out: dict[str, list[float]] = {}
    anchor = {(r.name, r.round): r for r in run.rest if r.target == "anchor"}
    for r in run.ours():
        other = anchor.get((r.name, r.round))
        if other is None:
            continue
        ratio = _stack_ms(other) / _stack_ms(r) if cpu else r.rate / other.rate
        if math.isfinite(ratio):
            out.setdefault(r.name, []).append(ratio)
    return out


# -- gRPC -----------------------------------------------------------------------------------------


def _print_append_target(baseline: Result, append: Result) -> None:
    """The append-message target line, and what it would be without the client's CPU."""
    percent = 100 * append.rate / baseline.rate
    met = percent >= TARGET_PERCENT
    print(
        f"append-message target: >= {TARGET_PERCENT:g}% of pgbench insert TPS -> "
        f"{percent:.1f}% ({'met' if met else 'NOT met'})"
    )
    cores = os.cpu_count() or 1
    own = append.cpu_ms("server") + append.cpu_ms("postgres")
    print(
        f"  without the client's CPU (estimate: {cores} cores / {own:.2f} ms of server and "
        f"PostgreSQL CPU per call): ~{1000 * cores / own:.0f} req/s = "
        f"{100 * 1000 * cores / own / baseline.rate:.1f}% of pgbench"
    )


def _print_list_comparison(big: Result, small: Result, same: Result, plans: dict[str, str]) -> None:
    """How list pages of the 10,000-message session compare with the 10-message one."""
    print(
        f"list-latest-50 ({BIG:,}) / list-latest-50 ({SMALL:,}) req/s: "
        f"{big.rate / small.rate:.2f} (p50 {big.ms(0.5):.2f} ms vs {small.ms(0.5):.2f} ms); "
        f"each call returns 50 messages from the first session, {SMALL} from the second"
    )
    print(
        f"same answer size: list-latest-{SMALL} ({BIG:,}) / list-latest-50 ({SMALL:,}) req/s: "
        f"{same.rate / small.rate:.2f} (p50 {same.ms(0.5):.2f} ms vs {small.ms(0.5):.2f} ms)"
    )
    for session_id, count in (("big", BIG), ("small", SMALL)):
        if session_id in plans:
            print(f"  PostgreSQL alone, latest 50 of {count:,}: {plans[session_id]}")


def print_grpc(run: Run, baseline: Result) -> bool:
    """The gRPC table and the append target; returns whether every call succeeded."""
    before, after = run.pgbench
    print(
        f"\npgbench windows: {before.rate:.0f} TPS before the scenarios, {after.rate:.0f} after; "
        "the baseline below is both together"
    )
    header = (
        f"{'scenario':<26}{'requests':>9}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'% pgbench':>10}"
        f"  {'CPU ms/req: client':>18}{'server':>8}{'postgres':>9}"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in (baseline, *run.grpc):
        print(
            f"{r.name:<26}{r.requests:>9}{r.rate:>9.0f}{r.ms(0.5):>8.2f}{r.ms(0.99):>8.2f}"
            f"{100 * r.rate / baseline.rate:>9.1f}%  {r.cpu_ms('client'):>18.3f}"
            f"{r.cpu_ms('server'):>8.3f}{r.cpu_ms('postgres'):>9.3f}"
        )
    print()
    by_name = {r.name: r for r in run.grpc}
    if "append-message" in by_name:
        _print_append_target(baseline, by_name["append-message"])
    big, small, same = (by_name.get(s.name) for s in grpc_scenarios.SCENARIOS[2:5])
    if big and small and same:
        _print_list_comparison(big, small, same, run.plans)
    failed = [r for r in run.grpc if r.errors or not r.requests]
    for r in failed:
        print(f"ERRORS in {r.name}: {r.errors} failed calls, first: {r.first_error}")
    return not failed


# -- REST -----------------------------------------------------------------------------------------


def print_rest(run: Run, baseline: Result | None) -> bool:
    """The REST table, where each call's CPU goes, and the comparison with the anchor; returns
    whether every call succeeded."""
    print()
    if run.rest_skipped:
        print(f"REST: SKIPPED, {run.rest_skipped}")
        return False
    c = run.config
    print(
        f"REST (wrk: {c.concurrency} keep-alive connections in {c.rest_threads} threads, "
        f"{c.seconds:g} s after a checked {c.warmup:g} s warm-up); this service through Envoy "
        f"(concurrency {run.envoy_concurrency}, Lua request validator "
        f"{'REMOVED (BENCH_ENVOY_NO_LUA=1)' if c.envoy_no_lua else 'on'})"
        + (
            f"; the anchor {run.anchor}, interleaved, {c.anchor_rounds} rounds"
            if run.anchor
            else ""
        )
    )
    header = (
        f"{'scenario':<24}{'target':<15}{'req/s':>7}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'% pgbench':>10}{'target':>8}{'errors':>7}"
        f"  {'CPU ms/call: wrk':>16}{'server':>8}{'envoy':>7}{'postgres':>9}{'together':>9}"
        f"{'other %':>8}{'machine %':>10}{'load':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in run.rest:
        target = TARGETS.get(r.name) if r.target == "agent-sessions" else None
        together = _stack_ms(r)
        percent = 100 * r.rate / baseline.rate if baseline else float("nan")
        envoy = r.cpu_ms("envoy") if "envoy" in r.cpu.groups else float("nan")
        print(
            f"{r.name:<24}{f'{r.target} {r.round + 1}':<15}{r.rate:>7.0f}{r.run.p50_ms:>8.2f}"
            f"{r.run.p99_ms:>8.2f}{percent:>9.1f}%{f'{target:.1f}%' if target else '-':>8}"
            f"{r.errors:>7}  {r.cpu_ms('client'):>16.3f}{r.cpu_ms('server'):>8.3f}"
            f"{envoy:>7.3f}{r.cpu_ms('postgres'):>9.3f}{together:>9.3f}"
            f"{r.cpu.other():>8.0f}{r.cpu.share('machine'):>10.0f}{r.load:>6.2f}"
        )
    print()
    print("where this service's CPU per call goes (server / Envoy / PostgreSQL, % of the three):")
    for r in run.ours():
        parts = [r.cpu_ms(g) for g in ("server", "envoy", "postgres")]
        verdict = ""
        target = TARGETS.get(r.name)
        if target and baseline:
            met = 100 * r.rate / baseline.rate >= target
            verdict = f"; target >= {target:g}% of pgbench {'met' if met else 'NOT met'}"
        print(
            f"  {r.name:<24}"
            + " / ".join(f"{100 * v / sum(parts):.0f}%" for v in parts)
            + f" of {sum(parts):.2f} ms; Envoy's connections per worker "
            + f"{'/'.join(map(str, r.split)) or '?'} (worker CPU "
            + "/".join(f"{w:.0f}%" for w in r.workers)
            + ")"
            + (f"; stored {r.stored} rows" if r.stored is not None else "")
            + verdict
        )
    compared, by_cpu = ratios(run), ratios(run, cpu=True)
    if compared:
        print()
        print(
            "this service against the anchor, the same load in the same run, one figure per "
            "interleaved round: req/s ours / anchor's, and CPU per call anchor's / ours"
        )
        for name, values in compared.items():
            cpu = by_cpu.get(name, [])
            print(
                f"  {_short(name):<14}req/s {' '.join(f'{v:.2f}x' for v in values)}"
                f" (median {statistics.median(values):.2f}x)   CPU per call "
                + " ".join(f"{v:.2f}x" for v in cpu)
                + (f" (median {statistics.median(cpu):.2f}x)" if cpu else "")
            )
    failed = [r for r in run.rest if r.errors or r.problems or not r.run.requests]
    for r in failed:
        print(f"ERRORS in {r.name} ({r.target}):")
        for problem in r.problems:
            print(f"  {problem}")
    return not failed


# -- model ----------------------------------------------------------------------------------------
def _latency_table(rows: list[tuple[str, Latencies]]) -> None:
    header = (
        f"{'scenario':<26}{'added by the service (ms)':<30}{'n':>7}{'p50':>8}{'p99':>8}{'max':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, latencies in rows:
        for measure, values in latencies.rows():
            print(
                f"{name:<26}{measure:<30}{len(values):>7}{percentile(values, 0.5):>8.2f}"
                f"{percentile(values, 0.99):>8.2f}{max(values, default=float('nan')):>8.2f}"
            )


def print_stream_report(results: list[StreamResult], h: ModelLoad) -> None:
    print()
    print(
        f"model-stream: {h.concurrency} concurrent Converse streams, each a new session, "
        f"measured {h.seconds:g} s after {h.warmup:g} s of warm-up; the fake model streams "
        + "; ".join(f"{r.name}: {r.plan.describe()}" for r in results)
    )
    header = (
        f"{'scenario':<26}{'streams':>8}{'tokens':>8}{'tok/s':>7}{'turns/s':>8}"
        f"  {'server CPU ms/token':>19}{'ms/turn':>8}{'% core':>7}"
        f"  {'postgres ms/turn':>16}{'client % core':>14}{'fake % core':>12}{'machine %':>10}"
        f"{'load':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name:<26}{r.streams:>8}{r.tokens:>8}{r.tokens / r.seconds:>7.0f}"
            f"{r.turns / r.seconds:>8.1f}  {r.per_token_ms('server'):>19.3f}"
            f"{r.per_turn_ms('server'):>8.2f}{r.cpu.share('server'):>7.0f}"
            f"  {r.per_turn_ms('postgres'):>16.3f}{r.cpu.share('client'):>14.0f}"
            f"{r.cpu.share('fake'):>12.0f}{r.cpu.share('machine'):>10.0f}{r.load:>6.2f}"
        )
    if len(results) == 2:
        long, short = results
        extra = long.plan.pieces - short.plan.pieces
        marginal = (long.per_turn_ms("server") - short.per_turn_ms("server")) / extra
        base = short.per_turn_ms("server") - short.plan.pieces * marginal
        print(
            f"server CPU split: {marginal:.3f} ms per streamed token (the difference per extra "
            f"piece) + {base:.2f} ms per turn without its tokens"
        )
    print()
    _latency_table([(r.name, r.latencies) for r in results])
    for r in results:
        print(
            f"  {r.name}: the fake's own first-token delay p50 "
            f"{percentile(r.latencies.model_ttft, 0.5):.1f} ms (asked {1000 * r.plan.first_delay:g})"
        )


def print_many_report(r: ManyResult) -> None:
    mib = 1024 * 1024
    print()
    print(
        f"model-1000: {r.streams:,} Converse streams opened over {r.ramp:g} s on a slow model "
        f"({r.plan.describe()}), each a new session; load average {r.load[0]:.2f}"
    )
    print(
        f"  open at once: {r.peak_open:,} (of {r.streams:,}); failed streams: {len(r.errors)}; "
        f"the client's gRPC connections per worker: {'/'.join(map(str, r.split)) or '?'}"
    )
    grew_rss = (r.during.rss - r.idle.rss) / max(1, r.peak_open)
    grew_uss = (r.during.uss - r.idle.uss) / max(1, r.peak_open)
    print(
        f"  server memory, summed over {r.workers} workers: RSS idle {r.idle.rss / mib:.0f} MiB, "
        f"with {r.peak_open:,} open {r.during.rss / mib:.0f} MiB, after {r.after.rss / mib:.0f} "
        f"MiB; per open stream {grew_rss / 1024:.1f} KiB RSS ({grew_uss / 1024:.1f} KiB USS)"
    )
    if r.cpu.seconds and r.tokens_in_window:
        print(
            f"  while {r.peak_open:,} were open ({r.cpu.seconds:.1f} s): server {r.cpu.share('server'):.0f}% "
            f"of a core, {1000 * r.cpu.used['server'] / r.tokens_in_window:.3f} ms per token "
            f"({r.tokens_in_window / r.cpu.seconds:.0f} tokens/s); PostgreSQL "
            f"{r.cpu.share('postgres'):.0f}%, the client {r.cpu.share('client'):.0f}%, the fake "
            f"{r.cpu.share('fake'):.0f}%; machine busy {r.cpu.share('machine'):.0f}%"
        )
    print()
    _latency_table([(f"model-1000 ({r.streams:,})", r.latencies)])


def print_errors(name: str, errors: list[str], log: Path, limit: int = 5) -> None:
    """The first failures, and the server log's warnings and errors about them."""
    if not errors:
        return
    print(f"ERRORS in {name}: {len(errors)} failed streams; the first:")
    for error in errors[:limit]:
        print(f"  {error}")
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    noted = [line for line in lines if re.search(r"WARNING|ERROR|Traceback|Error\b", line)]
    if noted:
        print(f"  the server log ({len(noted)} warnings and errors), the last {limit}:")
        for line in noted[-limit:]:
            print(f"    {line[:300]}")


def print_model(m: ModelResults) -> bool:
    if m.streams:
        print_stream_report(m.streams, m.load)
        for r in m.streams:
            print_errors(r.name, r.errors, m.load.server_log)
    if m.many is not None:
        print_many_report(m.many)
        print_errors("model-1000", m.many.errors, m.load.server_log)
    return m.ok


# -- the results file and the summary -----------------------------------------------------------


def _clean(value: Any) -> Any:
    """JSON has no NaN: None instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def figures(run: Run) -> dict[str, Any]:
    """Every raw figure of the run, as the results file holds them."""
    baseline = run.baseline()
    c = run.config
    out: dict[str, Any] = {
        "started_utc": run.started.isoformat(),
        "commit": run.commit,
        "machine": {"cpus": os.cpu_count(), "load_at_end": list(os.getloadavg())},
        "settings": {
            "seconds": c.seconds,
            "warmup": c.warmup,
            "concurrency": c.concurrency,
            "workers": c.workers,
            "grpc_client": c.client,
            "rest_threads": c.rest_threads,
            "envoy_no_lua": c.envoy_no_lua,
            "envoy_concurrency": run.envoy_concurrency,
            "anchor": run.anchor or None,
            "anchor_rounds": c.anchor_rounds if run.anchor else None,
            "scenarios": c.scenarios or "all",
        },
        "pgbench": [{"window": r.name, **r.figures()} for r in run.pgbench],
        "grpc": [
            {
                "scenario": r.name,
                **r.figures(),
                "percent_of_pgbench": 100 * r.rate / baseline.rate if baseline else None,
            }
            for r in run.grpc
        ],
        "rest": [
            {
                "scenario": r.name,
                **r.figures(),
                "percent_of_pgbench": 100 * r.rate / baseline.rate if baseline else None,
            }
            for r in run.rest
        ],
        "rest_skipped": run.rest_skipped or None,
        "anchor_ratios": ratios(run),
        "anchor_cpu_ratios": ratios(run, cpu=True),
        "list_plans": run.plans,
    }
    if run.model is not None:
        out["model_stream"] = [{"scenario": r.name, **r.figures()} for r in run.model.streams]
        out["model_1000"] = run.model.many.figures() if run.model.many else None
    if run.sdk is not None:
        out["sdk_add_items"] = run.sdk.figures()
    if run.live is not None:
        out["live"] = run.live.figures()
    for k in run.chaos:
        out[k.name.replace("-", "_")] = k.figures()
    return _clean(out)


def write_results(run: Run) -> Path:
    """bench/results/<UTC start>-<short commit>.json (BENCH_RESULTS: another folder)."""
    folder = run.config.results
    folder.mkdir(parents=True, exist_ok=True)
    stamp = run.started.strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{stamp}-{re.sub(r'[^0-9a-z+-]', '', run.commit)}.json"
    path.write_text(json.dumps(figures(run), indent=1) + "\n")
    return path


def print_summary(run: Run, path: Path) -> None:
    """A few lines to read first: req/s and % of pgbench per scenario, and the anchor ratios."""
    baseline = run.baseline()
    print()
    print(f"== summary: {run.started:%Y-%m-%d %H:%M} UTC, commit {run.commit} ==")
    if baseline:
        print(
            f"pgbench insert {' / '.join(f'{r.rate:.0f}' for r in run.pgbench)} TPS "
            "(before / after)"
        )
    rows: list[tuple[str, float, float]] = [(r.name, r.rate, r.ms(0.99)) for r in run.grpc]
    by_name: dict[str, list[RestResult]] = {}
    for r in run.ours():
        by_name.setdefault(r.name, []).append(r)
    for name, results in by_name.items():
        rate = statistics.median(r.rate for r in results)
        rows.append((name, rate, statistics.median(r.run.p99_ms for r in results)))
    compared, by_cpu = ratios(run), ratios(run, cpu=True)
    for name, rate, p99 in rows:
        percent = f"{100 * rate / baseline.rate:5.1f}% of pgbench" if baseline else ""
        vs = compared.get(name)
        cpu = by_cpu.get(name)
        anchor = (
            f"  vs anchor: req/s {min(vs):.2f}-{max(vs):.2f}x (median "
            f"{statistics.median(vs):.2f}x)"
            + (f", CPU per call {min(cpu):.2f}-{max(cpu):.2f}x" if cpu else "")
            if vs
            else ""
        )
        print(f"  {name:<26}{rate:>7.0f} req/s  {percent}  p99 {p99:.1f} ms{anchor}")
    if run.model is not None:
        for s in run.model.streams:
            print(
                f"  {s.name:<26}{s.per_token_ms('server'):.3f} ms server CPU per token, "
                f"first delta p99 {percentile(s.latencies.first, 0.99):.1f} ms"
            )
        if run.model.many is not None:
            many = run.model.many
            grew = (many.during.rss - many.idle.rss) / max(1, many.peak_open) / 1024
            print(
                f"  model-1000: {many.peak_open:,} open at once, {len(many.errors)} failed, "
                f"{grew:.0f} KiB RSS per open stream"
            )
    if run.sdk is not None:
        for c in sdk_scenarios.CONCURRENCIES:
            mine, theirs = run.sdk.window("agent-sessions", c), run.sdk.window("sqlalchemy", c)
            print(
                f"  sdk-add-items x{c:<3}{mine.items_per_s:>11.0f} items/s vs SQLAlchemySession "
                f"{theirs.items_per_s:.0f}: {run.sdk.ratio(c):.2f}x"
            )
    if run.live is not None:
        for w in run.live.watch.windows if run.live.watch else []:
            print(
                f"  live-watch {w.name}: answer/send -> event p50 "
                f"{percentile(w.from_answer, 0.5):.1f}/{percentile(w.from_send, 0.5):.1f} ms, "
                f"p99 {percentile(w.from_answer, 0.99):.1f}/{percentile(w.from_send, 0.99):.1f} ms"
            )
        if run.live.watch is not None:
            print(
                f"  live-watch: {run.live.watch.per_watch_bytes / 1024:.1f} KiB RSS per open watch"
            )
        if run.live.resume is not None:
            resumed = run.live.resume
            print(
                f"  live-resume: first event p50 {percentile(resumed.first_event_ms, 0.5):.1f} "
                f"ms, p99 {percentile(resumed.first_event_ms, 0.99):.1f} ms; live lag p50 "
                f"{percentile(resumed.live_lag_ms, 0.5):.1f} ms, p99 "
                f"{percentile(resumed.live_lag_ms, 0.99):.1f} ms"
            )
    for k in run.chaos:
        print(
            f"  {k.name:<26}{k.intended} writes: {k.lost} lost, {k.stored_twice} "
            f"stored twice, {k.wrong_id} other ids, {k.failed} failed; longest write "
            f"{k.longest_write_s:.1f} s"
        )
    print(f"raw figures: {path}")


def print_sdk(r: SdkResults) -> bool:
    """add_items through this client and through the SDK's SQLAlchemySession, side by side."""
    print()
    print(
        f"== {sdk_scenarios.NAME}: add_items of {sdk_scenarios.ITEMS_PER_CALL} items, "
        f"asyncio tasks in one client process, {sdk_scenarios.ROUNDS} interleaved rounds =="
    )
    print(
        f"{'tasks':>5}  {'side':<15}{'calls/s':>9}{'items/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'errors':>7}  CPU ms/call client / server / postgres"
    )
    ok = True
    for c in sdk_scenarios.CONCURRENCIES:
        for side in sdk_scenarios.SIDES:
            w = r.window(side, c)
            cpu = " / ".join(
                f"{w.cpu_ms_per_call(g):.2f}" for g in ("client", "server", "postgres")
            )
            print(
                f"{c:>5}  {side:<15}{w.calls_per_s:>9.0f}{w.items_per_s:>9.0f}"
                f"{1000 * percentile(w.latencies, 0.5):>8.1f}"
                f"{1000 * percentile(w.latencies, 0.99):>8.1f}{w.errors:>7}  {cpu}"
            )
            if w.errors:
                ok = False
                print(f"       first error: {w.first_error}")
        print(f"{'':>7}ratio {r.ratio(c):.2f}x")
    return ok


def print_live(live: LiveResults) -> bool:
    """Watch delivery across replicas, memory per watch, resume's first event."""
    mib = 1024 * 1024
    if live.watch is not None:
        w = live.watch
        print()
        print(
            "== live-watch: CreateMessage through replica A, WatchSession streams on replica B "
            "(one worker each); ms from the writer's answer (a lower bound of commit -> event) "
            "and from its send (an upper bound) =="
        )
        print(
            f"  replica B RSS: {w.idle.rss / mib:.0f} MiB before, {w.open.rss / mib:.0f} MiB with "
            f"{w.opened:,} watches open, {w.after.rss / mib:.0f} MiB after they closed; "
            f"{w.per_watch_bytes / 1024:.1f} KiB per open watch"
        )
        header = (
            f"{'window':<30}{'writes/s':>9}{'events':>12}{'answer->event p50':>19}{'p99':>7}"
            f"{'send->event p50':>17}{'p99':>7}{'max':>7}{'write p99':>10}"
            f"  {'CPU ms/event: B':>15}{'postgres':>9}{'B % core':>9}{'other %':>8}"
        )
        print(header)
        print("-" * len(header))
        for x in w.windows:
            f = x.figures()
            print(
                f"{x.name:<30}{x.rate:>9g}{f'{x.delivered}/{x.expected}':>12}"
                f"{f['answer_to_event_p50_ms']:>19.1f}{f['answer_to_event_p99_ms']:>7.1f}"
                f"{f['send_to_event_p50_ms']:>17.1f}{f['send_to_event_p99_ms']:>7.1f}"
                f"{f['send_to_event_max_ms']:>7.1f}{f['write_p99_ms']:>10.1f}"
                f"  {f['replica_b_cpu_ms_per_event']:>15.3f}{f['postgres_cpu_ms_per_event']:>9.3f}"
                f"{f['cpu_share_replica_b']:>9.0f}{f['cpu_share_other']:>8.0f}"
            )
    if live.resume is not None:
        r = live.resume.figures()
        print()
        print(
            f"== live-resume: {r['tries']} detached turns on replica A ({r['plan']}); "
            f"ResumeTurn(after_seq={r['after_seq']}) on replica B once A's caller had event "
            f"{r['resumed_when_a_had']} =="
        )
        print(
            f"  time to first event p50 {r['first_event_p50_ms']:.1f} ms, p99 "
            f"{r['first_event_p99_ms']:.1f} ms, max {r['first_event_max_ms']:.1f} ms"
        )
        print(
            f"  live lag, B's stream behind A's for the events still to come "
            f"({r['live_lag_events']} events): p50 {r['live_lag_p50_ms']:.1f} ms, p99 "
            f"{r['live_lag_p99_ms']:.1f} ms"
        )
    for error in live.errors[:10]:
        print(f"ERROR in live scenarios: {error}")
    return not live.errors


def print_chaos(k: ChaosResult) -> bool:
    print()
    print(f"== {k.name}: {k.writers} writers, {k.seconds:g} s, {k.incident} ==")
    for label, value in k.figures().items():
        if label not in ("writers", "seconds", "crash_at_s", "outage_s"):
            print(f"  {label:<26}{value}")
    return k.ok


def print_report(run: Run) -> bool:
    """Every table; returns whether every call succeeded."""
    ok = True
    baseline = run.baseline()
    if baseline and run.grpc:
        ok = print_grpc(run, baseline) and ok
    if run.rest or run.rest_skipped:
        ok = print_rest(run, baseline) and ok
    if run.model is not None:
        ok = print_model(run.model) and ok
    if run.sdk is not None:
        ok = print_sdk(run.sdk) and ok
    if run.live is not None:
        ok = print_live(run.live) and ok
    for k in run.chaos:
        ok = print_chaos(k) and ok
    return ok
