/** The gRPC client for Node: Connect's gRPC transport over HTTP/2 (h2c or TLS). */
import { create } from "@bufbuild/protobuf";
import { createClient, } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { textDeltas } from "../api.js";
import { authorizationHeader } from "../credentials.js";
import { followTurn, followWatch, final } from "../resume.js";
import { retryPolicy } from "../retry.js";
import { MessageService } from "../gen/agentsessions/v1/message_service_pb.js";
import { ConversationRequestSchema, ConverseRequestSchema, SessionService, } from "../gen/agentsessions/v1/session_service_pb.js";
import { Caller } from "./call.js";
import { eventFromProto, resultFromProto, sessionEventFromProto, turnFromProto, turnToProto, } from "./convert.js";
import { brokenAsUnavailable, errorFromConnect } from "./errors.js";
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
    /**
     * Runs a turn, streaming its events; a broken stream continues from the last event shown
     * (see `AgentSessionsApi.converse`).
     */
    converse(request, options) {
        const message = create(ConverseRequestSchema, turnToProto(request, options));
        return followTurn({
            converse: (attempt) => this.streamOnce((o) => this.rpc.converse(message, o), eventFromProto, attempt, options?.headers),
            resume: (turn, afterSeq, attempt) => this.resumeOnce(turn, afterSeq, attempt, options),
        }, this.call.retryContext(SessionService.method.converse, options));
    }
    async getTurn(sessionId, turnId, options) {
        return turnFromProto(await this.call.unary(SessionService.method.getTurn, options, (o) => this.rpc.getTurn({ sessionId, turnId }, o)));
    }
    async cancelTurn(sessionId, turnId, options) {
        return turnFromProto(await this.call.unary(SessionService.method.cancelTurn, options, (o) => this.rpc.cancelTurn({ sessionId, turnId }, o)));
    }
    resumeTurn(sessionId, turnId, options) {
        return followTurn({ resume: (turn, afterSeq, attempt) => this.resumeOnce(turn, afterSeq, attempt, options) }, this.call.retryContext(SessionService.method.resumeTurn, options), { turn: { sessionId, turnId }, afterSeq: options?.afterSeq ?? 0 });
    }
    watchSession(sessionId, options) {
        const context = {
            ...this.call.retryContext(SessionService.method.watchSession, options),
            timeoutMs: options?.timeoutMs || undefined,
        };
        return followWatch((afterSeq, attempt) => this.streamOnce((o) => this.rpc.watchSession({ sessionId, afterSeq }, o), sessionEventFromProto, attempt, options?.headers), async (attempt) => (await this.sessions.get(sessionId, { ...options, timeoutMs: attempt.timeoutMs })).seq, context, options?.afterSeq);
    }
    /** One attempt of ResumeTurn. */
    resumeOnce(turn, afterSeq, attempt, options) {
        const request = { sessionId: turn.sessionId, turnId: turn.turnId, afterSeq };
        return this.streamOnce((o) => this.rpc.resumeTurn(request, o), eventFromProto, attempt, options?.headers);
    }
    /**
     * One attempt of a server stream: its events converted (unknown kinds skipped), its failures
     * as AgentSessionsErrors; an error the conversion throws (the turn's `error` event) is final.
     */
    async *streamOnce(open, convert, attempt, headers) {
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
        const stream = open(callOptions)[Symbol.asyncIterator]();
        let finished = false;
        try {
            for (;;) {
                let next;
                try {
                    next = await stream.next();
                }
                catch (error) {
                    finished = true;
                    throw brokenAsUnavailable(errorFromConnect(error), stop.signal);
                }
                if (next.done) {
                    finished = true;
                    return;
                }
                let event;
                try {
                    event = convert(next.value);
                }
                catch (error) {
                    // An `error` event; the status that ends the call would repeat it.
                    throw final(error);
                }
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