/*
 * test_jobs_lease.c - the lease protocol step by step with the settable
 * clock: retries and backoff timing, dead and failed jobs, recovery of
 * lapsed leases, fencing (a stale lease token gets CM_ELEASE everywhere),
 * renewal and deadlines, progress, release, batch finishing, and
 * completion inside the handler's own transaction.
 */
#include "jobs_fx.h"

#include <stdlib.h>
#include <string.h>

static void setup(void)
{
    fx_setup();
    fx_clock_set(JT0);
}

static cm_job *claim_one(const char *owner, const char *queue, int64_t lease_us)
{
    cm_job *j = jx_claim_as(owner, queue, 1, lease_us);
    ck_assert_ptr_nonnull(j);
    return j;
}

START_TEST(fixed_backoff_retries_at_the_right_time_then_the_job_dies)
{
    jx_define("fixed", "q", 3, CM_JOB_BACKOFF_FIXED, 10 * SEC);
    int64_t id = jx_enqueue("fixed", NULL, NULL);
    for (int attempt = 1; attempt <= 3; attempt++) {
        cm_job *j = claim_one("w1", "q", 60 * SEC);
        ck_assert_int_eq(j->id, id);
        ck_assert_int_eq(j->attempt, attempt);
        ck_assert_int_eq(j->lease_token, attempt);
        ck_assert_int_eq(cm__job_finish(j, CM_EIO, "disk on fire"), CM_OK);
        jx_free(j);
        if (attempt < 3) {
            ck_assert_str_eq(jx_text("SELECT state FROM jobs"), "delayed");
            ck_assert_int_eq(jx_int("SELECT run_at FROM jobs"), cm_now_us() + 10 * SEC);
            fx_clock_advance(10 * SEC - 1);
            ck_assert_ptr_null(jx_claim("q", 1, 60 * SEC));
            fx_clock_advance(1);
        }
    }
    ck_assert_str_eq(jx_text("SELECT state || '/' || attempts || '/' || last_error FROM jobs"),
                     "dead/3/disk on fire");
    ck_assert_int_eq(jx_int("SELECT finished_at FROM jobs"), cm_now_us());
    ck_assert_ptr_null(jx_claim("q", 1, 60 * SEC));
}
END_TEST

START_TEST(exponential_backoff_doubles_with_bounded_jitter_up_to_its_cap)
{
    cm_job_kind_options ko = CM_JOB_KIND_OPTIONS_INIT;
    ko.queue = "q";
    ko.max_attempts = 7;
    ko.backoff = CM_JOB_BACKOFF_EXPONENTIAL;
    ko.backoff_us = SEC;
    ko.backoff_max_us = 8 * SEC;
    ck_assert_ok(cm_jobs_define(FX.store, "expo", &ko));
    jx_enqueue("expo", NULL, NULL);
    int64_t caps[] = {1, 2, 4, 8, 8, 8};
    for (int attempt = 1; attempt <= 6; attempt++) {
        cm_job *j = claim_one("w1", "q", 60 * SEC);
        ck_assert_int_eq(j->attempt, attempt);
        ck_assert_ok(cm__job_finish(j, CM_EIO, NULL));
        jx_free(j);
        int64_t delay = jx_int("SELECT run_at FROM jobs") - cm_now_us();
        int64_t d = caps[attempt - 1] * SEC;
        ck_assert_msg(delay >= d / 2 && delay <= d, "attempt %d: delay %lld not in [%lld, %lld]",
                      attempt, (long long)delay, (long long)(d / 2), (long long)d);
        fx_clock_advance(delay);
    }
    /* the jitter is reproducible per job and spreads across jobs */
    int64_t first = cm__backoff_delay(CM_JOB_BACKOFF_EXPONENTIAL, 1000 * SEC, 3600 * SEC, 3, 1);
    ck_assert_int_eq(cm__backoff_delay(CM_JOB_BACKOFF_EXPONENTIAL, 1000 * SEC, 3600 * SEC, 3, 1),
                     first);
    int distinct = 0;
    for (int64_t id = 2; id < 20; id++)
        distinct +=
            cm__backoff_delay(CM_JOB_BACKOFF_EXPONENTIAL, 1000 * SEC, 3600 * SEC, 3, id) != first;
    ck_assert_int_ge(distinct, 15);
    /* no overflow for huge attempt numbers */
    ck_assert_int_le(cm__backoff_delay(CM_JOB_BACKOFF_EXPONENTIAL, SEC, 3600 * SEC, 900, 5),
                     3600 * SEC);
    ck_assert_int_eq(cm__backoff_delay(CM_JOB_BACKOFF_FIXED, 0, 0, 3, 1), 0);
}
END_TEST

