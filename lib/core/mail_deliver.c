/*
 * mail_deliver.c - cm_mailer: drains email_outbox to an SMTP server.
 *
 * Each outbox row is its own delivery row (migration 0004_mail). A pass:
 *   1. claims up to `batch` rows in one write transaction (rows whose
 *      sender died first, then due pending rows): status 'sending', a new
 *      lease_token, lease_until = now + lease; renders each claimed row in
 *      the same transaction (a row that cannot be rendered fails there);
 *   2. for each rendered row, outside any transaction: stops and gives the
 *      rest back when the lease could lapse before the send ends; reserves
 *      a send slot of the shared rate limit; sends; then marks the row
 *      sent (or back to pending with backoff, or failed) in its own short
 *      transaction, under the lease token.
 * A row is therefore handed to the server again only when its worker died
 * (or lost the database) between the server's "250" and the commit of the
 * mark: one message per sending thread at most.
 *
 * The scheduler side: one "platform.mail_deliver" watcher job at a time
 * (dedupe keys mail_watch:0 and mail_watch:1, alternating) delivers while
 * mail is due, looks every 200 ms for 5 s while none is, then enqueues its
 * successor: a mail is picked up within a fraction of a second.
 * "platform.mail_tick", a repeatable schedule fired at the scheduler's
 * heartbeats, restarts the watcher chain when a worker died holding it,
 * and when many rows are due enqueues burst jobs (keys
 * mail_deliver:<10 s epoch>:<slot>, up to `slots`) that deliver until
 * nothing is due. A dead worker's burst jobs block their keys until the
 * epoch ends, its watcher until the job's lease lapses (the ticks' burst
 * jobs deliver meanwhile).
 */
#include "deliver_int.h"
#include "newsletter_int.h"

#include <community/mail.h>

#include "../util/json.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define POOL_MAX 16
#define RATE_NAME "smtp"
#define RUN_BUDGET_US INT64_C(10000000)
#define WATCH_US INT64_C(5000000)
#define LEASE_MARGIN_US INT64_C(5000000)
#define RETRY_CAP_US INT64_C(3600000000)

struct cm_mailer {
    cm_store *store;
    char *smtp_uri, *from_addr, *from_name, *public_url, *api_url, *site_name;
    uint32_t rate, batch, max_attempts, lease_ms, retry_ms, slots, flags;
    int64_t timeout_ms;
    pthread_mutex_t mu;
    cm__mail_sender *idle[POOL_MAX];
    size_t nidle;
    cm__mail_tmpl_text *custom; /* cm__mail_template_count() entries or NULL */
};

int cm_mailer_options_init(cm_mailer_options *opts, uint32_t size)
{
    if (!opts || size < sizeof(uint32_t) || size > sizeof *opts)
        return cm__error_set(CM_EINVAL, "cm_mailer_options_init: bad size");
    cm_mailer_options d = CM_MAILER_OPTIONS_INIT;
    memcpy(opts, &d, size);
    opts->size = size;
    return CM_OK;
}

/* "Name <addr>", "\"Name\" <addr>" or "addr". */
static int parse_from(cm_mailer *m, const char *from)
{
    const char *lt = from ? strrchr(from, '<') : NULL;
    size_t n = from ? strlen(from) : 0;
    if (lt && n && from[n - 1] == '>') {
        m->from_addr = cm__strndup(lt + 1, (size_t)(from + n - 1 - lt - 1));
        const char *a = from, *b = lt;
        while (a < b && (*a == ' ' || *a == '"'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '"'))
            b--;
        if (b > a)
            m->from_name = cm__strndup(a, (size_t)(b - a));
        if (!m->from_addr || (b > a && !m->from_name))
            return cm__oom();
    } else if (from) {
        if (!(m->from_addr = cm__strdup(from)))
            return cm__oom();
    }
    if (!m->from_addr || !cm__mail_addr_valid(m->from_addr))
        return cm__error_set_field(CM_EINVAL, "from",
                                   "from must be an address or \"Name <address>\"");
    if (m->from_name) {
        for (const char *p = m->from_name; *p; p++)
            if ((unsigned char)*p < 0x20)
                return cm__error_set_field(CM_EINVAL, "from",
                                           "from name has a control "
                                           "character");
    }
    return CM_OK;
}

