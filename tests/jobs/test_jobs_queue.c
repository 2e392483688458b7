/*
 * test_jobs_queue.c - the job queue without threads: enqueue validation,
 * ordering by priority and run time, delays, dedupe, batches, enqueue in
 * the caller's transaction, cancellation, rate limits, the claim's index
 * use and flat cost, cron and repeatable schedules, pruning, statistics
 * and the jobs.* operations. Time comes from the settable clock.
 * On PostgreSQL (CM_TEST_BACKEND=pg) everything runs but the index-use
 * test, which reads SQLite's query plans and VM step counters.
 */
#include "jobs_fx.h"

#include "../../lib/core/event_int.h" /* the platform's jobs */

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void setup(void)
{
    fx_setup();
    fx_clock_set(JT0);
    jx_define("mail.send", "mail", 3, CM_JOB_BACKOFF_FIXED, 10 * SEC);
}

/* ---- enqueue validation ---- */

START_TEST(invalid_enqueues_are_rejected_with_their_field_and_store_nothing)
{
    cm_job_kind_options ko = CM_JOB_KIND_OPTIONS_INIT;
    ko.max_payload = 100;
    ck_assert_ok(cm_jobs_define(FX.store, "small", &ko));
    char big[200];
    memset(big, 'x', sizeof big);
    big[0] = '"';
    big[198] = '"';
    big[199] = '\0';
    size_t huge_len = (1u << 20) + 10;
    char *huge = malloc(huge_len + 1);
    memset(huge, ' ', huge_len);
    huge[0] = '[';
    huge[huge_len - 1] = ']';
    huge[huge_len] = '\0';

    struct {
        const char *kind, *payload;
        size_t len;
        int64_t delay, run_at;
        int32_t priority, attempts, backoff;
        const char *queue, *key;
        int code;
        const char *field;
    } cases[] = {
        {"nope", "{}", 2, 0, 0, 0, 0, 0, NULL, NULL, CM_EINVAL, "kind"},
        {"Bad Kind", "{}", 2, 0, 0, 0, 0, 0, NULL, NULL, CM_EINVAL, "kind"},
        {"", "{}", 2, 0, 0, 0, 0, 0, NULL, NULL, CM_EINVAL, "kind"},
        {"mail.send", "{x", 2, 0, 0, 0, 0, 0, NULL, NULL, CM_EINVAL, "payload"},
        {"mail.send", "{\"a\":1,\"a\":2}", 13, 0, 0, 0, 0, 0, NULL, NULL, CM_EINVAL, "payload"},
        {"mail.send", "{}\0x", 4, 0, 0, 0, 0, 0, NULL, NULL, CM_EINVAL, "payload"},
        {"small", big, 199, 0, 0, 0, 0, 0, NULL, NULL, CM_ERANGE, "payload"},
        {"mail.send", huge, huge_len, 0, 0, 0, 0, 0, NULL, NULL, CM_ERANGE, "payload"},
        {"mail.send", "{}", 2, -1, 0, 0, 0, 0, NULL, NULL, CM_ERANGE, "delay_us"},
        {"mail.send", "{}", 2, 0, -5, 0, 0, 0, NULL, NULL, CM_ERANGE, "run_at"},
        {"mail.send", "{}", 2, 5, JT0, 0, 0, 0, NULL, NULL, CM_EINVAL, "run_at"},
        {"mail.send", "{}", 2, 0, 0, 5000, 0, 0, NULL, NULL, CM_ERANGE, "priority"},
        {"mail.send", "{}", 2, 0, 0, 0, 1001, 0, NULL, NULL, CM_ERANGE, "max_attempts"},
        {"mail.send", "{}", 2, 0, 0, 0, -1, 0, NULL, NULL, CM_ERANGE, "max_attempts"},
        {"mail.send", "{}", 2, 0, 0, 0, 0, 9, NULL, NULL, CM_EINVAL, "backoff"},
        {"mail.send", "{}", 2, 0, 0, 0, 0, 0, "Mail", NULL, CM_EINVAL, "queue"},
        {"mail.send", "{}", 2, 0, 0, 0, 0, 0, NULL, "", CM_EINVAL, "dedupe_key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cm_job_options o = CM_JOB_OPTIONS_INIT;
        o.delay_us = cases[i].delay;
        o.run_at = cases[i].run_at;
        if (cases[i].priority)
            o.priority = cases[i].priority;
        o.max_attempts = cases[i].attempts;
        o.backoff = cases[i].backoff;
        o.queue = cases[i].queue;
        o.dedupe_key = cases[i].key;
        int64_t id = 77;
        int rc = cm_jobs_enqueue(&id, FX.store, cases[i].kind, cases[i].payload, cases[i].len, &o);
        ck_assert_msg(rc == cases[i].code, "case %zu: %s, want %s (%s)", i, cm_status_name(rc),
                      cm_status_name(cases[i].code), cm_error_message());
        ck_assert_msg(strcmp(cm_error_field(), cases[i].field) == 0, "case %zu: field '%s'", i,
                      cm_error_field());
        ck_assert_int_eq(id, 0);
    }
    free(huge);
    /* an options struct without its size */
    cm_job_options zero;
    memset(&zero, 0, sizeof zero);
    ck_assert_int_eq(cm_jobs_enqueue(NULL, FX.store, "mail.send", "{}", 2, &zero), CM_EINVAL);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs"), 0);

    /* kinds themselves are validated */
    cm_job_kind_options bad = CM_JOB_KIND_OPTIONS_INIT;
    bad.max_attempts = 0;
    ck_assert_int_eq(cm_jobs_define(FX.store, "k", &bad), CM_ERANGE);
    ck_assert_str_eq(cm_error_field(), "max_attempts");
    bad = (cm_job_kind_options)CM_JOB_KIND_OPTIONS_INIT;
    bad.max_payload = (1u << 20) + 1;
    ck_assert_int_eq(cm_jobs_define(FX.store, "k", &bad), CM_ERANGE);
    ck_assert_int_eq(cm_jobs_define(FX.store, "K!", NULL), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "kind");
}
END_TEST

START_TEST(invalid_schedules_are_rejected_and_store_nothing)
{
    struct {
        const char *cron, *tz;
        int64_t every;
        int code;
        const char *field;
    } cases[] = {
        {"61 * * * *", NULL, 0, CM_EINVAL, "cron"},
        {"* * *", NULL, 0, CM_EINVAL, "cron"},
        {"* * * * * *", NULL, 0, CM_EINVAL, "cron"},
        {"*/0 * * * *", NULL, 0, CM_EINVAL, "cron"},
        {"5-1 * * * *", NULL, 0, CM_EINVAL, "cron"},
        {"0 0 * foo *", NULL, 0, CM_EINVAL, "cron"},
        {"@sometimes", NULL, 0, CM_EINVAL, "cron"},
        {"0 0 30 2 *", NULL, 0, CM_ERANGE, "cron"},
        {"0 9 * * *", "Mars/Olympus_Mons", 0, CM_EINVAL, "timezone"},
        {"0 9 * * *", "../../etc/passwd", 0, CM_EINVAL, "timezone"},
        {NULL, NULL, 500000, CM_ERANGE, "every_us"},
        {NULL, NULL, 0, CM_EINVAL, "cron"},
        {"0 9 * * *", NULL, 60 * SEC, CM_EINVAL, "every_us"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cm_job_schedule_options o = CM_JOB_SCHEDULE_OPTIONS_INIT;
        o.cron = cases[i].cron;
        o.timezone = cases[i].tz;
        o.every_us = cases[i].every;
        int rc = cm_jobs_schedule(NULL, FX.store, "nightly", "mail.send", "{}", 2, &o);
        ck_assert_msg(rc == cases[i].code, "case %zu: %s (%s)", i, cm_status_name(rc),
                      cm_error_message());
        ck_assert_msg(strcmp(cm_error_field(), cases[i].field) == 0, "case %zu: field '%s'", i,
                      cm_error_field());
    }
    cm_job_schedule_options o = CM_JOB_SCHEDULE_OPTIONS_INIT;
    o.cron = "0 9 * * *";
    ck_assert_int_eq(cm_jobs_schedule(NULL, FX.store, "nightly", "unknown", "{}", 2, &o),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "kind");
    ck_assert_int_eq(cm_jobs_schedule(NULL, FX.store, "nightly", "mail.send", "[", 1, &o),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "payload");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM job_schedules WHERE name = 'nightly'"), 0);
}
END_TEST

/* ---- order ---- */

START_TEST(claims_follow_priority_then_run_time_then_id)
{
    cm_job_options o = CM_JOB_OPTIONS_INIT;
    int64_t a = jx_enqueue("mail.send", "{\"n\":1}", NULL); /* p0, now */
    o.priority = 5;
    int64_t b = jx_enqueue("mail.send", "{\"n\":2}", &o); /* p5, now */
    o.priority = CM_JOB_PRIORITY_DEFAULT;
    o.run_at = JT0 - 10 * SEC;
    int64_t c = jx_enqueue("mail.send", "{\"n\":3}", &o); /* p0, earlier */
    o.run_at = 0;
    o.delay_us = 30 * SEC;
    o.priority = 100;
    int64_t d = jx_enqueue("mail.send", "{\"n\":4}", &o); /* p100, delayed */
    o.delay_us = 0;
    o.priority = -3;
    int64_t e = jx_enqueue("mail.send", NULL, &o);      /* p-3, now */
    int64_t f = jx_enqueue("mail.send", "[1,2]", NULL); /* p0, now, after a */
    ck_assert_str_eq(jx_text("SELECT state FROM jobs WHERE id = %lld", (long long)d), "delayed");
    ck_assert_str_eq(jx_text("SELECT payload FROM jobs WHERE id = %lld", (long long)e), "{}");

    cm_job *list = jx_claim("mail", 10, 60 * SEC);
    int64_t want[] = {b, c, a, f, e};
    ck_assert_uint_eq(jx_len(list), 5);
    size_t i = 0;
    for (cm_job *j = list; j; j = j->next, i++) {
        ck_assert_int_eq(j->id, want[i]);
        ck_assert_int_eq(j->attempt, 1);
        ck_assert_int_eq(j->lease_token, 1);
        ck_assert_str_eq(j->queue, "mail");
        ck_assert_str_eq(j->kind, "mail.send");
    }
    jx_free(list);
    /* the delayed job becomes claimable exactly at its run time */
    fx_clock_advance(30 * SEC - 1);
    ck_assert_ptr_null(jx_claim("mail", 10, 60 * SEC));
    fx_clock_advance(1);
    list = jx_claim("mail", 10, 60 * SEC);
    ck_assert_uint_eq(jx_len(list), 1);
    ck_assert_int_eq(list->id, d);
    ck_assert_int_eq(list->priority, 100);
    jx_free(list);
    /* other queues are untouched by a claim */
    jx_define("other.kind", "other", 3, CM_JOB_BACKOFF_FIXED, 0);
    jx_enqueue("other.kind", NULL, NULL);
    ck_assert_ptr_null(jx_claim("mail", 10, 60 * SEC));
    list = jx_claim("other", 10, 60 * SEC);
    ck_assert_uint_eq(jx_len(list), 1);
    jx_free(list);
}
END_TEST

START_TEST(a_claim_takes_at_most_the_batch_asked_for)
{
    for (int i = 0; i < 7; i++)
        jx_enqueue("mail.send", NULL, NULL);
    cm_job *l1 = jx_claim("mail", 3, 60 * SEC);
    cm_job *l2 = jx_claim_as("w2", "mail", 3, 60 * SEC);
    cm_job *l3 = jx_claim("mail", 3, 60 * SEC);
    ck_assert_uint_eq(jx_len(l1), 3);
    ck_assert_uint_eq(jx_len(l2), 3);
    ck_assert_uint_eq(jx_len(l3), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE state = 'running'"), 7);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE lease_owner = 'w2'"), 3);
    ck_assert_int_eq(fx_count("SELECT count(DISTINCT id) FROM jobs"), 7);
    jx_free(l1);
    jx_free(l2);
    jx_free(l3);
}
END_TEST

/* ---- dedupe ---- */

START_TEST(dedupe_rejects_or_replaces_while_a_job_is_live)
{
    cm_job_options o = CM_JOB_OPTIONS_INIT;
    o.dedupe_key = "welcome:42";
    o.delay_us = 60 * SEC;
    int64_t first = jx_enqueue("mail.send", "{\"v\":1}", &o);
    int64_t id = 0;
    ck_assert_int_eq(cm_jobs_enqueue(&id, FX.store, "mail.send", "{\"v\":2}", 7, &o), CM_EEXISTS);
    ck_assert_int_eq(id, first);
    ck_assert_str_eq(cm_error_field(), "dedupe_key");
    ck_assert_str_eq(jx_text("SELECT payload FROM jobs WHERE id = %lld", (long long)first),
                     "{\"v\":1}");
    /* replace: same job, new payload, run time and priority */
    o.dedupe = CM_JOB_DEDUPE_REPLACE;
    o.delay_us = 5 * SEC;
    o.priority = 9;
    ck_assert_ok(cm_jobs_enqueue(&id, FX.store, "mail.send", "{\"v\":3}", 7, &o));
    ck_assert_int_eq(id, first);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs"), 1);
    ck_assert_str_eq(jx_text("SELECT payload || '/' || priority || '/' || (run_at - %lld) FROM "
                             "jobs WHERE id = %lld",
                             (long long)JT0, (long long)first),
                     "{\"v\":3}/9/5000000");
    /* a running job keeps its key: replace is refused too */
    fx_clock_advance(5 * SEC);
    cm_job *j = jx_claim("mail", 1, 60 * SEC);
    ck_assert_int_eq(j->id, first);
    ck_assert_int_eq(cm_jobs_enqueue(&id, FX.store, "mail.send", "{\"v\":4}", 7, &o), CM_EEXISTS);
    ck_assert_int_eq(id, first);
    /* once it finishes the key is free again */
    ck_assert_ok(cm__job_finish(j, CM_OK, NULL));
    jx_free(j);
    o.dedupe = CM_JOB_DEDUPE_REJECT;
    o.delay_us = 0;
    int64_t second = jx_enqueue("mail.send", "{\"v\":5}", &o);
    ck_assert_int_ne(second, first);
    /* keys are global across kinds */
    jx_define("other.kind", "other", 3, CM_JOB_BACKOFF_FIXED, 0);
    ck_assert_int_eq(cm_jobs_enqueue(&id, FX.store, "other.kind", NULL, 0, &o), CM_EEXISTS);
    ck_assert_int_eq(id, second);
}
END_TEST

START_TEST(batch_enqueue_is_one_transaction_with_per_job_dedupe)
{
    const char *payloads[6] = {"{\"i\":0}", "{\"i\":1}", NULL, "{\"i\":3}", "{\"i\":4}", "[]"};
    size_t lens[6] = {7, 7, 0, 7, 7, 2};
    const char *keys[6] = {"k0", NULL, "k2", "k0", NULL, "k5"};
    int64_t ids[6];
    ck_assert_ok(cm_jobs_enqueue_batch(ids, FX.store, "mail.send", payloads, lens, keys, 6, NULL));
    ck_assert_int_gt(ids[0], 0);
    ck_assert_int_gt(ids[1], 0);
    ck_assert_int_gt(ids[2], 0);
    ck_assert_int_eq(ids[3], -ids[0]); /* k0 is held by job 0 */
    ck_assert_int_gt(ids[4], 0);
    ck_assert_int_gt(ids[5], 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs"), 5);
    /* one bad element: nothing is stored, the index is reported */
    const char *bad[3] = {"{}", "{}", "{oops"};
    size_t bad_lens[3] = {2, 2, 5};
    ck_assert_int_eq(
        cm_jobs_enqueue_batch(ids, FX.store, "mail.send", bad, bad_lens, NULL, 3, NULL), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "payload");
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "payload[2]"));
    ck_assert_int_eq(ids[0], 0);
    /* a kind-level limit is checked inside the transaction: still all or nothing */
    cm_job_kind_options ko = CM_JOB_KIND_OPTIONS_INIT;
    ko.max_payload = 8;
    ck_assert_ok(cm_jobs_define(FX.store, "tiny", &ko));
    const char *mixed[2] = {"{}", "{\"long\":1}"};
    size_t mixed_lens[2] = {2, 10};
    ck_assert_int_eq(
        cm_jobs_enqueue_batch(NULL, FX.store, "tiny", mixed, mixed_lens, NULL, 2, NULL), CM_ERANGE);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs"), 5);
    /* a single dedupe key for a whole batch is refused */
    cm_job_options o = CM_JOB_OPTIONS_INIT;
    o.dedupe_key = "x";
    ck_assert_int_eq(
        cm_jobs_enqueue_batch(NULL, FX.store, "mail.send", payloads, lens, NULL, 2, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "dedupe_key");
}
END_TEST

/* ---- enqueue in the caller's transaction ---- */

typedef struct biz {
    int fail_with;
    int64_t job_id;
} biz;

static int business(cm__conn *conn, void *p)
{
    biz *b = p;
    cm__q q;
    int rc = cm__q_open(&q, conn, "outbox.insert");
    if (rc)
        return rc;
    cm__q_null(&q, 1);
    cm__q_text(&q, 2, "ada@example.org");
    cm__q_text(&q, 3, "welcome");
    cm__q_text(&q, 4, "{}");
    cm__q_null(&q, 5);
    cm__q_int64(&q, 6, cm_now_us());
    rc = cm__q_step(&q);
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if ((rc = cm__jobs_enqueue_tx(&b->job_id, conn, "mail.send", "{\"to\":\"ada\"}", 12, NULL)))
        return rc;
    return b->fail_with ? cm__error_set(b->fail_with, "business rule failed after enqueue") : 0;
}

START_TEST(enqueue_commits_and_rolls_back_with_the_business_write)
{
    biz b = {CM_ECONSTRAINT, 0};
    ck_assert_int_eq(cm__store_run_tx(FX.store, true, business, &b), CM_ECONSTRAINT);
    ck_assert_int_gt(b.job_id, 0); /* it was inserted, then rolled back */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs"), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox"), 0);
    b.fail_with = 0;
    ck_assert_ok(cm__store_run_tx(FX.store, true, business, &b));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs"), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox"), 1);
    ck_assert_int_eq(jx_int("SELECT id FROM jobs"), b.job_id);
}
END_TEST

