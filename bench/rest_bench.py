"""REST scenarios of `make bench`: the same server, reached through the real Envoy (the config
`agent-sessions run` renders, gRPC-JSON transcoding and the Lua request validator included), with
wrk, a C HTTP/1.1 load generator, driving it.

What is measured, per scenario: BENCH_CONCURRENCY (16) keep-alive connections in
BENCH_REST_THREADS (2) wrk threads send one call after another for BENCH_SECONDS (10), after a
BENCH_WARMUP (2) run of the same load whose every answer is checked (status 2xx and what its
body must hold; the measured run leaves the bodies unread so that wrk spends as little CPU as it
can). wrk counts every answer that is not 2xx/3xx and every socket error or timeout: each is an
error, printed, and fails the bench. The calls that store something are counted in the database
too: what the measured run stored must match the 2xx answers wrk counted (up to the calls still
in flight when wrk stopped).

| scenario | call | spread |
|---|---|---|
| rest-create-session | POST /api/agent-sessions, 4 fields | a new session_id per call (wrk's Lua) |
| rest-append-message | POST /api/agent-sessions/{id}/messages, ~100-byte user message | 100 sessions |
| rest-conversation | POST /api/agent-sessions/conversation, one user message, mock agent | 100 sessions |
| rest-get-session | GET /api/agent-sessions/{id} | 100 sessions |
| rest-list-messages-50 | GET /api/agent-sessions/{id}/messages?page_size=50 | the 10,000-message session |
| rest-patch-session | PATCH /api/agent-sessions/{id}, a new description | 100 sessions |

The requests of one wrk thread go round the 100 sessions, so the 8 calls a thread has in flight
are on 8 different sessions (as the gRPC scenarios give each caller a session of its own).

CPU: the server's worker processes, Envoy, PostgreSQL (postmaster and backends) and wrk are each
read over the measured window (one second shorter than wrk's, starting half a second in, so that
connecting and stopping are not counted) and divided by the calls in it. Envoy runs with the
command line of `agent_sessions.ops.envoy.command` (its concurrency is what that gives; the
report reads it from Envoy's admin /server_info), from the config `write_config` renders on free
ports, as a child the bench stops. BENCH_ENVOY_NO_LUA=1 removes the `envoy.filters.http.lua`
filter (the request validator) from the rendered config, to measure what that filter costs; the
answers are then what the transcoder alone makes of the same (valid) requests.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import model_bench

SESSIONS = 100
BIG_SESSION = "big"  # bench.py pre-fills it with 10,000 messages
BIG_COUNT = 10_000
# 100 bytes, a short chat message.
MESSAGE = "Please add the storage-layer questions from the review to Friday's agenda and ask Sam to own them."
SESSION_PREFIX = "rest-"  # the append, get and patch sessions: rest-0 ... rest-99
CONV_PREFIX = "rconv-"  # the conversation sessions
GROUPS = ("client", "server", "envoy", "postgres")
# Issue 11's targets, in % of pgbench's insert TPS (1.5x the FastAPI stack it was measured on).
TARGETS = {
    "rest-create-session": 9.5,
    "rest-append-message": 6.0,
    "rest-conversation": 5.1,
    "rest-get-session": 10.1,
    "rest-list-messages-50": 4.9,
}


@dataclass(frozen=True)
class RestScenario:
    """One REST workload: `requests` builds the requests a wrk thread goes round (None: built
    per call, see `dynamic`), `expect` is Lua that is true of a good 2xx body."""

    name: str
    call: str  # as printed
    expect: str
    requests: Callable[[], list[tuple[str, str, str | None]]] | None = None
    dynamic: str = ""  # Lua body of make(k) for calls that differ every time
    stored: str = ""  # SQL counting what the calls stored (%s: the run's session id prefix)
    stored_per_call: int = 1


def _ascii(text: str) -> str:
    if not all(32 <= ord(c) < 127 for c in text):
        raise ValueError(f"not printable ASCII: {text!r}")
    return text


def _body(value: object) -> str:
    return _ascii(json.dumps(value, separators=(",", ":")))


def _append_requests() -> list[tuple[str, str, str | None]]:
    body = _body({"role": "user", "content": MESSAGE})
    return [
        ("POST", f"/api/agent-sessions/{SESSION_PREFIX}{s}/messages", body) for s in range(SESSIONS)
    ]


def _conversation_requests() -> list[tuple[str, str, str | None]]:
    return [
        (
            "POST",
            "/api/agent-sessions/conversation",
            _body(
                {
                    "session_id": f"{CONV_PREFIX}{s}",
                    "messages": [{"role": "user", "content": MESSAGE}],
                }
            ),
        )
        for s in range(SESSIONS)
    ]


def _get_requests() -> list[tuple[str, str, str | None]]:
    return [("GET", f"/api/agent-sessions/{SESSION_PREFIX}{s}", None) for s in range(SESSIONS)]


def _list_requests() -> list[tuple[str, str, str | None]]:
    return [("GET", f"/api/agent-sessions/{BIG_SESSION}/messages?page_size=50", None)]


def _patch_requests() -> list[tuple[str, str, str | None]]:
    # Two descriptions per session, taken in turn, so every call changes the row.
    return [
        (
            "PATCH",
            f"/api/agent-sessions/{SESSION_PREFIX}{s}",
            _body({"description": f"Bench description, version {v}"}),
        )
        for v in range(2)
        for s in range(SESSIONS)
    ]


# The session a create call makes: 4 fields, its session_id the run's prefix and a number no other
# call of the run uses (k = the thread's call count * threads + the thread's number).
_CREATE = """
  return wrk.format("POST", "/api/agent-sessions", headers,
    '{"session_id":"' .. prefix .. k .. '","session_name":"Bench session ' .. k ..
    '","description":"A session the REST bench created","agent_name":"bench-agent"}')
