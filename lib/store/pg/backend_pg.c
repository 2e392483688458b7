/*
 * backend_pg.c - the PostgreSQL backend (libpq): connections configured
 * from a postgresql:// URI and the PG* environment, statements prepared
 * once per connection under generated names, parameter types inferred by
 * the server, SQLSTATEs mapped to CM_E* at this boundary, and transparent
 * reconnection of connections that died while idle in the pool.
 *
 * The dialect is the SQLite catalogue itself (same ids): each statement is
 * translated, or overridden, when it is first prepared (sql_pg.c,
 * translate_pg.c). Schema migrations are PostgreSQL's own
 * (migrations/NNNN_*.sql, same version numbers as SQLite's).
 *
 * URI: anything libpq accepts as a postgresql:// or postgres:// URI, plus
 * these parameters, removed before libpq sees the URI:
 *   statement_timeout=30s   per statement (PostgreSQL units; 0 = none)
 *   lock_timeout=5000       wait for row locks (default: busy_timeout_ms)
 *   isolation=read_committed | repeatable_read | serializable
 *   notify=on | off         job wake-ups by LISTEN/NOTIFY (default on); off
 *                           for PgBouncer transaction pooling, where a
 *                           session cannot LISTEN: workers then only poll
 * Unset connection settings come from PGHOST, PGUSER, PGPASSWORD, PGOPTIONS
 * etc., as libpq does.
 *
 * Errors: every failure carries the SQLSTATE (cm_error_backend_code()).
 * 40001 -> CM_ECONFLICT and 40P01/55P03 -> CM_EBUSY, which
 * cm__store_run_tx retries; a lost connection marks the connection broken
 * so that the pool replaces it, and costs the call in flight CM_EBACKEND.
 * PostgreSQL aborts a transaction at its first failed statement: domain
 * code must return the error rather than carry on in the same transaction
 * (later statements fail with SQLSTATE 25P02, and COMMIT reports it).
 */
#include "../store_int.h"
#include "pg_int.h"

#include <libpq-fe.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Built-in type OIDs (fixed by PostgreSQL; pg_type_d.h is a server header). */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
};

/* Types tried, in order, for a parameter the server cannot type
 * ("?1 IS NULL OR col = ?1"): the first one the statement accepts wins. */
static const Oid guesses[] = {OID_TEXT, OID_INT8, OID_FLOAT8, OID_BOOL, OID_BYTEA};
#define N_GUESSES (sizeof guesses / sizeof guesses[0])

/* Parameter types found for one catalogue statement, shared by connections. */
typedef struct pg_types {
    int n;
    Oid oid[];
} pg_types;

typedef struct pg_state {
    char **kw, **val; /* libpq keywords/values, NULL-terminated */
    char *begin_sql;
    bool notify_off; /* URI notify=off: neither NOTIFY nor LISTEN */
    pthread_mutex_t lock;
    pg_types **types; /* [n_types], by catalogue index, filled lazily */
    size_t n_types;
    cm__pg_vec vec; /* pgvector, set up at open (vector_pg.c) */
} pg_state;

typedef struct pg_conn {
    cm__conn base;
    PGconn *pg;
    pg_state *state;
    uint32_t gen;       /* bumped on each reconnect: statements re-prepare */
    uint32_t next_name; /* statement names cm1, cm2, ... */
    int64_t changes;    /* rows changed by the last INSERT/UPDATE/DELETE */
    /* NOTIFY statements of the open transaction ("NOTIFY ch, 'p'; " each,
     * distinct), sent in one round trip with its COMMIT (pg_notify). */
    char *notify_sql;
    size_t notify_len, notify_cap;
} pg_conn;

typedef struct pg_param {
    char *buf;
    size_t cap;
    int len;
    int fmt; /* 0 text, 1 binary */
    bool set, null;
} pg_param;

typedef struct pg_stmt {
    pg_conn *conn;
    char name[16];
    const char *id; /* catalogue id, or "(ad hoc)" */
    long index;     /* catalogue index, -1 for ad hoc text */
    char *sql;      /* the PostgreSQL text */
    uint32_t gen;   /* connection generation it was prepared in */
    int nparams;
    unsigned char *used;
    Oid *ptypes;
    pg_param *params;
    const char **values;
    int *lengths, *formats;
    PGresult *res;
    int row, nrows, ncols;
    char **colbuf; /* decoded bytea cells of the current row */
    size_t *collen;
} pg_stmt;

extern const cm__migration cm__pg_migrations[];
extern const cm__sql_entry *const cm__sqlite_catalog[];

/* ------------------------------------------------------------------ */
/* errors                                                              */

static int code_for_sqlstate(const char *s)
{
    if (!s || strlen(s) != 5)
        return CM_EBACKEND;
    if (strcmp(s, "23505") == 0)
        return CM_EEXISTS;
    if (strncmp(s, "23", 2) == 0 || strcmp(s, "40002") == 0)
        return CM_ECONSTRAINT;
    if (strcmp(s, "40001") == 0)
        return CM_ECONFLICT;
    if (strcmp(s, "40P01") == 0 || strcmp(s, "55P03") == 0)
        return CM_EBUSY;
    if (strcmp(s, "57014") == 0 || strcmp(s, "25P03") == 0)
        return CM_ETIMEOUT;
    /* disk_full; read_only_sql_transaction (a hot standby, or
     * default_transaction_read_only): the server cannot take writes now */
    if (strcmp(s, "53100") == 0 || strcmp(s, "25006") == 0)
        return CM_EUNAVAILABLE;
    if (strncmp(s, "58", 2) == 0)
        return CM_EIO;
    /* the rest of class 53, insufficient resources: the server is out of
     * memory (53200) or connection slots (53300), or over another limit;
     * not the client's memory (CM_ENOMEM), a load to retry later */
    if (strncmp(s, "53", 2) == 0)
        return CM_EBUSY;
    if (strcmp(s, "22003") == 0)
        return CM_ERANGE;
    if (strncmp(s, "22", 2) == 0)
        return CM_EINVAL;
    if (strcmp(s, "XX001") == 0 || strcmp(s, "XX002") == 0)
        return CM_ECORRUPT;
    if (strcmp(s, "0A000") == 0)
        return CM_ENOTSUP;
    return CM_EBACKEND;
}

/* SQLSTATEs after which the session is gone or unusable. */
static bool sqlstate_fatal(const char *s)
{
    return s && (strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 || strcmp(s, "57P02") == 0 ||
                 strcmp(s, "57P03") == 0 || strcmp(s, "25P03") == 0);
}

