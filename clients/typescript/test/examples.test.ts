/** The examples, run as a user runs them, against the live service. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  ENVOY_URL,
  GRPC_URL,
  MOCK,
  NO_LIVE_STACK,
  NO_TOOLS_STACK,
  TOKEN,
  TOOLS_ENVOY_URL,
  TOOLS_GRPC_URL,
} from "./support.js";

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

describe("examples of models and tools", { skip: NO_LIVE_STACK || NO_TOOLS_STACK }, () => {
  it("real-model says when the service answers with its mock agent", async () => {
    const out = await example("real-model", { AGENT_SESSIONS_URL: ENVOY_URL }, "Hi");
    assert.ok(out.includes(`${MOCK}Hi\n[model default; usage: 0 in + 0 out = 0 tokens`), out);
    assert.ok(out.includes("[no tokens: the service answers with its mock agent"), out);
  });

  for (const [transport, env] of [
    ["REST", { AGENT_SESSIONS_URL: TOOLS_ENVOY_URL }],
    ["gRPC", { AGENT_SESSIONS_GRPC_URL: TOOLS_GRPC_URL }],
  ] as const) {
    it(`real-model prints tool events, the model and the usage over ${transport}`, async () => {
      const out = await example("real-model", env, "--model", "tiny-1b", "Time?");
      assert.match(out, /^\[session \S+\]\nChecking the clock. \n\[calls clock \{\}\]\n/);
      assert.ok(out.includes("[clock answered: 12:00]\nIt is 12:00 (model tiny-1b). "), out);
      assert.ok(out.includes("[model tiny-1b; usage: 12 in + 8 out = 20 tokens; 5 messages]"), out);
      assert.ok(!out.includes("no tokens"), out);
    });

    it(`caller-tools answers the agent's calls over ${transport}`, async () => {
      const out = await example("caller-tools", env, "Weather", "in", "Oslo?");
      assert.ok(out.includes('[the agent calls get_weather {"city": "Oslo"}]'), out);
      assert.ok(out.includes("agent: Done: get_weather said sunny, 21° celsius in Oslo.\n"), out);
      assert.ok(out.includes("[65 tokens in all turns; 5 messages]"), out);
      assert.match(out, /^ {5}tool get_weather#\S+: sunny, 21° celsius in Oslo$/m);
    });
  }
});