"""

_MESSAGES_OF = (
    "SELECT count(*) FROM session_messages m JOIN agent_sessions s ON s.id = m.session_uuid"
    " WHERE s.session_id LIKE %s"
)

REST_SCENARIOS = (
    RestScenario(
        "rest-create-session",
        "POST /api/agent-sessions (4 fields, a new session_id each)",
        expect='find(body, \'"session_id":"\' .. prefix, 1, true)',
        dynamic=_CREATE,
        stored="SELECT count(*) FROM agent_sessions WHERE session_id LIKE %s",
    ),
    RestScenario(
        "rest-append-message",
        "POST .../{id}/messages (100-byte user message, 100 sessions)",
        expect='find(body, \'"role":"user"\', 1, true)',
        requests=_append_requests,
        stored=_MESSAGES_OF,
    ),
    RestScenario(
        "rest-conversation",
        "POST .../conversation (one user message, mock agent, 100 sessions)",
        expect='find(body, \'"response":"This is a mock response to: \', 1, true)',
        requests=_conversation_requests,
        stored=_MESSAGES_OF,
        stored_per_call=2,
    ),
    RestScenario(
        "rest-get-session",
        "GET .../{id} (100 sessions)",
        expect=f'find(body, \'"session_id":"{SESSION_PREFIX}\', 1, true)',
        requests=_get_requests,
    ),
    RestScenario(
        "rest-list-messages-50",
        f"GET .../{{id}}/messages?page_size=50 (session of {BIG_COUNT:,} messages)",
        expect=(
            f"find(body, '\"total_size\":{BIG_COUNT}', 1, true)"
            " and select(2, string.gsub(body, '\"role\":\"', '')) == 50"
        ),
        requests=_list_requests,
    ),
    RestScenario(
        "rest-patch-session",
        "PATCH .../{id} (a new description, 100 sessions)",
        expect='find(body, \'"description":"Bench description, version \', 1, true)',
        requests=_patch_requests,
    ),
)
REST_SCENARIO_NAMES = tuple(s.name for s in REST_SCENARIOS)


@dataclass(frozen=True)
class Harness:
    """What bench.py lends: progress lines, the running server and PostgreSQL, and the load."""

    say: Callable[[str], None]
    grpc_port: int
    token: str
    database_url: str
    server_pid: int
    postgres_pid: int
    seconds: float
    warmup: float
    concurrency: int
    threads: int
    work: Path
    no_lua: bool = False


@dataclass
class WrkRun:
    """What one wrk run reported."""

    requests: int = 0
    seconds: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    errors: dict[str, int] = field(default_factory=dict)  # connect, read, write, status, timeout
    bad: int = 0  # check runs: answers that were not 2xx or lacked what they must hold
    first_bad: str = ""

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


@dataclass
class RestResult:
    """One REST scenario's measured run, with its warm-up's check."""

    scenario: RestScenario
    run: WrkRun
    warmup: WrkRun
    cpu: model_bench.CpuWindow
    load: float
    split: list[int]  # Envoy's upstream connections per server worker at the window's end
    workers: list[float]  # each server worker's CPU over the window, % of one core
    stored: int | None = None  # what the measured run stored, counted in the database
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def rate(self) -> float:
        return self.run.requests / self.run.seconds if self.run.seconds else 0.0

    def cpu_ms(self, group: str) -> float:
        """CPU milliseconds per call: the group's CPU per second over the calls per second."""
        if not self.cpu.seconds or not self.rate:
            return float("nan")
        return 1000 * self.cpu.used.get(group, 0.0) / self.cpu.seconds / self.rate

    def other(self) -> float:
        """% of one core the machine spent outside the measured groups (other work on it)."""
        return max(0.0, self.cpu.share("machine") - sum(self.cpu.share(g) for g in GROUPS))

    @property
    def errors(self) -> int:
        """Failed calls: the measured run's, and the warm-up's answers that did not pass."""
        return self.run.failed + self.warmup.bad


