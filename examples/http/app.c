/*
 * app.c - request handling of community-server (see app.h): host
 * endpoints, routing to operations, authentication transport (bearer
 * token or session cookie + CSRF), CORS, rate limiting, Idempotency-Key,
 * status mapping and RFC 9457 problem details.
 */
#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "jlog.h"
#include "openapi.h"
#include "ratelimit.h"
#include "redis.h"

struct cmh_app {
    const cmh_config *cfg;
    cm_store *store;
    cmh_router router;
    char *openapi;
    size_t openapi_len;
    cmh_metrics *metrics;
    cmh_ratelimit *rl;
    cmh_redis *redis; /* NULL without COMMUNITY_REDIS */
    bool draining;
    /* Tests only (CMH_TEST_CRASH_AFTER_COMMIT=1 in the environment): the
     * process kills itself once an operation with an Idempotency-Key has
     * committed, before its answer leaves, as a host that dies there. */
    bool crash_after_commit;
    char id_prefix[12];
    uint64_t id_counter;
    int slot_healthz, slot_readyz, slot_metrics, slot_openapi, slot_preflight, slot_unmatched,
        slot_download;
};

#define SESSION_COOKIE "cm_session"
#define CSRF_COOKIE "cm_csrf"
#define PROBLEM_JSON "application/problem+json"
/* Retry-After (s) when the storage cannot take writes: not a matter of a
 * busy second, someone must free space or fail over. */
#define UNAVAILABLE_RETRY "30"
#define JSON "application/json"

static const char *const host_query_params[] = {"cookie", NULL};

static bool is_host_query_param(const char *k)
{
    for (const char *const *p = host_query_params; *p; p++)
        if (strcmp(*p, k) == 0)
            return true;
    return false;
}

/* The origin-form part ("/path?query") of a request-target; absolute-form
 * is accepted (RFC 9112 3.2.2). */
static const char *origin_form(const char *t)
{
    if (strncmp(t, "http://", 7) == 0 || strncmp(t, "https://", 8) == 0) {
        t = strchr(t + (t[4] == 's' ? 8 : 7), '/'); /* "http://" alone has 7 bytes */
        if (!t)
            t = "/";
    }
    return t;
}

/* ---- construction ---------------------------------------------------- */

cmh_app *cmh_app_new(const cmh_config *cfg, cm_store *store, char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        (void)snprintf(err, errlen, "libsodium failed to initialise");
        return NULL;
    }
    cmh_app *app = cmh_xcalloc(1, sizeof *app);
    app->cfg = cfg;
    app->store = store;
    const char *crash = getenv("CMH_TEST_CRASH_AFTER_COMMIT");
    app->crash_after_commit = crash && strcmp(crash, "1") == 0;
    char *desc = NULL;
    int rc = cm_ops_describe(&desc);
    if (rc) {
        (void)snprintf(err, errlen, "cm_ops_describe: %s", cm_error_message());
        free(app);
        return NULL;
    }
    rc = cmh_router_build(&app->router, desc, err, errlen);
    cm_free(desc);
    if (rc) {
        cmh_router_free(&app->router);
        free(app);
        return NULL;
    }
    app->openapi = openapi_build(&app->router, cm_version_string(), &app->openapi_len);
    int n = app->router.n;
    app->slot_healthz = n;
    app->slot_readyz = n + 1;
    app->slot_metrics = n + 2;
    app->slot_openapi = n + 3;
    app->slot_preflight = n + 4;
    app->slot_unmatched = n + 5;
    app->slot_download = n + 6;
    app->metrics = cmh_metrics_new(n + 7);
    for (int i = 0; i < n; i++)
        cmh_metrics_slot(app->metrics, i, app->router.routes[i].path);
    cmh_metrics_slot(app->metrics, app->slot_healthz, "/healthz");
    cmh_metrics_slot(app->metrics, app->slot_readyz, "/readyz");
    cmh_metrics_slot(app->metrics, app->slot_metrics, "/metrics");
    cmh_metrics_slot(app->metrics, app->slot_openapi, "/openapi.json");
    cmh_metrics_slot(app->metrics, app->slot_preflight, "preflight");
    cmh_metrics_slot(app->metrics, app->slot_unmatched, "unmatched");
    cmh_metrics_slot(app->metrics, app->slot_download, "/v1/attachments/{attachment_id}/{part}");
    cmh_metrics_gauges(app->metrics)->start_time = (double)time(NULL);
    app->rl = cmh_ratelimit_new(cfg->rate, cfg->burst, 65536);
    if (cfg->redis) {
        app->redis = cmh_redis_new(cfg->redis, cfg->redis_timeout_ms, cfg->workers, err, errlen);
        if (!app->redis) {
            cmh_app_free(app);
            return NULL;
        }
    }
    unsigned char r[4];
    cmh_random(r, sizeof r);
    cmh_hex(app->id_prefix, r, sizeof r);
    return app;
}

void cmh_app_free(cmh_app *app)
{
    if (!app)
        return;
    cmh_router_free(&app->router);
    free(app->openapi);
    cmh_metrics_free(app->metrics);
    cmh_ratelimit_free(app->rl);
    cmh_redis_free(app->redis);
    free(app);
}

void cmh_app_set_draining(cmh_app *app, bool draining)
{
    app->draining = draining;
}

bool cmh_app_draining(const cmh_app *app)
{
    return app->draining;
}

bool cmh_app_password_work(const cmh_exchange *ex)
{
    return ex->kind == CMH_K_OP && ex->route && ex->route->password_hashing;
}

cmh_gauges *cmh_app_gauges(cmh_app *app)
{
    return cmh_metrics_gauges(app->metrics);
}

const char *cmh_app_openapi(const cmh_app *app)
{
    return app->openapi;
}

/* ---- responses -------------------------------------------------------- */

int cmh_status_for(int code, const char *field)
{
    switch (code) {
        case CM_OK:
            return 200;
        case CM_EINVAL:
        case CM_ERANGE:
            return field && *field ? 422 : 400;
        case CM_EAUTH:
            return 401;
        case CM_EPERM:
            return 403;
        case CM_ENOTFOUND:
        case CM_EUNKNOWNOP:
            return 404;
        case CM_EEXISTS:
        case CM_ECONFLICT:
        case CM_ECONSTRAINT:
            return 409;
        case CM_EBUSY:
        case CM_EUNAVAILABLE:
        case CM_ENOTSUP: /* a feature this deployment has not configured */
            return 503;
        case CM_ETIMEOUT:
            return 504;
        case CM_ETHROTTLED:
            return 429;
        default:
            return 500;
    }
}

