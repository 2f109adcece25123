import { paginate } from "../pagination.js";
import { requestId } from "../retry.js";
import { MessageService } from "../gen/agentsessions/v1/message_service_pb.js";
import { messageFromProto, newMessageToProto, newSessionToProto } from "./convert.js";
import { change } from "./sessions.js";
/** The service's RPCs: their protos say which calls are safe to retry. */
const rpcs = MessageService.method;
export class GrpcMessages {
    rpc;
    call;
    constructor(rpc, call) {
        this.rpc = rpc;
        this.call = call;
    }
    async create(sessionId, input, options) {
        const request = {
            ...newMessageToProto(input),
            sessionId,
            requestId: requestId(options),
            expectedSeq: options?.expectedSeq,
        };
        return messageFromProto(await this.call.unary(rpcs.createMessage, options, (o) => this.rpc.createMessage(request, o)));
    }
    async createBatch(sessionId, messages, options) {
        const request = {
            sessionId,
            messages: messages.map(newMessageToProto),
            requestId: requestId(options),
            expectedSeq: options?.expectedSeq,
            createSession: newSessionToProto(options?.createSession),
        };
        const response = await this.call.unary(rpcs.batchCreateMessages, options, (o) => this.rpc.batchCreateMessages(request, o));
        return response.messages.map(messageFromProto);
    }
    async get(sessionId, messageId, options) {
        return messageFromProto(await this.call.unary(rpcs.getMessage, options, (o) => this.rpc.getMessage({ sessionId, messageId }, o)));
    }
    async listPage(sessionId, filters = {}, options) {
        const request = {
            sessionId,
            pageSize: filters.pageSize ?? 0,
            pageToken: filters.pageToken ?? "",
            order: filters.order ?? "",
        };
        const page = await this.call.unary(rpcs.listMessages, options, (o) => this.rpc.listMessages(request, o));
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
        const request = { ...changes, sessionId, messageId, ...change(options) };
        return messageFromProto(await this.call.unary(rpcs.updateMessage, options, (o) => this.rpc.updateMessage(request, o)));
    }
    async delete(sessionId, messageId, options) {
        const request = { sessionId, messageId, ...change(options) };
        await this.call.unary(rpcs.deleteMessage, options, (o) => this.rpc.deleteMessage(request, o));
    }
    async clear(sessionId, options) {
        const request = { sessionId, requestId: requestId(options) };
        const response = await this.call.unary(rpcs.clearMessages, options, (o) => this.rpc.clearMessages(request, o));
        return response.deletedCount;
    }
}
//# sourceMappingURL=messages.js.map