START_TEST(handler_supplied_delay_no_retry_and_immediate_retry)
{
    jx_define("custom", "q", 5, CM_JOB_BACKOFF_CUSTOM, 7 * SEC);
    jx_enqueue("custom", NULL, NULL);
    cm_job *j = claim_one("w1", "q", 60 * SEC);
    cm_job_retry_in(j, 3 * SEC);
    ck_assert_ok(cm__job_finish(j, CM_EBUSY, "rate limited upstream"));
    jx_free(j);
    ck_assert_int_eq(jx_int("SELECT run_at FROM jobs"), cm_now_us() + 3 * SEC);
    fx_clock_advance(3 * SEC);
    j = claim_one("w1", "q", 60 * SEC); /* custom without a delay: the base */
    ck_assert_ok(cm__job_finish(j, CM_EBUSY, NULL));
    jx_free(j);
    ck_assert_int_eq(jx_int("SELECT run_at FROM jobs"), cm_now_us() + 7 * SEC);
    fx_clock_advance(7 * SEC);
    j = claim_one("w1", "q", 60 * SEC);
    cm_job_no_retry(j);
    ck_assert_ok(cm__job_finish(j, CM_EINVAL, "bad address"));
    ck_assert_str_eq(j->final_state, "failed");
    jx_free(j);
    ck_assert_str_eq(jx_text("SELECT state || '/' || attempts FROM jobs"), "failed/3");

    /* a zero delay requeues at once */
    jx_define("now", "q2", 3, CM_JOB_BACKOFF_FIXED, 0);
    jx_enqueue("now", NULL, NULL);
    j = claim_one("w1", "q2", 60 * SEC);
    ck_assert_ok(cm__job_finish(j, CM_EIO, NULL));
    ck_assert_str_eq(j->final_state, "queued");
    jx_free(j);
    j = claim_one("w1", "q2", 60 * SEC);
    ck_assert_int_eq(j->attempt, 2);
    jx_free(j);
}
END_TEST

START_TEST(a_lapsed_lease_is_recovered_and_the_stale_holder_is_fenced_out)
{
    jx_define("work", "q", 5, CM_JOB_BACKOFF_FIXED, 0);
    int64_t id = jx_enqueue("work", NULL, NULL);
    cm_job *old = claim_one("w1", "q", 30 * SEC);
    size_t n;
    int64_t ids[4];
    fx_clock_advance(30 * SEC - 1);
    ck_assert_ok(cm__jobs_recover(&n, ids, FX.store, cm_now_us(), 4));
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(jx_claim_as("w2", "q", 1, 30 * SEC));
    fx_clock_advance(2);
    ck_assert_ok(cm__jobs_recover(&n, ids, FX.store, cm_now_us(), 4));
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(ids[0], id);
    ck_assert_str_eq(jx_text("SELECT state || '/' || attempts || '/' || last_error FROM jobs"),
                     "queued/1/lease expired: worker w1 stopped renewing it");
    cm_job *cur = claim_one("w2", "q", 30 * SEC);
    ck_assert_int_eq(cur->attempt, 2);
    ck_assert_int_eq(cur->lease_token, 2);

    /* every write of the stale holder is refused */
    ck_assert_int_eq(cm__job_finish(old, CM_OK, NULL), CM_ELEASE);
    ck_assert_int_eq(cm__job_finish(old, CM_EIO, "late failure"), CM_ELEASE);
    ck_assert_int_eq(cm_job_progress(old, "50", 2), CM_ELEASE);
    cm__lease_ref ref = {old->id, old->lease_token, 0};
    int rc = 0;
    ck_assert_ok(cm__jobs_renew(FX.store, &ref, &rc, 1, 30 * SEC));
    ck_assert_int_eq(rc, CM_ELEASE);
    ck_assert_ok(cm__jobs_release(FX.store, &ref, 1, true));
    ck_assert_int_eq(cm__job_complete_tx(old, NULL, NULL), CM_ELEASE);
    ck_assert_str_eq(jx_text("SELECT state || '/' || lease_owner FROM jobs"), "running/w2");
    /* the current holder completes */
    ck_assert_ok(cm__job_finish(cur, CM_OK, NULL));
    ck_assert_str_eq(jx_text("SELECT state FROM jobs"), "completed");
    /* and a stale finish after completion changes nothing either */
    ck_assert_int_eq(cm__job_finish(old, CM_EIO, NULL), CM_ELEASE);
    ck_assert_str_eq(jx_text("SELECT state FROM jobs"), "completed");
    jx_free(old);
    jx_free(cur);
}
END_TEST

