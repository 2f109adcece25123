/**
 * The wrapper's data types, shared by the gRPC client and the REST helper: camelCase fields,
 * roles as lower-case strings, timestamps as `Date`s.
 */
/** Who wrote a message. */
export type Role = "user" | "assistant" | "system" | "tool";

/** Every role, in the order of the proto enum. */
export const ROLES: readonly Role[] = ["user", "assistant", "system", "tool"];

/** The messages of a turn: a string is one `user` message. */
export function turnMessages(messages: string | ConversationMessage[]): ConversationMessage[] {
  return typeof messages === "string" ? [{ role: "user", content: messages }] : messages;
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
  /** Millisecond precision (the server keeps microseconds). */
  createdAt: Date;
  updatedAt: Date;
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
}

/** The fields of a new session; all optional (`sessionId` is generated when absent). */
export interface CreateSessionInput {
  sessionId?: string;
  sessionName?: string;
  description?: string;
  agentName?: string;
  agentInstructions?: string;
  /** True when absent. */
  isActive?: boolean;
}

/** The fields to change; absent fields keep their values, an empty string removes a text field. */
export interface SessionChanges {
  sessionName?: string;
  description?: string;
  agentName?: string;
  agentInstructions?: string;
  isActive?: boolean;
}

/** Filters and paging of a session list. */
export interface ListSessionsOptions {
  /** 0 or absent means 50; above 1000 is capped at 1000. */
  pageSize?: number;
  /** The `nextPageToken` of a previous page with the same filters. */
  pageToken?: string;
  isActive?: boolean;
  agentName?: string;
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
}

/** The outcome of a stored conversation turn. */
export interface ConversationResult {
  sessionId: string;
  sessionUuid: string;
  /** The agent's reply, stored as an `assistant` message. */
  response: string;
  /** The number of messages in the session after the turn. */
  messagesCount: number;
  sessionActive: boolean;
}

/**
 * One event of a streamed turn, `seq` 1, 2, 3…: `started`, `delta`s, then `message` (the stored
 * reply) and `completed`. The service's `error` event is not one of them: the iteration throws
 * it as an AgentSessionsError (nothing of the turn is stored then).
 */
export type ConverseEvent =
  | { seq: number; type: "started"; sessionId: string; sessionUuid: string }
  | { seq: number; type: "delta"; text: string }
  | { seq: number; type: "message"; message: Message }
  | { seq: number; type: "completed"; result: ConversationResult };

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
