/*
 * jobs.h - durable job scheduling on the store: the queue (enqueue, kinds,
 * repeatable schedules, rate limits, cancellation, statistics) and the
 * cm_scheduler that runs handlers on a pool of worker threads.
 *
 * Jobs live in the database, so an enqueue can commit together with the
 * business write that caused it, and any process opening the same store
 * can run them. A worker leases each job it claims; the lease is renewed by
 * a heartbeat and, when a worker dies, lapses so that another worker takes
 * the job over: every running scheduler looks for lapsed leases as it
 * starts and then every second, and queues their jobs again at once (the
 * attempt counts, the kind's backoff does not apply), so a dead worker's
 * job can run again within lease_ms plus a second.
 *
 * Every claim increments the job's lease token (a fencing token): a worker
 * whose lease lapsed can no longer report progress on, complete or fail
 * the job (CM_ELEASE). Delivery is at least once; a handler that completes
 * its job inside its own transaction (cm_job_complete_exec) makes its
 * effect happen exactly once.
 *
 * Job states: "delayed" (waiting for its run time), "queued" (due),
 * "running" (leased), then one of "completed", "failed" (the handler asked
 * for no retry: cm_job_no_retry), "dead" (attempts exhausted), "cancelled".
 * Failed, dead and cancelled jobs can be retried (operations jobs.retry and
 * jobs.redrive). Management goes through the operation table: jobs.list,
 * jobs.get, jobs.retry, jobs.cancel, jobs.redrive, jobs.stats (admin role).
 *
 * This header does not include <uv.h>; libuv stays inside the library.
 */
#ifndef COMMUNITY_JOBS_H
#define COMMUNITY_JOBS_H

#include <community/common.h>

CM_BEGIN_DECLS

/** The job scheduler: worker threads running handlers. Opaque. @since 0.1 */
typedef struct cm_scheduler cm_scheduler;
/** One claimed job, as its handler sees it. Opaque; borrowed. @since 0.1 */
typedef struct cm_job cm_job;

/* ------------------------------------------------------------------------ */
/* Kinds                                                                    */
/* ------------------------------------------------------------------------ */

/** How the delay before a retry grows with the attempt number. @since 0.1 */
typedef enum cm_job_backoff {
    CM_JOB_BACKOFF_DEFAULT = 0,     /**< the kind's setting (enqueue options only) */
    CM_JOB_BACKOFF_FIXED = 1,       /**< always `backoff_us` */
    CM_JOB_BACKOFF_EXPONENTIAL = 2, /**< backoff_us * 2^(attempt-1), capped at backoff_max_us,
                                         with "equal jitter": a uniform value in [d/2, d] */
    CM_JOB_BACKOFF_CUSTOM = 3       /**< the handler's cm_job_retry_in(); else fixed */
} cm_job_backoff;

/**
 * Defaults of a job kind. Fill with CM_JOB_KIND_OPTIONS_INIT or
 * cm_job_kind_options_init(); grows only by appending fields. @since 0.1
 */
typedef struct cm_job_kind_options {
    uint32_t size;          /**< sizeof(cm_job_kind_options) */
    int32_t priority;       /**< default priority, -1000..1000 (higher runs first); 0 */
    const char *queue;      /**< queue name; NULL = "default" */
    int32_t max_attempts;   /**< 1..1000; default 3 */
    int32_t backoff;        /**< a cm_job_backoff; default exponential */
    int64_t backoff_us;     /**< base retry delay, >= 0; default 1 s */
    int64_t backoff_max_us; /**< cap of the retry delay; default 1 h */
    int64_t timeout_us;     /**< per-attempt time limit, 0 = none (default) */
    uint32_t max_payload;   /**< payload size limit in bytes, <= 1 MiB; default 64 KiB */
} cm_job_kind_options;

#define CM_JOB_KIND_OPTIONS_INIT                                                                   \
    {                                                                                              \
        (uint32_t)sizeof(cm_job_kind_options), 0, NULL, 3, CM_JOB_BACKOFF_EXPONENTIAL, 1000000,    \
            3600000000, 0, 65536                                                                   \
    }

