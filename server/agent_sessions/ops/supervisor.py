"""One supervisor for child processes and blocking resources: start in order, stop in reverse.

    async with Supervisor() as supervisor:
        url = await supervisor.resource("PostgreSQL", start, stop)    # a blocking start, in a thread
        await supervisor.spawn("worker", argv, env=env, count=2, restart=Restart())
        await supervisor.guard(wait_grpc_serving_async(target))        # cut short by a stop
        await supervisor.wait()
    return supervisor.exit_status                                      # 0 after a signal, 1 if a child died

SIGINT, SIGTERM and SIGHUP only set an event; they never raise into the code that runs. Each
start-up step checks that event and raises `Stopped`, which the `async with` absorbs, so a signal
during start-up stops what was started so far. A child exiting on its own sets the event too, with
exit status 1, unless its spawn gave a `Restart` policy: then it is replaced, after a backoff, and
only deaths in a loop stop everything. Leaving the block stops the children spawned with `drain`
first (each gets its own, longer time), then everything else in reverse start order: each child
with SIGTERM, then SIGKILL after `stop_timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, TypeVar

from agent_sessions.ops import deathsig

log = logging.getLogger(__name__)

T = TypeVar("T")
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Between SIGTERM and SIGKILL; longer than a worker's grace period for calls in flight.
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Restart:
    """How the processes of one spawn are replaced when one exits on its own: after a delay of
    `first_delay` seconds, doubled for each earlier exit within `window` seconds (at most
    `max_delay`); the `limit`-th exit within `window` seconds stops everything with exit
    status 1 instead, as a child that cannot stay up needs an operator. `on_exit(pid, code)`
    runs for each exit that is not part of a stop (before the restart or the give-up), and
    `on_restart()` for each replacement started."""

    first_delay: float = 0.5
    max_delay: float = 10.0
    limit: int = 5
    window: float = 60.0
    on_exit: Callable[[int, int], object] | None = None
    on_restart: Callable[[], object] | None = None

    def delay(self, recent: int) -> float:
        """The delay before a restart when `recent` exits (this one included) fell in the window."""
        return float(min(self.max_delay, self.first_delay * 2 ** max(0, recent - 1)))


class Stopped(Exception):
    """Start-up was cut short by a signal or a child's exit; `async with Supervisor()` absorbs it."""


class _Unit(Protocol):
    name: str

    async def stop(self, kill_after: float) -> None: ...


@dataclass
class _Processes:
    """The processes of one `spawn` call, stopped together."""

    name: str
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)
    # Its own time between SIGTERM and SIGKILL (None: the supervisor's), e.g. a drain's.
    stop_timeout: float | None = None
    drain: bool = False

    async def stop(self, kill_after: float) -> None:
        kill_after = self.stop_timeout if self.stop_timeout is not None else kill_after
        running = [p for p in self.processes if p.returncode is None]
        if not running:
            return
        log.info("stopping %s (%s)", self.name, ", ".join(f"pid {p.pid}" for p in running))
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in running)), kill_after)
        except TimeoutError:
            for process in running:
                if process.returncode is None:
                    log.warning(
                        "%s pid %d ignored SIGTERM for %g s; killing it",
                        self.name,
                        process.pid,
                        kill_after,
                    )
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
            await asyncio.gather(*(p.wait() for p in running))


@dataclass
class _Resource:
    """Something a blocking call started; a blocking call stops it (with its own time limit)."""

    name: str
    release: Callable[[], object]

    async def stop(self, kill_after: float) -> None:
        log.info("stopping %s", self.name)
        await asyncio.to_thread(self.release)


def _block_handled_signals() -> None:
    # The supervisor's threads never take these signals (only the event loop's thread handles
    # them), and the programs those threads run inherit the mask. Ctrl-C reaches the whole
    # process group: a pg_ctl killed halfway through `start` would leave a PostgreSQL running
    # that nothing has a handle to stop.
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)


