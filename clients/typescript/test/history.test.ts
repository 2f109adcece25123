/**
 * Labels, expiry, usage, forks and rewinds on the live service, over gRPC direct, gRPC through
 * Envoy and REST: each field reaches the server and comes back.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, type AgentSessionsApi } from "@agent-sessions/client";
import { KINDS, NO_LIVE_STACK, open, rejectsWith, uniqueId, type Opened } from "./support.js";

const DAY_MS = 86_400_000;

for (const kind of KINDS) {
  describe(`history over ${kind}`, { skip: NO_LIVE_STACK }, () => {
    let opened: Opened;
    let api: AgentSessionsApi;
    before(() => {
      opened = open(kind);
      api = opened.api;
    });
    after(() => opened.close());

    it("creates, replaces, clears and filters by labels", async () => {
      const team = uniqueId("team");
      const gold = uniqueId("gold");
      const silver = uniqueId("silver");
      const created = await api.sessions.create({
        sessionId: gold,
        labels: { team, tier: "gold" },
      });
      assert.deepEqual(created.labels, { team, tier: "gold" });
      await api.sessions.create({ sessionId: silver, labels: { team, tier: "silver" } });
      assert.deepEqual((await api.sessions.get(gold)).labels, { team, tier: "gold" });
      assert.deepEqual((await api.sessions.create({})).labels, {});

      const listed = async (labels: Record<string, string>): Promise<string[]> => {
        const ids: string[] = [];
        for await (const s of api.sessions.list({ labels, pageSize: 1 })) ids.push(s.sessionId);
        return ids;
      };
      assert.deepEqual(await listed({ team }), [silver, gold]);
      assert.deepEqual(await listed({ team, tier: "gold" }), [gold]);
      assert.equal(
        (await api.sessions.listPage({ labels: { team, tier: "silver" } })).totalSize,
        1,
      );

      const kept = await api.sessions.update(gold, { description: "d" });
      assert.deepEqual(kept.labels, { team, tier: "gold" });
      const replaced = await api.sessions.update(gold, { labels: { team, tier: "bronze" } });
      assert.deepEqual(replaced.labels, { team, tier: "bronze" });
      assert.deepEqual(await listed({ team, tier: "gold" }), []);
      const cleared = await api.sessions.update(gold, { labels: {} });
      assert.deepEqual(cleared.labels, {});
      assert.deepEqual((await api.sessions.get(gold)).labels, {});
      assert.deepEqual(await listed({ team }), [silver]);

      const bad = await rejectsWith(
        api.sessions.create({ labels: { "Bad Key": "x" } }),
        Code.InvalidArgument,
      );
      assert.deepEqual(
        bad.fieldViolations.map((v) => v.field),
        ["labels[Bad Key]"],
      );
    });

    it("sets and moves the expiry, by time or ttl", async () => {
      const never = await api.sessions.create({});
      assert.equal(never.expireTime, undefined);
      const at = new Date(Date.now() + 3 * DAY_MS);
      at.setUTCMilliseconds(123);
      const dated = await api.sessions.create({ expireTime: at });
      assert.equal(dated.expireTime?.getTime(), at.getTime());
      assert.equal((await api.sessions.get(dated.sessionId)).expireTime?.getTime(), at.getTime());

      const timed = await api.sessions.create({ ttl: 3600 });
      assert.ok(timed.expireTime);
      const lifetime = timed.expireTime.getTime() - timed.createdAt.getTime();
      assert.ok(Math.abs(lifetime - 3_600_000) <= 1, `lifetime ${lifetime} ms`);
      await rejectsWith(api.sessions.create({ expireTime: at, ttl: 60 }), Code.InvalidArgument);

      const later = new Date(at.getTime() + DAY_MS);
      const moved = await api.sessions.update(never.sessionId, { expireTime: later });
      assert.equal(moved.expireTime?.getTime(), later.getTime());
      await api.sessions.update(dated.sessionId, { expireTime: new Date(Date.now() - DAY_MS) });
      await rejectsWith(api.sessions.get(dated.sessionId), Code.NotFound, "SESSION_NOT_FOUND");
    });

    it("counts turns in usage, forks and rewinds", async () => {
      const sessionId = uniqueId("hist");
      const created = await api.sessions.create({ sessionId, labels: { kind: "source" } });
      assert.deepEqual(created.usage, {
        inputTokens: 0,
        outputTokens: 0,
        totalTokens: 0,
        turns: 0,
      });
      await api.conversation({ sessionId, messages: "first" });
      await api.conversation({ sessionId, messages: "second" });
      const session = await api.sessions.get(sessionId);
      assert.deepEqual(session.usage, {
        inputTokens: 0,
        outputTokens: 0,
        totalTokens: 0,
        turns: 2,
      });
      const messages = (await api.messages.listPage(sessionId)).messages;
      assert.equal(messages.length, 4);

      const forkId = uniqueId("fork");
      const fork = await api.sessions.fork(sessionId, {
        newSessionId: forkId,
        upToMessageId: messages[1]!.id,
        sessionName: "Fork",
      });
      assert.deepEqual(
        [fork.sessionId, fork.sessionName, fork.seq, fork.usage.turns],
        [forkId, "Fork", 2, 0],
      );
      assert.deepEqual(fork.labels, { kind: "source" });
      assert.deepEqual(
        (await api.messages.listPage(forkId)).messages.map((m) => m.content),
        messages.slice(0, 2).map((m) => m.content),
      );

      await rejectsWith(
        api.sessions.rewind(sessionId, messages[1]!.id, { expectedSeq: session.seq - 1 }),
        Code.Aborted,
        "SESSION_CHANGED",
      );
      const rewound = await api.sessions.rewind(sessionId, messages[1]!.id, {
        etag: session.etag,
        expectedSeq: session.seq,
      });
      assert.equal(rewound.seq, session.seq + 2);
      assert.equal(rewound.usage.turns, 2);
      assert.deepEqual(
        (await api.messages.listPage(sessionId)).messages.map((m) => m.id),
        messages.slice(0, 2).map((m) => m.id),
      );
    });
  });
}
