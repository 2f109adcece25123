"""Which calls are safe to retry comes from the protos' `idempotency_level`, declared on every RPC,
and the Python and TypeScript clients read the same answer from their generated descriptors."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from agent_sessions_client import _requests
from agent_sessions_client._proto.agentsessions.v1 import message_service_pb2, session_service_pb2
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.descriptor_pb2 import MethodOptions

from tests.typescript import CLIENT as TYPESCRIPT
from tests.typescript import ensure_installed

NO_SIDE_EFFECTS = MethodOptions.NO_SIDE_EFFECTS
IDEMPOTENT = MethodOptions.IDEMPOTENT
UNKNOWN = MethodOptions.IDEMPOTENCY_UNKNOWN

# What each RPC promises about a repeat. Every write is IDEMPOTENT: the clients send one request
# id per logical call, and the service answers a repeat of a stored call with its first response.
EXPECTED = {
    "agentsessions.v1.SessionService.ListSessions": NO_SIDE_EFFECTS,
    "agentsessions.v1.SessionService.CreateSession": IDEMPOTENT,
    "agentsessions.v1.SessionService.GetSession": NO_SIDE_EFFECTS,
    "agentsessions.v1.SessionService.UpdateSession": IDEMPOTENT,
    "agentsessions.v1.SessionService.DeleteSession": IDEMPOTENT,
    "agentsessions.v1.SessionService.ActivateSession": IDEMPOTENT,
    "agentsessions.v1.SessionService.DeactivateSession": IDEMPOTENT,
    "agentsessions.v1.SessionService.ForkSession": IDEMPOTENT,
    "agentsessions.v1.SessionService.RewindSession": IDEMPOTENT,
    "agentsessions.v1.SessionService.Conversation": IDEMPOTENT,
    "agentsessions.v1.SessionService.Converse": IDEMPOTENT,
    "agentsessions.v1.SessionService.GetTurn": NO_SIDE_EFFECTS,
    "agentsessions.v1.SessionService.ResumeTurn": NO_SIDE_EFFECTS,
    "agentsessions.v1.SessionService.CancelTurn": IDEMPOTENT,
    "agentsessions.v1.SessionService.WatchSession": NO_SIDE_EFFECTS,
    "agentsessions.v1.MessageService.ListMessages": NO_SIDE_EFFECTS,
    "agentsessions.v1.MessageService.CreateMessage": IDEMPOTENT,
    "agentsessions.v1.MessageService.BatchCreateMessages": IDEMPOTENT,
    "agentsessions.v1.MessageService.GetMessage": NO_SIDE_EFFECTS,
    "agentsessions.v1.MessageService.UpdateMessage": IDEMPOTENT,
    "agentsessions.v1.MessageService.DeleteMessage": IDEMPOTENT,
    "agentsessions.v1.MessageService.ClearMessages": IDEMPOTENT,
}


def methods() -> list[MethodDescriptor]:
    """Every RPC of the API, from the Python client's generated descriptors."""
    return [
        method
        for module in (session_service_pb2, message_service_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    ]


def safe_set() -> set[str]:
    return {m.full_name for m in methods() if m.GetOptions().idempotency_level != UNKNOWN}


@pytest.mark.parametrize("method", methods(), ids=lambda m: m.name)
def test_every_rpc_declares_its_idempotency_level(method: MethodDescriptor) -> None:
    """Explicitly, IDEMPOTENCY_UNKNOWN included, so a forgotten level is told from a chosen one."""
    options = method.GetOptions()
    assert options.HasField("idempotency_level"), f"{method.full_name} declares no level"
    assert options.idempotency_level == EXPECTED[method.full_name]


def test_expected_levels_cover_every_rpc() -> None:
    assert {m.full_name for m in methods()} == set(EXPECTED)


def test_python_client_retries_what_the_descriptors_allow() -> None:
    names = [m.name for m in methods()]
    assert len(names) == len(set(names)), "the clients look methods up by name alone"
    assert {f"{m.containing_service.full_name}.{m.name}" for m in methods()} == set(EXPECTED)
    assert {full.rsplit(".", 1)[1] for full in safe_set()} == _requests.IDEMPOTENT


def test_typescript_client_reads_the_same_levels() -> None:
    """The TypeScript client's built descriptors (dist/, what users import) give the same set."""
    node = shutil.which("node")
    assert node, "node is required to check the TypeScript client: install Node.js 20+"
    ensure_installed()  # dist/ imports @bufbuild/protobuf from node_modules
    script = """
        const { SessionService } = await import("./dist/gen/agentsessions/v1/session_service_pb.js");
        const { MessageService } = await import("./dist/gen/agentsessions/v1/message_service_pb.js");
        const { safeToRetry } = await import("./dist/retry.js");
        const out = {};
        for (const service of [SessionService, MessageService])
          for (const method of service.methods)
            out[`${service.typeName}.${method.name}`] = [method.idempotency, safeToRetry(method)];
        console.log(JSON.stringify(out));
    """
    done = subprocess.run(
        [node, "--input-type=module", "-e", script],
        cwd=TYPESCRIPT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    levels = json.loads(done.stdout)
    assert {name: level for name, (level, _) in levels.items()} == EXPECTED
    assert {name for name, (_, safe) in levels.items() if safe} == safe_set()
