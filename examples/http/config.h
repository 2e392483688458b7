/*
 * config.h - community-server's configuration: defaults, then COMMUNITY_*
 * environment variables, then command-line flags (flags win).
 */
#ifndef CMH_CONFIG_H
#define CMH_CONFIG_H

#include "util.h"

typedef struct cmh_config {
    char host[64];        /* listen address (IPv4, or IPv6 without brackets) */
    int port;             /* 0 = any free port (printed at start) */
    char *db;             /* store URI */
    int pool_size;        /* database connections (0 = = workers) */
    int workers;          /* threads running library calls */
    int password_workers; /* of which at most this many compute argon2id (0 = default) */
    size_t max_body;      /* bytes */
    size_t max_upload;    /* bytes, for bodies to /v1/uploads/ */
    /* upload storage (docs/uploads.md): a directory or an S3 bucket; all NULL
     * = the library's default (beside an SQLite file) */
    char *uploads_dir, *s3_endpoint, *s3_bucket, *s3_region;
    char *s3_access_key, *s3_secret_key, *s3_session_token;
    bool s3_virtual_host;
    size_t max_header; /* bytes of request line + headers */
    int max_headers;   /* header fields */
    int max_connections;
    int max_conn_per_client; /* per TCP peer address (IPv6: per /64); 0 = no cap */
    int read_timeout_ms;     /* whole request (headers + body) once started */
    int idle_timeout_ms;     /* keep-alive connection without a request */
    int write_timeout_ms;    /* client must take the response within this */
    int shutdown_timeout_ms; /* drain deadline after SIGTERM/SIGINT */
    char **cors_origins;     /* NULL-terminated; "*" allows any (without credentials) */
    double rate;             /* requests per second per client; 0 = off */
    double burst;
    bool trust_proxy;     /* take the client address from X-Forwarded-For */
    bool cookie_secure;   /* Secure attribute on cookies (default on) */
    char *metrics_token;  /* if set, /metrics needs "Authorization: Bearer <it>" */
    char *redis;          /* redis://... for the global rate limit; NULL = none */
    int redis_timeout_ms; /* per Redis call; then the call fails open */
    int log_level;
    int idem_ttl_s;       /* Idempotency-Key answers are kept this long */
    bool no_result_cache; /* open the store with CM_STORE_NO_RESULT_CACHE */
} cmh_config;

/* Fill defaults, read the environment, then argv. Returns 0 to run, 1
 * when --help/--version was printed (exit 0), -1 on a bad value (message
 * printed to stderr, exit 2). */
int cmh_config_load(cmh_config *c, int argc, char **argv);
void cmh_config_free(cmh_config *c);
/* "host:port" or "[v6]:port" into c->host/c->port. */
int cmh_config_listen(cmh_config *c, const char *s);
/* Is `origin` in the CORS list, or is "*" there? (CORS headers without
 * credentials.) */
bool cmh_config_origin_allowed(const cmh_config *c, const char *origin);
/* Is `origin` listed by name? Only such origins may use cookies and get
 * Access-Control-Allow-Credentials: "*" never counts. */
bool cmh_config_origin_listed(const cmh_config *c, const char *origin);
/* Defaults only (tests, fuzzing). */
void cmh_config_defaults(cmh_config *c);

#endif /* CMH_CONFIG_H */
