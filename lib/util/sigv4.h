/*
 * sigv4.h - AWS Signature Version 4 (internal): the canonical request, the
 * string to sign, the signing key, the Authorization header and presigned
 * query strings, for any AWS-compatible service (S3 in lib/blob, SES in
 * lib/mail). Pure functions over caller-given strings: no clock, no I/O.
 * Checked against AWS's published test suite (tests/data/aws-sig-v4-test-suite).
 *
 * The request is described by its parts, not as text:
 *   - path: the URI path as raw bytes ("/bucket/photo 1.jpg"); it is
 *     percent-encoded here once, '/' kept (S3's rule). normalize_path removes
 *     "." and ".." segments and empty segments first (every service but S3).
 *   - query: raw (not yet encoded) name/value pairs in any order; they are
 *     encoded and sorted here. A NULL value counts as "".
 *   - headers: the headers to sign, names in any case, values as sent; the
 *     signer lowercases names, trims and collapses spaces in values, joins
 *     repeated names with ',' and sorts. "host" must be among them; so must
 *     "x-amz-date" (and "x-amz-security-token" with temporary credentials)
 *     for header authorization.
 *   - payload_hash: lowercase hex SHA-256 of the body (cm__sha256_hex), or
 *     "UNSIGNED-PAYLOAD"; NULL means the hash of an empty body.
 * amz_date is "YYYYMMDDTHHMMSSZ" (cm__sigv4_amz_date); its first 8 characters
 * are the date of the credential scope.
 */
#ifndef CM_UTIL_SIGV4_H
#define CM_UTIL_SIGV4_H

#include "util.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cm__sigv4_kv {
    const char *name;
    const char *value;
} cm__sigv4_kv;

typedef struct cm__sigv4_req {
    const char *method; /* "GET", "PUT", ... */
    const char *path;   /* raw, starts with '/' */
    const cm__sigv4_kv *query;
    size_t nquery;
    const cm__sigv4_kv *headers;
    size_t nheaders;
    const char *payload_hash; /* NULL: hash of "" */
    bool normalize_path;      /* false for S3 */
} cm__sigv4_req;

typedef struct cm__sigv4_cred {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL without temporary credentials */
    const char *region;        /* "us-east-1" */
    const char *service;       /* "s3", "ses" */
} cm__sigv4_cred;

#define CM__SHA256_HEX_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Lowercase hex SHA-256 of p[0..n) into out (65 bytes with the NUL). */
void cm__sha256_hex(char out[65], const void *p, size_t n);
/* HMAC-SHA256 of msg under key. */
void cm__hmac_sha256(uint8_t out[32], const void *key, size_t keylen, const void *msg, size_t n);
/* "YYYYMMDDTHHMMSSZ" of an instant in microseconds since the epoch (UTC). */
void cm__sigv4_amz_date(char out[17], int64_t us);
/* AWS URI encoding of s[0..n): unreserved bytes (A-Z a-z 0-9 - _ . ~) as is,
 * '/' as is when keep_slash, every other byte as %XX (uppercase), appended
 * to b. */
void cm__sigv4_uri_encode(cm__buf *b, const char *s, size_t n, bool keep_slash);

/* The canonical request, NUL-terminated, into *out (free with cm__free).
 * CM_OK, CM_EINVAL (no method/path, a path without a leading '/'), CM_ENOMEM. */
int cm__sigv4_canonical_request(char **out, const cm__sigv4_req *r);
/* "AWS4-HMAC-SHA256\n<amz_date>\n<date>/<region>/<service>/aws4_request\n<hex sha256(creq)>". */
int cm__sigv4_string_to_sign(char **out, const cm__sigv4_cred *c, const char *amz_date,
                             const char *creq);
/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date8), region), service), "aws4_request"). */
void cm__sigv4_signing_key(uint8_t out[32], const cm__sigv4_cred *c, const char *date8);
/* The value of the Authorization header for r:
 * "AWS4-HMAC-SHA256 Credential=AK/date/region/service/aws4_request,
 *  SignedHeaders=a;b, Signature=hex". CM_OK, CM_EINVAL, CM_ENOMEM. */
int cm__sigv4_authorization(char **out, const cm__sigv4_cred *c, const char *amz_date,
                            const cm__sigv4_req *r);
/* A presigned query string (without '?'): r's own query plus X-Amz-Algorithm,
 * X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders (and
 * X-Amz-Security-Token with temporary credentials), sorted, then
 * &X-Amz-Signature=hex. The payload is UNSIGNED-PAYLOAD unless r says
 * otherwise. expires_s in 1..604800. CM_OK, CM_EINVAL, CM_ENOMEM. */
int cm__sigv4_presign_query(char **out, const cm__sigv4_cred *c, const char *amz_date,
                            int64_t expires_s, const cm__sigv4_req *r);

#endif /* CM_UTIL_SIGV4_H */
