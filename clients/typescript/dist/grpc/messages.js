import { paginate } from "../pagination.js";
import { messageFromProto, roleToProto } from "./convert.js";
export class GrpcMessages {
    rpc;
    call;
    constructor(rpc, call) {
        this.rpc = rpc;
        this.call = call;
    }
    async create(sessionId, input, options) {
        const request = {
            sessionId,
            role: roleToProto(input.role),
            content: input.content ?? "",
            toolCallId: input.toolCallId,
            toolName: input.toolName,
            extraData: input.extraData,
        };
        return messageFromProto(await this.call.unary(false, options, (o) => this.rpc.createMessage(request, o)));
    }
    async get(sessionId, messageId, options) {
        return messageFromProto(await this.call.unary(true, options, (o) => this.rpc.getMessage({ sessionId, messageId }, o)));
    }
    async listPage(sessionId, filters = {}, options) {
        const request = {
            sessionId,
            pageSize: filters.pageSize ?? 0,
            pageToken: filters.pageToken ?? "",
            order: filters.order ?? "",
        };
        const page = await this.call.unary(true, options, (o) => this.rpc.listMessages(request, o));
        return {
            messages: page.messages.map(messageFromProto),
            nextPageToken: page.nextPageToken,
            totalSize: page.totalSize,
        };
    }
    list(sessionId, filters = {}, options) {
        return paginate(async (pageToken) => {
            const page = await this.listPage(sessionId, { ...filters, pageToken }, options);
            return { items: page.messages, nextPageToken: page.nextPageToken };
        }, filters.pageToken);
    }
    async update(sessionId, messageId, changes, options) {
        const request = { ...changes, sessionId, messageId };
        return messageFromProto(await this.call.unary(true, options, (o) => this.rpc.updateMessage(request, o)));
    }
    async delete(sessionId, messageId, options) {
        await this.call.unary(true, options, (o) => this.rpc.deleteMessage({ sessionId, messageId }, o));
    }
    async clear(sessionId, options) {
        const response = await this.call.unary(true, options, (o) => this.rpc.clearMessages({ sessionId }, o));
        return response.deletedCount;
    }
}
//# sourceMappingURL=messages.js.map