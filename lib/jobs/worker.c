/*
 * worker.c - the scheduler's worker threads and what a handler can do
 * with its cm_job.
 *
 * A worker takes the oldest ready job, runs its handler, frees the job's
 * slot, and hands the outcome to a group commit: the first worker to find
 * no flush in progress commits every finished job waiting at that moment
 * in one transaction (and keeps going while more arrive), the others go
 * back to work at once. Under load this completes jobs in batches; idle,
 * a job is committed right away.
 */
#include "scheduler_int.h"

#include "../util/tracing.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define FLUSH_MAX 256

void cm__sched_event(cm_scheduler *s, int32_t ev, const cm_job *job, int32_t status,
                     int64_t duration_us)
{
    if (s && s->opts.on_event)
        s->opts.on_event(ev, job->id, job->queue ? job->queue : "", job->kind ? job->kind : "",
                         job->attempt, status, duration_us, s->opts.event_payload);
}

void cm__sched_wake_locked(cm_scheduler *s)
{
    if (!s->loop_closing && s->control_started)
        uv_async_send(&s->wake);
}

void cm__sched_unhold(cm_scheduler *s, cm_job *job)
{
    for (size_t i = 0; i < s->n_held; i++)
        if (s->held[i] == job) {
            s->held[i] = s->held[--s->n_held];
            break;
        }
    for (size_t q = 0; q < s->n_queues; q++)
        if (strcmp(s->queues[q].name, job->queue) == 0 && s->queues[q].held > 0) {
            s->queues[q].held--;
            break;
        }
}

void cm__sched_report_finish(cm_scheduler *s, const cm_job *j, const char *st, int finish_rc,
                             int status, int64_t duration_us)
{
    if (finish_rc) {
        atomic_fetch_add(&s->n_lost, 1);
        cm__sched_event(s, CM_JOB_EVENT_LEASE_LOST, j, CM_ELEASE, duration_us);
        return;
    }
    if (strcmp(st, "completed") == 0) {
        atomic_fetch_add(&s->n_completed, 1);
        cm__sched_event(s, CM_JOB_EVENT_COMPLETED, j, CM_OK, duration_us);
    } else if (strcmp(st, "queued") == 0 || strcmp(st, "delayed") == 0) {
        atomic_fetch_add(&s->n_retried, 1);
        cm__sched_event(s, CM_JOB_EVENT_RETRY, j, status, duration_us);
    } else if (strcmp(st, "failed") == 0) {
        atomic_fetch_add(&s->n_failed, 1);
        cm__sched_event(s, CM_JOB_EVENT_FAILED, j, status, duration_us);
    } else if (strcmp(st, "dead") == 0) {
        atomic_fetch_add(&s->n_dead, 1);
        cm__sched_event(s, CM_JOB_EVENT_DEAD, j, status, duration_us);
    } else if (strcmp(st, "cancelled") == 0) {
        atomic_fetch_add(&s->n_cancelled, 1);
        cm__sched_event(s, CM_JOB_EVENT_CANCELLED, j, status, duration_us);
    }
}

static const cm__handler *find_handler(const cm_scheduler *s, const char *kind)
{
    for (size_t i = 0; i < s->n_handlers; i++)
        if (strcmp(s->handlers[i].kind, kind) == 0)
            return &s->handlers[i];
    return NULL;
}

/* Commit every finished job waiting, until none is left (lock held on
 * entry and exit; released around the database work). */
static void flush_locked(cm_scheduler *s)
{
    cm_job *batch[FLUSH_MAX];
    s->flushing = true;
    while (s->done_head) {
        size_t n = 0;
        while (s->done_head && n < FLUSH_MAX) {
            batch[n++] = s->done_head;
            s->done_head = s->done_head->next;
        }
        uv_mutex_unlock(&s->lock);
        int rc = cm__jobs_finish(batch, n);
        if (rc)
            cm__log(CM_LOG_ERROR, "jobs",
                    "worker %s: cannot record %zu finished jobs (they "
                    "will run again when their leases lapse): %s",
                    s->worker_id, n, cm_error_message());
        for (size_t i = 0; i < n; i++) {
            if (rc == CM_OK)
                cm__sched_report_finish(s, batch[i], batch[i]->final_state, batch[i]->finish_rc,
                                        batch[i]->status, batch[i]->duration_us);
            cm__job_free(batch[i]);
        }
        uv_mutex_lock(&s->lock);
    }
    s->flushing = false;
    cm__sched_wake_locked(s);
}

