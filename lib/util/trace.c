/*
 * trace.c - spans, W3C Trace Context, sampling and the OTLP/HTTP JSON
 * exporter (see community/trace.h).
 *
 * A span is a small heap object; its attributes are kept as ready-made
 * OTLP JSON text, so exporting is concatenation. The calling thread's
 * current span is a thread-local pointer. A sampled span that ends goes
 * into a bounded ring under one mutex (never waiting for room: a full
 * ring drops it and counts); the exporter thread takes batches from the
 * ring and POSTs them with the internal HTTP client. That thread never
 * traces itself.
 */
#include "tracing.h"

#include "http_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cm_span {
    uint8_t trace_id[16], span_id[8], parent_id[8];
    bool has_parent, sampled, pushed;
    int32_t kind;
    int32_t status; /* 0 unset, 2 error */
    int64_t start_ns, end_ns;
    char *name, *status_msg;
    cm__buf attrs; /* OTLP JSON attribute objects, comma-separated */
};

enum { S_ALWAYS_ON, S_ALWAYS_OFF, S_RATIO };

/* Configuration and queue; written by start/stop only while `enabled` is 0. */
static atomic_int enabled;
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int sampler;
    bool parent_based;
    double ratio;
    char *url;
    char **headers; /* "Name: value" lines */
    size_t n_headers;
    uint32_t timeout_ms, delay_ms;
    size_t batch, cap;
    char *resource; /* OTLP JSON attribute list of the resource */
    /* queue */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    cm_span **ring;
    size_t head, len;
    bool stopping, accepting;
    int64_t deadline_ns;
    pthread_t thread;
    bool exited;       /* the exporter thread has finished */
    atomic_int cancel; /* stop the export in flight (shutdown deadline) */
    bool failing;      /* the last export failed (log once per change) */
} T = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static atomic_uint_fast64_t counters[3];

static _Thread_local cm_span *tl_current;
static _Thread_local int tl_suppress;
static _Thread_local uint64_t tl_rng[2];

/* ---- small helpers ---- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* xorshift128+, seeded per thread from the system's random source: span
 * and trace ids need to be unique, not secret. */
static uint64_t rng_next(void)
{
    if (!tl_rng[0] && !tl_rng[1]) {
        if (cm__random_bytes(tl_rng, sizeof tl_rng) != CM_OK || (!tl_rng[0] && !tl_rng[1])) {
            cm_error_clear();
            tl_rng[0] = (uint64_t)now_ns() | 1;
            tl_rng[1] = (uint64_t)(uintptr_t)&tl_rng ^ 0x9e3779b97f4a7c15u;
        }
    }
    uint64_t s1 = tl_rng[0];
    const uint64_t s0 = tl_rng[1];
    tl_rng[0] = s0;
    s1 ^= s1 << 23;
    tl_rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return tl_rng[1] + s0;
}

static void random_id(uint8_t *out, size_t n)
{
    do {
        for (size_t i = 0; i < n; i += 8) {
            uint64_t v = rng_next();
            memcpy(out + i, &v, n - i < 8 ? n - i : 8);
        }
    } while (out[0] == 0 && memcmp(out, out + 1, n - 1) == 0);
}

