/*
 * common.c - clock, .f32 I/O, bandwidth probe and statistics for the vec
 * benchmarks (see common.h). The probe's SIMD loops use function target
 * attributes and are chosen at run time, so this file needs no -m flags.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* clock_gettime, madvise when built outside meson */
#endif
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define VB_X86 1
#endif

volatile double vb_sink;

/* VB_CLOCK=thread: the calling thread's CPU time instead of wall time, so
 * that time spent waiting for a core on a loaded machine is not counted
 * (stalls on memory are: the thread is running). Single-thread programs
 * only. */
const char *vb_clock_name(void)
{
    const char *c = getenv("VB_CLOCK");
    return c && strcmp(c, "thread") == 0 ? "thread" : "wall";
}

double vb_now(void)
{
    static int thread = -1;
    if (thread < 0)
        thread = strcmp(vb_clock_name(), "thread") == 0;
    struct timespec ts;
    clock_gettime(thread ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

float *vb_read_f32(const char *path, size_t dim, size_t *n_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    long len = ftell(f);
    rewind(f);
    if (len <= 0 || dim == 0 || (size_t)len % (dim * sizeof(float)) != 0) {
        fprintf(stderr, "%s: size %ld is not a multiple of %zu floats\n", path, len, dim);
        fclose(f);
        return NULL;
    }
    float *v = malloc((size_t)len);
    if (!v || fread(v, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "%s: read failed\n", path);
        free(v);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *n_out = (size_t)len / (dim * sizeof(float));
    return v;
}

static int write_raw(const char *path, const void *v, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t w = fwrite(v, 1, bytes, f);
    if (fclose(f) != 0 || w != bytes) {
        fprintf(stderr, "%s: write failed\n", path);
        return -1;
    }
    return 0;
}

int vb_write_f32(const char *path, const float *v, size_t count)
{
    return write_raw(path, v, count * sizeof(float));
}

int vb_write_i32(const char *path, const int32_t *v, size_t count)
{
    return write_raw(path, v, count * sizeof(int32_t));
}

/* ---- bandwidth probe ---- */

/*
 * The buffer is cut into `streams` equal parts read in lockstep, 256 bytes
 * of each part per step: one thread, several sequential streams. Which
 * count reads fastest depends on the machine (prefetchers, fill buffers),
 * so the probe tries 1, 2, 4 and 8 and keeps the best.
 */
#ifdef VB_X86
__attribute__((target("avx512f"))) static double sum_avx512(const float *p, size_t part,
                                                            int streams)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    for (size_t i = 0; i < part; i += 64) {
        for (int k = 0; k < streams; k += 2) {
            const float *a = p + (size_t)k * part + i;
            s0 = _mm512_add_ps(s0, _mm512_loadu_ps(a));
            s1 = _mm512_add_ps(s1, _mm512_loadu_ps(a + 16));
            s2 = _mm512_add_ps(s2, _mm512_loadu_ps(a + 32));
            s3 = _mm512_add_ps(s3, _mm512_loadu_ps(a + 48));
            if (k + 1 < streams) {
                const float *b = a + part;
                s4 = _mm512_add_ps(s4, _mm512_loadu_ps(b));
                s5 = _mm512_add_ps(s5, _mm512_loadu_ps(b + 16));
                s6 = _mm512_add_ps(s6, _mm512_loadu_ps(b + 32));
                s7 = _mm512_add_ps(s7, _mm512_loadu_ps(b + 48));
            }
        }
    }
    s0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)),
                       _mm512_add_ps(_mm512_add_ps(s4, s5), _mm512_add_ps(s6, s7)));
    return _mm512_reduce_add_ps(s0);
}

__attribute__((target("avx2"))) static double sum_avx2(const float *p, size_t part, int streams)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    for (size_t i = 0; i < part; i += 64) {
        for (int k = 0; k < streams; k++) {
            const float *a = p + (size_t)k * part + i;
            s0 = _mm256_add_ps(s0, _mm256_loadu_ps(a));
            s1 = _mm256_add_ps(s1, _mm256_loadu_ps(a + 8));
            s2 = _mm256_add_ps(s2, _mm256_loadu_ps(a + 16));
            s3 = _mm256_add_ps(s3, _mm256_loadu_ps(a + 24));
            s4 = _mm256_add_ps(s4, _mm256_loadu_ps(a + 32));
            s5 = _mm256_add_ps(s5, _mm256_loadu_ps(a + 40));
            s6 = _mm256_add_ps(s6, _mm256_loadu_ps(a + 48));
            s7 = _mm256_add_ps(s7, _mm256_loadu_ps(a + 56));
        }
    }
    s0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)),
                       _mm256_add_ps(_mm256_add_ps(s4, s5), _mm256_add_ps(s6, s7)));
    float t[8];
    _mm256_storeu_ps(t, s0);
    double s = 0;
    for (int j = 0; j < 8; j++)
        s += t[j];
    return s;
}
#endif

static double sum_scalar(const float *p, size_t part, int streams)
{
    float s[8] = {0};
    for (size_t i = 0; i < part; i += 8)
        for (int k = 0; k < streams; k++)
            for (int j = 0; j < 8; j++)
                s[j] += p[(size_t)k * part + i + j];
    double t = 0;
    for (int j = 0; j < 8; j++)
        t += s[j];
    return t;
}

typedef double (*sum_fn)(const float *, size_t, int);

static sum_fn pick(const char **kind)
{
#ifdef VB_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        *kind = "avx512";
        return sum_avx512;
    }
    if (__builtin_cpu_supports("avx2")) {
        *kind = "avx2";
        return sum_avx2;
    }
#endif
    *kind = "scalar";
    return sum_scalar;
}

double vb_bandwidth_pass(const void *buf, size_t bytes, int streams, size_t *read_out)
{
    const char *kind;
    sum_fn f = pick(&kind);
    if (streams < 1)
        streams = 1;
    size_t part = bytes / sizeof(float) / (size_t)streams / 64 * 64; /* floats per stream */
    double t0 = vb_now();
    vb_sink += f(buf, part, streams);
    double t = vb_now() - t0;
    if (read_out)
        *read_out = part * (size_t)streams * sizeof(float);
    return t;
}

double vb_bandwidth_best(const void *buf, size_t bytes, int *streams_out, const char **kind_out)
{
    static const int counts[] = {1, 2, 4, 8};
    double best = 0;
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        size_t rd;
        double t = vb_bandwidth_pass(buf, bytes, counts[i], &rd);
        double gbs = (double)rd / t * 1e-9;
        if (gbs > best) {
            best = gbs;
            if (streams_out)
                *streams_out = counts[i];
        }
    }
    if (kind_out)
        (void)pick(kind_out);
    return best;
}

void *vb_alloc_filled(size_t bytes, int huge)
{
    unsigned char *p = malloc(bytes);
    if (!p)
        return NULL;
#if defined(MADV_HUGEPAGE)
    const uintptr_t hp = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + hp - 1) & ~(hp - 1), hi = ((uintptr_t)p + bytes) & ~(hp - 1);
    if (huge && hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)huge;
#endif
    uint64_t x = 0x9e3779b97f4a7c15ull;
    float *f = (float *)(void *)p;
    for (size_t i = 0; i < bytes / sizeof(float); i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        f[i] = (float)(x >> 40) * 0x1p-24f;
    }
    return p;
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double vb_median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double vb_min(const double *v, size_t n)
{
    double m = n ? v[0] : 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] < m)
            m = v[i];
    return m;
}

void vb_cpu_model(char *buf, size_t len)
{
    (void)snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                c[strcspn(c, "\n")] = 0;
                (void)snprintf(buf, len, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}
