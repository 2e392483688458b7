/*
 * topk.c - cm_vec_matrix: exact k-nearest-neighbour search by scanning a
 * row-major matrix with one bounded heap per query.
 *
 * The batched scan walks the matrix in blocks of rows sized for the L2
 * cache and runs every query of its share against a block before moving
 * on, so each row is read from memory once per call, not once per query:
 * with enough queries the scan is bound by arithmetic, not bandwidth, and
 * f32 queries go through 4 x 6 (query, row) tile kernels when the ISA has
 * them. A single query is bound by memory bandwidth: its rows are read as
 * four (bf16: eight) sequential streams (see scan_f32_single). Every kernel that scores
 * f32 rows gives a (query, row) pair the same bits, so a batch returns
 * exactly what the same queries return one by one.
 * Filters are evaluated once per row per block. Work is split across
 * threads by queries (no merge) when there are enough, by rows otherwise
 * (per-thread heaps merged at the end). Compressed storage (bf16, int8)
 * scans the compressed rows and re-ranks the best k * rerank candidates
 * against the f32 rows. Row arrays ask for transparent huge pages
 * (alloc_rows).
 */
#include "search_int.h"

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

struct cm_vec_matrix {
    size_t n, dim;
    int metric, storage;
    uint32_t rerank; /* 0 when no f32 copy is kept next to compressed rows */
    float *f32;      /* n * dim; NULL for compressed storage without rerank */
    uint16_t *bf16;  /* storage BF16 */
    int8_t *i8;      /* storage I8 */
    float *scale;    /* I8: per-row scale */
    int64_t *i8sq;   /* I8: per-row sum of squares of the int8 values */
    float *inv;      /* COSINE: 1 / |row| of the f32 rows (0 for a zero row) */
    float *cinv;     /* COSINE + BF16: 1 / |row| of the bf16 rows */
};

/* A query prepared for the scan: its compressed forms and norms. */
typedef struct {
    const float *q;
    double inv, cinv; /* 1 / |q| (f32, bf16) for cosine */
    uint16_t *qb;     /* BF16 */
    int8_t *qi;       /* I8 */
    float qscale;
    int64_t qsq;
} prepared;

static double inv_norm_f32(const float *v, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < d; i++)
        s += (double)v[i] * v[i];
    return s > 0 ? 1.0 / sqrt(s) : 0.0;
}

static double inv_norm_bf16(const uint16_t *v, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < d; i++) {
        double x = cm__vec_bf16_to_f32_1(v[i]);
        s += x * x;
    }
    return s > 0 ? 1.0 / sqrt(s) : 0.0;
}

static int64_t sumsq_i8(const int8_t *v, size_t d)
{
    int64_t s = 0;
    for (size_t i = 0; i < d; i++)
        s += (int32_t)v[i] * v[i];
    return s;
}

void cm_vec_matrix_free(cm_vec_matrix *m)
{
    if (!m)
        return;
    cm__free(m->f32);
    cm__free(m->bf16);
    cm__free(m->i8);
    cm__free(m->scale);
    cm__free(m->i8sq);
    cm__free(m->inv);
    cm__free(m->cinv);
    cm__free(m);
}

size_t cm_vec_matrix_count(const cm_vec_matrix *m)
{
    return m ? m->n : 0;
}
size_t cm_vec_matrix_dim(const cm_vec_matrix *m)
{
    return m ? m->dim : 0;
}

static void *alloc_array(size_t n, size_t elt)
{
    if (elt && n > SIZE_MAX / elt)
        return NULL;
    return cm__malloc(n * elt);
}

/*
 * Rows scanned from memory: ask for transparent huge pages before the first
 * write (Linux; a no-op elsewhere or when THP is off). Streaming reads of
 * hundreds of megabytes through 4 KiB pages spend much of one thread's
 * bandwidth on page walks; with 2 MiB pages the same scan runs measurably
 * faster (bench/vec). Only the 2 MiB-aligned interior is advised; errors
 * are ignored (the memory works either way).
 */
