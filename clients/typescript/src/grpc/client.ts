/** The gRPC client for Node: Connect's gRPC transport over HTTP/2 (h2c or TLS). */
import { create } from "@bufbuild/protobuf";
import {
  createClient,
  type CallOptions as ConnectCallOptions,
  type Client,
  type Interceptor,
} from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type * as http2 from "node:http2";
import { type AgentSessionsApi, type MessagesApi, type SessionsApi, textDeltas } from "../api.js";
import { authorizationHeader, type Credentials } from "../credentials.js";
import { followTurn, followWatch, final, type TurnRef } from "../resume.js";
import { type AttemptOptions, retryPolicy, type RetryOptions } from "../retry.js";
import type * as t from "../types.js";
import { MessageService } from "../gen/agentsessions/v1/message_service_pb.js";
import {
  ConversationRequestSchema,
  ConverseRequestSchema,
  SessionService,
} from "../gen/agentsessions/v1/session_service_pb.js";
import { Caller } from "./call.js";
import {
  eventFromProto,
  resultFromProto,
  sessionEventFromProto,
  turnFromProto,
  turnToProto,
} from "./convert.js";
import { brokenAsUnavailable, errorFromConnect } from "./errors.js";
import { GrpcMessages } from "./messages.js";
import { GrpcSessions } from "./sessions.js";

/** The default deadline of a call, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface ClientOptions {
  /**
   * The server: the gRPC port (`http://127.0.0.1:50051`) or Envoy's (`http://127.0.0.1:8000`),
   * which passes gRPC through. `https://` uses TLS.
   */
  baseUrl: string;
  /** A JWT, or a function returning one, called before every call (and every retry). */
  token?: Credentials;
  /** The deadline of each call in milliseconds, retries included; 0 for none. Default 30 s. */
  timeoutMs?: number;
  /** Retries of calls safe to repeat on UNAVAILABLE; `false` turns them off. */
  retry?: RetryOptions | false;
  /** Headers (gRPC metadata) sent with every call. */
  headers?: Record<string, string>;
  /** More Connect interceptors, run after the one that adds the token. */
  interceptors?: Interceptor[];
  /** Options of Node's `http2.connect()`, for example TLS certificates. */
  nodeOptions?: http2.ClientSessionOptions | http2.SecureClientSessionOptions;
}

/** An interceptor adding `authorization: Bearer <token>` and the client's headers. */
function headersInterceptor(
  token: Credentials | undefined,
  headers: Record<string, string>,
): Interceptor {
  return (next) => async (request) => {
    for (const [name, value] of Object.entries(headers)) request.header.set(name, value);
    const authorization = await authorizationHeader(token);
    if (authorization !== undefined) request.header.set("authorization", authorization);
    return next(request);
  };
}

/** Reads an aborted stream to its end, ignoring what it yields and how it fails. */
async function drain(stream: AsyncIterator<unknown>): Promise<void> {
  try {
    while (!(await stream.next()).done);
  } catch {
    // The abort itself.
  }
}

/**
 * Agent Sessions over gRPC. One HTTP/2 connection is opened on first use and shared by every
 * call; it does not keep the process alive while idle. `close()` ends it.
 */
export class AgentSessionsClient implements AgentSessionsApi {
  readonly sessions: SessionsApi;
  readonly messages: MessagesApi;
  private readonly rpc: Client<typeof SessionService>;
  private readonly call: Caller;
  private readonly connection: Http2SessionManager;

