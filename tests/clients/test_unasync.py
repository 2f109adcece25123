"""The sync client is generated from the asyncio one: the committed `client.py` is exactly what
`clients/python/unasync.py` makes of `aio.py`, and both clients offer the same calls."""

from __future__ import annotations

import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from agent_sessions_client import AsyncClient, Client

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"
SCRIPT = CLIENT / "unasync.py"
PACKAGE = CLIENT / "src" / "agent_sessions_client"


@pytest.fixture(scope="module")
def unasync() -> ModuleType:
    """The generator script, loaded from its file (it is not part of the installed package)."""
    spec = importlib.util.spec_from_file_location("agent_sessions_unasync", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_sync_client_is_generated_from_aio(unasync: ModuleType) -> None:
    generated = unasync.render((PACKAGE / "aio.py").read_text(encoding="utf-8"))
    assert generated.startswith("# Generated from aio.py by clients/python/unasync.py")
    assert (PACKAGE / "client.py").read_text(encoding="utf-8") == generated


def test_check_mode_reports_drift(
    unasync: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    check = [sys.executable, str(SCRIPT), "--check"]
    assert subprocess.run(check, capture_output=True, check=False).returncode == 0
    # A hand edit of the generated file is what --check exists to catch.
    rendered = unasync.render((PACKAGE / "aio.py").read_text(encoding="utf-8"))
    edited = rendered.replace("def get_session(", "def get_session_by_hand(")
    assert edited != rendered
    target = tmp_path / "client.py"
    target.write_text(edited, encoding="utf-8")
    monkeypatch.setattr(unasync, "TARGET", target)
    monkeypatch.setattr(sys, "argv", ["unasync.py", "--check"])
    with pytest.raises(SystemExit, match="differs"):
        unasync.main()
    assert target.read_text(encoding="utf-8") == edited  # --check writes nothing


def test_a_flavour_specific_passage_that_moved_fails_loudly(unasync: ModuleType) -> None:
    source = (PACKAGE / "aio.py").read_text(encoding="utf-8")
    passage = unasync.SYNC_TEXT[0][0]
    with pytest.raises(SystemExit, match="0 times instead of once"):
        unasync.render(source.replace(passage, ""))


def test_no_async_left_in_the_sync_client() -> None:
    text = (PACKAGE / "client.py").read_text(encoding="utf-8")
    for word in ("async ", "await ", "asyncio", "grpc.aio", "Awaitable", "AsyncGenerator"):
        assert word not in text, word


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if callable(member) and (not name.startswith("_") or name == "__init__")
    }


def test_both_clients_offer_the_same_calls_with_the_same_parameters() -> None:
    sync, aio = public_methods(Client), public_methods(AsyncClient)
    assert sync.keys() == aio.keys()
    for name in sync:
        sync_params = [(p.name, p.kind, p.default) for p in sync[name].parameters.values()]
        aio_params = [(p.name, p.kind, p.default) for p in aio[name].parameters.values()]
        assert sync_params == aio_params, name
    assert inspect.isgeneratorfunction(Client.list_sessions)
    assert inspect.isasyncgenfunction(AsyncClient.list_sessions)
    assert inspect.iscoroutinefunction(AsyncClient.get_session)
    assert not inspect.iscoroutinefunction(Client.get_session)
