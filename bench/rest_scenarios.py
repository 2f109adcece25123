"""The REST scenarios: wrk (a C HTTP/1.1 load generator) drives the server through the real Envoy
(the config `agent-sessions run` renders: gRPC-JSON transcoding and the Lua request validator
included), and, with BENCH_ANCHOR, the comparison server with the same requests in turn.

Per scenario and target: BENCH_CONCURRENCY (16) keep-alive connections in BENCH_REST_THREADS (2)
wrk threads send one call after another for BENCH_SECONDS (10), after a BENCH_WARMUP (2) run of
the same load whose every answer is checked (2xx, and what its body must hold; the measured run
leaves bodies unread so that wrk spends as little CPU as it can). wrk's non-2xx answers, socket
errors and timeouts are errors and fail the bench. On this service the calls that store something
are counted in the database too: what the measured run stored must match wrk's 2xx count (up to
the calls in flight when wrk stopped).

| scenario | call | spread |
|---|---|---|
| rest-create-session | POST /api/agent-sessions, 4 fields | a new session_id per call (wrk's Lua) |
| rest-append-message | POST /api/agent-sessions/{id}/messages, ~100-byte user message | 100 sessions |
| rest-create-with-id, rest-append-with-id | as above, each call with its own `request_id` | ours only |
| rest-conversation | POST /api/agent-sessions/conversation, one user message, mock agent | 100 sessions |
| rest-get-session | GET /api/agent-sessions/{id} | 100 sessions |
| rest-list-messages-50 | GET /api/agent-sessions/{id}/messages?page_size=50 | the 10,000-message session |
| rest-patch-session | PATCH /api/agent-sessions/{id}, a new description | 100 sessions |

The requests of one wrk thread go round the 100 sessions, so the 8 calls a thread has in flight
are on 8 different sessions. CPU: the server (all its processes), Envoy, PostgreSQL and wrk are
read over the measured window (one second shorter than wrk's, starting half a second in) and
divided by the calls in it.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import Config
from bench.harness import BIG, CONTENT
from bench.measure import CpuWindow, connections_per_worker, cpu_seconds, say

SESSIONS = 100
BIG_SESSION = "big"
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
    stored: str = ""  # SQL counting what the calls stored (%s: a LIKE pattern of session ids)
    stored_like: str = ""  # that pattern ({prefix}: the run's prefix of new session ids)
    stored_per_call: int = 1
    anchor: bool = True  # also run on the anchor (False: a feature only this service has)


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

# A request id per call, unique in the run: a hash of its prefix and the scenario, the wrk
# thread and the call number.
_REQUEST_ID = """
  local h = 0
  for i = 1, #prefix do h = (h * 31 + prefix:byte(i)) % 4294967296 end
  local rid = string.format("%08x-%04x-4000-8{scenario}-%012x", h, id, k)
"""
_CREATE_WITH_ID = (
    _REQUEST_ID.replace("{scenario}", "001")
    + """
  return wrk.format("POST", "/api/agent-sessions", headers,
    '{"session_id":"' .. prefix .. "id" .. k .. '","session_name":"Bench session ' .. k ..
    '","description":"A session the REST bench created","agent_name":"bench-agent",' ..
    '"request_id":"' .. rid .. '"}')
"""
)
_APPEND_WITH_ID = (
    _REQUEST_ID.replace("{scenario}", "002")
    + f"""
  return wrk.format("POST", "/api/agent-sessions/{SESSION_PREFIX}" .. (k % {SESSIONS}) ..
    "/messages", headers,
    '{{"role":"user","content":' .. {json.dumps(json.dumps(_ascii(MESSAGE)))} ..
    ',"request_id":"' .. rid .. '"}}')
