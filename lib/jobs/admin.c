/*
 * admin.c - managing jobs: describe (get, list), cancel, retry, bulk
 * re-drive of failed and dead jobs, retention pruning and the statistics
 * of cm_jobs_stats(). The transactional forms back the jobs.* operations
 * (lib/core/ops_jobs.c); the public C functions wrap them.
 */
#include "jobs_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATS_WINDOW_S 300
#define STATS_SAMPLES 10000
#define PRUNE_BATCH 500

/* ---- describing jobs ---- */

static json_t *json_col(cm__q *q, int col)
{
    if (cm__q_is_null(q, col))
        return json_null();
    const char *s = cm__q_col_text(q, col);
    json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
    return v ? v : json_string(s);
}

/* One row of "jobs.get"/"jobs.list" (JOB_ROW_COLS) as JSON. */
static json_t *job_json(cm__q *q, bool full)
{
    json_t *o = json_object();
    cm__json_set_col_int(o, "id", q, 0);
    cm__json_set_col_text(o, "queue", q, 1);
    cm__json_set_col_text(o, "kind", q, 2);
    if (full)
        json_object_set_new(o, "payload", json_col(q, 3));
    cm__json_set_col_int(o, "priority", q, 4);
    cm__json_set_col_text(o, "state", q, 5);
    cm__json_set_col_time(o, "run_at", q, 6);
    cm__json_set_col_int(o, "attempts", q, 7);
    cm__json_set_col_int(o, "max_attempts", q, 8);
    if (full) {
        json_t *b = json_object();
        cm__json_set_col_text(b, "policy", q, 9);
        cm__json_set_col_int(b, "delay_us", q, 10);
        cm__json_set_col_int(b, "max_delay_us", q, 11);
        json_object_set_new(o, "backoff", b);
        cm__json_set_col_int(o, "timeout_us", q, 12);
    }
    json_t *lease = json_object();
    cm__json_set_col_int(lease, "token", q, 13);
    cm__json_set_col_text(lease, "owner", q, 14);
    cm__json_set_col_time(lease, "expires_at", q, 15);
    json_object_set_new(o, "lease", lease);
    json_object_set_new(o, "cancel_requested", json_boolean(cm__q_col_int64(q, 16)));
    cm__json_set_col_text(o, "dedupe_key", q, 17);
    cm__json_set_col_int(o, "schedule_id", q, 18);
    json_object_set_new(o, "progress", json_col(q, 19));
    if (full)
        json_object_set_new(o, "result", json_col(q, 20));
    cm__json_set_col_text(o, "last_error", q, 21);
    cm__json_set_col_time(o, "created_at", q, 22);
    cm__json_set_col_time(o, "updated_at", q, 23);
    cm__json_set_col_time(o, "started_at", q, 24);
    cm__json_set_col_time(o, "finished_at", q, 25);
    return o;
}

int cm__jobs_get_json(json_t **out, cm__conn *conn, int64_t id)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    if (rc == 1)
        *out = job_json(&q, true);
    cm__q_close(&q);
    if (rc == 0)
        return cm__error_set_field(CM_ENOTFOUND, "job_id", "job %lld not found", (long long)id);
    return cm__ok(rc);
}

int cm__jobs_list_json(json_t **out, cm__conn *conn, int64_t before, const char *state,
                       const char *queue, const char *kind, int64_t limit)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.list");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, before);
    cm__q_text(&q, 2, state);
    cm__q_text(&q, 3, queue);
    cm__q_text(&q, 4, kind);
    cm__q_int64(&q, 5, limit + 1);
    json_t *items = json_array();
    int64_t last = 0;
    bool more = false;
    while ((rc = cm__q_step(&q)) == 1) {
        if ((int64_t)json_array_size(items) == limit) {
            more = true;
            break;
        }
        last = cm__q_col_int64(&q, 0);
        json_array_append_new(items, job_json(&q, false));
    }
    cm__q_close(&q);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    char c[48];
    cm__cursor_encode(c, last, 0);
    *out =
        json_pack("{s:o,s:o}", "items", items, "next_cursor", more ? json_string(c) : json_null());
    return CM_OK;
}

