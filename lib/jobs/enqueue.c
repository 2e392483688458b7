/*
 * enqueue.c - job kinds and the enqueue: validation (kind, payload, run
 * time, priority, attempts, backoff, dedupe key), the transactional
 * enqueue that commits with the caller's business write, the single and
 * batch enqueues in their own transaction, and per-queue rate limits.
 */
#include "jobs_int.h"
#include "scheduler_int.h"

#include <stdio.h>
#include <string.h>

static const char *const backoff_names[] = {"", "fixed", "exponential", "custom"};

const char *cm__backoff_name(int backoff)
{
    return backoff >= CM_JOB_BACKOFF_FIXED && backoff <= CM_JOB_BACKOFF_CUSTOM
               ? backoff_names[backoff]
               : "exponential";
}

int cm__backoff_parse(const char *name)
{
    for (int i = CM_JOB_BACKOFF_FIXED; i <= CM_JOB_BACKOFF_CUSTOM; i++)
        if (strcmp(name, backoff_names[i]) == 0)
            return i;
    return CM_JOB_BACKOFF_EXPONENTIAL;
}

int cm__jobs_check_name(const char *name, const char *field)
{
    if (!name || !*name)
        return cm__error_set_field(CM_EINVAL, field, "%s: required", field);
    size_t n = strlen(name);
    if (n > CM__JOBS_NAME_MAX || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") != n)
        return cm__error_set_field(CM_EINVAL, field,
                                   "%s: 1..%d characters of a-z, 0-9, '.', '_', '-'", field,
                                   CM__JOBS_NAME_MAX);
    return CM_OK;
}

int cm__jobs_check_json(const char *json, size_t len, size_t max, const char *field)
{
    if (len > max)
        return cm__error_set_field(CM_ERANGE, field, "%s: %zu bytes, over the limit of %zu", field,
                                   len, max);
    if (cm__json_surely_valid(json, len))
        return CM_OK;
    json_error_t err;
    json_t *v = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    if (!v)
        return cm__error_set_field(CM_EINVAL, field, "%s: not valid JSON: %s (column %d)", field,
                                   err.text, err.column);
    json_decref(v);
    return CM_OK;
}

/* ---- kinds ---- */

int cm_job_kind_options_init(cm_job_kind_options *opts, uint32_t size)
{
    if (!opts || size < sizeof(uint32_t))
        return cm__error_set(CM_EINVAL, "cm_job_kind_options_init: bad struct size");
    cm_job_kind_options d = CM_JOB_KIND_OPTIONS_INIT;
    memset(opts, 0, size);
    memcpy(opts, &d, size < sizeof d ? size : sizeof d);
    opts->size = size;
    return CM_OK;
}

/* Copy caller options of any (older or newer) size over the defaults. */
#define READ_OPTS(dst, src, init)                                                                  \
    do {                                                                                           \
        __typeof__(dst) d_ = init;                                                                 \
        (dst) = d_;                                                                                \
        if (src) {                                                                                 \
            size_t n_ = (src)->size < sizeof(dst) ? (src)->size : sizeof(dst);                     \
            memcpy(&(dst), (src), n_);                                                             \
            (dst).size = sizeof(dst);                                                              \
        }                                                                                          \
    } while (0)

static int check_kind_options(const cm_job_kind_options *o)
{
    int rc;
    if (o->queue && (rc = cm__jobs_check_name(o->queue, "queue")))
        return rc;
    if (o->priority < -CM__JOBS_PRIORITY_MAX || o->priority > CM__JOBS_PRIORITY_MAX)
        return cm__error_set_field(CM_ERANGE, "priority", "priority: -%d..%d",
                                   CM__JOBS_PRIORITY_MAX, CM__JOBS_PRIORITY_MAX);
    if (o->max_attempts < 1 || o->max_attempts > CM__JOBS_ATTEMPTS_MAX)
        return cm__error_set_field(CM_ERANGE, "max_attempts", "max_attempts: 1..%d",
                                   CM__JOBS_ATTEMPTS_MAX);
    if (o->backoff < CM_JOB_BACKOFF_FIXED || o->backoff > CM_JOB_BACKOFF_CUSTOM)
        return cm__error_set_field(CM_EINVAL, "backoff", "backoff: unknown policy %d", o->backoff);
    if (o->backoff_us < 0)
        return cm__error_set_field(CM_ERANGE, "backoff_us", "backoff_us: must be >= 0");
    if (o->backoff_max_us < 0)
        return cm__error_set_field(CM_ERANGE, "backoff_max_us", "backoff_max_us: must be >= 0");
    if (o->timeout_us < 0)
        return cm__error_set_field(CM_ERANGE, "timeout_us", "timeout_us: must be >= 0");
    if (o->max_payload == 0 || o->max_payload > CM__JOBS_MAX_PAYLOAD)
        return cm__error_set_field(CM_ERANGE, "max_payload", "max_payload: 1..%u bytes",
                                   CM__JOBS_MAX_PAYLOAD);
    return CM_OK;
}

int cm__jobs_define_tx(cm__conn *conn, const char *kind, const cm_job_kind_options *in,
                       bool only_missing)
{
    cm_job_kind_options o;
    READ_OPTS(o, in, CM_JOB_KIND_OPTIONS_INIT);
    int rc;
    if ((rc = cm__jobs_check_name(kind, "kind")) || (rc = check_kind_options(&o)))
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, conn, only_missing ? "jobs.kind_insert_missing" : "jobs.kind_upsert")))
        return rc;
    cm__q_text(&q, 1, kind);
    cm__q_text(&q, 2, o.queue ? o.queue : "default");
    cm__q_int64(&q, 3, o.priority);
    cm__q_int64(&q, 4, o.max_attempts);
    cm__q_text(&q, 5, cm__backoff_name(o.backoff));
    cm__q_int64(&q, 6, o.backoff_us);
    cm__q_int64(&q, 7, o.backoff_max_us);
    cm__q_int64(&q, 8, o.timeout_us);
    cm__q_int64(&q, 9, o.max_payload);
    cm__q_int64(&q, 10, cm_now_us());
    rc = cm__q_step(&q);
    cm__q_close(&q);
    return cm__ok(rc);
}

