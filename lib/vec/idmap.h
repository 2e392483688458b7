/*
 * idmap.h - an open-addressing hash map from non-negative int64 ids to
 * uint32 slots, used by the HNSW index to find entries by caller id.
 *
 * The map stores slots only (4 bytes per bucket): the key of a bucket is
 * read from the caller's id array, keys[slot]. The caller keeps that array
 * consistent: keys[slot] holds the id for as long as the map maps it.
 */
#ifndef CM_VEC_IDMAP_H
#define CM_VEC_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct cm__idmap {
    uint32_t *slots; /* CM__IDMAP_EMPTY, CM__IDMAP_GONE or a slot */
    size_t cap;      /* power of two, or 0 */
    size_t count;    /* live keys */
    size_t used;     /* live + removal markers */
} cm__idmap;

#define CM__IDMAP_EMPTY UINT32_MAX
#define CM__IDMAP_GONE (UINT32_MAX - 1)

/* Slot of `id`, or -1. */
int64_t cm__idmap_get(const cm__idmap *m, const int64_t *keys, int64_t id);
/* Map keys[slot] (>= 0, absent) to `slot`. CM_OK, CM_EEXISTS or CM_ENOMEM. */
int cm__idmap_put(cm__idmap *m, const int64_t *keys, uint32_t slot);
/* Make room for `want` live keys without rehashing later. CM_OK or CM_ENOMEM. */
int cm__idmap_reserve(cm__idmap *m, const int64_t *keys, size_t want);
/* Remove `id`; 1 when it was present. */
int cm__idmap_del(cm__idmap *m, const int64_t *keys, int64_t id);
/* Bytes held by the map. */
size_t cm__idmap_bytes(const cm__idmap *m);
void cm__idmap_free(cm__idmap *m);

#endif /* CM_VEC_IDMAP_H */
