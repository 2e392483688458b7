/*
 * store.c - the public cm_store API: URI -> backend registry, the
 * connection pool, transactions with retry, and the statement wrappers
 * through which all domain SQL runs.
 */
#include "store_int.h"

#include "../util/tracing.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef CM_HAVE_PG
extern const cm__store_ops cm__pg_ops;
#endif

static const struct {
    const char *scheme;
    const cm__store_ops *ops;
} registry[] = {
    {"sqlite:", &cm__sqlite_ops},
#ifdef CM_HAVE_PG
    {"postgresql:", &cm__pg_ops},
    {"postgres:", &cm__pg_ops},
#endif
};

int cm_store_options_init(cm_store_options *opts, uint32_t size)
{
    if (!opts || size < sizeof(uint32_t) * 4)
        return cm__error_set(CM_EINVAL, "cm_store_options_init: bad struct size");
    memset(opts, 0, size);
    opts->size = size;
    return CM_OK;
}

static int cmp_entry(const void *a, const void *b)
{
    const cm__sql_entry *x = *(const cm__sql_entry *const *)a;
    const cm__sql_entry *y = *(const cm__sql_entry *const *)b;
    return strcmp(x->id, y->id);
}

/* Build the sorted catalogue index of a backend's dialect. */
static int index_catalog(cm_store *s)
{
    size_t n = 0;
    for (const cm__sql_entry *const *part = s->ops->catalog; *part; part++)
        for (const cm__sql_entry *e = *part; e->id; e++)
            n++;
    s->sql = cm__calloc(n ? n : 1, sizeof *s->sql);
    if (!s->sql)
        return cm__oom();
    size_t i = 0;
    for (const cm__sql_entry *const *part = s->ops->catalog; *part; part++)
        for (const cm__sql_entry *e = *part; e->id; e++)
            s->sql[i++] = e;
    qsort(s->sql, n, sizeof *s->sql, cmp_entry);
    s->n_sql = n;
    s->q_read = cm__calloc(n ? n : 1, sizeof *s->q_read);
    s->q_write = cm__calloc(n ? n : 1, sizeof *s->q_write);
    s->q_known = cm__calloc(n ? n : 1, sizeof *s->q_known);
    if (!s->q_read || !s->q_write || !s->q_known)
        return cm__oom();
    for (i = 1; i < n; i++)
        if (strcmp(s->sql[i - 1]->id, s->sql[i]->id) == 0)
            return cm__error_set(CM_EMISUSE, "duplicate SQL catalogue id %s", s->sql[i]->id);
    return CM_OK;
}

/* Copy the URI for messages, hiding any password ("user:secret@"). */
static char *redact_uri(const char *uri)
{
    char *r = cm__strdup(uri);
    if (!r)
        return NULL;
    char *scheme_end = strstr(r, "://");
    char *at = scheme_end ? strchr(scheme_end + 3, '@') : NULL;
    if (at) {
        char *colon = memchr(scheme_end + 3, ':', (size_t)(at - (scheme_end + 3)));
        if (colon)
            memmove(colon + 4, at, strlen(at) + 1), memcpy(colon, ":***", 4);
    }
    return r;
}

