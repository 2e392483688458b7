/*
 * exec.c - cm_exec(): parse, find the operation, validate, authorize, run
 * the handler in one transaction (retried on serialization failures),
 * write the audit row for mutations, and return the JSON result. After a
 * commit it wakes this process's job schedulers when the operation
 * enqueued jobs.
 */
#include "ops_int.h"

#include "../jobs/jobs_int.h" /* cm__jobs_local_wake_* */
#include "../util/tracing.h"

#include <stdio.h>
#include <string.h>

static const cm_actor anonymous = {0, CM_ROLE_ANONYMOUS};

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

int cm__call_init(cm__call *c, cm_store *store, const cm_actor *actor, const char *opname,
                  const char *json_in, size_t len)
{
    memset(c, 0, sizeof *c);
    c->store = store;
    c->actor = actor ? actor : &anonymous;
    int rc = cm__ops_ready();
    if (rc)
        return rc;
    c->op = cm__op_find(opname);
    if (!c->op)
        return cm__error_set(CM_EUNKNOWNOP, "unknown operation '%.64s' (see cm_ops_describe)",
                             opname);
    if (!json_in || len == 0) {
        c->in = json_object();
    } else {
        json_error_t jerr;
        c->in = json_loadb(json_in, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!c->in)
            return cm__error_set(CM_EINVAL, "input is not valid JSON: %s (line %d, column %d)",
                                 jerr.text, jerr.line, jerr.column);
    }
    if (!json_is_object(c->in))
        return cm__error_set(CM_EINVAL, "input must be a JSON object");
    rc = cm__validate(c->op, c->in);
    if (rc)
        return rc;
    if (c->actor->role < c->op->role)
        return c->actor->role == CM_ROLE_ANONYMOUS
                   ? cm__error_set(CM_EAUTH, "%s requires a signed-in member", c->op->name)
                   : cm__error_set(CM_EPERM, "%s requires the %s role", c->op->name,
                                   cm__role_name(c->op->role));
    return CM_OK;
}

int cm__call_prepare(cm__call *c)
{
    if (!c->op->prepare)
        return CM_OK;
    cm__ctx pctx = {
        .store = c->store,
        .actor = c->actor,
        .op = c->op,
        .now = cm_now_us(),
        .stream = (c->op->flags & CM__OP_STREAM) ? c->stream : NULL,
    };
    return c->op->prepare(&pctx, c->in);
}

int cm__call_run(cm__conn *conn, void *payload)
{
    cm__call *call = payload;
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
        .stream = (call->op->flags & CM__OP_STREAM) ? call->stream : NULL,
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

char *cm__call_take_out(cm__call *c)
{
    char *o = c->out;
    c->out = NULL;
    return o;
}

void cm__call_dispose(cm__call *c)
{
    cm__free(c->out);
    json_decref(c->result);
    json_decref(c->in);
    memset(c, 0, sizeof *c);
}

int cm__stream_emit(cm__stream *s, const char *event, const json_t *data)
{
    if (!s)
        return CM_OK;
    if (!s->stopped) {
        char *text = NULL;
        int rc = cm__json_dump(&text, data);
        if (rc)
            return rc;
        s->stopped = s->cb(event, text, strlen(text), s->payload) != 0;
        cm__free(text);
    }
    return s->stopped ? cm__error_set(CM_ECANCELED, "the stream's reader stopped the operation")
                      : CM_OK;
}

static int exec_call(char **out, cm_store *store, const cm_actor *actor, const char *opname,
                     const char *json_in, size_t len, cm__stream *stream)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_exec: out is NULL");
    *out = NULL;
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_exec: store is NULL");
    if (!opname)
        return cm__error_set(CM_EINVAL, "cm_exec: operation name is NULL");
    /* The operation's span; its SQL statements become its children. */
    cm_span *span = cm__span_begin(opname, CM_SPAN_INTERNAL, CM__SPAN_CURRENT);
    cm_span_set_str(span, "cm.operation", opname);
    cm__call call;
    int rc = cm__call_init(&call, store, actor, opname, json_in, len);
    call.stream = stream;
    if (rc)
        goto out;
    const cm__op *op = call.op;
    actor = call.actor;
    /* Cacheable reads: serve a result computed since the last commit. */
    uint64_t version[2] = {0, 0}, since = 0;
    bool cacheable = (op->flags & CM__OP_CACHE) && !(op->flags & CM__OP_WRITE) &&
                     cm__store_cache_version(store, version) == CM_OK;
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
                cm_span_set_str(span, "cm.result_cache", "hit");
                goto out; /* rc is CM_OK */
            }
        } else {
            cacheable = false; /* long inputs are not worth caching */
        }
    }
    if ((rc = cm__call_prepare(&call)))
        goto out;
    if (stream && stream->stopped) { /* its reader went away: store nothing */
        rc = cm__error_set(CM_ECANCELED, "the stream's reader stopped the operation");
        goto out;
    }
    /* Before the read transaction: commits it may miss are numbered later. */
    since = cacheable ? cm__store_reads_begin(store) : 0;
    cm__jobs_local_wake_reset();
    rc = cm__store_run_tx(store, (op->flags & CM__OP_WRITE) != 0, cm__call_run, &call);
    /* Jobs the operation enqueued are committed: start them now in this
     * process rather than at the schedulers' next poll. */
    if (rc == CM_OK)
        cm__jobs_local_wake_flush();
    else
        cm__jobs_local_wake_reset();
    if (rc == CM_OK) {
        if (cacheable)
            cm__rcache_put(store, key, key_len, version, cm_now_us(), call.out,
                           cm__store_reads_end(), since);
        *out = cm__call_take_out(&call);
        if (stream && (op->flags & CM__OP_STREAM) && op->stream_end && call.result)
            op->stream_end(stream, call.result);
        cm__log(CM_LOG_DEBUG, "ops", "%s by %s #%lld ok", op->name, cm__role_name(actor->role),
                (long long)actor->member_id);
    } else {
        cm__log(CM_LOG_DEBUG, "ops", "%s by %s #%lld failed: %s", op->name,
                cm__role_name(actor->role), (long long)actor->member_id, cm_status_name(rc));
    }
out:
    if (span && call.actor && call.actor->member_id)
        cm_span_set_int(span, "cm.actor.id", call.actor->member_id);
    cm__call_dispose(&call);
    cm__span_end(span, rc);
    return rc;
}

int cm_exec(char **out, cm_store *store, const cm_actor *actor, const char *opname,
            const char *json_in, size_t len)
{
    return exec_call(out, store, actor, opname, json_in, len, NULL);
}

int cm_exec_stream(char **out, cm_store *store, const cm_actor *actor, const char *opname,
                   const char *json_in, size_t len, cm_stream_cb cb, void *payload)
{
    if (out)
        *out = NULL;
    if (!cb)
        return cm__error_set(CM_EINVAL, "cm_exec_stream: cb is NULL");
    cm__stream s = {cb, payload, false};
    int rc = exec_call(out, store, actor, opname, json_in, len, &s);
    if (rc == CM_OK && !s.stopped)
        (void)cb("done", *out, strlen(*out), payload); /* committed: its answer is ignored */
    return rc;
}