/* ---- cancellation ---- */

START_TEST(cancel_stops_waiting_jobs_and_asks_running_ones)
{
    int64_t queued = jx_enqueue("mail.send", NULL, NULL);
    cm_job_options o = CM_JOB_OPTIONS_INIT;
    o.delay_us = 60 * SEC;
    int64_t delayed = jx_enqueue("mail.send", NULL, &o);
    ck_assert_ok(cm_jobs_cancel(FX.store, queued));
    ck_assert_ok(cm_jobs_cancel(FX.store, delayed));
    ck_assert_ok(cm_jobs_cancel(FX.store, delayed)); /* idempotent */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE state = 'cancelled' AND "
                              "finished_at IS NOT NULL"),
                     2);
    fx_clock_advance(61 * SEC);
    ck_assert_ptr_null(jx_claim("mail", 10, 60 * SEC));

    int64_t running = jx_enqueue("mail.send", NULL, NULL);
    cm_job *j = jx_claim("mail", 1, 60 * SEC);
    ck_assert_int_eq(j->id, running);
    ck_assert_ok(cm_jobs_cancel(FX.store, running));
    ck_assert_str_eq(jx_text("SELECT state FROM jobs WHERE id = %lld", (long long)running),
                     "running");
    cm__lease_ref ref = {j->id, j->lease_token, 0};
    int rc = 0;
    ck_assert_ok(cm__jobs_renew(FX.store, &ref, &rc, 1, 60 * SEC));
    ck_assert_int_eq(rc, CM_ECANCELED); /* the heartbeat tells the handler */
    /* the handler gives up: the job ends cancelled, not retried */
    ck_assert_ok(cm__job_finish(j, CM_ECANCELED, "stopped on request"));
    ck_assert_str_eq(j->final_state, "cancelled");
    ck_assert_str_eq(jx_text("SELECT state FROM jobs WHERE id = %lld", (long long)running),
                     "cancelled");
    jx_free(j);

    /* a running job that completes anyway is completed */
    int64_t late = jx_enqueue("mail.send", NULL, NULL);
    j = jx_claim("mail", 1, 60 * SEC);
    ck_assert_ok(cm_jobs_cancel(FX.store, late));
    ck_assert_ok(cm__job_finish(j, CM_OK, NULL));
    ck_assert_str_eq(j->final_state, "completed");
    jx_free(j);
    ck_assert_int_eq(cm_jobs_cancel(FX.store, late), CM_ECONFLICT);
    ck_assert_int_eq(cm_jobs_cancel(FX.store, 999999), CM_ENOTFOUND);
}
END_TEST

