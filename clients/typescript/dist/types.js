/** Every role, in the order of the proto enum. */
export const ROLES = ["user", "assistant", "system", "tool"];
/** The messages of a turn: a string is one `user` message. */
export function turnMessages(messages) {
    return typeof messages === "string" ? [{ role: "user", content: messages }] : messages;
}
//# sourceMappingURL=types.js.map