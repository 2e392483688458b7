/*
 * datagen.h - deterministic synthetic embeddings for the vec benchmarks
 * (kernels, exact search, HNSW). Not part of the library.
 *
 * The vectors imitate sentence embeddings closely enough for search
 * benchmarks to mean something:
 *   - per-dimension spread falling with the index (scale_j =
 *     (1 + j / 16)^-decay), so the spectrum decays as in real models;
 *   - clusters of uneven size (Zipf weights over `clusters` centres), each
 *     split into `subclusters` sub-centres (Zipf again), so that
 *     neighbours come at graded distances (same sub-cluster, same cluster,
 *     elsewhere) rather than all at one distance;
 *   - a per-row noise level (uniform in noise * [1 - jitter, 1 + jitter]):
 *     some rows sit tight on their sub-centre, others are outliers;
 *   - a mean offset shared by every vector (the anisotropy of real
 *     embeddings: random pairs have a positive cosine);
 *   - optionally normalised to unit length (default), so that inner
 *     product, cosine and L2 rank neighbours the same way.
 *
 * Row i of stream s is a pure function of (seed, s, i): any prefix, any
 * slice and any thread order produce the same numbers, on any machine with
 * IEEE doubles and a correctly rounded libm sqrt/log (sin/cos may differ in
 * the last bit between libm versions, which moves values by ~1 ulp).
 * Streams: 0 = base rows, 1 = queries; others are free for other uses.
 *
 * Usage:
 *   vb_gen_params p; vb_gen_params_default(&p, 768);
 *   vb_gen *g = vb_gen_new(&p);
 *   vb_gen_rows(g, VB_STREAM_BASE, 0, n, rows, NULL);
 *   vb_gen_free(g);
 */
#ifndef VB_DATAGEN_H
#define VB_DATAGEN_H

#include <stddef.h>
#include <stdint.h>

#define VB_STREAM_BASE 0u
#define VB_STREAM_QUERY 1u

typedef struct vb_gen_params {
    size_t dim;           /* dimensions (>= 1) */
    uint32_t clusters;    /* number of cluster centres (>= 1); default 200 */
    double zipf;          /* cluster weight of centre k ~ 1 / (k + 1)^zipf; default 1.0 */
    double decay;         /* per-dimension scale (1 + j / 16)^-decay; default 0.6 */
    double mean;          /* amplitude of the shared mean offset; default 0.8 */
    double spread;        /* spread of the centres around the mean; default 1.0 */
    uint32_t subclusters; /* sub-centres per cluster (>= 1); default 32 */
    double sub_spread;    /* spread of sub-centres around their centre; default 0.6 */
    double noise;         /* spread of a row around its sub-centre; default 0.5 */
    double jitter;        /* per-row noise factor in [1 - jitter, 1 + jitter]; default 0.5 */
    int normalize;        /* 1 (default): rows scaled to unit L2 norm */
    uint64_t seed;        /* everything derives from it; default 42 */
} vb_gen_params;

typedef struct vb_gen vb_gen;

/* Fill `p` with the defaults above for dimension `dim`. */
void vb_gen_params_default(vb_gen_params *p, size_t dim);

/* A generator (centres, mean, scales, cluster table); NULL on bad params or
 * out of memory. Read-only after creation: vb_gen_rows() may run on several
 * threads at once. */
vb_gen *vb_gen_new(const vb_gen_params *p);
void vb_gen_free(vb_gen *g);

/* Rows [first, first + count) of `stream` into out (count * dim floats);
 * the cluster of each row into cluster_out when not NULL. */
void vb_gen_rows(const vb_gen *g, uint32_t stream, uint64_t first, size_t count, float *out,
                 uint32_t *cluster_out);

/* The parameters a generator was made with. */
const vb_gen_params *vb_gen_get_params(const vb_gen *g);

/* One line of JSON describing the parameters (no newline) into buf. */
void vb_gen_params_json(const vb_gen_params *p, char *buf, size_t len);

#endif /* VB_DATAGEN_H */
