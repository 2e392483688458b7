/*
 * scheduler.c - cm_scheduler: the public lifecycle (open, register, start,
 * stop, asynchronous close) and the scheduler's own thread, a libuv loop
 * that claims jobs for the worker threads, renews their leases (heartbeat),
 * enforces per-job timeouts, recovers lapsed leases of dead workers, fires
 * repeatable schedules, prunes finished jobs and runs the shutdown drain.
 * It claims when woken (an enqueue in this process, a notification from
 * another one on the listening connection of listen.c, a finished job) and
 * at every poll_ms otherwise.
 *
 * Three timers: the poll (claims), the heartbeat (renews the leases this
 * scheduler holds, every heartbeat_ms) and the maintenance timer, every
 * second or every heartbeat_ms when that is shorter, which recovers lapsed
 * leases of dead workers, fires due schedules and prunes. Recovery also
 * runs once as the thread starts, before any claim, so that a worker that
 * keeps crashing and restarting still hands back its predecessors' jobs,
 * and a dead worker's job is queued again within a second of its lease
 * lapsing.
 *
 * The scheduler thread never holds the scheduler lock across a database
 * call: it copies what it needs (lease references) under the lock, works
 * on the copies, and re-finds jobs by id to apply the results.
 */
#include "scheduler_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RECOVER_MAX 64
#define MAINTAIN_EVERY_MS 1000u
#define SCHEDULES_EVERY_US INT64_C(1000000)
#define PRUNE_EVERY_US INT64_C(60000000)

/* ---- registry of running schedulers (for cm__scheduler_notify_store) ---- */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static cm_scheduler *reg_head;
static atomic_int reg_count; /* lets notify skip the lock when none runs */

static void reg_add(cm_scheduler *s)
{
    pthread_mutex_lock(&reg_lock);
    s->reg_next = reg_head;
    reg_head = s;
    atomic_fetch_add(&reg_count, 1);
    pthread_mutex_unlock(&reg_lock);
}

static void reg_remove(cm_scheduler *s)
{
    pthread_mutex_lock(&reg_lock);
    for (cm_scheduler **pp = &reg_head; *pp; pp = &(*pp)->reg_next)
        if (*pp == s) {
            *pp = s->reg_next;
            atomic_fetch_sub(&reg_count, 1);
            break;
        }
    pthread_mutex_unlock(&reg_lock);
}

void cm__scheduler_notify_store(cm_store *store)
{
    if (atomic_load_explicit(&reg_count, memory_order_relaxed) == 0)
        return; /* a hint: a scheduler starting now claims at once anyway */
    pthread_mutex_lock(&reg_lock);
    for (cm_scheduler *s = reg_head; s; s = s->reg_next)
        if (s->store == store) {
            uv_mutex_lock(&s->lock);
            cm__sched_wake_locked(s);
            uv_mutex_unlock(&s->lock);
        }
    pthread_mutex_unlock(&reg_lock);
}

/* The store whose jobs the current thread's open transaction made
 * claimable (cm__jobs_local_wake_mark), NULL when none. */
static _Thread_local cm_store *wake_pending;

void cm__jobs_local_wake_mark(cm_store *store)
{
    wake_pending = store;
}

void cm__jobs_local_wake_reset(void)
{
    wake_pending = NULL;
}

void cm__jobs_local_wake_flush(void)
{
    cm_store *store = wake_pending;
    wake_pending = NULL;
    if (store)
        cm__scheduler_notify_store(store);
}

void cm_scheduler_notify(cm_scheduler *s)
{
    if (!s)
        return;
    uv_mutex_lock(&s->lock);
    if (s->state == SCHED_RUNNING)
        cm__sched_wake_locked(s);
    uv_mutex_unlock(&s->lock);
}

/* ---- construction ---- */

int cm_scheduler_options_init(cm_scheduler_options *opts, uint32_t size)
{
    if (!opts || size < sizeof(uint32_t))
        return cm__error_set(CM_EINVAL, "cm_scheduler_options_init: bad struct size");
    cm_scheduler_options d = CM_SCHEDULER_OPTIONS_INIT;
    memset(opts, 0, size);
    memcpy(opts, &d, size < sizeof d ? size : sizeof d);
    opts->size = size;
    return CM_OK;
}

static void sched_free(cm_scheduler *s)
{
    for (size_t i = 0; i < s->n_handlers; i++)
        cm__free(s->handlers[i].kind);
    for (size_t i = 0; i < s->n_queues; i++)
        cm__free(s->queues[i].name);
    cm__free(s->handlers);
    cm__free(s->queues);
    cm__free(s->held);
    cm__free(s->threads);
    cm__free(s->worker_id);
    uv_mutex_destroy(&s->lock);
    uv_cond_destroy(&s->work_cond);
    uv_cond_destroy(&s->lost_cond);
    cm__free(s);
}