/* Read DIR/NAME.EXT into *out when the file exists (NULL otherwise):
 * UTF-8, at most 1 MiB; a subject is one line (a final newline dropped). */
static int read_part(char **out, const char *dir, const char *name, const char *ext)
{
    char path[1200];
    (void)snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return CM_OK;
    char *buf = cm__malloc(CM__MAIL_MAX_BODY + 1);
    if (!buf) {
        fclose(f);
        return cm__oom();
    }
    size_t n = fread(buf, 1, CM__MAIL_MAX_BODY + 1, f);
    bool err = ferror(f) != 0;
    fclose(f);
    buf[n <= CM__MAIL_MAX_BODY ? n : CM__MAIL_MAX_BODY] = 0;
    int rc = CM_OK;
    if (err)
        rc = cm__error_set_field(CM_EINVAL, "templates_dir", "%s: cannot be read", path);
    else if (n > CM__MAIL_MAX_BODY)
        rc = cm__error_set_field(CM_EINVAL, "templates_dir", "%s: larger than 1 MiB", path);
    else if (!cm__utf8_valid(buf, n))
        rc = cm__error_set_field(CM_EINVAL, "templates_dir", "%s: not UTF-8 text", path);
    if (rc == CM_OK && strcmp(ext, "subject") == 0) {
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            buf[--n] = 0;
        if (strpbrk(buf, "\r\n"))
            rc = cm__error_set_field(CM_EINVAL, "templates_dir", "%s: a subject is one line", path);
    }
    if (rc == CM_OK)
        rc = cm__mail_template_check(path, buf);
    if (rc) {
        cm__free(buf);
        return rc;
    }
    *out = buf;
    return CM_OK;
}

static int load_templates(cm_mailer *m, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return cm__error_set_field(CM_EINVAL, "templates_dir", "%s: not a readable directory", dir);
    closedir(d);
    size_t n = cm__mail_template_count();
    if (!(m->custom = cm__calloc(n, sizeof *m->custom)))
        return cm__oom();
    int rc = CM_OK;
    for (size_t i = 0; rc == CM_OK && i < n; i++) {
        const char *name = cm__mail_template_name(i);
        if ((rc = read_part(&m->custom[i].subject, dir, name, "subject")) == CM_OK &&
            (rc = read_part(&m->custom[i].text, dir, name, "txt")) == CM_OK)
            rc = read_part(&m->custom[i].html, dir, name, "html");
    }
    return rc;
}

void cm_mailer_close(cm_mailer *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->custom && i < cm__mail_template_count(); i++) {
        cm__free(m->custom[i].subject);
        cm__free(m->custom[i].text);
        cm__free(m->custom[i].html);
    }
    cm__free(m->custom);
    for (size_t i = 0; i < m->nidle; i++)
        cm__mail_sender_close(m->idle[i]);
    pthread_mutex_destroy(&m->mu);
    cm__free(m->smtp_uri);
    cm__free(m->from_addr);
    cm__free(m->from_name);
    cm__free(m->public_url);
    cm__free(m->api_url);
    cm__free(m->site_name);
    cm__free(m);
}