typedef struct define_call {
    const char *kind;
    const cm_job_kind_options *opts;
} define_call;

static int define_fn(cm__conn *conn, void *p)
{
    define_call *c = p;
    return cm__jobs_define_tx(conn, c->kind, c->opts, false);
}

int cm_jobs_define(cm_store *store, const char *kind, const cm_job_kind_options *opts)
{
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_jobs_define: store is NULL");
    if (opts && opts->size < sizeof(uint32_t))
        return cm__error_set(CM_EINVAL, "cm_jobs_define: options size not set");
    define_call c = {kind, opts};
    return cm__store_run_tx(store, true, define_fn, &c);
}

/* A kind's definition as the enqueue needs it. */
typedef struct kind_def {
    char queue[CM__JOBS_NAME_MAX + 1];
    int32_t priority, max_attempts, backoff;
    int64_t backoff_us, backoff_max_us, timeout_us, max_payload;
} kind_def;

static int kind_load(kind_def *kd, cm__conn *conn, const char *kind)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.kind_get");
    if (rc)
        return rc;
    cm__q_text(&q, 1, kind);
    rc = cm__q_step(&q);
    if (rc == 1) {
        (void)snprintf(kd->queue, sizeof kd->queue, "%s", cm__q_col_text(&q, 0));
        kd->priority = (int32_t)cm__q_col_int64(&q, 1);
        kd->max_attempts = (int32_t)cm__q_col_int64(&q, 2);
        kd->backoff = cm__backoff_parse(cm__q_col_text(&q, 3));
        kd->backoff_us = cm__q_col_int64(&q, 4);
        kd->backoff_max_us = cm__q_col_int64(&q, 5);
        kd->timeout_us = cm__q_col_int64(&q, 6);
        kd->max_payload = cm__q_col_int64(&q, 7);
    }
    cm__q_close(&q);
    if (rc == 0)
        return cm__error_set_field(CM_EINVAL, "kind",
                                   "kind: '%s' is not a defined job kind (cm_jobs_define)", kind);
    return cm__ok(rc);
}

