/*
 * vec.h - vector similarity: distance kernels (f32, bf16, f16, int8),
 * format conversions, exact top-k search over a matrix (cm_vec_matrix) and
 * an approximate HNSW index (cm_vec_index).
 *
 * Kernels are chosen once per process for the running CPU (AVX-512, AVX2,
 * NEON or portable C); cm_vec_impl_name() reports the choice and the
 * environment variable CM_VEC_IMPL=scalar|avx2|avx512|neon forces one.
 * Every implementation agrees with the portable one within the tolerance
 * documented per kernel.
 */
#ifndef COMMUNITY_VEC_H
#define COMMUNITY_VEC_H

#include <community/common.h>
#include <community/error.h>

CM_BEGIN_DECLS

/* ------------------------------------------------------------------------ */
/* Kernels                                                                  */
/* ------------------------------------------------------------------------ */

/**
 * Dot product of two f32 vectors of `d` elements.
 *
 * Pure function; thread-safe. Pointers need no alignment; `d` may be 0
 * (result 0). NaN in either input gives NaN; Inf follows IEEE arithmetic.
 * The portable implementation accumulates in double; SIMD ones accumulate
 * in f32 and stay within 1e-5 * sum(|a[i]*b[i]|) of it.
 * @since 0.1
 */
CM_API float cm_vec_dot_f32(const float *a, const float *b, size_t d);

/**
 * Squared Euclidean distance sum((a[i]-b[i])^2) of two f32 vectors.
 * Same rules as cm_vec_dot_f32(); tolerance 1e-5 relative. @since 0.1
 */
CM_API float cm_vec_l2sq_f32(const float *a, const float *b, size_t d);

/**
 * Cosine similarity of two f32 vectors, in [-1, 1] (1 = same direction).
 *
 * When either vector is all zeros the result is 0 (never NaN), whatever the
 * other holds. Otherwise a NaN or Inf element gives NaN. The result is
 * computed accurately for every finite input, including very small and very
 * large magnitudes; SIMD implementations stay within 1e-5 of the portable
 * one. Pure function; thread-safe. @since 0.1
 */
CM_API float cm_vec_cosine_f32(const float *a, const float *b, size_t d);

/**
 * Dot product of two bfloat16 vectors (`uint16_t` storage: the upper half of
 * an IEEE f32). Accumulates in at least f32; products are exact. Subnormal
 * bf16 inputs may be treated as zero by hardware implementations.
 * @since 0.1
 */
CM_API float cm_vec_dot_bf16(const uint16_t *a, const uint16_t *b, size_t d);

/** Squared Euclidean distance of two bf16 vectors. @since 0.1 */
CM_API float cm_vec_l2sq_bf16(const uint16_t *a, const uint16_t *b, size_t d);

/** Cosine similarity of two bf16 vectors; rules of cm_vec_cosine_f32(). @since 0.1 */
CM_API float cm_vec_cosine_bf16(const uint16_t *a, const uint16_t *b, size_t d);

/**
 * Dot product of two IEEE binary16 vectors (`uint16_t` storage).
 * Products are exact in f32. @since 0.1
 */
CM_API float cm_vec_dot_f16(const uint16_t *a, const uint16_t *b, size_t d);

/** Squared Euclidean distance of two f16 vectors. @since 0.1 */
CM_API float cm_vec_l2sq_f16(const uint16_t *a, const uint16_t *b, size_t d);

/** Cosine similarity of two f16 vectors; rules of cm_vec_cosine_f32(). @since 0.1 */
CM_API float cm_vec_cosine_f16(const uint16_t *a, const uint16_t *b, size_t d);

/**
 * Dot product of two int8 vectors that stand for a[i]*a_scale and
 * b[i]*b_scale (see cm_vec_f32_to_i8()).
 *
 * Integer sums are exact (any `d` below 2^31), so every implementation
 * returns the same value: (float)(a_scale * b_scale * sum(a[i]*b[i])),
 * computed in double. @since 0.1
 */
CM_API float cm_vec_dot_i8(const int8_t *a, float a_scale, const int8_t *b, float b_scale,
                           size_t d);

/** Squared Euclidean distance of two scaled int8 vectors (exact integer sums). @since 0.1 */
CM_API float cm_vec_l2sq_i8(const int8_t *a, float a_scale, const int8_t *b, float b_scale,
                            size_t d);

