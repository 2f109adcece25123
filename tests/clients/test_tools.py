"""Model-backed agents in the Python client: sessions' `model` and `server_tools`, caller tools declared
and answered, pending calls (unary and streamed), tool events, usage, and the `run_tools()` loop,
against real servers (the live one, and one whose scripted agent calls tools)."""

from __future__ import annotations

import asyncio
import enum
import json
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from agent_sessions.agents import TextDelta, ToolCall, UsageReport
from agent_sessions_client import (
    AsyncClient,
    Client,
    Completed,
    ConversationMessage,
    Delta,
    FailedPreconditionError,
    InvalidArgumentError,
    MessageStored,
    ResourceExhaustedError,
    Started,
    Tool,
    ToolAnswered,
    ToolCalled,
    ToolRoundsExceeded,
    Usage,
    function_schema,
    local_tool,
)
from agent_sessions_client import ToolCall as ClientToolCall

from tests.clients.agents import ToolsAgent
from tests.fakes.model_server import FakeModelServer, FakeToolCall, Step
from tests.support import token

WEATHER = Tool(
    "get_weather",
    "The weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def new_id() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def tools_client(tools_address: str) -> Iterator[Client]:
    with Client(tools_address, token=token(f"tools-{uuid.uuid4().hex[:8]}"), timeout=20) as c:
        yield c


def stored(client: Client, session_id: str) -> list[tuple[str, str, str | None, str | None]]:
    return [
        (m.role, m.content, m.tool_call_id, m.tool_name) for m in client.list_messages(session_id)
    ]


# -- sessions' model and server_tools, on the live service ---------------------------------------


def test_sessions_carry_model_and_server_tools(client: Client) -> None:
    sid = new_id()
    created = client.create_session(sid, model="llama3.2", server_tools="files/read,clock")
    assert (created.model, created.server_tools) == ("llama3.2", "files/read,clock")
    assert client.get_session(sid) == created
    assert [s.model for s in client.list_sessions() if s.session_id == sid] == ["llama3.2"]

    updated = client.update_session(sid, model="qwen2.5", server_tools="none")
    assert (updated.model, updated.server_tools) == ("qwen2.5", "none")
    assert client.update_session(sid, description="x").model == "qwen2.5"  # kept
    reset = client.update_session(sid, model="", server_tools="")
    assert (reset.model, reset.server_tools) == (None, None)  # the server's defaults again

    plain = client.create_session(new_id())
    assert (plain.model, plain.server_tools) == (None, None)


def test_a_turn_gives_the_session_it_creates_its_model(client: Client) -> None:
    sid = new_id()
    result = client.conversation("Hi", session_id=sid, model="small-1b", server_tools="none")
    session = client.get_session(sid)
    assert (session.model, session.server_tools) == ("small-1b", "none")
    # The mock agent: a reply, no tools, no tokens.
    assert (result.stop_reason, result.pending_tool_calls, result.usage) == (
        "end_turn",
        (),
        Usage(),
    )
    events = list(client.converse("Again", session_id=sid))
    completed = events[-1]
    assert isinstance(completed, Completed) and completed.result.stop_reason == "end_turn"
    assert completed.result.usage == Usage(0, 0, 0)


# -- caller tools by hand ------------------------------------------------------------------------


def test_a_caller_tool_round_trip_over_unary_turns(
    tools_client: Client, tools_agent: ToolsAgent
) -> None:
    sid = new_id()
    first = tools_client.conversation(
        "What is the weather in Paris?", session_id=sid, tools=[WEATHER], model="m-1"
    )
    assert first.stop_reason == "tool_calls" and first.response == "Let me check. "
    (call,) = first.pending_tool_calls
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    assert first.usage == Usage(20, 5, 25) and first.messages_count == 3
    # The caller's schema reached the agent as sent; the session got the turn's model.
    assert tools_agent.turns[-1].tools[0].parameters == WEATHER.parameters
    assert tools_agent.turns[-1].tools[0].description == "The weather in a city."
    assert tools_client.get_session(sid).model == "m-1"

    second = tools_client.conversation(
        [call.result("sunny, 21 °C")], session_id=sid, tools=[WEATHER]
    )
    assert second.stop_reason == "end_turn" and second.pending_tool_calls == ()
    assert second.response == "Done (model m-1): get_weather said sunny, 21 °C."
    assert second.usage == Usage(30, 10, 40)
    assert stored(tools_client, sid) == [
        ("user", "What is the weather in Paris?", None, None),
        ("assistant", "Let me check. ", None, None),
        ("assistant", call.arguments, call.tool_call_id, "get_weather"),
        ("tool", "sunny, 21 °C", call.tool_call_id, "get_weather"),  # named by the service
        ("assistant", "Done (model m-1): get_weather said sunny, 21 °C.", None, None),
    ]
    assert second.messages_count == 5


def test_refusals_of_unanswered_and_unknown_calls(tools_client: Client) -> None:
    sid = new_id()
    first = tools_client.conversation("Weather in Oslo?", session_id=sid, tools=[WEATHER])
    (call,) = first.pending_tool_calls

    with pytest.raises(FailedPreconditionError) as missing:
        tools_client.conversation("Hello?", session_id=sid, tools=[WEATHER])
    assert missing.value.reason == "TOOL_RESULTS_MISSING"
    assert call.tool_call_id in missing.value.message

    with pytest.raises(InvalidArgumentError) as unknown:
        tools_client.conversation(
            [ConversationMessage.tool_result("call_nobody_made", "?")], session_id=sid
        )
    assert unknown.value.reason == "UNKNOWN_TOOL_CALL"
    assert [v.field for v in unknown.value.field_violations] == ["messages[0].tool_call_id"]
    assert len(stored(tools_client, sid)) == 3  # the refusals stored nothing


def test_a_streamed_caller_tool_round_trip(tools_address: str) -> None:
    async def main() -> None:
        async with AsyncClient(tools_address, token=token("stream-tools"), timeout=20) as c:
            sid = new_id()
            events = [
                e async for e in c.converse("Weather in Rome?", session_id=sid, tools=[WEATHER])
            ]
            assert [type(e) for e in events] == [
                Started,
                Delta,
                ToolCalled,
                MessageStored,
                MessageStored,
                Completed,
            ]
            called = events[2]
            assert isinstance(called, ToolCalled)
            assert (called.call.name, json.loads(called.call.arguments)) == (
                "get_weather",
                {"city": "Rome"},
            )
            completed = events[-1]
            assert isinstance(completed, Completed)
            assert completed.result.stop_reason == "tool_calls"
            assert completed.result.pending_tool_calls == (called.call,)
            assert completed.result.usage.total_tokens == 25
            call_message = events[4]
            assert isinstance(call_message, MessageStored)
            assert (call_message.message.tool_call_id, call_message.message.content) == (
                called.call.tool_call_id,
                called.call.arguments,
            )

            answer = [called.call.result("cloudy")]
            text = [t async for t in c.converse_text(answer, session_id=sid, tools=[WEATHER])]
            assert "".join(text) == "Done: get_weather said cloudy."
            assert [e.seq for e in events] == list(range(1, len(events) + 1))

    asyncio.run(main())


def test_server_tool_events_and_one_message_event_per_stored_message(
    tools_client: Client,
) -> None:
    sid = new_id()
    events = list(tools_client.converse("What time is it?", session_id=sid))
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "Started",
        "Delta",
        "ToolCalled",
        "ToolAnswered",
        "Delta",
        "Delta",
        "MessageStored",
        "MessageStored",
        "MessageStored",
        "MessageStored",
        "Completed",
    ]
    called, answered = events[2], events[3]
    assert isinstance(called, ToolCalled) and isinstance(answered, ToolAnswered)
    assert called.call.name == answered.result.name == "clock"
    assert answered.result.tool_call_id == called.call.tool_call_id
    assert answered.result.output == "12:00"
    stored_roles = [e.message.role for e in events if isinstance(e, MessageStored)]
    assert stored_roles == ["assistant", "assistant", "tool", "assistant"]
    completed = events[-1]
    assert isinstance(completed, Completed)
    assert (
        completed.result.response == "Checking the clock. It is 12:00. You said: What time is it?"
    )
    assert completed.result.usage == Usage(12, 8, 20) and completed.result.messages_count == 5


