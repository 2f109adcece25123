/**
 * The surface both clients offer, so code can switch between gRPC (Node) and REST (browsers)
 * by changing only the constructor.
 */
import type { CallOptions, ConversationRequest, ConversationResult, ConverseEvent, CreateMessageInput, CreateSessionInput, ListMessagesOptions, ListSessionsOptions, Message, MessageChanges, MessagePage, Session, SessionChanges, SessionPage } from "./types.js";
/** The caller's sessions. */
export interface SessionsApi {
    /** Creates a session; a `sessionId` the caller already uses is ALREADY_EXISTS. Not retried. */
    create(input?: CreateSessionInput, options?: CallOptions): Promise<Session>;
    get(sessionId: string, options?: CallOptions): Promise<Session>;
    /** Every session the filters select, newest created first, fetching pages as needed. */
    list(filters?: ListSessionsOptions, options?: CallOptions): AsyncIterable<Session>;
    /** One page of sessions. */
    listPage(filters?: ListSessionsOptions, options?: CallOptions): Promise<SessionPage>;
    /** Changes the fields present in `changes`. */
    update(sessionId: string, changes: SessionChanges, options?: CallOptions): Promise<Session>;
    /** Deletes a session and its messages. */
    delete(sessionId: string, options?: CallOptions): Promise<void>;
    activate(sessionId: string, options?: CallOptions): Promise<Session>;
    deactivate(sessionId: string, options?: CallOptions): Promise<Session>;
}
/** The messages of the caller's sessions. */
export interface MessagesApi {
    /** Appends a message. Not retried. */
    create(sessionId: string, input: CreateMessageInput, options?: CallOptions): Promise<Message>;
    get(sessionId: string, messageId: string, options?: CallOptions): Promise<Message>;
    /** Every message of a session, in insertion order (or newest first), page after page. */
    list(sessionId: string, filters?: ListMessagesOptions, options?: CallOptions): AsyncIterable<Message>;
    /** One page of messages. */
    listPage(sessionId: string, filters?: ListMessagesOptions, options?: CallOptions): Promise<MessagePage>;
    update(sessionId: string, messageId: string, changes: MessageChanges, options?: CallOptions): Promise<Message>;
    delete(sessionId: string, messageId: string, options?: CallOptions): Promise<void>;
    /** Deletes every message of a session and returns how many there were; the session stays. */
    clear(sessionId: string, options?: CallOptions): Promise<number>;
}
/** Everything a client offers. */
export interface AgentSessionsApi {
    readonly sessions: SessionsApi;
    readonly messages: MessagesApi;
    /** Runs one conversation turn and returns when it is stored. Not retried. */
    conversation(request: ConversationRequest, options?: CallOptions): Promise<ConversationResult>;
    /**
     * Runs one conversation turn, streaming its events as the reply is produced. The call starts
     * at the first `next()`; leaving the loop early cancels it. A failure, before the stream began
     * (bad input, inactive session, bad token) or after (the service's `error` event: nothing of
     * the turn is stored), is thrown by the iteration as an AgentSessionsError. Not retried.
     */
    converse(request: ConversationRequest, options?: CallOptions): AsyncIterable<ConverseEvent>;
    /** Only the reply's text pieces, as they arrive; failures are thrown as by `converse`. */
    converseText(request: ConversationRequest, options?: CallOptions): AsyncIterable<string>;
}
/** The `delta` texts of `events`. */
export declare function textDeltas(events: AsyncIterable<ConverseEvent>): AsyncGenerator<string, void, undefined>;
//# sourceMappingURL=api.d.ts.map