/**
 * Cosine similarity of two scaled int8 vectors. Scales of the same sign
 * cancel; a zero scale or an all-zero vector gives 0. @since 0.1
 */
CM_API float cm_vec_cosine_i8(const int8_t *a, float a_scale, const int8_t *b, float b_scale,
                              size_t d);

/**
 * The name of the kernel implementation in use: "avx512", "avx2", "neon" or
 * "scalar". Chosen once, on first use of any vec function, from the CPU and
 * the CM_VEC_IMPL environment variable (ignored in set-uid programs). An
 * unknown or unsupported CM_VEC_IMPL value falls back to the best supported
 * implementation; cm_vec_impl_requested() then tells what was asked.
 * Static string; thread-safe. @since 0.1
 */
CM_API const char *cm_vec_impl_name(void);

/**
 * The CM_VEC_IMPL value that was read, or "" when none was set. Differs from
 * cm_vec_impl_name() when the request was unknown or unsupported on this
 * CPU. Static string; thread-safe. @since 0.1
 */
CM_API const char *cm_vec_impl_requested(void);

/* ------------------------------------------------------------------------ */
/* Conversions                                                              */
/* ------------------------------------------------------------------------ */

/**
 * Convert `n` f32 values to bfloat16, rounding to nearest even. NaN stays
 * NaN (quiet), Inf stays Inf, values above the bf16 range round to Inf.
 * `out` and `in` must not overlap. Thread-safe. @since 0.1
 */
CM_API void cm_vec_f32_to_bf16(uint16_t *out, const float *in, size_t n);

/** Convert `n` bfloat16 values to f32 (exact). @since 0.1 */
CM_API void cm_vec_bf16_to_f32(float *out, const uint16_t *in, size_t n);

/**
 * Convert `n` f32 values to IEEE binary16, rounding to nearest even,
 * with subnormals; magnitudes above 65504 round to Inf; NaN stays NaN.
 * @since 0.1
 */
CM_API void cm_vec_f32_to_f16(uint16_t *out, const float *in, size_t n);

/** Convert `n` binary16 values to f32 (exact). @since 0.1 */
CM_API void cm_vec_f16_to_f32(float *out, const uint16_t *in, size_t n);

/**
 * Quantize `n` f32 values to int8 with one symmetric scale:
 * scale = max|in[i]| / 127, out[i] = round(in[i] / scale) in [-127, 127].
 * An all-zero input gives scale 0 and zeros.
 *
 * @param out        [out] n int8 values (caller's buffer).
 * @param scale_out  [out] the scale; in[i] ~= out[i] * *scale_out.
 * @return CM_OK, or CM_EINVAL (field "vector") when an input is NaN or Inf;
 *         `out` is then unspecified.
 * @since 0.1
 */
CM_API int cm_vec_f32_to_i8(int8_t *out, float *scale_out, const float *in, size_t n);

/** Dequantize: out[i] = in[i] * scale. @since 0.1 */
CM_API void cm_vec_i8_to_f32(float *out, const int8_t *in, float scale, size_t n);

/* ------------------------------------------------------------------------ */
/* Search: shared definitions                                               */
/* ------------------------------------------------------------------------ */

/**
 * Distance metric of a matrix or index. Search results report a distance,
 * smaller = closer:
 * - CM_VEC_L2: squared Euclidean distance;
 * - CM_VEC_IP: the negated dot product;
 * - CM_VEC_COSINE: 1 - cosine similarity, in [0, 2] (a zero vector is at
 *   distance 1 from everything).
 * @since 0.1
 */
typedef enum cm_vec_metric { CM_VEC_L2 = 0, CM_VEC_IP = 1, CM_VEC_COSINE = 2 } cm_vec_metric;

/**
 * How vectors are stored. Compressed formats halve or quarter the memory and
 * bandwidth of a scan at some cost in precision. @since 0.1
 */
typedef enum cm_vec_storage {
    CM_VEC_STORE_F32 = 0,
    CM_VEC_STORE_BF16 = 1,
    CM_VEC_STORE_I8 = 2 /**< int8 with one scale per vector (cm_vec_matrix only). */
} cm_vec_storage;

/**
 * A row filter: return nonzero to keep `id`. May be called from several
 * threads at once (the search's workers); must not call back into the
 * object being searched. @since 0.1
 */
typedef int (*cm_vec_filter_fn)(int64_t id, void *payload);

