/*
 * claim.c - the lease protocol of the job queue, one transaction per step:
 * claim (promote due delayed jobs, honour rate limits, lease a batch per
 * queue), renew, progress, finish (complete or fail with retry/backoff,
 * in batches), release, recovery of lapsed leases, and completion inside
 * the handler's own transaction. Every statement that changes a running
 * job is fenced by (id, lease_token, state = 'running'): a worker that
 * lost its lease gets CM_ELEASE and changes nothing.
 */
#include "jobs_int.h"

#include <stdio.h>
#include <string.h>

void cm__job_free(cm_job *job)
{
    if (!job || atomic_fetch_sub(&job->refs, 1) != 1)
        return;
    cm__free(job->queue);
    cm__free(job->kind);
    cm__free(job->payload);
    cm__free(job->result);
    cm__free(job);
}

static void free_list(cm_job *j)
{
    while (j) {
        cm_job *next = j->next;
        cm__job_free(j);
        j = next;
    }
}

typedef struct claim_call {
    cm_store *store;
    cm__claim_queue *qs;
    size_t nq;
    const char *owner;
    int64_t lease_us;
    cm_job *list;
    uint32_t count; /* rows of the current queue */
    uint32_t total; /* at most this many in all */
    int64_t now;
} claim_call;

/* Build a cm_job from a row of "jobs.claim" (see JOB_CLAIM_COLS). */
static int on_claim_row(struct cm__q *q, void *p)
{
    claim_call *c = p;
    cm_job *j = cm__calloc(1, sizeof *j);
    if (!j)
        return cm__oom();
    atomic_init(&j->refs, 1);
    atomic_init(&j->lost, 0);
    j->store = c->store;
    j->id = cm__q_col_int64(q, 0);
    j->queue = cm__strdup(cm__q_col_text(q, 1));
    j->kind = cm__strdup(cm__q_col_text(q, 2));
    const char *payload = cm__q_col_text(q, 3);
    j->payload_len = strlen(payload);
    j->payload = cm__strndup(payload, j->payload_len);
    j->priority = (int32_t)cm__q_col_int64(q, 4);
    j->run_at = cm__q_col_int64(q, 5);
    j->attempt = (int32_t)cm__q_col_int64(q, 6);
    j->max_attempts = (int32_t)cm__q_col_int64(q, 7);
    j->backoff = cm__backoff_parse(cm__q_col_text(q, 8));
    j->backoff_us = cm__q_col_int64(q, 9);
    j->backoff_max_us = cm__q_col_int64(q, 10);
    j->timeout_us = cm__q_col_int64(q, 11);
    j->lease_token = cm__q_col_int64(q, 12);
    j->created_at = cm__q_col_int64(q, 13);
    j->claimed_at = c->now;
    j->next = c->list;
    c->list = j;
    c->count++;
    if (!j->queue || !j->kind || !j->payload)
        return cm__oom();
    return CM_OK;
}

/* Read a queue's rate window; *allowed receives how many jobs may start
 * now (INT64_MAX when unlimited), *until when the window reopens. */
static int rate_check(cm__conn *conn, const char *queue, int64_t now, int64_t *allowed,
                      int64_t *until, int64_t *win_start, int64_t *win_count)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.queue_get");
    if (rc)
        return rc;
    cm__q_text(&q, 1, queue);
    *allowed = INT64_MAX;
    *until = 0;
    rc = cm__q_step(&q);
    if (rc == 1) {
        int64_t max = cm__q_col_int64(&q, 0), window = cm__q_col_int64(&q, 1);
        int64_t start = cm__q_col_int64(&q, 2), count = cm__q_col_int64(&q, 3);
        if (max > 0 && window > 0) {
            /* A new window when this one is over, or when the clock went
             * back by more than a window. A start slightly after `now` is
             * a concurrent claimer's (PostgreSQL: it took `now` before
             * waiting for this row's lock): the same window. */
            if (now >= start + window || now < start - window) {
                start = now;
                count = 0;
            }
            *allowed = max > count ? max - count : 0;
            *until = start + window;
            *win_start = start;
            *win_count = count;
        }
    }
    cm__q_close(&q);
    return cm__ok(rc);
}

