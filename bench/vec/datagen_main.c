/*
 * datagen_main.c - vec_datagen: writes a synthetic embedding data set
 * (datagen.h) as .f32 files for the C benchmarks and the Node/Python peers.
 *
 *   vec_datagen --out DIR [--n 100000] [--nq 1000] [--dim 768] [--seed 42]
 *               [--clusters 200] [--decay 0.6] [--gt K] [--threads T]
 *
 * Writes DIR/base.f32 (n x dim), DIR/queries.f32 (nq x dim), DIR/meta.json
 * and, with --gt K, DIR/gt.i32: for every query the ids of its K nearest
 * base rows by inner product (= cosine = L2 order: rows are unit length),
 * computed exactly with cm_vec_matrix_search_batch() on f32 rows.
 * Benchmark tool, not part of the library.
 */
#include "common.h"
#include "datagen.h"

#include <community/vec.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fprintf(stderr, "usage: vec_datagen --out DIR [--n N] [--nq NQ] [--dim D] [--seed S]\n"
                    "                   [--clusters C] [--decay X] [--gt K] [--threads T]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    size_t n = 100000, nq = 1000, dim = 768, gt = 0;
    unsigned threads = 2;
    vb_gen_params p;
    vb_gen_params_default(&p, dim);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--n"))
            n = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--nq"))
            nq = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--dim"))
            dim = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--seed"))
            p.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--clusters"))
            p.clusters = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--decay"))
            p.decay = strtod(v, NULL);
        else if (!strcmp(a, "--gt"))
            gt = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--threads"))
            threads = (unsigned)strtoul(v, NULL, 10);
        else
            usage();
    }
    if (!out || n == 0 || nq == 0 || dim == 0 || gt > n)
        usage();
    p.dim = dim;
    vb_gen *g = vb_gen_new(&p);
    float *base = malloc(n * dim * sizeof(float));
    float *qs = malloc(nq * dim * sizeof(float));
    if (!g || !base || !qs) {
        fprintf(stderr, "vec_datagen: out of memory or bad parameters\n");
        return 1;
    }
    double t0 = vb_now();
    vb_gen_rows(g, VB_STREAM_BASE, 0, n, base, NULL);
    vb_gen_rows(g, VB_STREAM_QUERY, 0, nq, qs, NULL);
    double t1 = vb_now();
    char path[4096], params[512];
    (void)snprintf(path, sizeof path, "%s/base.f32", out);
    if (vb_write_f32(path, base, n * dim))
        return 1;
    (void)snprintf(path, sizeof path, "%s/queries.f32", out);
    if (vb_write_f32(path, qs, nq * dim))
        return 1;
    if (gt) {
        cm_vec_matrix *m = NULL;
        cm_vec_matrix_options mo = CM_VEC_MATRIX_OPTIONS_INIT;
        mo.metric = CM_VEC_IP;
        int64_t *ids = malloc(nq * gt * sizeof(int64_t));
        int32_t *ids32 = malloc(nq * gt * sizeof(int32_t));
        cm_vec_search_options so = CM_VEC_SEARCH_OPTIONS_INIT;
        so.threads = threads;
        if (!ids || !ids32 || cm_vec_matrix_new(&m, base, n, dim, &mo) ||
            cm_vec_matrix_search_batch(ids, NULL, m, qs, nq, dim, gt, &so)) {
            fprintf(stderr, "vec_datagen: ground truth failed: %s\n", cm_error_message());
            return 1;
        }
        for (size_t i = 0; i < nq * gt; i++)
            ids32[i] = (int32_t)ids[i];
        (void)snprintf(path, sizeof path, "%s/gt.i32", out);
        if (vb_write_i32(path, ids32, nq * gt))
            return 1;
        cm_vec_matrix_free(m);
        free(ids);
        free(ids32);
    }
    vb_gen_params_json(&p, params, sizeof params);
    (void)snprintf(path, sizeof path, "%s/meta.json", out);
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    fprintf(f,
            "{\"n\":%zu,\"nq\":%zu,\"dim\":%zu,\"gt_k\":%zu,\"gt_metric\":\"ip\","
            "\"files\":{\"base\":\"base.f32\",\"queries\":\"queries.f32\"%s},"
            "\"format\":\"raw little-endian float32 row-major; gt: int32 nq x gt_k\","
            "\"generator\":%s}\n",
            n, nq, dim, gt, gt ? ",\"gt\":\"gt.i32\"" : "", params);
    fclose(f);
    fprintf(stderr, "vec_datagen: %zu + %zu rows of %zu in %.2f s -> %s\n", n, nq, dim, t1 - t0,
            out);
    free(base);
    free(qs);
    vb_gen_free(g);
    return 0;
}