/**
 * Options of one search call. Fill with CM_VEC_SEARCH_OPTIONS_INIT or
 * cm_vec_search_options_init(). Borrowed for the duration of the call.
 * @since 0.1
 */
typedef struct cm_vec_search_options {
    uint32_t size;           /**< sizeof(cm_vec_search_options). */
    uint32_t threads;        /**< worker threads, 0 or 1 = the calling thread only. */
    uint32_t ef;             /**< HNSW search breadth (>= k used); 0 = the index's own:
                                  the ef picked by cm_vec_index_tune() for its target
                                  recall, else 64. The ef a recall needs depends on the
                                  data (for recall@10 0.95 at M 16: 24 on well-clustered
                                  data, 80 on data with little cluster structure;
                                  docs/benchmarks.md): prefer cm_vec_index_tune(). */
    uint32_t reserved;       /**< must be 0. */
    const uint8_t *allow;    /**< optional bitmap: bit (id % 8) of byte id / 8 set = allowed. */
    uint64_t allow_bits;     /**< number of valid bits in `allow`; ids beyond are excluded. */
    cm_vec_filter_fn filter; /**< optional predicate, applied after `allow`. */
    void *filter_payload;    /**< passed to `filter`. */
} cm_vec_search_options;

#define CM_VEC_SEARCH_OPTIONS_INIT                                                                 \
    {                                                                                              \
        (uint32_t)sizeof(cm_vec_search_options), 0, 0, 0, NULL, 0, NULL, NULL                      \
    }

/** Initialise search options to defaults (`size` = sizeof). @since 0.1 */
CM_API void cm_vec_search_options_init(cm_vec_search_options *opts, size_t size);

/* ------------------------------------------------------------------------ */
/* Exact search: cm_vec_matrix                                              */
/* ------------------------------------------------------------------------ */

/**
 * An immutable row-major matrix of vectors searched exactly (brute force).
 * Row i has id i. Concurrent searches of one matrix are safe. @since 0.1
 */
typedef struct cm_vec_matrix cm_vec_matrix;

/**
 * Options of cm_vec_matrix_new(). Fill with CM_VEC_MATRIX_OPTIONS_INIT.
 * @since 0.1
 */
typedef struct cm_vec_matrix_options {
    uint32_t size;   /**< sizeof(cm_vec_matrix_options). */
    int32_t metric;  /**< a cm_vec_metric; default CM_VEC_L2. */
    int32_t storage; /**< a cm_vec_storage used by the scan; default f32. */
    uint32_t rerank; /**< compressed storage only: keep the f32 rows too and
                          re-rank the best k * rerank scan candidates exactly;
                          0 = no f32 copy, distances come from the compressed rows.
                          Default 4. */
} cm_vec_matrix_options;

#define CM_VEC_MATRIX_OPTIONS_INIT                                                                 \
    {                                                                                              \
        (uint32_t)sizeof(cm_vec_matrix_options), CM_VEC_L2, CM_VEC_STORE_F32, 4                    \
    }

/**
 * Constructor of cm_vec_matrix: copy `n` rows of `dim` floats from `rows`
 * (row-major, contiguous).
 *
 * @param out   [out] the new matrix, owned by the caller (cm_vec_matrix_free());
 *              NULL on failure.
 * @param rows  [in] n * dim finite floats; copied.
 * @param opts  NULL for defaults.
 * @return CM_OK; CM_EINVAL (field "dim", "n", "rows" for a NaN/Inf value,
 *         "metric", "storage"); CM_ENOMEM.
 * @since 0.1
 */
CM_API int cm_vec_matrix_new(cm_vec_matrix **out, const float *rows, size_t n, size_t dim,
                             const cm_vec_matrix_options *opts);

/** Destructor of cm_vec_matrix; accepts NULL. @since 0.1 */
CM_API void cm_vec_matrix_free(cm_vec_matrix *m);

/** Number of rows of a matrix. @since 0.1 */
CM_API size_t cm_vec_matrix_count(const cm_vec_matrix *m);

/** Dimension of a matrix. @since 0.1 */
CM_API size_t cm_vec_matrix_dim(const cm_vec_matrix *m);