static const char *reason_phrase(int status)
{
    switch (status) {
        case 100:
            return "Continue";
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 204:
            return "No Content";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 413:
            return "Content Too Large";
        case 415:
            return "Unsupported Media Type";
        case 417:
            return "Expectation Failed";
        case 422:
            return "Unprocessable Content";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 499:
            return "Client Closed Request";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

static void set_body(cmh_response *r, char *body, size_t len, const char *type)
{
    free(r->body);
    r->body = body;
    r->body_len = len;
    r->content_type = type;
}

static void set_body_copy(cmh_response *r, const char *body, size_t len, const char *type)
{
    set_body(r, cmh_xstrndup(body, len), len, type);
}

static void header(cmh_response *r, const char *name, const char *value)
{
    cmh_buf_puts(&r->headers, name);
    cmh_buf_puts(&r->headers, ": ");
    cmh_buf_puts(&r->headers, value);
    cmh_buf_puts(&r->headers, "\r\n");
}

/*
 * An RFC 9457 problem: type, title, status, detail, code, field (when the
 * error concerns one input field) and the request id. `code` is a CM_E*
 * name, or an HTTP_* name for failures detected by the host itself.
 */
static void problem(cmh_exchange *ex, int status, const char *code, const char *title,
                    const char *detail, const char *field)
{
    cmh_response *r = &ex->resp;
    r->status = status;
    cmh_buf b = {0};
    cmh_buf_puts(&b, "{\"type\":");
    char type[96];
    (void)snprintf(type, sizeof type, "urn:community:problem:%s", code);
    cmh_buf_json_str(&b, type);
    cmh_buf_puts(&b, ",\"title\":");
    cmh_buf_json_str(&b, title);
    cmh_buf_printf(&b, ",\"status\":%d,\"detail\":", status);
    cmh_buf_json_str(&b, detail);
    cmh_buf_puts(&b, ",\"code\":");
    cmh_buf_json_str(&b, code);
    if (field && *field) {
        cmh_buf_puts(&b, ",\"field\":");
        cmh_buf_json_str(&b, field);
    }
    cmh_buf_puts(&b, ",\"request_id\":");
    cmh_buf_json_str(&b, ex->request_id);
    cmh_buf_putc(&b, '}');
    size_t n;
    char *body = cmh_buf_steal(&b, &n);
    set_body(r, body, n, PROBLEM_JSON);
}

/* A problem from a library status code and its detail. Server errors get
 * a generic detail (the real one goes to the log, with the request id). */
static void problem_from_code(cmh_exchange *ex, int code, const char *msg, const char *field)
{
    int status = cmh_status_for(code, field);
    const char *detail = msg && *msg ? msg : cm_strerror(code);
    if (code == CM_EUNAVAILABLE) {
        /* disk full, read-only database: the operator must act; the
         * client may retry later */
        cmh_log(CMH_LOG_ERROR, "storage cannot take writes", "request_id=%s: %s", ex->request_id,
                detail);
        detail = "the database cannot take writes now (disk full or read-only); retry later";
    } else if (code == CM_ENOTSUP) {
        /* e.g. SNS notifications without COMMUNITY_SNS_CERT_URL_PREFIXES:
         * the detail says what is missing; the operator must set it */
        cmh_log(CMH_LOG_WARN, "not configured", "request_id=%s: %s", ex->request_id, detail);
    } else if (status >= 500 && status != 503 && status != 504) {
        cmh_log(CMH_LOG_ERROR, "library error", "request_id=%s code=%s: %s", ex->request_id,
                cm_status_name(code), detail);
        detail = "internal error; the request id identifies it in the server log";
    }
    problem(ex, status, cm_status_name(code), cm_strerror(code), detail, field);
    if (status == 401) {
        header(&ex->resp, "WWW-Authenticate",
               ex->token ? "Bearer realm=\"community\", error=\"invalid_token\""
                         : "Bearer realm=\"community\"");
    } else if (status == 503 && code != CM_ENOTSUP) {
        header(&ex->resp, "Retry-After", code == CM_EUNAVAILABLE ? UNAVAILABLE_RETRY : "1");
    } else if (code == CM_ETHROTTLED) {
        char ra[24];
        (void)snprintf(ra, sizeof ra, "%lld",
                       (long long)(ex->retry_after > 0 ? ex->retry_after : 1));
        header(&ex->resp, "Retry-After", ra);
        cmh_app_gauges(ex->app)->rate_limited_total++;
    }
}

static void json_response(cmh_exchange *ex, int status, const char *body)
{
    ex->resp.status = status;
    set_body_copy(&ex->resp, body, strlen(body), JSON);
}

/* ---- request helpers --------------------------------------------------- */

static bool valid_request_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':' || c == '=' || c == '+' || c == '/'))
            return false;
    }
    return true;
}

static void assign_request_id(cmh_exchange *ex)
{
    const char *in = cmh_req_header(ex->req, "x-request-id"); /* every exchange has a request */
    if (in && valid_request_id(in)) {
        (void)snprintf(ex->request_id, sizeof ex->request_id, "%s", in);
        return;
    }
    (void)snprintf(ex->request_id, sizeof ex->request_id, "%s-%010llx", ex->app->id_prefix,
                   (unsigned long long)++ex->app->id_counter);
}

/* The value of cookie `name` in the Cookie header(s), or NULL (caller
 * frees). */
static char *cookie_get(const cmh_request *r, const char *name)
{
    size_t nl = strlen(name);
    for (int i = 0; i < r->n_headers; i++) {
        if (strcmp(r->headers[i].name, "cookie") != 0)
            continue;
        const char *p = r->headers[i].value;
        while (*p) {
            while (*p == ' ' || *p == ';')
                p++;
            const char *e = strchr(p, ';');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
                const char *v = p + nl + 1;
                size_t vl = n - nl - 1;
                if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"')
                    v++, vl -= 2;
                return cmh_xstrndup(v, vl);
            }
            p += n;
        }
    }
    return NULL;
}

static void client_address(cmh_exchange *ex)
{
    (void)snprintf(ex->client, sizeof ex->client, "%s", ex->req->peer[0] ? ex->req->peer : "-");
    if (!ex->app->cfg->trust_proxy)
        return;
    const char *xff = NULL;
    for (int i = 0; i < ex->req->n_headers; i++) /* the last one a proxy appended */
        if (strcmp(ex->req->headers[i].name, "x-forwarded-for") == 0)
            xff = ex->req->headers[i].value;
    if (!xff)
        return;
    const char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    while (*last == ' ')
        last++;
    size_t n = strcspn(last, " ");
    if (n > 0 && n < sizeof ex->client)
        (void)snprintf(ex->client, sizeof ex->client, "%.*s", (int)n, last);
}

static bool is_unsafe(const char *m)
{
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0 ||
           strcmp(m, "DELETE") == 0;
}

/* Same origin: Origin equals scheme://Host for http or https. */
static bool same_origin(const cmh_request *r, const char *origin)
{
    const char *host = cmh_req_header(r, "host");
    if (!host)
        return false;
    const char *rest = NULL;
    if (strncmp(origin, "https://", 8) == 0)
        rest = origin + 8;
    else if (strncmp(origin, "http://", 7) == 0)
        rest = origin + 7;
    return rest && cmh_strieq(rest, host);
}

static bool origin_acceptable(const cmh_exchange *ex)
{
    const char *origin = cmh_req_header(ex->req, "origin");
    if (!origin)
        return true; /* not a browser cross-site request, or an old browser: token decides */
    if (strcmp(origin, "null") == 0)
        return false;
    /* "*" in --cors-origins lets any origin read, never use the cookies */
    return same_origin(ex->req, origin) || cmh_config_origin_listed(ex->app->cfg, origin);
}

/* The session's CSRF token: hex HMAC-SHA256 keyed by the session token
 * (out: 65 bytes). The same for the session's whole life, on every host. */
static void csrf_token(char out[65], const char *session_token)
{
    static const char label[] = "cm_csrf/v1";
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)session_token, strlen(session_token));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)label, sizeof label - 1);
    crypto_auth_hmacsha256_final(&st, mac);
    cmh_hex(out, mac, sizeof mac);
    sodium_memzero(mac, sizeof mac);
    sodium_memzero(&st, sizeof st);
}

static bool token_chars_ok(const char *t)
{
    if (!*t || strlen(t) > 512)
        return false;
    for (const char *p = t; *p; p++)
        if (*p <= ' ' || *p >= 127 || *p == ';' || *p == ',' || *p == '"' || *p == '\\')
            return false;
    return true;
}

static bool valid_idem_key(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 255)
        return false;
    for (const char *p = k; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return false;
    return true;
}

/* ---- step 1: begin --------------------------------------------------- */

static cmh_exchange *exchange_new(cmh_app *app, cmh_request *req)
{
    cmh_exchange *ex = cmh_xcalloc(1, sizeof *ex);
    ex->app = app;
    ex->req = req;
    ex->idem_state = -1;
    ex->slot = app->slot_unmatched;
    ex->resp.cache = "no-store";
    cmh_app_gauges(app)->in_flight++;
    return ex;
}

