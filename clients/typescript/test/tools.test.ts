/**
 * Model-backed agents in both clients, against a real server whose scripted agent calls tools
 * (tests/clients/agents.py): sessions' model and serverTools, caller tools declared and
 * answered (unary and streamed), pending calls, the refusals, server tool events and usage —
 * over gRPC direct, gRPC through Envoy, and REST.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  answerCall,
  Code,
  runTools,
  ToolRoundsExceeded,
  toolResult,
  toolSpecs,
  type AgentSessionsApi,
  type ConverseEvent,
  type LocalTool,
  type Tool,
  type ToolCall,
} from "@agent-sessions/client";
import {
  collect,
  KINDS,
  NO_TOOLS_STACK,
  openTools,
  rejectsWith,
  uniqueId,
  type Opened,
} from "./support.js";

const WEATHER: Tool = {
  name: "get_weather",
  description: "The weather in a city.",
  parameters: {
    type: "object",
    properties: { city: { type: "string" }, unit: { type: "string", enum: ["C", "F"] } },
    required: ["city"],
  },
};

class NoWeather extends Error {}

const EXPLODE: Record<string, LocalTool> = {
  explode: {
    parameters: WEATHER.parameters,
    run: ({ city }) => {
      throw new NoWeather(`no weather for ${String(city)}`);
    },
  },
};

const ZONE = {
  type: "object",
  properties: { zone: { type: "string" } },
  required: ["zone"],
};

/** What the scripted agent reports for each kind of turn. */
const CALL_USAGE = { inputTokens: 20, outputTokens: 5, totalTokens: 25 };
const ANSWER_USAGE = { inputTokens: 30, outputTokens: 10, totalTokens: 40 };
const CLOCK_USAGE = { inputTokens: 12, outputTokens: 8, totalTokens: 20 };

async function stored(api: AgentSessionsApi, sessionId: string): Promise<unknown[]> {
  const messages = await collect(api.messages.list(sessionId));
  return messages.map((m) => [m.role, m.content, m.toolCallId, m.toolName]);
}

