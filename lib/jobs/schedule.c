/*
 * schedule.c - repeatable jobs: schedules by cron expression in a time
 * zone or by a fixed interval, stored in job_schedules, and the pass that
 * enqueues their due runs according to the missed-run policy.
 *
 * A pass first advances a schedule's next_run_at with a conditional update
 * (WHERE next_run_at = the value read) and only then enqueues, so two
 * schedulers never both fire the same run. Jobs of a schedule carry the
 * dedupe key "schedule:<name>" (one key per run for run_all), so a run is
 * skipped while the previous one is still live.
 */
#include "jobs_int.h"

#include <stdio.h>
#include <string.h>

#define MAX_RUN_ALL 100 /* runs enqueued per schedule and pass (run_all) */
#define DUE_BATCH 50    /* schedules handled per pass */

static const char *const missed_names[] = {"run_once", "skip", "run_all"};

typedef struct sched_row {
    int64_t id, every_us, anchor_at, grace_us, next_run_at;
    int missed;
    char name[CM__JOBS_NAME_MAX + 1], kind[CM__JOBS_NAME_MAX + 1], queue[CM__JOBS_NAME_MAX + 1];
    char timezone[128];
    char *payload, *cron;
} sched_row;

/* The first run strictly after t. */
static int next_run(int64_t *out, const sched_row *r, const cm__cron *c, int64_t t)
{
    if (r->cron)
        return cm__cron_next(out, c, r->timezone, t);
    if (t < r->anchor_at) {
        *out = r->anchor_at;
        return CM_OK;
    }
    *out = r->anchor_at + ((t - r->anchor_at) / r->every_us + 1) * r->every_us;
    return CM_OK;
}

/* ---- create / remove ---- */

typedef struct schedule_call {
    const char *name, *kind, *payload;
    size_t len;
    const cm_job_schedule_options *o;
    int64_t next, anchor;
    int64_t id;
} schedule_call;

static int schedule_fn(cm__conn *conn, void *p)
{
    schedule_call *c = p;
    int rc = cm__jobs_kind_check(conn, c->kind, c->len);
    if (rc)
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, conn, "jobs.schedule_upsert")))
        return rc;
    cm__q_text(&q, 1, c->name);
    cm__q_text(&q, 2, c->kind);
    cm__q_text(&q, 3, c->o->queue);
    cm__q_textn(&q, 4, c->payload, c->len);
    cm__q_text(&q, 5, c->o->cron);
    cm__q_text(&q, 6, c->o->timezone ? c->o->timezone : "UTC");
    if (c->o->cron)
        cm__q_null(&q, 7);
    else
        cm__q_int64(&q, 7, c->o->every_us);
    cm__q_int64(&q, 8, c->anchor);
    cm__q_text(&q, 9, missed_names[c->o->missed]);
    cm__q_int64(&q, 10, c->o->grace_us);
    cm__q_int64(&q, 11, c->next);
    cm__q_int64(&q, 12, cm_now_us());
    rc = cm__q_step(&q);
    if (rc == 1)
        c->id = cm__q_col_int64(&q, 0);
    cm__q_close(&q);
    return cm__ok(rc);
}