static int claim_fn(cm__conn *conn, void *p)
{
    claim_call *c = p;
    free_list(c->list); /* from an earlier, retried attempt */
    c->list = NULL;
    c->now = cm_now_us();
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.promote");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, c->now);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    uint32_t left = c->total;
    for (size_t i = 0; i < c->nq; i++) {
        cm__claim_queue *cq = &c->qs[i];
        cq->got = 0;
        cq->limited_until = 0;
        uint32_t want = cq->want < left ? cq->want : left;
        if (want == 0)
            continue;
        int64_t allowed, until, wstart = 0, wcount = 0;
        if ((rc = rate_check(conn, cq->queue, c->now, &allowed, &until, &wstart, &wcount)))
            return rc;
        if (allowed == 0) {
            cq->limited_until = until;
            continue;
        }
        cm__claim_req req = {
            .queue = cq->queue,
            .owner = c->owner,
            .now = c->now,
            .lease_expires_at = c->now + c->lease_us,
            .max = allowed < (int64_t)want ? allowed : (int64_t)want,
        };
        c->count = 0;
        if ((rc = cm__store_claim_jobs(conn, &req, on_claim_row, c)))
            return rc;
        cq->got = c->count;
        left -= c->count;
        if (allowed != INT64_MAX) {
            if ((int64_t)c->count >= allowed)
                cq->limited_until = until;
            if ((rc = cm__q_open(&q, conn, "jobs.queue_window")))
                return rc;
            cm__q_text(&q, 1, cq->queue);
            cm__q_int64(&q, 2, wstart);
            cm__q_int64(&q, 3, wcount + c->count);
            rc = cm__q_step(&q);
            cm__q_close(&q);
            if (rc < 0)
                return rc;
        }
    }
    return CM_OK;
}

int cm__jobs_claim(cm_job **list, cm_store *store, cm__claim_queue *qs, size_t nq, uint32_t total,
                   const char *owner, int64_t lease_us)
{
    claim_call c = {store, qs, nq, owner, lease_us, NULL, 0, total, 0};
    int rc = cm__store_run_tx(store, true, claim_fn, &c);
    if (rc) {
        free_list(c.list);
        for (size_t i = 0; i < nq; i++)
            qs[i].got = 0;
        return rc;
    }
    /* Hand them over in claim order (priority, run time, id). */
    cm_job *sorted = NULL;
    while (c.list) {
        cm_job *j = c.list, **pp = &sorted;
        c.list = j->next;
        while (*pp &&
               ((*pp)->priority > j->priority ||
                ((*pp)->priority == j->priority &&
                 ((*pp)->run_at < j->run_at || ((*pp)->run_at == j->run_at && (*pp)->id < j->id)))))
            pp = &(*pp)->next;
        j->next = *pp;
        *pp = j;
    }
    cm_job **tail = &sorted;
    while (*tail)
        tail = &(*tail)->next;
    *tail = *list;
    *list = sorted;
    return CM_OK;
}

/* ---- renew ---- */

typedef struct renew_call {
    const cm__lease_ref *refs;
    int *rcs;
    size_t n;
    int64_t lease_us;
} renew_call;

static int renew_fn(cm__conn *conn, void *p)
{
    renew_call *c = p;
    int64_t now = cm_now_us();
    for (size_t i = 0; i < c->n; i++) {
        const cm__lease_ref *r = &c->refs[i];
        int64_t exp = now + c->lease_us;
        if (r->deadline && exp > r->deadline)
            exp = r->deadline;
        cm__q q;
        int rc = cm__q_open(&q, conn, "jobs.renew");
        if (rc)
            return rc;
        cm__q_int64(&q, 1, r->id);
        cm__q_int64(&q, 2, r->token);
        cm__q_int64(&q, 3, exp);
        cm__q_int64(&q, 4, now);
        rc = cm__q_step(&q);
        c->rcs[i] = rc == 1 ? (cm__q_col_int64(&q, 0) ? CM_ECANCELED : CM_OK) : CM_ELEASE;
        cm__q_close(&q);
        if (rc < 0)
            return rc;
    }
    return CM_OK;
}

