/*
 * dispatch.c - chooses the distance kernels once per process.
 *
 * A best-first table of implementation rows; each row starts from the
 * scalar table and applies the ISA initialisers it names, in order. The
 * first row the CPU supports wins, unless CM_VEC_IMPL (read with
 * secure_getenv) names another supported row. Unknown or unsupported
 * requests fall back to the best row; cm_vec_impl_requested() keeps what
 * was asked so the host can report it.
 */
#define _GNU_SOURCE /* secure_getenv */
#include "vec_int.h"

#include "util/util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define CM_VEC_X86 1
#include <cpuid.h>
#endif

typedef int (*supported_fn)(void);
typedef void (*init_fn)(cm__vec_ops *);

/* One optional overlay: applied when its CPU check passes (NULL = always). */
typedef struct {
    init_fn init;
    supported_fn supported;
} overlay;

typedef struct {
    const char *name;
    supported_fn supported;
    overlay steps[4];
} impl_row;

#ifdef CM_VEC_X86
static int has_f16c(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    return (c >> 29) & 1u;
}
static int x86_avx2(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
}
static int x86_avx512(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && x86_avx2();
}
#if defined(CM_HAVE_AVX512BF16)
static int x86_avx512bf16(void)
{
    return x86_avx512() && __builtin_cpu_supports("avx512bf16");
}
#endif
#if defined(CM_HAVE_AVX512VNNI)
static int x86_avx512vnni(void)
{
    return x86_avx512() && __builtin_cpu_supports("avx512vnni");
}
#endif
#endif

static int always(void)
{
    return 1;
}

static const impl_row rows[] = {
#if defined(CM_HAVE_AVX512)
    {"avx512",
     x86_avx512,
     {
#if defined(CM_HAVE_AVX2)
         {cm__vec_init_avx2, NULL},
#endif
         {cm__vec_init_avx512, NULL},
#if defined(CM_HAVE_AVX512BF16)
         {cm__vec_init_avx512bf16, x86_avx512bf16},
#endif
#if defined(CM_HAVE_AVX512VNNI)
         {cm__vec_init_avx512vnni, x86_avx512vnni},
#endif
     }},
    /* AVX-512 F/BW/VL only, without the BF16/VNNI extensions: for tests. */
    {"avx512base", x86_avx512, {{cm__vec_init_avx512, NULL}}},
#endif
#if defined(CM_HAVE_AVX2)
    {"avx2", x86_avx2, {{cm__vec_init_avx2, NULL}}},
#endif
#if defined(CM_HAVE_NEON)
    {"neon", always, {{cm__vec_init_neon, NULL}}},
#endif
    {"scalar", always, {{NULL, NULL}}},
};

#define N_ROWS (sizeof rows / sizeof rows[0])

static cm__vec_ops tables[N_ROWS];
static int usable[N_ROWS];
static size_t chosen;
static char requested[32];
static pthread_once_t once = PTHREAD_ONCE_INIT;
/* The chosen table once published: every kernel call reads it, so the hot
 * path is one acquire load instead of a call to pthread_once. */
static _Atomic(const cm__vec_ops *) published;

static void build_row(size_t i)
{
    cm__vec_init_scalar(&tables[i]);
    for (size_t s = 0; s < sizeof rows[i].steps / sizeof rows[i].steps[0]; s++) {
        const overlay *o = &rows[i].steps[s];
        if (o->init && (!o->supported || o->supported()))
            o->init(&tables[i]);
    }
    tables[i].name = rows[i].name;
}

static void choose(void)
{
#ifdef CM_VEC_X86
    __builtin_cpu_init();
#endif
    for (size_t i = 0; i < N_ROWS; i++) {
        usable[i] = rows[i].supported();
        if (usable[i])
            build_row(i);
    }
    chosen = N_ROWS - 1;
    for (size_t i = 0; i < N_ROWS; i++) {
        if (usable[i]) {
            chosen = i;
            break;
        }
    }
    const char *env = secure_getenv("CM_VEC_IMPL");
    if (env && *env) {
        (void)snprintf(requested, sizeof requested, "%s", env);
        for (size_t i = 0; i < N_ROWS; i++) {
            if (strcmp(env, rows[i].name) == 0 && usable[i]) {
                chosen = i;
                break;
            }
        }
    }
}

const cm__vec_ops *cm__vec_ops_get(void)
{
    const cm__vec_ops *o = atomic_load_explicit(&published, memory_order_acquire);
    if (o)
        return o;
    (void)pthread_once(&once, choose);
    o = &tables[chosen];
    atomic_store_explicit(&published, o, memory_order_release);
    return o;
}

size_t cm__vec_impl_count(void)
{
    return N_ROWS;
}

const cm__vec_ops *cm__vec_impl_at(size_t i)
{
    (void)pthread_once(&once, choose);
    return (i < N_ROWS && usable[i]) ? &tables[i] : NULL;
}

const char *cm__vec_impl_row_name(size_t i)
{
    return i < N_ROWS ? rows[i].name : NULL;
}

const char *cm_vec_impl_name(void)
{
    return cm__vec_ops_get()->name;
}

const char *cm_vec_impl_requested(void)
{
    (void)pthread_once(&once, choose);
    return requested;
}
