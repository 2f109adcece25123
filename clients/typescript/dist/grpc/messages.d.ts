/** MessagesApi over gRPC: agentsessions.v1.MessageService. */
import type { Client } from "@connectrpc/connect";
import type { MessagesApi } from "../api.js";
import type * as t from "../types.js";
import { MessageService } from "../gen/agentsessions/v1/message_service_pb.js";
import type { Caller } from "./call.js";
export declare class GrpcMessages implements MessagesApi {
    private readonly rpc;
    private readonly call;
    constructor(rpc: Client<typeof MessageService>, call: Caller);
    create(sessionId: string, input: t.CreateMessageInput, options?: t.AppendOptions): Promise<t.Message>;
    createBatch(sessionId: string, messages: t.CreateMessageInput[], options?: t.BatchOptions): Promise<t.Message[]>;
    get(sessionId: string, messageId: string, options?: t.CallOptions): Promise<t.Message>;
    listPage(sessionId: string, filters?: t.ListMessagesOptions, options?: t.CallOptions): Promise<t.MessagePage>;
    list(sessionId: string, filters?: t.ListMessagesOptions, options?: t.CallOptions): AsyncIterable<t.Message>;
    update(sessionId: string, messageId: string, changes: t.MessageChanges, options?: t.ChangeOptions): Promise<t.Message>;
    delete(sessionId: string, messageId: string, options?: t.ChangeOptions): Promise<void>;
    clear(sessionId: string, options?: t.WriteOptions): Promise<number>;
}
//# sourceMappingURL=messages.d.ts.map