/* true when uri begins with an RFC 3986 scheme ("name:"). */
static bool has_scheme(const char *uri)
{
    size_t n = strspn(uri, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    return n > 0 && uri[n] == ':' &&
           ((uri[0] >= 'a' && uri[0] <= 'z') || (uri[0] >= 'A' && uri[0] <= 'Z'));
}

const char *cm__sqlite_uri_path(const char *uri)
{
    if (!has_scheme(uri))
        return uri;
    const char *p = uri + strlen("sqlite:");
    if (strcmp(p, ":memory:") == 0)
        return p;
    return strncmp(p, "//", 2) == 0 ? p + 2 : p;
}

const cm__store_ops *cm__store_ops_for_uri(const char *uri)
{
    if (!has_scheme(uri))
        return &cm__sqlite_ops;
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (strncmp(uri, registry[i].scheme, strlen(registry[i].scheme)) == 0)
            return registry[i].ops;
    return NULL;
}

int cm_store_open(cm_store **out, const char *uri, const cm_store_options *opts_in)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_store_open: out is NULL");
    *out = NULL;
    if (!uri || !*uri)
        return cm__error_set_field(CM_EINVAL, "uri", "cm_store_open: empty URI");
    cm_store_options opts = CM_STORE_OPTIONS_INIT;
    if (opts_in) {
        if (opts_in->size < sizeof(uint32_t))
            return cm__error_set(CM_EINVAL, "cm_store_open: options size not set");
        memcpy(&opts, opts_in, opts_in->size < sizeof opts ? opts_in->size : sizeof opts);
        opts.size = sizeof opts;
    }
    const cm__store_ops *ops = cm__store_ops_for_uri(uri);
    if (!ops)
        return cm__error_set_field(CM_ENOTSUP, "uri",
                                   "unsupported database URI scheme (use sqlite://, "
                                   "postgresql:// or a file path)");
    cm_store *s = cm__calloc(1, sizeof *s);
    if (!s)
        return cm__oom();
    s->ops = ops;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->uploads_lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->busy_timeout_ms = opts.busy_timeout_ms ? opts.busy_timeout_ms : 5000;
    s->no_rcache = (opts.flags & CM_STORE_NO_RESULT_CACHE) != 0;
    int rc;
    s->uri_redacted = redact_uri(uri);
    if (!s->uri_redacted) {
        rc = cm__oom();
        goto fail;
    }
    if ((rc = index_catalog(s)))
        goto fail;
    while (ops->migrations[s->n_migrations].version)
        s->n_migrations++;
    if ((rc = ops->init(&s->state, uri, &opts)))
        goto fail;
    s->pool_size = opts.pool_size ? opts.pool_size : ops->default_pool_size(s->state);
    /* Connect once now so that a bad path or server fails at open. */
    cm__conn *c;
    if ((rc = cm__store_acquire(&c, s)))
        goto fail;
    cm__store_release(c);
    if ((rc = cm__migrate(s, !(opts.flags & CM_STORE_NO_MIGRATE), NULL)))
        goto fail;
    if ((rc = cm__store_after_migrate(s, !(opts.flags & CM_STORE_NO_MIGRATE))))
        goto fail;
    cm__log(CM_LOG_INFO, "store", "opened %s (%s, pool %u)", s->uri_redacted, ops->name,
            s->pool_size);
    *out = s;
    return CM_OK;
fail:;
    cm__error_saved saved;
    cm__error_save(&saved);
    cm_store_close(s);
    cm__error_restore(&saved);
    return rc;
}

int cm__store_after_migrate(cm_store *s, bool apply)
{
    const cm__store_ops *ops = s->ops;
    if (ops->size < offsetof(cm__store_ops, after_migrate) + sizeof ops->after_migrate ||
        !ops->after_migrate)
        return CM_OK;
    cm__conn *c;
    int rc = cm__store_acquire(&c, s);
    if (rc)
        return rc;
    rc = ops->after_migrate(c, apply);
    cm__store_release(c);
    return rc;
}

static void conn_destroy(cm__conn *c)
{
    cm_store *s = c->store;
    if (c->cache) {
        for (size_t i = 0; i < s->n_sql; i++)
            if (c->cache[i])
                s->ops->finalize(c->cache[i]);
        cm__free(c->cache);
    }
    s->ops->disconnect(c);
    cm__free(c);
}

void cm_store_close(cm_store *s)
{
    if (!s)
        return;
    while (s->free_list) {
        cm__conn *c = s->free_list;
        s->free_list = c->next_free;
        conn_destroy(c);
    }
    cm__rcache_free(s->rcache);
    cm__shared_free(s->shared);
    if (s->embed_free)
        s->embed_free(s->embed);
    if (s->pay_free)
        s->pay_free(s->pay);
    if (s->uploads_free)
        s->uploads_free(s->uploads);
    if (s->assistant_free)
        s->assistant_free(s->assistant);
    pthread_mutex_destroy(&s->uploads_lock);
    if (s->state)
        s->ops->release(s->state);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    cm__free(s->sql);
    cm__free(s->q_read);
    cm__free(s->q_write);
    cm__free(s->q_known);
    cm__free(s->uri_redacted);
    cm__free(s);
}

const char *cm_store_backend_name(const cm_store *s)
{
    return s ? s->ops->name : "";
}

