/**
 * Streams a turn from the service's agent and prints what it used: a real model when the service
 * is configured with one (AGENT_SESSIONS_AGENT=openai and an OpenAI-compatible API),
 * the mock otherwise. Over REST (AGENT_SESSIONS_URL, default http://127.0.0.1:8000), or gRPC with
 * `--grpc` or AGENT_SESSIONS_GRPC_URL set; `--model NAME` gives the new session its own model.
 *
 *   AGENT_SESSIONS_TOKEN=... npm run example:real-model -- --model llama3.2 "Why is the sky blue?"
 */
import {
  AgentSessionsClient,
  AgentSessionsError,
  AgentSessionsRestClient,
  type AgentSessionsApi,
} from "@agent-sessions/client";

const args = process.argv.slice(2);
const modelFlag = args.indexOf("--model");
const model = modelFlag >= 0 ? args[modelFlag + 1] : undefined;
const flags = new Set(modelFlag >= 0 ? [modelFlag, modelFlag + 1] : []);
const words = args.filter((a, i) => a !== "--grpc" && !flags.has(i));
const prompt = words.join(" ") || "Say hello in five words.";
const useGrpc = args.includes("--grpc") || process.env["AGENT_SESSIONS_GRPC_URL"] !== undefined;
const token = process.env["AGENT_SESSIONS_TOKEN"] ?? "";

// A real model can take a while: allow two minutes per call.
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

try {
  const turn = {
    messages: prompt,
    sessionName: "Real model example",
    agentInstructions: "Answer briefly.",
    model,
  };
  for await (const event of client.converse(turn)) {
    switch (event.type) {
      case "started":
        process.stdout.write(`[session ${event.sessionId}]\n`);
        break;
      case "delta":
        process.stdout.write(event.text);
        break;
      case "toolCall":
        process.stdout.write(`\n[calls ${event.call.name} ${event.call.arguments}]\n`);
        break;
      case "toolResult":
        process.stdout.write(`[${event.result.name} answered: ${event.result.output}]\n`);
        break;
      case "message":
        break;
      case "completed": {
        // The session exists once its first turn is stored, not before.
        const session = await client.sessions.get(event.result.sessionId);
        const { inputTokens, outputTokens, totalTokens } = event.result.usage;
        process.stdout.write(
          `\n[model ${session.model ?? "default"}; usage: ${inputTokens} in + ${outputTokens} ` +
            `out = ${totalTokens} tokens; ${event.result.messagesCount} messages]\n`,
        );
        if (totalTokens === 0) {
          process.stdout.write(
            "[no tokens: the service answers with its mock agent; start it with " +
              "AGENT_SESSIONS_AGENT=openai for a real model]\n",
          );
        }
        break;
      }
    }
  }
} catch (error) {
  // MODEL_UNAVAILABLE, MODEL_RATE_LIMITED (retryDelayMs), MODEL_NOT_FOUND, …: nothing stored.
  const wait =
    error instanceof AgentSessionsError && error.retryDelayMs !== undefined
      ? ` (retry in ${error.retryDelayMs} ms)`
      : "";
  const text = error instanceof Error ? error.message : String(error);
  process.stderr.write(`\nthe turn failed: ${text}${wait}\n`);
  process.exitCode = 1;
} finally {
  grpc?.close();
}
