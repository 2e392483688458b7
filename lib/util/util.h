/*
 * util.h - internal utilities shared by every module: the allocation
 * funnel, error detail setters, logging, the clock, small string helpers.
 * Never included from public headers.
 */
#ifndef CM_UTIL_H
#define CM_UTIL_H

#include <community/community.h>

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>

#if defined(__GNUC__)
#define CM__PRINTF(a, b) __attribute__((format(printf, a, b)))
#define CM__UNUSED __attribute__((unused))
#else
#define CM__PRINTF(a, b)
#define CM__UNUSED
#endif

/* ---- allocation funnel (alloc.c): every internal allocation goes here ---- */
void *cm__malloc(size_t n);
void *cm__calloc(size_t count, size_t n);
void *cm__realloc(void *p, size_t n);
void cm__free(void *p);
char *cm__strdup(const char *s);
char *cm__strndup(const char *s, size_t n);
/* Record "out of memory" as the error detail and return CM_ENOMEM, for every
 * failed allocation: `if (!p) return cm__oom();`. */
int cm__oom(void);

/* ---- growable text buffer (buf.c) ---- */
/* Start from {0}; p is NUL-terminated once anything was appended (NULL
 * before), free it with cm__free. An append that fails sets err to
 * CM_ENOMEM and later appends do nothing: check err once at the end. */
typedef struct cm__buf {
    char *p;
    size_t len, cap;
    int err;
} cm__buf;
void cm__buf_put(cm__buf *b, const char *s, size_t n);
void cm__buf_puts(cm__buf *b, const char *s);
void cm__buf_printf(cm__buf *b, const char *fmt, ...) CM__PRINTF(2, 3);

/* ---- error detail (error.c) ---- */

/* Record a failure (code, printf-style message) and return the code. */
int cm__error_set(int code, const char *fmt, ...) CM__PRINTF(2, 3);
/* Same, naming the input field at fault. */
int cm__error_set_field(int code, const char *field, const char *fmt, ...) CM__PRINTF(3, 4);
#ifdef __clang_analyzer__
/* What the Clang Static Analyzer (meson test lint-clang-tidy) cannot see
 * from a caller's file: these return their code argument (a negative CM_E*),
 * never CM_OK. Without it, every `return cm__error_set(...)` path looks as
 * if it could succeed without filling its outputs. */
#define cm__error_set(code, ...) ((void)(cm__error_set)((code), __VA_ARGS__), (code))
#define cm__error_set_field(code, ...) ((void)(cm__error_set_field)((code), __VA_ARGS__), (code))
#define cm__oom() ((void)(cm__oom)(), CM_ENOMEM)
#endif
/* Attach the backend's native code (SQLite code, SQLSTATE) to the detail. */
void cm__error_set_backend_code(const char *code);
/* Attach the seconds to wait before retrying (CM_ETHROTTLED) to the detail. */
void cm__error_set_retry_after(int64_t seconds);
/* Save / restore the detail around cleanup code that may fail itself. */
typedef struct cm__error_saved {
    int code;
    char message[256];
    char field[64];
    char backend[16];
    int64_t retry_after;
} cm__error_saved;
void cm__error_save(cm__error_saved *s);
void cm__error_restore(const cm__error_saved *s);

/* ---- logging (log.c) ---- */
void cm__log(int level, const char *component, const char *fmt, ...) CM__PRINTF(3, 4);
bool cm__log_enabled(int level);

/* ---- strings ---- */
/* true when s[0..len) is valid UTF-8 without NUL bytes. */
bool cm__utf8_valid(const char *s, size_t len);
/* Number of code points in valid UTF-8. */
size_t cm__utf8_len(const char *s, size_t len);

/* ---- time (time.c) ---- */
/* Days since 1970-01-01 of a proleptic Gregorian date, and the inverse. */
int64_t cm__days_from_civil(int64_t y, int m, int d);
void cm__civil_from_days(int64_t z, int *y, int *m, int *d);
/* Format microseconds since the epoch as RFC 3339 UTC ("2026-01-02T03:04:05Z",
 * with ".ffffff" when there are sub-second digits). buf must hold 32 bytes. */
void cm__time_format(char *buf, int64_t us);
/* Parse an RFC 3339 instant (offset Z or +hh:mm). CM_OK or CM_EINVAL. */
int cm__time_parse(int64_t *out, const char *s);
/* Parse a wall-clock "YYYY-MM-DDTHH:MM[:SS]" into broken-down fields. */
int cm__time_parse_local(int *y, int *mo, int *d, int *h, int *mi, int *s, const char *str);
/* Convert a wall-clock time in an IANA zone into UTC microseconds.
 * CM_EINVAL for an unknown zone ("field" is set by the caller). */
int cm__time_local_to_utc(int64_t *out, const char *tz, int y, int mo, int d, int h, int mi, int s);
/* false when the wall-clock time does not exist in tz (skipped by a DST
 * change or another forward jump of its UT offset), or tz is unknown. A
 * repeated time (fall back) exists. The detail is not set. */
bool cm__time_local_exists(const char *tz, int y, int mo, int d, int h, int mi, int s);
/* Format a UTC instant as wall-clock "YYYY-MM-DDTHH:MM:SS" in tz; buf >= 32. */
int cm__time_utc_to_local(char *buf, const char *tz, int64_t us);
/* true when tz names a zone in the system's IANA database. */
bool cm__tz_valid(const char *tz);

/* ---- random ---- */
/* Fill buf with cryptographically secure random bytes. */
int cm__random_bytes(void *buf, size_t n);

#endif /* CM_UTIL_H */
