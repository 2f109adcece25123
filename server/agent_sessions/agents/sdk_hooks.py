"""Every use of the Agents SDK's private parts, in one place; tests/test_sdk_hooks.py pins each.

The SDK (openai-agents 0.24) gives no public way to do either of these; when an upgrade moves
what they rely on, that test fails before a turn does:
- `FinishCheckedChatModel` overrides `OpenAIChatCompletionsModel._fetch_response` to check that
  a Chat Completions stream ends with a finish reason (the SDK checks it only for
  api.openai.com and would take a cut reply for a whole one);
- `allow_concurrent_requests` clears `MCPServerStreamableHttp._serialize_session_requests`, so
  one turn's slow tool does not hold up every other turn's calls to that server.
"""

from __future__ import annotations

from typing import Any

from agents import OpenAIChatCompletionsModel
from agents.mcp import MCPServerStreamableHttp
from openai.types.chat import ChatCompletionChunk

from agent_sessions.agents.openai.errors import StreamCut


class FinishChecked:
    """Passes a Chat Completions stream through; fails at its end unless choice 0 finished.

    A server that dies mid-reply may close the body cleanly: the SDK would then take the partial
    text for the whole reply (it checks the finish reason only for api.openai.com).
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._iterator: Any = None
        self._finished = False
        # The SDK reads the request id from here.
        self.response = getattr(stream, "response", None)

    def __aiter__(self) -> FinishChecked:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        if self._iterator is None:
            self._iterator = self._stream.__aiter__()
        try:
            chunk: ChatCompletionChunk = await self._iterator.__anext__()
        except StopAsyncIteration:
            if not self._finished:
                raise StreamCut(
                    "the model's stream ended before the reply was complete (no finish reason)"
                ) from None
            raise
        if not self._finished:
            self._finished = any(
                c.index == 0 and c.finish_reason is not None for c in chunk.choices or ()
            )
        return chunk

    async def close(self) -> None:
        await self._stream.close()


class FinishCheckedChatModel(OpenAIChatCompletionsModel):
    """The SDK's Chat Completions model with every stream checked by `FinishChecked`.

    Private hook: `_fetch_response` returns `(response, stream)` when streaming, which
    `stream_response` then iterates; the stream is wrapped on its way.
    """

    async def _fetch_response(self, *args: Any, **kwargs: Any) -> Any:
        fetched = await super()._fetch_response(*args, **kwargs)
        if isinstance(fetched, tuple):
            response, stream = fetched
            return response, FinishChecked(stream)
        return fetched


def allow_concurrent_requests(server: MCPServerStreamableHttp) -> None:
    """Lets turns' requests to `server` run at once over its one shared session.

    Private hook: the SDK sends one request at a time over a streamable-HTTP session (its
    `_serialize_session_requests`), so one turn's slow tool would hold up every other turn's
    calls to that server. The mcp 2.x client matches answers to requests by id; concurrent
    requests work (tests/test_tool_servers.py runs a fast call beside a hanging one).
    """
    server._serialize_session_requests = False


__all__ = ["FinishChecked", "FinishCheckedChatModel", "allow_concurrent_requests"]
