import { safeToRetry, withRetries } from "../retry.js";
import { errorFromConnect } from "./errors.js";
export class Caller {
    config;
    constructor(config) {
        this.config = config;
    }
    /** The deadline of a call: its own, else the client's; undefined for none. */
    timeoutMs(options) {
        return (options?.timeoutMs ?? this.config.timeoutMs) || undefined;
    }
    /**
     * A unary call of `method`, retried on UNAVAILABLE when its proto says that is safe. Throws
     * AgentSessionsError for every failure of the call itself.
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
                throw errorFromConnect(error);
            }
        }, {
            idempotent: safeToRetry(method),
            policy: this.config.retry,
            timeoutMs: this.timeoutMs(options),
            signal: options?.signal,
        });
    }
    /** Connect options of a streaming call (never retried). */
    stream(options) {
        return {
            timeoutMs: this.timeoutMs(options),
            signal: options?.signal,
            headers: options?.headers,
        };
    }
}
//# sourceMappingURL=call.js.map