/*
 * error.h - status codes and the thread-local error detail.
 *
 * Every fallible libcommunity function returns CM_OK (0) or a negative CM_E*
 * code. Codes are append-only: a value is never renumbered or reused. The
 * detail of the last failure (code, message, offending field, backend code)
 * is kept per thread and read through the accessors below; it is valid only
 * immediately after the failing call, on the same thread.
 */
#ifndef COMMUNITY_ERROR_H
#define COMMUNITY_ERROR_H

#include <community/common.h>

CM_BEGIN_DECLS

/*
 * The one table of status codes: XX(name, value, message).
 * Append only. Never renumber, never reuse.
 */
#define CM_STATUS_MAP(XX)                                                                          \
    XX(OK, 0, "success")                                                                           \
    XX(ERROR, -1, "unspecified error")                                                             \
    XX(ENOMEM, -2, "out of memory")                                                                \
    XX(EINVAL, -3, "invalid argument")                                                             \
    XX(EMISUSE, -4, "library used incorrectly")                                                    \
    XX(ENOTFOUND, -5, "not found")                                                                 \
    XX(EEXISTS, -6, "already exists")                                                              \
    XX(ECONFLICT, -7, "conflicting concurrent change")                                             \
    XX(EBUSY, -8, "resource busy, try again")                                                      \
    XX(ECONSTRAINT, -9, "constraint violated")                                                     \
    XX(EBACKEND, -10, "storage backend error")                                                     \
    XX(ETIMEOUT, -11, "timed out")                                                                 \
    XX(ECANCELED, -12, "canceled")                                                                 \
    XX(ENOTSUP, -13, "not supported")                                                              \
    XX(EUSER, -14, "aborted by a user callback")                                                   \
    XX(EAUTH, -15, "authentication required or failed")                                            \
    XX(EPERM, -16, "permission denied")                                                            \
    XX(ESCHEMA, -17, "database schema mismatch")                                                   \
    XX(ECORRUPT, -18, "corrupt data")                                                              \
    XX(ELEASE, -19, "lease lost")                                                                  \
    XX(EIO, -20, "input/output error")                                                             \
    XX(ERANGE, -21, "value out of range")                                                          \
    XX(EUNKNOWNOP, -22, "unknown operation")                                                       \
    XX(EUNAVAILABLE, -23, "storage cannot take writes now")                                        \
    XX(ETHROTTLED, -24, "too many attempts, try again later")

/** Status codes. @since 0.1 */
typedef enum cm_status {
#define CM__STATUS_ENUM(name, value, msg) CM_##name = (value),
    CM_STATUS_MAP(CM__STATUS_ENUM)
#undef CM__STATUS_ENUM
        CM_STATUS_MIN_ = -24
} cm_status;

/**
 * The symbolic name of a status code ("CM_EINVAL"), or "CM_UNKNOWN".
 * Thread-safe; the string is static. @since 0.1
 */
CM_API const char *cm_status_name(int code);

/**
 * A short English description of a status code. Thread-safe; static string.
 * @since 0.1
 */
CM_API const char *cm_strerror(int code);

/**
 * The code of the last failure on this thread, or CM_OK when none was
 * recorded since the last cm_error_clear(). @since 0.1
 */
CM_API int cm_error_code(void);

/**
 * The message of the last failure on this thread (never NULL; "" if none).
 * Borrowed: valid until the next libcommunity call on this thread. @since 0.1
 */
CM_API const char *cm_error_message(void);

/**
 * The input field the last failure is about ("capacity", "start.tz"), or ""
 * when it concerns no particular field. Borrowed, like cm_error_message().
 * @since 0.1
 */
CM_API const char *cm_error_field(void);

/**
 * The backend's native code for the last failure: an SQLite extended result
 * code in decimal ("2067") or a PostgreSQL SQLSTATE ("23505"); "" if none.
 * Borrowed, like cm_error_message(). @since 0.1
 */
CM_API const char *cm_error_backend_code(void);

/**
 * When the last failure on this thread was CM_ETHROTTLED: how many seconds
 * the caller should wait before trying again (at least 1). 0 for any other
 * failure. @since 0.1
 */
CM_API int64_t cm_error_retry_after(void);

/** Forget the last failure on this thread. @since 0.1 */
CM_API void cm_error_clear(void);

CM_END_DECLS

#endif /* COMMUNITY_ERROR_H */