int cm__jobs_renew(cm_store *store, const cm__lease_ref *refs, int *rcs, size_t n, int64_t lease_us)
{
    if (n == 0)
        return CM_OK;
    renew_call c = {refs, rcs, n, lease_us};
    return cm__store_run_tx(store, true, renew_fn, &c);
}

/* ---- progress ---- */

typedef struct doc_call {
    cm_job *job;
    const char *json;
    size_t len;
} doc_call;

static int progress_fn(cm__conn *conn, void *p)
{
    doc_call *c = p;
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.progress");
    if (rc)
        return rc;
    int64_t now = cm_now_us();
    cm__q_int64(&q, 1, c->job->id);
    cm__q_int64(&q, 2, c->job->lease_token);
    cm__q_textn(&q, 3, c->json, c->len);
    cm__q_int64(&q, 4, now);
    rc = cm__q_step(&q);
    int64_t changed = rc == 0 ? cm__q_changes(&q) : 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (changed == 0)
        return cm__error_set(CM_ELEASE, "job %lld: lease %lld is no longer held",
                             (long long)c->job->id, (long long)c->job->lease_token);
    return CM_OK;
}

int cm__job_progress_set(cm_job *job, const char *json, size_t len)
{
    int rc = cm__jobs_check_json(json, len, CM__JOBS_MAX_DOC, "progress");
    if (rc)
        return rc;
    doc_call c = {job, json, len};
    return cm__store_run_tx(job->store, true, progress_fn, &c);
}

/* ---- finish ---- */

static int complete_one(cm__conn *conn, cm_job *j, int64_t now)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.complete");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, j->id);
    cm__q_int64(&q, 2, j->lease_token);
    cm__q_text(&q, 3, j->result);
    cm__q_int64(&q, 4, now);
    rc = cm__q_step(&q);
    int64_t changed = rc == 0 ? cm__q_changes(&q) : 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    j->finish_rc = changed ? CM_OK : CM_ELEASE;
    (void)snprintf(j->final_state, sizeof j->final_state, "%s", changed ? "completed" : "");
    return CM_OK;
}

/* Complete the jobs of `jobs` whose status is CM_OK (at least two) with one
 * statement: a group commit costs one round trip, not one per job. */
static int complete_many(cm__conn *conn, cm_job **jobs, size_t n, int64_t now)
{
    json_t *arr = json_array();
    if (!arr)
        return cm__oom();
    for (size_t i = 0; i < n; i++) {
        cm_job *j = jobs[i];
        if (j->status < 0)
            continue;
        j->finish_rc = CM_ELEASE; /* unless the statement returns it */
        j->final_state[0] = '\0';
        if (json_array_append_new(arr, json_pack("[I,I,s?]", (json_int_t)j->id,
                                                 (json_int_t)j->lease_token, j->result))) {
            json_decref(arr);
            return cm__oom();
        }
    }
    char *text = NULL;
    int rc = cm__json_dump(&text, arr);
    json_decref(arr);
    if (rc)
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, conn, "jobs.complete_many"))) {
        cm__free(text);
        return rc;
    }
    cm__q_text(&q, 1, text);
    cm__q_int64(&q, 2, now);
    while ((rc = cm__q_step(&q)) == 1) {
        int64_t id = cm__q_col_int64(&q, 0);
        for (size_t i = 0; i < n; i++)
            if (jobs[i]->id == id && jobs[i]->status >= 0) {
                jobs[i]->finish_rc = CM_OK;
                (void)snprintf(jobs[i]->final_state, sizeof jobs[i]->final_state, "completed");
                break;
            }
    }
    cm__q_close(&q);
    cm__free(text);
    return cm__ok(rc);
}

