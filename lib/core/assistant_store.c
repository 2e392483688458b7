/*
 * assistant_store.c - the assistant's chat history: conversations and
 * messages as JSON, who may read them (the owner; the system actor;
 * admins when the policy says so), a member's export and erasure, and the
 * retention sweep run by the platform job "platform.assistant_retention".
 * Tables of migration 0013_assistant; statements in sql_assistant.c.
 */
#include "assistant_int.h"

#include "../jobs/jobs_int.h"

#include <string.h>

#define DAY_US (INT64_C(86400) * 1000000)

int cm__assistant_policy_read(cm__assistant_policy *out, cm__conn *conn)
{
    memset(out, 0, sizeof *out);
    cm__q q;
    int rc = cm__q_open(&q, conn, "assistant.policy_get");
    if (rc)
        return rc;
    rc = cm__q_step(&q);
    if (rc == 1) {
        out->retention_days = cm__q_col_int64(&q, 0);
        out->admin_access = cm__q_col_int64(&q, 1) != 0;
        out->updated_at = cm__q_col_int64(&q, 2);
    }
    cm__q_close(&q);
    if (rc == 0)
        return cm__error_set(CM_ERROR, "the assistant_policy row is missing");
    return cm__ok(rc);
}

int cm__assistant_may_access(bool *out, cm__ctx *ctx, int64_t member_id)
{
    *out = false;
    if (ctx->actor->role == CM_ROLE_SYSTEM ||
        (ctx->actor->member_id && ctx->actor->member_id == member_id)) {
        *out = true;
        return CM_OK;
    }
    if (!cm__actor_at_least(ctx, CM_ROLE_ADMIN))
        return CM_OK;
    cm__assistant_policy p;
    int rc = cm__assistant_policy_read(&p, ctx->conn);
    if (rc == CM_OK)
        *out = p.admin_access;
    return rc;
}

json_t *cm__assistant_conv_json(cm__q *q, int64_t *member_out)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    cm__json_set_col_int(o, "id", q, 0);
    cm__json_set_col_int(o, "member_id", q, 1);
    cm__json_set_col_text(o, "title", q, 2);
    cm__json_set_col_time(o, "created_at", q, 3);
    cm__json_set_col_time(o, "updated_at", q, 4);
    cm__json_set_col_int(o, "message_count", q, 5);
    if (member_out)
        *member_out = cm__q_col_int64(q, 1);
    return o;
}

/* A JSON document column: parsed, or `def` (new) when NULL or unreadable. */
static json_t *doc_col(cm__q *q, int col, json_t *def)
{
    if (cm__q_is_null(q, col))
        return def;
    json_t *v = json_loads(cm__q_col_text(q, col), JSON_REJECT_DUPLICATES, NULL);
    if (!v)
        return def;
    json_decref(def);
    return v;
}

json_t *cm__assistant_msg_json(cm__q *q)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    cm__json_set_col_int(o, "id", q, 0);
    cm__json_set_col_int(o, "conversation_id", q, 1);
    cm__json_set_col_text(o, "role", q, 2);
    json_t *content = doc_col(q, 3, json_object());
    json_t *text = json_object_get(content, "text");
    json_object_set_new(o, "text", json_is_string(text) ? json_incref(text) : json_string(""));
    json_decref(content);
    json_object_set_new(o, "tool_calls", doc_col(q, 4, json_array()));
    json_object_set_new(o, "citations", doc_col(q, 5, json_array()));
    cm__json_set_col_text(o, "model", q, 6);
    cm__json_set_col_int(o, "tokens_in", q, 7);
    cm__json_set_col_int(o, "tokens_out", q, 8);
    cm__json_set_col_int(o, "latency_us", q, 9);
    cm__json_set_col_time(o, "created_at", q, 10);
    return o;
}