int cm__store_acquire(cm__conn **out, cm_store *s)
{
    pthread_mutex_lock(&s->lock);
    for (;;) {
        if (s->free_list) {
            cm__conn *c = s->free_list;
            s->free_list = c->next_free;
            s->in_use++;
            pthread_mutex_unlock(&s->lock);
            *out = c;
            return CM_OK;
        }
        if (s->open_conns < s->pool_size)
            break;
        s->waiting++;
        pthread_cond_wait(&s->cond, &s->lock);
        s->waiting--;
    }
    s->open_conns++;
    s->in_use++;
    pthread_mutex_unlock(&s->lock);

    int rc = CM_OK;
    cm__conn *c = cm__calloc(1, s->ops->conn_size);
    if (!c) {
        rc = cm__oom();
        goto fail;
    }
    c->store = s;
    c->cache = cm__calloc(s->n_sql ? s->n_sql : 1, sizeof *c->cache);
    if (!c->cache) {
        cm__free(c);
        rc = cm__oom();
        goto fail;
    }
    if ((rc = s->ops->connect(c, s->state))) {
        cm__free(c->cache);
        cm__free(c);
        goto fail;
    }
    *out = c;
    return CM_OK;
fail:
    pthread_mutex_lock(&s->lock);
    s->open_conns--;
    s->in_use--;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    *out = NULL;
    return rc;
}

/* End the trace span of the statement that ran on c (see cm__q_step). */
static void sql_span_end(cm__conn *c, int rc)
{
    if (c->trace_span) {
        cm__span_end(c->trace_span, rc);
        c->trace_span = NULL;
        c->trace_q = NULL;
    }
}