int cm_scheduler_open(cm_scheduler **out, cm_store *store, const cm_scheduler_options *in)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_scheduler_open: out is NULL");
    *out = NULL;
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_scheduler_open: store is NULL");
    cm_scheduler_options o = CM_SCHEDULER_OPTIONS_INIT;
    if (in) {
        if (in->size < sizeof(uint32_t))
            return cm__error_set(CM_EINVAL, "cm_scheduler_open: options size not set");
        memcpy(&o, in, in->size < sizeof o ? in->size : sizeof o);
        o.size = sizeof o;
    }
    if (o.threads < 1 || o.threads > 256)
        return cm__error_set_field(CM_EINVAL, "threads", "threads: 1..256");
    if (o.lease_ms < 100)
        return cm__error_set_field(CM_EINVAL, "lease_ms", "lease_ms: at least 100");
    if (o.heartbeat_ms == 0)
        o.heartbeat_ms = o.lease_ms / 3;
    if (o.heartbeat_ms >= o.lease_ms)
        return cm__error_set_field(CM_EINVAL, "heartbeat_ms",
                                   "heartbeat_ms: must be shorter than lease_ms");
    if (o.poll_ms == 0)
        o.poll_ms = 200;
    if (o.prefetch > 4096)
        return cm__error_set_field(CM_EINVAL, "prefetch", "prefetch: at most 4096");
    if (o.completed_retention_us < 0 || o.failed_retention_us < 0)
        return cm__error_set_field(CM_EINVAL, "completed_retention_us", "retention: must be >= 0");
    cm_scheduler *s = cm__calloc(1, sizeof *s);
    if (!s)
        return cm__oom();
    s->store = store;
    s->opts = o;
    s->opts.worker_id = NULL;
    if (o.worker_id) {
        s->worker_id = cm__strndup(o.worker_id, strnlen(o.worker_id, 79));
    } else {
        char host[64] = "host", buf[120];
        uint32_t r = 0;
        (void)gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = '\0';
        (void)cm__random_bytes(&r, sizeof r);
        (void)snprintf(buf, sizeof buf, "%.48s:%d:%08x", host, (int)getpid(), r);
        s->worker_id = cm__strdup(buf);
    }
    s->cap_held = o.threads + o.prefetch;
    s->held = cm__calloc(s->cap_held, sizeof *s->held);
    s->threads = cm__calloc(o.threads, sizeof *s->threads);
    if (!s->worker_id || !s->held || !s->threads) {
        cm__free(s->worker_id);
        cm__free(s->held);
        cm__free(s->threads);
        cm__free(s);
        return cm__oom();
    }
    uv_mutex_init(&s->lock);
    uv_cond_init(&s->work_cond);
    uv_cond_init(&s->lost_cond);
    atomic_init(&s->n_claimed, 0);
    atomic_init(&s->n_completed, 0);
    atomic_init(&s->n_retried, 0);
    atomic_init(&s->n_failed, 0);
    atomic_init(&s->n_dead, 0);
    atomic_init(&s->n_cancelled, 0);
    atomic_init(&s->n_lost, 0);
    atomic_init(&s->n_timeouts, 0);
    atomic_init(&s->n_recovered, 0);
    s->state = SCHED_NEW;
    *out = s;
    return CM_OK;
}

static cm__squeue *queue_find(cm_scheduler *s, const char *name)
{
    for (size_t i = 0; i < s->n_queues; i++)
        if (strcmp(s->queues[i].name, name) == 0)
            return &s->queues[i];
    return NULL;
}

static int queue_add(cm__squeue **out, cm_scheduler *s, const char *name, uint32_t conc)
{
    cm__squeue *q = queue_find(s, name);
    if (!q) {
        cm__squeue *grown = cm__realloc(s->queues, (s->n_queues + 1) * sizeof *grown);
        if (!grown)
            return cm__oom();
        s->queues = grown;
        q = &s->queues[s->n_queues];
        memset(q, 0, sizeof *q);
        if (!(q->name = cm__strdup(name)))
            return cm__oom();
        s->n_queues++;
        q->concurrency = conc;
    } else if (conc) {
        q->concurrency = conc;
    }
    *out = q;
    return CM_OK;
}

int cm_scheduler_register(cm_scheduler *s, const char *kind, cm_job_fn fn, void *payload)
{
    if (!s || !fn)
        return cm__error_set(CM_EINVAL, "cm_scheduler_register: NULL argument");
    int rc = cm__jobs_check_name(kind, "kind");
    if (rc)
        return rc;
    if (s->state != SCHED_NEW)
        return cm__error_set(CM_EMISUSE, "cm_scheduler_register: the scheduler has started");
    for (size_t i = 0; i < s->n_handlers; i++)
        if (strcmp(s->handlers[i].kind, kind) == 0)
            return cm__error_set_field(CM_EEXISTS, "kind", "kind: '%s' already has a handler",
                                       kind);
    cm__handler *grown = cm__realloc(s->handlers, (s->n_handlers + 1) * sizeof *grown);
    if (!grown)
        return cm__oom();
    s->handlers = grown;
    cm__handler *h = &s->handlers[s->n_handlers];
    if (!(h->kind = cm__strdup(kind)))
        return cm__oom();
    h->fn = fn;
    h->payload = payload;
    s->n_handlers++;
    return CM_OK;
}

