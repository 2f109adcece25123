import type { GenFile, GenMessage, GenService } from "@bufbuild/protobuf/codegenv2";
import type { Message as Message$1, MessageSchema, Role } from "./resources_pb.js";
import type { EmptySchema, Timestamp } from "@bufbuild/protobuf/wkt";
import type { Message } from "@bufbuild/protobuf";
/**
 * Describes the file agentsessions/v1/message_service.proto.
 */
export declare const file_agentsessions_v1_message_service: GenFile;
/**
 * The request of ListMessages.
 *
 * @generated from message agentsessions.v1.ListMessagesRequest
 */
export type ListMessagesRequest = Message<"agentsessions.v1.ListMessagesRequest"> & {
    /**
     * Required. The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Optional. The most messages to return: 0 means 50, above 1000 is capped at 1000, negative
     * is refused.
     *
     * @generated from field: int32 page_size = 2;
     */
    pageSize: number;
    /**
     * Optional. The `next_page_token` of a previous call with the same session and order.
     *
     * @generated from field: string page_token = 3;
     */
    pageToken: string;
    /**
     * Optional. `asc` (the default) for insertion order, `desc` for the most recent first.
     *
     * @generated from field: string order = 4;
     */
    order: string;
};
/**
 * Describes the message agentsessions.v1.ListMessagesRequest.
 * Use `create(ListMessagesRequestSchema)` to create a new message.
 */
export declare const ListMessagesRequestSchema: GenMessage<ListMessagesRequest>;
/**
 * The response of ListMessages.
 *
 * @generated from message agentsessions.v1.ListMessagesResponse
 */
export type ListMessagesResponse = Message<"agentsessions.v1.ListMessagesResponse"> & {
    /**
     * The page of messages.
     *
     * @generated from field: repeated agentsessions.v1.Message messages = 1;
     */
    messages: Message$1[];
    /**
     * The token of the next page; empty on the last page.
     *
     * @generated from field: string next_page_token = 2;
     */
    nextPageToken: string;
    /**
     * The number of messages in the session, regardless of the page.
     *
     * @generated from field: int32 total_size = 3;
     */
    totalSize: number;
};
/**
 * Describes the message agentsessions.v1.ListMessagesResponse.
 * Use `create(ListMessagesResponseSchema)` to create a new message.
 */
export declare const ListMessagesResponseSchema: GenMessage<ListMessagesResponse>;
/**
 * The request of CreateMessage.
 *
 * @generated from message agentsessions.v1.CreateMessageRequest
 */
export type CreateMessageRequest = Message<"agentsessions.v1.CreateMessageRequest"> & {
    /**
     * Required. The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Required. Who wrote the message.
     *
     * @generated from field: agentsessions.v1.Role role = 2;
     */
    role: Role;
    /**
     * Optional. The text of the message.
     *
     * @generated from field: string content = 3;
     */
    content: string;
    /**
     * Optional. The id of the tool call this message makes or answers.
     *
     * @generated from field: optional string tool_call_id = 4;
     */
    toolCallId?: string | undefined;
    /**
     * Optional. The name of the tool called or answering.
     *
     * @generated from field: optional string tool_name = 5;
     */
    toolName?: string | undefined;
    /**
     * Optional. Extra data as JSON text; text that is not JSON (the empty string too) is refused.
     *
     * @generated from field: optional string extra_data = 6;
     */
    extraData?: string | undefined;
    /**
     * Optional. A UUID the client makes once per logical call and keeps across its retries (REST:
     * this field or the `Idempotency-Key` header). A repeat with the same id and the same request
     * answers the first call's response and changes nothing; with another request it is refused
     * (INVALID_ARGUMENT, reason REQUEST_ID_REUSED). Kept AGENT_SESSIONS_REQUEST_ID_TTL seconds.
     *
     * @generated from field: string request_id = 7;
     */
    requestId: string;
    /**
     * Optional. The session's `seq` the caller last saw: when the session has changed since, nothing
     * is stored (ABORTED, reason SESSION_CHANGED).
     *
     * @generated from field: optional int32 expected_seq = 8;
     */
    expectedSeq?: number | undefined;
};
/**
 * Describes the message agentsessions.v1.CreateMessageRequest.
 * Use `create(CreateMessageRequestSchema)` to create a new message.
 */
