/*
 * config.c - defaults, COMMUNITY_* environment variables and flags for
 * community-server (see config.h and `community-server --help`).
 */
#include "config.h"

#include <community/community.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jlog.h"

static const char usage[] =
    "Usage: community-server [options]\n"
    "\n"
    "The libcommunity REST API over HTTP/1.1. Every flag has an environment\n"
    "variable; flags win over the environment.\n"
    "\n"
    "  --listen HOST:PORT        COMMUNITY_LISTEN          address to listen on\n"
    "                            (default 127.0.0.1:8080; use 0.0.0.0:8080 in a container;\n"
    "                            port 0 picks a free port; IPv6 as [::1]:8080)\n"
    "  --db URI                  COMMUNITY_DB              store: sqlite:///abs/path.db,\n"
    "                            sqlite://rel.db, postgresql://... or a file path\n"
    "                            (default sqlite://community.db)\n"
    "  --pool-size N             COMMUNITY_POOL_SIZE       database connections (default = "
    "workers)\n"
    "  --workers N               COMMUNITY_WORKERS         threads running library calls (default "
    "4)\n"
    "  --password-workers N      COMMUNITY_PASSWORD_WORKERS  of the workers, at most N run\n"
    "                            sign-ins and other argon2id work at once; the others wait\n"
    "                            in line without holding a worker (default workers/4, >= 1)\n"
    "  --max-body BYTES          COMMUNITY_MAX_BODY        request body limit (default 1048576) -> "
    "413\n"
    "  --max-upload BYTES        COMMUNITY_MAX_UPLOAD      body limit of the upload route\n"
    "                            PUT /v1/uploads/... (default 16777216) -> 413\n"
    "  --uploads-dir DIR         COMMUNITY_UPLOADS_DIR     keep uploaded files in DIR (default:\n"
    "                            <database file>.uploads for an SQLite store)\n"
    "  --s3-endpoint URL         COMMUNITY_S3_ENDPOINT     keep them in S3 instead\n"
    "                            (https://s3.REGION.amazonaws.com); with --s3-bucket,\n"
    "                            --s3-region, and the credentials from COMMUNITY_S3_ACCESS_KEY,\n"
    "                            COMMUNITY_S3_SECRET_KEY, COMMUNITY_S3_SESSION_TOKEN (or\n"
    "                            AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),\n"
    "                            else the ECS/EKS task role's (docs/uploads.md)\n"
    "  --s3-bucket NAME          COMMUNITY_S3_BUCKET\n"
    "  --s3-region REGION        COMMUNITY_S3_REGION\n"
    "  --s3-virtual-host         COMMUNITY_S3_VIRTUAL_HOST=1 bucket.host URLs (default path "
    "style)\n"
    "  --max-header BYTES        COMMUNITY_MAX_HEADER      request line + headers limit (default "
    "16384) -> 431\n"
    "  --max-headers N           COMMUNITY_MAX_HEADERS     header fields limit (default 64) -> "
    "431\n"
    "  --max-connections N       COMMUNITY_MAX_CONNECTIONS open connections (default 4096)\n"
    "  --max-connections-per-client N  COMMUNITY_MAX_CONNECTIONS_PER_CLIENT open connections\n"
    "                            from one peer address (IPv6: one /64); default 256, or 0 (no\n"
    "                            cap) with --trust-proxy, where the peers are the proxy's nodes\n"
    "  --read-timeout MS         COMMUNITY_READ_TIMEOUT_MS whole request once begun (default "
    "30000) -> 408\n"
    "  --idle-timeout MS         COMMUNITY_IDLE_TIMEOUT_MS keep-alive idle close (default 65000; "
    "keep it\n"
    "                            above the load balancer's idle timeout, 60 s on AWS ALB)\n"
    "  --write-timeout MS        COMMUNITY_WRITE_TIMEOUT_MS client must read a response (default "
    "30000)\n"
    "  --shutdown-timeout MS     COMMUNITY_SHUTDOWN_TIMEOUT_MS drain deadline on SIGTERM/SIGINT\n"
    "                            (default 25000, under ECS's 30 s stopTimeout)\n"
    "  --cors-origins LIST       COMMUNITY_CORS_ORIGINS    comma-separated allowed origins\n"
    "                            (https://app.example.org,...; '*' = any, without credentials;\n"
    "                            default none: no CORS headers)\n"
    "  --rate-limit N            COMMUNITY_RATE_LIMIT      requests/second per client (IP or "
    "session;\n"
    "                            default 50; 0 = off) -> 429 with Retry-After\n"
    "  --rate-burst N            COMMUNITY_RATE_BURST      bucket size (default 2 x rate)\n"
    "  --redis URI               COMMUNITY_REDIS           "
    "redis://[[user]:password@]host[:port][/db]:\n"
    "                            the rate limit becomes one budget per client across every\n"
    "                            server using this Redis (default none: per process)\n"
    "  --redis-timeout MS        COMMUNITY_REDIS_TIMEOUT_MS  per Redis call (default 100); a\n"
    "                            failed or slow call lets the request through (fail open)\n"
    "  --trust-proxy             COMMUNITY_TRUST_PROXY=1   client IP = last X-Forwarded-For entry\n"
    "                            (only behind a proxy that sets it, e.g. an ALB)\n"
    "  --insecure-cookies        COMMUNITY_COOKIE_SECURE=0 drop the Secure cookie attribute "
    "(plain-HTTP dev only)\n"
    "  --metrics-token TOKEN     COMMUNITY_METRICS_TOKEN   require 'Authorization: Bearer TOKEN' "
    "on /metrics\n"
    "  --log-level LEVEL         COMMUNITY_LOG_LEVEL       error|warn|info|debug|off (default "
    "info)\n"
    "  --idempotency-ttl S       COMMUNITY_IDEMPOTENCY_TTL seconds a response is kept for replay "
    "(default 86400)\n"
    "  --no-result-cache         COMMUNITY_NO_RESULT_CACHE=1 run every cacheable read against\n"
    "                            the database (for measuring the queries themselves)\n"
    "  --help, --version\n"
    "\n"
    "Endpoints: the operations' routes (GET /openapi.json lists them), /healthz,\n"
    "/readyz, /metrics (Prometheus). Logs: JSON lines on stdout. SIGTERM/SIGINT\n"
    "drain gracefully and exit 0.\n";

