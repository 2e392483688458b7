/*
 * txn.c - cm_job_complete_exec(): run a domain operation and complete the
 * job in one transaction, so that the job's effect and its completion
 * commit together (exactly-once effects under at-least-once delivery).
 *
 * It follows cm_exec() step by step -- parse, find, validate, authorize,
 * prepare outside the transaction, run the handler, audit mutations -- and
 * adds the fenced completion before the commit.
 */
#include "../core/ops_int.h"
#include "jobs_int.h"

#include <string.h>

static const cm_actor anonymous = {0, CM_ROLE_ANONYMOUS};

typedef struct op_call {
    cm_job *job;
    const cm_actor *actor;
    const cm__op *op;
    json_t *in;
    json_t *result;
    bool want_out;
    char *out; /* serialised inside the transaction: an ENOMEM rolls back */
} op_call;

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

static int op_fn(cm__conn *conn, void *p)
{
    op_call *c = p;
    json_decref(c->result); /* from an earlier, retried attempt */
    c->result = NULL;
    cm__ctx ctx = {
        .store = c->job->store,
        .conn = conn,
        .actor = c->actor,
        .op = c->op,
        .now = cm_now_us(),
    };
    int rc = c->op->fn(&ctx, c->in, &c->result);
    if (rc == CM_OK && (c->op->flags & CM__OP_WRITE))
        rc = write_audit(&ctx);
    if (rc == CM_OK && !c->result)
        c->result = json_object();
    if (rc == CM_OK && c->want_out) {
        cm__free(c->out);
        c->out = NULL;
        rc = cm__json_dump(&c->out, c->result);
    }
    return rc;
}

int cm_job_complete_exec(char **out, cm_job *job, const cm_actor *actor, const char *opname,
                         const char *json_in, size_t len)
{
    if (out)
        *out = NULL;
    if (!job || !opname)
        return cm__error_set(CM_EINVAL, "cm_job_complete_exec: NULL argument");
    const cm__op *op = cm__op_find(opname);
    if (!op)
        return cm__error_set(CM_EUNKNOWNOP, "unknown operation '%.64s'", opname);
    if (op->flags & CM__OP_NO_TX)
        return cm__error_set(CM_ENOTSUP, "%s manages its own transactions: it cannot complete "
                                         "a job atomically", op->name);
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
    op_call call = {job, actor, op, in, NULL, out != NULL, NULL};
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
    if (op->prepare) {
        cm__ctx pctx = {.store = job->store, .actor = actor, .op = op, .now = cm_now_us()};
        if ((rc = op->prepare(&pctx, in)))
            goto out;
    }
    cm__jobs_local_wake_reset();
    rc = cm__job_complete_tx(job, op_fn, &call);
    if (rc == CM_OK)
        cm__jobs_local_wake_flush(); /* jobs the operation enqueued */
    else
        cm__jobs_local_wake_reset();
    if (rc == CM_OK && out) {
        *out = call.out;
        call.out = NULL;
    }
out:
    cm__free(call.out);
    json_decref(call.result);
    json_decref(in);
    return rc;
}