static void hex(char *out, const uint8_t *p, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int unhex1(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* W3C: lower-case only */
}

static bool unhex(uint8_t *out, const char *s, size_t n)
{
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        int hi = unhex1(s[2 * i]), lo = unhex1(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
        nonzero |= out[i] != 0;
    }
    return nonzero;
}

/* Parse a W3C traceparent: version 00 is exactly 55 characters; a later
 * version may append "-..." fields. Version ff and all-zero ids are
 * invalid. */
static bool parse_traceparent(const char *v, uint8_t trace[16], uint8_t parent[8], bool *sampled)
{
    if (!v)
        return false;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
        return false;
    int h0 = unhex1(v[0]), h1 = unhex1(v[1]);
    if (h0 < 0 || h1 < 0)
        return false;
    unsigned ver = (unsigned)(h0 << 4 | h1);
    if (ver == 0xff || (ver == 0 && n != 55) || (ver != 0 && n > 55 && v[55] != '-'))
        return false;
    if (!unhex(trace, v + 3, 16) || !unhex(parent, v + 36, 8))
        return false;
    if (unhex1(v[53]) < 0 || unhex1(v[54]) < 0)
        return false;
    *sampled = (unhex1(v[54]) & 1) != 0;
    return true;
}

/* Append s as a JSON string; bytes of invalid UTF-8 become U+FFFD. */
static void put_str(cm__buf *b, const char *s)
{
    cm__buf_put(b, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            cm__buf_put(b, e, 2);
            p++;
        } else if (c < 0x20) {
            cm__buf_printf(b, "\\u%04x", c);
            p++;
        } else if (c < 0x80) {
            cm__buf_put(b, (const char *)p, 1);
            p++;
        } else {
            size_t len = (c & 0xe0) == 0xc0   ? 2
                         : (c & 0xf0) == 0xe0 ? 3
                         : (c & 0xf8) == 0xf0 ? 4
                                              : 0;
            size_t have = 0;
            while (have < len && p[have])
                have++;
            if (len && have == len && cm__utf8_valid((const char *)p, len)) {
                cm__buf_put(b, (const char *)p, len);
                p += len;
            } else {
                cm__buf_puts(b, "\\ufffd");
                p++;
            }
        }
    }
    cm__buf_put(b, "\"", 1);
}

/* ---- spans ---- */

static bool ratio_sampled(const uint8_t trace[16])
{
    if (T.ratio >= 1.0)
        return true;
    if (T.ratio <= 0.0)
        return false;
    uint64_t x = 0;
    for (int i = 8; i < 16; i++)
        x = x << 8 | trace[i];
    return (double)x < T.ratio * 18446744073709551616.0;
}

static bool sample(const uint8_t trace[16], bool has_parent, bool parent_sampled)
{
    if (T.parent_based && has_parent)
        return parent_sampled;
    switch (T.sampler) {
        case S_ALWAYS_ON:
            return true;
        case S_ALWAYS_OFF:
            return false;
        default:
            return ratio_sampled(trace);
    }
}

static cm_span *span_new(const char *name, int32_t kind, const char *traceparent, bool child_only)
{
    if (!atomic_load_explicit(&enabled, memory_order_acquire) || tl_suppress)
        return NULL;
    uint8_t rtrace[16], rparent[8];
    bool rsampled = false;
    bool remote = parse_traceparent(traceparent, rtrace, rparent, &rsampled);
    const cm_span *p = tl_current;
    if (child_only && (remote || !p || !p->sampled))
        return NULL; /* nothing would record or propagate it */
    cm_span *s = cm__calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->name = cm__strdup(name);
    if (!s->name) {
        cm__free(s);
        return NULL;
    }
    s->kind = kind >= CM_SPAN_INTERNAL && kind <= CM_SPAN_CONSUMER ? kind : CM_SPAN_INTERNAL;
    if (remote) {
        memcpy(s->trace_id, rtrace, 16);
        memcpy(s->parent_id, rparent, 8);
        s->has_parent = true;
    } else if (p) {
        memcpy(s->trace_id, p->trace_id, 16);
        memcpy(s->parent_id, p->span_id, 8);
        s->has_parent = true;
    } else {
        random_id(s->trace_id, 16);
    }
    random_id(s->span_id, 8);
    s->sampled = sample(s->trace_id, s->has_parent, remote ? rsampled : p && p->sampled);
    s->start_ns = now_ns();
    return s;
}

/* The spans the library made current on this thread, innermost last,
 * each with the span that was current before it. Operations and jobs
 * nest a few levels at most; deeper nesting leaves the outer span
 * current, which only flattens the tree. */
#define STACK_MAX 16
static _Thread_local cm_span *tl_stack[STACK_MAX];
static _Thread_local int tl_depth;

static void span_push(cm_span *s)
{
    if (tl_depth < STACK_MAX) {
        tl_stack[tl_depth++] = tl_current;
        tl_current = s;
        s->pushed = true;
    }
}