/* ---- rate limits ---- */

START_TEST(rate_limits_cap_starts_per_window_across_claims)
{
    ck_assert_ok(cm_jobs_set_rate_limit(FX.store, "mail", 2, 10 * SEC));
    for (int i = 0; i < 5; i++)
        jx_enqueue("mail.send", NULL, NULL);
    cm__claim_queue q = {.queue = "mail", .want = 5};
    cm_job *list = NULL;
    ck_assert_ok(cm__jobs_claim(&list, FX.store, &q, 1, 100, "w1", 60 * SEC));
    ck_assert_uint_eq(q.got, 2);
    ck_assert_int_eq(q.limited_until, JT0 + 10 * SEC);
    /* another worker in the same window gets nothing */
    cm__claim_queue q2 = {.queue = "mail", .want = 5};
    ck_assert_ok(cm__jobs_claim(&list, FX.store, &q2, 1, 100, "w2", 60 * SEC));
    ck_assert_uint_eq(q2.got, 0);
    ck_assert_int_eq(q2.limited_until, JT0 + 10 * SEC);
    fx_clock_advance(10 * SEC);
    ck_assert_ok(cm__jobs_claim(&list, FX.store, &q2, 1, 100, "w2", 60 * SEC));
    ck_assert_uint_eq(q2.got, 2);
    ck_assert_uint_eq(jx_len(list), 4);
    jx_free(list);
    /* removing the limit */
    ck_assert_ok(cm_jobs_set_rate_limit(FX.store, "mail", 0, 0));
    list = jx_claim("mail", 5, 60 * SEC);
    ck_assert_uint_eq(jx_len(list), 1);
    jx_free(list);
    ck_assert_int_eq(cm_jobs_set_rate_limit(FX.store, "mail", 1, 10), CM_EINVAL);
    ck_assert_int_eq(cm_jobs_set_rate_limit(FX.store, "Mail", 1, SEC), CM_EINVAL);
}
END_TEST

