/**
 * The gRPC client against a scripted HTTP/2 server: retries only where repeating is safe,
 * backoff, deadlines, a token asked for per attempt, error details, and a stream that fails
 * after it began.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import {
  AgentSessionsClient,
  AgentSessionsError,
  backoffMs,
  Code,
  DEFAULT_RETRY,
} from "@agent-sessions/client";
import {
  RoleSchema,
  SessionSchema,
  MessageSchema,
} from "@agent-sessions/client/gen/agentsessions/v1/resources_pb";
import {
  ConversationResponseSchema,
  ConverseEventSchema,
  ListSessionsResponseSchema,
} from "@agent-sessions/client/gen/agentsessions/v1/session_service_pb";
import {
  BatchCreateMessagesResponseSchema,
  ClearMessagesResponseSchema,
} from "@agent-sessions/client/gen/agentsessions/v1/message_service_pb";
import { create } from "@bufbuild/protobuf";
import { anyPack, EmptySchema } from "@bufbuild/protobuf/wkt";
import { RetryInfoSchema } from "@agent-sessions/client/gen/google/rpc/error_details_pb";
import { collect, rejectsWith } from "./support.js";
import { encode, FakeGrpcServer, status, type Handler, type Reply } from "./fake-grpc-server.js";

const UNAVAILABLE: Reply = { status: status(Code.Unavailable, "try again later") };
const SESSION = encode(SessionSchema, { id: "u-1", sessionId: "s-1", isActive: true });

/** Each method answers UNAVAILABLE `failures[method]` times, then succeeds. */
function flaky(failures: Record<string, number>): Handler {
  return (call, nth) => {
    if (nth <= (failures[call.method] ?? 0)) return UNAVAILABLE;
    switch (call.method) {
      case "ListSessions":
        return { messages: [encode(ListSessionsResponseSchema, { totalSize: 0 })] };
      case "DeleteSession":
      case "DeleteMessage":
        return { messages: [encode(EmptySchema, {})] };
      case "ClearMessages":
        return { messages: [encode(ClearMessagesResponseSchema, { deletedCount: 3 })] };
      case "Conversation":
        return { messages: [encode(ConversationResponseSchema, { response: "ok" })] };
      case "CreateMessage":
      case "GetMessage":
        return { messages: [encode(MessageSchema, { id: "m", role: 1 })] };
      case "BatchCreateMessages":
        return {
          messages: [
            encode(BatchCreateMessagesResponseSchema, { messages: [{ id: "m", role: 1 }] }),
          ],
        };
      case "ResumeTurn":
        // The rest of the turn the broken Converse below started.
        return {
          messages: [
            encode(ConverseEventSchema, { seq: 3, event: { case: "delta", value: { text: "!" } } }),
            encode(ConverseEventSchema, {
              seq: 4,
              event: { case: "completed", value: { response: "Hi!", turnId: "t-1" } },
            }),
          ],
        };
      case "Converse":
        // Two events, then the stream fails.
        return {
          messages: [
            encode(ConverseEventSchema, {
              seq: 1,
              event: { case: "started", value: { sessionId: "s-1", turnId: "t-1" } },
            }),
            encode(ConverseEventSchema, {
              seq: 2,
              event: { case: "delta", value: { text: "Hi" } },
            }),
          ],
          status: status(Code.Unavailable, "cut"),
        };
      default:
        return { messages: [SESSION] };
    }
  };
}

