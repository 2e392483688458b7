/*
 * ratelimit.h - per-client token buckets (rate tokens per second, up to
 * `burst`), in a fixed-size table: memory stays bounded however many
 * clients appear; when the table is full the least recently seen nearby
 * bucket is recycled (that client starts again with a full bucket).
 *
 * Single-threaded (the event loop thread).
 */
#ifndef CMH_RATELIMIT_H
#define CMH_RATELIMIT_H

#include "util.h"

typedef struct cmh_ratelimit cmh_ratelimit;

/* rate <= 0 disables limiting (every take succeeds). */
cmh_ratelimit *cmh_ratelimit_new(double rate, double burst, size_t slots);
void cmh_ratelimit_free(cmh_ratelimit *rl);
/* Take one token for `key` at time now_ns. Returns 0 if allowed, else the
 * seconds to wait before a token is available (>= 1). */
int cmh_ratelimit_take(cmh_ratelimit *rl, const char *key, uint64_t now_ns);
/* Is the bucket of `key` empty right now (without taking)? */
bool cmh_ratelimit_empty(cmh_ratelimit *rl, const char *key, uint64_t now_ns);

#endif /* CMH_RATELIMIT_H */