/* Fail one attempt: the next state follows the job's retry settings. */
static int fail_one(cm__conn *conn, cm_job *j, int64_t now, const char *error)
{
    const char *state;
    int64_t run_at = j->run_at;
    if (j->no_retry) {
        state = "failed";
    } else if (j->attempt >= j->max_attempts) {
        state = "dead";
    } else {
        int64_t delay = j->retry_set ? j->retry_delay
                                     : cm__backoff_delay(j->backoff, j->backoff_us,
                                                         j->backoff_max_us, j->attempt, j->id);
        run_at = now + delay;
        state = delay > 0 ? "delayed" : "queued";
    }
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.fail");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, j->id);
    cm__q_int64(&q, 2, j->lease_token);
    cm__q_text(&q, 3, state);
    cm__q_int64(&q, 4, run_at);
    cm__q_text(&q, 5, error && *error ? error : "failed");
    cm__q_int64(&q, 6, now);
    rc = cm__q_step(&q);
    if (rc == 1)
        (void)snprintf(j->final_state, sizeof j->final_state, "%s", cm__q_col_text(&q, 0));
    else
        j->final_state[0] = '\0';
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    j->finish_rc = rc == 1 ? CM_OK : CM_ELEASE;
    return CM_OK;
}

typedef struct finish_call {
    cm_job **jobs;
    size_t n;
} finish_call;

static int finish_fn(cm__conn *conn, void *p)
{
    finish_call *c = p;
    int64_t now = cm_now_us();
    size_t ok = 0;
    for (size_t i = 0; i < c->n; i++)
        ok += c->jobs[i]->status >= 0;
    int rc = ok >= 2 ? complete_many(conn, c->jobs, c->n, now) : CM_OK;
    if (rc)
        return rc;
    for (size_t i = 0; i < c->n; i++) {
        cm_job *j = c->jobs[i];
        rc = j->status < 0 ? fail_one(conn, j, now, j->error)
             : ok < 2      ? complete_one(conn, j, now)
                           : CM_OK;
        if (rc)
            return rc;
    }
    return CM_OK;
}

int cm__jobs_finish(cm_job **jobs, size_t n)
{
    if (n == 0)
        return CM_OK;
    finish_call c = {jobs, n};
    return cm__store_run_tx(jobs[0]->store, true, finish_fn, &c);
}

int cm__job_finish(cm_job *job, int status, const char *error)
{
    job->status = status;
    (void)snprintf(job->error, sizeof job->error, "%s",
                   error ? error : (status < 0 ? cm_strerror(status) : ""));
    int rc = cm__jobs_finish(&job, 1);
    if (rc)
        return rc;
    if (job->finish_rc)
        return cm__error_set(CM_ELEASE, "job %lld: lease %lld is no longer held",
                             (long long)job->id, (long long)job->lease_token);
    return CM_OK;
}

/* ---- release ---- */

typedef struct release_call {
    const cm__lease_ref *refs;
    size_t n;
    bool uncount;
} release_call;

static int release_fn(cm__conn *conn, void *p)
{
    release_call *c = p;
    int64_t now = cm_now_us();
    for (size_t i = 0; i < c->n; i++) {
        cm__q q;
        int rc = cm__q_open(&q, conn, "jobs.release");
        if (rc)
            return rc;
        cm__q_int64(&q, 1, c->refs[i].id);
        cm__q_int64(&q, 2, c->refs[i].token);
        cm__q_int64(&q, 3, c->uncount ? 1 : 0);
        cm__q_int64(&q, 4, now);
        rc = cm__q_step(&q);
        cm__q_close(&q);
        if (rc < 0)
            return rc;
    }
    cm__jobs_wake_tx(conn, NULL); /* for the workers of other processes */
    return CM_OK;
}

int cm__jobs_release(cm_store *store, const cm__lease_ref *refs, size_t n, bool uncount)
{
    if (n == 0)
        return CM_OK;
    release_call c = {refs, n, uncount};
    return cm__store_run_tx(store, true, release_fn, &c);
}

/* ---- recovery of lapsed leases ---- */

typedef struct expired_row {
    int64_t id, token;
    int32_t attempts, max_attempts, backoff;
    int64_t backoff_us, backoff_max_us;
    char owner[80];
} expired_row;

typedef struct recover_call {
    int64_t now;
    size_t max, n;
    expired_row *rows;
    int64_t *ids;
} recover_call;

