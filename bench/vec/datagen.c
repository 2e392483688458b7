/*
 * datagen.c - deterministic synthetic embeddings (see datagen.h). Portable
 * C11; counter-based randomness (splitmix64 seeded from seed, stream and
 * row), Box-Muller normals. Benchmark code, not part of the library.
 */
#include "datagen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vb_gen {
    vb_gen_params p;
    float *scale;    /* dim: per-dimension spread */
    float *mean;     /* dim: shared offset */
    float *centres;  /* clusters * subclusters * dim: sub-centres (centre included) */
    double *cdf;     /* clusters: cumulative cluster weights, last = 1 */
    double *sub_cdf; /* subclusters: cumulative sub-cluster weights */
};

/* ---- randomness ---- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct {
    uint64_t s;
    int have;     /* a spare normal is cached */
    double spare; /* the cached normal */
} rng;

static void rng_init(rng *r, uint64_t seed, uint64_t stream, uint64_t index)
{
    r->s = mix64(mix64(seed ^ 0x9e3779b97f4a7c15ull) ^ mix64(stream * 0xd1b54a32d192ed03ull + 1) ^
                 (index * 0x9e3779b97f4a7c15ull));
    r->have = 0;
    r->spare = 0;
}

static uint64_t rng_next(rng *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    return mix64(r->s);
}

/* Uniform in (0, 1]. */
static double rng_unit(rng *r)
{
    return ((double)(rng_next(r) >> 11) + 1.0) * 0x1p-53;
}

static double rng_normal(rng *r)
{
    if (r->have) {
        r->have = 0;
        return r->spare;
    }
    double u = rng_unit(r), v = rng_unit(r);
    double rad = sqrt(-2.0 * log(u));
    double ang = 6.283185307179586476925 * v;
    r->spare = rad * sin(ang);
    r->have = 1;
    return rad * cos(ang);
}

/* ---- parameters ---- */

void vb_gen_params_default(vb_gen_params *p, size_t dim)
{
    memset(p, 0, sizeof *p);
    p->dim = dim;
    p->clusters = 200;
    p->zipf = 1.0;
    p->decay = 0.6;
    p->mean = 0.8;
    p->spread = 1.0;
    p->subclusters = 32;
    p->sub_spread = 0.6;
    p->noise = 0.5;
    p->jitter = 0.5;
    p->normalize = 1;
    p->seed = 42;
}

const vb_gen_params *vb_gen_get_params(const vb_gen *g)
{
    return &g->p;
}

void vb_gen_params_json(const vb_gen_params *p, char *buf, size_t len)
{
    (void)snprintf(buf, len,
                   "{\"dim\":%zu,\"clusters\":%u,\"subclusters\":%u,\"zipf\":%g,\"decay\":%g,"
                   "\"mean\":%g,\"spread\":%g,\"sub_spread\":%g,\"noise\":%g,\"jitter\":%g,"
                   "\"normalize\":%d,\"seed\":%llu}",
                   p->dim, (unsigned)p->clusters, (unsigned)p->subclusters, p->zipf, p->decay,
                   p->mean, p->spread, p->sub_spread, p->noise, p->jitter, p->normalize,
                   (unsigned long long)p->seed);
}

/* ---- generator ---- */

/* Cumulative Zipf weights 1 / (i + 1)^s of n items; the last is 1. */
static void zipf_cdf(double *cdf, size_t n, double s)
{
    double total = 0, acc = 0;
    for (size_t i = 0; i < n; i++)
        total += pow((double)(i + 1), -s);
    for (size_t i = 0; i < n; i++) {
        acc += pow((double)(i + 1), -s) / total;
        cdf[i] = acc;
    }
    cdf[n - 1] = 1.0;
}

/* Internal streams for the generator's own tables (far from user streams). */
#define STREAM_TABLES 0xfffffff0u

vb_gen *vb_gen_new(const vb_gen_params *p)
{
    if (!p || p->dim == 0 || p->clusters == 0 || p->subclusters == 0 ||
        p->dim > ((size_t)1 << 24) || (uint64_t)p->clusters * p->subclusters > (1u << 20) ||
        p->jitter < 0 || p->jitter > 1)
        return NULL;
    vb_gen *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->p = *p;
    size_t d = p->dim, k = p->clusters, ks = p->subclusters;
    g->scale = malloc(d * sizeof *g->scale);
    g->mean = malloc(d * sizeof *g->mean);
    g->centres = malloc(k * ks * d * sizeof *g->centres);
    g->cdf = malloc(k * sizeof *g->cdf);
    g->sub_cdf = malloc(ks * sizeof *g->sub_cdf);
    if (!g->scale || !g->mean || !g->centres || !g->cdf || !g->sub_cdf) {
        vb_gen_free(g);
        return NULL;
    }
    for (size_t j = 0; j < d; j++)
        g->scale[j] = (float)pow(1.0 + (double)j / 16.0, -p->decay);
    rng r;
    rng_init(&r, p->seed, STREAM_TABLES, 0);
    for (size_t j = 0; j < d; j++)
        g->mean[j] = (float)(p->mean * g->scale[j] * rng_normal(&r));
    for (size_t c = 0; c < k; c++) {
        float *sub0 = g->centres + c * ks * d;
        rng_init(&r, p->seed, STREAM_TABLES + 1, c);
        for (size_t j = 0; j < d; j++)
            sub0[j] = (float)(p->spread * g->scale[j] * rng_normal(&r));
        for (size_t s = ks; s-- > 0;) { /* sub-centre s = centre + offset (0 last) */
            rng_init(&r, p->seed, STREAM_TABLES + 2, c * ks + s);
            for (size_t j = 0; j < d; j++)
                sub0[s * d + j] = (float)(sub0[j] + p->sub_spread * g->scale[j] * rng_normal(&r));
        }
    }
    zipf_cdf(g->cdf, k, p->zipf);
    zipf_cdf(g->sub_cdf, ks, p->zipf);
    return g;
}

void vb_gen_free(vb_gen *g)
{
    if (!g)
        return;
    free(g->scale);
    free(g->mean);
    free(g->centres);
    free(g->cdf);
    free(g->sub_cdf);
    free(g);
}

static uint32_t pick(const double *cdf, size_t n, double u)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) { /* first c with cdf[c] >= u */
        size_t mid = (lo + hi) / 2;
        if (cdf[mid] >= u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return (uint32_t)lo;
}

void vb_gen_rows(const vb_gen *g, uint32_t stream, uint64_t first, size_t count, float *out,
                 uint32_t *cluster_out)
{
    size_t d = g->p.dim;
    for (size_t i = 0; i < count; i++) {
        rng r;
        rng_init(&r, g->p.seed, stream, first + i);
        uint32_t c = pick(g->cdf, g->p.clusters, rng_unit(&r));
        uint32_t sc = pick(g->sub_cdf, g->p.subclusters, rng_unit(&r));
        double noise = g->p.noise * (1.0 + g->p.jitter * (2.0 * rng_unit(&r) - 1.0));
        if (cluster_out)
            cluster_out[i] = c;
        const float *ctr = g->centres + ((size_t)c * g->p.subclusters + sc) * d;
        float *row = out + i * d;
        double ss = 0;
        for (size_t j = 0; j < d; j++) {
            double x = (double)g->mean[j] + ctr[j] + noise * g->scale[j] * rng_normal(&r);
            row[j] = (float)x;
            ss += (double)row[j] * row[j];
        }
        if (g->p.normalize && ss > 0) {
            double inv = 1.0 / sqrt(ss);
            for (size_t j = 0; j < d; j++)
                row[j] = (float)(row[j] * inv);
        }
    }
}