void cmh_config_defaults(cmh_config *c)
{
    memset(c, 0, sizeof *c);
    (void)snprintf(c->host, sizeof c->host, "127.0.0.1");
    c->port = 8080;
    c->db = cmh_xstrdup("sqlite://community.db");
    c->workers = 4;
    c->redis_timeout_ms = 100;
    c->max_body = 1024 * 1024;
    c->max_upload = 16 * 1024 * 1024;
    c->max_header = 16 * 1024;
    c->max_headers = 64;
    c->max_connections = 4096;
    c->max_conn_per_client = -1; /* resolved after the flags: see cmh_config_load */
    c->read_timeout_ms = 30000;
    c->idle_timeout_ms = 65000;
    c->write_timeout_ms = 30000;
    c->shutdown_timeout_ms = 25000;
    c->cors_origins = cmh_xcalloc(1, sizeof *c->cors_origins);
    c->rate = 50;
    c->burst = 0;
    c->cookie_secure = true;
    c->log_level = CMH_LOG_INFO;
    c->idem_ttl_s = 86400;
}

void cmh_config_free(cmh_config *c)
{
    free(c->db);
    for (char **o = c->cors_origins; o && *o; o++)
        free(*o);
    free(c->cors_origins);
    free(c->metrics_token);
    free(c->redis);
    free(c->uploads_dir);
    free(c->s3_endpoint);
    free(c->s3_bucket);
    free(c->s3_region);
    free(c->s3_access_key);
    free(c->s3_secret_key);
    free(c->s3_session_token);
    memset(c, 0, sizeof *c);
}

int cmh_config_listen(cmh_config *c, const char *s)
{
    const char *colon;
    char host[64];
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof host)
            return -1;
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host)
            return -1;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || port < 0 || port > 65535 || !host[0])
        return -1;
    (void)snprintf(c->host, sizeof c->host, "%s", host);
    c->port = (int)port;
    return 0;
}

