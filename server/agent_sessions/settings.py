"""Configuration, read once from `AGENT_SESSIONS_*` environment variables into a typed object."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PREFIX = "AGENT_SESSIONS_"
ALLOWED_ALGORITHMS = frozenset(
    {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384"}
)


# RFC 7518 (section 3.2): an HS256 key must have at least as many bits as the hash (HS384/512: more).
MIN_SECRET_BYTES = 32


class SettingsError(ValueError):
    """A setting has a value the service cannot use; the message names the variable."""


# PostgreSQL allows 100 connections by default (the embedded one too). By default all workers
# together open at most this many, so one worker per core still starts on a 16-core machine.
DEFAULT_CONNECTION_BUDGET = 64


def default_pool_size(workers: int) -> int:
    """Connections per worker when AGENT_SESSIONS_DB_POOL_SIZE is unset: 16, less on many cores."""
    return max(1, min(16, DEFAULT_CONNECTION_BUDGET // workers))


def _get(env: dict[str, str], name: str, default: str = "") -> str:
    return env.get(PREFIX + name, default).strip()


def _int(env: dict[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = _get(env, name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{PREFIX}{name} must be between {minimum} and {maximum}, got {value}")
    return value


def _seconds(env: dict[str, str], name: str, default: float, maximum: float) -> float:
    raw = _get(env, name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a number of seconds, got {raw!r}") from None
    if not (math.isfinite(value) and 0 < value <= maximum):
        raise SettingsError(f"{PREFIX}{name} must be more than 0 and at most {maximum:g} seconds")
    return value


def _choice(env: dict[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (case-insensitive); unset → the first."""
    value = _get(env, name, choices[0]).lower() or choices[0]
    if value not in choices:
        raise SettingsError(f"{PREFIX}{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _flag(env: dict[str, str], name: str) -> bool:
    value = _get(env, name).lower()
    if value in {"", "0", "false", "no", "off"}:
        return False
    if value in {"1", "true", "yes", "on"}:
        return True
    raise SettingsError(f"{PREFIX}{name} must be 1/true/yes/on or 0/false/no/off, got {value!r}")


def _cors_origins(env: dict[str, str]) -> tuple[str, ...]:
    """AGENT_SESSIONS_CORS_ORIGINS: origins exactly as a browser sends them in `Origin`
    (scheme://host[:port], lower case, no path); unset → none."""
    origins = tuple(o.strip() for o in _get(env, "CORS_ORIGINS").split(",") if o.strip())
    for origin in origins:
        parts = urlsplit(origin)
        try:
            parts.port  # noqa: B018 - parsing the port is the check
        except ValueError:
            parts = urlsplit("bad:")
        if (
            parts.scheme not in {"http", "https"}
            or not parts.hostname
            or origin != f"{parts.scheme}://{parts.netloc}"
            or origin != origin.lower()
            or "@" in parts.netloc
        ):
            raise SettingsError(
                f"{PREFIX}CORS_ORIGINS must list origins such as https://app.example.com or "
                f"http://localhost:3000 (scheme://host[:port], lower case, no path), got {origin!r}"
            )
    return origins


# OpenTelemetry's own variables, read as its SDK reads them: the traces endpoint first.
OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")

# Where AGENT_SESSIONS_AGENT=openai sends requests when AGENT_SESSIONS_MODEL_BASE_URL is unset.
OPENAI_BASE_URL = "https://api.openai.com/v1"


def _base_url(env: dict[str, str]) -> str:
    raw = _get(env, "MODEL_BASE_URL")
    if not raw:
        return ""
    parts = urlsplit(raw)
    shown = "a URL with credentials" if "@" in raw else repr(raw)  # never print a password
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingsError(
            f"{PREFIX}MODEL_BASE_URL must be an http:// or https:// URL such as "
            f"http://127.0.0.1:11434/v1, got {shown}"
        )
    if parts.query or parts.fragment:
        raise SettingsError(f"{PREFIX}MODEL_BASE_URL must have no query or fragment, got {shown}")
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise SettingsError(f"{PREFIX}MODEL_BASE_URL has an invalid port, got {shown}") from None
    return raw.rstrip("/")


def _api_key(env: dict[str, str]) -> str:
    key = _get(env, "MODEL_API_KEY")
    # Never echo the value: the message goes to logs and terminals.
    if any(c.isspace() or not c.isprintable() for c in key):
        raise SettingsError(
            f"{PREFIX}MODEL_API_KEY contains whitespace or control characters; it cannot be sent "
            "as a bearer key (check for a pasted line break)"
        )
    return key


def _database_url(env: dict[str, str], name: str = "DATABASE_URL") -> str:
    """AGENT_SESSIONS_DATABASE_URL (or another URL setting): a postgresql:// (or postgres://)
    URL, checked here so a wrong one stops the start with one line; never echoed, as it may
    hold a password."""
    url = _get(env, name)
    scheme, sep, _ = url.partition("://")
    if url and (not sep or scheme.split("+", 1)[0] not in {"postgresql", "postgres"}):
        raise SettingsError(
            f"{PREFIX}{name} must be a postgresql:// URL such as "
            "postgresql://user:password@host:5432/dbname (its value is not shown: it may hold "
            "a password)"
        )
    return url


def _models(env: dict[str, str]) -> tuple[str, ...]:
    """AGENT_SESSIONS_MODELS: the models callers may choose, comma-separated; unset → any."""
    models = tuple(m.strip() for m in _get(env, "MODELS").split(",") if m.strip())
    for model in models:
        if len(model) > 256 or not model.isprintable():
            raise SettingsError(
                f"{PREFIX}MODELS must list model names of at most 256 printable characters, "
                f"separated by commas, got {model[:80]!r}"
            )
    return models


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    database_url: str = ""
    # Who runs the migrations: a role that may change the schema, when the service itself
    # serves as one that may only read and write rows ("": database_url).
    migration_database_url: str = field(default="", repr=False)
    jwt_secret: str = field(default="", repr=False)
    jwt_public_key: str = field(default="", repr=False)
    # Signs page tokens; never the JWT public key (anyone has that one).
    page_token_secret: str = field(default="", repr=False)
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_issuer: str = ""
    jwt_audience: str = ""
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    http_port: int = 8000
    # Origins whose web pages may call the REST API from a browser (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    workers: int = 1
    db_pool_size: int = 16
    # The longest a call waits for a database connection (a free pooled one, or a new one while
    # no server accepts them, as in a failover) before it answers UNAVAILABLE.
    database_wait_seconds: float = 5.0
    # After SIGTERM: how long calls in flight (turns) may run on before they are cancelled.
    drain_seconds: float = 30.0
    data_dir: Path = Path(".data")
    log_level: str = "INFO"
    # `text` (one readable line per event) or `json` (one JSON object per line, for collectors).
    log_format: str = "text"
    # Where the supervisor serves Prometheus metrics (/metrics), summed over its workers; port 0
    # serves none.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    # OpenTelemetry's OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT: where
    # traces go (OTLP/HTTP); "" (unset) exports none and adds no per-call work.
    otlp_endpoint: str = field(default="", repr=False)
    # The agent that answers conversations: the mock, or the OpenAI Agents SDK.
    agent: str = "mock"
    # The OpenAI-compatible API; "" means OpenAI's own (`model_endpoint` resolves it).
    model_base_url: str = ""
    model_api_key: str = field(default="", repr=False)
    # The model of sessions that name none.
    model: str = ""
    # The models a session may name (AGENT_SESSIONS_MODELS); empty: any (see `allowed_models`).
    models: tuple[str, ...] = ()
    # `chat_completions` (any OpenAI-compatible server) or `responses` (OpenAI's Responses API).
    model_api: str = "chat_completions"
    # The longest the model API may stay silent: before the reply starts and between pieces.
    model_timeout: float = 60.0
    # Retries of a failed model request (429, 5xx, connection) before its first token.
    model_max_retries: int = 2
    # Model calls one turn may make (each tool round trip is one more): the SDK's max_turns.
    model_max_calls: int = 10
    # Earlier messages of the session an agent sees (the turn's own messages come on top); a
    # bounded window keeps a turn's cost independent of the session's length.
    history_window: int = 50
    # The most UTF-8 bytes of earlier messages sent to the model in one request: the oldest go
    # first, never a tool call without its result. Bounds what one turn costs on the model bill.
    history_bytes: int = 1_048_576
    # The model's context in tokens (0: unknown): when set, the oldest history is left out of a
    # request before it is sent, by a cheap estimate, instead of after the API refuses it.
    model_context_tokens: int = 0
    # The most tokens one model reply may have (0: the server's default): ModelSettings.max_tokens.
    model_max_tokens: int = 0
    # Whether the SDK exports traces (to OpenAI's trace ingest); off unless an operator asks.
    tracing: bool = False
    # AGENT_SESSIONS_MCP_SERVERS as given (a JSON list; its headers are secrets): parsed and
    # checked by `agents.tools.config.parse_mcp_servers` before anything starts.
    mcp_servers: str = field(default="", repr=False)
    # The longest a server tool (an MCP call) may run before it is stopped.
    tool_timeout: float = 60.0
    # The workers' event loop: uvloop (measured faster, `make bench`) or the standard asyncio.
    event_loop: str = "uvloop"
    # How long a request id (and the answer it replays) is kept after its write, in seconds.
    request_id_ttl: int = 86_400
    # How long a new session lives, in seconds, unless its creator says (None: forever).
    session_ttl: int | None = None
    # Seconds after which a turn whose replica stopped renewing its lease is `lost`.
    turn_lease: float = 10.0
    # Turns that may wait per session behind the running one.
    max_queued_turns: int = 16
    # Running or queued turns per user, over all replicas.
    max_turns_per_user: int = 32
    # Open watches per user, per replica.
    max_watches_per_user: int = 64

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Reads and checks the settings; raises SettingsError naming the first bad variable."""
        env = dict(os.environ if env is None else env)
        d = cls()  # the defaults, declared once on the fields below
        algorithms = tuple(
            a.strip().upper() for a in _get(env, "JWT_ALGORITHMS", "HS256").split(",") if a.strip()
        )
        unknown = [a for a in algorithms if a not in ALLOWED_ALGORITHMS]
        if not algorithms or unknown:
            raise SettingsError(
                f"{PREFIX}JWT_ALGORITHMS must list some of {sorted(ALLOWED_ALGORITHMS)}, got {unknown}"
            )
        if any(a.startswith("HS") for a in algorithms) and any(
            not a.startswith("HS") for a in algorithms
        ):
            # Mixing families invites algorithm confusion (a public key used as an HMAC secret).
            raise SettingsError(f"{PREFIX}JWT_ALGORITHMS must not mix HS* with RS*/ES* algorithms")
        public_key = _get(env, "JWT_PUBLIC_KEY")
        key_file = _get(env, "JWT_PUBLIC_KEY_FILE")
        if key_file:
            try:
                public_key = Path(key_file).read_text()
            except OSError as exc:
                raise SettingsError(f"{PREFIX}JWT_PUBLIC_KEY_FILE cannot be read: {exc}") from None
        if not algorithms[0].startswith("HS") and not public_key:
            raise SettingsError(
                f"{PREFIX}JWT_PUBLIC_KEY or {PREFIX}JWT_PUBLIC_KEY_FILE is required for {algorithms[0]}"
            )
        if not algorithms[0].startswith("HS") and not (
            _get(env, "JWT_AUDIENCE") or _get(env, "JWT_ISSUER")
        ):
            # Anyone's token signed by that key (the issuer's other services') would pass.
            raise SettingsError(
                f"{PREFIX}JWT_AUDIENCE or {PREFIX}JWT_ISSUER is required with {algorithms[0]}: "
                "the key's issuer signs tokens for other services too; name this service's "
                "audience or the issuer it trusts"
            )
        workers = _int(env, "WORKERS", os.cpu_count() or 1, 1, 64)
        level = _get(env, "LOG_LEVEL", "INFO").upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise SettingsError(f"{PREFIX}LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        agent = _choice(env, "AGENT", ("mock", "openai"))
        base_url = _base_url(env)
        api_key = _api_key(env)
        model = _get(env, "MODEL")
        if agent == "openai" and not model:
            raise SettingsError(
                f"{PREFIX}MODEL is required with {PREFIX}AGENT=openai: the model sessions use "
                "when they name none, e.g. gpt-4o-mini or llama3.2"
            )
        if agent == "openai" and not base_url and not api_key:
            raise SettingsError(
                f"{PREFIX}MODEL_API_KEY is required when {PREFIX}MODEL_BASE_URL is unset "
                f"(requests go to OpenAI at {OPENAI_BASE_URL}); or set {PREFIX}MODEL_BASE_URL "
                "to your own OpenAI-compatible server"
            )
        context_tokens = _int(env, "MODEL_CONTEXT_TOKENS", 0, 256, 100_000_000)
        max_tokens = _int(env, "MODEL_MAX_TOKENS", 0, 1, 10_000_000)
        if context_tokens and max_tokens >= context_tokens:
            raise SettingsError(
                f"{PREFIX}MODEL_MAX_TOKENS ({max_tokens}) must be less than "
                f"{PREFIX}MODEL_CONTEXT_TOKENS ({context_tokens}): the reply and the request "
                "share the context"
            )
        return cls(
            database_url=_database_url(env),
            migration_database_url=_database_url(env, "MIGRATION_DATABASE_URL"),
            jwt_secret=_get(env, "JWT_SECRET"),
            jwt_public_key=public_key,
            page_token_secret=_get(env, "PAGE_TOKEN_SECRET"),
            jwt_algorithms=algorithms,
            jwt_issuer=_get(env, "JWT_ISSUER"),
            jwt_audience=_get(env, "JWT_AUDIENCE"),
            grpc_host=_get(env, "GRPC_HOST", d.grpc_host),
            grpc_port=_int(env, "GRPC_PORT", d.grpc_port, 0, 65535),
            http_port=_int(env, "HTTP_PORT", d.http_port, 0, 65535),
            cors_origins=_cors_origins(env),
            workers=workers,
            db_pool_size=_int(env, "DB_POOL_SIZE", default_pool_size(workers), 1, 200),
            database_wait_seconds=_seconds(
                env, "DATABASE_WAIT_SECONDS", d.database_wait_seconds, 300.0
            ),
            drain_seconds=_seconds(env, "DRAIN_SECONDS", d.drain_seconds, 3600.0),
            data_dir=Path(_get(env, "DATA_DIR", str(d.data_dir))).resolve(),
            log_level=level,
            log_format=_choice(env, "LOG_FORMAT", ("text", "json")),
            metrics_host=_get(env, "METRICS_HOST", d.metrics_host),
            metrics_port=_int(env, "METRICS_PORT", d.metrics_port, 0, 65535),
            otlp_endpoint=next(
                (env[v].strip() for v in OTLP_ENDPOINT_VARIABLES if env.get(v, "").strip()), ""
            ),
            agent=agent,
            model_base_url=base_url,
            model_api_key=api_key,
            model=model,
            models=_models(env),
            model_api=_choice(env, "MODEL_API", ("chat_completions", "responses")),
            model_timeout=_seconds(env, "MODEL_TIMEOUT", d.model_timeout, 3600.0),
            model_max_retries=_int(env, "MODEL_MAX_RETRIES", d.model_max_retries, 0, 10),
            model_max_calls=_int(env, "MODEL_MAX_CALLS", d.model_max_calls, 1, 100),
            history_window=_int(env, "HISTORY_WINDOW", d.history_window, 0, 10_000),
            history_bytes=_int(env, "HISTORY_BYTES", d.history_bytes, 0, 1 << 40),
            model_context_tokens=context_tokens,
            model_max_tokens=max_tokens,
            tracing=_flag(env, "TRACING"),
            mcp_servers=_get(env, "MCP_SERVERS"),
            tool_timeout=_seconds(env, "TOOL_TIMEOUT", d.tool_timeout, 3600.0),
            event_loop=_choice(env, "EVENT_LOOP", ("uvloop", "asyncio")),
            request_id_ttl=_int(env, "REQUEST_ID_TTL", d.request_id_ttl, 1, 365 * 86_400),
            session_ttl=_int(env, "SESSION_TTL", 0, 1, 100 * 365 * 86_400) or None,
            turn_lease=_seconds(env, "TURN_LEASE", d.turn_lease, 3600.0),
            max_queued_turns=_int(env, "MAX_QUEUED_TURNS", d.max_queued_turns, 0, 10_000),
            max_turns_per_user=_int(env, "MAX_TURNS_PER_USER", d.max_turns_per_user, 1, 1_000_000),
            max_watches_per_user=_int(
                env, "MAX_WATCHES_PER_USER", d.max_watches_per_user, 1, 1_000_000
            ),
        )

    @property
    def allowed_models(self) -> frozenset[str] | None:
        """The models a session may name: AGENT_SESSIONS_MODELS and the default model; None
        when AGENT_SESSIONS_MODELS is unset (any model)."""
        if not self.models:
            return None
        return frozenset((*self.models, self.model) if self.model else self.models)

    @property
    def migration_url(self) -> str:
        """The database URL migrations run with."""
        return self.migration_database_url or self.database_url

    @property
    def model_endpoint(self) -> str:
        """The model API's base URL in effect: the configured one, or OpenAI's."""
        return self.model_base_url or OPENAI_BASE_URL

    def page_token_key(self) -> bytes | None:
        """The key page tokens are signed with: AGENT_SESSIONS_PAGE_TOKEN_SECRET, else, with HS*
        tokens, the JWT secret. None when neither is there (RS*/ES* tokens and no page-token
        secret): whoever starts the workers makes one (see `ops.workers.with_page_token_secret`).
        Never the JWT public key: anyone has that one."""
        if self.page_token_secret:
            return self.page_token_secret.encode()
        if self.uses_hmac and self.jwt_secret:
            return self.jwt_secret.encode()
        return None

    @property
    def uses_hmac(self) -> bool:
        """Whether tokens are signed with the shared secret (HS*) rather than a key pair."""
        return self.jwt_algorithms[0].startswith("HS")

    def weak_secret_warning(self) -> str | None:
        """A warning for an HS* secret shorter than the 32 bytes RFC 7518 asks of HS256 (short
        secrets can be guessed offline from one token); None when there is none to give."""
        size = len(self.jwt_secret.encode())
        if not self.uses_hmac or not self.jwt_secret or size >= MIN_SECRET_BYTES:
            return None
        return (
            f"{PREFIX}JWT_SECRET is only {size} bytes: anyone holding one token can guess a "
            f"short secret offline and mint tokens for any user. Use at least {MIN_SECRET_BYTES} "
            "random bytes, e.g. `openssl rand -base64 48`"
        )

    def require_secret(self) -> None:
        """Fails loudly when HS* tokens are configured without a secret."""
        if self.uses_hmac and not self.jwt_secret:
            raise SettingsError(
                f"{PREFIX}JWT_SECRET is required (or use `agent-sessions run`, which makes a dev secret)"
            )
        if not self.database_url:
            raise SettingsError(
                f"{PREFIX}DATABASE_URL is required (or use `agent-sessions run` for an embedded PostgreSQL)"
            )
