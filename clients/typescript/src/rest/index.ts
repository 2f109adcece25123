/**
 * The browser-safe entry point (`@agent-sessions/client/rest`): the REST helper, the shared
 * types and errors, and the SSE parser. Nothing here needs Node.
 */
export type { AgentSessionsApi, MessagesApi, SessionsApi } from "../api.js";
export { textDeltas } from "../api.js";
export type { Credentials, TokenProvider } from "../credentials.js";
export {
  AgentSessionsError,
  Code,
  codeName,
  isAgentSessionsError,
  type AgentSessionsErrorInit,
  type FieldViolation,
} from "../errors.js";
export { backoffMs, DEFAULT_RETRY, type RetryOptions } from "../retry.js";
export { codeFromHttpStatus, errorFromStatusJson } from "../status.js";
export * from "../types.js";
export {
  AgentSessionsRestClient,
  API_PREFIX,
  DEFAULT_REST_TIMEOUT_MS,
  type RestClientOptions,
} from "./client.js";
export { parseTimestamp } from "./json.js";
export {
  answerCall,
  runTools,
  ToolRoundsExceeded,
  toolSpecs,
  type LocalTool,
  type LocalTools,
  type RunToolsRequest,
} from "../tools.js";
export { bodyChunks, parseSse, SseParser, type SseEvent } from "./sse.js";