static int parse_long(const char *name, const char *v, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < min || x > max) {
        fprintf(stderr, "community-server: %s: expected an integer in [%ld, %ld], got '%s'\n", name,
                min, max, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_double(const char *name, const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || x < 0 || x > 1e9) {
        fprintf(stderr, "community-server: %s: expected a number >= 0, got '%s'\n", name, v);
        return -1;
    }
    *out = x;
    return 0;
}

static bool parse_bool(const char *v)
{
    return strcmp(v, "1") == 0 || cmh_strieq(v, "true") || cmh_strieq(v, "yes") ||
           cmh_strieq(v, "on");
}

static void set_origins(cmh_config *c, const char *list)
{
    for (char **o = c->cors_origins; *o; o++)
        free(*o);
    free(c->cors_origins);
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    c->cors_origins = cmh_xcalloc(n + 1, sizeof *c->cors_origins);
    size_t k = 0;
    for (const char *p = list;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '/'))
            len--;
        if (len)
            c->cors_origins[k++] = cmh_xstrndup(p, len);
        if (!e)
            break;
        p = e + 1;
    }
}

bool cmh_config_origin_allowed(const cmh_config *c, const char *origin)
{
    for (char **o = c->cors_origins; o && *o; o++)
        if (strcmp(*o, "*") == 0 || cmh_strieq(*o, origin))
            return true;
    return false;
}

bool cmh_config_origin_listed(const cmh_config *c, const char *origin)
{
    for (char **o = c->cors_origins; o && *o; o++)
        if (strcmp(*o, "*") != 0 && cmh_strieq(*o, origin))
            return true;
    return false;
}

static char *db_uri(const char *v)
{
    if (strstr(v, "://") || strncmp(v, "sqlite:", 7) == 0)
        return cmh_xstrdup(v);
    /* a plain file path */
    cmh_buf b = {0};
    cmh_buf_puts(&b, "sqlite://");
    cmh_buf_puts(&b, v);
    return cmh_buf_steal(&b, NULL);
}

