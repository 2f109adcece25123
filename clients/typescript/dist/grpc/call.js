import { safeToRetry, withRetries } from "../retry.js";
import { brokenAsUnavailable, errorFromConnect } from "./errors.js";
export class Caller {
    config;
    constructor(config) {
        this.config = config;
    }
    /** The deadline of a call: its own, else the client's; undefined for none. */
    timeoutMs(options) {
        return (options?.timeoutMs ?? this.config.timeoutMs) || undefined;
    }
    /** How a call of `method` is retried. */
    retryContext(method, options) {
        return {
            idempotent: safeToRetry(method),
            policy: this.config.retry,
            timeoutMs: this.timeoutMs(options),
            signal: options?.signal,
        };
    }
    /**
     * A unary call of `method`, retried on UNAVAILABLE when its proto says that is safe (every
     * attempt sends the same request, so the same request id). Throws AgentSessionsError for every
     * failure of the call itself.
     */
    unary(method, options, run) {
        return withRetries(async (attempt) => {
            try {
                return await run({
                    timeoutMs: attempt.timeoutMs,
                    signal: attempt.signal,
                    headers: options?.headers,
                });
            }
            catch (error) {
                throw brokenAsUnavailable(errorFromConnect(error), attempt.signal);
            }
        }, this.retryContext(method, options));
    }
}
//# sourceMappingURL=call.js.map