START_TEST(crashing_every_attempt_ends_dead_with_the_reason)
{
    jx_define("poison", "q", 2, CM_JOB_BACKOFF_FIXED, 5 * SEC);
    jx_enqueue("poison", NULL, NULL);
    size_t n;
    cm_job *j = claim_one("w1", "q", 10 * SEC);
    jx_free(j); /* the worker "crashes" */
    fx_clock_advance(11 * SEC);
    ck_assert_ok(cm__jobs_recover(&n, NULL, FX.store, cm_now_us(), 10));
    ck_assert_uint_eq(n, 1);
    /* the lease was the wait: the next attempt may start at once, not after the backoff */
    ck_assert_str_eq(jx_text("SELECT state FROM jobs"), "queued");
    ck_assert_int_eq(jx_int("SELECT run_at FROM jobs"), cm_now_us());
    j = claim_one("w1", "q", 10 * SEC);
    ck_assert_int_eq(j->attempt, 2);
    jx_free(j);
    fx_clock_advance(11 * SEC);
    ck_assert_ok(cm__jobs_recover(&n, NULL, FX.store, cm_now_us(), 10));
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(jx_text("SELECT state FROM jobs"), "dead");
    ck_assert_ptr_nonnull(strstr(jx_text("SELECT last_error FROM jobs"), "lease expired"));
}
END_TEST

START_TEST(renewal_extends_the_lease_but_not_past_the_deadline)
{
    jx_define("work", "q", 3, CM_JOB_BACKOFF_FIXED, 0);
    jx_enqueue("work", NULL, NULL);
    cm_job *j = claim_one("w1", "q", 30 * SEC);
    ck_assert_int_eq(jx_int("SELECT lease_expires_at FROM jobs"), JT0 + 30 * SEC);
    fx_clock_advance(20 * SEC);
    cm__lease_ref ref = {j->id, j->lease_token, 0};
    int rc = -1;
    ck_assert_ok(cm__jobs_renew(FX.store, &ref, &rc, 1, 30 * SEC));
    ck_assert_int_eq(rc, CM_OK);
    ck_assert_int_eq(jx_int("SELECT lease_expires_at FROM jobs"), JT0 + 50 * SEC);
    ref.deadline = JT0 + 35 * SEC;
    ck_assert_ok(cm__jobs_renew(FX.store, &ref, &rc, 1, 30 * SEC));
    ck_assert_int_eq(jx_int("SELECT lease_expires_at FROM jobs"), JT0 + 35 * SEC);
    /* past its deadline the lease lapses and the job is recovered */
    fx_clock_advance(16 * SEC);
    size_t n;
    ck_assert_ok(cm__jobs_recover(&n, NULL, FX.store, cm_now_us(), 10));
    ck_assert_uint_eq(n, 1);
    jx_free(j);
}
END_TEST

START_TEST(progress_is_recorded_under_the_lease)
{
    jx_define("work", "q", 3, CM_JOB_BACKOFF_FIXED, 0);
    jx_enqueue("work", NULL, NULL);
    cm_job *j = claim_one("w1", "q", 30 * SEC);
    ck_assert_ok(cm_job_progress(j, "{\"done\":3,\"of\":10}", 18));
    ck_assert_str_eq(jx_text("SELECT progress FROM jobs"), "{\"done\":3,\"of\":10}");
    ck_assert_int_eq(cm_job_progress(j, "{oops", 5), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "progress");
    ck_assert_str_eq(jx_text("SELECT progress FROM jobs"), "{\"done\":3,\"of\":10}");
    ck_assert_ok(cm_job_set_result(j, "{\"sent\":10}", 11));
    ck_assert_int_eq(cm_job_set_result(j, "nope", 4), CM_EINVAL);
    ck_assert_ok(cm__job_finish(j, CM_OK, NULL));
    ck_assert_str_eq(jx_text("SELECT result FROM jobs"), "{\"sent\":10}");
    ck_assert_int_eq(cm_job_progress(j, "100", 3), CM_ELEASE);
    jx_free(j);
}
END_TEST

