import type { GenEnum, GenFile, GenMessage, GenService } from "@bufbuild/protobuf/codegenv2";
import type { Message as Message$1, Role, Session, SessionSchema } from "./resources_pb.js";
import type { EmptySchema, Timestamp } from "@bufbuild/protobuf/wkt";
import type { Status } from "../../google/rpc/status_pb.js";
import type { JsonObject, Message } from "@bufbuild/protobuf";
/**
 * Describes the file agentsessions/v1/session_service.proto.
 */
export declare const file_agentsessions_v1_session_service: GenFile;
/**
 * The request of ListSessions.
 *
 * @generated from message agentsessions.v1.ListSessionsRequest
 */
export type ListSessionsRequest = Message<"agentsessions.v1.ListSessionsRequest"> & {
    /**
     * Optional. The most sessions to return: 0 means 50, above 1000 is capped at 1000, negative
     * is refused.
     *
     * @generated from field: int32 page_size = 1;
     */
    pageSize: number;
    /**
     * Optional. The `next_page_token` of a previous call with the same filters.
     *
     * @generated from field: string page_token = 2;
     */
    pageToken: string;
    /**
     * Optional. Only sessions with this activity state.
     *
     * @generated from field: optional bool is_active = 3;
     */
    isActive?: boolean | undefined;
    /**
     * Optional. Only sessions whose agent has exactly this name.
     *
     * @generated from field: optional string agent_name = 4;
     */
    agentName?: string | undefined;
    /**
     * Optional. Only sessions with these labels, each `key:value` (REST: repeat the parameter,
     * `?label=team:search&label=tier:gold`); a session must have all of them.
     *
     * @generated from field: repeated string label = 5;
     */
    label: string[];
};
/**
 * Describes the message agentsessions.v1.ListSessionsRequest.
 * Use `create(ListSessionsRequestSchema)` to create a new message.
 */
export declare const ListSessionsRequestSchema: GenMessage<ListSessionsRequest>;
/**
 * The response of ListSessions.
 *
 * @generated from message agentsessions.v1.ListSessionsResponse
 */
export type ListSessionsResponse = Message<"agentsessions.v1.ListSessionsResponse"> & {
    /**
     * The page of sessions.
     *
     * @generated from field: repeated agentsessions.v1.Session sessions = 1;
     */
    sessions: Session[];
    /**
     * The token of the next page; empty on the last page.
     *
     * @generated from field: string next_page_token = 2;
     */
    nextPageToken: string;
    /**
     * The number of sessions the filters select, regardless of the page.
     *
     * @generated from field: int32 total_size = 3;
     */
    totalSize: number;
};
/**
 * Describes the message agentsessions.v1.ListSessionsResponse.
 * Use `create(ListSessionsResponseSchema)` to create a new message.
 */
export declare const ListSessionsResponseSchema: GenMessage<ListSessionsResponse>;
/**
 * The request of CreateSession.
 *
 * @generated from message agentsessions.v1.CreateSessionRequest
 */
export type CreateSessionRequest = Message<"agentsessions.v1.CreateSessionRequest"> & {
    /**
     * Optional. The caller-chosen id; generated when empty.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Optional. A human-readable name.
     *
     * @generated from field: optional string session_name = 2;
     */
    sessionName?: string | undefined;
    /**
     * Optional. A free-text description.
     *
     * @generated from field: optional string description = 3;
     */
    description?: string | undefined;
    /**
     * Optional. The name of the agent.
     *
     * @generated from field: optional string agent_name = 4;
     */
    agentName?: string | undefined;
    /**
     * Optional. The system instructions given to the agent.
     *
     * @generated from field: optional string agent_instructions = 5;
     */
    agentInstructions?: string | undefined;
    /**
     * Optional. Whether the session accepts conversation turns; true when absent.
     *
     * @generated from field: optional bool is_active = 6;
     */
    isActive?: boolean | undefined;
    /**
     * Optional. The model the session's agent runs on; empty means the server's default.
     *
     * @generated from field: optional string model = 7;
     */
    model?: string | undefined;
    /**
     * Optional. Which server tools the session's agent may call (see Session.server_tools).
     *
     * @generated from field: optional string server_tools = 8;
     */
    serverTools?: string | undefined;
    /**
     * Optional. A UUID the client makes once per logical call and keeps across its retries (REST:
     * this field or the `Idempotency-Key` header). A repeat with the same id and the same request
     * answers the first call's response and changes nothing; with another request it is refused
     * (INVALID_ARGUMENT, reason REQUEST_ID_REUSED). Kept AGENT_SESSIONS_REQUEST_ID_TTL seconds.
     *
     * @generated from field: string request_id = 9;
     */
    requestId: string;
    /**
     * Optional. The session's labels (see Session.labels).
     *
     * @generated from field: map<string, string> labels = 10;
     */
    labels: {
        [key: string]: string;
    };
    /**
     * Optional. When the session expires; may be in the past (the session is then gone at once).
     * Neither this nor `ttl`: AGENT_SESSIONS_SESSION_TTL seconds from now, or never when unset.
     *
     * @generated from field: google.protobuf.Timestamp expire_time = 11;
     */
    expireTime?: Timestamp | undefined;
    /**
     * Optional. The session expires this many seconds after its creation (1 to 3153600000); not
     * with `expire_time`.
     *
     * @generated from field: optional int32 ttl = 12;
     */
    ttl?: number | undefined;
};
/**
 * Describes the message agentsessions.v1.CreateSessionRequest.
 * Use `create(CreateSessionRequestSchema)` to create a new message.
 */
export declare const CreateSessionRequestSchema: GenMessage<CreateSessionRequest>;
/**
 * The request of GetSession.
 *
 * @generated from message agentsessions.v1.GetSessionRequest
 */
