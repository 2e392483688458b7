/*
 * alloc.h - the allocator hook and the function that frees what the
 * library hands out.
 */
#ifndef COMMUNITY_ALLOC_H
#define COMMUNITY_ALLOC_H

#include <community/common.h>

CM_BEGIN_DECLS

/**
 * A replacement allocator. Fill it with CM_ALLOCATOR_INIT or set `size` to
 * sizeof(cm_allocator). All three functions are required and must be
 * thread-safe. `free` must accept NULL. @since 0.1
 */
typedef struct cm_allocator {
    uint32_t size;
    void *(*malloc)(size_t n, void *payload);
    void *(*realloc)(void *p, size_t n, void *payload);
    void (*free)(void *p, void *payload);
    void *payload;
} cm_allocator;

#define CM_ALLOCATOR_INIT                                                                          \
    {                                                                                              \
        (uint32_t)sizeof(cm_allocator), NULL, NULL, NULL, NULL                                     \
    }

/**
 * Install a process-wide allocator for everything libcommunity allocates.
 *
 * Must be called before any other cm_ call that allocates; afterwards it
 * returns CM_EBUSY. Passing NULL restores the C library allocator (also
 * only before first use). Dependencies (SQLite, jansson, libuv) keep their
 * own allocators: the library never changes their global configuration.
 *
 * @return CM_OK, CM_EINVAL (incomplete struct), CM_EBUSY (too late).
 * @since 0.1
 */
CM_API int cm_set_allocator(const cm_allocator *allocator);

/**
 * Free memory the library returned through a `char **out` (JSON results,
 * strings). Accepts NULL. Thread-safe. @since 0.1
 */
CM_API void cm_free(void *p);

CM_END_DECLS

#endif /* COMMUNITY_ALLOC_H */