static void copy_trimmed(char *dst, size_t n, const char *src)
{
    (void)snprintf(dst, n, "%s", src ? src : "");
    size_t len = strlen(dst);
    while (len && isspace((unsigned char)dst[len - 1]))
        dst[--len] = '\0';
    for (char *p = dst; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

/* Record the failure of r (NULL: out of memory or connection trouble) as
 * CM_E* with its SQLSTATE; mark the connection broken when it is lost. */
static int map_error(pg_conn *c, const PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[200];
    copy_trimmed(msg, sizeof msg, primary && *primary ? primary : PQerrorMessage(c->pg));
    bool lost = PQstatus(c->pg) == CONNECTION_BAD;
    if (lost || sqlstate_fatal(state))
        c->base.broken = true;
    int code = code_for_sqlstate(state);
    if (!state && !lost && !r)
        code = CM_ENOMEM;
    if (state && strcmp(state, "25P02") == 0)
        cm__error_set(code,
                      "pg: %s: an earlier statement of this transaction failed, so "
                      "PostgreSQL aborted it (return the first error instead of continuing)",
                      what);
    else
        cm__error_set(code, "pg: %s: %s%s", what, msg, lost ? " (connection lost)" : "");
    cm__error_set_backend_code(state ? state : lost ? "08006" : "");
    return code;
}

static int exec_simple(pg_conn *c, const char *sql, const char *what)
{
    PGresult *r = PQexec(c->pg, sql);
    ExecStatusType s = PQresultStatus(r);
    int rc = (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) ? CM_OK : map_error(c, r, what);
    PQclear(r);
    return rc;
}

/* The readiness write probe: a transaction id is assigned, so the commit
 * writes a WAL record. A read-only transaction (hot standby,
 * default_transaction_read_only) refuses it with SQLSTATE 25006. */
static int pg_write_probe(cm__conn *conn)
{
    return exec_simple((pg_conn *)conn, "SELECT txid_current()", "write probe");
}

/* The SQLSTATE in a verbose libpq message ("...failed: FATAL:  53300: too
 * many connections..."), found by its shape rather than by the localised
 * severity word; "" when there is none. */
static void sqlstate_of_message(char out[6], const char *msg)
{
    out[0] = '\0';
    for (const char *p = msg ? strstr(msg, ":  ") : NULL; p; p = strstr(p + 1, ":  ")) {
        const char *s = p + 3;
        size_t n = 0;
        while (n < 5 && (isdigit((unsigned char)s[n]) || isupper((unsigned char)s[n])))
            n++;
        if (n == 5 && s[5] == ':') {
            memcpy(out, s, 5);
            out[5] = '\0';
            return;
        }
    }
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Open a libpq connection with the state's parameters. libpq's
 * non-blocking start is used so that the error verbosity can be raised
 * before the server answers: a refusal during start-up then carries its
 * SQLSTATE (53300 too many connections, 57P03 starting up, 28P01 a wrong
 * password), which PQconnectdb's message lacks. The whole attempt is
 * bounded by connect_timeout (seconds; 0 or absent: no bound). On failure
 * the detail is "<what>: <libpq's message>", the code that SQLSTATE maps
 * to (CM_EBUSY for too many connections) or CM_EBACKEND, and the backend
 * code the SQLSTATE or 08001; *out is NULL. */
static int pg_open(PGconn **out, const pg_state *st, const char *what)
{
    *out = NULL;
    PGconn *pg = PQconnectStartParams((const char *const *)st->kw, (const char *const *)st->val, 0);
    if (!pg)
        return cm__oom();
    PQsetErrorVerbosity(pg, PQERRORS_VERBOSE);
    int64_t timeout_ms = 0;
    for (size_t i = 0; st->kw[i]; i++)
        if (strcmp(st->kw[i], "connect_timeout") == 0)
            timeout_ms = (int64_t)atoi(st->val[i]) * 1000;
    int64_t deadline = timeout_ms > 0 ? mono_ms() + timeout_ms : 0;
    PostgresPollingStatusType ps =
        PQstatus(pg) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
    bool timed_out = false;
    while (ps != PGRES_POLLING_OK && ps != PGRES_POLLING_FAILED) {
        struct pollfd pfd = {.fd = PQsocket(pg),
                             .events = ps == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        int wait = -1;
        if (deadline) {
            int64_t left = deadline - mono_ms();
            if (left <= 0) {
                timed_out = true;
                break;
            }
            wait = left > 60000 ? 60000 : (int)left;
        }
        if (poll(&pfd, 1, wait) < 0 && errno != EINTR) {
            ps = PGRES_POLLING_FAILED;
            break;
        }
        if (pfd.revents || !deadline || deadline - mono_ms() > 0)
            ps = PQconnectPoll(pg);
    }
    if (ps == PGRES_POLLING_OK && !timed_out) {
        PQsetErrorVerbosity(pg, PQERRORS_DEFAULT);
        *out = pg;
        return CM_OK;
    }
    char state[6], msg[200];
    sqlstate_of_message(state, PQerrorMessage(pg));
    if (timed_out) {
        (void)snprintf(msg, sizeof msg, "timeout expired after %lld s",
                       (long long)(timeout_ms / 1000));
    } else {
        copy_trimmed(msg, sizeof msg, PQerrorMessage(pg));
        char *loc = strstr(msg, " LOCATION:"); /* the verbose tail: server source lines */
        if (loc)
            *loc = '\0';
    }
    PQfinish(pg);
    int code = state[0] ? code_for_sqlstate(state) : CM_EBACKEND;
    if (code != CM_EBUSY && code != CM_EUNAVAILABLE)
        code = CM_EBACKEND;
    cm__error_set(code, "%s: %s", what, msg);
    cm__error_set_backend_code(state[0] ? state : "08001");
    return code;
}

/* ------------------------------------------------------------------ */
/* URI and state                                                       */

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Percent-decode s[0..n) into a new string. */
static char *pct_decode(const char *s, size_t n)
{
    char *o = cm__malloc(n + 1), *w = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            *w++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            *w++ = s[i];
        }
    }
    *w = '\0';
    return o;
}

/* A duration value for -c settings: digits, then optional unit letters. */
static bool duration_ok(const char *v)
{
    size_t i = 0;
    if (!isdigit((unsigned char)v[0]))
        return false;
    while (isdigit((unsigned char)v[i]))
        i++;
    while (isalpha((unsigned char)v[i]))
        i++;
    return i < 16 && v[i] == '\0';
}

typedef struct uri_opts {
    char statement_timeout[16];
    char lock_timeout[16];
    const char *begin_sql;
    bool notify_off;
} uri_opts;

/* Split our own query parameters off the URI; *stripped gets the rest. */
static int strip_own_params(char **stripped, uri_opts *o, const char *uri)
{
    const char *q = strchr(uri, '?');
    size_t base = q ? (size_t)(q - uri) : strlen(uri);
    char *out = cm__malloc(strlen(uri) + 1);
    if (!out)
        return cm__oom();
    memcpy(out, uri, base);
    size_t w = base;
    bool first = true;
    int rc = CM_OK;
    for (const char *p = q ? q + 1 : NULL; p && *p && rc == CM_OK;) {
        const char *end = strchr(p, '&');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t kn = eq ? (size_t)(eq - p) : n;
        char *val = eq ? pct_decode(eq + 1, n - kn - 1) : NULL;
        if (eq && !val) {
            rc = cm__oom();
            break;
        }
#define KEY(k) (kn == strlen(k) && strncmp(p, k, kn) == 0)
        if (KEY("statement_timeout") || KEY("lock_timeout")) {
            if (!val || !duration_ok(val))
                rc = cm__error_set_field(CM_EINVAL, "uri",
                                         "pg: %.*s must be a duration such as 30s or 5000", (int)kn,
                                         p);
            else
                (void)snprintf(KEY("lock_timeout") ? o->lock_timeout : o->statement_timeout,
                               sizeof o->lock_timeout, "%s", val);
        } else if (KEY("isolation")) {
            if (val && strcmp(val, "read_committed") == 0)
                o->begin_sql = "BEGIN ISOLATION LEVEL READ COMMITTED";
            else if (val && strcmp(val, "repeatable_read") == 0)
                o->begin_sql = "BEGIN ISOLATION LEVEL REPEATABLE READ";
            else if (val && strcmp(val, "serializable") == 0)
                o->begin_sql = "BEGIN ISOLATION LEVEL SERIALIZABLE";
            else
                rc = cm__error_set_field(CM_EINVAL, "uri",
                                         "pg: isolation must be read_committed, "
                                         "repeatable_read or serializable");
        } else if (KEY("notify")) {
            if (val && (strcmp(val, "on") == 0 || strcmp(val, "off") == 0))
                o->notify_off = strcmp(val, "off") == 0;
            else
                rc = cm__error_set_field(CM_EINVAL, "uri", "pg: notify must be on or off");
        } else if (n) {
            out[w++] = first ? '?' : '&';
            memcpy(out + w, p, n);
            w += n;
            first = false;
        }
#undef KEY
        cm__free(val);
        p = end ? end + 1 : NULL;
    }
    out[w] = '\0';
    if (rc) {
        cm__free(out);
        return rc;
    }
    *stripped = out;
    return CM_OK;
}

static void state_free(pg_state *st)
{
    if (!st)
        return;
    for (size_t i = 0; st->kw && st->kw[i]; i++) {
        cm__free(st->kw[i]);
        cm__free(st->val[i]);
    }
    cm__free(st->kw);
    cm__free(st->val);
    cm__free(st->begin_sql);
    for (size_t i = 0; i < st->n_types; i++)
        cm__free(st->types[i]);
    cm__free(st->types);
    pthread_mutex_destroy(&st->lock);
    cm__free(st);
}

/* Append "-c name=value" to an options string unless it sets name already. */
static int add_setting(char **opts, const char *name, const char *value)
{
    if (*opts && strstr(*opts, name))
        return CM_OK;
    size_t n = (*opts ? strlen(*opts) : 0) + strlen(name) + strlen(value) + 8;
    char *s = cm__malloc(n);
    if (!s)
        return cm__oom();
    (void)snprintf(s, n, "%s%s-c %s=%s", *opts ? *opts : "", *opts && **opts ? " " : "", name,
                   value);
    cm__free(*opts);
    *opts = s;
    return CM_OK;
}

static int pg_init(void **state, const char *uri, const cm_store_options *opts)
{
    uri_opts o = {"30s", "", "BEGIN", false};
    (void)snprintf(o.lock_timeout, sizeof o.lock_timeout, "%u",
                   opts->busy_timeout_ms ? opts->busy_timeout_ms : 5000);
    char *stripped = NULL;
    int rc = strip_own_params(&stripped, &o, uri);
    if (rc)
        return rc;
    char *err = NULL;
    PQconninfoOption *ci = PQconninfoParse(stripped, &err);
    cm__free(stripped);
    if (!ci) {
        char msg[200];
        copy_trimmed(msg, sizeof msg, err ? err : "out of memory");
        if (err)
            PQfreemem(err);
        return cm__error_set_field(CM_EINVAL, "uri", "pg: bad PostgreSQL URI: %s", msg);
    }
    pg_state *st = cm__calloc(1, sizeof *st);
    size_t n = 0;
    for (PQconninfoOption *p = ci; p->keyword; p++)
        n++;
    if (!st || !(st->kw = cm__calloc(n + 8, sizeof *st->kw)) ||
        !(st->val = cm__calloc(n + 8, sizeof *st->val))) {
        rc = cm__oom();
        goto done;
    }
    pthread_mutex_init(&st->lock, NULL);
    char *options = NULL;
    bool has_timeout = getenv("PGCONNECT_TIMEOUT") != NULL;
    size_t k = 0;
    for (PQconninfoOption *p = ci; p->keyword && rc == CM_OK; p++) {
        if (!p->val)
            continue;
        if (strcmp(p->keyword, "options") == 0) {
            if (!(options = cm__strdup(p->val)))
                rc = cm__oom();
            continue;
        }
        if (strcmp(p->keyword, "client_encoding") == 0)
            continue; /* forced to UTF8 below */
        if (strcmp(p->keyword, "connect_timeout") == 0)
            has_timeout = true;
        st->kw[k] = cm__strdup(p->keyword);
        st->val[k] = cm__strdup(p->val);
        if (!st->kw[k] || !st->val[k])
            rc = cm__oom();
        k++;
    }
    if (rc == CM_OK && !options && getenv("PGOPTIONS") &&
        !(options = cm__strdup(getenv("PGOPTIONS"))))
        rc = cm__oom();
    if (rc == CM_OK)
        rc = add_setting(&options, "statement_timeout", o.statement_timeout);
    if (rc == CM_OK)
        rc = add_setting(&options, "lock_timeout", o.lock_timeout);
    if (rc == CM_OK)
        rc = add_setting(&options, "client_min_messages", "warning");
    const char *extra[][2] = {
        {"options", options},
        {"client_encoding", "UTF8"},
        {"fallback_application_name", "libcommunity"},
        {"connect_timeout", has_timeout ? NULL : "10"},
    };
    for (size_t i = 0; rc == CM_OK && i < sizeof extra / sizeof extra[0]; i++) {
        if (!extra[i][1])
            continue;
        st->kw[k] = cm__strdup(extra[i][0]);
        st->val[k] = cm__strdup(extra[i][1]);
        if (!st->kw[k] || !st->val[k])
            rc = cm__oom();
        k++;
    }
    cm__free(options);
    if (rc == CM_OK && !(st->begin_sql = cm__strdup(o.begin_sql)))
        rc = cm__oom();
    if (st)
        st->notify_off = o.notify_off;
done:
    PQconninfoFree(ci);
    if (rc) {
        state_free(st);
        return rc;
    }
    *state = st;
    return CM_OK;
}

static void pg_release(void *state)
{
    state_free(state);
}

static uint32_t pg_default_pool(void *state)
{
    (void)state;
    return 8;
}

/* ------------------------------------------------------------------ */
/* connections                                                         */

static void on_notice(void *arg, const char *msg)
{
    (void)arg;
    char m[200];
    copy_trimmed(m, sizeof m, msg);
    cm__log(CM_LOG_DEBUG, "pg", "%s", m);
}

static int pg_connect(cm__conn *conn, void *state)
{
    pg_conn *c = (pg_conn *)conn;
    pg_state *st = state;
    c->state = st;
    c->gen = 1;
    int rc = pg_open(&c->pg, st, "cannot connect to PostgreSQL");
    if (rc)
        return rc;
    if (PQserverVersion(c->pg) < 120000) {
        rc = cm__error_set(CM_ENOTSUP, "PostgreSQL %d is too old: 12 or later is needed",
                           PQserverVersion(c->pg) / 10000);
    }
    if (rc) {
        PQfinish(c->pg);
        c->pg = NULL;
        return rc;
    }
    PQsetNoticeProcessor(c->pg, on_notice, NULL);
    /* A fresh session, also where the server keeps one across connections
     * (PGlite): our statement names must be free. */
    if ((rc = exec_simple(c, "DISCARD ALL", "connect"))) {
        PQfinish(c->pg);
        c->pg = NULL;
        return rc;
    }
    return CM_OK;
}

void *cm__pg_native(cm__conn *conn)
{
    return ((pg_conn *)conn)->pg;
}

cm__pg_vec *cm__pg_vec_of(cm__conn *conn)
{
    return &((pg_conn *)conn)->state->vec;
}

static void pg_disconnect(cm__conn *conn)
{
    pg_conn *c = (pg_conn *)conn;
    PQfinish(c->pg);
    c->pg = NULL;
    cm__free(c->notify_sql);
    c->notify_sql = NULL;
    c->notify_len = c->notify_cap = 0;
}

/* A connection resting in the pool may have been closed by the server
 * (restart, idle timeout, pg_terminate_backend). When no transaction is
 * open nothing is lost: notice it before sending anything and reconnect. */
static void revive_if_dead(pg_conn *c)
{
    /* Whatever arrived meanwhile: a FATAL message, then end of file. */
    for (int i = 0; i < 4 && PQstatus(c->pg) == CONNECTION_OK; i++) {
        struct pollfd p = {PQsocket(c->pg), POLLIN, 0};
        if (poll(&p, 1, 0) <= 0 || !PQconsumeInput(c->pg))
            break;
        PGnotify *n;
        while ((n = PQnotifies(c->pg)))
            PQfreemem(n);
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        PQreset(c->pg);
        if (PQstatus(c->pg) == CONNECTION_OK) {
            c->gen++;
            c->base.broken = false;
            cm__log(CM_LOG_INFO, "pg", "reconnected to the server");
        }
    }
}

static int pg_begin(cm__conn *conn, bool write)
{
    (void)write; /* row locks, not a database lock: writers take them as they go */
    pg_conn *c = (pg_conn *)conn;
    c->notify_len = 0;
    revive_if_dead(c);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        c->base.broken = true;
        return map_error(c, NULL, "BEGIN");
    }
    int rc = exec_simple(c, c->state->begin_sql, "BEGIN");
    if (rc && PQstatus(c->pg) != CONNECTION_OK) {
        /* Lost before anything of this transaction ran: try once more. */
        revive_if_dead(c);
        if (PQstatus(c->pg) == CONNECTION_OK)
            rc = exec_simple(c, c->state->begin_sql, "BEGIN");
    }
    return rc;
}

static int pg_commit(cm__conn *conn)
{
    pg_conn *c = (pg_conn *)conn;
    const char *sql = "COMMIT";
    if (c->notify_len) { /* room for "COMMIT" was kept by pg_notify */
        memcpy(c->notify_sql + c->notify_len, "COMMIT", 7);
        sql = c->notify_sql;
        c->notify_len = 0;
    }
    PGresult *r = PQexec(c->pg, sql);
    int rc = CM_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = map_error(c, r, "COMMIT");
        if (c->base.broken && rc == CM_EBACKEND) {
            char state[16];
            (void)snprintf(state, sizeof state, "%s", cm_error_backend_code());
            cm__error_set(rc, "pg: connection lost during COMMIT: the transaction may or may "
                              "not have been committed");
            cm__error_set_backend_code(state);
        }
    } else if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        rc = cm__error_set(CM_EBACKEND, "pg: COMMIT: a statement of this transaction failed, "
                                        "so PostgreSQL rolled it back");
        cm__error_set_backend_code("25P02");
    }
    PQclear(r);
    return rc;
}

