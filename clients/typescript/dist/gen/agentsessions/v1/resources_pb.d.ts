import type { GenEnum, GenFile, GenMessage } from "@bufbuild/protobuf/codegenv2";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Message as Message$1 } from "@bufbuild/protobuf";
/**
 * Describes the file agentsessions/v1/resources.proto.
 */
export declare const file_agentsessions_v1_resources: GenFile;
/**
 * A conversation with an AI agent: the agent's configuration and metadata, owned by one user.
 *
 * @generated from message agentsessions.v1.Session
 */
export type Session = Message$1<"agentsessions.v1.Session"> & {
    /**
     * Output only. The server-assigned UUID of the session.
     *
     * @generated from field: string id = 1;
     */
    id: string;
    /**
     * Output only after creation. The caller-chosen id, unique per user and immutable; matches
     * `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`.
     *
     * @generated from field: string session_id = 2;
     */
    sessionId: string;
    /**
     * Optional. A human-readable name; absent when never set.
     *
     * @generated from field: optional string session_name = 3;
     */
    sessionName?: string | undefined;
    /**
     * Optional. A free-text description; absent when never set.
     *
     * @generated from field: optional string description = 4;
     */
    description?: string | undefined;
    /**
     * Output only. Whether the session accepts conversation turns; always present.
     *
     * @generated from field: bool is_active = 5;
     */
    isActive: boolean;
    /**
     * Output only. The UUID of the owning user, derived from the token's `sub`.
     *
     * @generated from field: string user_id = 6;
     */
    userId: string;
    /**
     * Optional. The name of the agent that answers in this session; absent when never set.
     *
     * @generated from field: optional string agent_name = 7;
     */
    agentName?: string | undefined;
    /**
     * Optional. The system instructions given to the agent; absent when never set.
     *
     * @generated from field: optional string agent_instructions = 8;
     */
    agentInstructions?: string | undefined;
    /**
     * Output only. When the session was created (UTC, microseconds); never changes.
     *
     * @generated from field: google.protobuf.Timestamp created_at = 9;
     */
    createdAt?: Timestamp | undefined;
    /**
     * Output only. When the session's own fields last changed, activation included.
     *
     * @generated from field: google.protobuf.Timestamp updated_at = 10;
     */
    updatedAt?: Timestamp | undefined;
    /**
     * Optional. The model the session's agent runs on; empty or absent means the server's default
     * (AGENT_SESSIONS_MODEL).
     *
     * @generated from field: optional string model = 11;
     */
    model?: string | undefined;
    /**
     * Optional. Which server tools (those of the MCP servers the service is configured with) the
     * session's agent may call: empty or absent means all of them, `none` means none, otherwise a
     * comma-separated list of `server` (all its tools) or `server/tool` entries.
     *
     * @generated from field: optional string server_tools = 12;
     */
    serverTools?: string | undefined;
    /**
     * Output only. Changes on every change of the session (its fields, and every change of its
     * messages, which move `seq`). Send it back as `etag` (or the `If-Match` header) to change or
     * delete the session only if nobody changed it since: otherwise ABORTED, reason ETAG_MISMATCH.
     *
     * @generated from field: string etag = 13;
     */
    etag: string;
    /**
     * Output only. The session's change counter: each committed change of the session's fields or
     * of its messages takes the next value, gap-free (a message stored, updated or deleted takes
     * one each; clearing the messages takes one). 0 for a new session without changes.
     *
     * @generated from field: int32 seq = 14;
     */
    seq: number;
    /**
     * Optional. String labels to find the session by (ListSessions' `label` filter): at most 64,
     * keys matching `^[a-z][a-z0-9_.-]{0,62}$`, values of at most 256 characters.
     *
     * @generated from field: map<string, string> labels = 15;
     */
    labels: {
        [key: string]: string;
    };
    /**
     * Optional. When the session expires: from then on every call answers NOT_FOUND for it, and
     * its rows are deleted within minutes. Absent: it never expires.
     *
     * @generated from field: google.protobuf.Timestamp expire_time = 16;
     */
    expireTime?: Timestamp | undefined;
    /**
     * Output only. The tokens the session's stored turns used, and how many turns that is.
     *
     * @generated from field: agentsessions.v1.SessionUsage usage = 17;
     */
    usage?: SessionUsage | undefined;
};
/**
 * Describes the message agentsessions.v1.Session.
 * Use `create(SessionSchema)` to create a new message.
 */
export declare const SessionSchema: GenMessage<Session>;
/**
 * The usage of a session: sums over its stored conversation turns (a turn of an agent that
 * reports no usage, like the mock, counts as a turn with 0 tokens). Forks start at zero.
 *
 * @generated from message agentsessions.v1.SessionUsage
 */
