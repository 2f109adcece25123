/**
 * Agent Sessions over REST (Envoy's JSON transcoding), with `fetch` only: for browsers, and for
 * any runtime that has `fetch`.
 */
import { type AgentSessionsApi, type MessagesApi, type SessionsApi, textDeltas } from "../api.js";
import type { Credentials } from "../credentials.js";
import { AgentSessionsError, Code } from "../errors.js";
import { paginate } from "../pagination.js";
import { retryPolicy, type RetryOptions } from "../retry.js";
import type * as t from "../types.js";
import { Http, type HttpRequest } from "./http.js";
import {
  deletedCountFromJson,
  eventFromJson,
  messageFromJson,
  messageInputToJson,
  messagePageFromJson,
  newSessionToJson,
  resultFromJson,
  sessionChangesToJson,
  sessionFromJson,
  sessionPageFromJson,
  turnToJson,
} from "./json.js";
import { bodyChunks, parseSse } from "./sse.js";
import { MessageService } from "../gen/agentsessions/v1/message_service_pb.js";
import { SessionService } from "../gen/agentsessions/v1/session_service_pb.js";

/** The REST paths' common prefix. */
export const API_PREFIX = "/api/agent-sessions";

/** The default deadline of a call, in milliseconds. */
export const DEFAULT_REST_TIMEOUT_MS = 30_000;

export interface RestClientOptions {
  /** Envoy's address, for example `http://127.0.0.1:8000`, or `""` for the page's own origin. */
  baseUrl: string;
  /** A JWT, or a function returning one, called before every request (and every retry). */
  token?: Credentials;
  /** The deadline of each call in milliseconds, retries included; 0 for none. Default 30 s. */
  timeoutMs?: number;
  /** Retries of calls safe to repeat on UNAVAILABLE (503, network errors); `false`: none. */
  retry?: RetryOptions | false;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** The `fetch` to use; the global one by default. */
  fetch?: typeof fetch;
}

/** The RPCs the paths transcode: their protos say which calls are safe to retry. */
const sessionRpc = SessionService.method;
const messageRpc = MessageService.method;

const segment = encodeURIComponent;

function sessionPath(sessionId: string): string {
  return `${API_PREFIX}/${segment(sessionId)}`;
}

function messagePath(sessionId: string, messageId: string): string {
  return `${sessionPath(sessionId)}/messages/${segment(messageId)}`;
}

class RestSessions implements SessionsApi {
  constructor(private readonly http: Http) {}

  async create(input: t.CreateSessionInput = {}, options?: t.CallOptions): Promise<t.Session> {
    const request: HttpRequest = {
      method: "POST",
      path: API_PREFIX,
      body: newSessionToJson(input),
    };
    return sessionFromJson(await this.http.json(request, sessionRpc.createSession, options));
  }

  async get(sessionId: string, options?: t.CallOptions): Promise<t.Session> {
    const request: HttpRequest = { method: "GET", path: sessionPath(sessionId) };
    return sessionFromJson(await this.http.json(request, sessionRpc.getSession, options));
  }

  async listPage(
    filters: t.ListSessionsOptions = {},
    options?: t.CallOptions,
  ): Promise<t.SessionPage> {
    const query = {
      page_size: filters.pageSize,
      page_token: filters.pageToken,
      is_active: filters.isActive,
      agent_name: filters.agentName,
    };
    const request: HttpRequest = { method: "GET", path: API_PREFIX, query };
    return sessionPageFromJson(await this.http.json(request, sessionRpc.listSessions, options));
  }

  list(filters: t.ListSessionsOptions = {}, options?: t.CallOptions): AsyncIterable<t.Session> {
    return paginate(async (pageToken) => {
      const page = await this.listPage({ ...filters, pageToken }, options);
      return { items: page.sessions, nextPageToken: page.nextPageToken };
    }, filters.pageToken);
  }

  async update(
    sessionId: string,
    changes: t.SessionChanges,
    options?: t.CallOptions,
  ): Promise<t.Session> {
    const body = sessionChangesToJson(changes);
    const request: HttpRequest = { method: "PATCH", path: sessionPath(sessionId), body };
    return sessionFromJson(await this.http.json(request, sessionRpc.updateSession, options));
  }

  async delete(sessionId: string, options?: t.CallOptions): Promise<void> {
    await this.http.json(
      { method: "DELETE", path: sessionPath(sessionId) },
      sessionRpc.deleteSession,
      options,
    );
  }

  async activate(sessionId: string, options?: t.CallOptions): Promise<t.Session> {
    const request: HttpRequest = { method: "PUT", path: `${sessionPath(sessionId)}/activate` };
    return sessionFromJson(await this.http.json(request, sessionRpc.activateSession, options));
  }

  async deactivate(sessionId: string, options?: t.CallOptions): Promise<t.Session> {
    const request: HttpRequest = { method: "PUT", path: `${sessionPath(sessionId)}/deactivate` };
    return sessionFromJson(await this.http.json(request, sessionRpc.deactivateSession, options));
  }
}

class RestMessages implements MessagesApi {
  constructor(private readonly http: Http) {}