static int pg_rollback(cm__conn *conn)
{
    pg_conn *c = (pg_conn *)conn;
    c->notify_len = 0;
    switch (PQtransactionStatus(c->pg)) {
        case PQTRANS_IDLE:
            return CM_OK;
        case PQTRANS_UNKNOWN:
            c->base.broken = true;
            return map_error(c, NULL, "ROLLBACK");
        default:
            return exec_simple(c, "ROLLBACK", "ROLLBACK");
    }
}

/* Scripts are migrations: statement_timeout is lifted for the rest of the
 * transaction (an index build may take long); lock_timeout still holds, so
 * a migrator does not queue every query behind its lock for long. */
static int pg_exec_script(cm__conn *conn, const char *sql)
{
    pg_conn *c = (pg_conn *)conn;
    int rc = CM_OK;
    if (PQtransactionStatus(c->pg) == PQTRANS_INTRANS)
        rc = exec_simple(c, "SET LOCAL statement_timeout = 0", "script");
    return rc ? rc : exec_simple(c, sql, "script");
}

/* ------------------------------------------------------------------ */
/* statements                                                          */

/* The parameter ($N) the error of r points at, or 0. */
static int param_at_error(const PGresult *r, const char *sql)
{
    const char *pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
    if (pos) {
        long chars = strtol(pos, NULL, 10); /* 1-based, in characters */
        const char *p = sql;
        for (long i = 1; *p && i < chars; i++)
            for (p++; ((unsigned char)*p & 0xC0) == 0x80; p++)
                ;
        if (*p == '$' && isdigit((unsigned char)p[1]))
            return (int)strtol(p + 1, NULL, 10);
    }
    const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const char *d = m ? strchr(m, '$') : NULL;
    return d && isdigit((unsigned char)d[1]) ? (int)strtol(d + 1, NULL, 10) : 0;
}

