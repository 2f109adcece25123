/** ConnectError and google.rpc.Status (the stream's `error` event) to AgentSessionsError. */
import { ConnectError } from "@connectrpc/connect";
import { anyIs, anyUnpack } from "@bufbuild/protobuf/wkt";
import { AgentSessionsError, toCode } from "../errors.js";
import { BadRequestSchema, ErrorInfoSchema, } from "../gen/google/rpc/error_details_pb.js";
function fromDetails(code, message, infos, badRequests, cause) {
    const info = infos[0];
    const fieldViolations = badRequests.flatMap((bad) => bad.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
    return new AgentSessionsError({
        code: toCode(code),
        message,
        reason: info?.reason || undefined,
        domain: info?.domain || undefined,
        metadata: info ? { ...info.metadata } : {},
        fieldViolations,
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
    return fromDetails(error.code, error.rawMessage, error.findDetails(ErrorInfoSchema), error.findDetails(BadRequestSchema), error);
}
/** An AgentSessionsError from the google.rpc.Status of a stream's `error` event. */
export function errorFromStatus(status) {
    const infos = [];
    const badRequests = [];
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
    }
    return fromDetails(status.code, status.message, infos, badRequests);
}
//# sourceMappingURL=errors.js.map