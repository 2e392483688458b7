/*
 * jobs_int.h - internals of the job queue shared by lib/jobs, the layer above it (the jobs
 * operations of lib/core/ops_jobs.c, the platform's jobs of lib/core/platform_jobs.c) and the
 * tests: the claimed-job object, the transactional enqueue, the one-step claim / renew /
 * finish / recover functions the scheduler is made of, the backoff, and cron.
 */
#ifndef CM_JOBS_INT_H
#define CM_JOBS_INT_H

#include "../store/store_int.h"

#include <community/jobs.h>

#include <stdatomic.h>

#define CM__JOBS_MAX_PAYLOAD (1u << 20) /* hard limit of a kind's max_payload */
#define CM__JOBS_MAX_DOC 65536          /* progress and result */
#define CM__JOBS_NAME_MAX 64            /* kind and queue names */
#define CM__JOBS_KEY_MAX 200            /* dedupe keys */
#define CM__JOBS_PRIORITY_MAX 1000
#define CM__JOBS_ATTEMPTS_MAX 1000

struct cm_scheduler;

/* A claimed job. Allocated by the claim, freed with cm__job_free(). */
struct cm_job {
    struct cm_scheduler *sched; /* NULL when claimed directly (tests, tools) */
    cm_store *store;
    int64_t id, lease_token, run_at, created_at, claimed_at;
    int64_t started_at, deadline; /* handler start; timeout deadline (0 = none) */
    int64_t duration_us;          /* the handler's run time */
    int32_t attempt, max_attempts, priority, backoff;
    int64_t backoff_us, backoff_max_us, timeout_us;
    char *queue, *kind, *payload;
    size_t payload_len;
    atomic_int refs; /* owner + heartbeat snapshots; freed at 0 */
    atomic_int lost; /* 0 or CM_ELEASE / CM_ETIMEOUT / CM_ECANCELED */
    bool abandoned;  /* lease gone or handed back: do not finish (sched lock) */
    bool done;       /* completed inside the handler's transaction */
    bool no_retry;   /* cm_job_no_retry() */
    bool retry_set;  /* cm_job_retry_in() */
    bool running;    /* the handler was started (scheduler bookkeeping) */
    int64_t retry_delay;
    char *result; /* cm_job_set_result() */
    /* Outcome, filled before finishing. */
    int status;      /* the handler's return code */
    char error[256]; /* its message, when status < 0 */
    /* Filled by finishing: CM_OK or CM_ELEASE, and the state it ended in. */
    int finish_rc;
    char final_state[12];
    struct cm_job *next; /* list links (claim results, scheduler lists) */
};

/* Drop a reference; the job is freed with the last one. */
void cm__job_free(cm_job *job);

/* ---- names and validation (enqueue.c) ---- */
/* A kind or queue name: 1..64 of [a-z0-9._-]. Sets CM_EINVAL on `field`. */
int cm__jobs_check_name(const char *name, const char *field);
/* Validate a JSON text of at most max bytes; CM_EINVAL / CM_ERANGE on field. */
int cm__jobs_check_json(const char *json, size_t len, size_t max, const char *field);
const char *cm__backoff_name(int backoff);
int cm__backoff_parse(const char *name);

/* ---- enqueue (enqueue.c) ---- */
/* Enqueue one job on conn, which must be inside an open write transaction
 * (e.g. the cm__ctx of an operation handler: the job then commits or rolls
 * back with the business write). id_out, payload, opts as cm_jobs_enqueue();
 * CM_EEXISTS on a dedupe conflict with *id_out set. Nothing is written on
 * failure, but the caller's transaction is left open (roll it back or go on).
 * schedule_id: the repeatable schedule that fires it, or 0. */
int cm__jobs_enqueue_tx(int64_t *id_out, cm__conn *conn, const char *kind, const char *payload,
                        size_t len, const cm_job_options *opts);