export type SessionUsage = Message$1<"agentsessions.v1.SessionUsage"> & {
    /**
     * Tokens of the model's input, summed over the session's turns.
     *
     * @generated from field: int32 input_tokens = 1;
     */
    inputTokens: number;
    /**
     * Tokens the model produced, summed over the session's turns.
     *
     * @generated from field: int32 output_tokens = 2;
     */
    outputTokens: number;
    /**
     * input_tokens + output_tokens as the model reported them, summed over the session's turns.
     *
     * @generated from field: int32 total_tokens = 3;
     */
    totalTokens: number;
    /**
     * The number of stored conversation turns (batches and single messages are not turns).
     *
     * @generated from field: int32 turns = 4;
     */
    turns: number;
};
/**
 * Describes the message agentsessions.v1.SessionUsage.
 * Use `create(SessionUsageSchema)` to create a new message.
 */
export declare const SessionUsageSchema: GenMessage<SessionUsage>;
/**
 * One message of a session, in the session's insertion order.
 *
 * @generated from message agentsessions.v1.Message
 */
export type Message = Message$1<"agentsessions.v1.Message"> & {
    /**
     * Output only. The server-assigned UUID of the message.
     *
     * @generated from field: string id = 1;
     */
    id: string;
    /**
     * Output only. The caller-chosen id of the session the message belongs to.
     *
     * @generated from field: string session_id = 2;
     */
    sessionId: string;
    /**
     * Output only. The UUID of the session the message belongs to.
     *
     * @generated from field: string session_uuid = 3;
     */
    sessionUuid: string;
    /**
     * Required on creation, immutable. Who wrote the message.
     *
     * @generated from field: agentsessions.v1.Role role = 4;
     */
    role: Role;
    /**
     * The text of the message; may be empty (an assistant message that only calls a tool).
     *
     * @generated from field: string content = 5;
     */
    content: string;
    /**
     * Optional. The id of the tool call this message makes or answers.
     *
     * @generated from field: optional string tool_call_id = 6;
     */
    toolCallId?: string | undefined;
    /**
     * Optional. The name of the tool called or answering.
     *
     * @generated from field: optional string tool_name = 7;
     */
    toolName?: string | undefined;
    /**
     * Optional. Extra data as JSON text, for example `{"edited": true}`; stored exactly as sent.
     *
     * @generated from field: optional string extra_data = 8;
     */
    extraData?: string | undefined;
    /**
     * Output only. When the message was stored (UTC, microseconds).
     *
     * @generated from field: google.protobuf.Timestamp created_at = 9;
     */
    createdAt?: Timestamp | undefined;
    /**
     * Output only. When the message last changed.
     *
     * @generated from field: google.protobuf.Timestamp updated_at = 10;
     */
    updatedAt?: Timestamp | undefined;
    /**
     * Output only. Changes on every change of the message; send it back as `etag` (or `If-Match`)
     * to change or delete the message only if nobody changed it since.
     *
     * @generated from field: string etag = 11;
     */
    etag: string;
    /**
     * Output only. The session's `seq` at which the message was stored: the session's order.
     *
     * @generated from field: int32 seq = 12;
     */
    seq: number;
};
/**
 * Describes the message agentsessions.v1.Message.
 * Use `create(MessageSchema)` to create a new message.
 */
export declare const MessageSchema: GenMessage<Message>;
/**
 * The author of a message. The value names are lower case on purpose: Envoy's JSON transcoding
 * prints enum value names verbatim, and the REST contract says `user`, `assistant`, `system`,
 * `tool`, in and out.
 *
 * @generated from enum agentsessions.v1.Role
 */
export declare enum Role {
    /**
     * Not a valid role; requests that leave the role unset are refused.
     *
     * @generated from enum value: role_unspecified = 0;
     */
    role_unspecified = 0,
    /**
     * A message written by the end user.
     *
     * @generated from enum value: user = 1;
     */
    user = 1,
    /**
     * A message written by the agent.
     *
     * @generated from enum value: assistant = 2;
     */
    assistant = 2,
    /**
     * A system or developer instruction.
     *
     * @generated from enum value: system = 3;
     */
    system = 3,
    /**
     * The output of a tool call.
     *
     * @generated from enum value: tool = 4;
     */
    tool = 4
}
/**
 * Describes the enum agentsessions.v1.Role.
 */
export declare const RoleSchema: GenEnum<Role>;
//# sourceMappingURL=resources_pb.d.ts.map