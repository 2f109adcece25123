/**
 * Agent Sessions over REST (Envoy's JSON transcoding), with `fetch` only: for browsers, and for
 * any runtime that has `fetch`.
 */
import { textDeltas } from "../api.js";
import { AgentSessionsError, Code } from "../errors.js";
import { paginate } from "../pagination.js";
import { final, followTurn, followWatch } from "../resume.js";
import { requestId, retryPolicy, safeToRetry, } from "../retry.js";
import { labelFilters } from "../types.js";
import { Http } from "./http.js";
import { body, deletedCountFromJson, eventFromJson, messageFromJson, messageInputToJson, messagePageFromJson, messagesFromJson, newSessionFieldsToJson, newSessionToJson, resultFromJson, sessionChangesToJson, sessionFromJson, sessionEventFromJson, sessionPageFromJson, turnFromJson, turnToJson, } from "./json.js";
import { bodyChunks, parseSse } from "./sse.js";
import { MessageService } from "../gen/agentsessions/v1/message_service_pb.js";
import { SessionService } from "../gen/agentsessions/v1/session_service_pb.js";
/** The REST paths' common prefix. */
export const API_PREFIX = "/api/agent-sessions";
/** The default deadline of a call, in milliseconds. */
export const DEFAULT_REST_TIMEOUT_MS = 30_000;
/** The RPCs the paths transcode: their protos say which calls are safe to retry. */
const sessionRpc = SessionService.method;
const messageRpc = MessageService.method;
const segment = encodeURIComponent;
function sessionPath(sessionId) {
    return `${API_PREFIX}/${segment(sessionId)}`;
}
function turnPath(sessionId, turnId) {
    return `${sessionPath(sessionId)}/turns/${segment(turnId)}`;
}
function messagePath(sessionId, messageId) {
    return `${sessionPath(sessionId)}/messages/${segment(messageId)}`;
}
/**
 * The headers of a write, made once for all its attempts: its request id (`Idempotency-Key`)
 * and, for a change, the etag it expects (`If-Match`).
 */
