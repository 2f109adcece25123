/**
 * Streams that outlive their connection: a turn's events and a session's watch, read on after
 * the last event shown when the connection breaks, so the caller sees each event once and in
 * order. Shared by the gRPC client and the REST helper, which only open the streams.
 */
import { AgentSessionsError, Code } from "./errors.js";
import { Deadline, retryWait, sleep } from "./retry.js";
/** Errors the service sent in the stream itself (the turn failed): never retried. */
const inBand = new WeakSet();
/** Marks `error` as the stream's own last word, so no attempt follows it. */
export function final(error) {
    if (typeof error === "object" && error !== null)
        inBand.add(error);
    return error;
}
/**
 * A turn's events after `afterSeq`. When the stream breaks (UNAVAILABLE, the network) it is
 * opened again within the retry policy: before the turn's `started` event by sending the turn
 * again (same request id: the service attaches the retry to the turn or replays it), after it
 * with ResumeTurn after the last `seq` shown. Events at or below that `seq` are skipped. An
 * attempt that brought new events starts the count of attempts again.
 */
export async function* followTurn(streams, context, start = {}) {
    const deadline = new Deadline(context.timeoutMs);
    let turn = start.turn;
    let last = start.afterSeq ?? 0;
    for (let number = 1;; number++) {
        const attempt = { timeoutMs: deadline.remaining(), signal: context.signal };
        let progressed = false;
        try {
            const stream = turn !== undefined || streams.converse === undefined
                ? streams.resume(turn, last, attempt)
                : streams.converse(attempt);
            for await (const event of stream) {
                if (event.seq <= last)
                    continue; // shown before the break (an attach starts at 1)
                last = event.seq;
                progressed = true;
                if (event.type === "started" && event.turnId && turn === undefined) {
                    turn = { sessionId: event.sessionId, turnId: event.turnId };
                }
                yield event;
            }
            return;
        }
        catch (error) {
            if (progressed)
                number = 1;
            const wait = inBand.has(error)
                ? undefined
                : retryWait(number, error, context, deadline);
            if (wait === undefined)
                throw error;
            await sleep(wait, context.signal);
        }
    }
}
/** The codes of a watch's `error` event after which it is opened again from its last `seq`. */
const WATCH_AGAIN = new Set([Code.Unavailable, Code.ResourceExhausted]);
/**
 * A session's changes after `afterSeq` (from the session's current `seq` when undefined, read
 * with `currentSeq` before the watch opens, so a break before the first change loses nothing).
 * A broken watch, or one the service ends because it fell behind or shuts down, is opened again
 * after the last durable `seq` shown: none lost, none twice. Ends after `deleted`.
 */
export async function* followWatch(open, currentSeq, context, afterSeq) {
    const deadline = new Deadline(context.timeoutMs);
    let last = afterSeq ?? (await currentSeq({ timeoutMs: deadline.remaining(), signal: context.signal }));
    for (let number = 1;; number++) {
        const attempt = { timeoutMs: deadline.remaining(), signal: context.signal };
        let progressed = false;
        let failure;
        let again = false;
        try {
            for await (const event of open(last, attempt)) {
                progressed = true;
                if (event.type === "error") {
                    if (!WATCH_AGAIN.has(event.error.code))
                        throw final(event.error);
                    failure = event.error;
                    again = true; // fell behind, or the server shuts down: watch again from `last`
                    break;
                }
                const seq = durableSeq(event);
                if (seq !== undefined) {
                    if (seq <= last)
                        continue;
                    last = seq;
                }
                yield event;
                if (event.type === "deleted")
                    return;
            }
            if (!again) {
                failure = new AgentSessionsError({
                    code: Code.Unavailable,
                    message: "the watch ended before the session was deleted",
                });
            }
        }
        catch (error) {
            if (inBand.has(error))
                throw error;
            failure = error;
        }
        if (progressed)
            number = 1;
        const asUnavailable = again
            ? new AgentSessionsError({ code: Code.Unavailable, message: "watch again" })
            : failure;
        const wait = retryWait(number, asUnavailable, context, deadline);
        if (wait === undefined)
            throw failure;
        await sleep(wait, context.signal);
    }
}
/** The session `seq` of a durable event; undefined for live ones (and a `deleted` without). */
function durableSeq(event) {
    switch (event.type) {
        case "turn":
        case "turnDelta":
        case "heartbeat":
            return undefined;
        default:
            return event.seq;
    }
}
//# sourceMappingURL=resume.js.map