"""
)

_MESSAGES_OF = (
    "SELECT count(*) FROM session_messages m JOIN agent_sessions s ON s.id = m.session_uuid"
    " WHERE s.session_id LIKE %s"
)

SCENARIOS = (
    RestScenario(
        "rest-create-session",
        "POST /api/agent-sessions (4 fields, a new session_id each)",
        expect='find(body, \'"session_id":"\' .. prefix, 1, true)',
        dynamic=_CREATE,
        stored="SELECT count(*) FROM agent_sessions WHERE session_id LIKE %s",
        stored_like="{prefix}%",
    ),
    RestScenario(
        "rest-create-with-id",
        "the same, each call with its own request_id (recorded with the write)",
        expect='find(body, \'"session_id":"\' .. prefix, 1, true)',
        dynamic=_CREATE_WITH_ID,
        stored="SELECT count(*) FROM agent_sessions WHERE session_id LIKE %s",
        stored_like="{prefix}%",
        anchor=False,
    ),
    RestScenario(
        "rest-append-message",
        "POST .../{id}/messages (100-byte user message, 100 sessions)",
        expect='find(body, \'"role":"user"\', 1, true)',
        requests=_append_requests,
        stored=_MESSAGES_OF,
        stored_like=SESSION_PREFIX + "%",
    ),
    RestScenario(
        "rest-append-with-id",
        "the same, each call with its own request_id (recorded with the write)",
        expect='find(body, \'"role":"user"\', 1, true)',
        dynamic=_APPEND_WITH_ID,
        stored=_MESSAGES_OF,
        stored_like=SESSION_PREFIX + "%",
        anchor=False,
    ),
    RestScenario(
        "rest-conversation",
        "POST .../conversation (one user message, mock agent, 100 sessions)",
        expect='find(body, \'"response":"This is a mock response to: \', 1, true)',
        requests=_conversation_requests,
        stored=_MESSAGES_OF,
        stored_like=CONV_PREFIX + "%",
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
        f"GET .../{{id}}/messages?page_size=50 (session of {BIG:,} messages)",
        expect=(
            f"find(body, '\"total_size\":{BIG}', 1, true)"
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
NAMES = tuple(s.name for s in SCENARIOS)


@dataclass(frozen=True)
class Target:
    """Where the REST calls go: this service through Envoy, or the anchor."""

    name: str  # "agent-sessions" or "anchor"
    port: int
    groups: dict[str, list[int]]  # server, envoy (this service only), postgres
    grpc_port: int | None = None  # to read how Envoy's connections split over the workers
    database_url: str | None = None  # to count what the calls stored (this service only)


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
    """One REST scenario's measured run on one target, with its warm-up's check."""

    scenario: RestScenario
    target: str
    round: int
    run: WrkRun
    warmup: WrkRun
    cpu: CpuWindow
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
        return self.cpu.ms_per_call(group, self.rate)

    @property
    def errors(self) -> int:
        """Failed calls: the measured run's, and the warm-up's answers that did not pass."""
        return self.run.failed + self.warmup.bad

    def figures(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "round": self.round,
            "requests": self.run.requests,
            "seconds": self.run.seconds,
            "req_per_s": self.rate,
            "p50_ms": self.run.p50_ms,
            "p99_ms": self.run.p99_ms,
            "errors": self.errors,
            "stored": self.stored,
            "load": self.load,
            "connections_per_worker": self.split,
            "problems": self.problems,
            **self.cpu.figures(self.rate),
        }


# -- wrk ----------------------------------------------------------------------------------------

_LUA_TEMPLATE = """-- Generated by bench/rest_scenarios.py: {name}
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
    return _LUA_TEMPLATE.format(
        name=scenario.name,
        token=_lua_str(token),
        prefix=_lua_str(prefix),
        check="true" if check else "false",
        plan="{" + ", ".join(rows) + "}",
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


@dataclass(frozen=True)
class Load:
    """The load every target gets: the same connections, threads, times and token."""

    token: str
    concurrency: int
    threads: int
    seconds: float
    warmup: float
    work: Path

    @classmethod
    def of(cls, config: Config, token: str, work: Path) -> Load:
        return cls(
            token, config.concurrency, config.rest_threads, config.seconds, config.warmup, work
        )

    def wrk(self, script: Path, seconds: float, port: int) -> list[str]:
        return [
            *("wrk", "-t", str(self.threads), "-c", str(self.concurrency)),
            *("-d", f"{max(1, round(seconds))}s", "--timeout", "30s", "-s", str(script)),
            f"http://127.0.0.1:{port}",
            *("--", str(self.threads)),
        ]


def _check_run(load: Load, scenario: RestScenario, target: Target, prefix: str) -> WrkRun:
    """A short wrk run whose every answer is read and checked (the warm-up)."""
    script = load.work / f"{scenario.name}-{target.name}-check.lua"
    script.write_text(wrk_script(scenario, load.token, prefix, check=True))
    done = subprocess.run(
        load.wrk(script, load.warmup, target.port),
        capture_output=True,
        text=True,
        timeout=load.warmup + 60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return _parse_wrk(done.stdout)


def _count(target: Target, scenario: RestScenario, like: str) -> int | None:
    if not scenario.stored or target.database_url is None:
        return None
    import psycopg

    with psycopg.connect(target.database_url, autocommit=True) as conn:
        row = conn.execute(scenario.stored, (like,)).fetchone()
    return int(row[0]) if row else 0


def run_scenario(
    load: Load, target: Target, scenario: RestScenario, run_id: str, round_: int
) -> RestResult:
    """The warm-up (checked), then the measured run with CPU read over its window."""
    tag = f"new-{run_id}-{target.name[:2]}{round_}"
    warm = _check_run(load, scenario, target, f"{tag}w-")
    prefix = f"{tag}m-"
    like = scenario.stored_like.format(prefix=prefix)
    # A call wrk left in flight when it stopped may still be committing: let it settle first.
    settle = 1.0 if scenario.stored else 0.0
    time.sleep(settle)
    stored_before = _count(target, scenario, like)
    script = load.work / f"{scenario.name}-{target.name}.lua"
    script.write_text(wrk_script(scenario, load.token, prefix, check=False))
    out = load.work / f"{scenario.name}-{target.name}.wrk.txt"
    server = target.groups["server"][0]
    with out.open("w") as stdout:
        launched = time.monotonic()
        wrk = subprocess.Popen(
            load.wrk(script, load.seconds, target.port),
            stdout=stdout,
            stderr=subprocess.STDOUT,
            text=True,
        )
        cpu = CpuWindow({**target.groups, "client": [wrk.pid]})
        time.sleep(max(0.0, launched + 0.5 - time.monotonic()))
        cpu.begin()
        workers_before = cpu_seconds(server)
        time.sleep(max(0.0, launched + 0.5 + load.seconds - 1.0 - time.monotonic()))
        cpu.end()
        workers_after = cpu_seconds(server)
        loadavg = os.getloadavg()[0]
        split = connections_per_worker(server, target.grpc_port) if target.grpc_port else []
        returncode = wrk.wait(load.seconds + 60)
    output = out.read_text()
    if returncode != 0:
        raise RuntimeError(f"wrk failed ({returncode}):\n{output}")
    run = _parse_wrk(output)
    workers = [
        100 * (seconds - workers_before.get(pid, 0.0)) / cpu.seconds
        for pid, seconds in workers_after.items()
        if pid != server
    ]
    result = RestResult(scenario, target.name, round_, run, warm, cpu, loadavg, split, workers)
    if not run.requests:
        result.problems.append("no call completed in the measured run")
    if warm.bad:
        result.problems.append(
            f"{warm.bad} of {warm.requests} warm-up answers were not 2xx or lacked what they "
            f"must hold; the first: {warm.first_bad}"
        )
    if stored_before is not None:
        time.sleep(settle)
        stored = (_count(target, scenario, like) or 0) - stored_before
        result.stored = stored
        calls = stored / scenario.stored_per_call
        succeeded = run.requests - run.errors["non-2xx"]
        # Calls still in flight when wrk stopped were stored but not counted: at most one per
        # connection.
        if not succeeded <= calls <= succeeded + load.concurrency:
            result.problems.append(
                f"the database holds {stored} new rows ({calls:g} calls) for {succeeded} "
                f"successful answers"
            )
    if run.failed:
        # The measured run does not read bodies: look at what a short checked run gets.
        again = _check_run(load, scenario, target, f"{tag}e-")
        failed = ", ".join(f"{k} {v}" for k, v in run.errors.items() if v)
        result.problems.append(
            f"{run.failed} failed calls ({failed}); "
            f"a checked re-run: {again.bad} bad of {again.requests}, the first: {again.first_bad}"
        )
    say(
        f"  {target.name}: {result.rate:.0f} req/s, {run.failed} errors; {cpu.describe()}; "
        f"load {loadavg:.2f}"
        + (f"; Envoy's connections per worker {'/'.join(map(str, split))}" if split else "")
    )
    return result


# -- the sessions the calls use -----------------------------------------------------------------


def _post(connection: http.client.HTTPConnection, path: str, body: str, token: str) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request("POST", path, body, headers)
    reply = connection.getresponse()
    text = reply.read()
    if reply.status != 200:
        raise RuntimeError(f"POST {path}: {reply.status} {text[:300]!r}")
    return json.loads(text)


def create_sessions(port: int, token: str, big: bool) -> None:
    """The 100 sessions the append, get and patch calls use and the 100 the conversations
    continue, created through REST; with `big`, also the session of BIG messages, filled
    through REST (conversations of 999 messages each, the mock's reply making 1,000)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for prefix in (SESSION_PREFIX, CONV_PREFIX):
            for s in range(SESSIONS):
                session = {
                    "session_id": f"{prefix}{s}",
                    "session_name": f"REST bench {s}",
                    "description": "created by the REST bench",
                    "agent_name": "bench-agent",
                }
                _post(connection, "/api/agent-sessions", _body(session), token)
        if big:
            for _ in range(BIG // 1000):
                turn = {
                    "session_id": BIG_SESSION,
                    "messages": [{"role": "user", "content": CONTENT}] * 999,
                }
                _post(connection, "/api/agent-sessions/conversation", _body(turn), token)
    finally:
        connection.close()