int cm__jobs_kind_check(cm__conn *conn, const char *kind, size_t len)
{
    kind_def kd;
    int rc = kind_load(&kd, conn, kind);
    if (rc)
        return rc;
    if ((int64_t)len > kd.max_payload)
        return cm__error_set_field(CM_ERANGE, "payload",
                                   "payload: %zu bytes, over the limit of %lld for kind %s", len,
                                   (long long)kd.max_payload, kind);
    return CM_OK;
}

int cm__jobs_kind_queue(char *buf, cm__conn *conn, const char *kind)
{
    kind_def kd;
    int rc = kind_load(&kd, conn, kind);
    if (rc == CM_EINVAL)
        return CM_ENOTFOUND;
    if (rc)
        return rc;
    memcpy(buf, kd.queue, sizeof kd.queue);
    return CM_OK;
}

int cm_job_options_init(cm_job_options *opts, uint32_t size)
{
    if (!opts || size < sizeof(uint32_t))
        return cm__error_set(CM_EINVAL, "cm_job_options_init: bad struct size");
    cm_job_options d = CM_JOB_OPTIONS_INIT;
    memset(opts, 0, size);
    memcpy(opts, &d, size < sizeof d ? size : sizeof d);
    opts->size = size;
    return CM_OK;
}

/* Checks that need no database: everything but the kind's existence and
 * its payload limit. `o` is already copied to the current layout. */
static int check_options(const cm_job_options *o, bool batch_keys)
{
    int rc;
    if (o->priority != CM_JOB_PRIORITY_DEFAULT &&
        (o->priority < -CM__JOBS_PRIORITY_MAX || o->priority > CM__JOBS_PRIORITY_MAX))
        return cm__error_set_field(CM_ERANGE, "priority", "priority: -%d..%d",
                                   CM__JOBS_PRIORITY_MAX, CM__JOBS_PRIORITY_MAX);
    if (o->delay_us < 0)
        return cm__error_set_field(CM_ERANGE, "delay_us", "delay_us: must be >= 0, got %lld",
                                   (long long)o->delay_us);
    if (o->run_at < 0)
        return cm__error_set_field(CM_ERANGE, "run_at", "run_at: must be >= 0");
    if (o->run_at && o->delay_us)
        return cm__error_set_field(CM_EINVAL, "run_at",
                                   "run_at: set run_at or delay_us, "
                                   "not both");
    if (o->max_attempts != 0 && (o->max_attempts < 1 || o->max_attempts > CM__JOBS_ATTEMPTS_MAX))
        return cm__error_set_field(CM_ERANGE, "max_attempts", "max_attempts: 1..%d",
                                   CM__JOBS_ATTEMPTS_MAX);
    if (o->backoff < CM_JOB_BACKOFF_DEFAULT || o->backoff > CM_JOB_BACKOFF_CUSTOM)
        return cm__error_set_field(CM_EINVAL, "backoff", "backoff: unknown policy %d", o->backoff);
    if (o->backoff_us < -1)
        return cm__error_set_field(CM_ERANGE, "backoff_us", "backoff_us: must be >= 0");
    if (o->backoff_max_us < -1)
        return cm__error_set_field(CM_ERANGE, "backoff_max_us", "backoff_max_us: must be >= 0");
    if (o->timeout_us < -1)
        return cm__error_set_field(CM_ERANGE, "timeout_us", "timeout_us: must be >= 0");
    if (o->queue && (rc = cm__jobs_check_name(o->queue, "queue")))
        return rc;
    if (o->dedupe != CM_JOB_DEDUPE_REJECT && o->dedupe != CM_JOB_DEDUPE_REPLACE)
        return cm__error_set_field(CM_EINVAL, "dedupe", "dedupe: unknown policy %d", o->dedupe);
    if (o->dedupe_key && batch_keys)
        return cm__error_set_field(CM_EINVAL, "dedupe_key",
                                   "dedupe_key: pass per-job keys in dedupe_keys for a batch");
    return CM_OK;
}

