/*
 * ops_jobs.c - operations for managing the job queue (admin role): list,
 * get, retry, cancel, bulk re-drive of failed and dead jobs, statistics.
 * The work is done by lib/jobs (admin.c); these are the declarations the
 * CLI, HTTP routes and bindings are derived from.
 */
#include "../jobs/jobs_int.h"
#include "ops_int.h"

#include <string.h>

static const char *const state_values[] = {"delayed", "queued",    "running", "completed",
                                           "failed",  "dead", "cancelled", NULL};
static const char *const failed_values[] = {"failed", "dead", NULL};

static int op_list(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t before = INT64_MAX, unused;
    int rc;
    const char *cursor = cm__json_str(in, "cursor");
    if (cursor && (rc = cm__cursor_decode(&before, &unused, cursor)))
        return rc;
    return cm__jobs_list_json(out, ctx->conn, before, cm__json_str(in, "state"),
                              cm__json_str(in, "queue"), cm__json_str(in, "kind"),
                              cm__json_int(in, "limit", 50));
}

static int op_get(cm__ctx *ctx, json_t *in, json_t **out)
{
    return cm__jobs_get_json(out, ctx->conn, cm__json_int(in, "job_id", 0));
}

static int op_retry(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "job_id", 0);
    int rc = cm__jobs_retry_tx(ctx->conn, id, ctx->now);
    if (rc)
        return rc;
    ctx->target_type = "job";
    ctx->target_id = id;
    return cm__jobs_get_json(out, ctx->conn, id);
}

static int op_cancel(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "job_id", 0);
    const char *state = NULL;
    int rc = cm__jobs_cancel_tx(ctx->conn, id, ctx->now, &state);
    if (rc)
        return rc;
    ctx->target_type = "job";
    ctx->target_id = id;
    *out = json_pack("{s:I,s:s,s:b}", "job_id", (json_int_t)id, "state", state,
                     "cancel_requested", strcmp(state, "running") == 0);
    return CM_OK;
}

static int op_redrive(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t n = 0;
    int rc = cm__jobs_redrive_tx(&n, ctx->conn, cm__json_str(in, "queue"),
                                 cm__json_str(in, "kind"), cm__json_str(in, "state"),
                                 cm__json_int(in, "limit", 1000), ctx->now);
    if (rc)
        return rc;
    ctx->target_type = "jobs";
    *out = json_pack("{s:I}", "requeued", (json_int_t)n);
    return CM_OK;
}

static int op_stats(cm__ctx *ctx, json_t *in, json_t **out)
{
    (void)in;
    return cm__jobs_stats_json(out, ctx->conn, ctx->now);
}

static const cm__field list_fields[] = {
    {"state", CM__T_ENUM, 0, 0, 0, state_values, "Only jobs in this state"},
    {"queue", CM__T_STRING, 0, 1, 64, NULL, "Only this queue"},
    {"kind", CM__T_STRING, 0, 1, 64, NULL, "Only this kind"},
    {"limit", CM__T_INT, 0, 1, 500, NULL, "Page size (default 50)"},
    {"cursor", CM__T_CURSOR, 0, 0, 0, NULL, "next_cursor of the previous page"},
    {NULL},
};

static const cm__field id_fields[] = {
    {"job_id", CM__T_ID, CM__REQUIRED, 0, 0, NULL, "The job"},
    {NULL},
};

static const cm__field redrive_fields[] = {
    {"queue", CM__T_STRING, 0, 1, 64, NULL, "Only this queue"},
    {"kind", CM__T_STRING, 0, 1, 64, NULL, "Only this kind"},
    {"state", CM__T_ENUM, 0, 0, 0, failed_values, "Only failed or only dead jobs (default both)"},
    {"limit", CM__T_INT, 0, 1, 100000, NULL, "At most this many (default 1000)"},
    {NULL},
};

#define JOB_DOC                                                                                \
    "{id, queue, kind, payload, priority, state, run_at, attempts, max_attempts, backoff, "   \
    "timeout_us, lease: {token, owner, expires_at}, cancel_requested, dedupe_key, "           \
    "schedule_id, progress, result, last_error, created_at, updated_at, started_at, "         \
    "finished_at}"

const cm__op cm__jobs_ops[] = {
    {"jobs.list", "Jobs, newest first, by state, queue or kind", CM_ROLE_ADMIN, 0, "GET",
     "/v1/jobs", list_fields, op_list, NULL,
     "{items: [job without payload and result], next_cursor}"},
    {"jobs.get", "One job with its payload, progress, result and last error", CM_ROLE_ADMIN, 0,
     "GET", "/v1/jobs/{job_id}", id_fields, op_get, NULL, JOB_DOC},
    {"jobs.retry", "Run a failed, dead or cancelled job again (attempts start over)",
     CM_ROLE_ADMIN, CM__OP_WRITE, "POST", "/v1/jobs/{job_id}/retry", id_fields, op_retry, NULL,
     JOB_DOC},
    {"jobs.cancel", "Cancel a waiting job, or ask a running one to stop", CM_ROLE_ADMIN,
     CM__OP_WRITE, "POST", "/v1/jobs/{job_id}/cancel", id_fields, op_cancel, NULL,
     "{job_id, state: cancelled|running, cancel_requested}"},
    {"jobs.redrive", "Queue failed and dead jobs again, in bulk", CM_ROLE_ADMIN, CM__OP_WRITE,
     "POST", "/v1/jobs/redrive", redrive_fields, op_redrive, NULL, "{requeued}"},
    {"jobs.stats", "Queue depths, throughput, latencies and failures", CM_ROLE_ADMIN, 0, "GET",
     "/v1/metrics/jobs", NULL, op_stats, NULL,
     "{at, window_s, queues: {name: {delayed, queued, running, oldest_queued_age_ms, "
     "finished: {completed, failed, dead, cancelled}, throughput_per_s, wait_ms: {p50, p99}, "
     "run_ms: {p50, p99}}}}"},
    {NULL},
};
