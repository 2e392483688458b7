/*
 * alloc.c - the one allocation funnel of libcommunity, and the public
 * allocator hook. Every allocation in lib/ goes through cm__malloc & co.
 */
#include "util.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static void *sys_malloc(size_t n, void *p)
{
    (void)p;
    return malloc(n);
}
static void *sys_realloc(void *ptr, size_t n, void *p)
{
    (void)p;
    return realloc(ptr, n);
}
static void sys_free(void *ptr, void *p)
{
    (void)p;
    free(ptr);
}

static cm_allocator current = {sizeof(cm_allocator), sys_malloc, sys_realloc, sys_free, NULL};
static atomic_bool allocator_used;

int cm_set_allocator(const cm_allocator *a)
{
    if (atomic_load(&allocator_used))
        return cm__error_set(CM_EBUSY, "cm_set_allocator: the library has already allocated");
    if (a == NULL) {
        current = (cm_allocator){sizeof(cm_allocator), sys_malloc, sys_realloc, sys_free, NULL};
        return CM_OK;
    }
    if (a->size < sizeof(cm_allocator) || !a->malloc || !a->realloc || !a->free)
        return cm__error_set(CM_EINVAL, "cm_set_allocator: incomplete allocator");
    current = *a;
    return CM_OK;
}

void *cm__malloc(size_t n)
{
    atomic_store_explicit(&allocator_used, true, memory_order_relaxed);
    return current.malloc(n ? n : 1, current.payload);
}

void *cm__calloc(size_t count, size_t n)
{
    if (n && count > SIZE_MAX / n)
        return NULL;
    void *p = cm__malloc(count * n);
    if (p)
        memset(p, 0, count * n);
    return p;
}

void *cm__realloc(void *p, size_t n)
{
    atomic_store_explicit(&allocator_used, true, memory_order_relaxed);
    return current.realloc(p, n ? n : 1, current.payload);
}

void cm__free(void *p)
{
    if (p)
        current.free(p, current.payload);
}

void cm_free(void *p)
{
    cm__free(p);
}

char *cm__strndup(const char *s, size_t n)
{
    char *d = cm__malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

int(cm__oom)(void)
{
    return cm__error_set(CM_ENOMEM, "out of memory");
}

char *cm__strdup(const char *s)
{
    return s ? cm__strndup(s, strlen(s)) : NULL;
}
