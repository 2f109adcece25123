/**
 * google.rpc.Status in its JSON form (REST error bodies and the stream's `error` event) to an
 * AgentSessionsError.
 */
import { AgentSessionsError, Code, type FieldViolation, toCode } from "./errors.js";

const ERROR_INFO = "google.rpc.ErrorInfo";
const BAD_REQUEST = "google.rpc.BadRequest";
const RETRY_INFO = "google.rpc.RetryInfo";

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function typeName(detail: JsonObject): string {
  const url = text(detail["@type"]) ?? "";
  return url.slice(url.lastIndexOf("/") + 1);
}

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (typeof item === "string") out[key] = item;
    }
  }
  return out;
}

function violations(detail: JsonObject): FieldViolation[] {
  const list = detail["field_violations"] ?? detail["fieldViolations"];
  if (!Array.isArray(list)) return [];
  return list.filter(isObject).map((v) => ({
    field: text(v["field"]) ?? "",
    description: text(v["description"]) ?? "",
  }));
}

/** A google.protobuf.Duration in its JSON form (`"1.500s"`) in milliseconds. */
function durationMs(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const match = /^(-?\d+(?:\.\d+)?)s$/.exec(value);
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}

/** The gRPC code Envoy's HTTP status stands for, when a body carries none. */
export function codeFromHttpStatus(status: number): Code {
  switch (status) {
    case 400:
      return Code.InvalidArgument;
    case 401:
      return Code.Unauthenticated;
    case 403:
      return Code.PermissionDenied;
    case 404:
      return Code.NotFound;
    case 409:
      return Code.Aborted;
    case 413:
    case 429:
      return Code.ResourceExhausted;
    case 499:
      return Code.Canceled;
    case 501:
      return Code.Unimplemented;
    case 502:
    case 503:
      return Code.Unavailable;
    case 504:
      return Code.DeadlineExceeded;
    default:
      return status >= 500 ? Code.Internal : Code.Unknown;
  }
}

/**
 * An AgentSessionsError from a JSON google.rpc.Status (`{code, message, details}`); anything
 * that is not one becomes an error with `fallbackCode` and `fallbackMessage`.
 */
export function errorFromStatusJson(
  body: unknown,
  fallbackCode: Code,
  fallbackMessage: string,
  httpStatus?: number,
): AgentSessionsError {
  if (!isObject(body) || typeof body["code"] !== "number") {
    return new AgentSessionsError({ code: fallbackCode, message: fallbackMessage, httpStatus });
  }
  let reason: string | undefined;
  let domain: string | undefined;
  let metadata: Record<string, string> = {};
  const fieldViolations: FieldViolation[] = [];
  let retryDelayMs: number | undefined;
  const details = Array.isArray(body["details"]) ? body["details"].filter(isObject) : [];
  for (const detail of details) {
    const name = typeName(detail);
    if (name === ERROR_INFO && reason === undefined) {
      reason = text(detail["reason"]);
      domain = text(detail["domain"]);
      metadata = stringRecord(detail["metadata"]);
    } else if (name === BAD_REQUEST) {
      fieldViolations.push(...violations(detail));
    } else if (name === RETRY_INFO) {
      retryDelayMs = durationMs(detail["retry_delay"] ?? detail["retryDelay"]);
    }
  }
  return new AgentSessionsError({
    code: toCode(body["code"]),
    message: text(body["message"]) || fallbackMessage,
    reason: reason || undefined,
    domain: domain || undefined,
    metadata,
    fieldViolations,
    httpStatus,
    retryDelayMs,
  });
}