  constructor(options: ClientOptions) {
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

  async conversation(
    request: t.ConversationRequest,
    options?: t.AppendOptions,
  ): Promise<t.ConversationResult> {
    const message = create(ConversationRequestSchema, turnToProto(request, options));
    return resultFromProto(
      await this.call.unary(SessionService.method.conversation, options, (o) =>
        this.rpc.conversation(message, o),
      ),
    );
  }

  /**
   * Runs a turn, streaming its events; a broken stream continues from the last event shown
   * (see `AgentSessionsApi.converse`).
   */
  converse(
    request: t.ConversationRequest,
    options?: t.AppendOptions,
  ): AsyncGenerator<t.ConverseEvent, void, undefined> {
    const message = create(ConverseRequestSchema, turnToProto(request, options));
    return followTurn(
      {
        converse: (attempt) =>
          this.streamOnce(
            (o) => this.rpc.converse(message, o),
            eventFromProto,
            attempt,
            options?.headers,
          ),
        resume: (turn, afterSeq, attempt) => this.resumeOnce(turn, afterSeq, attempt, options),
      },
      this.call.retryContext(SessionService.method.converse, options),
    );
  }

  async getTurn(sessionId: string, turnId: string, options?: t.CallOptions): Promise<t.Turn> {
    return turnFromProto(
      await this.call.unary(SessionService.method.getTurn, options, (o) =>
        this.rpc.getTurn({ sessionId, turnId }, o),
      ),
    );
  }

  async cancelTurn(sessionId: string, turnId: string, options?: t.CallOptions): Promise<t.Turn> {
    return turnFromProto(
      await this.call.unary(SessionService.method.cancelTurn, options, (o) =>
        this.rpc.cancelTurn({ sessionId, turnId }, o),
      ),
    );
  }

  resumeTurn(
    sessionId: string,
    turnId: string,
    options?: t.ResumeOptions,
  ): AsyncGenerator<t.ConverseEvent, void, undefined> {
    return followTurn(
      { resume: (turn, afterSeq, attempt) => this.resumeOnce(turn, afterSeq, attempt, options) },
      this.call.retryContext(SessionService.method.resumeTurn, options),
      { turn: { sessionId, turnId }, afterSeq: options?.afterSeq ?? 0 },
    );
  }

  watchSession(
    sessionId: string,
    options?: t.WatchOptions,
  ): AsyncGenerator<t.SessionEvent, void, undefined> {
    const context = {
      ...this.call.retryContext(SessionService.method.watchSession, options),
      timeoutMs: options?.timeoutMs || undefined,
    };
    return followWatch(
      (afterSeq, attempt) =>
        this.streamOnce(
          (o) => this.rpc.watchSession({ sessionId, afterSeq }, o),
          sessionEventFromProto,
          attempt,
          options?.headers,
        ),
      async (attempt) =>
        (await this.sessions.get(sessionId, { ...options, timeoutMs: attempt.timeoutMs })).seq,
      context,
      options?.afterSeq,
    );
  }

  /** One attempt of ResumeTurn. */
  private resumeOnce(
    turn: TurnRef,
    afterSeq: number,
    attempt: AttemptOptions,
    options: t.CallOptions | undefined,
  ): AsyncIterable<t.ConverseEvent> {
    const request = { sessionId: turn.sessionId, turnId: turn.turnId, afterSeq };
    return this.streamOnce(
      (o) => this.rpc.resumeTurn(request, o),
      eventFromProto,
      attempt,
      options?.headers,
    );
  }

  /**
   * One attempt of a server stream: its events converted (unknown kinds skipped), its failures
   * as AgentSessionsErrors; an error the conversion throws (the turn's `error` event) is final.
   */
  private async *streamOnce<P, E>(
    open: (options: ConnectCallOptions) => AsyncIterable<P>,
    convert: (event: P) => E | undefined,
    attempt: AttemptOptions,
    headers: Record<string, string> | undefined,
  ): AsyncGenerator<E, void, undefined> {
    // Connect's stream iterables have no `return()`: when the consumer stops early, only
    // aborting the call's signal ends the HTTP/2 stream, and only one more `next()` (which then
    // fails) makes Connect clear its deadline timer, which would otherwise keep Node running.
    const stop = new AbortController();
    const userSignal = attempt.signal;
    const onAbort = (): void => stop.abort(userSignal?.reason);
    if (userSignal?.aborted) onAbort();
    userSignal?.addEventListener("abort", onAbort, { once: true });
    const callOptions = { timeoutMs: attempt.timeoutMs, signal: stop.signal, headers };
    const stream = open(callOptions)[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        let next: IteratorResult<P>;
        try {
          next = await stream.next();
        } catch (error) {
          finished = true;
          throw brokenAsUnavailable(errorFromConnect(error), stop.signal);
        }
        if (next.done) {
          finished = true;
          return;
        }
        let event: E | undefined;
        try {
          event = convert(next.value);
        } catch (error) {
          // An `error` event; the status that ends the call would repeat it.
          throw final(error);
        }
        if (event !== undefined) yield event;
      }
    } finally {
      userSignal?.removeEventListener("abort", onAbort);
      if (!finished) {
        stop.abort();
        await drain(stream);
      }
    }
  }

  converseText(request: t.ConversationRequest, options?: t.AppendOptions): AsyncIterable<string> {
    return textDeltas(this.converse(request, options));
  }

  /** Closes the HTTP/2 connection and any call still running on it. */
  close(): void {
    this.connection.abort();
  }
}
