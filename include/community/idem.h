/*
 * idem.h - Idempotency-Key records kept in the store, for hosts that run
 * unsafe requests on behalf of clients that may retry them (an HTTP server
 * behind a load balancer: the retry may reach another process or host).
 *
 * A record is keyed by (scope, key): the scope names the caller as the host
 * knows it (a member id, an anonymous client address), the key is the
 * client's. It holds a hash of the request the key was first used for
 * (the host chooses what it covers: method, path and body) and, once the
 * request is answered, its status and the host's stored answer (bytes the
 * library does not interpret). The flow of one request:
 *
 *   cm_idem_claim()          CM_IDEM_NEW: run the request, then
 *   cm_idem_exec()           run the operation and store its result as the
 *                            answer, in the operation's own transaction; or,
 *                            when the operation fails (or for a request
 *                            that is not one operation):
 *   cm_idem_complete()       store the answer, or
 *   cm_idem_release()        forget the claim (a retry should run again)
 *
 * Records are kept in the database (table idempotency_keys), so they are
 * shared by every process on the same store and survive restarts. A claim
 * whose host dies before completing it lapses after its lease. Claims also
 * delete a few expired records each, so the table stays bounded by what
 * the TTL keeps. With cm_idem_exec() the answer commits with the
 * operation's changes: a host that dies after the commit leaves the answer
 * stored (a retry replays it, the operation never runs twice), and one that
 * dies before it leaves nothing but the claim, which lapses and lets the
 * retry run. cm_idem_complete() writes in its own transaction: use it for
 * answers of requests that changed nothing (a failed operation).
 */
#ifndef COMMUNITY_IDEM_H
#define COMMUNITY_IDEM_H

#include <community/common.h>

CM_BEGIN_DECLS

/** Outcomes of cm_idem_claim() (non-negative: not errors). @since 0.1 */
typedef enum cm_idem_outcome {
    CM_IDEM_NEW = 0,      /**< claimed: run the request, then complete or release */
    CM_IDEM_REPLAY = 1,   /**< answered before: the stored answer is in the out params */
    CM_IDEM_BUSY = 2,     /**< the first request with this key is still running */
    CM_IDEM_MISMATCH = 3, /**< the key was used for another request (other hash) */
} cm_idem_outcome;

/**
 * Claim (scope, key) for a request, or find what it holds (method of
 * cm_store).
 *
 * @param status_out    on CM_IDEM_REPLAY, the stored status; else 0.
 * @param response_out  on CM_IDEM_REPLAY, a copy of the stored answer
 *                      (NUL-terminated after response_len_out bytes; free
 *                      with cm_free()); else NULL.
 * @param response_len_out  its length in bytes (may be NULL).
 * @param store         the store.
 * @param scope         the caller (1-255 bytes, copied).
 * @param key           the client's key (1-255 bytes, copied).
 * @param request_hash  what identifies the request (1-128 bytes, copied).
 * @param lease_us      how long a claim holds before it lapses (> 0): the
 *                      longest a request may run.
 * @return CM_IDEM_NEW, CM_IDEM_REPLAY, CM_IDEM_BUSY, CM_IDEM_MISMATCH;
 * CM_EINVAL, CM_EBUSY, CM_EUNAVAILABLE, CM_EBACKEND, CM_ENOMEM.
 * Thread-safe. @since 0.1
 */
CM_API int cm_idem_claim(int32_t *status_out, char **response_out, size_t *response_len_out,
                         cm_store *store, const char *scope, const char *key,
                         const char *request_hash, int64_t lease_us);

/**
 * Store the answer of a claimed request and keep it for ttl_us (method of
 * cm_store). Does nothing when the claim is gone (it lapsed and was taken
 * again for another request).
 *
 * @param response  the answer (len bytes, copied; may be NULL when len is 0).
 * @return CM_OK; CM_EINVAL, CM_EBUSY, CM_EUNAVAILABLE, CM_EBACKEND.
 * Thread-safe. @since 0.1
 */
CM_API int cm_idem_complete(cm_store *store, const char *scope, const char *key,
                            const char *request_hash, int32_t status, const void *response,
                            size_t len, int64_t ttl_us);

/**
 * Forget a claim that has no answer (the request failed in a way a retry
 * should run again) (method of cm_store). Stored answers are kept.
 *
 * @return CM_OK; CM_EINVAL, CM_EBUSY, CM_EUNAVAILABLE, CM_EBACKEND.
 * Thread-safe. @since 0.1
 */
CM_API int cm_idem_release(cm_store *store, const char *scope, const char *key,
                           const char *request_hash);

/**
 * Run operation `op` as cm_exec() does, for a request that holds the claim
 * of (scope, key) (cm_idem_claim() returned CM_IDEM_NEW), and complete the
 * claim in the operation's own transaction: its answer is `status` and the
 * operation's JSON result (the bytes returned in *out), kept for ttl_us.
 * Either the operation's changes and the answer commit together or neither
 * does. A later claim with the same key and request replays that answer
 * (CM_IDEM_REPLAY; the stored answer is the result JSON, which begins with
 * '{').
 *
 * @param out  [out] the operation's JSON result (cm_free()); NULL on failure.
 * @return CM_OK; what cm_exec() returns when the operation fails (the claim
 *         is then still held: complete it with the failure's answer, or
 *         release it); CM_ELEASE when the claim is no longer this
 *         request's (it lapsed, and the key was answered or taken again):
 *         nothing was committed; CM_EINVAL for bad arguments.
 * Thread-safe (the actor is only read). @since 0.1
 */
CM_API int cm_idem_exec(char **out, cm_store *store, const cm_actor *actor, const char *op,
                        const char *json_in, size_t len, const char *scope, const char *key,
                        const char *request_hash, int32_t status, int64_t ttl_us);

CM_END_DECLS

#endif /* COMMUNITY_IDEM_H */
