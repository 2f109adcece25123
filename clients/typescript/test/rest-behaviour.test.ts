/**
 * The REST helper without a server: the SSE parser on bodies split anywhere, converseStream on
 * a scripted fetch, error bodies, retries and deadlines.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  AgentSessionsRestClient,
  Code,
  parseSse,
  SseParser,
  toolResult,
  type SseEvent,
} from "@agent-sessions/client/rest";
import { collect, rejectsWith } from "./support.js";

const encoder = new TextEncoder();

/** Every way to cut `text` in two, plus one character at a time. */
function splits(text: string): string[][] {
  const out: string[][] = [];
  for (let i = 0; i <= text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  out.push([...text]);
  return out;
}

function parse(chunks: string[]): SseEvent[] {
  const parser = new SseParser();
  const events = chunks.flatMap((chunk) => parser.push(chunk));
  parser.end();
  return events;
}

async function* from<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

describe("SSE parser", () => {
  const body =
    "\uFEFF: a comment\n" +
    'data: {"seq":1,"started":{"session_id":"s"}}\n\n' +
    "event: note\r\nid: 7\r\ndata: line one\r\ndata:line two\r\n\r\n" +
    'data: {"seq":2,"delta":{"text":"h\u00e9llo \u2713 \ud83c\udf89"}}\r\r' +
    "retry: 10\nunknown: x\ndata\n\n" +
    "data: dropped, never closed\n";
  const expected: SseEvent[] = [
    { data: '{"seq":1,"started":{"session_id":"s"}}' },
    { data: "line one\nline two", event: "note", id: "7" },
    { data: '{"seq":2,"delta":{"text":"h\u00e9llo \u2713 \ud83c\udf89"}}', id: "7" },
    { data: "", id: "7" },
  ];

  it("parses a whole body", () => {
    assert.deepEqual(parse([body]), expected);
  });

  it("gives the same events however the text is split, mid-line or between \\r and \\n", () => {
    for (const chunks of splits(body))
      assert.deepEqual(parse(chunks), expected, JSON.stringify(chunks));
  });

  it("gives the same events however the bytes are split, inside UTF-8 characters too", async () => {
    const bytes = encoder.encode(body);
    for (let i = 0; i <= bytes.length; i++) {
      const events = await collect(parseSse(from([bytes.slice(0, i), bytes.slice(i)])));
      assert.deepEqual(events, expected, `split at byte ${i}`);
    }
    const single = [...bytes].map((b) => Uint8Array.of(b));
    assert.deepEqual(await collect(parseSse(from(single))), expected);
  });
});

/** A fetch answering from a script, recording what it was asked. */
function scriptedFetch(
  answer: (url: URL, init: RequestInit, nth: number) => Response | Promise<Response>,
) {
  const calls: { url: URL; init: RequestInit }[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(
      typeof input === "string" ? input : input instanceof URL ? input.href : input.url,
    );
    calls.push({ url, init: init ?? {} });
    return answer(url, init ?? {}, calls.length);
  };
  return { fetch: fetch as typeof globalThis.fetch, calls };
}

/** A streamed body cut into `size`-byte chunks, each delivered separately. */
function chunkedBody(
  text: string,
  size: number,
  onCancel?: () => void,
): ReadableStream<Uint8Array> {
  const bytes = encoder.encode(text);
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    cancel: onCancel,
    async pull(controller) {
      await new Promise((resolve) => setImmediate(resolve));
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}

const SESSION_JSON = {
  id: "00000000-0000-0000-0000-000000000001",
  session_id: "s-1",
  is_active: true,
  user_id: "00000000-0000-0000-0000-000000000002",
  created_at: "2026-01-02T03:04:05.123456Z",
  updated_at: "2026-01-02T03:04:05.654321Z",
};

const MESSAGE_JSON = {
  id: "m-1",
  session_id: "s",
  session_uuid: "u",
  role: "assistant",
  content: "hello ✓",
  created_at: "2026-01-02T03:04:05.000001Z",
  updated_at: "2026-01-02T03:04:05.000001Z",
};

function sse(events: unknown[]): string {
  return events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("");
}

describe("REST helper", () => {
  it("streams a turn from a body split into small chunks", async () => {
    const text = sse([
      { seq: 1, started: { session_id: "s", session_uuid: "u" } },
      { seq: 2, delta: { text: "hello " } },
      { seq: 3, delta: { text: "✓" } },
      { seq: 4, message: MESSAGE_JSON },
      {
        seq: 5,
        completed: {
          session_id: "s",
          session_uuid: "u",
          response: "hello ✓",
          messages_count: 2,
          session_active: true,
        },
      },
    ]);
    for (const size of [1, 3, 7, 64, 10_000]) {
      const { fetch, calls } = scriptedFetch(
        () =>
          new Response(chunkedBody(text, size), {
            headers: { "content-type": "text/event-stream" },
          }),
      );
      const client = new AgentSessionsRestClient({
        baseUrl: "http://envoy.test/",
        token: "t",
        fetch,
      });
      const events = await collect(
        client.converseStream({ sessionId: "s", messages: [{ role: "user", content: "hi" }] }),
      );
      assert.deepEqual(
        events.map((e) => e.type),
        ["started", "delta", "delta", "message", "completed"],
      );
      assert.deepEqual(
        events.map((e) => e.seq),
        [1, 2, 3, 4, 5],
      );
      const message = events[3];
      assert.ok(message?.type === "message");
      assert.equal(message.message.content, "hello ✓");
      assert.equal(message.message.createdAt.toISOString(), "2026-01-02T03:04:05.000Z");
      const completed = events[4];
      assert.ok(completed?.type === "completed");
      assert.equal(completed.result.messagesCount, 2);

      const call = calls[0];
      assert.equal(call?.url.href, "http://envoy.test/api/agent-sessions/conversation:stream");
      assert.equal(call?.init.method, "POST");
      const headers = call?.init.headers as Record<string, string>;
      assert.equal(headers["authorization"], "Bearer t");
      assert.equal(headers["accept"], "text/event-stream");
      assert.deepEqual(JSON.parse(String(call?.init.body)), {
        session_id: "s",
        messages: [{ role: "user", content: "hi" }],
      });
    }
  });

  it("throws the error event that ends a failing stream, after the events before it", async () => {
    const text = sse([
      { seq: 1, started: { session_id: "s", session_uuid: "u" } },
      { seq: 2, delta: { text: "partial " } },
      {
        seq: 3,
        error: {
          code: 14,
          message: "the agent failed; nothing of this turn was stored",
          details: [
            {
              "@type": "type.googleapis.com/google.rpc.ErrorInfo",
              reason: "AGENT_FAILED",
              domain: "agentsessions.v1",
            },
          ],
        },
      },
    ]);
    const { fetch } = scriptedFetch(() => new Response(chunkedBody(text, 5)));
    const client = new AgentSessionsRestClient({ baseUrl: "http://envoy.test", fetch });
    const seen: string[] = [];
    const error = await rejectsWith(
      (async () => {
        for await (const event of client.converse({ messages: "x" })) seen.push(event.type);
      })(),
      Code.Unavailable,
      "AGENT_FAILED",
    );
    assert.deepEqual(seen, ["started", "delta"]);
    assert.equal(error.domain, "agentsessions.v1");
    assert.equal(error.httpStatus, undefined);

    const pieces: string[] = [];
    await rejectsWith(
      (async () => {
        for await (const piece of client.converseText({ messages: [{ role: "user" }] }))
          pieces.push(piece);
      })(),
      Code.Unavailable,
      "AGENT_FAILED",
    );
    assert.deepEqual(pieces, ["partial "]);
  });

  it("cancels the body when the consumer stops reading early", async () => {
    const text = sse([
      { seq: 1, started: { session_id: "s", session_uuid: "u" } },
      { seq: 2, delta: { text: "a" } },
      { seq: 3, delta: { text: "b" } },
    ]);
    let cancelled = false;
    const { fetch } = scriptedFetch(
      () => new Response(chunkedBody(text, 3, () => (cancelled = true))),
    );
    const client = new AgentSessionsRestClient({ baseUrl: "http://envoy.test", fetch });
    for await (const event of client.converse({ messages: [{ role: "user" }] })) {
      assert.equal(event.type, "started");
      break;
    }
    assert.equal(cancelled, true);
  });

  it("throws UNAVAILABLE when the stream ends before the turn completed", async () => {
    const text = sse([{ seq: 1, started: { session_id: "s", session_uuid: "u" } }]);
    const { fetch } = scriptedFetch(() => new Response(chunkedBody(text, 4)));
    const client = new AgentSessionsRestClient({ baseUrl: "http://envoy.test", fetch });
    await rejectsWith(collect(client.converse({ messages: [{ role: "user" }] })), Code.Unavailable);
  });

  it("throws an error before the stream as the HTTP error it is", async () => {
    const { fetch } = scriptedFetch(() =>
      json(400, {
        code: 9,
        message: "session 's' is inactive",
        details: [
          { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "SESSION_INACTIVE" },
        ],
      }),
    );
    const client = new AgentSessionsRestClient({ baseUrl: "http://envoy.test", fetch });
    const error = await rejectsWith(
      collect(client.converseStream({ sessionId: "s", messages: [{ role: "user" }] })),
      Code.FailedPrecondition,
      "SESSION_INACTIVE",
    );
    assert.equal(error.httpStatus, 400);
  });

  it("reads RetryInfo's delay from an error body", async () => {
    const { fetch } = scriptedFetch(() =>
      json(429, {
        code: 8,
        message: "the model is rate limited",
        details: [
          { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "MODEL_RATE_LIMITED" },
          { "@type": "type.googleapis.com/google.rpc.RetryInfo", retry_delay: "1.500s" },
        ],
      }),
    );
    const client = new AgentSessionsRestClient({ baseUrl: "http://envoy.test", fetch });
    const error = await rejectsWith(
      client.conversation({ messages: "x" }),
      Code.ResourceExhausted,
      "MODEL_RATE_LIMITED",
    );
    assert.equal(error.retryDelayMs, 1500);
    assert.equal(error.httpStatus, 429);
  });

  it("sends caller tools and the session's model; reads tool events, pending calls and usage", async () => {
    const call = { tool_call_id: "c1", name: "get_weather", arguments: '{"city":"Oslo"}' };
    const text = sse([
      { seq: 1, tool_call: call },
      { seq: 2, tool_result: { tool_call_id: "c0", name: "clock", output: "12" } },
      {
        seq: 3,
        completed: {
          session_id: "s",
          stop_reason: "tool_calls",
          pending_tool_calls: [call],
          usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 },
        },
      },
    ]);
    const { fetch, calls } = scriptedFetch(() => new Response(chunkedBody(text, 7)));
    const client = new AgentSessionsRestClient({ baseUrl: "http://envoy.test", fetch });
    const parameters = { type: "object", properties: { city: { type: "string" } } };
    const events = await collect(
      client.converse({
        messages: [toolResult("c0", "done")],
        model: "m",
        serverTools: "none",
        tools: [{ name: "get_weather", description: "Weather.", parameters }],
      }),
    );
    const pending = { toolCallId: "c1", name: "get_weather", arguments: '{"city":"Oslo"}' };
    assert.deepEqual(events, [
      { seq: 1, type: "toolCall", call: pending },
      { seq: 2, type: "toolResult", result: { toolCallId: "c0", name: "clock", output: "12" } },
      {
        seq: 3,
        type: "completed",
        result: {
          sessionId: "s",
          sessionUuid: "",
          response: "",
          messagesCount: 0,
          sessionActive: false,
          stopReason: "tool_calls",
          pendingToolCalls: [pending],
          usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 },
          turnId: "",
        },
      },
    ]);
    assert.deepEqual(JSON.parse(String(calls[0]?.init.body)), {
      messages: [{ role: "tool", tool_call_id: "c0", content: "done" }],
      model: "m",
      server_tools: "none",
      tools: [{ name: "get_weather", description: "Weather.", parameters }],
    });
  });

  it("parses JSON error bodies with field violations, and bodies that are not JSON", async () => {
    const { fetch } = scriptedFetch((url) =>
      url.pathname.endsWith("/bad")
        ? json(400, {
            code: 3,
            message: "session_id: invalid",
            details: [
              {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                reason: "INVALID_ARGUMENT",
                metadata: { field: "session_id" },
              },
              {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                field_violations: [{ field: "session_id", description: "invalid" }],
              },
            ],
          })
        : new Response("upstream connect error", { status: 502 }),
    );
    const client = new AgentSessionsRestClient({
      baseUrl: "http://envoy.test",
      fetch,
      retry: false,
    });
    const bad = await rejectsWith(
      client.sessions.get("bad"),
      Code.InvalidArgument,
      "INVALID_ARGUMENT",
    );
    assert.deepEqual(bad.fieldViolations, [{ field: "session_id", description: "invalid" }]);
    assert.deepEqual(bad.metadata, { field: "session_id" });
    const plain = await rejectsWith(client.sessions.get("other"), Code.Unavailable);
    assert.equal(plain.rawMessage, "upstream connect error");
    assert.equal(plain.httpStatus, 502);
  });

  it("retries every call on 503 and network errors, a write with one Idempotency-Key", async () => {
    const { fetch, calls } = scriptedFetch((_url, init, nth) => {
      if (nth === 1) throw new TypeError("fetch failed");
      if (nth <= 3) return json(503, { code: 14, message: "no healthy upstream" });
      if (init.method === "POST") return json(503, { code: 14, message: "no healthy upstream" });
      return json(200, SESSION_JSON);
    });
    const client = new AgentSessionsRestClient({
      baseUrl: "http://envoy.test",
      fetch,
      retry: { initialBackoffMs: 1, maxAttempts: 5 },
    });
    const session = await client.sessions.get("s-1");
    assert.equal(calls.length, 4);
    assert.equal(session.sessionId, "s-1");
    assert.equal(session.updatedAt.toISOString(), "2026-01-02T03:04:05.654Z");
    assert.equal(session.sessionName, undefined);

    const keys = (): (string | undefined)[] =>
      calls.map((c) => (c.init.headers as Record<string, string>)["idempotency-key"]);
    for (const write of [
      () => client.sessions.create({ sessionId: "s-2" }),
      () => client.conversation({ messages: [{ role: "user" }] }),
      () => client.messages.create("s", { role: "user" }),
      () => client.messages.createBatch("s", [{ role: "user" }]),
      () => collect(client.converse({ messages: [{ role: "user" }] })),
    ]) {
      const before = keys();
      calls.length = 0;
      await rejectsWith(write(), Code.Unavailable);
      assert.equal(calls.length, 5);
      const sent = new Set(keys());
      assert.equal(sent.size, 1);
      const [key] = sent;
      assert.match(
        key ?? "",
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      assert.ok(!before.includes(key), "each call makes its own request id");
    }
  });

  it("sends a stream again before its first event, and reads it on with ResumeTurn after", async () => {
    const head =
      'data: {"seq":1,"started":{"session_id":"s","turn_id":"t-1"}}\n\n' +
      'data: {"seq":2,"delta":{"text":"Hi"}}\n\n';
    const rest =
      'data: {"seq":2,"delta":{"text":"Hi"}}\n\n' +
      'data: {"seq":3,"delta":{"text":"!"}}\n\n' +
      'data: {"seq":4,"completed":{"session_id":"s","response":"Hi!","turn_id":"t-1"}}\n\n';
    const stream = (text: string): Response =>
      new Response(text, { status: 200, headers: { "content-type": "text/event-stream" } });
    const { fetch, calls } = scriptedFetch((_url, _init, nth) =>
      nth === 1
        ? json(503, { code: 14, message: "no healthy upstream" })
        : stream(nth === 2 ? head : rest),
    );
    const client = new AgentSessionsRestClient({
      baseUrl: "http://envoy.test",
      fetch,
      retry: { initialBackoffMs: 1, maxAttempts: 5 },
    });
    // The body ends after a delta, without `completed`: cut. The rest comes from ResumeTurn
    // (which here repeats seq 2, skipped), each event once.
    const seen = await collect(client.converse({ messages: "x" }));
    assert.deepEqual(
      seen.map((e) => `${e.seq}:${e.type}`),
      ["1:started", "2:delta", "3:delta", "4:completed"],
    );
    assert.equal(calls.length, 3);
    assert.equal(calls[1]?.init.method, "POST");
    assert.equal(
      (calls[1]?.init.headers as Record<string, string>)["idempotency-key"],
      (calls[0]?.init.headers as Record<string, string>)["idempotency-key"],
    );
    const resume = calls[2];
    assert.equal(resume?.init.method, "GET");
    assert.equal(resume?.url.pathname, "/api/agent-sessions/s/turns/t-1:stream");
    assert.equal(resume?.url.search, "?after_seq=2");
  });

  it("fails with UNAUTHENTICATED, without calling, when the token provider fails", async () => {
    const { fetch, calls } = scriptedFetch(() => json(200, SESSION_JSON));
    const client = new AgentSessionsRestClient({
      baseUrl: "http://envoy.test",
      fetch,
      token: async () => Promise.reject(new Error("vault sealed")),
    });
    const error = await rejectsWith(client.sessions.get("s"), Code.Unauthenticated);
    assert.equal(error.rawMessage, "the token provider failed: vault sealed");
    await rejectsWith(collect(client.converse({ messages: "x" })), Code.Unauthenticated);
    assert.equal(calls.length, 0);
  });

  it("builds paths, query strings and snake_case bodies", async () => {
    const { fetch, calls } = scriptedFetch((url) =>
      url.pathname.endsWith("/messages")
        ? json(200, { messages: [], next_page_token: "", total_size: 0 })
        : json(200, { sessions: [SESSION_JSON], next_page_token: "", total_size: 1 }),
    );
    const client = new AgentSessionsRestClient({ baseUrl: "http://envoy.test", fetch });
    await client.sessions.listPage({
      pageSize: 2,
      isActive: false,
      agentName: "a b",
      pageToken: "x+y",
    });
    await collect(client.messages.list("s.1", { order: "desc", pageSize: 5 }));
    assert.equal(
      calls[0]?.url.href,
      "http://envoy.test/api/agent-sessions?page_size=2&page_token=x%2By&is_active=false&agent_name=a+b",
    );
    assert.equal(
      calls[1]?.url.href,
      "http://envoy.test/api/agent-sessions/s.1/messages?page_size=5&order=desc",
    );
    assert.equal(calls[0]?.init.body, undefined);
  });

  it("fails with DEADLINE_EXCEEDED when the server does not answer in time", async () => {
    const { fetch } = scriptedFetch(
      (_url, init) =>
        new Promise<Response>((_resolve, reject) => {
          init.signal?.addEventListener("abort", () =>
            reject(new DOMException("aborted", "AbortError")),
          );
        }),
    );
    const client = new AgentSessionsRestClient({
      baseUrl: "http://envoy.test",
      fetch,
      timeoutMs: 50,
    });
    await rejectsWith(client.sessions.get("s"), Code.DeadlineExceeded);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    await rejectsWith(
      client.sessions.get("s", { signal: controller.signal, timeoutMs: 0 }),
      Code.Canceled,
    );
  });
});
