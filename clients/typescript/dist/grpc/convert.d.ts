/** Generated protobuf messages ↔ the wrapper's plain types. */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Timestamp } from "@bufbuild/protobuf/wkt";
import type * as t from "../types.js";
import { Role, type Message, type Session } from "../gen/agentsessions/v1/resources_pb.js";
import { IfBusy, type ConversationMessageSchema, type ConversationResponse, type ConverseEvent, type SessionEvent, type ToolSchema, type Turn } from "../gen/agentsessions/v1/session_service_pb.js";
import type { RawWatchEvent } from "../resume.js";
/**
 * The proto enum value of a role; anything else is sent as `role_unspecified`, which the
 * server refuses with INVALID_ARGUMENT naming the field, as it does over REST.
 */
export declare function roleToProto(role: t.Role): Role;
export declare function roleFromProto(role: Role): t.Role;
export declare function sessionFromProto(s: Session): t.Session;
/** A Date as a proto Timestamp; undefined stays undefined. */
export declare function timestampOf(value: Date | undefined): Timestamp | undefined;
/** A batch's `createSession` as the NewSession message (labels and expiry included). */
export declare function newSessionToProto(fields: t.NewSessionFields | undefined): (Omit<t.NewSessionFields, "expireTime" | "labels"> & {
    labels: Record<string, string>;
    expireTime?: Timestamp;
}) | undefined;
export declare function messageFromProto(m: Message): t.Message;
export declare function resultFromProto(r: ConversationResponse): t.ConversationResult;
export declare function turnFromProto(turn: Turn): t.Turn;
/**
 * The wrapper's event for a watch's proto event, the service's `error` event included (the
 * caller decides whether to watch again); undefined for a kind this client does not know.
 */
export declare function sessionEventFromProto(e: SessionEvent): RawWatchEvent | undefined;
/**
 * The wrapper's event for a proto event; undefined for an event kind this client does not know
 * (added by a newer service). An `error` event is thrown as its AgentSessionsError.
 */
export declare function eventFromProto(e: ConverseEvent): t.ConverseEvent | undefined;
/** The fields of a new message, as ConversationMessage, NewMessage and CreateMessage take them. */
export declare function newMessageToProto(m: t.ConversationMessage): {
    role: Role;
    content: string;
    toolCallId?: string;
    toolName?: string;
    extraData?: string;
};
/**
 * The fields shared by ConversationRequest and ConverseRequest, with the call's request id (made
 * here, once per call) and expected seq.
 */
export declare function turnToProto(request: t.ConversationRequest, options: t.AppendOptions | undefined): {
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
};
//# sourceMappingURL=convert.d.ts.map