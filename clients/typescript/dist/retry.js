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
 * effects or idempotent (`option idempotency_level`). Creates and conversation turns are not.
 */
export function safeToRetry(method) {
    return method.idempotency !== MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN;
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
function sleep(ms, signal) {
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
 * Runs `attempt` until it succeeds, fails with anything but UNAVAILABLE, the call is not
 * idempotent, the attempts are used up, or the next backoff would pass the deadline. `attempt`
 * must throw AgentSessionsErrors; the last one is rethrown.
 */
export async function withRetries(attempt, context) {
    const { policy, signal } = context;
    const timeoutMs = context.timeoutMs || undefined;
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const attempts = context.idempotent ? Math.max(1, policy.maxAttempts) : 1;
    for (let number = 1;; number++) {
        const left = deadline === undefined ? undefined : deadline - Date.now();
        if (left !== undefined && left <= 0)
            throw deadlineExceeded(timeoutMs ?? 0);
        try {
            return await attempt({ timeoutMs: left, signal });
        }
        catch (error) {
            if (number >= attempts ||
                !(error instanceof AgentSessionsError) ||
                error.code !== Code.Unavailable ||
                signal?.aborted) {
                throw error;
            }
            const wait = backoffMs(number, policy);
            if (deadline !== undefined && Date.now() + wait >= deadline)
                throw error;
            await sleep(wait, signal);
        }
    }
}
//# sourceMappingURL=retry.js.map