# Generated from aio.py by clients/python/unasync.py: do not edit (edit aio.py, then run
# `make generate`, which regenerates this file).
"""The synchronous client, on a `grpc` channel."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Any, TypeAlias

import grpc

from agent_sessions_client import _requests as req
from agent_sessions_client._proto.agentsessions.v1 import message_service_pb2 as msg_pb
from agent_sessions_client._proto.agentsessions.v1 import message_service_pb2_grpc as msg_grpc
from agent_sessions_client._proto.agentsessions.v1 import session_service_pb2 as ses_pb
from agent_sessions_client._proto.agentsessions.v1 import session_service_pb2_grpc as ses_grpc
from agent_sessions_client._version import __version__
from agent_sessions_client.errors import (
    AgentSessionsError,
    ToolRoundsExceeded,
    UnavailableError,
    error_from_rpc,
    error_from_status,
)
from agent_sessions_client.models import (
    ConversationMessage,
    ConversationResult,
    ConverseEvent,
    Delta,
    IfBusy,
    Message,
    NewSession,
    Order,
    Page,
    Role,
    Session,
    SessionDeleted,
    SessionEvent,
    Started,
    Tool,
    Turn,
    event_from_proto,
    session_event_from_proto,
)
from agent_sessions_client.retry import Deadline, RetryPolicy, retry_delay
from agent_sessions_client.tools import Toolbox, ToolFunctions

__all__ = ["Client", "TokenSource"]

TokenSource: TypeAlias = str | Callable[[], str] | None
"""A bearer token, or a callable returning the current one (called per attempt)."""

DEFAULT_RETRY = RetryPolicy()

# The codes of a watch's `error` event after which it is opened again from its last `seq`.
WATCH_AGAIN = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})


class Client:
    """A synchronous client of the Agent Sessions gRPC API (direct or through Envoy).

    Args:
        address: `host:port` of the gRPC server or of Envoy, such as `127.0.0.1:50051`.
        token: A JWT, or a callable returning one; sent as
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

    Every failure raises an `AgentSessionsError` subclass. The client is thread-safe; close it
    (or use it as a context manager) to close the channel.
    """

    def __init__(
        self,
        address: str,
        *,
        token: TokenSource = None,
        timeout: float | None = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        channel_credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        channel_options = [("grpc.primary_user_agent", f"{req.USER_AGENT}/{__version__}"), *options]
        if channel_credentials is None:
            self._channel = grpc.insecure_channel(address, options=channel_options)
        else:
            self._channel = grpc.secure_channel(address, channel_credentials, channel_options)
        self._sessions: Any = ses_grpc.SessionServiceStub(self._channel)
        self._messages: Any = msg_grpc.MessageServiceStub(self._channel)
        self._token = token
        self._timeout = timeout
        self._retry = retry

    def close(self) -> None:
        """Closes the channel; calls in progress are cancelled."""
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        token = self._token() if callable(self._token) else self._token
        return (("authorization", f"Bearer {token}"),) if token else ()

    def _call(self, stub: Any, name: str, request: Any, timeout: float | None) -> Any:
        """Calls unary method `name`, retrying it on UNAVAILABLE when it is idempotent; every
        attempt sends the same `request` (the same request id)."""
        deadline = Deadline(self._timeout if timeout is None else timeout)
        attempt = 1
        while True:
            try:
                return getattr(stub, name)(
                    request, metadata=self._metadata(), timeout=deadline.remaining()
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
                time.sleep(delay)
            attempt += 1

    # Sessions

    def create_session(
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
        return Session.from_proto(self._call(self._sessions, "CreateSession", request, timeout))

    def get_session(self, session_id: str, *, timeout: float | None = None) -> Session:
        """Returns one session."""
        request = ses_pb.GetSessionRequest(session_id=session_id)
        return Session.from_proto(self._call(self._sessions, "GetSession", request, timeout))

    def list_sessions_page(
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
        return req.sessions_page(self._call(self._sessions, "ListSessions", request, timeout))

    def list_sessions(
        self,
        *,
        page_size: int = 0,
        is_active: bool | None = None,
        agent_name: str | None = None,
        labels: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Generator[Session, None, None]:
        """Iterates over all the caller's sessions (with `labels`, those that have all of
        them), fetching pages of `page_size` as needed."""
        page_token = ""
        while True:
            page = self.list_sessions_page(
                page_size=page_size,
                page_token=page_token,
                is_active=is_active,
                agent_name=agent_name,
                labels=labels,
                timeout=timeout,
            )
            yield from page.items
            if not page.next_page_token:
                return
            page_token = page.next_page_token

    def update_session(
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
        return Session.from_proto(self._call(self._sessions, "UpdateSession", request, timeout))

    def delete_session(
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
        self._call(self._sessions, "DeleteSession", request, timeout)

    def activate_session(
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
        return Session.from_proto(self._call(self._sessions, "ActivateSession", request, timeout))

    def deactivate_session(
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
        return Session.from_proto(self._call(self._sessions, "DeactivateSession", request, timeout))

    def fork_session(
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
        return Session.from_proto(self._call(self._sessions, "ForkSession", request, timeout))

    def rewind_session(
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
        return Session.from_proto(self._call(self._sessions, "RewindSession", request, timeout))

    # Conversation turns

    def conversation(
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
        if_busy: IfBusy | None = None,
        detach: bool = False,
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

        `if_busy` and `detach` are as in `converse()`. A retry (with the same `request_id`) of a
        turn that still runs waits for its result; `result.turn_id` names the turn.
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
                if_busy,
                detach,
            )
        )
        return ConversationResult.from_proto(
            self._call(self._sessions, "Conversation", request, timeout)
        )

    def converse(
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
        if_busy: IfBusy | None = None,
        detach: bool = False,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Generator[ConverseEvent, None, None]:
        """Runs one turn like `conversation()`, yielding its events as the reply is produced.

        The events are `Started`, then `Delta`s, `ToolCalled` and `ToolAnswered` (a server
        tool's result) as the agent works, then one `MessageStored` per message the agent
        stored and `Completed` (with `stop_reason`, `pending_tool_calls` and `usage`). A
        failure, before or after the stream began, raises its `AgentSessionsError` (nothing of
        the turn is stored then).

        A turn that arrives while another turn of the session runs follows `if_busy`: it waits
        (`"enqueue"`, the default: `Queued` events tell its place), fails (`"reject"`:
        `AbortedError`, `SESSION_BUSY`) or cancels the running one (`"interrupt"`). With
        `detach=True` the turn runs to its end even if this caller goes away; without it, the
        service cancels the turn when the caller's connection is gone.

        A stream that breaks (UNAVAILABLE, a lost connection) continues by itself, each event
        shown once and in order: before the first event the call is sent again with the same
        `request_id` (the service attaches it to the turn the first attempt started, or replays
        the stored turn, without running the agent again); after it, the client reads on with
        `resume_turn()` after the last `seq` it yielded. A turn that is not detached is usually
        cancelled by the service when the connection breaks: the resumed stream then raises
        that cancellation (nothing was stored; send the turn again). The retry policy's
        attempts and backoff apply to each break; an attempt that brought new events starts the
        count again.

        The call starts at the first step of the iteration; `timeout` bounds the whole stream,
        retries included, and leaving the loop early cancels the call.
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
                if_busy,
                detach,
            )
        )
        events = self._turn_events(request, None, 0, timeout)
        yield from events

    def _turn_events(
        self,
        request: ses_pb.ConverseRequest | None,
        resume: ses_pb.ResumeTurnRequest | None,
        after_seq: int,
        timeout: float | None,
    ) -> Generator[ConverseEvent, None, None]:
        """A turn's events after `after_seq`, from Converse `request` or else from ResumeTurn
        `resume`, read on with ResumeTurn after each break once the turn's id is known."""
        deadline = Deadline(self._timeout if timeout is None else timeout)
        last = after_seq
        attempt = 1
        while True:
            metadata = self._metadata()
            if resume is None:
                method = "Converse"
                call = self._sessions.Converse(
                    request, metadata=metadata, timeout=deadline.remaining()
                )
            else:
                method = "ResumeTurn"
                resume.after_seq = last
                call = self._sessions.ResumeTurn(
                    resume, metadata=metadata, timeout=deadline.remaining()
                )
            progressed = False
            try:
                for proto in call:
                    if proto.seq <= last:
                        continue  # shown before the break (an attached retry starts at 1)
                    event = event_from_proto(proto)  # an `error` event raises: final
                    last, progressed = proto.seq, True
                    if isinstance(event, Started) and event.turn_id and resume is None:
                        resume = ses_pb.ResumeTurnRequest(
                            session_id=event.session_id, turn_id=event.turn_id
                        )
                    if event is not None:
                        yield event
                return
            except grpc.RpcError as exc:
                error = error_from_rpc(exc)
                if progressed:
                    attempt = 1
                delay = retry_delay(
                    self._retry,
                    error,
                    attempt=attempt,
                    idempotent=method in req.IDEMPOTENT,
                    deadline=deadline,
                )
                if delay is None:
                    raise error from exc
            finally:
                call.cancel()
            time.sleep(delay)
            attempt += 1

    def converse_text(
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
        if_busy: IfBusy | None = None,
        detach: bool = False,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Generator[str, None, None]:
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
            if_busy=if_busy,
            detach=detach,
            request_id=request_id,
            timeout=timeout,
        )
        with contextlib.closing(events):
            for event in events:
                if isinstance(event, Delta):
                    yield event.text

    def run_tools(
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
        result = self.conversation(
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
            answers = [toolbox.answer(call) for call in result.pending_tool_calls]
            result = self.conversation(
                answers, session_id=result.session_id, tools=toolbox.specs, timeout=timeout
            )
            usage += result.usage
        return replace(result, usage=usage)

    # Turns and watches

    def get_turn(self, session_id: str, turn_id: str, *, timeout: float | None = None) -> Turn:
        """Returns one turn of a session (its id is in `Started.turn_id` and
        `ConversationResult.turn_id`): its status and, once it ended, its result or error."""
        request = ses_pb.GetTurnRequest(session_id=session_id, turn_id=turn_id)
        return Turn.from_proto(self._call(self._sessions, "GetTurn", request, timeout))

    def cancel_turn(self, session_id: str, turn_id: str, *, timeout: float | None = None) -> Turn:
        """Cancels a queued or running turn (it stores nothing; its streams end with a
        cancellation error); a turn that already ended is returned as it is."""
        request = ses_pb.CancelTurnRequest(session_id=session_id, turn_id=turn_id)
        return Turn.from_proto(self._call(self._sessions, "CancelTurn", request, timeout))

    def resume_turn(
        self,
        session_id: str,
        turn_id: str,
        *,
        after_seq: int = 0,
        timeout: float | None = None,
    ) -> Generator[ConverseEvent, None, None]:
        """Yields a turn's events after `after_seq` (all of them with 0), numbered and carried
        as its own stream had them, then the live ones until its end (`Completed`, or its
        failure raised as by `converse()`). Works on a running turn (a detached one whose
        caller left, say) and on an ended one.

        A broken stream reads on after the last `seq` it yielded, as `converse()` does; the
        call starts at the first step of the iteration and `timeout` bounds all of it.
        """
        resume = ses_pb.ResumeTurnRequest(session_id=session_id, turn_id=turn_id)
        events = self._turn_events(None, resume, after_seq, timeout)
        yield from events

    def watch_session(
        self,
        session_id: str,
        *,
        after_seq: int | None = None,
        timeout: float | None = None,
    ) -> Generator[SessionEvent, None, None]:
        """Yields every change of a session as it commits, whichever client or replica made it.

        Durable events (`MessageAdded`, `MessageUpdated`, `MessageDeleted`, `MessagesCleared`,
        `SessionUpdated`, and `SessionDeleted`, which ends the watch) carry the session `seq`
        they took, in order, none skipped and none twice; live ones (`TurnUpdated` whenever a
        turn changes status, `TurnDelta` while one runs, `Heartbeat` every 15 s of silence)
        carry none. With `after_seq`, the changes after it that are still known come first;
        without, the watch starts at the session's current `seq`.

        A broken watch (UNAVAILABLE, a lost connection, or the service ending it because it
        fell behind or shuts down) is opened again after the last `seq` it yielded, so no
        durable event is lost or repeated; live events sent while it was broken are not
        repeated. `timeout` bounds the whole watch; None (the default) lets it run until the
        session is deleted or the iteration stops.
        """
        deadline = Deadline(timeout)
        last = after_seq
        if last is None:
            # Known before the watch opens, so that a watch broken before its first durable
            # event resumes from here rather than from whenever it is opened again.
            last = (self.get_session(session_id, timeout=deadline.remaining())).seq
        attempt = 1
        while True:
            request = req.watch_session(session_id, last)
            call = self._sessions.WatchSession(
                request, metadata=self._metadata(), timeout=deadline.remaining()
            )
            progressed = again = False
            error: AgentSessionsError
            try:
                for proto in call:
                    progressed = True
                    if proto.WhichOneof("event") == "error":
                        error = error_from_status(proto.error)
                        if error.code not in WATCH_AGAIN:
                            raise error
                        again = True  # the service ended it: fell behind, or shutting down
                        break
                    if proto.HasField("seq"):
                        if proto.seq <= last:
                            continue
                        last = proto.seq
                    event = session_event_from_proto(proto)
                    if event is not None:
                        yield event
                    if isinstance(event, SessionDeleted):
                        return
                else:
                    # Only `deleted` ends a watch: a stream that ends otherwise was cut.
                    error = UnavailableError(
                        grpc.StatusCode.UNAVAILABLE, "the watch ended before the session did"
                    )
            except grpc.RpcError as exc:
                error = error_from_rpc(exc)
            finally:
                call.cancel()
            if progressed:
                attempt = 1
            delay = retry_delay(
                self._retry,
                UnavailableError(grpc.StatusCode.UNAVAILABLE, error.message) if again else error,
                attempt=attempt,
                idempotent="WatchSession" in req.IDEMPOTENT,
                deadline=deadline,
            )
            if delay is None:
                raise error
            time.sleep(delay)
            attempt += 1

    # Messages

    def create_message(
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
        return Message.from_proto(self._call(self._messages, "CreateMessage", request, timeout))

    def create_messages(
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
        response = self._call(self._messages, "BatchCreateMessages", request, timeout)
        return [Message.from_proto(m) for m in response.messages]

    def get_message(
        self, session_id: str, message_id: str, *, timeout: float | None = None
    ) -> Message:
        """Returns one message of a session."""
        request = msg_pb.GetMessageRequest(session_id=session_id, message_id=message_id)
        return Message.from_proto(self._call(self._messages, "GetMessage", request, timeout))

    def list_messages_page(
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
        return req.messages_page(self._call(self._messages, "ListMessages", request, timeout))

    def list_messages(
        self,
        session_id: str,
        *,
        page_size: int = 0,
        order: Order = "asc",
        timeout: float | None = None,
    ) -> Generator[Message, None, None]:
        """Iterates over all of a session's messages, fetching pages of `page_size` as needed."""
        page_token = ""
        while True:
            page = self.list_messages_page(
                session_id,
                page_size=page_size,
                page_token=page_token,
                order=order,
                timeout=timeout,
            )
            yield from page.items
            if not page.next_page_token:
                return
            page_token = page.next_page_token

    def update_message(
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
        return Message.from_proto(self._call(self._messages, "UpdateMessage", request, timeout))

    def delete_message(
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
        self._call(self._messages, "DeleteMessage", request, timeout)

    def clear_messages(
        self, session_id: str, *, request_id: str | None = None, timeout: float | None = None
    ) -> int:
        """Deletes every message of a session (the session stays); returns how many."""
        request = msg_pb.ClearMessagesRequest(
            session_id=session_id, request_id=req.request_id(request_id)
        )
        response = self._call(self._messages, "ClearMessages", request, timeout)
        return int(response.deleted_count)