/**
 * Method of cm_vec_matrix: the exact k nearest rows of one query.
 *
 * Results are sorted by distance, ties by smaller id. When a filter leaves
 * fewer than k rows, the remaining slots hold id -1 and distance +Inf.
 *
 * @param ids_out   [out] k ids (caller's buffer).
 * @param dist_out  [out] k distances (caller's buffer), or NULL.
 * @param m         the matrix; only read.
 * @param query     [in] `dim` finite floats.
 * @param dim       must equal the matrix dimension.
 * @param k         1 <= k <= number of rows.
 * @param opts      NULL for defaults; `threads` splits the scan.
 * @return CM_OK; CM_EINVAL (field "dim" mismatch, "query" NaN/Inf, "k" = 0,
 *         "opts"); CM_ERANGE (field "k": k above the row count); CM_ENOMEM;
 *         CM_ERROR when a thread cannot be started.
 * Thread-safe for concurrent searches. @since 0.1
 */
CM_API int cm_vec_matrix_search(int64_t *ids_out, float *dist_out, const cm_vec_matrix *m,
                                const float *query, size_t dim, size_t k,
                                const cm_vec_search_options *opts);

/**
 * Method of cm_vec_matrix: exact k nearest rows for each of `nq` queries in
 * one pass over the matrix. The scan is blocked so that each block of rows
 * is reused from cache by every query; extra memory is O(nq * k) per thread.
 *
 * @param ids_out   [out] nq * k ids, query-major.
 * @param dist_out  [out] nq * k distances, or NULL.
 * @param queries   [in] nq * dim finite floats, row-major.
 * Other parameters, results and errors as cm_vec_matrix_search() (field
 * "queries" for a NaN/Inf value, "nq" when 0).
 * @since 0.1
 */
CM_API int cm_vec_matrix_search_batch(int64_t *ids_out, float *dist_out, const cm_vec_matrix *m,
                                      const float *queries, size_t nq, size_t dim, size_t k,
                                      const cm_vec_search_options *opts);

/* ------------------------------------------------------------------------ */
/* Approximate search: cm_vec_index (HNSW)                                  */
/* ------------------------------------------------------------------------ */

/**
 * A mutable HNSW graph index of (int64 id, vector) pairs.
 *
 * Searches may run concurrently with each other; cm_vec_index_add() and
 * cm_vec_index_remove() take an internal write lock, so they may be called
 * from any thread but wait for running searches. @since 0.1
 */
typedef struct cm_vec_index cm_vec_index;

/** Options of cm_vec_index_new(). Fill with CM_VEC_INDEX_OPTIONS_INIT. @since 0.1 */
typedef struct cm_vec_index_options {
    uint32_t size;            /**< sizeof(cm_vec_index_options). */
    int32_t metric;           /**< a cm_vec_metric; default CM_VEC_L2. */
    int32_t storage;          /**< CM_VEC_STORE_F32 (default) or CM_VEC_STORE_BF16. */
    uint32_t m;               /**< links per node per layer (layer 0: 2m); default 16, 2..128. */
    uint32_t ef_construction; /**< build breadth; default 128. */
    uint32_t reserved;        /**< must be 0. */
    uint64_t seed;            /**< level generator seed; same seed + inserts = same graph
                                   (with threads <= 1). */
    uint32_t threads;         /**< threads that link the rows of cm_vec_index_add_batch();
                                   0 or 1 = the calling thread only. With more, the graph
                                   depends on scheduling. @since 0.1 */
} cm_vec_index_options;

#define CM_VEC_INDEX_OPTIONS_INIT                                                                  \
    {                                                                                              \
        (uint32_t)sizeof(cm_vec_index_options), CM_VEC_L2, CM_VEC_STORE_F32, 16, 128, 0, 0x5eed, 0 \
    }

/**
 * Constructor of cm_vec_index: an empty index of `dim`-dimensional vectors.
 * @param out  [out] owned by the caller (cm_vec_index_free()); NULL on failure.
 * @return CM_OK; CM_EINVAL (field "dim", "metric", "storage", "m"); CM_ENOMEM.
 * @since 0.1
 */
CM_API int cm_vec_index_new(cm_vec_index **out, size_t dim, const cm_vec_index_options *opts);

/** Destructor of cm_vec_index; accepts NULL. Not concurrent with other calls. @since 0.1 */
CM_API void cm_vec_index_free(cm_vec_index *ix);