# -- the run_tools() loop ------------------------------------------------------------------------


def get_weather(city: str, unit: Literal["C", "F"] = "C") -> str:
    """The current weather in a city.

    Args:
        city: The city's name, such as
            "Paris".
        unit: Celsius or Fahrenheit.
    """
    return f"sunny in {city}, 21 °{unit}"


async def get_time(zone: str) -> dict[str, str]:
    """The time in a time zone."""
    await asyncio.sleep(0)
    return {"zone": zone, "time": "12:00"}


def test_run_tools_runs_sync_and_async_functions_until_the_agent_is_done(
    tools_address: str, tools_agent: ToolsAgent
) -> None:
    async def main() -> None:
        async with AsyncClient(tools_address, token=token("loop"), timeout=20) as c:
            sid = new_id()
            result = await c.run_tools(
                "Weather and time in Lisbon",
                tools={"get_weather": get_weather, "get_time": get_time},
                session_id=sid,
                agent_name="helper",
            )
            assert result.stop_reason == "end_turn"
            assert result.response == (
                'Done: get_weather said sunny in Lisbon, 21 °C; get_time said {"zone": "Lisbon", '
                '"time": "12:00"}.'
            )
            assert result.usage == Usage(50, 15, 65)  # summed over both turns
            declared = {t.name: t for t in tools_agent.turns[-1].tools}
            assert declared["get_weather"].description == "The current weather in a city."
            assert declared["get_weather"].parameters == function_schema(get_weather)
            assert (await c.get_session(sid)).agent_name == "helper"
            roles = [(m.role, m.tool_name) async for m in c.list_messages(sid)]
            assert roles == [
                ("user", None),
                ("assistant", None),
                ("assistant", "get_weather"),
                ("assistant", "get_time"),
                ("tool", "get_weather"),
                ("tool", "get_time"),
                ("assistant", None),
            ]

    asyncio.run(main())


