"""The gRPC server: both services, health and reflection, with a drain at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import secrets
import signal
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import grpc
from agentsessions.v1 import message_service_pb2, session_service_pb2
from agentsessions.v1 import message_service_pb2_grpc as msg_grpc
from agentsessions.v1 import session_service_pb2_grpc as ses_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc
from grpc_reflection.v1alpha._async import ReflectionServicer

from agent_sessions.agents import Agent, AgentRegistry
from agent_sessions.agents.from_settings import build_registry, tool_server_access
from agent_sessions.api.guard import Guard, Registrar
from agent_sessions.api.servicers import MessageServicer, SessionServicer
from agent_sessions.auth import TokenVerifier
from agent_sessions.db.engine import open_pool
from agent_sessions.db.listener import Listener, Notifier
from agent_sessions.db.maintenance import keep_sweeping
from agent_sessions.db.probe import keep_probing
from agent_sessions.db.tracing import traced_connections
from agent_sessions.db.uow import Database, Pool
from agent_sessions.services import MessageService, SessionService, TurnService
from agent_sessions.services.live import LiveTurns
from agent_sessions.services.pagination import PageTokens
from agent_sessions.settings import Settings

log = logging.getLogger(__name__)

SERVICE_NAMES = (
    session_service_pb2.DESCRIPTOR.services_by_name["SessionService"].full_name,
    message_service_pb2.DESCRIPTOR.services_by_name["MessageService"].full_name,
)
GRACE_SECONDS = 5.0  # a RunningServer's drain unless told (embedders, tests)
METADATA_LIMIT = 96 * 1024


@dataclass
class RunningServer:
    """A started server, the port it listens on, and how to stop it."""

    server: grpc.aio.Server
    health: HealthServicer
    pool: Pool
    agents: AgentRegistry
    port: int
    # What start() opened (the pool, the agents), closed in the reverse order.
    resources: AsyncExitStack
    # What to end as the drain begins rather than let run through it: calls that would hold the
    # drain for its whole length and are better resumed on another server (a live watch, ended
    # with UNAVAILABLE so its client reconnects elsewhere). Each is awaited once, together.
    at_drain: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Live turns: detached ones have no call for the drain to wait for; they get what is left.
    live: LiveTurns | None = None

    async def stop(self, grace: float = GRACE_SECONDS) -> None:
        """The drain: reports NOT_SERVING, stops taking calls, ends what `at_drain` names, lets
        the calls in flight (turns) run for up to `grace` seconds, cancels those still running
        (a cancelled turn stores nothing), then closes the agents and the pool."""
        # From here on health stays NOT_SERVING, whatever the database probe finds, so a
        # balancer's health checks take this server out of rotation.
        await self.health.enter_graceful_shutdown()
        # grpc.aio's stop refuses new calls at once, waits up to `grace` for the running ones,
        # then cancels what is left; it returns once they ended.
        started = time.monotonic()
        stopping = asyncio.create_task(self.server.stop(grace))
        await asyncio.sleep(0)  # the stop has begun: no call starts after the hooks ran
        for outcome in await asyncio.gather(
            *(end() for end in self.at_drain), return_exceptions=True
        ):
            if isinstance(outcome, BaseException):
                log.error("ending a call at drain failed", exc_info=outcome)
        await stopping
        if self.live is not None:
            await self.live.drain(grace - (time.monotonic() - started))
        await self.resources.aclose()


def page_token_key(settings: Settings) -> bytes:
    """The settings' page-token key; without one (an embedded single-process server with RS*/ES*
    tokens), a random key good for this process only."""
    key = settings.page_token_key()
    if key is None:
        log.warning("no AGENT_SESSIONS_PAGE_TOKEN_SECRET: page tokens hold for this process only")
        key = secrets.token_bytes(32)
    return key


async def start(settings: Settings, agent: Agent | None = None) -> RunningServer:
    """Starts a server on settings.grpc_host:grpc_port (port 0 picks a free one). What it opens
    is closed again when a later step fails (the agents' start, the bind)."""
    async with AsyncExitStack() as resources:
        pool = await open_pool(
            settings.database_url,
            settings.db_pool_size,
            settings.workers,
            traced_connections() if settings.otlp_endpoint else None,
            settings.database_wait_seconds,
        )
        resources.push_async_callback(pool.close)
        resources.push_async_callback(
            _cancelled,
            asyncio.create_task(keep_sweeping(pool, history_ttl=settings.request_id_ttl)),
        )
        agents = AgentRegistry.single(agent) if agent is not None else build_registry(settings)
        resources.push_async_callback(agents.aclose)
        await agents.start()
        # One LISTEN connection per process: the wake-ups of live turns and watches.
        listener = Listener(settings.database_url)
        await listener.start()
        resources.push_async_callback(listener.stop)
        notifier = Notifier(settings.database_url, listener)
        resources.push_async_callback(notifier.stop)
        db = Database(pool, settings.request_id_ttl, settings.session_ttl, notifier)
        server, health, live = _build_server(settings, db, agents, listener)
        live.start()
        resources.push_async_callback(live.stop)
        # What holds calls open that the drain should end at once: live watches.
        at_drain: list[Callable[[], Awaitable[None]]] = [live.close_watches]
        port = server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
        if port == 0:
            raise OSError(f"cannot listen on {settings.grpc_host}:{settings.grpc_port}")
        await server.start()
        await _set_health(health, True)
        # NOT_SERVING while the database does not answer; SERVING again once it does.
        probing = asyncio.create_task(keep_probing(pool, functools.partial(_set_health, health)))
        resources.push_async_callback(_cancelled, probing)
        return RunningServer(
            server, health, pool, agents, port, resources.pop_all(), at_drain, live
        )
    raise AssertionError("unreachable")  # for mypy: the block returns or raises


async def _set_health(health: HealthServicer, serving: bool) -> None:
    """Sets the whole server's and each service's status (ignored once shutdown began)."""
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in ("", *SERVICE_NAMES):
        await health.set(name, status)


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _build_server(
    settings: Settings, db: Database, agents: AgentRegistry, listener: Listener
) -> tuple[grpc.aio.Server, HealthServicer, LiveTurns]:
    """The gRPC server with both services, health and reflection registered (not yet bound)."""
    tokens = PageTokens(page_token_key(settings))
    tool_servers = tool_server_access(settings)
    models = settings.allowed_models
    sessions = SessionService(db, tokens, tool_servers, models)
    turns = TurnService(db, agents, settings.history_window, tool_servers, models)
    messages = MessageService(db, tokens, tool_servers, models)
    live = LiveTurns(
        db,
        turns,
        listener,
        lease=settings.turn_lease,
        max_queued=settings.max_queued_turns,
        max_turns_per_user=settings.max_turns_per_user,
        max_watches_per_user=settings.max_watches_per_user,
    )
    server = grpc.aio.server(
        # With tracing on, a span per call that continues the caller's W3C `traceparent`.
        interceptors=_tracing_interceptors(settings),
        # Several worker processes bind the same port; the kernel spreads connections.
        options=[
            ("grpc.so_reuseport", 1),
            ("grpc.max_receive_message_length", 8 * 1024 * 1024),
            # grpc's default soft limit (8 KiB) refuses a random share of calls between 8 and
            # 16 KiB of headers; one fixed limit above Envoy's (60 KiB) answers the same each time.
            ("grpc.max_metadata_size", METADATA_LIMIT),
            ("grpc.absolute_max_metadata_size", METADATA_LIMIT),
        ],
    )
    # Every method guarded (auth, errors) and registered as generic: see api/guard.py.
    registrar: Any = Registrar(server, Guard(TokenVerifier(settings)))
    ses_grpc.add_SessionServiceServicer_to_server(SessionServicer(sessions, live), registrar)  # type: ignore[no-untyped-call]
    msg_grpc.add_MessageServiceServicer_to_server(MessageServicer(messages), registrar)  # type: ignore[no-untyped-call]
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, registrar)
    # What reflection.enable_server_reflection does for a grpc.aio server, on the registrar.
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        ReflectionServicer(
            (
                *SERVICE_NAMES,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            )
        ),
        registrar,
    )
    return server, health, live


def _tracing_interceptors(settings: Settings) -> list[Any]:
    """OpenTelemetry's gRPC server interceptor when traces are exported; none otherwise (an
    interceptor costs every call: api/guard.py)."""
    if not settings.otlp_endpoint:
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor()]  # type: ignore[no-untyped-call]


async def serve(
    settings: Settings,
    agent: Agent | None = None,
    on_started: Callable[[RunningServer], Awaitable[None] | None] | None = None,
) -> None:
    """Serves until SIGTERM or SIGINT, then drains for up to AGENT_SESSIONS_DRAIN_SECONDS."""
    running = await start(settings, agent)
    # Everything imported and built so far lives as long as the process: move it out of the
    # collector's view. Otherwise each full collection walks ~230,000 objects (the SDKs'
    # imports) and stops the event loop for 120-190 ms: the p99 of streamed deltas (make bench).
    gc.collect()
    gc.freeze()
    log.info("gRPC server listening on %s:%d", settings.grpc_host, running.port)
    if on_started is not None:
        result = on_started(running)
        if result is not None:
            await result
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("draining: no new calls; calls in flight get up to %g s", settings.drain_seconds)
    await running.stop(settings.drain_seconds)
    log.info("gRPC server stopped")
