/**
 * The one error type both clients throw: the gRPC code, the server's message, and the
 * google.rpc.ErrorInfo and google.rpc.BadRequest details of the status.
 */
import { Code } from "@connectrpc/connect";
export { Code };
/** One invalid field named by a google.rpc.BadRequest detail. */
export interface FieldViolation {
    /** The field, for example `session_id` or `messages[0].content`. */
    field: string;
    description: string;
}
/** What an AgentSessionsError is made of. */
export interface AgentSessionsErrorInit {
    code: Code;
    /** The server's message, as sent. */
    message: string;
    /** google.rpc.ErrorInfo `reason`, for example `SESSION_NOT_FOUND`. */
    reason?: string;
    /** google.rpc.ErrorInfo `domain` (`agentsessions.v1` for the service's own errors). */
    domain?: string;
    /** google.rpc.ErrorInfo `metadata`. */
    metadata?: Record<string, string>;
    fieldViolations?: FieldViolation[];
    /** The HTTP status, for errors of the REST helper. */
    httpStatus?: number;
    /** How long to wait before trying again, from a google.rpc.RetryInfo detail. */
    retryDelayMs?: number;
    cause?: unknown;
}
/** The canonical gRPC name of a code (`NOT_FOUND`); `UNKNOWN` for a number out of range. */
export declare function codeName(code: number): string;
/** A gRPC status code from a number; `Unknown` for anything that is not one. */
export declare function toCode(value: unknown): Code;
/**
 * A failed call. `message` reads `NOT_FOUND [SESSION_NOT_FOUND]: <the server's message>`;
 * `rawMessage` is the server's message alone.
 */
export declare class AgentSessionsError extends Error {
    readonly name = "AgentSessionsError";
    readonly code: Code;
    readonly rawMessage: string;
    readonly reason: string | undefined;
    readonly domain: string | undefined;
    readonly metadata: Readonly<Record<string, string>>;
    readonly fieldViolations: readonly FieldViolation[];
    readonly httpStatus: number | undefined;
    /**
     * Milliseconds to wait before trying again, from a google.rpc.RetryInfo detail (a
     * rate-limited model, `MODEL_RATE_LIMITED`, sends one); undefined when there is none.
     */
    readonly retryDelayMs: number | undefined;
    constructor(init: AgentSessionsErrorInit);
    /** The canonical name of `code`, for example `NOT_FOUND`. */
    get codeName(): string;
}
/** Whether `value` is an AgentSessionsError, optionally with this code. */
export declare function isAgentSessionsError(value: unknown, code?: Code): value is AgentSessionsError;
//# sourceMappingURL=errors.d.ts.map