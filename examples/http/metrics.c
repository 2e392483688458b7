/*
 * metrics.c - Prometheus text exposition of the host's metrics (see
 * metrics.h). Series are created on first use and never removed: the
 * label sets are bounded (route templates x 8 methods x statuses seen).
 */
#include "metrics.h"

#include <community/community.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define NB (sizeof buckets / sizeof buckets[0])

static const char *const methods[] = {"GET",   "HEAD",   "POST",    "PUT",
                                      "PATCH", "DELETE", "OPTIONS", "OTHER"};

typedef struct series {
    int slot, method, status;
    uint64_t count;
    double sum;
    uint64_t b[NB]; /* non-cumulative */
} series;

struct cmh_metrics {
    int n_slots;
    char **labels;
    series *s;
    size_t n, cap;
    int32_t *index; /* open addressing: series index + 1, 0 = empty */
    size_t index_cap;
    cmh_gauges g;
};

int cmh_metrics_method_index(const char *method)
{
    for (int i = 0; i < 7; i++)
        if (strcmp(methods[i], method) == 0)
            return i;
    return 7;
}

cmh_metrics *cmh_metrics_new(int n_slots)
{
    cmh_metrics *m = cmh_xcalloc(1, sizeof *m);
    m->n_slots = n_slots;
    m->labels = cmh_xcalloc((size_t)n_slots, sizeof *m->labels);
    m->index_cap = 1024;
    m->index = cmh_xcalloc(m->index_cap, sizeof *m->index);
    return m;
}

void cmh_metrics_free(cmh_metrics *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_slots; i++)
        free(m->labels[i]);
    free(m->labels);
    free(m->s);
    free(m->index);
    free(m);
}

void cmh_metrics_slot(cmh_metrics *m, int slot, const char *label)
{
    if (slot < 0 || slot >= m->n_slots)
        return;
    free(m->labels[slot]);
    m->labels[slot] = cmh_xstrdup(label);
}

const char *cmh_metrics_slot_label(const cmh_metrics *m, int slot)
{
    return slot >= 0 && slot < m->n_slots && m->labels[slot] ? m->labels[slot] : "unknown";
}

cmh_gauges *cmh_metrics_gauges(cmh_metrics *m)
{
    return &m->g;
}

static uint32_t key_hash(int slot, int method, int status)
{
    uint32_t k = ((uint32_t)slot << 13) ^ ((uint32_t)method << 10) ^ (uint32_t)status;
    return k * 2654435761u;
}

static void reindex(cmh_metrics *m)
{
    free(m->index);
    m->index_cap *= 2;
    m->index = cmh_xcalloc(m->index_cap, sizeof *m->index);
    for (size_t i = 0; i < m->n; i++) {
        size_t h = key_hash(m->s[i].slot, m->s[i].method, m->s[i].status) & (m->index_cap - 1);
        while (m->index[h])
            h = (h + 1) & (m->index_cap - 1);
        m->index[h] = (int32_t)i + 1;
    }
}

static series *find(cmh_metrics *m, int slot, int method, int status)
{
    size_t h = key_hash(slot, method, status) & (m->index_cap - 1);
    while (m->index[h]) {
        series *s = &m->s[m->index[h] - 1];
        if (s->slot == slot && s->method == method && s->status == status)
            return s;
        h = (h + 1) & (m->index_cap - 1);
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->s = cmh_xrealloc(m->s, m->cap * sizeof *m->s);
    }
    series *s = &m->s[m->n++];
    memset(s, 0, sizeof *s);
    s->slot = slot;
    s->method = method;
    s->status = status;
    m->index[h] = (int32_t)m->n;
    if (m->n * 2 > m->index_cap)
        reindex(m);
    return find(m, slot, method, status);
}

void cmh_metrics_observe(cmh_metrics *m, int slot, const char *method, int status, double sec)
{
    if (slot < 0 || slot >= m->n_slots)
        return;
    series *s = find(m, slot, cmh_metrics_method_index(method), status);
    s->count++;
    s->sum += sec;
    for (size_t i = 0; i < NB; i++)
        if (sec <= buckets[i]) {
            s->b[i]++;
            break;
        }
}

