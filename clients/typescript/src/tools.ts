/**
 * Functions of this program as caller tools: `runTools()` runs a turn and answers the calls it
 * stops at until the agent is done (the TypeScript counterpart of the Python client's
 * `run_tools()`). Browser-safe: it only uses `conversation()` of either client.
 */
import type { AgentSessionsApi } from "./api.js";
import {
  toolResult,
  type CallOptions,
  type ConversationMessage,
  type ConversationRequest,
  type ConversationResult,
  type Tool,
  type ToolCall,
  type Usage,
} from "./types.js";

/** A function of this program the agent may call, as `runTools()` declares and runs it. */
export interface LocalTool {
  /** What it does, for the model. */
  description?: string;
  /** The JSON Schema object of its arguments, sent to the model as given. */
  parameters?: Record<string, unknown>;
  /**
   * Runs one call with the call's JSON arguments; may be async. The value is the call's
   * result: a string as it is, `undefined` or `null` as empty, anything else as JSON (or
   * `String(value)` when it is not JSON). A throw is sent as the result too
   * (`Error: <tool> failed: <class>: <message>`), for the model to see.
   */
  run(args: Record<string, unknown>, call: ToolCall): unknown;
}

/**
 * Tools by the name the model calls them: an object, or a Map (for names an object literal
 * cannot hold as its own keys, such as `__proto__`).
 */
export type LocalTools = Readonly<Record<string, LocalTool>> | ReadonlyMap<string, LocalTool>;

/** A `conversation()` request whose caller tools are functions of this program. */
export interface RunToolsRequest extends Omit<ConversationRequest, "tools"> {
  /** The tools by the name the model calls them. */
  tools: LocalTools;
  /** The most rounds of tool results sent before giving up (default 10). */
  maxRounds?: number;
}

/**
 * `runTools()` sent `maxRounds` rounds of tool results and the agent still calls tools.
 * `result` is the last turn's: its `pendingToolCalls` are stored and the session waits for
 * their results (answer them, for example with `runTools()` again and the results as its
 * `messages`).
 */
export class ToolRoundsExceeded extends Error {
  override readonly name = "ToolRoundsExceeded";
  readonly maxRounds: number;
  readonly result: ConversationResult;

  constructor(maxRounds: number, result: ConversationResult) {
    const waiting = result.pendingToolCalls.map((c) => c.toolCallId).join(", ");
    super(
      `the agent still calls tools after ${maxRounds} rounds of tool results (session ` +
        `${result.sessionId} waits for the results of ${waiting})`,
    );
    this.maxRounds = maxRounds;
    this.result = result;
  }
}

/** The tools as a Map (an object's own enumerable keys, in order). */
function toolMap(tools: LocalTools): ReadonlyMap<string, LocalTool> {
  return tools instanceof Map ? tools : new Map(Object.entries(tools));
}

/** The `Tool` declarations of `tools`, in the request's form. */
export function toolSpecs(tools: LocalTools): Tool[] {
  return [...toolMap(tools)].map(([name, tool]) => ({
    name,
    ...(tool.description === undefined ? {} : { description: tool.description }),
    ...(tool.parameters === undefined ? {} : { parameters: tool.parameters }),
  }));
}

/**
 * Runs one call with its tool and returns the `tool` message that answers it. Never throws:
 * an unknown tool, arguments that are not a JSON object, or a tool that throws are answered
 * with the error's text, for the model to see.
 */
export async function answerCall(tools: LocalTools, call: ToolCall): Promise<ConversationMessage> {
  const map = toolMap(tools);
  const tool = map.get(call.name);
  if (tool === undefined) {
    const known = [...map.keys()].join(", ") || "none";
    return toolResult(
      call,
      `Error: there is no tool named '${call.name}' (the tools are: ${known})`,
    );
  }
  let args: unknown;
  try {
    args = call.arguments.trim() ? JSON.parse(call.arguments) : {};
  } catch (error) {
    return toolResult(
      call,
      `Error: the arguments of ${call.name} are not JSON (${describe(error)})`,
    );
  }
  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    return toolResult(call, `Error: the arguments of ${call.name} must be a JSON object`);
  }
  try {
    return toolResult(call, text(await tool.run(args as Record<string, unknown>, call)));
  } catch (error) {
    return toolResult(call, `Error: ${call.name} failed: ${kind(error)}: ${describe(error)}`);
  }
}

/**
 * Runs a turn with functions of this program as caller tools until the agent is done.
 *
 * Sends the request with the tools declared, and while the turn stops at tool calls
 * (`stopReason: "tool_calls"`), runs each pending call's tool, one after another in the order
 * the model made them (as the Python client does), sends the results as `tool` messages in a
 * new turn of the same session, and repeats. Returns the last
 * turn's result (`stopReason: "end_turn"`), whose `usage` is summed over every turn the loop
 * ran. After `maxRounds` rounds of results it throws `ToolRoundsExceeded`. `options` apply to
 * each turn; each turn is a call of its own, with its own request id, retried as
 * `conversation()` is.
 */
export async function runTools(
  api: AgentSessionsApi,
  request: RunToolsRequest,
  options?: CallOptions,
): Promise<ConversationResult> {
  const { tools, maxRounds = 10, ...turn } = request;
  if (!Number.isInteger(maxRounds) || maxRounds < 0) {
    throw new RangeError(`maxRounds must be a whole number, 0 or more; got ${maxRounds}`);
  }
  const specs = toolSpecs(tools);
  // Only these: a caller's request id or expected seq cannot hold for every turn.
  options = { timeoutMs: options?.timeoutMs, signal: options?.signal, headers: options?.headers };
  let result = await api.conversation({ ...turn, tools: specs }, options);
  let usage = result.usage;
  for (let rounds = 0; result.stopReason === "tool_calls" && result.pendingToolCalls.length;) {
    if (rounds === maxRounds) throw new ToolRoundsExceeded(maxRounds, { ...result, usage });
    rounds++;
    const answers: ConversationMessage[] = [];
    for (const call of result.pendingToolCalls) answers.push(await answerCall(tools, call));
    result = await api.conversation(
      { sessionId: result.sessionId, messages: answers, tools: specs },
      options,
    );
    usage = add(usage, result.usage);
  }
  return { ...result, usage };
}

function add(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    totalTokens: a.totalTokens + b.totalTokens,
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The class of what was thrown: `TypeError`, a subclass's own name, or `string` and the like. */
function kind(error: unknown): string {
  if (error instanceof Error) {
    const own = (error.constructor as { name?: unknown } | undefined)?.name;
    return typeof own === "string" && own ? own : error.name;
  }
  return typeof error;
}

/** A tool's value as its result's text (see `LocalTool.run`). */
function text(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined || value === null) return "";
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