int cm__jobs_enqueue_sched_tx(int64_t *id_out, cm__conn *conn, const char *kind,
                              const char *payload, size_t len, const cm_job_options *opts,
                              int64_t schedule_id);
/* Define a kind inside an open write transaction; only_missing keeps an
 * existing definition. */
int cm__jobs_define_tx(cm__conn *conn, const char *kind, const cm_job_kind_options *opts,
                       bool only_missing);
/* Check that kind is defined and accepts a payload of len bytes:
 * CM_EINVAL (field "kind"), CM_ERANGE (field "payload"). */
int cm__jobs_kind_check(cm__conn *conn, const char *kind, size_t len);
/* The queue of a kind (buf >= 65 bytes); CM_ENOTFOUND when undefined. */
int cm__jobs_kind_queue(char *buf, cm__conn *conn, const char *kind);

/* ---- wake-ups across processes (listen.c) ---- */
/* The notification channel of the job queue (PostgreSQL LISTEN/NOTIFY). */
#define CM__JOBS_CHANNEL "cm_jobs"
/* Inside conn's open write transaction: when it commits, wake the
 * schedulers of other processes listening on this database for `queue`
 * (NULL: any queue). A hint that costs nothing where the backend has no
 * wake-ups (SQLite); schedulers poll anyway. */
void cm__jobs_wake_tx(cm__conn *conn, const char *queue);

/* ---- claim / lease / finish (claim.c) ---- */
typedef struct cm__claim_queue {
    const char *queue;     /* in */
    uint32_t want;         /* in: at most this many */
    uint32_t got;          /* out */
    int64_t limited_until; /* out: rate limited until then (0 = not limited) */
} cm__claim_queue;

/* One write transaction: promote due delayed jobs, then lease up to
 * qs[i].want jobs of each queue in turn, and at most `total` in all, for
 * `owner` (lease of lease_us from now), respecting the queues' rate
 * limits. Claimed jobs are prepended to *list. */
int cm__jobs_claim(cm_job **list, cm_store *store, cm__claim_queue *qs, size_t nq, uint32_t total,
                   const char *owner, int64_t lease_us);
/* A lease as the heartbeat and the drain see it (copied under the lock). */
typedef struct cm__lease_ref {
    int64_t id, token, deadline;
} cm__lease_ref;
/* Renew `n` leases in one transaction, to now + lease_us but not past a
 * lease's deadline. rcs[i]: CM_OK, CM_ELEASE (lost) or CM_ECANCELED
 * (renewed, but cancellation was requested). */
int cm__jobs_renew(cm_store *store, const cm__lease_ref *refs, int *rcs, size_t n,
                   int64_t lease_us);
/* Report progress under the lease. */
int cm__job_progress_set(cm_job *job, const char *json, size_t len);
/* Finish jobs in one transaction: complete those whose status is CM_OK,
 * fail the others (retry with backoff, dead, failed or cancelled). Sets
 * each job's finish_rc (CM_OK or CM_ELEASE) and final_state. */
int cm__jobs_finish(cm_job **jobs, size_t n);
/* Finish one job (convenience over cm__jobs_finish); returns its finish_rc
 * or a transaction error. status < 0 fails with `error`. */
int cm__job_finish(cm_job *job, int status, const char *error);
/* Put jobs back to 'queued' (or 'cancelled' when cancellation was
 * requested); uncount: the attempt did not start and is not counted. */
int cm__jobs_release(cm_store *store, const cm__lease_ref *refs, size_t n, bool uncount);
/* Recover lapsed leases (lease_expires_at < now): queued again at once
 * (the attempt counts; no backoff), dead when attempts are exhausted, or
 * cancelled when that was requested; at most `max` per call. *n_out: how many; ids_out (may be
 * NULL) receives up to `max` recovered ids. */
int cm__jobs_recover(size_t *n_out, int64_t *ids_out, cm_store *store, int64_t now, size_t max);
/* Run fn(conn, payload), then complete the job, in one write transaction.
 * CM_ELEASE (and nothing committed) when the lease is no longer held. */
