/*
 * idem.c - the stored form of an Idempotency-Key answer (see idem.h).
 */
#include "idem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cmh_stored_clear(cmh_stored *s)
{
    free(s->headers);
    free(s->body);
    free(s->content_type);
    memset(s, 0, sizeof *s);
}

char *cmh_stored_encode(const cmh_stored *s, size_t *len)
{
    const char *ct = s->content_type ? s->content_type : "";
    const char *h = s->headers ? s->headers : "";
    cmh_buf b = {0};
    cmh_buf_printf(&b, "%zu %zu\n", strlen(ct), strlen(h));
    cmh_buf_puts(&b, ct);
    cmh_buf_puts(&b, h);
    cmh_buf_put(&b, s->body ? s->body : "", s->body_len);
    return cmh_buf_steal(&b, len);
}

bool cmh_stored_decode(cmh_stored *out, int status, const char *p, size_t len)
{
    memset(out, 0, sizeof *out);
    const char *nl = memchr(p, '\n', len < 48 ? len : 48);
    unsigned long long ct_len, h_len;
    if (!nl || sscanf(p, "%llu %llu", &ct_len, &h_len) != 2)
        return false;
    size_t head = (size_t)(nl + 1 - p);
    if (ct_len > len - head || h_len > len - head - ct_len)
        return false;
    const char *q = nl + 1;
    out->status = status;
    out->content_type = cmh_xstrndup(q, (size_t)ct_len);
    out->headers = cmh_xstrndup(q + ct_len, (size_t)h_len);
    out->body_len = len - head - (size_t)ct_len - (size_t)h_len;
    out->body = cmh_xmalloc(out->body_len + 1);
    memcpy(out->body, q + ct_len + h_len, out->body_len);
    out->body[out->body_len] = '\0';
    return true;
}
