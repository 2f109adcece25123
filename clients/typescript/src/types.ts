/**
 * The wrapper's data types, shared by the gRPC client and the REST helper: camelCase fields,
 * roles as lower-case strings, timestamps as `Date`s.
 */
import type { AgentSessionsError } from "./errors.js";

/** Who wrote a message. */
export type Role = "user" | "assistant" | "system" | "tool";

/** Every role, in the order of the proto enum. */
export const ROLES: readonly Role[] = ["user", "assistant", "system", "tool"];

/** The messages of a turn: a string is one `user` message. */
export function turnMessages(messages: string | ConversationMessage[]): ConversationMessage[] {
  return typeof messages === "string" ? [{ role: "user", content: messages }] : messages;
}

/** ListSessions' `label` filters: one `key:value` per label. */
export function labelFilters(labels: Record<string, string> | undefined): string[] {
  return Object.entries(labels ?? {}).map(([key, value]) => `${key}:${value}`);
}

/** A conversation with an AI agent, owned by one user. */
export interface Session {
  /** The server-assigned UUID. */
  id: string;
  /** The caller-chosen id, unique per user and immutable. */
  sessionId: string;
  sessionName?: string;
  description?: string;
  isActive: boolean;
  /** The UUID of the owning user. */
  userId: string;
  agentName?: string;
  agentInstructions?: string;
  /** The model the session's agent runs on; absent means the server's default. */
  model?: string;
  /**
   * Which server (MCP) tools the agent may call: absent means all of them, `none` none,
   * otherwise a comma-separated list of `server` or `server/tool` entries.
   */
  serverTools?: string;
  /** Millisecond precision (the server keeps microseconds). */
  createdAt: Date;
  updatedAt: Date;
  /**
   * Changes on every change of the session (its messages included): pass it as `{ etag }` to
   * change or delete the session only if nobody changed it since (else ABORTED, ETAG_MISMATCH).
   */
  etag: string;
  /**
   * The session's change counter: every committed change of the session or of its messages
   * takes the next value. Pass it as `{ expectedSeq }` to append only if nothing changed since
   * (else ABORTED, SESSION_CHANGED).
   */
  seq: number;
  /** String labels to find the session by (`list({ labels })`); `{}` when it has none. */
  labels: Record<string, string>;
  /** When the session expires (from then on it is gone); absent: never. */
  expireTime?: Date;
  /** The tokens the session's stored turns used, and how many turns that is. */
  usage: SessionUsage;
}

/**
 * Sums over a session's stored conversation turns (a turn of an agent that reports no usage
 * counts as a turn with 0 tokens; batches and single messages are not turns). A fork starts at
 * zero; a rewind lowers nothing.
 */
export interface SessionUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  turns: number;
}

/** One message of a session. */
export interface Message {
  /** The server-assigned UUID. */
  id: string;
  /** The caller-chosen id of the session. */
  sessionId: string;
  /** The UUID of the session. */
  sessionUuid: string;
  role: Role;
  content: string;
  toolCallId?: string;
  toolName?: string;
  /** JSON text, for example `{"edited": true}`; stored exactly as sent. */
  extraData?: string;
  createdAt: Date;
  updatedAt: Date;
  /** Changes on every change of the message: pass it as `{ etag }` to change or delete it. */
  etag: string;
  /** The session's `seq` at which the message was stored: its place in the session's order. */
  seq: number;
}

/** The fields of a new session; all optional (`sessionId` is generated when absent). */
export interface CreateSessionInput extends NewSessionFields {
  sessionId?: string;
}

/** The fields of a session created with its first messages (`createBatch`'s `createSession`). */
export interface NewSessionFields {
  sessionName?: string;
  description?: string;
  agentName?: string;
  agentInstructions?: string;
  /** True when absent. */
  isActive?: boolean;
  /** The model of the session's agent; absent: the server's default. */
  model?: string;
  /** The server tools the agent may call (see `Session.serverTools`); absent: all. */
  serverTools?: string;
  /**
   * At most 64, keys matching `^[a-z][a-z0-9_.-]{0,62}$`, values of at most 256 characters.
   */
  labels?: Record<string, string>;
  /** When the session expires; not with `ttl`. Neither: the server's default, if any. */
  expireTime?: Date;
  /** The session expires this many seconds after its creation (1 to 3153600000). */
  ttl?: number;
}

/** The fields to change; absent fields keep their values, an empty string removes a text field. */
export interface SessionChanges {
  sessionName?: string;
  description?: string;
  agentName?: string;
  agentInstructions?: string;
  isActive?: boolean;
  /** `""` returns the session to the server's default model. */
  model?: string;
  /** `""` allows every server tool again. */
  serverTools?: string;
  /** Replaces every label; `{}` removes them all. */
  labels?: Record<string, string>;
  /** Moves the expiry (a time in the past ends the session at once; it cannot be removed). */
  expireTime?: Date;
}

