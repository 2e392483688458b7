/*
 * test_scheduler.c - cm_scheduler with real threads and the real clock:
 * every job runs once, failures retry then die, per-queue concurrency,
 * cancellation, lease loss and timeouts reach the handler, completion
 * inside the handler's transaction, the drain on stop (in time and past
 * its deadline), the asynchronous close, wake-up on local enqueue,
 * repeatable schedules, events and misuse. Waits poll the database with a
 * generous limit; nothing asserts on durations.
 *
 * On PostgreSQL also: wake-ups across processes (LISTEN/NOTIFY) -- a job
 * enqueued through another store reaches a scheduler that would not poll
 * again for ten minutes, a lost listening connection comes back, and with
 * notify=off or CM_SCHEDULER_NO_LISTEN nothing listens and polling finds
 * the jobs.
 */
#include "jobs_fx.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void setup(void)
{
    fx_setup();
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Poll `sql` until it returns `want` (at most 30 s). */
static void wait_count(long long want, const char *sql)
{
    long long n = -1;
    for (int i = 0; i < 3000; i++) {
        n = fx_count(sql);
        if (n == want)
            return;
        sleep_ms(10);
    }
    ck_abort_msg("%s: %lld, want %lld; jobs: %s", sql, n, want,
                 jx_text("SELECT group_concat(kind || ':' || state || ':' || attempts || ':' || "
                         "coalesce(last_error, '-'), ' | ') FROM jobs"));
}

static void wait_flag(atomic_int *flag, int want)
{
    for (int i = 0; i < 3000 && atomic_load(flag) < want; i++)
        sleep_ms(10);
    ck_assert_int_ge(atomic_load(flag), want);
}

static cm_scheduler *open_sched(uint32_t threads, uint32_t lease_ms, cm_job_event_fn ev,
                                void *payload)
{
    cm_scheduler_options o = CM_SCHEDULER_OPTIONS_INIT;
    o.threads = threads;
    o.lease_ms = lease_ms;
    o.heartbeat_ms = lease_ms / 5;
    o.poll_ms = 20;
    o.on_event = ev;
    o.event_payload = payload;
    o.worker_id = "test-worker";
    cm_scheduler *s;
    ck_assert_ok(cm_scheduler_open(&s, FX.store, &o));
    return s;
}

typedef struct tally {
    atomic_int runs, concurrent, max_concurrent, started, seen_lost;
    atomic_int events[16];
} tally;

static void on_event(int32_t ev, int64_t id, const char *queue, const char *kind, int32_t attempt,
                     int32_t status, int64_t duration_us, void *payload)
{
    (void)id, (void)queue, (void)kind, (void)attempt, (void)status, (void)duration_us;
    tally *t = payload;
    if (ev > 0 && ev < 16)
        atomic_fetch_add(&t->events[ev], 1);
}

static int ok_handler(cm_job *job, void *payload)
{
    tally *t = payload;
    int c = atomic_fetch_add(&t->concurrent, 1) + 1;
    int m = atomic_load(&t->max_concurrent);
    while (c > m && !atomic_compare_exchange_weak(&t->max_concurrent, &m, c))
        ;
    if (cm_job_attempt(job) != 1 || cm_job_lease_token(job) != 1 ||
        strcmp(cm_job_queue(job), "t") != 0 || strcmp(cm_job_kind(job), "t.ok") != 0)
        return cm__error_set(CM_ERROR, "unexpected job metadata");
    size_t len;
    const char *p = cm_job_payload(job, &len);
    if (len != strlen(p) || p[0] != '{')
        return cm__error_set(CM_ERROR, "bad payload");
    sleep_ms(1);
    atomic_fetch_sub(&t->concurrent, 1);
    atomic_fetch_add(&t->runs, 1);
    return CM_OK;
}

START_TEST(every_job_runs_once_and_is_completed)
{
    jx_define("t.ok", "t", 3, CM_JOB_BACKOFF_FIXED, 0);
    const char *payloads[200];
    for (int i = 0; i < 200; i++)
        payloads[i] = "{\"x\":1}";
    ck_assert_ok(cm_jobs_enqueue_batch(NULL, FX.store, "t.ok", payloads, NULL, NULL, 200, NULL));
    tally t = {0};
    cm_scheduler *s = open_sched(4, 2000, on_event, &t);
    ck_assert_ok(cm_scheduler_register(s, "t.ok", ok_handler, &t));
    ck_assert_ok(cm_scheduler_start(s));
    wait_count(200, "SELECT count(*) FROM jobs WHERE state = 'completed'");
    ck_assert_int_eq(atomic_load(&t.runs), 200);
    ck_assert_int_le(atomic_load(&t.max_concurrent), 4);
    ck_assert_ok(cm_scheduler_stop(s, 5 * SEC));
    ck_assert_int_eq(atomic_load(&t.events[CM_JOB_EVENT_STARTED]), 200);
    ck_assert_int_eq(atomic_load(&t.events[CM_JOB_EVENT_COMPLETED]), 200);
    char *st;
    ck_assert_ok(cm_scheduler_stats(&st, s));
    json_t *doc = json_loads(st, 0, NULL);
    cm_free(st);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "completed")), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "claimed")), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(json_object_get(doc, "queues"), "t"), "concurrency")),
                     4);
    json_decref(doc);
    cm_scheduler_close(s, NULL, NULL);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE attempts != 1 OR "
                              "lease_owner IS NOT NULL"),
                     0);
}
END_TEST

