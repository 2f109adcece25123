"""History that fits: a turn never fails as too long because of the session's earlier messages.
The fake model API refuses long requests as OpenAI, vLLM and llama.cpp (new and old) word it;
the agent sends fewer of the oldest messages (never a call without its result) until the request
fits, or leaves them out before sending when AGENT_SESSIONS_MODEL_CONTEXT_TOKENS is set. Only a
turn whose own messages do not fit fails (CONTEXT_TOO_LONG), and the stored history stays whole."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from agent_sessions.agents.base import AgentMessage, TextDelta, ToolCall, ToolResult
from agent_sessions.errors import ContextTooLong
from agent_sessions.settings import Settings, SettingsError
from agents import function_tool
from agentsessions.v1 import message_service_pb2 as mpb
from agentsessions.v1 import resources_pb2 as rpb
from agentsessions.v1 import session_service_pb2 as spb

from tests.fakes.model_server import FakeModelServer, FakeToolCall, Step, count_tokens
from tests.support import ThreadServer, channel_to, client, failure_of, openai_settings
from tests.test_openai_agent import (
    call,
    fail_turn,
    result,
    run_turn,
    settings_for,
    text_of,
    turn,
    user,
)

pytest_plugins = ["tests.fakes.fixtures"]

FORMS = ["openai", "vllm", "llamacpp", "llamacpp-old"]


def words(tag: str, count: int) -> str:
    """`count` distinct words naming `tag`, so each message is told apart in a request."""
    return " ".join(f"{tag}w{i}" for i in range(count))


def chat_history(pairs: int, size: int = 60) -> list[AgentMessage]:
    """`pairs` user questions with their answers, `size` words each, oldest first."""
    history: list[AgentMessage] = []
    for n in range(pairs):
        history += [user(words(f"q{n}", size)), AgentMessage("assistant", words(f"a{n}", size))]
    return history


def contents(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("content") or "" for m in messages if m["role"] != "system"]


def assert_suffix_of(sent: list[dict[str, Any]], history: list[AgentMessage], last: str) -> int:
    """The request is the newest part of the history, whole, then the turn's message: the
    number of history messages it kept."""
    texts = contents(sent)
    assert texts[-1] == last
    kept = texts[:-1]
    assert kept == [m.content for m in history[len(history) - len(kept) :]]
    if 0 < len(kept) < len(history):
        # A shortened history starts at a question, not at its answer.
        assert [m for m in sent if m["role"] != "system"][0]["role"] == "user"
    return len(kept)


def assert_pairs_intact(messages: list[dict[str, Any]]) -> None:
    """Every tool_calls message is followed by a result for each call, and every result
    answers a call just before it."""
    open_calls: set[str] = set()
    for message in messages:
        if message["role"] == "tool":
            assert message["tool_call_id"] in open_calls, message
            open_calls.discard(message["tool_call_id"])
            continue
        assert not open_calls, f"calls without results: {open_calls}"
        open_calls = {c["id"] for c in message.get("tool_calls") or []}
    assert not open_calls


# -- after a refusal ------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_a_refused_request_is_sent_again_with_the_oldest_history_left_out(
    model_server: FakeModelServer, form: str
) -> None:
    history = chat_history(10)  # about 1,250 of the fake's tokens
    model_server.context_limit(500, form).always(Step.text(["fits"]))
    events = run_turn(settings_for(model_server.base_url), turn(user("now?"), history=history))

    assert text_of(events) == "fits"
    requests = model_server.requests
    assert requests[0].step is not None and requests[0].step.kind == "error"
    assert assert_suffix_of(requests[0].messages, history, "now?") == len(history)
    final = requests[-1].messages
    kept = assert_suffix_of(final, history, "now?")
    assert count_tokens(requests[-1].body) < 500
    if form == "llamacpp-old":
        # No numbers: half the history's estimate goes at each retry.
        assert len(requests) <= 4
        assert 0 < kept < len(history)
    else:
        # The numbers tell how much to leave out: one retry, most of what fits kept.
        assert len(requests) == 2
        assert 4 <= kept < len(history)
    assert final[0] == {"role": "system", "content": "Answer briefly."}


def test_the_responses_api_is_refused_and_retried_alike(model_server: FakeModelServer) -> None:
    history = chat_history(10)
    model_server.context_limit(500, "openai").always(Step.text(["fits"]))
    settings = settings_for(model_server.base_url, model_api="responses")
    assert text_of(run_turn(settings, turn(user("now?"), history=history))) == "fits"
    refused, sent = model_server.requests
    assert refused.path == sent.path == "/v1/responses"
    kept = [item["content"] for item in sent.body["input"]]
    assert kept[-1] == "now?" and 4 <= len(kept) - 1 < len(history)
    assert kept[:-1] == [m.content for m in history[len(history) - len(kept) + 1 :]]


def test_a_call_leaves_with_its_result_and_what_stays_is_whole(
    model_server: FakeModelServer,
) -> None:
    history = [
        user(words("q0", 60)),
        AgentMessage("assistant", "Let me add."),
        call("c1"),
        result("c1", words("r1", 120)),
        AgentMessage("assistant", words("a0", 60)),
        user(words("q1", 30)),
        call("c2"),
        call("c3"),
        result("c2", "3"),
        result("c3", "5"),
        AgentMessage("assistant", words("a1", 30)),
    ]
    model_server.context_limit(260, "llamacpp").always(Step.text(["ok"]))
    run_turn(settings_for(model_server.base_url), turn(user("next"), history=history))

    final = model_server.requests[-1].messages
    assert_pairs_intact(final)
    roles = [m["role"] for m in final]
    # c1 and its long result left with everything older; c2 and c3 stayed, with their results.
    assert "r1w0" not in str(final) and "Let me add." not in str(final)
    assert roles[-5:] == ["assistant", "tool", "tool", "assistant", "user"]
    assert [c["id"] for c in final[-5]["tool_calls"]] == ["c2", "c3"]
    assert final[-1]["content"] == "next"


def test_a_refusal_after_tools_ran_goes_on_without_running_them_again(
    model_server: FakeModelServer,
) -> None:
    """The first model call fits and calls a tool; its long result makes the second call too
    long: the turn goes on from the tool's result with older history left out."""
    runs: list[str] = []

    @function_tool
    def lookup(topic: str) -> str:
        """Looks a topic up."""
        runs.append(topic)
        return words("found", 200)

    history = chat_history(3)
    model_server.context_limit(600, "openai").script(
        Step.tool_calls(FakeToolCall("t1", "lookup", '{"topic": "x"}')), Step.text(["done"])
    )
    events = run_turn(
        settings_for(model_server.base_url), turn(user("look"), history=history), tools=[lookup]
    )

    assert runs == ["x"]
    assert [type(e) for e in events[:-1]] == [ToolCall, ToolResult, TextDelta]
    assert text_of(events) == "done"
    first, refused, final = model_server.requests
    assert refused.step is not None and refused.step.kind == "error"
    assert len(contents(final.messages)) < len(contents(refused.messages))
    assert_pairs_intact(final.messages)
    # The turn's own message, call and result all went again.
    assert [m["role"] for m in final.messages[-3:]] == ["user", "assistant", "tool"]
    assert final.messages[-3]["content"] == "look"
    assert final.messages[-2]["tool_calls"][0]["id"] == "t1"


