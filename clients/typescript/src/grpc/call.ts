/** Runs Connect calls with the client's deadline, headers and retry policy, mapping errors. */
import type { DescMethod } from "@bufbuild/protobuf";
import type { CallOptions as ConnectCallOptions } from "@connectrpc/connect";
import { type RetryContext, type RetryOptions, safeToRetry, withRetries } from "../retry.js";
import type { CallOptions } from "../types.js";
import { brokenAsUnavailable, errorFromConnect } from "./errors.js";

export interface CallerConfig {
  /** The default deadline; 0 or undefined for none. */
  timeoutMs: number | undefined;
  retry: Required<RetryOptions>;
}

export class Caller {
  constructor(private readonly config: CallerConfig) {}

  /** The deadline of a call: its own, else the client's; undefined for none. */
  timeoutMs(options: CallOptions | undefined): number | undefined {
    return (options?.timeoutMs ?? this.config.timeoutMs) || undefined;
  }

  /** How a call of `method` is retried. */
  retryContext(method: DescMethod, options: CallOptions | undefined): RetryContext {
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
  unary<T>(
    method: DescMethod,
    options: CallOptions | undefined,
    run: (connectOptions: ConnectCallOptions) => Promise<T>,
  ): Promise<T> {
    return withRetries(
      async (attempt) => {
        try {
          return await run({
            timeoutMs: attempt.timeoutMs,
            signal: attempt.signal,
            headers: options?.headers,
          });
        } catch (error) {
          throw brokenAsUnavailable(errorFromConnect(error), attempt.signal);
        }
      },
      this.retryContext(method, options),
    );
  }
}
