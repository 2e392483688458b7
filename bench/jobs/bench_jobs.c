/*
 * bench_jobs.c - throughput and latency of the job queue on SQLite,
 * through the public API only:
 *
 *   enqueue_single   one job per transaction (durable commit each)
 *   enqueue_batch    cm_jobs_enqueue_batch, 1000 jobs per transaction
 *   process          a queue of jobs drained by cm_scheduler with no-op
 *                    handlers (claim in batches, group-committed completion)
 *   latency          enqueue-to-start time of jobs enqueued one by one at a
 *                    steady rate into a running scheduler, p50 / p99
 *
 * usage: bench_jobs [DIR]   (a fresh database is created in DIR, default
 * $TMPDIR or /tmp). Sizes: BENCH_JOBS_N (default 20000), BENCH_JOBS_SINGLE
 * (2000), BENCH_JOBS_LAT (1000), BENCH_JOBS_THREADS (4).
 * Prints one line per measurement and a JSON summary line.
 */
#include "bench_common.h"

#include <community/community.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *tmp = getenv("TMPDIR");
    char dir[256], uri[400];
    snprintf(dir, sizeof dir, "%s/cmbench.XXXXXX", argc > 1 ? argv[1] : tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(uri, sizeof uri, "sqlite://%s/bench.db", dir);
    long n = env_long("BENCH_JOBS_N", 20000), n1 = env_long("BENCH_JOBS_SINGLE", 2000);
    long nl = env_long("BENCH_JOBS_LAT", 1000);
    uint32_t threads = (uint32_t)env_long("BENCH_JOBS_THREADS", 4);
    cm_store *store;
    check(cm_store_open(&store, uri, NULL), "open");
    cm_job_kind_options ko = CM_JOB_KIND_OPTIONS_INIT;
    ko.queue = "bench";
    check(cm_jobs_define(store, "bench.noop", &ko), "define");
    ko.queue = "lat";
    check(cm_jobs_define(store, "bench.lat", &ko), "define");

    /* enqueue, one per transaction */
    double t = now_s();
    for (long i = 0; i < n1; i++)
        check(cm_jobs_enqueue(NULL, store, "bench.noop", "{\"i\":1}", 7, NULL), "enqueue");
    double single = (double)n1 / (now_s() - t);
    printf("enqueue_single  %8.0f jobs/s  (%ld jobs, one transaction each)\n", single, n1);

    /* enqueue, batches of 1000 */
    const char **payloads = malloc(1000 * sizeof *payloads);
    size_t *lens = malloc(1000 * sizeof *lens);
    for (int i = 0; i < 1000; i++)
        payloads[i] = "{\"i\":1}", lens[i] = 7;
    t = now_s();
    for (long i = 0; i < n; i += 1000)
        check(cm_jobs_enqueue_batch(NULL, store, "bench.noop", payloads, lens, NULL,
                                    (size_t)(n - i < 1000 ? n - i : 1000), NULL),
              "enqueue_batch");
    double batch = (double)n / (now_s() - t);
    printf("enqueue_batch   %8.0f jobs/s  (%ld jobs, 1000 per transaction)\n", batch, n);

    /* process everything queued with no-op handlers */
    long total = n + n1;
    t = now_s();
    cm_scheduler *s = start(store, "bench.noop", noop, threads, 256);
    while (atomic_load(&done) < total) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    check(cm_scheduler_stop(s, 60 * INT64_C(1000000)), "stop");
    double process = (double)total / (now_s() - t);
    cm_scheduler_close(s, NULL, NULL);
    printf("process         %8.0f jobs/s  (%ld jobs, %u threads, no-op handler, "
           "completion committed)\n",
           process, total, threads);

    /* enqueue-to-start latency at a steady rate (500 jobs/s) */
    lat = calloc((size_t)nl, sizeof *lat);
    atomic_store(&done, 0);
    s = start(store, "bench.lat", timed, threads, 0);
    struct timespec gap = {0, 2000000};
    for (long i = 0; i < nl; i++) {
        char p[64];
        int len = snprintf(p, sizeof p, "{\"t\":%lld}", (long long)cm_now_us());
        check(cm_jobs_enqueue(NULL, store, "bench.lat", p, (size_t)len, NULL), "enqueue");
        nanosleep(&gap, NULL);
    }
    while (atomic_load(&done) < nl) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    check(cm_scheduler_stop(s, 60 * INT64_C(1000000)), "stop");
    cm_scheduler_close(s, NULL, NULL);
    qsort(lat, (size_t)nl, sizeof *lat, cmp);
    double p50 = (double)lat[nl / 2] / 1000.0, p99 = (double)lat[(nl * 99) / 100] / 1000.0;
    printf("latency         p50 %.2f ms, p99 %.2f ms  (enqueue to handler start, %ld jobs "
           "at 500/s, same process)\n",
           p50, p99, nl);
    printf("{\"enqueue_single_per_s\":%.0f,\"enqueue_batch_per_s\":%.0f,\"process_per_s\":%.0f,"
           "\"latency_p50_ms\":%.3f,\"latency_p99_ms\":%.3f,\"threads\":%u,\"sqlite\":\"%s\"}\n",
           single, batch, process, p50, p99, threads, cm_store_backend_name(store));
    cm_store_close(store);
    free(lat);
    free(payloads);
    free(lens);
    char path[400];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/bench.db%s", dir, suffix[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}
