import { authorizationHeader } from "../credentials.js";
import { AgentSessionsError, Code } from "../errors.js";
import { cancelled, safeToRetry, withRetries, } from "../retry.js";
import { codeFromHttpStatus, errorFromStatusJson } from "../status.js";
function queryString(query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
        if (Array.isArray(value)) {
            for (const each of value)
                params.append(key, each);
        }
        else if (value !== undefined && value !== "") {
            params.set(key, String(value));
        }
    }
    const text = params.toString();
    return text ? `?${text}` : "";
}
/** An AgentSessionsError from a non-2xx response: its JSON google.rpc.Status, else its status. */
export async function httpError(response) {
    const text = await response.text().catch(() => "");
    let parsed;
    try {
        parsed = JSON.parse(text);
    }
    catch {
        parsed = undefined;
    }
    const fallback = text.trim() || `HTTP ${response.status} ${response.statusText}`.trim();
    return errorFromStatusJson(parsed, codeFromHttpStatus(response.status), fallback, response.status);
}
export class Http {
    config;
    baseUrl;
    constructor(config) {
        this.config = config;
        this.baseUrl = config.baseUrl.replace(/\/+$/, "");
    }
    /** The client's retry policy. */
    get retry() {
        return this.config.retry;
    }
    /** The deadline of a call: its own, else the client's; undefined for none. */
    timeoutMs(options) {
        return (options?.timeoutMs ?? this.config.timeoutMs) || undefined;
    }
    /**
     * A JSON call of the path that transcodes `method`, retried on UNAVAILABLE (HTTP 503, network
     * errors) when its proto says that is safe.
     */
    json(request, method, options) {
        return withRetries(async (attempt) => {
            const open = await this.open(request, attempt, options?.headers);
            try {
                return await open.response.json();
            }
            catch (error) {
                const mapped = open.failure(error);
                if (mapped !== error)
                    throw mapped;
                throw new AgentSessionsError({
                    code: Code.Internal,
                    message: "the server's response is not JSON",
                    cause: error,
                });
            }
            finally {
                open.close();
            }
        }, {
            idempotent: safeToRetry(method),
            policy: this.config.retry,
            timeoutMs: this.timeoutMs(options),
            signal: options?.signal,
        });
    }
    /**
     * Sends a request and returns its 2xx response with the body unread; the deadline keeps
     * running until `close()`. Non-2xx responses are thrown as AgentSessionsErrors.
     */
    async open(request, attempt, headers) {
        const { signal, timeoutMs } = attempt;
        // Outside the failure mapping below, which would take a failing provider for the network.
        const requestHeaders = await this.headers(request, headers);
        const controller = new AbortController();
        let timedOut = false;
        const timer = timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                timedOut = true;
                controller.abort();
            }, timeoutMs);
        const onAbort = () => controller.abort();
        signal?.addEventListener("abort", onAbort, { once: true });
        const close = () => {
            if (timer !== undefined)
                clearTimeout(timer);
            signal?.removeEventListener("abort", onAbort);
        };
        const failure = (error) => {
            if (error instanceof AgentSessionsError)
                return error;
            if (timedOut) {
                return new AgentSessionsError({
                    code: Code.DeadlineExceeded,
                    message: `the call did not finish within ${timeoutMs} ms`,
                    cause: error,
                });
            }
            if (signal?.aborted)
                return cancelled(signal);
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
            if (signal?.aborted)
                throw cancelled(signal);
            const response = await this.config.fetch(this.baseUrl + request.path + queryString(request.query), {
                method: request.method,
                headers: requestHeaders,
                body: request.body === undefined ? undefined : JSON.stringify(request.body),
                signal: controller.signal,
            });
            if (!response.ok)
                throw await httpError(response);
            return { response, failure, close };
        }
        catch (error) {
            close();
            throw failure(error);
        }
    }
    async headers(request, extra) {
        const headers = {
            accept: request.accept ?? "application/json",
            ...this.config.headers,
            ...extra,
            ...request.headers,
        };
        if (request.body !== undefined)
            headers["content-type"] = "application/json";
        const authorization = await authorizationHeader(this.config.token);
        if (authorization !== undefined)
            headers["authorization"] = authorization;
        return headers;
    }
}
//# sourceMappingURL=http.js.map