static void *alloc_rows(size_t n, size_t elt)
{
    void *p = alloc_array(n, elt);
#if defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (p && n * elt >= 2 * huge) {
        uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
        uintptr_t hi = ((uintptr_t)p + n * elt) & ~(huge - 1);
        if (hi > lo)
            (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
#endif
    return p;
}

int cm_vec_matrix_new(cm_vec_matrix **out, const float *rows, size_t n, size_t dim,
                      const cm_vec_matrix_options *opts)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_vec_matrix_new: out is NULL");
    *out = NULL;
    cm_vec_matrix_options o = CM_VEC_MATRIX_OPTIONS_INIT;
    if (opts) {
        if (opts->size < sizeof(uint32_t) * 2)
            return cm__error_set_field(CM_EINVAL, "opts", "matrix options: size too small");
        memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
    }
    if (dim == 0 || dim > (1u << 24))
        return cm__error_set_field(CM_EINVAL, "dim", "dimension %zu not in 1..2^24", dim);
    if (n == 0 || !rows)
        return cm__error_set_field(CM_EINVAL, "n", "a matrix needs at least one row");
    if (o.metric < CM_VEC_L2 || o.metric > CM_VEC_COSINE)
        return cm__error_set_field(CM_EINVAL, "metric", "unknown metric %d", (int)o.metric);
    if (o.storage < CM_VEC_STORE_F32 || o.storage > CM_VEC_STORE_I8)
        return cm__error_set_field(CM_EINVAL, "storage", "unknown storage %d", (int)o.storage);
    if (n > SIZE_MAX / dim || n > (size_t)INT64_MAX)
        return cm__error_set_field(CM_EINVAL, "n", "matrix too large");
    int rc = cm__vec_check_finite(rows, n * dim, "rows");
    if (rc)
        return rc;

    cm_vec_matrix *m = cm__calloc(1, sizeof *m);
    if (!m)
        return cm__error_set(CM_ENOMEM, "cm_vec_matrix_new: out of memory");
    m->n = n;
    m->dim = dim;
    m->metric = o.metric;
    m->storage = o.storage;
    m->rerank = o.storage == CM_VEC_STORE_F32 ? 0 : o.rerank;
    size_t nd = n * dim;
    if (o.storage == CM_VEC_STORE_F32 || m->rerank) {
        if (!(m->f32 = alloc_rows(nd, sizeof(float))))
            goto oom;
        memcpy(m->f32, rows, nd * sizeof(float));
        if (o.metric == CM_VEC_COSINE) {
            if (!(m->inv = alloc_array(n, sizeof(float))))
                goto oom;
            for (size_t i = 0; i < n; i++)
                m->inv[i] = (float)inv_norm_f32(rows + i * dim, dim);
        }
    }
    if (o.storage == CM_VEC_STORE_BF16) {
        if (!(m->bf16 = alloc_rows(nd, sizeof(uint16_t))))
            goto oom;
        cm_vec_f32_to_bf16(m->bf16, rows, nd);
        if (o.metric == CM_VEC_COSINE) {
            if (!(m->cinv = alloc_array(n, sizeof(float))))
                goto oom;
            for (size_t i = 0; i < n; i++)
                m->cinv[i] = (float)inv_norm_bf16(m->bf16 + i * dim, dim);
        }
    } else if (o.storage == CM_VEC_STORE_I8) {
        m->i8 = alloc_rows(nd, 1);
        m->scale = alloc_array(n, sizeof(float));
        m->i8sq = alloc_array(n, sizeof(int64_t));
        if (!m->i8 || !m->scale || !m->i8sq)
            goto oom;
        for (size_t i = 0; i < n; i++) {
            (void)cm_vec_f32_to_i8(m->i8 + i * dim, &m->scale[i], rows + i * dim, dim);
            m->i8sq[i] = sumsq_i8(m->i8 + i * dim, dim);
        }
    }
    *out = m;
    return CM_OK;
oom:
    cm_vec_matrix_free(m);
    return cm__error_set(CM_ENOMEM, "cm_vec_matrix_new: out of memory");
}

/* ---- distances ---- */

/* Exact distance of a prepared query to f32 row r. */
static float exact_dist(const cm_vec_matrix *m, const cm__vec_ops *ops, const prepared *p, size_t r)
{
    const float *row = m->f32 + r * m->dim;
    switch (m->metric) {
        case CM_VEC_L2:
            return ops->l2sq_f32(p->q, row, m->dim);
        case CM_VEC_IP:
            return -ops->dot_f32(p->q, row, m->dim);
        default:
            return cm__vec_cos_dist((double)ops->dot_f32(p->q, row, m->dim) * p->inv * m->inv[r]);
    }
}

