/*
 * test_jobs_crash.c - durability under process crashes, with real worker
 * processes (jobs_worker, fork + exec):
 *
 * - several workers process thousands of jobs while one of them is killed
 *   with SIGKILL at random moments, again and again, and restarted.
 *   Afterwards every job is completed, its effect exists exactly once, and
 *   the execution log (O_APPEND + fsync) shows that every job ran, that no
 *   job was completed twice, and that each completion used the lease token
 *   the database kept;
 * - a worker stopped with SIGSTOP past its lease is a zombie: another
 *   worker takes the job over and completes it, and when the zombie is
 *   continued its completion gets CM_ELEASE and changes nothing;
 * - four worker processes run jobs that RSVP members to one event (the
 *   RSVP and the completion in one transaction) while workers are killed:
 *   every member gets exactly one RSVP, the event never takes more than its
 *   capacity, and no job is lost or completed twice.
 *
 * On PostgreSQL (CM_TEST_BACKEND=pg) the workers share one schema, claim
 * with SKIP LOCKED and wake each other with LISTEN/NOTIFY.
 *
 * Sizes come from the environment for longer local runs:
 * CM_JOBS_CRASH_JOBS (default 2000), CM_JOBS_CRASH_KILLS (6),
 * CM_JOBS_CRASH_WORKERS (3; 4 on PostgreSQL), CM_JOBS_CRASH_SEED (random).
 */
#include "jobs_fx.h"

#include <errno.h>
#include <sqlite3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LEASE_MS 1000

static char log_path[400];

static void setup(void)
{
    fx_setup();
    snprintf(log_path, sizeof log_path, "%s/exec.log", FX.dir);
}

