/*
 * ann_bench.c - vec_ann_bench: the HNSW index (cm_vec_index) on synthetic
 * embeddings (datagen.h): build time and memory, the recall@10 / QPS curve
 * over ef, filtered search at several selectivities, and delete + insert
 * churn against a fresh build. Writes the data set and its ground truth
 * for the peer harnesses (ann_hnswlib.cpp, ann_peers.mjs).
 *
 *   vec_ann_bench [--n 100000] [--extra 10000] [--nq 1000] [--dim 384]
 *                 [--storage f32|bf16] [--threads T] [--m 16] [--efc 128]
 *                 [--ef 10,16,...] [--data DIR] [--no-filter] [--no-churn]
 *                 [--min-time S] [--index PATH]
 *                 [--clusters C] [--subclusters S] [--noise X] [--sub-spread X]
 *                 [--seed N]    (data set shape, datagen.h; defaults there)
 *                 [--tune R]    (self-tuning ef: cm_vec_index_tune for recall@10 R,
 *                                its cost, then recall / QPS at the ef it picked)
 *
 * Every result is one line "key=value ..." on stdout (see run_ann.sh).
 * Memory is measured two ways: bytes the library holds (a counting
 * allocator installed with cm_set_allocator()) and the growth of the
 * process's resident set over the build. Benchmark tool, not part of the
 * library.
 */
#define _GNU_SOURCE
#include "common.h"
#include "datagen.h"

#include <community/alloc.h>
#include <community/error.h>
#include <community/vec.h>

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define K 10

/* ---- counting allocator ---- */

static atomic_llong live_bytes;

static void *c_malloc(size_t n, void *p)
{
    (void)p;
    void *r = malloc(n);
    if (r)
        atomic_fetch_add(&live_bytes, (long long)malloc_usable_size(r));
    return r;
}

static void *c_realloc(void *old, size_t n, void *p)
{
    (void)p;
    long long before = old ? (long long)malloc_usable_size(old) : 0;
    void *r = realloc(old, n);
    if (r || n == 0) {
        atomic_fetch_sub(&live_bytes, before);
        if (r)
            atomic_fetch_add(&live_bytes, (long long)malloc_usable_size(r));
    }
    return r;
}

static void c_free(void *q, void *p)
{
    (void)p;
    if (q)
        atomic_fetch_sub(&live_bytes, (long long)malloc_usable_size(q));
    free(q);
}

static double rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (double)res * (double)sysconf(_SC_PAGESIZE);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "vec_ann_bench: %s: %s %s\n", what, cm_status_name(rc), cm_error_message());
    exit(1);
}

/* ---- data ---- */

typedef struct {
    size_t n, extra, nq, dim;
    float *base; /* (n + extra) x dim */
    float *q;    /* nq x dim */
    int64_t *gt; /* nq x K over base[0, n) */
} dataset;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Exact top-K of every query over `rows` (ids = row numbers), optional bitmap. */
static void truth(int64_t *out, const float *rows, size_t n, const dataset *d, const uint8_t *allow)
{
    cm_vec_matrix_options mo = CM_VEC_MATRIX_OPTIONS_INIT;
    mo.metric = CM_VEC_COSINE;
    cm_vec_matrix *m = NULL;
    int rc = cm_vec_matrix_new(&m, rows, n, d->dim, &mo);
    if (rc)
        die("matrix", rc);
    cm_vec_search_options so = CM_VEC_SEARCH_OPTIONS_INIT;
    so.threads = 2;
    so.allow = allow;
    so.allow_bits = allow ? n : 0;
    rc = cm_vec_matrix_search_batch(out, NULL, m, d->q, d->nq, d->dim, K, &so);
    if (rc)
        die("truth", rc);
    cm_vec_matrix_free(m);
}

static double recall_of(const int64_t *got, const int64_t *gt, size_t nq)
{
    size_t hit = 0, total = 0;
    for (size_t q = 0; q < nq; q++) {
        for (size_t b = 0; b < K; b++) {
            if (gt[q * K + b] < 0)
                continue;
            total++;
            for (size_t a = 0; a < K; a++)
                hit += got[q * K + a] == gt[q * K + b];
        }
    }
    return total ? (double)hit / (double)total : 1.0;
}

/* ---- measurements ---- */

