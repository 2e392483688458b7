/*
 * exec.c - cm_exec(): parse, find the operation, validate, authorize, run
 * the handler in one transaction (retried on serialization failures),
 * write the audit row for mutations, and return the JSON result. After a
 * commit it wakes this process's job schedulers when the operation
 * enqueued jobs.
 */
#include "ops_int.h"

#include "../jobs/jobs_int.h" /* cm__jobs_local_wake_* */

#include <stdio.h>
#include <string.h>

static const cm_actor anonymous = {0, CM_ROLE_ANONYMOUS};

typedef struct exec_call {
    cm_store *store;
    const cm_actor *actor;
    const cm__op *op;
    json_t *in;
    json_t *result;
    char *out; /* the result serialised inside the transaction */
} exec_call;

static int write_audit(cm__ctx *ctx)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "audit.insert");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, ctx->now);
    if (ctx->actor->member_id)
        cm__q_int64(&q, 2, ctx->actor->member_id);
    else
        cm__q_null(&q, 2);
    cm__q_text(&q, 3, cm__role_name(ctx->actor->role));
    cm__q_text(&q, 4, ctx->op->name);
    cm__q_text(&q, 5, ctx->target_type ? ctx->target_type : "");
    if (ctx->target_id)
        cm__q_int64(&q, 6, ctx->target_id);
    else
        cm__q_null(&q, 6);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    return cm__ok(rc);
}

static int run_in_tx(cm__conn *conn, void *payload)
{
    exec_call *call = payload;
    json_decref(call->result); /* from an earlier, retried attempt */
    call->result = NULL;
    cm__free(call->out);
    call->out = NULL;
    cm__ctx ctx = {
        .store = call->store,
        .conn = conn,
        .actor = call->actor,
        .op = call->op,
        .now = cm_now_us(),
    };
    int rc = call->op->fn(&ctx, call->in, &call->result);
    if (rc == CM_OK && (call->op->flags & CM__OP_WRITE))
        rc = write_audit(&ctx);
    if (rc == CM_OK && !call->result)
        call->result = json_object();
    /* Serialise before the commit: running out of memory here rolls the
     * transaction back, so a failed call never leaves a change behind. */
    if (rc == CM_OK)
        rc = cm__json_dump(&call->out, call->result);
    return rc;
}

int cm_exec(char **out, cm_store *store, const cm_actor *actor, const char *opname,
            const char *json_in, size_t len)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_exec: out is NULL");
    *out = NULL;
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_exec: store is NULL");
    if (!opname)
        return cm__error_set(CM_EINVAL, "cm_exec: operation name is NULL");
    const cm__op *op = cm__op_find(opname);
    if (!op)
        return cm__error_set(CM_EUNKNOWNOP, "unknown operation '%.64s' (see cm_ops_describe)",
                             opname);
    if (!actor)
        actor = &anonymous;

    json_t *in;
    if (!json_in || len == 0) {
        in = json_object();
    } else {
        json_error_t jerr;
        in = json_loadb(json_in, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!in)
            return cm__error_set(CM_EINVAL, "input is not valid JSON: %s (line %d, column %d)",
                                 jerr.text, jerr.line, jerr.column);
    }
    int rc;
    if (!json_is_object(in)) {
        rc = cm__error_set(CM_EINVAL, "input must be a JSON object");
        goto out;
    }
    if ((rc = cm__validate(op, in)))
        goto out;
    if (actor->role < op->role) {
        rc = actor->role == CM_ROLE_ANONYMOUS
                 ? cm__error_set(CM_EAUTH, "%s requires a signed-in member", op->name)
                 : cm__error_set(CM_EPERM, "%s requires the %s role", op->name,
                                 cm__role_name(op->role));
        goto out;
    }
    /* Cacheable reads: serve a result computed since the last commit. */
    uint64_t version = 0;
    bool cacheable = (op->flags & CM__OP_CACHE) && !(op->flags & CM__OP_WRITE) &&
                     cm__store_data_version(store, &version) == CM_OK;
    char key[256 + 64];
    size_t key_len = 0;
    if (cacheable) {
        int n = snprintf(key, sizeof key, "%s\x01%lld:%d\x01", op->name,
                         (long long)actor->member_id, actor->role);
        size_t in_len = json_in ? len : 0;
        if (n > 0 && (size_t)n + in_len <= sizeof key) {
            memcpy(key + n, json_in, in_len);
            key_len = (size_t)n + in_len;
            if (cm__rcache_get(store, key, key_len, version, cm_now_us(), out)) {
                rc = CM_OK;
                goto out;
            }
        } else {
            cacheable = false; /* long inputs are not worth caching */
        }
    }
    exec_call call = {store, actor, op, in, NULL, NULL};
    if (op->prepare) {
        cm__ctx pctx = {.store = store, .actor = actor, .op = op, .now = cm_now_us()};
        if ((rc = op->prepare(&pctx, in)))
            goto out;
    }
    cm__jobs_local_wake_reset();
    if (op->flags & CM__OP_NO_TX) {
        cm__conn *conn;
        if ((rc = cm__store_acquire(&conn, store)) == CM_OK) {
            rc = run_in_tx(conn, &call);
            cm__store_release(conn);
        }
    } else {
        rc = cm__store_run_tx(store, (op->flags & CM__OP_WRITE) != 0, run_in_tx, &call);
    }
    /* Jobs the operation enqueued are committed: start them now in this
     * process rather than at the schedulers' next poll. (An operation
     * without a transaction may have committed some before failing.) */
    if (rc == CM_OK || (op->flags & CM__OP_NO_TX))
        cm__jobs_local_wake_flush();
    else
        cm__jobs_local_wake_reset();
    if (rc == CM_OK) {
        if (cacheable)
            cm__rcache_put(store, key, key_len, version, cm_now_us(), call.out);
        *out = call.out;
        call.out = NULL;
    }
    cm__free(call.out);
    json_decref(call.result);
    if (rc == CM_OK)
        cm__log(CM_LOG_DEBUG, "ops", "%s by %s #%lld ok", op->name, cm__role_name(actor->role),
                (long long)actor->member_id);
    else
        cm__log(CM_LOG_DEBUG, "ops", "%s by %s #%lld failed: %s", op->name,
                cm__role_name(actor->role), (long long)actor->member_id, cm_status_name(rc));
out:
    json_decref(in);
    return rc;
}