int cm_mailer_open(cm_mailer **out, cm_store *store, const cm_mailer_options *opts)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_mailer_open: out is NULL");
    *out = NULL;
    if (!store || !opts || opts->size < sizeof(uint32_t))
        return cm__error_set(CM_EINVAL, "cm_mailer_open: store and options are required");
    cm_mailer_options o = CM_MAILER_OPTIONS_INIT;
    memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
    cm_mailer *m = cm__calloc(1, sizeof *m);
    if (!m)
        return cm__oom();
    pthread_mutex_init(&m->mu, NULL);
    m->store = store;
    m->rate = o.rate_per_s;
    m->batch = o.batch ? o.batch : 20;
    m->max_attempts = o.max_attempts ? o.max_attempts : 8;
    m->lease_ms = o.lease_ms ? o.lease_ms : 120000;
    m->retry_ms = o.retry_ms ? o.retry_ms : 30000;
    m->slots = o.slots ? o.slots : 8;
    m->flags = o.flags;
    const char *url = o.public_url ? o.public_url : "http://localhost:3000";
    size_t ul = strlen(url);
    while (ul > 0 && url[ul - 1] == '/')
        ul--;
    const char *api = o.api_url ? o.api_url : url;
    size_t al = strlen(api);
    while (al > 0 && api[al - 1] == '/')
        al--;
    int rc = CM_OK;
    cm__mail_sender *s = NULL;
    if (m->batch > 500)
        rc = cm__error_set_field(CM_EINVAL, "batch", "batch must be 1..500");
    else if (m->max_attempts > 100)
        rc = cm__error_set_field(CM_EINVAL, "max_attempts", "max_attempts must be 1..100");
    else if (m->slots > 64)
        rc = cm__error_set_field(CM_EINVAL, "slots", "slots must be 1..64");
    else if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
        rc = cm__error_set_field(CM_EINVAL, "public_url", "public_url must be an http(s) URL");
    else if (strpbrk(url, " \r\n\t\"<>"))
        rc = cm__error_set_field(CM_EINVAL, "public_url",
                                 "public_url has a space, quote or "
                                 "line break");
    else if (strncmp(api, "http://", 7) && strncmp(api, "https://", 8))
        rc = cm__error_set_field(CM_EINVAL, "api_url", "api_url must be an http(s) URL");
    else if (strpbrk(api, " \r\n\t\"<>"))
        rc = cm__error_set_field(CM_EINVAL, "api_url", "api_url has a space, quote or line break");
    else if (o.site_name && (strlen(o.site_name) > 100 || strpbrk(o.site_name, "\r\n")))
        rc = cm__error_set_field(CM_EINVAL, "site_name",
                                 "site_name must be one line of at "
                                 "most 100 bytes");
    if (rc == CM_OK)
        rc = parse_from(m, o.from);
    if (rc == CM_OK && o.templates_dir)
        rc = load_templates(m, o.templates_dir);
    if (rc == CM_OK && (rc = cm__mail_sender_open(&s, o.smtp_uri)) == CM_OK) {
        m->timeout_ms = cm__mail_sender_timeout_ms(s);
        m->idle[m->nidle++] = s;
        if ((int64_t)m->lease_ms * 1000 <= m->timeout_ms * 1000 + LEASE_MARGIN_US)
            rc = cm__error_set_field(CM_EINVAL, "lease_ms",
                                     "lease_ms (%u) must exceed the SMTP timeout (%lld ms) by "
                                     "5000 ms",
                                     m->lease_ms, (long long)m->timeout_ms);
    }
    if (rc == CM_OK) {
        m->smtp_uri = cm__strdup(o.smtp_uri);
        m->public_url = cm__strndup(url, ul);
        m->api_url = cm__strndup(api, al);
        m->site_name = cm__strdup(o.site_name ? o.site_name : "Community");
        if (!m->smtp_uri || !m->public_url || !m->api_url || !m->site_name)
            rc = cm__oom();
    }
    if (rc) {
        cm_mailer_close(m);
        return rc;
    }
    *out = m;
    return CM_OK;
}

/* ---- sender pool: a sender (and its connection) per running pass ---- */

static int sender_take(cm__mail_sender **out, cm_mailer *m)
{
    pthread_mutex_lock(&m->mu);
    *out = m->nidle ? m->idle[--m->nidle] : NULL;
    pthread_mutex_unlock(&m->mu);
    return *out ? CM_OK : cm__mail_sender_open(out, m->smtp_uri);
}

static void sender_give(cm_mailer *m, cm__mail_sender *s)
{
    pthread_mutex_lock(&m->mu);
    if (m->nidle < POOL_MAX) {
        m->idle[m->nidle++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&m->mu);
    cm__mail_sender_close(s);
}

/* ---- claiming ---- */

typedef struct row {
    int64_t id, token, member_id, created_at, attempts;
    char *to, *tmpl, *payload, *raw, *mid;
    size_t len;
} row;

typedef struct claim_call {
    cm_mailer *m;
    row *rows;
    size_t n, want;
    int64_t lease_until;
} claim_call;

static void row_free(row *r)
{
    cm__free(r->to);
    cm__free(r->tmpl);
    cm__free(r->payload);
    cm__free(r->raw);
    cm__free(r->mid);
    memset(r, 0, sizeof *r);
}

static int finish(cm__conn *conn, const row *r, const char *status, const char *error, int32_t code)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "mail.finish");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, r->id);
    cm__q_int64(&q, 2, r->token);
    cm__q_text(&q, 3, status);
    cm__q_text(&q, 4, error);
    if (code)
        cm__q_int64(&q, 5, code);
    else
        cm__q_null(&q, 5);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

