/*
 * idmap.c - int64 id -> uint32 slot hash map with linear probing and
 * removal markers; grows (and drops markers) at half load. Buckets hold
 * slots only; keys come from the caller's array (see idmap.h), so the map
 * costs 4 bytes per bucket, 8 to 16 bytes per entry.
 */
#include "idmap.h"

#include "util/util.h"

#define EMPTY CM__IDMAP_EMPTY
#define GONE CM__IDMAP_GONE

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

int64_t cm__idmap_get(const cm__idmap *m, const int64_t *keys, int64_t id)
{
    if (!m->cap || id < 0)
        return -1;
    size_t mask = m->cap - 1;
    for (size_t i = hash(id, mask);; i = (i + 1) & mask) {
        uint32_t s = m->slots[i];
        if (s == EMPTY)
            return -1;
        if (s != GONE && keys[s] == id)
            return s;
    }
}

/* Rehash into the smallest power of two holding `want` keys at half load. */
static int rehash(cm__idmap *m, const int64_t *keys, size_t want)
{
    size_t ncap = 16;
    while (want * 2 + 2 > ncap) {
        if (ncap > SIZE_MAX / sizeof(uint32_t) / 4)
            return CM_ENOMEM;
        ncap *= 2;
    }
    uint32_t *slots = cm__malloc(ncap * sizeof *slots);
    if (!slots)
        return CM_ENOMEM;
    for (size_t i = 0; i < ncap; i++)
        slots[i] = EMPTY;
    size_t mask = ncap - 1;
    for (size_t i = 0; i < m->cap; i++) {
        uint32_t s = m->slots[i];
        if (s == EMPTY || s == GONE)
            continue;
        size_t j = hash(keys[s], mask);
        while (slots[j] != EMPTY)
            j = (j + 1) & mask;
        slots[j] = s;
    }
    cm__free(m->slots);
    m->slots = slots;
    m->cap = ncap;
    m->used = m->count;
    return CM_OK;
}

int cm__idmap_reserve(cm__idmap *m, const int64_t *keys, size_t want)
{
    if (want < m->count)
        want = m->count;
    if ((want + (m->used - m->count) + 1) * 2 <= m->cap)
        return CM_OK;
    return rehash(m, keys, want);
}

int cm__idmap_put(cm__idmap *m, const int64_t *keys, uint32_t slot)
{
    int64_t id = keys[slot];
    if (cm__idmap_get(m, keys, id) >= 0)
        return CM_EEXISTS;
    if ((m->used + 1) * 2 > m->cap) {
        int rc = rehash(m, keys, m->count + 1);
        if (rc)
            return rc;
    }
    size_t mask = m->cap - 1;
    size_t i = hash(id, mask);
    while (m->slots[i] != EMPTY && m->slots[i] != GONE)
        i = (i + 1) & mask;
    if (m->slots[i] == EMPTY)
        m->used++;
    m->slots[i] = slot;
    m->count++;
    return CM_OK;
}

int cm__idmap_del(cm__idmap *m, const int64_t *keys, int64_t id)
{
    if (!m->cap || id < 0)
        return 0;
    size_t mask = m->cap - 1;
    for (size_t i = hash(id, mask);; i = (i + 1) & mask) {
        uint32_t s = m->slots[i];
        if (s == EMPTY)
            return 0;
        if (s != GONE && keys[s] == id) {
            m->slots[i] = GONE;
            m->count--;
            return 1;
        }
    }
}

size_t cm__idmap_bytes(const cm__idmap *m)
{
    return m->cap * sizeof *m->slots;
}

void cm__idmap_free(cm__idmap *m)
{
    cm__free(m->slots);
    m->slots = NULL;
    m->cap = m->count = m->used = 0;
}