/* The messages of conversation id, oldest first. */
static int messages_of(json_t **out, cm__conn *conn, int64_t id)
{
    *out = NULL;
    cm__q q;
    int rc = cm__q_open(&q, conn, "assistant.msg_list");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    json_t *arr = json_array();
    while ((rc = cm__q_step(&q)) == 1) {
        json_t *m = cm__assistant_msg_json(&q);
        if (!m || json_array_append_new(arr, m)) {
            rc = cm__oom();
            break;
        }
    }
    cm__q_close(&q);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return CM_OK;
}

int cm__assistant_conv_load(json_t **out, cm__conn *conn, int64_t id, int64_t *member_out)
{
    *out = NULL;
    cm__q q;
    int rc = cm__q_open(&q, conn, "assistant.conv_get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    json_t *conv = NULL;
    if ((rc = cm__q_step(&q)) == 1 && !(conv = cm__assistant_conv_json(&q, member_out)))
        rc = cm__oom();
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (!conv)
        return cm__error_set(CM_ENOTFOUND, "conversation %lld not found", (long long)id);
    json_t *msgs;
    if ((rc = messages_of(&msgs, conn, id))) {
        json_decref(conv);
        return rc;
    }
    *out = json_pack("{s:o,s:o}", "conversation", conv, "messages", msgs);
    return *out ? CM_OK : cm__oom();
}

int cm__assistant_export_member(json_t **out, cm__conn *conn, int64_t member_id)
{
    *out = NULL;
    cm__q q;
    int rc = cm__q_open(&q, conn, "assistant.conv_of_member");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, member_id);
    json_t *arr = json_array();
    while ((rc = cm__q_step(&q)) == 1) {
        json_t *c = cm__assistant_conv_json(&q, NULL);
        if (!c || json_array_append_new(arr, c)) {
            rc = cm__oom();
            break;
        }
    }
    cm__q_close(&q);
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        if (rc < 0)
            break;
        json_t *msgs;
        if ((rc = messages_of(&msgs, conn, cm__json_int(c, "id", 0))) == CM_OK)
            json_object_set_new(c, "messages", msgs);
    }
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return CM_OK;
}

int cm__assistant_erase_member(cm__conn *conn, int64_t member_id, int64_t *deleted)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "assistant.erase_member");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, member_id);
    rc = cm__q_step(&q);
    if (rc >= 0 && deleted)
        *deleted = cm__q_changes(&q);
    cm__q_close(&q);
    return cm__ok(rc);
}

int cm__assistant_prune(cm__conn *conn, int64_t now, int64_t max, int64_t *deleted)
{
    if (deleted)
        *deleted = 0;
    cm__assistant_policy p;
    int rc = cm__assistant_policy_read(&p, conn);
    if (rc)
        return rc;
    cm__q q;
    if (p.retention_days > 0) {
        if ((rc = cm__q_open(&q, conn, "assistant.prune_conversations")))
            return rc;
        cm__q_int64(&q, 1, now - p.retention_days * DAY_US);
        cm__q_int64(&q, 2, max);
        rc = cm__q_step(&q);
        if (rc >= 0 && deleted)
            *deleted = cm__q_changes(&q);
        cm__q_close(&q);
        if ((rc = cm__ok(rc)))
            return rc;
    }
    if ((rc = cm__q_open(&q, conn, "assistant.prune_actions")))
        return rc;
    cm__q_int64(&q, 1, now - DAY_US);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    return cm__ok(rc);
}

static int retention_fn(cm__conn *conn, void *p)
{
    (void)p;
    int64_t n = 0;
    int rc = cm__assistant_prune(conn, cm_now_us(), 1000, &n);
    if (rc == CM_OK && n)
        cm__log(CM_LOG_INFO, "jobs", "assistant_retention: %lld conversations deleted",
                (long long)n);
    return rc;
}

int cm__assistant_retention_handler(cm_job *job, void *payload)
{
    (void)payload;
    return cm__job_complete_tx(job, retention_fn, NULL);
}