static void run_one(cm_scheduler *s, cm_job *j)
{
    cm__sched_event(s, CM_JOB_EVENT_STARTED, j, CM_OK, 0);
    const cm__handler *h = find_handler(s, j->kind);
    uint64_t t0 = uv_hrtime();
    cm_error_clear();
    /* The run's span: a trace of its own (the handler's SQL, operations
     * and outbound calls become its children). */
    cm_span *span = cm__span_begin(j->kind, CM_SPAN_CONSUMER, CM__SPAN_CURRENT);
    cm_span_set_str(span, "cm.job.queue", j->queue);
    cm_span_set_str(span, "cm.job.kind", j->kind);
    cm_span_set_int(span, "cm.job.id", j->id);
    cm_span_set_int(span, "cm.job.attempt", j->attempt);
    int rc = h ? h->fn(j, h->payload)
               : cm__error_set(CM_ENOTSUP, "no handler for job kind '%s' in worker %s", j->kind,
                               s->worker_id);
    cm__span_end(span, rc < 0 ? rc : CM_OK);
    j->duration_us = (int64_t)((uv_hrtime() - t0) / 1000);
    j->status = rc < 0 ? rc : CM_OK;
    if (rc < 0)
        (void)snprintf(j->error, sizeof j->error, "%s",
                       *cm_error_message() ? cm_error_message() : cm_strerror(rc));

    uv_mutex_lock(&s->lock);
    j->running = false;
    s->running--;
    cm__sched_unhold(s, j);
    cm__sched_wake_locked(s);
    if (j->done || j->abandoned) {
        uv_mutex_unlock(&s->lock);
        if (j->done) {
            atomic_fetch_add(&s->n_completed, 1);
            cm__sched_event(s, CM_JOB_EVENT_COMPLETED, j, CM_OK, j->duration_us);
        }
        cm__job_free(j);
        uv_mutex_lock(&s->lock);
        return;
    }
    j->next = s->done_head;
    s->done_head = j;
    if (!s->flushing)
        flush_locked(s);
}

void cm__worker_main(void *arg)
{
    cm_scheduler *s = arg;
    uv_mutex_lock(&s->lock);
    for (;;) {
        while (!s->ready_head && !s->workers_exit)
            uv_cond_wait(&s->work_cond, &s->lock);
        cm_job *j = s->ready_head;
        if (!j)
            break;
        s->ready_head = j->next;
        if (!s->ready_head)
            s->ready_tail = NULL;
        j->next = NULL;
        if (j->abandoned) { /* its lease was lost while it waited */
            cm__sched_unhold(s, j);
            cm__sched_wake_locked(s);
            uv_mutex_unlock(&s->lock);
            cm__job_free(j);
            uv_mutex_lock(&s->lock);
            continue;
        }
        j->running = true;
        s->running++;
        j->started_at = cm_now_us();
        if (j->timeout_us > 0)
            j->deadline = j->started_at + j->timeout_us;
        uv_mutex_unlock(&s->lock);
        run_one(s, j);
    }
    uv_mutex_unlock(&s->lock);
}

/* ---- the handler's view of its job ---- */

int64_t cm_job_id(const cm_job *job)
{
    return job ? job->id : 0;
}
const char *cm_job_kind(const cm_job *job)
{
    return job ? job->kind : "";
}
const char *cm_job_queue(const cm_job *job)
{
    return job ? job->queue : "";
}
int32_t cm_job_attempt(const cm_job *job)
{
    return job ? job->attempt : 0;
}
int32_t cm_job_max_attempts(const cm_job *job)
{
    return job ? job->max_attempts : 0;
}
int64_t cm_job_lease_token(const cm_job *job)
{
    return job ? job->lease_token : 0;
}
cm_store *cm_job_store(const cm_job *job)
{
    return job ? job->store : NULL;
}

const char *cm_job_payload(const cm_job *job, size_t *len_out)
{
    if (len_out)
        *len_out = job ? job->payload_len : 0;
    return job ? job->payload : "";
}

int cm_job_lost(const cm_job *job)
{
    return job ? atomic_load(&((cm_job *)job)->lost) : CM_EINVAL;
}

int cm_job_wait(cm_job *job, int64_t timeout_us)
{
    if (!job)
        return CM_EINVAL;
    if (timeout_us <= 0)
        return cm_job_lost(job);
    uint64_t end = uv_hrtime() + (uint64_t)timeout_us * 1000u;
    cm_scheduler *s = job->sched;
    if (s) {
        uv_mutex_lock(&s->lock);
        for (;;) {
            uint64_t t = uv_hrtime();
            if (atomic_load(&job->lost) || t >= end)
                break;
            (void)uv_cond_timedwait(&s->lost_cond, &s->lock, end - t);
        }
        uv_mutex_unlock(&s->lock);
    } else {
        for (;;) {
            uint64_t t = uv_hrtime();
            if (atomic_load(&job->lost) || t >= end)
                break;
            uint64_t ns = end - t < 10000000u ? end - t : 10000000u;
            struct timespec ts = {0, (long)ns};
            nanosleep(&ts, NULL);
        }
    }
    return cm_job_lost(job);
}

int cm_job_progress(cm_job *job, const char *json, size_t len)
{
    if (!job || !json)
        return cm__error_set(CM_EINVAL, "cm_job_progress: NULL argument");
    return cm__job_progress_set(job, json, len);
}

int cm_job_set_result(cm_job *job, const char *json, size_t len)
{
    if (!job || !json)
        return cm__error_set(CM_EINVAL, "cm_job_set_result: NULL argument");
    int rc = cm__jobs_check_json(json, len, CM__JOBS_MAX_DOC, "result");
    if (rc)
        return rc;
    char *copy = cm__strndup(json, len);
    if (!copy)
        return cm__oom();
    cm__free(job->result);
    job->result = copy;
    return CM_OK;
}

void cm_job_retry_in(cm_job *job, int64_t delay_us)
{
    if (!job)
        return;
    job->retry_set = true;
    job->retry_delay = delay_us < 0 ? 0 : delay_us;
}

void cm_job_no_retry(cm_job *job)
{
    if (job)
        job->no_retry = true;
}