def test_run_tools_in_the_sync_client_with_a_coroutine_function(tools_client: Client) -> None:
    result = tools_client.run_tools("Time in Tokyo", tools=[get_time], session_id=new_id())
    assert result.response == 'Done: get_time said {"zone": "Tokyo", "time": "12:00"}.'


class Broken(Exception):
    pass


def explode(city: str) -> str:
    """Always fails."""
    raise Broken(f"no weather for {city}")


def test_errors_go_back_to_the_model_as_the_result(
    tools_client: Client, tools_agent: ToolsAgent
) -> None:
    tools_agent.script(
        [
            ToolCall("c_raise", "explode", '{"city": "Oslo"}'),
            ToolCall("c_unknown", "teleport", "{}"),
            ToolCall("c_args", "explode", '{"town": "Oslo"}'),
            ToolCall("c_json", "explode", "{not json"),
        ],
        [TextDelta("Noted."), UsageReport(1, 1, 2)],
    )
    result = tools_client.run_tools("x", tools=[explode], session_id=(sid := new_id()))
    assert result.response == "Noted." and result.usage == Usage(1, 1, 2)
    outputs = {
        m.tool_call_id: m.content for m in tools_client.list_messages(sid) if m.role == "tool"
    }
    assert outputs["c_raise"] == "Error: explode failed: Broken: no weather for Oslo"
    assert (
        outputs["c_unknown"] == "Error: there is no tool named 'teleport' (the tools are: explode)"
    )
    assert outputs["c_args"].startswith("Error: explode cannot take these arguments")
    assert outputs["c_json"].startswith("Error: the arguments of explode are not JSON")


def test_run_tools_stops_after_max_rounds(tools_client: Client, tools_agent: ToolsAgent) -> None:
    tools_agent.script(*([ToolCall(f"loop_{i}", "get_weather", '{"city": "X"}')] for i in range(3)))
    sid = new_id()
    with pytest.raises(ToolRoundsExceeded) as exceeded:
        tools_client.run_tools("x", tools=[get_weather], session_id=sid, max_rounds=2)
    result = exceeded.value.result
    assert exceeded.value.max_rounds == 2 and result.stop_reason == "tool_calls"
    assert [c.tool_call_id for c in result.pending_tool_calls] == ["loop_2"]
    # The session waits for that call; run_tools() with the results as its messages goes on.
    done = tools_client.run_tools(
        [result.pending_tool_calls[0].result("done")], tools=[get_weather], session_id=sid
    )
    assert done.response == "Done: get_weather said done."
    with pytest.raises(ValueError, match="max_rounds"):
        tools_client.run_tools("x", tools=[get_weather], max_rounds=-1)