START_TEST(per_queue_concurrency_is_respected)
{
    jx_define("t.ok", "t", 3, CM_JOB_BACKOFF_FIXED, 0);
    const char *payloads[40];
    for (int i = 0; i < 40; i++)
        payloads[i] = "{}";
    ck_assert_ok(cm_jobs_enqueue_batch(NULL, FX.store, "t.ok", payloads, NULL, NULL, 40, NULL));
    tally t = {0};
    cm_scheduler *s = open_sched(4, 2000, NULL, NULL);
    ck_assert_ok(cm_scheduler_register(s, "t.ok", ok_handler, &t));
    ck_assert_ok(cm_scheduler_set_concurrency(s, "t", 1));
    ck_assert_ok(cm_scheduler_start(s));
    wait_count(40, "SELECT count(*) FROM jobs WHERE state = 'completed'");
    ck_assert_int_eq(atomic_load(&t.max_concurrent), 1);
    cm_scheduler_close(s, NULL, NULL); /* running: drains, frees itself */
    sleep_ms(50);
}
END_TEST

static int failing_handler(cm_job *job, void *payload)
{
    (void)job;
    atomic_fetch_add(&((tally *)payload)->runs, 1);
    return cm__error_set(CM_EIO, "upstream answered 503");
}

START_TEST(failing_handlers_are_retried_then_the_job_dies_with_their_message)
{
    jx_define("t.fail", "t", 3, CM_JOB_BACKOFF_FIXED, 0);
    jx_define("t.orphan", "t", 2, CM_JOB_BACKOFF_FIXED, 0);
    jx_enqueue("t.fail", NULL, NULL);
    jx_enqueue("t.orphan", NULL, NULL); /* same queue, no handler here */
    tally t = {0};
    cm_scheduler *s = open_sched(2, 2000, on_event, &t);
    ck_assert_ok(cm_scheduler_register(s, "t.fail", failing_handler, &t));
    ck_assert_ok(cm_scheduler_start(s));
    wait_count(2, "SELECT count(*) FROM jobs WHERE state = 'dead'");
    ck_assert_int_eq(atomic_load(&t.runs), 3);
    ck_assert_str_eq(jx_text("SELECT attempts || '/' || last_error FROM jobs WHERE kind = "
                             "'t.fail'"),
                     "3/upstream answered 503");
    ck_assert_ptr_nonnull(strstr(jx_text("SELECT last_error FROM jobs WHERE kind = 't.orphan'"),
                                 "no handler for job kind 't.orphan'"));
    ck_assert_ok(cm_scheduler_stop(s, 5 * SEC));
    ck_assert_int_eq(atomic_load(&t.events[CM_JOB_EVENT_RETRY]), 3);
    ck_assert_int_eq(atomic_load(&t.events[CM_JOB_EVENT_DEAD]), 2);
    cm_scheduler_close(s, NULL, NULL);
}
END_TEST

/* Waits until told to stop; returns what stopped it. */
static int waiting_handler(cm_job *job, void *payload)
{
    tally *t = payload;
    atomic_fetch_add(&t->started, 1);
    int why = cm_job_wait(job, 600 * SEC); /* woken only by the scheduler */
    atomic_store(&t->seen_lost, why);
    return why ? cm__error_set(why, "stopped: %s", cm_status_name(why)) : CM_OK;
}

START_TEST(cancelling_a_running_job_reaches_its_handler)
{
    jx_define("t.wait", "t", 3, CM_JOB_BACKOFF_FIXED, 0);
    int64_t id = jx_enqueue("t.wait", NULL, NULL);
    tally t = {0};
    cm_scheduler *s = open_sched(2, 1000, on_event, &t);
    ck_assert_ok(cm_scheduler_register(s, "t.wait", waiting_handler, &t));
    ck_assert_ok(cm_scheduler_start(s));
    wait_flag(&t.started, 1);
    ck_assert_ok(cm_jobs_cancel(FX.store, id));
    wait_count(1, "SELECT count(*) FROM jobs WHERE state = 'cancelled'");
    ck_assert_int_eq(atomic_load(&t.seen_lost), CM_ECANCELED);
    ck_assert_ok(cm_scheduler_stop(s, 5 * SEC));
    ck_assert_int_eq(atomic_load(&t.events[CM_JOB_EVENT_CANCELLED]), 1);
    cm_scheduler_close(s, NULL, NULL);
}
END_TEST

