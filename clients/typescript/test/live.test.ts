/**
 * Every call of both clients against the live service: gRPC direct, gRPC through Envoy, and the
 * REST helper through Envoy run the same cases.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, type AgentSessionsApi, type ConverseEvent } from "@agent-sessions/client";
import {
  collect,
  KINDS,
  MOCK,
  NO_LIVE_STACK,
  open,
  OTHER_TOKEN,
  rejectsWith,
  TOKEN,
  uniqueId,
  type Opened,
} from "./support.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

for (const kind of KINDS) {
  describe(`live service over ${kind}`, { skip: NO_LIVE_STACK }, () => {
    let opened: Opened;
    let api: AgentSessionsApi;
    before(() => {
      opened = open(kind);
      api = opened.api;
    });
    after(() => opened.close());

    it("creates, reads, updates, (de)activates, lists and deletes a session", async () => {
      const sessionId = uniqueId("crud");
      const agentName = uniqueId("agent");
      const created = await api.sessions.create({
        sessionId,
        sessionName: "Name",
        description: "Desc",
        agentName,
        agentInstructions: "Do.",
      });
      assert.equal(created.sessionId, sessionId);
      assert.match(created.id, UUID);
      assert.match(created.userId, UUID);
      assert.deepEqual(
        [created.sessionName, created.description, created.agentName, created.agentInstructions],
        ["Name", "Desc", agentName, "Do."],
      );
      assert.equal(created.isActive, true);
      assert.ok(created.createdAt instanceof Date && created.createdAt.getTime() > 0);
      assert.deepEqual(await api.sessions.get(sessionId), created);

      const patched = await api.sessions.update(sessionId, { description: "New" });
      assert.equal(patched.description, "New");
      assert.equal(patched.sessionName, "Name");
      assert.deepEqual(patched.createdAt, created.createdAt);
      assert.ok(patched.updatedAt >= created.updatedAt);

      const off = await api.sessions.deactivate(sessionId);
      assert.equal(off.isActive, false);
      const on = await api.sessions.activate(sessionId);
      assert.equal(on.isActive, true);
      assert.ok(on.updatedAt >= off.updatedAt);
      assert.equal((await api.sessions.update(sessionId, { isActive: false })).isActive, false);
      const cleared = await api.sessions.update(sessionId, { description: "" });
      assert.equal(cleared.description, undefined);

      const page = await api.sessions.listPage({ agentName });
      assert.deepEqual(
        page.sessions.map((s) => s.sessionId),
        [sessionId],
      );
      assert.equal(page.totalSize, 1);
      assert.equal(page.nextPageToken, "");
      assert.equal((await api.sessions.listPage({ agentName, isActive: true })).totalSize, 0);

      await api.sessions.delete(sessionId);
      await rejectsWith(api.sessions.get(sessionId), Code.NotFound, "SESSION_NOT_FOUND");
    });

    it("generates a session id when none is given", async () => {
      const session = await api.sessions.create();
      assert.ok(session.sessionId.length > 0);
      assert.equal(session.isActive, true);
      await api.sessions.delete(session.sessionId);
    });

    it("lists sessions across several pages, newest first", async () => {
      const agentName = uniqueId("pager");
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push(
          (await api.sessions.create({ sessionId: uniqueId(`p${i}`), agentName })).sessionId,
        );
      }
      const first = await api.sessions.listPage({ agentName, pageSize: 2 });
      assert.equal(first.sessions.length, 2);
      assert.equal(first.totalSize, 5);
      assert.ok(first.nextPageToken);

      const pages: string[][] = [];
      let pageToken: string | undefined;
      do {
        const page = await api.sessions.listPage({ agentName, pageSize: 2, pageToken });
        pages.push(page.sessions.map((s) => s.sessionId));
        pageToken = page.nextPageToken || undefined;
      } while (pageToken);
      assert.deepEqual(
        pages.map((p) => p.length),
        [2, 2, 1],
      );

      const all = await collect(api.sessions.list({ agentName, pageSize: 2 }));
      assert.deepEqual(
        all.map((s) => s.sessionId),
        [...ids].reverse(),
      );
      assert.deepEqual(pages.flat(), [...ids].reverse());
      const rest = await collect(
        api.sessions.list({ agentName, pageSize: 2, pageToken: first.nextPageToken }),
      );
      assert.deepEqual(
        rest.map((s) => s.sessionId),
        [...ids].reverse().slice(2),
      );
    });

    it("creates, reads, lists, updates, deletes and clears messages", async () => {
      const sessionId = uniqueId("msgs");
      const session = await api.sessions.create({ sessionId });
      const first = await api.messages.create(sessionId, { role: "user", content: "hello" });
      assert.match(first.id, UUID);
      assert.deepEqual(
        [first.sessionId, first.sessionUuid, first.role, first.content],
        [sessionId, session.id, "user", "hello"],
      );
      const tool = await api.messages.create(sessionId, {
        role: "tool",
        content: "42",
        toolCallId: "c1",
        toolName: "calc",
        extraData: '{"edited": true}',
      });
      assert.deepEqual(
        [tool.role, tool.toolCallId, tool.toolName, tool.extraData],
        ["tool", "c1", "calc", '{"edited": true}'],
      );
      assert.deepEqual(await api.messages.get(sessionId, tool.id), tool);

      const page = await api.messages.listPage(sessionId);
      assert.deepEqual(
        page.messages.map((m) => m.id),
        [first.id, tool.id],
      );
      assert.equal(page.totalSize, 2);
      const latest = await api.messages.listPage(sessionId, { order: "desc", pageSize: 1 });
      assert.deepEqual(
        latest.messages.map((m) => m.id),
        [tool.id],
      );
      assert.ok(latest.nextPageToken);

      const patched = await api.messages.update(sessionId, tool.id, {
        content: "43",
        extraData: '{"v": 2}',
      });
      assert.deepEqual(
        [patched.content, patched.extraData, patched.toolName, patched.role],
        ["43", '{"v": 2}', "calc", "tool"],
      );
      assert.ok(patched.updatedAt >= tool.updatedAt);

      await api.messages.delete(sessionId, first.id);
      await rejectsWith(api.messages.get(sessionId, first.id), Code.NotFound, "MESSAGE_NOT_FOUND");
      assert.equal(await api.messages.clear(sessionId), 1);
      assert.equal(await api.messages.clear(sessionId), 0);
      assert.deepEqual(await api.messages.listPage(sessionId), {
        messages: [],
        nextPageToken: "",
        totalSize: 0,
      });
      assert.equal((await api.sessions.get(sessionId)).sessionId, sessionId);
      await api.sessions.delete(sessionId);
    });

    it("lists messages across several pages in both orders", async () => {
      const sessionId = uniqueId("mpages");
      await api.sessions.create({ sessionId });
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        ids.push((await api.messages.create(sessionId, { role: "user", content: `m${i}` })).id);
      }
      const asc = await collect(api.messages.list(sessionId, { pageSize: 3 }));
      assert.deepEqual(
        asc.map((m) => m.id),
        ids,
      );
      const desc = await collect(api.messages.list(sessionId, { pageSize: 3, order: "desc" }));
      assert.deepEqual(
        desc.map((m) => m.id),
        [...ids].reverse(),
      );
      const page = await api.messages.listPage(sessionId, { pageSize: 3 });
      assert.equal(page.messages.length, 3);
      assert.equal(page.totalSize, 7);
      await api.sessions.delete(sessionId);
    });

    it("runs a unary conversation turn", async () => {
      const first = await api.conversation({ messages: "Hi" });
      assert.equal(first.response, MOCK + "Hi");
      assert.equal(first.messagesCount, 2);
      assert.equal(first.sessionActive, true);
      assert.match(first.sessionUuid, UUID);
      // The mock agent: a reply, no tool calls, no tokens.
      assert.equal(first.stopReason, "end_turn");
      assert.deepEqual(first.pendingToolCalls, []);
      assert.deepEqual(first.usage, { inputTokens: 0, outputTokens: 0, totalTokens: 0 });
      const again = await api.conversation({
        sessionId: first.sessionId,
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "More" },
        ],
      });
      assert.equal(again.messagesCount, 5);
      assert.equal(again.sessionUuid, first.sessionUuid);
      const roles = (await collect(api.messages.list(first.sessionId))).map((m) => m.role);
      assert.deepEqual(roles, ["user", "assistant", "system", "user", "assistant"]);

      const named = uniqueId("named");
      await api.conversation({
        sessionId: named,
        sessionName: "N",
        agentName: "A",
        agentInstructions: "I",
        model: "M",
        serverTools: "none",
        messages: [{ role: "user", content: "U" }],
      });
      const session = await api.sessions.get(named);
      assert.deepEqual(
        [
          session.sessionName,
          session.agentName,
          session.agentInstructions,
          session.model,
          session.serverTools,
        ],
        ["N", "A", "I", "M", "none"],
      );
    });

    it("streams a turn: started, deltas, message, completed, in order", async () => {
      const sessionId = uniqueId("stream");
      const events: ConverseEvent[] = await collect(
        api.converse({ sessionId, messages: [{ role: "user", content: "stream please" }] }),
      );
      assert.deepEqual(
        events.map((e) => e.seq),
        events.map((_, i) => i + 1),
      );
      const types = events.map((e) => e.type);
      assert.equal(types[0], "started");
      assert.deepEqual(types.slice(-2), ["message", "completed"]);
      assert.ok(types.length > 4);
      assert.deepEqual(new Set(types.slice(1, -2)), new Set(["delta"]));

      const [started, message, completed] = [events[0], events.at(-2), events.at(-1)];
      assert.ok(started?.type === "started" && message?.type === "message");
      assert.ok(completed?.type === "completed");
      assert.equal(started.sessionId, sessionId);
      const text = events.map((e) => (e.type === "delta" ? e.text : "")).join("");
      assert.equal(text, MOCK + "stream please");
      assert.equal(completed.result.response, text);
      assert.equal(completed.result.messagesCount, 2);
      assert.equal(completed.result.sessionUuid, started.sessionUuid);
      assert.equal(completed.result.stopReason, "end_turn");
      assert.equal(completed.result.usage.totalTokens, 0);
      assert.equal(message.message.role, "assistant");
      assert.deepEqual(await api.messages.get(sessionId, message.message.id), message.message);
    });

    it("streams only the text deltas", async () => {
      const pieces = await collect(api.converseText({ messages: "just text" }));
      assert.ok(pieces.length > 1);
      assert.equal(pieces.join(""), MOCK + "just text");
    });

    it("throws typed errors with their reason and fields", async () => {
      const sessionId = uniqueId("errs");
      await api.sessions.create({ sessionId });
      await rejectsWith(api.sessions.get(uniqueId("missing")), Code.NotFound, "SESSION_NOT_FOUND");
      const exists = await rejectsWith(
        api.sessions.create({ sessionId }),
        Code.AlreadyExists,
        "SESSION_ALREADY_EXISTS",
      );
      assert.equal(exists.domain, "agentsessions.v1");
      assert.ok(exists.rawMessage.includes(sessionId));
      assert.ok(exists.message.startsWith("ALREADY_EXISTS [SESSION_ALREADY_EXISTS]: "));

      const invalid = await rejectsWith(
        api.sessions.create({ sessionId: "has space" }),
        Code.InvalidArgument,
        "INVALID_ARGUMENT",
      );
      assert.deepEqual(
        invalid.fieldViolations.map((v) => v.field),
        ["session_id"],
      );
      assert.ok(invalid.fieldViolations[0]?.description);
      const role = await rejectsWith(
        api.messages.create(sessionId, { role: "robot" as "user", content: "x" }),
        Code.InvalidArgument,
      );
      assert.ok(role.message.includes("role"), role.message);
      const empty = await rejectsWith(
        api.conversation({ sessionId, messages: [] }),
        Code.InvalidArgument,
      );
      assert.ok(empty.message.includes("messages"), empty.message);

      await api.sessions.deactivate(sessionId);
      const turn = { sessionId, messages: [{ role: "user" as const, content: "x" }] };
      await rejectsWith(api.conversation(turn), Code.FailedPrecondition, "SESSION_INACTIVE");
      await rejectsWith(collect(api.converse(turn)), Code.FailedPrecondition, "SESSION_INACTIVE");
      await rejectsWith(
        collect(api.converseText(turn)),
        Code.FailedPrecondition,
        "SESSION_INACTIVE",
      );
      assert.equal((await api.messages.listPage(sessionId)).totalSize, 0);
    });

    it("refuses a bad or missing token with UNAUTHENTICATED and its reason", async () => {
      for (const [token, reason] of [
        ["junk", "TOKEN_INVALID"],
        ["", "TOKEN_MISSING"],
      ] as const) {
        const bad = open(kind, token);
        try {
          const error = await rejectsWith(bad.api.sessions.listPage(), Code.Unauthenticated);
          assert.ok(error.reason?.startsWith("TOKEN_"), error.reason);
          assert.equal(error.reason, reason);
        } finally {
          bad.close();
        }
      }
    });

    it("shows another user's session as NOT_FOUND", async () => {
      const sessionId = uniqueId("mine");
      await api.sessions.create({ sessionId });
      const other = open(kind, OTHER_TOKEN);
      try {
        await rejectsWith(other.api.sessions.get(sessionId), Code.NotFound, "SESSION_NOT_FOUND");
        await rejectsWith(other.api.sessions.delete(sessionId), Code.NotFound);
        // The other user may own a session with the same id.
        await other.api.sessions.create({ sessionId });
        await other.api.sessions.delete(sessionId);
      } finally {
        other.close();
      }
      assert.equal((await api.sessions.get(sessionId)).sessionId, sessionId);
    });

    it("asks a token provider for a token before every call", async () => {
      let calls = 0;
      const provider = async (): Promise<string> => {
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 1));
        return TOKEN;
      };
      const client = open(kind, provider);
      try {
        const sessionId = uniqueId("provider");
        await client.api.sessions.create({ sessionId });
        await client.api.sessions.get(sessionId);
        await collect(
          client.api.converse({ sessionId, messages: [{ role: "user", content: "x" }] }),
        );
        await client.api.sessions.delete(sessionId);
        assert.equal(calls, 4);
        let syncCalls = 0;
        const sync = open(kind, () => {
          syncCalls++;
          return TOKEN;
        });
        await sync.api.sessions.listPage({ pageSize: 1 });
        await sync.api.sessions.listPage({ pageSize: 1 });
        sync.close();
        assert.equal(syncCalls, 2);
      } finally {
        client.close();
      }
    });

    it("honours per-call options: cancel signal, deadline, headers", async () => {
      const controller = new AbortController();
      controller.abort();
      await rejectsWith(api.sessions.listPage({}, { signal: controller.signal }), Code.Canceled);
      const options = { timeoutMs: 10_000, headers: { "x-request-id": uniqueId("req") } };
      assert.ok((await api.sessions.listPage({ pageSize: 1 }, options)).totalSize >= 0);
    });
  });
}
