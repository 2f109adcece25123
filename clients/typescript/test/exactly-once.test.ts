/**
 * Exactly once against the live service: a write whose answer is lost after the service stored
 * it (an interceptor or a fetch that drops the first answer) is retried with its request id and
 * stored once; each call makes its own id; etag and expectedSeq conflicts are ABORTED with their
 * reason; a batch is one all-or-none call.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  AgentSessionsClient,
  AgentSessionsRestClient,
  Code,
  type AgentSessionsApi,
} from "@agent-sessions/client";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  collect,
  ENVOY_URL,
  GRPC_URL,
  KINDS,
  MOCK,
  NO_LIVE_STACK,
  open,
  rejectsWith,
  TOKEN,
  uniqueId,
  type Kind,
  type Opened,
} from "./support.js";

const RETRY = { initialBackoffMs: 1, maxBackoffMs: 5 };

/** What a lossy client saw: the request id of every attempt, by method. */
class Sent {
  readonly ids = new Map<string, string[]>();
  /** Answers still to lose, by method. */
  readonly lose = new Map<string, number>();

  record(method: string, id: string): boolean {
    this.ids.set(method, [...(this.ids.get(method) ?? []), id]);
    const left = this.lose.get(method) ?? 0;
    if (left > 0) this.lose.set(method, left - 1);
    return left > 0;
  }

  of(method: string): string[] {
    return this.ids.get(method) ?? [];
  }
}

/** The REST path's method, for what a fetch saw. */
function restMethod(url: URL, method: string): string {
  const path = url.pathname;
  if (path.endsWith(":batchCreate")) return "BatchCreateMessages";
  if (path.endsWith("/conversation:stream")) return "Converse";
  if (path.endsWith("/conversation")) return "Conversation";
  if (method === "POST" && path.endsWith("/messages")) return "CreateMessage";
  if (method === "POST") return "CreateSession";
  return `${method} ${path}`;
}

/**
 * A client whose first answers of `sent.lose`'s methods are lost: the service gets the call and
 * stores it, the client sees UNAVAILABLE (gRPC) or a network failure (REST) instead.
 */
function lossy(kind: Kind, sent: Sent): Opened {
  if (kind === "rest") {
    const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const url = new URL(String(input));
      const headers = (init?.headers ?? {}) as Record<string, string>;
      const key = headers["idempotency-key"] ?? "";
      const losing = sent.record(restMethod(url, init?.method ?? "GET"), key);
      const response = await globalThis.fetch(input, init);
      if (!losing) return response;
      await response.text(); // the whole answer: a stream's turn is stored by then
      throw new TypeError("fetch failed: the test lost the answer");
    };
    return {
      api: new AgentSessionsRestClient({ baseUrl: ENVOY_URL, token: TOKEN, fetch, retry: RETRY }),
      close() {},
    };
  }
  const interceptor: Interceptor = (next) => async (request) => {
    const message = request.message as { requestId?: string };
    const losing = sent.record(request.method.name, message.requestId ?? "");
    const response = await next(request);
    if (!losing) return response;
    if (response.stream) for await (const _ of response.message); // the turn is stored
    throw new ConnectError("the test lost the answer", Code.Unavailable);
  };
  const client = new AgentSessionsClient({
    baseUrl: kind === "grpc" ? GRPC_URL : ENVOY_URL,
    token: TOKEN,
    retry: RETRY,
    interceptors: [interceptor],
  });
  return { api: client, close: () => client.close() };
}

async function contents(api: AgentSessionsApi, sessionId: string): Promise<string[]> {
  return (await collect(api.messages.list(sessionId))).map((m) => m.content);
}