/** Fill `opts` with the defaults. @return CM_OK or CM_EINVAL. @since 0.1 */
CM_API int cm_job_kind_options_init(cm_job_kind_options *opts, uint32_t size);

/**
 * Define (or redefine) a job kind in the store: its queue and the defaults
 * of its jobs. Only defined kinds can be enqueued. Jobs already enqueued
 * keep the settings they were enqueued with.
 *
 * @param kind  1..64 characters of [a-z0-9._-] (copied).
 * @param opts  NULL for the defaults.
 * @return CM_OK; CM_EINVAL (field "kind", "queue", "backoff", ...);
 *         CM_ERANGE (field "max_attempts", "priority", "max_payload", ...).
 * Thread-safe. @since 0.1
 */
CM_API int cm_jobs_define(cm_store *store, const char *kind, const cm_job_kind_options *opts);

/* ------------------------------------------------------------------------ */
/* Enqueue                                                                  */
/* ------------------------------------------------------------------------ */

/** What an enqueue does when another live job holds its dedupe key. @since 0.1 */
typedef enum cm_job_dedupe {
    CM_JOB_DEDUPE_REJECT = 0, /**< keep the live job; the enqueue reports CM_EEXISTS */
    CM_JOB_DEDUPE_REPLACE = 1 /**< replace the live job's payload, run time, priority and
                                   settings if it has not started; CM_EEXISTS if running */
} cm_job_dedupe;

/** "Use the kind's default" for cm_job_options.priority. */
#define CM_JOB_PRIORITY_DEFAULT INT32_MIN

/**
 * Options of one enqueue. Fill with CM_JOB_OPTIONS_INIT or
 * cm_job_options_init(); grows only by appending fields. Fields left at
 * their initial value take the kind's defaults. Borrowed during the call.
 * @since 0.1
 */
typedef struct cm_job_options {
    uint32_t size;          /**< sizeof(cm_job_options) */
    int32_t priority;       /**< -1000..1000, higher first; CM_JOB_PRIORITY_DEFAULT */
    int64_t delay_us;       /**< run no earlier than now + delay; >= 0; default 0 */
    int64_t run_at;         /**< absolute earliest run time (UTC us); 0 = now + delay */
    int32_t max_attempts;   /**< 1..1000; 0 = the kind's */
    int32_t backoff;        /**< a cm_job_backoff; 0 = the kind's */
    int64_t backoff_us;     /**< >= 0; -1 = the kind's */
    int64_t backoff_max_us; /**< >= 0; -1 = the kind's */
    int64_t timeout_us;     /**< >= 0 (0 = none); -1 = the kind's */
    const char *queue;      /**< NULL = the kind's queue */
    const char *dedupe_key; /**< NULL = none; else 1..200 bytes, unique among live jobs */
    int32_t dedupe;         /**< a cm_job_dedupe */
} cm_job_options;

#define CM_JOB_OPTIONS_INIT                                                                        \
    {                                                                                              \
        (uint32_t)sizeof(cm_job_options), CM_JOB_PRIORITY_DEFAULT, 0, 0, 0, 0, -1, -1, -1, NULL,   \
            NULL, CM_JOB_DEDUPE_REJECT                                                             \
    }

/** Fill `opts` with the defaults. @return CM_OK or CM_EINVAL. @since 0.1 */
CM_API int cm_job_options_init(cm_job_options *opts, uint32_t size);

/**
 * Enqueue one job in its own transaction.
 *
 * @param id_out   [out] the new job's id; with a dedupe conflict, the id of
 *                 the live job holding the key (or of the replaced job). May
 *                 be NULL.
 * @param kind     a kind defined with cm_jobs_define().
 * @param payload  JSON text (any JSON value), UTF-8, `len` bytes, at most
 *                 the kind's max_payload; copied. NULL means "{}".
 * @param opts     NULL for the kind's defaults.
 * @return CM_OK; CM_EINVAL (field "kind" unknown or malformed, "payload"
 *         not JSON, "queue", "dedupe_key", "backoff", "dedupe");
 *         CM_ERANGE (field "payload" over the size limit, "delay_us"
 *         negative, "priority", "max_attempts", "backoff_us",
 *         "timeout_us", "run_at"); CM_EEXISTS (dedupe conflict, `*id_out`
 *         set); CM_EBUSY; CM_EBACKEND. On failure nothing is stored.
 * Thread-safe. @since 0.1
 */
