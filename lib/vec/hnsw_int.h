/*
 * hnsw_int.h - the in-memory layout of cm_vec_index, shared by the graph
 * code (hnsw.c) and the file format (hnsw_io.c).
 *
 * Slots are dense: vectors, ids, levels and states are arrays indexed by
 * slot, and vectors sit in one contiguous, 64-byte aligned array. Layer-0
 * links are one flat array of (1 + m0) uint32 per slot (count, then
 * neighbours); upper layers are a per-slot array of level * (1 + m)
 * uint32, allocated only for the ~1/m of slots above layer 0.
 *
 * Slot states: LIVE; DEAD (removed: hidden from results, but its vector
 * and links stay so that walks still cross it, and other lists may still
 * point at it); FREE (a repair pass has rewritten every list that pointed
 * at it; the slot is unreachable and reused by the next insert).
 */
#ifndef CM_VEC_HNSW_INT_H
#define CM_VEC_HNSW_INT_H

#include "idmap.h"
#include "search_int.h"

#include <pthread.h>
#include <stdatomic.h>

#define CM__HNSW_MAX_LEVEL 31

enum { CM__SLOT_LIVE = 0, CM__SLOT_DEAD = 1, CM__SLOT_FREE = 2 };

/* Per-search scratch, pooled per index: visited marks (epoch tagging) and
 * the heaps and buffers of one walk, so that a search does not allocate. */
typedef struct cm__visited {
    uint16_t *marks;
    size_t cap;
    uint16_t epoch;
    void *cand, *res; /* heaps of (distance, slot) */
    size_t cand_cap, res_cap;
    void *buf; /* encoded query, f32 query, result rows */
    size_t buf_cap;
    struct cm__visited *next;
} cm__visited;

struct cm_vec_index {
    size_t dim;
    int metric, storage;
    uint32_t m, m0, ef_construction;
    uint32_t threads; /* add_batch workers; 0/1 = calling thread */
    double level_mult;
    uint64_t rng;
    size_t vbytes;       /* bytes of one stored vector */
    size_t n;            /* slots in use (high-water mark) */
    size_t cap;          /* slots allocated */
    size_t live;         /* LIVE entries */
    unsigned char *vecs; /* cap * vbytes, 64-byte aligned; f32 or bf16; cosine: normalised */
    void *vecs_raw;      /* the allocation holding vecs */
    int64_t *ids;
    uint8_t *levels;
    uint8_t *state;       /* CM__SLOT_* */
    uint32_t *l0;         /* cap * (1 + m0) */
    uint32_t **up;        /* cap pointers, NULL for level 0 */
    uint32_t *free_slots; /* FREE slots, reused first */
    size_t n_free, free_cap;
    uint32_t *dead; /* DEAD slots awaiting a repair pass */
    size_t n_dead, dead_cap;
    int64_t entry; /* slot, or -1 when empty */
    int max_level;
    cm__idmap map;
    pthread_rwlock_t lock;
    pthread_mutex_t pool_lock;
    cm__visited *pool;
    /* parallel insert: striped per-node spin locks (NULL when one thread
     * writes) and the mutex guarding entry / max_level */
    _Atomic unsigned char *node_locks;
    pthread_mutex_t entry_lock;
    /* self-tuning ef (cm_vec_index_tune): the settings and the live count
     * of the last tuning under tune_lock; the tuned ef (0 = none) read by
     * searches without it */
    pthread_mutex_t tune_lock;
    float tune_target; /* 0: not tuning */
    uint32_t tune_k, tune_sample, tune_regrow, tune_max_ef;
    uint64_t tune_seed;
    size_t tune_live;
    _Atomic uint32_t tuned_ef;
};

/* Allocate an empty index (no locks taken). */
int cm__hnsw_create(cm_vec_index **out, size_t dim, int metric, int storage, uint32_t m,
                    uint32_t ef_construction, uint64_t seed);
/* Make room for exactly `want` slots (at least; no over-allocation when
 * growing to a known size). */
int cm__hnsw_reserve(cm_vec_index *ix, size_t want);
/* Give `slot` room for links up to `level` (counts zeroed). */
int cm__hnsw_set_level(cm_vec_index *ix, uint32_t slot, int level);
/* The link list (count first) of `slot` at `level`. */
uint32_t *cm__hnsw_links(const cm_vec_index *ix, uint32_t slot, int level);
/* Most links a list at `level` may hold. */
uint32_t cm__hnsw_max_links(const cm_vec_index *ix, int level);
/* Queue a DEAD slot for the next repair pass. */
int cm__hnsw_push_dead(cm_vec_index *ix, uint32_t slot);
/* Rewrite every list that points at a DEAD slot, then make those slots
 * FREE (upper-layer memory released). Write lock held. */
int cm__hnsw_repair(cm_vec_index *ix);
/* Bytes the index holds (arrays, lists, id map, pooled scratch). */
size_t cm__hnsw_bytes(const cm_vec_index *ix);

/* Times a search switched to the exact scan because of a selective
 * filter (this thread); for tests. */
uint64_t cm__hnsw_exact_fallbacks(void);

#endif /* CM_VEC_HNSW_INT_H */