/* Claimers running at the same time (threads here, processes in
 * production) share one rate window: on PostgreSQL the window's row is
 * locked by the claim (SQLite serializes write transactions anyway). */
#define RATE_CLAIMERS 8

static void *claim_some(void *arg)
{
    cm__claim_queue q = {.queue = "mail", .want = 4};
    cm_job *list = NULL;
    int rc = cm__jobs_claim(&list, FX.store, &q, 1, 4, (const char *)arg, 60 * SEC);
    size_t n = jx_len(list);
    jx_free(list);
    return (void *)(intptr_t)(rc ? -1 : (intptr_t)n);
}

START_TEST(concurrent_claimers_share_one_rate_window)
{
    fx_clock_real();
    for (int i = 0; i < 40; i++)
        jx_enqueue("mail.send", NULL, NULL);
    ck_assert_ok(cm_jobs_set_rate_limit(FX.store, "mail", 6, 3600 * SEC));
    pthread_t th[RATE_CLAIMERS];
    char owners[RATE_CLAIMERS][8];
    for (int i = 0; i < RATE_CLAIMERS; i++) {
        snprintf(owners[i], sizeof owners[i], "w%d", i);
        ck_assert_int_eq(pthread_create(&th[i], NULL, claim_some, owners[i]), 0);
    }
    long total = 0;
    for (int i = 0; i < RATE_CLAIMERS; i++) {
        void *r;
        pthread_join(th[i], &r);
        ck_assert_int_ge((intptr_t)r, 0);
        total += (long)(intptr_t)r;
    }
    ck_assert_int_eq(total, 6);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE state = 'running'"), 6);
    ck_assert_int_eq(fx_count("SELECT window_count FROM job_queues WHERE queue = 'mail'"), 6);
}
END_TEST

/* ---- the claim's cost ---- */

static const char *catalog_sql(const char *id)
{
    extern const cm__sql_entry *const cm__sqlite_catalog[];
    for (const cm__sql_entry *const *part = cm__sqlite_catalog; *part; part++)
        for (const cm__sql_entry *e = *part; e->id; e++)
            if (strcmp(e->id, id) == 0)
                return e->sql;
    ck_abort_msg("no statement %s", id);
    return NULL;
}

static void assert_plan(const char *id, const char *index)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(FX.path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char sql[4096];
    snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", catalog_sql(id));
    sqlite3_stmt *st;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s",
                  sqlite3_errmsg(db));
    char plan[2048] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        strncat(plan, (const char *)sqlite3_column_text(st, 3), sizeof plan - strlen(plan) - 2);
        strncat(plan, "; ", sizeof plan - strlen(plan) - 1);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    ck_assert_msg(strstr(plan, index) != NULL, "%s: plan does not use %s: %s", id, index, plan);
    ck_assert_msg(strstr(plan, "SCAN jobs") == NULL, "%s: full scan: %s", id, plan);
    ck_assert_msg(strstr(plan, "TEMP B-TREE") == NULL, "%s: sorts: %s", id, plan);
}

