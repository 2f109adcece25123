/** The examples, run as a user runs them, against the live service. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ENVOY_URL, GRPC_URL, MOCK, NO_LIVE_STACK, TOKEN } from "./support.js";

const run = promisify(execFile);
const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), "..", "examples");

async function example(
  name: string,
  env: Record<string, string>,
  ...args: string[]
): Promise<string> {
  const { AGENT_SESSIONS_GRPC_URL: _grpc, ...inherited } = process.env;
  const { stdout } = await run(process.execPath, [join(EXAMPLES, `${name}.js`), ...args], {
    env: { ...inherited, AGENT_SESSIONS_TOKEN: TOKEN, ...env },
    timeout: 30_000,
  });
  return stdout;
}

describe("examples", { skip: NO_LIVE_STACK }, () => {
  it("rest-quickstart creates a session and converses over REST", async () => {
    const out = await example("rest-quickstart", { AGENT_SESSIONS_URL: ENVOY_URL });
    assert.match(out, /^created session \S+$/m);
    assert.ok(out.includes(`${MOCK}Hello!`), out);
    assert.ok(out.includes("holds 2 messages"), out);
  });

  it("grpc-quickstart runs a turn, pages through messages and catches ALREADY_EXISTS", async () => {
    const out = await example("grpc-quickstart", { AGENT_SESSIONS_GRPC_URL: GRPC_URL });
    assert.ok(out.includes(`${MOCK}What is a session?`), out);
    assert.match(out, /^system +Answer briefly\.$/m);
    assert.match(out, /^assistant This is a mock/m);
    assert.ok(out.includes("as expected: SESSION_ALREADY_EXISTS"), out);
  });

  for (const [transport, env] of [
    ["REST", { AGENT_SESSIONS_URL: ENVOY_URL }],
    ["gRPC", { AGENT_SESSIONS_GRPC_URL: GRPC_URL }],
  ] as const) {
    it(`stream prints the reply as it arrives over ${transport}`, async () => {
      const out = await example("stream", env, "streamed", "words");
      assert.match(
        out,
        new RegExp(`^\\[session \\S+\\] ${MOCK}streamed words\\n\\[stored; 2 messages\\]\\n$`),
      );
    });
  }
});