export type GetSessionRequest = Message<"agentsessions.v1.GetSessionRequest"> & {
    /**
     * Required. The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
};
/**
 * Describes the message agentsessions.v1.GetSessionRequest.
 * Use `create(GetSessionRequestSchema)` to create a new message.
 */
export declare const GetSessionRequestSchema: GenMessage<GetSessionRequest>;
/**
 * The request of UpdateSession: only the fields present change; `session_id` is immutable.
 *
 * @generated from message agentsessions.v1.UpdateSessionRequest
 */
export type UpdateSessionRequest = Message<"agentsessions.v1.UpdateSessionRequest"> & {
    /**
     * Required. The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Optional. The new name; empty removes it.
     *
     * @generated from field: optional string session_name = 2;
     */
    sessionName?: string | undefined;
    /**
     * Optional. The new description; empty removes it.
     *
     * @generated from field: optional string description = 3;
     */
    description?: string | undefined;
    /**
     * Optional. The new agent name; empty removes it.
     *
     * @generated from field: optional string agent_name = 4;
     */
    agentName?: string | undefined;
    /**
     * Optional. The new agent instructions; empty removes them.
     *
     * @generated from field: optional string agent_instructions = 5;
     */
    agentInstructions?: string | undefined;
    /**
     * Optional. The new activity state.
     *
     * @generated from field: optional bool is_active = 6;
     */
    isActive?: boolean | undefined;
    /**
     * Optional. The new model; empty returns the session to the server's default.
     *
     * @generated from field: optional string model = 7;
     */
    model?: string | undefined;
    /**
     * Optional. The new server tool allowlist; empty allows every server tool again.
     *
     * @generated from field: optional string server_tools = 8;
     */
    serverTools?: string | undefined;
    /**
     * Optional. A UUID the client makes once per logical call and keeps across its retries (REST:
     * this field or the `Idempotency-Key` header). A repeat with the same id and the same request
     * answers the first call's response and changes nothing; with another request it is refused
     * (INVALID_ARGUMENT, reason REQUEST_ID_REUSED). Kept AGENT_SESSIONS_REQUEST_ID_TTL seconds.
     *
     * @generated from field: string request_id = 9;
     */
    requestId: string;
    /**
     * Optional. The `etag` the caller last read (REST: this field or the `If-Match` header): when it
     * is no longer the current one the call changes nothing (ABORTED, reason ETAG_MISMATCH).
     *
     * @generated from field: string etag = 10;
     */
    etag: string;
    /**
     * Optional. The new labels, replacing all of them: an object of strings (REST: `"labels": {}`
     * removes every label). A Struct rather than a map so that an empty object is seen as present.
     *
     * @generated from field: google.protobuf.Struct labels = 11;
     */
    labels?: JsonObject | undefined;
    /**
     * Optional. The new expiry; a time in the past makes the session gone at once.
     *
     * @generated from field: google.protobuf.Timestamp expire_time = 12;
     */
    expireTime?: Timestamp | undefined;
};
/**
 * Describes the message agentsessions.v1.UpdateSessionRequest.
 * Use `create(UpdateSessionRequestSchema)` to create a new message.
 */
export declare const UpdateSessionRequestSchema: GenMessage<UpdateSessionRequest>;
/**
 * The request of DeleteSession.
 *
 * @generated from message agentsessions.v1.DeleteSessionRequest
 */
export type DeleteSessionRequest = Message<"agentsessions.v1.DeleteSessionRequest"> & {
    /**
     * Required. The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Optional. A UUID the client makes once per logical call and keeps across its retries (REST:
     * this field or the `Idempotency-Key` header). A repeat with the same id and the same request
     * answers the first call's response and changes nothing; with another request it is refused
     * (INVALID_ARGUMENT, reason REQUEST_ID_REUSED). Kept AGENT_SESSIONS_REQUEST_ID_TTL seconds.
     *
     * @generated from field: string request_id = 2;
     */
    requestId: string;
    /**
     * Optional. The `etag` the caller last read (REST: this field or the `If-Match` header): when it
     * is no longer the current one the call changes nothing (ABORTED, reason ETAG_MISMATCH).
     *
     * @generated from field: string etag = 3;
     */
    etag: string;
};
/**
 * Describes the message agentsessions.v1.DeleteSessionRequest.
 * Use `create(DeleteSessionRequestSchema)` to create a new message.
 */
export declare const DeleteSessionRequestSchema: GenMessage<DeleteSessionRequest>;
/**
 * The request of ActivateSession.
 *
 * @generated from message agentsessions.v1.ActivateSessionRequest
 */
export type ActivateSessionRequest = Message<"agentsessions.v1.ActivateSessionRequest"> & {
    /**
     * Required. The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Optional. A UUID the client makes once per logical call and keeps across its retries (REST:
     * this field or the `Idempotency-Key` header). A repeat with the same id and the same request
     * answers the first call's response and changes nothing; with another request it is refused
     * (INVALID_ARGUMENT, reason REQUEST_ID_REUSED). Kept AGENT_SESSIONS_REQUEST_ID_TTL seconds.
     *
     * @generated from field: string request_id = 2;
     */
    requestId: string;
    /**
     * Optional. The `etag` the caller last read (REST: this field or the `If-Match` header): when it
     * is no longer the current one the call changes nothing (ABORTED, reason ETAG_MISMATCH).
     *
     * @generated from field: string etag = 3;
     */
    etag: string;
};
/**
 * Describes the message agentsessions.v1.ActivateSessionRequest.
 * Use `create(ActivateSessionRequestSchema)` to create a new message.
 */
export declare const ActivateSessionRequestSchema: GenMessage<ActivateSessionRequest>;
/**
 * The request of DeactivateSession.
 *
 * @generated from message agentsessions.v1.DeactivateSessionRequest
 */
export type DeactivateSessionRequest = Message<"agentsessions.v1.DeactivateSessionRequest"> & {
    /**
     * Required. The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Optional. A UUID the client makes once per logical call and keeps across its retries (REST:
     * this field or the `Idempotency-Key` header). A repeat with the same id and the same request
     * answers the first call's response and changes nothing; with another request it is refused
     * (INVALID_ARGUMENT, reason REQUEST_ID_REUSED). Kept AGENT_SESSIONS_REQUEST_ID_TTL seconds.
     *
     * @generated from field: string request_id = 2;
     */
    requestId: string;
    /**
     * Optional. The `etag` the caller last read (REST: this field or the `If-Match` header): when it
     * is no longer the current one the call changes nothing (ABORTED, reason ETAG_MISMATCH).
     *
     * @generated from field: string etag = 3;
     */
    etag: string;
};
/**
 * Describes the message agentsessions.v1.DeactivateSessionRequest.
 * Use `create(DeactivateSessionRequestSchema)` to create a new message.
 */
export declare const DeactivateSessionRequestSchema: GenMessage<DeactivateSessionRequest>;
/**
 * The request of ForkSession.
 *
 * @generated from message agentsessions.v1.ForkSessionRequest
 */
export type ForkSessionRequest = Message<"agentsessions.v1.ForkSessionRequest"> & {
    /**
     * Required. The caller-chosen id of the session to fork.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Optional. The caller-chosen id of the new session; generated when empty. One the caller
     * already uses answers ALREADY_EXISTS.
     *
     * @generated from field: string new_session_id = 2;
     */
    newSessionId: string;
    /**
     * Optional. The id of the last message to copy; all messages when empty.
     *
     * @generated from field: string up_to_message_id = 3;
     */
    upToMessageId: string;
    /**
     * Optional. The new session's name; the source's name when absent.
     *
     * @generated from field: optional string session_name = 4;
     */
    sessionName?: string | undefined;
    /**
     * Optional. A UUID the client makes once per logical call and keeps across its retries (REST:
     * this field or the `Idempotency-Key` header). A repeat with the same id and the same request
     * answers the first call's response and changes nothing; with another request it is refused
     * (INVALID_ARGUMENT, reason REQUEST_ID_REUSED). Kept AGENT_SESSIONS_REQUEST_ID_TTL seconds.
     *
     * @generated from field: string request_id = 5;
     */
    requestId: string;
};
/**
 * Describes the message agentsessions.v1.ForkSessionRequest.
 * Use `create(ForkSessionRequestSchema)` to create a new message.
 */
export declare const ForkSessionRequestSchema: GenMessage<ForkSessionRequest>;
/**
 * The request of RewindSession.
 *
 * @generated from message agentsessions.v1.RewindSessionRequest
 */
export type RewindSessionRequest = Message<"agentsessions.v1.RewindSessionRequest"> & {
    /**
     * Required. The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Required. The id of the message to keep last; every message after it is deleted.
     *
     * @generated from field: string after_message_id = 2;
     */
    afterMessageId: string;
    /**
     * Optional. A UUID the client makes once per logical call and keeps across its retries (REST:
     * this field or the `Idempotency-Key` header). A repeat with the same id and the same request
     * answers the first call's response and changes nothing; with another request it is refused
     * (INVALID_ARGUMENT, reason REQUEST_ID_REUSED). Kept AGENT_SESSIONS_REQUEST_ID_TTL seconds.
     *
     * @generated from field: string request_id = 3;
     */
    requestId: string;
    /**
     * Optional. The `etag` the caller last read (REST: this field or the `If-Match` header): when it
     * is no longer the current one the call changes nothing (ABORTED, reason ETAG_MISMATCH).
     *
     * @generated from field: string etag = 4;
     */
    etag: string;
    /**
     * Optional. The session's `seq` the caller last saw: when the session has changed since,
     * nothing is deleted (ABORTED, reason SESSION_CHANGED).
     *
     * @generated from field: optional int32 expected_seq = 5;
     */
    expectedSeq?: number | undefined;
};
/**
 * Describes the message agentsessions.v1.RewindSessionRequest.
 * Use `create(RewindSessionRequestSchema)` to create a new message.
 */
export declare const RewindSessionRequestSchema: GenMessage<RewindSessionRequest>;
/**
 * One message sent to the agent in a conversation turn.
 *
 * @generated from message agentsessions.v1.ConversationMessage
 */
export type ConversationMessage = Message<"agentsessions.v1.ConversationMessage"> & {
    /**
     * Required. Who wrote the message.
     *
     * @generated from field: agentsessions.v1.Role role = 1;
     */
    role: Role;
    /**
     * Optional. The text of the message.
     *
     * @generated from field: string content = 2;
     */
    content: string;
    /**
     * Optional. The id of the tool call this message makes or answers.
     *
     * @generated from field: optional string tool_call_id = 3;
     */
    toolCallId?: string | undefined;
    /**
     * Optional. The name of the tool called or answering.
     *
     * @generated from field: optional string tool_name = 4;
     */
    toolName?: string | undefined;
    /**
     * Optional. Extra data as JSON text; text that is not JSON (the empty string too) is refused.
     *
     * @generated from field: optional string extra_data = 5;
     */
    extraData?: string | undefined;
};
/**
 * Describes the message agentsessions.v1.ConversationMessage.
 * Use `create(ConversationMessageSchema)` to create a new message.
 */
export declare const ConversationMessageSchema: GenMessage<ConversationMessage>;
/**
 * The request of Conversation.
 *
 * @generated from message agentsessions.v1.ConversationRequest
 */
export type ConversationRequest = Message<"agentsessions.v1.ConversationRequest"> & {
    /**
     * Required. The messages of this turn, stored in order before the agent's reply; at least one.
     *
     * @generated from field: repeated agentsessions.v1.ConversationMessage messages = 1;
     */
    messages: ConversationMessage[];
    /**
     * Optional. The session to continue; empty starts a new session with a generated id, an
     * unknown one starts a new session with this id.
     *
     * @generated from field: string session_id = 2;
     */
    sessionId: string;
    /**
     * Optional. The name of a session this turn creates.
     *
     * @generated from field: optional string session_name = 3;
     */
    sessionName?: string | undefined;
    /**
     * Optional. The agent name of a session this turn creates.
     *
     * @generated from field: optional string agent_name = 4;
     */
    agentName?: string | undefined;
    /**
     * Optional. The agent instructions of a session this turn creates.
     *
     * @generated from field: optional string agent_instructions = 5;
     */
    agentInstructions?: string | undefined;
    /**
     * Optional. The model of a session this turn creates; empty means the server's default.
     *
     * @generated from field: optional string model = 6;
     */
    model?: string | undefined;
    /**
     * Optional. Tools the caller runs itself (caller tools): when the model calls one, the turn
     * stops with `stop_reason` "tool_calls" and the call in `pending_tool_calls`; the caller sends
     * the result in its next request as a `tool` message.
     *
     * @generated from field: repeated agentsessions.v1.Tool tools = 7;
     */
    tools: Tool[];
    /**
     * Optional. The server tool allowlist of a session this turn creates (see Session.server_tools).
     *
     * @generated from field: optional string server_tools = 8;
     */
    serverTools?: string | undefined;
    /**
     * Optional. A UUID the client makes once per logical call and keeps across its retries (REST:
     * this field or the `Idempotency-Key` header). A repeat with the same id and the same request
     * answers the first call's response and changes nothing; with another request it is refused
     * (INVALID_ARGUMENT, reason REQUEST_ID_REUSED). Kept AGENT_SESSIONS_REQUEST_ID_TTL seconds.
     *
     * @generated from field: string request_id = 9;
     */
    requestId: string;
    /**
     * Optional. The session's `seq` the caller last saw: when the session has changed since, nothing
     * is stored (ABORTED, reason SESSION_CHANGED).
     *
     * @generated from field: optional int32 expected_seq = 10;
     */
    expectedSeq?: number | undefined;
    /**
     * Optional. What to do when the session runs another turn: `enqueue` (the default: wait, first
     * come first served), `reject` (ABORTED, reason SESSION_BUSY) or `interrupt` (cancel it).
     *
     * @generated from field: agentsessions.v1.IfBusy if_busy = 11;
     */
    ifBusy: IfBusy;
    /**
     * Optional. When true the turn runs to its end even if the caller goes away; its outcome is
     * read with GetTurn, ResumeTurn or WatchSession. When false a caller that goes away cancels it.
     *
     * @generated from field: bool detach = 12;
     */
    detach: boolean;
};
/**
 * Describes the message agentsessions.v1.ConversationRequest.
 * Use `create(ConversationRequestSchema)` to create a new message.
 */
export declare const ConversationRequestSchema: GenMessage<ConversationRequest>;
/**
 * The outcome of a stored conversation turn.
 *
 * @generated from message agentsessions.v1.ConversationResponse
 */
export type ConversationResponse = Message<"agentsessions.v1.ConversationResponse"> & {
    /**
     * The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * The UUID of the session.
     *
     * @generated from field: string session_uuid = 2;
     */
    sessionUuid: string;
    /**
     * All the assistant text of the turn, in order (what the stream's deltas add up to); empty when
     * the model only called tools.
     *
     * @generated from field: string response = 3;
     */
    response: string;
    /**
     * The number of messages in the session after the turn, tool calls and results included.
     *
     * @generated from field: int32 messages_count = 4;
     */
    messagesCount: number;
    /**
     * Whether the session is active after the turn.
     *
     * @generated from field: bool session_active = 5;
     */
    sessionActive: boolean;
    /**
     * Why the turn ended: "end_turn" (the agent replied) or "tool_calls" (it waits for the results
     * of `pending_tool_calls`).
     *
     * @generated from field: string stop_reason = 6;
     */
    stopReason: string;
    /**
     * The caller-tool calls the turn stopped at, waiting for their results.
     *
     * @generated from field: repeated agentsessions.v1.ToolCall pending_tool_calls = 7;
     */
    pendingToolCalls: ToolCall[];
    /**
     * The tokens the turn's model calls used, summed over every call (0 for the mock agent).
     *
     * @generated from field: agentsessions.v1.Usage usage = 8;
     */
    usage?: Usage | undefined;
    /**
     * The UUID of the turn (see GetTurn).
     *
     * @generated from field: string turn_id = 9;
     */
    turnId: string;
};
/**
 * Describes the message agentsessions.v1.ConversationResponse.
 * Use `create(ConversationResponseSchema)` to create a new message.
 */
export declare const ConversationResponseSchema: GenMessage<ConversationResponse>;
/**
 * A tool the caller declares and runs itself.
 *
 * @generated from message agentsessions.v1.Tool
 */
export type Tool = Message<"agentsessions.v1.Tool"> & {
    /**
     * Required. The tool's name, as the model calls it.
     *
     * @generated from field: string name = 1;
     */
    name: string;
    /**
     * Optional. What the tool does, for the model.
     *
     * @generated from field: string description = 2;
     */
    description: string;
    /**
     * Optional. The JSON Schema object of the tool's arguments; sent to the model as given.
     *
     * @generated from field: google.protobuf.Struct parameters = 3;
     */
    parameters?: JsonObject | undefined;
};
/**
 * Describes the message agentsessions.v1.Tool.
 * Use `create(ToolSchema)` to create a new message.
 */
export declare const ToolSchema: GenMessage<Tool>;
/**
 * A call the model made to a tool.
 *
 * @generated from message agentsessions.v1.ToolCall
 */
export type ToolCall = Message<"agentsessions.v1.ToolCall"> & {
    /**
     * The id of the call; a result answers it with the same `tool_call_id`.
     *
     * @generated from field: string tool_call_id = 1;
     */
    toolCallId: string;
    /**
     * The name of the tool called.
     *
     * @generated from field: string name = 2;
     */
    name: string;
    /**
     * The arguments, as JSON text.
     *
     * @generated from field: string arguments = 3;
     */
    arguments: string;
};
/**
 * Describes the message agentsessions.v1.ToolCall.
 * Use `create(ToolCallSchema)` to create a new message.
 */
export declare const ToolCallSchema: GenMessage<ToolCall>;
/**
 * What a server tool answered.
 *
 * @generated from message agentsessions.v1.ToolResult
 */
export type ToolResult = Message<"agentsessions.v1.ToolResult"> & {
    /**
     * The id of the call this answers.
     *
     * @generated from field: string tool_call_id = 1;
     */
    toolCallId: string;
    /**
     * The name of the tool.
     *
     * @generated from field: string name = 2;
     */
    name: string;
    /**
     * The tool's output, as text.
     *
     * @generated from field: string output = 3;
     */
    output: string;
};
/**
 * Describes the message agentsessions.v1.ToolResult.
 * Use `create(ToolResultSchema)` to create a new message.
 */
export declare const ToolResultSchema: GenMessage<ToolResult>;
/**
 * Tokens used by a turn's model calls.
 *
 * @generated from message agentsessions.v1.Usage
 */
export type Usage = Message<"agentsessions.v1.Usage"> & {
    /**
     * Tokens of the model's input (the prompt), summed over the turn's model calls.
     *
     * @generated from field: int32 input_tokens = 1;
     */
    inputTokens: number;
    /**
     * Tokens the model produced, summed over the turn's model calls.
     *
     * @generated from field: int32 output_tokens = 2;
     */
    outputTokens: number;
    /**
     * input_tokens + output_tokens as the model reported them.
     *
     * @generated from field: int32 total_tokens = 3;
     */
    totalTokens: number;
};
/**
 * Describes the message agentsessions.v1.Usage.
 * Use `create(UsageSchema)` to create a new message.
 */
export declare const UsageSchema: GenMessage<Usage>;
/**
 * The request of Converse; the same fields as ConversationRequest.
 *
 * @generated from message agentsessions.v1.ConverseRequest
 */
export type ConverseRequest = Message<"agentsessions.v1.ConverseRequest"> & {
    /**
     * Required. The messages of this turn, stored in order before the agent's reply; at least one.
     *
     * @generated from field: repeated agentsessions.v1.ConversationMessage messages = 1;
     */
    messages: ConversationMessage[];
    /**
     * Optional. The session to continue; empty starts a new session with a generated id, an
     * unknown one starts a new session with this id.
     *
     * @generated from field: string session_id = 2;
     */
    sessionId: string;
    /**
     * Optional. The name of a session this turn creates.
     *
     * @generated from field: optional string session_name = 3;
     */
    sessionName?: string | undefined;
    /**
     * Optional. The agent name of a session this turn creates.
     *
     * @generated from field: optional string agent_name = 4;
     */
    agentName?: string | undefined;
    /**
     * Optional. The agent instructions of a session this turn creates.
     *
     * @generated from field: optional string agent_instructions = 5;
     */
    agentInstructions?: string | undefined;
    /**
     * Optional. The model of a session this turn creates; empty means the server's default.
     *
     * @generated from field: optional string model = 6;
     */
    model?: string | undefined;
    /**
     * Optional. Tools the caller runs itself (caller tools): when the model calls one, the turn
     * stops with `stop_reason` "tool_calls" and the call in `pending_tool_calls`; the caller sends
     * the result in its next request as a `tool` message.
     *
     * @generated from field: repeated agentsessions.v1.Tool tools = 7;
     */
    tools: Tool[];
    /**
     * Optional. The server tool allowlist of a session this turn creates (see Session.server_tools).
     *
     * @generated from field: optional string server_tools = 8;
     */
    serverTools?: string | undefined;
    /**
     * Optional. A UUID the client makes once per logical call and keeps across its retries (REST:
     * this field or the `Idempotency-Key` header). A repeat with the same id and the same request
     * answers the first call's response and changes nothing; with another request it is refused
     * (INVALID_ARGUMENT, reason REQUEST_ID_REUSED). Kept AGENT_SESSIONS_REQUEST_ID_TTL seconds.
     *
     * @generated from field: string request_id = 9;
     */
    requestId: string;
    /**
     * Optional. The session's `seq` the caller last saw: when the session has changed since, nothing
     * is stored (ABORTED, reason SESSION_CHANGED).
     *
     * @generated from field: optional int32 expected_seq = 10;
     */
    expectedSeq?: number | undefined;
    /**
     * Optional. What to do when the session runs another turn: `enqueue` (the default: wait, first
     * come first served), `reject` (ABORTED, reason SESSION_BUSY) or `interrupt` (cancel it).
     *
     * @generated from field: agentsessions.v1.IfBusy if_busy = 11;
     */
    ifBusy: IfBusy;
    /**
     * Optional. When true the turn runs to its end even if the caller goes away; its outcome is
     * read with GetTurn, ResumeTurn or WatchSession. When false a caller that goes away cancels it.
     *
     * @generated from field: bool detach = 12;
     */
    detach: boolean;
};
/**
 * Describes the message agentsessions.v1.ConverseRequest.
 * Use `create(ConverseRequestSchema)` to create a new message.
 */
export declare const ConverseRequestSchema: GenMessage<ConverseRequest>;
/**
 * The first event of a stream: the session the turn runs in.
 *
 * @generated from message agentsessions.v1.ConverseStarted
 */
export type ConverseStarted = Message<"agentsessions.v1.ConverseStarted"> & {
    /**
     * The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * The UUID of the session.
     *
     * @generated from field: string session_uuid = 2;
     */
    sessionUuid: string;
    /**
     * The UUID of the turn: GetTurn, ResumeTurn and CancelTurn find it from this event on.
     *
     * @generated from field: string turn_id = 3;
     */
    turnId: string;
};
/**
 * Describes the message agentsessions.v1.ConverseStarted.
 * Use `create(ConverseStartedSchema)` to create a new message.
 */
export declare const ConverseStartedSchema: GenMessage<ConverseStarted>;
/**
 * The turn waits for earlier turns of its session; sent while it waits and when its place changes.
 *
 * @generated from message agentsessions.v1.ConverseQueued
 */
export type ConverseQueued = Message<"agentsessions.v1.ConverseQueued"> & {
    /**
     * The UUID of the turn.
     *
     * @generated from field: string turn_id = 1;
     */
    turnId: string;
    /**
     * Its place in the session's queue: 1 runs next.
     *
     * @generated from field: int32 position = 2;
     */
    position: number;
};
/**
 * Describes the message agentsessions.v1.ConverseQueued.
 * Use `create(ConverseQueuedSchema)` to create a new message.
 */
export declare const ConverseQueuedSchema: GenMessage<ConverseQueued>;
/**
 * A piece of the agent's reply, in order.
 *
 * @generated from message agentsessions.v1.ConverseDelta
 */
export type ConverseDelta = Message<"agentsessions.v1.ConverseDelta"> & {
    /**
     * The text of this piece; all pieces concatenated equal the final response.
     *
     * @generated from field: string text = 1;
     */
    text: string;
};
/**
 * Describes the message agentsessions.v1.ConverseDelta.
 * Use `create(ConverseDeltaSchema)` to create a new message.
 */
export declare const ConverseDeltaSchema: GenMessage<ConverseDelta>;
/**
 * One event of a Converse stream: `started`, then `delta`s, then `message` and `completed`, or an
 * `error` as the last event when the turn fails after the stream began (nothing is stored then).
 *
 * @generated from message agentsessions.v1.ConverseEvent
 */
export type ConverseEvent = Message<"agentsessions.v1.ConverseEvent"> & {
    /**
     * The position of the event in the stream: 1, 2, 3…
     *
     * @generated from field: int32 seq = 1;
     */
    seq: number;
    /**
     * What happened.
     *
     * @generated from oneof agentsessions.v1.ConverseEvent.event
     */
    event: {
        /**
         * The turn started in this session.
         *
         * @generated from field: agentsessions.v1.ConverseStarted started = 2;
         */
        value: ConverseStarted;
        case: "started";
    } | {
        /**
         * A piece of the agent's reply.
         *
         * @generated from field: agentsessions.v1.ConverseDelta delta = 3;
         */
        value: ConverseDelta;
        case: "delta";
    } | {
        /**
         * A message the agent stored (a tool call, a tool result, the reply), with its id; one per
         * message, in order, after the turn is committed.
         *
         * @generated from field: agentsessions.v1.Message message = 4;
         */
        value: Message$1;
        case: "message";
    } | {
        /**
         * The turn is stored; the same object Conversation returns.
         *
         * @generated from field: agentsessions.v1.ConversationResponse completed = 5;
         */
        value: ConversationResponse;
        case: "completed";
    } | {
        /**
         * The turn failed after the stream began; nothing of it was stored.
         *
         * @generated from field: google.rpc.Status error = 6;
         */
        value: Status;
        case: "error";
    } | {
        /**
         * The model called a tool.
         *
         * @generated from field: agentsessions.v1.ToolCall tool_call = 7;
         */
        value: ToolCall;
        case: "toolCall";
    } | {
        /**
         * A server tool answered.
         *
         * @generated from field: agentsessions.v1.ToolResult tool_result = 8;
         */
        value: ToolResult;
        case: "toolResult";
    } | {
        /**
         * The turn waits for earlier turns of the session (see ConverseRequest.if_busy).
         *
         * @generated from field: agentsessions.v1.ConverseQueued queued = 9;
         */
        value: ConverseQueued;
        case: "queued";
    } | {
        case: undefined;
        value?: undefined;
    };
};
/**
 * Describes the message agentsessions.v1.ConverseEvent.
 * Use `create(ConverseEventSchema)` to create a new message.
 */
export declare const ConverseEventSchema: GenMessage<ConverseEvent>;
/**
 * A conversation turn as a resource.
 *
 * @generated from message agentsessions.v1.Turn
 */
export type Turn = Message<"agentsessions.v1.Turn"> & {
    /**
     * The UUID of the turn.
     *
     * @generated from field: string turn_id = 1;
     */
    turnId: string;
    /**
     * The caller-chosen id of its session.
     *
     * @generated from field: string session_id = 2;
     */
    sessionId: string;
    /**
     * Where it is in its life.
     *
     * @generated from field: agentsessions.v1.TurnStatus status = 3;
     */
    status: TurnStatus;
    /**
     * The request id it was sent with; empty when none.
     *
     * @generated from field: string request_id = 4;
     */
    requestId: string;
    /**
     * When it was accepted.
     *
     * @generated from field: google.protobuf.Timestamp created_at = 5;
     */
    createdAt?: Timestamp | undefined;
    /**
     * When its status last changed.
     *
     * @generated from field: google.protobuf.Timestamp updated_at = 6;
     */
    updatedAt?: Timestamp | undefined;
    /**
     * The outcome of a completed turn: what Conversation answered.
     *
     * @generated from field: agentsessions.v1.ConversationResponse result = 7;
     */
    result?: ConversationResponse | undefined;
    /**
     * Why a failed, cancelled or lost turn stored nothing.
     *
     * @generated from field: google.rpc.Status error = 8;
     */
    error?: Status | undefined;
};
/**
 * Describes the message agentsessions.v1.Turn.
 * Use `create(TurnSchema)` to create a new message.
 */
export declare const TurnSchema: GenMessage<Turn>;
/**
 * The request of GetTurn.
 *
 * @generated from message agentsessions.v1.GetTurnRequest
 */
export type GetTurnRequest = Message<"agentsessions.v1.GetTurnRequest"> & {
    /**
     * Required. The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Required. The UUID of the turn.
     *
     * @generated from field: string turn_id = 2;
     */
    turnId: string;
};
/**
 * Describes the message agentsessions.v1.GetTurnRequest.
 * Use `create(GetTurnRequestSchema)` to create a new message.
 */
export declare const GetTurnRequestSchema: GenMessage<GetTurnRequest>;
/**
 * The request of ResumeTurn.
 *
 * @generated from message agentsessions.v1.ResumeTurnRequest
 */
export type ResumeTurnRequest = Message<"agentsessions.v1.ResumeTurnRequest"> & {
    /**
     * Required. The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Required. The UUID of the turn.
     *
     * @generated from field: string turn_id = 2;
     */
    turnId: string;
    /**
     * Optional. The `seq` of the last event the caller has; events after it are sent (all when 0).
     *
     * @generated from field: int32 after_seq = 3;
     */
    afterSeq: number;
};
/**
 * Describes the message agentsessions.v1.ResumeTurnRequest.
 * Use `create(ResumeTurnRequestSchema)` to create a new message.
 */
export declare const ResumeTurnRequestSchema: GenMessage<ResumeTurnRequest>;
/**
 * The request of CancelTurn.
 *
 * @generated from message agentsessions.v1.CancelTurnRequest
 */
export type CancelTurnRequest = Message<"agentsessions.v1.CancelTurnRequest"> & {
    /**
     * Required. The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Required. The UUID of the turn.
     *
     * @generated from field: string turn_id = 2;
     */
    turnId: string;
};
/**
 * Describes the message agentsessions.v1.CancelTurnRequest.
 * Use `create(CancelTurnRequestSchema)` to create a new message.
 */
export declare const CancelTurnRequestSchema: GenMessage<CancelTurnRequest>;
/**
 * The request of WatchSession.
 *
 * @generated from message agentsessions.v1.WatchSessionRequest
 */
export type WatchSessionRequest = Message<"agentsessions.v1.WatchSessionRequest"> & {
    /**
     * Required. The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Optional. The session `seq` the caller has seen: the changes after it still known come
     * first (messages stored after it at least), then the live ones. Absent: from now on.
     *
     * @generated from field: optional int32 after_seq = 2;
     */
    afterSeq?: number | undefined;
};
/**
 * Describes the message agentsessions.v1.WatchSessionRequest.
 * Use `create(WatchSessionRequestSchema)` to create a new message.
 */
export declare const WatchSessionRequestSchema: GenMessage<WatchSessionRequest>;
/**
 * One change of a watched session. Durable events carry the session `seq` they took; live turn
 * events and heartbeats carry none.
 *
 * @generated from message agentsessions.v1.SessionEvent
 */
export type SessionEvent = Message<"agentsessions.v1.SessionEvent"> & {
    /**
     * The session's `seq` at this change (durable events only).
     *
     * @generated from field: optional int32 seq = 1;
     */
    seq?: number | undefined;
    /**
     * What happened.
     *
     * @generated from oneof agentsessions.v1.SessionEvent.event
     */
    event: {
        /**
         * A message was stored.
         *
         * @generated from field: agentsessions.v1.Message message = 2;
         */
        value: Message$1;
        case: "message";
    } | {
        /**
         * A message was changed (the message after the change).
         *
         * @generated from field: agentsessions.v1.Message message_updated = 3;
         */
        value: Message$1;
        case: "messageUpdated";
    } | {
        /**
         * A message was deleted.
         *
         * @generated from field: agentsessions.v1.MessageDeleted message_deleted = 4;
         */
        value: MessageDeleted;
        case: "messageDeleted";
    } | {
        /**
         * Every message was deleted.
         *
         * @generated from field: agentsessions.v1.MessagesCleared cleared = 5;
         */
        value: MessagesCleared;
        case: "cleared";
    } | {
        /**
         * The session's fields changed (the session after the change).
         *
         * @generated from field: agentsessions.v1.Session session = 6;
         */
        value: Session;
        case: "session";
    } | {
        /**
         * The session is gone; the stream ends.
         *
         * @generated from field: agentsessions.v1.SessionDeleted deleted = 7;
         */
        value: SessionDeleted;
        case: "deleted";
    } | {
        /**
         * A turn of the session changed status.
         *
         * @generated from field: agentsessions.v1.Turn turn = 8;
         */
        value: Turn;
        case: "turn";
    } | {
        /**
         * A piece of a running turn's reply.
         *
         * @generated from field: agentsessions.v1.TurnDelta turn_delta = 9;
         */
        value: TurnDelta;
        case: "turnDelta";
    } | {
        /**
         * Nothing else happened for a while; the stream is alive.
         *
         * @generated from field: agentsessions.v1.Heartbeat heartbeat = 10;
         */
        value: Heartbeat;
        case: "heartbeat";
    } | {
        /**
         * The watch ends (RESOURCE_EXHAUSTED: it fell too far behind; UNAVAILABLE: the server is
         * shutting down); watch again with `after_seq` = the last `seq` received.
         *
         * @generated from field: google.rpc.Status error = 11;
         */
        value: Status;
        case: "error";
    } | {
        case: undefined;
        value?: undefined;
    };
};
/**
 * Describes the message agentsessions.v1.SessionEvent.
 * Use `create(SessionEventSchema)` to create a new message.
 */
export declare const SessionEventSchema: GenMessage<SessionEvent>;
/**
 * The message a `message_deleted` event names.
 *
 * @generated from message agentsessions.v1.MessageDeleted
 */
export type MessageDeleted = Message<"agentsessions.v1.MessageDeleted"> & {
    /**
     * The UUID of the deleted message.
     *
     * @generated from field: string message_id = 1;
     */
    messageId: string;
};
/**
 * Describes the message agentsessions.v1.MessageDeleted.
 * Use `create(MessageDeletedSchema)` to create a new message.
 */
export declare const MessageDeletedSchema: GenMessage<MessageDeleted>;
/**
 * What a `cleared` event says.
 *
 * @generated from message agentsessions.v1.MessagesCleared
 */
export type MessagesCleared = Message<"agentsessions.v1.MessagesCleared"> & {
    /**
     * How many messages were deleted.
     *
     * @generated from field: int32 deleted_count = 1;
     */
    deletedCount: number;
};
/**
 * Describes the message agentsessions.v1.MessagesCleared.
 * Use `create(MessagesClearedSchema)` to create a new message.
 */
export declare const MessagesClearedSchema: GenMessage<MessagesCleared>;
/**
 * The session was deleted.
 *
 * @generated from message agentsessions.v1.SessionDeleted
 */
export type SessionDeleted = Message<"agentsessions.v1.SessionDeleted"> & {};
/**
 * Describes the message agentsessions.v1.SessionDeleted.
 * Use `create(SessionDeletedSchema)` to create a new message.
 */
export declare const SessionDeletedSchema: GenMessage<SessionDeleted>;
/**
 * A watch is alive.
 *
 * @generated from message agentsessions.v1.Heartbeat
 */
export type Heartbeat = Message<"agentsessions.v1.Heartbeat"> & {};
/**
 * Describes the message agentsessions.v1.Heartbeat.
 * Use `create(HeartbeatSchema)` to create a new message.
 */
export declare const HeartbeatSchema: GenMessage<Heartbeat>;
/**
 * A piece of a running turn's reply, as its stream carried it.
 *
 * @generated from message agentsessions.v1.TurnDelta
 */
export type TurnDelta = Message<"agentsessions.v1.TurnDelta"> & {
    /**
     * The UUID of the turn.
     *
     * @generated from field: string turn_id = 1;
     */
    turnId: string;
    /**
     * The `seq` of the event in the turn's stream.
     *
     * @generated from field: int32 seq = 2;
     */
    seq: number;
    /**
     * The text of this piece.
     *
     * @generated from field: string text = 3;
     */
    text: string;
};
/**
 * Describes the message agentsessions.v1.TurnDelta.
 * Use `create(TurnDeltaSchema)` to create a new message.
 */
export declare const TurnDeltaSchema: GenMessage<TurnDelta>;
/**
 * What a turn does when its session runs another one.
 *
 * @generated from enum agentsessions.v1.IfBusy
 */
export declare enum IfBusy {
    /**
     * The default: `enqueue`.
     *
     * @generated from enum value: if_busy_unspecified = 0;
     */
    if_busy_unspecified = 0,
    /**
     * Wait for the earlier turns, first come first served.
     *
     * @generated from enum value: enqueue = 1;
     */
    enqueue = 1,
    /**
     * Refuse: ABORTED, reason SESSION_BUSY, with the running turn's `turn_id` in the ErrorInfo.
     *
     * @generated from enum value: reject = 2;
     */
    reject = 2,
    /**
     * Cancel the running turn (it stores nothing), then run.
     *
     * @generated from enum value: interrupt = 3;
     */
    interrupt = 3
}
/**
 * Describes the enum agentsessions.v1.IfBusy.
 */
export declare const IfBusySchema: GenEnum<IfBusy>;
/**
 * Where a turn is in its life.
 *
 * @generated from enum agentsessions.v1.TurnStatus
 */
export declare enum TurnStatus {
    /**
     * Never sent.
     *
     * @generated from enum value: turn_status_unspecified = 0;
     */
    turn_status_unspecified = 0,
    /**
     * Waiting for earlier turns of its session.
     *
     * @generated from enum value: queued = 1;
     */
    queued = 1,
    /**
     * The agent is working on it.
     *
     * @generated from enum value: running = 2;
     */
    running = 2,
    /**
     * Stored whole; `result` holds its outcome.
     *
     * @generated from enum value: completed = 3;
     */
    completed = 3,
    /**
     * Ended with an error and stored nothing; `error` says why.
     *
     * @generated from enum value: failed = 4;
     */
    failed = 4,
    /**
     * Cancelled (CancelTurn, an interrupt or its caller going away); stored nothing.
     *
     * @generated from enum value: cancelled = 5;
     */
    cancelled = 5,
    /**
     * Its replica died while it ran or waited; stored nothing, never run again on its own.
     *
     * @generated from enum value: lost = 6;
     */
    lost = 6
}
/**
 * Describes the enum agentsessions.v1.TurnStatus.
 */
export declare const TurnStatusSchema: GenEnum<TurnStatus>;
/**
 * Manages the caller's sessions and runs conversation turns in them. Every call needs a bearer
 * token; a session of another user answers NOT_FOUND.
 *
 * @generated from service agentsessions.v1.SessionService
 */
export declare const SessionService: GenService<{
    /**
     * Lists the caller's sessions, newest created first.
     *
     * @generated from rpc agentsessions.v1.SessionService.ListSessions
     */
    listSessions: {
        methodKind: "unary";
        input: typeof ListSessionsRequestSchema;
        output: typeof ListSessionsResponseSchema;
    };
    /**
     * Creates a session; a `session_id` the caller already uses answers ALREADY_EXISTS.
     *
     * @generated from rpc agentsessions.v1.SessionService.CreateSession
     */
    createSession: {
        methodKind: "unary";
        input: typeof CreateSessionRequestSchema;
        output: typeof SessionSchema;
    };
    /**
     * Returns one session.
     *
     * @generated from rpc agentsessions.v1.SessionService.GetSession
     */
    getSession: {
        methodKind: "unary";
        input: typeof GetSessionRequestSchema;
        output: typeof SessionSchema;
    };
    /**
     * Changes the fields that are present in the request; the others keep their values.
     *
     * @generated from rpc agentsessions.v1.SessionService.UpdateSession
     */
    updateSession: {
        methodKind: "unary";
        input: typeof UpdateSessionRequestSchema;
        output: typeof SessionSchema;
    };
    /**
     * Deletes a session and all its messages.
     *
     * @generated from rpc agentsessions.v1.SessionService.DeleteSession
     */
    deleteSession: {
        methodKind: "unary";
        input: typeof DeleteSessionRequestSchema;
        output: typeof EmptySchema;
    };
    /**
     * Marks a session active, so it accepts conversation turns again.
     *
     * @generated from rpc agentsessions.v1.SessionService.ActivateSession
     */
    activateSession: {
        methodKind: "unary";
        input: typeof ActivateSessionRequestSchema;
        output: typeof SessionSchema;
    };
    /**
     * Marks a session inactive: its messages stay readable and writable, conversations are refused.
     *
     * @generated from rpc agentsessions.v1.SessionService.DeactivateSession
     */
    deactivateSession: {
        methodKind: "unary";
        input: typeof DeactivateSessionRequestSchema;
        output: typeof SessionSchema;
    };
    /**
     * Makes a new session of the caller with the source's fields and copies of its messages (all,
     * or up to and including `up_to_message_id`), in order, with new ids; the source is unchanged.
     * A fork never ends between a tool call and its result: FAILED_PRECONDITION, reason
     * SPLITS_TOOL_CALL.
     *
     * @generated from rpc agentsessions.v1.SessionService.ForkSession
     */
    forkSession: {
        methodKind: "unary";
        input: typeof ForkSessionRequestSchema;
        output: typeof SessionSchema;
    };
    /**
     * Deletes every message after `after_message_id`, atomically; each deleted message takes its
     * own `seq`. A rewind never ends between a tool call and its result: FAILED_PRECONDITION,
     * reason SPLITS_TOOL_CALL.
     *
     * @generated from rpc agentsessions.v1.SessionService.RewindSession
     */
    rewindSession: {
        methodKind: "unary";
        input: typeof RewindSessionRequestSchema;
        output: typeof SessionSchema;
    };
    /**
     * Runs one conversation turn: stores the request's messages and the agent's reply atomically.
     *
     * @generated from rpc agentsessions.v1.SessionService.Conversation
     */
    conversation: {
        methodKind: "unary";
        input: typeof ConversationRequestSchema;
        output: typeof ConversationResponseSchema;
    };
    /**
     * Runs one conversation turn like Conversation, streaming the reply as it is produced.
     *
     * @generated from rpc agentsessions.v1.SessionService.Converse
     */
    converse: {
        methodKind: "server_streaming";
        input: typeof ConverseRequestSchema;
        output: typeof ConverseEventSchema;
    };
    /**
     * Returns one turn of the session: its status and, once it ended, its result or error. Found
     * from its `started` event on, also a first turn whose session is not stored yet.
     *
     * @generated from rpc agentsessions.v1.SessionService.GetTurn
     */
    getTurn: {
        methodKind: "unary";
        input: typeof GetTurnRequestSchema;
        output: typeof TurnSchema;
    };
    /**
     * Streams a turn's events after `after_seq`, numbered and carried exactly as its original
     * stream had them, then its live ones until it ends (with `completed` or `error`). Any replica
     * serves it. REST: server-sent events; the token may come as the `access_token` query
     * parameter (EventSource sends no header).
     *
     * @generated from rpc agentsessions.v1.SessionService.ResumeTurn
     */
    resumeTurn: {
        methodKind: "server_streaming";
        input: typeof ResumeTurnRequestSchema;
        output: typeof ConverseEventSchema;
    };
    /**
     * Cancels a queued or running turn from any replica: it stores nothing, its model request and
     * tools stop, its streams end with an `error` event (CANCELLED). A finished turn is answered
     * as it is.
     *
     * @generated from rpc agentsessions.v1.SessionService.CancelTurn
     */
    cancelTurn: {
        methodKind: "unary";
        input: typeof CancelTurnRequestSchema;
        output: typeof TurnSchema;
    };
    /**
     * Streams every change of the session as it commits, from any replica: durable events in the
     * session's `seq` order (none skipped, none twice), live turn events, heartbeats; `deleted`
     * ends it. REST: server-sent events; the token may come as the `access_token` query parameter.
     *
     * @generated from rpc agentsessions.v1.SessionService.WatchSession
     */
    watchSession: {
        methodKind: "server_streaming";
        input: typeof WatchSessionRequestSchema;
        output: typeof SessionEventSchema;
    };
}>;
//# sourceMappingURL=session_service_pb.d.ts.map