static void teardown(void)
{
    unlink(log_path);
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

/* The store URI a worker opens: on PostgreSQL tagged with an
 * application_name (pg_stat_activity) unique to this test and worker. */
static void worker_uri(char *buf, size_t n, const char *name)
{
    int len = fx_is_pg() ? snprintf(buf, n, "%s&application_name=%s_%s", FX.uri, FX.schema, name)
                         : snprintf(buf, n, "%s", FX.uri);
    ck_assert(len > 0 && (size_t)len < n);
}

static pid_t spawn(const char *name, int slow_ms, int threads)
{
    const char *exe = getenv("CM_JOBS_WORKER");
    ck_assert_msg(exe && *exe, "CM_JOBS_WORKER is not set (run through meson test)");
    char uri[800];
    worker_uri(uri, sizeof uri, name);
    char lease[16], slow[16], thr[16];
    snprintf(lease, sizeof lease, "%d", LEASE_MS);
    snprintf(slow, sizeof slow, "%d", slow_ms);
    snprintf(thr, sizeof thr, "%d", threads);
    /* Block SIGTERM/SIGINT before fork so that the child has them blocked from
     * its first instruction (a stop sent right after spawn() then waits for
     * the worker's sigwait instead of killing the half-started child); the
     * mask survives exec. The parent restores its own mask at once. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, &old);
    pid_t pid = fork();
    if (pid == 0) {
        execl(exe, exe, uri, log_path, name, lease, slow, thr, (char *)NULL);
        _exit(127);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    ck_assert_int_ge(pid, 0);
    return pid;
}

static int reap(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return st;
}

/* The execution log: per job, starts, completions and the completing token. */
typedef struct entry {
    int starts, dones, leases;
    long long done_token;
} entry;

static entry *read_log(long long max_id, long long *lines)
{
    entry *e = calloc((size_t)max_id + 1, sizeof *e);
    FILE *f = fopen(log_path, "r");
    ck_assert_ptr_nonnull(f);
    char tag, who[64];
    long long id, token;
    *lines = 0;
    while (fscanf(f, " %c %lld %lld %63s", &tag, &id, &token, who) == 4) {
        ck_assert_msg(id >= 1 && id <= max_id, "log line for unknown job %lld", id);
        (*lines)++;
        if (tag == 'S')
            e[id].starts++;
        else if (tag == 'D') {
            e[id].dones++;
            e[id].done_token = token;
        } else if (tag == 'L')
            e[id].leases++;
        else
            ck_abort_msg("bad log tag %c", tag);
    }
    ck_assert_msg(feof(f), "unparsable log line after %lld lines", *lines);
    fclose(f);
    return e;
}

static bool log_has(const char *needle)
{
    FILE *f = fopen(log_path, "r");
    if (!f)
        return false;
    char line[128];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strncmp(line, needle, strlen(needle)) == 0;
    fclose(f);
    return found;
}

static void wait_log(const char *needle)
{
    for (int i = 0; i < 3000 && !log_has(needle); i++)
        sleep_ms(10);
    ck_assert_msg(log_has(needle), "the log never showed '%s'", needle);
}

/* Check every job against the log: it ran, was completed at most once, with
 * the lease token the database kept. Returns the number of re-runs. */
static long long check_jobs_against_log(unsigned seed, const entry *e, long long n)
{
    long long reruns = 0, seen = 0, after = 0;
    for (;;) { /* 100 jobs per query: "id:token:attempts,..." */
        const char *t = jx_text("SELECT group_concat(id || ':' || lease_token || ':' || attempts, "
                                "',') FROM (SELECT id, lease_token, attempts FROM jobs "
                                "WHERE id > %lld ORDER BY id LIMIT 100) AS t",
                                after);
        if (!*t)
            break;
        for (const char *p = t; *p;) {
            char *end;
            long long id = strtoll(p, &end, 10);
            long long token = strtoll(end + 1, &end, 10);
            long long attempts = strtoll(end + 1, &end, 10);
            p = *end ? end + 1 : end;
            ck_assert_msg(e[id].starts >= 1, "seed %u: job %lld never ran", seed, id);
            ck_assert_msg(e[id].dones <= 1, "seed %u: job %lld completed %d times", seed, id,
                          e[id].dones);
            if (e[id].dones)
                ck_assert_msg(e[id].done_token == token,
                              "seed %u: job %lld completed with token %lld, database has %lld",
                              seed, id, e[id].done_token, token);
            ck_assert_int_ge(token, e[id].starts);
            ck_assert_int_ge(attempts, 1);
            reruns += e[id].starts - 1;
            seen++;
            after = id;
        }
    }
    ck_assert_int_eq(seen, n);
    return reruns;
}

/* Kill a random worker `kills` times (at random moments) and restart it;
 * then wait until `n` jobs are completed (at most 120 s) and stop them. */
static long long kill_and_wait(pid_t *pids, long workers, long kills, long n, int *gen)
{
    char name[32];
    for (long killed = 0; killed < kills; killed++) {
        sleep_ms(50 + rand() % 350);
        long w = rand() % workers;
        ck_assert_int_eq(kill(pids[w], SIGKILL), 0);
        int st = reap(pids[w]);
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
                      "worker exited on its own (status %d) before it was killed", st);
        snprintf(name, sizeof name, "w%d", (*gen)++);
        pids[w] = spawn(name, 0, 4);
    }
    long long completed = 0;
    for (int i = 0; i < 12000; i++) { /* at most 120 s */
        completed = fx_count("SELECT count(*) FROM jobs WHERE state = 'completed'");
        if (completed == n)
            break;
        sleep_ms(10);
    }
    for (long w = 0; w < workers; w++) {
        ck_assert_int_eq(kill(pids[w], SIGTERM), 0);
        int st = reap(pids[w]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker exit status %d", st);
    }
    return completed;
}

START_TEST(killed_workers_lose_no_job_and_complete_none_twice)
{
    long n = env_long("CM_JOBS_CRASH_JOBS", 2000);
    long kills = env_long("CM_JOBS_CRASH_KILLS", 6);
    long workers = env_long("CM_JOBS_CRASH_WORKERS", fx_is_pg() ? 4 : 3);
    unsigned seed = (unsigned)env_long("CM_JOBS_CRASH_SEED", (long)time(NULL) ^ getpid());
    srand(seed);
    fprintf(stderr, "# crash test: %ld jobs, %ld workers, %ld kills, seed %u\n", n, workers, kills,
            seed);
    ck_assert_int_le(workers, 32);
    jx_define("crash.work", "crash", 1000, CM_JOB_BACKOFF_FIXED, 0);
    jx_define("crash.slow", "slow", 1000, CM_JOB_BACKOFF_FIXED, 0);
    const char **payloads = calloc((size_t)n, sizeof *payloads);
    for (long i = 0; i < n; i++)
        payloads[i] = "{}";
    for (long done = 0; done < n; done += 1000) {
        size_t k = (size_t)(n - done < 1000 ? n - done : 1000);
        ck_assert_ok(cm_jobs_enqueue_batch(NULL, FX.store, "crash.work", payloads + done, NULL,
                                           NULL, k, NULL));
    }
    free(payloads);

    pid_t pids[32];
    int gen = 0;
    char name[32];
    for (long w = 0; w < workers; w++) {
        snprintf(name, sizeof name, "w%d", gen++);
        pids[w] = spawn(name, 0, 4);
    }
    long long completed = kill_and_wait(pids, workers, kills, n, &gen);
    ck_assert_msg(completed == n, "seed %u: %lld of %ld jobs completed", seed, completed, n);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs WHERE state != 'completed'"), 0);
    /* effects: exactly one per job */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox WHERE template = 'crash'"), n);
    ck_assert_int_eq(fx_count("SELECT count(DISTINCT to_addr) FROM email_outbox WHERE "
                              "template = 'crash'"),
                     n);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs j WHERE NOT EXISTS (SELECT 1 FROM "
                              "email_outbox o WHERE o.to_addr = 'job' || j.id)"),
                     0);

    long long max_id = fx_count("SELECT max(id) FROM jobs"), lines;
    entry *e = read_log(max_id, &lines);
    long long reruns = check_jobs_against_log(seed, e, n);
    free(e);
    fprintf(stderr, "# %lld log lines, %lld re-runs after %ld kills\n", lines, reruns, kills);
}
END_TEST

/* Does worker `name` hold no lock right now? SQLite: nobody holds the
 * database's write lock. PostgreSQL: none of its sessions is inside a
 * transaction (a stopped session would keep its row locks). */
static bool worker_holds_no_lock(const char *name)
{
    if (fx_is_pg()) {
        char sql[300];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM pg_stat_activity WHERE "
                 "application_name = '%s_%s' AND state <> 'idle'",
                 FX.schema, name);
        return fx_count(sql) == 0;
    }
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(FX.path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE; ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return rc == SQLITE_OK;
}

START_TEST(a_zombie_worker_past_its_lease_gets_elease)
{
    jx_define("crash.work", "crash", 1000, CM_JOB_BACKOFF_FIXED, 0);
    jx_define("crash.slow", "slow", 1000, CM_JOB_BACKOFF_FIXED, 0);
    int64_t id = jx_enqueue("crash.slow", NULL, NULL);
    pid_t a = spawn("zombie", LEASE_MS, 2);
    char want[64];
    snprintf(want, sizeof want, "S %lld 1 zombie", (long long)id);
    wait_log(want);
    /* stop it at a moment when it holds no database lock */
    bool stopped = false;
    for (int i = 0; i < 100 && !stopped; i++) {
        ck_assert_int_eq(kill(a, SIGSTOP), 0);
        sleep_ms(5);
        if (worker_holds_no_lock("zombie")) {
            stopped = true;
        } else {
            ck_assert_int_eq(kill(a, SIGCONT), 0);
            sleep_ms(17);
        }
    }
    ck_assert(stopped);
    sleep_ms(LEASE_MS + 300); /* its lease lapses */
    /* the rescuer takes the job over and holds it while the zombie wakes */
    pid_t b = spawn("rescuer", 2 * LEASE_MS, 2);
    snprintf(want, sizeof want, "S %lld 2 rescuer", (long long)id);
    wait_log(want);
    ck_assert_int_eq(kill(a, SIGCONT), 0);
    snprintf(want, sizeof want, "L %lld 1 zombie", (long long)id);
    wait_log(want);
    ck_assert_str_eq(jx_text("SELECT state || '/' || lease_token FROM jobs"), "running/2");
    snprintf(want, sizeof want, "D %lld 2 rescuer", (long long)id);
    wait_log(want);
    ck_assert_int_eq(kill(a, SIGTERM), 0);
    ck_assert_int_eq(kill(b, SIGTERM), 0);
    int st = reap(a);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "zombie exit status %d", st);
    st = reap(b);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "rescuer exit status %d", st);
    snprintf(want, sizeof want, "D %lld 1 zombie", (long long)id);
    ck_assert(!log_has(want));
    ck_assert_str_eq(jx_text("SELECT state || '/' || lease_token || '/' || attempts FROM jobs"),
                     "completed/2/2");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM email_outbox"), 1);
}
END_TEST

