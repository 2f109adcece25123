/**
 * Retries of calls that are safe to repeat: on UNAVAILABLE only (network failures included),
 * with exponential backoff and full jitter, all within the call's deadline. Writes are safe to
 * repeat because each sends one request id per logical call, the same in every attempt.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { AgentSessionsError, Code } from "./errors.js";

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

export const DEFAULT_RETRY: Readonly<Required<RetryOptions>> = {
  maxAttempts: 4,
  initialBackoffMs: 100,
  maxBackoffMs: 2000,
  multiplier: 2,
};

/** The retry options in force: `false` means no retries, undefined the defaults. */
export function retryPolicy(options: RetryOptions | false | undefined): Required<RetryOptions> {
  if (options === false) return { ...DEFAULT_RETRY, maxAttempts: 1 };
  return { ...DEFAULT_RETRY, ...options };
}

/**
 * The wait before retry number `retry` (1 for the first): a uniformly random time between 0 and
 * min(maxBackoffMs, initialBackoffMs × multiplier^(retry−1)) ("full jitter").
 */
export function backoffMs(
  retry: number,
  policy: Required<RetryOptions>,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    policy.maxBackoffMs,
    policy.initialBackoffMs * policy.multiplier ** Math.max(0, retry - 1),
  );
  return random() * ceiling;
}

/**
 * Whether repeating `method` after a lost answer is safe: its proto declares it free of side
 * effects or idempotent (`option idempotency_level`), as every method is now that each write
 * carries a request id.
 */
export function safeToRetry(method: DescMethod): boolean {
  return method.idempotency !== MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN;
}

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
export function requestId(options: { requestId?: string } | undefined): string {
  return options?.requestId ?? globalThis.crypto.randomUUID();
}

/** The end of a call's time budget, shared by all its attempts. */
export class Deadline {
  private readonly end: number | undefined;

  /** `timeoutMs` 0 or undefined: no deadline. */
  constructor(private readonly timeoutMs: number | undefined) {
    this.end = timeoutMs ? Date.now() + timeoutMs : undefined;
  }

  /** Milliseconds left (undefined without a deadline); throws DEADLINE_EXCEEDED once past. */
  remaining(): number | undefined {
    if (this.end === undefined) return undefined;
    const left = this.end - Date.now();
    if (left <= 0) throw deadlineExceeded(this.timeoutMs ?? 0);
    return left;
  }

  /** Whether waiting `ms` more would reach the deadline. */
  passedAfter(ms: number): boolean {
    return this.end !== undefined && Date.now() + ms >= this.end;
  }
}

function deadlineExceeded(timeoutMs: number): AgentSessionsError {
  return new AgentSessionsError({
    code: Code.DeadlineExceeded,
    message: `the call did not finish within ${timeoutMs} ms`,
  });
}

export function cancelled(signal: AbortSignal): AgentSessionsError {
  return new AgentSessionsError({
    code: Code.Canceled,
    message: "the call was cancelled",
    cause: signal.reason,
  });
}

export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(cancelled(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelled(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Milliseconds to wait before attempt `number + 1` after `error`, or undefined when `error` is
 * final: anything but UNAVAILABLE, a call that is not idempotent, the attempts used up, the call
 * cancelled, or a backoff that would pass the deadline.
 */
export function retryWait(
  number: number,
  error: unknown,
  context: RetryContext,
  deadline: Deadline,
): number | undefined {
  const attempts = context.idempotent ? Math.max(1, context.policy.maxAttempts) : 1;
  if (
    number >= attempts ||
    !(error instanceof AgentSessionsError) ||
    error.code !== Code.Unavailable ||
    context.signal?.aborted
  ) {
    return undefined;
  }
  const wait = backoffMs(number, context.policy);
  return deadline.passedAfter(wait) ? undefined : wait;
}

/**
 * Runs `attempt` until it succeeds or `retryWait` says its error is final. `attempt` must throw
 * AgentSessionsErrors; the last one is rethrown.
 */
export async function withRetries<T>(
  attempt: (options: AttemptOptions) => Promise<T>,
  context: RetryContext,
): Promise<T> {
  const deadline = new Deadline(context.timeoutMs);
  for (let number = 1; ; number++) {
    const timeoutMs = deadline.remaining();
    try {
      return await attempt({ timeoutMs, signal: context.signal });
    } catch (error) {
      const wait = retryWait(number, error, context, deadline);
      if (wait === undefined) throw error;
      await sleep(wait, context.signal);
    }
  }
}
