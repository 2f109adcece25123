/** Returns the token to send; called once per call attempt, so it may refresh or rotate. */
export type TokenProvider = () => string | Promise<string>;
/** A JWT, or a function returning one. */
export type Credentials = string | TokenProvider;
/**
 * The `authorization` header value for `credentials`, or undefined when there are none. A
 * provider that fails makes the call fail with UNAUTHENTICATED, its error as the `cause`.
 */
export declare function authorizationHeader(credentials: Credentials | undefined): Promise<string | undefined>;
//# sourceMappingURL=credentials.d.ts.map