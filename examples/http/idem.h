/*
 * idem.h - Idempotency-Key support: an in-memory, bounded cache of final
 * responses keyed by (caller, route, key), kept for a TTL (24 h by
 * default). A retried unsafe request with the same key gets the stored
 * response instead of running again.
 *
 * Scope: ONE server process. Behind a load balancer with several hosts a
 * retry may reach another host, which has not seen the key: multi-host
 * deployments need the cache in the shared store (a table keyed by
 * actor+route+key, written in the operation's transaction).
 *
 * Thread-safe: claims happen on worker threads (after the caller is
 * known), completions on the loop thread.
 */
#ifndef CMH_IDEM_H
#define CMH_IDEM_H

#include "util.h"

typedef struct cmh_idem cmh_idem;

typedef struct cmh_stored {
    int status;
    char *headers; /* extra header lines, "Name: value\r\n"... */
    char *body;
    size_t body_len;
    char *content_type;
} cmh_stored;

enum {
    CMH_IDEM_NEW = 0,      /* claimed: run the request, then complete or release */
    CMH_IDEM_REPLAY = 1,   /* *out holds the stored response (caller frees) */
    CMH_IDEM_BUSY = 2,     /* the first request with this key is still running */
    CMH_IDEM_MISMATCH = 3, /* same key, different request body */
};

cmh_idem *cmh_idem_new(size_t max_entries, size_t max_bytes, uint64_t ttl_ns);
void cmh_idem_free(cmh_idem *c);
int cmh_idem_claim(cmh_idem *c, const char *scope, const char *route, const char *key,
                   uint64_t fingerprint, uint64_t now_ns, cmh_stored *out);
/* Store the final response of a claimed key. */
void cmh_idem_complete(cmh_idem *c, const char *scope, const char *route, const char *key,
                       const cmh_stored *resp);
/* Forget a claim (the request failed in a way worth retrying, e.g. 5xx). */
void cmh_idem_release(cmh_idem *c, const char *scope, const char *route, const char *key);
void cmh_stored_clear(cmh_stored *s);

#endif /* CMH_IDEM_H */