START_TEST(released_jobs_go_back_without_using_an_attempt)
{
    jx_define("work", "q", 3, CM_JOB_BACKOFF_FIXED, 0);
    jx_enqueue("work", NULL, NULL);
    cm_job *j = claim_one("w1", "q", 30 * SEC);
    cm__lease_ref ref = {j->id, j->lease_token, 0};
    ck_assert_ok(cm__jobs_release(FX.store, &ref, 1, true));
    ck_assert_str_eq(jx_text("SELECT state || '/' || attempts FROM jobs"), "queued/0");
    jx_free(j);
    j = claim_one("w2", "q", 30 * SEC);
    ck_assert_int_eq(j->attempt, 1);
    ck_assert_int_eq(j->lease_token, 2);
    ck_assert_int_eq(cm__job_finish(j, CM_OK, NULL), CM_OK);
    jx_free(j);
}
END_TEST

START_TEST(a_batch_finish_fences_each_job_separately)
{
    jx_define("work", "q", 1, CM_JOB_BACKOFF_FIXED, 0);
    for (int i = 0; i < 3; i++)
        jx_enqueue("work", NULL, NULL);
    cm_job *list = jx_claim("q", 3, 30 * SEC);
    cm_job *js[3];
    size_t i = 0;
    for (cm_job *j = list; j; j = j->next)
        js[i++] = j;
    js[0]->status = CM_OK;
    js[1]->status = CM_EIO;
    snprintf(js[1]->error, sizeof js[1]->error, "boom");
    js[2]->status = CM_OK;
    jx_sql("UPDATE jobs SET lease_token = lease_token + 1 WHERE id = %lld", (long long)js[2]->id);
    ck_assert_ok(cm__jobs_finish(js, 3));
    ck_assert_int_eq(js[0]->finish_rc, CM_OK);
    ck_assert_str_eq(js[0]->final_state, "completed");
    ck_assert_int_eq(js[1]->finish_rc, CM_OK);
    ck_assert_str_eq(js[1]->final_state, "dead");
    ck_assert_int_eq(js[2]->finish_rc, CM_ELEASE);
    ck_assert_str_eq(jx_text("SELECT group_concat(state, ',') FROM (SELECT state FROM jobs "
                             "ORDER BY id) AS t"),
                     "completed,dead,running");
    jx_free(list);
}
END_TEST

/* ---- completion in the handler's transaction ---- */

static int effect(cm__conn *conn, void *p)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "outbox.insert");
    if (rc)
        return rc;
    cm__q_null(&q, 1);
    cm__q_text(&q, 2, p);
    cm__q_text(&q, 3, "t");
    cm__q_text(&q, 4, "{}");
    cm__q_null(&q, 5);
    cm__q_int64(&q, 6, cm_now_us());
    rc = cm__q_step(&q);
    cm__q_close(&q);
    return cm__ok(rc);
}

START_TEST(completion_in_the_handlers_transaction_commits_with_its_effect_or_not_at_all)
{
    jx_define("work", "q", 3, CM_JOB_BACKOFF_FIXED, 0);
    jx_enqueue("work", NULL, NULL);
    cm_job *j = claim_one("w1", "q", 30 * SEC);
    ck_assert_ok(cm__job_complete_tx(j, effect, "a@example.org"));
    ck_assert(j->done);
    ck_assert_int_eq(cm__job_complete_tx(j, effect, "a@example.org"), CM_EMISUSE);
    ck_assert_str_eq(jx_text("SELECT state FROM jobs"), "completed");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox"), 1);
    jx_free(j);
    /* a stale holder's effect is rolled back with its refused completion */
    jx_enqueue("work", NULL, NULL);
    cm_job *old = claim_one("w1", "q", 30 * SEC);
    fx_clock_advance(31 * SEC);
    size_t n;
    ck_assert_ok(cm__jobs_recover(&n, NULL, FX.store, cm_now_us(), 10));
    cm_job *cur = claim_one("w2", "q", 30 * SEC);
    ck_assert_int_eq(cm__job_complete_tx(old, effect, "stale@example.org"), CM_ELEASE);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE to_addr = "
                              "'stale@example.org'"),
                     0);
    ck_assert_ok(cm__job_complete_tx(cur, effect, "fresh@example.org"));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox"), 2);
    jx_free(old);
    jx_free(cur);
}
END_TEST