/* Turn four f32 kernel results into distances (f32 storage only). */
static void finish4(const cm_vec_matrix *m, const prepared *p, const size_t r[4], float v[4])
{
    if (m->metric == CM_VEC_IP)
        for (int j = 0; j < 4; j++)
            v[j] = -v[j];
    else if (m->metric == CM_VEC_COSINE)
        for (int j = 0; j < 4; j++)
            v[j] = cm__vec_cos_dist((double)v[j] * p->inv * m->inv[r[j]]);
}

static float i8_dist(const cm_vec_matrix *m, const prepared *p, size_t r, int64_t dot);

/* Scan distance for compressed storage. */
static float scan_dist(const cm_vec_matrix *m, const cm__vec_ops *ops, const prepared *p, size_t r)
{
    size_t d = m->dim;
    if (m->storage == CM_VEC_STORE_BF16) {
        const uint16_t *row = m->bf16 + r * d;
        switch (m->metric) {
            case CM_VEC_L2:
                return ops->l2sq_bf16(p->qb, row, d);
            case CM_VEC_IP:
                return -ops->dot_bf16(p->qb, row, d);
            default:
                return cm__vec_cos_dist((double)ops->dot_bf16(p->qb, row, d) * p->cinv *
                                        m->cinv[r]);
        }
    }
    return i8_dist(m, p, r, ops->dot_i8(p->qi, m->i8 + r * d, d));
}

/* Distance of a prepared query to int8 row r from their exact integer dot. */
static float i8_dist(const cm_vec_matrix *m, const prepared *p, size_t r, int64_t dot)
{
    double ab = (double)dot;
    double sa = p->qscale, sb = m->scale[r];
    switch (m->metric) {
        case CM_VEC_L2: {
            double v = sa * sa * (double)p->qsq - 2.0 * sa * sb * ab + sb * sb * (double)m->i8sq[r];
            return v > 0 ? (float)v : 0.0f;
        }
        case CM_VEC_IP:
            return (float)(-sa * sb * ab);
        default:
            if (p->qsq == 0 || m->i8sq[r] == 0)
                return 1.0f;
            return cm__vec_cos_dist(ab / sqrt((double)p->qsq * (double)m->i8sq[r]));
    }
}

/* ---- the scan ---- */

typedef struct {
    const cm_vec_matrix *m;
    const cm__vec_ops *ops;
    const cm_vec_search_options *opts;
    const prepared *qs;  /* all queries */
    cm__vec_heap *heaps; /* one per query in [q0, q1) (indexed q - q0) */
    size_t q0, q1;       /* queries of this task */
    size_t r0, r1;       /* rows of this task */
    size_t block;        /* rows per cache block */
    size_t *idx;         /* scratch: allowed rows of the current block */
} scan_task;

/* Push n <= 4 scan results of query p for rows r[0..n) (f32 kernel values;
 * v has four slots). Most candidates lose to the worst kept one: test that
 * first. */
static void pushn(const cm_vec_matrix *m, const prepared *p, cm__vec_heap *hp, const size_t *r,
                  float v[4], int n)
{
    size_t rr[4] = {r[0], n > 1 ? r[1] : r[0], n > 2 ? r[2] : r[0], n > 3 ? r[3] : r[0]};
    finish4(m, p, rr, v);
    float bound = cm__vec_heap_bound(hp);
    for (int i = 0; i < n; i++) {
        if (!(v[i] > bound)) { /* NaN goes on to the heap, which ranks it +Inf */
            cm__vec_heap_push(hp, v[i], (int64_t)rr[i]);
            bound = cm__vec_heap_bound(hp);
        }
    }
}

static void push4(const cm_vec_matrix *m, const prepared *p, cm__vec_heap *hp, const size_t r[4],
                  float v[4])
{
    pushn(m, p, hp, r, v, 4);
}

/* The last 1..4 rows r[0..cnt) of a block through the 4-row kernel (the
 * last row repeated), so that every row's distance comes from the same
 * kernel whatever the block boundaries: batches and single queries agree. */
static void tail4(const scan_task *t, cm__vec_f32x4_fn k4, const prepared *p, cm__vec_heap *hp,
                  size_t cnt, const size_t *r)
{
    const cm_vec_matrix *m = t->m;
    size_t rr[4];
    const float *rows[4];
    for (size_t i = 0; i < 4; i++) {
        rr[i] = r[i < cnt ? i : cnt - 1];
        rows[i] = m->f32 + rr[i] * m->dim;
    }
    float v[4];
    k4(p->q, rows, m->dim, v);
    finish4(m, p, rr, v);
    for (size_t i = 0; i < cnt; i++)
        cm__vec_heap_push(hp, v[i], (int64_t)rr[i]);
}

