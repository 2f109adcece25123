/** Generated protobuf messages ↔ the wrapper's plain types. */
import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { AgentSessionsError, Code } from "../errors.js";
import { requestId } from "../retry.js";
import { turnMessages } from "../types.js";
import type * as t from "../types.js";
import { Role, type Message, type Session } from "../gen/agentsessions/v1/resources_pb.js";
import {
  IfBusy,
  TurnStatus,
  type ConversationMessageSchema,
  type ConversationResponse,
  type ConverseEvent,
  type SessionEvent,
  type ToolCall,
  type ToolSchema,
  type Turn,
  type Usage,
} from "../gen/agentsessions/v1/session_service_pb.js";
import type { RawWatchEvent } from "../resume.js";
import { errorFromStatus } from "./errors.js";

/**
 * The proto enum value of a role; anything else is sent as `role_unspecified`, which the
 * server refuses with INVALID_ARGUMENT naming the field, as it does over REST.
 */
export function roleToProto(role: t.Role): Role {
  switch (role) {
    case "user":
      return Role.user;
    case "assistant":
      return Role.assistant;
    case "system":
      return Role.system;
    case "tool":
      return Role.tool;
    default:
      return Role.role_unspecified;
  }
}

export function roleFromProto(role: Role): t.Role {
  switch (role) {
    case Role.user:
      return "user";
    case Role.assistant:
      return "assistant";
    case Role.system:
      return "system";
    case Role.tool:
      return "tool";
    default:
      throw new AgentSessionsError({
        code: Code.Internal,
        message: `the server sent an unknown role (${String(role)}); update the client`,
      });
  }
}

function date(timestamp: Timestamp | undefined): Date {
  return timestamp ? timestampDate(timestamp) : new Date(0);
}

export function sessionFromProto(s: Session): t.Session {
  return {
    id: s.id,
    sessionId: s.sessionId,
    sessionName: s.sessionName,
    description: s.description,
    isActive: s.isActive,
    userId: s.userId,
    agentName: s.agentName,
    agentInstructions: s.agentInstructions,
    model: s.model,
    serverTools: s.serverTools,
    createdAt: date(s.createdAt),
    updatedAt: date(s.updatedAt),
    etag: s.etag,
    seq: s.seq,
    labels: { ...s.labels },
    expireTime: s.expireTime ? timestampDate(s.expireTime) : undefined,
    usage: {
      inputTokens: s.usage?.inputTokens ?? 0,
      outputTokens: s.usage?.outputTokens ?? 0,
      totalTokens: s.usage?.totalTokens ?? 0,
      turns: s.usage?.turns ?? 0,
    },
  };
}

/** A Date as a proto Timestamp; undefined stays undefined. */
export function timestampOf(value: Date | undefined): Timestamp | undefined {
  return value === undefined ? undefined : timestampFromDate(value);
}

/** A batch's `createSession` as the NewSession message (labels and expiry included). */
export function newSessionToProto(fields: t.NewSessionFields | undefined):
  | (Omit<t.NewSessionFields, "expireTime" | "labels"> & {
      labels: Record<string, string>;
      expireTime?: Timestamp;
    })
  | undefined {
  if (fields === undefined) return undefined;
  return { ...fields, labels: fields.labels ?? {}, expireTime: timestampOf(fields.expireTime) };
}

export function messageFromProto(m: Message): t.Message {
  return {
    id: m.id,
    sessionId: m.sessionId,
    sessionUuid: m.sessionUuid,
    role: roleFromProto(m.role),
    content: m.content,
    toolCallId: m.toolCallId,
    toolName: m.toolName,
    extraData: m.extraData,
    createdAt: date(m.createdAt),
    updatedAt: date(m.updatedAt),
    etag: m.etag,
    seq: m.seq,
  };
}

function toolCallFromProto(c: ToolCall): t.ToolCall {
  return { toolCallId: c.toolCallId, name: c.name, arguments: c.arguments };
}

function usageFromProto(u: Usage | undefined): t.Usage {
  return {
    inputTokens: u?.inputTokens ?? 0,
    outputTokens: u?.outputTokens ?? 0,
    totalTokens: u?.totalTokens ?? 0,
  };
}

export function resultFromProto(r: ConversationResponse): t.ConversationResult {
  return {
    sessionId: r.sessionId,
    sessionUuid: r.sessionUuid,
    response: r.response,
    messagesCount: r.messagesCount,
    sessionActive: r.sessionActive,
    // An older service sends none: its turns always end with the reply.
    stopReason: r.stopReason || "end_turn",
    pendingToolCalls: r.pendingToolCalls.map(toolCallFromProto),
    usage: usageFromProto(r.usage),
    turnId: r.turnId,
  };
}

const TURN_STATUSES: Record<TurnStatus, t.TurnStatus | undefined> = {
  [TurnStatus.turn_status_unspecified]: undefined,
  [TurnStatus.queued]: "queued",
  [TurnStatus.running]: "running",
  [TurnStatus.completed]: "completed",
  [TurnStatus.failed]: "failed",
  [TurnStatus.cancelled]: "cancelled",
  [TurnStatus.lost]: "lost",
};

