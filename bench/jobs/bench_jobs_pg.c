/*
 * bench_jobs_pg.c - throughput and latency of the job queue on PostgreSQL,
 * through the public API only, with the measurements of bench_jobs.c and
 * of the peers in bench/jobs/peers (graphile-worker, pg-boss):
 *
 *   enqueue_single   one job per transaction
 *   enqueue_batch    cm_jobs_enqueue_batch, 1000 jobs per transaction
 *   process          a backlog drained by cm_scheduler with no-op handlers
 *                    (batch claims with SKIP LOCKED, group-committed
 *                    completion)
 *   latency          enqueue-to-start time of jobs enqueued one by one at
 *                    500 jobs/s through ANOTHER store (its own connections,
 *                    as another process would), so that only LISTEN/NOTIFY
 *                    wakes the scheduler: p50 / p99
 *   latency_poll     the same with notify=off (polling every poll_ms, 200)
 *
 * usage: bench_jobs_pg URI
 * URI names an empty database or schema, e.g.
 *   postgresql:///postgres?host=/tmp/sock&options=-csearch_path%3Dcmbench
 * (bench/jobs/peers/run.sh creates one). Sizes: BENCH_JOBS_N (default
 * 20000), BENCH_JOBS_SINGLE (2000), BENCH_JOBS_LAT (1000),
 * BENCH_JOBS_THREADS (4), BENCH_JOBS_PREFETCH (jobs claimed ahead while
 * processing; 500, the size of graphile-worker's local queue in the peer
 * run). Prints one line per measurement and a JSON summary line.
 */
#include "bench_common.h"

#include <community/community.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc < 2 || strncmp(argv[1], "postgres", 8) != 0) {
        fprintf(stderr, "usage: bench_jobs_pg postgresql://... (an empty database or schema)\n");
        return 2;
    }
    const char *uri = argv[1];
    long n = env_long("BENCH_JOBS_N", 20000), n1 = env_long("BENCH_JOBS_SINGLE", 2000);
    long nl = env_long("BENCH_JOBS_LAT", 1000);
    uint32_t threads = (uint32_t)env_long("BENCH_JOBS_THREADS", 4);
    uint32_t prefetch = (uint32_t)env_long("BENCH_JOBS_PREFETCH", 500);
    cm_store *store, *other, *polling;
    check(cm_store_open(&store, uri, NULL), "open");
    char uri2[2048];
    snprintf(uri2, sizeof uri2, "%s%cnotify=off", uri, strchr(uri, '?') ? '&' : '?');
    check(cm_store_open(&other, uri, NULL), "open");
    check(cm_store_open(&polling, uri2, NULL), "open");
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
    cm_scheduler *s = start(store, "bench.noop", noop, threads, prefetch);
    while (atomic_load(&done) < total)
        sleep_us(1000);
    double process = (double)total / (now_s() - t);
    check(cm_scheduler_stop(s, 60 * INT64_C(1000000)), "stop");
    cm_scheduler_close(s, NULL, NULL);
    printf("process         %8.0f jobs/s  (%ld jobs, %u threads, prefetch %u, no-op handler, "
           "completion committed)\n",
           process, total, threads, prefetch);

    /* enqueue-to-start latency at 500 jobs/s, from another store */
    lat = calloc((size_t)nl, sizeof *lat);
    double p50, p99, q50, q99;
    latency(&p50, &p99, store, other, nl, threads);
    printf("latency         p50 %.2f ms, p99 %.2f ms  (enqueue to handler start, %ld jobs "
           "at 500/s, enqueued through another store: LISTEN/NOTIFY)\n",
           p50, p99, nl);
    long nq = nl < 250 ? nl : 250;
    latency(&q50, &q99, polling, other, nq, threads);
    printf("latency_poll    p50 %.2f ms, p99 %.2f ms  (the same, %ld jobs, notify=off: "
           "polling every 200 ms)\n",
           q50, q99, nq);
    printf("{\"enqueue_single_per_s\":%.0f,\"enqueue_batch_per_s\":%.0f,\"process_per_s\":%.0f,"
           "\"latency_p50_ms\":%.3f,\"latency_p99_ms\":%.3f,\"latency_poll_p50_ms\":%.3f,"
           "\"latency_poll_p99_ms\":%.3f,\"n\":%ld,\"n_single\":%ld,\"drained\":%ld,"
           "\"latency_jobs\":%ld,\"concurrency\":%u,\"prefetch\":%u}\n",
           single, batch, process, p50, p99, q50, q99, n, n1, total, nl, threads, prefetch);
    cm_store_close(polling);
    cm_store_close(other);
    cm_store_close(store);
    free(lat);
    free(payloads);
    free(lens);
    return 0;
}