def test_a_turn_whose_own_messages_do_not_fit_is_context_too_long(
    model_server: FakeModelServer,
) -> None:
    model_server.context_limit(100, "llamacpp").always(Step.text(["never"]))
    error = fail_turn(
        settings_for(model_server.base_url),
        turn(user(words("big", 150)), history=chat_history(4)),
    )
    assert isinstance(error, ContextTooLong)
    requests = model_server.requests
    assert 2 <= len(requests) <= 4
    # The last try had no history at all: only the instructions and the turn's message.
    assert [m["role"] for m in requests[-1].messages] == ["system", "user"]


# -- before sending -------------------------------------------------------------------------------


def test_a_configured_context_size_trims_before_sending(model_server: FakeModelServer) -> None:
    history = chat_history(10)
    model_server.context_limit(500, "llamacpp").always(Step.text(["ok"]))
    settings = settings_for(model_server.base_url, model_context_tokens=800)
    run_turn(settings, turn(user("now?"), history=history))

    (request,) = model_server.requests  # no refused call at all
    kept = assert_suffix_of(request.messages, history, "now?")
    assert 2 <= kept < len(history)

    # A history that fits is sent whole; an unrelated 400 is not taken for a context refusal.
    short = chat_history(2, size=10)
    model_server.context_limit(None).script(Step.text(["ok"]), Step.error_response(400, "bad"))
    run_turn(settings, turn(user("now?"), history=short))
    assert assert_suffix_of(model_server.requests[1].messages, short, "now?") == len(short)
    fail_turn(settings, turn(history=short))
    assert len(model_server.requests) == 3