static void preflight(cmh_exchange *ex, const char *path, size_t path_len)
{
    cmh_app *app = ex->app;
    char allow[96];
    ex->slot = app->slot_preflight;
    if (path_len == 1 && path[0] == '*') {
        ex->resp.status = 204;
        header(&ex->resp, "Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
        return;
    }
    cmh_router_allow(&app->router, path, path_len, allow, sizeof allow);
    if (!allow[0]) {
        static const char *const host_paths[] = {"/healthz", "/readyz", "/metrics",
                                                 "/openapi.json"};
        for (size_t i = 0; i < 4; i++)
            if (strlen(host_paths[i]) == path_len && memcmp(host_paths[i], path, path_len) == 0)
                (void)snprintf(allow, sizeof allow, "GET, HEAD");
    }
    if (!allow[0]) {
        problem(ex, 404, "CM_EUNKNOWNOP", "unknown operation", "no route has this path", NULL);
        return;
    }
    ex->resp.status = 204;
    char allow_all[112];
    (void)snprintf(allow_all, sizeof allow_all, "%s, OPTIONS", allow);
    header(&ex->resp, "Allow", allow_all);
    if (ex->cors && cmh_req_header(ex->req, "access-control-request-method")) {
        header(&ex->resp, "Access-Control-Allow-Methods", allow_all);
        header(&ex->resp, "Access-Control-Allow-Headers",
               "Authorization, Content-Type, Idempotency-Key, X-CSRF-Token, X-Request-Id, "
               "X-Session-Cookie");
        header(&ex->resp, "Access-Control-Max-Age", "600");
    }
}

/* /healthz, /readyz, /metrics, /openapi.json. Returns true if handled. */
static bool host_route(cmh_exchange *ex, const char *method, const char *path, size_t n)
{
    cmh_app *app = ex->app;
#define IS(p) (n == sizeof(p) - 1 && memcmp(path, p, n) == 0)
    int slot = IS("/healthz")        ? app->slot_healthz
               : IS("/readyz")       ? app->slot_readyz
               : IS("/metrics")      ? app->slot_metrics
               : IS("/openapi.json") ? app->slot_openapi
                                     : -1;
#undef IS
    if (slot < 0)
        return false;
    ex->slot = slot;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        problem(ex, 405, "HTTP_METHOD_NOT_ALLOWED", "method not allowed",
                "this endpoint answers GET and HEAD", NULL);
        header(&ex->resp, "Allow", "GET, HEAD");
        return true;
    }
    if (slot == app->slot_healthz) {
        json_response(ex, 200, "{\"status\":\"ok\"}");
    } else if (slot == app->slot_openapi) {
        ex->resp.status = 200;
        set_body_copy(&ex->resp, app->openapi, app->openapi_len, JSON);
        ex->resp.cache = "public, max-age=300";
    } else if (slot == app->slot_readyz) {
        if (app->draining) {
            json_response(ex, 503, "{\"status\":\"draining\"}");
        } else {
            ex->kind = CMH_K_READYZ;
            ex->needs_work = true;
        }
    } else {
        const char *want = app->cfg->metrics_token;
        const char *auth = cmh_req_header(ex->req, "authorization");
        if (want && (!auth || strncmp(auth, "Bearer ", 7) != 0 || !cmh_ct_streq(auth + 7, want))) {
            problem(ex, 401, "CM_EAUTH", cm_strerror(CM_EAUTH), "/metrics needs its bearer token",
                    NULL);
            header(&ex->resp, "WWW-Authenticate", "Bearer realm=\"metrics\"");
        } else {
            ex->kind = CMH_K_METRICS;
            ex->needs_work = true;
        }
    }
    return true;
}

/* Bearer token or session cookie. Returns false (response set) when the
 * Authorization header is unusable. */
static bool credentials(cmh_exchange *ex)
{
    const char *auth = cmh_req_header(ex->req, "authorization");
    if (auth) {
        if (cmh_req_header_count(ex->req, "authorization") != 1 ||
            !cmh_strnieq(auth, "bearer ", 7) || !token_chars_ok(auth + 7)) {
            problem(ex, 401, "CM_EAUTH", cm_strerror(CM_EAUTH),
                    "use 'Authorization: Bearer <session token>'", NULL);
            header(&ex->resp, "WWW-Authenticate", "Bearer realm=\"community\"");
            return false;
        }
        ex->token = cmh_xstrdup(auth + 7);
        return true;
    }
    char *c = cookie_get(ex->req, SESSION_COOKIE);
    if (c && token_chars_ok(c)) {
        ex->token = c;
        ex->cookie_auth = true;
    } else {
        free(c);
    }
    return true;
}

/*
 * CSRF for cookie-authenticated unsafe requests: the X-CSRF-Token header
 * must equal the session's CSRF token, HMAC-SHA256(key = the session
 * token, "cm_csrf/v1") in hex, compared in constant time. Only a page that
 * was given the token at sign-in (in the X-CSRF-Token response header and
 * the readable cm_csrf cookie) can send it: a cross-site page can neither
 * read it nor compute it, and a cm_csrf cookie planted by an attacker is
 * ignored. An Origin header, when sent, must be this site or a listed
 * origin.
 */
static bool csrf_ok(cmh_exchange *ex)
{
    if (!ex->token || !origin_acceptable(ex)) /* no session: nothing to protect */
        return false;
    const char *hdr = cmh_req_header(ex->req, "x-csrf-token");
    if (!hdr || cmh_req_header_count(ex->req, "x-csrf-token") != 1)
        return false;
    char want[65];
    csrf_token(want, ex->token);
    bool ok = cmh_ct_streq(hdr, want);
    sodium_memzero(want, sizeof want);
    return ok;
}

static bool wants_cookie(const cmh_exchange *ex, const char *query)
{
    const char *h = cmh_req_header(ex->req, "x-session-cookie");
    if (h && (strcmp(h, "1") == 0 || cmh_strieq(h, "true")))
        return true;
    char *q = cmh_query_get(query, "cookie");
    bool w = q && (strcmp(q, "1") == 0 || strcmp(q, "true") == 0);
    free(q);
    return w;
}

/* Rate limit: an IP whose bucket is empty (e.g. many bad tokens) is
 * refused outright; otherwise the bucket is the session's, or the IP's for
 * anonymous callers. Returns true (429 set) when the request is refused. */
static bool rate_limited(cmh_exchange *ex)
{
    cmh_app *app = ex->app;
    uint64_t now = cmh_mono_ns();
    char key[96];
    int wait = 0;
    (void)snprintf(key, sizeof key, "ip:%s", ex->client);
    if (ex->token && cmh_ratelimit_empty(app->rl, key, now)) {
        wait = 1;
    } else if (ex->token) {
        cmh_buf k = {0};
        cmh_buf_puts(&k, "tok:");
        cmh_buf_puts(&k, ex->token);
        wait = cmh_ratelimit_take(app->rl, k.p, now);
        if (!wait && app->redis && app->cfg->rate > 0)
            ex->rl_key = cmh_buf_steal(&k, NULL);
        cmh_buf_free(&k);
    } else {
        wait = cmh_ratelimit_take(app->rl, key, now);
        if (!wait && app->redis && app->cfg->rate > 0)
            ex->rl_key = cmh_xstrdup(key);
    }
    if (!wait)
        return false;
    char ra[16];
    (void)snprintf(ra, sizeof ra, "%d", wait);
    problem(ex, 429, "HTTP_RATE_LIMITED", "too many requests",
            "rate limit exceeded; retry after the Retry-After delay", NULL);
    header(&ex->resp, "Retry-After", ra);
    cmh_app_gauges(app)->rate_limited_total++;
    return true;
}

/*
 * GET (or HEAD) /v1/attachments/{id}/content and .../thumbnail: the stored
 * bytes of an attachment, for whoever attachments.get lets see it. The id
 * is all that is taken from the path (digits only); the library reads the
 * object under the key it made. Returns true when the path is one of
 * these (the response or the work is then set).
 */
