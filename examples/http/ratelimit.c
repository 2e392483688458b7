/*
 * ratelimit.c - token buckets in a bounded open-addressing table (see
 * ratelimit.h). Keys are hashed to 64 bits; two clients colliding share a
 * bucket, which only makes the limit stricter for both.
 */
#include "ratelimit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PROBE 8

typedef struct bucket {
    uint64_t key; /* 0 = free */
    double tokens;
    uint64_t last_ns;
} bucket;

struct cmh_ratelimit {
    double rate, burst;
    size_t mask;
    bucket *b;
};

cmh_ratelimit *cmh_ratelimit_new(double rate, double burst, size_t slots)
{
    cmh_ratelimit *rl = cmh_xcalloc(1, sizeof *rl);
    rl->rate = rate;
    rl->burst = burst < 1 ? 1 : burst;
    size_t n = 64;
    while (n < slots)
        n *= 2;
    rl->mask = n - 1;
    rl->b = cmh_xcalloc(n, sizeof *rl->b);
    return rl;
}

void cmh_ratelimit_free(cmh_ratelimit *rl)
{
    if (!rl)
        return;
    free(rl->b);
    free(rl);
}

/* The bucket of key, refilled to now; recycles the stalest of the probe
 * window when key has none. */
static bucket *get(cmh_ratelimit *rl, const char *key, uint64_t now)
{
    uint64_t k = cmh_fnv1a(CMH_FNV_SEED, key, strlen(key)) | 1;
    size_t h = (size_t)(k ^ (k >> 29)) & rl->mask;
    bucket *victim = NULL;
    for (size_t i = 0; i < PROBE; i++) {
        bucket *b = &rl->b[(h + i) & rl->mask];
        if (b->key == k) {
            double dt = (double)(now - b->last_ns) / 1e9;
            b->tokens = fmin(rl->burst, b->tokens + dt * rl->rate);
            b->last_ns = now;
            return b;
        }
        if (b->key == 0) {
            if (!victim || victim->key != 0)
                victim = b; /* the first free slot */
        } else if (!victim || (victim->key != 0 && b->last_ns < victim->last_ns)) {
            victim = b; /* else the least recently seen */
        }
    }
    victim->key = k;
    victim->tokens = rl->burst;
    victim->last_ns = now;
    return victim;
}

int cmh_ratelimit_take(cmh_ratelimit *rl, const char *key, uint64_t now_ns)
{
    if (!rl || rl->rate <= 0)
        return 0;
    bucket *b = get(rl, key, now_ns);
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return 0;
    }
    int wait = (int)ceil((1 - b->tokens) / rl->rate);
    return wait < 1 ? 1 : wait;
}

bool cmh_ratelimit_empty(cmh_ratelimit *rl, const char *key, uint64_t now_ns)
{
    if (!rl || rl->rate <= 0)
        return false;
    return get(rl, key, now_ns)->tokens < 1;
}