for (const kind of KINDS) {
  describe(`exactly once over ${kind}`, { skip: NO_LIVE_STACK }, () => {
    let plain: Opened;
    let api: AgentSessionsApi;
    before(() => {
      plain = open(kind);
      api = plain.api;
    });
    after(() => plain.close());

    it("stores a write whose answer was lost once, with one request id", async () => {
      const sent = new Sent();
      const opened = lossy(kind, sent);
      try {
        const sessionId = uniqueId("lost");
        for (const method of ["CreateSession", "CreateMessage", "BatchCreateMessages"])
          sent.lose.set(method, 2);
        sent.lose.set("Conversation", 1);
        await opened.api.sessions.create({ sessionId });
        const one = await opened.api.messages.create(sessionId, { role: "user", content: "one" });
        const batch = await opened.api.messages.createBatch(sessionId, [
          { role: "user", content: "two" },
          { role: "assistant", content: "three" },
        ]);
        assert.deepEqual(
          batch.map((m) => m.seq),
          [one.seq + 1, one.seq + 2],
        );
        const turn = await opened.api.conversation({ sessionId, messages: "four" });
        assert.equal(turn.messagesCount, 5);
        assert.deepEqual(await contents(api, sessionId), [
          "one",
          "two",
          "three",
          "four",
          MOCK + "four",
        ]);
        const made = new Set<string>();
        for (const [method, attempts] of [
          ["CreateSession", 3],
          ["CreateMessage", 3],
          ["BatchCreateMessages", 3],
          ["Conversation", 2],
        ] as const) {
          const ids = sent.of(method);
          assert.equal(ids.length, attempts, method);
          assert.equal(new Set(ids).size, 1, `${method} changed its request id`);
          made.add(ids[0] ?? "");
        }
        assert.equal(made.size, 4, "each call makes its own request id");
      } finally {
        opened.close();
      }
    });

    it("retries a stream lost before its first event, showing each event once", async () => {
      const sent = new Sent();
      const opened = lossy(kind, sent);
      try {
        const sessionId = uniqueId("stream");
        sent.lose.set("Converse", 1);
        const events = await collect(opened.api.converse({ sessionId, messages: "hello" }));
        assert.equal(sent.of("Converse").length, 2);
        assert.equal(new Set(sent.of("Converse")).size, 1);
        assert.deepEqual(
          events.map((e) => e.seq),
          events.map((_, i) => i + 1),
        );
        assert.equal(events.at(-1)?.type, "completed");
        assert.deepEqual(await contents(api, sessionId), ["hello", MOCK + "hello"]);
      } finally {
        opened.close();
      }
    });

    it("answers a repeat of the caller's request id, refuses it for another request", async () => {
      const sessionId = uniqueId("mine");
      await api.sessions.create({ sessionId });
      const requestId = crypto.randomUUID();
      const first = await api.messages.create(
        sessionId,
        { role: "user", content: "x" },
        { requestId },
      );
      const again = await api.messages.create(
        sessionId,
        { role: "user", content: "x" },
        { requestId },
      );
      assert.deepEqual(again, first);
      assert.deepEqual(await contents(api, sessionId), ["x"]);
      await rejectsWith(
        api.messages.create(sessionId, { role: "user", content: "y" }, { requestId }),
        Code.InvalidArgument,
        "REQUEST_ID_REUSED",
      );
    });

    it("refuses a stale etag or expectedSeq with ABORTED", async () => {
      const sessionId = uniqueId("cas");
      const session = await api.sessions.create({ sessionId });
      assert.ok(session.etag);
      assert.equal(session.seq, 0);
      const renamed = await api.sessions.update(
        sessionId,
        { sessionName: "a" },
        { etag: session.etag },
      );
      assert.equal(renamed.seq, 1);
      const stale = { etag: session.etag };
      for (const call of [
        () => api.sessions.update(sessionId, { sessionName: "b" }, stale),
        () => api.sessions.deactivate(sessionId, stale),
        () => api.sessions.activate(sessionId, stale),
        () => api.sessions.delete(sessionId, stale),
      ])
        await rejectsWith(call(), Code.Aborted, "ETAG_MISMATCH");
      const message = await api.messages.create(sessionId, { role: "user", content: "m" });
      assert.equal(message.seq, 2);
      const edited = await api.messages.update(
        sessionId,
        message.id,
        { content: "n" },
        { etag: message.etag },
      );
      await rejectsWith(
        api.messages.delete(sessionId, message.id, { etag: message.etag }),
        Code.Aborted,
        "ETAG_MISMATCH",
      );
      await api.messages.delete(sessionId, message.id, { etag: edited.etag });

      const old = { expectedSeq: session.seq };
      for (const call of [
        () => api.messages.create(sessionId, { role: "user" }, old),
        () => api.messages.createBatch(sessionId, [{ role: "user" }], old),
        () => api.conversation({ sessionId, messages: "x" }, old),
        () => collect(api.converse({ sessionId, messages: "x" }, old)),
      ])
        await rejectsWith(call(), Code.Aborted, "SESSION_CHANGED");
      const current = await api.sessions.get(sessionId);
      await api.conversation({ sessionId, messages: "y" }, { expectedSeq: current.seq });
      assert.deepEqual(await contents(api, sessionId), ["y", MOCK + "y"]);
      await api.sessions.delete(sessionId, { etag: (await api.sessions.get(sessionId)).etag });
    });

    it("stores a batch all or none, creating its session when asked", async () => {
      const sessionId = uniqueId("batch");
      const batch = [
        { role: "user" as const, content: "1" },
        { role: "assistant" as const, content: "2", toolCallId: "c1", toolName: "add" },
        { role: "tool" as const, content: "3", toolCallId: "c1" },
      ];
      await rejectsWith(api.messages.createBatch(sessionId, batch), Code.NotFound);
      const stored = await api.messages.createBatch(sessionId, batch, {
        createSession: { sessionName: "B", isActive: false, labels: { team: "search" }, ttl: 3600 },
      });
      assert.deepEqual(
        stored.map((m) => [m.seq, m.content]),
        [
          [1, "1"],
          [2, "2"],
          [3, "3"],
        ],
      );
      assert.equal(stored[2]?.toolName, "add");
      const session = await api.sessions.get(sessionId);
      assert.deepEqual([session.sessionName, session.isActive, session.seq], ["B", false, 3]);
      assert.deepEqual(session.labels, { team: "search" });
      assert.ok(session.expireTime instanceof Date);
      const error = await rejectsWith(
        api.messages.createBatch(sessionId, [
          { role: "user", content: "ok" },
          { role: "user", content: "bad", extraData: "not json" },
        ]),
        Code.InvalidArgument,
      );
      assert.equal(error.fieldViolations[0]?.field, "messages[1].extra_data");
      assert.deepEqual(await contents(api, sessionId), ["1", "2", "3"]);
    });
  });
}
