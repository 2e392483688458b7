/*
 * idmap.h - an open-addressing hash map from non-negative int64 ids to
 * uint32 slots, used by the HNSW index to find entries by caller id.
 */
#ifndef CM_VEC_IDMAP_H
#define CM_VEC_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct cm__idmap {
    int64_t *keys; /* -1 empty, -2 removed */
    uint32_t *vals;
    size_t cap;   /* power of two, or 0 */
    size_t count; /* live keys */
    size_t used;  /* live + removed markers */
} cm__idmap;

/* Slot of `id`, or -1. */
int64_t cm__idmap_get(const cm__idmap *m, int64_t id);
/* Insert a new id (must be >= 0 and absent). CM_OK, CM_EEXISTS or CM_ENOMEM. */
int cm__idmap_put(cm__idmap *m, int64_t id, uint32_t slot);
/* Remove `id`; 1 when it was present. */
int cm__idmap_del(cm__idmap *m, int64_t id);
void cm__idmap_free(cm__idmap *m);

#endif /* CM_VEC_IDMAP_H */