/*
 * f32 rows idx[0..na) for queries [qa, qb) of the task, one query at a
 * time, four rows per kernel call. The four rows are a quarter of the block
 * apart (i, i + g, i + 2g, i + 3g), so the scan reads four long sequential
 * streams rather than four short rows side by side: hardware prefetchers
 * follow long streams much further ahead, which raises the bandwidth one
 * thread gets. Row order does not change results (ties break by id).
 */
static void scan_f32_single(const scan_task *t, size_t na, size_t qa, size_t qb)
{
    const cm_vec_matrix *m = t->m;
    const size_t d = m->dim;
    cm__vec_f32x4_fn k4 = m->metric == CM_VEC_L2 ? t->ops->l2sq4_f32 : t->ops->dot4_f32;
    for (size_t q = qa; q < qb; q++) {
        const prepared *p = &t->qs[q];
        cm__vec_heap *hp = &t->heaps[q - t->q0];
        size_t g = na / 4;
        for (size_t i = 0; i < g; i++) {
            const size_t *x = t->idx + i;
            const size_t r[4] = {x[0], x[g], x[2 * g], x[3 * g]};
            const float *rows[4] = {m->f32 + r[0] * d, m->f32 + r[1] * d, m->f32 + r[2] * d,
                                    m->f32 + r[3] * d};
            float v[4];
            k4(p->q, rows, d, v);
            push4(m, p, hp, r, v);
        }
        if (4 * g < na)
            tail4(t, k4, p, hp, na - 4 * g, t->idx + 4 * g);
    }
}

/*
 * f32 rows idx[0..na) for queries [qa, qa + 4k): tiles of four queries by
 * six rows, so that each row vector loaded from cache feeds four queries
 * and each query vector six rows.
 * Rows are the outer loop (strided as in scan_f32_single): six rows are
 * read from memory once and stay in L1 while every query of an L2-sized
 * chunk meets them, so the memory reads spread evenly over the arithmetic
 * instead of stalling one query group per block. Returns the first query
 * left over (fewer than four remain).
 */
static size_t scan_f32_tiles(const scan_task *t, size_t na, size_t qa, size_t qb)
{
    const cm_vec_matrix *m = t->m;
    const size_t d = m->dim;
    cm__vec_f32x4x6_fn tile = m->metric == CM_VEC_L2 ? t->ops->l2sq4x6_f32 : t->ops->dot4x6_f32;
    if (!tile)
        return qa;
    size_t qend = qa + (qb - qa) / 4 * 4;
    /* queries per chunk: about 1 MiB of them, which stays in L2 while the
     * block's rows stream past once */
    size_t chunk = ((size_t)1 << 20) / (d * sizeof(float)) / 4 * 4;
    chunk = chunk < 4 ? 4 : chunk;
    size_t gr = na / 6, j = 6 * gr;
    for (size_t c0 = qa; c0 < qend; c0 += chunk) {
        size_t c1 = c0 + chunk < qend ? c0 + chunk : qend;
        for (size_t i = 0; i < gr; i++) { /* strided rows, as in scan_f32_single */
            const size_t *x = t->idx + i;
            const size_t r[6] = {x[0], x[gr], x[2 * gr], x[3 * gr], x[4 * gr], x[5 * gr]};
            const float *rows[6];
            for (int k = 0; k < 6; k++)
                rows[k] = m->f32 + r[k] * d;
            for (size_t q = c0; q < c1; q += 4) {
                const prepared *p = &t->qs[q];
                cm__vec_heap *hp = &t->heaps[q - t->q0];
                const float *qv[4] = {p[0].q, p[1].q, p[2].q, p[3].q};
                float v[24];
                tile(qv, rows, d, v);
                for (int a = 0; a < 4; a++) {
                    float w[4] = {v[16 + 2 * a], v[17 + 2 * a], 0, 0};
                    push4(m, &p[a], &hp[a], r, v + 4 * a);
                    pushn(m, &p[a], &hp[a], r + 4, w, 2);
                }
            }
        }
    }
    if (j < na) {
        cm__vec_f32x4_fn k4 = m->metric == CM_VEC_L2 ? t->ops->l2sq4_f32 : t->ops->dot4_f32;
        for (size_t q = qa; q < qend; q++)
            for (size_t jj = j; jj < na; jj += 4)
                tail4(t, k4, &t->qs[q], &t->heaps[q - t->q0], na - jj < 4 ? na - jj : 4,
                      t->idx + jj);
    }
    return qend;
}

