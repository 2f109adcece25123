/**
 * Agent Sessions over REST (Envoy's JSON transcoding), with `fetch` only: for browsers, and for
 * any runtime that has `fetch`.
 */
import { textDeltas } from "../api.js";
import { AgentSessionsError, Code } from "../errors.js";
import { paginate } from "../pagination.js";
import { retryPolicy } from "../retry.js";
import { Http } from "./http.js";
import { deletedCountFromJson, eventFromJson, messageFromJson, messageInputToJson, messagePageFromJson, newSessionToJson, resultFromJson, sessionChangesToJson, sessionFromJson, sessionPageFromJson, turnToJson, } from "./json.js";
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
function messagePath(sessionId, messageId) {
    return `${sessionPath(sessionId)}/messages/${segment(messageId)}`;
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
        const body = sessionChangesToJson(changes);
        const request = { method: "PATCH", path: sessionPath(sessionId), body };
        return sessionFromJson(await this.http.json(request, sessionRpc.updateSession, options));
    }
    async delete(sessionId, options) {
        await this.http.json({ method: "DELETE", path: sessionPath(sessionId) }, sessionRpc.deleteSession, options);
    }
    async activate(sessionId, options) {
        const request = { method: "PUT", path: `${sessionPath(sessionId)}/activate` };
        return sessionFromJson(await this.http.json(request, sessionRpc.activateSession, options));
    }
    async deactivate(sessionId, options) {
        const request = { method: "PUT", path: `${sessionPath(sessionId)}/deactivate` };
        return sessionFromJson(await this.http.json(request, sessionRpc.deactivateSession, options));
    }
}
class RestMessages {
    http;
    constructor(http) {
        this.http = http;
    }
    async create(sessionId, input, options) {
        const path = `${sessionPath(sessionId)}/messages`;
        const request = { method: "POST", path, body: messageInputToJson(input) };
        return messageFromJson(await this.http.json(request, messageRpc.createMessage, options));
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
        const path = messagePath(sessionId, messageId);
        const request = { method: "PATCH", path, body: messageInputToJson(changes) };
        return messageFromJson(await this.http.json(request, messageRpc.updateMessage, options));
    }
    async delete(sessionId, messageId, options) {
        await this.http.json({ method: "DELETE", path: messagePath(sessionId, messageId) }, messageRpc.deleteMessage, options);
    }
    async clear(sessionId, options) {
        const path = `${sessionPath(sessionId)}/clear-messages`;
        return deletedCountFromJson(await this.http.json({ method: "DELETE", path }, messageRpc.clearMessages, options));
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
        const path = `${API_PREFIX}/conversation`;
        const http = { method: "POST", path, body: turnToJson(request) };
        return resultFromJson(await this.http.json(http, sessionRpc.conversation, options));
    }
    /**
     * Streams a conversation turn from `text/event-stream`. A failure before the stream begins is
     * thrown as the HTTP error it is; the `error` event that ends a stream failing after it began
     * is thrown as its AgentSessionsError (after the events before it were yielded); a body that
     * ends without `completed` is thrown as UNAVAILABLE.
     */
    async *converseStream(request, options) {
        const http = {
            method: "POST",
            path: `${API_PREFIX}/conversation:stream`,
            body: turnToJson(request),
            accept: "text/event-stream",
        };
        const attempt = { timeoutMs: this.http.timeoutMs(options), signal: options?.signal };
        const open = await this.http.open(http, attempt, options?.headers);
        try {
            const body = open.response.body;
            if (body === null)
                throw ended();
            let completed = false;
            // Read to the end of the body even after the last event, so the connection can be reused.
            for await (const sse of parseSse(bodyChunks(body))) {
                if (completed)
                    continue;
                const event = eventFromJson(parseJson(sse.data)); // throws an `error` event
                if (event === undefined)
                    continue;
                completed = event.type === "completed";
                yield event;
            }
            if (!completed)
                throw ended();
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
        message: "the event stream ended before the turn completed; list the session's messages to see " +
            "whether it was stored",
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