/*
 * exec_idem.c - cm_idem_exec(): run a domain operation and complete its
 * Idempotency-Key claim in one transaction, so that the operation's
 * changes and the answer a retry replays commit together (a host that dies
 * after the commit cannot let a retry run the operation twice).
 *
 * It shares cm_exec()'s steps (cm__call_*: parse, find, validate,
 * authorize, prepare outside the transaction, run the handler, audit
 * mutations) and adds the completion of the claim before the commit
 * (lib/store/idem.c).
 */
#include "ops_int.h"

#include "../jobs/jobs_int.h" /* cm__jobs_local_wake_* */
#include "../util/tracing.h"

#include <community/idem.h>

#include <string.h>

typedef struct idem_call {
    cm__call call;
    const char *scope, *key, *hash;
    int32_t status;
    int64_t ttl_us;
} idem_call;

static int idem_call_run(cm__conn *conn, void *payload)
{
    idem_call *ic = payload;
    int rc = cm__call_run(conn, &ic->call);
    if (rc)
        return rc;
    const char *res = ic->call.out;
    return cm__idem_complete_in(conn, ic->scope, ic->key, ic->hash, ic->status, res, strlen(res),
                                cm_now_us() + ic->ttl_us);
}

int cm_idem_exec(char **out, cm_store *store, const cm_actor *actor, const char *opname,
                 const char *json_in, size_t len, const char *scope, const char *key,
                 const char *request_hash, int32_t status, int64_t ttl_us)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_idem_exec: out is NULL");
    *out = NULL;
    if (!opname)
        return cm__error_set(CM_EINVAL, "cm_idem_exec: operation name is NULL");
    int rc = cm__idem_check(store, scope, key, request_hash);
    if (rc)
        return rc;
    if (ttl_us <= 0)
        return cm__error_set_field(CM_EINVAL, "ttl_us", "ttl_us must be positive");
    cm_span *span = cm__span_begin(opname, CM_SPAN_INTERNAL, CM__SPAN_CURRENT);
    cm_span_set_str(span, "cm.operation", opname);
    idem_call ic = {
        .scope = scope, .key = key, .hash = request_hash, .status = status, .ttl_us = ttl_us};
    rc = cm__call_init(&ic.call, store, actor, opname, json_in, len);
    if (rc)
        goto out;
    if ((rc = cm__call_prepare(&ic.call)))
        goto out;
    cm__jobs_local_wake_reset();
    rc = cm__store_run_tx(store, true, idem_call_run, &ic);
    if (rc == CM_OK)
        cm__jobs_local_wake_flush(); /* jobs the operation enqueued */
    else
        cm__jobs_local_wake_reset();
    if (rc == CM_OK)
        *out = cm__call_take_out(&ic.call);
out:
    if (span && ic.call.actor && ic.call.actor->member_id)
        cm_span_set_int(span, "cm.actor.id", ic.call.actor->member_id);
    cm__call_dispose(&ic.call);
    cm__span_end(span, rc);
    return rc;
}
