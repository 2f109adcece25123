/**
 * The one error type both clients throw: the gRPC code, the server's message, and the
 * google.rpc.ErrorInfo and google.rpc.BadRequest details of the status.
 */
import { Code } from "@connectrpc/connect";
export { Code };
const CODE_NAMES = {
    [Code.Canceled]: "CANCELLED",
    [Code.Unknown]: "UNKNOWN",
    [Code.InvalidArgument]: "INVALID_ARGUMENT",
    [Code.DeadlineExceeded]: "DEADLINE_EXCEEDED",
    [Code.NotFound]: "NOT_FOUND",
    [Code.AlreadyExists]: "ALREADY_EXISTS",
    [Code.PermissionDenied]: "PERMISSION_DENIED",
    [Code.ResourceExhausted]: "RESOURCE_EXHAUSTED",
    [Code.FailedPrecondition]: "FAILED_PRECONDITION",
    [Code.Aborted]: "ABORTED",
    [Code.OutOfRange]: "OUT_OF_RANGE",
    [Code.Unimplemented]: "UNIMPLEMENTED",
    [Code.Internal]: "INTERNAL",
    [Code.Unavailable]: "UNAVAILABLE",
    [Code.DataLoss]: "DATA_LOSS",
    [Code.Unauthenticated]: "UNAUTHENTICATED",
};
/** The canonical gRPC name of a code (`NOT_FOUND`); `UNKNOWN` for a number out of range. */
export function codeName(code) {
    return CODE_NAMES[code] ?? "UNKNOWN";
}
/** A gRPC status code from a number; `Unknown` for anything that is not one. */
export function toCode(value) {
    return typeof value === "number" && value in CODE_NAMES ? value : Code.Unknown;
}
/**
 * A failed call. `message` reads `NOT_FOUND [SESSION_NOT_FOUND]: <the server's message>`;
 * `rawMessage` is the server's message alone.
 */
export class AgentSessionsError extends Error {
    name = "AgentSessionsError";
    code;
    rawMessage;
    reason;
    domain;
    metadata;
    fieldViolations;
    httpStatus;
    /**
     * Milliseconds to wait before trying again, from a google.rpc.RetryInfo detail (a
     * rate-limited model, `MODEL_RATE_LIMITED`, sends one); undefined when there is none.
     */
    retryDelayMs;
    constructor(init) {
        const reason = init.reason ? ` [${init.reason}]` : "";
        super(`${codeName(init.code)}${reason}: ${init.message}`, { cause: init.cause });
        this.code = init.code;
        this.rawMessage = init.message;
        this.reason = init.reason;
        this.domain = init.domain;
        this.metadata = init.metadata ?? {};
        this.fieldViolations = init.fieldViolations ?? [];
        this.httpStatus = init.httpStatus;
        this.retryDelayMs = init.retryDelayMs;
    }
    /** The canonical name of `code`, for example `NOT_FOUND`. */
    get codeName() {
        return codeName(this.code);
    }
}
/** Whether `value` is an AgentSessionsError, optionally with this code. */
export function isAgentSessionsError(value, code) {
    return value instanceof AgentSessionsError && (code === undefined || value.code === code);
}
//# sourceMappingURL=errors.js.map