static int check_key(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (key && (n == 0 || n > CM__JOBS_KEY_MAX || !cm__utf8_valid(key, n)))
        return cm__error_set_field(CM_EINVAL, "dedupe_key", "dedupe_key: 1..%d bytes of UTF-8",
                                   CM__JOBS_KEY_MAX);
    return CM_OK;
}

static int find_live(int64_t *id, cm__conn *conn, const char *key)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.find_live_dedupe");
    if (rc)
        return rc;
    cm__q_text(&q, 1, key);
    rc = cm__q_step(&q);
    *id = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    return cm__ok(rc);
}

/* Insert one validated job. CM_EEXISTS (*id set) on a dedupe conflict. */
static int insert_job(int64_t *id, cm__conn *conn, const kind_def *kd, const char *kind,
                      const char *payload, size_t len, const cm_job_options *o, const char *key,
                      int64_t schedule_id, int64_t now)
{
    *id = 0;
    int64_t run_at = o->run_at ? o->run_at : now + o->delay_us;
    const char *stmt = !key                                 ? "jobs.insert"
                       : o->dedupe == CM_JOB_DEDUPE_REPLACE ? "jobs.insert_dedupe_replace"
                                                            : "jobs.insert_dedupe_reject";
    cm__q q;
    int rc = cm__q_open(&q, conn, stmt);
    if (rc)
        return rc;
    cm__q_text(&q, 1, o->queue ? o->queue : kd->queue);
    cm__q_text(&q, 2, kind);
    cm__q_textn(&q, 3, payload, len);
    cm__q_int64(&q, 4, o->priority == CM_JOB_PRIORITY_DEFAULT ? kd->priority : o->priority);
    cm__q_text(&q, 5, run_at > now ? "delayed" : "queued");
    cm__q_int64(&q, 6, run_at);
    cm__q_int64(&q, 7, o->max_attempts ? o->max_attempts : kd->max_attempts);
    cm__q_text(&q, 8, cm__backoff_name(o->backoff ? o->backoff : kd->backoff));
    cm__q_int64(&q, 9, o->backoff_us >= 0 ? o->backoff_us : kd->backoff_us);
    cm__q_int64(&q, 10, o->backoff_max_us >= 0 ? o->backoff_max_us : kd->backoff_max_us);
    cm__q_int64(&q, 11, o->timeout_us >= 0 ? o->timeout_us : kd->timeout_us);
    cm__q_text(&q, 12, key);
    if (schedule_id)
        cm__q_int64(&q, 13, schedule_id);
    else
        cm__q_null(&q, 13);
    cm__q_int64(&q, 14, now);
    rc = cm__q_step(&q);
    if (rc == 1)
        *id = cm__q_col_int64(&q, 0);
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        cm__jobs_wake_tx(conn, o->queue ? o->queue : kd->queue); /* other processes */
        return CM_OK;
    }
    /* No row: a live job holds the key (or is running, for replace). */
    if ((rc = find_live(id, conn, key)))
        return rc;
    return cm__error_set_field(CM_EEXISTS, "dedupe_key",
                               "dedupe_key: live job %lld already holds '%.64s'%s", (long long)*id,
                               key, o->dedupe == CM_JOB_DEDUPE_REPLACE ? " and is running" : "");
}

static void read_job_options(cm_job_options *o, const cm_job_options *in)
{
    READ_OPTS(*o, in, CM_JOB_OPTIONS_INIT);
}

