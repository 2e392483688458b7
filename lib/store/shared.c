/*
 * shared.c - the result cache's coherence across processes and hosts,
 * through one version number in Redis (cm_store_share_cache).
 *
 * Every commit that wrote increments the number (after the commit, before
 * the write returns to its caller); a cacheable read fetches it before its
 * transaction and its entry is served only while the number is unchanged.
 * A read that overlaps a commit is tagged with the number from before that
 * commit's increment, so it can never outlive it. Redis is only ever a
 * reason to skip the cache: when it cannot answer within the timeout the
 * read runs against the database, and for a second this process asks it
 * nothing and caches nothing. The number starts at a random value whenever
 * the key is missing (first use, FLUSHALL, restart, eviction), so numbers
 * from before are never seen again.
 *
 * The number is one per database: the PostgreSQL backend does not know the
 * tables its statements touch, so any write invalidates every cached read.
 * Built without hiredis, cm_store_share_cache() answers CM_ENOTSUP.
 */
#include "store_int.h"

#include <string.h>

#ifdef CM_HAVE_HIREDIS
#include <hiredis/hiredis.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#define SHARED_KEY "cm:rcache:version"
#define SHARED_DOWN_NS 1000000000ull
#define SHARED_IDLE_MAX 16

/* KEYS[1] the version; ARGV[1] a random start for a missing key, ARGV[2]
 * "1" to increment. Numbers stay below 2^53 (exact in Lua). */
static const char version_lua[] = "local v = redis.call('GET', KEYS[1]) "
                                  "if not v then redis.call('SET', KEYS[1], ARGV[1]) end "
                                  "if ARGV[2] == '1' then return redis.call('INCR', KEYS[1]) end "
                                  "return tonumber(v or ARGV[1])";

typedef struct idle_conn {
    redisContext *c;
    struct idle_conn *next;
} idle_conn;

struct cm__shared {
    char host[256];
    int port;
    char user[128], password[256];
    int db;
    struct timeval timeout;
    pthread_mutex_t lock;
    idle_conn *idle; /* connections not in use */
    int n_idle;
    uint64_t down_until_ns; /* atomics */
    uint64_t errors;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) into dst (cap bytes with the NUL): 0 or -1. */
static int pct_decode(char *dst, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = h * 16 + l;
            i += 2;
        }
        if (c == 0 || o + 1 >= cap)
            return -1;
        dst[o++] = (char)c;
    }
    dst[o] = 0;
    return 0;
}

static int parse_uri(struct cm__shared *r, const char *uri)
{
    r->port = 6379;
    const char *p = uri;
    if (strncmp(p, "redis://", 8) != 0)
        return -1;
    p += 8;
    const char *end = p + strcspn(p, "/?#");
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            return -1;
        if (pct_decode(r->user, sizeof r->user, p, (size_t)(colon - p)) ||
            pct_decode(r->password, sizeof r->password, colon + 1, (size_t)(at - colon - 1)))
            return -1;
        p = at + 1;
    }
    const char *colon = memchr(p, ':', (size_t)(end - p));
    size_t hl = (size_t)((colon ? colon : end) - p);
    if (hl == 0 || hl >= sizeof r->host)
        return -1;
    memcpy(r->host, p, hl);
    if (colon) {
        char *e;
        long port = strtol(colon + 1, &e, 10);
        if (e != end || port < 1 || port > 65535)
            return -1;
        r->port = (int)port;
    }
    if (*end == '/' && end[1]) {
        char *e;
        long db = strtol(end + 1, &e, 10);
        if (*e || db < 0 || db > 1000000)
            return -1;
        r->db = (int)db;
    } else if (*end && *end != '/') {
        return -1;
    }
    return 0;
}

static void shared_free(struct cm__shared *r)
{
    if (!r)
        return;
    while (r->idle) {
        idle_conn *i = r->idle;
        r->idle = i->next;
        redisFree(i->c);
        cm__free(i);
    }
    pthread_mutex_destroy(&r->lock);
    sodium_memzero(r->password, sizeof r->password);
    cm__free(r);
}

/* A reply that is not an error, or NULL (freed). */
static redisReply *ok_reply(void *rep)
{
    redisReply *r = rep;
    if (r && r->type != REDIS_REPLY_ERROR)
        return r;
    if (r)
        freeReplyObject(r);
    return NULL;
}

static redisContext *connect_one(struct cm__shared *r)
{
    redisContext *c = redisConnectWithTimeout(r->host, r->port, r->timeout);
    if (!c || c->err || redisSetTimeout(c, r->timeout) != REDIS_OK)
        goto fail;
    redisReply *rep;
    if (r->password[0]) {
        rep = ok_reply(r->user[0] ? redisCommand(c, "AUTH %s %s", r->user, r->password)
                                  : redisCommand(c, "AUTH %s", r->password));
        if (!rep)
            goto fail;
        freeReplyObject(rep);
    }
    if (r->db) {
        if (!(rep = ok_reply(redisCommand(c, "SELECT %d", r->db))))
            goto fail;
        freeReplyObject(rep);
    }
    return c;
fail:
    if (c)
        redisFree(c);
    return NULL;
}

/* Close every idle connection (after one failed: the others are as
 * likely to be stale, e.g. after a Redis restart). */
