/**
 * The surface both clients offer, so code can switch between gRPC (Node) and REST (browsers)
 * by changing only the constructor.
 */
import type {
  AppendOptions,
  BatchOptions,
  CallOptions,
  ChangeOptions,
  ConversationRequest,
  ConversationResult,
  ConverseEvent,
  CreateMessageInput,
  CreateSessionInput,
  ForkSessionInput,
  ListMessagesOptions,
  ListSessionsOptions,
  Message,
  MessageChanges,
  MessagePage,
  ResumeOptions,
  Session,
  SessionChanges,
  SessionEvent,
  SessionPage,
  Turn,
  WatchOptions,
  WriteOptions,
} from "./types.js";

/**
 * The caller's sessions. Every write sends a request id (see `WriteOptions`) and is retried on
 * UNAVAILABLE like a read: the service stores it once.
 */
export interface SessionsApi {
  /** Creates a session; a `sessionId` the caller already uses is ALREADY_EXISTS. */
  create(input?: CreateSessionInput, options?: WriteOptions): Promise<Session>;
  get(sessionId: string, options?: CallOptions): Promise<Session>;
  /** Every session the filters select, newest created first, fetching pages as needed. */
  list(filters?: ListSessionsOptions, options?: CallOptions): AsyncIterable<Session>;
  /** One page of sessions. */
  listPage(filters?: ListSessionsOptions, options?: CallOptions): Promise<SessionPage>;
  /** Changes the fields present in `changes`. */
  update(sessionId: string, changes: SessionChanges, options?: ChangeOptions): Promise<Session>;
  /** Deletes a session and its messages. */
  delete(sessionId: string, options?: ChangeOptions): Promise<void>;
  activate(sessionId: string, options?: ChangeOptions): Promise<Session>;
  deactivate(sessionId: string, options?: ChangeOptions): Promise<Session>;
  /**
   * A new session of the caller's with this one's agent fields and copies of its messages up to
   * and including `upToMessageId` (all when absent), in order, with new ids; the source stays.
   * A fork never ends between a tool call and its result (FAILED_PRECONDITION, SPLITS_TOOL_CALL).
   */
  fork(sessionId: string, input?: ForkSessionInput, options?: WriteOptions): Promise<Session>;
  /**
   * Deletes every message after `afterMessageId`, atomically (each takes its own `seq`); the
   * same tool-call rule as `fork`. Returns the session after it.
   */
  rewind(
    sessionId: string,
    afterMessageId: string,
    options?: ChangeOptions & AppendOptions,
  ): Promise<Session>;
}

/** The messages of the caller's sessions; writes send request ids, as `SessionsApi`'s do. */
export interface MessagesApi {
  /** Appends a message. */
  create(sessionId: string, input: CreateMessageInput, options?: AppendOptions): Promise<Message>;
  /**
   * Appends 1 to 100 messages in one call: all or none, consecutive in the session's order
   * whatever other writers do; returns them as stored. A `tool` message must answer an assistant
   * tool call earlier in `messages` or one the session waits for. With `createSession` a missing
   * session is created, else it is NOT_FOUND.
   */
  createBatch(
    sessionId: string,
    messages: CreateMessageInput[],
    options?: BatchOptions,
  ): Promise<Message[]>;
  get(sessionId: string, messageId: string, options?: CallOptions): Promise<Message>;
  /** Every message of a session, in insertion order (or newest first), page after page. */
  list(
    sessionId: string,
    filters?: ListMessagesOptions,
    options?: CallOptions,
  ): AsyncIterable<Message>;
  /** One page of messages. */
  listPage(
    sessionId: string,
    filters?: ListMessagesOptions,
    options?: CallOptions,
  ): Promise<MessagePage>;
  update(
    sessionId: string,
    messageId: string,
    changes: MessageChanges,
    options?: ChangeOptions,
  ): Promise<Message>;
  delete(sessionId: string, messageId: string, options?: ChangeOptions): Promise<void>;
  /** Deletes every message of a session and returns how many there were; the session stays. */
  clear(sessionId: string, options?: WriteOptions): Promise<number>;
}

/** Everything a client offers. */
export interface AgentSessionsApi {
  readonly sessions: SessionsApi;
  readonly messages: MessagesApi;
  /**
   * Runs one conversation turn and returns when it is stored. Retried on UNAVAILABLE with the
   * same request id: a turn stored once, its agent run once.
   */
  conversation(request: ConversationRequest, options?: AppendOptions): Promise<ConversationResult>;
  /**
   * Runs one conversation turn, streaming its events as the reply is produced. The call starts
   * at the first `next()`; leaving the loop early cancels it. A failure, before the stream began
   * (bad input, inactive session, bad token) or after (the service's `error` event: nothing of
   * the turn is stored), is thrown by the iteration as an AgentSessionsError.
   *
   * A stream that breaks (UNAVAILABLE, the network) continues by itself, each event shown once
   * and in order: before its first event the turn is sent again with the same request id (the
   * service attaches the retry to the turn the first attempt started, or replays the stored
   * turn: the agent runs once); after it, the client reads on with `resumeTurn` after the last
   * `seq` it yielded. A turn that is not `detach`ed is usually cancelled by the service when the
   * connection breaks: the resumed stream then throws that cancellation (CANCELLED; nothing was
   * stored). The retry policy applies to each break; an attempt that brought new events starts
   * the count of attempts again.
   */
  converse(request: ConversationRequest, options?: AppendOptions): AsyncIterable<ConverseEvent>;
  /** Only the reply's text pieces, as they arrive; failures are thrown as by `converse`. */
  converseText(request: ConversationRequest, options?: AppendOptions): AsyncIterable<string>;
  /**
   * One turn of a session (its id is in the `started` event and in `ConversationResult`): its
   * status and, once it ended, its result or error.
   */
  getTurn(sessionId: string, turnId: string, options?: CallOptions): Promise<Turn>;
  /**
   * Cancels a queued or running turn: it stores nothing, its streams end with a CANCELLED error.
   * A turn that already ended is answered as it is.
   */
  cancelTurn(sessionId: string, turnId: string, options?: CallOptions): Promise<Turn>;
  /**
   * A turn's events after `afterSeq` (all by default), numbered as its own stream had them,
   * then the live ones until its end (`completed`, or its failure thrown as by `converse`).
   * A broken stream reads on after the last `seq` yielded, as `converse` does.
   */
  resumeTurn(
    sessionId: string,
    turnId: string,
    options?: ResumeOptions,
  ): AsyncIterable<ConverseEvent>;
  /**
   * Every change of a session as it commits, from any client or replica (see `SessionEvent`):
   * after `afterSeq`, or from the session's current `seq`. A broken watch, or one the service
   * ends (it fell behind, or shuts down), is opened again after the last durable `seq` yielded:
   * none lost, none twice. Ends after `deleted`, or when the caller stops.
   */
  watchSession(sessionId: string, options?: WatchOptions): AsyncIterable<SessionEvent>;
}

/** The `delta` texts of `events`. */
export async function* textDeltas(
  events: AsyncIterable<ConverseEvent>,
): AsyncGenerator<string, void, undefined> {
  for await (const event of events) {
    if (event.type === "delta") yield event.text;
  }
}
