import { paginate } from "../pagination.js";
import { requestId } from "../retry.js";
import { labelFilters } from "../types.js";
import { SessionService } from "../gen/agentsessions/v1/session_service_pb.js";
import { sessionFromProto, timestampOf } from "./convert.js";
/** The service's RPCs: their protos say which calls are safe to retry. */
const rpcs = SessionService.method;
/** The request id and etag fields of a change, made once for all its attempts. */
export function change(options) {
    return { requestId: requestId(options), etag: options?.etag ?? "" };
}
export class GrpcSessions {
    rpc;
    call;
    constructor(rpc, call) {
        this.rpc = rpc;
        this.call = call;
    }
    async create(input = {}, options) {
        const request = {
            ...input,
            sessionId: input.sessionId ?? "",
            labels: input.labels ?? {},
            expireTime: timestampOf(input.expireTime),
            requestId: requestId(options),
        };
        return sessionFromProto(await this.call.unary(rpcs.createSession, options, (o) => this.rpc.createSession(request, o)));
    }
    async get(sessionId, options) {
        return sessionFromProto(await this.call.unary(rpcs.getSession, options, (o) => this.rpc.getSession({ sessionId }, o)));
    }
    async listPage(filters = {}, options) {
        const request = {
            pageSize: filters.pageSize ?? 0,
            pageToken: filters.pageToken ?? "",
            isActive: filters.isActive,
            agentName: filters.agentName,
            label: labelFilters(filters.labels),
        };
        const page = await this.call.unary(rpcs.listSessions, options, (o) => this.rpc.listSessions(request, o));
        return {
            sessions: page.sessions.map(sessionFromProto),
            nextPageToken: page.nextPageToken,
            totalSize: page.totalSize,
        };
    }
    list(filters = {}, options) {
        return paginate(async (pageToken) => {
            const page = await this.listPage({ ...filters, pageToken }, options);
            return { items: page.sessions, nextPageToken: page.nextPageToken };
        }, filters.pageToken);
    }
    async update(sessionId, changes, options) {
        const request = {
            ...changes,
            // A Struct, not a map: `{}` is present and removes every label.
            labels: changes.labels,
            expireTime: timestampOf(changes.expireTime),
            sessionId,
            ...change(options),
        };
        return sessionFromProto(await this.call.unary(rpcs.updateSession, options, (o) => this.rpc.updateSession(request, o)));
    }
    async delete(sessionId, options) {
        const request = { sessionId, ...change(options) };
        await this.call.unary(rpcs.deleteSession, options, (o) => this.rpc.deleteSession(request, o));
    }
    async activate(sessionId, options) {
        const request = { sessionId, ...change(options) };
        return sessionFromProto(await this.call.unary(rpcs.activateSession, options, (o) => this.rpc.activateSession(request, o)));
    }
    async deactivate(sessionId, options) {
        const request = { sessionId, ...change(options) };
        return sessionFromProto(await this.call.unary(rpcs.deactivateSession, options, (o) => this.rpc.deactivateSession(request, o)));
    }
    async fork(sessionId, input = {}, options) {
        const request = {
            sessionId,
            newSessionId: input.newSessionId ?? "",
            upToMessageId: input.upToMessageId ?? "",
            sessionName: input.sessionName,
            requestId: requestId(options),
        };
        return sessionFromProto(await this.call.unary(rpcs.forkSession, options, (o) => this.rpc.forkSession(request, o)));
    }
    async rewind(sessionId, afterMessageId, options) {
        const request = {
            sessionId,
            afterMessageId,
            expectedSeq: options?.expectedSeq,
            ...change(options),
        };
        return sessionFromProto(await this.call.unary(rpcs.rewindSession, options, (o) => this.rpc.rewindSession(request, o)));
    }
}
//# sourceMappingURL=sessions.js.map