# -- tool specs from functions (no server) -------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def everything(
    name: str,
    count: int,
    ratio: float,
    flag: bool,
    tags: list[str],
    color: Color,
    extra: dict[str, Any] | None = None,
    note: str | None = None,
    *args: Any,
    **kwargs: Any,
) -> None:
    """Does everything.

    Second paragraph.

    Args:
        name (str): Who.
        count: How many.

    Returns:
        Nothing.
    """


def test_function_schema_from_signature_and_docstring() -> None:
    assert function_schema(everything) == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Who."},
            "count": {"type": "integer", "description": "How many."},
            "ratio": {"type": "number"},
            "flag": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "color": {"enum": ["red", "blue"]},
            "extra": {"type": ["object", "null"]},
            "note": {"type": ["string", "null"]},
        },
        "required": ["name", "count", "ratio", "flag", "tags", "color"],
        "additionalProperties": False,
    }
    spec = local_tool(everything).spec
    assert spec.name == "everything" and spec.description == "Does everything.\n\nSecond paragraph."
    assert function_schema(get_weather)["properties"] == {
        "city": {"type": "string", "description": 'The city\'s name, such as "Paris".'},
        "unit": {"type": "string", "enum": ["C", "F"], "description": "Celsius or Fahrenheit."},
    }
    given = local_tool(get_weather, name="weather", description="W.", parameters={"type": "object"})
    assert given.spec == Tool("weather", "W.", {"type": "object"})


def test_tool_calls_answer_with_a_tool_message() -> None:
    call = ClientToolCall("call_1", "get_weather", "{}")
    assert call.result("ok") == ConversationMessage("tool", "ok", tool_call_id="call_1")


def test_a_rate_limited_model_is_resource_exhausted_with_the_delay_to_wait(
    openai_address: str, model_api: FakeModelServer
) -> None:
    model_api.script(Step.rate_limited(retry_after_ms=1500))
    with (
        Client(openai_address, token=token("limited"), timeout=20) as c,
        pytest.raises(ResourceExhaustedError) as limited,
    ):
        c.conversation("Hi", session_id=new_id())
    assert limited.value.reason == "MODEL_RATE_LIMITED"
    assert limited.value.retry_delay == pytest.approx(1.5)


def test_run_tools_with_the_services_openai_agent(
    openai_address: str, model_api: FakeModelServer
) -> None:
    """The loop against the service's real agent: the model (the fake API) gets the derived
    schema, calls the tool, and gets the function's output with the call, paired."""
    model_api.script(
        Step.tool_calls(FakeToolCall("call_w", "get_weather", '{"city": "Oslo"}', pieces=3)),
        Step.text(["It is sunny ", "in Oslo."]),
    )
    before = len(model_api.requests)
    with Client(openai_address, token=token("openai-loop"), timeout=20) as c:
        result = c.run_tools("Weather in Oslo?", tools=[get_weather], session_id=new_id())
        assert (result.stop_reason, result.response) == ("end_turn", "It is sunny in Oslo.")
        assert result.usage.total_tokens > 0
        calls = [(m.role, m.tool_name, m.content) for m in c.list_messages(result.session_id)]
    assert calls[1:3] == [
        ("assistant", "get_weather", '{"city": "Oslo"}'),
        ("tool", "get_weather", "sunny in Oslo, 21 °C"),
    ]
    first, second = model_api.requests[before:]
    (declared,) = first.body["tools"]
    assert declared["function"]["name"] == "get_weather"
    assert declared["function"]["parameters"] == function_schema(get_weather)
    assert second.messages[-2]["tool_calls"][0]["id"] == "call_w"
    assert second.messages[-1] == {
        "role": "tool",
        "tool_call_id": "call_w",
        "content": "sunny in Oslo, 21 °C",
    }