int cm_scheduler_set_concurrency(cm_scheduler *s, const char *queue, uint32_t concurrency)
{
    if (!s)
        return cm__error_set(CM_EINVAL, "cm_scheduler_set_concurrency: scheduler is NULL");
    int rc = cm__jobs_check_name(queue, "queue");
    if (rc)
        return rc;
    if (concurrency < 1)
        return cm__error_set_field(CM_EINVAL, "concurrency", "concurrency: at least 1");
    if (s->state != SCHED_NEW)
        return cm__error_set(CM_EMISUSE, "cm_scheduler_set_concurrency: already started");
    cm__squeue *q;
    return queue_add(&q, s, queue, concurrency);
}

/* Define the handlers' kinds if the store lacks them and learn their queues. */
typedef struct start_call {
    cm_scheduler *s;
    char (*queues)[CM__JOBS_NAME_MAX + 1];
} start_call;

static int start_fn(cm__conn *conn, void *p)
{
    start_call *c = p;
    for (size_t i = 0; i < c->s->n_handlers; i++) {
        int rc = cm__jobs_define_tx(conn, c->s->handlers[i].kind, NULL, true);
        if (rc || (rc = cm__jobs_kind_queue(c->queues[i], conn, c->s->handlers[i].kind)))
            return rc;
    }
    return CM_OK;
}

/* ---- the scheduler thread ---- */

static void check_drained(cm_scheduler *s);

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

/* Claim for every queue with free slots, repeating while batches come back
 * full and capacity remains. */
static void do_claim(cm_scheduler *s)
{
    cm__claim_queue qs[64];
    size_t map[64];
    size_t nq = s->n_queues < 64 ? s->n_queues : 64;
    for (int round = 0; round < 16; round++) {
        int64_t now = cm_now_us();
        bool any = false;
        uv_mutex_lock(&s->lock);
        if (s->state != SCHED_RUNNING) {
            uv_mutex_unlock(&s->lock);
            return;
        }
        uint32_t room = (uint32_t)(s->cap_held - s->n_held);
        /* With prefetch, refill the local queue when it runs low (as many
         * ready jobs as threads) or is half empty, not each time a slot
         * frees: every claim is a commit, which is what a busy scheduler
         * waits for (an fsync on PostgreSQL). Idle, it claims at once. */
        size_t ready = s->n_held - s->running;
        if (ready >= s->opts.threads && room < s->cap_held / 2) {
            uv_mutex_unlock(&s->lock);
            return;
        }
        s->claim_rr++; /* the queue asked first changes every time */
        for (size_t k = 0; k < nq; k++) {
            size_t i = (k + s->claim_rr) % nq;
            cm__squeue *q = &s->queues[i];
            uint32_t want = q->concurrency > q->held ? q->concurrency - q->held : 0;
            if (want > room)
                want = room;
            if (q->limited_until > now)
                want = 0;
            map[k] = i;
            qs[k] = (cm__claim_queue){.queue = q->name, .want = want};
            any |= want > 0;
        }
        uv_mutex_unlock(&s->lock);
        if (!any)
            return;
        cm_job *list = NULL;
        int rc = cm__jobs_claim(&list, s->store, qs, nq, room, s->worker_id,
                                (int64_t)s->opts.lease_ms * 1000);
        if (rc) {
            cm__log(CM_LOG_WARN, "jobs", "worker %s: claim failed: %s", s->worker_id,
                    cm_error_message());
            return;
        }
        bool full = false;
        uint32_t got = 0;
        uv_mutex_lock(&s->lock);
        for (size_t k = 0; k < nq; k++) {
            s->queues[map[k]].limited_until = qs[k].limited_until;
            full |= qs[k].want > 0 && qs[k].got == qs[k].want;
            got += qs[k].got;
        }
        size_t n = 0;
        while (list) {
            cm_job *j = list;
            list = j->next;
            j->next = NULL;
            j->sched = s;
            cm__squeue *q = queue_find(s, j->queue);
            if (q)
                q->held++;
            s->held[s->n_held++] = j; /* room was reserved above */
            if (s->ready_tail)
                s->ready_tail->next = j;
            else
                s->ready_head = j;
            s->ready_tail = j;
            n++;
        }
        if (n)
            uv_cond_broadcast(&s->work_cond);
        uv_mutex_unlock(&s->lock);
        atomic_fetch_add(&s->n_claimed, (long long)n);
        if (!full || got == room)
            return;
    }
}