START_TEST(a_lost_lease_is_reported_to_the_handler_and_its_result_refused)
{
    jx_define("t.wait", "t", 3, CM_JOB_BACKOFF_FIXED, 0);
    jx_enqueue("t.wait", NULL, NULL);
    tally t = {0};
    cm_scheduler *s = open_sched(2, 1000, on_event, &t);
    ck_assert_ok(cm_scheduler_register(s, "t.wait", waiting_handler, &t));
    ck_assert_ok(cm_scheduler_start(s));
    wait_flag(&t.started, 1);
    /* someone else now holds the job */
    jx_sql("UPDATE jobs SET lease_token = lease_token + 1, lease_owner = 'other', "
           "lease_expires_at = lease_expires_at + 3600000000");
    for (int i = 0; i < 3000 && atomic_load(&t.seen_lost) == 0; i++)
        sleep_ms(10);
    ck_assert_int_eq(atomic_load(&t.seen_lost), CM_ELEASE);
    ck_assert_ok(cm_scheduler_stop(s, 5 * SEC));
    ck_assert_int_eq(atomic_load(&t.events[CM_JOB_EVENT_LEASE_LOST]), 1);
    ck_assert_str_eq(jx_text("SELECT state || '/' || lease_owner || '/' || attempts FROM jobs"),
                     "running/other/1");
    cm_scheduler_close(s, NULL, NULL);
}
END_TEST

START_TEST(a_job_past_its_timeout_is_failed_and_its_handler_told)
{
    cm_job_kind_options ko = CM_JOB_KIND_OPTIONS_INIT;
    ko.queue = "t";
    ko.max_attempts = 1;
    ko.timeout_us = 300000;
    ck_assert_ok(cm_jobs_define(FX.store, "t.wait", &ko));
    jx_enqueue("t.wait", NULL, NULL);
    tally t = {0};
    cm_scheduler *s = open_sched(2, 1000, on_event, &t);
    ck_assert_ok(cm_scheduler_register(s, "t.wait", waiting_handler, &t));
    ck_assert_ok(cm_scheduler_start(s));
    wait_count(1, "SELECT count(*) FROM jobs WHERE state = 'dead'");
    ck_assert_str_eq(jx_text("SELECT last_error FROM jobs"), "timed out after 300 ms");
    for (int i = 0; i < 3000 && atomic_load(&t.seen_lost) == 0; i++)
        sleep_ms(10);
    ck_assert_int_eq(atomic_load(&t.seen_lost), CM_ETIMEOUT);
    ck_assert_ok(cm_scheduler_stop(s, 5 * SEC));
    ck_assert_int_eq(atomic_load(&t.events[CM_JOB_EVENT_TIMEOUT]), 1);
    ck_assert_int_eq(atomic_load(&t.events[CM_JOB_EVENT_DEAD]), 1);
    cm_scheduler_close(s, NULL, NULL);
}
END_TEST

static int signup_handler(cm_job *job, void *payload)
{
    (void)payload;
    char in[128];
    int n = snprintf(in, sizeof in, "{\"email\":\"job%lld@example.org\",\"name\":\"J\"}",
                     (long long)cm_job_id(job));
    return cm_job_complete_exec(NULL, job, NULL, "members.signup", in, (size_t)n);
}

START_TEST(handlers_complete_inside_their_own_transaction)
{
    jx_define("t.signup", "t", 3, CM_JOB_BACKOFF_FIXED, 0);
    for (int i = 0; i < 20; i++)
        jx_enqueue("t.signup", NULL, NULL);
    cm_scheduler *s = open_sched(3, 2000, NULL, NULL);
    ck_assert_ok(cm_scheduler_register(s, "t.signup", signup_handler, NULL));
    ck_assert_ok(cm_scheduler_start(s));
    wait_count(20, "SELECT count(*) FROM jobs WHERE state = 'completed'");
    ck_assert_ok(cm_scheduler_stop(s, 5 * SEC));
    cm_scheduler_close(s, NULL, NULL);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members m JOIN jobs j ON m.email = "
                              "'job' || j.id || '@example.org'"),
                     20);
}
END_TEST

static int slow_handler(cm_job *job, void *payload)
{
    tally *t = payload;
    atomic_fetch_add(&t->started, 1);
    sleep_ms(300);
    atomic_store(&t->seen_lost, cm_job_lost(job));
    atomic_fetch_add(&t->runs, 1);
    return CM_OK;
}

