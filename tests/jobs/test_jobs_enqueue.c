/*
 * test_jobs_enqueue.c - the enqueue's fast paths and wake-ups: multi-row
 * batch inserts (ids come back in input order, every column as a
 * one-by-one enqueue would write it, for every batch size around the
 * statement sizes), batches that mix dedupe keys with keyless jobs, the
 * allocation-free JSON check, which must agree with jansson on every text
 * (a table of edge cases, then random mutations of valid documents), the
 * wake-up of this process's schedulers after an operation commits, and a
 * scheduler that serves only the queues it lists.
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
    fx_clock_set(JT0);
    jx_define("bulk", "bulkq", 3, CM_JOB_BACKOFF_FIXED, 10 * SEC);
}

/* n payloads {"n":<base+i>} in static storage. */
static const char **make_payloads(size_t n, int base, size_t **lens_out)
{
    static char bufs[1300][32];
    static const char *ptrs[1300];
    static size_t lens[1300];
    ck_assert_uint_le(n, 1300);
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(bufs[i], sizeof bufs[i], "{\"n\":%d}", base + (int)i);
        ptrs[i] = bufs[i];
        lens[i] = (size_t)len;
    }
    *lens_out = lens;
    return ptrs;
}

START_TEST(batch_ids_follow_the_input_order_for_every_size)
{
    /* sizes around the 64- and 8-row statements and the one-by-one tail */
    static const size_t sizes[] = {1, 2, 7, 8, 9, 63, 64, 65, 72, 73, 127, 128, 137, 1000, 1237};
    int base = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s], *lens;
        const char **p = make_payloads(n, base, &lens);
        int64_t *ids = calloc(n, sizeof *ids);
        ck_assert_ok(cm_jobs_enqueue_batch(ids, FX.store, "bulk", p, lens, NULL, n, NULL));
        for (size_t i = 0; i < n; i++) {
            ck_assert_int_gt(ids[i], 0);
            if (i)
                ck_assert_int_gt(ids[i], ids[i - 1]);
            ck_assert_int_eq(jx_int("SELECT CAST(substr(payload, 6, length(payload) - 6) AS "
                                    "INTEGER) FROM jobs WHERE id = %lld",
                                    (long long)ids[i]),
                             base + (int)i);
        }
        ck_assert_int_eq(jx_int("SELECT count(*) FROM jobs WHERE id BETWEEN %lld AND %lld",
                                (long long)ids[0], (long long)ids[n - 1]),
                         (long long)n);
        free(ids);
        base += (int)n;
    }
    ck_assert_int_eq(jx_int("SELECT count(*) FROM jobs"), base);
}
END_TEST

START_TEST(a_batch_without_ids_stores_every_job)
{
    static const size_t sizes[] = {1, 9, 64, 137, 1000};
    long long total = 0, sum = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s], *lens;
        const char **p = make_payloads(n, 1, &lens);
        ck_assert_ok(cm_jobs_enqueue_batch(NULL, FX.store, "bulk", p, lens, NULL, n, NULL));
        total += (long long)n;
        sum += (long long)n * (long long)(n + 1) / 2;
    }
    ck_assert_int_eq(jx_int("SELECT count(*) FROM jobs WHERE state = 'queued' AND queue = "
                            "'bulkq'"),
                     total);
    ck_assert_int_eq(jx_int("SELECT sum(CAST(substr(payload, 6, length(payload) - 6) AS "
                            "INTEGER)) FROM jobs"),
                     sum);
}
END_TEST

