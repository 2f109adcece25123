/**
 * Caller tools by hand: the turn declares a function of this program; while the agent stops at
 * calls of it (`stopReason: "tool_calls"`), run them here and send the results in the next turn.
 * The same loop over REST (AGENT_SESSIONS_URL, default http://127.0.0.1:8000) or gRPC (`--grpc`
 * or AGENT_SESSIONS_GRPC_URL set). The service's agent must call tools: a real model with tool
 * calling (AGENT_SESSIONS_AGENT=openai); the mock never calls any.
 *
 *   AGENT_SESSIONS_TOKEN=... npm run example:caller-tools -- "What is the weather in Paris?"
 */
import {
  AgentSessionsClient,
  AgentSessionsRestClient,
  toolResult,
  type AgentSessionsApi,
  type ConversationMessage,
  type Tool,
  type ToolCall,
} from "@agent-sessions/client";

const args = process.argv.slice(2);
const prompt = args.filter((a) => a !== "--grpc").join(" ") || "What is the weather in Paris?";
const useGrpc = args.includes("--grpc") || process.env["AGENT_SESSIONS_GRPC_URL"] !== undefined;
const token = process.env["AGENT_SESSIONS_TOKEN"] ?? "";

const grpc = useGrpc
  ? new AgentSessionsClient({
      baseUrl: process.env["AGENT_SESSIONS_GRPC_URL"] ?? "http://127.0.0.1:50051",
      token,
      timeoutMs: 120_000,
    })
  : undefined;
const client: AgentSessionsApi =
  grpc ??
  new AgentSessionsRestClient({
    baseUrl: process.env["AGENT_SESSIONS_URL"] ?? "http://127.0.0.1:8000",
    token,
    timeoutMs: 120_000,
  });

/** The tool as the model sees it: a name, a description and a JSON Schema. */
const tools: Tool[] = [
  {
    name: "get_weather",
    description: "The current weather in a city.",
    parameters: {
      type: "object",
      properties: {
        city: { type: "string", description: 'The city\'s name, such as "Paris".' },
        unit: { type: "string", enum: ["celsius", "fahrenheit"] },
      },
      required: ["city"],
    },
  },
];

/** Runs one call here; an error becomes the result, so the model can react to it. */
function run(call: ToolCall): string {
  if (call.name !== "get_weather") return `Error: there is no tool named ${call.name}`;
  try {
    const { city, unit = "celsius" } = JSON.parse(call.arguments) as {
      city: string;
      unit?: string;
    };
    return `sunny, ${unit === "celsius" ? 21 : 70}° ${unit} in ${city}`;
  } catch (error) {
    return `Error: ${error instanceof Error ? error.message : String(error)}`;
  }
}

try {
  let messages: string | ConversationMessage[] = prompt;
  let sessionId: string | undefined;
  let usedTokens = 0;
  for (let round = 0; ; round++) {
    const result = await client.conversation({
      sessionId,
      sessionName: sessionId ? undefined : "Caller tools example",
      messages,
      tools, // declared again in every turn, so the agent can go on calling them
    });
    sessionId = result.sessionId;
    usedTokens += result.usage.totalTokens;
    if (result.stopReason !== "tool_calls") {
      console.log(`agent: ${result.response}`);
      console.log(`[${usedTokens} tokens in all turns; ${result.messagesCount} messages]`);
      break;
    }
    if (round === 10) throw new Error("the agent still calls tools after 10 rounds");
    for (const call of result.pendingToolCalls) {
      console.log(`[the agent calls ${call.name} ${call.arguments}]`);
    }
    // Every pending call must be answered in the next turn, or it is refused.
    messages = result.pendingToolCalls.map((call) => toolResult(call, run(call)));
  }

  for await (const message of client.messages.list(sessionId)) {
    const tool = message.toolCallId ? ` ${message.toolName}#${message.toolCallId}` : "";
    console.log(`${message.role.padStart(9)}${tool}: ${message.content}`);
  }
} finally {
  grpc?.close();
}
