"""Pins every private part of the Agents SDK that agents/sdk_hooks.py relies on: each test fails
when an SDK upgrade moves or changes what a hook uses, before a turn does."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import openai
import pytest
from agent_sessions.agents.openai.errors import StreamCut
from agent_sessions.agents.sdk_hooks import (
    FinishChecked,
    FinishCheckedChatModel,
    allow_concurrent_requests,
)
from agents import Agent, OpenAIChatCompletionsModel, RunConfig, Runner
from agents.mcp import MCPServerStreamableHttp
from mcp.types import TextContent

from tests.fakes import FakeModelServer, Step
from tests.fakes.mcp_server import FakeMcpServer

pytest_plugins = ["tests.fakes.fixtures"]  # the `model_server` fixture

# -- OpenAIChatCompletionsModel._fetch_response ---------------------------------------------------


def test_fetch_response_is_still_the_method_stream_response_takes_its_stream_from() -> None:
    fetch = OpenAIChatCompletionsModel._fetch_response
    assert inspect.iscoroutinefunction(fetch)
    assert list(inspect.signature(fetch).parameters) == [
        "self",
        "system_instructions",
        "input",
        "model_settings",
        "tools",
        "output_schema",
        "handoffs",
        "span",
        "tracing",
        "stream",
        "prompt",
    ]
    # Streaming, it answers (response, stream), and stream_response iterates that stream.
    source = inspect.getsource(OpenAIChatCompletionsModel.stream_response)
    assert "response, stream = await self._fetch_response(" in source
    assert FinishCheckedChatModel._fetch_response is not fetch  # the hook overrides it


async def _run(model_server: FakeModelServer) -> str:
    async with openai.AsyncOpenAI(
        api_key="k", base_url=model_server.base_url, max_retries=0
    ) as client:
        model = FinishCheckedChatModel(model="fake-model", openai_client=client)
        agent: Agent[None] = Agent(name="a", model=model)
        result = Runner.run_streamed(agent, "hi", run_config=RunConfig(tracing_disabled=True))
        try:
            async for _ in result.stream_events():
                pass
        finally:
            result.cancel()
        return str(result.final_output)


def test_the_finish_check_sees_the_sdks_stream(model_server: FakeModelServer) -> None:
    """Behind the SDK's run: a whole reply passes, a reply cut without a finish reason fails
    with StreamCut (which only the hook raises; the SDK would take the text for the reply)."""
    model_server.script(Step.text(["Hel", "lo"]), Step.cut(["Hel"]))
    assert asyncio.run(_run(model_server)) == "Hello"
    with pytest.raises(StreamCut):
        asyncio.run(_run(model_server))


def test_finish_checked_keeps_the_attributes_the_sdk_reads() -> None:
    class Stream:
        response = object()

        async def close(self) -> None: ...

    wrapped = FinishChecked(Stream())
    assert wrapped.response is Stream.response  # the SDK reads the request id from it


# -- MCPServerStreamableHttp._serialize_session_requests ------------------------------------------


def test_the_serialize_switch_is_still_there_and_still_read() -> None:
    server = MCPServerStreamableHttp(params={"url": "http://127.0.0.1:1/mcp"})
    assert server._serialize_session_requests is True  # the SDK's default, which we undo
    allow_concurrent_requests(server)
    assert server._serialize_session_requests is False
    source = inspect.getsource(MCPServerStreamableHttp._maybe_serialize_request)
    assert "self._serialize_session_requests" in source


@pytest.mark.parametrize("concurrent", [True, False], ids=["hooked", "SDK default"])
def test_the_switch_decides_whether_a_call_waits_for_a_hanging_one(concurrent: bool) -> None:
    """With the hook a call runs beside a hanging one; without it, it waits (else the hook has
    become pointless, and the SDK changed under it)."""

    async def main(fake: FakeMcpServer) -> bool:
        server = MCPServerStreamableHttp(
            params={"url": fake.url}, client_session_timeout_seconds=30
        )
        if concurrent:
            allow_concurrent_requests(server)
        await server.connect()  # type: ignore[no-untyped-call]
        try:
            hanging = asyncio.create_task(server.call_tool("hang", {"seconds": 20}))
            assert await asyncio.to_thread(fake.hanging.wait, 5)
            try:
                result: Any = await asyncio.wait_for(server.call_tool("add", {"a": 1, "b": 2}), 3)
            except TimeoutError:
                answered = False
            else:
                assert [p.text for p in result.content if isinstance(p, TextContent)] == ["3"]
                answered = True
            hanging.cancel()
            with pytest.raises(asyncio.CancelledError):
                await hanging
            return answered
        finally:
            await server.cleanup()  # type: ignore[no-untyped-call]

    with FakeMcpServer() as fake:
        assert asyncio.run(main(fake)) is concurrent
    assert not fake.errors, f"the fake MCP server failed: {fake.errors!r}"