CM_API int cm_jobs_enqueue(int64_t *id_out, cm_store *store, const char *kind, const char *payload,
                           size_t len, const cm_job_options *opts);

/**
 * Enqueue `n` jobs of one kind with the same options in one transaction.
 *
 * @param ids_out      [out] n ids (caller's buffer): > 0 for a new (or
 *                     replaced) job, < 0 for the negated id of the live job
 *                     that kept dedupe_keys[i] (CM_JOB_DEDUPE_REJECT, or
 *                     REPLACE of a running job). May be NULL.
 * @param payloads     n JSON texts; an element NULL means "{}".
 * @param lens         their lengths.
 * @param dedupe_keys  NULL, or n keys (elements may be NULL); opts->dedupe_key
 *                     must then be NULL.
 * @return as cm_jobs_enqueue(), except that dedupe conflicts are reported in
 *         ids_out, not as an error. The first invalid element fails the
 *         whole batch (nothing stored) and its index is in the message.
 * Thread-safe. @since 0.1
 */
CM_API int cm_jobs_enqueue_batch(int64_t *ids_out, cm_store *store, const char *kind,
                                 const char *const *payloads, const size_t *lens,
                                 const char *const *dedupe_keys, size_t n,
                                 const cm_job_options *opts);

/**
 * Cancel a job. A delayed or queued job becomes "cancelled" at once. For a
 * running job cancellation is requested: its handler sees cm_job_lost()
 * return CM_ECANCELED at the next heartbeat, and the job ends "cancelled"
 * unless the handler still completes it.
 *
 * @return CM_OK (cancelled, requested, or already cancelled); CM_ENOTFOUND;
 *         CM_ECONFLICT (already completed, failed or dead).
 * Thread-safe. @since 0.1
 */
CM_API int cm_jobs_cancel(cm_store *store, int64_t job_id);

/**
 * Limit how many jobs of `queue` start per `period_us`, across every
 * process using the store (a fixed window kept in the database).
 * `max` 0 removes the limit. @return CM_OK; CM_EINVAL (field "queue",
 * "period_us"). Thread-safe. @since 0.1
 */
CM_API int cm_jobs_set_rate_limit(cm_store *store, const char *queue, uint32_t max,
                                  int64_t period_us);

/**
 * Delete finished jobs: completed and cancelled ones that finished before
 * `completed_before`, failed and dead ones that finished before
 * `failed_before` (UTC us; 0 keeps them). Deletes in small transactions.
 * @param deleted_out  [out] number of jobs deleted; may be NULL.
 * Thread-safe. @since 0.1
 */
CM_API int cm_jobs_prune(int64_t *deleted_out, cm_store *store, int64_t completed_before,
                         int64_t failed_before);

/**
 * Queue statistics as JSON, freed with cm_free():
 * {"at": RFC 3339, "window_s": 300, "queues": {"<queue>": {"delayed": n,
 * "queued": n, "running": n, "oldest_queued_age_ms": n|null,
 * "finished": {"completed": n, "failed": n, "dead": n, "cancelled": n},
 * "throughput_per_s": x, "wait_ms": {"p50": x, "p99": x},
 * "run_ms": {"p50": x, "p99": x}}}}. "finished", the throughput and the
 * latency percentiles cover the last `window_s` seconds (300); waits are
 * from the run time to the start of the successful attempt.
 * Thread-safe. @since 0.1
 */
CM_API int cm_jobs_stats(char **out, cm_store *store);

/* ------------------------------------------------------------------------ */
/* Repeatable jobs                                                          */
/* ------------------------------------------------------------------------ */

