/**
 * Live turns through both clients (gRPC direct, gRPC through Envoy, REST): get, cancel, resume
 * and watch, `ifBusy`, and streams that continue by themselves when a real TCP proxy between the
 * client and the service cuts their connection. Slow turns come from a server whose OpenAI
 * agent streams every reply (`p0 p1 …`) from the fake model API.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  AgentSessionsClient,
  AgentSessionsError,
  AgentSessionsRestClient,
  Code,
  type AgentSessionsApi,
  type ConverseEvent,
  type SessionEvent,
} from "@agent-sessions/client";
import {
  collect,
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
import { TcpProxy } from "./tcp-proxy.js";

const SLOW_GRPC_URL = process.env["AGENT_SESSIONS_SLOW_GRPC_URL"] ?? "";
const SLOW_ENVOY_URL = process.env["AGENT_SESSIONS_SLOW_ENVOY_URL"] ?? "";
const SLOW_PIECES = Number(process.env["AGENT_SESSIONS_SLOW_PIECES"] ?? "0");
const NO_SLOW_STACK: string | false =
  SLOW_GRPC_URL && SLOW_ENVOY_URL && SLOW_PIECES && TOKEN
    ? false
    : "set AGENT_SESSIONS_SLOW_GRPC_URL, _SLOW_ENVOY_URL, _SLOW_PIECES and _TOKEN (tests/test_typescript_client.py does)";
const REPLY = Array.from({ length: SLOW_PIECES }, (_, i) => `p${i} `).join("");

/** A client of `kind` at `url` (the gRPC port, or Envoy's for the other two). */
function client(kind: Kind, url: string, token = TOKEN): Opened {
  if (kind === "rest") {
    return { api: new AgentSessionsRestClient({ baseUrl: url, token }), close() {} };
  }
  const grpc = new AgentSessionsClient({ baseUrl: url, token });
  return { api: grpc, close: () => grpc.close() };
}

function slowUrl(kind: Kind): string {
  return kind === "grpc" ? SLOW_GRPC_URL : SLOW_ENVOY_URL;
}

/** Every seq from 1 exactly once, the deltas whole, and the last event the turn's result. */
function assertOnceInOrder(events: ConverseEvent[]): void {
  assert.deepEqual(
    events.map((e) => e.seq),
    events.map((_, i) => i + 1),
  );
  const first = events[0];
  const last = events[events.length - 1];
  assert.ok(first?.type === "started" && last?.type === "completed");
  const text = events.map((e) => (e.type === "delta" ? e.text : "")).join("");
  assert.equal(text, REPLY);
  assert.equal(last.result.response, REPLY);
  assert.equal(last.result.turnId, first.turnId);
}