START_TEST(batch_rows_match_a_single_enqueue_column_by_column)
{
    cm_job_options o = CM_JOB_OPTIONS_INIT;
    o.priority = 7;
    o.delay_us = 30 * SEC;
    o.max_attempts = 9;
    o.backoff = CM_JOB_BACKOFF_EXPONENTIAL;
    o.backoff_us = 2 * SEC;
    o.backoff_max_us = 20 * SEC;
    o.timeout_us = 5 * SEC;
    o.queue = "otherq";
    size_t *lens;
    const char **p = make_payloads(70, 0, &lens);
    int64_t ids[70];
    ck_assert_ok(cm_jobs_enqueue_batch(ids, FX.store, "bulk", p, lens, NULL, 70, &o));
    int64_t one = jx_enqueue("bulk", "{\"n\":0}", &o);
    static const char cols[] =
        "queue || '/' || kind || '/' || priority || '/' || state || '/' || run_at || '/' || "
        "attempts || '/' || max_attempts || '/' || backoff || '/' || backoff_us || '/' || "
        "backoff_max_us || '/' || timeout_us || '/' || lease_token || '/' || "
        "cancel_requested || '/' || coalesce(dedupe_key, '-') || '/' || "
        "coalesce(schedule_id, 0) || '/' || created_at || '/' || updated_at";
    char want[400];
    snprintf(want, sizeof want, "%s",
             jx_text("SELECT %s FROM jobs WHERE id = %lld", cols, (long long)one));
    ck_assert_str_eq(want, "otherq/bulk/7/delayed/1700000030000000/0/9/exponential/2000000/"
                           "20000000/5000000/0/0/-/0/1700000000000000/1700000000000000");
    for (size_t i = 0; i < 70; i++)
        ck_assert_str_eq(jx_text("SELECT %s FROM jobs WHERE id = %lld", cols, (long long)ids[i]),
                         want);
    /* defaults: the kind's settings, queued now */
    ck_assert_ok(cm_jobs_enqueue_batch(ids, FX.store, "bulk", p, NULL, NULL, 8, NULL));
    ck_assert_str_eq(jx_text("SELECT queue || '/' || state || '/' || max_attempts || '/' || "
                             "backoff || '/' || backoff_us FROM jobs WHERE id = %lld",
                             (long long)ids[3]),
                     "bulkq/queued/3/fixed/10000000");
    ck_assert_str_eq(jx_text("SELECT payload FROM jobs WHERE id = %lld", (long long)ids[3]),
                     "{\"n\":3}");
}
END_TEST

START_TEST(batch_mixing_dedupe_keys_and_keyless_jobs_keeps_every_id_in_place)
{
    /* a live job holds "k-held" */
    cm_job_options o1 = CM_JOB_OPTIONS_INIT;
    o1.dedupe_key = "k-held";
    int64_t held = jx_enqueue("bulk", "{\"n\":-1}", &o1);
    enum { N = 150 };
    size_t *lens;
    const char **p = make_payloads(N, 0, &lens);
    const char *keys[N] = {0};
    keys[0] = "k0";
    keys[70] = "k70";
    keys[71] = "k-held";
    keys[72] = "k0"; /* held by job 0 of this very batch */
    keys[149] = "k149";
    int64_t ids[N];
    ck_assert_ok(cm_jobs_enqueue_batch(ids, FX.store, "bulk", p, lens, keys, N, NULL));
    ck_assert_int_eq(ids[71], -held);
    ck_assert_int_eq(ids[72], -ids[0]);
    for (int i = 0; i < N; i++) {
        if (i == 71 || i == 72)
            continue;
        ck_assert_int_gt(ids[i], 0);
        ck_assert_int_eq(jx_int("SELECT CAST(substr(payload, 6, length(payload) - 6) AS "
                                "INTEGER) FROM jobs WHERE id = %lld",
                                (long long)ids[i]),
                         i);
        ck_assert_str_eq(
            jx_text("SELECT coalesce(dedupe_key, '') FROM jobs WHERE id = %lld", (long long)ids[i]),
            keys[i] ? keys[i] : "");
    }
    ck_assert_int_eq(jx_int("SELECT count(*) FROM jobs"), 1 + N - 2);
}
END_TEST

START_TEST(a_failing_batch_stores_nothing_and_zeroes_the_ids)
{
    size_t *lens;
    const char **p = make_payloads(100, 0, &lens);
    const char *bad[100];
    memcpy(bad, p, sizeof bad);
    bad[90] = "{\"n\":";
    int64_t ids[100];
    ids[0] = 42;
    ck_assert_int_eq(cm_jobs_enqueue_batch(ids, FX.store, "bulk", bad, NULL, NULL, 100, NULL),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "payload");
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "payload[90]"));
    ck_assert_int_eq(ids[0], 0);
    ck_assert_int_eq(jx_int("SELECT count(*) FROM jobs"), 0);
}
END_TEST

