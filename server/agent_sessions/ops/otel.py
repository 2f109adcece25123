"""OpenTelemetry traces, off unless OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set.

When on, each worker exports its spans over OTLP/HTTP (protobuf) in batches: one per gRPC call
(continuing the caller's W3C `traceparent`), one per SQL statement, one per model call and one
per MCP tool call. The exporter reads the standard OTEL_* variables itself (headers, timeouts,
OTEL_SERVICE_NAME, OTEL_BSP_*). Off, nothing of the SDK is imported and calls pass through no
interceptor; the model and tool spans are then the API's no-op spans.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from agent_sessions.settings import Settings

log = logging.getLogger(__name__)

SERVICE_NAME = "agent-sessions"


def start_tracing(settings: Settings) -> Callable[[], None] | None:
    """Installs the tracer provider and its OTLP exporter when an endpoint is set; returns
    what flushes and stops them at exit (None when tracing is off)."""
    if not settings.otlp_endpoint:
        return None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME", "").strip() or SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    log.info("exporting traces over OTLP/HTTP to %s", _shown(settings.otlp_endpoint))
    return provider.shutdown


def _shown(url: str) -> str:
    """The endpoint without credentials or query (they may hold a key)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