static bool download_route(cmh_exchange *ex, const char *method, const char *path, size_t n)
{
    static const char prefix[] = "/v1/attachments/";
    size_t pl = sizeof prefix - 1;
    if (n <= pl || memcmp(path, prefix, pl) != 0)
        return false;
    size_t d = pl;
    int64_t id = 0;
    while (d < n && path[d] >= '0' && path[d] <= '9' && d - pl < 18)
        id = id * 10 + (path[d++] - '0');
    size_t rest = n - d;
    bool thumb = rest == 10 && memcmp(path + d, "/thumbnail", 10) == 0;
    if (d == pl || id <= 0 || !(thumb || (rest == 8 && memcmp(path + d, "/content", 8) == 0)))
        return false;
    ex->slot = ex->app->slot_download;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        problem(ex, 405, "HTTP_METHOD_NOT_ALLOWED", "method not allowed",
                "this endpoint answers GET and HEAD", NULL);
        header(&ex->resp, "Allow", "GET, HEAD");
        return true;
    }
    if (!credentials(ex) || rate_limited(ex))
        return true;
    ex->download_id = id;
    ex->download_thumbnail = thumb;
    ex->kind = CMH_K_DOWNLOAD;
    ex->needs_work = true;
    return true;
}

/* Route an operation request: everything up to handing it to a worker. */
static void op_route(cmh_exchange *ex, const char *method, const char *path, size_t path_len,
                     const char *query)
{
    cmh_app *app = ex->app;
    cmh_match m;
    int st = cmh_router_match(&app->router, method, path, path_len, &m);
    if (st == 404) {
        problem(ex, 404, "CM_EUNKNOWNOP", "unknown operation",
                "no operation has this path (GET /openapi.json lists them)", NULL);
        return;
    }
    if (st == 405) {
        problem(ex, 405, "HTTP_METHOD_NOT_ALLOWED", "method not allowed",
                "this path does not accept this method", NULL);
        header(&ex->resp, "Allow", m.allow);
        return;
    }
    if (st == 400) {
        problem(ex, 400, "CM_EINVAL", cm_strerror(CM_EINVAL),
                "a path parameter has a malformed percent-encoding", NULL);
        return;
    }
    const cmh_route *rt = m.route;
    ex->route = rt;
    ex->slot = rt->id;
    bool unsafe = is_unsafe(rt->method);

    if (!credentials(ex))
        goto out;

    if (rate_limited(ex))
        goto out;

    if (ex->cookie_auth && unsafe && !csrf_ok(ex)) {
        problem(ex, 403, "HTTP_CSRF_FAILED", "CSRF check failed",
                "cookie-authenticated requests that change state need the X-CSRF-Token header "
                "(the value of the cm_csrf cookie) and a same-site or allowed Origin",
                NULL);
        goto out;
    }
    if (unsafe && wants_cookie(ex, query)) {
        if (!origin_acceptable(ex)) {
            problem(ex, 403, "HTTP_CSRF_FAILED", "CSRF check failed",
                    "a session cookie is only set for this site or an allowed Origin", NULL);
            goto out;
        }
        ex->want_cookie = true;
    }

    json_t *in;
    cmh_input_err ierr;
    if (cmh_build_input(rt, &m, query, ex->req, host_query_params, &in, &ierr)) {
        problem(ex, ierr.status, ierr.code,
                ierr.status == 415 ? "unsupported media type" : cm_strerror(CM_EINVAL), ierr.detail,
                ierr.field);
        goto out;
    }
    /* Cookie sessions: logging out without a body ends the cookie's session. */
    if (ex->cookie_auth && strcmp(rt->op, "auth.logout") == 0 && !json_object_get(in, "token"))
        json_object_set_new(in, "token", json_string(ex->token));

    const char *accept = cmh_req_header(ex->req, "accept");
    ex->stream = rt->stream && accept && strstr(accept, "text/event-stream");
    const char *ik = cmh_req_header(ex->req, "idempotency-key");
    if (ik && unsafe && ex->stream) {
        json_decref(in);
        problem(ex, 400, "CM_EINVAL", cm_strerror(CM_EINVAL),
                "a streamed answer (Accept: text/event-stream) cannot be replayed: send it "
                "without Idempotency-Key",
                "Idempotency-Key");
        goto out;
    }
    if (ik && unsafe) {
        if (!valid_idem_key(ik) || cmh_req_header_count(ex->req, "idempotency-key") != 1) {
            json_decref(in);
            problem(ex, 400, "CM_EINVAL", cm_strerror(CM_EINVAL),
                    "Idempotency-Key must be 1-255 visible ASCII characters, sent once",
                    "Idempotency-Key");
            goto out;
        }
        ex->idem_key = cmh_xstrdup(ik);
        /* the request a key stands for: method, path and input (path
         * parameters, query and body, keys sorted) */
        char *canon = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
        unsigned char h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256_state hs;
        crypto_hash_sha256_init(&hs);
        crypto_hash_sha256_update(&hs, (const unsigned char *)method, strlen(method));
        crypto_hash_sha256_update(&hs, (const unsigned char *)" ", 1);
        crypto_hash_sha256_update(&hs, (const unsigned char *)path, path_len);
        crypto_hash_sha256_update(&hs, (const unsigned char *)"\n", 1);
        crypto_hash_sha256_update(&hs, (const unsigned char *)canon, strlen(canon));
        crypto_hash_sha256_final(&hs, h);
        sodium_bin2hex(ex->idem_hash, sizeof ex->idem_hash, h, sizeof h);
        free(canon); /* dep-alloc: jansson's default allocator is malloc */
    }
    ex->input = json_dumps(in, JSON_COMPACT);
    ex->input_len = strlen(ex->input);
    json_decref(in);
    ex->kind = CMH_K_OP;
    ex->needs_work = true;
out:
    cmh_match_clear(&m);
}

/* The request's server span, child of the caller's `traceparent` (sent
 * once; several are ignored, as W3C Trace Context says). Its name is the
 * route template, never the path's values; the path goes without its
 * query. The host endpoints (health, readiness, metrics, OpenAPI), which
 * load balancers and Prometheus call every few seconds, get none. */
static void trace_begin(cmh_exchange *ex, const char *path, size_t path_len)
{
    if (!cm_trace_enabled())
        return;
    const char *tp = cmh_req_header_count(ex->req, "traceparent") == 1
                         ? cmh_req_header(ex->req, "traceparent")
                         : NULL;
    const char *route = cmh_metrics_slot_label(ex->app->metrics, ex->slot);
    char name[256];
    (void)snprintf(name, sizeof name, "%s %s", ex->req->method, route);
    if (cm_span_begin(&ex->span, name, CM_SPAN_SERVER, tp) != CM_OK || !ex->span)
        return;
    char *p = cmh_xstrndup(path, path_len);
    cm_span_set_str(ex->span, "http.request.method", ex->req->method);
    cm_span_set_str(ex->span, "http.route", route);
    cm_span_set_str(ex->span, "url.path", p);
    cm_span_set_str(ex->span, "client.address", ex->client);
    cm_span_set_str(ex->span, "cm.request_id", ex->request_id);
    if (ex->route)
        cm_span_set_str(ex->span, "cm.operation", ex->route->op);
    free(p);
}