/* VM steps (and full-scan steps) of one run of a statement, rolled back. */
static void measure(const char *id, int64_t *steps, int64_t *fullscan)
{
    cm__conn *c;
    ck_assert_ok(cm__store_acquire(&c, FX.store));
    ck_assert_ok(cm__tx_begin(c, true));
    cm__q q;
    ck_assert_ok(cm__q_open(&q, c, id));
    if (strcmp(id, "jobs.claim") == 0) {
        cm__q_text(&q, 1, "mail");
        cm__q_text(&q, 2, "w");
        cm__q_int64(&q, 3, cm_now_us());
        cm__q_int64(&q, 4, cm_now_us() + SEC);
        cm__q_int64(&q, 5, 10);
    } else if (strcmp(id, "jobs.expired") == 0) {
        cm__q_int64(&q, 1, cm_now_us());
        cm__q_int64(&q, 2, 10);
    } else {
        cm__q_int64(&q, 1, cm_now_us());
    }
    sqlite3_stmt *st = (sqlite3_stmt *)q.st;
    (void)sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 1);
    (void)sqlite3_stmt_status(st, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1);
    int rc;
    while ((rc = cm__q_step(&q)) == 1)
        ;
    ck_assert_int_eq(rc, 0);
    *steps = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 1);
    *fullscan = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1);
    cm__q_close(&q);
    cm__tx_rollback(c);
    cm__store_release(c);
}

static void fill(int n)
{
    /* n queued in "mail", n in another queue, n delayed, n running (lease
     * not expired), n completed */
    jx_sql("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d) "
           "INSERT INTO jobs (queue, kind, payload, priority, state, run_at, max_attempts, "
           "backoff, backoff_us, backoff_max_us, lease_expires_at, created_at, updated_at, "
           "finished_at) "
           "SELECT CASE WHEN i %% 5 = 1 THEN 'other' ELSE 'mail' END, 'mail.send', '{}', i %% 3, "
           "CASE i %% 5 WHEN 0 THEN 'queued' WHEN 1 THEN 'queued' WHEN 2 THEN 'delayed' "
           "WHEN 3 THEN 'running' ELSE 'completed' END, "
           "CASE WHEN i %% 5 = 2 THEN %lld ELSE %lld END, 3, 'fixed', 0, 0, "
           "CASE WHEN i %% 5 = 3 THEN %lld END, %lld, %lld, "
           "CASE WHEN i %% 5 = 4 THEN %lld END FROM s",
           n * 5, (long long)(JT0 + 3600 * SEC), (long long)JT0, (long long)(JT0 + 600 * SEC),
           (long long)JT0, (long long)JT0, (long long)JT0);
}

START_TEST(claim_promote_and_recovery_use_indexes_and_cost_stays_flat)
{
    assert_plan("jobs.claim", "USING INDEX jobs_claim");
    assert_plan("jobs.promote", "USING INDEX jobs_delayed");
    assert_plan("jobs.expired", "USING INDEX jobs_leases");
    assert_plan("jobs.find_live_dedupe", "USING INDEX jobs_dedupe");
    assert_plan("jobs.schedule_due", "USING INDEX job_schedules_due");

    const char *ids[] = {"jobs.claim", "jobs.promote", "jobs.expired"};
    int64_t small[3], big[3], fs;
    fill(40); /* 200 rows */
    for (int i = 0; i < 3; i++) {
        measure(ids[i], &small[i], &fs);
        ck_assert_int_eq(fs, 0);
    }
    fill(4000); /* + 20000 rows */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs"), 20200);
    for (int i = 0; i < 3; i++) {
        measure(ids[i], &big[i], &fs);
        ck_assert_int_eq(fs, 0);
        ck_assert_msg(big[i] <= small[i] + small[i] / 4 + 8,
                      "%s: %lld VM steps with 200 jobs, %lld with 20200", ids[i],
                      (long long)small[i], (long long)big[i]);
    }
    /* and the claim still takes exactly what it should */
    cm_job *list = jx_claim("mail", 10, 60 * SEC);
    ck_assert_uint_eq(jx_len(list), 10);
    for (cm_job *j = list; j; j = j->next)
        ck_assert_int_eq(j->priority, 2);
    jx_free(list);
}
END_TEST

/* ---- cron ---- */

static int64_t utc(const char *rfc3339)
{
    int64_t t;
    ck_assert_ok(cm__time_parse(&t, rfc3339));
    return t;
}