static void span_pop(cm_span *s)
{
    if (s->pushed && tl_current == s && tl_depth > 0)
        tl_current = tl_stack[--tl_depth];
    else if (tl_current == s) /* a host's span ended while current */
        tl_current = NULL;
}

cm_span *cm__span_begin(const char *name, int32_t kind, uint32_t flags)
{
    cm_span *s = span_new(name, kind, NULL, (flags & CM__SPAN_CHILD_ONLY) != 0);
    if (s && (flags & CM__SPAN_CURRENT))
        span_push(s);
    return s;
}

static void attr_head(cm_span *s, const char *key)
{
    if (s->attrs.len)
        cm__buf_put(&s->attrs, ",", 1);
    cm__buf_puts(&s->attrs, "{\"key\":");
    put_str(&s->attrs, key);
    cm__buf_puts(&s->attrs, ",\"value\":{");
}

void cm_span_set_str(cm_span *s, const char *key, const char *value)
{
    if (!s || !s->sampled || !key || !value)
        return;
    attr_head(s, key);
    cm__buf_puts(&s->attrs, "\"stringValue\":");
    put_str(&s->attrs, value);
    cm__buf_puts(&s->attrs, "}}");
}

void cm_span_set_int(cm_span *s, const char *key, int64_t value)
{
    if (!s || !s->sampled || !key)
        return;
    attr_head(s, key);
    cm__buf_printf(&s->attrs, "\"intValue\":\"%lld\"}}", (long long)value);
}

void cm_span_set_error(cm_span *s, const char *message)
{
    if (!s)
        return;
    s->status = 2;
    if (message && s->sampled) {
        cm__free(s->status_msg);
        s->status_msg = cm__strdup(message);
    }
}

static void span_free(cm_span *s)
{
    cm__free(s->name);
    cm__free(s->status_msg);
    cm__free(s->attrs.p);
    cm__free(s);
}

void cm__span_end(cm_span *s, int rc)
{
    if (!s)
        return;
    if (rc < 0) {
        cm_span_set_str(s, "cm.error", cm_status_name(rc));
        cm_span_set_error(s, cm_strerror(rc));
    }
    cm_span_end(s);
}

void cm_span_end(cm_span *s)
{
    if (!s)
        return;
    span_pop(s);
    if (!s->sampled || s->attrs.err) {
        span_free(s);
        return;
    }
    s->end_ns = now_ns();
    bool queued = false, wake = false;
    pthread_mutex_lock(&T.lock);
    if (T.accepting && T.len < T.cap) {
        T.ring[(T.head + T.len) % T.cap] = s;
        T.len++;
        queued = true;
        wake = T.len >= T.batch;
    }
    pthread_mutex_unlock(&T.lock);
    if (wake)
        pthread_cond_signal(&T.cond);
    if (!queued) {
        atomic_fetch_add(&counters[CM_TRACE_DROPPED], 1);
        span_free(s);
    }
}

int cm_span_begin(cm_span **out, const char *name, int32_t kind, const char *traceparent)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_span_begin: out is NULL");
    *out = NULL;
    if (!name)
        return cm__error_set(CM_EINVAL, "cm_span_begin: name is NULL");
    *out = span_new(name, kind, traceparent, false);
    return CM_OK;
}

cm_span *cm_trace_set_current(cm_span *span)
{
    cm_span *prev = tl_current;
    tl_current = span;
    return prev;
}

size_t cm_span_traceparent(char *out, size_t size, const cm_span *s)
{
    if (!out || !s || size < 56)
        return 0;
    char t[33], p[17];
    hex(t, s->trace_id, 16);
    hex(p, s->span_id, 8);
    return (size_t)snprintf(out, size, "00-%s-%s-%s", t, p, s->sampled ? "01" : "00");
}

size_t cm__trace_current_traceparent(char *out, size_t size)
{
    return cm_span_traceparent(out, size, tl_current);
}

void cm__trace_suppress(bool on)
{
    tl_suppress = on ? 1 : 0;
}

int32_t cm_trace_enabled(void)
{
    return atomic_load_explicit(&enabled, memory_order_acquire) ? 1 : 0;
}

uint64_t cm_trace_stat(int32_t counter)
{
    if (counter < 0 || counter > 2)
        return 0;
    return atomic_load(&counters[counter]);
}