# -- wrk --------------------------------------------------------------------------------------

_LUA_TEMPLATE = """-- Generated by bench/rest_bench.py: {name}
local find = string.find
local token = {token}
prefix = {prefix}
local check = {check}
headers = {{["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}}
local plan = {plan}

local threads, created = {{}}, 0
function setup(thread)
  thread:set("id", created)
  created = created + 1
  table.insert(threads, thread)
end

local prebuilt = {{}}
function init(args)
  nthreads = tonumber(args[1])
  n, bad, first_bad = 0, 0, ""
  for i, r in ipairs(plan) do
    prebuilt[i] = wrk.format(r[1], r[2], headers, r[3])
  end
end

function make(k)
{make}
end

function request()
  n = n + 1
  return make(n * nthreads + id)
end

if check then
  local function good(body)
    return {expect}
  end
  function response(status, _, body)
    if status < 200 or status > 299 or not good(body or "") then
      bad = bad + 1
      if first_bad == "" then
        first_bad = (status .. " " .. string.sub(body or "", 1, 400)):gsub("[\\r\\n]", " ")
      end
    end
  end
end

function done(summary, latency, _)
  local b, first = 0, ""
  for _, t in ipairs(threads) do
    b = b + (t:get("bad") or 0)
    if first == "" then first = t:get("first_bad") or "" end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH-RESULT %d %d %d %d %d %d %d %d %d %d %d\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, b))
  io.write("BENCH-FIRST-BAD " .. first .. "\\n")
end
"""

_PREBUILT_MAKE = "  return prebuilt[k % #prebuilt + 1]"


def _lua_str(text: str) -> str:
    return json.dumps(_ascii(text))  # printable ASCII JSON strings are Lua strings too


def wrk_script(scenario: RestScenario, token: str, prefix: str, check: bool) -> str:
    """The Lua script wrk runs for `scenario` (every request of the run is made in it)."""
    requests = scenario.requests() if scenario.requests else []
    rows = [
        f"{{{_lua_str(method)}, {_lua_str(path)}, {_lua_str(body) if body else 'nil'}}}"
        for method, path, body in requests
    ]
    plan = "{" + ", ".join(rows) + "}"
    return _LUA_TEMPLATE.format(
        name=scenario.name,
        token=_lua_str(token),
        prefix=_lua_str(prefix),
        check="true" if check else "false",
        plan=plan,
        make=scenario.dynamic.strip("\n") if scenario.dynamic else _PREBUILT_MAKE,
        expect=scenario.expect,
    )