/* ---- cancel, retry, re-drive ---- */

static int job_state(char *buf, size_t cap, cm__conn *conn, int64_t id)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.state");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    if (rc == 1)
        (void)snprintf(buf, cap, "%s", cm__q_col_text(&q, 0));
    cm__q_close(&q);
    if (rc == 0)
        return cm__error_set_field(CM_ENOTFOUND, "job_id", "job %lld not found", (long long)id);
    return cm__ok(rc);
}

static int64_t exec_id(cm__conn *conn, const char *stmt, int64_t id, int64_t now, int *rc)
{
    cm__q q;
    if ((*rc = cm__q_open(&q, conn, stmt)))
        return 0;
    cm__q_int64(&q, 1, id);
    cm__q_int64(&q, 2, now);
    *rc = cm__q_step(&q);
    int64_t n = *rc == 0 ? cm__q_changes(&q) : 0;
    cm__q_close(&q);
    *rc = cm__ok(*rc);
    return n;
}

int cm__jobs_cancel_tx(cm__conn *conn, int64_t id, int64_t now, const char **state_out)
{
    int rc;
    if (exec_id(conn, "jobs.cancel_pending", id, now, &rc) || rc) {
        *state_out = "cancelled";
        return rc;
    }
    if (exec_id(conn, "jobs.cancel_running", id, now, &rc) || rc) {
        *state_out = "running";
        return rc;
    }
    char st[16];
    if ((rc = job_state(st, sizeof st, conn, id)))
        return rc;
    if (strcmp(st, "cancelled") == 0) {
        *state_out = "cancelled";
        return CM_OK;
    }
    return cm__error_set_field(CM_ECONFLICT, "job_id", "job %lld is already %s", (long long)id, st);
}

int cm__jobs_retry_tx(cm__conn *conn, int64_t id, int64_t now)
{
    int rc;
    int64_t n = exec_id(conn, "jobs.retry", id, now, &rc);
    if (rc == CM_EEXISTS)
        return cm__error_set_field(
            CM_EEXISTS, "job_id", "job %lld: another live job holds its dedupe key", (long long)id);
    if (rc == CM_OK && n)
        cm__jobs_wake_tx(conn, NULL);
    if (rc || n)
        return rc;
    char st[16];
    if ((rc = job_state(st, sizeof st, conn, id)))
        return rc;
    if (strcmp(st, "failed") == 0 || strcmp(st, "dead") == 0 || strcmp(st, "cancelled") == 0)
        /* left alone because a live job holds its dedupe key (PostgreSQL's
         * jobs.retry says so with 0 rows rather than a failed statement) */
        return cm__error_set_field(
            CM_EEXISTS, "job_id", "job %lld: another live job holds its dedupe key", (long long)id);
    return cm__error_set_field(CM_ECONFLICT, "job_id",
                               "job %lld is %s: only failed, dead or cancelled jobs can be "
                               "retried",
                               (long long)id, st);
}

int cm__jobs_redrive_tx(int64_t *n_out, cm__conn *conn, const char *queue, const char *kind,
                        const char *state, int64_t limit, int64_t now)
{
    *n_out = 0;
    int64_t after = 0, done = 0;
    while (done < limit) {
        int64_t ids[100];
        size_t n = 0;
        cm__q q;
        int rc = cm__q_open(&q, conn, "jobs.failed_ids");
        if (rc)
            return rc;
        cm__q_int64(&q, 1, after);
        cm__q_text(&q, 2, queue);
        cm__q_text(&q, 3, kind);
        cm__q_text(&q, 4, state);
        cm__q_int64(&q, 5, limit - done < 100 ? limit - done : 100);
        while (n < 100 && (rc = cm__q_step(&q)) == 1)
            ids[n++] = cm__q_col_int64(&q, 0);
        cm__q_close(&q);
        if (rc < 0)
            return rc;
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            int64_t changed = exec_id(conn, "jobs.retry", ids[i], now, &rc);
            if (rc == CM_EEXISTS) /* its dedupe key is held by a live job: leave it */
                continue;
            if (rc)
                return rc;
            *n_out += changed;
        }
        done += (int64_t)n;
        after = ids[n - 1];
    }
    if (*n_out)
        cm__jobs_wake_tx(conn, NULL);
    return CM_OK;
}