for (const kind of KINDS) {
  describe(`turns of the live service over ${kind}`, { skip: NO_LIVE_STACK }, () => {
    let opened: Opened;
    let api: AgentSessionsApi;
    before(() => {
      opened = open(kind);
      api = opened.api;
    });
    after(() => opened.close());

    it("gets, cancels (unchanged) and resumes a stored turn", async () => {
      const sessionId = uniqueId("stored");
      const result = await api.conversation({ sessionId, messages: "Hello" });
      assert.equal(result.response, MOCK + "Hello");
      const turn = await api.getTurn(sessionId, result.turnId);
      assert.equal(turn.status, "completed");
      assert.equal(turn.sessionId, sessionId);
      assert.deepEqual(turn.result, result);
      assert.equal(turn.error, undefined);
      assert.ok(turn.requestId);
      assert.deepEqual(await api.cancelTurn(sessionId, result.turnId), turn);

      const streamed = await collect(api.converse({ sessionId, messages: "Again" }));
      const started = streamed[0];
      assert.ok(started?.type === "started" && started.turnId);
      assert.deepEqual(await collect(api.resumeTurn(sessionId, started.turnId)), streamed);
      assert.deepEqual(
        await collect(api.resumeTurn(sessionId, started.turnId, { afterSeq: 2 })),
        streamed.slice(2),
      );
      await rejectsWith(api.getTurn(sessionId, crypto.randomUUID()), Code.NotFound);
      await rejectsWith(collect(api.resumeTurn(sessionId, crypto.randomUUID())), Code.NotFound);
    });

    it("watches a session's changes in order until it is deleted", async () => {
      const sessionId = uniqueId("watch");
      await api.sessions.create({ sessionId });
      const one = await api.messages.create(sessionId, { role: "user", content: "one" });
      const got: SessionEvent[] = [];
      const watching = (async () => {
        for await (const event of api.watchSession(sessionId, { afterSeq: 0 })) got.push(event);
      })();
      const two = await api.messages.create(sessionId, { role: "user", content: "two" });
      await api.messages.update(sessionId, two.id, { content: "two!" });
      await api.messages.delete(sessionId, one.id);
      await api.sessions.update(sessionId, { description: "d" });
      await api.messages.clear(sessionId);
      // Seen before the delete: the service's watch may otherwise end at a delete that commits
      // right after a change without sending that change.
      while (!got.some((e) => e.type === "cleared")) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await api.sessions.delete(sessionId);
      await watching;
      const durable = got.filter((e) => e.type !== "turn" && e.type !== "turnDelta");
      assert.deepEqual(
        durable.map((e) => e.type),
        ["message", "message", "messageUpdated", "messageDeleted", "session", "cleared", "deleted"],
      );
      assert.deepEqual(
        durable.slice(0, -1).map((e) => ("seq" in e ? e.seq : undefined)),
        [1, 2, 3, 4, 5, 6],
      );
      const deleted = durable[3];
      assert.ok(deleted?.type === "messageDeleted" && deleted.messageId === one.id);
    });
  });

  describe(`live turns over ${kind}`, { skip: NO_SLOW_STACK }, () => {
    let opened: Opened;
    let api: AgentSessionsApi;
    let proxy: TcpProxy;
    before(async () => {
      opened = client(kind, slowUrl(kind));
      api = opened.api;
      proxy = await TcpProxy.start(slowUrl(kind));
    });
    after(async () => {
      opened.close();
      await proxy.close();
    });

    it("resumes, cancels and gets a running detached turn", async () => {
      const sessionId = uniqueId("detached");
      const head: ConverseEvent[] = [];
      for await (const event of api.converse({ sessionId, messages: "Hi", detach: true })) {
        head.push(event);
        if (head.length === 4) break; // the caller goes away: a detached turn runs on
      }
      const started = head[0];
      assert.ok(started?.type === "started");
      assert.equal((await api.getTurn(sessionId, started.turnId)).status, "running");
      const resumed = api.resumeTurn(sessionId, started.turnId, { afterSeq: 2 });
      const events = resumed[Symbol.asyncIterator]();
      const again: ConverseEvent[] = [];
      for (let i = 0; i < 4; i++) {
        const next = await events.next();
        assert.ok(!next.done);
        again.push(next.value);
      }
      assert.deepEqual(
        again.map((e) => e.seq),
        [3, 4, 5, 6],
      );
      assert.deepEqual(again.slice(0, 2), head.slice(2));
      assert.equal((await api.cancelTurn(sessionId, started.turnId)).status, "cancelled");
      await rejectsWith(
        (async () => {
          while (!(await events.next()).done);
        })(),
        Code.Canceled,
      );
      const turn = await api.getTurn(sessionId, started.turnId);
      assert.equal(turn.status, "cancelled");
      assert.ok(turn.error instanceof AgentSessionsError && turn.error.code === Code.Canceled);
      assert.equal(turn.result, undefined);
    });

    it("queues a turn behind a running one, rejects or interrupts it", async () => {
      const sessionId = uniqueId("busy");
      await api.sessions.create({ sessionId });
      const first = api.converse({ sessionId, messages: "one" })[Symbol.asyncIterator]();
      const started = (await first.next()).value as ConverseEvent;
      assert.ok(started.type === "started");
      assert.equal((await first.next()).value?.type, "delta");
      const busy = await rejectsWith(
        api.conversation({ sessionId, messages: "no", ifBusy: "reject" }),
        Code.Aborted,
        "SESSION_BUSY",
      );
      assert.equal(busy.metadata["turn_id"], started.turnId);

      const waiting: ConverseEvent[] = [];
      const second = (async () => {
        for await (const event of api.converse({ sessionId, messages: "two" })) {
          waiting.push(event);
        }
      })();
      while (!waiting.some((e) => e.type === "queued")) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const queued = waiting.find((e) => e.type === "queued");
      assert.ok(queued?.type === "queued" && queued.position === 1);
      assert.equal(queued.turnId, (waiting[0] as { turnId: string }).turnId);

      // Cancelled, the first ends with its cancellation and the second runs.
      assert.equal((await api.cancelTurn(sessionId, started.turnId)).status, "cancelled");
      await rejectsWith(
        (async () => {
          while (!(await first.next()).done);
        })(),
        Code.Canceled,
      );
      await second;
      const last = waiting[waiting.length - 1];
      assert.ok(last?.type === "completed" && last.result.response === REPLY);

      // An interrupt cancels the running turn and runs instead.
      const third = api.converse({ sessionId, messages: "three" })[Symbol.asyncIterator]();
      const thirdStarted = (await third.next()).value as ConverseEvent;
      assert.ok(thirdStarted.type === "started");
      const fourth = await api.conversation({ sessionId, messages: "four", ifBusy: "interrupt" });
      assert.ok(fourth.response === REPLY && fourth.messagesCount === 4);
      await rejectsWith(
        (async () => {
          while (!(await third.next()).done);
        })(),
        Code.Canceled,
      );
      assert.equal((await api.getTurn(sessionId, thirdStarted.turnId)).status, "cancelled");
    });

    it("continues a converse cut twice mid-stream, every event once", async () => {
      const cut = client(kind, proxy.url);
      try {
        const before = proxy.connections;
        const events: ConverseEvent[] = [];
        const stream = cut.api.converse({
          sessionId: uniqueId("cut"),
          messages: "Hi",
          detach: true,
        });
        for await (const event of stream) {
          events.push(event);
          if (events.length === 5 || events.length === 25) assert.ok(proxy.cut() >= 1);
        }
        assertOnceInOrder(events);
        assert.ok(proxy.connections - before >= 3, `${proxy.connections - before} connections`);
      } finally {
        cut.close();
      }
    });

    it("retries a unary turn whose connection is cut, with its request id", async () => {
      const cut = client(kind, proxy.url);
      try {
        const sessionId = uniqueId("unary-cut");
        const before = proxy.connections;
        const cutter = setTimeout(() => proxy.cut(), 500); // while the model is answering
        const result = await cut.api.conversation({ sessionId, messages: "Hi", detach: true });
        clearTimeout(cutter);
        // The retry attached to the running turn and waited for it: stored once.
        assert.ok(result.response === REPLY && result.messagesCount === 2);
        assert.ok(proxy.connections - before >= 2, `${proxy.connections - before} connections`);
        assert.equal((await api.getTurn(sessionId, result.turnId)).status, "completed");
      } finally {
        cut.close();
      }
    });

    it("ends a cut converse of a turn that is not detached with its cancellation", async () => {
      const cut = client(kind, proxy.url);
      try {
        const sessionId = uniqueId("undetached");
        const events: ConverseEvent[] = [];
        await rejectsWith(
          (async () => {
            for await (const event of cut.api.converse({ sessionId, messages: "Hi" })) {
              events.push(event);
              if (events.length === 5) proxy.cut();
            }
          })(),
          Code.Canceled,
        );
        assert.deepEqual(
          events.map((e) => e.seq),
          events.map((_, i) => i + 1),
        );
        const started = events[0];
        assert.ok(started?.type === "started");
        assert.equal((await api.getTurn(sessionId, started.turnId)).status, "cancelled");
      } finally {
        cut.close();
      }
    });

    it("resumes a cut watch without a gap or a duplicate", async () => {
      const cut = client(kind, proxy.url);
      try {
        const sessionId = uniqueId("watch-cut");
        await api.sessions.create({ sessionId });
        const got: SessionEvent[] = [];
        const watching = (async () => {
          for await (const event of cut.api.watchSession(sessionId)) got.push(event);
        })();
        const added = (): SessionEvent[] => got.filter((e) => e.type === "message");
        const waitFor = async (count: number): Promise<void> => {
          const deadline = Date.now() + 10_000;
          while (added().length < count) {
            assert.ok(Date.now() < deadline, JSON.stringify(got));
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        };
        await new Promise((resolve) => setTimeout(resolve, 500)); // the watch is open
        await api.messages.create(sessionId, { role: "user", content: "m0" });
        await waitFor(1);
        for (let round = 0; round < 3; round++) {
          assert.ok(proxy.cut() >= 1);
          // Written while the watch is down: read from the tables once it is back.
          for (let i = 0; i < 3; i++) {
            await api.messages.create(sessionId, {
              role: "user",
              content: `m${1 + 3 * round + i}`,
            });
          }
          await waitFor(1 + 3 * (round + 1));
        }
        await api.sessions.delete(sessionId);
        await watching;
        const messages = added().map((e) => (e.type === "message" ? e.message : undefined));
        assert.deepEqual(
          messages.map((m) => m?.content),
          Array.from({ length: 10 }, (_, i) => `m${i}`),
        );
        assert.deepEqual(
          added().map((e) => ("seq" in e ? e.seq : 0)),
          Array.from({ length: 10 }, (_, i) => i + 1),
        );
        assert.equal(got[got.length - 1]?.type, "deleted");
      } finally {
        cut.close();
      }
    });
  });
}
