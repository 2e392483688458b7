/*
 * bench_jobs.c - throughput and latency of the job queue on SQLite,
 * through the public API only:
 *
 *   enqueue_single   one job per transaction (durable commit each)
 *   enqueue_batch    cm_jobs_enqueue_batch, 1000 jobs per transaction
 *   process          a queue of jobs drained by cm_scheduler with no-op
 *                    handlers (claim in batches, group-committed completion)
 *   latency          enqueue-to-start time of jobs enqueued one by one at
 *                    500 jobs/s into a running scheduler through its own
 *                    store (the enqueue wakes it), p50 / p99
 *   latency_xstore   the same through another store, as from another
 *                    process: the scheduler finds the jobs at its next poll
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

    /* enqueue-to-start latency at 500 jobs/s: enqueued through the
     * scheduler's own store (the enqueue wakes it, as within one process),
     * then through another store on the same file, which can reach the
     * scheduler only through the database, as another process would: on
     * SQLite that means its next poll (poll_ms, default 200) */
    lat = calloc((size_t)nl, sizeof *lat);
    double p50, p99, x50, x99;
    latency(&p50, &p99, store, store, nl, threads);
    printf("latency         p50 %.2f ms, p99 %.2f ms  (enqueue to handler start, %ld jobs "
           "at 500/s, same store: the enqueue wakes the scheduler)\n",
           p50, p99, nl);
    cm_store *other;
    check(cm_store_open(&other, uri, NULL), "open");
    long nx = nl < 250 ? nl : 250;
    latency(&x50, &x99, store, other, nx, threads);
    cm_store_close(other);
    printf("latency_xstore  p50 %.2f ms, p99 %.2f ms  (the same, %ld jobs, enqueued through "
           "another store, as from another process: polling every 200 ms)\n",
           x50, x99, nx);
    printf("{\"enqueue_single_per_s\":%.0f,\"enqueue_batch_per_s\":%.0f,\"process_per_s\":%.0f,"
           "\"latency_p50_ms\":%.3f,\"latency_p99_ms\":%.3f,\"latency_xstore_p50_ms\":%.3f,"
           "\"latency_xstore_p99_ms\":%.3f,\"n\":%ld,\"n_single\":%ld,\"drained\":%ld,"
           "\"latency_jobs\":%ld,\"concurrency\":%u,\"sqlite\":\"%s\"}\n",
           single, batch, process, p50, p99, x50, x99, n, n1, total, nl, threads,
           cm_store_backend_name(store));
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
