/*
 * idem.h - Idempotency-Key support: the answer to an unsafe request sent
 * with a key is kept in the store (include/community/idem.h, table
 * idempotency_keys) for a TTL (24 h by default), so a retry that reaches
 * any server process on the same database gets the stored answer instead
 * of running again. This file encodes an answer for the store and decodes
 * it back.
 */
#ifndef CMH_IDEM_H
#define CMH_IDEM_H

#include "util.h"

typedef struct cmh_stored {
    int status;
    char *headers; /* extra header lines, "Name: value\r\n"... */
    char *body;
    size_t body_len;
    char *content_type;
} cmh_stored;

/* How long a claim holds while its request runs (a host that dies before
 * answering frees the key after this long). */
#define CMH_IDEM_LEASE_US (60LL * 1000000)

/* "<content-type length> <headers length>\n" content-type headers body;
 * free() the result. */
char *cmh_stored_encode(const cmh_stored *s, size_t *len);
/* Parse what cmh_stored_encode made; false when it is malformed. */
bool cmh_stored_decode(cmh_stored *out, int status, const char *p, size_t len);
void cmh_stored_clear(cmh_stored *s);

#endif /* CMH_IDEM_H */
