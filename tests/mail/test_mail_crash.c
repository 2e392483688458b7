/*
 * test_mail_crash.c - exactly-once delivery across crashes: two
 * `community worker --smtp` processes drain N outbox mails to the test SMTP
 * server while one of them is killed with SIGKILL again and again (and
 * restarted). Afterwards every mail has arrived, every row is 'sent', and
 * the only duplicates are mails the server had accepted when their worker
 * died before recording it: at most one per sending thread per kill, each
 * with the Message-ID of its first copy.
 *
 * The in-flight window (from the server's acceptance, stamped by the sink,
 * to the row's sent_at) is measured and printed as a TAP comment.
 *
 * Sizes from the environment: CM_MAIL_CRASH_MAILS (default 600),
 * CM_MAIL_CRASH_KILLS (default 10), CM_MAIL_CRASH_SEED (random).
 */
#include "fixtures.h"
#include "fx_sink.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREADS 2

static fx_sink S;

static void setup(void)
{
    fx_setup();
    fx_sink_start(&S, (const char *const[]){"--delay-ms", "5", NULL});
}

static void teardown(void)
{
    fx_sink_stop(&S);
    fx_teardown();
}

static long env_long(const char *name, long def)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : def;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static pid_t spawn(int n)
{
    const char *exe = getenv("CM_COMMUNITY_CLI");
    ck_assert_msg(exe && *exe, "CM_COMMUNITY_CLI is not set (run through meson test)");
    char smtp[128], id[32], logf[400];
    fx_sink_uri(smtp, sizeof smtp, &S, "/?timeout_ms=1000");
    snprintf(id, sizeof id, "mailw%d", n);
    snprintf(logf, sizeof logf, "%s/worker%d.log", FX.dir, n);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        FILE *f = freopen(logf, "a", stderr);
        (void)f;
        char threads[8];
        snprintf(threads, sizeof threads, "%d", THREADS);
        execl(exe, exe, "--db", FX.uri, "worker", "--concurrency", threads, "--poll-ms", "20",
              "--worker-id", id, "--smtp", smtp, "--mail-from", "Owls <noreply@owls.example>",
              "--mail-lease-ms", "7000", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

START_TEST(sigkill_while_draining)
{
    long mails = env_long("CM_MAIL_CRASH_MAILS", 600);
    long kills = env_long("CM_MAIL_CRASH_KILLS", 10);
    unsigned seed = (unsigned)env_long("CM_MAIL_CRASH_SEED", (long)time(NULL));
    srand(seed);
    /* the mails, in chunks of multi-row inserts */
    for (long i = 0; i < mails;) {
        char *sql = malloc(64 * 1024);
        size_t w = (size_t)snprintf(sql, 200,
                                    "INSERT INTO email_outbox (to_addr, template, "
                                    "payload, created_at) VALUES ");
        for (long k = 0; k < 200 && i < mails; k++, i++)
            w += (size_t)snprintf(sql + w, 64 * 1024 - w,
                                  "%s('m%ld@example.com', 'magic_link', '{\"token\":\"cml_%ld\"}', "
                                  "%lld)",
                                  k ? ", " : "", i, i, (long long)cm_now_us());
        fx_sql(sql);
        free(sql);
    }
    int64_t t0 = cm_now_us();
    pid_t w[2] = {spawn(0), spawn(1)};
    for (long k = 0; k < kills; k++) {
        sleep_ms(300 + rand() % 700); /* let the new worker start sending */
        int victim = rand() % 2;
        kill(w[victim], SIGKILL);
        int st;
        waitpid(w[victim], &st, 0);
        w[victim] = spawn(victim);
    }
    long long left = 0;
    for (int i = 0; i < 2400; i++) { /* up to 120 s */
        left = fx_count("SELECT count(*) FROM email_outbox WHERE status <> 'sent'");
        if (left == 0)
            break;
        sleep_ms(50);
    }
    for (int i = 0; i < 2; i++) {
        kill(w[i], SIGTERM);
        int st;
        waitpid(w[i], &st, 0);
    }
    ck_assert_msg(left == 0, "%lld mails not sent (seed %u)", left, seed);
    printf("# drained in %.1f s (the kills took the first part)\n",
           (double)(cm_now_us() - t0) / 1e6);

    /* what arrived: per recipient, how many copies and their Message-IDs */
    json_t *all = fx_sink_envelopes(&S);
    size_t got = json_array_size(all);
    long *copies = calloc((size_t)mails, sizeof *copies);
    char **first_id = calloc((size_t)mails, sizeof *first_id);
    long long *window = calloc(got, sizeof *window);
    size_t nwin = 0;
    long dups = 0;
    for (size_t i = 0; i < got; i++) {
        json_t *j = json_array_get(all, i);
        json_t *env = j;
        const char *rcpt = json_string_value(json_array_get(json_object_get(env, "rcpt_tos"), 0));
        long n = -1;
        ck_assert(rcpt && sscanf(rcpt, "m%ld@", &n) == 1 && n >= 0 && n < mails);
        const char *mid = json_string_value(json_object_get(j, "message_id"));
        ck_assert(mid != NULL);
        if (copies[n]++ == 0) {
            first_id[n] = strdup(mid);
            if (n % 10 != 0)
                continue; /* the window is sampled on every tenth mail */
            char sql[200];
            snprintf(sql, sizeof sql, "SELECT sent_at FROM email_outbox WHERE to_addr = '%s'",
                     rcpt);
            long long sent_at = atoll(fx_text(sql));
            window[nwin++] = sent_at - json_integer_value(json_object_get(env, "received_at"));
        } else {
            dups++;
            ck_assert_str_eq(mid, first_id[n]); /* a resend is the same message */
        }
    }
    for (long n = 0; n < mails; n++)
        ck_assert_msg(copies[n] >= 1, "m%ld@example.com got nothing (seed %u)", n, seed);
    qsort(window, nwin, sizeof *window, cmp_ll);
    /* the windows of the duplicated mails were cut by the kill; the others
     * are complete: server acceptance to the committed mark */
    printf("# rows claimed again after their worker died: %lld\n",
           fx_count("SELECT count(*) FROM email_outbox WHERE attempts > 1"));
    printf(
        "# mails %ld, kills %ld, arrived %zu, duplicates %ld (bound %ld = kills x %d "
        "threads), in-flight window us (%zu samples): median %lld, p99 %lld, max %lld, seed %u\n",
        mails, kills, got, dups, kills * THREADS, THREADS, nwin, window[nwin / 2],
        window[nwin * 99 / 100], window[nwin - 1], seed);
    ck_assert_msg(dups <= kills * THREADS, "%ld duplicates for %ld kills (seed %u)", dups, kills,
                  seed);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE status = 'sent'"), mails);
    for (long n = 0; n < mails; n++)
        free(first_id[n]);
    free(first_id);
    free(copies);
    free(window);
    json_decref(all);
}
END_TEST

int main(void)
{
    fx_sink_require();
    Suite *su = suite_create("mail_crash");
    TCase *tc = tcase_create("crash");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, sigkill_while_draining);
    suite_add_tcase(su, tc);
    return fx_run(su);
}
