/*
 * redis.c - the global rate limit in Redis (see redis.h), on hiredis's
 * blocking API with connect and command timeouts. Without hiredis at build
 * time (CMH_HAVE_HIREDIS undefined) cmh_redis_new() refuses a URI.
 */
#include "redis.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jlog.h"

#ifdef CMH_HAVE_HIREDIS
#include <hiredis/hiredis.h>
#include <sodium.h>
#include <sys/time.h>

/*
 * GCRA (the generic cell rate algorithm): the key holds the theoretical
 * arrival time (TAT, microseconds on Redis's clock). A request is allowed
 * when TAT + interval - burst * interval <= now; it then moves TAT on by one
 * interval. Same budget as a token bucket of `burst` tokens refilled at
 * `rate` per second. Returns 0 (allowed) or the microseconds to wait.
 * KEYS[1] the client's key; ARGV[1] interval (us), ARGV[2] burst.
 */
static const char gcra_lua[] =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) "
    "local interval = tonumber(ARGV[1]) "
    "local tat = tonumber(redis.call('GET', KEYS[1]) or now) "
    "if tat < now then tat = now end "
    "local new_tat = tat + interval "
    "local allow_at = new_tat - tonumber(ARGV[2]) * interval "
    "if allow_at > now then return allow_at - now end "
    "redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1) "
    "return 0";

typedef struct slot {
    redisContext *c;
    bool busy;
} slot;

struct cmh_redis {
    char host[256];
    int port;
    char user[128], password[256];
    int db;
    struct timeval timeout;
    pthread_mutex_t mu;
    slot *slots;
    int n;
    _Atomic uint64_t down_until_ns; /* after a failure: fail open at once until then */
    _Atomic int64_t errors;
};

#define DOWN_NS 1000000000ull

static int pct_decode(char *dst, size_t cap, const char *s, size_t n)
{
    char *d = cmh_url_decode(s, n, false);
    if (!d)
        return -1;
    int ok = strlen(d) < cap;
    if (ok)
        memcpy(dst, d, strlen(d) + 1);
    free(d);
    return ok ? 0 : -1;
}

cmh_redis *cmh_redis_new(const char *uri, int timeout_ms, int conns, char *err, size_t errlen)
{
    cmh_redis *r = cmh_xcalloc(1, sizeof *r);
    r->port = 6379;
    const char *p = uri;
    if (strncmp(p, "redis://", 8) != 0)
        goto bad;
    p += 8;
    const char *end = p + strcspn(p, "/?#");
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            goto bad; /* a user without a password */
        if (pct_decode(r->user, sizeof r->user, p, (size_t)(colon - p)) ||
            pct_decode(r->password, sizeof r->password, colon + 1, (size_t)(at - colon - 1)))
            goto bad;
        p = at + 1;
    }
    const char *colon = memchr(p, ':', (size_t)(end - p));
    size_t hl = (size_t)((colon ? colon : end) - p);
    if (hl == 0 || hl >= sizeof r->host)
        goto bad;
    memcpy(r->host, p, hl);
    if (colon) {
        char *e;
        long port = strtol(colon + 1, &e, 10);
        if (e != end || port < 1 || port > 65535)
            goto bad;
        r->port = (int)port;
    }
    if (*end == '/' && end[1]) {
        char *e;
        long db = strtol(end + 1, &e, 10);
        if (*e || db < 0 || db > 1000000)
            goto bad;
        r->db = (int)db;
    }
    r->timeout.tv_sec = timeout_ms / 1000;
    r->timeout.tv_usec = (timeout_ms % 1000) * 1000;
    r->n = conns > 0 ? conns : 1;
    r->slots = cmh_xcalloc((size_t)r->n, sizeof *r->slots);
    pthread_mutex_init(&r->mu, NULL);
    return r;
bad:
    (void)snprintf(err, errlen,
                   "COMMUNITY_REDIS: expected redis://[[user]:password@]host[:port][/db]");
    free(r);
    return NULL;
}

void cmh_redis_free(cmh_redis *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++)
        if (r->slots[i].c)
            redisFree(r->slots[i].c);
    free(r->slots);
    pthread_mutex_destroy(&r->mu);
    sodium_memzero(r->password, sizeof r->password);
    free(r);
}

int64_t cmh_redis_errors(const cmh_redis *r)
{
    return r ? atomic_load(&((cmh_redis *)r)->errors) : 0;
}

