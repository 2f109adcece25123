/**
 * Prints the agent's reply as it is produced. Uses gRPC when AGENT_SESSIONS_GRPC_URL is set (or
 * with `--grpc`), else the REST helper's text/event-stream.
 *
 *   AGENT_SESSIONS_TOKEN=... npm run example:stream -- "Tell me a story"
 */
import {
  AgentSessionsClient,
  AgentSessionsRestClient,
  type AgentSessionsApi,
} from "@agent-sessions/client";

const args = process.argv.slice(2);
const useGrpc = args.includes("--grpc") || process.env["AGENT_SESSIONS_GRPC_URL"] !== undefined;
const text = args.filter((a) => a !== "--grpc").join(" ") || "Tell me something.";
const token = process.env["AGENT_SESSIONS_TOKEN"] ?? "";

const grpc = useGrpc
  ? new AgentSessionsClient({
      baseUrl: process.env["AGENT_SESSIONS_GRPC_URL"] ?? "http://127.0.0.1:50051",
      token,
    })
  : undefined;
const client: AgentSessionsApi =
  grpc ??
  new AgentSessionsRestClient({
    baseUrl: process.env["AGENT_SESSIONS_URL"] ?? "http://127.0.0.1:8000",
    token,
  });

try {
  for await (const event of client.converse({ messages: [{ role: "user", content: text }] })) {
    switch (event.type) {
      case "started":
        process.stdout.write(`[session ${event.sessionId}] `);
        break;
      case "delta":
        process.stdout.write(event.text);
        break;
      case "completed":
        process.stdout.write(`\n[stored; ${event.result.messagesCount} messages]\n`);
        break;
      case "message":
        break;
    }
  }
} catch (error) {
  // A turn that fails midway throws; nothing of it was stored, so it can be sent again.
  process.stdout.write(`\n[failed: ${error instanceof Error ? error.message : String(error)}]\n`);
  process.exitCode = 1;
} finally {
  grpc?.close();
}
