/*
 * backoff.c - the delay before a job's next attempt: fixed, or exponential
 * with "equal jitter" (half the delay plus a uniform share of the other
 * half). The jitter is a hash of (job id, attempt), so that it spreads
 * retries of many jobs but is reproducible for one job.
 */
#include "jobs_int.h"

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

int64_t cm__backoff_delay(int backoff, int64_t base_us, int64_t max_us, int32_t attempt,
                          int64_t job_id)
{
    if (base_us <= 0)
        return 0;
    if (backoff != CM_JOB_BACKOFF_EXPONENTIAL)
        return base_us; /* fixed, and custom without a handler-supplied delay */
    int shift = attempt <= 1 ? 0 : attempt - 1;
    int64_t d = base_us;
    for (int i = 0; i < shift && d < max_us; i++)
        d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
    if (d > max_us)
        d = max_us;
    if (d <= 1)
        return d;
    int64_t half = d / 2;
    uint64_t h = splitmix64((uint64_t)job_id * 0x100000001B3ull ^ (uint64_t)attempt);
    return half + (int64_t)(h % (uint64_t)(d - half + 1));
}