cmh_exchange *cmh_app_begin(cmh_app *app, cmh_request *req)
{
    cmh_exchange *ex = exchange_new(app, req);
    assign_request_id(ex);
    client_address(ex);
    ex->resp.head = strcmp(req->method, "HEAD") == 0;
    if (req->upgrade || !req->keep_alive || app->draining)
        ex->resp.close = true;
    const char *origin = cmh_req_header(req, "origin");
    ex->cors = origin && cmh_config_origin_allowed(app->cfg, origin);

    const char *t = origin_form(req->target);
    size_t path_len = strcspn(t, "?#");
    const char *query = t[path_len] == '?' ? t + path_len + 1 : "";
    char *qcopy = cmh_xstrndup(query, strcspn(query, "#"));

    bool host = false;
    if (strcmp(req->method, "OPTIONS") == 0) {
        preflight(ex, t, path_len);
    } else if (t[0] != '/') {
        problem(ex, 400, "HTTP_BAD_REQUEST", "bad request", "the request-target must be a path",
                NULL);
    } else if (!(host = host_route(ex, req->method, t, path_len)) &&
               !download_route(ex, req->method, t, path_len)) {
        op_route(ex, req->method, t, path_len, qcopy);
    }
    free(qcopy);
    if (!host)
        trace_begin(ex, t, path_len);
    return ex;
}

cmh_exchange *cmh_app_reject(cmh_app *app, int status, const char *reason, const char *peer,
                             uint64_t start_ns)
{
    cmh_request *req = cmh_xcalloc(1, sizeof *req);
    (void)snprintf(req->method, sizeof req->method, "-");
    req->target = cmh_xstrdup("-");
    (void)snprintf(req->peer, sizeof req->peer, "%s", peer ? peer : "");
    req->start_ns = start_ns ? start_ns : cmh_mono_ns();
    cmh_exchange *ex = exchange_new(app, req);
    assign_request_id(ex);
    client_address(ex);
    ex->resp.close = true;
    const char *code = status == 413   ? "HTTP_CONTENT_TOO_LARGE"
                       : status == 431 ? "HTTP_HEADERS_TOO_LARGE"
                       : status == 408 ? "HTTP_REQUEST_TIMEOUT"
                       : status == 501 ? "HTTP_NOT_IMPLEMENTED"
                       : status == 505 ? "HTTP_VERSION_NOT_SUPPORTED"
                       : status == 417 ? "HTTP_EXPECTATION_FAILED"
                                       : "HTTP_BAD_REQUEST";
    problem(ex, status, code, reason_phrase(status), reason, NULL);
    cmh_app_gauges(app)->parse_errors_total++;
    return ex;
}

/* ---- step 2: work (worker thread) ------------------------------------ */

static void capture_error(cmh_exchange *ex, int rc)
{
    ex->rc = rc;
    ex->err_msg = cmh_xstrdup(cm_error_message());
    ex->err_field = cmh_xstrdup(cm_error_field());
    ex->retry_after = cm_error_retry_after();
}

static void work(cmh_exchange *ex);

void cmh_app_work(cmh_exchange *ex)
{
    /* The library's spans (operation, SQL) become the request's children. */
    cm_span *prev = cm_trace_set_current(ex->span);
    work(ex);
    cm_trace_set_current(prev);
}

static void work(cmh_exchange *ex)
{
    cmh_app *app = ex->app;
    if (ex->kind == CMH_K_READYZ) {
        int rc = cm_store_ping_write(app->store);
        if (rc)
            capture_error(ex, rc);
        return;
    }
    if (ex->kind == CMH_K_METRICS) {
        cm_actor *sys = NULL;
        int rc = cm_actor_system(&sys);
        if (rc == CM_OK)
            rc = cm_exec(&ex->out, app->store, sys, "metrics.get", NULL, 0);
        if (rc)
            capture_error(ex, rc);
        /* job queue depths, when the library has the jobs module */
        if (sys && cmh_router_find_op(&app->router, "jobs.stats") &&
            cm_exec(&ex->jobs_out, app->store, sys, "jobs.stats", NULL, 0) != CM_OK)
            ex->jobs_out = NULL;
        /* mail per kind, when the library has the mail module */
        if (sys && cmh_router_find_op(&app->router, "mail.stats") &&
            cm_exec(&ex->mail_out, app->store, sys, "mail.stats", NULL, 0) != CM_OK)
            ex->mail_out = NULL;
        /* the assistant's inference, when the library has the assistant */
        if (sys && cmh_router_find_op(&app->router, "assistant.stats") &&
            cm_exec(&ex->assistant_out, app->store, sys, "assistant.stats", NULL, 0) != CM_OK)
            ex->assistant_out = NULL;
        cm_actor_free(sys);
        return;
    }
    if (ex->kind == CMH_K_DOWNLOAD) {
        bool failed;
        if (ex->rl_key && (ex->rl_wait = cmh_redis_rate_take(app->redis, ex->rl_key, app->cfg->rate,
                                                             app->cfg->burst, &failed)))
            return;
        cm_actor *actor = NULL;
        int rc = ex->token ? cm_actor_from_session(&actor, app->store, ex->token) : CM_OK;
        if (rc == CM_OK) {
            ex->actor_id = actor ? cm_actor_member_id(actor) : 0;
            ex->actor_role = actor ? cm_actor_role(actor) : 0;
            rc = cm_attachment_read(&ex->file, &ex->file_len, &ex->file_type, &ex->file_etag,
                                    app->store, actor, ex->download_id, ex->download_thumbnail);
        }
        if (rc)
            capture_error(ex, rc);
        cm_actor_free(actor);
        return;
    }
    if (ex->kind != CMH_K_OP)
        return;
    if (ex->rl_key) {
        /* the global budget: one per client across every server */
        bool failed;
        ex->rl_wait =
            cmh_redis_rate_take(app->redis, ex->rl_key, app->cfg->rate, app->cfg->burst, &failed);
        if (ex->rl_wait)
            return;
    }
    cm_actor *actor = NULL;
    if (ex->token) {
        int rc = cm_actor_from_session(&actor, app->store, ex->token);
        if (rc) {
            ex->token_failed = rc == CM_EAUTH;
            capture_error(ex, rc);
            return;
        }
        ex->actor_id = cm_actor_member_id(actor);
        ex->actor_role = cm_actor_role(actor);
    }
    if (ex->idem_key) {
        if (actor)
            (void)snprintf(ex->idem_scope, sizeof ex->idem_scope, "member:%lld",
                           (long long)ex->actor_id);
        else
            (void)snprintf(ex->idem_scope, sizeof ex->idem_scope, "anon:%s", ex->client);
        int32_t status = 0;
        char *stored = NULL;
        size_t stored_len = 0;
        int rc = cm_idem_claim(&status, &stored, &stored_len, app->store, ex->idem_scope,
                               ex->idem_key, ex->idem_hash, CMH_IDEM_LEASE_US);
        if (rc < 0) {
            capture_error(ex, rc);
            cm_actor_free(actor);
            return;
        }
        if (rc == CM_IDEM_REPLAY && stored_len > 0 && stored[0] == '{') {
            /* an operation's result, stored in its transaction by
             * cm_idem_exec: rendered again as the first answer was */
            ex->out = stored;
            ex->replay_result = true;
            stored = NULL;
        } else if (rc == CM_IDEM_REPLAY &&
                   !cmh_stored_decode(&ex->replay, (int)status, stored, stored_len)) {
            cm_free(stored);
            cm_actor_free(actor);
            ex->rc = CM_ECORRUPT;
            ex->err_msg = cmh_xstrdup("the stored answer of this Idempotency-Key is unreadable");
            return;
        }
        cm_free(stored);
        ex->idem_state = rc;
        if (ex->idem_state != CM_IDEM_NEW) {
            cm_actor_free(actor);
            return;
        }
    }
    int rc;
    if (ex->idem_key) {
        /* the answer commits with the operation: a retry replays it */
        rc = cm_idem_exec(&ex->out, app->store, actor, ex->route->op, ex->input, ex->input_len,
                          ex->idem_scope, ex->idem_key, ex->idem_hash, ex->route->success_status,
                          (int64_t)app->cfg->idem_ttl_s * 1000000);
        if (rc == CM_ELEASE) {
            /* the claim lapsed and the key was answered or taken again:
             * nothing committed, the retry finds what the key holds */
            ex->idem_state = CM_IDEM_BUSY;
            cm_actor_free(actor);
            return;
        }
        if (rc == CM_OK) {
            ex->idem_done = true;
            if (app->crash_after_commit)
                (void)raise(SIGKILL);
        }
    } else {
        /* (a streamed answer never has a key: refused in op_route) */
        rc = ex->stream
                 ? cm_exec_stream(&ex->out, app->store, actor, ex->route->op, ex->input,
                                  ex->input_len, ex->on_event, ex->on_event_payload)
                 : cm_exec(&ex->out, app->store, actor, ex->route->op, ex->input, ex->input_len);
    }
    if (rc)
        capture_error(ex, rc);
    cm_actor_free(actor);
}

