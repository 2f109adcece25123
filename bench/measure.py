"""How every scenario measures: one CPU window over process trees, one percentile, memory."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import psutil

STARTED = time.monotonic()


def say(message: str) -> None:
    """A progress line, with the seconds since the start."""
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (`q` in 0..1) in the values' own unit; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants (none when it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _process_cpu(process: psutil.Process) -> float:
    """CPU seconds so far of one process. /proc's user and system times come in 10 ms ticks, so
    32 PostgreSQL backends that each work 2 ms in a window would read 0: a single-threaded
    process is read from /proc/<pid>/schedstat instead (nanoseconds). Threaded ones (the server
    workers, whose threads may come and go) keep the ticks; they use seconds of CPU."""
    try:
        if process.num_threads() == 1:
            with open(f"/proc/{process.pid}/schedstat") as schedstat:
                return int(schedstat.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError, psutil.Error):
        pass
    times = process.cpu_times()
    return float(times.user + times.system)


def cpu_seconds(*roots: int) -> dict[int, float]:
    """CPU seconds so far of each process in the trees of `roots`, by pid."""
    seconds: dict[int, float] = {}
    for root in roots:
        for process in process_tree(root):
            try:
                seconds[process.pid] = _process_cpu(process)
            except psutil.Error:
                continue
    return seconds


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (not idle, not waiting for I/O)."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _all_processes() -> dict[int, tuple[str, float]]:
    """Every process's name and CPU seconds (ticks), to name what else kept the machine busy."""
    out: dict[int, tuple[str, float]] = {}
    for process in psutil.process_iter(["name", "cpu_times"]):
        times = process.info["cpu_times"]
        if times is not None:
            out[process.pid] = (process.info["name"] or "?", times.user + times.system)
    return out


# (monotonic time, CPU seconds by pid per group, every process's (name, seconds))
CpuReading = tuple[float, dict[str, dict[int, float]], dict[int, tuple[str, float]]]


class CpuWindow:
    """CPU seconds of named process trees (a group may have several roots) and of the whole
    machine ("machine") between `begin()` and `end()`, or between two `read()`s.

    Processes born in between count whole; processes that ended in between are not seen, so a
    window over PostgreSQL backends must end while they still live."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self._before: CpuReading = (0.0, {}, {})
        self.used: dict[str, float] = {}
        self.others: dict[str, float] = {}  # CPU seconds of other processes, by name
        self.seconds = 0.0

    def read(self) -> CpuReading:
        now = {name: cpu_seconds(*roots) for name, roots in self.groups.items()}
        now["machine"] = {0: machine_busy()}
        return time.monotonic(), now, _all_processes()

    def begin(self) -> None:
        self._before = self.read()

    def end(self) -> None:
        self.between(self._before, self.read())

    def between(self, before: CpuReading, after: CpuReading) -> None:
        self.seconds = after[0] - before[0]
        self.used = {
            name: sum(s - before[1].get(name, {}).get(pid, 0.0) for pid, s in pids.items())
            for name, pids in after[1].items()
        }
        ours = {pid for name, pids in after[1].items() if name != "machine" for pid in pids}
        ours.add(os.getpid())
        self.others = {}
        for pid, (name, seconds) in after[2].items():
            if pid not in ours:
                used = seconds - before[2].get(pid, (name, 0.0))[1]
                self.others[name] = self.others.get(name, 0.0) + used

    def share(self, name: str) -> float:
        """% of one core."""
        return 100 * self.used.get(name, 0.0) / self.seconds if self.seconds else float("nan")

    def other(self) -> float:
        """% of one core the machine spent outside the measured groups (other work on it)."""
        ours = sum(self.share(g) for g in self.used if g != "machine")
        return max(0.0, self.share("machine") - ours)

    def ms_per_call(self, group: str, rate: float) -> float:
        """CPU milliseconds per call: the group's CPU per second over the calls per second."""
        if not self.seconds or not rate:
            return float("nan")
        return 1000 * self.used.get(group, 0.0) / self.seconds / rate

    def describe(self) -> str:
        """The groups' CPU in % of one core, and the busiest other processes."""
        groups = ", ".join(f"{g} {self.share(g):.0f}%" for g in self.groups)
        top = sorted(self.others.items(), key=lambda kv: -kv[1])[:3]
        named = ", ".join(
            f"{name} {100 * used / self.seconds:.0f}%"
            for name, used in top
            if self.seconds and 100 * used / self.seconds >= 2
        )
        return (
            f"CPU (100% = one core): {groups}, other {self.other():.0f}%"
            f"{f' ({named})' if named else ''}; machine {self.share('machine'):.0f}% of "
            f"{100 * (os.cpu_count() or 1)}%"
        )

    def figures(self, rate: float) -> dict[str, float]:
        """For the results file: CPU ms per call of each group, and % of a core."""
        out = {f"cpu_ms_per_call_{g}": self.ms_per_call(g, rate) for g in self.groups}
        out |= {f"cpu_share_{g}": self.share(g) for g in (*self.groups, "machine")}
        out["cpu_share_other"] = self.other()
        return out


@dataclass(frozen=True)
class Memory:
    """Resident memory summed over the server's worker processes, in bytes."""

    rss: int
    uss: int


def worker_memory(server_pid: int) -> Memory:
    rss = uss = 0
    for worker in process_tree(server_pid)[1:]:
        try:
            info = worker.memory_full_info()
        except psutil.NoSuchProcess:
            continue
        rss += info.rss
        uss += info.uss
    return Memory(rss, uss)


def connections_per_worker(server_pid: int, port: int) -> list[int]:
    """Established TCP connections each worker accepted on `port` (the kernel's SO_REUSEPORT
    split of the clients' connections)."""
    counts = []
    for worker in process_tree(server_pid)[1:]:
        try:
            connections = worker.net_connections(kind="tcp")
        except psutil.Error:
            continue
        counts.append(sum(1 for c in connections if c.laddr and c.laddr.port == port and c.raddr))
    return counts
