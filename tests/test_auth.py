"""Authentication: every refusal is UNAUTHENTICATED; health and reflection are open."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import grpc
import jwt
import pytest
from agent_sessions.auth import DEFAULT_AUDIENCE
from agent_sessions.settings import Settings, SettingsError
from agentsessions.v1 import session_service_pb2 as spb
from agentsessions.v1 import session_service_pb2_grpc as sg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.support import SECRET, ThreadServer, channel_to, failure, free_port, token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _forge(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest() if key else b""
    return f"{signing_input}.{_b64(signature)}"


def _claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "mallory", "exp": int(time.time()) + 600, **extra}


BAD_AUTHORIZATION = {
    "missing": None,
    "empty bearer": "Bearer ",
    "not bearer": "Basic dXNlcjpwYXNz",
    "garbage": "Bearer not.a.jwt",
    "expired": "Bearer " + token("u", ttl=-120),
    "wrong signature": "Bearer "
    + token("u", secret="another-secret-that-is-long-enough-for-hs256"),
    "alg none": "Bearer " + _forge({"alg": "none", "typ": "JWT"}, _claims(), None),
    "alg none with signature": "Bearer "
    + _forge({"alg": "none", "typ": "JWT"}, _claims(), SECRET.encode()),
    "unconfigured algorithm": "Bearer " + jwt.encode(_claims(), SECRET, algorithm="HS384"),
    "no exp": "Bearer " + jwt.encode({"sub": "u"}, SECRET, algorithm="HS256"),
    "no sub": "Bearer " + jwt.encode({"exp": int(time.time()) + 60}, SECRET, algorithm="HS256"),
    "empty sub": "Bearer " + jwt.encode(_claims(sub=""), SECRET, algorithm="HS256"),
    # No audience configured: a token meant for another API is still not one for this service.
    "another audience": "Bearer " + token("u", aud="some-other-api"),
    "other audiences": "Bearer " + token("u", aud=["some-other-api", "billing"]),
    "empty audience": "Bearer " + token("u", aud=""),
}


@pytest.mark.parametrize("case", BAD_AUTHORIZATION)
def test_bad_tokens_are_unauthenticated(channel: grpc.Channel, case: str) -> None:
    value = BAD_AUTHORIZATION[case]
    metadata = [] if value is None else [("authorization", value)]
    stub = sg.SessionServiceStub(channel)
    for call in (
        lambda: stub.ListSessions(spb.ListSessionsRequest(), metadata=metadata),
        lambda: stub.CreateSession(spb.CreateSessionRequest(session_id="x"), metadata=metadata),
        lambda: list(
            stub.Converse(
                spb.ConverseRequest(messages=[spb.ConversationMessage(role=1, content="x")]),
                metadata=metadata,
            )
        ),
    ):
        f = failure(call)
        assert f.code == grpc.StatusCode.UNAUTHENTICATED, (case, f)
        assert f.reason and f.reason.startswith("TOKEN_")
        assert SECRET not in f.message


def test_health_and_reflection_need_no_token(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "agentsessions.v1.SessionService", "agentsessions.v1.MessageService"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    replies = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = {s.name for r in replies for s in r.list_services_response.service}
    assert {"agentsessions.v1.SessionService", "agentsessions.v1.MessageService"} <= names


def test_without_a_configured_audience_a_token_may_name_this_service_or_none(
    channel: grpc.Channel,
) -> None:
    stub = sg.SessionServiceStub(channel)
    for claims in ({}, {"aud": DEFAULT_AUDIENCE}, {"aud": ["some-other-api", DEFAULT_AUDIENCE]}):
        metadata = [("authorization", "Bearer " + token("aud-user", **claims))]
        assert stub.ListSessions(spb.ListSessionsRequest(), metadata=metadata).total_size == 0


def test_asymmetric_keys_need_an_audience_or_issuer_to_start() -> None:
    public_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    env = {"AGENT_SESSIONS_JWT_ALGORITHMS": "ES256", "AGENT_SESSIONS_JWT_PUBLIC_KEY": public_pem}
    with pytest.raises(SettingsError, match="JWT_AUDIENCE or AGENT_SESSIONS_JWT_ISSUER"):
        Settings.from_env(env)
    assert (
        Settings.from_env({**env, "AGENT_SESSIONS_JWT_ISSUER": "https://i.test"}).uses_hmac is False
    )
    assert Settings.from_env({**env, "AGENT_SESSIONS_JWT_AUDIENCE": "sessions"}).jwt_audience


@pytest.mark.parametrize("secret, warned", [("k", True), ("x" * 31, True), ("x" * 32, False)])
def test_a_short_secret_starts_with_a_warning(secret: str, warned: bool) -> None:
    """A short HS256 secret is allowed (test setups use them), but `serve` says so at start."""
    env = {
        **os.environ,
        "AGENT_SESSIONS_JWT_SECRET": secret,
        # Nothing listens there: the start fails right after its checks, which is enough here.
        "AGENT_SESSIONS_DATABASE_URL": f"postgresql://u:p@127.0.0.1:{free_port()}/none",
        "AGENT_SESSIONS_DATABASE_WAIT_SECONDS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "agent_sessions.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert ("JWT_SECRET is only" in output) is warned, output
    if warned:
        assert "at least 32 random bytes" in output
        assert f"only {len(secret)} bytes" in output


def test_issuer_and_audience_are_enforced_when_configured(settings: Settings) -> None:
    strict = dataclasses.replace(
        settings, jwt_issuer="https://issuer.test", jwt_audience="sessions"
    )
    with ThreadServer(strict) as server, channel_to(server.port) as ch:
        stub = sg.SessionServiceStub(ch)

        def call(**claims: Any) -> Any:
            value = jwt.encode(_claims(**claims), SECRET, algorithm="HS256")
            return stub.ListSessions(
                spb.ListSessionsRequest(), metadata=[("authorization", f"Bearer {value}")]
            )

        assert call(iss="https://issuer.test", aud="sessions").total_size == 0
        for claims in (
            {},
            {"iss": "https://issuer.test"},
            {"aud": "sessions"},
            {"iss": "https://evil.test", "aud": "sessions"},
            {"iss": "https://issuer.test", "aud": "other"},
        ):
            f = failure(lambda c=claims: call(**c))  # type: ignore[misc]
            assert f.code == grpc.StatusCode.UNAUTHENTICATED, claims


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_asymmetric_keys_and_no_algorithm_confusion(settings: Settings, algorithm: str) -> None:
    key: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    configured = dataclasses.replace(
        settings, jwt_algorithms=(algorithm,), jwt_secret="", jwt_public_key=public_pem.decode()
    )
    with ThreadServer(configured) as server, channel_to(server.port) as ch:
        stub = sg.SessionServiceStub(ch)

        def call(value: str) -> Any:
            return stub.ListSessions(
                spb.ListSessionsRequest(), metadata=[("authorization", f"Bearer {value}")]
            )

        assert call(jwt.encode(_claims(), key, algorithm=algorithm)).total_size == 0
        # The public key used as an HMAC secret must not pass (algorithm confusion).
        confused = _forge({"alg": "HS256", "typ": "JWT"}, _claims(), public_pem)
        assert failure(lambda: call(confused)).code == grpc.StatusCode.UNAUTHENTICATED
        assert failure(lambda: call(token("u"))).code == grpc.StatusCode.UNAUTHENTICATED


def test_only_the_canonical_uuid_sub_is_the_user_id(channel: grpc.Channel) -> None:
    """Other spellings of the same UUID are other users: they cannot see its sessions."""
    canonical = str(uuid.uuid4())  # a user of its own: other tests write fixed ids
    stub = sg.SessionServiceStub(channel)
    created = stub.CreateSession(
        spb.CreateSessionRequest(session_id="canonical-sub"),
        metadata=[("authorization", f"Bearer {token(canonical)}")],
    )
    assert created.user_id == canonical
    for alias in (
        canonical.upper(),
        "{" + canonical + "}",
        "urn:uuid:" + canonical,
        canonical.replace("-", ""),
    ):
        listed = stub.ListSessions(
            spb.ListSessionsRequest(), metadata=[("authorization", f"Bearer {token(alias)}")]
        )
        assert listed.total_size == 0, alias
        mine = stub.CreateSession(
            spb.CreateSessionRequest(session_id="alias-sub"),
            metadata=[("authorization", f"Bearer {token(alias)}")],
        )
        assert mine.user_id != canonical, alias
