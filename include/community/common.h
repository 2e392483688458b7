/*
 * common.h - export macro, C++ guards and forward declarations of every
 * opaque libcommunity type. Included by every other public header.
 */
#ifndef COMMUNITY_COMMON_H
#define COMMUNITY_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define CM_BEGIN_DECLS extern "C" {
#define CM_END_DECLS }
#else
#define CM_BEGIN_DECLS
#define CM_END_DECLS
#endif

#if defined(CM_STATIC)
#define CM_API
#elif defined(__GNUC__) || defined(__clang__)
#define CM_API __attribute__((visibility("default")))
#else
#define CM_API
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CM_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define CM_DEPRECATED(msg)
#endif

CM_BEGIN_DECLS

/** A database handle: thread-safe, backed by a connection pool. @since 0.1 */
typedef struct cm_store cm_store;
/** Who is calling an operation (anonymous, a member, or the system). @since 0.1 */
typedef struct cm_actor cm_actor;

CM_END_DECLS

#endif /* COMMUNITY_COMMON_H */