/*
 * bf16 rows idx[0..na) for one query, eight rows per kernel call when the
 * ISA has an 8-row bf16 kernel: half as many bytes per row as f32 means
 * twice the per-row overhead per byte, so the kernel takes twice the rows
 * (strided as in scan_f32_single: eight sequential streams).
 */
static void scan_bf16(const scan_task *t, size_t na, const prepared *p, cm__vec_heap *hp)
{
    const cm_vec_matrix *m = t->m;
    const size_t d = m->dim;
    cm__vec_u16x8_fn k8 = m->metric == CM_VEC_L2 ? t->ops->l2sq8_bf16 : t->ops->dot8_bf16;
    size_t j = 0;
    if (k8) {
        size_t g = na / 8;
        for (size_t gi = 0; gi < g; gi++, j += 8) {
            const size_t *x = t->idx + gi;
            size_t r[8];
            const uint16_t *rows[8];
            for (int k = 0; k < 8; k++) {
                r[k] = x[(size_t)k * g];
                rows[k] = m->bf16 + r[k] * d;
            }
            float v[8];
            k8(p->qb, rows, d, v);
            float bound = cm__vec_heap_bound(hp);
            for (int i = 0; i < 8; i++) {
                float dv = v[i];
                if (m->metric == CM_VEC_IP)
                    dv = -dv;
                else if (m->metric == CM_VEC_COSINE)
                    dv = cm__vec_cos_dist((double)dv * p->cinv * m->cinv[r[i]]);
                if (!(dv > bound)) {
                    cm__vec_heap_push(hp, dv, (int64_t)r[i]);
                    bound = cm__vec_heap_bound(hp);
                }
            }
        }
    }
    for (; j < na; j++)
        cm__vec_heap_push(hp, scan_dist(m, t->ops, p, t->idx[j]), (int64_t)t->idx[j]);
}

/* int8 rows idx[0..na) for one query, four rows per kernel call (strided
 * as in scan_f32_single) when the ISA has a 4-row int8 kernel. */
static void scan_i8(const scan_task *t, size_t na, const prepared *p, cm__vec_heap *hp)
{
    const cm_vec_matrix *m = t->m;
    const size_t d = m->dim;
    cm__vec_i8x4_fn k4 = t->ops->dot4_i8;
    size_t j = 0;
    if (k4) {
        size_t g = na / 4;
        for (size_t gi = 0; gi < g; gi++, j += 4) {
            const size_t *x = t->idx + gi;
            const size_t r[4] = {x[0], x[g], x[2 * g], x[3 * g]};
            const int8_t *rows[4] = {m->i8 + r[0] * d, m->i8 + r[1] * d, m->i8 + r[2] * d,
                                     m->i8 + r[3] * d};
            int64_t v[4];
            k4(p->qi, rows, d, v);
            float bound = cm__vec_heap_bound(hp);
            for (int i = 0; i < 4; i++) {
                float dv = i8_dist(m, p, r[i], v[i]);
                if (!(dv > bound)) {
                    cm__vec_heap_push(hp, dv, (int64_t)r[i]);
                    bound = cm__vec_heap_bound(hp);
                }
            }
        }
    }
    for (; j < na; j++)
        cm__vec_heap_push(hp, scan_dist(m, t->ops, p, t->idx[j]), (int64_t)t->idx[j]);
}

static void scan_run(scan_task *t)
{
    const cm_vec_matrix *m = t->m;
    const int filtered = cm__vec_has_filter(t->opts);
    for (size_t b0 = t->r0; b0 < t->r1; b0 += t->block) {
        size_t b1 = b0 + t->block < t->r1 ? b0 + t->block : t->r1;
        size_t na = 0;
        for (size_t r = b0; r < b1; r++)
            if (!filtered || cm__vec_allowed(t->opts, (int64_t)r))
                t->idx[na++] = r;
        if (m->storage == CM_VEC_STORE_F32) {
            size_t q = scan_f32_tiles(t, na, t->q0, t->q1);
            scan_f32_single(t, na, q, t->q1);
        } else if (m->storage == CM_VEC_STORE_BF16) {
            for (size_t q = t->q0; q < t->q1; q++)
                scan_bf16(t, na, &t->qs[q], &t->heaps[q - t->q0]);
        } else {
            for (size_t q = t->q0; q < t->q1; q++)
                scan_i8(t, na, &t->qs[q], &t->heaps[q - t->q0]);
        }
    }
}