/* One setting by its long name (without "--"), from env or argv. */
static int apply(cmh_config *c, const char *name, const char *v)
{
    long x;
    if (strcmp(name, "listen") == 0) {
        if (cmh_config_listen(c, v)) {
            fprintf(stderr, "community-server: --listen: expected HOST:PORT, got '%s'\n", v);
            return -1;
        }
    } else if (strcmp(name, "db") == 0) {
        free(c->db);
        c->db = db_uri(v);
    } else if (strcmp(name, "pool-size") == 0) {
        if (parse_long(name, v, 0, 1024, &x))
            return -1;
        c->pool_size = (int)x;
    } else if (strcmp(name, "workers") == 0) {
        if (parse_long(name, v, 1, 1024, &x))
            return -1;
        c->workers = (int)x;
    } else if (strcmp(name, "password-workers") == 0) {
        if (parse_long(name, v, 1, 1024, &x))
            return -1;
        c->password_workers = (int)x;
    } else if (strcmp(name, "max-body") == 0) {
        if (parse_long(name, v, 0, 1L << 30, &x))
            return -1;
        c->max_body = (size_t)x;
    } else if (strcmp(name, "max-upload") == 0) {
        if (parse_long(name, v, 0, 1L << 31, &x))
            return -1;
        c->max_upload = (size_t)x;
    } else if (strcmp(name, "uploads-dir") == 0) {
        free(c->uploads_dir);
        c->uploads_dir = cmh_xstrdup(v);
    } else if (strcmp(name, "s3-endpoint") == 0) {
        free(c->s3_endpoint);
        c->s3_endpoint = cmh_xstrdup(v);
    } else if (strcmp(name, "s3-bucket") == 0) {
        free(c->s3_bucket);
        c->s3_bucket = cmh_xstrdup(v);
    } else if (strcmp(name, "s3-region") == 0) {
        free(c->s3_region);
        c->s3_region = cmh_xstrdup(v);
    } else if (strcmp(name, "max-header") == 0) {
        if (parse_long(name, v, 256, 1L << 20, &x))
            return -1;
        c->max_header = (size_t)x;
    } else if (strcmp(name, "max-headers") == 0) {
        if (parse_long(name, v, 4, 1000, &x))
            return -1;
        c->max_headers = (int)x;
    } else if (strcmp(name, "max-connections") == 0) {
        if (parse_long(name, v, 1, 1000000, &x))
            return -1;
        c->max_connections = (int)x;
    } else if (strcmp(name, "max-connections-per-client") == 0) {
        if (parse_long(name, v, 0, 1000000, &x))
            return -1;
        c->max_conn_per_client = (int)x;
    } else if (strcmp(name, "read-timeout") == 0) {
        if (parse_long(name, v, 1, INT_MAX, &x))
            return -1;
        c->read_timeout_ms = (int)x;
    } else if (strcmp(name, "idle-timeout") == 0) {
        if (parse_long(name, v, 1, INT_MAX, &x))
            return -1;
        c->idle_timeout_ms = (int)x;
    } else if (strcmp(name, "write-timeout") == 0) {
        if (parse_long(name, v, 1, INT_MAX, &x))
            return -1;
        c->write_timeout_ms = (int)x;
    } else if (strcmp(name, "shutdown-timeout") == 0) {
        if (parse_long(name, v, 0, INT_MAX, &x))
            return -1;
        c->shutdown_timeout_ms = (int)x;
    } else if (strcmp(name, "cors-origins") == 0) {
        set_origins(c, v);
    } else if (strcmp(name, "rate-limit") == 0) {
        if (parse_double(name, v, &c->rate))
            return -1;
    } else if (strcmp(name, "rate-burst") == 0) {
        if (parse_double(name, v, &c->burst))
            return -1;
    } else if (strcmp(name, "trust-proxy") == 0) {
        c->trust_proxy = parse_bool(v);
    } else if (strcmp(name, "no-result-cache") == 0) {
        c->no_result_cache = parse_bool(v);
    } else if (strcmp(name, "s3-virtual-host") == 0) {
        c->s3_virtual_host = parse_bool(v);
    } else if (strcmp(name, "insecure-cookies") == 0) {
        c->cookie_secure = !parse_bool(v);
    } else if (strcmp(name, "redis") == 0) {
        free(c->redis);
        c->redis = *v ? cmh_xstrdup(v) : NULL;
    } else if (strcmp(name, "redis-timeout") == 0) {
        if (parse_long(name, v, 1, 60000, &x))
            return -1;
        c->redis_timeout_ms = (int)x;
    } else if (strcmp(name, "metrics-token") == 0) {
        free(c->metrics_token);
        c->metrics_token = *v ? cmh_xstrdup(v) : NULL;
    } else if (strcmp(name, "log-level") == 0) {
        int l = cmh_log_level_parse(v);
        if (l < -1) {
            fprintf(stderr, "community-server: --log-level: error|warn|info|debug|off\n");
            return -1;
        }
        c->log_level = l;
    } else if (strcmp(name, "idempotency-ttl") == 0) {
        if (parse_long(name, v, 1, 7 * 86400, &x))
            return -1;
        c->idem_ttl_s = (int)x;
    } else {
        fprintf(stderr, "community-server: unknown option --%s (see --help)\n", name);
        return -1;
    }
    return 0;
}

