/*
 * scheduler_int.h - the cm_scheduler object, shared by scheduler.c (its
 * own thread: a libuv loop with the claim, heartbeat and drain logic) and
 * worker.c (the worker threads and the handler-facing cm_job API).
 *
 * Locking: one mutex `lock` guards every list and counter below that is not
 * atomic. The scheduler thread never holds it across a database call, and
 * neither do workers.
 */
#ifndef CM_JOBS_SCHEDULER_INT_H
#define CM_JOBS_SCHEDULER_INT_H

#include "jobs_int.h"

#include <uv.h>

typedef struct cm__handler {
    char *kind;
    cm_job_fn fn;
    void *payload;
} cm__handler;

typedef struct cm__squeue {
    char *name;
    uint32_t concurrency;
    uint32_t held;         /* claimed and not yet finished (lock) */
    int64_t limited_until; /* rate limited until (scheduler thread) */
} cm__squeue;

enum { SCHED_NEW, SCHED_RUNNING, SCHED_STOPPING, SCHED_STOPPED };

struct cm_scheduler {
    cm_store *store;
    cm_scheduler_options opts;
    char *worker_id;
    cm__handler *handlers;
    size_t n_handlers;
    cm__squeue *queues;
    size_t n_queues;

    uv_mutex_t lock;
    uv_cond_t work_cond; /* workers wait for ready jobs */
    uv_cond_t lost_cond; /* cm_job_wait() waits for lost flags */
    int state;           /* SCHED_* (lock) */

    /* Jobs this scheduler holds a lease on: ready (claimed, waiting for a
     * thread) or running. `held` is an array, the ready jobs also a FIFO. */
    cm_job **held;
    size_t n_held, cap_held;
    cm_job *ready_head, *ready_tail;
    uint32_t running;
    /* Finished jobs waiting for the group commit; one worker flushes. */
    cm_job *done_head;
    bool flushing;
    bool workers_exit;
    bool loop_closing; /* no uv_async_send() any more (lock) */

    uv_thread_t *threads;
    uint32_t n_threads;
    uv_thread_t control;
    bool control_started;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t poll_timer, hb_timer, maint_timer, drain_timer;
    uint32_t maint_ms; /* recovery, schedules, pruning: every maint_ms */
    bool drain_started, drain_expired;
    int64_t drain_timeout_us;
    int stop_rc;
    bool closing; /* asynchronous close: the scheduler thread frees */
    cm_scheduler_close_fn close_cb;
    void *close_payload;

    /* Wake-ups from other processes (listen.c; scheduler thread). */
    struct cm__listener *listener; /* NULL when not listening */
    bool listen_wanted;            /* the backend may offer it, flags allow it */
    int64_t listen_retry_at, listen_backoff_us;

    int64_t next_schedules, next_prune; /* scheduler thread */
    bool claim_again;                   /* scheduler thread */
    size_t claim_rr;                    /* scheduler thread */

    atomic_llong n_claimed, n_completed, n_retried, n_failed, n_dead, n_cancelled, n_lost,
        n_timeouts, n_recovered;

    struct cm_scheduler *reg_next; /* registry of running schedulers */
};

/* worker.c */
void cm__worker_main(void *arg);
void cm__sched_event(cm_scheduler *s, int32_t ev, const cm_job *job, int32_t status,
                     int64_t duration_us);
/* Count a finished job's outcome (its final state, or finish_rc =
 * CM_ELEASE) and report it to the event hook. */
void cm__sched_report_finish(cm_scheduler *s, const cm_job *job, const char *state, int finish_rc,
                             int status, int64_t duration_us);
/* Remove job from the held array (lock held). */
void cm__sched_unhold(cm_scheduler *s, cm_job *job);
/* Wake the scheduler thread (lock held). */
void cm__sched_wake_locked(cm_scheduler *s);

/* scheduler.c */
/* Wake every running scheduler of `store` in this process (after an enqueue). */
void cm__scheduler_notify_store(cm_store *store);
/* Claim now for every queue with room (scheduler thread). */
void cm__sched_claim(cm_scheduler *s);

/* listen.c (scheduler thread, or before its loop runs) */
/* Open the listening connection and watch it on the loop, unless it is
 * open already or not wanted. CM_ENOTSUP from the backend turns
 * listen_wanted off for good (CM_OK); other failures schedule a retry. */
int cm__sched_listen_start(cm_scheduler *s);
/* Stop watching and close it (asynchronously, on the loop). */
void cm__sched_listen_close(cm_scheduler *s);
/* Reopen a lost listening connection when its retry time has come. */
void cm__sched_listen_tick(cm_scheduler *s, int64_t now);

#endif /* CM_JOBS_SCHEDULER_INT_H */
