/*
 * hnsw_int.h - the in-memory layout of cm_vec_index, shared by the graph
 * code (hnsw.c) and the file format (hnsw_io.c).
 *
 * Slots are dense: vectors, ids, levels and flags are arrays indexed by
 * slot. Layer-0 links are one flat array of (1 + m0) uint32 per slot
 * (count, then neighbours); upper layers are a per-slot array of
 * level * (1 + m) uint32. A removed slot keeps its vector and links (the
 * graph may still walk through it) until an insert reuses it.
 */
#ifndef CM_VEC_HNSW_INT_H
#define CM_VEC_HNSW_INT_H

#include "idmap.h"
#include "search_int.h"

#include <pthread.h>

#define CM__HNSW_MAX_LEVEL 31

/* A reusable visited-marks array (epoch tagging). */
typedef struct cm__visited {
    uint32_t *marks;
    size_t cap;
    uint32_t epoch;
    struct cm__visited *next;
} cm__visited;

struct cm_vec_index {
    size_t dim;
    int metric, storage;
    uint32_t m, m0, ef_construction;
    double level_mult;
    uint64_t rng;
    size_t vbytes;       /* bytes of one stored vector */
    size_t n;            /* slots in use (high-water mark) */
    size_t cap;          /* slots allocated */
    size_t live;         /* entries not removed */
    unsigned char *vecs; /* cap * vbytes; f32 or bf16; cosine: normalised */
    int64_t *ids;
    uint8_t *levels;
    uint8_t *removed;
    uint32_t *l0;  /* cap * (1 + m0) */
    uint32_t **up; /* cap pointers, NULL for level 0 */
    uint32_t *free_slots;
    size_t n_free, free_cap;
    int64_t entry; /* slot, or -1 when empty */
    int max_level;
    cm__idmap map;
    pthread_rwlock_t lock;
    pthread_mutex_t pool_lock;
    cm__visited *pool;
};

/* Allocate an empty index (no locks taken). */
int cm__hnsw_create(cm_vec_index **out, size_t dim, int metric, int storage, uint32_t m,
                    uint32_t ef_construction, uint64_t seed);
/* Make room for `want` slots. */
int cm__hnsw_reserve(cm_vec_index *ix, size_t want);
/* Give `slot` room for links up to `level` (counts zeroed). */
int cm__hnsw_set_level(cm_vec_index *ix, uint32_t slot, int level);
/* The link list (count first) of `slot` at `level`. */
uint32_t *cm__hnsw_links(const cm_vec_index *ix, uint32_t slot, int level);
/* Most links a list at `level` may hold. */
uint32_t cm__hnsw_max_links(const cm_vec_index *ix, int level);
/* Queue a removed slot for reuse. */
int cm__hnsw_push_free(cm_vec_index *ix, uint32_t slot);

/* Times a search switched to the exact scan because of a selective
 * filter (this thread); for tests. */
uint64_t cm__hnsw_exact_fallbacks(void);

#endif /* CM_VEC_HNSW_INT_H */