/* ---- retention ---- */

int cm__jobs_prune_tx(int64_t *n_out, cm__conn *conn, int64_t completed_before,
                      int64_t failed_before, int64_t limit)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.prune");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, completed_before);
    cm__q_int64(&q, 2, failed_before);
    cm__q_int64(&q, 3, completed_before > failed_before ? completed_before : failed_before);
    cm__q_int64(&q, 4, limit);
    rc = cm__q_step(&q);
    *n_out = rc == 0 ? cm__q_changes(&q) : 0;
    cm__q_close(&q);
    return cm__ok(rc);
}

typedef struct prune_call {
    int64_t completed_before, failed_before, n;
} prune_call;

static int prune_fn(cm__conn *conn, void *p)
{
    prune_call *c = p;
    return cm__jobs_prune_tx(&c->n, conn, c->completed_before, c->failed_before, PRUNE_BATCH);
}

int cm_jobs_prune(int64_t *deleted_out, cm_store *store, int64_t completed_before,
                  int64_t failed_before)
{
    if (deleted_out)
        *deleted_out = 0;
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_jobs_prune: store is NULL");
    int64_t total = 0;
    for (;;) {
        prune_call c = {completed_before, failed_before, 0};
        int rc = cm__store_run_tx(store, true, prune_fn, &c);
        if (rc)
            return rc;
        total += c.n;
        if (deleted_out)
            *deleted_out = total;
        if (c.n < PRUNE_BATCH)
            return CM_OK;
    }
}

/* ---- public cancel ---- */

typedef struct cancel_call {
    int64_t id;
    const char *state;
} cancel_call;

static int cancel_fn(cm__conn *conn, void *p)
{
    cancel_call *c = p;
    return cm__jobs_cancel_tx(conn, c->id, cm_now_us(), &c->state);
}

int cm_jobs_cancel(cm_store *store, int64_t job_id)
{
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_jobs_cancel: store is NULL");
    cancel_call c = {job_id, NULL};
    return cm__store_run_tx(store, true, cancel_fn, &c);
}

/* ---- statistics ---- */

static json_t *queue_obj(json_t *queues, const char *name)
{
    json_t *o = json_object_get(queues, name);
    if (o)
        return o;
    o = json_pack("{s:i,s:i,s:i,s:n,s:{s:i,s:i,s:i,s:i},s:f,s:{s:n,s:n},s:{s:n,s:n}}", "delayed", 0,
                  "queued", 0, "running", 0, "oldest_queued_age_ms", "finished", "completed", 0,
                  "failed", 0, "dead", 0, "cancelled", 0, "throughput_per_s", 0.0, "wait_ms", "p50",
                  "p99", "run_ms", "p50", "p99");
    json_object_set_new(queues, name, o);
    return o;
}

typedef struct sample {
    char queue[CM__JOBS_NAME_MAX + 1];
    int64_t wait, run;
} sample;

static int cmp_sample(const void *a, const void *b)
{
    return strcmp(((const sample *)a)->queue, ((const sample *)b)->queue);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n), in milliseconds. */
