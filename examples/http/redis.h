/*
 * redis.h - community-server's shared state in Redis (COMMUNITY_REDIS):
 * the global rate limit, one budget per client across every server of a
 * deployment (GCRA in one Lua script, Redis's own clock).
 *
 * Calls block for at most the configured timeout and are made from the
 * worker threads, never from the event loop. Any failure (Redis down,
 * slow, wrong password) fails open: the caller treats the request as
 * allowed (each server's own per-process limit still applies), and Redis
 * is not asked again for one second. Thread-safe: a small pool of
 * connections, each used by one thread at a time.
 */
#ifndef CMH_REDIS_H
#define CMH_REDIS_H

#include "util.h"

typedef struct cmh_redis cmh_redis;

/* Parse redis://[[user]:password@]host[:port][/db] and prepare a pool of up
 * to `conns` connections (opened on first use). NULL with a message in err
 * when the URI is malformed or the server was built without hiredis. */
cmh_redis *cmh_redis_new(const char *uri, int timeout_ms, int conns, char *err, size_t errlen);
void cmh_redis_free(cmh_redis *r);

/* Take one request from the global budget of `key` (rate per second, up to
 * burst at once). Returns 0 when allowed, else the seconds to wait (>= 1);
 * 0 also when Redis failed (fail open; *failed is then set). */
int cmh_redis_rate_take(cmh_redis *r, const char *key, double rate, double burst, bool *failed);

/* Calls that failed (connection, timeout, error reply) since start. */
int64_t cmh_redis_errors(const cmh_redis *r);

#endif /* CMH_REDIS_H */