/* A claimed newsletter row whose newsletter was cancelled meanwhile is
 * dropped and counted as cancelled, as cancelling drops the pending rows:
 * it must not wait as 'pending' for a newsletter that never sends again.
 * Called for a row just put back (retry, release) and for a row claimed
 * again after its worker died. *dropped: whether it was. */
static int drop_if_cancelled(bool *dropped, cm__conn *conn, const row *r)
{
    *dropped = false;
    if (strcmp(r->tmpl, "newsletter") != 0)
        return CM_OK;
    cm__q q;
    int rc = cm__q_open(&q, conn, "mail.drop_cancelled");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, r->id);
    cm__q_int64(&q, 2, r->token);
    rc = cm__q_step(&q);
    int64_t nid = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if (rc <= 0)
        return cm__ok(rc);
    if ((rc = cm__q_open(&q, conn, "newsletter.add_cancelled")))
        return rc;
    cm__q_int64(&q, 1, nid);
    cm__q_int64(&q, 2, 1);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    *dropped = rc == CM_OK;
    return rc;
}

/* The suppression list's reason for r's address ("bounce", "complaint")
 * into why, or "" when it may be sent to. */
static int suppressed(cm__conn *conn, const row *r, char *why, size_t n)
{
    char hash[65], legacy[65];
    why[0] = 0;
    int rc = cm__mail_addr_keys(hash, legacy, conn, r->to);
    if (rc || !hash[0])
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, conn, "mail.is_suppressed")))
        return rc;
    cm__q_text(&q, 1, hash);
    cm__q_text(&q, 2, legacy);
    bool old = false;
    if ((rc = cm__q_step(&q)) == 1) {
        (void)snprintf(why, n, "suppressed: the address reported a %s", cm__q_col_text(&q, 0));
        old = strcmp(cm__q_col_text(&q, 1), legacy) == 0;
    }
    cm__q_close(&q);
    if (rc >= 0 && old) /* a row from before the list was keyed: keyed now */
        return cm__mail_suppression_rekey(conn, hash, legacy);
    return cm__ok(rc);
}

/* Render a claimed row; a row that can never be sent fails here, and a row
 * to a suppressed address is marked suppressed, in the claim's
 * transaction. Returns 1 when the row is ready to send. */
static int prepare(cm__conn *conn, cm_mailer *m, row *r)
{
    char why[300];
    bool dropped;
    int st = drop_if_cancelled(&dropped, conn, r);
    if (st || dropped)
        return st ? st : 0;
    st = suppressed(conn, r, why, sizeof why);
    if (st)
        return st;
    if (why[0]) {
        st = finish(conn, r, "suppressed", why, 0);
        return st ? st : 0;
    }
    if (r->attempts > (int64_t)m->max_attempts) {
        (void)snprintf(why, sizeof why, "gave up after %lld attempts",
                       (long long)(r->attempts - 1));
        int rc = finish(conn, r, "failed", why, 0);
        return rc ? rc : 0;
    }
    int cat = cm__mail_cat_of_template(r->tmpl);
    if (cat >= 0 && r->member_id > 0) { /* the member turned this category off */
        bool off = false;
        int rc = cm__mail_pref_off(&off, conn, r->member_id, cat);
        if (rc == CM_OK && off) {
            (void)snprintf(why, sizeof why, "unsubscribed from %s", cm__mail_cat_name(cat));
            rc = finish(conn, r, "suppressed", why, 0);
            return rc ? rc : 0;
        }
        if (rc)
            return rc;
    }
    cm__mail_msg *msg = NULL;
    int rc = cm__mail_msg_new(&msg);
    if (rc)
        return rc;
    cm__mail_site site = {m->site_name, m->public_url, m->api_url,
                          m->from_addr, m->from_name,  m->custom};
    rc = cm__mail_render_row(msg, conn, &site, r->id, r->created_at, r->member_id, r->to, r->tmpl,
                             r->payload);
    if (rc == CM_OK)
        rc = cm__mail_render(&r->raw, &r->len, msg);
    if (rc == CM_OK && !(r->mid = cm__strdup(cm__mail_message_id(msg))))
        rc = cm__oom();
    cm__mail_msg_free(msg);
    if (rc == CM_EINVAL) { /* the row itself is wrong: it will never render */
        (void)snprintf(why, sizeof why, "%s", cm_error_message());
        cm__log(CM_LOG_WARN, "mail", "outbox %lld failed: %s", (long long)r->id, why);
        rc = finish(conn, r, "failed", why, 0);
        return rc ? rc : 0;
    }
    return rc ? rc : 1;
}

