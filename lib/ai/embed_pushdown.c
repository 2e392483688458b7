/*
 * embed_pushdown.c - the vector search pushed down to the database: the
 * wrapper around the backend's optional vector_search_pushdown hook.
 *
 * A backend that can search vectors itself (PostgreSQL with pgvector: an
 * HNSW index and `<=>` with the caller's allowed ids as a filter) answers
 * the search inside the operation's transaction; the in-memory index of
 * lib/ai/embed_index.c is then never built. Any other backend (SQLite,
 * PostgreSQL without the extension, or a backend built against an older
 * ops struct) answers 0 and the in-memory index serves the search. Both
 * paths rank the same way: cosine similarity, best first, ties by the
 * smaller id (tests/unit/test_pgvector.c compares them).
 */
#include "ai_int.h"

#include <stddef.h>

int cm__store_vector_search(cm__conn *conn, const cm__vec_search_req *req, int64_t *ids,
                            float *scores, size_t *n)
{
    const cm__store_ops *ops = conn->store->ops;
    *n = 0;
    if (ops->size < offsetof(cm__store_ops, vector_search_pushdown) +
                        sizeof ops->vector_search_pushdown ||
        !ops->vector_search_pushdown)
        return 0;
    return ops->vector_search_pushdown(conn, req, ids, scores, n);
}