/* Label values escape backslash, double quote and newline. */
static void label_value(cmh_buf *o, const char *v)
{
    cmh_buf_putc(o, '"');
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\' || *p == '"') {
            cmh_buf_putc(o, '\\');
            cmh_buf_putc(o, *p);
        } else if (*p == '\n') {
            cmh_buf_puts(o, "\\n");
        } else {
            cmh_buf_putc(o, *p);
        }
    }
    cmh_buf_putc(o, '"');
}

static void labels(cmh_metrics *m, cmh_buf *o, const series *s)
{
    cmh_buf_puts(o, "method=");
    label_value(o, methods[s->method]);
    cmh_buf_puts(o, ",route=");
    label_value(o, m->labels[s->slot] ? m->labels[s->slot] : "unknown");
    cmh_buf_printf(o, ",status=\"%d\"", s->status);
}

static void family(cmh_buf *o, const char *name, const char *type, const char *help)
{
    cmh_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void bucket_le(cmh_buf *o, double le)
{
    char t[32];
    (void)snprintf(t, sizeof t, "%g", le);
    cmh_buf_puts(o, t);
}

/* Queue depths from the jobs.stats result: {"queues": {name: {delayed,
 * queued, running, oldest_queued_age_ms}}}. */
static void render_jobs(cmh_buf *o, const char *jobs)
{
    json_t *doc = jobs ? json_loads(jobs, 0, NULL) : NULL;
    json_t *queues = json_object_get(doc, "queues");
    static const char *const states[] = {"delayed", "queued", "running"};
    const char *name;
    json_t *q;
    family(o, "community_job_queue_depth", "gauge",
           "Jobs per queue and state (delayed, queued, running), from jobs.stats.");
    json_object_foreach(queues, name, q)
    {
        for (int i = 0; i < 3; i++) {
            cmh_buf_puts(o, "community_job_queue_depth{queue=");
            label_value(o, name);
            cmh_buf_printf(o, ",state=\"%s\"} %lld\n", states[i],
                           (long long)json_integer_value(json_object_get(q, states[i])));
        }
    }
    family(o, "community_job_queue_oldest_age_seconds", "gauge",
           "Age of the oldest queued job per queue, from jobs.stats.");
    json_object_foreach(queues, name, q)
    {
        json_t *age = json_object_get(q, "oldest_queued_age_ms");
        if (!json_is_integer(age))
            continue;
        cmh_buf_puts(o, "community_job_queue_oldest_age_seconds{queue=");
        label_value(o, name);
        cmh_buf_printf(o, "} %.3f\n", (double)json_integer_value(age) / 1000.0);
    }
    family(o, "community_job_stats_up", "gauge",
           "1 if jobs.stats could be read from the database, else 0.");
    cmh_buf_printf(o, "community_job_stats_up %d\n", queues ? 1 : 0);
    json_decref(doc);
}

/* Mail per kind from the mail.stats result: {"kinds": {kind: {queued,
 * pending, sending, sent, failed, suppressed, bounced, complained}},
 * "latency": {"le_s": [...], "by_kind": {kind: {le_counts, count, sum_s}}}}. */
void cmh_metrics_render_mail(cmh_buf *o, const char *mail)
{
    json_t *doc = mail ? json_loads(mail, 0, NULL) : NULL;
    json_t *kinds = json_object_get(doc, "kinds");
    static const char *const outcomes[] = {"queued",     "sent",    "failed",
                                           "suppressed", "bounced", "complained"};
    const char *kind;
    json_t *k;
    family(o, "community_mail_messages_total", "counter",
           "Mails per kind (outbox template) and outcome: queued (written), sent (accepted by "
           "the server), failed, suppressed, bounced and complained (reported by SES).");
    json_object_foreach(kinds, kind, k)
    {
        for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++) {
            cmh_buf_puts(o, "community_mail_messages_total{kind=");
            label_value(o, kind);
            cmh_buf_printf(o, ",outcome=\"%s\"} %lld\n", outcomes[i],
                           (long long)json_integer_value(json_object_get(k, outcomes[i])));
        }
    }
    family(o, "community_mail_outbox_depth", "gauge",
           "Mails per kind waiting to be sent (pending) or being sent (sending).");
    json_object_foreach(kinds, kind, k)
    {
        static const char *const states[] = {"pending", "sending"};
        for (int i = 0; i < 2; i++) {
            cmh_buf_puts(o, "community_mail_outbox_depth{kind=");
            label_value(o, kind);
            cmh_buf_printf(o, ",status=\"%s\"} %lld\n", states[i],
                           (long long)json_integer_value(json_object_get(k, states[i])));
        }
    }
    json_t *lat = json_object_get(doc, "latency"), *le = json_object_get(lat, "le_s");
    family(o, "community_mail_delivery_latency_seconds", "histogram",
           "Time from a mail being written to the outbox to the server accepting it, per kind.");
    json_object_foreach(json_object_get(lat, "by_kind"), kind, k)
    {
        json_t *counts = json_object_get(k, "le_counts");
        for (size_t i = 0; i < json_array_size(le) && i < json_array_size(counts); i++) {
            cmh_buf_puts(o, "community_mail_delivery_latency_seconds_bucket{kind=");
            label_value(o, kind);
            cmh_buf_puts(o, ",le=\"");
            bucket_le(o, json_number_value(json_array_get(le, i)));
            cmh_buf_printf(o, "\"} %lld\n",
                           (long long)json_integer_value(json_array_get(counts, i)));
        }
        long long n = (long long)json_integer_value(json_object_get(k, "count"));
        cmh_buf_puts(o, "community_mail_delivery_latency_seconds_bucket{kind=");
        label_value(o, kind);
        cmh_buf_printf(o, ",le=\"+Inf\"} %lld\n", n);
        cmh_buf_puts(o, "community_mail_delivery_latency_seconds_sum{kind=");
        label_value(o, kind);
        cmh_buf_printf(o, "} %.6f\n", json_number_value(json_object_get(k, "sum_s")));
        cmh_buf_puts(o, "community_mail_delivery_latency_seconds_count{kind=");
        label_value(o, kind);
        cmh_buf_printf(o, "} %lld\n", n);
    }
    family(o, "community_mail_stats_up", "gauge",
           "1 if the mail counters could be read from the database, else 0.");
    cmh_buf_printf(o, "community_mail_stats_up %d\n", kinds ? 1 : 0);
    json_decref(doc);
}