static int claim_fn(cm__conn *conn, void *arg)
{
    claim_call *c = arg;
    for (size_t i = 0; i < c->n; i++) /* a retried transaction starts afresh */
        row_free(&c->rows[i]);
    c->n = 0;
    int64_t now = cm_now_us();
    c->lease_until = now + (int64_t)c->m->lease_ms * 1000;
    static const char *const ids[] = {"mail.claim_lapsed", "mail.claim"};
    int rc = CM_OK;
    for (size_t k = 0; k < 2 && rc == CM_OK && c->n < c->want; k++) {
        cm__q q;
        if ((rc = cm__q_open(&q, conn, ids[k])))
            break;
        cm__q_int64(&q, 1, now);
        cm__q_int64(&q, 2, c->lease_until);
        cm__q_int64(&q, 3, (int64_t)(c->want - c->n));
        while (c->n < c->want && (rc = cm__q_step(&q)) == 1) {
            row *r = &c->rows[c->n++];
            r->id = cm__q_col_int64(&q, 0);
            r->token = cm__q_col_int64(&q, 1);
            r->member_id = cm__q_is_null(&q, 2) ? 0 : cm__q_col_int64(&q, 2);
            r->to = cm__strdup(cm__q_col_text(&q, 3));
            r->tmpl = cm__strdup(cm__q_col_text(&q, 4));
            r->payload = cm__strdup(cm__q_col_text(&q, 5));
            r->created_at = cm__q_col_int64(&q, 6);
            r->attempts = cm__q_col_int64(&q, 7);
            if (!r->to || !r->tmpl || !r->payload) {
                rc = cm__oom(); /* not overwritten by the next step */
                break;
            }
        }
        cm__q_close(&q);
        rc = rc == 1 ? CM_OK : cm__ok(rc);
    }
    /* render; rows that fail here are finished and dropped */
    size_t w = 0;
    for (size_t i = 0; rc == CM_OK && i < c->n; i++) {
        int ready = prepare(conn, c->m, &c->rows[i]);
        if (ready < 0) {
            rc = ready;
        } else if (ready == 0) {
            row_free(&c->rows[i]);
        } else {
            if (w != i) {
                c->rows[w] = c->rows[i];
                memset(&c->rows[i], 0, sizeof c->rows[i]);
            }
            w++;
        }
    }
    if (rc == CM_OK)
        c->n = w;
    return rc;
}

/* ---- marking ---- */

typedef struct mark_call {
    const row *r;
    int outcome; /* 0 sent, 1 retry, 2 failed, 3 release */
    int64_t next;
    int32_t code;
    const char *error;
    int64_t changed;
} mark_call;

static int mark_fn(cm__conn *conn, void *arg)
{
    mark_call *c = arg;
    static const char *const ids[] = {"mail.sent", "mail.retry", "mail.finish", "mail.release"};
    cm__q q;
    int rc = cm__q_open(&q, conn, ids[c->outcome]);
    if (rc)
        return rc;
    cm__q_int64(&q, 1, c->r->id);
    cm__q_int64(&q, 2, c->r->token);
    switch (c->outcome) {
        case 0:
            cm__q_int64(&q, 3, cm_now_us());
            cm__q_int64(&q, 4, c->code);
            cm__q_text(&q, 5, c->r->mid);
            break;
        case 1:
            cm__q_int64(&q, 3, c->next);
            cm__q_text(&q, 4, c->error);
            break;
        case 2:
            cm__q_text(&q, 3, "failed");
            cm__q_text(&q, 4, c->error);
            break;
        default:
            break;
    }
    if (c->outcome == 1 || c->outcome == 2) {
        if (c->code)
            cm__q_int64(&q, 5, c->code);
        else
            cm__q_null(&q, 5);
    }
    rc = cm__q_step(&q);
    c->changed = rc >= 0 ? cm__q_changes(&q) : 0;
    cm__q_close(&q);
    bool dropped;
    if (rc >= 0 && c->changed > 0 && (c->outcome == 1 || c->outcome == 3))
        return drop_if_cancelled(&dropped, conn, c->r);
    return cm__ok(rc);
}

