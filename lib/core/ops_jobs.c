/*
 * ops_jobs.c - operations for managing the job queue (admin role): list,
 * get, retry, cancel, bulk re-drive of failed and dead jobs, statistics.
 * The work is done by lib/jobs (admin.c); these are the declarations the
 * CLI, HTTP routes and bindings are derived from.
 */
#include "../jobs/jobs_int.h"
#include "ops_int.h"

#include <string.h>

static const char *const state_values[] = {"delayed", "queued", "running",   "completed",
                                           "failed",  "dead",   "cancelled", NULL};
static const char *const failed_values[] = {"failed", "dead", NULL};
static const char *const cancel_states[] = {"cancelled", "running", NULL};

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
    *out = json_pack("{s:I,s:s,s:b}", "job_id", (json_int_t)id, "state", state, "cancel_requested",
                     strcmp(state, "running") == 0);
    return CM_OK;
}

static int op_redrive(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t n = 0;
    int rc =
        cm__jobs_redrive_tx(&n, ctx->conn, cm__json_str(in, "queue"), cm__json_str(in, "kind"),
                            cm__json_str(in, "state"), cm__json_int(in, "limit", 1000), ctx->now);
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
    CM__FIELD("state", CM__T_ENUM, .values = state_values, .doc = "Only jobs in this state"),
    CM__FIELD("queue", CM__T_STRING, .min = 1, .max = 64, .doc = "Only this queue"),
    CM__FIELD("kind", CM__T_STRING, .min = 1, .max = 64, .doc = "Only this kind"),
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 500, .doc = "Page size (default 50)"),
    CM__FIELD("cursor", CM__T_CURSOR, .doc = "next_cursor of the previous page"),
    {.name = NULL},
};

static const cm__field id_fields[] = {
    CM__FIELD("job_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "The job"),
    {.name = NULL},
};

static const cm__field redrive_fields[] = {
    CM__FIELD("queue", CM__T_STRING, .min = 1, .max = 64, .doc = "Only this queue"),
    CM__FIELD("kind", CM__T_STRING, .min = 1, .max = 64, .doc = "Only this kind"),
    CM__FIELD("state", CM__T_ENUM, .values = failed_values,
              .doc = "Only failed or only dead jobs (default both)"),
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 100000,
              .doc = "At most this many (default 1000)"),
    {.name = NULL},
};

CM__PAGE(job_page, cm__shape_job);
static const cm__rfield cancel_result_fields[] = {
    {"job_id", CM__R_INT},
    {"state", CM__R_ENUM, .values = cancel_states,
     .doc = "running: the job was asked to stop and is still running"},
    {"cancel_requested", CM__R_BOOL},
    {NULL},
};
static const cm__shape cancel_result = {.fields = cancel_result_fields};
static const cm__rfield redrive_result_fields[] = {
    {"requeued", CM__R_INT, .doc = "Jobs queued again"},
    {NULL},
};
static const cm__shape redrive_result = {.fields = redrive_result_fields};
static const cm__rfield finished_fields[] = {
    {"completed", CM__R_INT},
    {"failed", CM__R_INT},
    {"dead", CM__R_INT},
    {"cancelled", CM__R_INT},
    {NULL},
};
static const cm__shape finished_shape = {.fields = finished_fields};
static const cm__rfield latency_fields[] = {
    {"p50", CM__R_NUMBER, .flags = CM__R_NULL},
    {"p99", CM__R_NUMBER, .flags = CM__R_NULL},
    {NULL},
};
static const cm__shape latency_shape = {.doc = "Milliseconds; null without samples",
                                        .fields = latency_fields};
static const cm__rfield queue_stats_fields[] = {
    {"delayed", CM__R_INT},
    {"queued", CM__R_INT},
    {"running", CM__R_INT},
    {"oldest_queued_age_ms", CM__R_INT, .flags = CM__R_NULL},
    {"finished", CM__R_OBJECT, .shape = &finished_shape, .doc = "Within the window"},
    {"throughput_per_s", CM__R_NUMBER},
    {"wait_ms", CM__R_OBJECT, .shape = &latency_shape},
    {"run_ms", CM__R_OBJECT, .shape = &latency_shape},
    {NULL},
};
static const cm__shape queue_stats = {.name = "QueueStats",
                                      .doc = "One queue's depths and recent history",
                                      .fields = queue_stats_fields};
static const cm__rfield stats_fields[] = {
    {"at", CM__R_TIME},
    {"window_s", CM__R_INT, .doc = "The window of finished, throughput and latencies"},
    {"queues", CM__R_MAP, .shape = &queue_stats, .doc = "Queue name to its statistics"},
    {NULL},
};
static const cm__shape stats_result = {.fields = stats_fields};

const cm__op cm__jobs_ops[] = {
    {
        .name = "jobs.list",
        .summary = "Jobs, newest first, by state, queue or kind",
        .role = CM_ROLE_ADMIN,
        .http_method = "GET",
        .http_path = "/v1/jobs",
        .fields = list_fields,
        .fn = op_list,
        .result = &job_page,
    },
    {
        .name = "jobs.get",
        .summary = "One job with its payload, progress, result and last error",
        .role = CM_ROLE_ADMIN,
        .http_method = "GET",
        .http_path = "/v1/jobs/{job_id}",
        .fields = id_fields,
        .fn = op_get,
        .result = &cm__shape_job,
    },
    {
        .name = "jobs.retry",
        .summary = "Run a failed, dead or cancelled job again (attempts start over)",
        .role = CM_ROLE_ADMIN,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/jobs/{job_id}/retry",
        .fields = id_fields,
        .fn = op_retry,
        .result = &cm__shape_job,
    },
    {
        .name = "jobs.cancel",
        .summary = "Cancel a waiting job, or ask a running one to stop",
        .role = CM_ROLE_ADMIN,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/jobs/{job_id}/cancel",
        .fields = id_fields,
        .fn = op_cancel,
        .result = &cancel_result,
    },
    {
        .name = "jobs.redrive",
        .summary = "Queue failed and dead jobs again, in bulk",
        .role = CM_ROLE_ADMIN,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/jobs/redrive",
        .fields = redrive_fields,
        .fn = op_redrive,
        .result = &redrive_result,
    },
    {
        .name = "jobs.stats",
        .summary = "Queue depths, throughput, latencies and failures",
        .role = CM_ROLE_ADMIN,
        .http_method = "GET",
        .http_path = "/v1/metrics/jobs",
        .fn = op_stats,
        .result = &stats_result,
    },
    {.name = NULL},
};
