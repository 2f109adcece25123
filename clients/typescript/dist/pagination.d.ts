/** Turns a page-returning call into an async iterable that follows `nextPageToken`. */
/** A page of `T`s and the token of the next one (empty on the last page). */
export interface Page<T> {
    items: readonly T[];
    nextPageToken: string;
}
/**
 * Yields every item of every page, fetching the next page only when the previous one has been
 * consumed. `fetchPage` gets the token to send (undefined for the first page).
 */
export declare function paginate<T>(fetchPage: (pageToken: string | undefined) => Promise<Page<T>>, firstPageToken?: string): AsyncGenerator<T, void, undefined>;
//# sourceMappingURL=pagination.d.ts.map