import { paginate } from "../pagination.js";
import { sessionFromProto } from "./convert.js";
export class GrpcSessions {
    rpc;
    call;
    constructor(rpc, call) {
        this.rpc = rpc;
        this.call = call;
    }
    async create(input = {}, options) {
        const request = { ...input, sessionId: input.sessionId ?? "" };
        return sessionFromProto(await this.call.unary(false, options, (o) => this.rpc.createSession(request, o)));
    }
    async get(sessionId, options) {
        return sessionFromProto(await this.call.unary(true, options, (o) => this.rpc.getSession({ sessionId }, o)));
    }
    async listPage(filters = {}, options) {
        const request = {
            pageSize: filters.pageSize ?? 0,
            pageToken: filters.pageToken ?? "",
            isActive: filters.isActive,
            agentName: filters.agentName,
        };
        const page = await this.call.unary(true, options, (o) => this.rpc.listSessions(request, o));
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
        const request = { ...changes, sessionId };
        return sessionFromProto(await this.call.unary(true, options, (o) => this.rpc.updateSession(request, o)));
    }
    async delete(sessionId, options) {
        await this.call.unary(true, options, (o) => this.rpc.deleteSession({ sessionId }, o));
    }
    async activate(sessionId, options) {
        return sessionFromProto(await this.call.unary(true, options, (o) => this.rpc.activateSession({ sessionId }, o)));
    }
    async deactivate(sessionId, options) {
        return sessionFromProto(await this.call.unary(true, options, (o) => this.rpc.deactivateSession({ sessionId }, o)));
    }
}
//# sourceMappingURL=sessions.js.map