static void drop_idle(struct cm__shared *r)
{
    pthread_mutex_lock(&r->lock);
    idle_conn *i = r->idle;
    r->idle = NULL;
    r->n_idle = 0;
    pthread_mutex_unlock(&r->lock);
    while (i) {
        idle_conn *next = i->next;
        redisFree(i->c);
        cm__free(i);
        i = next;
    }
}

/* Run the version script (increment or not) on a pooled connection, or on
 * a new one when the pooled one fails: CM_OK with *out, or CM_EBACKEND
 * (Redis down, slow or refusing). After a failure the process reads no
 * version for a second (no cached reads), but a write's increment is
 * always attempted: skipping it would let other hosts serve results from
 * before the write once Redis answers them again. */
static int shared_call(struct cm__shared *r, bool incr, uint64_t *out)
{
    uint64_t now = mono_ns();
    if (!incr && now < __atomic_load_n(&r->down_until_ns, __ATOMIC_RELAXED))
        return CM_EBACKEND;
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(&r->lock);
        idle_conn *i = r->idle;
        if (i) {
            r->idle = i->next;
            r->n_idle--;
        }
        pthread_mutex_unlock(&r->lock);
        redisContext *c = NULL;
        if (i) {
            c = i->c;
            cm__free(i);
        } else {
            c = connect_one(r);
        }
        redisReply *rep = NULL;
        if (c) {
            /* a random start in [2^50, 2^51): far from any earlier number */
            unsigned long long start = (1ull << 50) |
                                       ((unsigned long long)randombytes_random() << 18) |
                                       (randombytes_random() & 0x3ffffu);
            rep = ok_reply(redisCommand(c, "EVAL %s 1 %s %llu %s", version_lua, SHARED_KEY, start,
                                        incr ? "1" : "0"));
        }
        if (rep && rep->type == REDIS_REPLY_INTEGER) {
            *out = (uint64_t)rep->integer;
            freeReplyObject(rep);
            idle_conn *back = NULL;
            pthread_mutex_lock(&r->lock);
            if (r->n_idle < SHARED_IDLE_MAX && (back = cm__malloc(sizeof *back))) {
                back->c = c;
                back->next = r->idle;
                r->idle = back;
                r->n_idle++;
            }
            pthread_mutex_unlock(&r->lock);
            if (!back)
                redisFree(c);
            return CM_OK;
        }
        if (rep)
            freeReplyObject(rep);
        if (c)
            redisFree(c);
        if (!i)
            break; /* a new connection failed: Redis is down */
        drop_idle(r);
    }
    __atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
    uint64_t prev =
        __atomic_exchange_n(&r->down_until_ns, mono_ns() + SHARED_DOWN_NS, __ATOMIC_RELAXED);
    if (prev <= now)
        cm__log(CM_LOG_WARN, "store",
                "shared result cache: Redis %s:%d did not answer; no cached reads for 1 s", r->host,
                r->port);
    return CM_EBACKEND;
}

int cm_store_share_cache(cm_store *store, const char *redis_uri, uint32_t timeout_ms)
{
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_store_share_cache: store is NULL");
    struct cm__shared *r = NULL;
    if (redis_uri) {
        r = cm__calloc(1, sizeof *r);
        if (!r)
            return cm__oom();
        if (parse_uri(r, redis_uri)) {
            sodium_memzero(r->password, sizeof r->password);
            cm__free(r);
            return cm__error_set_field(CM_EINVAL, "redis_uri",
                                       "expected redis://[[user]:password@]host[:port][/db]");
        }
        uint32_t ms = timeout_ms ? timeout_ms : 100;
        r->timeout.tv_sec = (time_t)(ms / 1000);
        r->timeout.tv_usec = (suseconds_t)(ms % 1000) * 1000;
        pthread_mutex_init(&r->lock, NULL);
    }
    shared_free(store->shared);
    store->shared = r;
    return CM_OK;
}

void cm__shared_free(struct cm__shared *r)
{
    shared_free(r);
}

int cm__shared_version(struct cm__shared *r, uint64_t *out)
{
    return shared_call(r, false, out);
}

void cm__shared_written(struct cm__shared *r)
{
    uint64_t v;
    (void)shared_call(r, true, &v);
}

uint64_t cm__shared_errors(const struct cm__shared *r)
{
    return r ? __atomic_load_n(&r->errors, __ATOMIC_RELAXED) : 0;
}

#else /* no hiredis */

int cm_store_share_cache(cm_store *store, const char *redis_uri, uint32_t timeout_ms)
{
    (void)timeout_ms;
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_store_share_cache: store is NULL");
    if (!redis_uri)
        return CM_OK;
    return cm__error_set(CM_ENOTSUP, "libcommunity was built without hiredis: no shared cache");
}

void cm__shared_free(struct cm__shared *r)
{
    (void)r;
}

int cm__shared_version(struct cm__shared *r, uint64_t *out)
{
    (void)r, (void)out;
    return CM_ENOTSUP;
}

void cm__shared_written(struct cm__shared *r)
{
    (void)r;
}

uint64_t cm__shared_errors(const struct cm__shared *r)
{
    (void)r;
    return 0;
}

#endif