START_TEST(cron_next_runs_follow_the_zone_and_its_dst_changes)
{
    struct {
        const char *cron, *tz, *after, *want;
    } cases[] = {
        {"*/15 * * * *", "UTC", "2024-05-01T10:07:00Z", "2024-05-01T10:15:00Z"},
        {"*/15 * * * *", "UTC", "2024-05-01T10:15:00Z", "2024-05-01T10:30:00Z"},
        {"0 9 * * mon-fri", "Europe/Paris", "2024-05-03T08:00:00Z", "2024-05-06T07:00:00Z"},
        {"0 9 * * 1-5", "America/New_York", "2024-01-05T15:00:00Z", "2024-01-08T14:00:00Z"},
        /* spring forward in Paris: 02:30 does not exist on 2024-03-31 */
        {"30 2 * * *", "Europe/Paris", "2024-03-30T12:00:00Z", "2024-03-31T01:30:00Z"},
        {"30 2 * * *", "Europe/Paris", "2024-03-31T01:30:00Z", "2024-04-01T00:30:00Z"},
        /* fall back: 02:30 happens twice on 2024-10-27, the job runs once */
        {"30 2 * * *", "Europe/Paris", "2024-10-26T12:00:00Z", "2024-10-27T00:30:00Z"},
        {"30 2 * * *", "Europe/Paris", "2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"},
        /* hourly across the fall-back: wall-clock 02:00 happens once (CEST) */
        {"0 * * * *", "Europe/Paris", "2024-10-27T00:00:00Z", "2024-10-27T02:00:00Z"},
        {"0 * * * *", "Europe/Paris", "2024-10-27T01:00:00Z", "2024-10-27T02:00:00Z"},
        {"0 0 29 feb *", "UTC", "2025-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
        /* day of month OR day of week when both are restricted */
        {"0 0 13 * fri", "UTC", "2024-09-01T00:00:00Z", "2024-09-06T00:00:00Z"},
        {"0 0 13 * *", "UTC", "2024-09-01T00:00:00Z", "2024-09-13T00:00:00Z"},
        {"0 12 * * 7", "UTC", "2024-09-01T13:00:00Z", "2024-09-08T12:00:00Z"},
        {"@hourly", "Asia/Kolkata", "2024-09-01T13:10:00Z", "2024-09-01T13:30:00Z"},
        {"@monthly", "UTC", "2024-12-15T00:00:00Z", "2025-01-01T00:00:00Z"},
        {"5,10-12/2 8 * JAN *", "UTC", "2024-01-01T08:06:00Z", "2024-01-01T08:10:00Z"},
        {"10/20 * * * *", "UTC", "2024-01-01T08:31:00Z", "2024-01-01T08:50:00Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cm__cron c;
        ck_assert_ok(cm__cron_parse(&c, cases[i].cron));
        int64_t next;
        ck_assert_ok(cm__cron_next(&next, &c, cases[i].tz, utc(cases[i].after)));
        char got[32];
        cm__time_format(got, next);
        ck_assert_msg(next == utc(cases[i].want), "case %zu (%s in %s after %s): got %s", i,
                      cases[i].cron, cases[i].tz, cases[i].after, got);
    }
}
END_TEST

/* ---- repeatable schedules ---- */

static void schedule_every(const char *name, int64_t every, int missed, int64_t grace)
{
    cm_job_schedule_options o = CM_JOB_SCHEDULE_OPTIONS_INIT;
    o.every_us = every;
    o.missed = missed;
    o.grace_us = grace;
    ck_assert_ok(cm_jobs_schedule(NULL, FX.store, name, "mail.send", "{\"digest\":true}", 15, &o));
}

START_TEST(schedules_fire_on_time_without_overlap_and_apply_missed_run_policies)
{
    schedule_every("once", 60 * SEC, CM_JOB_MISSED_RUN_ONCE, 0);
    schedule_every("all", 60 * SEC, CM_JOB_MISSED_RUN_ALL, 0);
    schedule_every("skip", 60 * SEC, CM_JOB_MISSED_SKIP, 30 * SEC);
    size_t n;
    ck_assert_ok(cm__jobs_fire_schedules(&n, FX.store, cm_now_us()));
    ck_assert_uint_eq(n, 0);
    /* on time: each fires once */
    fx_clock_advance(60 * SEC);
    ck_assert_ok(cm__jobs_fire_schedules(&n, FX.store, cm_now_us()));
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE schedule_id IS NOT NULL AND "
                              "payload = '{\"digest\":true}'"),
                     3);
    ck_assert_ok(cm__jobs_fire_schedules(&n, FX.store, cm_now_us()));
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(jx_int("SELECT next_run_at FROM job_schedules WHERE name = 'once'"),
                     JT0 + 120 * SEC);
    /* the previous runs are still queued: "once" and "skip" do not overlap,
     * "all" has one key per run */
    fx_clock_advance(60 * SEC);
    ck_assert_ok(cm__jobs_fire_schedules(&n, FX.store, cm_now_us()));
    ck_assert_uint_eq(n, 1);
    cm_job *list = jx_claim("mail", 100, 60 * SEC);
    ck_assert_uint_eq(jx_len(list), 4);
    for (cm_job *j = list; j; j = j->next)
        ck_assert_ok(cm__job_finish(j, CM_OK, NULL));
    jx_free(list);
    /* ten minutes without a scheduler (last planned run at +180 s) */
    fx_clock_advance(10 * 60 * SEC + 5 * SEC);
    ck_assert_ok(cm__jobs_fire_schedules(&n, FX.store, cm_now_us()));
    ck_assert_int_eq(jx_int("SELECT count(*) FROM jobs WHERE state = 'queued' AND schedule_id = "
                            "(SELECT id FROM job_schedules WHERE name = 'once')"),
                     1);
    ck_assert_int_eq(jx_int("SELECT count(*) FROM jobs WHERE state = 'queued' AND schedule_id = "
                            "(SELECT id FROM job_schedules WHERE name = 'all')"),
                     10);
    /* the latest run was 5 s ago, within the 30 s grace */
    ck_assert_int_eq(jx_int("SELECT count(*) FROM jobs WHERE state = 'queued' AND schedule_id = "
                            "(SELECT id FROM job_schedules WHERE name = 'skip')"),
                     1);
    ck_assert_uint_eq(n, 12);
    /* every schedule now points at its first future run */
    ck_assert_int_eq(jx_int("SELECT count(*) FROM job_schedules WHERE next_run_at = %lld",
                            (long long)(JT0 + 780 * SEC)),
                     3);
    /* skip: a run 45 s late (beyond the grace) is dropped */
    jx_sql("UPDATE jobs SET state = 'completed', finished_at = 1");
    fx_clock_advance(100 * SEC); /* the next run was 55 s after the last one */
    ck_assert_ok(cm__jobs_fire_schedules(&n, FX.store, cm_now_us()));
    ck_assert_int_eq(jx_int("SELECT count(*) FROM jobs WHERE state = 'queued' AND schedule_id = "
                            "(SELECT id FROM job_schedules WHERE name = 'skip')"),
                     0);
    ck_assert_uint_eq(n, 2);
    /* removal */
    ck_assert_ok(cm_jobs_unschedule(FX.store, "all"));
    ck_assert_int_eq(cm_jobs_unschedule(FX.store, "all"), CM_ENOTFOUND);
}
END_TEST

START_TEST(cron_schedules_fire_at_local_wall_clock_time)
{
    fx_clock_set(utc("2024-03-30T12:00:00Z"));
    cm_job_schedule_options o = CM_JOB_SCHEDULE_OPTIONS_INIT;
    o.cron = "0 9 * * *";
    o.timezone = "Europe/Paris";
    int64_t id;
    ck_assert_ok(cm_jobs_schedule(&id, FX.store, "morning", "mail.send", NULL, 0, &o));
    ck_assert_int_gt(id, 0);
    ck_assert_int_eq(jx_int("SELECT next_run_at FROM job_schedules WHERE id = %lld", (long long)id),
                     utc("2024-03-31T07:00:00Z")); /* CEST from this morning */
    fx_clock_set(utc("2024-03-31T07:00:00Z"));
    size_t n;
    ck_assert_ok(cm__jobs_fire_schedules(&n, FX.store, cm_now_us()));
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(jx_int("SELECT next_run_at FROM job_schedules WHERE id = %lld", (long long)id),
                     utc("2024-04-01T07:00:00Z"));
    /* replacing a schedule keeps its id */
    int64_t id2;
    o.cron = "30 9 * * *";
    ck_assert_ok(cm_jobs_schedule(&id2, FX.store, "morning", "mail.send", NULL, 0, &o));
    ck_assert_int_eq(id2, id);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM job_schedules"), 1);
}
END_TEST

/* ---- retention, statistics, operations ---- */

START_TEST(prune_deletes_only_old_finished_jobs)
{
    for (int i = 0; i < 6; i++)
        jx_enqueue("mail.send", NULL, NULL);
    jx_sql("UPDATE jobs SET state = CASE id WHEN 1 THEN 'completed' WHEN 2 THEN 'cancelled' "
           "WHEN 3 THEN 'dead' WHEN 4 THEN 'failed' WHEN 5 THEN 'completed' ELSE state END, "
           "finished_at = CASE id WHEN 5 THEN %lld WHEN 6 THEN NULL ELSE %lld END",
           (long long)JT0, (long long)(JT0 - 100 * SEC));
    int64_t n;
    ck_assert_ok(cm_jobs_prune(&n, FX.store, JT0 - 50 * SEC, 0));
    ck_assert_int_eq(n, 2); /* 1 and 2; failed and dead are kept */
    ck_assert_ok(cm_jobs_prune(&n, FX.store, JT0 - 50 * SEC, JT0 - 50 * SEC));
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs"), 2);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE id IN (5, 6)"), 2);
}
END_TEST

