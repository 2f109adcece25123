/** The REST API's snake_case JSON ↔ the wrapper's types. */
import { AgentSessionsError, Code } from "../errors.js";
import { errorFromStatusJson } from "../status.js";
import { ROLES, turnMessages, type Role } from "../types.js";
import type * as t from "../types.js";
import type { RawWatchEvent } from "../resume.js";

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function malformed(what: string): AgentSessionsError {
  return new AgentSessionsError({
    code: Code.Internal,
    message: `the server's response is not a valid ${what}`,
  });
}

function object(value: unknown, what: string): JsonObject {
  if (!isObject(value)) throw malformed(what);
  return value;
}

function str(o: JsonObject, key: string): string {
  const value = o[key];
  return typeof value === "string" ? value : "";
}

/** An optional text field: absent or null is undefined. */
function optional(o: JsonObject, key: string): string | undefined {
  const value = o[key];
  return typeof value === "string" ? value : undefined;
}

function num(o: JsonObject, key: string): number {
  const value = o[key];
  if (typeof value === "number") return value;
  if (typeof value === "string" && value !== "") return Number(value);
  return 0;
}

function bool(o: JsonObject, key: string): boolean {
  return o[key] === true;
}

/**
 * An RFC 3339 timestamp as a Date. The fraction is cut to milliseconds first, since not every
 * JavaScript engine parses microseconds.
 */
export function parseTimestamp(value: unknown): Date {
  if (typeof value !== "string") return new Date(0);
  return new Date(value.replace(/(\.\d{3})\d+/, "$1"));
}

function role(value: unknown): Role {
  if (typeof value === "string" && (ROLES as readonly string[]).includes(value)) {
    return value as Role;
  }
  throw new AgentSessionsError({
    code: Code.Internal,
    message: `the server sent an unknown role (${String(value)}); update the client`,
  });
}

export function sessionFromJson(value: unknown): t.Session {
  const o = object(value, "Session");
  return {
    id: str(o, "id"),
    sessionId: str(o, "session_id"),
    sessionName: optional(o, "session_name"),
    description: optional(o, "description"),
    isActive: bool(o, "is_active"),
    userId: str(o, "user_id"),
    agentName: optional(o, "agent_name"),
    agentInstructions: optional(o, "agent_instructions"),
    model: optional(o, "model"),
    serverTools: optional(o, "server_tools"),
    createdAt: parseTimestamp(o["created_at"]),
    updatedAt: parseTimestamp(o["updated_at"]),
    etag: str(o, "etag"),
    seq: num(o, "seq"),
    labels: labels(o["labels"]),
    expireTime: typeof o["expire_time"] === "string" ? parseTimestamp(o["expire_time"]) : undefined,
    usage: usage(o["usage"]),
  };
}

function labels(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(value)) {
    for (const [key, label] of Object.entries(value)) {
      if (typeof label === "string") out[key] = label;
    }
  }
  return out;
}

function usage(value: unknown): t.SessionUsage {
  const o = isObject(value) ? value : {};
  return {
    inputTokens: num(o, "input_tokens"),
    outputTokens: num(o, "output_tokens"),
    totalTokens: num(o, "total_tokens"),
    turns: num(o, "turns"),
  };
}

export function messageFromJson(value: unknown): t.Message {
  const o = object(value, "Message");
  return {
    id: str(o, "id"),
    sessionId: str(o, "session_id"),
    sessionUuid: str(o, "session_uuid"),
    role: role(o["role"]),
    content: str(o, "content"),
    toolCallId: optional(o, "tool_call_id"),
    toolName: optional(o, "tool_name"),
    extraData: optional(o, "extra_data"),
    createdAt: parseTimestamp(o["created_at"]),
    updatedAt: parseTimestamp(o["updated_at"]),
    etag: str(o, "etag"),
    seq: num(o, "seq"),
  };
}

export function messagesFromJson(value: unknown): t.Message[] {
  return list(object(value, "BatchCreateMessagesResponse"), "messages").map(messageFromJson);
}

function list(o: JsonObject, key: string): unknown[] {
  const value = o[key];
  return Array.isArray(value) ? value : [];
}

