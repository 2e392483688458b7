/*
 * idem.c - the Idempotency-Key response cache (see idem.h): a chained
 * hash table plus a list in creation order, which gives both expiry (the
 * oldest entries are at the head) and eviction when full.
 */
#include "idem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *k; /* scope \n route \n key */
    uint64_t hash, fingerprint, created;
    bool done;
    cmh_stored resp;
    size_t bytes;
    struct entry *hnext, *prev, *next;
} entry;

struct cmh_idem {
    pthread_mutex_t lock;
    entry **table;
    size_t table_cap;
    entry *head, *tail;
    size_t n, bytes, max_entries, max_bytes;
    uint64_t ttl;
};

cmh_idem *cmh_idem_new(size_t max_entries, size_t max_bytes, uint64_t ttl_ns)
{
    cmh_idem *c = cmh_xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    c->table_cap = 1024;
    while (c->table_cap < max_entries)
        c->table_cap *= 2;
    c->table = cmh_xcalloc(c->table_cap, sizeof *c->table);
    c->max_entries = max_entries ? max_entries : 1;
    c->max_bytes = max_bytes;
    c->ttl = ttl_ns;
    return c;
}

void cmh_stored_clear(cmh_stored *s)
{
    free(s->headers);
    free(s->body);
    free(s->content_type);
    memset(s, 0, sizeof *s);
}

static void entry_free(entry *e)
{
    cmh_stored_clear(&e->resp);
    free(e->k);
    free(e);
}

void cmh_idem_free(cmh_idem *c)
{
    if (!c)
        return;
    for (entry *e = c->head, *n; e; e = n) {
        n = e->next;
        entry_free(e);
    }
    free(c->table);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static char *make_key(const char *scope, const char *route, const char *key, uint64_t *hash)
{
    cmh_buf b = {0};
    cmh_buf_puts(&b, scope);
    cmh_buf_putc(&b, '\n');
    cmh_buf_puts(&b, route);
    cmh_buf_putc(&b, '\n');
    cmh_buf_puts(&b, key);
    *hash = cmh_fnv1a(CMH_FNV_SEED, b.p, b.len);
    return cmh_buf_steal(&b, NULL);
}

static entry *lookup(cmh_idem *c, const char *k, uint64_t hash)
{
    for (entry *e = c->table[hash & (c->table_cap - 1)]; e; e = e->hnext)
        if (e->hash == hash && strcmp(e->k, k) == 0)
            return e;
    return NULL;
}

static void unlink_entry(cmh_idem *c, entry *e)
{
    entry **pp = &c->table[e->hash & (c->table_cap - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    c->n--;
    c->bytes -= e->bytes;
    entry_free(e);
}

static void expire(cmh_idem *c, uint64_t now)
{
    while (c->head && now - c->head->created > c->ttl)
        unlink_entry(c, c->head);
}

static void copy_stored(cmh_stored *dst, const cmh_stored *src)
{
    dst->status = src->status;
    dst->headers = cmh_xstrdup(src->headers ? src->headers : "");
    dst->content_type = cmh_xstrdup(src->content_type ? src->content_type : "");
    dst->body = cmh_xmalloc(src->body_len + 1);
    if (src->body_len)
        memcpy(dst->body, src->body, src->body_len);
    dst->body[src->body_len] = '\0';
    dst->body_len = src->body_len;
}

int cmh_idem_claim(cmh_idem *c, const char *scope, const char *route, const char *key,
                   uint64_t fingerprint, uint64_t now, cmh_stored *out)
{
    uint64_t hash;
    char *k = make_key(scope, route, key, &hash);
    int rc;
    pthread_mutex_lock(&c->lock);
    expire(c, now);
    entry *e = lookup(c, k, hash);
    if (e) {
        if (e->fingerprint != fingerprint)
            rc = CMH_IDEM_MISMATCH;
        else if (!e->done)
            rc = CMH_IDEM_BUSY;
        else {
            copy_stored(out, &e->resp);
            rc = CMH_IDEM_REPLAY;
        }
        free(k);
    } else {
        while (c->head && (c->n >= c->max_entries || c->bytes > c->max_bytes))
            unlink_entry(c, c->head);
        e = cmh_xcalloc(1, sizeof *e);
        e->k = k;
        e->hash = hash;
        e->fingerprint = fingerprint;
        e->created = now;
        e->bytes = strlen(k) + sizeof *e;
        size_t slot = hash & (c->table_cap - 1);
        e->hnext = c->table[slot];
        c->table[slot] = e;
        e->prev = c->tail;
        if (c->tail)
            c->tail->next = e;
        else
            c->head = e;
        c->tail = e;
        c->n++;
        c->bytes += e->bytes;
        rc = CMH_IDEM_NEW;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void cmh_idem_complete(cmh_idem *c, const char *scope, const char *route, const char *key,
                       const cmh_stored *resp)
{
    uint64_t hash;
    char *k = make_key(scope, route, key, &hash);
    pthread_mutex_lock(&c->lock);
    entry *e = lookup(c, k, hash);
    if (e && !e->done) {
        copy_stored(&e->resp, resp);
        e->done = true;
        size_t add = resp->body_len + strlen(e->resp.headers) + strlen(e->resp.content_type);
        e->bytes += add;
        c->bytes += add;
        /* Over budget: drop the oldest others, never the one just stored. */
        while (c->bytes > c->max_bytes && c->head && c->head != e)
            unlink_entry(c, c->head);
    }
    pthread_mutex_unlock(&c->lock);
    free(k);
}

void cmh_idem_release(cmh_idem *c, const char *scope, const char *route, const char *key)
{
    uint64_t hash;
    char *k = make_key(scope, route, key, &hash);
    pthread_mutex_lock(&c->lock);
    entry *e = lookup(c, k, hash);
    if (e && !e->done)
        unlink_entry(c, e);
    pthread_mutex_unlock(&c->lock);
    free(k);
}
