import type { GenFile, GenMessage, GenService } from "@bufbuild/protobuf/codegenv2";
import type { Message as Message$1, MessageSchema, Role } from "./resources_pb.js";
import type { EmptySchema } from "@bufbuild/protobuf/wkt";
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
};
/**
 * Describes the message agentsessions.v1.CreateMessageRequest.
 * Use `create(CreateMessageRequestSchema)` to create a new message.
 */
export declare const CreateMessageRequestSchema: GenMessage<CreateMessageRequest>;
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