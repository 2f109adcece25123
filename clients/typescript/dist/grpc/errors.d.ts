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
//# sourceMappingURL=errors.d.ts.map