/** What a schedule does with runs that came due while no scheduler ran. @since 0.1 */
typedef enum cm_job_missed {
    CM_JOB_MISSED_RUN_ONCE = 0, /**< one job for any number of missed runs (default) */
    CM_JOB_MISSED_SKIP = 1,     /**< run only if the latest run is at most grace_us late */
    CM_JOB_MISSED_RUN_ALL = 2   /**< one job per missed run (at most 100 per pass) */
} cm_job_missed;

/**
 * Options of a repeatable schedule: exactly one of `cron` and `every_us`.
 * Fill with CM_JOB_SCHEDULE_OPTIONS_INIT. @since 0.1
 */
typedef struct cm_job_schedule_options {
    uint32_t size;        /**< sizeof(cm_job_schedule_options) */
    int32_t missed;       /**< a cm_job_missed */
    const char *cron;     /**< 5-field cron "min hour dom month dow" (lists, ranges,
                               steps, names; dom/dow OR-ed when both restricted) or
                               @hourly, @daily, @weekly, @monthly, @yearly */
    const char *timezone; /**< IANA zone the cron fields are read in; NULL = "UTC" */
    int64_t every_us;     /**< fixed interval, >= 1 s; 0 when cron is used */
    int64_t start_at;     /**< every_us: first run (UTC us); 0 = now + every_us */
    int64_t grace_us;     /**< CM_JOB_MISSED_SKIP: lateness still run; default 60 s */
    const char *queue;    /**< NULL = the kind's queue */
} cm_job_schedule_options;

#define CM_JOB_SCHEDULE_OPTIONS_INIT                                                               \
    {                                                                                              \
        (uint32_t)sizeof(cm_job_schedule_options), CM_JOB_MISSED_RUN_ONCE, NULL, NULL, 0, 0,       \
            60000000, NULL                                                                         \
    }

/**
 * Create or replace the repeatable schedule `name`: a running scheduler
 * enqueues a job of `kind` with `payload` at each run. A run is skipped
 * while the previous run's job is still delayed, queued or running (its
 * dedupe key is "schedule:<name>"; CM_JOB_MISSED_RUN_ALL uses one key per
 * run). Cron times follow the zone's daylight-saving changes: a time
 * skipped by a spring-forward runs at the same offset after it, a repeated
 * time runs once.
 *
 * @param id_out  [out] the schedule id; may be NULL.
 * @return CM_OK; CM_EINVAL (field "name", "kind", "cron", "timezone",
 *         "payload", "every_us"); CM_ERANGE (field "every_us", "payload").
 * Thread-safe. @since 0.1
 */
CM_API int cm_jobs_schedule(int64_t *id_out, cm_store *store, const char *name, const char *kind,
                            const char *payload, size_t len, const cm_job_schedule_options *opts);

/** Remove schedule `name`. @return CM_OK, CM_ENOTFOUND. Thread-safe. @since 0.1 */
CM_API int cm_jobs_unschedule(cm_store *store, const char *name);

/* ------------------------------------------------------------------------ */
/* Handlers                                                                 */
/* ------------------------------------------------------------------------ */

/**
 * A job handler, called on a scheduler worker thread. Return CM_OK to
 * complete the job (unless it was already completed with
 * cm_job_complete_exec()), or a negative CM_E* to fail the attempt: the
 * current thread's error message (cm_error_message()) is recorded as the
 * job's last error, and the job is retried after its backoff until its
 * attempts are exhausted ("dead"). The `job` handle is valid until the
 * handler returns.
 */
typedef int (*cm_job_fn)(cm_job *job, void *payload);

