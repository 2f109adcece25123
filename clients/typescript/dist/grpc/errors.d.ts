import { AgentSessionsError } from "../errors.js";
import type { Status } from "../gen/google/rpc/status_pb.js";
/**
 * An AgentSessionsError for anything a Connect call threw: ConnectErrors keep their code,
 * message and details; AgentSessionsErrors pass through; other errors (a token provider's, for
 * example) are rethrown as they are by the caller, so this returns them unchanged.
 */
export declare function errorFromConnect(error: unknown): unknown;
/** An AgentSessionsError from the google.rpc.Status of a stream's `error` event. */
export declare function errorFromStatus(status: Status): AgentSessionsError;
/**
 * A call that Node's HTTP/2 closed under us (the connection was lost: it resets the stream with
 * CANCEL, which Connect reports as CANCELLED) as UNAVAILABLE, so it is retried, or read on, like
 * any other call whose connection broke. A cancel of our own (`ours` aborted), or a CANCELLED
 * status the service sent (it carries an ErrorInfo), stays as it is.
 */
export declare function brokenAsUnavailable(error: unknown, ours: AbortSignal | undefined): unknown;
//# sourceMappingURL=errors.d.ts.map