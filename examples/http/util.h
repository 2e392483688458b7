/*
 * util.h - small helpers of the HTTP host: a growable byte buffer, clocks,
 * random bytes, hashing, JSON string escaping and URL decoding.
 *
 * The host aborts on out-of-memory (as Redis does): a server that cannot
 * allocate a few hundred bytes for a response is better restarted by its
 * supervisor than left limping. The library itself never aborts.
 */
#ifndef CMH_UTIL_H
#define CMH_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define CMH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CMH_PRINTF(a, b)
#endif

void *cmh_xmalloc(size_t n);
void *cmh_xcalloc(size_t n, size_t size);
void *cmh_xrealloc(void *p, size_t n);
char *cmh_xstrdup(const char *s);
char *cmh_xstrndup(const char *s, size_t n);

/* A growable byte buffer, always NUL-terminated when p != NULL. */
typedef struct cmh_buf {
    char *p;
    size_t len, cap;
} cmh_buf;

void cmh_buf_put(cmh_buf *b, const void *data, size_t n);
void cmh_buf_puts(cmh_buf *b, const char *s);
void cmh_buf_putc(cmh_buf *b, char c);
void cmh_buf_printf(cmh_buf *b, const char *fmt, ...) CMH_PRINTF(2, 3);
/* Append s as a JSON string literal (quotes included, control characters
 * and invalid UTF-8 bytes escaped or replaced so the output stays valid). */
void cmh_buf_json_str(cmh_buf *b, const char *s);
/* Take the bytes out (caller frees); the buffer becomes empty. */
char *cmh_buf_steal(cmh_buf *b, size_t *len);
void cmh_buf_free(cmh_buf *b);

/* Monotonic nanoseconds (for durations and token buckets). */
uint64_t cmh_mono_ns(void);
/* Wall clock: RFC 3339 UTC with milliseconds, "2025-01-02T03:04:05.678Z". */
void cmh_rfc3339_now(char out[64]);
/* IMF-fixdate for the Date header, "Sun, 06 Nov 1994 08:49:37 GMT". */
void cmh_http_date(char out[40]);

/* Fill buf with n cryptographically random bytes (getrandom). */
void cmh_random(void *buf, size_t n);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void cmh_hex(char *out, const void *data, size_t n);
/* 64-bit FNV-1a; `seed` chains calls. */
uint64_t cmh_fnv1a(uint64_t seed, const void *data, size_t n);
#define CMH_FNV_SEED 0xcbf29ce484222325ull
/* Constant-time equality of two NUL-terminated strings. */
bool cmh_ct_streq(const char *a, const char *b);

/* Decode %XX escapes (and '+' as space when `plus` is set) of src[0..n)
 * into a new string. NULL when an escape is malformed or decodes to NUL. */
char *cmh_url_decode(const char *src, size_t n, bool plus);
/* Standard base64 (RFC 4648, with padding) of src[0..n), NUL-terminated; free(). */
char *cmh_base64(const char *src, size_t n);
/* Is s (NUL-terminated) valid UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF)? */
bool cmh_utf8_valid(const char *s);
/* Append s percent-encoded: every byte but ALPHA / DIGIT / "-._~" becomes
 * %XX, so the result is safe in any URI component and in a header. */
void cmh_buf_pct(cmh_buf *b, const char *s);
/* ASCII case-insensitive comparisons. */
bool cmh_strieq(const char *a, const char *b);
bool cmh_strnieq(const char *a, const char *b, size_t n);

#endif /* CMH_UTIL_H */
