/**
 * A `text/event-stream` parser (the WHATWG "server-sent events" rules) that accepts the body in
 * chunks split anywhere: inside a line, between `\r` and `\n`, or inside a UTF-8 character.
 */
/** Incremental parser: `push()` text as it arrives and get the events it completes. */
export class SseParser {
    partial = "";
    data = [];
    eventType;
    lastId;
    afterCr = false;
    first = true;
    /** Feeds the next piece of the body; returns the events it completed, in order. */
    push(chunk) {
        let text = chunk;
        if (text === "")
            return [];
        if (this.afterCr && text.startsWith("\n"))
            text = text.slice(1);
        this.afterCr = false;
        if (this.first && text.startsWith("\uFEFF"))
            text = text.slice(1);
        this.first = false;
        const events = [];
        let start = 0;
        for (let i = 0; i < text.length; i++) {
            const c = text[i];
            if (c !== "\n" && c !== "\r")
                continue;
            const line = this.partial + text.slice(start, i);
            this.partial = "";
            if (c === "\r") {
                if (i + 1 === text.length)
                    this.afterCr = true;
                else if (text[i + 1] === "\n")
                    i++;
            }
            start = i + 1;
            const event = this.line(line);
            if (event !== undefined)
                events.push(event);
        }
        this.partial += text.slice(start);
        return events;
    }
    /** Ends the body; an event without its closing blank line is dropped, as the standard says. */
    end() {
        this.partial = "";
        this.data = [];
        this.eventType = undefined;
    }
    line(line) {
        if (line === "")
            return this.dispatch();
        if (line.startsWith(":"))
            return undefined;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" "))
            value = value.slice(1);
        if (field === "data")
            this.data.push(value);
        else if (field === "event")
            this.eventType = value;
        else if (field === "id" && !value.includes("\0"))
            this.lastId = value;
        return undefined;
    }
    dispatch() {
        if (this.data.length === 0) {
            this.eventType = undefined;
            return undefined;
        }
        const event = { data: this.data.join("\n") };
        if (this.eventType)
            event.event = this.eventType;
        if (this.lastId !== undefined)
            event.id = this.lastId;
        this.data = [];
        this.eventType = undefined;
        return event;
    }
}
/** The chunks of a fetch body; cancels the body when the consumer stops early. */
export async function* bodyChunks(stream) {
    const reader = stream.getReader();
    let done = false;
    try {
        for (;;) {
            const result = await reader.read();
            if (result.done) {
                done = true;
                return;
            }
            yield result.value;
        }
    }
    finally {
        if (!done)
            await reader.cancel().catch(() => undefined);
        reader.releaseLock();
    }
}
/** Parses a `text/event-stream` body given as bytes (UTF-8) or text, chunk by chunk. */
export async function* parseSse(chunks) {
    const parser = new SseParser();
    const decoder = new TextDecoder("utf-8");
    for await (const chunk of chunks) {
        const text = typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
        yield* parser.push(text);
    }
    yield* parser.push(decoder.decode());
    parser.end();
}
//# sourceMappingURL=sse.js.map