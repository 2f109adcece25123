"""Pytest fixtures for the fake model API. Use them from a test module or a conftest:

from tests.fakes.fixtures import model_server  # noqa: F401 (a fixture)
"""

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