def test_max_tokens_reaches_the_request_and_leaves_room(model_server: FakeModelServer) -> None:
    model_server.context_limit(700, "vllm").always(Step.text(["ok"]))
    settings = settings_for(model_server.base_url, model_max_tokens=200)
    run_turn(settings, turn(user("now?"), history=chat_history(10)))

    assert all(r.body["max_tokens"] == 200 for r in model_server.requests)
    assert len(model_server.requests) == 2
    assert count_tokens(model_server.requests[-1].body) + 200 <= 700

    # Unset, no cap is sent (the Chat Completions API's name for it is max_tokens).
    run_turn(settings_for(model_server.base_url), turn())
    assert "max_tokens" not in model_server.requests[-1].body
    assert "max_completion_tokens" not in model_server.requests[-1].body


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MODEL_CONTEXT_TOKENS": "100"}, "MODEL_CONTEXT_TOKENS must be between"),
        ({"MODEL_CONTEXT_TOKENS": "many"}, "MODEL_CONTEXT_TOKENS must be an integer"),
        ({"MODEL_MAX_TOKENS": "0"}, "MODEL_MAX_TOKENS must be between"),
        (
            {"MODEL_CONTEXT_TOKENS": "2048", "MODEL_MAX_TOKENS": "2048"},
            "MODEL_MAX_TOKENS (2048) must be less than",
        ),
    ],
)
def test_the_settings_are_checked(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings_for("http://127.0.0.1:1/v1", **{k.lower(): v for k, v in env.items()})


def test_the_settings_default_to_unknown() -> None:
    settings = settings_for("http://127.0.0.1:1/v1")
    assert (settings.model_context_tokens, settings.model_max_tokens) == (0, 0)
    chosen = settings_for("http://127.0.0.1:1/v1", model_context_tokens=2048, model_max_tokens=256)
    assert (chosen.model_context_tokens, chosen.model_max_tokens) == (2048, 256)


# -- through the service --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server
        assert not server.errors, f"the fake model server failed: {server.errors!r}"


@pytest.fixture(scope="module")
def service(settings: Settings, fake: FakeModelServer) -> Iterator[ThreadServer]:
    with ThreadServer(openai_settings(settings, fake.base_url, "sk-fits", "fake-small")) as running:
        yield running


def _stored(c: Any, session_id: str) -> list[str]:
    listed = c.m("ListMessages", mpb.ListMessagesRequest(session_id=session_id)).messages
    return [m.content for m in listed]


def _say(text: str) -> spb.ConversationMessage:
    return spb.ConversationMessage(role=rpb.user, content=text)


def test_a_second_turn_after_a_long_reply_succeeds_and_the_history_stays_whole(
    service: ThreadServer, fake: FakeModelServer
) -> None:
    """What a new user met on a small llama.cpp model: the first reply filled the context."""
    session_id = f"fits-{uuid.uuid4().hex[:8]}"
    fake.context_limit(None).script()
    with channel_to(service.port) as ch:
        c = client(ch)
        long_reply = words("essay", 400)
        fake.script(Step.text([long_reply]))
        first = c.s(
            "Conversation",
            spb.ConversationRequest(session_id=session_id, messages=[_say("Write an essay")]),
        )
        assert first.response == long_reply

        fake.context_limit(300, "llamacpp").script(Step.text(["Short answer."]))
        before = len(fake.requests)
        second = c.s(
            "Conversation",
            spb.ConversationRequest(session_id=session_id, messages=[_say("Summarise it")]),
        )
        assert second.response == "Short answer."
        refused, sent = fake.requests[before:]
        assert contents(refused.messages) == ["Write an essay", long_reply, "Summarise it"]
        assert contents(sent.messages) == ["Summarise it"]
        assert _stored(c, session_id) == [
            "Write an essay",
            long_reply,
            "Summarise it",
            "Short answer.",
        ]

        # A turn whose own message does not fit fails and stores nothing.
        with pytest.raises(grpc.RpcError) as raised:
            c.s(
                "Conversation",
                spb.ConversationRequest(session_id=session_id, messages=[_say(words("huge", 400))]),
            )
        f = failure_of(raised.value)
        assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CONTEXT_TOO_LONG")
        assert len(_stored(c, session_id)) == 4
    fake.context_limit(None)


def test_the_fake_counts_tokens_deterministically() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "a b c"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "x", "function": {"name": "add", "arguments": '{"a": 1}'}}],
            },
        ]
    }
    assert count_tokens(body) == (3 + 3) + (3 + 1 + 2)
