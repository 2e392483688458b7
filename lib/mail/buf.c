/*
 * buf.c - base64 and safe echo of untrusted text used by the message
 * builder and the calendar writer.
 */
#include "mail_int.h"

#include <stdio.h>
#include <string.h>

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
