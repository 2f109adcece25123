/**
 * Agent Sessions over REST (Envoy's JSON transcoding), with `fetch` only: for browsers, and for
 * any runtime that has `fetch`.
 */
import { type AgentSessionsApi, type MessagesApi, type SessionsApi, textDeltas } from "../api.js";
import type { Credentials } from "../credentials.js";
import { AgentSessionsError, Code } from "../errors.js";
import { paginate } from "../pagination.js";
import type { DescMethod } from "@bufbuild/protobuf";
import { final, followTurn, followWatch, type RawWatchEvent, type TurnRef } from "../resume.js";
import {
  requestId,
  retryPolicy,
  type RetryContext,
  type RetryOptions,
  type AttemptOptions,
  safeToRetry,
} from "../retry.js";
import { labelFilters } from "../types.js";
import type * as t from "../types.js";
import { Http, type HttpRequest } from "./http.js";
import {
  body,
  deletedCountFromJson,
  eventFromJson,
  messageFromJson,
  messageInputToJson,
  messagePageFromJson,
  messagesFromJson,
  newSessionFieldsToJson,
  newSessionToJson,
  resultFromJson,
  sessionChangesToJson,
  sessionFromJson,
  sessionEventFromJson,
  sessionPageFromJson,
  turnFromJson,
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

function turnPath(sessionId: string, turnId: string): string {
  return `${sessionPath(sessionId)}/turns/${segment(turnId)}`;
}

function messagePath(sessionId: string, messageId: string): string {
  return `${sessionPath(sessionId)}/messages/${segment(messageId)}`;
}

/**
 * The headers of a write, made once for all its attempts: its request id (`Idempotency-Key`)
 * and, for a change, the etag it expects (`If-Match`).
 */
function writeHeaders(options: t.ChangeOptions | undefined): Record<string, string> {
  const headers: Record<string, string> = { "idempotency-key": requestId(options) };
  if (options?.etag) headers["if-match"] = `"${options.etag}"`;
  return headers;
}

class RestSessions implements SessionsApi {
  constructor(private readonly http: Http) {}

  async create(input: t.CreateSessionInput = {}, options?: t.WriteOptions): Promise<t.Session> {
    const request: HttpRequest = {
      method: "POST",
      path: API_PREFIX,
      body: newSessionToJson(input),
      headers: writeHeaders(options),
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
      label: labelFilters(filters.labels),
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
    options?: t.ChangeOptions,
  ): Promise<t.Session> {
    const request: HttpRequest = {
      method: "PATCH",
      path: sessionPath(sessionId),
      body: sessionChangesToJson(changes),
      headers: writeHeaders(options),
    };
    return sessionFromJson(await this.http.json(request, sessionRpc.updateSession, options));
  }

  async delete(sessionId: string, options?: t.ChangeOptions): Promise<void> {
    const request: HttpRequest = {
      method: "DELETE",
      path: sessionPath(sessionId),
      headers: writeHeaders(options),
    };
    await this.http.json(request, sessionRpc.deleteSession, options);
  }

  async activate(sessionId: string, options?: t.ChangeOptions): Promise<t.Session> {
    const request: HttpRequest = {
      method: "PUT",
      path: `${sessionPath(sessionId)}/activate`,
      headers: writeHeaders(options),
    };
    return sessionFromJson(await this.http.json(request, sessionRpc.activateSession, options));
  }

  async deactivate(sessionId: string, options?: t.ChangeOptions): Promise<t.Session> {
    const request: HttpRequest = {
      method: "PUT",
      path: `${sessionPath(sessionId)}/deactivate`,
      headers: writeHeaders(options),
    };
    return sessionFromJson(await this.http.json(request, sessionRpc.deactivateSession, options));
  }

  async fork(
    sessionId: string,
    input: t.ForkSessionInput = {},
    options?: t.WriteOptions,
  ): Promise<t.Session> {
    const body: Record<string, unknown> = {};
    if (input.newSessionId) body.new_session_id = input.newSessionId;
    if (input.upToMessageId) body.up_to_message_id = input.upToMessageId;
    if (input.sessionName !== undefined) body.session_name = input.sessionName;
    const request: HttpRequest = {
      method: "POST",
      path: `${sessionPath(sessionId)}:fork`,
      body,
      headers: writeHeaders(options),
    };
    return sessionFromJson(await this.http.json(request, sessionRpc.forkSession, options));
  }

  async rewind(
    sessionId: string,
    afterMessageId: string,
    options?: t.ChangeOptions & t.AppendOptions,
  ): Promise<t.Session> {
    const body: Record<string, unknown> = { after_message_id: afterMessageId };
    if (options?.expectedSeq !== undefined) body.expected_seq = options.expectedSeq;
    const request: HttpRequest = {
      method: "POST",
      path: `${sessionPath(sessionId)}:rewind`,
      body,
      headers: writeHeaders(options),
    };
    return sessionFromJson(await this.http.json(request, sessionRpc.rewindSession, options));
  }
}

class RestMessages implements MessagesApi {
  constructor(private readonly http: Http) {}

  async create(
    sessionId: string,
    input: t.CreateMessageInput,
    options?: t.AppendOptions,
  ): Promise<t.Message> {
    const request: HttpRequest = {
      method: "POST",
      path: `${sessionPath(sessionId)}/messages`,
      body: { ...messageInputToJson(input), ...body({ expected_seq: options?.expectedSeq }) },
      headers: writeHeaders(options),
    };
    return messageFromJson(await this.http.json(request, messageRpc.createMessage, options));
  }

  async createBatch(
    sessionId: string,
    messages: t.CreateMessageInput[],
    options?: t.BatchOptions,
  ): Promise<t.Message[]> {
    const create = options?.createSession;
    const request: HttpRequest = {
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
    options?: t.ChangeOptions,
  ): Promise<t.Message> {
    const request: HttpRequest = {
      method: "PATCH",
      path: messagePath(sessionId, messageId),
      body: messageInputToJson(changes),
      headers: writeHeaders(options),
    };
    return messageFromJson(await this.http.json(request, messageRpc.updateMessage, options));
  }

  async delete(sessionId: string, messageId: string, options?: t.ChangeOptions): Promise<void> {
    const request: HttpRequest = {
      method: "DELETE",
      path: messagePath(sessionId, messageId),
      headers: writeHeaders(options),
    };
    await this.http.json(request, messageRpc.deleteMessage, options);
  }

  async clear(sessionId: string, options?: t.WriteOptions): Promise<number> {
    const request: HttpRequest = {
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
    options?: t.AppendOptions,
  ): Promise<t.ConversationResult> {
    const http: HttpRequest = {
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
  converseStream(
    request: t.ConversationRequest,
    options?: t.AppendOptions,
  ): AsyncGenerator<t.ConverseEvent, void, undefined> {
    const http: HttpRequest = {
      method: "POST",
      path: `${API_PREFIX}/conversation:stream`,
      body: turnToJson(request, options?.expectedSeq),
      accept: "text/event-stream",
      headers: writeHeaders(options),
    };
    return followTurn(
      {
        converse: (attempt) => this.turnEventsOnce(http, attempt, options?.headers),
        resume: (turn, afterSeq, attempt) => this.resumeOnce(turn, afterSeq, attempt, options),
      },
      this.retryContext(sessionRpc.converse, options),
    );
  }

  async getTurn(sessionId: string, turnId: string, options?: t.CallOptions): Promise<t.Turn> {
    const request: HttpRequest = { method: "GET", path: turnPath(sessionId, turnId) };
    return turnFromJson(await this.http.json(request, sessionRpc.getTurn, options));
  }

  async cancelTurn(sessionId: string, turnId: string, options?: t.CallOptions): Promise<t.Turn> {
    const request: HttpRequest = { method: "POST", path: `${turnPath(sessionId, turnId)}:cancel` };
    return turnFromJson(await this.http.json(request, sessionRpc.cancelTurn, options));
  }

  resumeTurn(
    sessionId: string,
    turnId: string,
    options?: t.ResumeOptions,
  ): AsyncGenerator<t.ConverseEvent, void, undefined> {
    return followTurn(
      { resume: (turn, afterSeq, attempt) => this.resumeOnce(turn, afterSeq, attempt, options) },
      this.retryContext(sessionRpc.resumeTurn, options),
      { turn: { sessionId, turnId }, afterSeq: options?.afterSeq ?? 0 },
    );
  }

  /**
   * Reads `GET /api/agent-sessions/{session_id}:watch` (server-sent events) with the token in
   * the `authorization` header, as every other call sends it.
   */
  watchSession(
    sessionId: string,
    options?: t.WatchOptions,
  ): AsyncGenerator<t.SessionEvent, void, undefined> {
    return followWatch(
      (afterSeq, attempt) => this.watchOnce(sessionId, afterSeq, attempt, options?.headers),
      async (attempt) =>
        (await this.sessions.get(sessionId, { ...options, timeoutMs: attempt.timeoutMs })).seq,
      {
        ...this.retryContext(sessionRpc.watchSession, options),
        timeoutMs: options?.timeoutMs || undefined,
      },
      options?.afterSeq,
    );
  }

  private retryContext(method: DescMethod, options: t.CallOptions | undefined): RetryContext {
    return {
      idempotent: safeToRetry(method),
      policy: this.http.retry,
      timeoutMs: this.http.timeoutMs(options),
      signal: options?.signal,
    };
  }

  /** One attempt of ResumeTurn's event stream. */
  private resumeOnce(
    turn: TurnRef,
    afterSeq: number,
    attempt: AttemptOptions,
    options: t.CallOptions | undefined,
  ): AsyncIterable<t.ConverseEvent> {
    const http: HttpRequest = {
      method: "GET",
      path: `${turnPath(turn.sessionId, turn.turnId)}:stream`,
      query: { after_seq: afterSeq || undefined },
      accept: "text/event-stream",
    };
    return this.turnEventsOnce(http, attempt, options?.headers);
  }

  /** One attempt of a turn's event stream (Converse or ResumeTurn). */
  private async *turnEventsOnce(
    http: HttpRequest,
    attempt: AttemptOptions,
    headers: Record<string, string> | undefined,
  ): AsyncGenerator<t.ConverseEvent, void, undefined> {
    let completed = false;
    for await (const data of this.sseOnce(http, attempt, headers)) {
      if (completed) continue; // read to the end, so the connection can be reused
      let event: t.ConverseEvent | undefined;
      try {
        event = eventFromJson(data);
      } catch (error) {
        throw final(error); // the turn's `error` event
      }
      if (event === undefined) continue;
      completed = event.type === "completed";
      yield event;
    }
    if (!completed) throw ended();
  }

  /** One attempt of a watch's event stream. */
  private async *watchOnce(
    sessionId: string,
    afterSeq: number,
    attempt: AttemptOptions,
    headers: Record<string, string> | undefined,
  ): AsyncGenerator<RawWatchEvent, void, undefined> {
    const http: HttpRequest = {
      method: "GET",
      path: `${sessionPath(sessionId)}:watch`,
      query: { after_seq: afterSeq },
      accept: "text/event-stream",
    };
    for await (const data of this.sseOnce(http, attempt, headers)) {
      const event = sessionEventFromJson(data);
      if (event !== undefined) yield event;
    }
  }

  /** The JSON of each event of one `text/event-stream` response, failures mapped. */
  private async *sseOnce(
    http: HttpRequest,
    attempt: AttemptOptions,
    headers: Record<string, string> | undefined,
  ): AsyncGenerator<unknown, void, undefined> {
    const open = await this.http.open(http, attempt, headers);
    try {
      const body = open.response.body;
      if (body === null) throw ended();
      for await (const sse of parseSse(bodyChunks(body))) yield parseJson(sse.data);
    } catch (error) {
      throw open.failure(error);
    } finally {
      open.close();
    }
  }

  /** The same as `converseStream()`. */
  converse(
    request: t.ConversationRequest,
    options?: t.AppendOptions,
  ): AsyncIterable<t.ConverseEvent> {
    return this.converseStream(request, options);
  }

  converseText(request: t.ConversationRequest, options?: t.AppendOptions): AsyncIterable<string> {
    return textDeltas(this.converseStream(request, options));
  }
}

function ended(): AgentSessionsError {
  return new AgentSessionsError({
    code: Code.Unavailable,
    message:
      "the event stream ended before the turn did (the connection was cut); the turn may still " +
      "run or be stored: read it with getTurn or resumeTurn",
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