START_TEST(stats_report_depths_throughput_and_latencies)
{
    for (int i = 0; i < 4; i++)
        jx_enqueue("mail.send", NULL, NULL);
    cm_job_options o = CM_JOB_OPTIONS_INIT;
    o.delay_us = 60 * SEC;
    jx_enqueue("mail.send", NULL, &o);
    fx_clock_advance(2 * SEC);
    cm_job *list = jx_claim("mail", 2, 60 * SEC);
    fx_clock_advance(SEC);
    ck_assert_ok(cm__job_finish(list, CM_OK, NULL));
    jx_free(list);
    char *s;
    ck_assert_ok(cm_jobs_stats(&s, FX.store));
    json_t *doc = json_loads(s, 0, NULL);
    cm_free(s);
    json_t *q = json_object_get(json_object_get(doc, "queues"), "mail");
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(json_integer_value(json_object_get(q, "queued")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(q, "delayed")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(q, "running")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(q, "oldest_queued_age_ms")), 3000);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(q, "finished"), "completed")), 1);
    ck_assert(json_real_value(json_object_get(json_object_get(q, "wait_ms"), "p50")) == 2000.0);
    ck_assert(json_real_value(json_object_get(json_object_get(q, "run_ms"), "p99")) == 1000.0);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "window_s")), 300);
    json_decref(doc);
}
END_TEST

START_TEST(jobs_operations_list_get_retry_cancel_redrive_and_stats)
{
    cm_actor *admin = fx_member("admin@example.org", "admin");
    cm_actor *member = fx_member("m@example.org", "member");
    jx_define("flaky", "mail", 1, CM_JOB_BACKOFF_FIXED, 0);
    int64_t a = jx_enqueue("flaky", "{\"n\":1}", NULL);
    int64_t b = jx_enqueue("flaky", "{\"n\":2}", NULL);
    int64_t c = jx_enqueue("mail.send", "{\"n\":3}", NULL);
    cm_job *list = jx_claim("mail", 2, 60 * SEC);
    for (cm_job *j = list; j; j = j->next) {
        ck_assert_ok(cm__job_finish(j, CM_EIO, "smtp said no"));
        ck_assert_str_eq(j->final_state, "dead");
    }
    jx_free(list);

    ck_assert_int_eq(fx_exec(NULL, member, "jobs.list", "{}"), CM_EPERM);
    json_t *r;
    ck_assert_ok(fx_exec(&r, admin, "jobs.list", "{s:s}", "state", "dead"));
    ck_assert_uint_eq(json_array_size(json_object_get(r, "items")), 2);
    json_decref(r);
    ck_assert_ok(fx_exec(&r, admin, "jobs.get", "{s:I}", "job_id", (json_int_t)a));
    ck_assert_str_eq(json_string_value(json_object_get(r, "last_error")), "smtp said no");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "payload"), "n")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "lease"), "token")), 1);
    json_decref(r);
    ck_assert_int_eq(fx_exec(NULL, admin, "jobs.get", "{s:I}", "job_id", (json_int_t)4242),
                     CM_ENOTFOUND);
    /* retry one: attempts start over */
    ck_assert_ok(fx_exec(&r, admin, "jobs.retry", "{s:I}", "job_id", (json_int_t)a));
    ck_assert_str_eq(json_string_value(json_object_get(r, "state")), "queued");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "attempts")), 0);
    json_decref(r);
    ck_assert_int_eq(fx_exec(NULL, admin, "jobs.retry", "{s:I}", "job_id", (json_int_t)c),
                     CM_ECONFLICT);
    /* re-drive the rest */
    ck_assert_ok(fx_exec(&r, admin, "jobs.redrive", "{s:s}", "queue", "mail"));
    ck_assert_int_eq(json_integer_value(json_object_get(r, "requeued")), 1);
    json_decref(r);
    ck_assert_str_eq(jx_text("SELECT state FROM jobs WHERE id = %lld", (long long)b), "queued");
    /* cancel */
    ck_assert_ok(fx_exec(&r, admin, "jobs.cancel", "{s:I}", "job_id", (json_int_t)c));
    ck_assert_str_eq(json_string_value(json_object_get(r, "state")), "cancelled");
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log WHERE op LIKE 'jobs.%'"), 3);
    /* stats */
    ck_assert_ok(fx_exec(&r, admin, "jobs.stats", "{}"));
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(json_object_get(r, "queues"), "mail"), "queued")),
                     2);
    json_decref(r);
    /* described for the CLI and HTTP */
    char *doc;
    ck_assert_ok(cm_ops_describe(&doc));
    ck_assert_ptr_nonnull(strstr(doc, "\"jobs.redrive\""));
    ck_assert_ptr_nonnull(strstr(doc, "/v1/jobs/{job_id}/retry"));
    cm_free(doc);
    cm_actor_free(admin);
    cm_actor_free(member);
}
END_TEST

/* ---- the platform's own jobs ---- */

/* A dead job whose dedupe key a live job now holds stays dead: retry says
 * CM_EEXISTS, and a re-drive skips it but re-queues the others (on
 * PostgreSQL, where a failed statement aborts the transaction, too). */
START_TEST(retry_and_redrive_leave_jobs_whose_dedupe_key_is_held)
{
    cm_actor *admin = fx_member("admin@example.org", "admin");
    jx_define("flaky", "mail", 1, CM_JOB_BACKOFF_FIXED, 0);
    cm_job_options o = CM_JOB_OPTIONS_INIT;
    o.dedupe_key = "k";
    int64_t a = jx_enqueue("flaky", NULL, &o);
    int64_t c = jx_enqueue("flaky", NULL, NULL);
    cm_job *list = jx_claim("mail", 2, 60 * SEC);
    ck_assert_uint_eq(jx_len(list), 2);
    for (cm_job *j = list; j; j = j->next)
        ck_assert_ok(cm__job_finish(j, CM_EIO, "no"));
    jx_free(list);
    int64_t b = jx_enqueue("flaky", NULL, &o); /* a is dead: the key is free again */
    ck_assert_int_ne(b, a);
    ck_assert_int_eq(fx_exec(NULL, admin, "jobs.retry", "{s:I}", "job_id", (json_int_t)a),
                     CM_EEXISTS);
    json_t *r;
    ck_assert_ok(fx_exec(&r, admin, "jobs.redrive", "{s:s}", "queue", "mail"));
    ck_assert_int_eq(json_integer_value(json_object_get(r, "requeued")), 1);
    json_decref(r);
    ck_assert_str_eq(jx_text("SELECT group_concat(state, ',') FROM (SELECT state FROM jobs "
                             "WHERE id IN (%lld, %lld, %lld) ORDER BY id) AS t",
                             (long long)a, (long long)c, (long long)b),
                     "dead,queued,queued");
    cm_actor_free(admin);
}
END_TEST