export function sessionPageFromJson(value: unknown): t.SessionPage {
  const o = object(value, "ListSessionsResponse");
  return {
    sessions: list(o, "sessions").map(sessionFromJson),
    nextPageToken: str(o, "next_page_token"),
    totalSize: num(o, "total_size"),
  };
}

export function messagePageFromJson(value: unknown): t.MessagePage {
  const o = object(value, "ListMessagesResponse");
  return {
    messages: list(o, "messages").map(messageFromJson),
    nextPageToken: str(o, "next_page_token"),
    totalSize: num(o, "total_size"),
  };
}

function toolCallFromJson(value: unknown): t.ToolCall {
  const o = object(value, "ToolCall");
  return {
    toolCallId: str(o, "tool_call_id"),
    name: str(o, "name"),
    arguments: str(o, "arguments"),
  };
}

function toolResultFromJson(value: unknown): t.ToolResult {
  const o = object(value, "ToolResult");
  return { toolCallId: str(o, "tool_call_id"), name: str(o, "name"), output: str(o, "output") };
}

function usageFromJson(value: unknown): t.Usage {
  const o = isObject(value) ? value : {};
  return {
    inputTokens: num(o, "input_tokens"),
    outputTokens: num(o, "output_tokens"),
    totalTokens: num(o, "total_tokens"),
  };
}

export function resultFromJson(value: unknown): t.ConversationResult {
  const o = object(value, "ConversationResponse");
  return {
    sessionId: str(o, "session_id"),
    sessionUuid: str(o, "session_uuid"),
    response: str(o, "response"),
    messagesCount: num(o, "messages_count"),
    sessionActive: bool(o, "session_active"),
    // An older service sends none: its turns always end with the reply.
    stopReason: str(o, "stop_reason") || "end_turn",
    pendingToolCalls: list(o, "pending_tool_calls").map(toolCallFromJson),
    usage: usageFromJson(o["usage"]),
    turnId: str(o, "turn_id"),
  };
}

const TURN_STATUSES: readonly string[] = [
  "queued",
  "running",
  "completed",
  "failed",
  "cancelled",
  "lost",
] satisfies t.TurnStatus[];

export function turnFromJson(value: unknown): t.Turn {
  const o = object(value, "Turn");
  const status = o["status"];
  if (typeof status !== "string" || !TURN_STATUSES.includes(status)) {
    throw new AgentSessionsError({
      code: Code.Internal,
      message: `the server sent an unknown turn status (${String(status)}); update the client`,
    });
  }
  return {
    turnId: str(o, "turn_id"),
    sessionId: str(o, "session_id"),
    status: status as t.TurnStatus,
    requestId: str(o, "request_id") || undefined,
    createdAt: parseTimestamp(o["created_at"]),
    updatedAt: parseTimestamp(o["updated_at"]),
    result: isObject(o["result"]) ? resultFromJson(o["result"]) : undefined,
    error: isObject(o["error"])
      ? errorFromStatusJson(o["error"], Code.Unknown, "the turn failed")
      : undefined,
  };
}

/**
 * The wrapper's event for one SessionEvent JSON, the service's `error` event included (the
 * caller decides whether to watch again); undefined for a kind this client does not know.
 */
export function sessionEventFromJson(value: unknown): RawWatchEvent | undefined {
  const o = object(value, "SessionEvent");
  const seq = num(o, "seq");
  if (isObject(o["message"])) {
    return { type: "message", seq, message: messageFromJson(o["message"]) };
  }
  if (isObject(o["message_updated"])) {
    return { type: "messageUpdated", seq, message: messageFromJson(o["message_updated"]) };
  }
  if (isObject(o["message_deleted"])) {
    return { type: "messageDeleted", seq, messageId: str(o["message_deleted"], "message_id") };
  }
  if (isObject(o["cleared"])) {
    return { type: "cleared", seq, deletedCount: num(o["cleared"], "deleted_count") };
  }
  if (isObject(o["session"])) {
    return { type: "session", seq, session: sessionFromJson(o["session"]) };
  }
  if (isObject(o["deleted"])) {
    return o["seq"] === undefined ? { type: "deleted" } : { type: "deleted", seq };
  }
  if (isObject(o["turn"])) return { type: "turn", turn: turnFromJson(o["turn"]) };
  if (isObject(o["turn_delta"])) {
    const delta = o["turn_delta"];
    return {
      type: "turnDelta",
      turnId: str(delta, "turn_id"),
      seq: num(delta, "seq"),
      text: str(delta, "text"),
    };
  }
  if (isObject(o["heartbeat"])) return { type: "heartbeat" };
  if (isObject(o["error"])) {
    return { type: "error", error: errorFromStatusJson(o["error"], Code.Unknown, "watch ended") };
  }
  return undefined;
}

