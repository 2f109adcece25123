/**
 * Functions of this program as caller tools: `runTools()` runs a turn and answers the calls it
 * stops at until the agent is done (the TypeScript counterpart of the Python client's
 * `run_tools()`). Browser-safe: it only uses `conversation()` of either client.
 */
import type { AgentSessionsApi } from "./api.js";
import { type CallOptions, type ConversationMessage, type ConversationRequest, type ConversationResult, type Tool, type ToolCall } from "./types.js";
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
export declare class ToolRoundsExceeded extends Error {
    readonly name = "ToolRoundsExceeded";
    readonly maxRounds: number;
    readonly result: ConversationResult;
    constructor(maxRounds: number, result: ConversationResult);
}
/** The `Tool` declarations of `tools`, in the request's form. */
export declare function toolSpecs(tools: LocalTools): Tool[];
/**
 * Runs one call with its tool and returns the `tool` message that answers it. Never throws:
 * an unknown tool, arguments that are not a JSON object, or a tool that throws are answered
 * with the error's text, for the model to see.
 */
export declare function answerCall(tools: LocalTools, call: ToolCall): Promise<ConversationMessage>;
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
export declare function runTools(api: AgentSessionsApi, request: RunToolsRequest, options?: CallOptions): Promise<ConversationResult>;
//# sourceMappingURL=tools.d.ts.map