/** The `delta` texts of `events`. */
export async function* textDeltas(events) {
    for await (const event of events) {
        if (event.type === "delta")
            yield event.text;
    }
}
//# sourceMappingURL=api.js.map