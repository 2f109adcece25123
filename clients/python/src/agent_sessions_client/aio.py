"""The asyncio client, on a `grpc.aio` channel."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Any, TypeAlias

import grpc
import grpc.aio

from agent_sessions_client import _requests as req
from agent_sessions_client._proto.agentsessions.v1 import message_service_pb2 as msg_pb
from agent_sessions_client._proto.agentsessions.v1 import message_service_pb2_grpc as msg_grpc
from agent_sessions_client._proto.agentsessions.v1 import session_service_pb2 as ses_pb
from agent_sessions_client._proto.agentsessions.v1 import session_service_pb2_grpc as ses_grpc
from agent_sessions_client._version import __version__
from agent_sessions_client.errors import ToolRoundsExceeded, error_from_rpc
from agent_sessions_client.models import (
    ConversationMessage,
    ConversationResult,
    ConverseEvent,
    Delta,
    Message,
    NewSession,
    Order,
    Page,
    Role,
    Session,
    Tool,
    event_from_proto,
)
from agent_sessions_client.retry import Deadline, RetryPolicy, retry_delay
from agent_sessions_client.tools import Toolbox, ToolFunctions

__all__ = ["AsyncClient", "AsyncTokenSource"]

AsyncTokenSource: TypeAlias = str | Callable[[], str | Awaitable[str]] | None
"""A bearer token, or a sync or async callable returning the current one (called per attempt)."""

DEFAULT_RETRY = RetryPolicy()


class AsyncClient:
    """An asyncio client of the Agent Sessions gRPC API (direct or through Envoy).

    Args:
        address: `host:port` of the gRPC server or of Envoy, such as `127.0.0.1:50051`.
        token: A JWT, or a sync or async callable returning one; sent as
            `authorization: Bearer <token>`.
        timeout: The default deadline of each call in seconds (all its attempts together);
            None for no deadline. Every method's `timeout` overrides it for that call.
        retry: How calls are retried on UNAVAILABLE (every call is safe to repeat: each write
            sends a `request_id`, made once per logical call and kept across its retries, so
            the service stores it at most once).
        channel_credentials: TLS credentials (`grpc.ssl_channel_credentials()`); plaintext
            when None.
        options: Extra gRPC channel options.

    Every write takes `request_id=`: a UUID of your own for the logical call (by default one is
    made per call), so that a call repeated after a crash of yours is stored once too; the same
    id with another request is refused (`InvalidArgumentError`, `REQUEST_ID_REUSED`). Updates,
    deletes and activation take `etag=` (the resource's `etag` you last read) and appends and
    turns `expected_seq=` (the session's `seq` you last read): when the resource changed since,
    nothing is changed and `AbortedError` is raised (`ETAG_MISMATCH`, `SESSION_CHANGED`).

    Every failure raises an `AgentSessionsError` subclass. Create the client inside the event
    loop that uses it (a grpc.aio channel belongs to one loop), and close it with
    `await client.close()` or `async with`. The list methods and `converse()` are async
    generators: a loop left early keeps its generator open until it is garbage collected,
    unless wrapped in `contextlib.aclosing`.
    """

    def __init__(
        self,
        address: str,
        *,
        token: AsyncTokenSource = None,
        timeout: float | None = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        channel_credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        channel_options = [("grpc.primary_user_agent", f"{req.USER_AGENT}/{__version__}"), *options]
        if channel_credentials is None:
            self._channel = grpc.aio.insecure_channel(address, options=channel_options)
        else:
            self._channel = grpc.aio.secure_channel(address, channel_credentials, channel_options)
        self._sessions: Any = ses_grpc.SessionServiceStub(self._channel)
        self._messages: Any = msg_grpc.MessageServiceStub(self._channel)
        self._token = token
        self._timeout = timeout
        self._retry = retry

    async def close(self) -> None:
        """Closes the channel; calls in progress are cancelled."""
        await self._channel.close(grace=None)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _metadata(self) -> tuple[tuple[str, str], ...]:
        token = self._token() if callable(self._token) else self._token
        if inspect.isawaitable(token):
            token = await token
        return (("authorization", f"Bearer {token}"),) if token else ()

    async def _call(self, stub: Any, name: str, request: Any, timeout: float | None) -> Any:
        """Calls unary method `name`, retrying it on UNAVAILABLE when it is idempotent; every
        attempt sends the same `request` (the same request id)."""
        deadline = Deadline(self._timeout if timeout is None else timeout)
        attempt = 1
        while True:
            try:
                return await getattr(stub, name)(
                    request, metadata=await self._metadata(), timeout=deadline.remaining()
                )
            except grpc.RpcError as exc:
                error = error_from_rpc(exc)
                delay = retry_delay(
                    self._retry,
                    error,
                    attempt=attempt,
                    idempotent=name in req.IDEMPOTENT,
                    deadline=deadline,
                )
                if delay is None:
                    raise error from exc
                await asyncio.sleep(delay)
            attempt += 1

    # Sessions

    async def create_session(
        self,
        session_id: str = "",
        *,
        session_name: str | None = None,
        description: str | None = None,
        agent_name: str | None = None,
        agent_instructions: str | None = None,
        is_active: bool | None = None,
        model: str | None = None,
        server_tools: str | None = None,
        labels: Mapping[str, str] | None = None,
        expire_time: datetime | None = None,
        ttl: int | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Session:
        """Creates a session (`session_id` is generated when empty).

        `model` is the model its agent runs on (None: the server's default); `server_tools`
        narrows which server (MCP) tools the agent may call (`none`, or a comma-separated list
        of `server` or `server/tool` entries; None: all). `labels` are strings to find it by
        (`list_sessions(labels=...)`). It expires at `expire_time`, or `ttl` seconds after its
        creation (not both); with neither, after the server's default (if it has one).
        """
        request = req.create_session(
            session_id,
            session_name,
            description,
            agent_name,
            agent_instructions,
            is_active,
            model,
            server_tools,
            req.request_id(request_id),
            labels,
            expire_time,
            ttl,
        )
        return Session.from_proto(
            await self._call(self._sessions, "CreateSession", request, timeout)
        )

    async def get_session(self, session_id: str, *, timeout: float | None = None) -> Session:
        """Returns one session."""
        request = ses_pb.GetSessionRequest(session_id=session_id)
        return Session.from_proto(await self._call(self._sessions, "GetSession", request, timeout))

    async def list_sessions_page(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        is_active: bool | None = None,
        agent_name: str | None = None,
        labels: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Page[Session]:
        """Returns one page of the caller's sessions, newest created first; with `labels`, only
        the sessions that have every one of them (a `key:value` filter each)."""
        request = req.list_sessions(page_size, page_token, is_active, agent_name, labels)
        return req.sessions_page(await self._call(self._sessions, "ListSessions", request, timeout))

    async def list_sessions(
        self,
        *,
        page_size: int = 0,
        is_active: bool | None = None,
        agent_name: str | None = None,
        labels: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> AsyncGenerator[Session, None]:
        """Iterates over all the caller's sessions (with `labels`, those that have all of
        them), fetching pages of `page_size` as needed."""
        page_token = ""
        while True:
            page = await self.list_sessions_page(
                page_size=page_size,
                page_token=page_token,
                is_active=is_active,
                agent_name=agent_name,
                labels=labels,
                timeout=timeout,
            )
            for session in page.items:
                yield session
            if not page.next_page_token:
                return
            page_token = page.next_page_token

    async def update_session(
        self,
        session_id: str,
        *,
        session_name: str | None = None,
        description: str | None = None,
        agent_name: str | None = None,
        agent_instructions: str | None = None,
        is_active: bool | None = None,
        model: str | None = None,
        server_tools: str | None = None,
        labels: Mapping[str, str] | None = None,
        expire_time: datetime | None = None,
        etag: str | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Session:
        """Changes the given fields (None keeps a field, an empty string removes it: `model=""`
        returns to the server's default model, `server_tools=""` allows every server tool).

        `labels` replaces all the labels (`labels={}` removes every one); `expire_time` moves
        the expiry (a time in the past ends the session at once; an expiry cannot be removed).
        """
        request = req.update_session(
            session_id,
            session_name,
            description,
            agent_name,
            agent_instructions,
            is_active,
            model,
            server_tools,
            req.request_id(request_id),
            etag,
            labels,
            expire_time,
        )
        return Session.from_proto(
            await self._call(self._sessions, "UpdateSession", request, timeout)
        )

    async def delete_session(
        self,
        session_id: str,
        *,
        etag: str | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Deletes a session and all its messages."""
        request = ses_pb.DeleteSessionRequest(
            session_id=session_id, etag=etag or "", request_id=req.request_id(request_id)
        )
        await self._call(self._sessions, "DeleteSession", request, timeout)

    async def activate_session(
        self,
        session_id: str,
        *,
        etag: str | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Session:
        """Marks a session active, so it accepts conversation turns again."""
        request = ses_pb.ActivateSessionRequest(
            session_id=session_id, etag=etag or "", request_id=req.request_id(request_id)
        )
        return Session.from_proto(
            await self._call(self._sessions, "ActivateSession", request, timeout)
        )

    async def deactivate_session(
        self,
        session_id: str,
        *,
        etag: str | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Session:
        """Marks a session inactive: its messages stay usable, conversation turns are refused."""
        request = ses_pb.DeactivateSessionRequest(
            session_id=session_id, etag=etag or "", request_id=req.request_id(request_id)
        )
        return Session.from_proto(
            await self._call(self._sessions, "DeactivateSession", request, timeout)
        )

    async def fork_session(
        self,
        session_id: str,
        *,
        new_session_id: str = "",
        up_to_message_id: str = "",
        session_name: str | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Session:
        """Copies a session and its messages up to `up_to_message_id` (all when empty) into a
        new session, `new_session_id` (generated when empty); returns the new session.

        The copy keeps the source's fields and labels (`session_name` renames it), starts at
        zero usage and gets the server's default expiry. A cut between a tool call and its
        result is refused (`FailedPreconditionError`, `SPLITS_TOOL_CALL`).
        """
        request = req.fork_session(
            session_id,
            new_session_id,
            up_to_message_id,
            session_name,
            req.request_id(request_id),
        )
        return Session.from_proto(await self._call(self._sessions, "ForkSession", request, timeout))

    async def rewind_session(
        self,
        session_id: str,
        after_message_id: str,
        *,
        etag: str | None = None,
        expected_seq: int | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Session:
        """Deletes every message after `after_message_id`, in one transaction; returns the
        session.

        With `etag` or `expected_seq`, only if the session is unchanged since (else
        `AbortedError`, `ETAG_MISMATCH` or `SESSION_CHANGED`). A cut that would keep a tool
        call and delete its result is refused (`FailedPreconditionError`,
        `SPLITS_TOOL_CALL`). Usage is not lowered: the tokens were spent.
        """
        request = req.rewind_session(
            session_id, after_message_id, req.request_id(request_id), etag, expected_seq
        )
        return Session.from_proto(
            await self._call(self._sessions, "RewindSession", request, timeout)
        )

    # Conversation turns

    async def conversation(
        self,
        messages: str | Sequence[ConversationMessage],
        *,
        session_id: str = "",
        session_name: str | None = None,
        agent_name: str | None = None,
        agent_instructions: str | None = None,
        model: str | None = None,
        server_tools: str | None = None,
        tools: Sequence[Tool] = (),
        expected_seq: int | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> ConversationResult:
        """Runs one turn: stores `messages` (a string is one user message) and the agent's reply.

        An empty `session_id` starts a session with a generated id, an unknown one starts a
        session with that id (named, and given its `model` and `server_tools`, by the other
        arguments). `expected_seq` stores the turn only if the session's `seq` is still that
        (else `AbortedError`, `SESSION_CHANGED`); a retry with the same `request_id` answers the
        stored turn without running the agent again.

        `tools` declares caller tools for this turn. When the model calls one, the turn ends
        with `stop_reason == "tool_calls"` and the calls in `pending_tool_calls`; run them and
        send one `call.result(output)` message per call in the next turn (with the same
        `tools`), or let `run_tools()` do all of that.
        """
        request = ses_pb.ConversationRequest(
            **req.turn(
                messages,
                session_id,
                session_name,
                agent_name,
                agent_instructions,
                model,
                server_tools,
                tools,
                req.request_id(request_id),
                expected_seq,
            )
        )
        return ConversationResult.from_proto(
            await self._call(self._sessions, "Conversation", request, timeout)
        )

    async def converse(
        self,
        messages: str | Sequence[ConversationMessage],
        *,
        session_id: str = "",
        session_name: str | None = None,
        agent_name: str | None = None,
        agent_instructions: str | None = None,
        model: str | None = None,
        server_tools: str | None = None,
        tools: Sequence[Tool] = (),
        expected_seq: int | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> AsyncGenerator[ConverseEvent, None]:
        """Runs one turn like `conversation()`, yielding its events as the reply is produced.

        The events are `Started`, then `Delta`s, `ToolCalled` and `ToolAnswered` (a server
        tool's result) as the agent works, then one `MessageStored` per message the agent
        stored and `Completed` (with `stop_reason`, `pending_tool_calls` and `usage`). A
        failure, before or after the stream began, raises its `AgentSessionsError` (nothing of
        the turn is stored then).

        The stream is retried (with the same `request_id`) only when it fails before its first
        event, so no event is ever shown twice; the service answers a retry of a turn it already
        stored by streaming that turn again, without running the agent. A stream cut after its
        first event raises `UnavailableError`: the turn may be stored, and calling `converse()`
        or `conversation()` again with the same `request_id` answers it without storing it
        twice.

        The call starts at the first step of the iteration; `timeout` bounds the whole stream,
        retries included. Leaving the loop early cancels the call once the iterator is closed
        (`contextlib.aclosing` closes it at once).
        """
        request = ses_pb.ConverseRequest(
            **req.turn(
                messages,
                session_id,
                session_name,
                agent_name,
                agent_instructions,
                model,
                server_tools,
                tools,
                req.request_id(request_id),
                expected_seq,
            )
        )
        deadline = Deadline(self._timeout if timeout is None else timeout)
        attempt = 1
        while True:
            call = self._sessions.Converse(
                request, metadata=await self._metadata(), timeout=deadline.remaining()
            )
            received = False
            try:
                async for proto in call:
                    received = True
                    event = event_from_proto(proto)
                    if event is not None:
                        yield event
                return
            except grpc.RpcError as exc:
                error = error_from_rpc(exc)
                delay = retry_delay(
                    self._retry,
                    error,
                    attempt=attempt,
                    idempotent=not received and "Converse" in req.IDEMPOTENT,
                    deadline=deadline,
                )
                if delay is None:
                    raise error from exc
            finally:
                call.cancel()
            await asyncio.sleep(delay)
            attempt += 1

    async def converse_text(
        self,
        messages: str | Sequence[ConversationMessage],
        *,
        session_id: str = "",
        session_name: str | None = None,
        agent_name: str | None = None,
        agent_instructions: str | None = None,
        model: str | None = None,
        server_tools: str | None = None,
        tools: Sequence[Tool] = (),
        expected_seq: int | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> AsyncGenerator[str, None]:
        """Runs one turn like `converse()`, yielding only the pieces of the reply's text."""
        events = self.converse(
            messages,
            session_id=session_id,
            session_name=session_name,
            agent_name=agent_name,
            agent_instructions=agent_instructions,
            model=model,
            server_tools=server_tools,
            tools=tools,
            expected_seq=expected_seq,
            request_id=request_id,
            timeout=timeout,
        )
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, Delta):
                    yield event.text

    async def run_tools(
        self,
        messages: str | Sequence[ConversationMessage],
        *,
        tools: ToolFunctions,
        session_id: str = "",
        session_name: str | None = None,
        agent_name: str | None = None,
        agent_instructions: str | None = None,
        model: str | None = None,
        server_tools: str | None = None,
        max_rounds: int = 10,
        timeout: float | None = None,
    ) -> ConversationResult:
        """Runs a turn with local functions as caller tools until the agent is done.

        Sends `messages` with the tools declared, and while the turn stops at tool calls
        (`stop_reason == "tool_calls"`), runs each pending call's function with the call's
        JSON arguments as keyword arguments, sends the outputs as `tool` messages in a new
        turn, and repeats. Returns the last turn's result (`stop_reason == "end_turn"`), whose
        `usage` is summed over every turn the loop ran.

        `tools` maps tool names to functions (or is a list of functions, named by
        `__name__`); a function may be a plain or a coroutine function. Each tool's
        description and JSON Schema are derived from its docstring and signature; pass a
        `local_tool(function, description=..., parameters=...)` to give them yourself. A
        function's return value is sent as text (a str as it is, other values as JSON).

        A function that raises does not stop the loop: the error's text (`Error: <tool>
        failed: <type>: <message>`) is sent as its result, for the model to see. So is a call
        to a tool not in `tools`, or with arguments the function cannot take.

        At most `max_rounds` rounds of tool results are sent; a turn that still stops at tool
        calls after that raises `ToolRoundsExceeded` (its `result` holds the calls, which the
        session then waits for: answer them, for example with `run_tools()` again and the
        results as its `messages`). `timeout` bounds each turn. Each turn is a call of its own,
        with its own request id, retried as `conversation()` is.
        """
        if max_rounds < 0:
            raise ValueError(f"max_rounds must be 0 or more, got {max_rounds}")
        toolbox = Toolbox(tools)
        result = await self.conversation(
            messages,
            session_id=session_id,
            session_name=session_name,
            agent_name=agent_name,
            agent_instructions=agent_instructions,
            model=model,
            server_tools=server_tools,
            tools=toolbox.specs,
            timeout=timeout,
        )
        usage = result.usage
        rounds = 0
        while result.stop_reason == "tool_calls" and result.pending_tool_calls:
            if rounds == max_rounds:
                raise ToolRoundsExceeded(max_rounds, replace(result, usage=usage))
            rounds += 1
            answers = [await toolbox.answer_async(call) for call in result.pending_tool_calls]
            result = await self.conversation(
                answers, session_id=result.session_id, tools=toolbox.specs, timeout=timeout
            )
            usage += result.usage
        return replace(result, usage=usage)

    # Messages

    async def create_message(
        self,
        session_id: str,
        role: Role,
        content: str = "",
        *,
        tool_call_id: str | None = None,
        tool_name: str | None = None,
        extra_data: str | None = None,
        expected_seq: int | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Message:
        """Appends a message to a session (`extra_data` is JSON text). With `expected_seq`, only
        if the session's `seq` is still that (else `AbortedError`, `SESSION_CHANGED`)."""
        request = req.create_message(
            session_id,
            role,
            content,
            tool_call_id,
            tool_name,
            extra_data,
            req.request_id(request_id),
            expected_seq,
        )
        return Message.from_proto(
            await self._call(self._messages, "CreateMessage", request, timeout)
        )

    async def create_messages(
        self,
        session_id: str,
        messages: Sequence[ConversationMessage],
        *,
        create_session: NewSession | None = None,
        expected_seq: int | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> list[Message]:
        """Appends 1 to 100 messages in one call: all or none, consecutive in the session's
        order whatever other writers do; returns them as stored, in order.

        A `tool` message must answer an assistant tool call earlier in `messages` or one the
        session waits for (its `tool_name` is filled in from the call when None). With
        `create_session` (`NewSession()` for the defaults) a missing session is created with
        those fields, else a missing session is `NotFoundError`. With `expected_seq`, only if
        the session's `seq` is still that (else `AbortedError`, `SESSION_CHANGED`). More than
        100 messages is a ValueError.
        """
        request = req.create_messages(
            session_id, messages, create_session, req.request_id(request_id), expected_seq
        )
        response = await self._call(self._messages, "BatchCreateMessages", request, timeout)
        return [Message.from_proto(m) for m in response.messages]

    async def get_message(
        self, session_id: str, message_id: str, *, timeout: float | None = None
    ) -> Message:
        """Returns one message of a session."""
        request = msg_pb.GetMessageRequest(session_id=session_id, message_id=message_id)
        return Message.from_proto(await self._call(self._messages, "GetMessage", request, timeout))

    async def list_messages_page(
        self,
        session_id: str,
        *,
        page_size: int = 0,
        page_token: str = "",
        order: Order = "asc",
        timeout: float | None = None,
    ) -> Page[Message]:
        """Returns one page of a session's messages (`order="desc"` for the most recent first)."""
        request = req.list_messages(session_id, page_size, page_token, order)
        return req.messages_page(await self._call(self._messages, "ListMessages", request, timeout))

    async def list_messages(
        self,
        session_id: str,
        *,
        page_size: int = 0,
        order: Order = "asc",
        timeout: float | None = None,
    ) -> AsyncGenerator[Message, None]:
        """Iterates over all of a session's messages, fetching pages of `page_size` as needed."""
        page_token = ""
        while True:
            page = await self.list_messages_page(
                session_id,
                page_size=page_size,
                page_token=page_token,
                order=order,
                timeout=timeout,
            )
            for message in page.items:
                yield message
            if not page.next_page_token:
                return
            page_token = page.next_page_token

    async def update_message(
        self,
        session_id: str,
        message_id: str,
        *,
        content: str | None = None,
        extra_data: str | None = None,
        tool_call_id: str | None = None,
        tool_name: str | None = None,
        etag: str | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Message:
        """Changes the given fields (None keeps a field, an empty string removes it;
        extra_data must be JSON text, so "null" says there is none)."""
        request = req.update_message(
            session_id,
            message_id,
            content,
            extra_data,
            tool_call_id,
            tool_name,
            req.request_id(request_id),
            etag,
        )
        return Message.from_proto(
            await self._call(self._messages, "UpdateMessage", request, timeout)
        )

    async def delete_message(
        self,
        session_id: str,
        message_id: str,
        *,
        etag: str | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Deletes one message."""
        request = msg_pb.DeleteMessageRequest(
            session_id=session_id,
            message_id=message_id,
            etag=etag or "",
            request_id=req.request_id(request_id),
        )
        await self._call(self._messages, "DeleteMessage", request, timeout)

    async def clear_messages(
        self, session_id: str, *, request_id: str | None = None, timeout: float | None = None
    ) -> int:
        """Deletes every message of a session (the session stays); returns how many."""
        request = msg_pb.ClearMessagesRequest(
            session_id=session_id, request_id=req.request_id(request_id)
        )
        response = await self._call(self._messages, "ClearMessages", request, timeout)
        return int(response.deleted_count)
