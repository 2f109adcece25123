"""The OpenAI Agents SDK agent against a real (fake) OpenAI-compatible HTTP server: streaming,
usage, what the model API receives, history without orphans, error mapping, cancellation,
the Responses API option and tracing."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Sequence
from contextlib import aclosing
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from agent_sessions.agents import AgentRegistry, MockAgent
from agent_sessions.agents.base import (
    AgentEvent,
    AgentMessage,
    AgentTurn,
    TextDelta,
    ToolCall,
    ToolResult,
    UsageReport,
)
from agent_sessions.agents.from_settings import build_registry
from agent_sessions.agents.history import input_items
from agent_sessions.agents.openai import agent as openai_agent
from agent_sessions.agents.openai.agent import OpenAIAgent
from agent_sessions.agents.openai.errors import retry_after_seconds
from agent_sessions.errors import (
    ContextTooLong,
    DomainError,
    ModelAuthFailed,
    ModelCallLimit,
    ModelError,
    ModelNotFound,
    ModelRateLimited,
    ModelRejectedRequest,
    ModelUnavailable,
)
from agent_sessions.settings import Settings
from agents import Tool, function_tool
from agents.tracing import (
    Span,
    Trace,
    TracingProcessor,
    add_trace_processor,
    flush_traces,
    get_trace_provider,
)
from agents.tracing.processors import BackendSpanExporter

from tests.fakes import FakeModelServer, FakeToolCall, Step
from tests.support import free_port

pytest_plugins = ["tests.fakes.fixtures"]  # the `model_server` fixture

T = TypeVar("T")

# Distinctive, so a leak anywhere (message, metadata, log) is found by a plain substring search.
KEY = "sk-test-DISTINCTIVE-9f3c1a7e5b2d4c6e8a0f"
MODEL = "fake-model"


def settings_for(url: str, **env: Any) -> Settings:
    """OpenAI-agent settings for the fake at `url`; keyword names are the variables' suffixes."""
    values = {
        "AGENT_SESSIONS_AGENT": "openai",
        "AGENT_SESSIONS_MODEL": MODEL,
        "AGENT_SESSIONS_MODEL_BASE_URL": url,
        "AGENT_SESSIONS_MODEL_API_KEY": KEY,
        # Most tests script exactly the answers they want; retries are tested on their own.
        "AGENT_SESSIONS_MODEL_MAX_RETRIES": "0",
    }
    values.update({f"AGENT_SESSIONS_{name.upper()}": str(value) for name, value in env.items()})
    return Settings.from_env(values)


def turn(
    *messages: AgentMessage,
    history: Sequence[AgentMessage] = (),
    model: str | None = None,
    name: str | None = "helper",
    instructions: str | None = "Answer briefly.",
) -> AgentTurn:
    return AgentTurn(
        session_id="session-1",
        agent_name=name,
        agent_instructions=instructions,
        history=list(history),
        messages=list(messages) or [AgentMessage("user", "Hi!")],
        model=model,
    )


def user(text: str) -> AgentMessage:
    return AgentMessage("user", text)


def call(call_id: str, name: str = "add", arguments: str = '{"a": 1, "b": 2}') -> AgentMessage:
    return AgentMessage("assistant", arguments, tool_call_id=call_id, tool_name=name)


def result(call_id: str, output: str = "3", name: str = "add") -> AgentMessage:
    return AgentMessage("tool", output, tool_call_id=call_id, tool_name=name)


