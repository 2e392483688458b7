/*
 * bench_common.h - helpers shared by bench_jobs.c (SQLite) and
 * bench_jobs_pg.c (PostgreSQL): timing, error exit, environment sizes, the
 * no-op and latency-recording handlers and a scheduler starter. Included by
 * exactly one translation unit of each benchmark program.
 */
#ifndef CM_BENCH_JOBS_COMMON_H
#define CM_BENCH_JOBS_COMMON_H

#include <community/community.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "%s: %s: %s\n", what, cm_status_name(rc), cm_error_message());
        exit(1);
    }
}

static inline long env_long(const char *name, long def)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : def;
}

static inline void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static atomic_long done;
static int64_t *lat;
static atomic_long lat_n;

static inline int noop(cm_job *job, void *payload)
{
    (void)job, (void)payload;
    atomic_fetch_add(&done, 1);
    return CM_OK;
}

static inline int timed(cm_job *job, void *payload)
{
    (void)payload;
    int64_t t0 = 0;
    const char *p = strstr(cm_job_payload(job, NULL), "\"t\":");
    if (p)
        t0 = strtoll(p + 4, NULL, 10);
    long i = atomic_fetch_add(&lat_n, 1);
    lat[i] = cm_now_us() - t0;
    atomic_fetch_add(&done, 1);
    return CM_OK;
}

static inline int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static inline cm_scheduler *start(cm_store *store, const char *kind, cm_job_fn fn, uint32_t threads,
                                  uint32_t prefetch)
{
    cm_scheduler_options o = CM_SCHEDULER_OPTIONS_INIT;
    o.threads = threads;
    o.prefetch = prefetch;
    o.flags = CM_SCHEDULER_NO_PRUNE | CM_SCHEDULER_NO_SCHEDULES;
    cm_scheduler *s;
    check(cm_scheduler_open(&s, store, &o), "scheduler");
    check(cm_scheduler_register(s, kind, fn, NULL), "register");
    check(cm_scheduler_start(s), "start");
    return s;
}

/* Enqueue nl jobs at 500/s through `via` into a scheduler running on
 * `store`; p50 and p99 of enqueue-to-start in ms. */
static inline void latency(double *p50, double *p99, cm_store *store, cm_store *via, long nl,
                           uint32_t threads)
{
    atomic_store(&done, 0);
    atomic_store(&lat_n, 0);
    cm_scheduler *s = start(store, "bench.lat", timed, threads, 0);
    sleep_us(300000); /* started (PostgreSQL: listening), the first poll found nothing */
    for (long i = 0; i < nl; i++) {
        char p[64];
        int len = snprintf(p, sizeof p, "{\"t\":%lld}", (long long)cm_now_us());
        check(cm_jobs_enqueue(NULL, via, "bench.lat", p, (size_t)len, NULL), "enqueue");
        sleep_us(2000);
    }
    while (atomic_load(&done) < nl)
        sleep_us(1000);
    check(cm_scheduler_stop(s, 60 * INT64_C(1000000)), "stop");
    cm_scheduler_close(s, NULL, NULL);
    qsort(lat, (size_t)nl, sizeof *lat, cmp);
    *p50 = (double)lat[nl / 2] / 1000.0;
    *p99 = (double)lat[(nl * 99) / 100] / 1000.0;
}

#endif /* CM_BENCH_JOBS_COMMON_H */
