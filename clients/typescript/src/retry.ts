/**
 * Retries of calls that are safe to repeat: on UNAVAILABLE only, with exponential backoff and
 * full jitter, all within the call's deadline.
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
 * effects or idempotent (`option idempotency_level`). Creates and conversation turns are not.
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

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
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
 * Runs `attempt` until it succeeds, fails with anything but UNAVAILABLE, the call is not
 * idempotent, the attempts are used up, or the next backoff would pass the deadline. `attempt`
 * must throw AgentSessionsErrors; the last one is rethrown.
 */
export async function withRetries<T>(
  attempt: (options: AttemptOptions) => Promise<T>,
  context: RetryContext,
): Promise<T> {
  const { policy, signal } = context;
  const timeoutMs = context.timeoutMs || undefined;
  const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  const attempts = context.idempotent ? Math.max(1, policy.maxAttempts) : 1;
  for (let number = 1; ; number++) {
    const left = deadline === undefined ? undefined : deadline - Date.now();
    if (left !== undefined && left <= 0) throw deadlineExceeded(timeoutMs ?? 0);
    try {
      return await attempt({ timeoutMs: left, signal });
    } catch (error) {
      if (
        number >= attempts ||
        !(error instanceof AgentSessionsError) ||
        error.code !== Code.Unavailable ||
        signal?.aborted
      ) {
        throw error;
      }
      const wait = backoffMs(number, policy);
      if (deadline !== undefined && Date.now() + wait >= deadline) throw error;
      await sleep(wait, signal);
    }
  }
}