void cm__sched_claim(cm_scheduler *s)
{
    do_claim(s);
}

static void on_poll(uv_timer_t *t)
{
    cm_scheduler *s = t->data;
    cm__sched_listen_tick(s, cm_now_us());
    do_claim(s);
}

/* Copy the leases of held jobs (lock held); `running_only` for the drain. */
static size_t snapshot(cm_scheduler *s, cm__lease_ref *refs, bool *timed_out, int64_t now,
                       bool running_only)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_held; i++) {
        cm_job *j = s->held[i];
        if (j->abandoned || (running_only && !j->running))
            continue;
        refs[n] = (cm__lease_ref){j->id, j->lease_token, j->deadline};
        if (timed_out)
            timed_out[n] = j->running && j->deadline && now >= j->deadline;
        n++;
    }
    return n;
}

static cm_job *held_find(cm_scheduler *s, int64_t id, int64_t token)
{
    for (size_t i = 0; i < s->n_held; i++)
        if (s->held[i]->id == id && s->held[i]->lease_token == token)
            return s->held[i];
    return NULL;
}

/* Drop abandoned jobs that never started from the ready FIFO (lock held). */
static void prune_ready(cm_scheduler *s, cm_job **freed)
{
    for (cm_job **pp = &s->ready_head; *pp;) {
        cm_job *j = *pp;
        if (j->abandoned) {
            *pp = j->next;
            cm__sched_unhold(s, j);
            j->next = *freed;
            *freed = j;
        } else {
            pp = &j->next;
        }
    }
    s->ready_tail = NULL;
    for (cm_job *j = s->ready_head; j; j = j->next)
        s->ready_tail = j;
}

/* Renew the leases of held jobs, fail those past their timeout, and tell
 * handlers about lost leases and cancellation requests. */
static void heartbeat(cm_scheduler *s, int64_t now)
{
    uv_mutex_lock(&s->lock);
    size_t cap = s->n_held;
    uv_mutex_unlock(&s->lock);
    if (cap == 0)
        return;
    cm__lease_ref *refs = cm__calloc(cap, sizeof *refs);
    bool *timed_out = cm__calloc(cap, sizeof *timed_out);
    int *rcs = cm__calloc(cap, sizeof *rcs);
    cm__lease_ref *renew = cm__calloc(cap, sizeof *renew);
    cm_job *tmo = cm__calloc(cap, sizeof *tmo);
    cm_job **tmo_p = cm__calloc(cap, sizeof *tmo_p);
    if (!refs || !timed_out || !rcs || !renew || !tmo || !tmo_p)
        goto out;
    uv_mutex_lock(&s->lock);
    size_t n = snapshot(s, refs, timed_out, now, false);
    if (n > cap)
        n = cap;
    /* Timed-out attempts: fail them now (on copies: the handler still runs). */
    size_t nt = 0, nr = 0;
    for (size_t i = 0; i < n; i++) {
        cm_job *j = held_find(s, refs[i].id, refs[i].token);
        if (timed_out[i] && j) {
            cm_job *t = &tmo[nt];
            t->store = s->store;
            t->id = j->id;
            t->lease_token = j->lease_token;
            t->attempt = j->attempt;
            t->max_attempts = j->max_attempts;
            t->backoff = j->backoff;
            t->backoff_us = j->backoff_us;
            t->backoff_max_us = j->backoff_max_us;
            t->run_at = j->run_at;
            t->status = CM_ETIMEOUT;
            (void)snprintf(t->error, sizeof t->error, "timed out after %lld ms",
                           (long long)(j->timeout_us / 1000));
            tmo_p[nt] = t;
            nt++;
        } else {
            renew[nr++] = refs[i];
        }
    }
    uv_mutex_unlock(&s->lock);

    int trc = nt ? cm__jobs_finish(tmo_p, nt) : CM_OK;
    int rrc = cm__jobs_renew(s->store, renew, rcs, nr, (int64_t)s->opts.lease_ms * 1000);
    if (trc || rrc)
        cm__log(CM_LOG_WARN, "jobs", "worker %s: heartbeat failed: %s", s->worker_id,
                cm_error_message());

    /* Apply the outcome; report events after unlocking (jobs held by ref). */
    struct ev {
        cm_job *job;
        int32_t type;
        int finish_rc;
        char state[12];
    } *evs = cm__calloc(nt + nr + 1, sizeof *evs);
    size_t ne = 0;
    bool told = false;
    cm_job *freed = NULL;
    uv_mutex_lock(&s->lock);
    for (size_t i = 0; i < nt && trc == CM_OK; i++) {
        cm_job *j = held_find(s, tmo[i].id, tmo[i].lease_token);
        if (!j || j->abandoned)
            continue;
        j->abandoned = true;
        atomic_store(&j->lost, tmo[i].finish_rc ? CM_ELEASE : CM_ETIMEOUT);
        if (evs) {
            atomic_fetch_add(&j->refs, 1);
            evs[ne] = (struct ev){j, CM_JOB_EVENT_TIMEOUT, tmo[i].finish_rc, ""};
            (void)snprintf(evs[ne].state, sizeof evs[ne].state, "%s", tmo[i].final_state);
            ne++;
        }
    }
    for (size_t i = 0; i < nr && rrc == CM_OK; i++) {
        cm_job *j = held_find(s, renew[i].id, renew[i].token);
        if (!j || rcs[i] == CM_OK || atomic_load(&j->lost))
            continue;
        atomic_store(&j->lost, rcs[i]);
        told = true;
        if (rcs[i] == CM_ELEASE) {
            j->abandoned = true;
            if (j->running && evs) {
                atomic_fetch_add(&j->refs, 1);
                evs[ne++] = (struct ev){j, CM_JOB_EVENT_LEASE_LOST, CM_ELEASE, ""};
            }
        }
    }
    if (ne || told)
        uv_cond_broadcast(&s->lost_cond);
    prune_ready(s, &freed);
    if (freed)
        cm__sched_wake_locked(s);
    uv_mutex_unlock(&s->lock);

    for (size_t i = 0; i < ne; i++) {
        cm_job *j = evs[i].job;
        if (evs[i].type == CM_JOB_EVENT_TIMEOUT) {
            atomic_fetch_add(&s->n_timeouts, 1);
            cm__sched_event(s, CM_JOB_EVENT_TIMEOUT, j, CM_ETIMEOUT, 0);
            cm__sched_report_finish(s, j, evs[i].state, evs[i].finish_rc, CM_ETIMEOUT, 0);
        } else {
            atomic_fetch_add(&s->n_lost, 1);
            cm__sched_event(s, CM_JOB_EVENT_LEASE_LOST, j, CM_ELEASE, 0);
        }
        cm__job_free(j);
    }
    cm__free(evs);
    while (freed) {
        cm_job *j = freed;
        freed = j->next;
        cm__job_free(j);
    }
out:
    cm__free(refs);
    cm__free(timed_out);
    cm__free(rcs);
    cm__free(renew);
    cm__free(tmo);
    cm__free(tmo_p);
}

