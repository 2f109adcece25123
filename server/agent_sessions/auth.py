"""Bearer JWT validation and the caller it yields."""

from __future__ import annotations

import time
import uuid

import jwt

from agent_sessions.domain import Owner
from agent_sessions.errors import Unauthenticated
from agent_sessions.settings import Settings

# `sub` values that are not UUIDs map to stable UUIDs in this namespace.
SUBJECT_NAMESPACE = uuid.UUID("5b0e3f4a-6c1d-4d8e-9f2a-7b3c4d5e6f70")
# The audience a token's `aud` must name when AGENT_SESSIONS_JWT_AUDIENCE is unset.
DEFAULT_AUDIENCE = "agent-sessions"


# The authenticated user of one call is the owner of the data it may touch.
Caller = Owner


def user_id_for(subject: str) -> uuid.UUID:
    """A `sub` that is a UUID in its canonical form (lower case, hyphenated, nothing around it)
    is the user's id; any other string maps to a stable UUID. Only one spelling is taken as
    the id, so `urn:uuid:…`, upper case or braces cannot alias the user of the canonical one."""
    try:
        parsed = uuid.UUID(subject)
    except ValueError:
        parsed = None
    if parsed is not None and str(parsed) == subject:
        return parsed
    return uuid.uuid5(SUBJECT_NAMESPACE, subject)


class TokenVerifier:
    """Verifies tokens with the configured algorithms only; caches recent verdicts by token."""

    _CACHE_LIMIT = 10_000

    def __init__(self, settings: Settings) -> None:
        self._algorithms = list(settings.jwt_algorithms)
        self._key = settings.jwt_secret if settings.uses_hmac else settings.jwt_public_key
        self._issuer = settings.jwt_issuer or None
        self._audience = settings.jwt_audience or None
        self._cache: dict[str, tuple[Caller, float]] = {}

    def verify(self, authorization: str | None) -> Caller:
        """Returns the caller of an `authorization` header value, or raises Unauthenticated."""
        if not authorization:
            raise Unauthenticated(
                "missing bearer token: send the header 'Authorization: Bearer <JWT>' "
                "(`agent-sessions token` mints one for development)",
                reason="TOKEN_MISSING",
            )
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated(
                "the authorization header must be 'Bearer <JWT>'", reason="TOKEN_MALFORMED"
            )
        cached = self._cache.get(token)
        now = time.time()
        if cached is not None and cached[1] > now:
            return cached[0]
        caller, expires = self._decode(token)
        if len(self._cache) >= self._CACHE_LIMIT:
            self._cache.clear()
        self._cache[token] = (caller, expires)
        return caller

    def _decode(self, token: str) -> tuple[Caller, float]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                options={
                    "require": ["exp", "sub"],
                    # Unset, `aud` is checked below: a token meant for another API must not pass.
                    "verify_aud": self._audience is not None,
                    "verify_iss": self._issuer is not None,
                },
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated(
                "the token has expired; get a new one", reason="TOKEN_EXPIRED"
            ) from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(
                f"the token is not valid: {exc}", reason="TOKEN_INVALID"
            ) from None
        if self._audience is None and not _names_us(claims.get("aud")):
            raise Unauthenticated(
                f"the token is not valid: its aud does not name this service "
                f"({DEFAULT_AUDIENCE!r}, or AGENT_SESSIONS_JWT_AUDIENCE when set)",
                reason="TOKEN_INVALID",
            )
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or "\x00" in subject or len(subject) > 512:
            raise Unauthenticated(
                "the token's sub must be a non-empty string of at most 512 characters without NUL",
                reason="TOKEN_INVALID",
            )
        return Caller(user_id_for(subject), subject, claims), float(claims["exp"])


def _names_us(audience: object) -> bool:
    """Whether a token's `aud` (absent, a string or a list) lets this service take it when no
    audience is configured: absent (many issuers send none), or naming DEFAULT_AUDIENCE."""
    if audience is None:
        return True
    if isinstance(audience, str):
        return audience == DEFAULT_AUDIENCE
    return isinstance(audience, list) and DEFAULT_AUDIENCE in audience


def mint_token(settings: Settings, subject: str, ttl_seconds: int = 86_400) -> str:
    """A development token for `subject`, signed with the configured HS* secret."""
    if not settings.uses_hmac or not settings.jwt_secret:
        raise ValueError("minting needs AGENT_SESSIONS_JWT_SECRET and an HS* algorithm")
    now = int(time.time())
    claims: dict[str, object] = {"sub": subject, "iat": now, "exp": now + ttl_seconds}
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithms[0])