/* ---- the JSON check agrees with jansson ---- */

static bool jansson_accepts(const char *s, size_t len)
{
    json_t *v = json_loadb(s, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    json_decref(v);
    return v != NULL;
}

static void agree(const char *s, size_t len)
{
    bool want = jansson_accepts(s, len);
    int rc = cm__jobs_check_json(s, len, CM__JOBS_MAX_PAYLOAD, "payload");
    ck_assert_msg((rc == CM_OK) == want, "check_json says %s, jansson %s: '%.*s'",
                  cm_status_name(rc), want ? "accepts" : "rejects", (int)len, s);
}

START_TEST(the_json_check_agrees_with_jansson_on_edge_cases)
{
    static const char *const texts[] = {
        "{}",
        "[]",
        "0",
        "-0",
        "01",
        "1.",
        ".5",
        "-",
        "1.5",
        "-12.25e3",
        "1e999",
        "1E2",
        "9223372036854775807",
        "9223372036854775808",
        "99999999999999999999",
        "123456789012345678",
        "-123456789012345678",
        "1234567890123456789.5",
        "true",
        "false",
        "null",
        "truex",
        "nul",
        "True",
        "\"\"",
        "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
        "\"\\u0041\"",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "\"\\ud83d\\ude00\"",
        "\"\\x\"",
        "\"a\tb\"",
        "\"\xc3\xa9t\xc3\xa9\"",
        "\"\xc3\"",
        "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "\"\xc0\xaf\"",
        "\xc3\xa9",
        "{\"a\":1,\"a\":2}",
        "{\"a\":1,\"\\u0061\":2}",
        "{\"a\":{\"a\":1},\"b\":{\"a\":2}}",
        "{\"a\":[{\"b\":1,\"b\":2}]}",
        "{\"a\" 1}",
        "{\"a\":1,}",
        "[1,]",
        "[1 2]",
        "[,1]",
        "{,}",
        "{\"a\":}",
        "{1:2}",
        "  {\"a\" : [ 1 , 2 ] }  ",
        "\t\r\n[]\n",
        "{}x",
        "1 2",
        "[1]]",
        "{\"a\":1}}",
        "",
        " ",
        "[",
        "{",
        "\"",
        "\"abc",
        "[\"a\",\"b\",\"a\"]",
        "{\"\":1,\"\":2}",
        "{\"\":1}",
        "[true,false,null]",
        "[-]",
        "[1.e5]",
        "[00]",
        "[-01]",
        "[+1]",
        "NaN",
        "[Infinity]",
        "'a'",
        "/**/1",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        agree(texts[i], strlen(texts[i]));
    agree("\"a\0b\"", 5);
    agree("{}\0", 3);
    /* nesting around the fast path's depth limit, and jansson's */
    for (int depth = 60; depth <= 70; depth += 5) {
        char buf[200];
        for (int i = 0; i < depth; i++)
            buf[i] = '[', buf[2 * depth - 1 - i] = ']';
        agree(buf, (size_t)(2 * depth));
    }
    /* many keys (the fast path remembers 128), one of them repeated */
    char big[4096];
    for (int dup = 0; dup < 2; dup++) {
        size_t n = 0;
        big[n++] = '{';
        for (int k = 0; k < 200; k++)
            n += (size_t)snprintf(big + n, sizeof big - n, "%s\"k%d\":%d", k ? "," : "",
                                  dup && k == 199 ? 3 : k, k);
        big[n++] = '}';
        agree(big, n);
    }
}
END_TEST

START_TEST(the_json_check_agrees_with_jansson_on_random_mutations)
{
    static const char *const seeds[] = {
        "{\"event_id\":12,\"member_id\":34,\"tags\":[\"a\",\"b\"],\"ok\":true,\"x\":null}",
        "[1,-2.5,\"s\\n\",{\"k\":{\"k\":[]}},false]",
        "{\"name\":\"J\xc3\xbcrgen\",\"n\":1234567890123,\"f\":0.125}",
    };
    static const char alphabet[] = "{}[]\":,.-+eE0123456789 \\tfnul\xc3\xa9\x80\x01ax";
    unsigned seed = 12345;
    char buf[256];
    for (int round = 0; round < 20000; round++) {
        const char *src = seeds[round % 3];
        size_t n = strlen(src);
        memcpy(buf, src, n);
        int edits = 1 + (int)(rand_r(&seed) % 3);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)rand_r(&seed) % n;
            char ch = alphabet[(size_t)rand_r(&seed) % (sizeof alphabet - 1)];
            switch (rand_r(&seed) % 3) {
                case 0: /* replace */
                    buf[at] = ch;
                    break;
                case 1: /* delete */
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                    break;
                default: /* insert */
                    if (n + 1 < sizeof buf) {
                        memmove(buf + at + 1, buf + at, n - at);
                        buf[at] = ch;
                        n++;
                    }
            }
            if (n == 0)
                break;
        }
        agree(buf, n);
    }
}
END_TEST