START_TEST(stop_drains_running_jobs_and_puts_unstarted_ones_back)
{
    jx_define("t.slow", "t", 3, CM_JOB_BACKOFF_FIXED, 0);
    for (int i = 0; i < 6; i++)
        jx_enqueue("t.slow", NULL, NULL);
    tally t = {0};
    cm_scheduler_options o = CM_SCHEDULER_OPTIONS_INIT;
    o.threads = 2;
    o.prefetch = 4; /* 6 held: 2 running, 4 waiting */
    o.lease_ms = 2000;
    o.poll_ms = 20;
    cm_scheduler *s;
    ck_assert_ok(cm_scheduler_open(&s, FX.store, &o));
    ck_assert_ok(cm_scheduler_register(s, "t.slow", slow_handler, &t));
    ck_assert_ok(cm_scheduler_start(s));
    wait_flag(&t.started, 2);
    wait_count(6, "SELECT count(*) FROM jobs WHERE state = 'running'");
    ck_assert_ok(cm_scheduler_stop(s, 10 * SEC));
    ck_assert_int_eq(atomic_load(&t.runs), atomic_load(&t.started));
    ck_assert_int_eq(atomic_load(&t.seen_lost), 0);
    long long done = fx_count("SELECT count(*) FROM jobs WHERE state = 'completed'");
    ck_assert_int_eq(done, atomic_load(&t.runs));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE state = 'queued' AND "
                              "attempts = 0"),
                     6 - done);
    ck_assert_int_eq(cm_scheduler_stop(s, SEC), CM_EMISUSE);
    cm_scheduler_close(s, NULL, NULL);
}
END_TEST

START_TEST(past_the_drain_deadline_running_jobs_are_released)
{
    jx_define("t.wait", "t", 3, CM_JOB_BACKOFF_FIXED, 0);
    jx_enqueue("t.wait", NULL, NULL);
    tally t = {0};
    cm_scheduler *s = open_sched(1, 5000, NULL, NULL);
    ck_assert_ok(cm_scheduler_register(s, "t.wait", waiting_handler, &t));
    ck_assert_ok(cm_scheduler_start(s));
    wait_flag(&t.started, 1);
    ck_assert_int_eq(cm_scheduler_stop(s, 200000), CM_ETIMEOUT);
    ck_assert_int_eq(atomic_load(&t.seen_lost), CM_ECANCELED);
    ck_assert_str_eq(jx_text("SELECT state || '/' || attempts || '/' || coalesce(lease_owner, "
                             "'-') FROM jobs"),
                     "queued/1/-");
    cm_scheduler_close(s, NULL, NULL);
}
END_TEST

static void closed_cb(void *payload)
{
    atomic_store((atomic_int *)payload, 1);
}

START_TEST(async_close_drains_then_calls_back)
{
    jx_define("t.slow", "t", 3, CM_JOB_BACKOFF_FIXED, 0);
    jx_enqueue("t.slow", NULL, NULL);
    tally t = {0};
    cm_scheduler *s = open_sched(1, 2000, NULL, NULL);
    ck_assert_ok(cm_scheduler_register(s, "t.slow", slow_handler, &t));
    ck_assert_ok(cm_scheduler_start(s));
    wait_flag(&t.started, 1);
    atomic_int closed = 0;
    cm_scheduler_close(s, closed_cb, &closed);
    wait_flag(&closed, 1);
    ck_assert_int_eq(atomic_load(&t.runs), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE state = 'completed'"), 1);
    /* never started, or NULL: called back at once */
    atomic_int closed2 = 0;
    cm_scheduler *s2 = open_sched(1, 2000, NULL, NULL);
    cm_scheduler_close(s2, closed_cb, &closed2);
    ck_assert_int_eq(atomic_load(&closed2), 1);
    atomic_store(&closed2, 0);
    cm_scheduler_close(NULL, closed_cb, &closed2);
    ck_assert_int_eq(atomic_load(&closed2), 1);
}
END_TEST

START_TEST(a_local_enqueue_wakes_an_idle_scheduler)
{
    jx_define("t.ok", "t", 3, CM_JOB_BACKOFF_FIXED, 0);
    tally t = {0};
    cm_scheduler_options o = CM_SCHEDULER_OPTIONS_INIT;
    o.threads = 1;
    o.poll_ms = 600000; /* it would not poll again during this test */
    o.heartbeat_ms = 1000;
    o.lease_ms = 600000;
    cm_scheduler *s;
    ck_assert_ok(cm_scheduler_open(&s, FX.store, &o));
    ck_assert_ok(cm_scheduler_register(s, "t.ok", ok_handler, &t));
    ck_assert_ok(cm_scheduler_start(s));
    sleep_ms(100); /* the first poll has found nothing */
    jx_enqueue("t.ok", "{}", NULL);
    wait_count(1, "SELECT count(*) FROM jobs WHERE state = 'completed'");
    ck_assert_ok(cm_scheduler_stop(s, 5 * SEC));
    cm_scheduler_close(s, NULL, NULL);
}
END_TEST

/* ---- PostgreSQL: wake-ups from other processes ---- */

/* A second store on the test's schema (as another process would open it),
 * its sessions tagged application_name=<schema>_<tag>; `extra` is appended
 * to the URI ("" or "&notify=off"). */
static cm_store *other_store(const char *tag, const char *extra)
{
    char uri[900];
    snprintf(uri, sizeof uri, "%s&application_name=%s_%s%s", FX.uri, FX.schema, tag, extra);
    cm_store *s;
    ck_assert_ok(cm_store_open(&s, uri, NULL));
    return s;
}

/* Sessions of `tag` that LISTEN (pg_stat_activity shows their last query). */
static long long listeners(const char *tag)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
             "'%s_%s' AND query LIKE 'LISTEN%%'",
             FX.schema, tag);
    return fx_count(sql);
}

