/**
 * Retries of calls that are safe to repeat: on UNAVAILABLE only (network failures included),
 * with exponential backoff and full jitter, all within the call's deadline. Writes are safe to
 * repeat because each sends one request id per logical call, the same in every attempt.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { AgentSessionsError } from "./errors.js";
/** How calls that are safe to repeat are retried when the server answers UNAVAILABLE. */
export interface RetryOptions {
    /** Attempts in all, the first one included; 1 turns retries off. Default 4. */
    maxAttempts?: number;
    /** The backoff ceiling before the first retry. Default 100 ms. */
    initialBackoffMs?: number;
    /** The largest backoff ceiling. Default 2000 ms. */
    maxBackoffMs?: number;
    /** How much the ceiling grows after each retry. Default 2. */
    multiplier?: number;
}
export declare const DEFAULT_RETRY: Readonly<Required<RetryOptions>>;
/** The retry options in force: `false` means no retries, undefined the defaults. */
export declare function retryPolicy(options: RetryOptions | false | undefined): Required<RetryOptions>;
/**
 * The wait before retry number `retry` (1 for the first): a uniformly random time between 0 and
 * min(maxBackoffMs, initialBackoffMs × multiplier^(retry−1)) ("full jitter").
 */
export declare function backoffMs(retry: number, policy: Required<RetryOptions>, random?: () => number): number;
/**
 * Whether repeating `method` after a lost answer is safe: its proto declares it free of side
 * effects or idempotent (`option idempotency_level`), as every method is now that each write
 * carries a request id.
 */
export declare function safeToRetry(method: DescMethod): boolean;
/** What one attempt gets: the time left before the call's deadline, and the cancel signal. */
export interface AttemptOptions {
    /** Undefined when the call has no deadline. */
    timeoutMs: number | undefined;
    signal: AbortSignal | undefined;
}
export interface RetryContext {
    /** Whether repeating the call is safe; other calls are attempted once. */
    idempotent: boolean;
    policy: Required<RetryOptions>;
    /** The deadline of the whole call, retries included; 0 or undefined for none. */
    timeoutMs: number | undefined;
    signal: AbortSignal | undefined;
}
/**
 * The request id of one logical call: the caller's, else a new UUID (`crypto.randomUUID`, in
 * Node 19+ and in browsers' secure contexts). Made once per call, before its first attempt.
 */
export declare function requestId(options: {
    requestId?: string;
} | undefined): string;
/** The end of a call's time budget, shared by all its attempts. */
export declare class Deadline {
    private readonly timeoutMs;
    private readonly end;
    /** `timeoutMs` 0 or undefined: no deadline. */
    constructor(timeoutMs: number | undefined);
    /** Milliseconds left (undefined without a deadline); throws DEADLINE_EXCEEDED once past. */
    remaining(): number | undefined;
    /** Whether waiting `ms` more would reach the deadline. */
    passedAfter(ms: number): boolean;
}
export declare function cancelled(signal: AbortSignal): AgentSessionsError;
export declare function sleep(ms: number, signal: AbortSignal | undefined): Promise<void>;
/**
 * Milliseconds to wait before attempt `number + 1` after `error`, or undefined when `error` is
 * final: anything but UNAVAILABLE, a call that is not idempotent, the attempts used up, the call
 * cancelled, or a backoff that would pass the deadline.
 */
export declare function retryWait(number: number, error: unknown, context: RetryContext, deadline: Deadline): number | undefined;
/**
 * Runs `attempt` until it succeeds or `retryWait` says its error is final. `attempt` must throw
 * AgentSessionsErrors; the last one is rethrown.
 */
export declare function withRetries<T>(attempt: (options: AttemptOptions) => Promise<T>, context: RetryContext): Promise<T>;
//# sourceMappingURL=retry.d.ts.map