export declare const CreateMessageRequestSchema: GenMessage<CreateMessageRequest>;
/**
 * One message of a BatchCreateMessages request.
 *
 * @generated from message agentsessions.v1.NewMessage
 */
export type NewMessage = Message<"agentsessions.v1.NewMessage"> & {
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
     * Optional. The name of the tool called or answering (a tool result's is filled in from its
     * call when absent).
     *
     * @generated from field: optional string tool_name = 4;
     */
    toolName?: string | undefined;
    /**
     * Optional. Extra data as JSON text.
     *
     * @generated from field: optional string extra_data = 5;
     */
    extraData?: string | undefined;
};
/**
 * Describes the message agentsessions.v1.NewMessage.
 * Use `create(NewMessageSchema)` to create a new message.
 */
export declare const NewMessageSchema: GenMessage<NewMessage>;
/**
 * The fields of a session that BatchCreateMessages creates when it is missing.
 *
 * @generated from message agentsessions.v1.NewSession
 */
export type NewSession = Message<"agentsessions.v1.NewSession"> & {
    /**
     * Optional. A human-readable name.
     *
     * @generated from field: optional string session_name = 1;
     */
    sessionName?: string | undefined;
    /**
     * Optional. A free-text description.
     *
     * @generated from field: optional string description = 2;
     */
    description?: string | undefined;
    /**
     * Optional. The name of the agent that answers in this session.
     *
     * @generated from field: optional string agent_name = 3;
     */
    agentName?: string | undefined;
    /**
     * Optional. The system instructions given to the agent.
     *
     * @generated from field: optional string agent_instructions = 4;
     */
    agentInstructions?: string | undefined;
    /**
     * Optional. Whether the session accepts conversation turns; true when absent.
     *
     * @generated from field: optional bool is_active = 5;
     */
    isActive?: boolean | undefined;
    /**
     * Optional. The model the session's agent runs on.
     *
     * @generated from field: optional string model = 6;
     */
    model?: string | undefined;
    /**
     * Optional. Which server tools the session's agent may call (see Session.server_tools).
     *
     * @generated from field: optional string server_tools = 7;
     */
    serverTools?: string | undefined;
    /**
     * Optional. The session's labels (see Session.labels).
     *
     * @generated from field: map<string, string> labels = 8;
     */
    labels: {
        [key: string]: string;
    };
    /**
     * Optional. When the session expires. Neither this nor `ttl`: AGENT_SESSIONS_SESSION_TTL
     * seconds from now, or never when unset.
     *
     * @generated from field: google.protobuf.Timestamp expire_time = 9;
     */
    expireTime?: Timestamp | undefined;
    /**
     * Optional. The session expires this many seconds after its creation (1 to 3153600000); not
     * with `expire_time`.
     *
     * @generated from field: optional int32 ttl = 10;
     */
    ttl?: number | undefined;
};
/**
 * Describes the message agentsessions.v1.NewSession.
 * Use `create(NewSessionSchema)` to create a new message.
 */
export declare const NewSessionSchema: GenMessage<NewSession>;
/**
 * The request of BatchCreateMessages.
 *
 * @generated from message agentsessions.v1.BatchCreateMessagesRequest
 */
export type BatchCreateMessagesRequest = Message<"agentsessions.v1.BatchCreateMessagesRequest"> & {
    /**
     * Required. The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Required. The messages to append, in order: 1 to 100. A tool result must answer a tool call
     * earlier in the batch or one the session waits for.
     *
     * @generated from field: repeated agentsessions.v1.NewMessage messages = 2;
     */
    messages: NewMessage[];
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
     * Optional. The session's `seq` the caller last saw: when the session has changed since, nothing
     * is stored (ABORTED, reason SESSION_CHANGED).
     *
     * @generated from field: optional int32 expected_seq = 4;
     */
    expectedSeq?: number | undefined;
    /**
     * Optional. When the session is missing, create it with these fields (as a conversation's
     * first turn does); without it a missing session is NOT_FOUND.
     *
     * @generated from field: agentsessions.v1.NewSession create_session = 5;
     */
    createSession?: NewSession | undefined;
};
/**
 * Describes the message agentsessions.v1.BatchCreateMessagesRequest.
 * Use `create(BatchCreateMessagesRequestSchema)` to create a new message.
 */
