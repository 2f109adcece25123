"""Pytest fixtures for the fake model API. A test module (or the root conftest) asks for them
with `pytest_plugins = ["tests.fakes.fixtures"]`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.model_server import FakeModelServer


@pytest.fixture
def model_server() -> Iterator[FakeModelServer]:
    """A fresh fake model API on a free port, stopped after the test; script it per test."""
    with FakeModelServer() as server:
        yield server
        # A bug in the fake must not pass for a failure of the code under test.
        assert not server.errors, f"the fake model server failed: {server.errors!r}"