/* Recover lapsed leases, in batches until none is left (at most 16). */
static void recover(cm_scheduler *s, int64_t now)
{
    int64_t ids[RECOVER_MAX];
    size_t total = 0;
    for (int round = 0; round < 16; round++) {
        size_t n = 0;
        int rc = cm__jobs_recover(&n, ids, s->store, now, RECOVER_MAX);
        if (rc) {
            cm__log(CM_LOG_WARN, "jobs", "worker %s: lease recovery failed: %s", s->worker_id,
                    cm_error_message());
            break;
        }
        for (size_t i = 0; i < n; i++) {
            cm_job info = {.id = ids[i]};
            atomic_fetch_add(&s->n_recovered, 1);
            cm__sched_event(s, CM_JOB_EVENT_RECOVERED, &info, CM_OK, 0);
        }
        total += n;
        if (n < RECOVER_MAX)
            break;
    }
    if (total) {
        cm__log(CM_LOG_INFO, "jobs", "worker %s: recovered %zu jobs with lapsed leases",
                s->worker_id, total);
        s->claim_again = true;
    }
}

static void on_heartbeat(uv_timer_t *t)
{
    cm_scheduler *s = t->data;
    heartbeat(s, cm_now_us());
}

/* Recovery, schedules, pruning (every maint_ms, on the scheduler thread). */
static void on_maintain(uv_timer_t *t)
{
    cm_scheduler *s = t->data;
    if (s->drain_started)
        return;
    int64_t now = cm_now_us();
    cm__sched_listen_tick(s, now);
    recover(s, now);
    if (!(s->opts.flags & CM_SCHEDULER_NO_SCHEDULES) && now >= s->next_schedules) {
        s->next_schedules = now + SCHEDULES_EVERY_US;
        size_t fired = 0;
        if (cm__jobs_fire_schedules(&fired, s->store, now))
            cm__log(CM_LOG_WARN, "jobs", "worker %s: schedules: %s", s->worker_id,
                    cm_error_message());
        if (fired)
            s->claim_again = true;
    }
    if (!(s->opts.flags & CM_SCHEDULER_NO_PRUNE) && now >= s->next_prune &&
        (s->opts.completed_retention_us || s->opts.failed_retention_us)) {
        s->next_prune = now + PRUNE_EVERY_US;
        int64_t cb = s->opts.completed_retention_us ? now - s->opts.completed_retention_us : 0;
        int64_t fb = s->opts.failed_retention_us ? now - s->opts.failed_retention_us : 0;
        if (cm_jobs_prune(NULL, s->store, cb, fb))
            cm__log(CM_LOG_WARN, "jobs", "worker %s: prune: %s", s->worker_id, cm_error_message());
    }
    if (s->claim_again) {
        s->claim_again = false;
        do_claim(s);
    }
}

