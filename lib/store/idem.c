/*
 * idem.c - Idempotency-Key records in the store (include/community/idem.h):
 * claim, complete and release, each one short write transaction on the
 * pool, and the completion inside an operation's transaction
 * (cm__idem_complete_in, for cm_idem_exec in lib/core/exec_idem.c). SQL:
 * lib/store/sqlite/sql_idem.c.
 */
#include "store_int.h"

#include <community/idem.h>
#include <community/runtime.h>

#include <string.h>

/* Expired records each claim deletes (amortised pruning). */
#define PRUNE_BATCH 16

typedef struct claim_ctx {
    const char *scope, *key, *hash;
    int64_t now, lease_us;
    int outcome; /* CM_IDEM_* */
    int32_t status;
    char *response;
    size_t response_len;
} claim_ctx;

static int check_text(const char *what, const char *s, size_t max)
{
    if (!s || !*s || strlen(s) > max)
        return cm__error_set_field(CM_EINVAL, what, "%s must be 1-%zu bytes", what, max);
    return CM_OK;
}

static int check_args(cm_store *store, const char *scope, const char *key, const char *hash)
{
    int rc;
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_idem: store is NULL");
    if ((rc = check_text("scope", scope, 255)) || (rc = check_text("key", key, 255)) ||
        (rc = check_text("request_hash", hash, 128)))
        return rc;
    return CM_OK;
}

static int bind_claim(cm__q *q, const claim_ctx *c)
{
    cm__q_text(q, 1, c->scope);
    cm__q_text(q, 2, c->key);
    cm__q_text(q, 3, c->hash);
    cm__q_int64(q, 4, c->now);
    return cm__q_int64(q, 5, c->now + c->lease_us);
}

/* Run a claim statement (idem.insert or idem.retake): 1 when it took the
 * key, 0 when not, < 0 on error. */
static int take(cm__conn *conn, const char *id, const claim_ctx *c)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, id);
    if (rc)
        return rc;
    bind_claim(&q, c);
    rc = cm__q_step(&q);
    if (rc >= 0)
        rc = cm__q_changes(&q) > 0;
    cm__q_close(&q);
    return rc;
}

/* The outcome of a claim (CM_IDEM_*), or < 0 on error. */
static int claim_step(cm__conn *conn, claim_ctx *c)
{
    cm__free(c->response);
    c->response = NULL;
    c->response_len = 0;
    c->status = 0;

    cm__q q;
    int rc = cm__q_open(&q, conn, "idem.prune");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, c->now);
    cm__q_int64(&q, 2, PRUNE_BATCH);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    if (rc < 0)
        return rc;

    if ((rc = take(conn, "idem.insert", c)) != 0)
        return rc > 0 ? CM_IDEM_NEW : rc;
    if ((rc = cm__q_open(&q, conn, "idem.get")))
        return rc;
    cm__q_text(&q, 1, c->scope);
    cm__q_text(&q, 2, c->key);
    rc = cm__q_step(&q);
    if (rc < 0) {
        cm__q_close(&q);
        return rc;
    }
    if (rc == 0) {
        /* deleted since the insert saw it: the transaction's snapshot
         * cannot tell, retry it */
        cm__q_close(&q);
        return cm__error_set(CM_EBUSY, "idempotency record changed during the claim");
    }
    bool expired = cm__q_col_int64(&q, 3) <= c->now;
    bool same = strcmp(cm__q_col_text(&q, 0), c->hash) == 0;
    bool done = !cm__q_is_null(&q, 1);
    if (!expired && same && done) {
        size_t len = 0;
        const void *p = cm__q_col_blob(&q, 2, &len);
        c->response = cm__malloc(len + 1);
        if (!c->response) {
            cm__q_close(&q);
            return cm__oom();
        }
        if (len)
            memcpy(c->response, p, len);
        c->response[len] = '\0';
        c->response_len = len;
        c->status = (int32_t)cm__q_col_int64(&q, 1);
    }
    cm__q_close(&q);
    if (!expired)
        return !same ? CM_IDEM_MISMATCH : done ? CM_IDEM_REPLAY : CM_IDEM_BUSY;
    if ((rc = take(conn, "idem.retake", c)) < 0)
        return rc;
    return rc ? CM_IDEM_NEW
              : cm__error_set(CM_EBUSY, "idempotency record changed during the claim");
}

