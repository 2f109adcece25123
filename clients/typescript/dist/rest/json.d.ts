import type * as t from "../types.js";
import type { RawWatchEvent } from "../resume.js";
export type JsonObject = Record<string, unknown>;
export declare function isObject(value: unknown): value is JsonObject;
/**
 * An RFC 3339 timestamp as a Date. The fraction is cut to milliseconds first, since not every
 * JavaScript engine parses microseconds.
 */
export declare function parseTimestamp(value: unknown): Date;
export declare function sessionFromJson(value: unknown): t.Session;
export declare function messageFromJson(value: unknown): t.Message;
export declare function messagesFromJson(value: unknown): t.Message[];
export declare function sessionPageFromJson(value: unknown): t.SessionPage;
export declare function messagePageFromJson(value: unknown): t.MessagePage;
export declare function resultFromJson(value: unknown): t.ConversationResult;
export declare function turnFromJson(value: unknown): t.Turn;
/**
 * The wrapper's event for one SessionEvent JSON, the service's `error` event included (the
 * caller decides whether to watch again); undefined for a kind this client does not know.
 */
export declare function sessionEventFromJson(value: unknown): RawWatchEvent | undefined;
export declare function deletedCountFromJson(value: unknown): number;
/**
 * The wrapper's event for one ConverseEvent JSON; undefined for an unknown kind of event. An
 * `error` event is thrown as its AgentSessionsError.
 */
export declare function eventFromJson(value: unknown): t.ConverseEvent | undefined;
/** A JSON body with only the fields that are set, under their snake_case names. */
export declare function body(fields: Record<string, unknown>): JsonObject;
export declare function sessionChangesToJson(input: t.SessionChanges): JsonObject;
export declare function newSessionFieldsToJson(input: t.NewSessionFields): JsonObject;
export declare function newSessionToJson(input: t.CreateSessionInput): JsonObject;
export declare function messageInputToJson(input: t.CreateMessageInput | t.ConversationMessage | t.MessageChanges): JsonObject;
export declare function turnToJson(request: t.ConversationRequest, expectedSeq?: number): JsonObject;
//# sourceMappingURL=json.d.ts.map