/* Past the drain deadline: hand the running jobs back. */
static void on_drain_timeout(uv_timer_t *t)
{
    cm_scheduler *s = t->data;
    s->drain_expired = true;
    s->stop_rc = CM_ETIMEOUT;
    uv_timer_stop(&s->hb_timer);
    uv_mutex_lock(&s->lock);
    size_t cap = s->n_held;
    cm__lease_ref *refs = cap ? cm__calloc(cap, sizeof *refs) : NULL;
    size_t n = 0;
    if (refs) {
        n = snapshot(s, refs, NULL, 0, true);
        for (size_t i = 0; i < n; i++) {
            cm_job *j = held_find(s, refs[i].id, refs[i].token);
            if (j) {
                j->abandoned = true;
                atomic_store(&j->lost, CM_ECANCELED);
            }
        }
        uv_cond_broadcast(&s->lost_cond);
    }
    uv_mutex_unlock(&s->lock);
    if (n && cm__jobs_release(s->store, refs, n, false))
        cm__log(CM_LOG_WARN, "jobs", "worker %s: releasing leases at shutdown failed: %s",
                s->worker_id, cm_error_message());
    if (n)
        cm__log(CM_LOG_WARN, "jobs",
                "worker %s: drain deadline passed, released %zu running "
                "jobs",
                s->worker_id, n);
    cm__free(refs);
    check_drained(s);
}

static void begin_drain(cm_scheduler *s)
{
    s->drain_started = true;
    uv_timer_stop(&s->poll_timer);
    uv_timer_stop(&s->maint_timer);
    cm__sched_listen_close(s);
    /* Jobs claimed but not started go back without counting the attempt. */
    uv_mutex_lock(&s->lock);
    size_t cap = s->n_held, n = 0;
    cm__lease_ref *refs = cap ? cm__calloc(cap, sizeof *refs) : NULL;
    cm_job *freed = NULL;
    for (cm_job *j = s->ready_head; j && refs; j = j->next)
        if (!j->abandoned) {
            refs[n++] = (cm__lease_ref){j->id, j->lease_token, 0};
            j->abandoned = true;
        }
    if (refs)
        prune_ready(s, &freed);
    uv_mutex_unlock(&s->lock);
    if (n && cm__jobs_release(s->store, refs, n, true))
        cm__log(CM_LOG_WARN, "jobs", "worker %s: releasing unstarted jobs failed: %s", s->worker_id,
                cm_error_message());
    cm__free(refs);
    while (freed) {
        cm_job *j = freed;
        freed = j->next;
        cm__job_free(j);
    }
    int64_t us = s->drain_timeout_us < 0 ? 0 : s->drain_timeout_us;
    uv_timer_start(&s->drain_timer, on_drain_timeout, (uint64_t)((us + 999) / 1000), 0);
    check_drained(s);
}

static void check_drained(cm_scheduler *s)
{
    uv_mutex_lock(&s->lock);
    bool drained = s->running == 0 && !s->done_head && !s->flushing && !s->ready_head;
    if (drained) {
        s->workers_exit = true;
        s->loop_closing = true;
        uv_cond_broadcast(&s->work_cond);
    }
    uv_mutex_unlock(&s->lock);
    if (!drained)
        return;
    reg_remove(s);
    cm__sched_listen_close(s);
    uv_close((uv_handle_t *)&s->wake, on_closed);
    uv_close((uv_handle_t *)&s->poll_timer, on_closed);
    uv_close((uv_handle_t *)&s->hb_timer, on_closed);
    uv_close((uv_handle_t *)&s->maint_timer, on_closed);
    uv_close((uv_handle_t *)&s->drain_timer, on_closed);
}

static void on_wake(uv_async_t *a)
{
    cm_scheduler *s = a->data;
    uv_mutex_lock(&s->lock);
    bool stopping = s->state == SCHED_STOPPING;
    uv_mutex_unlock(&s->lock);
    if (stopping && !s->drain_started)
        begin_drain(s);
    else if (stopping)
        check_drained(s);
    else
        do_claim(s);
}

static void control_main(void *arg)
{
    cm_scheduler *s = arg;
    /* Before the first claim and whatever comes next (even a stop). */
    recover(s, cm_now_us());
    s->claim_again = false; /* the poll claims at once anyway */
    (void)uv_run(&s->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&s->loop);
    for (uint32_t i = 0; i < s->n_threads; i++)
        (void)uv_thread_join(&s->threads[i]);
    uv_mutex_lock(&s->lock);
    s->state = SCHED_STOPPED;
    bool closing = s->closing;
    cm_scheduler_close_fn cb = s->close_cb;
    void *payload = s->close_payload;
    uv_mutex_unlock(&s->lock);
    if (closing) {
        sched_free(s);
        if (cb)
            cb(payload);
    }
}

