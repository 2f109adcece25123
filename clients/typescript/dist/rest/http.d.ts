/**
 * One HTTP exchange with Envoy over `fetch`: headers and token, the deadline, and every failure
 * (HTTP error, network, timeout, cancel) as an AgentSessionsError. Browser-safe.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { type Credentials } from "../credentials.js";
import { AgentSessionsError } from "../errors.js";
import { type AttemptOptions, type RetryOptions } from "../retry.js";
import type { CallOptions } from "../types.js";
export interface HttpConfig {
    baseUrl: string;
    token: Credentials | undefined;
    timeoutMs: number | undefined;
    retry: Required<RetryOptions>;
    headers: Record<string, string>;
    fetch: typeof fetch;
}
export interface HttpRequest {
    method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
    /** Starts with `/`; path segments already encoded. */
    path: string;
    /** An array value repeats the parameter, once per element. */
    query?: Record<string, string | number | boolean | string[] | undefined>;
    body?: unknown;
    accept?: string;
    /** Headers of this request, the same in every attempt (the request id, the etag). */
    headers?: Record<string, string>;
}
/** A response whose body is still to be read; `close()` stops its deadline timer. */
export interface OpenResponse {
    response: Response;
    /** Maps a failure while reading the body to an AgentSessionsError. */
    failure(error: unknown): unknown;
    close(): void;
}
/** An AgentSessionsError from a non-2xx response: its JSON google.rpc.Status, else its status. */
export declare function httpError(response: Response): Promise<AgentSessionsError>;
export declare class Http {
    private readonly config;
    private readonly baseUrl;
    constructor(config: HttpConfig);
    /** The client's retry policy. */
    get retry(): Required<RetryOptions>;
    /** The deadline of a call: its own, else the client's; undefined for none. */
    timeoutMs(options: CallOptions | undefined): number | undefined;
    /**
     * A JSON call of the path that transcodes `method`, retried on UNAVAILABLE (HTTP 503, network
     * errors) when its proto says that is safe.
     */
    json(request: HttpRequest, method: DescMethod, options?: CallOptions): Promise<unknown>;
    /**
     * Sends a request and returns its 2xx response with the body unread; the deadline keeps
     * running until `close()`. Non-2xx responses are thrown as AgentSessionsErrors.
     */
    open(request: HttpRequest, attempt: AttemptOptions, headers?: Record<string, string>): Promise<OpenResponse>;
    private headers;
}
//# sourceMappingURL=http.d.ts.map