typedef int (*cm__job_tx_fn)(cm__conn *conn, void *payload);
int cm__job_complete_tx(cm_job *job, cm__job_tx_fn fn, void *payload);

/* ---- backoff (backoff.c) ---- */
/* The delay before retry number `attempt` (1-based attempt that failed). */
int64_t cm__backoff_delay(int backoff, int64_t base_us, int64_t max_us, int32_t attempt,
                          int64_t job_id);

/* ---- cron (cron.c) ---- */
typedef struct cm__cron {
    uint64_t minute; /* bit m: minute m */
    uint32_t hour;   /* bit h */
    uint32_t dom;    /* bit d (1..31) */
    uint16_t month;  /* bit m (1..12) */
    uint8_t dow;     /* bit d (0 = Sunday) */
    bool dom_any, dow_any;
} cm__cron;
/* Parse a cron expression; CM_EINVAL with field "cron" and the reason. */
int cm__cron_parse(cm__cron *out, const char *expr);
/* The first run strictly after `after` (UTC us) in zone tz; CM_EINVAL
 * (field "timezone") for an unknown zone, CM_ERANGE (field "cron") when no
 * run exists in the next nine years. */
int cm__cron_next(int64_t *out, const cm__cron *c, const char *tz, int64_t after);

/* ---- schedules (schedule.c) ---- */
/* Enqueue the due runs of repeatable schedules (one write transaction).
 * *n_out: jobs enqueued. */
int cm__jobs_fire_schedules(size_t *n_out, cm_store *store, int64_t now);

/* ---- administration (admin.c), for the operations of ops_jobs.c ---- */
int cm__jobs_get_json(json_t **out, cm__conn *conn, int64_t id);
int cm__jobs_list_json(json_t **out, cm__conn *conn, int64_t before, const char *state,
                       const char *queue, const char *kind, int64_t limit);
int cm__jobs_cancel_tx(cm__conn *conn, int64_t id, int64_t now, const char **state_out);
int cm__jobs_retry_tx(cm__conn *conn, int64_t id, int64_t now);
int cm__jobs_redrive_tx(int64_t *n_out, cm__conn *conn, const char *queue, const char *kind,
                        const char *state, int64_t limit, int64_t now);
int cm__jobs_stats_json(json_t **out, cm__conn *conn, int64_t now);
int cm__jobs_prune_tx(int64_t *n_out, cm__conn *conn, int64_t completed_before,
                      int64_t failed_before, int64_t limit);

/* ---- wake-ups within the process (scheduler.c) ---- */
/* Per thread: cm__jobs_wake_tx (an enqueue, retry, re-drive inside an open
 * transaction) marks the store (mark); whoever commits that transaction
 * then calls flush, which wakes the running schedulers of the store in
 * this process so that the jobs start without waiting for a poll (cm_exec
 * and cm_job_complete_exec do after their commit, the enqueue functions
 * after theirs). reset forgets a mark (before a transaction, after a
 * rollback). A thread-local pointer: costs nothing when nothing was
 * enqueued. */
void cm__jobs_local_wake_mark(cm_store *store);
void cm__jobs_local_wake_reset(void);
void cm__jobs_local_wake_flush(void);

/* ---- starting a scheduler (scheduler.c) ---- */
/* cm_scheduler_start() without the domain: when s was opened with
 * CM_SCHEDULER_PLATFORM_JOBS, platform(s, store) first registers the
 * platform's own handlers (lib/core/platform_jobs.c, whose
 * cm_scheduler_start() passes it: this layer knows nothing of them). */
typedef int (*cm__scheduler_platform_fn)(struct cm_scheduler *s, cm_store *store);
int cm__scheduler_start(struct cm_scheduler *s, cm__scheduler_platform_fn platform);

#endif /* CM_JOBS_INT_H */
