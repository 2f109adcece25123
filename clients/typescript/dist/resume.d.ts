/**
 * Streams that outlive their connection: a turn's events and a session's watch, read on after
 * the last event shown when the connection breaks, so the caller sees each event once and in
 * order. Shared by the gRPC client and the REST helper, which only open the streams.
 */
import { AgentSessionsError } from "./errors.js";
import { type AttemptOptions, type RetryContext } from "./retry.js";
import type * as t from "./types.js";
/** Marks `error` as the stream's own last word, so no attempt follows it. */
export declare function final(error: unknown): unknown;
/** The turn a stream follows, once its `started` event named it. */
export interface TurnRef {
    sessionId: string;
    turnId: string;
}
/** How to open a turn's stream: Converse itself, and ResumeTurn after `afterSeq`. */
export interface TurnStreams {
    /** Undefined when the turn is already known (`resumeTurn`). */
    converse?: (attempt: AttemptOptions) => AsyncIterable<t.ConverseEvent>;
    resume: (turn: TurnRef, afterSeq: number, attempt: AttemptOptions) => AsyncIterable<t.ConverseEvent>;
}
/**
 * A turn's events after `afterSeq`. When the stream breaks (UNAVAILABLE, the network) it is
 * opened again within the retry policy: before the turn's `started` event by sending the turn
 * again (same request id: the service attaches the retry to the turn or replays it), after it
 * with ResumeTurn after the last `seq` shown. Events at or below that `seq` are skipped. An
 * attempt that brought new events starts the count of attempts again.
 */
export declare function followTurn(streams: TurnStreams, context: RetryContext, start?: {
    turn?: TurnRef;
    afterSeq?: number;
}): AsyncGenerator<t.ConverseEvent, void, undefined>;
/** One event of a watch's stream as the transports read it: the service's `error` included. */
export type RawWatchEvent = t.SessionEvent | {
    type: "error";
    error: AgentSessionsError;
};
/**
 * A session's changes after `afterSeq` (from the session's current `seq` when undefined, read
 * with `currentSeq` before the watch opens, so a break before the first change loses nothing).
 * A broken watch, or one the service ends because it fell behind or shuts down, is opened again
 * after the last durable `seq` shown: none lost, none twice. Ends after `deleted`.
 */
export declare function followWatch(open: (afterSeq: number, attempt: AttemptOptions) => AsyncIterable<RawWatchEvent>, currentSeq: (attempt: AttemptOptions) => Promise<number>, context: RetryContext, afterSeq: number | undefined): AsyncGenerator<t.SessionEvent, void, undefined>;
//# sourceMappingURL=resume.d.ts.map