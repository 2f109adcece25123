"""Configuration, read once from `AGENT_SESSIONS_*` environment variables into a typed object."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "AGENT_SESSIONS_"
ALLOWED_ALGORITHMS = frozenset(
    {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384"}
)


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


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    database_url: str = ""
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
    envoy_admin_port: int = 9901
    workers: int = 1
    db_pool_size: int = 16
    data_dir: Path = Path(".data")
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Reads and checks the settings; raises SettingsError naming the first bad variable."""
        env = dict(os.environ if env is None else env)
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
        workers = _int(env, "WORKERS", os.cpu_count() or 1, 1, 64)
        level = _get(env, "LOG_LEVEL", "INFO").upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise SettingsError(f"{PREFIX}LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return cls(
            database_url=_get(env, "DATABASE_URL"),
            jwt_secret=_get(env, "JWT_SECRET"),
            jwt_public_key=public_key,
            page_token_secret=_get(env, "PAGE_TOKEN_SECRET"),
            jwt_algorithms=algorithms,
            jwt_issuer=_get(env, "JWT_ISSUER"),
            jwt_audience=_get(env, "JWT_AUDIENCE"),
            grpc_host=_get(env, "GRPC_HOST", "127.0.0.1"),
            grpc_port=_int(env, "GRPC_PORT", 50051, 0, 65535),
            http_port=_int(env, "HTTP_PORT", 8000, 0, 65535),
            envoy_admin_port=_int(env, "ENVOY_ADMIN_PORT", 9901, 1, 65535),
            workers=workers,
            db_pool_size=_int(env, "DB_POOL_SIZE", default_pool_size(workers), 1, 200),
            data_dir=Path(_get(env, "DATA_DIR", ".data")).resolve(),
            log_level=level,
        )

    @property
    def uses_hmac(self) -> bool:
        """Whether tokens are signed with the shared secret (HS*) rather than a key pair."""
        return self.jwt_algorithms[0].startswith("HS")

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