static int recover_fn(cm__conn *conn, void *p)
{
    recover_call *c = p;
    c->n = 0;
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.expired");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, c->now);
    cm__q_int64(&q, 2, (int64_t)c->max);
    size_t n = 0;
    while (n < c->max && (rc = cm__q_step(&q)) == 1) {
        expired_row *r = &c->rows[n++];
        r->id = cm__q_col_int64(&q, 0);
        r->token = cm__q_col_int64(&q, 1);
        r->attempts = (int32_t)cm__q_col_int64(&q, 2);
        r->max_attempts = (int32_t)cm__q_col_int64(&q, 3);
        r->backoff = cm__backoff_parse(cm__q_col_text(&q, 4));
        r->backoff_us = cm__q_col_int64(&q, 5);
        r->backoff_max_us = cm__q_col_int64(&q, 6);
        (void)snprintf(r->owner, sizeof r->owner, "%s", cm__q_col_text(&q, 7));
    }
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        expired_row *r = &c->rows[i];
        /* The attempt counts (a job that kills its worker every time ends
         * dead), but the next one may start at once: the lease that had to
         * lapse was the wait, and the worker may well have died of
         * something else (a deploy, a lost machine). */
        cm_job j = {.id = r->id,
                    .lease_token = r->token,
                    .attempt = r->attempts,
                    .max_attempts = r->max_attempts,
                    .backoff = r->backoff,
                    .backoff_us = r->backoff_us,
                    .backoff_max_us = r->backoff_max_us,
                    .retry_set = true,
                    .retry_delay = 0};
        char err[160];
        (void)snprintf(err, sizeof err, "lease expired: worker %s stopped renewing it", r->owner);
        if ((rc = fail_one(conn, &j, c->now, err)))
            return rc;
        if (j.finish_rc == CM_OK && c->ids)
            c->ids[c->n] = r->id;
        if (j.finish_rc == CM_OK)
            c->n++;
    }
    return CM_OK;
}

/* Is any lease lapsed? (a read: the scheduler asks every second) */
static int any_expired_fn(cm__conn *conn, void *p)
{
    recover_call *c = p;
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.expired");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, c->now);
    cm__q_int64(&q, 2, 1);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    c->n = (size_t)rc;
    return CM_OK;
}

int cm__jobs_recover(size_t *n_out, int64_t *ids_out, cm_store *store, int64_t now, size_t max)
{
    if (n_out)
        *n_out = 0;
    if (max == 0)
        return CM_OK;
    recover_call probe = {now, 1, 0, NULL, NULL};
    int prc = cm__store_run_tx(store, false, any_expired_fn, &probe);
    if (prc || probe.n == 0)
        return prc;
    recover_call c = {now, max, 0, cm__calloc(max, sizeof(expired_row)), ids_out};
    if (!c.rows)
        return cm__oom();
    int rc = cm__store_run_tx(store, true, recover_fn, &c);
    cm__free(c.rows);
    if (rc == CM_OK && n_out)
        *n_out = c.n;
    return rc;
}

/* ---- completion inside the handler's transaction ---- */

typedef struct complete_call {
    cm_job *job;
    cm__job_tx_fn fn;
    void *payload;
} complete_call;

static int complete_tx_fn(cm__conn *conn, void *p)
{
    complete_call *c = p;
    int rc = c->fn ? c->fn(conn, c->payload) : CM_OK;
    if (rc)
        return rc;
    if ((rc = complete_one(conn, c->job, cm_now_us())))
        return rc;
    if (c->job->finish_rc)
        return cm__error_set(CM_ELEASE, "job %lld: lease %lld is no longer held",
                             (long long)c->job->id, (long long)c->job->lease_token);
    return CM_OK;
}

int cm__job_complete_tx(cm_job *job, cm__job_tx_fn fn, void *payload)
{
    if (job->done)
        return cm__error_set(CM_EMISUSE, "job %lld is already completed", (long long)job->id);
    complete_call c = {job, fn, payload};
    int rc = cm__store_run_tx(job->store, true, complete_tx_fn, &c);
    if (rc == CM_OK)
        job->done = true;
    return rc;
}
