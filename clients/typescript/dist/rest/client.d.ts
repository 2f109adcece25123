/**
 * Agent Sessions over REST (Envoy's JSON transcoding), with `fetch` only: for browsers, and for
 * any runtime that has `fetch`.
 */
import { type AgentSessionsApi, type MessagesApi, type SessionsApi } from "../api.js";
import type { Credentials } from "../credentials.js";
import { type RetryOptions } from "../retry.js";
import type * as t from "../types.js";
/** The REST paths' common prefix. */
export declare const API_PREFIX = "/api/agent-sessions";
/** The default deadline of a call, in milliseconds. */
export declare const DEFAULT_REST_TIMEOUT_MS = 30000;
export interface RestClientOptions {
    /** Envoy's address, for example `http://127.0.0.1:8000`, or `""` for the page's own origin. */
    baseUrl: string;
    /** A JWT, or a function returning one, called before every request (and every retry). */
    token?: Credentials;
    /** The deadline of each call in milliseconds, retries included; 0 for none. Default 30 s. */
    timeoutMs?: number;
    /** Retries of calls safe to repeat on UNAVAILABLE (503, network errors); `false`: none. */
    retry?: RetryOptions | false;
    /** Headers sent with every request. */
    headers?: Record<string, string>;
    /** The `fetch` to use; the global one by default. */
    fetch?: typeof fetch;
}
/**
 * Agent Sessions over REST. Same surface as the gRPC client; `converseStream()` reads the
 * `text/event-stream` of `POST /api/agent-sessions/conversation:stream`.
 */
export declare class AgentSessionsRestClient implements AgentSessionsApi {
    readonly sessions: SessionsApi;
    readonly messages: MessagesApi;
    private readonly http;
    constructor(options: RestClientOptions);
    conversation(request: t.ConversationRequest, options?: t.AppendOptions): Promise<t.ConversationResult>;
    /**
     * Streams a conversation turn from `text/event-stream`. A failure before the stream begins is
     * thrown as the HTTP error it is; the `error` event that ends a stream failing after it began
     * is thrown as its AgentSessionsError (after the events before it were yielded). A body that
     * ends without `completed` was cut: the turn is sent again (same request id) before its
     * `started` event, and read on with `resumeTurn` after it (see `AgentSessionsApi.converse`).
     */
    converseStream(request: t.ConversationRequest, options?: t.AppendOptions): AsyncGenerator<t.ConverseEvent, void, undefined>;
    getTurn(sessionId: string, turnId: string, options?: t.CallOptions): Promise<t.Turn>;
    cancelTurn(sessionId: string, turnId: string, options?: t.CallOptions): Promise<t.Turn>;
    resumeTurn(sessionId: string, turnId: string, options?: t.ResumeOptions): AsyncGenerator<t.ConverseEvent, void, undefined>;
    /**
     * Reads `GET /api/agent-sessions/{session_id}:watch` (server-sent events) with the token in
     * the `authorization` header, as every other call sends it.
     */
    watchSession(sessionId: string, options?: t.WatchOptions): AsyncGenerator<t.SessionEvent, void, undefined>;
    private retryContext;
    /** One attempt of ResumeTurn's event stream. */
    private resumeOnce;
    /** One attempt of a turn's event stream (Converse or ResumeTurn). */
    private turnEventsOnce;
    /** One attempt of a watch's event stream. */
    private watchOnce;
    /** The JSON of each event of one `text/event-stream` response, failures mapped. */
    private sseOnce;
    /** The same as `converseStream()`. */
    converse(request: t.ConversationRequest, options?: t.AppendOptions): AsyncIterable<t.ConverseEvent>;
    converseText(request: t.ConversationRequest, options?: t.AppendOptions): AsyncIterable<string>;
}
//# sourceMappingURL=client.d.ts.map