static const struct {
    const char *env, *name;
} envs[] = {
    {"COMMUNITY_LISTEN", "listen"},
    {"COMMUNITY_DB", "db"},
    {"COMMUNITY_POOL_SIZE", "pool-size"},
    {"COMMUNITY_WORKERS", "workers"},
    {"COMMUNITY_PASSWORD_WORKERS", "password-workers"},
    {"COMMUNITY_MAX_BODY", "max-body"},
    {"COMMUNITY_MAX_UPLOAD", "max-upload"},
    {"COMMUNITY_UPLOADS_DIR", "uploads-dir"},
    {"COMMUNITY_S3_ENDPOINT", "s3-endpoint"},
    {"COMMUNITY_S3_BUCKET", "s3-bucket"},
    {"COMMUNITY_S3_REGION", "s3-region"},
    {"COMMUNITY_MAX_HEADER", "max-header"},
    {"COMMUNITY_MAX_HEADERS", "max-headers"},
    {"COMMUNITY_MAX_CONNECTIONS", "max-connections"},
    {"COMMUNITY_MAX_CONNECTIONS_PER_CLIENT", "max-connections-per-client"},
    {"COMMUNITY_READ_TIMEOUT_MS", "read-timeout"},
    {"COMMUNITY_IDLE_TIMEOUT_MS", "idle-timeout"},
    {"COMMUNITY_WRITE_TIMEOUT_MS", "write-timeout"},
    {"COMMUNITY_SHUTDOWN_TIMEOUT_MS", "shutdown-timeout"},
    {"COMMUNITY_CORS_ORIGINS", "cors-origins"},
    {"COMMUNITY_RATE_LIMIT", "rate-limit"},
    {"COMMUNITY_RATE_BURST", "rate-burst"},
    {"COMMUNITY_TRUST_PROXY", "trust-proxy"},
    {"COMMUNITY_NO_RESULT_CACHE", "no-result-cache"},
    {"COMMUNITY_S3_VIRTUAL_HOST", "s3-virtual-host"},
    {"COMMUNITY_METRICS_TOKEN", "metrics-token"},
    {"COMMUNITY_REDIS", "redis"},
    {"COMMUNITY_REDIS_TIMEOUT_MS", "redis-timeout"},
    {"COMMUNITY_LOG_LEVEL", "log-level"},
    {"COMMUNITY_IDEMPOTENCY_TTL", "idempotency-ttl"},
};

int cmh_config_load(cmh_config *c, int argc, char **argv)
{
    cmh_config_defaults(c);
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        const char *v = getenv(envs[i].env);
        if (v && *v && apply(c, envs[i].name, v))
            return -1;
    }
    const char *cs = getenv("COMMUNITY_COOKIE_SECURE");
    if (cs && *cs)
        c->cookie_secure = parse_bool(cs);
    /* S3 credentials come from the environment only (never argv, which
     * other users of the machine can read) */
    static const struct {
        const char *a, *b;
        size_t off;
    } creds[] = {
        {"COMMUNITY_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID", offsetof(cmh_config, s3_access_key)},
        {"COMMUNITY_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY", offsetof(cmh_config, s3_secret_key)},
        {"COMMUNITY_S3_SESSION_TOKEN", "AWS_SESSION_TOKEN", offsetof(cmh_config, s3_session_token)},
    };
    for (size_t i = 0; i < sizeof creds / sizeof creds[0]; i++) {
        const char *v = getenv(creds[i].a);
        if (!v || !*v)
            v = getenv(creds[i].b);
        if (v && *v)
            *(char **)((char *)c + creds[i].off) = cmh_xstrdup(v);
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (strcmp(a, "--version") == 0) {
            printf("community-server (libcommunity %s)\n", cm_version_string());
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "community-server: unexpected argument '%s' (see --help)\n", a);
            return -1;
        }
        char name[64];
        const char *eq = strchr(a, '=');
        const char *v;
        size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nl >= sizeof name) {
            fprintf(stderr, "community-server: unknown option %s\n", a);
            return -1;
        }
        memcpy(name, a + 2, nl);
        name[nl] = '\0';
        if (strcmp(name, "trust-proxy") == 0 || strcmp(name, "insecure-cookies") == 0 ||
            strcmp(name, "no-result-cache") == 0 || strcmp(name, "s3-virtual-host") == 0) {
            v = eq ? eq + 1 : "1";
        } else if (eq) {
            v = eq + 1;
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            fprintf(stderr, "community-server: --%s needs a value\n", name);
            return -1;
        }
        if (apply(c, name, v))
            return -1;
    }
    if (c->burst <= 0)
        c->burst = c->rate * 2 < 1 ? 1 : c->rate * 2;
    if (c->pool_size == 0)
        c->pool_size = c->workers;
    if (c->password_workers == 0)
        c->password_workers = c->workers / 4 > 1 ? c->workers / 4 : 1;
    if (c->password_workers > c->workers)
        c->password_workers = c->workers;
    /* The cap counts TCP peers. Behind a proxy every connection comes from
     * one of its nodes, so by default there is no cap there (X-Forwarded-For
     * cannot be used: connections carry many clients' requests). */
    if (c->max_conn_per_client < 0)
        c->max_conn_per_client = c->trust_proxy ? 0 : 256;
    return 0;
}