static json_t *pct(const int64_t *v, size_t n, double p)
{
    size_t k = (size_t)(p * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    return json_real((double)v[k - 1] / 1000.0);
}

static int stats_latency(json_t *queues, cm__conn *conn, int64_t since)
{
    sample *rows = cm__malloc(STATS_SAMPLES * sizeof *rows);
    int64_t *tmp = cm__malloc(STATS_SAMPLES * sizeof *tmp);
    if (!rows || !tmp) {
        cm__free(rows);
        cm__free(tmp);
        return cm__oom();
    }
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.stats_latency");
    size_t n = 0;
    if (rc == CM_OK) {
        cm__q_int64(&q, 1, since);
        cm__q_int64(&q, 2, STATS_SAMPLES);
        while (n < STATS_SAMPLES && (rc = cm__q_step(&q)) == 1) {
            (void)snprintf(rows[n].queue, sizeof rows[n].queue, "%s", cm__q_col_text(&q, 0));
            rows[n].wait = cm__q_col_int64(&q, 1);
            rows[n].run = cm__q_col_int64(&q, 2);
            n++;
        }
        cm__q_close(&q);
        rc = cm__ok(rc);
    }
    if (rc == CM_OK) {
        qsort(rows, n, sizeof *rows, cmp_sample);
        for (size_t i = 0; i < n;) {
            size_t j = i;
            while (j < n && strcmp(rows[j].queue, rows[i].queue) == 0)
                j++;
            json_t *o = queue_obj(queues, rows[i].queue);
            for (int which = 0; which < 2; which++) {
                for (size_t k = i; k < j; k++)
                    tmp[k - i] = which ? rows[k].run : rows[k].wait;
                qsort(tmp, j - i, sizeof *tmp, cmp_i64);
                json_object_set_new(o, which ? "run_ms" : "wait_ms",
                                    json_pack("{s:o,s:o}", "p50", pct(tmp, j - i, 0.50), "p99",
                                              pct(tmp, j - i, 0.99)));
            }
            i = j;
        }
    }
    cm__free(rows);
    cm__free(tmp);
    return rc;
}

int cm__jobs_stats_json(json_t **out, cm__conn *conn, int64_t now)
{
    json_t *queues = json_object();
    static const char *const live[] = {"delayed", "queued", "running"};
    int rc = CM_OK;
    cm__q q;
    for (size_t s = 0; rc == CM_OK && s < 3; s++) {
        if ((rc = cm__q_open(&q, conn, "jobs.stats_live")))
            break;
        cm__q_text(&q, 1, live[s]);
        while ((rc = cm__q_step(&q)) == 1) {
            json_t *o = queue_obj(queues, cm__q_col_text(&q, 0));
            json_object_set_new(o, live[s], json_integer(cm__q_col_int64(&q, 1)));
            if (s == 1)
                json_object_set_new(o, "oldest_queued_age_ms",
                                    json_integer((now - cm__q_col_int64(&q, 2)) / 1000));
        }
        cm__q_close(&q);
        rc = cm__ok(rc);
    }
    int64_t since = now - (int64_t)STATS_WINDOW_S * 1000000;
    if (rc == CM_OK && (rc = cm__q_open(&q, conn, "jobs.stats_finished")) == CM_OK) {
        cm__q_int64(&q, 1, since);
        while ((rc = cm__q_step(&q)) == 1) {
            json_t *o = queue_obj(queues, cm__q_col_text(&q, 0));
            const char *st = cm__q_col_text(&q, 1);
            int64_t n = cm__q_col_int64(&q, 2);
            json_object_set_new(json_object_get(o, "finished"), st, json_integer(n));
            if (strcmp(st, "completed") == 0)
                json_object_set_new(o, "throughput_per_s", json_real((double)n / STATS_WINDOW_S));
        }
        cm__q_close(&q);
        rc = cm__ok(rc);
    }
    if (rc == CM_OK)
        rc = stats_latency(queues, conn, since);
    if (rc) {
        json_decref(queues);
        return rc;
    }
    json_t *o = json_object();
    cm__json_set_time(o, "at", now);
    json_object_set_new(o, "window_s", json_integer(STATS_WINDOW_S));
    json_object_set_new(o, "queues", queues);
    *out = o;
    return CM_OK;
}

typedef struct stats_call {
    json_t *doc;
} stats_call;

static int stats_fn(cm__conn *conn, void *p)
{
    stats_call *c = p;
    json_decref(c->doc);
    c->doc = NULL;
    return cm__jobs_stats_json(&c->doc, conn, cm_now_us());
}

int cm_jobs_stats(char **out, cm_store *store)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_jobs_stats: out is NULL");
    *out = NULL;
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_jobs_stats: store is NULL");
    stats_call c = {NULL};
    int rc = cm__store_run_tx(store, false, stats_fn, &c);
    if (rc == CM_OK)
        rc = cm__json_dump(out, c.doc);
    json_decref(c.doc);
    return rc;
}
