import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { AgentSessionsError, Code } from "./errors.js";
export const DEFAULT_RETRY = {
    maxAttempts: 4,
    initialBackoffMs: 100,
    maxBackoffMs: 2000,
    multiplier: 2,
};
/** The retry options in force: `false` means no retries, undefined the defaults. */
export function retryPolicy(options) {
    if (options === false)
        return { ...DEFAULT_RETRY, maxAttempts: 1 };
    return { ...DEFAULT_RETRY, ...options };
}
/**
 * The wait before retry number `retry` (1 for the first): a uniformly random time between 0 and
 * min(maxBackoffMs, initialBackoffMs × multiplier^(retry−1)) ("full jitter").
 */
export function backoffMs(retry, policy, random = Math.random) {
    const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.multiplier ** Math.max(0, retry - 1));
    return random() * ceiling;
}
/**
 * Whether repeating `method` after a lost answer is safe: its proto declares it free of side
 * effects or idempotent (`option idempotency_level`), as every method is now that each write
 * carries a request id.
 */
export function safeToRetry(method) {
    return method.idempotency !== MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN;
}
/**
 * The request id of one logical call: the caller's, else a new UUID (`crypto.randomUUID`, in
 * Node 19+ and in browsers' secure contexts). Made once per call, before its first attempt.
 */
export function requestId(options) {
    return options?.requestId ?? globalThis.crypto.randomUUID();
}
/** The end of a call's time budget, shared by all its attempts. */
export class Deadline {
    timeoutMs;
    end;
    /** `timeoutMs` 0 or undefined: no deadline. */
    constructor(timeoutMs) {
        this.timeoutMs = timeoutMs;
        this.end = timeoutMs ? Date.now() + timeoutMs : undefined;
    }
    /** Milliseconds left (undefined without a deadline); throws DEADLINE_EXCEEDED once past. */
    remaining() {
        if (this.end === undefined)
            return undefined;
        const left = this.end - Date.now();
        if (left <= 0)
            throw deadlineExceeded(this.timeoutMs ?? 0);
        return left;
    }
    /** Whether waiting `ms` more would reach the deadline. */
    passedAfter(ms) {
        return this.end !== undefined && Date.now() + ms >= this.end;
    }
}
function deadlineExceeded(timeoutMs) {
    return new AgentSessionsError({
        code: Code.DeadlineExceeded,
        message: `the call did not finish within ${timeoutMs} ms`,
    });
}
export function cancelled(signal) {
    return new AgentSessionsError({
        code: Code.Canceled,
        message: "the call was cancelled",
        cause: signal.reason,
    });
}
export function sleep(ms, signal) {
    return new Promise((resolve, reject) => {
        if (signal?.aborted) {
            reject(cancelled(signal));
            return;
        }
        const onAbort = () => {
            clearTimeout(timer);
            reject(cancelled(signal));
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
export function retryWait(number, error, context, deadline) {
    const attempts = context.idempotent ? Math.max(1, context.policy.maxAttempts) : 1;
    if (number >= attempts ||
        !(error instanceof AgentSessionsError) ||
        error.code !== Code.Unavailable ||
        context.signal?.aborted) {
        return undefined;
    }
    const wait = backoffMs(number, context.policy);
    return deadline.passedAfter(wait) ? undefined : wait;
}
/**
 * Runs `attempt` until it succeeds or `retryWait` says its error is final. `attempt` must throw
 * AgentSessionsErrors; the last one is rethrown.
 */
export async function withRetries(attempt, context) {
    const deadline = new Deadline(context.timeoutMs);
    for (let number = 1;; number++) {
        const timeoutMs = deadline.remaining();
        try {
            return await attempt({ timeoutMs, signal: context.signal });
        }
        catch (error) {
            const wait = retryWait(number, error, context, deadline);
            if (wait === undefined)
                throw error;
            await sleep(wait, context.signal);
        }
    }
}
//# sourceMappingURL=retry.js.map