/**
 * The README's REST quickstart with the fetch-only helper (works the same in a browser): create
 * a session, then run a conversation turn in it.
 *
 *   AGENT_SESSIONS_TOKEN=$(../../.venv/bin/agent-sessions token --sub alice) npm run example:rest
 */
import { AgentSessionsRestClient } from "@agent-sessions/client/rest";

const client = new AgentSessionsRestClient({
  baseUrl: process.env["AGENT_SESSIONS_URL"] ?? "http://127.0.0.1:8000",
  token: process.env["AGENT_SESSIONS_TOKEN"] ?? "",
});

const session = await client.sessions.create({ sessionName: "Demo", agentName: "mock" });
console.log(`created session ${session.sessionId}`);

const reply = await client.conversation({
  sessionId: session.sessionId,
  messages: [{ role: "user", content: "Hello!" }],
});
console.log(reply.response);
console.log(`the session now holds ${reply.messagesCount} messages`);