  async create(
    sessionId: string,
    input: t.CreateMessageInput,
    options?: t.CallOptions,
  ): Promise<t.Message> {
    const path = `${sessionPath(sessionId)}/messages`;
    const request: HttpRequest = { method: "POST", path, body: messageInputToJson(input) };
    return messageFromJson(await this.http.json(request, messageRpc.createMessage, options));
  }

  async get(sessionId: string, messageId: string, options?: t.CallOptions): Promise<t.Message> {
    const request: HttpRequest = { method: "GET", path: messagePath(sessionId, messageId) };
    return messageFromJson(await this.http.json(request, messageRpc.getMessage, options));
  }

  async listPage(
    sessionId: string,
    filters: t.ListMessagesOptions = {},
    options?: t.CallOptions,
  ): Promise<t.MessagePage> {
    const query = {
      page_size: filters.pageSize,
      page_token: filters.pageToken,
      order: filters.order,
    };
    const path = `${sessionPath(sessionId)}/messages`;
    return messagePageFromJson(
      await this.http.json({ method: "GET", path, query }, messageRpc.listMessages, options),
    );
  }

  list(
    sessionId: string,
    filters: t.ListMessagesOptions = {},
    options?: t.CallOptions,
  ): AsyncIterable<t.Message> {
    return paginate(async (pageToken) => {
      const page = await this.listPage(sessionId, { ...filters, pageToken }, options);
      return { items: page.messages, nextPageToken: page.nextPageToken };
    }, filters.pageToken);
  }

  async update(
    sessionId: string,
    messageId: string,
    changes: t.MessageChanges,
    options?: t.CallOptions,
  ): Promise<t.Message> {
    const path = messagePath(sessionId, messageId);
    const request: HttpRequest = { method: "PATCH", path, body: messageInputToJson(changes) };
    return messageFromJson(await this.http.json(request, messageRpc.updateMessage, options));
  }

  async delete(sessionId: string, messageId: string, options?: t.CallOptions): Promise<void> {
    await this.http.json(
      { method: "DELETE", path: messagePath(sessionId, messageId) },
      messageRpc.deleteMessage,
      options,
    );
  }

  async clear(sessionId: string, options?: t.CallOptions): Promise<number> {
    const path = `${sessionPath(sessionId)}/clear-messages`;
    return deletedCountFromJson(
      await this.http.json({ method: "DELETE", path }, messageRpc.clearMessages, options),
    );
  }
}

/**
 * Agent Sessions over REST. Same surface as the gRPC client; `converseStream()` reads the
 * `text/event-stream` of `POST /api/agent-sessions/conversation:stream`.
 */
export class AgentSessionsRestClient implements AgentSessionsApi {
  readonly sessions: SessionsApi;
  readonly messages: MessagesApi;
  private readonly http: Http;

  constructor(options: RestClientOptions) {
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

  async conversation(
    request: t.ConversationRequest,
    options?: t.CallOptions,
  ): Promise<t.ConversationResult> {
    const path = `${API_PREFIX}/conversation`;
    const http: HttpRequest = { method: "POST", path, body: turnToJson(request) };
    return resultFromJson(await this.http.json(http, sessionRpc.conversation, options));
  }

  /**
   * Streams a conversation turn from `text/event-stream`. A failure before the stream begins is
   * thrown as the HTTP error it is; the `error` event that ends a stream failing after it began
   * is thrown as its AgentSessionsError (after the events before it were yielded); a body that
   * ends without `completed` is thrown as UNAVAILABLE.
   */
  async *converseStream(
    request: t.ConversationRequest,
    options?: t.CallOptions,
  ): AsyncGenerator<t.ConverseEvent, void, undefined> {
    const http: HttpRequest = {
      method: "POST",
      path: `${API_PREFIX}/conversation:stream`,
      body: turnToJson(request),
      accept: "text/event-stream",
    };
    const attempt = { timeoutMs: this.http.timeoutMs(options), signal: options?.signal };
    const open = await this.http.open(http, attempt, options?.headers);
    try {
      const body = open.response.body;
      if (body === null) throw ended();
      let completed = false;
      // Read to the end of the body even after the last event, so the connection can be reused.
      for await (const sse of parseSse(bodyChunks(body))) {
        if (completed) continue;
        const event = eventFromJson(parseJson(sse.data)); // throws an `error` event
        if (event === undefined) continue;
        completed = event.type === "completed";
        yield event;
      }
      if (!completed) throw ended();
    } catch (error) {
      throw open.failure(error);
    } finally {
      open.close();
    }
  }

  /** The same as `converseStream()`. */
  converse(
    request: t.ConversationRequest,
    options?: t.CallOptions,
  ): AsyncIterable<t.ConverseEvent> {
    return this.converseStream(request, options);
  }

  converseText(request: t.ConversationRequest, options?: t.CallOptions): AsyncIterable<string> {
    return textDeltas(this.converseStream(request, options));
  }
}

function ended(): AgentSessionsError {
  return new AgentSessionsError({
    code: Code.Unavailable,
    message:
      "the event stream ended before the turn completed; list the session's messages to see " +
      "whether it was stored",
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AgentSessionsError({
      code: Code.Internal,
      message: "an event of the stream is not JSON",
      cause: error,
    });
  }
}