static int mark(cm_mailer *m, const row *r, int outcome, int64_t next, int32_t code,
                const char *error)
{
    mark_call c = {r, outcome, next, code, error, 0};
    int rc = cm__store_run_tx(m->store, true, mark_fn, &c);
    if (rc)
        cm__log(CM_LOG_ERROR, "mail",
                "outbox %lld: could not record the outcome (%s); the row is sent again when "
                "its lease lapses",
                (long long)r->id, cm_error_message());
    else if (c.changed == 0)
        cm__log(CM_LOG_WARN, "mail", "outbox %lld: lease lost before the outcome was recorded",
                (long long)r->id);
    return rc;
}

/* ---- the shared rate limit ---- */

typedef struct rate_call {
    int64_t now, spacing, slot;
} rate_call;

static int rate_fn(cm__conn *conn, void *arg)
{
    rate_call *c = arg;
    cm__q q;
    int rc = cm__q_open(&q, conn, "mail.rate_init");
    if (rc)
        return rc;
    cm__q_text(&q, 1, RATE_NAME);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    if ((rc = cm__ok(rc)) || (rc = cm__q_open(&q, conn, "mail.rate_take")))
        return rc;
    cm__q_text(&q, 1, RATE_NAME);
    cm__q_int64(&q, 2, c->now);
    cm__q_int64(&q, 3, c->spacing);
    rc = cm__q_step(&q);
    if (rc == 1)
        c->slot = cm__q_col_int64(&q, 0);
    cm__q_close(&q);
    return rc == 1 ? CM_OK : rc < 0 ? rc : cm__error_set(CM_ERROR, "mail_rate row missing");
}