/* The assistant from the assistant.stats result: {"le_s": [...],
 * "by_model": {model: {le_counts, count, sum_s, tokens_in, tokens_out}}}. */
void cmh_metrics_render_assistant(cmh_buf *o, const char *stats)
{
    json_t *doc = stats ? json_loads(stats, 0, NULL) : NULL;
    json_t *by = json_object_get(doc, "by_model"), *le = json_object_get(doc, "le_s");
    const char *model;
    json_t *m;
    family(o, "community_assistant_inference_latency_seconds", "histogram",
           "Time the assistant took to answer (retrieval and model inference), per model, over "
           "the messages kept.");
    json_object_foreach(by, model, m)
    {
        json_t *counts = json_object_get(m, "le_counts");
        for (size_t i = 0; i < json_array_size(le) && i < json_array_size(counts); i++) {
            cmh_buf_puts(o, "community_assistant_inference_latency_seconds_bucket{model=");
            label_value(o, model);
            cmh_buf_puts(o, ",le=\"");
            bucket_le(o, json_number_value(json_array_get(le, i)));
            cmh_buf_printf(o, "\"} %lld\n",
                           (long long)json_integer_value(json_array_get(counts, i)));
        }
        long long n = (long long)json_integer_value(json_object_get(m, "count"));
        cmh_buf_puts(o, "community_assistant_inference_latency_seconds_bucket{model=");
        label_value(o, model);
        cmh_buf_printf(o, ",le=\"+Inf\"} %lld\n", n);
        cmh_buf_puts(o, "community_assistant_inference_latency_seconds_sum{model=");
        label_value(o, model);
        cmh_buf_printf(o, "} %.6f\n", json_number_value(json_object_get(m, "sum_s")));
        cmh_buf_puts(o, "community_assistant_inference_latency_seconds_count{model=");
        label_value(o, model);
        cmh_buf_printf(o, "} %lld\n", n);
    }
    family(o, "community_assistant_tokens_total", "counter",
           "Tokens the assistant's model read (direction in) and wrote (out), per model, over "
           "the messages kept.");
    json_object_foreach(by, model, m)
    {
        static const char *const dirs[] = {"in", "out"};
        static const char *const keys[] = {"tokens_in", "tokens_out"};
        for (int i = 0; i < 2; i++) {
            cmh_buf_puts(o, "community_assistant_tokens_total{model=");
            label_value(o, model);
            cmh_buf_printf(o, ",direction=\"%s\"} %lld\n", dirs[i],
                           (long long)json_integer_value(json_object_get(m, keys[i])));
        }
    }
    family(o, "community_assistant_stats_up", "gauge",
           "1 if the assistant's statistics could be read from the database, else 0.");
    cmh_buf_printf(o, "community_assistant_stats_up %d\n", by ? 1 : 0);
    json_decref(doc);
}

