/** ConnectError and google.rpc.Status (the stream's `error` event) to AgentSessionsError. */
import { ConnectError } from "@connectrpc/connect";
import { anyIs, anyUnpack } from "@bufbuild/protobuf/wkt";
import { AgentSessionsError, Code, toCode } from "../errors.js";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema, } from "../gen/google/rpc/error_details_pb.js";
function milliseconds(duration) {
    if (duration === undefined)
        return undefined;
    return Number(duration.seconds) * 1000 + Math.round(duration.nanos / 1_000_000);
}
function fromDetails(code, message, infos, badRequests, retries, cause) {
    const info = infos[0];
    const fieldViolations = badRequests.flatMap((bad) => bad.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
    return new AgentSessionsError({
        code: toCode(code),
        message,
        reason: info?.reason || undefined,
        domain: info?.domain || undefined,
        metadata: info ? { ...info.metadata } : {},
        fieldViolations,
        retryDelayMs: milliseconds(retries[0]?.retryDelay),
        cause,
    });
}
/**
 * An AgentSessionsError for anything a Connect call threw: ConnectErrors keep their code,
 * message and details; AgentSessionsErrors pass through; other errors (a token provider's, for
 * example) are rethrown as they are by the caller, so this returns them unchanged.
 */
export function errorFromConnect(error) {
    if (error instanceof AgentSessionsError)
        return error;
    if (!(error instanceof ConnectError))
        return error;
    if (error.cause instanceof AgentSessionsError)
        return error.cause;
    return fromDetails(error.code, error.rawMessage, error.findDetails(ErrorInfoSchema), error.findDetails(BadRequestSchema), error.findDetails(RetryInfoSchema), error);
}
/** An AgentSessionsError from the google.rpc.Status of a stream's `error` event. */
export function errorFromStatus(status) {
    const infos = [];
    const badRequests = [];
    const retries = [];
    for (const detail of status.details) {
        if (anyIs(detail, ErrorInfoSchema)) {
            const info = anyUnpack(detail, ErrorInfoSchema);
            if (info)
                infos.push(info);
        }
        else if (anyIs(detail, BadRequestSchema)) {
            const bad = anyUnpack(detail, BadRequestSchema);
            if (bad)
                badRequests.push(bad);
        }
        else if (anyIs(detail, RetryInfoSchema)) {
            const retry = anyUnpack(detail, RetryInfoSchema);
            if (retry)
                retries.push(retry);
        }
    }
    return fromDetails(status.code, status.message, infos, badRequests, retries);
}
/**
 * A call that Node's HTTP/2 closed under us (the connection was lost: it resets the stream with
 * CANCEL, which Connect reports as CANCELLED) as UNAVAILABLE, so it is retried, or read on, like
 * any other call whose connection broke. A cancel of our own (`ours` aborted), or a CANCELLED
 * status the service sent (it carries an ErrorInfo), stays as it is.
 */
export function brokenAsUnavailable(error, ours) {
    if (!(error instanceof AgentSessionsError) ||
        error.code !== Code.Canceled ||
        error.reason !== undefined ||
        ours?.aborted === true) {
        return error;
    }
    return new AgentSessionsError({
        code: Code.Unavailable,
        message: `the connection was lost: ${error.rawMessage}`,
        cause: error,
    });
}
//# sourceMappingURL=errors.js.map