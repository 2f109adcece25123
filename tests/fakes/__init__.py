"""Fakes of what no one can run here: an OpenAI-compatible model API as a real HTTP server."""

from tests.fakes.model_server import FakeModelServer, FakeToolCall, RecordedRequest, Step

__all__ = ["FakeModelServer", "FakeToolCall", "RecordedRequest", "Step"]