/* ---- export ---- */

static void encode_span(cm__buf *b, const cm_span *s)
{
    char t[33], id[17], pid[17];
    hex(t, s->trace_id, 16);
    hex(id, s->span_id, 8);
    cm__buf_printf(b, "{\"traceId\":\"%s\",\"spanId\":\"%s\",", t, id);
    if (s->has_parent) {
        hex(pid, s->parent_id, 8);
        cm__buf_printf(b, "\"parentSpanId\":\"%s\",", pid);
    }
    cm__buf_puts(b, "\"name\":");
    put_str(b, s->name);
    cm__buf_printf(b,
                   ",\"kind\":%d,\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":\"%lld\","
                   "\"attributes\":[",
                   (int)s->kind, (long long)s->start_ns, (long long)s->end_ns);
    if (s->attrs.len)
        cm__buf_put(b, s->attrs.p, s->attrs.len);
    cm__buf_puts(b, "]");
    if (s->status == 2) {
        cm__buf_puts(b, ",\"status\":{\"code\":2");
        if (s->status_msg) {
            cm__buf_puts(b, ",\"message\":");
            put_str(b, s->status_msg);
        }
        cm__buf_puts(b, "}");
    }
    cm__buf_puts(b, "}");
}

static void send_batch(cm_span **spans, size_t n, uint32_t timeout_ms)
{
    cm__buf b = {0};
    cm__buf_puts(&b, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    cm__buf_puts(&b, T.resource);
    cm__buf_printf(&b,
                   "]},\"scopeSpans\":[{\"scope\":{\"name\":\"libcommunity\",\"version\":\"%s\"},"
                   "\"spans\":[",
                   cm_version_string());
    for (size_t i = 0; i < n; i++) {
        if (i)
            cm__buf_put(&b, ",", 1);
        encode_span(&b, spans[i]);
        span_free(spans[i]);
    }
    cm__buf_puts(&b, "]}]}]}");
    bool ok = false;
    char why[256] = "out of memory";
    if (!b.err) {
        const char **hdrs = cm__calloc(T.n_headers + 1, sizeof *hdrs);
        if (hdrs) {
            hdrs[0] = "Content-Type: application/json";
            for (size_t i = 0; i < T.n_headers; i++)
                hdrs[i + 1] = T.headers[i];
            cm__http_request req = {.method = "POST",
                                    .url = T.url,
                                    .headers = hdrs,
                                    .n_headers = T.n_headers + 1,
                                    .body = b.p,
                                    .body_len = b.len,
                                    .timeout_ms = timeout_ms ? timeout_ms : 1,
                                    .max_response = 64 * 1024,
                                    .what = "trace export",
                                    .cancel = &T.cancel};
            cm__http_response resp = {0};
            int rc = cm__http_perform(&resp, &req);
            if (rc == CM_OK && resp.status >= 200 && resp.status < 300)
                ok = true;
            else if (rc == CM_OK)
                (void)snprintf(why, sizeof why, "the collector answered %ld", resp.status);
            else
                (void)snprintf(why, sizeof why, "%s", cm_error_message());
            cm__http_response_dispose(&resp);
            cm__free(hdrs);
        }
    }
    cm__free(b.p);
    cm_error_clear();
    atomic_fetch_add(&counters[ok ? CM_TRACE_EXPORTED : CM_TRACE_FAILED], n);
    if (ok != !T.failing) {
        T.failing = !ok;
        if (ok)
            cm__log(CM_LOG_INFO, "trace", "exporting spans again");
        else
            cm__log(CM_LOG_WARN, "trace", "span export failed, %zu spans lost: %s", n, why);
    }
}

static void *export_main(void *arg)
{
    (void)arg;
    cm__trace_suppress(true);
    cm_span **batch = cm__calloc(T.batch, sizeof *batch);
    pthread_mutex_lock(&T.lock);
    for (;;) {
        if (!T.stopping && T.len < T.batch) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + (int64_t)(T.delay_ms % 1000) * 1000000;
            ts.tv_sec += (time_t)(T.delay_ms / 1000) + (time_t)(ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            while (!T.stopping && T.len < T.batch) {
                if (pthread_cond_timedwait(&T.cond, &T.lock, &ts) == ETIMEDOUT)
                    break;
            }
        }
        if (T.len == 0) {
            if (T.stopping)
                break;
            continue;
        }
        uint32_t timeout = T.timeout_ms;
        if (T.stopping) {
            int64_t left = (T.deadline_ns - now_ns()) / 1000000;
            if (left <= 0)
                break;
            if ((int64_t)timeout > left)
                timeout = (uint32_t)left;
        }
        size_t n = 0;
        while (T.len && n < T.batch && batch) {
            batch[n++] = T.ring[T.head];
            T.head = (T.head + 1) % T.cap;
            T.len--;
        }
        if (!batch)
            break;
        pthread_mutex_unlock(&T.lock);
        send_batch(batch, n, timeout);
        pthread_mutex_lock(&T.lock);
    }
    T.exited = true;
    pthread_cond_broadcast(&T.cond);
    pthread_mutex_unlock(&T.lock);
    cm__free(batch);
    return NULL;
}

/* ---- configuration ---- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int env_uint(uint32_t *out, const char *name, uint32_t def, uint32_t min, uint32_t max)
{
    const char *v = env(name);
    *out = def;
    if (!v)
        return CM_OK;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max)
        return cm__error_set(CM_EINVAL, "%s: expected a whole number from %u to %u, got '%s'", name,
                             min, max, v);
    *out = (uint32_t)x;
    return CM_OK;
}

/* Percent-decode s[0..n) into a new string. */
static char *pct_decode(const char *s, size_t n)
{
    char *o = cm__malloc(n + 1);
    if (!o)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = unhex1((char)(s[i + 1] | 0x20))) >= 0 &&
            (lo = unhex1((char)(s[i + 2] | 0x20))) >= 0) {
            o[j++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            o[j++] = s[i];
        }
    }
    o[j] = '\0';
    return o;
}

