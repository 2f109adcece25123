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

const CODE_NAMES: Record<Code, string> = {
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
export function codeName(code: number): string {
  return CODE_NAMES[code as Code] ?? "UNKNOWN";
}

/** A gRPC status code from a number; `Unknown` for anything that is not one. */
export function toCode(value: unknown): Code {
  return typeof value === "number" && value in CODE_NAMES ? (value as Code) : Code.Unknown;
}

/**
 * A failed call. `message` reads `NOT_FOUND [SESSION_NOT_FOUND]: <the server's message>`;
 * `rawMessage` is the server's message alone.
 */
export class AgentSessionsError extends Error {
  override readonly name = "AgentSessionsError";
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

  constructor(init: AgentSessionsErrorInit) {
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
  get codeName(): string {
    return codeName(this.code);
  }
}

/** Whether `value` is an AgentSessionsError, optionally with this code. */
export function isAgentSessionsError(value: unknown, code?: Code): value is AgentSessionsError {
  return value instanceof AgentSessionsError && (code === undefined || value.code === code);
}