static slot *borrow(cmh_redis *r)
{
    slot *s = NULL;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n && !s; i++)
        if (!r->slots[i].busy) {
            s = &r->slots[i];
            s->busy = true;
        }
    pthread_mutex_unlock(&r->mu);
    return s;
}

static void give_back(cmh_redis *r, slot *s)
{
    pthread_mutex_lock(&r->mu);
    s->busy = false;
    pthread_mutex_unlock(&r->mu);
}

/* A reply that is not an error, or NULL (the connection is then dropped). */
static redisReply *command_ok(redisContext *c, redisReply *rep)
{
    if (rep && rep->type != REDIS_REPLY_ERROR)
        return rep;
    if (rep)
        freeReplyObject(rep);
    (void)c;
    return NULL;
}

static bool connect_slot(cmh_redis *r, slot *s)
{
    s->c = redisConnectWithTimeout(r->host, r->port, r->timeout);
    if (!s->c || s->c->err || redisSetTimeout(s->c, r->timeout) != REDIS_OK)
        return false;
    redisReply *rep = NULL;
    if (r->password[0]) {
        rep = r->user[0] ? redisCommand(s->c, "AUTH %s %s", r->user, r->password)
                         : redisCommand(s->c, "AUTH %s", r->password);
        if (!(rep = command_ok(s->c, rep)))
            return false;
        freeReplyObject(rep);
    }
    if (r->db) {
        if (!(rep = command_ok(s->c, redisCommand(s->c, "SELECT %d", r->db))))
            return false;
        freeReplyObject(rep);
    }
    return true;
}

static void failed(cmh_redis *r, slot *s, const char *what)
{
    atomic_fetch_add(&r->errors, 1);
    uint64_t now = cmh_mono_ns();
    uint64_t prev = atomic_exchange(&r->down_until_ns, now + DOWN_NS);
    if (prev <= now) /* log once per outage second, not per request */
        cmh_log(CMH_LOG_WARN, "redis unavailable; rate limits fall back to this process", "%s: %s",
                what, s && s->c && s->c->errstr[0] ? s->c->errstr : "error reply");
    if (s && s->c) {
        redisFree(s->c);
        s->c = NULL;
    }
}

int cmh_redis_rate_take(cmh_redis *r, const char *key, double rate, double burst, bool *fail)
{
    *fail = false;
    if (!r || rate <= 0)
        return 0;
    if (cmh_mono_ns() < atomic_load(&r->down_until_ns)) {
        *fail = true;
        return 0;
    }
    slot *s = borrow(r);
    if (!s) { /* more callers than connections: cannot happen with one per worker */
        *fail = true;
        return 0;
    }
    if (!s->c && !connect_slot(r, s)) {
        failed(r, s, "connect");
        give_back(r, s);
        *fail = true;
        return 0;
    }
    /* client keys may hold secrets (session tokens): only a hash reaches Redis */
    unsigned char h[16];
    crypto_generichash(h, sizeof h, (const unsigned char *)key, strlen(key), NULL, 0);
    char k[3 + 2 * sizeof h + 1];
    memcpy(k, "rl:", 3);
    cmh_hex(k + 3, h, sizeof h);
    long long interval = (long long)(1e6 / rate);
    if (interval < 1)
        interval = 1;
    redisReply *rep = redisCommand(s->c, "EVAL %s 1 cm:%s %lld %lld", gcra_lua, k, interval,
                                   (long long)(burst < 1 ? 1 : burst));
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
        if (rep)
            freeReplyObject(rep);
        failed(r, s, "rate limit script");
        give_back(r, s);
        *fail = true;
        return 0;
    }
    long long wait_us = rep->integer;
    freeReplyObject(rep);
    give_back(r, s);
    if (wait_us <= 0)
        return 0;
    long long sec = (wait_us + 999999) / 1000000;
    return sec < 1 ? 1 : (int)sec;
}

#else /* no hiredis */

struct cmh_redis {
    int unused;
};

cmh_redis *cmh_redis_new(const char *uri, int timeout_ms, int conns, char *err, size_t errlen)
{
    (void)uri, (void)timeout_ms, (void)conns;
    (void)snprintf(err, errlen, "COMMUNITY_REDIS is set but this server was built without hiredis");
    return NULL;
}

void cmh_redis_free(cmh_redis *r)
{
    free(r);
}

int cmh_redis_rate_take(cmh_redis *r, const char *key, double rate, double burst, bool *fail)
{
    (void)r, (void)key, (void)rate, (void)burst;
    *fail = false;
    return 0;
}

int64_t cmh_redis_errors(const cmh_redis *r)
{
    (void)r;
    return 0;
}

#endif