static void sleep_us(int64_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ---- a pass ---- */

/* Send the claimed rows in order. Rows left when the lease gets too short
 * are given back. *sent counts accepted messages. */
static int send_rows(cm_mailer *m, cm__mail_sender *s, claim_call *c, uint32_t *sent)
{
    int rc = CM_OK;
    size_t i = 0;
    for (; i < c->n; i++) {
        row *r = &c->rows[i];
        int64_t now = cm_now_us();
        if (m->rate) {
            rate_call rcall = {now, 1000000 / (int64_t)m->rate, 0};
            if ((rc = cm__store_run_tx(m->store, true, rate_fn, &rcall)))
                break;
            sleep_us(rcall.slot - now);
            now = cm_now_us();
        }
        if (now + m->timeout_ms * 1000 + LEASE_MARGIN_US > c->lease_until)
            break; /* the send could outlive the lease: give the rest back */
        cm__mail_result res;
        const char *rcpt[] = {r->to};
        int st = cm__mail_send(s, m->from_addr, rcpt, 1, r->raw, r->len, &res);
        if (st == CM_OK) {
            (*sent)++;
            char *pid = res.provider_id[0] ? cm__strdup(res.provider_id) : NULL;
            if (pid) { /* what the service's reports will name (SES API) */
                cm__free(r->mid);
                r->mid = pid;
            }
            (void)mark(m, r, 0, 0, res.smtp_code, NULL);
            continue;
        }
        char why[300];
        (void)snprintf(why, sizeof why, "%s", cm_error_message());
        if (st == CM_EINVAL || res.permanent || r->attempts >= (int64_t)m->max_attempts) {
            cm__log(CM_LOG_WARN, "mail", "outbox %lld failed: %s", (long long)r->id, why);
            (void)mark(m, r, 2, 0, res.smtp_code, why);
        } else {
            int64_t delay = (int64_t)m->retry_ms * 1000;
            for (int64_t a = 1; a < r->attempts && delay < RETRY_CAP_US; a++)
                delay *= 2;
            if (delay > RETRY_CAP_US)
                delay = RETRY_CAP_US;
            cm__log(CM_LOG_WARN, "mail", "outbox %lld: attempt %lld failed, retry in %lld s: %s",
                    (long long)r->id, (long long)r->attempts, (long long)(delay / 1000000), why);
            (void)mark(m, r, 1, cm_now_us() + delay, res.smtp_code, why);
        }
    }
    for (; i < c->n; i++)
        (void)mark(m, &c->rows[i], 3, 0, 0, NULL);
    return rc;
}

int cm_mailer_run(uint32_t *sent_out, cm_mailer *m, uint32_t max)
{
    if (sent_out)
        *sent_out = 0;
    if (!m)
        return cm__error_set(CM_EINVAL, "cm_mailer_run: mailer is NULL");
    cm__mail_sender *s = NULL;
    int rc = sender_take(&s, m);
    if (rc)
        return rc;
    row *rows = cm__calloc(m->batch, sizeof *rows);
    if (!rows) {
        sender_give(m, s);
        return cm__oom();
    }
    uint32_t handled = 0, sent = 0;
    for (;;) {
        claim_call c = {m, rows, 0, m->batch, 0};
        if (max && max - handled < c.want)
            c.want = max - handled;
        rc = cm__store_run_tx(m->store, true, claim_fn, &c);
        if (rc) {
            for (size_t i = 0; i < m->batch; i++)
                row_free(&rows[i]);
            break;
        }
        size_t claimed = c.n;
        if (claimed)
            rc = send_rows(m, s, &c, &sent);
        for (size_t i = 0; i < m->batch; i++)
            row_free(&rows[i]);
        handled += (uint32_t)claimed;
        if (rc || claimed == 0 || (max && handled >= max))
            break;
    }
    cm__free(rows);
    sender_give(m, s);
    if (sent_out)
        *sent_out = sent;
    return rc;
}

typedef struct stats_call {
    json_t *o;
} stats_call;

static int stats_fn(cm__conn *conn, void *arg)
{
    stats_call *c = arg;
    cm__q q;
    int rc = cm__q_open(&q, conn, "mail.stats");
    if (rc)
        return rc;
    while ((rc = cm__q_step(&q)) == 1)
        json_object_set_new(c->o, cm__q_col_text(&q, 0), json_integer(cm__q_col_int64(&q, 1)));
    cm__q_close(&q);
    return cm__ok(rc);
}

int cm_mail_stats(char **out, cm_store *store)
{
    if (!out || !store)
        return cm__error_set(CM_EINVAL, "cm_mail_stats: out and store are required");
    *out = NULL;
    stats_call c = {json_pack("{s:i,s:i,s:i,s:i,s:i}", "pending", 0, "sending", 0, "sent", 0,
                              "failed", 0, "suppressed", 0)};
    if (!c.o)
        return cm__oom();
    int rc = cm__store_run_tx(store, false, stats_fn, &c);
    if (rc == CM_OK)
        rc = cm__json_dump(out, c.o);
    json_decref(c.o);
    return rc;
}

/* ---- scheduler integration ---- */

typedef struct due_call {
    int64_t limit, due;
} due_call;

static int due_fn(cm__conn *conn, void *arg)
{
    due_call *c = arg;
    cm__q q;
    int rc = cm__q_open(&q, conn, "mail.due_count");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, cm_now_us());
    cm__q_int64(&q, 2, c->limit);
    rc = cm__q_step(&q);
    if (rc == 1)
        c->due = cm__q_col_int64(&q, 0);
    cm__q_close(&q);
    return rc < 0 ? rc : CM_OK;
}

/* Enqueue burst delivery jobs for slots [0, n) of the current epoch. One
 * key per slot and 10 s epoch: a job whose worker died holds its key only
 * until the epoch ends, and at most two epochs of burst jobs (each runs for
 * at most RUN_BUDGET_US) are live at once. Keys still held are skipped. */
static int enqueue_slots(cm_store *store, size_t n)
{
    long long epoch = (long long)(cm_now_us() / RUN_BUDGET_US);
    char keys[64][48];
    const char *kp[64], *payloads[64];
    if (n > 64)
        n = 64;
    for (size_t i = 0; i < n; i++) {
        (void)snprintf(keys[i], sizeof keys[i], "mail_deliver:%lld:%zu", epoch, i);
        kp[i] = keys[i];
        payloads[i] = NULL; /* "{}" */
    }
    return cm_jobs_enqueue_batch(NULL, store, "platform.mail_deliver", payloads, NULL, kp, n, NULL);
}