/**
 * Method of cm_vec_index: insert one vector under `id` (copied). Reuses the
 * memory of removed entries.
 * @return CM_OK; CM_EINVAL (field "dim", "vector" NaN/Inf, "id" negative);
 *         CM_EEXISTS (id present); CM_ENOMEM.
 * @since 0.1
 */
CM_API int cm_vec_index_add(cm_vec_index *ix, int64_t id, const float *vec, size_t dim);

/**
 * Method of cm_vec_index: insert `n` vectors (row-major, `dim` floats each)
 * under ids[0..n). Stops at the first failure; earlier rows stay inserted.
 * The rows are linked on the index's `threads` (cm_vec_index_options) when
 * the batch is large enough; searches wait for the whole batch.
 * @return as cm_vec_index_add().
 * @since 0.1
 */
CM_API int cm_vec_index_add_batch(cm_vec_index *ix, const int64_t *ids, const float *vecs, size_t n,
                                  size_t dim);

/**
 * Method of cm_vec_index: remove `id`. It leaves the results at once; the
 * graph keeps walking through it until a repair pass (run by a later
 * insert once about 1% of the entries are removed, or before the index
 * would grow) relinks every neighbour around it; its slot and memory are
 * then reused by inserts.
 * @return CM_OK; CM_ENOTFOUND; CM_ENOMEM.
 * @since 0.1
 */
CM_API int cm_vec_index_remove(cm_vec_index *ix, int64_t id);

/** Method of cm_vec_index: 1 when `id` is present, 0 otherwise. @since 0.1 */
CM_API int cm_vec_index_contains(const cm_vec_index *ix, int64_t id);

/** Number of live entries of an index. @since 0.1 */
CM_API size_t cm_vec_index_count(const cm_vec_index *ix);

/** Dimension of an index. @since 0.1 */
CM_API size_t cm_vec_index_dim(const cm_vec_index *ix);

/**
 * Method of cm_vec_index: approximate k nearest entries of `query`.
 *
 * `opts->ef` trades speed for recall (default 64, at least k). With a
 * filter (`allow` bitmap and/or `filter`) the walk computes distances to
 * passing entries only and crosses failing ones through their neighbours,
 * so cost and recall stay close to an unfiltered search; when few entries
 * pass (counted in the bitmap, or estimated by sampling the predicate) the
 * search is an exact scan of the passing entries, and when the walk finds
 * fewer than k passing entries the exact scan completes it: whenever k
 * entries pass, k are returned. Results are sorted by distance; missing
 * ones are id -1, distance +Inf. `opts->threads` is ignored (see
 * cm_vec_index_search_batch()).
 *
 * @param found_out [out] number of results written (<= k), or NULL.
 * @return CM_OK (also for an empty index: found 0); CM_EINVAL (field
 *         "dim", "query", "k" = 0, "opts"); CM_ENOMEM.
 * Thread-safe. @since 0.1
 */
CM_API int cm_vec_index_search(int64_t *ids_out, float *dist_out, size_t *found_out,
                               const cm_vec_index *ix, const float *query, size_t dim, size_t k,
                               const cm_vec_search_options *opts);

/**
 * Method of cm_vec_index: cm_vec_index_search() for each of `nq` queries,
 * spread over `opts->threads` threads (0 or 1 = the calling thread).
 *
 * @param ids_out   [out] nq * k ids, query-major.
 * @param dist_out  [out] nq * k distances, or NULL.
 * @param found_out [out] nq counts of results written, or NULL.
 * @param queries   [in] nq * dim finite floats, row-major.
 * @return as cm_vec_index_search() (field "queries" for a NaN/Inf value,
 *         "nq" when 0). Thread-safe. @since 0.1
 */
CM_API int cm_vec_index_search_batch(int64_t *ids_out, float *dist_out, size_t *found_out,
                                     const cm_vec_index *ix, const float *queries, size_t nq,
                                     size_t dim, size_t k, const cm_vec_search_options *opts);

/**
 * Options of cm_vec_index_tune(). Fill with CM_VEC_TUNE_OPTIONS_INIT.
 * @since 0.1
 */