static const pg_types *cached_types(pg_state *st, long index)
{
    const pg_types *t = NULL;
    pthread_mutex_lock(&st->lock);
    if (index >= 0 && (size_t)index < st->n_types)
        t = st->types[index];
    pthread_mutex_unlock(&st->lock);
    return t;
}

static void cache_types(pg_state *st, size_t n_sql, long index, const Oid *oid, int n)
{
    if (index < 0)
        return;
    pg_types *t = cm__malloc(sizeof *t + (size_t)n * sizeof(Oid));
    if (!t)
        return; /* only a cache */
    t->n = n;
    if (n)
        memcpy(t->oid, oid, (size_t)n * sizeof(Oid));
    pthread_mutex_lock(&st->lock);
    if (!st->types && (st->types = cm__calloc(n_sql ? n_sql : 1, sizeof *st->types)))
        st->n_types = n_sql;
    if ((size_t)index < st->n_types && !st->types[index]) {
        st->types[index] = t;
        t = NULL;
    }
    pthread_mutex_unlock(&st->lock);
    cm__free(t);
}

/* Parse sql as the unnamed statement with these types: CM_OK, or the
 * result (to inspect and clear) in *fail. */
static int try_parse(pg_conn *c, const char *sql, int n, const Oid *types, PGresult **fail)
{
    PGresult *r = PQprepare(c->pg, "", sql, n, types);
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        PQclear(r);
        *fail = NULL;
        return CM_OK;
    }
    *fail = r;
    return CM_ERROR;
}