for (const kind of KINDS) {
  describe(`tools and models over ${kind}`, { skip: NO_TOOLS_STACK }, () => {
    let opened: Opened;
    let api: AgentSessionsApi;
    before(() => {
      opened = openTools(kind);
      api = opened.api;
    });
    after(() => opened.close());

    it("keeps a session's model and serverTools through create, get, list and update", async () => {
      const sessionId = uniqueId("model");
      const agentName = uniqueId("agent");
      const created = await api.sessions.create({
        sessionId,
        agentName,
        model: "llama3.2",
        serverTools: "files/read,clock",
      });
      assert.deepEqual([created.model, created.serverTools], ["llama3.2", "files/read,clock"]);
      assert.deepEqual(await api.sessions.get(sessionId), created);
      const page = await api.sessions.listPage({ agentName });
      assert.deepEqual(
        page.sessions.map((s) => s.model),
        ["llama3.2"],
      );
      const updated = await api.sessions.update(sessionId, {
        model: "qwen2.5",
        serverTools: "none",
      });
      assert.deepEqual([updated.model, updated.serverTools], ["qwen2.5", "none"]);
      const reset = await api.sessions.update(sessionId, { model: "", serverTools: "" });
      assert.deepEqual([reset.model, reset.serverTools], [undefined, undefined]);
    });

    it("declares a caller tool, gets the pending call, and sends its result", async () => {
      const sessionId = uniqueId("caller");
      const first = await api.conversation({
        sessionId,
        messages: "What is the weather in Paris?",
        tools: [WEATHER],
        model: "m-1",
      });
      assert.equal(first.stopReason, "tool_calls");
      assert.equal(first.response, "Let me check. ");
      assert.deepEqual(first.usage, CALL_USAGE);
      assert.equal(first.pendingToolCalls.length, 1);
      const call = first.pendingToolCalls[0]!;
      assert.equal(call.name, "get_weather");
      assert.deepEqual(JSON.parse(call.arguments), { city: "Paris" });
      assert.equal((await api.sessions.get(sessionId)).model, "m-1");

      const second = await api.conversation({
        sessionId,
        messages: [toolResult(call, "sunny, 21 °C")],
        tools: [WEATHER],
      });
      assert.equal(second.stopReason, "end_turn");
      assert.deepEqual(second.pendingToolCalls, []);
      assert.equal(second.response, "Done (model m-1): get_weather said sunny, 21 °C.");
      assert.deepEqual(second.usage, ANSWER_USAGE);
      assert.equal(second.messagesCount, 5);
      assert.deepEqual(await stored(api, sessionId), [
        ["user", "What is the weather in Paris?", undefined, undefined],
        ["assistant", "Let me check. ", undefined, undefined],
        ["assistant", call.arguments, call.toolCallId, "get_weather"],
        ["tool", "sunny, 21 °C", call.toolCallId, "get_weather"],
        ["assistant", "Done (model m-1): get_weather said sunny, 21 °C.", undefined, undefined],
      ]);
    });

    it("refuses a turn that leaves a call unanswered, and a result for no call", async () => {
      const sessionId = uniqueId("refused");
      const first = await api.conversation({
        sessionId,
        messages: "Weather in Oslo?",
        tools: [WEATHER],
      });
      const call = first.pendingToolCalls[0]!;
      const missing = await rejectsWith(
        api.conversation({ sessionId, messages: "Hello?", tools: [WEATHER] }),
        Code.FailedPrecondition,
        "TOOL_RESULTS_MISSING",
      );
      assert.ok(missing.rawMessage.includes(call.toolCallId), missing.message);
      const unknown = await rejectsWith(
        api.conversation({ sessionId, messages: [toolResult("call_nobody_made", "?")] }),
        Code.InvalidArgument,
        "UNKNOWN_TOOL_CALL",
      );
      assert.deepEqual(
        unknown.fieldViolations.map((v) => v.field),
        ["messages[0].tool_call_id"],
      );
      assert.equal((await api.messages.listPage(sessionId)).totalSize, 3);
    });

    it("streams a caller tool's call, stops at it, and goes on with its result", async () => {
      const sessionId = uniqueId("stream-caller");
      const events = await collect(
        api.converse({ sessionId, messages: "Weather in Rome?", tools: [WEATHER] }),
      );
      assert.deepEqual(
        events.map((e) => e.type),
        ["started", "delta", "toolCall", "message", "message", "completed"],
      );
      assert.deepEqual(
        events.map((e) => e.seq),
        [1, 2, 3, 4, 5, 6],
      );
      const called = events[2] as Extract<ConverseEvent, { type: "toolCall" }>;
      assert.equal(called.call.name, "get_weather");
      assert.deepEqual(JSON.parse(called.call.arguments), { city: "Rome" });
      const completed = events[5] as Extract<ConverseEvent, { type: "completed" }>;
      assert.equal(completed.result.stopReason, "tool_calls");
      assert.deepEqual(completed.result.pendingToolCalls, [called.call]);
      assert.deepEqual(completed.result.usage, CALL_USAGE);
      const callMessage = events[4] as Extract<ConverseEvent, { type: "message" }>;
      assert.deepEqual(
        [callMessage.message.toolCallId, callMessage.message.content],
        [called.call.toolCallId, called.call.arguments],
      );

      const text = await collect(
        api.converseText({ sessionId, messages: [toolResult(called.call, "cloudy")] }),
      );
      assert.equal(text.join(""), "Done: get_weather said cloudy.");
    });

    it("streams a server tool's call and result, then one message event per stored message", async () => {
      const sessionId = uniqueId("stream-server");
      const events = await collect(api.converse({ sessionId, messages: "What time is it?" }));
      assert.deepEqual(
        events.map((e) => e.type),
        [
          "started",
          "delta",
          "toolCall",
          "toolResult",
          "delta",
          "delta",
          "message",
          "message",
          "message",
          "message",
          "completed",
        ],
      );
      const called = events[2] as Extract<ConverseEvent, { type: "toolCall" }>;
      const answered = events[3] as Extract<ConverseEvent, { type: "toolResult" }>;
      assert.deepEqual(called.call, {
        toolCallId: answered.result.toolCallId,
        name: "clock",
        arguments: "{}",
      });
      assert.deepEqual(answered.result, {
        toolCallId: called.call.toolCallId,
        name: "clock",
        output: "12:00",
      });
      const roles = events.flatMap((e) => (e.type === "message" ? [e.message.role] : []));
      assert.deepEqual(roles, ["assistant", "assistant", "tool", "assistant"]);
      const completed = events.at(-1) as Extract<ConverseEvent, { type: "completed" }>;
      assert.equal(completed.result.stopReason, "end_turn");
      assert.deepEqual(completed.result.usage, CLOCK_USAGE);
      assert.equal(
        completed.result.response,
        "Checking the clock. It is 12:00. You said: What time is it?",
      );
    });

    it("runTools runs sync and async tools, one after another, until the agent is done", async () => {
      const sessionId = uniqueId("run-tools");
      const steps: string[] = [];
      const calls: ToolCall[] = [];
      const result = await runTools(api, {
        sessionId,
        agentName: "helper",
        messages: "Weather and time in Lisbon",
        tools: {
          get_weather: {
            description: WEATHER.description,
            parameters: WEATHER.parameters,
            run: async ({ city }, call) => {
              steps.push("weather started");
              calls.push(call);
              await new Promise((resolve) => setTimeout(resolve, 20));
              steps.push("weather done");
              return `sunny in ${String(city)}`;
            },
          },
          get_time: {
            parameters: ZONE,
            run: ({ zone }) => {
              steps.push("time started");
              return { zone, time: "12:00" };
            },
          },
        },
      });
      assert.equal(result.stopReason, "end_turn");
      assert.equal(
        result.response,
        'Done: get_weather said sunny in Lisbon; get_time said {"zone":"Lisbon","time":"12:00"}.',
      );
      assert.deepEqual(steps, ["weather started", "weather done", "time started"]);
      assert.deepEqual(result.usage, { inputTokens: 50, outputTokens: 15, totalTokens: 65 });
      assert.deepEqual(JSON.parse(calls[0]!.arguments), { city: "Lisbon" });
      assert.equal((await api.sessions.get(sessionId)).agentName, "helper");
      assert.deepEqual(
        (await stored(api, sessionId)).map((m) => [(m as string[])[0], (m as string[])[3]]),
        [
          ["user", undefined],
          ["assistant", undefined],
          ["assistant", "get_weather"],
          ["assistant", "get_time"],
          ["tool", "get_weather"],
          ["tool", "get_time"],
          ["assistant", undefined],
        ],
      );
    });

    it("runTools sends a tool's error to the model as its result and goes on", async () => {
      const result = await runTools(api, {
        sessionId: uniqueId("run-tools-error"),
        messages: "Weather in Oslo",
        tools: EXPLODE,
      });
      assert.equal(
        result.response,
        "Done: explode said Error: explode failed: NoWeather: no weather for Oslo.",
      );
      assert.deepEqual(result.usage, { inputTokens: 50, outputTokens: 15, totalTokens: 65 });
    });

    it("runTools stops after maxRounds, and the session waits for those calls", async () => {
      const sessionId = uniqueId("run-tools-limit");
      let exceeded: ToolRoundsExceeded | undefined;
      try {
        await runTools(api, {
          sessionId,
          messages: "Weather in Oslo",
          tools: EXPLODE,
          maxRounds: 0,
        });
      } catch (error) {
        exceeded = error as ToolRoundsExceeded;
      }
      assert.ok(exceeded instanceof ToolRoundsExceeded, String(exceeded));
      assert.equal(exceeded.maxRounds, 0);
      assert.equal(exceeded.result.stopReason, "tool_calls");
      assert.deepEqual(exceeded.result.usage, CALL_USAGE);
      const call = exceeded.result.pendingToolCalls[0]!;
      assert.ok(exceeded.message.includes(call.toolCallId), exceeded.message);
      await rejectsWith(
        api.conversation({ sessionId, messages: "Hello?" }),
        Code.FailedPrecondition,
        "TOOL_RESULTS_MISSING",
      );
      // runTools() with the call's result as its messages goes on.
      const done = await runTools(api, {
        sessionId,
        messages: [toolResult(call, "cloudy")],
        tools: EXPLODE,
      });
      assert.equal(done.response, "Done: explode said cloudy.");
      await assert.rejects(
        runTools(api, { messages: "x", tools: EXPLODE, maxRounds: -1 }),
        RangeError,
      );
    });
  });
}