describe("gRPC client behaviour against a scripted server", () => {
  let server: FakeGrpcServer;
  let baseUrl: string;
  let failures: Record<string, number> = {};
  let reply: Handler | undefined;
  let client: AgentSessionsClient;

  before(async () => {
    server = new FakeGrpcServer((call, nth) => (reply ?? flaky(failures))(call, nth));
    baseUrl = await server.start();
  });
  after(async () => {
    client.close();
    await server.stop();
  });
  beforeEach(() => {
    server.calls.length = 0;
    failures = {};
    reply = undefined;
    client?.close();
    client = new AgentSessionsClient({
      baseUrl,
      token: "t",
      retry: { initialBackoffMs: 5, maxBackoffMs: 20 },
    });
  });

  it("retries reads, updates, deletes and (de)activation on UNAVAILABLE", async () => {
    failures = {
      GetSession: 2,
      ListSessions: 3,
      UpdateSession: 1,
      DeleteSession: 1,
      ActivateSession: 1,
      DeactivateSession: 1,
      GetMessage: 1,
      ClearMessages: 1,
    };
    assert.equal((await client.sessions.get("s-1")).sessionId, "s-1");
    assert.equal(server.count("GetSession"), 3);
    assert.equal((await client.sessions.listPage()).totalSize, 0);
    assert.equal(server.count("ListSessions"), 4);
    await client.sessions.update("s-1", { description: "d" });
    await client.sessions.delete("s-1");
    await client.sessions.activate("s-1");
    await client.sessions.deactivate("s-1");
    await client.messages.get("s-1", "m");
    assert.equal(await client.messages.clear("s-1"), 3);
    for (const method of Object.keys(failures).slice(2))
      assert.equal(server.count(method), 2, method);
  });

  it("gives up after maxAttempts and throws the last UNAVAILABLE", async () => {
    failures = { GetSession: 100 };
    const error = await rejectsWith(client.sessions.get("s-1"), Code.Unavailable);
    assert.equal(error.rawMessage, "try again later");
    assert.equal(server.count("GetSession"), DEFAULT_RETRY.maxAttempts);
  });

  it("retries creates and turns too, and reads a broken stream on from its last event", async () => {
    failures = {
      CreateSession: 1,
      CreateMessage: 1,
      BatchCreateMessages: 1,
      Conversation: 1,
      Converse: 2,
    };
    await client.sessions.create({ sessionId: "s-1" });
    await client.messages.create("s-1", { role: "user" });
    assert.equal((await client.messages.createBatch("s-1", [{ role: "user" }])).length, 1);
    assert.equal((await client.conversation({ messages: "x" })).response, "ok");
    const seen: string[] = [];
    const stream = async (): Promise<void> => {
      for await (const event of client.converse({ messages: "x" })) seen.push(event.type);
    };
    await stream();
    // Sent again while it failed before its first event; after `started` and a delta, read on
    // with ResumeTurn: each event once.
    assert.deepEqual(seen, ["started", "delta", "delta", "completed"]);
    for (const [method, failed] of Object.entries(failures))
      assert.equal(server.count(method), failed + 1, method);
    assert.equal(server.count("ResumeTurn"), 1);
  });

  it("does not retry other codes, and retry: false turns retries off", async () => {
    reply = () => ({ status: status(Code.NotFound, "no such session", "SESSION_NOT_FOUND") });
    const error = await rejectsWith(client.sessions.get("x"), Code.NotFound, "SESSION_NOT_FOUND");
    assert.equal(error.domain, "agentsessions.v1");
    assert.equal(server.count("GetSession"), 1);

    failures = { GetSession: 1 };
    reply = undefined;
    server.calls.length = 0;
    const once = new AgentSessionsClient({ baseUrl, retry: false });
    await rejectsWith(once.sessions.get("s-1"), Code.Unavailable);
    once.close();
    assert.equal(server.count("GetSession"), 1);
  });

  it("asks the token provider again for every attempt", async () => {
    failures = { GetSession: 2 };
    let n = 0;
    const rotating = new AgentSessionsClient({
      baseUrl,
      token: async () => `token-${++n}`,
      headers: { "x-client": "test" },
      retry: { initialBackoffMs: 1 },
    });
    await rotating.sessions.get("s-1");
    await rotating.sessions.listPage();
    rotating.close();
    assert.deepEqual(
      server.calls.map((c) => c.authorization),
      ["Bearer token-1", "Bearer token-2", "Bearer token-3", "Bearer token-4"],
    );
  });

  it("fails with UNAUTHENTICATED, without calling, when the token provider fails", async () => {
    const broken = new AgentSessionsClient({
      baseUrl,
      token: () => {
        throw new Error("vault sealed");
      },
    });
    const error = await rejectsWith(broken.sessions.get("s-1"), Code.Unauthenticated);
    assert.equal(error.rawMessage, "the token provider failed: vault sealed");
    assert.ok(error.cause instanceof Error);
    await rejectsWith(collect(broken.converse({ messages: "x" })), Code.Unauthenticated);
    broken.close();
    assert.equal(server.calls.length, 0);
  });

  it("sends the deadline and fails with DEADLINE_EXCEEDED when it passes", async () => {
    reply = () => "hang";
    const started = Date.now();
    await rejectsWith(client.sessions.get("s-1", { timeoutMs: 150 }), Code.DeadlineExceeded);
    assert.ok(Date.now() - started < 5_000);
    assert.match(server.calls[0]?.grpcTimeout ?? "", /^\d+m$/);

    const slow = new AgentSessionsClient({ baseUrl, timeoutMs: 100 });
    await rejectsWith(slow.sessions.listPage(), Code.DeadlineExceeded);
    await rejectsWith(
      collect(slow.converse({ messages: [{ role: "user" }] })),
      Code.DeadlineExceeded,
    );
    slow.close();
  });

  it("keeps retries within the deadline", async () => {
    failures = { GetSession: 100 };
    const patient = new AgentSessionsClient({
      baseUrl,
      timeoutMs: 300,
      retry: { maxAttempts: 50, initialBackoffMs: 100, maxBackoffMs: 100 },
    });
    const started = Date.now();
    const error = await patient.sessions.get("s-1").then(
      () => assert.fail("the call succeeded"),
      (e: unknown) => e,
    );
    patient.close();
    // The last UNAVAILABLE when the next backoff would pass the deadline; DEADLINE_EXCEEDED when
    // the deadline passes during an attempt (a busy machine): both end the call in time.
    assert.ok(error instanceof AgentSessionsError, String(error));
    assert.ok([Code.Unavailable, Code.DeadlineExceeded].includes(error.code), error.message);
    assert.ok(Date.now() - started < 1_000);
    assert.ok(server.count("GetSession") < 50);
  });

  it("throws a mid-stream error event after yielding the events before it", async () => {
    const failed = status(Code.Unavailable, "the agent failed; nothing was stored", "AGENT_FAILED");
    reply = () => ({
      messages: [
        encode(ConverseEventSchema, {
          seq: 1,
          event: { case: "started", value: { sessionId: "s" } },
        }),
        encode(ConverseEventSchema, {
          seq: 2,
          event: { case: "delta", value: { text: "partial " } },
        }),
        encode(ConverseEventSchema, { seq: 3, event: { case: "error", value: failed } }),
      ],
      status: failed,
    });
    const seen: string[] = [];
    const error = await rejectsWith(
      (async () => {
        for await (const event of client.converse({ messages: "x" })) seen.push(event.type);
      })(),
      Code.Unavailable,
      "AGENT_FAILED",
    );
    assert.deepEqual(seen, ["started", "delta"]);
    // The turn's own failure (nothing stored), UNAVAILABLE as it is: neither sent again nor resumed.
    assert.equal(server.count("Converse"), 1);
    assert.equal(server.count("ResumeTurn"), 0);
    assert.equal(error.domain, "agentsessions.v1");
    assert.equal(error.message, "UNAVAILABLE [AGENT_FAILED]: the agent failed; nothing was stored");

    const pieces: string[] = [];
    await rejectsWith(
      (async () => {
        for await (const piece of client.converseText({ messages: "x" })) pieces.push(piece);
      })(),
      Code.Unavailable,
      "AGENT_FAILED",
    );
    assert.deepEqual(pieces, ["partial "]);
  });

  it("throws an error event even when no status follows it", async () => {
    const failed = status(Code.Unavailable, "the agent failed", "AGENT_FAILED");
    reply = () => ({
      messages: [encode(ConverseEventSchema, { seq: 1, event: { case: "error", value: failed } })],
      hang: true,
    });
    const patient = new AgentSessionsClient({ baseUrl, timeoutMs: 60_000 });
    await rejectsWith(
      collect(patient.converse({ messages: "x" })),
      Code.Unavailable,
      "AGENT_FAILED",
    );
    patient.close();
  });

  it("ends the HTTP/2 stream when the consumer stops reading early", async () => {
    reply = () => ({
      messages: [
        encode(ConverseEventSchema, {
          seq: 1,
          event: { case: "started", value: { sessionId: "s" } },
        }),
        encode(ConverseEventSchema, { seq: 2, event: { case: "delta", value: { text: "a" } } }),
      ],
      hang: true,
    });
    const patient = new AgentSessionsClient({ baseUrl, timeoutMs: 60_000 });
    for await (const event of patient.converse({ messages: [{ role: "user" }] })) {
      assert.equal(event.type, "started");
      break;
    }
    const deadline = Date.now() + 2_000;
    while (!server.calls[0]?.closed && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(server.calls[0]?.closed, true);
    patient.close();
  });

  it("reads RetryInfo's delay from a status, in trailers and in an error event", async () => {
    const limited = status(
      Code.ResourceExhausted,
      "the model is rate limited",
      "MODEL_RATE_LIMITED",
    );
    limited.details.push(
      anyPack(
        RetryInfoSchema,
        create(RetryInfoSchema, { retryDelay: { seconds: 1n, nanos: 500_000_000 } }),
      ),
    );
    reply = () => ({ status: limited });
    const unary = await rejectsWith(
      client.conversation({ messages: "x" }),
      Code.ResourceExhausted,
      "MODEL_RATE_LIMITED",
    );
    assert.equal(unary.retryDelayMs, 1500);
    reply = () => ({
      messages: [encode(ConverseEventSchema, { seq: 1, event: { case: "error", value: limited } })],
      status: limited,
    });
    const streamed = await rejectsWith(
      collect(client.converse({ messages: "x" })),
      Code.ResourceExhausted,
      "MODEL_RATE_LIMITED",
    );
    assert.equal(streamed.retryDelayMs, 1500);
  });

  it("reads tool calls, tool results, pending calls and usage", async () => {
    const call = { toolCallId: "c1", name: "get_weather", arguments: '{"city":"Oslo"}' };
    reply = () => ({
      messages: [
        encode(ConverseEventSchema, { seq: 1, event: { case: "toolCall", value: call } }),
        encode(ConverseEventSchema, {
          seq: 2,
          event: { case: "toolResult", value: { toolCallId: "c0", name: "clock", output: "12" } },
        }),
        encode(ConverseEventSchema, {
          seq: 3,
          event: {
            case: "completed",
            value: {
              stopReason: "tool_calls",
              pendingToolCalls: [call],
              usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 },
            },
          },
        }),
      ],
    });
    const events = await collect(client.converse({ messages: "x", tools: [{ name: "t" }] }));
    assert.deepEqual(events, [
      { seq: 1, type: "toolCall", call },
      { seq: 2, type: "toolResult", result: { toolCallId: "c0", name: "clock", output: "12" } },
      {
        seq: 3,
        type: "completed",
        result: {
          sessionId: "",
          sessionUuid: "",
          response: "",
          messagesCount: 0,
          sessionActive: false,
          stopReason: "tool_calls",
          pendingToolCalls: [call],
          usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 },
          turnId: "",
        },
      },
    ]);
    // An older server's response has neither: the turn ended with the reply, no tokens counted.
    reply = () => ({ messages: [encode(ConversationResponseSchema, { response: "ok" })] });
    const old = await client.conversation({ messages: "x" });
    assert.equal(old.stopReason, "end_turn");
    assert.deepEqual(old.usage, { inputTokens: 0, outputTokens: 0, totalTokens: 0 });
  });

  it("maps every role both ways", async () => {
    const roles = ["user", "assistant", "system", "tool"] as const;
    for (const [i, role] of roles.entries()) {
      reply = () => ({ messages: [encode(MessageSchema, { id: "m", role: i + 1 })] });
      assert.equal((await client.messages.get("s", "m")).role, role);
    }
    assert.deepEqual(
      RoleSchema.values.map((v) => v.name),
      ["role_unspecified", ...roles],
    );
  });
});

describe("backoff", () => {
  it("grows exponentially up to the cap, with full jitter", () => {
    const policy = { ...DEFAULT_RETRY, initialBackoffMs: 100, maxBackoffMs: 1000, multiplier: 2 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((retry) => backoffMs(retry, policy, () => 1)),
      [100, 200, 400, 800, 1000, 1000],
    );
    assert.equal(
      backoffMs(3, policy, () => 0),
      0,
    );
    for (let i = 0; i < 100; i++) {
      const wait = backoffMs(2, policy);
      assert.ok(wait >= 0 && wait <= 200);
    }
  });
});