function writeHeaders(options) {
    const headers = { "idempotency-key": requestId(options) };
    if (options?.etag)
        headers["if-match"] = `"${options.etag}"`;
    return headers;
}
class RestSessions {
    http;
    constructor(http) {
        this.http = http;
    }
    async create(input = {}, options) {
        const request = {
            method: "POST",
            path: API_PREFIX,
            body: newSessionToJson(input),
            headers: writeHeaders(options),
        };
        return sessionFromJson(await this.http.json(request, sessionRpc.createSession, options));
    }
    async get(sessionId, options) {
        const request = { method: "GET", path: sessionPath(sessionId) };
        return sessionFromJson(await this.http.json(request, sessionRpc.getSession, options));
    }
    async listPage(filters = {}, options) {
        const query = {
            page_size: filters.pageSize,
            page_token: filters.pageToken,
            is_active: filters.isActive,
            agent_name: filters.agentName,
            label: labelFilters(filters.labels),
        };
        const request = { method: "GET", path: API_PREFIX, query };
        return sessionPageFromJson(await this.http.json(request, sessionRpc.listSessions, options));
    }
    list(filters = {}, options) {
        return paginate(async (pageToken) => {
            const page = await this.listPage({ ...filters, pageToken }, options);
            return { items: page.sessions, nextPageToken: page.nextPageToken };
        }, filters.pageToken);
    }
    async update(sessionId, changes, options) {
        const request = {
            method: "PATCH",
            path: sessionPath(sessionId),
            body: sessionChangesToJson(changes),
            headers: writeHeaders(options),
        };
        return sessionFromJson(await this.http.json(request, sessionRpc.updateSession, options));
    }
    async delete(sessionId, options) {
        const request = {
            method: "DELETE",
            path: sessionPath(sessionId),
            headers: writeHeaders(options),
        };
        await this.http.json(request, sessionRpc.deleteSession, options);
    }
    async activate(sessionId, options) {
        const request = {
            method: "PUT",
            path: `${sessionPath(sessionId)}/activate`,
            headers: writeHeaders(options),
        };
        return sessionFromJson(await this.http.json(request, sessionRpc.activateSession, options));
    }
    async deactivate(sessionId, options) {
        const request = {
            method: "PUT",
            path: `${sessionPath(sessionId)}/deactivate`,
            headers: writeHeaders(options),
        };
        return sessionFromJson(await this.http.json(request, sessionRpc.deactivateSession, options));
    }
    async fork(sessionId, input = {}, options) {
        const body = {};
        if (input.newSessionId)
            body.new_session_id = input.newSessionId;
        if (input.upToMessageId)
            body.up_to_message_id = input.upToMessageId;
        if (input.sessionName !== undefined)
            body.session_name = input.sessionName;
        const request = {
            method: "POST",
            path: `${sessionPath(sessionId)}:fork`,
            body,
            headers: writeHeaders(options),
        };
        return sessionFromJson(await this.http.json(request, sessionRpc.forkSession, options));
    }
    async rewind(sessionId, afterMessageId, options) {
        const body = { after_message_id: afterMessageId };
        if (options?.expectedSeq !== undefined)
            body.expected_seq = options.expectedSeq;
        const request = {
            method: "POST",
            path: `${sessionPath(sessionId)}:rewind`,
            body,
            headers: writeHeaders(options),
        };
        return sessionFromJson(await this.http.json(request, sessionRpc.rewindSession, options));
    }
}
class RestMessages {
    http;
    constructor(http) {
        this.http = http;
    }
    async create(sessionId, input, options) {
        const request = {
            method: "POST",
            path: `${sessionPath(sessionId)}/messages`,
            body: { ...messageInputToJson(input), ...body({ expected_seq: options?.expectedSeq }) },
            headers: writeHeaders(options),
        };
        return messageFromJson(await this.http.json(request, messageRpc.createMessage, options));
    }
    async createBatch(sessionId, messages, options) {
        const create = options?.createSession;
        const request = {
            method: "POST",
            path: `${sessionPath(sessionId)}/messages:batchCreate`,
            body: body({
                messages: messages.map(messageInputToJson),
                expected_seq: options?.expectedSeq,
                create_session: create === undefined ? undefined : newSessionFieldsToJson(create),
            }),
            headers: writeHeaders(options),
        };
        return messagesFromJson(await this.http.json(request, messageRpc.batchCreateMessages, options));
    }
    async get(sessionId, messageId, options) {
        const request = { method: "GET", path: messagePath(sessionId, messageId) };
        return messageFromJson(await this.http.json(request, messageRpc.getMessage, options));
    }
    async listPage(sessionId, filters = {}, options) {
        const query = {
            page_size: filters.pageSize,
            page_token: filters.pageToken,
            order: filters.order,
        };
        const path = `${sessionPath(sessionId)}/messages`;
        return messagePageFromJson(await this.http.json({ method: "GET", path, query }, messageRpc.listMessages, options));
    }
    list(sessionId, filters = {}, options) {
        return paginate(async (pageToken) => {
            const page = await this.listPage(sessionId, { ...filters, pageToken }, options);
            return { items: page.messages, nextPageToken: page.nextPageToken };
        }, filters.pageToken);
    }
    async update(sessionId, messageId, changes, options) {
        const request = {
            method: "PATCH",
            path: messagePath(sessionId, messageId),
            body: messageInputToJson(changes),
            headers: writeHeaders(options),
        };
        return messageFromJson(await this.http.json(request, messageRpc.updateMessage, options));
    }
    async delete(sessionId, messageId, options) {
        const request = {
            method: "DELETE",
            path: messagePath(sessionId, messageId),
            headers: writeHeaders(options),
        };
        await this.http.json(request, messageRpc.deleteMessage, options);
    }
    async clear(sessionId, options) {
        const request = {
            method: "DELETE",
            path: `${sessionPath(sessionId)}/clear-messages`,
            headers: writeHeaders(options),
        };
        return deletedCountFromJson(await this.http.json(request, messageRpc.clearMessages, options));
    }
}
/**
 * Agent Sessions over REST. Same surface as the gRPC client; `converseStream()` reads the
 * `text/event-stream` of `POST /api/agent-sessions/conversation:stream`.
 */