describe("answerCall", () => {
  const tools: Record<string, LocalTool> = { echo: { run: (args) => args } };
  const call = (name: string, args: string): ToolCall => ({
    toolCallId: "c1",
    name,
    arguments: args,
  });

  it("answers with the tool's value, a string as it is and anything else as JSON", async () => {
    assert.deepEqual(await answerCall(tools, call("echo", '{"a": 1}')), {
      role: "tool",
      toolCallId: "c1",
      content: '{"a":1}',
    });
    const text = { say: { run: () => "plain" } };
    assert.equal((await answerCall(text, call("say", ""))).content, "plain");
  });

  it("answers nothing as empty, and what is not JSON as its text", async () => {
    const odd = {
      none: { run: () => null },
      big: { run: () => 10n },
      later: { run: async () => undefined },
    };
    assert.equal((await answerCall(odd, call("none", ""))).content, "");
    assert.equal((await answerCall(odd, call("big", ""))).content, "10");
    assert.equal((await answerCall(odd, call("later", ""))).content, "");
  });

  it("takes a Map, for names an object literal cannot hold", async () => {
    const map = new Map<string, LocalTool>([["__proto__", { run: () => "odd but allowed" }]]);
    assert.equal((await answerCall(map, call("__proto__", "{}"))).content, "odd but allowed");
    assert.deepEqual(
      toolSpecs(map).map((t) => t.name),
      ["__proto__"],
    );
  });

  it("answers an unknown tool and arguments that are not a JSON object with the error", async () => {
    assert.equal(
      (await answerCall(tools, call("teleport", "{}"))).content,
      "Error: there is no tool named 'teleport' (the tools are: echo)",
    );
    assert.equal(
      (await answerCall(tools, call("toString", "{}"))).content,
      "Error: there is no tool named 'toString' (the tools are: echo)",
    );
    assert.match(
      (await answerCall(tools, call("echo", "{not json"))).content ?? "",
      /^Error: the arguments of echo are not JSON \(/,
    );
    assert.equal(
      (await answerCall(tools, call("echo", "[1]"))).content,
      "Error: the arguments of echo must be a JSON object",
    );
  });
});