/** The job's id. @since 0.1 */
CM_API int64_t cm_job_id(const cm_job *job);
/** The job's kind. Borrowed, valid during the handler. @since 0.1 */
CM_API const char *cm_job_kind(const cm_job *job);
/** The job's queue. Borrowed, valid during the handler. @since 0.1 */
CM_API const char *cm_job_queue(const cm_job *job);
/** The payload JSON text (NUL-terminated; `len_out` may be NULL). Borrowed. @since 0.1 */
CM_API const char *cm_job_payload(const cm_job *job, size_t *len_out);
/** This attempt's number, 1 for the first (counted when the job was claimed). @since 0.1 */
CM_API int32_t cm_job_attempt(const cm_job *job);
/** The job's attempt limit. @since 0.1 */
CM_API int32_t cm_job_max_attempts(const cm_job *job);
/** The fencing token of this worker's lease (incremented at every claim). @since 0.1 */
CM_API int64_t cm_job_lease_token(const cm_job *job);
/** The store the job lives in (borrowed). @since 0.1 */
CM_API cm_store *cm_job_store(const cm_job *job);

/**
 * Whether the handler should stop: CM_OK (0) while the lease is held;
 * CM_ELEASE when the lease was lost (it lapsed and another worker may
 * hold the job); CM_ETIMEOUT when the job's timeout passed (the attempt was
 * already failed); CM_ECANCELED when cancellation was requested or the
 * scheduler is shutting down past its drain deadline. Set by the
 * scheduler's heartbeat; any thread may call it. @since 0.1
 */
CM_API int cm_job_lost(const cm_job *job);

/**
 * Sleep up to `timeout_us`, returning early when the job is lost.
 * @return what cm_job_lost() returns. @since 0.1
 */
CM_API int cm_job_wait(cm_job *job, int64_t timeout_us);

/**
 * Record the job's progress (any JSON value, copied) under its lease.
 * @return CM_OK; CM_EINVAL (field "progress": not JSON or over 64 KiB);
 *         CM_ELEASE (the lease is no longer this worker's). @since 0.1
 */
CM_API int cm_job_progress(cm_job *job, const char *json, size_t len);

/**
 * Set the result stored when the job completes (JSON, copied, <= 64 KiB).
 * @return CM_OK, CM_EINVAL (field "result"). @since 0.1
 */
CM_API int cm_job_set_result(cm_job *job, const char *json, size_t len);

/**
 * When the handler then fails, retry after `delay_us` (>= 0) instead of the
 * kind's backoff (the handler-supplied delay). @since 0.1
 */
CM_API void cm_job_retry_in(cm_job *job, int64_t delay_us);

/** When the handler then fails, do not retry: the job ends "failed". @since 0.1 */
CM_API void cm_job_no_retry(cm_job *job);

/**
 * Run operation `op` (as cm_exec() would, for `actor`) and mark the job
 * completed, in ONE transaction: either both commit or neither does. Once
 * this returns CM_OK the job is completed and the handler's return value
 * no longer matters.
 *
 * @param out  [out] the operation's JSON result (cm_free()); may be NULL.
 * @return what cm_exec() returns; CM_ELEASE when the lease is no longer
 *         this worker's (nothing was committed).
 * Call only from the job's handler. @since 0.1
 */
CM_API int cm_job_complete_exec(char **out, cm_job *job, const cm_actor *actor, const char *op,
                                const char *json_in, size_t len);

/* ------------------------------------------------------------------------ */
/* Scheduler                                                                */
/* ------------------------------------------------------------------------ */

/** Events reported to the scheduler's event hook. @since 0.1 */
typedef enum cm_job_event {
    CM_JOB_EVENT_STARTED = 1,    /**< a handler starts (worker thread) */
    CM_JOB_EVENT_COMPLETED = 2,  /**< the job completed */
    CM_JOB_EVENT_RETRY = 3,      /**< the attempt failed; a retry is scheduled */
    CM_JOB_EVENT_FAILED = 4,     /**< the attempt failed; no retry (cm_job_no_retry) */
    CM_JOB_EVENT_DEAD = 5,       /**< the attempt failed; attempts exhausted */
    CM_JOB_EVENT_CANCELLED = 6,  /**< the job ended cancelled */
    CM_JOB_EVENT_LEASE_LOST = 7, /**< this worker lost the job's lease */
    CM_JOB_EVENT_TIMEOUT = 8,    /**< the attempt exceeded its timeout */
    CM_JOB_EVENT_RECOVERED = 9   /**< a lapsed lease of another worker was recovered */
} cm_job_event;

