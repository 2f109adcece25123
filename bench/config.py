"""What a run measures and with how much load, from BENCH_* settings (see bench/__main__.py)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


@dataclass(frozen=True)
class Config:
    """The run's settings; the scenario names are checked in bench/__main__.py."""

    seconds: float
    warmup: float
    concurrency: int
    client_procs: int
    workers: int
    client: str
    scenarios: str  # BENCH_SCENARIOS as given
    rest_threads: int
    envoy_no_lua: bool
    anchor: Path | None
    anchor_rounds: int
    model_streams: int
    model_delay: float
    model_length: float
    model_ramp: float
    model_connections: int
    watchers: int
    watch_rate: float
    watch_hot: int
    watch_hot_rate: float
    resume_tries: int
    results: Path

    @classmethod
    def from_env(cls) -> Config:
        concurrency = int(_number("BENCH_CONCURRENCY", 16))
        anchor = os.environ.get("BENCH_ANCHOR", "").strip()
        if anchor and not (Path(anchor) / "run.sh").is_file():
            raise SystemExit(f"BENCH_ANCHOR={anchor}: no run.sh in that directory")
        return cls(
            seconds=_number("BENCH_SECONDS", 10),
            warmup=_number("BENCH_WARMUP", 2),
            concurrency=concurrency,
            client_procs=max(1, min(concurrency, int(_number("BENCH_CLIENT_PROCS", 1)))),
            workers=int(_number("AGENT_SESSIONS_WORKERS", os.cpu_count() or 1)),
            client=os.environ.get("BENCH_CLIENT")
            or ("h2load" if shutil.which("h2load") else "python"),
            scenarios=os.environ.get("BENCH_SCENARIOS", ""),
            rest_threads=max(1, min(concurrency, int(_number("BENCH_REST_THREADS", 2)))),
            envoy_no_lua=os.environ.get("BENCH_ENVOY_NO_LUA", "").strip() not in ("", "0"),
            anchor=Path(anchor).resolve() if anchor else None,
            anchor_rounds=max(1, int(_number("BENCH_ANCHOR_ROUNDS", 3))),
            model_streams=int(_number("BENCH_MODEL_STREAMS", 1000)),
            model_delay=_number("BENCH_MODEL_DELAY", 2.0),
            model_length=_number("BENCH_MODEL_LENGTH", 30.0),
            model_ramp=_number("BENCH_MODEL_RAMP", 10.0),
            model_connections=int(_number("BENCH_MODEL_CONNECTIONS", 200)),
            watchers=int(_number("BENCH_WATCHERS", 1000)),
            watch_rate=_number("BENCH_WATCH_RATE", 50.0),
            watch_hot=int(_number("BENCH_WATCH_HOT", 100)),
            watch_hot_rate=_number("BENCH_WATCH_HOT_RATE", 10.0),
            resume_tries=int(_number("BENCH_RESUME_TRIES", 30)),
            results=Path(os.environ.get("BENCH_RESULTS", "") or Path(__file__).parent / "results"),
        )