/* Enqueue watcher `which` (0 or 1); CM_OK also when its key is held. The
 * watchers alternate between two keys, so that at most one chain
 * survives: a watcher whose successor's key is held ends its chain. */
static int enqueue_watcher(cm_store *store, int which)
{
    static const char *const keys[] = {"mail_watch:0", "mail_watch:1"};
    static const char *const payloads[] = {"{\"watch\":0}", "{\"watch\":1}"};
    return cm_jobs_enqueue_batch(NULL, store, "platform.mail_deliver", &payloads[which], NULL,
                                 &keys[which], 1, NULL);
}

static int tick_handler(cm_job *job, void *payload)
{
    cm_mailer *m = payload;
    int rc = CM_OK;
    if (!(m->flags & CM_MAILER_NO_WATCH) && (rc = enqueue_watcher(cm_job_store(job), 0)))
        return rc;
    due_call c = {(int64_t)m->slots * m->batch, 0};
    if ((rc = cm__store_run_tx(cm_job_store(job), false, due_fn, &c)))
        return rc;
    size_t n = (size_t)((c.due + m->batch - 1) / m->batch);
    return enqueue_slots(cm_job_store(job), n < m->slots ? n : m->slots);
}

/* Deliver while mail is due, for up to RUN_BUDGET_US. A watcher also looks
 * every 200 ms for WATCH_US while nothing is due, then enqueues the other
 * watcher; a burst job (or CM_MAILER_NO_WATCH) ends when nothing is due. */
static int deliver_handler(cm_job *job, void *payload)
{
    cm_mailer *m = payload;
    size_t len = 0;
    const char *p = cm_job_payload(job, &len);
    int watcher = p && len > 10 && strstr(p, "\"watch\"") ? (strstr(p, ":1") ? 1 : 0) : -1;
    if (m->flags & CM_MAILER_NO_WATCH)
        watcher = -1;
    int64_t start = cm_now_us(), idle_since = 0;
    int rc = CM_OK;
    while (rc == CM_OK && cm_now_us() - start < RUN_BUDGET_US && cm_job_lost(job) == CM_OK) {
        due_call c = {1, 0};
        if ((rc = cm__store_run_tx(m->store, false, due_fn, &c)))
            break;
        if (c.due) {
            idle_since = 0;
            rc = cm_mailer_run(NULL, m, m->batch);
            continue;
        }
        if (watcher < 0)
            break;
        if (!idle_since)
            idle_since = cm_now_us();
        else if (cm_now_us() - idle_since >= WATCH_US)
            break;
        (void)cm_job_wait(job, 200000);
    }
    if (watcher >= 0 && cm_job_lost(job) == CM_OK) {
        int st = enqueue_watcher(m->store, 1 - watcher);
        if (st)
            cm__log(CM_LOG_WARN, "mail", "could not enqueue the next delivery watcher: %s",
                    cm_error_message());
    }
    return rc;
}

int cm_mailer_attach(cm_mailer *m, cm_scheduler *s)
{
    if (!m || !s)
        return cm__error_set(CM_EINVAL, "cm_mailer_attach: mailer and scheduler are required");
    cm_job_kind_options ko = CM_JOB_KIND_OPTIONS_INIT;
    ko.queue = "platform";
    ko.max_attempts = 1;
    int rc;
    if ((rc = cm_jobs_define(m->store, "platform.mail_tick", &ko)) ||
        (rc = cm_jobs_define(m->store, "platform.mail_deliver", &ko)))
        return rc;
    if ((rc = cm_scheduler_register(s, "platform.mail_tick", tick_handler, m)) ||
        (rc = cm_scheduler_register(s, "platform.mail_deliver", deliver_handler, m)))
        return rc;
    cm_job_schedule_options o = CM_JOB_SCHEDULE_OPTIONS_INIT;
    o.every_us = 1000000;
    o.start_at = cm_now_us();
    o.missed = CM_JOB_MISSED_SKIP;
    o.grace_us = 5000000;
    if ((rc = cm_jobs_schedule(NULL, m->store, "platform.mail_tick", "platform.mail_tick", "{}", 2,
                               &o)))
        return rc;
    return (m->flags & CM_MAILER_NO_WATCH) ? CM_OK : enqueue_watcher(m->store, 0);
}
