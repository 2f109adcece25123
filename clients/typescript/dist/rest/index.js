export { textDeltas } from "../api.js";
export { AgentSessionsError, Code, codeName, isAgentSessionsError, } from "../errors.js";
export { backoffMs, DEFAULT_RETRY } from "../retry.js";
export { codeFromHttpStatus, errorFromStatusJson } from "../status.js";
export * from "../types.js";
export { AgentSessionsRestClient, API_PREFIX, DEFAULT_REST_TIMEOUT_MS, } from "./client.js";
export { parseTimestamp } from "./json.js";
export { answerCall, runTools, ToolRoundsExceeded, toolSpecs, } from "../tools.js";
export { bodyChunks, parseSse, SseParser } from "./sse.js";
//# sourceMappingURL=index.js.map