/** Filters and paging of a session list. */
export interface ListSessionsOptions {
  /** 0 or absent means 50; above 1000 is capped at 1000. */
  pageSize?: number;
  /** The `nextPageToken` of a previous page with the same filters. */
  pageToken?: string;
  isActive?: boolean;
  agentName?: string;
  /** Only sessions that have every one of these labels (one `key:value` filter each). */
  labels?: Record<string, string>;
}

/** One page of sessions, newest created first. */
export interface SessionPage {
  sessions: Session[];
  /** Empty on the last page. */
  nextPageToken: string;
  /** How many sessions the filters select, regardless of the page. */
  totalSize: number;
}

/** A new message. */
export interface CreateMessageInput {
  role: Role;
  content?: string;
  toolCallId?: string;
  toolName?: string;
  /** JSON text; text that is not JSON is refused. */
  extraData?: string;
}

/**
 * The fields of a message to change; absent fields keep their values. `extraData` must be JSON
 * text (`"null"` says there is none); an empty string is refused.
 */
export interface MessageChanges {
  content?: string;
  extraData?: string;
  toolCallId?: string;
  toolName?: string;
}

/** `asc`: insertion order (the default); `desc`: the most recent first. */
export type MessageOrder = "asc" | "desc";

/** Paging of a message list. */
export interface ListMessagesOptions {
  pageSize?: number;
  pageToken?: string;
  order?: MessageOrder;
}

/** One page of messages. */
export interface MessagePage {
  messages: Message[];
  nextPageToken: string;
  /** The number of messages in the session. */
  totalSize: number;
}

/** One message sent to the agent in a conversation turn. */
export interface ConversationMessage {
  role: Role;
  content?: string;
  toolCallId?: string;
  toolName?: string;
  extraData?: string;
}

/**
 * A tool the caller declares in a turn and runs itself (a caller tool). When the model calls
 * it, the turn ends with `stopReason: "tool_calls"` and the call in `pendingToolCalls`.
 */
export interface Tool {
  /** The name the model calls it by. */
  name: string;
  /** What it does, for the model. */
  description?: string;
  /** The JSON Schema object of its arguments, as a plain object; sent to the model as given. */
  parameters?: Record<string, unknown>;
}

/** A call the model made to a tool. */
export interface ToolCall {
  /** Answer it with a `tool` message with this id: `toolResult(call, output)`. */
  toolCallId: string;
  name: string;
  /** The arguments, as JSON text. */
  arguments: string;
}

/** What a server tool answered. */
export interface ToolResult {
  toolCallId: string;
  name: string;
  output: string;
}

/** The tokens a turn's model calls used, summed over the turn (0 for the mock agent). */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

/**
 * The `tool` message that answers a call, for the next turn's `messages` (the service fills in
 * the tool's name).
 */
export function toolResult(call: ToolCall | string, output: string): ConversationMessage {
  return {
    role: "tool",
    toolCallId: typeof call === "string" ? call : call.toolCallId,
    content: output,
  };
}

/** A conversation turn: the messages to store, then the agent replies. */
export interface ConversationRequest {
  /** At least one; a string is one `user` message. */
  messages: string | ConversationMessage[];
  /** Empty or absent: a new session with a generated id; unknown: a new session with this id. */
  sessionId?: string;
  /** The name of a session this turn creates. */
  sessionName?: string;
  agentName?: string;
  agentInstructions?: string;
  /** The model of a session this turn creates; absent: the server's default. */
  model?: string;
  /** The server tools the agent of a session this turn creates may call. */
  serverTools?: string;
  /** Caller tools for this turn; send them again with the results of their calls. */
  tools?: Tool[];
  /**
   * What the turn does when its session runs another one: wait its turn (`enqueue`, the
   * default; `queued` events tell its place), fail (`reject`: ABORTED, SESSION_BUSY, the running
   * turn's id in `metadata.turn_id`) or cancel the running one (`interrupt`).
   */
  ifBusy?: IfBusy;
  /**
   * True: the turn runs to its end even if the caller goes away (read it with `getTurn`,
   * `resumeTurn` or `watchSession`). False or absent: the service cancels it when the caller's
   * connection is gone.
   */
  detach?: boolean;
}

/** See `ConversationRequest.ifBusy`. */
export type IfBusy = "enqueue" | "reject" | "interrupt";

/**
 * Why a turn ended: `end_turn` (the agent replied) or `tool_calls` (it waits for the results of
 * caller tools); any other string a newer service may add is passed through.
 */
export type StopReason = "end_turn" | "tool_calls" | (string & {});

/** The outcome of a stored conversation turn. */
export interface ConversationResult {
  sessionId: string;
  sessionUuid: string;
  /** All the assistant text of the turn, in order (empty when the model only called tools). */
  response: string;
  /** The number of messages in the session after the turn, tool calls and results included. */
  messagesCount: number;
  sessionActive: boolean;
  /** `"tool_calls"`: answer every call of `pendingToolCalls` in the next turn. */
  stopReason: StopReason;
  /** The caller-tool calls the turn stopped at. */
  pendingToolCalls: ToolCall[];
  usage: Usage;
  /** The turn's id (`getTurn`, `resumeTurn`, `cancelTurn`). */
  turnId: string;
}