START_TEST(complete_exec_runs_an_operation_and_completes_the_job_atomically)
{
    jx_define("signup", "q", 3, CM_JOB_BACKOFF_FIXED, 0);
    jx_enqueue("signup", NULL, NULL);
    jx_enqueue("signup", NULL, NULL);
    cm_job *list = jx_claim("q", 2, 30 * SEC);
    cm_job *a = list, *b = list->next;
    char *out = NULL;
    const char *in = "{\"email\":\"job@example.org\",\"name\":\"Job\"}";
    /* invalid input: nothing happens, the job stays running */
    ck_assert_int_eq(cm_job_complete_exec(&out, a, FX.sys, "members.signup", "{}", 2), CM_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(cm_job_complete_exec(NULL, a, FX.sys, "no.such", "{}", 2), CM_EUNKNOWNOP);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE state = 'running'"), 2);
    ck_assert_ok(cm_job_complete_exec(&out, a, FX.sys, "members.signup", in, strlen(in)));
    ck_assert_ptr_nonnull(strstr(out, "job@example.org"));
    cm_free(out);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members WHERE email = 'job@example.org'"), 1);
    ck_assert_str_eq(jx_text("SELECT state FROM jobs WHERE id = %lld", (long long)a->id),
                     "completed");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log WHERE op = 'members.signup'"), 1);
    /* fenced: the operation is rolled back with the refused completion */
    jx_sql("UPDATE jobs SET lease_token = lease_token + 1 WHERE id = %lld", (long long)b->id);
    const char *in2 = "{\"email\":\"late@example.org\",\"name\":\"Late\"}";
    ck_assert_int_eq(cm_job_complete_exec(&out, b, FX.sys, "members.signup", in2, strlen(in2)),
                     CM_ELEASE);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members WHERE email = 'late@example.org'"), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log WHERE op = 'members.signup'"), 1);
    jx_free(list);
}
END_TEST

/* ---- allocation failures ---- */

typedef int (*step_fn)(void *arg);

static const char *snapshot(void)
{
    return jx_text("SELECT coalesce(group_concat(id || ':' || state || ':' || attempts || ':' || "
                   "lease_token || ':' || run_at || ':' || coalesce(last_error, ''), '|'), '') "
                   "|| '/' || (SELECT count(*) FROM email_outbox) || '/' || "
                   "(SELECT group_concat(next_run_at || '', ',') FROM job_schedules) FROM jobs");
}

/* Run fn with allocation N failing for N = 1, 2, ... until it succeeds;
 * every failure must be CM_ENOMEM and change nothing. */
static long walk(const char *what, step_fn fn, void *arg)
{
    char before[4096];
    snprintf(before, sizeof before, "%s", snapshot());
    for (long n = 1; n < 10000; n++) {
        fx_alloc_arm(n);
        int rc = fn(arg);
        long injected = fx_alloc_disarm();
        if (rc == CM_OK)
            return n - 1;
        ck_assert_msg(injected == 1 && rc == CM_ENOMEM, "%s at N=%ld: %s (%s)", what, n,
                      cm_status_name(rc), cm_error_message());
        ck_assert_msg(strcmp(before, snapshot()) == 0, "%s failed at N=%ld but changed %s -> %s",
                      what, n, before, snapshot());
    }
    ck_abort_msg("%s never succeeded", what);
    return 0;
}

static int w_enqueue(void *arg)
{
    (void)arg;
    cm_job_options o = CM_JOB_OPTIONS_INIT;
    o.dedupe_key = "oom";
    return cm_jobs_enqueue(NULL, FX.store, "work", "{\"a\":[1,2,3]}", 13, &o);
}

static int w_batch(void *arg)
{
    (void)arg;
    const char *p[3] = {"{}", "[]", "1"};
    return cm_jobs_enqueue_batch(NULL, FX.store, "work", p, NULL, NULL, 3, NULL);
}

static int w_claim(void *arg)
{
    cm_job **list = arg;
    cm__claim_queue q = {.queue = "q", .want = 3};
    return cm__jobs_claim(list, FX.store, &q, 1, 3, "w1", 10 * SEC);
}