static void *scan_thread(void *arg)
{
    scan_run(arg);
    return NULL;
}

/* Rows per block: about 256 KiB of the scanned format, a multiple of 4. */
static size_t block_rows(const cm_vec_matrix *m)
{
    size_t elt = m->storage == CM_VEC_STORE_F32 ? 4 : m->storage == CM_VEC_STORE_BF16 ? 2 : 1;
    size_t b = ((size_t)256 << 10) / (m->dim * elt);
    b = b < 16 ? 16 : (b > 8192 ? 8192 : b);
    return b & ~(size_t)3;
}

/* Run tasks on threads (task 0 on the caller); a thread that cannot be
 * started runs its task on the caller instead. */
static void run_tasks(scan_task *tasks, size_t nt)
{
    pthread_t th[256];
    int started[256] = {0};
    for (size_t i = 1; i < nt; i++)
        started[i] = pthread_create(&th[i], NULL, scan_thread, &tasks[i]) == 0;
    scan_run(&tasks[0]);
    for (size_t i = 1; i < nt; i++) {
        if (started[i])
            (void)pthread_join(th[i], NULL);
        else
            scan_run(&tasks[i]);
    }
}

/* Re-rank compressed candidates exactly and keep k (sorted), or just sort. */
static void finish_query(const cm_vec_matrix *m, const cm__vec_ops *ops, const prepared *p,
                         cm__vec_heap *hp, size_t k, int64_t *ids, float *dists)
{
    if (m->storage != CM_VEC_STORE_F32 && m->rerank) {
        for (size_t i = 0; i < hp->size; i++)
            hp->h[i].dist = exact_dist(m, ops, p, (size_t)hp->h[i].id);
    }
    cm__vec_heap_sort(hp);
    cm__vec_hits_write(ids, dists, hp->h, hp->size < k ? hp->size : k, k);
}

static int validate(const cm_vec_matrix *m, const float *queries, size_t nq, size_t dim, size_t k,
                    int64_t *ids_out, const char *qfield)
{
    if (!m || !ids_out || !queries)
        return cm__error_set(CM_EINVAL, "cm_vec_matrix_search: NULL argument");
    if (dim != m->dim)
        return cm__error_set_field(CM_EINVAL, "dim", "query dimension %zu, matrix has %zu", dim,
                                   m->dim);
    if (nq == 0)
        return cm__error_set_field(CM_EINVAL, "nq", "no queries");
    if (k == 0)
        return cm__error_set_field(CM_EINVAL, "k", "k must be at least 1");
    if (k > m->n)
        return cm__error_set_field(CM_ERANGE, "k", "k = %zu exceeds the %zu rows", k, m->n);
    if (nq > SIZE_MAX / dim || nq > SIZE_MAX / k)
        return cm__error_set_field(CM_EINVAL, "nq", "too many queries");
    return cm__vec_check_finite(queries, nq * dim, qfield);
}

