/*
 * runtime.h - process-level hooks: the host log callback, the clock that
 * tests can set, and the library version at run time.
 */
#ifndef COMMUNITY_RUNTIME_H
#define COMMUNITY_RUNTIME_H

#include <community/common.h>

CM_BEGIN_DECLS

/** Log levels passed to the host's log callback. @since 0.1 */
typedef enum cm_log_level {
    CM_LOG_ERROR = 0,
    CM_LOG_WARN = 1,
    CM_LOG_INFO = 2,
    CM_LOG_DEBUG = 3
} cm_log_level;

/**
 * A log callback: `component` is a short static string ("store", "jobs"),
 * `message` one line without a trailing newline. Both are borrowed for the
 * duration of the call. It may be called from any thread that runs library
 * code, concurrently; it must not call back into libcommunity.
 */
typedef void (*cm_log_fn)(int level, const char *component, const char *message, void *payload);

/**
 * Install the log callback and the most verbose level to deliver. The
 * library never prints: without a callback, messages are dropped. Secrets
 * (passwords, tokens) are never logged. NULL removes the callback.
 * Thread-safe. @since 0.1
 */
CM_API void cm_set_log_callback(cm_log_fn fn, int max_level, void *payload);

/** A clock: microseconds since the Unix epoch, UTC. */
typedef int64_t (*cm_clock_fn)(void *payload);

/**
 * Replace the clock the library reads "now" from (session expiry, upcoming
 * events, job schedules). Meant for tests and simulations; NULL restores
 * the system real-time clock. Process-wide; thread-safe. @since 0.1
 */
CM_API void cm_set_clock(cm_clock_fn fn, void *payload);

/** The library's current time in microseconds since the epoch. @since 0.1 */
CM_API int64_t cm_now_us(void);

/** The run-time library version as 0xMMmmpp (compare with CM_VERSION_HEX). @since 0.1 */
CM_API uint32_t cm_version_hex(void);

/** The run-time library version string ("0.1.0"). Static. @since 0.1 */
CM_API const char *cm_version_string(void);

CM_END_DECLS

#endif /* COMMUNITY_RUNTIME_H */