static int w_finish(void *arg)
{
    cm_job *list = arg, *js[3];
    size_t n = 0;
    for (cm_job *j = list; j; j = j->next)
        js[n++] = j;
    return cm__jobs_finish(js, n);
}

static int w_recover(void *arg)
{
    (void)arg;
    return cm__jobs_recover(NULL, NULL, FX.store, cm_now_us(), 10);
}

static int w_fire(void *arg)
{
    (void)arg;
    return cm__jobs_fire_schedules(NULL, FX.store, cm_now_us());
}

static int w_stats(void *arg)
{
    (void)arg;
    char *out = NULL;
    int rc = cm_jobs_stats(&out, FX.store);
    cm_free(out);
    return rc;
}

static int w_complete(void *arg)
{
    cm_job *j = arg;
    char in[] = "{\"email\":\"oom@example.org\",\"name\":\"O\"}";
    char *out = NULL;
    int rc = cm_job_complete_exec(&out, j, FX.sys, "members.signup", in, strlen(in));
    cm_free(out);
    return rc;
}

START_TEST(allocation_failures_change_nothing_and_leak_nothing)
{
    jx_define("work", "q", 2, CM_JOB_BACKOFF_FIXED, 0);
    walk("enqueue", w_enqueue, NULL);
    walk("enqueue_batch", w_batch, NULL);
    cm_job *list = NULL;
    ck_assert_int_ge(walk("claim", w_claim, &list), 3);
    ck_assert_uint_eq(jx_len(list), 3);
    list->status = CM_OK;
    list->next->status = CM_EIO;
    snprintf(list->next->error, sizeof list->next->error, "io");
    cm_job *keep = list->next->next;
    list->next->next = NULL;
    walk("finish", w_finish, list);
    jx_free(list);
    fx_clock_advance(11 * SEC); /* keep's lease lapses */
    ck_assert_int_ge(walk("recover", w_recover, NULL), 1);
    jx_free(keep);
    cm_job_schedule_options so = CM_JOB_SCHEDULE_OPTIONS_INIT;
    so.every_us = SEC;
    so.missed = CM_JOB_MISSED_RUN_ALL;
    ck_assert_ok(cm_jobs_schedule(NULL, FX.store, "s", "work", NULL, 0, &so));
    fx_clock_advance(5 * SEC);
    ck_assert_int_ge(walk("fire_schedules", w_fire, NULL), 1);
    ck_assert_int_ge(walk("stats", w_stats, NULL), 2);
    cm_job *j = jx_claim("q", 1, 10 * SEC);
    ck_assert_int_ge(walk("complete_exec", w_complete, j), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members WHERE email = 'oom@example.org'"), 1);
    jx_free(j);
}
END_TEST

int main(void)
{
    /* Before anything allocates: any later library allocation can fail. */
    if (fx_alloc_install() != CM_OK)
        return EXIT_FAILURE;
    Suite *s = suite_create("jobs_lease");
    TCase *tc = tcase_create("lease");
    tcase_add_checked_fixture(tc, setup, fx_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fixed_backoff_retries_at_the_right_time_then_the_job_dies);
    tcase_add_test(tc, exponential_backoff_doubles_with_bounded_jitter_up_to_its_cap);
    tcase_add_test(tc, handler_supplied_delay_no_retry_and_immediate_retry);
    tcase_add_test(tc, a_lapsed_lease_is_recovered_and_the_stale_holder_is_fenced_out);
    tcase_add_test(tc, crashing_every_attempt_ends_dead_with_the_reason);
    tcase_add_test(tc, renewal_extends_the_lease_but_not_past_the_deadline);
    tcase_add_test(tc, progress_is_recorded_under_the_lease);
    tcase_add_test(tc, released_jobs_go_back_without_using_an_attempt);
    tcase_add_test(tc, a_batch_finish_fences_each_job_separately);
    tcase_add_test(tc,
                   completion_in_the_handlers_transaction_commits_with_its_effect_or_not_at_all);
    tcase_add_test(tc, complete_exec_runs_an_operation_and_completes_the_job_atomically);
    tcase_add_test(tc, allocation_failures_change_nothing_and_leak_nothing);
    suite_add_tcase(s, tc);
    return fx_run(s);
}
