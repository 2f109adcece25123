import { type Interceptor } from "@connectrpc/connect";
import type * as http2 from "node:http2";
import { type AgentSessionsApi, type MessagesApi, type SessionsApi } from "../api.js";
import { type Credentials } from "../credentials.js";
import { type RetryOptions } from "../retry.js";
import type * as t from "../types.js";
/** The default deadline of a call, in milliseconds. */
export declare const DEFAULT_TIMEOUT_MS = 30000;
export interface ClientOptions {
    /**
     * The server: the gRPC port (`http://127.0.0.1:50051`) or Envoy's (`http://127.0.0.1:8000`),
     * which passes gRPC through. `https://` uses TLS.
     */
    baseUrl: string;
    /** A JWT, or a function returning one, called before every call (and every retry). */
    token?: Credentials;
    /** The deadline of each call in milliseconds, retries included; 0 for none. Default 30 s. */
    timeoutMs?: number;
    /** Retries of calls safe to repeat on UNAVAILABLE; `false` turns them off. */
    retry?: RetryOptions | false;
    /** Headers (gRPC metadata) sent with every call. */
    headers?: Record<string, string>;
    /** More Connect interceptors, run after the one that adds the token. */
    interceptors?: Interceptor[];
    /** Options of Node's `http2.connect()`, for example TLS certificates. */
    nodeOptions?: http2.ClientSessionOptions | http2.SecureClientSessionOptions;
}
/**
 * Agent Sessions over gRPC. One HTTP/2 connection is opened on first use and shared by every
 * call; it does not keep the process alive while idle. `close()` ends it.
 */
export declare class AgentSessionsClient implements AgentSessionsApi {
    readonly sessions: SessionsApi;
    readonly messages: MessagesApi;
    private readonly rpc;
    private readonly call;
    private readonly connection;
    constructor(options: ClientOptions);
    conversation(request: t.ConversationRequest, options?: t.AppendOptions): Promise<t.ConversationResult>;
    /**
     * Runs a turn, streaming its events; a broken stream continues from the last event shown
     * (see `AgentSessionsApi.converse`).
     */
    converse(request: t.ConversationRequest, options?: t.AppendOptions): AsyncGenerator<t.ConverseEvent, void, undefined>;
    getTurn(sessionId: string, turnId: string, options?: t.CallOptions): Promise<t.Turn>;
    cancelTurn(sessionId: string, turnId: string, options?: t.CallOptions): Promise<t.Turn>;
    resumeTurn(sessionId: string, turnId: string, options?: t.ResumeOptions): AsyncGenerator<t.ConverseEvent, void, undefined>;
    watchSession(sessionId: string, options?: t.WatchOptions): AsyncGenerator<t.SessionEvent, void, undefined>;
    /** One attempt of ResumeTurn. */
    private resumeOnce;
    /**
     * One attempt of a server stream: its events converted (unknown kinds skipped), its failures
     * as AgentSessionsErrors; an error the conversion throws (the turn's `error` event) is final.
     */
    private streamOnce;
    converseText(request: t.ConversationRequest, options?: t.AppendOptions): AsyncIterable<string>;
    /** Closes the HTTP/2 connection and any call still running on it. */
    close(): void;
}
//# sourceMappingURL=client.d.ts.map