int cm_jobs_schedule(int64_t *id_out, cm_store *store, const char *name, const char *kind,
                     const char *payload, size_t len, const cm_job_schedule_options *in)
{
    if (id_out)
        *id_out = 0;
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_jobs_schedule: store is NULL");
    if (in && in->size < sizeof(uint32_t))
        return cm__error_set(CM_EINVAL, "schedule options: size not set");
    cm_job_schedule_options o = CM_JOB_SCHEDULE_OPTIONS_INIT;
    if (in) {
        memcpy(&o, in, in->size < sizeof o ? in->size : sizeof o);
        o.size = sizeof o;
    }
    if (!payload)
        payload = "{}", len = 2;
    int rc;
    if ((rc = cm__jobs_check_name(name, "name")) || (rc = cm__jobs_check_name(kind, "kind")) ||
        (o.queue && (rc = cm__jobs_check_name(o.queue, "queue"))) ||
        (rc = cm__jobs_check_json(payload, len, CM__JOBS_MAX_PAYLOAD, "payload")))
        return rc;
    if (o.missed < CM_JOB_MISSED_RUN_ONCE || o.missed > CM_JOB_MISSED_RUN_ALL)
        return cm__error_set_field(CM_EINVAL, "missed", "missed: unknown policy %d", o.missed);
    if (o.grace_us < 0)
        return cm__error_set_field(CM_ERANGE, "grace_us", "grace_us: must be >= 0");
    if ((o.cron != NULL) == (o.every_us != 0))
        return cm__error_set_field(CM_EINVAL, o.cron ? "every_us" : "cron",
                                   "set exactly one of cron and every_us");
    const char *tz = o.timezone ? o.timezone : "UTC";
    if (strlen(tz) >= 128 || !cm__tz_valid(tz))
        return cm__error_set_field(CM_EINVAL, "timezone", "timezone: unknown time zone '%.64s'",
                                   tz);
    int64_t now = cm_now_us(), next, anchor = now;
    if (o.cron) {
        if (strlen(o.cron) > 200)
            return cm__error_set_field(CM_EINVAL, "cron", "cron: expression too long");
        cm__cron c;
        if ((rc = cm__cron_parse(&c, o.cron)) || (rc = cm__cron_next(&next, &c, tz, now)))
            return rc;
    } else {
        if (o.every_us < 1000000)
            return cm__error_set_field(CM_ERANGE, "every_us", "every_us: at least 1 s");
        if (o.start_at < 0)
            return cm__error_set_field(CM_ERANGE, "start_at", "start_at: must be >= 0");
        next = anchor = o.start_at ? o.start_at : now + o.every_us;
    }
    schedule_call call = {name, kind, payload, len, &o, next, anchor, 0};
    rc = cm__store_run_tx(store, true, schedule_fn, &call);
    if (rc == CM_OK && id_out)
        *id_out = call.id;
    return rc;
}

static int unschedule_fn(cm__conn *conn, void *p)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.schedule_delete");
    if (rc)
        return rc;
    cm__q_text(&q, 1, p);
    rc = cm__q_step(&q);
    int64_t n = rc == 0 ? cm__q_changes(&q) : 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    return n ? CM_OK
             : cm__error_set_field(CM_ENOTFOUND, "name", "no schedule named '%.64s'",
                                   (const char *)p);
}

int cm_jobs_unschedule(cm_store *store, const char *name)
{
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_jobs_unschedule: store is NULL");
    int rc = cm__jobs_check_name(name, "name");
    if (rc)
        return rc;
    return cm__store_run_tx(store, true, unschedule_fn, (void *)name);
}

/* ---- firing ---- */

static void rows_free(sched_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cm__free(rows[i].payload);
        cm__free(rows[i].cron);
    }
}

static int load_due(sched_row *rows, size_t *n_out, cm__conn *conn, int64_t now)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.schedule_due");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, now);
    cm__q_int64(&q, 2, DUE_BATCH);
    size_t n = 0;
    while (n < DUE_BATCH && (rc = cm__q_step(&q)) == 1) {
        sched_row *r = &rows[n];
        memset(r, 0, sizeof *r);
        r->id = cm__q_col_int64(&q, 0);
        (void)snprintf(r->name, sizeof r->name, "%s", cm__q_col_text(&q, 1));
        (void)snprintf(r->kind, sizeof r->kind, "%s", cm__q_col_text(&q, 2));
        (void)snprintf(r->queue, sizeof r->queue, "%s", cm__q_col_text(&q, 3));
        r->payload = cm__strdup(cm__q_col_text(&q, 4));
        r->cron = cm__q_is_null(&q, 5) ? NULL : cm__strdup(cm__q_col_text(&q, 5));
        (void)snprintf(r->timezone, sizeof r->timezone, "%s", cm__q_col_text(&q, 6));
        r->every_us = cm__q_col_int64(&q, 7);
        r->anchor_at = cm__q_col_int64(&q, 8);
        const char *missed = cm__q_col_text(&q, 9);
        r->missed = strcmp(missed, "skip") == 0      ? CM_JOB_MISSED_SKIP
                    : strcmp(missed, "run_all") == 0 ? CM_JOB_MISSED_RUN_ALL
                                                     : CM_JOB_MISSED_RUN_ONCE;
        r->grace_us = cm__q_col_int64(&q, 10);
        r->next_run_at = cm__q_col_int64(&q, 11);
        n++;
        if (!r->payload || (!cm__q_is_null(&q, 5) && !r->cron)) {
            rc = cm__oom();
            break;
        }
    }
    cm__q_close(&q);
    *n_out = n;
    return cm__ok(rc);
}

