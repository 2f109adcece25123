/**
 * google.rpc.Status in its JSON form (REST error bodies and the stream's `error` event) to an
 * AgentSessionsError.
 */
import { AgentSessionsError, Code } from "./errors.js";
/** The gRPC code Envoy's HTTP status stands for, when a body carries none. */
export declare function codeFromHttpStatus(status: number): Code;
/**
 * An AgentSessionsError from a JSON google.rpc.Status (`{code, message, details}`); anything
 * that is not one becomes an error with `fallbackCode` and `fallbackMessage`.
 */
export declare function errorFromStatusJson(body: unknown, fallbackCode: Code, fallbackMessage: string, httpStatus?: number): AgentSessionsError;
//# sourceMappingURL=status.d.ts.map