/*
 * exact.c - bench_vec_exact: exact top-k search with cm_vec_matrix on one
 * thread, against the single-thread memory read bandwidth measured in the
 * same run.
 *
 *   bench_vec_exact [--data DIR | --n N --dim D] [--k 10] [--single Q]
 *                   [--batch B] [--rounds R] [--metric ip|cos|l2]
 *                   [--json FILE]
 *
 * DIR holds base.f32 and queries.f32 (vec_datagen); without it the data are
 * generated in memory (datagen.h, seed 42). Every round runs, for each of
 * Q queries: the bandwidth probe (common.h: the best of 1, 2, 4 and 8
 * streams, over huge pages as the matrix rows) over a buffer as large as
 * the f32 rows, the f32 search, the
 * probe over half the buffer (the bf16 rows' size), the bf16 search and the
 * int8 search; then one batched search of B
 * queries on f32. Reported: QPS best and median over rounds; the share of
 * the probe's bandwidth the f32 scan reaches and the bf16 speed-up over
 * f32 as medians of per-query ratios (each search against the probe pass
 * or f32 search right before it, so load that comes and goes cancels), and
 * as best-over-best. Recall@k of compressed storage against f32 results.
 * VB_CLOCK=thread times everything with the thread's CPU clock instead of
 * wall time (common.h), for runs on a loaded machine.
 */
#include "common.h"
#include "datagen.h"

#include <community/vec.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUNDS 64

typedef struct {
    const char *name;
    double v[MAX_ROUNDS];
} series;

static double best_of(const series *s, int n)
{
    double b = 0;
    for (int i = 0; i < n; i++)
        if (s->v[i] > b)
            b = s->v[i];
    return b;
}

static double median_of(const series *s, int n)
{
    double t[MAX_ROUNDS];
    memcpy(t, s->v, (size_t)n * sizeof *t);
    return vb_median(t, (size_t)n);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_vec_exact [--data DIR | --n N --dim D] [--k K] [--single Q]\n"
                    "       [--batch B] [--rounds R] [--metric ip|cos|l2] [--json FILE]\n");
    exit(2);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_vec_exact: %s: %s\n", what, cm_error_message());
    exit(1);
}

/* Queries per second of `nq` single searches (one call per query). */
static double run_single(const cm_vec_matrix *m, const float *qs, size_t nq, size_t dim, size_t k,
                         int64_t *ids)
{
    double t0 = vb_now();
    for (size_t q = 0; q < nq; q++)
        if (cm_vec_matrix_search(ids + q * k, NULL, m, qs + q * dim, dim, k, NULL))
            die("search");
    return (double)nq / (vb_now() - t0);
}

static double run_batch(const cm_vec_matrix *m, const float *qs, size_t nq, size_t dim, size_t k,
                        int64_t *ids)
{
    double t0 = vb_now();
    if (cm_vec_matrix_search_batch(ids, NULL, m, qs, nq, dim, k, NULL))
        die("batch search");
    return (double)nq / (vb_now() - t0);
}