static char *trim_dup(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return pct_decode(s, n);
}

/* Calls fn(key, value) for each "k=v" of a comma-separated list (both
 * trimmed and percent-decoded). */
static int each_pair(const char *list, const char *name,
                     int (*fn)(const char *k, const char *v, void *p), void *payload)
{
    const char *s = list;
    while (s && *s) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', n);
        int rc = CM_OK;
        if (!eq) {
            if (n && strspn(s, " \t") < n)
                return cm__error_set(CM_EINVAL, "%s: '%.*s' is not name=value", name, (int)n, s);
        } else {
            char *k = trim_dup(s, (size_t)(eq - s)),
                 *v = trim_dup(eq + 1, n - (size_t)(eq - s) - 1);
            if (!k || !v)
                rc = cm__oom();
            else if (!*k)
                rc = cm__error_set(CM_EINVAL, "%s: an empty name", name);
            else
                rc = fn(k, v, payload);
            cm__free(k);
            cm__free(v);
        }
        if (rc)
            return rc;
        s = end ? end + 1 : NULL;
    }
    return CM_OK;
}

static int add_header(const char *k, const char *v, void *p)
{
    (void)p;
    if (strpbrk(k, ": \r\n") || strpbrk(v, "\r\n"))
        return cm__error_set(CM_EINVAL, "OTEL_EXPORTER_OTLP_HEADERS: invalid header '%s'", k);
    char **h = cm__realloc(T.headers, (T.n_headers + 1) * sizeof *h);
    if (!h)
        return cm__oom();
    T.headers = h;
    size_t n = strlen(k) + strlen(v) + 3;
    if (!(h[T.n_headers] = cm__malloc(n)))
        return cm__oom();
    (void)snprintf(h[T.n_headers++], n, "%s: %s", k, v);
    return CM_OK;
}

typedef struct res_ctx {
    cm__buf b;
    char *service;
} res_ctx;

static void res_attr(cm__buf *b, const char *k, const char *v)
{
    if (b->len)
        cm__buf_put(b, ",", 1);
    cm__buf_puts(b, "{\"key\":");
    put_str(b, k);
    cm__buf_puts(b, ",\"value\":{\"stringValue\":");
    put_str(b, v);
    cm__buf_puts(b, "}}");
}