#define RSVP_MEMBERS 120
#define RSVP_CAPACITY 40

START_TEST(worker_processes_running_rsvp_jobs_keep_capacity_and_job_guarantees)
{
    long workers = 4, kills = env_long("CM_JOBS_CRASH_KILLS", 6) / 2;
    unsigned seed = (unsigned)env_long("CM_JOBS_CRASH_SEED", (long)time(NULL) ^ getpid());
    srand(seed);
    fprintf(stderr, "# rsvp jobs: %d members, capacity %d, %ld workers, %ld kills, seed %u\n",
            RSVP_MEMBERS, RSVP_CAPACITY, workers, kills, seed);
    jx_define("crash.work", "crash", 1000, CM_JOB_BACKOFF_FIXED, 0);
    jx_define("crash.slow", "slow", 1000, CM_JOB_BACKOFF_FIXED, 0);
    jx_define("crash.rsvp", "rsvp", 1000, CM_JOB_BACKOFF_FIXED, 0);
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:i}", "title",
                         "Race", "format", "online", "online_url", "https://meet.example/x",
                         "start_local", "2030-05-01T18:00", "end_local", "2030-05-01T20:00",
                         "timezone", "UTC", "publish", 1, "capacity", RSVP_CAPACITY));
    long long ev = json_integer_value(json_object_get(r, "id"));
    json_decref(r);
    cm_actor_free(org);
    static char bufs[RSVP_MEMBERS][64];
    const char *payloads[RSVP_MEMBERS];
    for (int i = 0; i < RSVP_MEMBERS; i++) {
        char email[64];
        snprintf(email, sizeof email, "m%d@example.org", i);
        cm_actor *a = fx_member(email, "member");
        snprintf(bufs[i], sizeof bufs[i], "{\"member_id\":%lld,\"event_id\":%lld}",
                 (long long)cm_actor_member_id(a), ev);
        payloads[i] = bufs[i];
        cm_actor_free(a);
    }
    ck_assert_ok(cm_jobs_enqueue_batch(NULL, FX.store, "crash.rsvp", payloads, NULL, NULL,
                                       RSVP_MEMBERS, NULL));
    pid_t pids[4];
    int gen = 0;
    char name[32];
    for (long w = 0; w < workers; w++) {
        snprintf(name, sizeof name, "w%d", gen++);
        pids[w] = spawn(name, 0, 4);
    }
    long long completed = kill_and_wait(pids, workers, kills, RSVP_MEMBERS, &gen);
    ck_assert_msg(completed == RSVP_MEMBERS, "seed %u: %lld of %d jobs completed", seed, completed,
                  RSVP_MEMBERS);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM jobs"), RSVP_MEMBERS);
    /* one RSVP per member; the capacity holds; the waitlist is in order */
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT member_id) * 1000 + count(*) FROM rsvps "
             "WHERE event_id = %lld",
             ev);
    ck_assert_int_eq(fx_count(sql), RSVP_MEMBERS * 1000 + RSVP_MEMBERS);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM rsvps WHERE event_id = %lld AND "
             "status = 'going'",
             ev);
    ck_assert_int_eq(fx_count(sql), RSVP_CAPACITY);
    snprintf(sql, sizeof sql,
             "SELECT seats_taken * 1000 + waitlist_count FROM events "
             "WHERE id = %lld",
             ev);
    ck_assert_int_eq(fx_count(sql), RSVP_CAPACITY * 1000 + RSVP_MEMBERS - RSVP_CAPACITY);
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT waitlist_seq) FROM rsvps WHERE "
             "event_id = %lld AND status = 'waitlisted'",
             ev);
    ck_assert_int_eq(fx_count(sql), RSVP_MEMBERS - RSVP_CAPACITY);
    /* each RSVP was audited once: the operation committed once per job */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log WHERE op = 'rsvps.add'"),
                     RSVP_MEMBERS);
    long long max_id = fx_count("SELECT max(id) FROM jobs"), lines;
    entry *e = read_log(max_id, &lines);
    long long reruns = check_jobs_against_log(seed, e, RSVP_MEMBERS);
    free(e);
    fprintf(stderr, "# %lld log lines, %lld re-runs after %ld kills\n", lines, reruns, kills);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jobs_crash");
    TCase *tc = tcase_create("crash");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 280);
    tcase_add_test(tc, killed_workers_lose_no_job_and_complete_none_twice);
    tcase_add_test(tc, a_zombie_worker_past_its_lease_gets_elease);
    tcase_add_test(tc, worker_processes_running_rsvp_jobs_keep_capacity_and_job_guarantees);
    suite_add_tcase(s, tc);
    return fx_run(s);
}