static cm_scheduler *idle_sched(cm_store *store, uint32_t poll_ms, uint32_t flags, tally *t)
{
    cm_scheduler_options o = CM_SCHEDULER_OPTIONS_INIT;
    o.threads = 1;
    o.poll_ms = poll_ms;
    o.heartbeat_ms = 200;
    o.lease_ms = 600000;
    o.flags = flags | CM_SCHEDULER_NO_SCHEDULES | CM_SCHEDULER_NO_PRUNE;
    cm_scheduler *s;
    ck_assert_ok(cm_scheduler_open(&s, store, &o));
    ck_assert_ok(cm_scheduler_register(s, "t.ok", ok_handler, t));
    ck_assert_ok(cm_scheduler_start(s));
    return s;
}

START_TEST(a_job_enqueued_by_another_process_wakes_a_listening_scheduler)
{
    jx_define("t.ok", "t", 3, CM_JOB_BACKOFF_FIXED, 0);
    cm_store *store = other_store("sched", "");
    tally t = {0};
    cm_scheduler *s = idle_sched(store, 600000, 0, &t); /* no poll for 10 minutes */
    ck_assert_int_eq(listeners("sched"), 1);
    sleep_ms(100);                 /* the first poll has found nothing */
    for (int i = 1; i <= 3; i++) { /* FX.store is not the scheduler's store */
        jx_enqueue("t.ok", "{}", NULL);
        wait_flag(&t.runs, i);
    }
    /* a rolled-back enqueue wakes nobody, and a wake-up for another queue
     * is ignored; neither breaks anything */
    cm__conn *c;
    ck_assert_ok(cm__store_acquire(&c, FX.store));
    ck_assert_ok(cm__tx_begin(c, true));
    int64_t id;
    ck_assert_ok(cm__jobs_enqueue_tx(&id, c, "t.ok", "{}", 2, NULL));
    cm__jobs_wake_tx(c, "some.other.queue");
    cm__tx_rollback(c);
    cm__store_release(c);
    /* re-driven jobs wake it too */
    jx_sql("INSERT INTO jobs (queue, kind, payload, state, run_at, max_attempts, backoff, "
           "backoff_us, backoff_max_us, created_at, updated_at, finished_at) VALUES ('t', "
           "'t.ok', '{}', 'dead', 0, 3, 'fixed', 0, 0, 0, 0, 0)");
    cm_actor *admin = fx_member("admin@example.org", "admin");
    ck_assert_ok(fx_exec(NULL, admin, "jobs.redrive", "{s:s}", "queue", "t"));
    cm_actor_free(admin);
    wait_flag(&t.runs, 4);
    wait_count(4, "SELECT count(*) FROM jobs WHERE state = 'completed'");
    ck_assert_ok(cm_scheduler_stop(s, 5 * SEC));
    cm_scheduler_close(s, NULL, NULL);
    for (int i = 0; i < 3000 && listeners("sched") != 0; i++) /* the server's side ends */
        sleep_ms(10);
    ck_assert_int_eq(listeners("sched"), 0);
    cm_store_close(store);
}
END_TEST

static void log_stderr(int level, const char *component, const char *message, void *payload)
{
    (void)payload;
    fprintf(stderr, "# log %d %s: %s\n", level, component, message);
}

START_TEST(a_lost_listening_connection_comes_back)
{
    if (getenv("CM_TEST_LOG"))
        cm_set_log_callback(log_stderr, 5, NULL);
    jx_define("t.ok", "t", 3, CM_JOB_BACKOFF_FIXED, 0);
    cm_store *store = other_store("lost", "");
    tally t = {0};
    cm_scheduler *s = idle_sched(store, 600000, 0, &t);
    ck_assert_int_eq(listeners("lost"), 1);
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE application_name = '%s_lost' AND query LIKE 'LISTEN%%'",
             FX.schema);
    ck_assert_int_eq(fx_count(sql), 1);
    /* the scheduler notices, and listens again within a few seconds */
    for (int i = 0; i < 3000 && listeners("lost") != 0; i++) /* the old session ends */
        sleep_ms(10);
    for (int i = 0; i < 3000 && listeners("lost") != 1; i++)
        sleep_ms(10);
    ck_assert_int_eq(listeners("lost"), 1);
    jx_enqueue("t.ok", "{}", NULL);
    wait_flag(&t.runs, 1);
    ck_assert_ok(cm_scheduler_stop(s, 5 * SEC));
    cm_scheduler_close(s, NULL, NULL);
    cm_store_close(store);
}
END_TEST