/*
 * Find parameter types for st->sql (once per store and statement). The
 * server infers them; a parameter it cannot type ("?1 IS NULL OR col = ?1",
 * SQLSTATE 42P08) gets the first of `guesses` the statement accepts: the attempt before
 * reached the end of the analysis (that is where PostgreSQL reports untyped
 * parameters), so a new error can only come from the new guess. Then
 * int2/int4/float4 parameters are widened to int8/float8 when the statement
 * allows it, because SQLite parameters are 64-bit: "?2 > 0" would
 * otherwise refuse a timestamp in microseconds. Runs on the unnamed
 * statement; the caller holds a savepoint inside a transaction, since a
 * failed Parse aborts it.
 */
static int discover_types(pg_stmt *st, const char *what)
{
    pg_conn *c = st->conn;
    bool in_tx = c->base.in_tx;
    for (int i = 0; i < st->nparams; i++)
        st->ptypes[i] = st->used[i + 1] ? 0 : OID_TEXT; /* unreferenced: any type */
    unsigned char *tried = cm__calloc((size_t)st->nparams + 1, 1);
    Oid *wide = cm__calloc((size_t)st->nparams + 1, sizeof *wide);
    int rc = CM_OK;
    if (!tried || !wide) {
        rc = cm__oom();
        goto out;
    }
    int guessing = 0; /* the parameter whose type is being guessed */
    for (int attempt = 0;; attempt++) {
        PGresult *r;
        if (try_parse(c, st->sql, st->nparams, st->ptypes, &r) == CM_OK)
            break;
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        /* 42P08 "could not determine data type of parameter $N" (42P18 in
         * some versions) */
        bool untyped = state && (strcmp(state, "42P08") == 0 || strcmp(state, "42P18") == 0);
        int k = untyped ? param_at_error(r, st->sql) : 0;
        bool retry = false;
        if (PQstatus(c->pg) == CONNECTION_OK && attempt < 64) {
            if (k >= 1 && k <= st->nparams && st->ptypes[k - 1] == 0)
                retry = true, guessing = k; /* the previous guess, if any, was accepted */
            else if (!k && guessing && tried[guessing] < N_GUESSES)
                retry = true; /* the current guess broke the statement */
        }
        if (!retry) {
            rc = map_error(c, r, what);
            PQclear(r);
            goto out;
        }
        PQclear(r);
        st->ptypes[guessing - 1] = guesses[tried[guessing]++];
        if (in_tx && (rc = exec_simple(c, "ROLLBACK TO SAVEPOINT cm_prepare", what)))
            goto out;
    }
    PGresult *d = PQdescribePrepared(c->pg, "");
    if (PQresultStatus(d) != PGRES_COMMAND_OK || PQnparams(d) != st->nparams) {
        rc = map_error(c, d, what);
        PQclear(d);
        goto out;
    }
    bool widen = false;
    for (int i = 0; i < st->nparams; i++) {
        st->ptypes[i] = PQparamtype(d, i);
        wide[i] = st->ptypes[i] == OID_INT2 || st->ptypes[i] == OID_INT4 ? OID_INT8
                  : st->ptypes[i] == OID_FLOAT4                          ? OID_FLOAT8
                                                                         : st->ptypes[i];
        widen |= wide[i] != st->ptypes[i];
    }
    PQclear(d);
    if (widen) {
        PGresult *r;
        if (try_parse(c, st->sql, st->nparams, wide, &r) == CM_OK) {
            memcpy(st->ptypes, wide, (size_t)st->nparams * sizeof *wide);
        } else {
            bool lost = PQstatus(c->pg) != CONNECTION_OK;
            if (lost)
                rc = map_error(c, r, what);
            PQclear(r);
            if (!lost && in_tx)
                rc = exec_simple(c, "ROLLBACK TO SAVEPOINT cm_prepare", what);
        }
    }
out:
    cm__free(tried);
    cm__free(wide);
    return rc;
}

/* Prepare st under its name on its connection, with the parameter types
 * cached for its catalogue entry or found now (then cached). */
