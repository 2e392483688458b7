/*
 * buf.c - the growable buffer, base64 and safe echo of untrusted text used
 * by the message builder and the calendar writer.
 */
#include "mail_int.h"

#include <stdio.h>
#include <string.h>

void cm__mail_buf_put(cm__mail_buf *b, const char *s, size_t n)
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

void cm__mail_buf_puts(cm__mail_buf *b, const char *s)
{
    cm__mail_buf_put(b, s, strlen(s));
}

void cm__mail_buf_printf(cm__mail_buf *b, const char *fmt, ...)
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
        cm__mail_buf_put(b, small, (size_t)n);
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
    cm__mail_buf_put(b, big, (size_t)n);
    cm__free(big);
}

size_t cm__mail_base64(char *out, const unsigned char *in, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t w = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[w++] = tab[(v >> 18) & 63];
        out[w++] = tab[(v >> 12) & 63];
        out[w++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[w++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[w] = 0;
    return w;
}

void cm__mail_shown(char *out, size_t n, const char *s)
{
    if (!s) {
        (void)snprintf(out, n, "(none)");
        return;
    }
    size_t w = 0;
    for (; *s && w + 4 < n; s++)
        out[w++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
    if (*s && n >= 4) {
        memcpy(out + w, "...", 3);
        w += 3;
    }
    out[w] = 0;
}
