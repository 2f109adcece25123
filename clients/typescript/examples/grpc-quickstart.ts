/**
 * The gRPC client (Node): sessions, messages, pages, a conversation turn and a typed error.
 *
 *   AGENT_SESSIONS_TOKEN=$(../../.venv/bin/agent-sessions token --sub alice) npm run example:grpc
 */
import { AgentSessionsClient, AgentSessionsError, Code } from "@agent-sessions/client";

const client = new AgentSessionsClient({
  baseUrl: process.env["AGENT_SESSIONS_GRPC_URL"] ?? "http://127.0.0.1:50051",
  // A provider is asked before every call, so it can hand out a refreshed token.
  token: () => process.env["AGENT_SESSIONS_TOKEN"] ?? "",
  timeoutMs: 10_000,
});

try {
  const session = await client.sessions.create({ sessionName: "gRPC demo" });
  await client.messages.create(session.sessionId, {
    role: "system",
    content: "Answer briefly.",
    extraData: JSON.stringify({ source: "example" }),
  });
  const turn = await client.conversation({
    sessionId: session.sessionId,
    messages: [{ role: "user", content: "What is a session?" }],
  });
  console.log(turn.response);

  for await (const message of client.messages.list(session.sessionId, { pageSize: 2 })) {
    console.log(`${message.role.padEnd(9)} ${message.content}`);
  }

  try {
    await client.sessions.create({ sessionId: session.sessionId });
  } catch (error) {
    if (error instanceof AgentSessionsError && error.code === Code.AlreadyExists) {
      console.log(`as expected: ${error.reason}`);
    } else {
      throw error;
    }
  }
  await client.sessions.delete(session.sessionId);
} finally {
  client.close();
}