static int stmt_prepare(pg_stmt *st)
{
    pg_conn *c = st->conn;
    char what[96];
    (void)snprintf(what, sizeof what, "prepare %s", st->id);
    const pg_types *known = cached_types(c->state, st->index);
    bool savepoint = false;
    int rc = CM_OK;
    if (known && known->n == st->nparams) {
        if (st->nparams)
            memcpy(st->ptypes, known->oid, (size_t)st->nparams * sizeof(Oid));
    } else {
        savepoint = c->base.in_tx;
        if (savepoint && (rc = exec_simple(c, "SAVEPOINT cm_prepare", what)))
            return rc;
        rc = discover_types(st, what);
    }
    if (rc == CM_OK) {
        PGresult *r = PQprepare(c->pg, st->name, st->sql, st->nparams, st->ptypes);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? CM_OK : map_error(c, r, what);
        PQclear(r);
    }
    if (rc == CM_OK) {
        st->gen = c->gen;
        if (!known)
            cache_types(c->state, c->base.store->n_sql, st->index, st->ptypes, st->nparams);
    }
    if (savepoint && !c->base.broken) {
        cm__error_saved saved;
        cm__error_save(&saved);
        int rc2 = rc ? exec_simple(c, "ROLLBACK TO SAVEPOINT cm_prepare", what) : CM_OK;
        if (rc2 == CM_OK)
            rc2 = exec_simple(c, "RELEASE SAVEPOINT cm_prepare", what);
        if (rc)
            cm__error_restore(&saved);
        else
            rc = rc2;
    }
    return rc;
}

static void stmt_clear_row(pg_stmt *st)
{
    if (!st->colbuf)
        return;
    for (int i = 0; i < st->ncols; i++) {
        cm__free(st->colbuf[i]);
        st->colbuf[i] = NULL;
    }
}

static void pg_reset(cm__stmt *s)
{
    pg_stmt *st = (pg_stmt *)s;
    stmt_clear_row(st);
    cm__free(st->colbuf);
    cm__free(st->collen);
    st->colbuf = NULL;
    st->collen = NULL;
    PQclear(st->res);
    st->res = NULL;
    st->row = st->nrows = st->ncols = 0;
    for (int i = 0; st->params && i < st->nparams; i++)
        st->params[i].set = false;
}

/* Frees the statement. The server side goes with the session: the core
 * finalizes only when it drops the connection. */
static void pg_finalize(cm__stmt *s)
{
    pg_stmt *st = (pg_stmt *)s;
    if (!st)
        return;
    pg_reset(s);
    for (int i = 0; st->params && i < st->nparams; i++)
        cm__free(st->params[i].buf);
    cm__free(st->params);
    cm__free(st->values);
    cm__free(st->lengths);
    cm__free(st->formats);
    cm__free(st->ptypes);
    cm__free(st->used);
    cm__free(st->sql);
    cm__free(st);
}

/* Locate the catalogue entry being prepared: the core prepares into
 * conn->cache[i] the text of store->sql[i]; failing that, the entry whose
 * text this is. Anything else is ad hoc (-1). */
static long catalog_index(cm__conn *conn, cm__stmt **out, const char *sql)
{
    cm_store *s = conn->store;
    uintptr_t base = (uintptr_t)conn->cache, p = (uintptr_t)out;
    if (conn->cache && p >= base && p < base + s->n_sql * sizeof *conn->cache &&
        (p - base) % sizeof *conn->cache == 0) {
        size_t i = (p - base) / sizeof *conn->cache;
        if (s->sql[i]->sql == sql)
            return (long)i;
    }
    for (size_t i = 0; i < s->n_sql; i++)
        if (s->sql[i]->sql == sql)
            return (long)i;
    return -1;
}

static int pg_prepare(cm__stmt **out, cm__conn *conn, const char *sql)
{
    pg_conn *c = (pg_conn *)conn;
    long index = catalog_index(conn, out, sql);
    pg_stmt *st = cm__calloc(1, sizeof *st);
    if (!st)
        return cm__oom();
    st->conn = c;
    st->index = index;
    st->id = index >= 0 ? conn->store->sql[index]->id : "(ad hoc)";
    int rc = cm__pg_statement(&st->sql, &st->nparams, &st->used, index >= 0 ? st->id : NULL, sql);
    if (rc) {
        cm__free(st);
        return rc;
    }
    size_t n = st->nparams ? (size_t)st->nparams : 1;
    st->ptypes = cm__calloc(n, sizeof *st->ptypes);
    st->params = cm__calloc(n, sizeof *st->params);
    st->values = cm__calloc(n, sizeof *st->values);
    st->lengths = cm__calloc(n, sizeof *st->lengths);
    st->formats = cm__calloc(n, sizeof *st->formats);
    if (!st->ptypes || !st->params || !st->values || !st->lengths || !st->formats) {
        pg_finalize((cm__stmt *)st);
        return cm__oom();
    }
    (void)snprintf(st->name, sizeof st->name, "cm%" PRIu32, ++c->next_name);
    if ((rc = stmt_prepare(st))) {
        pg_finalize((cm__stmt *)st);
        return rc;
    }
    *out = (cm__stmt *)st;
    return CM_OK;
}

/* ---- binding: values are converted to the parameter's server type ---- */

static int param_slot(pg_stmt *st, int idx, pg_param **p)
{
    if (idx < 1 || idx > st->nparams)
        return cm__error_set(CM_ERANGE, "pg: %s: parameter %d out of range (1..%d)", st->id, idx,
                             st->nparams);
    *p = &st->params[idx - 1];
    return CM_OK;
}

static int param_set(pg_stmt *st, int idx, const void *data, size_t len, int fmt)
{
    pg_param *p = NULL;
    int rc = param_slot(st, idx, &p);
    if (rc)
        return rc;
    if (len > INT32_MAX - 1)
        return cm__error_set(CM_ERANGE, "pg: %s: parameter %d is too large", st->id, idx);
    if (len + 1 > p->cap) {
        char *b = cm__realloc(p->buf, len + 1);
        if (!b)
            return cm__oom();
        p->buf = b;
        p->cap = len + 1;
    }
    if (len)
        memcpy(p->buf, data, len);
    p->buf[len] = '\0';
    p->len = (int)len;
    p->fmt = fmt;
    p->set = true;
    p->null = false;
    return CM_OK;
}

static Oid ptype(pg_stmt *st, int idx)
{
    return idx >= 1 && idx <= st->nparams ? st->ptypes[idx - 1] : 0;
}

static int pg_bind_int64(cm__stmt *s, int idx, int64_t v)
{
    pg_stmt *st = (pg_stmt *)s;
    if (ptype(st, idx) == OID_BOOL)
        return param_set(st, idx, v ? "t" : "f", 1, 0);
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%" PRId64, v);
    return param_set(st, idx, buf, (size_t)n, 0);
}