/**
 * One event of a streamed turn, `seq` 1, 2, 3…: `started` (with the turn's id); `queued` while
 * it waits for earlier turns of its session (`position` 1 runs next); `delta`s, `toolCall`s and
 * `toolResult`s (a server tool's answer) as the agent works; then one `message` per message the
 * agent stored (tool calls, tool results, the reply) and `completed`. The service's `error`
 * event is not one of them: the iteration throws it as an AgentSessionsError (nothing of the
 * turn is stored then).
 */
export type ConverseEvent =
  | { seq: number; type: "started"; sessionId: string; sessionUuid: string; turnId: string }
  | { seq: number; type: "queued"; turnId: string; position: number }
  | { seq: number; type: "delta"; text: string }
  | { seq: number; type: "toolCall"; call: ToolCall }
  | { seq: number; type: "toolResult"; result: ToolResult }
  | { seq: number; type: "message"; message: Message }
  | { seq: number; type: "completed"; result: ConversationResult };

/**
 * Options of a write. Every write sends a request id, made once per logical call (a UUID) and
 * kept across the client's retries: the service stores the call at most once, and answers a
 * repeat with the first call's response. Pass your own `requestId` (a UUID) to make a call you
 * repeat yourself (after a crash, say) store once too; the same id with another request is
 * refused (INVALID_ARGUMENT, REQUEST_ID_REUSED).
 */
export interface WriteOptions extends CallOptions {
  requestId?: string;
}

/**
 * Options of a change of an existing session or message: with `etag` (the one last read), it
 * changes nothing when the resource changed since (ABORTED, ETAG_MISMATCH).
 */
export interface ChangeOptions extends WriteOptions {
  etag?: string;
}

/**
 * Options of an append (messages, turns): with `expectedSeq` (the session's `seq` last read),
 * nothing is stored when the session changed since (ABORTED, SESSION_CHANGED).
 */
export interface AppendOptions extends WriteOptions {
  expectedSeq?: number;
}

/** What `sessions.fork()` makes: the new session's id and name, and where the copy ends. */
export interface ForkSessionInput {
  /** The new session's `sessionId`; generated when absent. */
  newSessionId?: string;
  /** The last message copied (its id); every message when absent. */
  upToMessageId?: string;
  /** The new session's name; the source's when absent. */
  sessionName?: string;
}

/** Options of `messages.createBatch()`. */
export interface BatchOptions extends AppendOptions {
  /** When the session is missing, create it with these fields (`{}`: the defaults). */
  createSession?: NewSessionFields;
}

/** Options of one call. */
export interface CallOptions {
  /**
   * The deadline of the call in milliseconds, retries included (for `converse`, of the whole
   * stream). Overrides the client's `timeoutMs`; 0 means none.
   */
  timeoutMs?: number;
  /** Cancels the call. */
  signal?: AbortSignal;
  /** Extra request headers (gRPC metadata). */
  headers?: Record<string, string>;
}

/** Where a turn is in its life. */
export type TurnStatus = "queued" | "running" | "completed" | "failed" | "cancelled" | "lost";

/** A conversation turn as a resource. */
export interface Turn {
  turnId: string;
  /** The caller-chosen id of its session. */
  sessionId: string;
  status: TurnStatus;
  /** The request id it was sent with, when any. */
  requestId?: string;
  createdAt: Date;
  /** When its status last changed. */
  updatedAt: Date;
  /** The outcome of a `completed` turn. */
  result?: ConversationResult;
  /** Why a `failed`, `cancelled` or `lost` turn stored nothing. */
  error?: AgentSessionsError;
}

/**
 * One change of a watched session. Durable events carry the session `seq` they took, in order,
 * none skipped and none twice: `message` (stored), `messageUpdated`, `messageDeleted`,
 * `cleared`, `session` (its fields changed), `deleted` (the watch ends; it may carry no
 * `seq`). Live events carry
 * none: `turn` (a turn changed status), `turnDelta` (a piece of a running turn's reply; its
 * `seq` is the event's place in the turn's own stream), `heartbeat` (15 s of silence).
 */
export type SessionEvent =
  | { type: "message"; seq: number; message: Message }
  | { type: "messageUpdated"; seq: number; message: Message }
  | { type: "messageDeleted"; seq: number; messageId: string }
  | { type: "cleared"; seq: number; deletedCount: number }
  | { type: "session"; seq: number; session: Session }
  | { type: "deleted"; seq?: number }
  | { type: "turn"; turn: Turn }
  | { type: "turnDelta"; turnId: string; seq: number; text: string }
  | { type: "heartbeat" };

/** Options of `resumeTurn()`. */
export interface ResumeOptions extends CallOptions {
  /** The `seq` of the last event the caller has; 0 or absent: from the first. */
  afterSeq?: number;
}

/**
 * Options of `watchSession()`. `timeoutMs` bounds the whole watch; absent or 0: none (not the
 * client's default), so a watch runs until the session is deleted or the caller stops.
 */
export interface WatchOptions extends CallOptions {
  /** The session `seq` the caller has seen; absent: the session's current one. */
  afterSeq?: number;
}
