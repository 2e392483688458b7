/*
 * hooks.c - the wrappers around the backends' optional capability hooks
 * (backend.h). The layers above never reach into the ops struct: they
 * call these, which use a hook when the backend's ops struct is recent
 * enough to hold it and sets it, and otherwise fall back (a portable
 * statement, a no-op, or CM_ENOTSUP).
 */
#include "store_int.h"

#include <stddef.h>

/* ---- claiming jobs (lib/jobs/claim.c) ---- */

int cm__store_claim_jobs(cm__conn *conn, const cm__claim_req *req, cm__claim_row_fn on_row,
                         void *payload)
{
    const cm__store_ops *ops = conn->store->ops;
    assert(conn->in_tx && req->max >= 1);
    if (CM__STORE_HAS_HOOK(ops, claim_jobs))
        return ops->claim_jobs(conn, req, on_row, payload);
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.claim");
    if (rc)
        return rc;
    cm__q_text(&q, 1, req->queue);
    cm__q_text(&q, 2, req->owner);
    cm__q_int64(&q, 3, req->now);
    cm__q_int64(&q, 4, req->lease_expires_at);
    cm__q_int64(&q, 5, req->max);
    while ((rc = cm__q_step(&q)) == 1)
        if ((rc = on_row(&q, payload)))
            break;
    cm__q_close(&q);
    return cm__ok(rc);
}

/* ---- wake-ups between processes (lib/jobs/listen.c) ---- */

void cm__store_notify(cm__conn *conn, const char *channel, const char *payload)
{
    const cm__store_ops *ops = conn->store->ops;
    assert(conn->in_tx);
    if (CM__STORE_HAS_HOOK(ops, notify))
        ops->notify(conn, channel, payload);
}

int cm__store_listen_open(void **out, int *fd_out, cm_store *store, const char *channel)
{
    const cm__store_ops *ops = store->ops;
    *out = NULL;
    *fd_out = -1;
    if (!CM__STORE_HAS_HOOK(ops, listen_open) || !CM__STORE_HAS_HOOK(ops, listen_read) ||
        !CM__STORE_HAS_HOOK(ops, listen_close))
        return cm__error_set(CM_ENOTSUP, "%s: no cross-process wake-ups, workers poll", ops->name);
    return ops->listen_open(out, fd_out, store->state, channel);
}

int cm__store_listen_read(cm_store *store, void *listener,
                          void (*fn)(const char *payload, void *arg), void *arg)
{
    return store->ops->listen_read(listener, fn, arg);
}

void cm__store_listen_close(cm_store *store, void *listener)
{
    if (listener)
        store->ops->listen_close(listener);
}

/* ---- vector search pushed down to the database (lib/ai/embed_index.c) ----
 * A backend that can search vectors itself (PostgreSQL with pgvector: an
 * HNSW index and `<=>` with the caller's allowed ids as a filter) answers
 * the search inside the operation's transaction; the in-memory index of
 * lib/ai/embed_index.c is then never built. Any other backend (SQLite,
 * PostgreSQL without the extension, or a backend built against an older
 * ops struct) answers 0 and the in-memory index serves the search. Both
 * paths rank the same way: cosine similarity, best first, ties by the
 * smaller id (tests/unit/test_pgvector.c compares them). */

int cm__store_vector_search(cm__conn *conn, const cm__vec_search_req *req, int64_t *ids,
                            float *scores, size_t *n)
{
    const cm__store_ops *ops = conn->store->ops;
    *n = 0;
    if (!CM__STORE_HAS_HOOK(ops, vector_search_pushdown))
        return 0;
    return ops->vector_search_pushdown(conn, req, ids, scores, n);
}