static int add_resource(const char *k, const char *v, void *p)
{
    res_ctx *r = p;
    if (strcmp(k, "service.name") == 0) {
        cm__free(r->service);
        return (r->service = cm__strdup(v)) ? CM_OK : cm__oom();
    }
    res_attr(&r->b, k, v);
    return CM_OK;
}

static void config_free(void)
{
    cm__free(T.url);
    for (size_t i = 0; i < T.n_headers; i++)
        cm__free(T.headers[i]);
    cm__free(T.headers);
    cm__free(T.resource);
    cm__free(T.ring);
    T.url = T.resource = NULL;
    T.headers = NULL;
    T.ring = NULL;
    T.n_headers = 0;
}

static int configure(const char *service_name)
{
    const char *v;
    if ((v = env("OTEL_SDK_DISABLED")) && strcmp(v, "true") == 0)
        return 1;
    if ((v = env("OTEL_TRACES_EXPORTER"))) {
        if (strcmp(v, "none") == 0)
            return 1;
        if (strcmp(v, "otlp") != 0)
            return cm__error_set(CM_EINVAL, "OTEL_TRACES_EXPORTER: only otlp and none, not '%s'",
                                 v);
    }
    const char *proto = env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
    if (!proto)
        proto = env("OTEL_EXPORTER_OTLP_PROTOCOL");
    if (proto && strcmp(proto, "http/json") != 0)
        return cm__error_set(CM_EINVAL, "OTEL_EXPORTER_OTLP_PROTOCOL: only http/json, not '%s'",
                             proto);
    const char *full = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
               *base = env("OTEL_EXPORTER_OTLP_ENDPOINT");
    if (!full && !base)
        return 1;
    if (full) {
        T.url = cm__strdup(full);
    } else {
        size_t n = strlen(base);
        while (n && base[n - 1] == '/')
            n--;
        T.url = cm__malloc(n + sizeof "/v1/traces");
        if (T.url)
            (void)snprintf(T.url, n + sizeof "/v1/traces", "%.*s/v1/traces", (int)n, base);
    }
    if (!T.url)
        return cm__oom();
    if (strncmp(T.url, "http://", 7) != 0 && strncmp(T.url, "https://", 8) != 0)
        return cm__error_set(CM_EINVAL, "OTEL_EXPORTER_OTLP_ENDPOINT: not an http(s) URL");

    const char *sampler = env("OTEL_TRACES_SAMPLER");
    if (!sampler)
        sampler = "parentbased_always_on";
    T.parent_based = strncmp(sampler, "parentbased_", 12) == 0;
    const char *base_sampler = T.parent_based ? sampler + 12 : sampler;
    if (strcmp(base_sampler, "always_on") == 0)
        T.sampler = S_ALWAYS_ON;
    else if (strcmp(base_sampler, "always_off") == 0)
        T.sampler = S_ALWAYS_OFF;
    else if (strcmp(base_sampler, "traceidratio") == 0)
        T.sampler = S_RATIO;
    else
        return cm__error_set(CM_EINVAL, "OTEL_TRACES_SAMPLER: unknown sampler '%s'", sampler);
    T.ratio = 1.0;
    if (T.sampler == S_RATIO && (v = env("OTEL_TRACES_SAMPLER_ARG"))) {
        char *end;
        errno = 0;
        double r = strtod(v, &end);
        if (errno || end == v || *end || !(r >= 0.0 && r <= 1.0))
            return cm__error_set(
                CM_EINVAL, "OTEL_TRACES_SAMPLER_ARG: expected a ratio from 0 to 1, got '%s'", v);
        T.ratio = r;
    }

    uint32_t cap, batch;
    int rc;
    if ((rc = env_uint(&T.timeout_ms, "OTEL_EXPORTER_OTLP_TIMEOUT", 10000, 1, 600000)) ||
        (rc = env_uint(&T.delay_ms, "OTEL_BSP_SCHEDULE_DELAY", 5000, 1, 3600000)) ||
        (rc = env_uint(&cap, "OTEL_BSP_MAX_QUEUE_SIZE", 2048, 1, 1u << 20)) ||
        (rc = env_uint(&batch, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, 1, 1u << 20)))
        return rc;
    T.cap = cap;
    T.batch = batch < cap ? batch : cap;
    if (!(T.ring = cm__calloc(T.cap, sizeof *T.ring)))
        return cm__oom();

    if ((v = env("OTEL_EXPORTER_OTLP_HEADERS")) &&
        (rc = each_pair(v, "OTEL_EXPORTER_OTLP_HEADERS", add_header, NULL)))
        return rc;
    res_ctx r = {{0}, NULL};
    if ((v = env("OTEL_RESOURCE_ATTRIBUTES")) &&
        (rc = each_pair(v, "OTEL_RESOURCE_ATTRIBUTES", add_resource, &r))) {
        cm__free(r.b.p);
        cm__free(r.service);
        return rc;
    }
    const char *svc = env("OTEL_SERVICE_NAME");
    res_attr(&r.b, "service.name", svc ? svc : r.service ? r.service : service_name);
    res_attr(&r.b, "service.version", cm_version_string());
    res_attr(&r.b, "telemetry.sdk.name", "libcommunity");
    res_attr(&r.b, "telemetry.sdk.language", "c");
    cm__free(r.service);
    if (r.b.err) {
        cm__free(r.b.p);
        return cm__oom();
    }
    T.resource = r.b.p;
    return CM_OK;
}