void cm__store_release(cm__conn *c)
{
    if (!c)
        return;
    sql_span_end(c, CM_OK);
    cm_store *s = c->store;
    if (c->in_tx)
        cm__tx_rollback(c);
    pthread_mutex_lock(&s->lock);
    s->in_use--;
    if (c->broken) {
        s->open_conns--;
        pthread_mutex_unlock(&s->lock);
        conn_destroy(c);
        pthread_mutex_lock(&s->lock);
    } else {
        c->next_free = s->free_list;
        s->free_list = c;
    }
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

int cm__tx_begin(cm__conn *c, bool write)
{
    assert(!c->in_tx);
    int rc = c->store->ops->begin(c, write);
    if (rc == CM_OK) {
        c->in_tx = true;
        c->tx_write = write;
        c->written = 0;
    }
    return rc;
}

/* A commit of this store wrote the tables `written`: number it and mark
 * them, never moving a table's number backwards. */
static void note_written(cm_store *s, uint64_t written)
{
    uint64_t seq = __atomic_add_fetch(&s->write_seq, 1, __ATOMIC_SEQ_CST);
    for (int b = 0; b < 64; b++) {
        if (!(written & (UINT64_C(1) << b)) && !(written & (UINT64_C(1) << CM__TABLES_ALL)))
            continue;
        uint64_t cur = __atomic_load_n(&s->table_seq[b], __ATOMIC_SEQ_CST);
        while (cur < seq && !__atomic_compare_exchange_n(&s->table_seq[b], &cur, seq, false,
                                                         __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            ;
    }
}

void cm__store_commit_written(cm__conn *c)
{
    if (c->tx_write && c->written) {
        note_written(c->store, c->written);
        /* other processes' cached reads: before the write returns */
        if (c->store->shared)
            cm__shared_written(c->store->shared);
    }
    c->written = 0;
}

static _Thread_local uint64_t reads_tl; /* tables read by this thread's statements */

uint64_t cm__store_reads_begin(cm_store *s)
{
    reads_tl = 0;
    return __atomic_load_n(&s->write_seq, __ATOMIC_SEQ_CST);
}

uint64_t cm__store_reads_end(void)
{
    return reads_tl;
}

bool cm__store_tables_unchanged(cm_store *s, uint64_t tables, uint64_t since)
{
    if (tables & (UINT64_C(1) << CM__TABLES_ALL))
        tables = ~UINT64_C(0);
    for (int b = 0; b < 64; b++)
        if ((tables & (UINT64_C(1) << b)) &&
            __atomic_load_n(&s->table_seq[b], __ATOMIC_SEQ_CST) > since)
            return false;
    return true;
}

int cm__tx_commit(cm__conn *c)
{
    assert(c->in_tx);
    uint64_t wrote = c->written; /* the backend's commit may clear it */
    int rc = c->store->ops->commit(c);
    if (c->tx_write && (rc == CM_OK ? wrote != 0 : rc == CM_EUNAVAILABLE))
        __atomic_store_n(&c->store->write_proved_us, rc == CM_OK ? cm_now_us() : 0,
                         __ATOMIC_RELAXED);
    /* Also when the commit failed (it may have taken effect before a sync
     * failed): marking more than needed is always safe. */
    cm__store_commit_written(c);
    if (rc) {
        cm__error_saved saved;
        cm__error_save(&saved);
        c->store->ops->rollback(c);
        cm__error_restore(&saved);
    }
    c->in_tx = false;
    return rc;
}

void cm__tx_rollback(cm__conn *c)
{
    if (!c->in_tx)
        return;
    if (c->tx_write && cm_error_code() == CM_EUNAVAILABLE) /* a write was refused */
        __atomic_store_n(&c->store->write_proved_us, 0, __ATOMIC_RELAXED);
    cm__error_saved saved;
    cm__error_save(&saved);
    if (c->store->ops->rollback(c))
        c->broken = true;
    cm__error_restore(&saved);
    c->in_tx = false;
}

int cm__store_run_tx(cm_store *s, bool write, cm__tx_fn fn, void *payload)
{
    int rc = CM_OK;
    for (int attempt = 0; attempt < 5; attempt++) {
        cm__conn *c;
        if ((rc = cm__store_acquire(&c, s)))
            return rc;
        rc = cm__tx_begin(c, write);
        if (rc == CM_OK) {
            rc = fn(c, payload);
            if (rc == CM_OK)
                rc = cm__tx_commit(c);
            else
                cm__tx_rollback(c);
        }
        cm__store_release(c);
        if (rc != CM_EBUSY && rc != CM_ECONFLICT)
            return rc;
        if (!cm_error_backend_code()[0])
            return rc; /* a domain-level conflict, not a retryable backend one */
        struct timespec ts = {0, (long)(1000000L << attempt)};
        nanosleep(&ts, NULL);
    }
    return rc;
}

static const cm__sql_entry *find_sql(cm_store *s, const char *id, size_t *index)
{
    size_t lo = 0, hi = s->n_sql;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->sql[mid]->id, id);
        if (c == 0) {
            *index = mid;
            return s->sql[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int cm__q_open(cm__q *q, cm__conn *c, const char *id)
{
    q->conn = c;
    q->st = NULL;
    q->id = id;
    q->bind_err = CM_OK;
    q->bind_idx = 0;
    q->sql = NULL;
    q->stepped = false;
    size_t i;
    const cm__sql_entry *e = find_sql(c->store, id, &i);
    if (!e)
        return cm__error_set(CM_ENOTSUP, "the %s backend has no statement '%s'",
                             c->store->ops->name, id);
    cm_store *s = c->store;
    if (!c->cache[i]) {
        int rc = s->ops->prepare(&c->cache[i], c, e->sql);
        if (rc)
            return rc;
        if (s->ops->size >= offsetof(cm__store_ops, stmt_tables) + sizeof s->ops->stmt_tables &&
            s->ops->stmt_tables && !__atomic_load_n(&s->q_known[i], __ATOMIC_ACQUIRE)) {
            uint64_t r = 0, w = 0;
            s->ops->stmt_tables(c, &r, &w);
            __atomic_store_n(&s->q_read[i], r, __ATOMIC_RELAXED);
            __atomic_store_n(&s->q_write[i], w, __ATOMIC_RELAXED);
            __atomic_store_n(&s->q_known[i], 1, __ATOMIC_RELEASE);
        }
    }
    bool known = __atomic_load_n(&s->q_known[i], __ATOMIC_ACQUIRE);
    reads_tl |= known ? __atomic_load_n(&s->q_read[i], __ATOMIC_RELAXED) : ~UINT64_C(0);
    if (c->in_tx && c->tx_write)
        c->written |= known ? __atomic_load_n(&s->q_write[i], __ATOMIC_RELAXED) : ~UINT64_C(0);
    q->st = c->cache[i];
    q->sql = e->sql;
    return CM_OK;
}

void cm__q_close(cm__q *q)
{
    if (q->st)
        q->conn->store->ops->reset(q->st);
    if (q->stepped && q->conn->trace_q == q)
        sql_span_end(q->conn, CM_OK);
    q->st = NULL;
    q->bind_err = CM_OK;
    q->stepped = false;
}

#define OPS(q) ((q)->conn->store->ops)

/* Keep the first bind failure of q (see cm__q), its detail naming the
 * statement and parameter; later binds are skipped so that it stays. */
static int bound(cm__q *q, int idx, int rc)
{
    if (rc && !q->bind_err) {
        q->bind_err = rc;
        q->bind_idx = idx;
        char msg[256], native[16];
        (void)snprintf(msg, sizeof msg, "%s", cm_error_message());
        (void)snprintf(native, sizeof native, "%s", cm_error_backend_code());
        cm__error_set(rc, "%s: parameter %d: %s", q->id, idx, msg);
        cm__error_set_backend_code(native);
    }
    return rc;
}

int cm__q_int64(cm__q *q, int idx, int64_t v)
{
    return q->bind_err ? q->bind_err : bound(q, idx, OPS(q)->bind_int64(q->st, idx, v));
}
int cm__q_double(cm__q *q, int idx, double v)
{
    return q->bind_err ? q->bind_err : bound(q, idx, OPS(q)->bind_double(q->st, idx, v));
}
int cm__q_textn(cm__q *q, int idx, const char *s, size_t len)
{
    return q->bind_err ? q->bind_err : bound(q, idx, OPS(q)->bind_text(q->st, idx, s, len));
}
int cm__q_text(cm__q *q, int idx, const char *s)
{
    if (q->bind_err)
        return q->bind_err;
    return bound(q, idx,
                 s ? OPS(q)->bind_text(q->st, idx, s, strlen(s)) : OPS(q)->bind_null(q->st, idx));
}
int cm__q_blob(cm__q *q, int idx, const void *p, size_t len)
{
    return q->bind_err ? q->bind_err : bound(q, idx, OPS(q)->bind_blob(q->st, idx, p, len));
}
int cm__q_null(cm__q *q, int idx)
{
    return q->bind_err ? q->bind_err : bound(q, idx, OPS(q)->bind_null(q->st, idx));
}
/* The trace span of a statement covers its execution: from its first
 * step until a step returns anything but a row, or until it is closed,
 * or until its connection goes back to the pool (whichever comes first;
 * a connection runs one traced statement at a time). It carries the
 * catalogue id and text, whose placeholders keep the values out. */
static int q_step(cm__q *q);

static void sql_span_begin(cm__q *q)
{
    cm__conn *c = q->conn;
    q->stepped = true;
    sql_span_end(c, CM_OK);
    cm_span *sp = cm__span_begin(q->id, CM_SPAN_CLIENT, CM__SPAN_CHILD_ONLY);
    if (!sp)
        return;
    const char *backend = c->store->ops->name;
    cm_span_set_str(sp, "db.system", strcmp(backend, "pg") == 0 ? "postgresql" : backend);
    cm_span_set_str(sp, "db.operation.name", q->id);
    if (q->sql)
        cm_span_set_str(sp, "db.query.text", q->sql);
    c->trace_span = sp;
    c->trace_q = q;
}

int(cm__q_step)(cm__q *q)
{
    if (!q->stepped)
        sql_span_begin(q);
    int rc = q_step(q);
    if (rc != 1 && q->conn->trace_q == q) /* 1: a row */
        sql_span_end(q->conn, rc);
    return rc;
}

static int q_step(cm__q *q)
{
    if (q->bind_err) {
        /* The bind's own detail, unless something failed since. */
        if (cm_error_code() != q->bind_err)
            cm__error_set(q->bind_err, "%s: binding parameter %d failed (%s)", q->id, q->bind_idx,
                          cm_status_name(q->bind_err));
        return q->bind_err;
    }
    return OPS(q)->step(q->st);
}
bool cm__q_is_null(cm__q *q, int col)
{
    return OPS(q)->column_is_null(q->st, col);
}
int64_t cm__q_col_int64(cm__q *q, int col)
{
    return OPS(q)->column_int64(q->st, col);
}
double cm__q_col_double(cm__q *q, int col)
{
    return OPS(q)->column_double(q->st, col);
}
const char *cm__q_col_text(cm__q *q, int col)
{
    size_t len;
    const char *s = OPS(q)->column_text(q->st, col, &len);
    return s ? s : "";
}
const void *cm__q_col_blob(cm__q *q, int col, size_t *len)
{
    return OPS(q)->column_blob(q->st, col, len);
}
int64_t cm__q_changes(cm__q *q)
{
    return OPS(q)->changes(q->st);
}

int64_t cm__q_exec0(cm__conn *c, const char *id)
{
    cm__q q;
    int rc = cm__q_open(&q, c, id);
    if (rc)
        return rc;
    while ((rc = cm__q_step(&q)) == 1)
        ;
    int64_t n = rc == 0 ? cm__q_changes(&q) : rc;
    cm__q_close(&q);
    return n;
}

int cm_store_stats(char **out, cm_store *s)
{
    if (!out || !s)
        return cm__error_set(CM_EINVAL, "cm_store_stats: NULL argument");
    pthread_mutex_lock(&s->lock);
    uint32_t size = s->pool_size, open = s->open_conns, used = s->in_use, wait = s->waiting;
    pthread_mutex_unlock(&s->lock);
    char buf[320];
    int n =
        snprintf(buf, sizeof buf,
                 "{\"backend\":\"%s\",\"pool_size\":%u,\"open\":%u,\"in_use\":%u,"
                 "\"waiting\":%u,\"cache_hits\":%llu,\"cache_misses\":%llu,"
                 "\"cache_shared\":%s,\"cache_shared_errors\":%llu}",
                 s->ops->name, size, open, used, wait,
                 (unsigned long long)__atomic_load_n(&s->cache_hits, __ATOMIC_RELAXED),
                 (unsigned long long)__atomic_load_n(&s->cache_misses, __ATOMIC_RELAXED),
                 s->shared ? "true" : "false", (unsigned long long)cm__shared_errors(s->shared));
    *out = cm__strndup(buf, n > 0 ? (size_t)n : 0);
    return *out ? CM_OK : cm__oom();
}

int cm__store_data_version(cm_store *s, uint64_t *out)
{
    if (s->ops->size < sizeof(cm__store_ops) || !s->ops->data_version)
        return CM_ENOTSUP;
    return s->ops->data_version(s->state, out);
}

int cm__store_cache_version(cm_store *s, uint64_t out[2])
{
    out[0] = out[1] = 0;
    if (s->no_rcache)
        return CM_ENOTSUP;
    int dv = cm__store_data_version(s, &out[0]);
    if (dv != CM_OK && dv != CM_ENOTSUP)
        return dv;
    if (s->shared)
        return cm__shared_version(s->shared, &out[1]);
    return dv;
}

int cm_store_ping(cm_store *s)
{
    if (!s)
        return cm__error_set(CM_EINVAL, "cm_store_ping: store is NULL");
    return cm__migrate(s, false, NULL);
}

static int write_probe(cm__conn *c, void *payload)
{
    (void)payload;
    const cm__store_ops *ops = c->store->ops;
    if (ops->size >= offsetof(cm__store_ops, write_probe) + sizeof ops->write_probe &&
        ops->write_probe)
        return ops->write_probe(c);
    return CM_OK;
}

/* How long a committed write stands as proof that the store takes writes. */
#define CM__PING_WRITE_INTERVAL_US (10 * 1000000LL)

int cm_store_ping_write(cm_store *s)
{
    if (!s)
        return cm__error_set(CM_EINVAL, "cm_store_ping_write: store is NULL");
    /* a read transaction: the store answers and has the right schema */
    int rc = cm__migrate(s, false, NULL);
    if (rc)
        return rc;
    int64_t proved = __atomic_load_n(&s->write_proved_us, __ATOMIC_RELAXED), now = cm_now_us();
    if (proved && now >= proved && now - proved < CM__PING_WRITE_INTERVAL_US)
        return CM_OK; /* a write committed lately, none refused since */
    if ((rc = cm__store_run_tx(s, true, write_probe, NULL)))
        return rc;
    __atomic_store_n(&s->write_proved_us, now, __ATOMIC_RELAXED);
    return CM_OK;
}

int cm_store_migrate(cm_store *s, int32_t *applied_out)
{
    if (!s)
        return cm__error_set(CM_EINVAL, "cm_store_migrate: store is NULL");
    return cm__migrate(s, true, applied_out);
}