export function turnFromProto(turn: Turn): t.Turn {
  const status = TURN_STATUSES[turn.status];
  if (status === undefined) {
    throw new AgentSessionsError({
      code: Code.Internal,
      message: `the server sent an unknown turn status (${String(turn.status)}); update the client`,
    });
  }
  return {
    turnId: turn.turnId,
    sessionId: turn.sessionId,
    status,
    requestId: turn.requestId || undefined,
    createdAt: date(turn.createdAt),
    updatedAt: date(turn.updatedAt),
    result: turn.result ? resultFromProto(turn.result) : undefined,
    error: turn.error ? errorFromStatus(turn.error) : undefined,
  };
}

/**
 * The wrapper's event for a watch's proto event, the service's `error` event included (the
 * caller decides whether to watch again); undefined for a kind this client does not know.
 */
export function sessionEventFromProto(e: SessionEvent): RawWatchEvent | undefined {
  const seq = e.seq ?? 0;
  switch (e.event.case) {
    case "message":
      return { type: "message", seq, message: messageFromProto(e.event.value) };
    case "messageUpdated":
      return { type: "messageUpdated", seq, message: messageFromProto(e.event.value) };
    case "messageDeleted":
      return { type: "messageDeleted", seq, messageId: e.event.value.messageId };
    case "cleared":
      return { type: "cleared", seq, deletedCount: e.event.value.deletedCount };
    case "session":
      return { type: "session", seq, session: sessionFromProto(e.event.value) };
    case "deleted":
      return e.seq === undefined ? { type: "deleted" } : { type: "deleted", seq };
    case "turn":
      return { type: "turn", turn: turnFromProto(e.event.value) };
    case "turnDelta": {
      const { turnId, seq: turnSeq, text } = e.event.value;
      return { type: "turnDelta", turnId, seq: turnSeq, text };
    }
    case "heartbeat":
      return { type: "heartbeat" };
    case "error":
      return { type: "error", error: errorFromStatus(e.event.value) };
    default:
      return undefined;
  }
}

/**
 * The wrapper's event for a proto event; undefined for an event kind this client does not know
 * (added by a newer service). An `error` event is thrown as its AgentSessionsError.
 */
export function eventFromProto(e: ConverseEvent): t.ConverseEvent | undefined {
  const seq = e.seq;
  switch (e.event.case) {
    case "started":
      return {
        seq,
        type: "started",
        sessionId: e.event.value.sessionId,
        sessionUuid: e.event.value.sessionUuid,
        turnId: e.event.value.turnId,
      };
    case "queued":
      return {
        seq,
        type: "queued",
        turnId: e.event.value.turnId,
        position: e.event.value.position,
      };
    case "delta":
      return { seq, type: "delta", text: e.event.value.text };
    case "toolCall":
      return { seq, type: "toolCall", call: toolCallFromProto(e.event.value) };
    case "toolResult": {
      const { toolCallId, name, output } = e.event.value;
      return { seq, type: "toolResult", result: { toolCallId, name, output } };
    }
    case "message":
      return { seq, type: "message", message: messageFromProto(e.event.value) };
    case "completed":
      return { seq, type: "completed", result: resultFromProto(e.event.value) };
    case "error":
      throw errorFromStatus(e.event.value);
    default:
      return undefined;
  }
}

/** The fields of a new message, as ConversationMessage, NewMessage and CreateMessage take them. */
export function newMessageToProto(m: t.ConversationMessage): {
  role: Role;
  content: string;
  toolCallId?: string;
  toolName?: string;
  extraData?: string;
} {
  return {
    role: roleToProto(m.role),
    content: m.content ?? "",
    toolCallId: m.toolCallId,
    toolName: m.toolName,
    extraData: m.extraData,
  };
}

function toolToProto(tool: t.Tool): MessageInitShape<typeof ToolSchema> {
  return {
    name: tool.name,
    description: tool.description ?? "",
    parameters: tool.parameters as JsonObject | undefined,
  };
}

/**
 * The fields shared by ConversationRequest and ConverseRequest, with the call's request id (made
 * here, once per call) and expected seq.
 */
export function turnToProto(
  request: t.ConversationRequest,
  options: t.AppendOptions | undefined,
): {
  messages: MessageInitShape<typeof ConversationMessageSchema>[];
  sessionId: string;
  sessionName?: string;
  agentName?: string;
  agentInstructions?: string;
  model?: string;
  serverTools?: string;
  tools: MessageInitShape<typeof ToolSchema>[];
  requestId: string;
  expectedSeq?: number;
  ifBusy: IfBusy;
  detach: boolean;
} {
  return {
    messages: turnMessages(request.messages).map(newMessageToProto),
    sessionId: request.sessionId ?? "",
    sessionName: request.sessionName,
    agentName: request.agentName,
    agentInstructions: request.agentInstructions,
    model: request.model,
    serverTools: request.serverTools,
    tools: (request.tools ?? []).map(toolToProto),
    requestId: requestId(options),
    expectedSeq: options?.expectedSeq,
    ifBusy: ifBusyToProto(request.ifBusy),
    detach: request.detach ?? false,
  };
}

/** The proto enum value of `ifBusy`; anything else is refused here, as the server would. */
function ifBusyToProto(ifBusy: t.IfBusy | undefined): IfBusy {
  switch (ifBusy) {
    case undefined:
      return IfBusy.if_busy_unspecified;
    case "enqueue":
      return IfBusy.enqueue;
    case "reject":
      return IfBusy.reject;
    case "interrupt":
      return IfBusy.interrupt;
    default:
      throw new AgentSessionsError({
        code: Code.InvalidArgument,
        message: `ifBusy must be enqueue, reject or interrupt, got ${String(ifBusy)}`,
      });
  }
}