int cm_trace_start(const char *service_name)
{
    if (!service_name || !*service_name)
        return cm__error_set(CM_EINVAL, "cm_trace_start: no service name");
    pthread_mutex_lock(&start_lock);
    int rc = CM_OK;
    if (atomic_load(&enabled)) {
        rc = cm__error_set(CM_EBUSY, "tracing is already started");
        goto out;
    }
    rc = configure(service_name);
    if (rc == 1) { /* not configured: tracing stays off */
        config_free();
        rc = CM_OK;
        goto out;
    }
    if (rc) {
        config_free();
        goto out;
    }
    T.head = T.len = 0;
    T.exited = false;
    atomic_store(&T.cancel, 0);
    T.stopping = false;
    T.accepting = true;
    T.failing = false;
    for (int i = 0; i < 3; i++)
        atomic_store(&counters[i], 0);
    if (pthread_create(&T.thread, NULL, export_main, NULL) != 0) {
        config_free();
        rc = cm__error_set(CM_ERROR, "cannot start the trace exporter thread");
        goto out;
    }
    atomic_store_explicit(&enabled, 1, memory_order_release);
    cm__log(CM_LOG_INFO, "trace", "exporting spans to %s", T.url);
out:
    pthread_mutex_unlock(&start_lock);
    return rc;
}

void cm_trace_stop(uint32_t timeout_ms)
{
    pthread_mutex_lock(&start_lock);
    if (!atomic_load(&enabled)) {
        pthread_mutex_unlock(&start_lock);
        return;
    }
    atomic_store_explicit(&enabled, 0, memory_order_release);
    pthread_mutex_lock(&T.lock);
    T.accepting = false;
    T.stopping = true;
    T.deadline_ns = now_ns() + (int64_t)timeout_ms * 1000000;
    pthread_cond_broadcast(&T.cond);
    /* An export still running at the deadline (a collector that does not
     * answer) is canceled. */
    struct timespec ts = {(time_t)(T.deadline_ns / 1000000000), (long)(T.deadline_ns % 1000000000)};
    while (!T.exited)
        if (pthread_cond_timedwait(&T.cond, &T.lock, &ts) == ETIMEDOUT)
            break;
    atomic_store(&T.cancel, 1);
    pthread_mutex_unlock(&T.lock);
    pthread_join(T.thread, NULL);
    /* What the deadline left behind is lost. */
    atomic_fetch_add(&counters[CM_TRACE_FAILED], T.len);
    while (T.len) {
        span_free(T.ring[T.head]);
        T.head = (T.head + 1) % T.cap;
        T.len--;
    }
    config_free();
    pthread_mutex_unlock(&start_lock);
}
