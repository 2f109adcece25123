/** The gRPC client for Node: Connect's gRPC transport over HTTP/2 (h2c or TLS). */
import { create } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type * as http2 from "node:http2";
import { type AgentSessionsApi, type MessagesApi, type SessionsApi, textDeltas } from "../api.js";
import { authorizationHeader, type Credentials } from "../credentials.js";
import {
  type AttemptOptions,
  retryPolicy,
  type RetryOptions,
  streamWithRetries,
} from "../retry.js";
import type * as t from "../types.js";
import { MessageService } from "../gen/agentsessions/v1/message_service_pb.js";
import {
  ConversationRequestSchema,
  ConverseRequestSchema,
  SessionService,
  type ConverseEvent,
  type ConverseRequest,
} from "../gen/agentsessions/v1/session_service_pb.js";
import { Caller } from "./call.js";
import { eventFromProto, resultFromProto, turnToProto } from "./convert.js";
import { errorFromConnect } from "./errors.js";
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

  async *converse(
    request: t.ConversationRequest,
    options?: t.AppendOptions,
  ): AsyncGenerator<t.ConverseEvent, void, undefined> {
    const message = create(ConverseRequestSchema, turnToProto(request, options));
    yield* streamWithRetries(
      (attempt) => this.converseOnce(message, attempt, options?.headers),
      this.call.retryContext(SessionService.method.converse, options),
    );
  }

  /** One attempt of a Converse call. */
  private async *converseOnce(
    message: ConverseRequest,
    attempt: AttemptOptions,
    headers: Record<string, string> | undefined,
  ): AsyncGenerator<t.ConverseEvent, void, undefined> {
    // Connect's stream iterables have no `return()`: when the consumer stops early, only
    // aborting the call's signal ends the HTTP/2 stream, and only one more `next()` (which then
    // fails) makes Connect clear its deadline timer, which would otherwise keep Node running.
    const stop = new AbortController();
    const userSignal = attempt.signal;
    const onAbort = (): void => stop.abort(userSignal?.reason);
    if (userSignal?.aborted) onAbort();
    userSignal?.addEventListener("abort", onAbort, { once: true });
    const callOptions = { timeoutMs: attempt.timeoutMs, signal: stop.signal, headers };
    const stream = this.rpc.converse(message, callOptions)[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        let next: IteratorResult<ConverseEvent>;
        try {
          next = await stream.next();
        } catch (error) {
          finished = true;
          throw errorFromConnect(error);
        }
        if (next.done) {
          finished = true;
          return;
        }
        // An `error` event throws here; the status that ends the call would repeat it.
        const event = eventFromProto(next.value);
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