/* ---- step 3: after work (loop thread) --------------------------------- */

/* Seconds from now until an RFC 3339 UTC instant ("...Z"); -1 if unparsable. */
static long long seconds_until(const char *rfc3339)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, s;
    if (!rfc3339 || sscanf(rfc3339, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) != 6)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    long long diff = (long long)timegm(&tm) - (long long)time(NULL);
    return diff > 0 ? diff : 0;
}

static void set_cookies(cmh_exchange *ex, const char *token, long long max_age)
{
    const char *secure = ex->app->cfg->cookie_secure ? "; Secure" : "";
    char age[40] = "";
    if (max_age >= 0)
        (void)snprintf(age, sizeof age, "; Max-Age=%lld", max_age);
    char csrf[65];
    csrf_token(csrf, token);
    cmh_buf v = {0};
    cmh_buf_printf(&v, SESSION_COOKIE "=%s; Path=/%s; HttpOnly%s; SameSite=Lax", token, age,
                   secure);
    header(&ex->resp, "Set-Cookie", v.p);
    v.len = 0;
    cmh_buf_printf(&v, CSRF_COOKIE "=%s; Path=/%s%s; SameSite=Lax", csrf, age, secure);
    header(&ex->resp, "Set-Cookie", v.p);
    cmh_buf_free(&v);
    header(&ex->resp, "X-CSRF-Token", csrf);
}

static void clear_cookies(cmh_exchange *ex)
{
    const char *secure = ex->app->cfg->cookie_secure ? "; Secure" : "";
    char v[128];
    (void)snprintf(v, sizeof v, SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly%s; SameSite=Lax",
                   secure);
    header(&ex->resp, "Set-Cookie", v);
    (void)snprintf(v, sizeof v, CSRF_COOKIE "=; Path=/; Max-Age=0%s; SameSite=Lax", secure);
    header(&ex->resp, "Set-Cookie", v);
}

/*
 * Link: <path?...&cursor=next>; rel="next" for paginated GET results. The
 * link is rebuilt from decoded values, each percent-encoded again: no raw
 * request text reaches the header. The host's own query parameters and
 * the old cursor are left out.
 */
static void link_next(cmh_exchange *ex, const char *cursor)
{
    const char *t = origin_form(ex->req->target);
    size_t pl = strcspn(t, "?#");
    cmh_buf b = {0};
    bool ok = true;
    cmh_buf_puts(&b, "<");
    for (size_t i = 0; ok && i < pl && t[i] == '/';) {
        size_t n = strcspn(t + i + 1, "/?#");
        char *seg = cmh_url_decode(t + i + 1, n, false);
        ok = seg != NULL;
        cmh_buf_putc(&b, '/');
        if (seg)
            cmh_buf_pct(&b, seg);
        free(seg);
        i += n + 1;
    }
    char sep = '?';
    const char *q = t[pl] == '?' ? t + pl + 1 : NULL;
    while (ok && q && *q && *q != '#') {
        size_t n = strcspn(q, "&#");
        const char *eq = memchr(q, '=', n);
        size_t kn = eq ? (size_t)(eq - q) : n;
        char *k = n ? cmh_url_decode(q, kn, true) : NULL;
        char *v = k && eq ? cmh_url_decode(eq + 1, n - kn - 1, true) : cmh_xstrdup("");
        if (n && (!k || !v)) {
            ok = false;
        } else if (k && *k && strcmp(k, "cursor") != 0 && !is_host_query_param(k)) {
            cmh_buf_putc(&b, sep);
            cmh_buf_pct(&b, k);
            cmh_buf_putc(&b, '=');
            cmh_buf_pct(&b, v);
            sep = '&';
        }
        free(k);
        free(v);
        q += n;
        if (*q == '&')
            q++;
    }
    cmh_buf_putc(&b, sep);
    cmh_buf_puts(&b, "cursor=");
    cmh_buf_pct(&b, cursor);
    cmh_buf_puts(&b, ">; rel=\"next\"");
    if (ok)
        header(&ex->resp, "Link", b.p);
    cmh_buf_free(&b);
}

static void op_result(cmh_exchange *ex)
{
    const cmh_route *rt = ex->route;
    if (ex->rc) {
        problem_from_code(ex, ex->rc, ex->err_msg, ex->err_field);
        if (ex->token_failed) {
            /* bad credentials also drain the client's IP bucket */
            char key[96];
            (void)snprintf(key, sizeof key, "ip:%s", ex->client);
            (void)cmh_ratelimit_take(ex->app->rl, key, cmh_mono_ns());
            if (ex->cookie_auth)
                clear_cookies(ex);
        }
        return;
    }
    size_t n = strlen(ex->out);
    ex->resp.status = rt->success_status;
    set_body_copy(&ex->resp, ex->out, n, JSON);
    if (strcmp(rt->method, "GET") == 0) {
        /* The library writes next_cursor last and cursors are plain
         * [A-Za-z0-9._-]: find it without parsing the whole result. */
        const char *tag = "\"next_cursor\":\"", *hit = NULL;
        for (const char *p = strstr(ex->out, tag); p; p = strstr(p + 1, tag))
            hit = p;
        if (hit) {
            char next[128];
            size_t i = 0;
            const char *c = hit + strlen(tag);
            while (i + 1 < sizeof next && c[i] &&
                   (isalnum((unsigned char)c[i]) || c[i] == '.' || c[i] == '_' || c[i] == '-'))
                next[i] = c[i], i++;
            next[i] = '\0';
            if (i > 0 && c[i] == '"')
                link_next(ex, next);
        }
    }
    json_t *res = NULL;
    if (ex->want_cookie || ex->cookie_auth)
        res = json_loads(ex->out, 0, NULL);
    json_t *session = json_object_get(res, "session");
    const char *tok = json_string_value(json_object_get(session, "token"));
    if (tok && token_chars_ok(tok) && (ex->want_cookie || ex->cookie_auth))
        set_cookies(ex, tok,
                    seconds_until(json_string_value(json_object_get(session, "expires_at"))));
    else if (ex->cookie_auth && strcmp(rt->op, "auth.logout") == 0)
        clear_cookies(ex);
    json_decref(res);
}

/* Loop thread: what post_work stores for a claimed key whose operation
 * failed (NULL: release). */
static void idem_finish(cmh_exchange *ex)
{
    ex->post_work = true;
    if (ex->resp.status >= 500)
        return;
    cmh_stored s = {
        .status = ex->resp.status,
        .headers = ex->resp.headers.p ? ex->resp.headers.p : "",
        .body = ex->resp.body,
        .body_len = ex->resp.body_len,
        .content_type = (char *)(ex->resp.content_type ? ex->resp.content_type : ""),
    };
    ex->idem_store = cmh_stored_encode(&s, &ex->idem_store_len);
}

void cmh_app_post_work(cmh_exchange *ex)
{
    cm_span *prev = cm_trace_set_current(ex->span);
    cmh_app *app = ex->app;
    int rc = ex->idem_store
                 ? cm_idem_complete(app->store, ex->idem_scope, ex->idem_key, ex->idem_hash,
                                    ex->resp.status, ex->idem_store, ex->idem_store_len,
                                    (int64_t)app->cfg->idem_ttl_s * 1000000)
                 : cm_idem_release(app->store, ex->idem_scope, ex->idem_key, ex->idem_hash);
    if (rc)
        cmh_log(CMH_LOG_WARN, "idempotency record not written", "%s: %s", cm_status_name(rc),
                cm_error_message());
    cm_trace_set_current(prev);
}