/* ---- wake-ups within the process ---- */

static atomic_int runs;

static int count_run(cm_job *job, void *payload)
{
    (void)job, (void)payload;
    atomic_fetch_add(&runs, 1);
    return CM_OK;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

START_TEST(a_job_an_operation_makes_runnable_starts_without_waiting_for_the_poll)
{
    atomic_store(&runs, 0);
    cm_scheduler_options o = CM_SCHEDULER_OPTIONS_INIT;
    o.threads = 1;
    o.poll_ms = 600000; /* never polls again during the test */
    o.lease_ms = 600000;
    o.heartbeat_ms = 60000;
    o.flags = CM_SCHEDULER_NO_SCHEDULES | CM_SCHEDULER_NO_PRUNE | CM_SCHEDULER_NO_LISTEN;
    cm_scheduler *s;
    ck_assert_ok(cm_scheduler_open(&s, FX.store, &o));
    ck_assert_ok(cm_scheduler_register(s, "bulk", count_run, NULL));
    ck_assert_ok(cm_scheduler_start(s));
    /* a job that cannot run yet, then cancelled: nothing for the scheduler */
    cm_job_options later = CM_JOB_OPTIONS_INIT;
    later.delay_us = 3600 * SEC;
    int64_t a = jx_enqueue("bulk", "{\"n\":1}", &later);
    int64_t b = jx_enqueue("bulk", "{\"n\":2}", &later);
    ck_assert_ok(cm_jobs_cancel(FX.store, a));
    ck_assert_ok(cm_jobs_cancel(FX.store, b));
    jx_sql("UPDATE jobs SET state = 'dead' WHERE id = %lld", (long long)b); /* for redrive */
    sleep_ms(200);
    ck_assert_int_eq(atomic_load(&runs), 0);
    /* an operation that fails commits nothing and wakes nothing */
    cm_actor *admin = fx_member("admin@example.org", "admin");
    ck_assert_int_eq(fx_exec(NULL, admin, "jobs.retry", "{s:I}", "job_id", (json_int_t)999),
                     CM_ENOTFOUND);
    /* the retry commits through cm_exec: the scheduler claims at once */
    ck_assert_ok(fx_exec(NULL, admin, "jobs.retry", "{s:I}", "job_id", (json_int_t)a));
    for (int i = 0; i < 500 && atomic_load(&runs) < 1; i++)
        sleep_ms(10);
    ck_assert_int_eq(atomic_load(&runs), 1);
    ck_assert_ok(fx_exec(NULL, admin, "jobs.redrive", "{s:s}", "queue", "bulkq"));
    for (int i = 0; i < 500 && atomic_load(&runs) < 2; i++)
        sleep_ms(10);
    ck_assert_int_eq(atomic_load(&runs), 2);
    cm_actor_free(admin);
    ck_assert_ok(cm_scheduler_stop(s, 5 * SEC));
    cm_scheduler_close(s, NULL, NULL);
}
END_TEST

START_TEST(a_scheduler_can_serve_only_the_queues_it_lists)
{
    atomic_store(&runs, 0);
    jx_define("side", "sideq", 3, CM_JOB_BACKOFF_FIXED, 0);
    jx_define("third", "thirdq", 3, CM_JOB_BACKOFF_FIXED, 0);
    cm_scheduler_options o = CM_SCHEDULER_OPTIONS_INIT;
    o.threads = 2;
    o.poll_ms = 20;
    o.flags = CM_SCHEDULER_NO_SCHEDULES | CM_SCHEDULER_NO_PRUNE | CM_SCHEDULER_NO_LISTEN |
              CM_SCHEDULER_ONLY_LISTED_QUEUES;
    cm_scheduler *s;
    /* nothing listed, or a listed queue without one of its kinds: refused */
    ck_assert_ok(cm_scheduler_open(&s, FX.store, &o));
    ck_assert_ok(cm_scheduler_register(s, "bulk", count_run, NULL));
    ck_assert_int_eq(cm_scheduler_start(s), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "queue");
    cm_scheduler_close(s, NULL, NULL);
    ck_assert_ok(cm_scheduler_open(&s, FX.store, &o));
    ck_assert_ok(cm_scheduler_register(s, "bulk", count_run, NULL));
    ck_assert_ok(cm_scheduler_set_concurrency(s, "thirdq", 1));
    ck_assert_int_eq(cm_scheduler_start(s), CM_EINVAL);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "'thirdq'"));
    cm_scheduler_close(s, NULL, NULL);
    /* two kinds registered, one queue listed: the other's jobs stay queued */
    jx_enqueue("bulk", NULL, NULL);
    jx_enqueue("side", NULL, NULL);
    ck_assert_ok(cm_scheduler_open(&s, FX.store, &o));
    ck_assert_ok(cm_scheduler_register(s, "bulk", count_run, NULL));
    ck_assert_ok(cm_scheduler_register(s, "side", count_run, NULL));
    ck_assert_ok(cm_scheduler_set_concurrency(s, "bulkq", 1));
    ck_assert_ok(cm_scheduler_start(s));
    for (int i = 0; i < 500 && atomic_load(&runs) < 1; i++)
        sleep_ms(10);
    sleep_ms(200); /* several polls */
    char *stats = NULL;
    ck_assert_ok(cm_scheduler_stats(&stats, s));
    ck_assert_ptr_nonnull(strstr(stats, "\"bulkq\""));
    ck_assert_ptr_null(strstr(stats, "\"sideq\""));
    cm_free(stats);
    ck_assert_ok(cm_scheduler_stop(s, 5 * SEC));
    cm_scheduler_close(s, NULL, NULL);
    ck_assert_int_eq(atomic_load(&runs), 1);
    ck_assert_str_eq(jx_text("SELECT state FROM jobs WHERE kind = 'bulk'"), "completed");
    ck_assert_str_eq(jx_text("SELECT state FROM jobs WHERE kind = 'side'"), "queued");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jobs_enqueue");
    TCase *tc = tcase_create("batch");
    tcase_add_checked_fixture(tc, setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, batch_ids_follow_the_input_order_for_every_size);
    tcase_add_test(tc, a_batch_without_ids_stores_every_job);
    tcase_add_test(tc, batch_rows_match_a_single_enqueue_column_by_column);
    tcase_add_test(tc, batch_mixing_dedupe_keys_and_keyless_jobs_keeps_every_id_in_place);
    tcase_add_test(tc, a_failing_batch_stores_nothing_and_zeroes_the_ids);
    tcase_add_test(tc, the_json_check_agrees_with_jansson_on_edge_cases);
    tcase_add_test(tc, the_json_check_agrees_with_jansson_on_random_mutations);
    suite_add_tcase(s, tc);
    TCase *wake = tcase_create("wake");
    tcase_add_checked_fixture(wake, setup, fx_teardown);
    tcase_set_timeout(wake, 60);
    tcase_add_test(wake, a_job_an_operation_makes_runnable_starts_without_waiting_for_the_poll);
    tcase_add_test(wake, a_scheduler_can_serve_only_the_queues_it_lists);
    suite_add_tcase(s, wake);
    return fx_run(s);
}