/**
 * The event hook. `queue` and `kind` are borrowed for the call (`kind` is
 * "" for CM_JOB_EVENT_RECOVERED); `status` is the handler's or the
 * operation's CM_E* code where one applies; `duration_us` the handler's
 * run time where one applies. Called on a worker thread or on the
 * scheduler's own thread, possibly concurrently: it must be thread-safe,
 * quick, and must not call back into the scheduler.
 */
typedef void (*cm_job_event_fn)(int32_t event, int64_t job_id, const char *queue, const char *kind,
                                int32_t attempt, int32_t status, int64_t duration_us,
                                void *payload);

/** Options of cm_scheduler_open(). Fill with CM_SCHEDULER_OPTIONS_INIT. @since 0.1 */
typedef struct cm_scheduler_options {
    uint32_t size;                  /**< sizeof(cm_scheduler_options) */
    uint32_t threads;               /**< worker threads, 1..256; default 4 */
    uint32_t lease_ms;              /**< lease length, >= 100; default 30000. A dead worker's
                                         jobs wait this long (plus up to a second) */
    uint32_t heartbeat_ms;          /**< lease renewal interval, < lease_ms; 0 = lease_ms / 3.
                                         Also the recovery interval when under 1000 */
    uint32_t poll_ms;               /**< idle poll interval; default 200 */
    uint32_t prefetch;              /**< jobs claimed ahead of free threads; default 0 */
    uint32_t drain_ms;              /**< cm_scheduler_close() drain deadline; default 30000 */
    uint32_t flags;                 /**< CM_SCHEDULER_* */
    const char *worker_id;          /**< lease owner name; NULL = "host:pid:random" (copied) */
    cm_job_event_fn on_event;       /**< optional event hook */
    void *event_payload;            /**< passed to on_event */
    int64_t completed_retention_us; /**< prune completed/cancelled jobs older than this;
                                         0 = keep; default 1 day */
    int64_t failed_retention_us;    /**< prune failed/dead jobs older than this;
                                         0 = keep; default 7 days */
} cm_scheduler_options;

/** Do not enqueue the runs of repeatable schedules from this scheduler. */
#define CM_SCHEDULER_NO_SCHEDULES 0x1u
/** Do not prune finished jobs from this scheduler. */
#define CM_SCHEDULER_NO_PRUNE 0x2u
/** Also run the platform's own jobs (event reminders, waitlist notices) on queue "platform". */
#define CM_SCHEDULER_PLATFORM_JOBS 0x4u
/**
 * Do not listen for wake-ups from other processes: find their jobs by
 * polling only (every poll_ms). On PostgreSQL the scheduler otherwise keeps
 * one extra connection that LISTENs, so that a job enqueued by any process
 * starts within milliseconds; set this (or the URI parameter notify=off)
 * behind a pooler in transaction mode, such as PgBouncer, where a session
 * cannot LISTEN. SQLite has no such wake-ups: it always polls across
 * processes (within a process an enqueue wakes the scheduler directly).
 * @since 0.1
 */
#define CM_SCHEDULER_NO_LISTEN 0x8u
/**
 * Serve only the queues given a concurrency with
 * cm_scheduler_set_concurrency() before start: jobs of registered kinds on
 * other queues are left to other workers. cm_scheduler_start() then fails
 * with CM_EINVAL (field "queue") when no queue was listed or a listed
 * queue holds none of the registered kinds. @since 0.1
 */
#define CM_SCHEDULER_ONLY_LISTED_QUEUES 0x10u

#define CM_SCHEDULER_OPTIONS_INIT                                                                  \
    {                                                                                              \
        (uint32_t)sizeof(cm_scheduler_options), 4, 30000, 0, 200, 0, 30000, 0, NULL, NULL, NULL,   \
            86400000000, 604800000000                                                              \
    }

/** Fill `opts` with the defaults. @return CM_OK or CM_EINVAL. @since 0.1 */
CM_API int cm_scheduler_options_init(cm_scheduler_options *opts, uint32_t size);

