/** Turns a page-returning call into an async iterable that follows `nextPageToken`. */
/**
 * Yields every item of every page, fetching the next page only when the previous one has been
 * consumed. `fetchPage` gets the token to send (undefined for the first page).
 */
export async function* paginate(fetchPage, firstPageToken) {
    let token = firstPageToken || undefined;
    for (;;) {
        const page = await fetchPage(token);
        yield* page.items;
        if (!page.nextPageToken)
            return;
        token = page.nextPageToken;
    }
}
//# sourceMappingURL=pagination.js.map