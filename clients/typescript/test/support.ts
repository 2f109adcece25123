/** Shared by the tests: the live stack's addresses and tokens, clients, and error assertions. */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  AgentSessionsClient,
  AgentSessionsError,
  AgentSessionsRestClient,
  type AgentSessionsApi,
  type Code,
  type Credentials,
} from "@agent-sessions/client";

export const GRPC_URL = process.env["AGENT_SESSIONS_GRPC_URL"] ?? "";
export const ENVOY_URL = process.env["AGENT_SESSIONS_ENVOY_URL"] ?? "";
export const TOKEN = process.env["AGENT_SESSIONS_TOKEN"] ?? "";
export const OTHER_TOKEN = process.env["AGENT_SESSIONS_OTHER_TOKEN"] ?? "";

/** Why the live tests cannot run, or false when they can (pytest always sets everything). */
export const NO_LIVE_STACK: string | false =
  GRPC_URL && ENVOY_URL && TOKEN && OTHER_TOKEN
    ? false
    : "set AGENT_SESSIONS_GRPC_URL, _ENVOY_URL, _TOKEN and _OTHER_TOKEN (tests/test_typescript_client.py does)";

/**
 * A second server whose scripted agent calls tools and reports usage (tests/clients/agents.py):
 * its gRPC port and its Envoy.
 */
export const TOOLS_GRPC_URL = process.env["AGENT_SESSIONS_TOOLS_GRPC_URL"] ?? "";
export const TOOLS_ENVOY_URL = process.env["AGENT_SESSIONS_TOOLS_ENVOY_URL"] ?? "";

/** Why the tool-calling tests cannot run, or false when they can. */
export const NO_TOOLS_STACK: string | false =
  TOOLS_GRPC_URL && TOOLS_ENVOY_URL && TOKEN
    ? false
    : "set AGENT_SESSIONS_TOOLS_GRPC_URL, _TOOLS_ENVOY_URL and _TOKEN (tests/test_typescript_client.py does)";

export const MOCK = "This is a mock response to: ";

/** A session id no other test uses. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** The three ways to reach the service: gRPC direct, gRPC through Envoy, and REST. */
export type Kind = "grpc" | "grpc-envoy" | "rest";
export const KINDS: readonly Kind[] = ["grpc", "grpc-envoy", "rest"];

export interface Opened {
  api: AgentSessionsApi;
  close(): void;
}

export function open(
  kind: Kind,
  token: Credentials = TOKEN,
  urls: { grpc: string; envoy: string } = { grpc: GRPC_URL, envoy: ENVOY_URL },
): Opened {
  if (kind === "rest") {
    return { api: new AgentSessionsRestClient({ baseUrl: urls.envoy, token }), close() {} };
  }
  const client = new AgentSessionsClient({
    baseUrl: kind === "grpc" ? urls.grpc : urls.envoy,
    token,
  });
  return { api: client, close: () => client.close() };
}

/** A client of the server whose agent calls tools. */
export function openTools(kind: Kind, token: Credentials = TOKEN): Opened {
  return open(kind, token, { grpc: TOOLS_GRPC_URL, envoy: TOOLS_ENVOY_URL });
}

/** Asserts that `promise` fails with an AgentSessionsError of `code` (and `reason`). */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: Code,
  reason?: string,
): Promise<AgentSessionsError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AgentSessionsError, `not an AgentSessionsError: ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (reason !== undefined) assert.equal(error.reason, reason, error.message);
    return error;
  }
  assert.fail("the call succeeded but was expected to fail");
}

/** Every item of an async iterable. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