/* Enqueue one run; dedupe conflicts (previous run still live) and invalid
 * definitions (e.g. the kind was removed) skip the run. */
static int fire_one(size_t *fired, cm__conn *conn, const sched_row *r, int64_t run_at,
                    bool per_run_key)
{
    char key[CM__JOBS_NAME_MAX + 48];
    if (per_run_key)
        (void)snprintf(key, sizeof key, "schedule:%s:%lld", r->name, (long long)run_at);
    else
        (void)snprintf(key, sizeof key, "schedule:%s", r->name);
    cm_job_options o = CM_JOB_OPTIONS_INIT;
    o.queue = r->queue[0] ? r->queue : NULL;
    o.dedupe_key = key;
    o.run_at = run_at;
    int rc =
        cm__jobs_enqueue_sched_tx(NULL, conn, r->kind, r->payload, strlen(r->payload), &o, r->id);
    if (rc == CM_OK) {
        (*fired)++;
        return CM_OK;
    }
    if (rc == CM_EEXISTS)
        return CM_OK;
    if (rc == CM_EINVAL || rc == CM_ERANGE) {
        cm__log(CM_LOG_WARN, "jobs", "schedule %s: run skipped: %s", r->name, cm_error_message());
        return CM_OK;
    }
    return rc;
}

static int advance(bool *won, cm__conn *conn, const sched_row *r, int64_t next, int64_t now)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.schedule_advance");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, r->id);
    cm__q_int64(&q, 2, r->next_run_at);
    cm__q_int64(&q, 3, next);
    cm__q_int64(&q, 4, now);
    cm__q_int64(&q, 5, now);
    rc = cm__q_step(&q);
    *won = rc == 0 && cm__q_changes(&q) == 1;
    cm__q_close(&q);
    return cm__ok(rc);
}

static int fire_row(size_t *fired, cm__conn *conn, const sched_row *r, int64_t now)
{
    cm__cron c = {0};
    int rc;
    if (r->cron && (rc = cm__cron_parse(&c, r->cron)))
        return rc;
    int64_t runs[MAX_RUN_ALL], next = 0;
    size_t n = 0;
    bool per_run = false;
    if (r->missed == CM_JOB_MISSED_RUN_ALL) {
        per_run = true;
        int64_t t = r->next_run_at;
        while (t <= now && n < MAX_RUN_ALL) {
            runs[n++] = t;
            if ((rc = next_run(&t, r, &c, t)))
                return rc;
        }
        next = t;
    } else {
        bool run = true;
        if (r->missed == CM_JOB_MISSED_SKIP && r->next_run_at < now - r->grace_us) {
            int64_t t; /* the first run inside the grace period, if any */
            if ((rc = next_run(&t, r, &c, now - r->grace_us - 1)))
                return rc;
            run = t <= now;
        }
        if (run)
            runs[n++] = now;
        if ((rc = next_run(&next, r, &c, now)))
            return rc;
    }
    bool won;
    if ((rc = advance(&won, conn, r, next, now)) || !won)
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = fire_one(fired, conn, r, runs[i], per_run)))
            return rc;
    return CM_OK;
}

typedef struct fire_call {
    int64_t now;
    size_t fired;
} fire_call;

static int fire_fn(cm__conn *conn, void *p)
{
    fire_call *c = p;
    c->fired = 0;
    sched_row rows[DUE_BATCH];
    size_t n = 0;
    int rc = load_due(rows, &n, conn, c->now);
    for (size_t i = 0; rc == CM_OK && i < n; i++) {
        rc = fire_row(&c->fired, conn, &rows[i], c->now);
        if (rc == CM_EINVAL || rc == CM_ERANGE) { /* e.g. a zone removed from the system */
            cm__log(CM_LOG_WARN, "jobs", "schedule %s: %s", rows[i].name, cm_error_message());
            bool won;
            rc = advance(&won, conn, &rows[i], c->now + 3600 * INT64_C(1000000), c->now);
        }
    }
    rows_free(rows, n);
    return rc;
}

int cm__jobs_fire_schedules(size_t *n_out, cm_store *store, int64_t now)
{
    fire_call c = {now, 0};
    int rc = cm__store_run_tx(store, true, fire_fn, &c);
    if (n_out)
        *n_out = rc == CM_OK ? c.fired : 0;
    return rc;
}