static int64_t sent;
static int sweep(cm__conn *conn, void *p)
{
    (void)p;
    return cm__platform_reminder_sweep(conn, cm_now_us(), &sent);
}

static long long add_event(const char *title, const char *status, int64_t start)
{
    jx_sql("INSERT INTO events (title, status, format, timezone, start_local, end_local, "
           "start_at, end_at, created_by, created_at, updated_at) VALUES ('%s', '%s', "
           "'online', 'Europe/Paris', '2023-11-15T10:00', '2023-11-15T11:00', %lld, %lld, 1, "
           "%lld, %lld)",
           title, status, (long long)start, (long long)(start + 3600 * SEC), (long long)JT0,
           (long long)JT0);
    return jx_int("SELECT max(id) FROM events");
}

static void add_rsvp(long long event, int64_t member, const char *status)
{
    bool going = strcmp(status, "going") == 0;
    jx_sql("INSERT INTO rsvps (event_id, member_id, status, seats, waitlist_seq, created_at, "
           "updated_at) VALUES (%lld, %lld, '%s', %d, %s, %lld, %lld)",
           event, (long long)member, status, going ? 1 : 0, going ? "NULL" : "1", (long long)JT0,
           (long long)JT0);
}

START_TEST(event_reminders_are_sent_once_and_follow_time_changes)
{
    cm_actor *m1 = fx_member("m1@example.org", "organizer");
    cm_actor *m2 = fx_member("m2@example.org", "member");
    int64_t id1 = cm_actor_member_id(m1), id2 = cm_actor_member_id(m2);
    long long e1 = add_event("Far", "published", JT0 + 30 * 3600 * SEC);
    long long e2 = add_event("Tonight", "published", JT0 + 10 * 3600 * SEC);
    long long e3 = add_event("Soon", "published", JT0 + 30 * 60 * SEC);
    long long e4 = add_event("Draft", "draft", JT0 + 2 * 3600 * SEC);
    long long e5 = add_event("Gone", "cancelled", JT0 + 10 * 3600 * SEC);
    add_rsvp(e1, id1, "going");
    add_rsvp(e2, id1, "going");
    add_rsvp(e2, id2, "going");
    add_rsvp(e3, id1, "going");
    add_rsvp(e3, id2, "waitlisted");
    add_rsvp(e4, id1, "going");
    add_rsvp(e5, id1, "going");

    ck_assert_ok(cm__store_run_tx(FX.store, true, sweep, NULL));
    ck_assert_int_eq(sent, 3); /* 24 h: e2 x2; 1 h: e3 (going only) */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE template = "
                              "'event_reminder_24h'"),
                     2);
    char key[256];
    snprintf(key, sizeof key,
             "SELECT count(*) FROM email_outbox WHERE dedupe_key = "
             "'reminder:1h:%lld:%lld' AND to_addr = 'm1@example.org'",
             e3, (long long)id1);
    ck_assert_int_eq(fx_count(key), 1);
    /* sent once */
    ck_assert_ok(cm__store_run_tx(FX.store, true, sweep, NULL));
    ck_assert_int_eq(sent, 0);
    /* e1 moves earlier: its 24 h reminder follows the new time */
    jx_sql("UPDATE events SET start_at = %lld WHERE id = %lld", (long long)(JT0 + 20 * 3600 * SEC),
           e1);
    ck_assert_ok(cm__store_run_tx(FX.store, true, sweep, NULL));
    ck_assert_int_eq(sent, 1);
    /* nine hours and a quarter later e2 is 45 minutes away */
    fx_clock_advance((9 * 60 + 15) * 60 * SEC);
    ck_assert_ok(cm__store_run_tx(FX.store, true, sweep, NULL));
    ck_assert_int_eq(sent, 2);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox"), 6);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM event_reminders"), 4);
    json_t *got = json_loads(jx_text("SELECT payload FROM email_outbox WHERE template = "
                                     "'event_reminder_1h' AND to_addr = 'm2@example.org'"),
                             0, NULL);
    json_t *want =
        json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s}", "event_id", (json_int_t)e2, "which", "1h",
                  "name", "m2@example.org", "title", "Tonight", "start_local", "2023-11-15T10:00",
                  "timezone", "Europe/Paris", "start_at", "2023-11-15T08:13:20Z");
    ck_assert_msg(got && json_equal(got, want), "reminder payload differs");
    json_decref(got);
    json_decref(want);
    cm_actor_free(m1);
    cm_actor_free(m2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jobs_queue");
    TCase *tc = tcase_create("queue");
    tcase_add_checked_fixture(tc, setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, invalid_enqueues_are_rejected_with_their_field_and_store_nothing);
    tcase_add_test(tc, invalid_schedules_are_rejected_and_store_nothing);
    tcase_add_test(tc, claims_follow_priority_then_run_time_then_id);
    tcase_add_test(tc, a_claim_takes_at_most_the_batch_asked_for);
    tcase_add_test(tc, dedupe_rejects_or_replaces_while_a_job_is_live);
    tcase_add_test(tc, batch_enqueue_is_one_transaction_with_per_job_dedupe);
    tcase_add_test(tc, enqueue_commits_and_rolls_back_with_the_business_write);
    tcase_add_test(tc, cancel_stops_waiting_jobs_and_asks_running_ones);
    tcase_add_test(tc, rate_limits_cap_starts_per_window_across_claims);
    tcase_add_test(tc, concurrent_claimers_share_one_rate_window);
    if (!fx_is_pg())
        tcase_add_test(tc, claim_promote_and_recovery_use_indexes_and_cost_stays_flat);
    tcase_add_test(tc, cron_next_runs_follow_the_zone_and_its_dst_changes);
    tcase_add_test(tc, schedules_fire_on_time_without_overlap_and_apply_missed_run_policies);
    tcase_add_test(tc, cron_schedules_fire_at_local_wall_clock_time);
    tcase_add_test(tc, prune_deletes_only_old_finished_jobs);
    tcase_add_test(tc, stats_report_depths_throughput_and_latencies);
    tcase_add_test(tc, jobs_operations_list_get_retry_cancel_redrive_and_stats);
    tcase_add_test(tc, event_reminders_are_sent_once_and_follow_time_changes);
    tcase_add_test(tc, retry_and_redrive_leave_jobs_whose_dedupe_key_is_held);
    suite_add_tcase(s, tc);
    return fx_run(s);
}