/* cm__store_run_tx commits only on CM_OK: the outcome travels in the ctx. */
static int claim_tx(cm__conn *conn, void *payload)
{
    claim_ctx *c = payload;
    int rc = claim_step(conn, c);
    if (rc < 0)
        return rc;
    c->outcome = rc;
    return CM_OK;
}

int cm_idem_claim(int32_t *status_out, char **response_out, size_t *response_len_out,
                  cm_store *store, const char *scope, const char *key, const char *request_hash,
                  int64_t lease_us)
{
    if (status_out)
        *status_out = 0;
    if (response_out)
        *response_out = NULL;
    if (response_len_out)
        *response_len_out = 0;
    int rc = check_args(store, scope, key, request_hash);
    if (rc)
        return rc;
    if (!status_out || !response_out)
        return cm__error_set(CM_EINVAL, "cm_idem_claim: status_out and response_out are required");
    if (lease_us <= 0)
        return cm__error_set_field(CM_EINVAL, "lease_us", "lease_us must be positive");
    claim_ctx c = {
        .scope = scope, .key = key, .hash = request_hash, .now = cm_now_us(), .lease_us = lease_us};
    rc = cm__store_run_tx(store, true, claim_tx, &c);
    if (rc == CM_OK)
        rc = c.outcome;
    if (rc == CM_IDEM_REPLAY) {
        *status_out = c.status;
        *response_out = c.response;
        if (response_len_out)
            *response_len_out = c.response_len;
        return rc;
    }
    cm__free(c.response);
    return rc;
}

typedef struct finish_ctx {
    const char *scope, *key, *hash;
    int32_t status;
    const void *response;
    size_t len;
    int64_t expires_at;
    bool complete;
} finish_ctx;

/* 1 when the claim was there (and is now completed or released), 0 when
 * not, < 0 on error. */
static int finish_step(cm__conn *conn, const finish_ctx *f)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, f->complete ? "idem.complete" : "idem.release");
    if (rc)
        return rc;
    cm__q_text(&q, 1, f->scope);
    cm__q_text(&q, 2, f->key);
    cm__q_text(&q, 3, f->hash);
    if (f->complete) {
        cm__q_int64(&q, 4, f->status);
        cm__q_blob(&q, 5, f->response ? f->response : "", f->len);
        cm__q_int64(&q, 6, f->expires_at);
    }
    rc = cm__q_step(&q);
    if (rc >= 0)
        rc = cm__q_changes(&q) > 0;
    cm__q_close(&q);
    return rc;
}

static int finish_tx(cm__conn *conn, void *payload)
{
    int rc = finish_step(conn, payload);
    return rc < 0 ? rc : CM_OK;
}

int cm__idem_complete_in(cm__conn *conn, const char *scope, const char *key,
                         const char *request_hash, int32_t status, const void *response, size_t len,
                         int64_t expires_at)
{
    finish_ctx f = {.scope = scope,
                    .key = key,
                    .hash = request_hash,
                    .status = status,
                    .response = response,
                    .len = len,
                    .expires_at = expires_at,
                    .complete = true};
    int rc = finish_step(conn, &f);
    if (rc == 0)
        rc = cm__error_set(CM_ELEASE,
                           "the Idempotency-Key claim is no longer held by this request (it "
                           "lapsed, and the key was answered or taken again)");
    return rc < 0 ? rc : CM_OK;
}

int cm__idem_check(cm_store *store, const char *scope, const char *key, const char *request_hash)
{
    return check_args(store, scope, key, request_hash);
}

int cm_idem_complete(cm_store *store, const char *scope, const char *key, const char *request_hash,
                     int32_t status, const void *response, size_t len, int64_t ttl_us)
{
    int rc = check_args(store, scope, key, request_hash);
    if (rc)
        return rc;
    if (len && !response)
        return cm__error_set(CM_EINVAL, "cm_idem_complete: response is NULL");
    if (ttl_us <= 0)
        return cm__error_set_field(CM_EINVAL, "ttl_us", "ttl_us must be positive");
    finish_ctx f = {.scope = scope,
                    .key = key,
                    .hash = request_hash,
                    .status = status,
                    .response = response,
                    .len = len,
                    .expires_at = cm_now_us() + ttl_us,
                    .complete = true};
    return cm__store_run_tx(store, true, finish_tx, &f);
}

int cm_idem_release(cm_store *store, const char *scope, const char *key, const char *request_hash)
{
    int rc = check_args(store, scope, key, request_hash);
    if (rc)
        return rc;
    finish_ctx f = {.scope = scope, .key = key, .hash = request_hash};
    return cm__store_run_tx(store, true, finish_tx, &f);
}