typedef struct {
    double recall, qps1, qpsT, lat_us, cpu_qps1;
    size_t min_found;
} point;

static double min_time = 1.0;

/* CPU time of the calling thread in seconds (not counting time the
 * scheduler gave to other processes). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Recall, and QPS on one thread (query by query) and on T threads (batch):
 * the best of at least three passes over all queries lasting min_time in
 * total (the machines are shared: the best pass is the least disturbed). */
static point measure(const cm_vec_index *ix, const dataset *d, const int64_t *gt, uint32_t ef,
                     unsigned threads, const cm_vec_search_options *filter)
{
    point p = {0, 0, 0, 0, 0, (size_t)-1};
    int64_t *ids = malloc(sizeof(int64_t) * d->nq * K);
    size_t *found = malloc(sizeof(size_t) * d->nq);
    cm_vec_search_options so = CM_VEC_SEARCH_OPTIONS_INIT;
    if (filter)
        so = *filter;
    so.ef = ef;
    so.threads = 1;
    double start = vb_now(), best = 1e300, cbest = 1e300;
    for (int trial = 0; trial < 3 || vb_now() - start < min_time; trial++) {
        double t0 = vb_now(), c0 = cpu_now();
        for (size_t q = 0; q < d->nq; q++) {
            int rc = cm_vec_index_search(ids + q * K, NULL, found + q, ix, d->q + q * d->dim,
                                         d->dim, K, &so);
            if (rc)
                die("search", rc);
        }
        double t = vb_now() - t0, c = cpu_now() - c0;
        if (t < best)
            best = t;
        if (c < cbest)
            cbest = c;
    }
    p.qps1 = (double)d->nq / best;
    p.cpu_qps1 = (double)d->nq / cbest;
    p.lat_us = 1e6 / p.qps1;
    p.recall = recall_of(ids, gt, d->nq);
    for (size_t q = 0; q < d->nq; q++)
        if (found[q] < p.min_found)
            p.min_found = found[q];
    if (threads > 1) {
        so.threads = threads;
        start = vb_now();
        best = 1e300;
        for (int trial = 0; trial < 3 || vb_now() - start < min_time; trial++) {
            double t0 = vb_now();
            int rc = cm_vec_index_search_batch(ids, NULL, NULL, ix, d->q, d->nq, d->dim, K, &so);
            if (rc)
                die("search_batch", rc);
            double t = vb_now() - t0;
            if (t < best)
                best = t;
        }
        p.qpsT = (double)d->nq / best;
    }
    free(ids);
    free(found);
    return p;
}

/* CPU seconds of the whole process (every thread). */
static double proc_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static double build_cpu; /* CPU seconds of the last build() */

static cm_vec_index *build(const dataset *d, const float *rows, const int64_t *ids, size_t n,
                           int storage, unsigned threads, uint32_t m, uint32_t efc, double *secs)
{
    cm_vec_index_options o = CM_VEC_INDEX_OPTIONS_INIT;
    o.metric = CM_VEC_COSINE;
    o.storage = storage;
    o.m = m;
    o.ef_construction = efc;
    o.threads = threads;
    cm_vec_index *ix = NULL;
    int rc = cm_vec_index_new(&ix, d->dim, &o);
    if (rc)
        die("index_new", rc);
    double t0 = vb_now(), c0 = proc_cpu();
    rc = cm_vec_index_add_batch(ix, ids, rows, n, d->dim);
    if (rc)
        die("add_batch", rc);
    *secs = vb_now() - t0;
    build_cpu = proc_cpu() - c0;
    return ix;
}