int cm__jobs_enqueue_sched_tx(int64_t *id_out, cm__conn *conn, const char *kind,
                              const char *payload, size_t len, const cm_job_options *in,
                              int64_t schedule_id)
{
    int64_t id = 0;
    if (id_out)
        *id_out = 0;
    if (in && in->size < sizeof(uint32_t))
        return cm__error_set(CM_EINVAL, "job options: size not set");
    cm_job_options o;
    read_job_options(&o, in);
    if (!payload)
        payload = "{}", len = 2;
    int rc;
    if ((rc = cm__jobs_check_name(kind, "kind")) || (rc = check_options(&o, false)) ||
        (rc = check_key(o.dedupe_key)) ||
        (rc = cm__jobs_check_json(payload, len, CM__JOBS_MAX_PAYLOAD, "payload")))
        return rc;
    kind_def kd;
    if ((rc = kind_load(&kd, conn, kind)))
        return rc;
    if ((int64_t)len > kd.max_payload)
        return cm__error_set_field(CM_ERANGE, "payload",
                                   "payload: %zu bytes, over the limit of %lld for kind %s", len,
                                   (long long)kd.max_payload, kind);
    rc = insert_job(&id, conn, &kd, kind, payload, len, &o, o.dedupe_key, schedule_id, cm_now_us());
    if (id_out)
        *id_out = id;
    return rc;
}

int cm__jobs_enqueue_tx(int64_t *id_out, cm__conn *conn, const char *kind, const char *payload,
                        size_t len, const cm_job_options *opts)
{
    return cm__jobs_enqueue_sched_tx(id_out, conn, kind, payload, len, opts, 0);
}

/* ---- enqueue in its own transaction ---- */

typedef struct batch_call {
    int64_t *ids;
    const char *kind;
    const char *const *payloads;
    const size_t *lens;
    const char *const *keys;
    size_t n;
    cm_job_options opts; /* the caller's, read into the current layout */
    bool single;
} batch_call;

/* Payload i of a batch, "{}" for NULL. */
static const char *payload_at(const batch_call *c, size_t i, size_t *len)
{
    const char *payload = c->payloads[i];
    *len = c->lens ? c->lens[i] : (payload ? strlen(payload) : 0);
    if (!payload)
        payload = "{}", *len = 2;
    return payload;
}

#define ROWS_MANY 64 /* rows of "jobs.insert_64" */
#define ROWS_FEW 8   /* rows of "jobs.insert_8" */

/* Insert the k (ROWS_MANY or ROWS_FEW) jobs from..from+k-1 of a batch, none
 * with a dedupe key, with one multi-row statement; their ids in row order
 * (ids NULL: not wanted, and not returned by the statement). */