int cm__scheduler_start(cm_scheduler *s, cm__scheduler_platform_fn platform)
{
    if (!s)
        return cm__error_set(CM_EINVAL, "cm_scheduler_start: scheduler is NULL");
    if (s->state != SCHED_NEW)
        return cm__error_set(CM_EMISUSE, "cm_scheduler_start: already started");
    int rc;
    if ((s->opts.flags & CM_SCHEDULER_PLATFORM_JOBS) && (rc = platform(s, s->store)))
        return rc;
    if (s->n_handlers == 0)
        return cm__error_set(CM_EINVAL, "cm_scheduler_start: no handler registered");
    char(*names)[CM__JOBS_NAME_MAX + 1] = cm__calloc(s->n_handlers, sizeof *names);
    if (!names)
        return cm__oom();
    start_call sc = {s, names};
    rc = cm__store_run_tx(s->store, true, start_fn, &sc);
    size_t n_listed = s->n_queues; /* given a concurrency before start */
    for (size_t i = 0; rc == CM_OK && i < s->n_handlers; i++) {
        cm__squeue *q;
        rc = queue_add(&q, s, names[i], 0);
        if (rc == CM_OK && q->concurrency == 0)
            q->concurrency = (uint32_t)s->cap_held;
    }
    /* Only the listed queues: each must hold one of our kinds, and the
     * queues of our other kinds (appended after them) are not served. */
    if (rc == CM_OK && (s->opts.flags & CM_SCHEDULER_ONLY_LISTED_QUEUES)) {
        if (n_listed == 0)
            rc = cm__error_set_field(CM_EINVAL, "queue",
                                     "queue: CM_SCHEDULER_ONLY_LISTED_QUEUES and no queue "
                                     "given a concurrency");
        for (size_t i = 0; rc == CM_OK && i < n_listed; i++) {
            bool used = false;
            for (size_t h = 0; h < s->n_handlers && !used; h++)
                used = strcmp(names[h], s->queues[i].name) == 0;
            if (!used)
                rc = cm__error_set_field(CM_EINVAL, "queue",
                                         "queue: no registered kind runs on queue '%s'",
                                         s->queues[i].name);
        }
        while (rc == CM_OK && s->n_queues > n_listed)
            cm__free(s->queues[--s->n_queues].name);
    }
    /* A queue given a concurrency but holding none of our kinds is not served. */
    for (size_t i = 0; rc == CM_OK && i < s->n_queues;) {
        bool used = false;
        for (size_t h = 0; h < s->n_handlers && !used; h++)
            used = strcmp(names[h], s->queues[i].name) == 0;
        if (used) {
            i++;
            continue;
        }
        cm__free(s->queues[i].name);
        s->queues[i] = s->queues[--s->n_queues];
    }
    cm__free(names);
    if (rc)
        return rc;
    if (s->n_queues > 64)
        return cm__error_set(CM_EINVAL, "cm_scheduler_start: more than 64 queues");

    if (uv_loop_init(&s->loop))
        return cm__error_set(CM_ERROR, "cm_scheduler_start: cannot create the event loop");
    uv_async_init(&s->loop, &s->wake, on_wake);
    uv_timer_init(&s->loop, &s->poll_timer);
    uv_timer_init(&s->loop, &s->hb_timer);
    uv_timer_init(&s->loop, &s->maint_timer);
    uv_timer_init(&s->loop, &s->drain_timer);
    s->wake.data = s->poll_timer.data = s->hb_timer.data = s->maint_timer.data =
        s->drain_timer.data = s;
    /* Listen before the first claim: nothing enqueued after it is missed. */
    s->listen_wanted = !(s->opts.flags & CM_SCHEDULER_NO_LISTEN);
    (void)cm__sched_listen_start(s);
    uv_timer_start(&s->poll_timer, on_poll, 0, s->opts.poll_ms);
    uv_timer_start(&s->hb_timer, on_heartbeat, s->opts.heartbeat_ms, s->opts.heartbeat_ms);
    s->maint_ms =
        s->opts.heartbeat_ms < MAINTAIN_EVERY_MS ? s->opts.heartbeat_ms : MAINTAIN_EVERY_MS;
    uv_timer_start(&s->maint_timer, on_maintain, s->maint_ms, s->maint_ms);

    s->state = SCHED_RUNNING;
    for (uint32_t i = 0; i < s->opts.threads; i++) {
        if (uv_thread_create(&s->threads[i], cm__worker_main, s))
            break;
        s->n_threads++;
    }
    if (s->n_threads < s->opts.threads || uv_thread_create(&s->control, control_main, s)) {
        uv_mutex_lock(&s->lock);
        s->workers_exit = true;
        s->state = SCHED_NEW;
        uv_cond_broadcast(&s->work_cond);
        uv_mutex_unlock(&s->lock);
        for (uint32_t i = 0; i < s->n_threads; i++)
            (void)uv_thread_join(&s->threads[i]);
        s->n_threads = 0;
        s->workers_exit = false;
        cm__sched_listen_close(s);
        uv_close((uv_handle_t *)&s->wake, on_closed);
        uv_close((uv_handle_t *)&s->poll_timer, on_closed);
        uv_close((uv_handle_t *)&s->hb_timer, on_closed);
        uv_close((uv_handle_t *)&s->maint_timer, on_closed);
        uv_close((uv_handle_t *)&s->drain_timer, on_closed);
        (void)uv_run(&s->loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(&s->loop);
        return cm__error_set(CM_ERROR, "cm_scheduler_start: cannot create threads");
    }
    uv_mutex_lock(&s->lock);
    s->control_started = true;
    uv_mutex_unlock(&s->lock);
    reg_add(s);
    cm__log(CM_LOG_INFO, "jobs", "scheduler %s started: %u threads, %zu queues, lease %u ms",
            s->worker_id, s->opts.threads, s->n_queues, s->opts.lease_ms);
    return CM_OK;
}

int cm_scheduler_stop(cm_scheduler *s, int64_t timeout_us)
{
    if (!s)
        return cm__error_set(CM_EINVAL, "cm_scheduler_stop: scheduler is NULL");
    uv_mutex_lock(&s->lock);
    if (s->state != SCHED_RUNNING) {
        uv_mutex_unlock(&s->lock);
        return cm__error_set(CM_EMISUSE, "cm_scheduler_stop: the scheduler is not running");
    }
    s->state = SCHED_STOPPING;
    s->drain_timeout_us = timeout_us;
    cm__sched_wake_locked(s);
    uv_mutex_unlock(&s->lock);
    (void)uv_thread_join(&s->control);
    int rc = s->stop_rc;
    cm__log(CM_LOG_INFO, "jobs", "scheduler %s stopped%s", s->worker_id,
            rc ? " (drain deadline passed)" : "");
    return rc ? cm__error_set(rc, "drain deadline passed: running jobs were released") : CM_OK;
}

void cm_scheduler_close(cm_scheduler *s, cm_scheduler_close_fn cb, void *payload)
{
    if (!s) {
        if (cb)
            cb(payload);
        return;
    }
    uv_mutex_lock(&s->lock);
    int st = s->state;
    if (st == SCHED_RUNNING) {
        s->state = SCHED_STOPPING;
        s->closing = true;
        s->close_cb = cb;
        s->close_payload = payload;
        s->drain_timeout_us = (int64_t)s->opts.drain_ms * 1000;
        /* uv_thread_t is a pthread_t on Unix; nobody joins it now. */
        (void)pthread_detach(s->control);
        cm__sched_wake_locked(s);
        uv_mutex_unlock(&s->lock);
        return;
    }
    uv_mutex_unlock(&s->lock);
    if (st == SCHED_STOPPING)
        return; /* misuse: a cm_scheduler_stop() is in progress */
    sched_free(s);
    if (cb)
        cb(payload);
}

int cm_scheduler_stats(char **out, cm_scheduler *s)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_scheduler_stats: out is NULL");
    *out = NULL;
    if (!s)
        return cm__error_set(CM_EINVAL, "cm_scheduler_stats: scheduler is NULL");
    json_t *o = json_object(), *queues = json_object();
    uv_mutex_lock(&s->lock);
    json_object_set_new(o, "worker_id", json_string(s->worker_id));
    json_object_set_new(o, "threads", json_integer(s->opts.threads));
    json_object_set_new(o, "running", json_integer(s->running));
    json_object_set_new(o, "held", json_integer((json_int_t)s->n_held));
    for (size_t i = 0; i < s->n_queues; i++)
        json_object_set_new(queues, s->queues[i].name,
                            json_pack("{s:i,s:i}", "concurrency", (int)s->queues[i].concurrency,
                                      "held", (int)s->queues[i].held));
    uv_mutex_unlock(&s->lock);
    struct {
        const char *name;
        atomic_llong *v;
    } counters[] = {
        {"claimed", &s->n_claimed}, {"completed", &s->n_completed}, {"retried", &s->n_retried},
        {"failed", &s->n_failed},   {"dead", &s->n_dead},           {"cancelled", &s->n_cancelled},
        {"lease_lost", &s->n_lost}, {"timeouts", &s->n_timeouts},   {"recovered", &s->n_recovered},
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
        json_object_set_new(o, counters[i].name, json_integer(atomic_load(counters[i].v)));
    json_object_set_new(o, "queues", queues);
    int rc = cm__json_dump(out, o);
    json_decref(o);
    return rc;
}
