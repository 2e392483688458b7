/*
 * common.c - clock, .f32 I/O, bandwidth probe and statistics for the vec
 * benchmarks (see common.h). The probe's SIMD loops use function target
 * attributes and are chosen at run time, so this file needs no -m flags.
 */
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define VB_X86 1
#endif

volatile double vb_sink;

double vb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
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

#ifdef VB_X86
__attribute__((target("avx512f"))) static double sum_avx512(const void *buf, size_t bytes)
{
    const float *p = buf;
    size_t n = bytes / sizeof(float), i = 0;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0,
           s7 = s0;
    for (; i + 128 <= n; i += 128) {
        s0 = _mm512_add_ps(s0, _mm512_loadu_ps(p + i));
        s1 = _mm512_add_ps(s1, _mm512_loadu_ps(p + i + 16));
        s2 = _mm512_add_ps(s2, _mm512_loadu_ps(p + i + 32));
        s3 = _mm512_add_ps(s3, _mm512_loadu_ps(p + i + 48));
        s4 = _mm512_add_ps(s4, _mm512_loadu_ps(p + i + 64));
        s5 = _mm512_add_ps(s5, _mm512_loadu_ps(p + i + 80));
        s6 = _mm512_add_ps(s6, _mm512_loadu_ps(p + i + 96));
        s7 = _mm512_add_ps(s7, _mm512_loadu_ps(p + i + 112));
    }
    s0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)),
                       _mm512_add_ps(_mm512_add_ps(s4, s5), _mm512_add_ps(s6, s7)));
    double s = _mm512_reduce_add_ps(s0);
    for (; i < n; i++)
        s += p[i];
    return s;
}

__attribute__((target("avx2"))) static double sum_avx2(const void *buf, size_t bytes)
{
    const float *p = buf;
    size_t n = bytes / sizeof(float), i = 0;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0,
           s7 = s0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(p + i));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(p + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_loadu_ps(p + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_loadu_ps(p + i + 24));
        s4 = _mm256_add_ps(s4, _mm256_loadu_ps(p + i + 32));
        s5 = _mm256_add_ps(s5, _mm256_loadu_ps(p + i + 40));
        s6 = _mm256_add_ps(s6, _mm256_loadu_ps(p + i + 48));
        s7 = _mm256_add_ps(s7, _mm256_loadu_ps(p + i + 56));
    }
    s0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)),
                       _mm256_add_ps(_mm256_add_ps(s4, s5), _mm256_add_ps(s6, s7)));
    float t[8];
    _mm256_storeu_ps(t, s0);
    double s = 0;
    for (int j = 0; j < 8; j++)
        s += t[j];
    for (; i < n; i++)
        s += p[i];
    return s;
}
#endif

static double sum_scalar(const void *buf, size_t bytes)
{
    const float *p = buf;
    size_t n = bytes / sizeof(float);
    float s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += p[i + j];
    double t = 0;
    for (int j = 0; j < 8; j++)
        t += s[j];
    for (; i < n; i++)
        t += p[i];
    return t;
}

typedef double (*sum_fn)(const void *, size_t);

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

double vb_bandwidth_pass(const void *buf, size_t bytes)
{
    const char *kind;
    sum_fn f = pick(&kind);
    double t0 = vb_now();
    vb_sink += f(buf, bytes);
    return vb_now() - t0;
}

double vb_bandwidth_probe(const void *buf, size_t bytes, int reps, const char **kind_out)
{
    const char *kind;
    (void)pick(&kind);
    if (kind_out)
        *kind_out = kind;
    double best = 1e30;
    for (int r = 0; r < (reps > 0 ? reps : 1); r++) {
        double t = vb_bandwidth_pass(buf, bytes);
        if (t < best)
            best = t;
    }
    return (double)bytes / best * 1e-9;
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
