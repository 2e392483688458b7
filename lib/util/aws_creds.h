/*
 * aws_creds.h - where the AWS services' clients (S3 in lib/blob, SES in
 * lib/mail) get their credentials: the two links of the AWS SDKs' default
 * chain that matter for this library's deployments.
 *
 *   1. Static keys, when given (an access key id and a secret, with a
 *      session token for temporary keys): used as they are.
 *   2. Otherwise the container credentials endpoint that ECS (task roles)
 *      and EKS (pod identity) provide, named by the environment:
 *        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI  a path on
 *                                                http://169.254.170.2 (ECS);
 *        AWS_CONTAINER_CREDENTIALS_FULL_URI      a whole URL: https://, or
 *                                                http:// to a loopback
 *                                                address or the ECS/EKS
 *                                                agents (169.254.170.2,
 *                                                169.254.170.23, fd00:ec2::23);
 *        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE  sent as the Authorization
 *                                                header (the file is read at
 *                                                every fetch: it rotates);
 *        AWS_CONTAINER_AUTHORIZATION_TOKEN       the same, as a value.
 *      The answer's AccessKeyId, SecretAccessKey, Token and Expiration are
 *      cached and fetched again 5 minutes before Expiration; when a refresh
 *      fails, the cached credentials serve until they expire.
 *
 * Thread-safe: a source is shared by the threads of a store or a sender.
 */
#ifndef CM_UTIL_AWS_CREDS_H
#define CM_UTIL_AWS_CREDS_H

#include "util.h"

typedef struct cm__aws_creds cm__aws_creds;

/* One set of credentials, owned (release with cm__aws_key_dispose). */
typedef struct cm__aws_key {
    char *access_key;
    char *secret_key;
    char *token; /* NULL for long-term keys */
} cm__aws_key;

/* Refresh this long before the credentials' Expiration (microseconds). */
#define CM__AWS_CREDS_REFRESH_US (300 * INT64_C(1000000))

/* Open a source: the static keys when access_key and secret_key are both
 * non-empty (token may be NULL or ""), else the container endpoint of the
 * environment (read now; nothing is fetched until the first
 * cm__aws_creds_get). what ("S3", "SES") prefixes messages.
 * CM_OK; CM_EINVAL (no keys and no endpoint in the environment, or an
 * endpoint that is not allowed; the detail says which); CM_ENOMEM. */
int cm__aws_creds_open(cm__aws_creds **out, const char *access_key, const char *secret_key,
                       const char *token, const char *what);

/* Whether the environment names a container credentials endpoint. */
bool cm__aws_creds_in_env(void);

/* A copy of the current credentials into *out (zeroed first), fetched or
 * refreshed first when needed. CM_OK; CM_EAUTH (the endpoint refused or
 * answered without credentials); CM_EUNAVAILABLE, CM_ETIMEOUT, CM_EIO (the
 * endpoint cannot be reached); CM_ENOMEM. */
int cm__aws_creds_get(cm__aws_key *out, cm__aws_creds *c);

/* How many times the endpoint was asked (for tests and metrics). */
int64_t cm__aws_creds_fetches(cm__aws_creds *c);

/* Wipe and free what k holds. Accepts a zeroed key. */
void cm__aws_key_dispose(cm__aws_key *k);

/* Close a source (wipes the cached secrets). Accepts NULL. */
void cm__aws_creds_close(cm__aws_creds *c);

#endif /* CM_UTIL_AWS_CREDS_H */