static int search(int64_t *ids_out, float *dist_out, const cm_vec_matrix *m, const float *queries,
                  size_t nq, size_t dim, size_t k, const cm_vec_search_options *in_opts,
                  const char *qfield)
{
    int rc = validate(m, queries, nq, dim, k, ids_out, qfield);
    if (rc)
        return rc;
    cm_vec_search_options opts;
    if ((rc = cm__vec_search_opts_read(&opts, in_opts)))
        return rc;
    const cm__vec_ops *ops = cm__vec_ops_get();

    size_t cap = k;
    if (m->storage != CM_VEC_STORE_F32 && m->rerank) {
        cap = k > m->n / m->rerank ? m->n : k * m->rerank;
        if (cap < k)
            cap = k;
    }
    size_t nt = opts.threads > 1 ? opts.threads : 1;
    if (nt > 256)
        nt = 256;
    /* No more threads than queries or 64-row slices: more would only idle. */
    size_t useful = nq > m->n / 64 + 1 ? nq : m->n / 64 + 1;
    if (nt > useful)
        nt = useful;
    int by_query = nq >= nt;
    size_t heap_sets = by_query ? 1 : nt;
    size_t block = block_rows(m);

    prepared *qs = cm__calloc(nq, sizeof *qs);
    cm__vec_heap *heaps = cm__calloc(nq * heap_sets, sizeof *heaps);
    cm__vec_hit *hits = NULL;
    scan_task *tasks = cm__calloc(nt, sizeof *tasks);
    size_t *idx = alloc_array(nt * block, sizeof(size_t));
    uint16_t *qb = NULL;
    int8_t *qi = NULL;
    if (nq * heap_sets <= SIZE_MAX / cap)
        hits = alloc_array(nq * heap_sets * cap, sizeof *hits);
    if (m->storage == CM_VEC_STORE_BF16)
        qb = alloc_array(nq * dim, sizeof *qb);
    if (m->storage == CM_VEC_STORE_I8)
        qi = alloc_array(nq * dim, 1);
    if (!qs || !heaps || !hits || !tasks || !idx || (m->storage == CM_VEC_STORE_BF16 && !qb) ||
        (m->storage == CM_VEC_STORE_I8 && !qi)) {
        rc = cm__error_set(CM_ENOMEM, "cm_vec_matrix_search: out of memory");
        goto out;
    }
    for (size_t q = 0; q < nq; q++) {
        prepared *p = &qs[q];
        p->q = queries + q * dim;
        if (m->metric == CM_VEC_COSINE)
            p->inv = inv_norm_f32(p->q, dim);
        if (qb) {
            p->qb = qb + q * dim;
            cm_vec_f32_to_bf16(p->qb, p->q, dim);
            p->cinv = inv_norm_bf16(p->qb, dim);
        }
        if (qi) {
            p->qi = qi + q * dim;
            (void)cm_vec_f32_to_i8(p->qi, &p->qscale, p->q, dim);
            p->qsq = sumsq_i8(p->qi, dim);
        }
    }
    for (size_t i = 0; i < nq * heap_sets; i++) {
        heaps[i].h = hits + i * cap;
        heaps[i].cap = cap;
    }
    for (size_t t = 0; t < nt; t++) {
        scan_task *tk = &tasks[t];
        tk->m = m;
        tk->ops = ops;
        tk->opts = &opts;
        tk->qs = qs;
        tk->block = block;
        tk->idx = idx + t * block;
        if (by_query) {
            tk->q0 = nq * t / nt;
            tk->q1 = nq * (t + 1) / nt;
            tk->r0 = 0;
            tk->r1 = m->n;
            tk->heaps = heaps + tk->q0;
        } else {
            tk->q0 = 0;
            tk->q1 = nq;
            tk->r0 = m->n * t / nt;
            tk->r1 = m->n * (t + 1) / nt;
            tk->heaps = heaps + t * nq;
        }
    }
    run_tasks(tasks, nt);
    for (size_t q = 0; q < nq; q++) {
        cm__vec_heap *hp = &heaps[q];
        for (size_t t = 1; t < heap_sets; t++) { /* merge per-thread heaps into set 0 */
            cm__vec_heap *o = &heaps[t * nq + q];
            for (size_t i = 0; i < o->size; i++)
                cm__vec_heap_push(hp, o->h[i].dist, o->h[i].id);
        }
        finish_query(m, ops, &qs[q], hp, k, ids_out + q * k, dist_out ? dist_out + q * k : NULL);
    }
    rc = CM_OK;
out:
    cm__free(qs);
    cm__free(heaps);
    cm__free(hits);
    cm__free(tasks);
    cm__free(idx);
    cm__free(qb);
    cm__free(qi);
    return rc;
}

int cm_vec_matrix_search(int64_t *ids_out, float *dist_out, const cm_vec_matrix *m,
                         const float *query, size_t dim, size_t k,
                         const cm_vec_search_options *opts)
{
    return search(ids_out, dist_out, m, query, 1, dim, k, opts, "query");
}

int cm_vec_matrix_search_batch(int64_t *ids_out, float *dist_out, const cm_vec_matrix *m,
                               const float *queries, size_t nq, size_t dim, size_t k,
                               const cm_vec_search_options *opts)
{
    return search(ids_out, dist_out, m, queries, nq, dim, k, opts, "queries");
}