class Supervisor:
    """Starts children and blocking resources, and stops every one of them, whatever happens."""

    def __init__(self, *, stop_timeout: float = STOP_TIMEOUT) -> None:
        self.stop_timeout = stop_timeout
        self.exit_status = 0
        self._stop = asyncio.Event()
        self._stopping = False
        self._units: list[_Unit] = []
        self._watchers: set[asyncio.Task[None]] = set()
        # Exit times of restartable children, per spawn name, for the Restart window.
        self._exits: dict[str, deque[float]] = {}

    async def __aenter__(self) -> Supervisor:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(
            ThreadPoolExecutor(thread_name_prefix="supervisor", initializer=_block_handled_signals)
        )
        for sig in HANDLED_SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        try:
            await self.stop()
        finally:
            loop = asyncio.get_running_loop()
            for sig in HANDLED_SIGNALS:
                loop.remove_signal_handler(sig)
                # The process is on its way out: a late duplicate (Ctrl-C reaches the whole
                # group, and make forwards it too) must not turn a clean exit into 130 or 143.
                signal.signal(sig, signal.SIG_IGN)
        return exc_type is not None and issubclass(exc_type, Stopped)

    def _on_signal(self, sig: signal.Signals) -> None:
        self.request_stop(f"received {sig.name}")

    def request_stop(self, reason: str, exit_status: int = 0) -> None:
        """Ends start-up or `wait`. The first request decides the exit status; later ones are no-ops."""
        if self._stop.is_set():
            return
        self.exit_status = exit_status
        log.log(logging.ERROR if exit_status else logging.INFO, "%s; stopping", reason)
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def _check(self) -> None:
        if self._stop.is_set():
            raise Stopped

    async def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        count: int = 1,
        restart: Restart | None = None,
        stop_timeout: float | None = None,
        drain: bool = False,
    ) -> list[asyncio.subprocess.Process]:
        """Starts `count` processes of `argv`, stopped together and before anything started earlier.

        Each runs in a session of its own: a terminal's Ctrl-C or hang-up reaches only the
        supervisor, which then stops the children in order (see `stop`).
        Each also gets SIGTERM from Linux if the supervisor dies without stopping it (SIGKILL).
        With `restart`, one that exits on its own is replaced (see Restart). `stop_timeout`
        replaces the supervisor's time between SIGTERM and SIGKILL for these processes; with
        `drain` they are stopped before everything else (servers that finish their calls while
        the proxy in front of them still passes the answers on). The returned list is the
        unit's own: it holds the replacements of restarted processes.
        """
        self._check()
        unit = _Processes(name, stop_timeout=stop_timeout, drain=drain)
        self._units.append(unit)
        for _ in range(count):
            await self._start_process(unit, argv, env, restart)
        self._check()
        return unit.processes

    async def _start_process(
        self,
        unit: _Processes,
        argv: Sequence[str],
        env: Mapping[str, str] | None,
        restart: Restart | None,
    ) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            *deathsig.command(argv),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        unit.processes.append(process)
        watcher = asyncio.create_task(self._watch(unit, process, argv, env, restart))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        return process

    async def _watch(
        self,
        unit: _Processes,
        process: asyncio.subprocess.Process,
        argv: Sequence[str],
        env: Mapping[str, str] | None,
        restart: Restart | None,
    ) -> None:
        code = await process.wait()
        if self._stopping:
            return
        what = f"{unit.name} pid {process.pid} exited with {code}"
        if restart is None:
            self.request_stop(what, exit_status=1)
            return
        if restart.on_exit is not None:
            try:
                restart.on_exit(process.pid, code)
            except Exception:
                log.exception("the exit callback of %s failed", unit.name)
        now = time.monotonic()
        exits = self._exits.setdefault(unit.name, deque())
        exits.append(now)
        while exits and exits[0] < now - restart.window:
            exits.popleft()
        if len(exits) >= restart.limit:
            self.request_stop(
                f"{what}: {len(exits)} exits within {restart.window:g} s, so it would only die "
                f"again; giving up. Its log lines above say why it exits (a setting, the "
                "database, memory?); fix that and start again",
                exit_status=1,
            )
            return
        delay = restart.delay(len(exits))
        log.error("%s; starting another in %g s", what, delay)
        stopping = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait((stopping,), timeout=delay)
        finally:
            stopping.cancel()
        if self._stop.is_set():
            return
        if process in unit.processes:
            unit.processes.remove(process)
        try:
            replacement = await self._start_process(unit, argv, env, restart)
        except OSError as exc:
            self.request_stop(f"could not start another {unit.name}: {exc}", exit_status=1)
            return
        if self._stopping:  # a stop began while it started: it may have missed this one
            with contextlib.suppress(ProcessLookupError):
                replacement.terminate()
            return
        if restart.on_restart is not None:
            restart.on_restart()
        log.warning("%s: pid %d replaces pid %d", unit.name, replacement.pid, process.pid)

    async def resource(self, name: str, start: Callable[[], T], stop: Callable[[T], object]) -> T:
        """Runs the blocking `start` in a thread; `stop(result)` runs when everything stops.

        A thread cannot be interrupted: a signal meanwhile lets `start` finish, so that what it
        started is registered to be stopped, and only then raises Stopped.
        """
        handle = await self._in_thread(name, start)
        self._units.append(_Resource(name, functools.partial(stop, handle)))
        self._check()
        return handle

    async def blocking(self, name: str, call: Callable[[], T]) -> T:
        """Runs a blocking start-up step in a thread to its end, then raises Stopped if asked to."""
        result = await self._in_thread(name, call)
        self._check()
        return result

    async def _in_thread(self, name: str, call: Callable[[], T]) -> T:
        self._check()
        try:
            return await asyncio.to_thread(call)
        except Exception as exc:
            if not self.stop_requested:
                raise
            # Ctrl-C reaches the whole process group: programs the step runs (initdb's own
            # postgres) may have been interrupted by the very signal that asked us to stop.
            log.warning("%s failed while stopping: %s", name, exc)
            raise Stopped from exc

    async def guard(self, step: Awaitable[T]) -> T:
        """Awaits a start-up step, unless a stop is requested first: then cancels it and raises Stopped."""
        self._check()
        task = asyncio.ensure_future(step)
        stopping = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait((task, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if task.cancelled():
            raise Stopped
        return task.result()

    async def wait(self) -> int:
        """Returns once a signal arrived or a child exited, with the exit status to use."""
        await self._stop.wait()
        return self.exit_status

    async def stop(self) -> None:
        """Stops everything started: the children spawned with `drain` first, then the rest in
        reverse start order (Envoy before the PostgreSQL behind it); children exiting now are
        expected."""
        self._stopping = True
        self._stop.set()
        # Draining servers first, while what is in front of them still carries their answers.
        draining = [u for u in self._units if isinstance(u, _Processes) and u.drain]
        self._units = [u for u in self._units if u not in draining]
        self._units.extend(draining)
        while self._units:
            unit = self._units.pop()
            try:
                await unit.stop(self.stop_timeout)
            except Exception:
                log.exception("could not stop %s", unit.name)
        for watcher in list(self._watchers):
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        log.info("stopped")
