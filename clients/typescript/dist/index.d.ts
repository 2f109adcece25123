/**
 * `@agent-sessions/client`: the gRPC client for Node (`AgentSessionsClient`), plus everything the
 * browser-safe `@agent-sessions/client/rest` entry point offers.
 */
export * from "./rest/index.js";
export { AgentSessionsClient, DEFAULT_TIMEOUT_MS, type ClientOptions } from "./grpc/client.js";
export { errorFromConnect, errorFromStatus } from "./grpc/errors.js";
//# sourceMappingURL=index.d.ts.map