export class AgentSessionsRestClient {
    sessions;
    messages;
    http;
    constructor(options) {
        this.http = new Http({
            baseUrl: options.baseUrl,
            token: options.token,
            timeoutMs: options.timeoutMs ?? DEFAULT_REST_TIMEOUT_MS,
            retry: retryPolicy(options.retry),
            headers: options.headers ?? {},
            // Called through a closure: browsers refuse `fetch` called with another `this`.
            fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
        });
        this.sessions = new RestSessions(this.http);
        this.messages = new RestMessages(this.http);
    }
    async conversation(request, options) {
        const http = {
            method: "POST",
            path: `${API_PREFIX}/conversation`,
            body: turnToJson(request, options?.expectedSeq),
            headers: writeHeaders(options),
        };
        return resultFromJson(await this.http.json(http, sessionRpc.conversation, options));
    }
    /**
     * Streams a conversation turn from `text/event-stream`. A failure before the stream begins is
     * thrown as the HTTP error it is; the `error` event that ends a stream failing after it began
     * is thrown as its AgentSessionsError (after the events before it were yielded). A body that
     * ends without `completed` was cut: the turn is sent again (same request id) before its
     * `started` event, and read on with `resumeTurn` after it (see `AgentSessionsApi.converse`).
     */
    converseStream(request, options) {
        const http = {
            method: "POST",
            path: `${API_PREFIX}/conversation:stream`,
            body: turnToJson(request, options?.expectedSeq),
            accept: "text/event-stream",
            headers: writeHeaders(options),
        };
        return followTurn({
            converse: (attempt) => this.turnEventsOnce(http, attempt, options?.headers),
            resume: (turn, afterSeq, attempt) => this.resumeOnce(turn, afterSeq, attempt, options),
        }, this.retryContext(sessionRpc.converse, options));
    }
    async getTurn(sessionId, turnId, options) {
        const request = { method: "GET", path: turnPath(sessionId, turnId) };
        return turnFromJson(await this.http.json(request, sessionRpc.getTurn, options));
    }
    async cancelTurn(sessionId, turnId, options) {
        const request = { method: "POST", path: `${turnPath(sessionId, turnId)}:cancel` };
        return turnFromJson(await this.http.json(request, sessionRpc.cancelTurn, options));
    }
    resumeTurn(sessionId, turnId, options) {
        return followTurn({ resume: (turn, afterSeq, attempt) => this.resumeOnce(turn, afterSeq, attempt, options) }, this.retryContext(sessionRpc.resumeTurn, options), { turn: { sessionId, turnId }, afterSeq: options?.afterSeq ?? 0 });
    }
    /**
     * Reads `GET /api/agent-sessions/{session_id}:watch` (server-sent events) with the token in
     * the `authorization` header, as every other call sends it.
     */
    watchSession(sessionId, options) {
        return followWatch((afterSeq, attempt) => this.watchOnce(sessionId, afterSeq, attempt, options?.headers), async (attempt) => (await this.sessions.get(sessionId, { ...options, timeoutMs: attempt.timeoutMs })).seq, {
            ...this.retryContext(sessionRpc.watchSession, options),
            timeoutMs: options?.timeoutMs || undefined,
        }, options?.afterSeq);
    }
    retryContext(method, options) {
        return {
            idempotent: safeToRetry(method),
            policy: this.http.retry,
            timeoutMs: this.http.timeoutMs(options),
            signal: options?.signal,
        };
    }
    /** One attempt of ResumeTurn's event stream. */
    resumeOnce(turn, afterSeq, attempt, options) {
        const http = {
            method: "GET",
            path: `${turnPath(turn.sessionId, turn.turnId)}:stream`,
            query: { after_seq: afterSeq || undefined },
            accept: "text/event-stream",
        };
        return this.turnEventsOnce(http, attempt, options?.headers);
    }
    /** One attempt of a turn's event stream (Converse or ResumeTurn). */
    async *turnEventsOnce(http, attempt, headers) {
        let completed = false;
        for await (const data of this.sseOnce(http, attempt, headers)) {
            if (completed)
                continue; // read to the end, so the connection can be reused
            let event;
            try {
                event = eventFromJson(data);
            }
            catch (error) {
                throw final(error); // the turn's `error` event
            }
            if (event === undefined)
                continue;
            completed = event.type === "completed";
            yield event;
        }
        if (!completed)
            throw ended();
    }
    /** One attempt of a watch's event stream. */
    async *watchOnce(sessionId, afterSeq, attempt, headers) {
        const http = {
            method: "GET",
            path: `${sessionPath(sessionId)}:watch`,
            query: { after_seq: afterSeq },
            accept: "text/event-stream",
        };
        for await (const data of this.sseOnce(http, attempt, headers)) {
            const event = sessionEventFromJson(data);
            if (event !== undefined)
                yield event;
        }
    }
    /** The JSON of each event of one `text/event-stream` response, failures mapped. */
    async *sseOnce(http, attempt, headers) {
        const open = await this.http.open(http, attempt, headers);
        try {
            const body = open.response.body;
            if (body === null)
                throw ended();
            for await (const sse of parseSse(bodyChunks(body)))
                yield parseJson(sse.data);
        }
        catch (error) {
            throw open.failure(error);
        }
        finally {
            open.close();
        }
    }
    /** The same as `converseStream()`. */
    converse(request, options) {
        return this.converseStream(request, options);
    }
    converseText(request, options) {
        return textDeltas(this.converseStream(request, options));
    }
}
function ended() {
    return new AgentSessionsError({
        code: Code.Unavailable,
        message: "the event stream ended before the turn did (the connection was cut); the turn may still " +
            "run or be stored: read it with getTurn or resumeTurn",
    });
}
function parseJson(text) {
    try {
        return JSON.parse(text);
    }
    catch (error) {
        throw new AgentSessionsError({
            code: Code.Internal,
            message: "an event of the stream is not JSON",
            cause: error,
        });
    }
}
//# sourceMappingURL=client.js.map