/* One "bytes=" range of a body of n bytes (RFC 9110 14.1.2): 1 with
 * [*first, *last] set, 0 when the header is not a single byte range (the
 * whole body is sent), -1 when it is unsatisfiable. */
static int byte_range(const char *h, size_t n, size_t *first, size_t *last)
{
    if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0;
    const char *p = h + 6;
    char *end;
    if (*p == '-') { /* the last N bytes */
        if (p[1] < '0' || p[1] > '9')
            return 0;
        unsigned long long k = strtoull(p + 1, &end, 10);
        if (*end || k == 0)
            return *end ? 0 : -1;
        if (n == 0)
            return -1;
        *first = k >= n ? 0 : n - (size_t)k;
        *last = n - 1;
        return 1;
    }
    if (*p < '0' || *p > '9')
        return 0;
    unsigned long long a = strtoull(p, &end, 10);
    if (*end != '-')
        return 0;
    unsigned long long b = n ? n - 1 : 0;
    if (end[1]) {
        if (end[1] < '0' || end[1] > '9')
            return 0;
        char *e2;
        b = strtoull(end + 1, &e2, 10);
        if (*e2 || b < a)
            return 0;
        if (b >= n)
            b = n ? n - 1 : 0;
    }
    if (a >= n)
        return -1;
    *first = (size_t)a;
    *last = (size_t)b;
    return 1;
}