static int pg_bind_double(cm__stmt *s, int idx, double v)
{
    pg_stmt *st = (pg_stmt *)s;
    Oid t = ptype(st, idx);
    char buf[40];
    int n;
    if (t == OID_BOOL)
        return param_set(st, idx, v != 0 ? "t" : "f", 1, 0);
    if (isnan(v))
        n = snprintf(buf, sizeof buf, "NaN");
    else if (isinf(v))
        n = snprintf(buf, sizeof buf, "%sInfinity", v < 0 ? "-" : "");
    else if ((t == OID_INT8 || t == OID_INT4 || t == OID_INT2) && v == floor(v) && fabs(v) < 9.2e18)
        n = snprintf(buf, sizeof buf, "%" PRId64, (int64_t)v);
    else /* the shortest text that reads back as v */
        for (int prec = 15; prec <= 17; prec++)
            if ((n = snprintf(buf, sizeof buf, "%.*g", prec, v)) > 0 && strtod(buf, NULL) == v)
                break;
    return param_set(st, idx, buf, (size_t)n, 0);
}

static int pg_bind_text(cm__stmt *s, int idx, const char *p, size_t n)
{
    pg_stmt *st = (pg_stmt *)s;
    if (!p)
        p = "", n = 0;
    if (ptype(st, idx) == OID_BYTEA)
        return param_set(st, idx, p, n, 1);
    if (memchr(p, '\0', n))
        return cm__error_set(CM_EINVAL, "pg: %s: text parameter %d contains a NUL byte", st->id,
                             idx);
    return param_set(st, idx, p, n, 0);
}

static int pg_bind_blob(cm__stmt *s, int idx, const void *p, size_t n)
{
    return pg_bind_text(s, idx, p, n);
}

static int pg_bind_null(cm__stmt *s, int idx)
{
    pg_stmt *st = (pg_stmt *)s;
    pg_param *p = NULL;
    int rc = param_slot(st, idx, &p);
    if (rc)
        return rc;
    p->set = p->null = true;
    return CM_OK;
}

/* ---- execution and rows ---- */

static int pg_step(cm__stmt *s)
{
    pg_stmt *st = (pg_stmt *)s;
    pg_conn *c = st->conn;
    if (!st->res) {
        if (!c->base.in_tx)
            revive_if_dead(c);
        if (PQstatus(c->pg) != CONNECTION_OK) {
            c->base.broken = true;
            return map_error(c, NULL, st->id);
        }
        int rc;
        if (st->gen != c->gen && (rc = stmt_prepare(st)))
            return rc;
        for (int i = 0; i < st->nparams; i++) {
            pg_param *p = &st->params[i];
            bool v = p->set && !p->null;
            st->values[i] = v ? p->buf : NULL;
            st->lengths[i] = v ? p->len : 0;
            st->formats[i] = v ? p->fmt : 0;
        }
        PGresult *r =
            PQexecPrepared(c->pg, st->name, st->nparams, st->values, st->lengths, st->formats, 0);
        ExecStatusType es = PQresultStatus(r);
        if (es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK) {
            rc = map_error(c, r, st->id);
            PQclear(r);
            return rc;
        }
        st->res = r;
        st->row = -1;
        st->nrows = PQntuples(r);
        st->ncols = PQnfields(r);
        const char *cmd = PQcmdStatus(r);
        if (strncmp(cmd, "INSERT", 6) == 0 || strncmp(cmd, "UPDATE", 6) == 0 ||
            strncmp(cmd, "DELETE", 6) == 0 || strncmp(cmd, "MERGE", 5) == 0)
            c->changes = strtoll(PQcmdTuples(r), NULL, 10);
        if (st->ncols) {
            st->colbuf = cm__calloc((size_t)st->ncols, sizeof *st->colbuf);
            st->collen = cm__calloc((size_t)st->ncols, sizeof *st->collen);
            if (!st->colbuf || !st->collen)
                return cm__oom();
        }
    }
    stmt_clear_row(st);
    if (st->row + 1 < st->nrows) {
        st->row++;
        return 1;
    }
    st->row = st->nrows;
    return 0;
}

static bool has_cell(pg_stmt *st, int col)
{
    return st->res && st->row >= 0 && st->row < st->nrows && col >= 0 && col < st->ncols;
}

static bool pg_is_null(cm__stmt *s, int col)
{
    pg_stmt *st = (pg_stmt *)s;
    return !has_cell(st, col) || PQgetisnull(st->res, st->row, col);
}

static int64_t pg_col_int64(cm__stmt *s, int col)
{
    pg_stmt *st = (pg_stmt *)s;
    if (pg_is_null(s, col))
        return 0;
    const char *v = PQgetvalue(st->res, st->row, col);
    if (PQftype(st->res, col) == OID_BOOL)
        return v[0] == 't';
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end == '.' || *end == 'e' || *end == 'E') {
        double d = strtod(v, NULL);
        return d >= 9.2233720368547758e18    ? INT64_MAX
               : d <= -9.2233720368547758e18 ? INT64_MIN
                                             : (int64_t)d;
    }
    return n;
}

static double pg_col_double(cm__stmt *s, int col)
{
    pg_stmt *st = (pg_stmt *)s;
    if (pg_is_null(s, col))
        return 0;
    const char *v = PQgetvalue(st->res, st->row, col);
    if (PQftype(st->res, col) == OID_BOOL)
        return v[0] == 't';
    return strtod(v, NULL);
}

/* The bytes of a bytea cell, decoded once per row (NUL-terminated). */
static const char *bytea_cell(pg_stmt *st, int col, size_t *len)
{
    if (!st->colbuf)
        return NULL;
    if (!st->colbuf[col]) {
        size_t n = 0;
        unsigned char *raw =
            PQunescapeBytea((const unsigned char *)PQgetvalue(st->res, st->row, col), &n);
        if (!raw)
            return NULL;
        char *b = cm__malloc(n + 1);
        if (b) {
            memcpy(b, raw, n);
            b[n] = '\0';
        }
        PQfreemem(raw);
        if (!b)
            return NULL;
        st->colbuf[col] = b;
        st->collen[col] = n;
    }
    *len = st->collen[col];
    return st->colbuf[col];
}

static const char *pg_col_text(cm__stmt *s, int col, size_t *len)
{
    pg_stmt *st = (pg_stmt *)s;
    *len = 0;
    if (pg_is_null(s, col))
        return NULL;
    Oid t = PQftype(st->res, col);
    const char *v = PQgetvalue(st->res, st->row, col);
    if (t == OID_BOOL) {
        *len = 1;
        return v[0] == 't' ? "1" : "0";
    }
    if (t == OID_BYTEA)
        return bytea_cell(st, col, len);
    *len = (size_t)PQgetlength(st->res, st->row, col);
    return v;
}

