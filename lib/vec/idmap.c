/*
 * idmap.c - int64 id -> uint32 slot hash map with linear probing and
 * removal markers; grows (and drops markers) at half load.
 */
#include "idmap.h"

#include "util/util.h"

#define EMPTY (-1)
#define REMOVED (-2)

static size_t hash(int64_t id, size_t mask)
{
    uint64_t x = (uint64_t)id;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (size_t)x & mask;
}

int64_t cm__idmap_get(const cm__idmap *m, int64_t id)
{
    if (!m->cap || id < 0)
        return -1;
    size_t mask = m->cap - 1;
    for (size_t i = hash(id, mask);; i = (i + 1) & mask) {
        if (m->keys[i] == id)
            return m->vals[i];
        if (m->keys[i] == EMPTY)
            return -1;
    }
}

static int grow(cm__idmap *m)
{
    size_t ncap = m->cap ? m->cap : 16;
    while (m->count * 2 + 2 > ncap)
        ncap *= 2;
    if (ncap > SIZE_MAX / sizeof(int64_t) / 2)
        return CM_ENOMEM;
    int64_t *keys = cm__malloc(ncap * sizeof *keys);
    uint32_t *vals = cm__malloc(ncap * sizeof *vals);
    if (!keys || !vals) {
        cm__free(keys);
        cm__free(vals);
        return CM_ENOMEM;
    }
    for (size_t i = 0; i < ncap; i++)
        keys[i] = EMPTY;
    size_t mask = ncap - 1;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] < 0)
            continue;
        size_t j = hash(m->keys[i], mask);
        while (keys[j] != EMPTY)
            j = (j + 1) & mask;
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    cm__free(m->keys);
    cm__free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = ncap;
    m->used = m->count;
    return CM_OK;
}

int cm__idmap_put(cm__idmap *m, int64_t id, uint32_t slot)
{
    if (cm__idmap_get(m, id) >= 0)
        return CM_EEXISTS;
    if ((m->used + 1) * 2 > m->cap) {
        int rc = grow(m);
        if (rc)
            return rc;
    }
    size_t mask = m->cap - 1;
    size_t i = hash(id, mask);
    while (m->keys[i] >= 0)
        i = (i + 1) & mask;
    if (m->keys[i] == EMPTY)
        m->used++;
    m->keys[i] = id;
    m->vals[i] = slot;
    m->count++;
    return CM_OK;
}

int cm__idmap_del(cm__idmap *m, int64_t id)
{
    if (!m->cap || id < 0)
        return 0;
    size_t mask = m->cap - 1;
    for (size_t i = hash(id, mask);; i = (i + 1) & mask) {
        if (m->keys[i] == id) {
            m->keys[i] = REMOVED;
            m->count--;
            return 1;
        }
        if (m->keys[i] == EMPTY)
            return 0;
    }
}

void cm__idmap_free(cm__idmap *m)
{
    cm__free(m->keys);
    cm__free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->count = m->used = 0;
}