/* Does an If-None-Match header name etag (or "*")? */
static bool etag_matches(const char *inm, const char *etag)
{
    size_t n = strlen(etag);
    for (const char *p = inm; *p;) {
        p += strspn(p, " \t,");
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

/* The answer of a download: the bytes with their sniffed type, ETag,
 * If-None-Match (304) and a single Range (206, 416). */
static void download_result(cmh_exchange *ex)
{
    if (ex->rl_wait) {
        char ra[16];
        (void)snprintf(ra, sizeof ra, "%d", ex->rl_wait);
        problem(ex, 429, "HTTP_RATE_LIMITED", "too many requests",
                "rate limit exceeded; retry after the Retry-After delay", NULL);
        header(&ex->resp, "Retry-After", ra);
        cmh_app_gauges(ex->app)->rate_limited_total++;
        return;
    }
    if (ex->rc) {
        problem_from_code(ex, ex->rc, ex->err_msg, ex->err_field);
        return;
    }
    /* only the four types the library accepts are ever named */
    static const char *const types[] = {"image/png", "image/jpeg", "image/gif", "image/webp"};
    const char *type = "application/octet-stream";
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(ex->file_type, types[i]) == 0)
            type = types[i];
    cmh_response *r = &ex->resp;
    /* the answer depends on who asks: browsers keep it, shared caches do not */
    r->cache = "private, no-cache";
    header(r, "ETag", ex->file_etag);
    header(r, "Accept-Ranges", "bytes");
    header(r, "Content-Disposition", "inline");
    const char *inm = cmh_req_header(ex->req, "if-none-match");
    if (inm && etag_matches(inm, ex->file_etag)) {
        r->status = 304;
        return;
    }
    const char *range = cmh_req_header(ex->req, "range");
    const char *if_range = cmh_req_header(ex->req, "if-range");
    size_t first = 0, last = 0;
    int rg = range && (!if_range || strcmp(if_range, ex->file_etag) == 0)
                 ? byte_range(range, ex->file_len, &first, &last)
                 : 0;
    char cr[96];
    if (rg < 0) {
        (void)snprintf(cr, sizeof cr, "bytes */%zu", ex->file_len);
        problem(ex, 416, "HTTP_RANGE_NOT_SATISFIABLE", "range not satisfiable",
                "the range starts past the end of the file", "Range");
        header(r, "Content-Range", cr);
        return;
    }
    if (rg == 0) {
        first = 0;
        last = ex->file_len ? ex->file_len - 1 : 0;
    }
    size_t len = ex->file_len ? last - first + 1 : 0;
    r->status = rg ? 206 : 200;
    if (rg) {
        (void)snprintf(cr, sizeof cr, "bytes %zu-%zu/%zu", first, last, ex->file_len);
        header(r, "Content-Range", cr);
    }
    char *body = cmh_xmalloc(len + 1);
    memcpy(body, (const char *)ex->file + first, len);
    set_body(r, body, len, type);
    cm_free(ex->file);
    ex->file = NULL;
}

void cmh_app_after_work(cmh_exchange *ex)
{
    cmh_app *app = ex->app;
    if (ex->kind == CMH_K_READYZ) {
        if (ex->rc) {
            cmh_buf b = {0};
            cmh_buf_puts(&b, "{\"status\":\"unavailable\",\"code\":");
            cmh_buf_json_str(&b, cm_status_name(ex->rc));
            cmh_buf_putc(&b, '}');
            json_response(ex, 503, b.p);
            cmh_buf_free(&b);
            header(&ex->resp, "Retry-After", ex->rc == CM_EUNAVAILABLE ? UNAVAILABLE_RETRY : "1");
            cmh_log(CMH_LOG_WARN, "not ready", "%s: %s", cm_status_name(ex->rc), ex->err_msg);
        } else {
            json_response(ex, 200, "{\"status\":\"ready\"}");
        }
        return;
    }
    if (ex->kind == CMH_K_METRICS) {
        if (ex->rc)
            cmh_log(CMH_LOG_WARN, "business metrics unavailable", "%s: %s", cm_status_name(ex->rc),
                    ex->err_msg);
        cmh_buf b = {0};
        char *store_stats = NULL;
        if (cm_store_stats(&store_stats, app->store) != CM_OK)
            store_stats = NULL;
        cmh_app_gauges(app)->redis_errors_total = cmh_redis_errors(app->redis);
        cmh_metrics_render(app->metrics, &b, ex->rc ? NULL : ex->out,
                           cmh_router_find_op(&app->router, "jobs.stats") ? ex->jobs_out : NULL,
                           cmh_router_find_op(&app->router, "jobs.stats") != NULL,
                           cm_version_string(), store_stats);
        if (cmh_router_find_op(&app->router, "mail.stats"))
            cmh_metrics_render_mail(&b, ex->mail_out);
        if (cmh_router_find_op(&app->router, "assistant.stats"))
            cmh_metrics_render_assistant(&b, ex->assistant_out);
        cm_free(store_stats);
        size_t n;
        char *body = cmh_buf_steal(&b, &n);
        ex->resp.status = 200;
        set_body(&ex->resp, body, n, "text/plain; version=0.0.4; charset=utf-8");
        return;
    }
    if (ex->kind == CMH_K_DOWNLOAD) {
        download_result(ex);
        return;
    }
    if (ex->kind != CMH_K_OP)
        return;
    if (ex->rl_wait) {
        char ra[16];
        (void)snprintf(ra, sizeof ra, "%d", ex->rl_wait);
        problem(ex, 429, "HTTP_RATE_LIMITED", "too many requests",
                "rate limit exceeded; retry after the Retry-After delay", NULL);
        header(&ex->resp, "Retry-After", ra);
        cmh_app_gauges(app)->rate_limited_total++;
        return;
    }
    switch (ex->idem_state) {
        case CM_IDEM_REPLAY:
            if (ex->replay_result) {
                op_result(ex);
                header(&ex->resp, "Idempotent-Replayed", "true");
                cmh_app_gauges(app)->idempotent_replays_total++;
                return;
            }
            ex->resp.status = ex->replay.status;
            cmh_buf_puts(&ex->resp.headers, ex->replay.headers);
            header(&ex->resp, "Idempotent-Replayed", "true");
            set_body(&ex->resp, ex->replay.body, ex->replay.body_len,
                     strcmp(ex->replay.content_type, PROBLEM_JSON) == 0 ? PROBLEM_JSON : JSON);
            ex->replay.body = NULL;
            cmh_app_gauges(app)->idempotent_replays_total++;
            return;
        case CM_IDEM_BUSY:
            problem(ex, 409, "HTTP_IDEMPOTENCY_IN_PROGRESS", "request in progress",
                    "a request with this Idempotency-Key is still being processed",
                    "Idempotency-Key");
            header(&ex->resp, "Retry-After", "1");
            return;
        case CM_IDEM_MISMATCH:
            problem(ex, 422, "HTTP_IDEMPOTENCY_KEY_REUSED", "Idempotency-Key reused",
                    "this Idempotency-Key was used for a different request", "Idempotency-Key");
            return;
        default:
            break;
    }
    if (ex->stream && ex->rc == CM_ECANCELED) {
        /* the client went away before the answer was stored */
        problem(ex, 499, "CM_ECANCELED", cm_strerror(CM_ECANCELED), ex->err_msg, NULL);
        return;
    }
    op_result(ex);
    /* a failed operation's answer (or the claim's release) is written
     * apart: it changed nothing a retry could repeat */
    if (ex->idem_state == CM_IDEM_NEW && !ex->idem_done)
        idem_finish(ex);
}

/* ---- server-sent events ----------------------------------------------- */

void cmh_app_stream_head(const cmh_exchange *ex, cmh_buf *out)
{
    cmh_exchange head = *ex;
    head.resp = (cmh_response){
        .status = 200,
        .content_type = "text/event-stream; charset=utf-8",
        .cache = "no-store",
        .close = true,
        .until_close = true,
    };
    cmh_app_write_head(&head, out);
}

void cmh_app_stream_event(cmh_buf *out, const char *event, const char *data, size_t len)
{
    cmh_buf_puts(out, "event: ");
    cmh_buf_puts(out, event);
    cmh_buf_puts(out, "\ndata: ");
    cmh_buf_put(out, data, len);
    cmh_buf_puts(out, "\n\n");
}

void cmh_app_stream_end(cmh_exchange *ex, cmh_buf *out)
{
    if (ex->rc == CM_OK) {
        ex->resp.status = 200;
        return;
    }
    if (ex->rc == CM_ECANCELED) {
        /* the client went away: logged as 499, as before the first event */
        problem(ex, 499, "CM_ECANCELED", cm_strerror(CM_ECANCELED), ex->err_msg, NULL);
        return;
    }
    /* the head (200) is out: the failure is an event, with the problem */
    problem_from_code(ex, ex->rc, ex->err_msg, ex->err_field);
    cmh_app_stream_event(out, "error", ex->resp.body, ex->resp.body_len);
    ex->resp.status = 200;
}

/* ---- finish, serialise, free ------------------------------------------ */

void cmh_app_finish(cmh_exchange *ex)
{
    if (ex->finished)
        return;
    ex->finished = true;
    cmh_app *app = ex->app;
    if (ex->resp.status == 0)
        problem(ex, 500, "CM_ERROR", "internal error", "no response was produced", NULL);
    if (app->draining)
        ex->resp.close = true;
    uint64_t now = cmh_mono_ns();
    uint64_t start = ex->req->start_ns ? ex->req->start_ns : now;
    double sec = (double)(now - start) / 1e9;
    cmh_metrics_observe(app->metrics, ex->slot, ex->req->method, ex->resp.status, sec);
    cmh_app_gauges(app)->in_flight--;
    if (ex->span) {
        cm_span_set_int(ex->span, "http.response.status_code", ex->resp.status);
        if (ex->actor_id)
            cm_span_set_int(ex->span, "cm.actor.id", ex->actor_id);
        if (ex->resp.status >= 500)
            cm_span_set_error(ex->span, ex->rc ? cm_status_name(ex->rc) : "server error");
        cm_span_end(ex->span);
        ex->span = NULL;
    }
    int level = ex->resp.status >= 500 ? CMH_LOG_ERROR : CMH_LOG_INFO;
    if (!cmh_log_enabled(level))
        return;
    cmh_buf b = {0};
    cmh_log_begin(&b, level, "request");
    cmh_log_str(&b, "request_id", ex->request_id);
    cmh_log_str(&b, "method", ex->req->method);
    cmh_log_str(&b, "route", cmh_metrics_slot_label(app->metrics, ex->slot));
    if (ex->route)
        cmh_log_str(&b, "op", ex->route->op);
    cmh_log_int(&b, "status", ex->resp.status);
    cmh_log_ms(&b, "duration_ms", sec * 1e3);
    if (ex->actor_id)
        cmh_log_int(&b, "actor_id", ex->actor_id);
    else
        cmh_log_str(&b, "actor_id", NULL);
    cmh_log_int(&b, "bytes", (int64_t)ex->resp.body_len);
    cmh_log_str(&b, "client", ex->client);
    if (ex->rc)
        cmh_log_str(&b, "code", cm_status_name(ex->rc));
    cmh_log_end(&b);
}

void cmh_app_write_head(const cmh_exchange *ex, cmh_buf *out)
{
    const cmh_response *r = &ex->resp;
    char date[40];
    cmh_http_date(date);
    cmh_buf_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", r->status, reason_phrase(r->status),
                   date);
    if (r->status != 204 && r->status != 304 && r->status >= 200) {
        if (!r->until_close)
            cmh_buf_printf(out, "Content-Length: %zu\r\n", r->body_len);
        if (r->content_type)
            cmh_buf_printf(out, "Content-Type: %s\r\n", r->content_type);
    }
    cmh_buf_puts(out, r->close ? "Connection: close\r\n" : "Connection: keep-alive\r\n");
    cmh_buf_puts(out, "X-Request-Id: ");
    cmh_buf_puts(out, ex->request_id);
    cmh_buf_puts(out, "\r\nX-Content-Type-Options: nosniff\r\n");
    if (r->cache)
        cmh_buf_printf(out, "Cache-Control: %s\r\n", r->cache);
    if (ex->cors) {
        /* A listed origin is echoed and may send credentials; "*" alone
         * allows any origin without credentials. */
        const char *origin = cmh_req_header(ex->req, "origin");
        if (cmh_config_origin_listed(ex->app->cfg, origin)) {
            cmh_buf_printf(out,
                           "Access-Control-Allow-Origin: %s\r\n"
                           "Access-Control-Allow-Credentials: true\r\nVary: Origin\r\n",
                           origin);
        } else {
            cmh_buf_puts(out, "Access-Control-Allow-Origin: *\r\n");
        }
        cmh_buf_puts(out, "Access-Control-Expose-Headers: X-Request-Id, Retry-After, Link, "
                          "Idempotent-Replayed, X-CSRF-Token\r\n");
    }
    if (r->headers.len)
        cmh_buf_put(out, r->headers.p, r->headers.len);
    cmh_buf_puts(out, "\r\n");
}

void cmh_exchange_free(cmh_exchange *ex)
{
    if (!ex)
        return;
    cm_span_end(ex->span);
    cmh_request_free(ex->req);
    cmh_buf_free(&ex->resp.headers);
    free(ex->resp.body);
    free(ex->input); /* dep-alloc: json_dumps */
    if (ex->token) {
        memset(ex->token, 0, strlen(ex->token));
        free(ex->token);
    }
    free(ex->idem_key);
    free(ex->rl_key);
    free(ex->idem_store);
    cm_free(ex->out);
    cm_free(ex->jobs_out);
    cm_free(ex->mail_out);
    cm_free(ex->assistant_out);
    cm_free(ex->file);
    cm_free(ex->file_type);
    cm_free(ex->file_etag);
    free(ex->err_msg);
    free(ex->err_field);
    cmh_stored_clear(&ex->replay);
    free(ex);
}