static int insert_rows(int64_t *ids, cm__conn *conn, const kind_def *kd, const batch_call *c,
                       size_t from, size_t k, int64_t now)
{
    const cm_job_options *o = &c->opts;
    int64_t run_at = o->run_at ? o->run_at : now + o->delay_us;
    cm__q q;
    int rc = cm__q_open(&q, conn,
                        k == ROWS_MANY ? (ids ? "jobs.insert_64" : "jobs.insert_64_noids")
                                       : (ids ? "jobs.insert_8" : "jobs.insert_8_noids"));
    if (rc)
        return rc;
    cm__q_text(&q, 1, o->queue ? o->queue : kd->queue);
    cm__q_text(&q, 2, c->kind);
    cm__q_int64(&q, 3, o->priority == CM_JOB_PRIORITY_DEFAULT ? kd->priority : o->priority);
    cm__q_text(&q, 4, run_at > now ? "delayed" : "queued");
    cm__q_int64(&q, 5, run_at);
    cm__q_int64(&q, 6, o->max_attempts ? o->max_attempts : kd->max_attempts);
    cm__q_text(&q, 7, cm__backoff_name(o->backoff ? o->backoff : kd->backoff));
    cm__q_int64(&q, 8, o->backoff_us >= 0 ? o->backoff_us : kd->backoff_us);
    cm__q_int64(&q, 9, o->backoff_max_us >= 0 ? o->backoff_max_us : kd->backoff_max_us);
    cm__q_int64(&q, 10, o->timeout_us >= 0 ? o->timeout_us : kd->timeout_us);
    cm__q_int64(&q, 11, now);
    for (size_t j = 0; j < k; j++) {
        size_t len;
        const char *payload = payload_at(c, from + j, &len);
        cm__q_textn(&q, 12 + (int)j, payload, len);
    }
    size_t got = 0;
    while ((rc = cm__q_step(&q)) == 1) {
        if (ids && got < k)
            ids[got] = cm__q_col_int64(&q, 0);
        got++;
    }
    int64_t changed = rc == 0 && !ids ? cm__q_changes(&q) : (int64_t)got;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (changed != (int64_t)k)
        return cm__error_set(CM_ERROR, "enqueue: %lld of %zu rows inserted", (long long)changed, k);
    cm__jobs_wake_tx(conn, o->queue ? o->queue : kd->queue); /* other processes */
    /* RETURNING order is unspecified, but ids grow in row order. */
    for (size_t j = 1; ids && j < k; j++)
        for (size_t m = j; m > 0 && ids[m - 1] > ids[m]; m--) {
            int64_t t = ids[m];
            ids[m] = ids[m - 1];
            ids[m - 1] = t;
        }
    return CM_OK;
}

/* Insert the keyless jobs from..to-1 of a batch: multi-row statements for
 * the bulk, one statement per job for the rest. */
static int insert_run(cm__conn *conn, const kind_def *kd, const batch_call *c, size_t from,
                      size_t to, int64_t now)
{
    int rc = CM_OK;
    while (rc == CM_OK && from < to) {
        size_t k = to - from >= ROWS_MANY ? ROWS_MANY : to - from >= ROWS_FEW ? ROWS_FEW : 1;
        int64_t *ids = c->ids ? c->ids + from : NULL;
        if (k > 1) {
            rc = insert_rows(ids, conn, kd, c, from, k, now);
        } else {
            size_t len;
            const char *payload = payload_at(c, from, &len);
            int64_t id;
            rc = insert_job(&id, conn, kd, c->kind, payload, len, &c->opts, NULL, 0, now);
            if (ids)
                *ids = id;
        }
        from += k;
    }
    return rc;
}

static int batch_fn(cm__conn *conn, void *p)
{
    batch_call *c = p;
    kind_def kd;
    int rc = kind_load(&kd, conn, c->kind);
    if (rc)
        return rc;
    int64_t now = cm_now_us();
    for (size_t i = 0; i < c->n; i++) {
        size_t len;
        (void)payload_at(c, i, &len);
        if ((int64_t)len > kd.max_payload)
            return cm__error_set_field(CM_ERANGE, "payload",
                                       "payload[%zu]: %zu bytes, over the limit of %lld", i, len,
                                       (long long)kd.max_payload);
    }
    if (c->single) {
        size_t len;
        const char *payload = payload_at(c, 0, &len);
        return insert_job(c->ids, conn, &kd, c->kind, payload, len, &c->opts, c->opts.dedupe_key, 0,
                          now);
    }
    /* Runs of jobs without a dedupe key go in bulk; keyed jobs one by one. */
    size_t run = 0;
    for (size_t i = 0; i < c->n; i++) {
        const char *key = c->keys ? c->keys[i] : NULL;
        if (!key)
            continue;
        if ((rc = insert_run(conn, &kd, c, run, i, now)))
            return rc;
        run = i + 1;
        size_t len;
        const char *payload = payload_at(c, i, &len);
        int64_t id;
        rc = insert_job(&id, conn, &kd, c->kind, payload, len, &c->opts, key, 0, now);
        if (rc == CM_EEXISTS) {
            id = -id;
            rc = CM_OK;
        }
        if (c->ids)
            c->ids[i] = id;
        if (rc)
            return rc;
    }
    return insert_run(conn, &kd, c, run, c->n, now);
}