/* Mean fraction of truth's k ids found in got's k ids. */
static double recall(const int64_t *got, const int64_t *truth, size_t nq, size_t k)
{
    size_t hit = 0;
    for (size_t q = 0; q < nq; q++)
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < k; j++)
                if (got[q * k + i] == truth[q * k + j]) {
                    hit++;
                    break;
                }
    return (double)hit / (double)(nq * k);
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *json_path = NULL, *metric_s = "ip";
    size_t n = 100000, dim = 768, k = 10, nsingle = 10, nbatch = 64;
    int rounds = 10;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        const char *a = argv[i], *v = argv[++i];
        if (!strcmp(a, "--data"))
            dir = v;
        else if (!strcmp(a, "--n"))
            n = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--dim"))
            dim = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--k"))
            k = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--single"))
            nsingle = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--batch"))
            nbatch = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--rounds"))
            rounds = atoi(v);
        else if (!strcmp(a, "--metric"))
            metric_s = v;
        else if (!strcmp(a, "--json"))
            json_path = v;
        else
            usage();
    }
    if (rounds < 1 || rounds > MAX_ROUNDS || k == 0 || nsingle == 0 || nbatch == 0)
        usage();
    int metric = !strcmp(metric_s, "l2")    ? CM_VEC_L2
                 : !strcmp(metric_s, "cos") ? CM_VEC_COSINE
                                            : CM_VEC_IP;

    /* ---- data ---- */
    float *base, *qs;
    size_t nq_avail;
    if (dir) {
        char path[4096];
        (void)snprintf(path, sizeof path, "%s/base.f32", dir);
        base = vb_read_f32(path, dim, &n);
        (void)snprintf(path, sizeof path, "%s/queries.f32", dir);
        qs = vb_read_f32(path, dim, &nq_avail);
        if (!base || !qs)
            return 1;
    } else {
        vb_gen_params gp;
        vb_gen_params_default(&gp, dim);
        vb_gen *g = vb_gen_new(&gp);
        nq_avail = nsingle > nbatch ? nsingle : nbatch;
        base = malloc(n * dim * sizeof(float));
        qs = malloc(nq_avail * dim * sizeof(float));
        if (!g || !base || !qs)
            return 1;
        vb_gen_rows(g, VB_STREAM_BASE, 0, n, base, NULL);
        vb_gen_rows(g, VB_STREAM_QUERY, 0, nq_avail, qs, NULL);
        vb_gen_free(g);
    }
    if (nq_avail < nsingle || nq_avail < nbatch || k > n) {
        fprintf(stderr, "bench_vec_exact: not enough queries or rows\n");
        return 1;
    }

    cm_vec_matrix *mf = NULL, *mb = NULL, *mi = NULL;
    cm_vec_matrix_options o = CM_VEC_MATRIX_OPTIONS_INIT;
    o.metric = metric;
    if (cm_vec_matrix_new(&mf, base, n, dim, &o))
        die("matrix f32");
    o.storage = CM_VEC_STORE_BF16;
    if (cm_vec_matrix_new(&mb, base, n, dim, &o))
        die("matrix bf16");
    o.storage = CM_VEC_STORE_I8;
    if (cm_vec_matrix_new(&mi, base, n, dim, &o))
        die("matrix i8");
    size_t f32_bytes = n * dim * sizeof(float);
    free(base);

    /* the probe reads a huge-page buffer (the best case, as the matrix
     * rows get); a 4 KiB-page one is measured once per round for reference */
    unsigned char *probe = vb_alloc_filled(f32_bytes, 1);
    unsigned char *probe4k = vb_alloc_filled(f32_bytes, 0);
    int64_t *ids_f = malloc(nsingle * k * sizeof(int64_t));
    int64_t *ids_b = malloc(nsingle * k * sizeof(int64_t));
    int64_t *ids_i = malloc(nsingle * k * sizeof(int64_t));
    int64_t *ids_batch = malloc(nbatch * k * sizeof(int64_t));
    int64_t *ids_batch_single = malloc(nbatch * k * sizeof(int64_t));
    if (!probe || !probe4k || !ids_f || !ids_b || !ids_i || !ids_batch || !ids_batch_single)
        return 1;

    const char *kind = "";
    int wins[9] = {0}, streams = 1;
    (void)vb_bandwidth_best(probe, f32_bytes, NULL, &kind); /* warm up */
    (void)run_single(mf, qs, 1, dim, k, ids_f);             /* warm up */
    (void)run_single(mb, qs, 1, dim, k, ids_b);

    /*
     * Rounds of: for each query, the probe over the f32 rows' size, the f32
     * search, the probe over half that size, the bf16 search, the int8
     * search; then one batch. Each search is paired with the probe run
     * just before it, so the ratios compare like with like even when
     * other load comes and goes; their medians are the headline ratios.
     */
    size_t npairs = (size_t)rounds * nsingle;
    double *r_share = malloc(npairs * sizeof(double)), *r_share_b = malloc(npairs * sizeof(double));
    double *r_speed = malloc(npairs * sizeof(double)), *probe_all = malloc(npairs * sizeof(double));
    double *probe_half_all = malloc(npairs * sizeof(double));
    if (!r_share || !r_share_b || !r_speed || !probe_all || !probe_half_all)
        return 1;
    series p4k = {"probe_4k_gbs", {0}};
    series sf = {"single_f32_qps", {0}}, sb = {"single_bf16_qps", {0}}, si = {"single_i8_qps", {0}},
           bf = {"batch_f32_qps", {0}};
    double max_f32_gbs = 0, max_bf16_gbs = 0;
    size_t np = 0;
    for (int r = 0; r < rounds; r++) {
        double tf_sum = 0, tb_sum = 0, ti_sum = 0;
        for (size_t q = 0; q < nsingle; q++, np++) {
            int st;
            probe_all[np] = vb_bandwidth_best(probe, f32_bytes, &st, NULL);
            wins[st]++;
            double t0 = vb_now();
            if (cm_vec_matrix_search(ids_f + q * k, NULL, mf, qs + q * dim, dim, k, NULL))
                die("search");
            double tf = vb_now() - t0;
            probe_half_all[np] = vb_bandwidth_best(probe, f32_bytes / 2, NULL, NULL);
            t0 = vb_now();
            if (cm_vec_matrix_search(ids_b + q * k, NULL, mb, qs + q * dim, dim, k, NULL))
                die("search");
            double tb = vb_now() - t0;
            t0 = vb_now();
            if (cm_vec_matrix_search(ids_i + q * k, NULL, mi, qs + q * dim, dim, k, NULL))
                die("search");
            double ti = vb_now() - t0;
            double gf = (double)f32_bytes / tf * 1e-9, gb = (double)f32_bytes / 2 / tb * 1e-9;
            max_f32_gbs = gf > max_f32_gbs ? gf : max_f32_gbs;
            max_bf16_gbs = gb > max_bf16_gbs ? gb : max_bf16_gbs;
            r_share[np] = gf / probe_all[np];
            r_share_b[np] = gb / probe_half_all[np];
            r_speed[np] = tf / tb;
            tf_sum += tf;
            tb_sum += tb;
            ti_sum += ti;
        }
        sf.v[r] = (double)nsingle / tf_sum;
        sb.v[r] = (double)nsingle / tb_sum;
        si.v[r] = (double)nsingle / ti_sum;
        bf.v[r] = run_batch(mf, qs, nbatch, dim, k, ids_batch);
        p4k.v[r] = vb_bandwidth_best(probe4k, f32_bytes, NULL, NULL);
    }
    double probe_best = 0, probe_half_best = 0;
    for (size_t i = 0; i < npairs; i++) {
        probe_best = probe_all[i] > probe_best ? probe_all[i] : probe_best;
        probe_half_best = probe_half_all[i] > probe_half_best ? probe_half_all[i] : probe_half_best;
    }
    double probe_med = vb_median(probe_all, npairs);
    double probe_half_med = vb_median(probe_half_all, npairs);
    double share_med = vb_median(r_share, npairs), share_b_med = vb_median(r_share_b, npairs);
    double speed_med = vb_median(r_speed, npairs);
    double share_bb = max_f32_gbs / probe_best, share_bb_b = max_bf16_gbs / probe_half_best;

    /* batched results must equal single-query results */
    for (size_t q = 0; q < nbatch; q++)
        if (cm_vec_matrix_search(ids_batch_single + q * k, NULL, mf, qs + q * dim, dim, k, NULL))
            die("search");
    double batch_agree = recall(ids_batch, ids_batch_single, nbatch, k);
    double rec_b = recall(ids_b, ids_f, nsingle, k), rec_i = recall(ids_i, ids_f, nsingle, k);

    char cpu[256];
    vb_cpu_model(cpu, sizeof cpu);
    double gb_scan = (double)f32_bytes * 1e-9;
    printf("# exact top-%zu, %zu x %zu, metric %s, 1 thread, impl %s, cpu %s, clock %s\n", k, n,
           dim, metric_s, cm_vec_impl_name(), cpu, vb_clock_name());
    printf("# %d rounds of %zu queries; best (median)\n", rounds, nsingle);
    for (int i = 1; i <= 8; i++)
        if (wins[i] > wins[streams])
            streams = i;
    printf("probe (%s loads, huge pages, best of 1/2/4/8 streams each time; wins %d/%d/%d/%d): "
           "%.1f MB %.2f (%.2f) GB/s, %.1f MB %.2f (%.2f) GB/s; 4 KiB pages: %.2f (%.2f) GB/s\n",
           kind, wins[1], wins[2], wins[4], wins[8], gb_scan * 1e3, probe_best, probe_med,
           gb_scan * 500, probe_half_best, probe_half_med, best_of(&p4k, rounds),
           median_of(&p4k, rounds));
    printf("single f32 : %8.2f (%8.2f) QPS, scan %.2f GB/s at best; share of the probe: median of "
           "pairs %.3f, best/best %.3f\n",
           best_of(&sf, rounds), median_of(&sf, rounds), max_f32_gbs, share_med, share_bb);
    printf("single bf16: %8.2f (%8.2f) QPS; speed-up over f32: median of pairs %.2fx, best/best "
           "%.2fx; recall@%zu %.4f; share of the probe %.3f (median of pairs)\n",
           best_of(&sb, rounds), median_of(&sb, rounds), speed_med,
           best_of(&sb, rounds) / best_of(&sf, rounds), k, rec_b, share_b_med);
    printf("single i8  : %8.2f (%8.2f) QPS = %.2fx f32, recall@%zu %.4f\n", best_of(&si, rounds),
           median_of(&si, rounds), best_of(&si, rounds) / best_of(&sf, rounds), k, rec_i);
    printf("batch f32 %zu: %8.2f (%8.2f) QPS = %.2fx single, agreement with single %.4f\n", nbatch,
           best_of(&bf, rounds), median_of(&bf, rounds),
           best_of(&bf, rounds) / best_of(&sf, rounds), batch_agree);
    if (json_path) {
        FILE *js = fopen(json_path, "w");
        if (!js)
            return 1;
        fprintf(js,
                "{\"bench\":\"exact\",\"impl\":\"%s\",\"clock\":\"%s\","
                "\"n\":%zu,\"dim\":%zu,\"k\":%zu,"
                "\"metric\":\"%s\",\"rounds\":%d,\"single_queries\":%zu,\"batch\":%zu,"
                "\"probe_kind\":\"%s\",\"probe_streams\":%d,\"probe_gbs_best\":%.4f,"
                "\"probe_gbs_median\":%.4f,\"probe_half_gbs_best\":%.4f,"
                "\"probe_half_gbs_median\":%.4f,\"probe_4k_gbs_best\":%.4f,"
                "\"probe_4k_gbs_median\":%.4f,"
                "\"single_f32_qps_best\":%.4f,\"single_f32_qps_median\":%.4f,"
                "\"f32_gbs_best\":%.4f,\"f32_bw_share_pairs_median\":%.4f,"
                "\"f32_bw_share_best_best\":%.4f,"
                "\"single_bf16_qps_best\":%.4f,\"single_bf16_qps_median\":%.4f,"
                "\"bf16_speedup_pairs_median\":%.4f,\"bf16_bw_share_pairs_median\":%.4f,"
                "\"bf16_bw_share_best_best\":%.4f,\"recall_bf16\":%.5f,"
                "\"single_i8_qps_best\":%.4f,\"single_i8_qps_median\":%.4f,\"recall_i8\":%.5f,"
                "\"batch_f32_qps_best\":%.4f,\"batch_f32_qps_median\":%.4f,"
                "\"batch_agreement\":%.5f}\n",
                cm_vec_impl_name(), vb_clock_name(), n, dim, k, metric_s, rounds, nsingle, nbatch,
                kind, streams, probe_best, probe_med, probe_half_best, probe_half_med,
                best_of(&p4k, rounds), median_of(&p4k, rounds), best_of(&sf, rounds),
                median_of(&sf, rounds), max_f32_gbs, share_med, share_bb, best_of(&sb, rounds),
                median_of(&sb, rounds), speed_med, share_b_med, share_bb_b, rec_b,
                best_of(&si, rounds), median_of(&si, rounds), rec_i, best_of(&bf, rounds),
                median_of(&bf, rounds), batch_agree);
        fclose(js);
    }
    free(r_share);
    free(r_share_b);
    free(r_speed);
    free(probe_all);
    free(probe_half_all);
    cm_vec_matrix_free(mf);
    cm_vec_matrix_free(mb);
    cm_vec_matrix_free(mi);
    free(probe);
    free(probe4k);
    free(qs);
    free(ids_f);
    free(ids_b);
    free(ids_i);
    free(ids_batch);
    free(ids_batch_single);
    return 0;
}
