/** The gRPC client for Node: Connect's gRPC transport over HTTP/2 (h2c or TLS). */
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { textDeltas } from "../api.js";
import { authorizationHeader } from "../credentials.js";
import { retryPolicy, streamWithRetries, } from "../retry.js";
import { MessageService } from "../gen/agentsessions/v1/message_service_pb.js";
import { ConversationRequestSchema, ConverseRequestSchema, SessionService, } from "../gen/agentsessions/v1/session_service_pb.js";
import { Caller } from "./call.js";
import { eventFromProto, resultFromProto, turnToProto } from "./convert.js";
import { errorFromConnect } from "./errors.js";
import { GrpcMessages } from "./messages.js";
import { GrpcSessions } from "./sessions.js";
/** The default deadline of a call, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** An interceptor adding `authorization: Bearer <token>` and the client's headers. */
function headersInterceptor(token, headers) {
    return (next) => async (request) => {
        for (const [name, value] of Object.entries(headers))
            request.header.set(name, value);
        const authorization = await authorizationHeader(token);
        if (authorization !== undefined)
            request.header.set("authorization", authorization);
        return next(request);
    };
}
/** Reads an aborted stream to its end, ignoring what it yields and how it fails. */
async function drain(stream) {
    try {
        while (!(await stream.next()).done)
            ;
    }
    catch {
        // The abort itself.
    }
}
/**
 * Agent Sessions over gRPC. One HTTP/2 connection is opened on first use and shared by every
 * call; it does not keep the process alive while idle. `close()` ends it.
 */
export class AgentSessionsClient {
    sessions;
    messages;
    rpc;
    call;
    connection;
    constructor(options) {
        this.connection = new Http2SessionManager(options.baseUrl, {}, options.nodeOptions);
        const transport = createGrpcTransport({
            baseUrl: options.baseUrl,
            sessionManager: this.connection,
            interceptors: [
                headersInterceptor(options.token, options.headers ?? {}),
                ...(options.interceptors ?? []),
            ],
        });
        this.call = new Caller({
            timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
            retry: retryPolicy(options.retry),
        });
        this.rpc = createClient(SessionService, transport);
        this.sessions = new GrpcSessions(this.rpc, this.call);
        this.messages = new GrpcMessages(createClient(MessageService, transport), this.call);
    }
    async conversation(request, options) {
        const message = create(ConversationRequestSchema, turnToProto(request, options));
        return resultFromProto(await this.call.unary(SessionService.method.conversation, options, (o) => this.rpc.conversation(message, o)));
    }
    async *converse(request, options) {
        const message = create(ConverseRequestSchema, turnToProto(request, options));
        yield* streamWithRetries((attempt) => this.converseOnce(message, attempt, options?.headers), this.call.retryContext(SessionService.method.converse, options));
    }
    /** One attempt of a Converse call. */
    async *converseOnce(message, attempt, headers) {
        // Connect's stream iterables have no `return()`: when the consumer stops early, only
        // aborting the call's signal ends the HTTP/2 stream, and only one more `next()` (which then
        // fails) makes Connect clear its deadline timer, which would otherwise keep Node running.
        const stop = new AbortController();
        const userSignal = attempt.signal;
        const onAbort = () => stop.abort(userSignal?.reason);
        if (userSignal?.aborted)
            onAbort();
        userSignal?.addEventListener("abort", onAbort, { once: true });
        const callOptions = { timeoutMs: attempt.timeoutMs, signal: stop.signal, headers };
        const stream = this.rpc.converse(message, callOptions)[Symbol.asyncIterator]();
        let finished = false;
        try {
            for (;;) {
                let next;
                try {
                    next = await stream.next();
                }
                catch (error) {
                    finished = true;
                    throw errorFromConnect(error);
                }
                if (next.done) {
                    finished = true;
                    return;
                }
                // An `error` event throws here; the status that ends the call would repeat it.
                const event = eventFromProto(next.value);
                if (event !== undefined)
                    yield event;
            }
        }
        finally {
            userSignal?.removeEventListener("abort", onAbort);
            if (!finished) {
                stop.abort();
                await drain(stream);
            }
        }
    }
    converseText(request, options) {
        return textDeltas(this.converse(request, options));
    }
    /** Closes the HTTP/2 connection and any call still running on it. */
    close() {
        this.connection.abort();
    }
}
//# sourceMappingURL=client.js.map