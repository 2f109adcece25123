/**
 * One HTTP exchange with Envoy over `fetch`: headers and token, the deadline, and every failure
 * (HTTP error, network, timeout, cancel) as an AgentSessionsError. Browser-safe.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { authorizationHeader, type Credentials } from "../credentials.js";
import { AgentSessionsError, Code } from "../errors.js";
import {
  cancelled,
  safeToRetry,
  type AttemptOptions,
  type RetryOptions,
  withRetries,
} from "../retry.js";
import { codeFromHttpStatus, errorFromStatusJson } from "../status.js";
import type { CallOptions } from "../types.js";

export interface HttpConfig {
  baseUrl: string;
  token: Credentials | undefined;
  timeoutMs: number | undefined;
  retry: Required<RetryOptions>;
  headers: Record<string, string>;
  fetch: typeof fetch;
}

export interface HttpRequest {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  /** Starts with `/`; path segments already encoded. */
  path: string;
  /** An array value repeats the parameter, once per element. */
  query?: Record<string, string | number | boolean | string[] | undefined>;
  body?: unknown;
  accept?: string;
  /** Headers of this request, the same in every attempt (the request id, the etag). */
  headers?: Record<string, string>;
}

/** A response whose body is still to be read; `close()` stops its deadline timer. */
export interface OpenResponse {
  response: Response;
  /** Maps a failure while reading the body to an AgentSessionsError. */
  failure(error: unknown): unknown;
  close(): void;
}

function queryString(query: HttpRequest["query"]): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (Array.isArray(value)) {
      for (const each of value) params.append(key, each);
    } else if (value !== undefined && value !== "") {
      params.set(key, String(value));
    }
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** An AgentSessionsError from a non-2xx response: its JSON google.rpc.Status, else its status. */
export async function httpError(response: Response): Promise<AgentSessionsError> {
  const text = await response.text().catch(() => "");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const fallback = text.trim() || `HTTP ${response.status} ${response.statusText}`.trim();
  return errorFromStatusJson(
    parsed,
    codeFromHttpStatus(response.status),
    fallback,
    response.status,
  );
}

export class Http {
  private readonly baseUrl: string;

  constructor(private readonly config: HttpConfig) {
    this.baseUrl = config.baseUrl.replace(/\/+$/, "");
  }

  /** The client's retry policy. */
  get retry(): Required<RetryOptions> {
    return this.config.retry;
  }

  /** The deadline of a call: its own, else the client's; undefined for none. */
  timeoutMs(options: CallOptions | undefined): number | undefined {
    return (options?.timeoutMs ?? this.config.timeoutMs) || undefined;
  }

  /**
   * A JSON call of the path that transcodes `method`, retried on UNAVAILABLE (HTTP 503, network
   * errors) when its proto says that is safe.
   */
  json(request: HttpRequest, method: DescMethod, options?: CallOptions): Promise<unknown> {
    return withRetries(
      async (attempt) => {
        const open = await this.open(request, attempt, options?.headers);
        try {
          return await open.response.json();
        } catch (error) {
          const mapped = open.failure(error);
          if (mapped !== error) throw mapped;
          throw new AgentSessionsError({
            code: Code.Internal,
            message: "the server's response is not JSON",
            cause: error,
          });
        } finally {
          open.close();
        }
      },
      {
        idempotent: safeToRetry(method),
        policy: this.config.retry,
        timeoutMs: this.timeoutMs(options),
        signal: options?.signal,
      },
    );
  }

  /**
   * Sends a request and returns its 2xx response with the body unread; the deadline keeps
   * running until `close()`. Non-2xx responses are thrown as AgentSessionsErrors.
   */
  async open(
    request: HttpRequest,
    attempt: AttemptOptions,
    headers?: Record<string, string>,
  ): Promise<OpenResponse> {
    const { signal, timeoutMs } = attempt;
    // Outside the failure mapping below, which would take a failing provider for the network.
    const requestHeaders = await this.headers(request, headers);
    const controller = new AbortController();
    let timedOut = false;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, timeoutMs);
    const onAbort = (): void => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const close = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const failure = (error: unknown): unknown => {
      if (error instanceof AgentSessionsError) return error;
      if (timedOut) {
        return new AgentSessionsError({
          code: Code.DeadlineExceeded,
          message: `the call did not finish within ${timeoutMs} ms`,
          cause: error,
        });
      }
      if (signal?.aborted) return cancelled(signal);
      if (error instanceof TypeError || (error instanceof Error && error.name === "AbortError")) {
        return new AgentSessionsError({
          code: Code.Unavailable,
          message: `could not reach ${this.baseUrl}: ${error.message}`,
          cause: error,
        });
      }
      return error;
    };
    try {
      if (signal?.aborted) throw cancelled(signal);
      const response = await this.config.fetch(
        this.baseUrl + request.path + queryString(request.query),
        {
          method: request.method,
          headers: requestHeaders,
          body: request.body === undefined ? undefined : JSON.stringify(request.body),
          signal: controller.signal,
        },
      );
      if (!response.ok) throw await httpError(response);
      return { response, failure, close };
    } catch (error) {
      close();
      throw failure(error);
    }
  }

  private async headers(
    request: HttpRequest,
    extra: Record<string, string> | undefined,
  ): Promise<Record<string, string>> {
    const headers: Record<string, string> = {
      accept: request.accept ?? "application/json",
      ...this.config.headers,
      ...extra,
      ...request.headers,
    };
    if (request.body !== undefined) headers["content-type"] = "application/json";
    const authorization = await authorizationHeader(this.config.token);
    if (authorization !== undefined) headers["authorization"] = authorization;
    return headers;
  }
}
