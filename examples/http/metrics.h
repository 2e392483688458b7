/*
 * metrics.h - the host's Prometheus metrics: request counts and latency
 * histograms by route, method and status, in-flight requests, open
 * connections, rate-limit and idempotency counters, and the library's
 * business counters (read through the metrics.get operation).
 *
 * Single-threaded: only the event loop thread touches it.
 */
#ifndef CMH_METRICS_H
#define CMH_METRICS_H

#include "util.h"

typedef struct cmh_metrics cmh_metrics;

/* Methods get a small fixed label set; anything else is "OTHER". */
int cmh_metrics_method_index(const char *method);

/* `n_slots` route slots; each slot has a route label (a template such as
 * "/v1/members/{member_id}", never a raw path) set by cmh_metrics_slot(). */
cmh_metrics *cmh_metrics_new(int n_slots);
void cmh_metrics_free(cmh_metrics *m);
void cmh_metrics_slot(cmh_metrics *m, int slot, const char *route_label);
/* The route label of a slot ("unknown" if unset). */
const char *cmh_metrics_slot_label(const cmh_metrics *m, int slot);
void cmh_metrics_observe(cmh_metrics *m, int slot, const char *method, int status, double seconds);

/* Gauges and counters the server and app update. */
typedef struct cmh_gauges {
    int64_t in_flight;
    int64_t connections;   /* open */
    int64_t conn_state[5]; /* idle, reading, working, writing, closing */
    int64_t connections_total;
    int64_t refused_total[2]; /* over --max-connections, over the per-client cap */
    int64_t rate_limited_total;
    int64_t idempotent_replays_total;
    int64_t streams_total;           /* answers sent as server-sent events */
    int64_t streams_abandoned_total; /* ... whose client went away before the end */
    int64_t parse_errors_total;
    int64_t redis_errors_total; /* copied from the Redis client before rendering */
    double start_time;
} cmh_gauges;
cmh_gauges *cmh_metrics_gauges(cmh_metrics *m);

/* Render the text exposition format (version 0.0.4). `business` is the
 * metrics.get result JSON, `jobs` the jobs.stats result; NULL when they
 * could not be read. Job gauges appear only when `have_jobs` (the library
 * has the jobs.stats operation): nothing is invented. */
void cmh_metrics_render(cmh_metrics *m, cmh_buf *out, const char *business, const char *jobs,
                        bool have_jobs, const char *version, const char *store_stats);

/* Append the mail families from the mail.stats result (NULL when it could
 * not be read: only community_mail_stats_up 0). */
void cmh_metrics_render_mail(cmh_buf *out, const char *mail);

/* Append the assistant's families from the assistant.stats result (NULL
 * when it could not be read: only community_assistant_stats_up 0). */
void cmh_metrics_render_assistant(cmh_buf *out, const char *stats);

#endif /* CMH_METRICS_H */