export function deletedCountFromJson(value: unknown): number {
  return num(object(value, "ClearMessagesResponse"), "deleted_count");
}

/**
 * The wrapper's event for one ConverseEvent JSON; undefined for an unknown kind of event. An
 * `error` event is thrown as its AgentSessionsError.
 */
export function eventFromJson(value: unknown): t.ConverseEvent | undefined {
  const o = object(value, "ConverseEvent");
  const seq = num(o, "seq");
  if (isObject(o["started"])) {
    const started = o["started"];
    return {
      seq,
      type: "started",
      sessionId: str(started, "session_id"),
      sessionUuid: str(started, "session_uuid"),
      turnId: str(started, "turn_id"),
    };
  }
  if (isObject(o["queued"])) {
    const queued = o["queued"];
    return {
      seq,
      type: "queued",
      turnId: str(queued, "turn_id"),
      position: num(queued, "position"),
    };
  }
  if (isObject(o["delta"])) return { seq, type: "delta", text: str(o["delta"], "text") };
  if (isObject(o["tool_call"])) {
    return { seq, type: "toolCall", call: toolCallFromJson(o["tool_call"]) };
  }
  if (isObject(o["tool_result"])) {
    return { seq, type: "toolResult", result: toolResultFromJson(o["tool_result"]) };
  }
  if (isObject(o["message"])) {
    return { seq, type: "message", message: messageFromJson(o["message"]) };
  }
  if (isObject(o["completed"])) {
    return { seq, type: "completed", result: resultFromJson(o["completed"]) };
  }
  if (isObject(o["error"])) {
    throw errorFromStatusJson(o["error"], Code.Unknown, "the turn failed");
  }
  return undefined;
}

/** A JSON body with only the fields that are set, under their snake_case names. */
export function body(fields: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) out[key] = value;
  }
  return out;
}

export function sessionChangesToJson(input: t.SessionChanges): JsonObject {
  return body({
    session_name: input.sessionName,
    description: input.description,
    agent_name: input.agentName,
    agent_instructions: input.agentInstructions,
    is_active: input.isActive,
    model: input.model,
    server_tools: input.serverTools,
    labels: input.labels,
    expire_time: input.expireTime?.toISOString(),
  });
}

export function newSessionFieldsToJson(input: t.NewSessionFields): JsonObject {
  return { ...sessionChangesToJson(input), ...body({ ttl: input.ttl }) };
}

export function newSessionToJson(input: t.CreateSessionInput): JsonObject {
  return { ...newSessionFieldsToJson(input), ...body({ session_id: input.sessionId }) };
}

export function messageInputToJson(
  input: t.CreateMessageInput | t.ConversationMessage | t.MessageChanges,
): JsonObject {
  return body({
    role: "role" in input ? input.role : undefined,
    content: input.content,
    tool_call_id: input.toolCallId,
    tool_name: input.toolName,
    extra_data: input.extraData,
  });
}

function toolToJson(tool: t.Tool): JsonObject {
  return body({
    name: tool.name,
    description: tool.description,
    parameters: tool.parameters,
  });
}

export function turnToJson(request: t.ConversationRequest, expectedSeq?: number): JsonObject {
  return body({
    expected_seq: expectedSeq,
    messages: turnMessages(request.messages).map(messageInputToJson),
    session_id: request.sessionId,
    session_name: request.sessionName,
    agent_name: request.agentName,
    agent_instructions: request.agentInstructions,
    model: request.model,
    server_tools: request.serverTools,
    tools: request.tools?.map(toolToJson),
    if_busy: request.ifBusy,
    detach: request.detach,
  });
}