START_TEST(with_notify_off_nothing_listens_and_polling_finds_the_jobs)
{
    jx_define("t.ok", "t", 3, CM_JOB_BACKOFF_FIXED, 0);
    cm_store *off = other_store("off", "&notify=off");
    cm_store *flag = other_store("flag", "");
    tally t = {0};
    cm_scheduler *a = idle_sched(off, 50, 0, &t);
    cm_scheduler *b = idle_sched(flag, 50, CM_SCHEDULER_NO_LISTEN, &t);
    ck_assert_int_eq(listeners("off"), 0);
    ck_assert_int_eq(listeners("flag"), 0);
    for (int i = 0; i < 4; i++)
        jx_enqueue("t.ok", "{}", NULL);
    wait_flag(&t.runs, 4);
    /* an enqueue through a notify=off store is found by polling as well */
    int64_t id;
    ck_assert_ok(cm_jobs_enqueue(&id, off, "t.ok", "{}", 2, NULL));
    wait_flag(&t.runs, 5);
    ck_assert_ok(cm_scheduler_stop(a, 5 * SEC));
    ck_assert_ok(cm_scheduler_stop(b, 5 * SEC));
    cm_scheduler_close(a, NULL, NULL);
    cm_scheduler_close(b, NULL, NULL);
    cm_store *bad = NULL;
    ck_assert_int_eq(cm_store_open(&bad, "postgresql:///x?notify=maybe", NULL), CM_EINVAL);
    ck_assert_ptr_null(bad);
    cm_store_close(flag);
    cm_store_close(off);
}
END_TEST

START_TEST(repeatable_schedules_and_platform_jobs_run_from_a_scheduler)
{
    jx_define("t.ok", "t", 3, CM_JOB_BACKOFF_FIXED, 0);
    cm_job_schedule_options so = CM_JOB_SCHEDULE_OPTIONS_INIT;
    so.every_us = SEC;
    so.start_at = cm_now_us();
    ck_assert_ok(cm_jobs_schedule(NULL, FX.store, "tick", "t.ok", "{}", 2, &so));
    tally t = {0};
    cm_scheduler_options o = CM_SCHEDULER_OPTIONS_INIT;
    o.threads = 2;
    o.lease_ms = 1000;
    o.heartbeat_ms = 100;
    o.poll_ms = 20;
    o.flags = CM_SCHEDULER_PLATFORM_JOBS;
    cm_scheduler *s;
    ck_assert_ok(cm_scheduler_open(&s, FX.store, &o));
    ck_assert_ok(cm_scheduler_register(s, "t.ok", ok_handler, &t));
    ck_assert_ok(cm_scheduler_start(s));
    wait_count(1, "SELECT count(*) FROM jobs WHERE kind = 't.ok' AND state = 'completed'");
    /* the platform's reminder sweep is scheduled and runs at once */
    wait_count(1, "SELECT count(*) FROM jobs WHERE kind = 'platform.event_reminders' AND "
                  "state = 'completed'");
    ck_assert_ok(cm_scheduler_stop(s, 5 * SEC));
    cm_scheduler_close(s, NULL, NULL);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM job_schedules WHERE name = "
                              "'platform.event_reminders'"),
                     1);
}
END_TEST

static int count_handler(cm_job *job, void *payload)
{
    (void)job;
    atomic_fetch_add(&((tally *)payload)->runs, 1);
    return CM_OK;
}

/* A job claimed by a worker that then died (it never renews its lease) is
 * run again by a live scheduler once the lease lapses on the settable
 * clock. The scheduler's own recovery timer finds it: its heartbeat
 * (lease_ms / 3, 200 s here) would not come within the 30 s this test
 * waits. And the attempt is retried at once: the kind's backoff (an hour)
 * does not apply to a lapsed lease, whose wait was the lease itself. */