static int enqueue_common(batch_call *c, cm_store *store, const cm_job_options *in)
{
    if (!store)
        return cm__error_set(CM_EINVAL, "enqueue: store is NULL");
    if (in && in->size < sizeof(uint32_t))
        return cm__error_set(CM_EINVAL, "job options: size not set");
    read_job_options(&c->opts, in);
    const cm_job_options o = c->opts;
    int rc;
    if ((rc = cm__jobs_check_name(c->kind, "kind")) || (rc = check_options(&o, !c->single)) ||
        (rc = check_key(o.dedupe_key)))
        return rc;
    for (size_t i = 0; i < c->n; i++) {
        const char *payload = c->payloads[i];
        size_t len = c->lens ? c->lens[i] : (payload ? strlen(payload) : 0);
        if (payload && (rc = cm__jobs_check_json(payload, len, CM__JOBS_MAX_PAYLOAD, "payload")))
            return c->single ? rc
                             : cm__error_set_field(rc, "payload", "payload[%zu]: %s", i,
                                                   cm_error_message());
        if (c->keys && (rc = check_key(c->keys[i])))
            return cm__error_set_field(rc, "dedupe_key", "dedupe_keys[%zu]: %s", i,
                                       cm_error_message());
    }
    cm__jobs_local_wake_reset();
    rc = cm__store_run_tx(store, true, batch_fn, c);
    if (rc == CM_OK)
        cm__jobs_local_wake_flush(); /* the schedulers of this process */
    else
        cm__jobs_local_wake_reset();
    return rc;
}

int cm_jobs_enqueue(int64_t *id_out, cm_store *store, const char *kind, const char *payload,
                    size_t len, const cm_job_options *opts)
{
    int64_t id = 0;
    size_t l = len;
    batch_call c = {&id, kind, &payload, &l, NULL, 1, {0}, true};
    int rc = enqueue_common(&c, store, opts);
    if (id_out)
        *id_out = (rc == CM_OK || rc == CM_EEXISTS) ? id : 0;
    return rc;
}

int cm_jobs_enqueue_batch(int64_t *ids_out, cm_store *store, const char *kind,
                          const char *const *payloads, const size_t *lens,
                          const char *const *dedupe_keys, size_t n, const cm_job_options *opts)
{
    if (n == 0)
        return CM_OK;
    if (!payloads)
        return cm__error_set_field(CM_EINVAL, "payloads", "payloads: NULL");
    batch_call c = {ids_out, kind, payloads, lens, dedupe_keys, n, {0}, false};
    int rc = enqueue_common(&c, store, opts);
    if (rc && ids_out)
        memset(ids_out, 0, n * sizeof *ids_out);
    return rc;
}

/* ---- rate limits ---- */

typedef struct rate_call {
    const char *queue;
    uint32_t max;
    int64_t period;
} rate_call;

static int rate_fn(cm__conn *conn, void *p)
{
    rate_call *c = p;
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.queue_rate");
    if (rc)
        return rc;
    cm__q_text(&q, 1, c->queue);
    cm__q_int64(&q, 2, c->max);
    cm__q_int64(&q, 3, c->max ? c->period : 0);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    return cm__ok(rc);
}

int cm_jobs_set_rate_limit(cm_store *store, const char *queue, uint32_t max, int64_t period_us)
{
    if (!store)
        return cm__error_set(CM_EINVAL, "cm_jobs_set_rate_limit: store is NULL");
    int rc = cm__jobs_check_name(queue, "queue");
    if (rc)
        return rc;
    if (max && period_us < 1000)
        return cm__error_set_field(CM_EINVAL, "period_us", "period_us: at least 1000 (1 ms)");
    rate_call c = {queue, max, period_us};
    return cm__store_run_tx(store, true, rate_fn, &c);
}