static const void *pg_col_blob(cm__stmt *s, int col, size_t *len)
{
    return pg_col_text(s, col, len);
}

static int64_t pg_changes(cm__stmt *s)
{
    return ((pg_stmt *)s)->conn->changes;
}

/* ------------------------------------------------------------------ */
/* wake-ups: NOTIFY with the commit, a dedicated LISTEN connection      */

/* Queue "NOTIFY channel, 'payload'; " for the COMMIT of the open
 * transaction (once per distinct pair: PostgreSQL would fold duplicates
 * anyway). NOTIFY takes effect at commit and vanishes with a rollback,
 * which is what we want; sending it with the COMMIT costs no round trip.
 * Out of memory or a value libpq cannot quote: dropped (a hint only). */
static void pg_notify(cm__conn *conn, const char *channel, const char *payload)
{
    pg_conn *c = (pg_conn *)conn;
    if (c->state->notify_off || !c->pg || !conn->in_tx)
        return;
    char *ch = PQescapeIdentifier(c->pg, channel, strlen(channel));
    char *pl = PQescapeLiteral(c->pg, payload ? payload : "", payload ? strlen(payload) : 0);
    if (ch && pl) {
        size_t n = strlen(ch) + strlen(pl) + 12; /* "NOTIFY " ch ", " pl "; " */
        char stmt[600];
        if (n < sizeof stmt) {
            (void)snprintf(stmt, sizeof stmt, "NOTIFY %s, %s; ", ch, pl);
            n = strlen(stmt);
            /* the buffer is NUL-terminated at notify_len while it is > 0 */
            bool dup = c->notify_len && strstr(c->notify_sql, stmt);
            if (!dup && c->notify_len + n + 7 > c->notify_cap) {
                size_t cap = c->notify_cap ? c->notify_cap * 2 : 256;
                while (cap < c->notify_len + n + 7)
                    cap *= 2;
                char *b = cm__realloc(c->notify_sql, cap);
                if (b) {
                    c->notify_sql = b;
                    c->notify_cap = cap;
                }
            }
            if (!dup && c->notify_len + n + 7 <= c->notify_cap) {
                memcpy(c->notify_sql + c->notify_len, stmt, n + 1);
                c->notify_len += n;
            }
        }
    }
    if (ch)
        PQfreemem(ch);
    if (pl)
        PQfreemem(pl);
}

static int pg_listen_open(void **out, int *fd_out, void *state, const char *channel)
{
    pg_state *st = state;
    *out = NULL;
    *fd_out = -1;
    if (st->notify_off)
        return cm__error_set(CM_ENOTSUP, "pg: notify=off: no LISTEN, workers poll");
    PGconn *pg;
    int rc = pg_open(&pg, st, "pg: cannot open the listening connection");
    if (rc)
        return rc;
    char msg[200];
    PQsetNoticeProcessor(pg, on_notice, NULL);
    char *ch = PQescapeIdentifier(pg, channel, strlen(channel));
    char sql[300];
    if (!ch || strlen(ch) > 250) {
        rc = cm__error_set(CM_EINVAL, "pg: bad channel name");
    } else {
        (void)snprintf(sql, sizeof sql, "LISTEN %s", ch);
        PGresult *r = PQexec(pg, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            const char *sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            copy_trimmed(msg, sizeof msg, PQerrorMessage(pg));
            rc = cm__error_set(CM_EBACKEND, "pg: LISTEN failed: %s", msg);
            cm__error_set_backend_code(sqlstate ? sqlstate : "");
        }
        PQclear(r);
    }
    if (ch)
        PQfreemem(ch);
    if (rc == CM_OK && PQsetnonblocking(pg, 1) != 0)
        rc = cm__error_set(CM_EBACKEND, "pg: cannot make the listening connection non-blocking");
    if (rc) {
        PQfinish(pg);
        return rc;
    }
    *out = pg;
    *fd_out = PQsocket(pg);
    return CM_OK;
}

static int pg_listen_read(void *l, void (*fn)(const char *payload, void *arg), void *arg)
{
    PGconn *pg = l;
    if (!PQconsumeInput(pg) || PQstatus(pg) != CONNECTION_OK) {
        char msg[200];
        copy_trimmed(msg, sizeof msg, PQerrorMessage(pg));
        cm__error_set(CM_EBACKEND, "pg: the listening connection was lost: %s", msg);
        cm__error_set_backend_code("08006");
        return CM_EBACKEND;
    }
    PGnotify *n;
    while ((n = PQnotifies(pg))) {
        fn(n->extra ? n->extra : "", arg);
        PQfreemem(n);
    }
    return CM_OK;
}

static void pg_listen_close(void *l)
{
    PQfinish(l);
}

/* ------------------------------------------------------------------ */
/* migrations                                                          */

/* Serialise migrators of the same schema across hosts for the rest of the
 * transaction (the key pairs a constant with the schema's name), then make
 * sure the bookkeeping table exists. */
static int pg_migration_lock(cm__conn *conn)
{
    return exec_simple((pg_conn *)conn,
                       "SELECT pg_advisory_xact_lock(1668114791, "
                       "hashtext(coalesce(current_schema(), '')));"
                       "CREATE TABLE IF NOT EXISTS cm_migrations (version bigint PRIMARY KEY, "
                       "name text NOT NULL, checksum text NOT NULL, applied_at bigint NOT NULL)",
                       "migration lock");
}

const cm__store_ops cm__pg_ops = {
    .size = sizeof(cm__store_ops),
    .name = "pg",
    .conn_size = sizeof(pg_conn),
    .init = pg_init,
    .release = pg_release,
    .default_pool_size = pg_default_pool,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .exec_script = pg_exec_script,
    .prepare = pg_prepare,
    .bind_int64 = pg_bind_int64,
    .bind_double = pg_bind_double,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .column_is_null = pg_is_null,
    .column_int64 = pg_col_int64,
    .column_double = pg_col_double,
    .column_text = pg_col_text,
    .column_blob = pg_col_blob,
    .changes = pg_changes,
    .reset = pg_reset,
    .finalize = pg_finalize,
    .catalog = cm__sqlite_catalog,
    .migrations = cm__pg_migrations,
    .migration_lock = pg_migration_lock,
    .backup = cm__pg_backup,
    .check_backup = cm__pg_check_backup,
    .restore = cm__pg_restore,
    .after_migrate = cm__pg_after_migrate,
    .vector_search_pushdown = cm__pg_vector_search,
    .notify = pg_notify,
    .listen_open = pg_listen_open,
    .listen_read = pg_listen_read,
    .listen_close = pg_listen_close,
    .write_probe = pg_write_probe,
};