START_TEST(a_dead_workers_job_runs_again_as_soon_as_its_lease_lapses)
{
    fx_clock_set(JT0);
    jx_define("t.ok", "t", 5, CM_JOB_BACKOFF_FIXED, 3600 * SEC);
    int64_t id = jx_enqueue("t.ok", "{}", NULL);
    jx_free(jx_claim_as("dead", "t", 1, 600 * SEC)); /* claims it, then dies */
    tally t = {0};
    cm_scheduler_options o = CM_SCHEDULER_OPTIONS_INIT;
    o.threads = 1;
    o.lease_ms = 600000;
    o.poll_ms = 20;
    o.on_event = on_event;
    o.event_payload = &t;
    cm_scheduler *s;
    ck_assert_ok(cm_scheduler_open(&s, FX.store, &o));
    ck_assert_ok(cm_scheduler_register(s, "t.ok", count_handler, &t));
    ck_assert_ok(cm_scheduler_start(s));
    ck_assert_str_eq(jx_text("SELECT state || '/' || lease_owner FROM jobs"), "running/dead");
    fx_clock_advance(600 * SEC + 1);
    wait_count(1, "SELECT count(*) FROM jobs WHERE state = 'completed'");
    ck_assert_ok(cm_scheduler_stop(s, 5 * SEC));
    cm_scheduler_close(s, NULL, NULL);
    ck_assert_int_eq(atomic_load(&t.runs), 1);
    ck_assert_int_eq(atomic_load(&t.events[CM_JOB_EVENT_RECOVERED]), 1);
    ck_assert_int_eq(jx_int("SELECT attempts FROM jobs WHERE id = %lld", (long long)id), 2);
}
END_TEST

/* A worker that keeps crashing and coming back, each time sooner than any
 * heartbeat, still recovers the leases its predecessors left: a scheduler
 * recovers lapsed leases as it starts. The job is on a queue this
 * scheduler does not serve, so after each short run it must be back in
 * the queue, its attempt counted. */
START_TEST(a_scheduler_restarted_again_and_again_still_recovers_lapsed_leases)
{
    fx_clock_set(JT0);
    jx_define("t.ok", "t", 3, CM_JOB_BACKOFF_FIXED, 0);
    jx_define("t.crash", "c", 10, CM_JOB_BACKOFF_FIXED, 3600 * SEC);
    int64_t id = jx_enqueue("t.crash", "{}", NULL);
    for (int round = 1; round <= 3; round++) {
        cm_job *j = jx_claim_as("dead", "c", 1, 30 * SEC); /* claims it, then dies */
        ck_assert_ptr_nonnull(j);
        ck_assert_int_eq(j->id, id);
        ck_assert_int_eq(j->attempt, round);
        jx_free(j);
        fx_clock_advance(30 * SEC + 1);
        cm_scheduler *s = open_sched(1, 600000, NULL, NULL);
        ck_assert_ok(cm_scheduler_register(s, "t.ok", ok_handler, NULL));
        ck_assert_ok(cm_scheduler_start(s));
        ck_assert_ok(cm_scheduler_stop(s, 5 * SEC));
        cm_scheduler_close(s, NULL, NULL);
        ck_assert_str_eq(jx_text("SELECT state || '/' || attempts || '/' || last_error FROM jobs"),
                         round == 1   ? "queued/1/lease expired: worker dead stopped renewing it"
                         : round == 2 ? "queued/2/lease expired: worker dead stopped renewing it"
                                      : "queued/3/lease expired: worker dead stopped renewing it");
    }
}
END_TEST

/* A promotion from a waitlist enqueues its notice job in the RSVP's own
 * transaction, and only the worker writes the notice: one per promotion,
 * with the member's name and the event's title. */
START_TEST(a_waitlist_promotion_is_noticed_once_by_the_worker)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *a = fx_member("a@example.org", "member");
    cm_actor *b = fx_member("b@example.org", "member");
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:i}", "title",
                         "Full house", "format", "online", "online_url", "https://meet.example/x",
                         "start_local", "2030-05-01T18:00", "end_local", "2030-05-01T20:00",
                         "timezone", "UTC", "publish", 1, "capacity", 1));
    json_int_t ev = json_integer_value(json_object_get(r, "id"));
    json_decref(r);
    ck_assert_ok(fx_exec(NULL, a, "rsvps.add", "{s:I}", "event_id", ev));
    ck_assert_ok(fx_exec(&r, b, "rsvps.add", "{s:I}", "event_id", ev));
    ck_assert_str_eq(json_string_value(json_object_get(r, "status")), "waitlisted");
    json_decref(r);
    ck_assert_ok(fx_exec(NULL, a, "rsvps.cancel", "{s:I}", "event_id", ev));
    /* b is going; the notice is a queued job, not yet an e-mail */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM rsvps WHERE status = 'going'"), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE kind = "
                              "'platform.waitlist_promoted' AND state = 'queued'"),
                     1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox"), 0);

    cm_scheduler_options o = CM_SCHEDULER_OPTIONS_INIT;
    o.threads = 2;
    o.poll_ms = 20;
    o.flags = CM_SCHEDULER_PLATFORM_JOBS;
    cm_scheduler *s;
    ck_assert_ok(cm_scheduler_open(&s, FX.store, &o));
    ck_assert_ok(cm_scheduler_start(s));
    wait_count(1, "SELECT count(*) FROM jobs WHERE kind = 'platform.waitlist_promoted' AND "
                  "state = 'completed'");
    ck_assert_ok(cm_scheduler_stop(s, 5 * SEC));
    cm_scheduler_close(s, NULL, NULL);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox"), 1);
    json_t *got = json_loads(jx_text("SELECT payload FROM email_outbox WHERE template = "
                                     "'waitlist_promoted' AND to_addr = 'b@example.org'"),
                             0, NULL);
    json_t *want =
        json_pack("{s:I,s:s,s:s,s:s,s:s}", "event_id", ev, "name", "b@example.org", "title",
                  "Full house", "start_local", "2030-05-01T18:00:00", "timezone", "UTC");
    ck_assert_msg(got && json_equal(got, want), "notice payload differs: %s",
                  jx_text("SELECT payload FROM email_outbox"));
    json_decref(got);
    json_decref(want);
    cm_actor_free(org);
    cm_actor_free(a);
    cm_actor_free(b);
}
END_TEST