def _parse_wrk(output: str) -> WrkRun:
    match = re.search(r"^BENCH-RESULT ([\d ]+)$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    numbers = [int(x) for x in match.group(1).split()]
    requests, duration_us, connect, read, write, status, timeout, p50, p99, top, bad = numbers
    first = re.search(r"^BENCH-FIRST-BAD ?(.*)$", output, re.MULTILINE)
    return WrkRun(
        requests=requests,
        seconds=duration_us / 1e6,
        p50_ms=p50 / 1000,
        p99_ms=p99 / 1000,
        max_ms=top / 1000,
        errors={
            "connect": connect,
            "read": read,
            "write": write,
            "non-2xx": status,
            "timeout": timeout,
        },
        bad=bad,
        first_bad=first.group(1).strip() if first else "",
    )


def _wrk_command(h: Harness, script: Path, seconds: float, port: int) -> list[str]:
    return [
        "wrk",
        *("-t", str(h.threads), "-c", str(h.concurrency)),
        *("-d", f"{max(1, round(seconds))}s", "--timeout", "30s"),
        *("-s", str(script)),
        f"http://127.0.0.1:{port}",
        "--",
        str(h.threads),
    ]


def _check_run(h: Harness, scenario: RestScenario, port: int, prefix: str) -> WrkRun:
    """A short wrk run whose every answer is read and checked (the warm-up)."""
    script = h.work / f"{scenario.name}-check.lua"
    script.write_text(wrk_script(scenario, h.token, prefix, check=True))
    done = subprocess.run(
        _wrk_command(h, script, h.warmup, port),
        capture_output=True,
        text=True,
        timeout=h.warmup + 60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return _parse_wrk(done.stdout)


def _count(h: Harness, scenario: RestScenario, like: str) -> int | None:
    if not scenario.stored:
        return None
    import psycopg

    with psycopg.connect(h.database_url, autocommit=True) as conn:
        row = conn.execute(scenario.stored, (like,)).fetchone()
    return int(row[0]) if row else 0


def run_rest_scenario(h: Harness, envoy: Envoy, scenario: RestScenario, run_id: str) -> RestResult:
    """The warm-up (checked), then the measured run with CPU sampled over its window."""
    warm = _check_run(h, scenario, envoy.http_port, f"new-{run_id}-w-")
    prefix = f"new-{run_id}-m-"
    like = {
        "rest-create-session": prefix + "%",
        "rest-append-message": SESSION_PREFIX + "%",
        "rest-conversation": CONV_PREFIX + "%",
    }.get(scenario.name, "")
    # A call wrk left in flight when it stopped may still be committing: let it settle first.
    settle = 1.0 if scenario.stored else 0.0
    time.sleep(settle)
    stored_before = _count(h, scenario, like)
    script = h.work / f"{scenario.name}.lua"
    script.write_text(wrk_script(scenario, h.token, prefix, check=False))
    out = h.work / f"{scenario.name}.wrk.txt"
    with out.open("w") as stdout:
        launched = time.monotonic()
        wrk = subprocess.Popen(
            _wrk_command(h, script, h.seconds, envoy.http_port),
            stdout=stdout,
            stderr=subprocess.STDOUT,
            text=True,
        )
        cpu = model_bench.CpuWindow(
            {
                "server": h.server_pid,
                "envoy": envoy.process.pid,
                "postgres": h.postgres_pid,
                "client": wrk.pid,
            }
        )
        time.sleep(max(0.0, launched + 0.5 - time.monotonic()))
        cpu.begin()
        workers_before = model_bench.cpu_seconds(h.server_pid)
        time.sleep(max(0.0, launched + 0.5 + h.seconds - 1.0 - time.monotonic()))
        cpu.end()
        workers_after = model_bench.cpu_seconds(h.server_pid)
        load = os.getloadavg()[0]
        split = model_bench.connections_per_worker(h.server_pid, h.grpc_port)
        returncode = wrk.wait(h.seconds + 60)
    output = out.read_text()
    if returncode != 0:
        raise RuntimeError(f"wrk failed ({returncode}):\n{output}")
    run = _parse_wrk(output)
    workers = [
        100 * (seconds - workers_before.get(pid, 0.0)) / cpu.seconds
        for pid, seconds in workers_after.items()
        if pid != h.server_pid
    ]
    result = RestResult(scenario, run, warm, cpu, load, split, workers)
    if not run.requests:
        result.problems.append("no call completed in the measured run")
    if warm.bad:
        result.problems.append(
            f"{warm.bad} of {warm.requests} warm-up answers were not 2xx or lacked what they "
            f"must hold; the first: {warm.first_bad}"
        )
    if stored_before is not None:
        time.sleep(settle)
        stored = (_count(h, scenario, like) or 0) - stored_before
        result.stored = stored
        calls = stored / scenario.stored_per_call
        succeeded = run.requests - run.errors["non-2xx"]
        # Calls still in flight when wrk stopped were stored but not counted: at most one per
        # connection.
        if not succeeded <= calls <= succeeded + h.concurrency:
            result.problems.append(
                f"the database holds {stored} new rows ({calls:g} calls) for {succeeded} "
                f"successful answers"
            )
    if run.failed:
        # The measured run does not read bodies: look at what a short checked run gets.
        again = _check_run(h, scenario, envoy.http_port, f"new-{run_id}-e-")
        result.problems.append(
            f"{run.failed} failed calls ({', '.join(f'{k} {v}' for k, v in run.errors.items() if v)}); "
            f"a checked re-run: {again.bad} bad of {again.requests}, the first: {again.first_bad}"
        )
    return result


# -- Envoy ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    admin_port: int
    log: Path

    def server_info(self) -> dict[str, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=5)
        try:
            connection.request("GET", "/server_info")
            info: dict[str, Any] = json.loads(connection.getresponse().read())
            return info
        finally:
            connection.close()

    def concurrency(self) -> str:
        try:
            return str(self.server_info()["command_line_options"]["concurrency"])
        except (OSError, ValueError, KeyError, http.client.HTTPException) as exc:
            return f"? ({exc})"


@contextmanager
def envoy(h: Harness) -> Iterator[Envoy]:
    """Envoy from the rendered envoy.yaml on free ports, in front of the server; stopped on the
    way out."""
    from agent_sessions.ops import envoy as ops_envoy
    from agent_sessions.ops.health import NotReady, wait_rest_ready

    http_port, admin_port = free_port(), free_port()
    config = ops_envoy.write_config(h.work / "envoy.yaml", http_port, h.grpc_port, admin_port)
    if h.no_lua:
        config.write_text(strip_lua_filter(config.read_text()))
    command = ops_envoy.command(config)
    log = h.work / "envoy.log"
    h.say(
        f"starting Envoy on 127.0.0.1:{http_port} (admin {admin_port}) -> gRPC :{h.grpc_port}"
        f"{'; Lua request validator REMOVED (BENCH_ENVOY_NO_LUA=1)' if h.no_lua else ''}: "
        + " ".join(command)
    )
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            wait_rest_ready(http_port, timeout=60, process=process)
        except NotReady as exc:
            raise RuntimeError(f"{exc}:\n{log.read_text(errors='replace')}") from None
        yield Envoy(process, http_port, admin_port, log)
    finally:
        h.say("stopping Envoy")
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def create_sessions(h: Harness, port: int) -> None:
    """The 100 sessions the append, get and patch calls use and the 100 the conversations
    continue, created through REST."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {h.token}", "Content-Type": "application/json"}
    try:
        for prefix in (SESSION_PREFIX, CONV_PREFIX):
            for s in range(SESSIONS):
                body = _body(
                    {
                        "session_id": f"{prefix}{s}",
                        "session_name": f"REST bench {s}",
                        "description": "created by the REST bench",
                        "agent_name": "bench-agent",
                    }
                )
                connection.request("POST", "/api/agent-sessions", body, headers)
                reply = connection.getresponse()
                text = reply.read()
                if reply.status != 200:
                    raise RuntimeError(f"creating {prefix}{s}: {reply.status} {text[:300]!r}")
    finally:
        connection.close()


# -- the run ----------------------------------------------------------------------------------


@dataclass
class RestRun:
    """The REST scenarios' results and how Envoy ran."""

    results: list[RestResult]
    concurrency: str
    no_lua: bool
    threads: int
    connections: int
    seconds: float
    warmup: float
    skipped: str = ""


def run_rest_scenarios(h: Harness, names: tuple[str, ...]) -> RestRun:
    """Starts Envoy, creates the sessions, runs the named scenarios in REST_SCENARIOS' order."""
    run = RestRun([], "?", h.no_lua, h.threads, h.concurrency, h.seconds, h.warmup)
    if shutil.which("wrk") is None:
        run.skipped = "wrk is not installed (`make bench` installs Debian's wrk)"
        h.say(f"REST scenarios skipped: {run.skipped}")
        return run
    with envoy(h) as proxy:
        run.concurrency = proxy.concurrency()
        h.say(f"Envoy is ready (concurrency {run.concurrency}); creating {2 * SESSIONS} sessions")
        create_sessions(h, proxy.http_port)
        run_id = f"{int(time.time()) % 100000}"
        for scenario in REST_SCENARIOS:
            if scenario.name not in names:
                continue
            h.say(
                f"{scenario.name}: wrk, {h.concurrency} connections in {h.threads} threads, "
                f"checked warm-up {h.warmup:g} s, measuring {h.seconds:g} s"
            )
            result = run_rest_scenario(h, proxy, scenario, run_id)
            h.say(
                f"  {result.rate:.0f} req/s, {result.run.failed} errors; CPU (% of a core): "
                + ", ".join(f"{g} {result.cpu.share(g):.0f}%" for g in GROUPS)
                + f", other {result.other():.0f}%, machine {result.cpu.share('machine'):.0f}%; "
                f"load {result.load:.2f}; Envoy's connections per server worker "
                f"{'/'.join(map(str, result.split))}, worker CPU "
                + "/".join(f"{w:.0f}%" for w in result.workers)
            )
            run.results.append(result)
    return run


# -- report -----------------------------------------------------------------------------------


def print_report(baseline_rate: float, run: RestRun) -> bool:
    """Prints the REST table and where each call's CPU goes; returns whether every call
    succeeded."""
    print()
    if run.skipped:
        print(f"REST through Envoy: SKIPPED, {run.skipped}")
        return False
    print(
        f"REST through Envoy (wrk: {run.connections} keep-alive connections in {run.threads} "
        f"threads, {run.seconds:g} s after a checked {run.warmup:g} s warm-up; Envoy concurrency "
        f"{run.concurrency}; Lua request validator "
        f"{'REMOVED (BENCH_ENVOY_NO_LUA=1)' if run.no_lua else 'on'})"
    )
    header = (
        f"{'scenario':<24}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'% pgbench':>10}{'target':>8}{'errors':>7}"
        f"  {'CPU ms/call: wrk':>16}{'server':>8}{'envoy':>7}{'postgres':>9}{'3 together':>11}"
        f"{'other %':>8}{'machine %':>10}{'load':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in run.results:
        target = TARGETS.get(r.name)
        together = sum(r.cpu_ms(g) for g in ("server", "envoy", "postgres"))
        print(
            f"{r.name:<24}{r.run.requests:>9}{r.rate:>8.0f}{r.run.p50_ms:>8.2f}{r.run.p99_ms:>8.2f}"
            f"{100 * r.rate / baseline_rate:>9.1f}%{f'{target:.1f}%' if target else '-':>8}"
            f"{r.errors:>7}  {r.cpu_ms('client'):>16.3f}{r.cpu_ms('server'):>8.3f}"
            f"{r.cpu_ms('envoy'):>7.3f}{r.cpu_ms('postgres'):>9.3f}{together:>11.3f}"
            f"{r.other():>8.0f}{r.cpu.share('machine'):>10.0f}{r.load:>6.2f}"
        )
    print()
    print("where each call's CPU goes (server / Envoy / PostgreSQL, % of the three together):")
    for r in run.results:
        parts = {g: r.cpu_ms(g) for g in ("server", "envoy", "postgres")}
        total = sum(parts.values())
        target = TARGETS.get(r.name)
        verdict = ""
        if target:
            met = 100 * r.rate / baseline_rate >= target
            verdict = f"; target >= {target:g}% {'met' if met else 'NOT met'}"
        print(
            f"  {r.name:<24}"
            + " / ".join(f"{100 * v / total:.0f}%" for v in parts.values())
            + f" of {total:.2f} ms; Envoy's connections per server worker "
            f"{'/'.join(map(str, r.split)) or '?'} (worker CPU "
            + "/".join(f"{w:.0f}%" for w in r.workers)
            + ")"
            + (f"; stored {r.stored} rows" if r.stored is not None else "")
            + verdict
        )
    failed = [r for r in run.results if r.errors or r.problems or not r.run.requests]
    for r in failed:
        print(f"ERRORS in {r.name}:")
        for problem in r.problems:
            print(f"  {problem}")
    return not failed