static void usage(void)
{
    fprintf(stderr, "usage: vec_ann_bench [--n N] [--extra E] [--nq NQ] [--dim D]\n"
                    "         [--storage f32|bf16] [--threads T] [--m M] [--efc EF]\n"
                    "         [--ef a,b,c] [--data DIR] [--no-filter] [--no-churn]\n"
                    "         [--min-time S] [--index PATH (load if present, else save)]\n"
                    "         [--clusters C] [--subclusters S] [--noise X] [--sub-spread X]\n"
                    "         [--seed N] [--tune RECALL]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    cm_allocator al = CM_ALLOCATOR_INIT;
    al.malloc = c_malloc;
    al.realloc = c_realloc;
    al.free = c_free;
    if (cm_set_allocator(&al) != CM_OK)
        return 1;

    dataset d = {100000, 10000, 1000, 384, NULL, NULL, NULL};
    const char *storage_name = "f32", *data_dir = NULL, *index_path = NULL;
    const char *ef_list = "10,16,20,24,32,40,48,64,80,96,128,160,200,256";
    unsigned threads = 2;
    uint32_t m = 16, efc = 128;
    int do_filter = 1, do_churn = 1;
    /* data set shape: 0 / negative = datagen's default */
    long clusters = 0, subclusters = 0;
    double noise = -1, sub_spread = -1;
    unsigned long long seed = 0;
    double tune = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--no-filter")) {
            do_filter = 0;
            continue;
        }
        if (!strcmp(a, "--no-churn")) {
            do_churn = 0;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--n"))
            d.n = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--extra"))
            d.extra = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--nq"))
            d.nq = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--dim"))
            d.dim = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--storage"))
            storage_name = v;
        else if (!strcmp(a, "--threads"))
            threads = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--m"))
            m = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--efc"))
            efc = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--ef"))
            ef_list = v;
        else if (!strcmp(a, "--data"))
            data_dir = v;
        else if (!strcmp(a, "--index"))
            index_path = v;
        else if (!strcmp(a, "--min-time"))
            min_time = strtod(v, NULL);
        else if (!strcmp(a, "--clusters"))
            clusters = strtol(v, NULL, 10);
        else if (!strcmp(a, "--subclusters"))
            subclusters = strtol(v, NULL, 10);
        else if (!strcmp(a, "--noise"))
            noise = strtod(v, NULL);
        else if (!strcmp(a, "--sub-spread"))
            sub_spread = strtod(v, NULL);
        else if (!strcmp(a, "--seed"))
            seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--tune"))
            tune = strtod(v, NULL);
        else
            usage();
    }
    int storage = !strcmp(storage_name, "bf16") ? CM_VEC_STORE_BF16 : CM_VEC_STORE_F32;
    if (d.n == 0 || d.nq == 0 || d.dim == 0 || threads == 0)
        usage();

    /* data: base rows [0, n + extra) and queries, unit length */
    vb_gen_params gp;
    vb_gen_params_default(&gp, d.dim);
    if (clusters > 0)
        gp.clusters = (uint32_t)clusters;
    if (subclusters > 0)
        gp.subclusters = (uint32_t)subclusters;
    if (noise >= 0)
        gp.noise = noise;
    if (sub_spread >= 0)
        gp.sub_spread = sub_spread;
    if (seed)
        gp.seed = seed;
    vb_gen *g = vb_gen_new(&gp);
    size_t total = d.n + d.extra;
    d.base = malloc(sizeof(float) * total * d.dim);
    d.q = malloc(sizeof(float) * d.nq * d.dim);
    d.gt = malloc(sizeof(int64_t) * d.nq * K);
    int64_t *ids = malloc(sizeof(int64_t) * total);
    if (!g || !d.base || !d.q || !d.gt || !ids)
        return 1;
    vb_gen_rows(g, VB_STREAM_BASE, 0, total, d.base, NULL);
    vb_gen_rows(g, VB_STREAM_QUERY, 0, d.nq, d.q, NULL);
    char params[512];
    vb_gen_params_json(&gp, params, sizeof params);
    for (size_t i = 0; i < total; i++)
        ids[i] = (int64_t)i;
    double t0 = vb_now();
    truth(d.gt, d.base, d.n, &d, NULL);
    printf("data n=%zu nq=%zu dim=%zu extra=%zu truth_s=%.2f params=%s impl=%s\n", d.n, d.nq, d.dim,
           d.extra, vb_now() - t0, params, cm_vec_impl_name());
    if (data_dir) {
        char path[4096];
        int32_t *g32 = malloc(sizeof(int32_t) * d.nq * K);
        for (size_t i = 0; i < d.nq * K; i++)
            g32[i] = (int32_t)d.gt[i];
        (void)snprintf(path, sizeof path, "%s/base.f32", data_dir);
        if (vb_write_f32(path, d.base, d.n * d.dim))
            return 1;
        (void)snprintf(path, sizeof path, "%s/queries.f32", data_dir);
        if (vb_write_f32(path, d.q, d.nq * d.dim))
            return 1;
        (void)snprintf(path, sizeof path, "%s/gt.i32", data_dir);
        if (vb_write_i32(path, g32, d.nq * K))
            return 1;
        free(g32);
    }
    fflush(stdout);

    /* build (or load a saved index: --index PATH, for profiling) */
    long long a0 = atomic_load(&live_bytes);
    double r0 = rss_bytes(), secs;
    cm_vec_index *ix = NULL;
    if (index_path && access(index_path, R_OK) == 0) {
        int rc = cm_vec_index_load(&ix, index_path);
        if (rc)
            die("load", rc);
        printf("loaded %s\n", index_path);
    } else {
        ix = build(&d, d.base, ids, d.n, storage, threads, m, efc, &secs);
        double r1 = rss_bytes();
        long long a1 = atomic_load(&live_bytes);
        printf("build lib=cm storage=%s threads=%u m=%u efc=%u n=%zu secs=%.2f cpu_secs=%.2f "
               "alloc_bytes_per_vec=%.1f rss_bytes_per_vec=%.1f\n",
               storage_name, threads, m, efc, d.n, secs, build_cpu, (double)(a1 - a0) / (double)d.n,
               (r1 - r0) / (double)d.n);
        if (index_path) {
            int rc = cm_vec_index_save(ix, index_path);
            if (rc)
                die("save", rc);
        }
    }
    fflush(stdout);

    /* self-tuning ef: what tuning costs, then the index at its own ef
     * (ef 0) on the held-out queries */
    if (tune > 0) {
        cm_vec_tune_options to = CM_VEC_TUNE_OPTIONS_INIT;
        to.target_recall = (float)tune;
        uint32_t tef = 0;
        double t0 = vb_now(), c0 = cpu_now();
        int rc = cm_vec_index_tune(&tef, ix, &to);
        if (rc)
            die("tune", rc);
        printf("tune lib=cm storage=%s target=%.3f sample=%u ef=%u secs=%.2f cpu_secs=%.2f\n",
               storage_name, tune, (unsigned)to.sample, tef, vb_now() - t0, cpu_now() - c0);
        point p = measure(ix, &d, d.gt, 0, threads, NULL);
        printf("tuned lib=cm storage=%s ef=%u recall=%.4f qps1=%.0f cpu_qps1=%.0f", storage_name,
               tef, p.recall, p.qps1, p.cpu_qps1);
        if (threads > 1)
            printf(" qps%u=%.0f", threads, p.qpsT);
        printf("\n");
        fflush(stdout);
    }

    /* ef sweep */
    uint32_t ef95 = 0;
    double lat95 = 0, cpu95 = 0;
    char *list = strdup(ef_list);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        uint32_t ef = (uint32_t)strtoul(tok, NULL, 10);
        point p = measure(ix, &d, d.gt, ef, threads, NULL);
        printf("sweep lib=cm storage=%s ef=%u recall=%.4f qps1=%.0f cpu_qps1=%.0f", storage_name,
               ef, p.recall, p.qps1, p.cpu_qps1);
        if (threads > 1)
            printf(" qps%u=%.0f", threads, p.qpsT);
        printf("\n");
        fflush(stdout);
        if (!ef95 && p.recall >= 0.95) {
            ef95 = ef;
            lat95 = p.lat_us;
            cpu95 = 1e6 / p.cpu_qps1;
        }
    }
    free(list);
    if (!ef95)
        ef95 = 256;
    printf("target lib=cm storage=%s ef95=%u lat_us=%.1f cpu_lat_us=%.1f\n", storage_name, ef95,
           lat95, cpu95);

    /* filtered search: random bitmaps of 50%, 10%, 1% */
    if (do_filter) {
        const double sel[3] = {0.5, 0.1, 0.01};
        uint8_t *bm = malloc(d.n / 8 + 1);
        int64_t *fgt = malloc(sizeof(int64_t) * d.nq * K);
        for (int s = 0; s < 3; s++) {
            memset(bm, 0, d.n / 8 + 1);
            rng = 0x1234567ull + (uint64_t)s;
            for (size_t i = 0; i < d.n; i++)
                if ((double)(next_rand() >> 11) * 0x1p-53 < sel[s])
                    bm[i / 8] |= (uint8_t)(1u << (i % 8));
            truth(fgt, d.base, d.n, &d, bm);
            cm_vec_search_options fo = CM_VEC_SEARCH_OPTIONS_INIT;
            fo.allow = bm;
            fo.allow_bits = d.n;
            const uint32_t efs[6] = {ef95 / 2 > 10 ? ef95 / 2 : 10,
                                     ef95 * 2 / 3,
                                     ef95 * 5 / 6,
                                     ef95,
                                     ef95 * 5 / 4,
                                     ef95 * 3 / 2};
            for (int e = 0; e < 6; e++) {
                point p = measure(ix, &d, fgt, efs[e], 1, &fo);
                printf("filter lib=cm storage=%s selectivity=%.2f ef=%u recall=%.4f lat_us=%.1f "
                       "lat_ratio=%.2f cpu_lat_ratio=%.2f min_found=%zu\n",
                       storage_name, sel[s], efs[e], p.recall, p.lat_us, p.lat_us / lat95,
                       1e6 / p.cpu_qps1 / cpu95, p.min_found);
                fflush(stdout);
            }
        }
        free(bm);
        free(fgt);
    }

    /* churn: delete 10%, insert the extra rows, compare with a fresh build */
    if (do_churn && d.extra) {
        size_t ndel = d.n / 10;
        uint8_t *gone = calloc(d.n, 1);
        rng = 0xdeadbeefull;
        long long c0 = atomic_load(&live_bytes);
        double rc0 = rss_bytes();
        t0 = vb_now();
        for (size_t k = 0; k < ndel;) {
            size_t i = (size_t)(next_rand() % d.n);
            if (gone[i])
                continue;
            gone[i] = 1;
            int rc = cm_vec_index_remove(ix, (int64_t)i);
            if (rc)
                die("remove", rc);
            k++;
        }
        double tdel = vb_now() - t0;
        t0 = vb_now();
        int rc = cm_vec_index_add_batch(ix, ids + d.n, d.base + d.n * d.dim, d.extra, d.dim);
        if (rc)
            die("add extra", rc);
        double tins = vb_now() - t0;
        long long c1 = atomic_load(&live_bytes);
        double rc1 = rss_bytes();
        /* the final set, row order = ids of the rows kept */
        size_t nf = 0;
        float *fin = malloc(sizeof(float) * total * d.dim);
        int64_t *fid = malloc(sizeof(int64_t) * total);
        for (size_t i = 0; i < total; i++) {
            if (i < d.n && gone[i])
                continue;
            memcpy(fin + nf * d.dim, d.base + i * d.dim, d.dim * sizeof(float));
            fid[nf++] = (int64_t)i;
        }
        int64_t *cgt = malloc(sizeof(int64_t) * d.nq * K);
        truth(cgt, fin, nf, &d, NULL);
        for (size_t i = 0; i < d.nq * K; i++) /* row numbers -> ids */
            cgt[i] = cgt[i] < 0 ? -1 : fid[cgt[i]];
        double bsecs;
        cm_vec_index *fresh = build(&d, fin, fid, nf, storage, threads, m, efc, &bsecs);
        printf("churn lib=cm storage=%s deleted=%zu inserted=%zu del_secs=%.2f ins_secs=%.2f "
               "alloc_growth_bytes=%lld rss_growth_bytes=%.0f\n",
               storage_name, ndel, d.extra, tdel, tins, c1 - c0, rc1 - rc0);
        const uint32_t efs[3] = {ef95 * 2 / 3 > 10 ? ef95 * 2 / 3 : 10, ef95, ef95 * 2};
        for (int e = 0; e < 3; e++) {
            point pc = measure(ix, &d, cgt, efs[e], 1, NULL);
            point pf = measure(fresh, &d, cgt, efs[e], 1, NULL);
            printf("churn lib=cm storage=%s ef=%u recall_churned=%.4f recall_fresh=%.4f "
                   "diff=%+.4f\n",
                   storage_name, efs[e], pc.recall, pf.recall, pc.recall - pf.recall);
            fflush(stdout);
        }
        cm_vec_index_free(fresh);
        free(fin);
        free(fid);
        free(cgt);
        free(gone);
    }
    cm_vec_index_free(ix);
    vb_gen_free(g);
    free(d.base);
    free(d.q);
    free(d.gt);
    free(ids);
    return 0;
}