START_TEST(misuse_is_refused)
{
    cm_scheduler_options o = CM_SCHEDULER_OPTIONS_INIT;
    cm_scheduler *s;
    o.threads = 0;
    ck_assert_int_eq(cm_scheduler_open(&s, FX.store, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "threads");
    ck_assert_ptr_null(s);
    o.threads = 2;
    o.lease_ms = 50;
    ck_assert_int_eq(cm_scheduler_open(&s, FX.store, &o), CM_EINVAL);
    o.lease_ms = 1000;
    o.heartbeat_ms = 1000;
    ck_assert_int_eq(cm_scheduler_open(&s, FX.store, &o), CM_EINVAL);
    ck_assert_int_eq(cm_scheduler_open(&s, NULL, NULL), CM_EINVAL);
    s = open_sched(1, 1000, NULL, NULL);
    ck_assert_int_eq(cm_scheduler_start(s), CM_EINVAL); /* no handler */
    ck_assert_int_eq(cm_scheduler_stop(s, SEC), CM_EMISUSE);
    ck_assert_int_eq(cm_scheduler_register(s, "Bad", ok_handler, NULL), CM_EINVAL);
    ck_assert_ok(cm_scheduler_register(s, "t.ok", ok_handler, NULL));
    ck_assert_int_eq(cm_scheduler_register(s, "t.ok", ok_handler, NULL), CM_EEXISTS);
    ck_assert_ok(cm_scheduler_start(s));
    /* the kind was defined with the defaults */
    ck_assert_str_eq(jx_text("SELECT queue FROM job_kinds WHERE kind = 't.ok'"), "default");
    ck_assert_int_eq(cm_scheduler_start(s), CM_EMISUSE);
    ck_assert_int_eq(cm_scheduler_register(s, "t.two", ok_handler, NULL), CM_EMISUSE);
    ck_assert_int_eq(cm_scheduler_set_concurrency(s, "default", 2), CM_EMISUSE);
    ck_assert_ok(cm_scheduler_stop(s, SEC));
    cm_scheduler_close(s, NULL, NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jobs_scheduler");
    TCase *tc = tcase_create("scheduler");
    tcase_add_checked_fixture(tc, setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_job_runs_once_and_is_completed);
    tcase_add_test(tc, per_queue_concurrency_is_respected);
    tcase_add_test(tc, failing_handlers_are_retried_then_the_job_dies_with_their_message);
    tcase_add_test(tc, cancelling_a_running_job_reaches_its_handler);
    tcase_add_test(tc, a_lost_lease_is_reported_to_the_handler_and_its_result_refused);
    tcase_add_test(tc, a_job_past_its_timeout_is_failed_and_its_handler_told);
    tcase_add_test(tc, handlers_complete_inside_their_own_transaction);
    tcase_add_test(tc, stop_drains_running_jobs_and_puts_unstarted_ones_back);
    tcase_add_test(tc, past_the_drain_deadline_running_jobs_are_released);
    tcase_add_test(tc, async_close_drains_then_calls_back);
    tcase_add_test(tc, a_local_enqueue_wakes_an_idle_scheduler);
    tcase_add_test(tc, repeatable_schedules_and_platform_jobs_run_from_a_scheduler);
    tcase_add_test(tc, a_dead_workers_job_runs_again_as_soon_as_its_lease_lapses);
    tcase_add_test(tc, a_scheduler_restarted_again_and_again_still_recovers_lapsed_leases);
    tcase_add_test(tc, a_waitlist_promotion_is_noticed_once_by_the_worker);
    tcase_add_test(tc, misuse_is_refused);
    suite_add_tcase(s, tc);
    if (fx_is_pg()) {
        TCase *pg = tcase_create("pg-wakeups");
        tcase_add_checked_fixture(pg, setup, fx_teardown);
        tcase_set_timeout(pg, 120);
        tcase_add_test(pg, a_job_enqueued_by_another_process_wakes_a_listening_scheduler);
        tcase_add_test(pg, a_lost_listening_connection_comes_back);
        tcase_add_test(pg, with_notify_off_nothing_listens_and_polling_finds_the_jobs);
        suite_add_tcase(s, pg);
    }
    return fx_run(s);
}