def run(coro_fn: Callable[[], Awaitable[T]], timeout: float = 20) -> T:
    """Runs an async test body in a fresh loop, bounded so a hang fails instead of stalling."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro_fn(), timeout)

    return asyncio.run(bounded())


async def collect(agent: OpenAIAgent, agent_turn: AgentTurn) -> list[AgentEvent]:
    return [event async for event in agent.run(agent_turn)]


def run_turn(
    settings: Settings, agent_turn: AgentTurn, tools: Sequence[Tool] = ()
) -> list[AgentEvent]:
    async def body() -> list[AgentEvent]:
        agent = OpenAIAgent(settings, tools=tools)
        try:
            return await collect(agent, agent_turn)
        finally:
            await agent.aclose()

    return run(body)


def fail_turn(
    settings: Settings, agent_turn: AgentTurn | None = None, tools: Sequence[Tool] = ()
) -> DomainError:
    with pytest.raises(DomainError) as raised:
        run_turn(settings, agent_turn or turn(), tools)
    return raised.value


def text_of(events: Sequence[AgentEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@function_tool
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


# -- streaming and usage ---------------------------------------------------------------------------


def test_a_delta_leaves_while_the_model_is_still_answering(model_server: FakeModelServer) -> None:
    """The first piece reaches the consumer while the fake holds the rest: nothing is buffered."""
    gate = threading.Event()
    model_server.script(Step.text(["Hel", "lo", " there"], gate=gate, gate_after=1))

    async def body() -> list[AgentEvent]:
        agent = OpenAIAgent(settings_for(model_server.base_url))
        events: list[AgentEvent] = []
        try:
            async for event in agent.run(turn()):
                if not events:
                    assert event == TextDelta("Hel")
                    # The fake has not sent the rest and cannot until the gate opens.
                    assert not gate.is_set()
                    assert not model_server.requests[0].finished.is_set()
                    gate.set()
                events.append(event)
        finally:
            await agent.aclose()
        return events

    events = run(body)
    assert [e for e in events if isinstance(e, TextDelta)] == [
        TextDelta("Hel"),
        TextDelta("lo"),
        TextDelta(" there"),
    ]
    assert isinstance(events[-1], UsageReport)


def test_text_is_the_pieces_in_order_and_usage_comes_once_at_the_end(
    model_server: FakeModelServer,
) -> None:
    model_server.script(Step.text(["The ", "answer ", "is ", "42."], usage=(11, 4)))
    events = run_turn(settings_for(model_server.base_url), turn())
    assert text_of(events) == "The answer is 42."
    reports = [e for e in events if isinstance(e, UsageReport)]
    assert reports == [UsageReport(input_tokens=11, output_tokens=4, total_tokens=15)]
    assert events[-1] == reports[0]


def test_tool_calls_and_results_stream_in_order_and_usage_sums_every_model_call(
    model_server: FakeModelServer,
) -> None:
    """Two parallel calls (arguments split across chunks), the tool runs, the model answers."""
    model_server.script(
        Step.tool_calls(
            FakeToolCall("call_1", "add", '{"a": 1, "b": 2}', pieces=3),
            FakeToolCall("call_2", "add", '{"a": 40, "b": 2}', pieces=2),
            usage=(20, 5),
        ),
        Step.text(["3 and ", "42"], usage=(30, 4)),
    )
    events = run_turn(settings_for(model_server.base_url), turn(), tools=[add])
    assert events == [
        ToolCall("call_1", "add", '{"a": 1, "b": 2}'),
        ToolCall("call_2", "add", '{"a": 40, "b": 2}'),
        ToolResult("call_1", "add", "3"),
        ToolResult("call_2", "add", "42"),
        TextDelta("3 and "),
        TextDelta("42"),
        UsageReport(input_tokens=50, output_tokens=9, total_tokens=59),
    ]
    # The second model call saw the calls as one assistant message, then both results.
    second = model_server.requests[1].messages
    assert [m["role"] for m in second] == ["system", "user", "assistant", "tool", "tool"]
    assert [c["id"] for c in second[2]["tool_calls"]] == ["call_1", "call_2"]
    assert [(m["tool_call_id"], m["content"]) for m in second[3:]] == [
        ("call_1", "3"),
        ("call_2", "42"),
    ]


def test_a_refusal_is_the_reply_text(model_server: FakeModelServer) -> None:
    model_server.script(Step.refusal(["I can't ", "help with that."]))
    events = run_turn(settings_for(model_server.base_url), turn())
    assert text_of(events) == "I can't help with that."
    assert isinstance(events[-1], UsageReport)  # a complete turn, not an error


def test_a_model_api_without_usage_reports_zero_tokens(model_server: FakeModelServer) -> None:
    """Some servers ignore stream_options: the turn still completes, with usage unknown (0)."""
    model_server.script(replace(Step.text(["ok"]), send_usage=False))
    events = run_turn(settings_for(model_server.base_url), turn())
    assert model_server.requests[0].include_usage
    assert events == [TextDelta("ok"), UsageReport(0, 0, 0)]


# -- what the model API receives ---------------------------------------------------------------


def test_the_request_carries_model_key_instructions_history_and_include_usage(
    model_server: FakeModelServer,
) -> None:
    model_server.script(Step.text(["a"]), Step.text(["b"]))
    settings = settings_for(model_server.base_url)
    history = [user("Earlier question"), AgentMessage("assistant", "Earlier answer")]
    run_turn(settings, turn(user("Now this"), history=history))
    run_turn(settings, turn(user("Again"), model="session-model", instructions=None, name=None))

    first, second = model_server.requests
    assert first.path == "/v1/chat/completions"
    assert first.authorization == f"Bearer {KEY}"
    assert first.model == MODEL  # the server's default: the session names none
    assert first.body["stream"] is True
    assert first.include_usage  # not only for api.openai.com
    assert "store" not in first.body  # a custom endpoint gets no OpenAI-only parameter
    assert first.messages == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Earlier question"},
        {"role": "assistant", "content": "Earlier answer"},
        {"role": "user", "content": "Now this"},
    ]
    assert second.model == "session-model"
    assert second.messages == [{"role": "user", "content": "Again"}]  # no instructions: none


def test_a_keyless_server_never_gets_the_environments_openai_key(
    model_server: FakeModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPENAI_API_KEY / OPENAI_BASE_URL in the environment must not reach a local server."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    model_server.script(Step.text(["ok"]))
    settings = replace(settings_for(model_server.base_url), model_api_key="")
    assert text_of(run_turn(settings, turn())) == "ok"
    assert model_server.requests[0].authorization == "Bearer no-key"


def test_the_history_window_and_orphans_never_reach_the_model(
    model_server: FakeModelServer,
) -> None:
    """A window of 4 (the turn service's, applied before the agent) cuts call c1 from its
    result; c2 has no result; c3's result comes after a user message. The model gets valid
    pairs only."""
    model_server.script(Step.text(["ok"]))
    history = [
        user("old"),
        AgentMessage("assistant", "Let me add."),
        call("c1"),
        result("c1"),  # window starts here: an orphan result
        AgentMessage("system", "Be terse from now on."),
        AgentMessage("assistant", "Checking."),
        call("c2"),  # never answered
    ]
    messages = [call("c3", arguments='{"a": 2, "b": 2}'), user("and?"), result("c3", "4")]
    run_turn(settings_for(model_server.base_url), turn(*messages, history=history[-4:]))
    sent = model_server.requests[0].messages
    assert sent == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "system", "content": "Be terse from now on."},
        {
            # The text is now next to a call: one assistant message, as a model writes it.
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "c3",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 2, "b": 2}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c3", "content": "4"},
        {"role": "user", "content": "and?"},
    ]


def test_assistant_text_and_its_tool_calls_go_as_one_chat_message(
    model_server: FakeModelServer,
) -> None:
    model_server.script(Step.text(["ok"]))
    history = [
        user("add things"),
        AgentMessage("assistant", "Let me check."),
        call("c1"),
        call("c2", arguments='{"a": 5, "b": 5}'),
        result("c2", "10"),
        result("c1", "3"),
    ]
    run_turn(settings_for(model_server.base_url), turn(user("thanks"), history=history))
    sent = model_server.requests[0].messages
    assert sent[2]["role"] == "assistant"
    assert sent[2]["content"] == "Let me check."
    assert [c["id"] for c in sent[2]["tool_calls"]] == ["c1", "c2"]
    assert [(m["role"], m["tool_call_id"]) for m in sent[3:5]] == [("tool", "c1"), ("tool", "c2")]
    assert sent[5] == {"role": "user", "content": "thanks"}


@pytest.mark.parametrize(
    ("history", "messages", "window", "expected"),
    [
        pytest.param(
            [user("a"), AgentMessage("assistant", "b"), user("c")],
            [user("d")],
            2,
            [("assistant", "b"), ("user", "c"), ("user", "d")],
            id="window keeps the newest",
        ),
        pytest.param([user("a")], [user("b")], 0, [("user", "b")], id="window 0 means no history"),
        pytest.param(
            [call("c1"), result("c1"), user("u")],
            [],
            2,
            [("user", "u")],
            id="a window that cuts the call drops its result",
        ),
        pytest.param(
            [user("u"), call("c1")], [], 50, [("user", "u")], id="an unanswered call is dropped"
        ),
        pytest.param(
            [result("c9"), user("u")], [], 50, [("user", "u")], id="a result without a call"
        ),
        pytest.param(
            [call("c1"), result("c1"), result("c1", "again")],
            [],
            50,
            [("call", "c1"), ("output", "c1")],
            id="a second result for one call is dropped",
        ),
        pytest.param(
            [result("c1", "early"), call("c1"), user("u"), result("c1", "late")],
            [],
            50,
            [("call", "c1"), ("output", "c1"), ("user", "u")],
            id="a result moves up to its call, past a user message",
        ),
        pytest.param(
            [call("c1"), call("c2"), result("c2"), result("c1")],
            [],
            50,
            [("call", "c1"), ("call", "c2"), ("output", "c1"), ("output", "c2")],
            id="parallel results follow in call order",
        ),
        pytest.param(
            [AgentMessage("assistant", "{}", tool_call_id="c1"), result("c1")],
            [],
            50,
            [],
            id="a call without a tool name is unusable, and so is its result",
        ),
        pytest.param(
            [AgentMessage("system", "s"), user("u")],
            [],
            50,
            [("system", "s"), ("user", "u")],
            id="system messages stay system",
        ),
    ],
)
def test_history_items(
    history: list[AgentMessage],
    messages: list[AgentMessage],
    window: int,
    expected: list[tuple[str, str]],
) -> None:
    # The turn service windows the history; the agent sanitizes what it is given.
    items = input_items(history[-window:] if window else [], messages)

    def shape(item: dict[str, Any]) -> tuple[str, str]:
        if item.get("type") == "function_call":
            return ("call", item["call_id"])
        if item.get("type") == "function_call_output":
            return ("output", item["call_id"])
        return (item["role"], item["content"])

    assert [shape(i) for i in items] == expected


def test_history_output_message_form_only_for_chat_completions() -> None:
    history = [AgentMessage("assistant", "Let me check."), call("c1"), result("c1")]
    chat = input_items(history, [])
    responses = input_items(history, [], merge_text_with_calls=False)
    assert chat[0]["type"] == "message" and chat[0]["content"][0]["text"] == "Let me check."
    assert responses[0] == {"role": "assistant", "content": "Let me check."}


# -- errors --------------------------------------------------------------------------------------


U = ("UNAVAILABLE", "MODEL_UNAVAILABLE")
F = "FAILED_PRECONDITION"


@pytest.mark.parametrize(
    ("step", "error", "status"),
    [
        pytest.param(Step.server_error(500), ModelUnavailable, U, id="500"),
        pytest.param(Step.server_error(503), ModelUnavailable, U, id="503"),
        pytest.param(
            Step.error_in_stream(["Hel"]), ModelUnavailable, U, id="error in a 200 stream"
        ),
        pytest.param(Step.cut(["Hel", "lo"]), ModelUnavailable, U, id="cut cleanly"),
        pytest.param(Step.cut(["Hel"], abrupt=True), ModelUnavailable, U, id="cut mid-body"),
        pytest.param(
            Step.rate_limited(),
            ModelRateLimited,
            ("RESOURCE_EXHAUSTED", "MODEL_RATE_LIMITED"),
            id="429",
        ),
        pytest.param(
            Step.unknown_model(MODEL), ModelNotFound, (F, "MODEL_NOT_FOUND"), id="404 OpenAI"
        ),
        pytest.param(
            Step.error_response(404, f'model "{MODEL}" not found, try pulling it first'),
            ModelNotFound,
            (F, "MODEL_NOT_FOUND"),
            id="404 Ollama",
        ),
        pytest.param(
            Step.context_too_long("openai"),
            ContextTooLong,
            (F, "CONTEXT_TOO_LONG"),
            id="context OpenAI",
        ),
        pytest.param(
            Step.context_too_long("llamacpp"),
            ContextTooLong,
            (F, "CONTEXT_TOO_LONG"),
            id="context llama.cpp",
        ),
        pytest.param(
            replace(Step.context_too_long("llamacpp"), status=500),
            ContextTooLong,
            (F, "CONTEXT_TOO_LONG"),
            id="context early llama.cpp (500)",
        ),
        pytest.param(
            Step.context_too_long("vllm"),
            ContextTooLong,
            (F, "CONTEXT_TOO_LONG"),
            id="context vLLM",
        ),
        pytest.param(
            Step.unauthorized(401),
            ModelAuthFailed,
            ("UNAVAILABLE", "MODEL_AUTH_FAILED"),
            id="401",
        ),
        pytest.param(
            Step.unauthorized(403),
            ModelAuthFailed,
            ("UNAVAILABLE", "MODEL_AUTH_FAILED"),
            id="403",
        ),
        pytest.param(
            Step.error_response(400, "Unsupported parameter: 'stream_options'"),
            ModelRejectedRequest,
            (F, "MODEL_REJECTED_REQUEST"),
            id="other 400",
        ),
    ],
)
def test_model_api_failures_map_to_the_contract_errors(
    model_server: FakeModelServer, step: Step, error: type[ModelError], status: tuple[str, str]
) -> None:
    model_server.script(step)
    raised = fail_turn(settings_for(model_server.base_url))
    assert type(raised) is error
    assert (raised.code, raised.reason) == status
    assert raised.message and KEY not in raised.message
    assert len(model_server.requests) == 1  # no retries were configured


def test_a_cut_stream_fails_even_though_its_text_arrived(model_server: FakeModelServer) -> None:
    """A server that dies mid-reply may end the body cleanly: that is not a complete reply."""
    model_server.script(Step.cut(["The answer is"]))

    async def body() -> tuple[list[AgentEvent], BaseException | None]:
        agent = OpenAIAgent(settings_for(model_server.base_url))
        seen: list[AgentEvent] = []
        try:
            async for event in agent.run(turn()):
                seen.append(event)
        except ModelUnavailable as exc:
            return seen, exc
        finally:
            await agent.aclose()
        return seen, None

    seen, error = run(body)
    assert text_of(seen) == "The answer is"  # streamed as it came…
    assert not any(isinstance(e, UsageReport) for e in seen)  # …but the turn did not complete
    assert isinstance(error, ModelUnavailable) and "finish reason" in error.message


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (Step.rate_limited(retry_after_ms=250), 0.25),
        (Step.rate_limited(retry_after="7"), 7.0),
        (Step.rate_limited(retry_after_ms=1500, retry_after="9"), 1.5),
        (Step.rate_limited(), None),
    ],
    ids=["retry-after-ms", "retry-after", "ms wins", "none given"],
)
def test_rate_limits_carry_the_delay_the_api_asked_for(
    model_server: FakeModelServer, step: Step, expected: float | None
) -> None:
    model_server.script(step)
    raised = fail_turn(settings_for(model_server.base_url))
    assert isinstance(raised, ModelRateLimited)
    assert raised.retry_after == expected


def test_retry_after_as_an_http_date() -> None:
    from email.utils import formatdate

    delay = retry_after_seconds({"retry-after": formatdate(time.time() + 30, usegmt=True)})
    assert delay is not None and 25 <= delay <= 31
    assert retry_after_seconds({"retry-after": "soon"}) is None


def test_retries_happen_before_the_first_token(model_server: FakeModelServer) -> None:
    model_server.script(
        Step.rate_limited(retry_after_ms=10), Step.server_error(), Step.text(["ok"])
    )
    events = run_turn(settings_for(model_server.base_url, model_max_retries=2), turn())
    assert text_of(events) == "ok"
    assert len(model_server.requests) == 3


def test_an_unreachable_api_is_unavailable() -> None:
    raised = fail_turn(settings_for(f"http://127.0.0.1:{free_port()}/v1"))
    assert isinstance(raised, ModelUnavailable)
    assert (
        "cannot be reached" in raised.message and "AGENT_SESSIONS_MODEL_BASE_URL" in raised.message
    )


def test_a_wrong_base_url_is_named_as_such(model_server: FakeModelServer) -> None:
    """A plain 404 for the path (not an API error about a model) points at the base URL."""
    raised = fail_turn(settings_for(f"http://127.0.0.1:{model_server.port}/wrong"))
    assert isinstance(raised, ModelUnavailable)
    assert "AGENT_SESSIONS_MODEL_BASE_URL" in raised.message


def test_a_silent_model_times_out(model_server: FakeModelServer) -> None:
    model_server.script(Step.text(["late"], first_delay=3))
    started = time.monotonic()
    raised = fail_turn(settings_for(model_server.base_url, model_timeout=0.3))
    assert time.monotonic() - started < 2.5
    assert isinstance(raised, ModelUnavailable)
    assert "0.3 s" in raised.message and "AGENT_SESSIONS_MODEL_TIMEOUT" in raised.message


def test_too_many_model_calls_end_the_turn(model_server: FakeModelServer) -> None:
    """MaxTurnsExceeded (the SDK) → RESOURCE_EXHAUSTED, reason MODEL_CALL_LIMIT."""
    model_server.always(Step.tool_calls(FakeToolCall("c", "add", '{"a": 1, "b": 1}')))
    raised = fail_turn(settings_for(model_server.base_url, model_max_calls=2), tools=[add])
    assert isinstance(raised, ModelCallLimit)
    assert (raised.code, raised.reason) == ("RESOURCE_EXHAUSTED", "MODEL_CALL_LIMIT")
    assert "AGENT_SESSIONS_MODEL_MAX_CALLS" in raised.message
    assert len(model_server.requests) == 2


def test_a_failed_turn_logs_its_usage(
    model_server: FakeModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    model_server.script(
        Step.tool_calls(FakeToolCall("c1", "add", '{"a": 1, "b": 2}'), usage=(20, 5)),
        Step.server_error(),
    )
    with caplog.at_level(logging.WARNING, logger="agent_sessions"):
        fail_turn(settings_for(model_server.base_url), tools=[add])
    records = [r for r in caplog.records if r.name == openai_agent.__name__]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    text = records[0].getMessage()
    assert "MODEL_UNAVAILABLE" in text and MODEL in text
    assert "1 model call(s), 20 input + 5 output = 25 tokens" in text


@pytest.mark.parametrize(
    "step",
    [
        Step.unauthorized(401),
        Step.unauthorized(403),
        Step.error_response(400, "Bad key {key} in request"),
        Step.error_response(404, "model for key {key} does not exist"),
        Step.error_response(400, "context length exceeded for {key}"),
        Step.error_in_stream(["x"], message="stream failed for {key}"),
    ],
    ids=["401", "403", "400", "404", "context", "in-stream"],
)
def test_the_api_key_never_appears_in_errors_or_logs(
    model_server: FakeModelServer, step: Step, caplog: pytest.LogCaptureFixture
) -> None:
    """The fake echoes the received key in its error text (OpenAI does, masked)."""
    model_server.script(step)
    with caplog.at_level(logging.DEBUG):
        raised = fail_turn(settings_for(model_server.base_url))
    assert model_server.requests[0].authorization == f"Bearer {KEY}"
    for text in (str(raised), repr(raised), raised.message, json.dumps(raised.metadata)):
        assert KEY not in text
    assert raised.__cause__ is None and raised.__suppress_context__
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in caplog.text
    assert KEY not in repr(settings_for(model_server.base_url))


# -- cancellation --------------------------------------------------------------------------------


async def _settled(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Waits up to 2 s for tasks started since `before` to end; returns those still running."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:  # noqa: ASYNC110 - polling all tasks, no event to wait on
        left = {t for t in asyncio.all_tasks() if t not in before and not t.done()}
        if not left:
            return left
        await asyncio.sleep(0.01)
    return left


def _assert_model_request_stopped(fake: FakeModelServer, since: float) -> None:
    assert fake.disconnected.wait(2), "the model request kept going"
    assert time.monotonic() - since < 1.0, "the model request stopped late"
    time.sleep(0.3)
    assert len(fake.requests) == 1, "a request was made after the cancellation"
    assert not fake.requests[0].finished.is_set()


def test_cancelling_the_consumer_stops_the_model_request(model_server: FakeModelServer) -> None:
    """The consumer's task is cancelled while it waits for the next delta."""
    model_server.script(Step.slow(pieces=200, delay=0.05))

    async def body() -> float:
        before = asyncio.all_tasks()
        agent = OpenAIAgent(settings_for(model_server.base_url))
        first = asyncio.Event()

        async def consume() -> None:
            async for _ in agent.run(turn()):
                first.set()

        task = asyncio.create_task(consume())
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        since = time.monotonic()
        assert not await _settled(before), "the run was left going in the background"
        await agent.aclose()
        return since

    _assert_model_request_stopped(model_server, run(body))


def test_cancellation_inside_the_consumers_own_work_stops_the_model_request(
    model_server: FakeModelServer,
) -> None:
    """The cancellation lands while the consumer is busy (e.g. a gRPC write), not waiting on the
    agent: the generator is closed by `aclosing`, and its `finally` cancels the run."""
    model_server.script(Step.slow(pieces=200, delay=0.05))

    async def body() -> float:
        before = asyncio.all_tasks()
        agent = OpenAIAgent(settings_for(model_server.base_url))

        async def consume() -> None:
            async with aclosing(agent.run(turn())) as events:
                async for _ in events:
                    await asyncio.sleep(30)  # "writing" the delta; cancelled here

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        since = time.monotonic()
        assert not await _settled(before)
        await agent.aclose()
        return since

    _assert_model_request_stopped(model_server, run(body))


def test_a_consumer_that_stops_reading_stops_the_model_request(
    model_server: FakeModelServer,
) -> None:
    """`break` out of the stream (closed promptly by aclosing: no wait for the whole run)."""
    model_server.script(Step.slow(pieces=200, delay=0.05))

    async def body() -> float:
        before = asyncio.all_tasks()
        agent = OpenAIAgent(settings_for(model_server.base_url))
        async with aclosing(agent.run(turn())) as events:
            async for _ in events:
                break
        since = time.monotonic()
        assert not await _settled(before)
        await agent.aclose()
        return since

    started = time.monotonic()
    since = run(body)
    assert since - started < 2, "closing the stream waited for the run to end"
    _assert_model_request_stopped(model_server, since)


def test_an_abandoned_stream_stops_the_model_request(model_server: FakeModelServer) -> None:
    """A consumer that drops the generator without closing it: garbage collection closes it."""
    model_server.script(Step.slow(pieces=200, delay=0.05))

    async def body() -> float:
        before = asyncio.all_tasks()
        agent = OpenAIAgent(settings_for(model_server.base_url))
        events: AsyncGenerator[AgentEvent, None] = agent.run(turn())
        await anext(events)
        del events
        gc.collect()
        since = time.monotonic()
        assert not await _settled(before)
        await agent.aclose()
        return since

    _assert_model_request_stopped(model_server, run(body))


# -- the Responses API option ------------------------------------------------------------------


def test_the_responses_api_option_streams_text_and_usage(model_server: FakeModelServer) -> None:
    model_server.script(Step.text(["Hel", "lo"], usage=(5, 2)))
    settings = settings_for(model_server.base_url, model_api="responses")
    events = run_turn(settings, turn(history=[user("before")]))
    assert events == [TextDelta("Hel"), TextDelta("lo"), UsageReport(5, 2, 7)]
    request = model_server.requests[0]
    assert request.path == "/v1/responses"
    assert request.authorization == f"Bearer {KEY}"
    assert request.model == MODEL and request.body["instructions"] == "Answer briefly."
    assert [i.get("content") for i in request.body["input"]] == ["before", "Hi!"]


def test_a_responses_stream_without_its_completion_fails(model_server: FakeModelServer) -> None:
    model_server.script(Step.cut(["Hel"]))
    raised = fail_turn(settings_for(model_server.base_url, model_api="responses"))
    assert isinstance(raised, ModelUnavailable)


# -- tracing -------------------------------------------------------------------------------------


class _Recorder(TracingProcessor):
    def __init__(self) -> None:
        self.traces: list[Trace] = []
        self.spans: list[Span[Any]] = []

    def on_trace_start(self, trace: Trace) -> None:
        self.traces.append(trace)

    def on_trace_end(self, trace: Trace) -> None:
        pass

    def on_span_start(self, span: Span[Any]) -> None:
        self.spans.append(span)

    def on_span_end(self, span: Span[Any]) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


@pytest.fixture
def traces(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[_Recorder, list[Any]]]:
    """Records traces and spans, and what the exporter to api.openai.com would have sent (it is
    patched, so nothing leaves even when tracing is on). OPENAI_API_KEY is set: the SDK exports
    whenever it is, whatever the model's base URL."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-key-not-for-the-model")
    exported: list[Any] = []
    monkeypatch.setattr(BackendSpanExporter, "export", lambda self, items: exported.extend(items))
    provider: Any = get_trace_provider()
    saved = list(provider._multi_processor._processors)
    recorder = _Recorder()
    add_trace_processor(recorder)
    try:
        yield recorder, exported
    finally:
        flush_traces()
        provider.set_processors(saved)
        provider.set_disabled(True)


def test_tracing_is_off_by_default_and_nothing_calls_home(
    model_server: FakeModelServer, traces: tuple[_Recorder, list[Any]]
) -> None:
    recorder, exported = traces
    model_server.script(Step.text(["ok"]))
    assert text_of(run_turn(settings_for(model_server.base_url), turn())) == "ok"
    flush_traces()
    assert recorder.traces == [] and recorder.spans == []
    assert exported == []
    assert len(model_server.requests) == 1


def test_an_operator_can_turn_tracing_on(
    model_server: FakeModelServer, traces: tuple[_Recorder, list[Any]]
) -> None:
    recorder, exported = traces
    model_server.script(Step.text(["ok"]))
    run_turn(settings_for(model_server.base_url, tracing="1"), turn())
    flush_traces()
    assert [t.name for t in recorder.traces] == ["agent-sessions turn"]
    assert exported, "the SDK's exporter got nothing to send"


# -- the registry --------------------------------------------------------------------------------


def test_the_registry_serves_the_mock_by_default() -> None:
    registry = build_registry(Settings.from_env({}))
    assert registry.names == ["mock"] and registry.default_name == "mock"
    assert isinstance(registry.get(), MockAgent)


def test_the_registry_serves_the_openai_agent_when_configured(
    model_server: FakeModelServer,
) -> None:
    model_server.script(Step.text(["from the registry"]))

    async def body() -> tuple[AgentRegistry, str]:
        registry = build_registry(settings_for(model_server.base_url))
        try:
            agent = registry.get()
            assert isinstance(agent, OpenAIAgent)
            assert isinstance(registry.get("mock"), MockAgent)
            return registry, text_of([e async for e in agent.run(turn())])
        finally:
            await registry.aclose()

    registry, text = run(body)
    assert registry.names == ["mock", "openai"] and registry.default_name == "openai"
    assert text == "from the registry"