/* The store's pool and result cache from cm_store_stats(). */
static void render_store(cmh_buf *o, const char *stats)
{
    json_t *doc = stats ? json_loads(stats, 0, NULL) : NULL;
    if (!doc)
        return;
    family(o, "community_db_pool_connections", "gauge",
           "Database connections of the pool by state (size = configured maximum).");
    static const char *const keys[] = {"pool_size", "open", "in_use"};
    static const char *const states[] = {"size", "open", "in_use"};
    for (int i = 0; i < 3; i++)
        cmh_buf_printf(o, "community_db_pool_connections{state=\"%s\"} %lld\n", states[i],
                       (long long)json_integer_value(json_object_get(doc, keys[i])));
    family(o, "community_db_pool_waiting", "gauge",
           "Library calls waiting for a free database connection.");
    cmh_buf_printf(o, "community_db_pool_waiting %lld\n",
                   (long long)json_integer_value(json_object_get(doc, "waiting")));
    family(o, "community_result_cache_lookups_total", "counter",
           "Lookups in the library's read-result cache, by outcome.");
    cmh_buf_printf(o, "community_result_cache_lookups_total{result=\"hit\"} %lld\n",
                   (long long)json_integer_value(json_object_get(doc, "cache_hits")));
    cmh_buf_printf(o, "community_result_cache_lookups_total{result=\"miss\"} %lld\n",
                   (long long)json_integer_value(json_object_get(doc, "cache_misses")));
    family(o, "community_result_cache_shared_errors_total", "counter",
           "Redis calls of the shared result cache that failed or timed out "
           "(each turns the cache off for a second).");
    cmh_buf_printf(o, "community_result_cache_shared_errors_total %lld\n",
                   (long long)json_integer_value(json_object_get(doc, "cache_shared_errors")));
    json_decref(doc);
}