export declare const BatchCreateMessagesRequestSchema: GenMessage<BatchCreateMessagesRequest>;
/**
 * The response of BatchCreateMessages.
 *
 * @generated from message agentsessions.v1.BatchCreateMessagesResponse
 */
export type BatchCreateMessagesResponse = Message<"agentsessions.v1.BatchCreateMessagesResponse"> & {
    /**
     * The stored messages, in order.
     *
     * @generated from field: repeated agentsessions.v1.Message messages = 1;
     */
    messages: Message$1[];
};
/**
 * Describes the message agentsessions.v1.BatchCreateMessagesResponse.
 * Use `create(BatchCreateMessagesResponseSchema)` to create a new message.
 */
export declare const BatchCreateMessagesResponseSchema: GenMessage<BatchCreateMessagesResponse>;
/**
 * The request of GetMessage.
 *
 * @generated from message agentsessions.v1.GetMessageRequest
 */
export type GetMessageRequest = Message<"agentsessions.v1.GetMessageRequest"> & {
    /**
     * Required. The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Required. The UUID of the message.
     *
     * @generated from field: string message_id = 2;
     */
    messageId: string;
};
/**
 * Describes the message agentsessions.v1.GetMessageRequest.
 * Use `create(GetMessageRequestSchema)` to create a new message.
 */
export declare const GetMessageRequestSchema: GenMessage<GetMessageRequest>;
/**
 * The request of UpdateMessage: only the fields present change.
 *
 * @generated from message agentsessions.v1.UpdateMessageRequest
 */
export type UpdateMessageRequest = Message<"agentsessions.v1.UpdateMessageRequest"> & {
    /**
     * Required. The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Required. The UUID of the message.
     *
     * @generated from field: string message_id = 2;
     */
    messageId: string;
    /**
     * Optional. The new text.
     *
     * @generated from field: optional string content = 3;
     */
    content?: string | undefined;
    /**
     * Optional. New extra data as JSON text (`null` to say there is none).
     *
     * @generated from field: optional string extra_data = 4;
     */
    extraData?: string | undefined;
    /**
     * Optional. The new tool call id; empty removes it.
     *
     * @generated from field: optional string tool_call_id = 5;
     */
    toolCallId?: string | undefined;
    /**
     * Optional. The new tool name; empty removes it.
     *
     * @generated from field: optional string tool_name = 6;
     */
    toolName?: string | undefined;
    /**
     * Optional. A UUID the client makes once per logical call and keeps across its retries (REST:
     * this field or the `Idempotency-Key` header). A repeat with the same id and the same request
     * answers the first call's response and changes nothing; with another request it is refused
     * (INVALID_ARGUMENT, reason REQUEST_ID_REUSED). Kept AGENT_SESSIONS_REQUEST_ID_TTL seconds.
     *
     * @generated from field: string request_id = 7;
     */
    requestId: string;
    /**
     * Optional. The `etag` the caller last read (REST: this field or the `If-Match` header): when it
     * is no longer the current one the call changes nothing (ABORTED, reason ETAG_MISMATCH).
     *
     * @generated from field: string etag = 8;
     */
    etag: string;
};
/**
 * Describes the message agentsessions.v1.UpdateMessageRequest.
 * Use `create(UpdateMessageRequestSchema)` to create a new message.
 */
export declare const UpdateMessageRequestSchema: GenMessage<UpdateMessageRequest>;
/**
 * The request of DeleteMessage.
 *
 * @generated from message agentsessions.v1.DeleteMessageRequest
 */
