"""Page tokens are signed with a secret of their own, and a forged position is refused cleanly."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import grpc
import jwt
import pytest
from agent_sessions.settings import Settings
from agentsessions.v1 import message_service_pb2 as mpb
from agentsessions.v1 import message_service_pb2_grpc as mg
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb
from agentsessions.v1 import session_service_pb2_grpc as sg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support import ThreadServer, channel_to, failure


def forge(key: bytes, scope: str, position: list[Any]) -> str:
    """A token built as the service builds them, with a key of the forger's choosing."""
    derived = hashlib.sha256(b"agent-sessions page token\x00" + key).digest()
    body = json.dumps([scope, position], separators=(",", ":")).encode()
    mac = hmac.new(derived, body, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")


def scope(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:24]


def test_a_token_signed_with_the_public_key_is_refused(settings: Settings) -> None:
    """With RS256, anyone has the public key: it must not be what signs page tokens."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    configured = dataclasses.replace(
        settings,
        jwt_algorithms=("RS256",),
        jwt_secret="",
        jwt_public_key=public_pem.decode(),
        page_token_secret="",
    )
    now = int(time.time())
    subject = f"forger-{uuid.uuid4().hex}"
    bearer = jwt.encode({"sub": subject, "exp": now + 600}, key, algorithm="RS256")
    metadata = [("authorization", f"Bearer {bearer}")]
    with ThreadServer(configured) as server, channel_to(server.port) as ch:
        stub = sg.SessionServiceStub(ch)
        for i in range(3):
            stub.CreateSession(spb.CreateSessionRequest(session_id=f"s{i}"), metadata=metadata)
        first = stub.ListSessions(spb.ListSessionsRequest(page_size=1), metadata=metadata)
        assert first.next_page_token  # tokens work for real
        assert (
            len(
                stub.ListSessions(
                    spb.ListSessionsRequest(page_size=1, page_token=first.next_page_token),
                    metadata=metadata,
                ).sessions
            )
            == 1
        )
        from agent_sessions.auth import user_id_for

        forged = forge(
            public_pem,
            scope("sessions", user_id_for(subject), None, None),
            ["2000-01-01T00:00:00+00:00", "00000000-0000-0000-0000-000000000000"],
        )
        f = failure(
            lambda: stub.ListSessions(spb.ListSessionsRequest(page_token=forged), metadata=metadata)
        )
        assert f.code == grpc.StatusCode.INVALID_ARGUMENT and f.fields == ["page_token"]


@pytest.mark.parametrize(
    ("listing", "position"),
    [
        ("sessions", ["garbage"]),
        ("sessions", ["not a time", "not a uuid"]),
        ("sessions", ["2000-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"]),
        ("sessions", [1, 2]),
        ("sessions", {"a": 1}),
        ("messages", []),
        ("messages", ["12"]),
        ("messages", [1.5]),
        ("messages", [True]),
        ("messages", [2**70]),
        ("messages", [-1]),
    ],
)
def test_a_validly_signed_token_with_a_malformed_position_is_invalid_argument(
    settings: Settings, listing: str, position: Any
) -> None:
    """Someone who knows the secret (or a bug) must still get INVALID_ARGUMENT, never INTERNAL."""
    from agent_sessions.auth import user_id_for

    configured = dataclasses.replace(settings, page_token_secret="known-to-the-test")
    with ThreadServer(configured) as server, channel_to(server.port) as ch:
        from tests.support import bearer

        subject = f"shape-checker-{uuid.uuid4().hex}"
        metadata = bearer(subject)
        sessions, messages = sg.SessionServiceStub(ch), mg.MessageServiceStub(ch)
        sessions.CreateSession(spb.CreateSessionRequest(session_id="s"), metadata=metadata)
        messages.CreateMessage(
            mpb.CreateMessageRequest(session_id="s", role=rpb.user, content="x"),
            metadata=metadata,
        )
        user = user_id_for(subject)
        if listing == "sessions":
            token = forge(b"known-to-the-test", scope("sessions", user, None, None), position)
            call: Any = lambda: sessions.ListSessions(  # noqa: E731
                spb.ListSessionsRequest(page_token=token), metadata=metadata
            )
        else:
            token = forge(b"known-to-the-test", scope("messages", user, "s", "asc"), position)
            call = lambda: messages.ListMessages(  # noqa: E731
                mpb.ListMessagesRequest(session_id="s", page_token=token), metadata=metadata
            )
        f = failure(call)
        assert f.code == grpc.StatusCode.INVALID_ARGUMENT, (f.code, f.message)
        assert f.fields == ["page_token"]


def test_the_workers_of_serve_share_page_tokens_with_rs256(database_url: str) -> None:
    """Two workers, RS256 tokens, no page token secret configured: a token issued by one
    worker must read on the other (each connection lands on one worker)."""
    import os
    import subprocess
    import sys

    from agent_sessions.ops.health import wait_grpc_serving

    from tests.support import free_port

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AGENT_SESSIONS_")},
        "AGENT_SESSIONS_DATABASE_URL": database_url,
        "AGENT_SESSIONS_JWT_ALGORITHMS": "RS256",
        "AGENT_SESSIONS_JWT_PUBLIC_KEY": public_pem.decode(),
        "AGENT_SESSIONS_JWT_ISSUER": "https://issuer.test",
        "AGENT_SESSIONS_GRPC_PORT": str(port),
        "AGENT_SESSIONS_METRICS_PORT": str(free_port()),
        "AGENT_SESSIONS_WORKERS": "2",
        "AGENT_SESSIONS_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([sys.executable, "-m", "agent_sessions.cli", "serve"], env=env)
    try:
        wait_grpc_serving(f"127.0.0.1:{port}", process=process)
        subject = f"paged-{uuid.uuid4().hex}"
        claims = {"sub": subject, "iss": "https://issuer.test", "exp": int(time.time()) + 600}
        bearer = jwt.encode(claims, key, algorithm="RS256")
        metadata = [("authorization", f"Bearer {bearer}")]
        with channel_to(port) as ch:
            stub = sg.SessionServiceStub(ch)
            for i in range(3):
                stub.CreateSession(spb.CreateSessionRequest(session_id=f"p{i}"), metadata=metadata)
            first = stub.ListSessions(spb.ListSessionsRequest(page_size=1), metadata=metadata)
        # Fresh connections are spread over both workers; every one must accept the token.
        for _ in range(12):
            with grpc.insecure_channel(
                f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]
            ) as ch:
                page = sg.SessionServiceStub(ch).ListSessions(
                    spb.ListSessionsRequest(page_size=1, page_token=first.next_page_token),
                    metadata=metadata,
                )
                assert len(page.sessions) == 1 and page.sessions[0].session_id == "p1"
    finally:
        process.terminate()
        assert process.wait(30) == 0
