/**
 * A `text/event-stream` parser (the WHATWG "server-sent events" rules) that accepts the body in
 * chunks split anywhere: inside a line, between `\r` and `\n`, or inside a UTF-8 character.
 */
/** One dispatched event. */
export interface SseEvent {
    /** The `data:` lines of the event, joined with `\n`. */
    data: string;
    /** The `event:` field, when sent. */
    event?: string;
    /** The last `id:` seen so far, when any. */
    id?: string;
}
/** Incremental parser: `push()` text as it arrives and get the events it completes. */
export declare class SseParser {
    private partial;
    private data;
    private eventType;
    private lastId;
    private afterCr;
    private first;
    /** Feeds the next piece of the body; returns the events it completed, in order. */
    push(chunk: string): SseEvent[];
    /** Ends the body; an event without its closing blank line is dropped, as the standard says. */
    end(): void;
    private line;
    private dispatch;
}
/** The chunks of a fetch body; cancels the body when the consumer stops early. */
export declare function bodyChunks(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined>;
/** Parses a `text/event-stream` body given as bytes (UTF-8) or text, chunk by chunk. */
export declare function parseSse(chunks: AsyncIterable<Uint8Array | string>): AsyncGenerator<SseEvent, void, undefined>;
//# sourceMappingURL=sse.d.ts.map