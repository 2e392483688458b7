/*
 * rcache.c - a small coherent cache of read-only operation results.
 *
 * Entries are keyed by an opaque string (the core uses op name, actor and
 * input) and tagged with the tables the computation read, the store's
 * write number before it began, the data_version epoch, the version
 * shared through Redis (shared.c) and a time of birth. An entry is served
 * only while no commit of this store since then wrote one of its tables,
 * nobody else (another process or store) committed anything (the epoch,
 * or on other hosts the shared version), and it is younger than the
 * time-to-live,
 * which bounds how stale results that depend on "now" (upcoming events)
 * can be. Direct-mapped slots keep the
 * memory bounded without an LRU list.
 */
#include "store_int.h"

#include <string.h>

#define RCACHE_SLOTS 1024
#define RCACHE_MAX_VALUE (256 * 1024)
#define RCACHE_TTL_US (1000000)

typedef struct rc_entry {
    uint64_t hash;
    uint64_t version[2];
    uint64_t tables, since;
    int64_t born;
    char *key;
    size_t key_len;
    char *value;
} rc_entry;

struct cm__rcache {
    pthread_mutex_t lock;
    rc_entry slot[RCACHE_SLOTS];
};

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

static struct cm__rcache *get_cache(cm_store *s)
{
    struct cm__rcache *c = __atomic_load_n(&s->rcache, __ATOMIC_ACQUIRE);
    if (c)
        return c;
    pthread_mutex_lock(&s->lock);
    if (!s->rcache) {
        c = cm__calloc(1, sizeof *c);
        if (c) {
            pthread_mutex_init(&c->lock, NULL);
            __atomic_store_n(&s->rcache, c, __ATOMIC_RELEASE);
        }
    }
    c = s->rcache;
    pthread_mutex_unlock(&s->lock);
    return c;
}

static void entry_clear(rc_entry *e)
{
    cm__free(e->key);
    cm__free(e->value);
    memset(e, 0, sizeof *e);
}

bool cm__rcache_get(cm_store *s, const char *key, size_t key_len, const uint64_t version[2],
                    int64_t now, char **out)
{
    if (s->no_rcache)
        return false;
    struct cm__rcache *c = get_cache(s);
    if (!c)
        return false;
    uint64_t h = fnv1a(key, key_len);
    rc_entry *e = &c->slot[h % RCACHE_SLOTS];
    bool hit = false;
    pthread_mutex_lock(&c->lock);
    if (e->value && e->hash == h && e->version[0] == version[0] && e->version[1] == version[1] &&
        now - e->born < RCACHE_TTL_US && now >= e->born && e->key_len == key_len &&
        memcmp(e->key, key, key_len) == 0 && cm__store_tables_unchanged(s, e->tables, e->since)) {
        *out = cm__strdup(e->value);
        hit = *out != NULL;
    }
    pthread_mutex_unlock(&c->lock);
    __atomic_add_fetch(hit ? &s->cache_hits : &s->cache_misses, 1, __ATOMIC_RELAXED);
    return hit;
}

void cm__rcache_put(cm_store *s, const char *key, size_t key_len, const uint64_t version[2],
                    int64_t now, const char *value, uint64_t tables, uint64_t since)
{
    size_t vlen = strlen(value);
    if (s->no_rcache || vlen > RCACHE_MAX_VALUE)
        return;
    struct cm__rcache *c = get_cache(s);
    if (!c)
        return;
    char *k = cm__strndup(key, key_len), *v = cm__strndup(value, vlen);
    if (!k || !v) {
        cm__free(k);
        cm__free(v);
        return; /* a cache is optional: out of memory just means no entry */
    }
    uint64_t h = fnv1a(key, key_len);
    pthread_mutex_lock(&c->lock);
    rc_entry *e = &c->slot[h % RCACHE_SLOTS];
    entry_clear(e);
    *e = (rc_entry){h, {version[0], version[1]}, tables, since, now, k, key_len, v};
    pthread_mutex_unlock(&c->lock);
}

void cm__rcache_free(struct cm__rcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < RCACHE_SLOTS; i++)
        entry_clear(&c->slot[i]);
    pthread_mutex_destroy(&c->lock);
    cm__free(c);
}
