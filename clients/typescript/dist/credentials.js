/** Bearer credentials: a fixed token, or a provider asked for a token before every call. */
import { AgentSessionsError, Code } from "./errors.js";
/**
 * The `authorization` header value for `credentials`, or undefined when there are none. A
 * provider that fails makes the call fail with UNAUTHENTICATED, its error as the `cause`.
 */
export async function authorizationHeader(credentials) {
    if (credentials === undefined)
        return undefined;
    let token;
    try {
        token = typeof credentials === "string" ? credentials : await credentials();
    }
    catch (error) {
        throw new AgentSessionsError({
            code: Code.Unauthenticated,
            message: `the token provider failed: ${error instanceof Error ? error.message : String(error)}`,
            cause: error,
        });
    }
    return token ? `Bearer ${token}` : undefined;
}
//# sourceMappingURL=credentials.js.map