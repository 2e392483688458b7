/*
 * buf.c - the growable text buffer of the library (cm__buf, util.h): appends
 * that remember an allocation failure, so that a builder checks once at
 * the end.
 */
#include "util.h"

#include <stdio.h>
#include <string.h>

void cm__buf_put(cm__buf *b, const char *s, size_t n)
{
    if (b->err)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 1024;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *g = cm__realloc(b->p, nc);
        if (!g) {
            b->err = CM_ENOMEM;
            return;
        }
        b->p = g;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void cm__buf_puts(cm__buf *b, const char *s)
{
    cm__buf_put(b, s, strlen(s));
}

void cm__buf_printf(cm__buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->err = CM_ERROR;
        return;
    }
    if ((size_t)n < sizeof small) {
        cm__buf_put(b, small, (size_t)n);
        return;
    }
    char *big = cm__malloc((size_t)n + 1);
    if (!big) {
        b->err = CM_ENOMEM;
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    cm__buf_put(b, big, (size_t)n);
    cm__free(big);
}