typedef struct cm_vec_tune_options {
    uint32_t size;       /**< sizeof(cm_vec_tune_options). */
    float target_recall; /**< recall@k wanted from searches with ef 0, in (0, 1]; default
                              0.95. 0 = stop tuning: ef 0 means 64 again. */
    uint32_t k;          /**< the k of that recall; default 10. */
    uint32_t sample;     /**< held-out queries per tuning; default 256, at most 65536. */
    uint32_t regrow;     /**< re-tune after an add once the live count reaches `regrow`
                              times the count of the last tuning; 0 = default 2; 1 = never
                              re-tune automatically. */
    uint32_t max_ef;     /**< the largest ef tried (taken when nothing smaller reaches the
                              target); 0 = default 1024. */
    uint64_t seed;       /**< picks the held-out sample. */
} cm_vec_tune_options;

#define CM_VEC_TUNE_OPTIONS_INIT                                                                   \
    {                                                                                              \
        (uint32_t)sizeof(cm_vec_tune_options), 0.95f, 10, 256, 2, 1024, 0x7e57                     \
    }

/**
 * Method of cm_vec_index: give the index a target recall and let it pick the
 * ef of searches whose `opts->ef` is 0 (self-tuning ef).
 *
 * Tuning holds out `sample` live entries (at random; never the entry point)
 * as queries, finds each one's exact k nearest other entries with a scan of
 * the whole index, then searches for each at growing ef, with the held-out
 * entry neither returned nor walked through, so that it acts as a query
 * the graph has never seen. The chosen ef is the smallest of
 * k, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, ... `max_ef` (searched by
 * bisection) whose mean recall over the sample, less 1.645 standard errors,
 * reaches the target, so that a sample that happened to be easy does not
 * pick too small an ef. Recall is measured against the exact scan of the
 * stored vectors (bf16 storage: of the bf16 rows).
 *
 * The index tunes at once when it holds at least k + 2 entries, and again
 * after a cm_vec_index_add() or cm_vec_index_add_batch() that brings the
 * live count to `regrow` times the count of the last tuning (the first
 * automatic tuning comes at 1,000 entries when the index was smaller when
 * this was called). That add returns after the tuning: it pays the cost.
 * Cost: `sample` exact scans of the index (sample * n distances, blocked
 * so that rows are read from memory once per 64 queries) plus about
 * log2(number of ef steps) * sample searches; with regrow 2 every tuning
 * together cost at most twice the last one. Measured in docs/benchmarks.md
 * (100,000 x 384 f32: 0.55-0.76 CPU seconds). Searches run during tuning;
 * adds and removes wait for it.
 *
 * The target and the tuned ef are not saved by cm_vec_index_save(): call
 * this again after cm_vec_index_load(). A search with a larger k than the
 * tuned one uses ef = max(tuned ef, k); one with a filter uses the same ef.
 *
 * @param ef_out [out] the ef now used by searches with ef 0, or NULL.
 * @param opts   NULL for the defaults (target 0.95 at k 10).
 * @return CM_OK; CM_EINVAL (field "target_recall" outside [0, 1], "k" 0 or
 *         above 4096, "sample", "opts"); CM_ENOMEM.
 * Thread-safe; one tuning runs at a time. @since 0.1
 */
CM_API int cm_vec_index_tune(uint32_t *ef_out, cm_vec_index *ix, const cm_vec_tune_options *opts);

/**
 * Method of cm_vec_index: the ef a search with `opts->ef` 0 uses now: the
 * tuned one (cm_vec_index_tune()) or 64. Thread-safe. @since 0.1
 */
CM_API uint32_t cm_vec_index_ef(const cm_vec_index *ix);

/**
 * Method of cm_vec_index: write the index to `path` (replaced atomically
 * through a temporary file and rename). The file has a magic, a format
 * version and a CRC-32 of its contents.
 * @return CM_OK; CM_EIO (message has the errno text); CM_ENOMEM.
 * @since 0.1
 */
CM_API int cm_vec_index_save(const cm_vec_index *ix, const char *path);

/**
 * Constructor of cm_vec_index: read an index written by cm_vec_index_save().
 * @return CM_OK; CM_EIO; CM_ECORRUPT (bad magic, checksum or structure);
 *         CM_ENOTSUP (newer format version); CM_ENOMEM.
 * @since 0.1
 */
CM_API int cm_vec_index_load(cm_vec_index **out, const char *path);

/**
 * Constructor of cm_vec_index: like cm_vec_index_load() from `len` bytes in
 * memory (copied; never trusted). @since 0.1
 */
CM_API int cm_vec_index_load_buffer(cm_vec_index **out, const void *buf, size_t len);

CM_END_DECLS

#endif /* COMMUNITY_VEC_H */
