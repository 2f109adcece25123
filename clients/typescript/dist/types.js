/** Every role, in the order of the proto enum. */
export const ROLES = ["user", "assistant", "system", "tool"];
/** The messages of a turn: a string is one `user` message. */
export function turnMessages(messages) {
    return typeof messages === "string" ? [{ role: "user", content: messages }] : messages;
}
/** ListSessions' `label` filters: one `key:value` per label. */
export function labelFilters(labels) {
    return Object.entries(labels ?? {}).map(([key, value]) => `${key}:${value}`);
}
/**
 * The `tool` message that answers a call, for the next turn's `messages` (the service fills in
 * the tool's name).
 */
export function toolResult(call, output) {
    return {
        role: "tool",
        toolCallId: typeof call === "string" ? call : call.toolCallId,
        content: output,
    };
}
//# sourceMappingURL=types.js.map