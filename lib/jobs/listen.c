/*
 * listen.c - wake-ups of schedulers in other processes: an enqueue (retry,
 * re-drive, release) tells the schedulers listening on the store that a
 * queue has work, at commit, and a running scheduler watches a dedicated
 * listening connection from its libuv loop and claims at once.
 *
 * These are hints with polling as the floor: a lost notification, a
 * listening connection that dropped, a backend without the hooks (SQLite,
 * where one process's enqueue wakes its own schedulers directly) or a
 * PostgreSQL URI with notify=off (PgBouncer transaction pooling) only
 * means that jobs wait for the next poll (poll_ms). Correctness never
 * depends on a notification: the claim decides who runs what.
 *
 * On PostgreSQL the channel is "cm_jobs" and the payload the queue name
 * ("" for any queue); NOTIFY rides on the transaction's COMMIT, so it is
 * delivered exactly when the jobs become visible. Channels are per
 * database, not per schema: stores on other schemas of the same database
 * cost each other an occasional empty claim, nothing more.
 */
#include "scheduler_int.h"

#include <string.h>

#define LISTEN_RETRY_MIN_US INT64_C(1000000)
#define LISTEN_RETRY_MAX_US INT64_C(30000000)

void cm__jobs_wake_tx(cm__conn *conn, const char *queue)
{
    cm__store_notify(conn, CM__JOBS_CHANNEL, queue ? queue : "");
    cm__jobs_local_wake_mark(conn->store); /* and this process's, after cm_exec's commit */
}

/* ---- the scheduler's listener (scheduler thread) ---- */

struct cm__listener {
    uv_poll_t poll;
    void *handle; /* the backend's listening connection */
    cm_scheduler *s;
};

typedef struct wake_scan {
    cm_scheduler *s;
    bool wake;
} wake_scan;

static void on_payload(const char *payload, void *arg)
{
    wake_scan *w = arg;
    if (w->wake)
        return;
    if (!*payload) {
        w->wake = true;
        return;
    }
    for (size_t i = 0; i < w->s->n_queues && !w->wake; i++)
        w->wake = strcmp(w->s->queues[i].name, payload) == 0;
}

static void on_listen_closed(uv_handle_t *h)
{
    struct cm__listener *l = h->data;
    cm__store_listen_close(l->s->store, l->handle);
    cm__free(l);
}

void cm__sched_listen_close(cm_scheduler *s)
{
    struct cm__listener *l = s->listener;
    if (!l)
        return;
    s->listener = NULL;
    (void)uv_poll_stop(&l->poll);
    /* The connection (and its socket) is closed once libuv let go of it. */
    uv_close((uv_handle_t *)&l->poll, on_listen_closed);
}

static void listen_lost(cm_scheduler *s, const char *why)
{
    cm__log(CM_LOG_WARN, "jobs",
            "worker %s: the listening connection failed (%s); polling every %u ms until it "
            "is back",
            s->worker_id, why, s->opts.poll_ms);
    cm__sched_listen_close(s);
    s->listen_backoff_us = LISTEN_RETRY_MIN_US;
    s->listen_retry_at = cm_now_us() + s->listen_backoff_us;
}

static void on_listen(uv_poll_t *p, int status, int events)
{
    (void)events;
    struct cm__listener *l = p->data;
    cm_scheduler *s = l->s;
    wake_scan w = {s, false};
    if (status < 0) {
        listen_lost(s, uv_strerror(status));
        w.wake = true; /* notifications may have been missed */
    } else if (cm__store_listen_read(s->store, l->handle, on_payload, &w)) {
        listen_lost(s, cm_error_message());
        w.wake = true;
    }
    if (w.wake && !s->drain_started)
        cm__sched_claim(s);
}

int cm__sched_listen_start(cm_scheduler *s)
{
    if (s->listener || !s->listen_wanted)
        return CM_OK;
    struct cm__listener *l = cm__calloc(1, sizeof *l);
    if (!l)
        return cm__oom();
    int fd = -1;
    int rc = cm__store_listen_open(&l->handle, &fd, s->store, CM__JOBS_CHANNEL);
    if (rc == CM_OK && uv_poll_init_socket(&s->loop, &l->poll, fd) != 0) {
        cm__store_listen_close(s->store, l->handle);
        rc = cm__error_set(CM_ERROR, "cannot watch the listening connection");
    }
    if (rc) {
        cm__free(l);
        if (rc == CM_ENOTSUP) { /* SQLite, or notify=off: polling only, for good */
            s->listen_wanted = false;
            cm__log(CM_LOG_DEBUG, "jobs", "worker %s: %s", s->worker_id, cm_error_message());
            return CM_OK;
        }
        cm__log(CM_LOG_WARN, "jobs", "worker %s: cannot listen for wake-ups (%s); polling",
                s->worker_id, cm_error_message());
        s->listen_backoff_us =
            s->listen_backoff_us ? s->listen_backoff_us * 2 : LISTEN_RETRY_MIN_US;
        if (s->listen_backoff_us > LISTEN_RETRY_MAX_US)
            s->listen_backoff_us = LISTEN_RETRY_MAX_US;
        s->listen_retry_at = cm_now_us() + s->listen_backoff_us;
        return rc;
    }
    l->s = s;
    l->poll.data = l;
    (void)uv_poll_start(&l->poll, UV_READABLE | UV_DISCONNECT, on_listen);
    s->listener = l;
    s->listen_backoff_us = 0;
    return CM_OK;
}

void cm__sched_listen_tick(cm_scheduler *s, int64_t now)
{
    if (s->listen_wanted && !s->listener && !s->drain_started && now >= s->listen_retry_at &&
        cm__sched_listen_start(s) == CM_OK && s->listener) {
        cm__log(CM_LOG_INFO, "jobs", "worker %s: listening for wake-ups again", s->worker_id);
        s->claim_again = true; /* what was enqueued meanwhile */
    }
}