void cmh_metrics_render(cmh_metrics *m, cmh_buf *o, const char *business, const char *jobs,
                        bool have_jobs, const char *version, const char *store_stats)
{
    render_store(o, store_stats);
    family(o, "community_http_requests_total", "counter",
           "HTTP requests answered, by route template, method and status.");
    for (size_t i = 0; i < m->n; i++) {
        cmh_buf_puts(o, "community_http_requests_total{");
        labels(m, o, &m->s[i]);
        cmh_buf_printf(o, "} %llu\n", (unsigned long long)m->s[i].count);
    }
    family(o, "community_http_request_duration_seconds", "histogram",
           "Time from the first byte of a request to its response being queued.");
    for (size_t i = 0; i < m->n; i++) {
        const series *s = &m->s[i];
        uint64_t cum = 0;
        for (size_t b = 0; b < NB; b++) {
            cum += s->b[b];
            cmh_buf_puts(o, "community_http_request_duration_seconds_bucket{");
            labels(m, o, s);
            cmh_buf_puts(o, ",le=\"");
            bucket_le(o, buckets[b]);
            cmh_buf_printf(o, "\"} %llu\n", (unsigned long long)cum);
        }
        cmh_buf_puts(o, "community_http_request_duration_seconds_bucket{");
        labels(m, o, s);
        cmh_buf_printf(o, ",le=\"+Inf\"} %llu\n", (unsigned long long)s->count);
        cmh_buf_puts(o, "community_http_request_duration_seconds_sum{");
        labels(m, o, s);
        cmh_buf_printf(o, "} %.9f\n", s->sum);
        cmh_buf_puts(o, "community_http_request_duration_seconds_count{");
        labels(m, o, s);
        cmh_buf_printf(o, "} %llu\n", (unsigned long long)s->count);
    }
    family(o, "community_http_requests_in_flight", "gauge",
           "Requests received and not yet answered.");
    cmh_buf_printf(o, "community_http_requests_in_flight %lld\n", (long long)m->g.in_flight);
    family(o, "community_http_connections", "gauge",
           "Open client connections by state (idle keep-alive, reading a request, working "
           "on it, writing the response, closing).");
    static const char *const states[] = {"idle", "reading", "working", "writing", "closing"};
    for (int i = 0; i < 5; i++)
        cmh_buf_printf(o, "community_http_connections{state=\"%s\"} %lld\n", states[i],
                       (long long)m->g.conn_state[i]);
    family(o, "community_http_connections_accepted_total", "counter",
           "Client connections accepted since start.");
    cmh_buf_printf(o, "community_http_connections_accepted_total %lld\n",
                   (long long)m->g.connections_total);
    family(o, "community_http_connections_refused_total", "counter",
           "Client connections closed at once: over --max-connections (reason=\"total\") or "
           "over --max-connections-per-client (reason=\"per_client\").");
    cmh_buf_printf(o, "community_http_connections_refused_total{reason=\"total\"} %lld\n",
                   (long long)m->g.refused_total[0]);
    cmh_buf_printf(o, "community_http_connections_refused_total{reason=\"per_client\"} %lld\n",
                   (long long)m->g.refused_total[1]);
    family(o, "community_http_rate_limited_total", "counter",
           "Requests refused with 429 by the per-client rate limit.");
    cmh_buf_printf(o, "community_http_rate_limited_total %lld\n",
                   (long long)m->g.rate_limited_total);
    family(o, "community_http_redis_errors_total", "counter",
           "Redis calls that failed or timed out (the request was let through: fail open).");
    cmh_buf_printf(o, "community_http_redis_errors_total %lld\n",
                   (long long)m->g.redis_errors_total);
    family(o, "community_http_idempotent_replays_total", "counter",
           "Responses replayed for a repeated Idempotency-Key.");
    cmh_buf_printf(o, "community_http_idempotent_replays_total %lld\n",
                   (long long)m->g.idempotent_replays_total);
    family(o, "community_http_streams_total", "counter",
           "Requests asking for a streamed answer (Accept: text/event-stream).");
    cmh_buf_printf(o, "community_http_streams_total %lld\n", (long long)m->g.streams_total);
    family(o, "community_http_streams_abandoned_total", "counter",
           "Streamed answers whose client went away before the last event (the operation "
           "stops at its next event and stores nothing when it had not committed).");
    cmh_buf_printf(o, "community_http_streams_abandoned_total %lld\n",
                   (long long)m->g.streams_abandoned_total);
    family(o, "community_http_parse_errors_total", "counter",
           "Connections closed because of malformed or oversized requests.");
    cmh_buf_printf(o, "community_http_parse_errors_total %lld\n",
                   (long long)m->g.parse_errors_total);

    json_t *doc = business ? json_loads(business, 0, NULL) : NULL;
    json_t *counters = json_object_get(doc, "counters");
    family(o, "community_business_events_total", "counter",
           "Business counters kept by libcommunity (sign-ups, events created, RSVPs, ...).");
    const char *k;
    json_t *v;
    json_object_foreach(counters, k, v)
    {
        if (!json_is_integer(v))
            continue;
        cmh_buf_puts(o, "community_business_events_total{counter=");
        label_value(o, k);
        cmh_buf_printf(o, "} %lld\n", (long long)json_integer_value(v));
    }
    family(o, "community_business_metrics_up", "gauge",
           "1 if the business counters could be read from the database, else 0.");
    cmh_buf_printf(o, "community_business_metrics_up %d\n", counters ? 1 : 0);
    json_decref(doc);

    if (have_jobs)
        render_jobs(o, jobs);

    family(o, "community_trace_spans_total", "counter",
           "Trace spans by outcome: exported to the OTLP collector, dropped because the "
           "export queue was full, failed because an export failed.");
    static const struct {
        const char *name;
        int32_t counter;
    } outcomes[] = {{"exported", CM_TRACE_EXPORTED},
                    {"dropped", CM_TRACE_DROPPED},
                    {"failed", CM_TRACE_FAILED}};
    for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++)
        cmh_buf_printf(o, "community_trace_spans_total{outcome=\"%s\"} %llu\n", outcomes[i].name,
                       (unsigned long long)cm_trace_stat(outcomes[i].counter));

    family(o, "community_build_info", "gauge", "Library version of this server.");
    cmh_buf_puts(o, "community_build_info{version=");
    label_value(o, version);
    cmh_buf_puts(o, "} 1\n");
    family(o, "process_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch, in seconds.");
    cmh_buf_printf(o, "process_start_time_seconds %.3f\n", m->g.start_time);
}
