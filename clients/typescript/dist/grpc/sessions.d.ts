/** SessionsApi over gRPC: agentsessions.v1.SessionService's session calls. */
import type { Client } from "@connectrpc/connect";
import type { SessionsApi } from "../api.js";
import type * as t from "../types.js";
import { SessionService } from "../gen/agentsessions/v1/session_service_pb.js";
import type { Caller } from "./call.js";
/** The request id and etag fields of a change, made once for all its attempts. */
export declare function change(options: t.ChangeOptions | undefined): {
    requestId: string;
    etag: string;
};
export declare class GrpcSessions implements SessionsApi {
    private readonly rpc;
    private readonly call;
    constructor(rpc: Client<typeof SessionService>, call: Caller);
    create(input?: t.CreateSessionInput, options?: t.WriteOptions): Promise<t.Session>;
    get(sessionId: string, options?: t.CallOptions): Promise<t.Session>;
    listPage(filters?: t.ListSessionsOptions, options?: t.CallOptions): Promise<t.SessionPage>;
    list(filters?: t.ListSessionsOptions, options?: t.CallOptions): AsyncIterable<t.Session>;
    update(sessionId: string, changes: t.SessionChanges, options?: t.ChangeOptions): Promise<t.Session>;
    delete(sessionId: string, options?: t.ChangeOptions): Promise<void>;
    activate(sessionId: string, options?: t.ChangeOptions): Promise<t.Session>;
    deactivate(sessionId: string, options?: t.ChangeOptions): Promise<t.Session>;
    fork(sessionId: string, input?: t.ForkSessionInput, options?: t.WriteOptions): Promise<t.Session>;
    rewind(sessionId: string, afterMessageId: string, options?: t.ChangeOptions & t.AppendOptions): Promise<t.Session>;
}
//# sourceMappingURL=sessions.d.ts.map