export type DeleteMessageRequest = Message<"agentsessions.v1.DeleteMessageRequest"> & {
    /**
     * Required. The caller-chosen id of the session.
     *
     * @generated from field: string session_id = 1;
     */
    sessionId: string;
    /**
     * Required. The UUID of the message.
     *
     * @generated from field: string message_id = 2;
     */
    messageId: string;
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
};
/**
 * Describes the message agentsessions.v1.DeleteMessageRequest.
 * Use `create(DeleteMessageRequestSchema)` to create a new message.
 */
export declare const DeleteMessageRequestSchema: GenMessage<DeleteMessageRequest>;
/**
 * The request of ClearMessages.
 *
 * @generated from message agentsessions.v1.ClearMessagesRequest
 */
export type ClearMessagesRequest = Message<"agentsessions.v1.ClearMessagesRequest"> & {
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
};
/**
 * Describes the message agentsessions.v1.ClearMessagesRequest.
 * Use `create(ClearMessagesRequestSchema)` to create a new message.
 */
export declare const ClearMessagesRequestSchema: GenMessage<ClearMessagesRequest>;
/**
 * The response of ClearMessages.
 *
 * @generated from message agentsessions.v1.ClearMessagesResponse
 */
export type ClearMessagesResponse = Message<"agentsessions.v1.ClearMessagesResponse"> & {
    /**
     * How many messages were deleted.
     *
     * @generated from field: int32 deleted_count = 1;
     */
    deletedCount: number;
};
/**
 * Describes the message agentsessions.v1.ClearMessagesResponse.
 * Use `create(ClearMessagesResponseSchema)` to create a new message.
 */
export declare const ClearMessagesResponseSchema: GenMessage<ClearMessagesResponse>;
/**
 * Reads and writes the messages of the caller's sessions. Every call needs a bearer token; a
 * session or message of another user answers NOT_FOUND.
 *
 * @generated from service agentsessions.v1.MessageService
 */
export declare const MessageService: GenService<{
    /**
     * Lists a session's messages in insertion order (or newest first with `order=desc`).
     *
     * @generated from rpc agentsessions.v1.MessageService.ListMessages
     */
    listMessages: {
        methodKind: "unary";
        input: typeof ListMessagesRequestSchema;
        output: typeof ListMessagesResponseSchema;
    };
    /**
     * Appends one message to a session (inactive sessions accept messages too).
     *
     * @generated from rpc agentsessions.v1.MessageService.CreateMessage
     */
    createMessage: {
        methodKind: "unary";
        input: typeof CreateMessageRequestSchema;
        output: typeof MessageSchema;
    };
    /**
     * Appends up to 100 messages to a session in one transaction: all or none, consecutive in the
     * session's order whatever other writers do.
     *
     * @generated from rpc agentsessions.v1.MessageService.BatchCreateMessages
     */
    batchCreateMessages: {
        methodKind: "unary";
        input: typeof BatchCreateMessagesRequestSchema;
        output: typeof BatchCreateMessagesResponseSchema;
    };
    /**
     * Returns one message of a session.
     *
     * @generated from rpc agentsessions.v1.MessageService.GetMessage
     */
    getMessage: {
        methodKind: "unary";
        input: typeof GetMessageRequestSchema;
        output: typeof MessageSchema;
    };
    /**
     * Changes the fields that are present in the request; the others keep their values.
     *
     * @generated from rpc agentsessions.v1.MessageService.UpdateMessage
     */
    updateMessage: {
        methodKind: "unary";
        input: typeof UpdateMessageRequestSchema;
        output: typeof MessageSchema;
    };
    /**
     * Deletes one message.
     *
     * @generated from rpc agentsessions.v1.MessageService.DeleteMessage
     */
    deleteMessage: {
        methodKind: "unary";
        input: typeof DeleteMessageRequestSchema;
        output: typeof EmptySchema;
    };
    /**
     * Deletes every message of a session; the session itself stays.
     *
     * @generated from rpc agentsessions.v1.MessageService.ClearMessages
     */
    clearMessages: {
        methodKind: "unary";
        input: typeof ClearMessagesRequestSchema;
        output: typeof ClearMessagesResponseSchema;
    };
}>;
//# sourceMappingURL=message_service_pb.d.ts.map