/**
 * Constructor of cm_scheduler: prepare a scheduler on `store` (which must
 * outlive it). Nothing runs until cm_scheduler_start().
 * @param out  [out] the scheduler; NULL on failure. Destroy with
 *             cm_scheduler_close().
 * @return CM_OK; CM_EINVAL (field "threads", "lease_ms", ...); CM_ENOMEM.
 * @since 0.1
 */
CM_API int cm_scheduler_open(cm_scheduler **out, cm_store *store, const cm_scheduler_options *opts);

/**
 * Register the handler of `kind` (before start). The kind is defined with
 * the default options if the store does not know it yet. The scheduler
 * serves the queues of its registered kinds, and must be given a handler
 * for every kind of those queues (a job without one fails its attempt).
 * @return CM_OK; CM_EINVAL (field "kind"); CM_EEXISTS (already registered);
 *         CM_EMISUSE (already started). @since 0.1
 */
CM_API int cm_scheduler_register(cm_scheduler *s, const char *kind, cm_job_fn fn, void *payload);

/**
 * Limit how many jobs of `queue` this scheduler holds (runs, or has claimed
 * ahead) at once; default threads + prefetch. Before start.
 * @return CM_OK; CM_EINVAL; CM_EMISUSE (already started). @since 0.1
 */
CM_API int cm_scheduler_set_concurrency(cm_scheduler *s, const char *queue, uint32_t concurrency);

/**
 * Start the worker threads and the scheduler's own thread (claims, lease
 * heartbeat, recovery of lapsed leases, schedules, pruning). Lapsed leases
 * of other workers are recovered first, before the first claim, then every
 * second (every heartbeat_ms when shorter), as are due schedules and
 * pruning.
 * @return CM_OK; CM_EINVAL (no handler registered); CM_EMISUSE (started
 *         twice); CM_ERROR (threads); store errors. @since 0.1
 */
CM_API int cm_scheduler_start(cm_scheduler *s);

/**
 * Wake the scheduler to claim now rather than at its next poll. Rarely
 * needed: after they commit, cm_jobs_enqueue(), cm_jobs_enqueue_batch(),
 * cm_exec() and cm_job_complete_exec() already wake the running schedulers
 * of their store in this process when they enqueued, retried or re-drove
 * jobs. Thread-safe. @since 0.1
 */
CM_API void cm_scheduler_notify(cm_scheduler *s);

/**
 * Stop claiming and drain, blocking: jobs claimed but not started are put
 * back; running handlers are waited for up to `timeout_us`; past it, their
 * leases are released (the jobs are queued again for another worker) and
 * cm_job_lost() tells them CM_ECANCELED, then they are waited for. After
 * it returns, only cm_scheduler_close() may be called.
 * @return CM_OK (drained in time); CM_ETIMEOUT (leases were released);
 *         CM_EMISUSE (not running). Not from a handler. @since 0.1
 */
CM_API int cm_scheduler_stop(cm_scheduler *s, int64_t timeout_us);

/** Called once the scheduler has drained and been freed. */
typedef void (*cm_scheduler_close_fn)(void *payload);

/**
 * Destructor of cm_scheduler (asynchronous, like uv_close). If it is
 * running, it drains as cm_scheduler_stop() would with the options'
 * drain_ms, on its own thread, then frees itself and calls `cb` on that
 * thread. If it never started or was already stopped, it is freed and `cb`
 * is called before this returns. Accepts NULL (then calls cb if given).
 * `cb` may be NULL. Not from a handler. @since 0.1
 */
CM_API void cm_scheduler_close(cm_scheduler *s, cm_scheduler_close_fn cb, void *payload);

/**
 * This scheduler's counters as JSON (cm_free()): {"worker_id", "threads",
 * "running", "held", "claimed", "completed", "retried", "failed", "dead",
 * "cancelled", "lease_lost", "timeouts", "recovered", "queues": {"q":
 * {"concurrency", "held"}}}. Thread-safe. @since 0.1
 */
CM_API int cm_scheduler_stats(char **out, cm_scheduler *s);

CM_END_DECLS

#endif /* COMMUNITY_JOBS_H */
