/**
 * Which calls are retried comes from the protos: every RPC declares its idempotency_level, and
 * the gRPC client and the REST helper repeat a call on UNAVAILABLE exactly when the RPC behind it
 * is declared NO_SIDE_EFFECTS or IDEMPOTENT.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isFieldSet, type DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel, MethodOptionsSchema } from "@bufbuild/protobuf/wkt";
import {
  AgentSessionsClient,
  AgentSessionsRestClient,
  Code,
  type AgentSessionsApi,
} from "@agent-sessions/client";
import { MessageService } from "@agent-sessions/client/gen/agentsessions/v1/message_service_pb";
import { SessionService } from "@agent-sessions/client/gen/agentsessions/v1/session_service_pb";
import { FakeGrpcServer, status } from "./fake-grpc-server.js";
import { collect, rejectsWith } from "./support.js";

const METHODS: readonly DescMethod[] = [...SessionService.methods, ...MessageService.methods];
const RETRY = { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1 };

/** One call of each RPC through the clients' API. */
const CALLS: Record<string, (api: AgentSessionsApi) => Promise<unknown>> = {
  ListSessions: (api) => api.sessions.listPage(),
  CreateSession: (api) => api.sessions.create({ sessionId: "s" }),
  GetSession: (api) => api.sessions.get("s"),
  UpdateSession: (api) => api.sessions.update("s", { description: "d" }),
  DeleteSession: (api) => api.sessions.delete("s"),
  ActivateSession: (api) => api.sessions.activate("s"),
  DeactivateSession: (api) => api.sessions.deactivate("s"),
  ForkSession: (api) => api.sessions.fork("s"),
  RewindSession: (api) => api.sessions.rewind("s", "m"),
  Conversation: (api) => api.conversation({ messages: "hi" }),
  Converse: (api) => collect(api.converse({ messages: "hi" })),
  GetTurn: (api) => api.getTurn("s", "t"),
  CancelTurn: (api) => api.cancelTurn("s", "t"),
  ResumeTurn: (api) => collect(api.resumeTurn("s", "t")),
  // From a known seq: without one the watch reads the session's first (GetSession).
  WatchSession: (api) => collect(api.watchSession("s", { afterSeq: 0 })),
  ListMessages: (api) => api.messages.listPage("s"),
  CreateMessage: (api) => api.messages.create("s", { role: "user" }),
  BatchCreateMessages: (api) => api.messages.createBatch("s", [{ role: "user" }]),
  GetMessage: (api) => api.messages.get("s", "m"),
  UpdateMessage: (api) => api.messages.update("s", "m", { content: "c" }),
  DeleteMessage: (api) => api.messages.delete("s", "m"),
  ClearMessages: (api) => api.messages.clear("s"),
};

/** The attempts a call makes when every one answers UNAVAILABLE, by its RPC's declared level. */
function expectedAttempts(method: DescMethod): number {
  const unknown = method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN;
  return unknown ? 1 : RETRY.maxAttempts;
}

function call(api: AgentSessionsApi, method: DescMethod): Promise<unknown> {
  const run = CALLS[method.name];
  assert.ok(run, `no call of ${method.name} in CALLS`);
  return run(api);
}

describe("idempotency levels", () => {
  it("are declared on every RPC, IDEMPOTENCY_UNKNOWN included", () => {
    for (const method of METHODS) {
      const options = method.proto.options;
      assert.ok(
        options !== undefined && isFieldSet(options, MethodOptionsSchema.field.idempotencyLevel),
        `${method.parent.typeName}.${method.name} declares no idempotency_level`,
      );
    }
    assert.deepEqual(METHODS.map((m) => m.name).sort(), Object.keys(CALLS).sort());
  });

  describe("decide the gRPC client's retries", () => {
    let server: FakeGrpcServer;
    let client: AgentSessionsClient;

    before(async () => {
      server = new FakeGrpcServer(() => ({ status: status(Code.Unavailable, "down") }));
      client = new AgentSessionsClient({ baseUrl: await server.start(), retry: RETRY });
    });
    after(async () => {
      client.close();
      await server.stop();
    });

    for (const method of METHODS) {
      it(method.name, async () => {
        await rejectsWith(call(client, method), Code.Unavailable);
        assert.equal(server.count(method.name), expectedAttempts(method));
      });
    }
  });

  describe("decide the REST helper's retries", () => {
    for (const method of METHODS) {
      it(method.name, async () => {
        let attempts = 0;
        const fetch = async (): Promise<Response> => {
          attempts++;
          return new Response(JSON.stringify({ code: 14, message: "no healthy upstream" }), {
            status: 503,
            headers: { "content-type": "application/json" },
          });
        };
        const client = new AgentSessionsRestClient({
          baseUrl: "http://envoy.test",
          fetch,
          retry: RETRY,
        });
        await rejectsWith(call(client, method), Code.Unavailable);
        assert.equal(attempts, expectedAttempts(method));
      });
    }
  });
});
