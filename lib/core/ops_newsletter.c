/*
 * ops_newsletter.c - newsletters and members' mail preferences.
 *
 * Organizers and admins compose a newsletter (subject, Markdown body) for
 * an audience (members who opted in, a group's active members, the members
 * going to an event, the opted-in members a membership tier grants access
 * to), send it now or at a time, pause, resume or cancel it,
 * and read its progress. Sending does not write the recipients at once:
 * "platform.newsletter_fill" jobs walk the audience in member id order and
 * write one email_outbox row per recipient, FILL_BATCH at a time, each
 * batch in the transaction that completes its job and enqueues the next
 * (dedupe key newsletter_fill:<id>:<cursor>), so a crash repeats no batch
 * and loses none. The outbox rows are delivered exactly once by the mailer
 * (mail_deliver.c), which claims a newsletter's rows only while it is
 * 'sending'. See migration 0012_newsletters for the states.
 *
 * The archive: a membership tier unlocks a newsletter for reading on the
 * web (memberships.grant_access, kind "newsletter") once it has gone out;
 * newsletters.archive lists what the caller's tiers unlock and
 * newsletters.read gives one, to the members cm__tier_grants() lets in.
 *
 * Members' preferences: mail.preferences_get / mail.preferences_set (signed
 * in, or with the token of an unsubscribe link) and mail.unsubscribe (the
 * RFC 8058 one-click POST of a List-Unsubscribe link).
 */
#include "event_int.h"
#include "group_int.h"
#include "newsletter_int.h"
#include "pay_int.h"

#include "../jobs/jobs_int.h"
#include "../mail/mail.h"
#include "../util/json.h"

#include <stdio.h>
#include <string.h>

#define FILL_BATCH 500

static const char *const audiences[] = {"subscribers", "group", "event", "tier", NULL};

/* The id field of each audience that takes one. */
static const struct {
    const char *audience, *field;
} audience_ids[] = {{"group", "group_id"}, {"event", "event_id"}, {"tier", "tier_id"}};
#define N_AUDIENCE_IDS (sizeof audience_ids / sizeof audience_ids[0])

/* The id field of audience (NULL for subscribers). */
static const char *audience_field(const char *audience)
{
    for (size_t i = 0; audience && i < N_AUDIENCE_IDS; i++)
        if (strcmp(audience_ids[i].audience, audience) == 0)
            return audience_ids[i].field;
    return NULL;
}
static const char *const nl_statuses[] = {"draft",     "scheduled", "sending", "paused",
                                          "cancelled", "sent",      NULL};

/* ---- loading ---- */

typedef struct nl {
    int64_t id, author_id, audience_id, send_at, cursor, queued, cancelled_rows;
    bool has_send_at, audience_done;
    char status[16], audience[16];
} nl;

/* The progress counters of newsletter id, as {queued, pending, ...}. */
static int progress_json(json_t **out, cm__conn *conn, const nl *n)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "newsletter.progress");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, n->id);
    json_t *p =
        json_pack("{s:I,s:i,s:i,s:i,s:i,s:i,s:I,s:b}", "queued", (json_int_t)n->queued, "pending",
                  0, "sending", 0, "sent", 0, "failed", 0, "suppressed", 0, "cancelled",
                  (json_int_t)n->cancelled_rows, "audience_done", n->audience_done);
    while ((rc = cm__q_step(&q)) == 1)
        json_object_set_new(p, cm__q_col_text(&q, 0), json_integer(cm__q_col_int64(&q, 1)));
    cm__q_close(&q);
    if (rc < 0) {
        json_decref(p);
        return rc;
    }
    *out = p;
    return CM_OK;
}

/* The status to show: 'sending' with the audience walked and no row left
 * to send reads 'sent'. */
static const char *shown_status(const nl *n, const json_t *progress)
{
    if (strcmp(n->status, "sending") == 0 && n->audience_done &&
        cm__json_int(progress, "pending", 0) == 0 && cm__json_int(progress, "sending", 0) == 0)
        return "sent";
    return n->status;
}

/* Read a "newsletter.get"/"newsletter.list" row into n and, when out is
 * not NULL, its JSON (without progress). */
static void read_row(nl *n, json_t **out, cm__q *q)
{
    memset(n, 0, sizeof *n);
    n->id = cm__q_col_int64(q, 0);
    n->author_id = cm__q_col_int64(q, 1);
    (void)snprintf(n->audience, sizeof n->audience, "%s", cm__q_col_text(q, 4));
    n->audience_id = cm__q_is_null(q, 5) ? 0 : cm__q_col_int64(q, 5);
    (void)snprintf(n->status, sizeof n->status, "%s", cm__q_col_text(q, 6));
    n->has_send_at = !cm__q_is_null(q, 7);
    n->send_at = n->has_send_at ? cm__q_col_int64(q, 7) : 0;
    n->cursor = cm__q_col_int64(q, 8);
    n->queued = cm__q_col_int64(q, 9);
    n->audience_done = cm__q_col_int64(q, 10) != 0;
    n->cancelled_rows = cm__q_col_int64(q, 11);
    if (!out)
        return;
    json_t *o = json_object();
    cm__json_set_col_int(o, "id", q, 0);
    cm__json_set_col_int(o, "author_id", q, 1);
    cm__json_set_col_text(o, "subject", q, 2);
    cm__json_set_col_text(o, "body", q, 3);
    cm__json_set_col_text(o, "audience", q, 4);
    const char *idf = audience_field(n->audience);
    for (size_t i = 0; i < N_AUDIENCE_IDS; i++)
        json_object_set_new(o, audience_ids[i].field,
                            idf && strcmp(idf, audience_ids[i].field) == 0
                                ? json_integer(n->audience_id)
                                : json_null());
    cm__json_set_col_time(o, "send_at", q, 7);
    cm__json_set_col_time(o, "created_at", q, 12);
    cm__json_set_col_time(o, "updated_at", q, 13);
    *out = o;
}

/* Load newsletter id as the caller may manage it: its author, or an admin.
 * CM_ENOTFOUND for anyone else. lock: lock the row first. */
static int load(nl *n, json_t **out, cm__ctx *ctx, int64_t id, bool lock)
{
    cm__q q;
    int rc;
    if (lock) {
        if ((rc = cm__q_open(&q, ctx->conn, "newsletter.lock")))
            return rc;
        cm__q_int64(&q, 1, id);
        rc = cm__ok(cm__q_step(&q));
        cm__q_close(&q);
        if (rc)
            return rc;
    }
    if ((rc = cm__q_open(&q, ctx->conn, "newsletter.get")))
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    if (rc == 1)
        read_row(n, out, &q);
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (rc == 0 ||
        (n->author_id != ctx->actor->member_id && !cm__actor_at_least(ctx, CM_ROLE_ADMIN))) {
        if (out && rc == 1) {
            json_decref(*out);
            *out = NULL;
        }
        return cm__error_set_field(CM_ENOTFOUND, "newsletter_id", "no newsletter %lld",
                                   (long long)id);
    }
    ctx->target_type = "newsletter";
    ctx->target_id = id;
    return CM_OK;
}

/* The newsletter's JSON with its progress and shown status. */
static int full_json(json_t **out, cm__ctx *ctx, int64_t id)
{
    nl n;
    json_t *o = NULL, *p = NULL;
    int rc = load(&n, &o, ctx, id, false);
    if (rc == CM_OK && (rc = progress_json(&p, ctx->conn, &n)) == CM_OK) {
        json_object_set_new(o, "status", json_string(shown_status(&n, p)));
        json_object_set_new(o, "progress", p);
        *out = o;
        return CM_OK;
    }
    json_decref(o);
    return rc;
}

/* ---- composing ---- */

/* A subject is one line of text: no control characters. */
static int check_subject(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; s && *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return cm__error_set_field(CM_EINVAL, "subject",
                                       "the subject must be one line without control characters");
    return CM_OK;
}

/* The body renders (Markdown to HTML within the mail size limits). */
static int check_body(const char *md)
{
    char *html = NULL;
    int rc = cm__mail_markdown_html(&html, md, strlen(md));
    cm__free(html);
    return rc;
}

/* Check the audience (kind + id) and that the caller may write to it:
 * subscribers and a membership tier: any organizer; a group: its admins
 * and owner; an event: its organizers (and staff). *audience_id gets the
 * group, event or tier id. */
static int check_audience(int64_t *audience_id, cm__ctx *ctx, const char *audience, json_t *in)
{
    const char *want = audience_field(audience);
    *audience_id = 0;
    /* exactly the id field of the audience, none of the others */
    for (size_t i = 0; i < N_AUDIENCE_IDS; i++) {
        const char *f = audience_ids[i].field;
        bool mine = want && strcmp(f, want) == 0;
        if (cm__json_has(in, f) && !mine)
            return cm__error_set_field(CM_EINVAL, f, "the %s audience takes no %s", audience, f);
        if (!cm__json_has(in, f) && mine)
            return cm__error_set_field(CM_EINVAL, f, "a %s audience needs %s", audience, f);
    }
    int64_t gid = cm__json_int(in, "group_id", 0), eid = cm__json_int(in, "event_id", 0);
    int64_t tid = cm__json_int(in, "tier_id", 0);
    if (strcmp(audience, "subscribers") == 0)
        return CM_OK;
    if (strcmp(audience, "tier") == 0) {
        cm__q q;
        int rc = cm__q_open(&q, ctx->conn, "tier.get");
        if (rc)
            return rc;
        cm__q_int64(&q, 1, tid);
        rc = cm__q_step(&q);
        cm__q_close(&q);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return cm__error_set_field(CM_ENOTFOUND, "tier_id", "no membership tier %lld",
                                       (long long)tid);
        *audience_id = tid;
        return CM_OK;
    }
    if (strcmp(audience, "group") == 0) {
        cm__group_access a;
        int rc = cm__group_access_load(&a, ctx, gid, "group_id");
        if (rc)
            return rc;
        if (cm__group_admin_rank(&a, ctx) < CM__GR_ADMIN)
            return cm__error_set_field(CM_EPERM, "group_id",
                                       "only the group's admins may write to its members");
        *audience_id = gid;
        return CM_OK;
    }
    cm__event ev;
    int rc = cm__event_load(&ev, NULL, ctx, eid);
    if (rc == CM_OK)
        rc = cm__event_require_manage(&ev, "write to its attendees");
    if (rc == CM_OK)
        *audience_id = eid;
    return rc;
}

static int op_create(cm__ctx *ctx, json_t *in, json_t **out)
{
    int rc = cm__require_member_id(ctx);
    const char *subject = cm__json_str(in, "subject"), *body = cm__json_str(in, "body");
    const char *audience = cm__json_str(in, "audience");
    int64_t audience_id = 0;
    if (rc == CM_OK)
        rc = check_subject(subject);
    if (rc == CM_OK)
        rc = check_body(body);
    if (rc == CM_OK)
        rc = check_audience(&audience_id, ctx, audience, in);
    if (rc)
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "newsletter.insert")))
        return rc;
    cm__q_int64(&q, 1, ctx->actor->member_id);
    cm__q_text(&q, 2, subject);
    cm__q_text(&q, 3, body);
    cm__q_text(&q, 4, audience);
    if (audience_id)
        cm__q_int64(&q, 5, audience_id);
    else
        cm__q_null(&q, 5);
    cm__q_int64(&q, 6, ctx->now);
    rc = cm__q_step(&q);
    int64_t id = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    return full_json(out, ctx, id);
}

static int set_status(cm__ctx *ctx, const nl *n, const char *status, bool has_send_at,
                      int64_t send_at);
static int enqueue_start(cm__conn *conn, int64_t id, int64_t send_at, int64_t now);
static int cancel_start(cm__conn *conn, int64_t id, int64_t send_at, int64_t now);

static int op_update(cm__ctx *ctx, json_t *in, json_t **out)
{
    nl n;
    json_t *cur = NULL;
    int64_t id = cm__json_int(in, "newsletter_id", 0);
    int rc = load(&n, &cur, ctx, id, true);
    if (rc)
        return rc;
    bool scheduled = strcmp(n.status, "scheduled") == 0;
    if (strcmp(n.status, "draft") != 0 && !scheduled) {
        json_decref(cur);
        return cm__error_set_field(CM_ECONFLICT, "newsletter_id",
                                   "only a draft or a scheduled newsletter can be changed (this "
                                   "one is %s)",
                                   n.status);
    }
    /* send_at: a scheduled newsletter's start, until it starts */
    int64_t send_at = 0;
    const char *at = cm__json_str(in, "send_at");
    if (at && !scheduled) {
        json_decref(cur);
        return cm__error_set_field(CM_EINVAL, "send_at",
                                   "a draft gets its time from newsletters.send");
    }
    if (at && cm__time_parse(&send_at, at)) {
        json_decref(cur);
        return cm__error_set_field(CM_EINVAL, "send_at", "send_at is not an RFC 3339 instant");
    }
    /* the new values, defaulting to the current ones */
    const char *subject =
        cm__json_has(in, "subject") ? cm__json_str(in, "subject") : cm__json_str(cur, "subject");
    const char *body =
        cm__json_has(in, "body") ? cm__json_str(in, "body") : cm__json_str(cur, "body");
    const char *audience =
        cm__json_has(in, "audience") ? cm__json_str(in, "audience") : cm__json_str(cur, "audience");
    json_t *aud = json_object();
    bool new_audience = cm__json_has(in, "audience");
    for (size_t i = 0; i < N_AUDIENCE_IDS; i++)
        new_audience = new_audience || cm__json_has(in, audience_ids[i].field);
    if (new_audience) {
        for (size_t i = 0; i < N_AUDIENCE_IDS; i++)
            if (cm__json_has(in, audience_ids[i].field))
                json_object_set(aud, audience_ids[i].field,
                                json_object_get(in, audience_ids[i].field));
    } else if (audience_field(n.audience)) {
        json_object_set_new(aud, audience_field(n.audience), json_integer(n.audience_id));
    }
    int64_t audience_id = 0;
    if ((rc = check_subject(subject)) == CM_OK && (rc = check_body(body)) == CM_OK)
        rc = check_audience(&audience_id, ctx, audience, aud);
    cm__q q;
    if (rc == CM_OK && (rc = cm__q_open(&q, ctx->conn, "newsletter.update")) == CM_OK) {
        cm__q_int64(&q, 1, id);
        cm__q_text(&q, 2, subject);
        cm__q_text(&q, 3, body);
        cm__q_text(&q, 4, audience);
        if (audience_id)
            cm__q_int64(&q, 5, audience_id);
        else
            cm__q_null(&q, 5);
        cm__q_int64(&q, 6, ctx->now);
        rc = cm__ok(cm__q_step(&q));
        cm__q_close(&q);
    }
    /* a new time: the job for it starts the newsletter (now when it is
     * past); the job of the old time will find it changed */
    if (rc == CM_OK && at && send_at != n.send_at &&
        (rc = set_status(ctx, &n, "scheduled", true, send_at)) == CM_OK &&
        (rc = cancel_start(ctx->conn, id, n.send_at, ctx->now)) == CM_OK)
        rc = enqueue_start(ctx->conn, id, send_at, ctx->now);
    json_decref(aud);
    json_decref(cur);
    return rc ? rc : full_json(out, ctx, id);
}

static int op_get(cm__ctx *ctx, json_t *in, json_t **out)
{
    return full_json(out, ctx, cm__json_int(in, "newsletter_id", 0));
}

static int op_list(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t before = INT64_MAX, unused;
    int rc;
    const char *cursor = cm__json_str(in, "cursor");
    if (cursor && (rc = cm__cursor_decode(&before, &unused, cursor)))
        return rc;
    int64_t limit = cm__json_int(in, "limit", 20);
    json_t *items = json_array();
    int64_t last = 0;
    bool more = false;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "newsletter.list"))) {
        json_decref(items);
        return rc;
    }
    cm__q_int64(&q, 1, before);
    cm__q_int64(&q, 2, limit + 1);
    if (cm__actor_at_least(ctx, CM_ROLE_ADMIN))
        cm__q_null(&q, 3);
    else
        cm__q_int64(&q, 3, ctx->actor->member_id);
    while ((rc = cm__q_step(&q)) == 1) {
        if ((int64_t)json_array_size(items) == limit) {
            more = true;
            break;
        }
        nl n;
        json_t *o = NULL;
        read_row(&n, &o, &q);
        json_array_append_new(items, o);
        last = n.id;
    }
    cm__q_close(&q);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    /* progress and status of each */
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        nl n;
        json_t *full = NULL;
        if ((rc = load(&n, NULL, ctx, cm__json_int(o, "id", 0), false)) ||
            (rc = progress_json(&full, ctx->conn, &n))) {
            json_decref(items);
            return rc;
        }
        json_object_set_new(o, "status", json_string(shown_status(&n, full)));
        json_object_set_new(o, "progress", full);
    }
    *out = cm__page(items, more, last, 0);
    return CM_OK;
}

/* ---- the archive ---- */

/* newsletters.read: the author and admins read any newsletter; a member
 * one that has gone out and that a tier in good standing unlocks. Anyone
 * else: CM_ENOTFOUND, as for a newsletter that does not exist. */
static int op_read(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "newsletter_id", 0);
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "newsletter.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    nl n;
    json_t *o = NULL;
    rc = cm__q_step(&q);
    if (rc == 1)
        read_row(&n, &o, &q);
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    bool may = false;
    if (rc == 1) {
        may = n.author_id == ctx->actor->member_id || cm__actor_at_least(ctx, CM_ROLE_ADMIN);
        if (!may && strcmp(n.status, "sending") == 0 &&
            (rc = cm__tier_grants(&may, ctx, ctx->actor->member_id, "newsletter", id))) {
            json_decref(o);
            return rc;
        }
    }
    if (!may) {
        json_decref(o);
        return cm__error_set_field(CM_ENOTFOUND, "newsletter_id", "no newsletter %lld",
                                   (long long)id);
    }
    char *html = NULL;
    const char *md = cm__json_str(o, "body");
    if ((rc = cm__mail_markdown_html(&html, md, strlen(md)))) {
        json_decref(o);
        return rc;
    }
    *out = json_pack("{s:I,s:s,s:s,s:s,s:O}", "id", (json_int_t)id, "subject",
                     cm__json_str(o, "subject"), "body", md, "html", html, "send_at",
                     json_object_get(o, "send_at"));
    cm__free(html);
    json_decref(o);
    ctx->target_type = "newsletter";
    ctx->target_id = id;
    return *out ? CM_OK : cm__oom();
}

static json_t *archive_row(cm__q *q, void *payload)
{
    (void)payload;
    json_t *o = json_object();
    cm__json_set_col_int(o, "id", q, 0);
    cm__json_set_col_text(o, "subject", q, 1);
    cm__json_set_col_time(o, "send_at", q, 2);
    return o;
}

static int op_archive(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t before = INT64_MAX, unused;
    int rc;
    const char *cursor = cm__json_str(in, "cursor");
    if (cursor && (rc = cm__cursor_decode(&before, &unused, cursor)))
        return rc;
    int64_t limit = cm__json_int(in, "limit", 20);
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "newsletter.archive")))
        return rc;
    cm__q_int64(&q, 1, ctx->actor->member_id);
    cm__q_int64(&q, 2, ctx->now);
    cm__q_int64(&q, 3, cm__pay_grace_us(ctx->store));
    cm__q_int64(&q, 4, before);
    cm__q_int64(&q, 5, limit + 1);
    return cm__page_collect(out, &q, limit, 0, -1, archive_row, NULL);
}

/* ---- sending ---- */

/* Enqueue the fill job that continues newsletter id from cursor, to run at
 * run_at (0: now). A live job already holding its key is fine. */
static int enqueue_fill(cm__conn *conn, int64_t id, int64_t cursor, int64_t run_at)
{
    char payload[64], key[96];
    int len = snprintf(payload, sizeof payload, "{\"newsletter_id\":%lld}", (long long)id);
    (void)snprintf(key, sizeof key, "newsletter_fill:%lld:%lld:%lld", (long long)id,
                   (long long)cursor, (long long)run_at);
    cm_job_options o = CM_JOB_OPTIONS_INIT;
    o.dedupe_key = key;
    o.run_at = run_at;
    int rc = cm__jobs_enqueue_tx(NULL, conn, "platform.newsletter_fill", payload, (size_t)len, &o);
    return rc == CM_EEXISTS ? CM_OK : rc;
}

/* Enqueue the job that starts newsletter id at send_at (now when it is
 * past). The job carries send_at: when the time is changed before it runs
 * (newsletters.update), the job for the old time finds another send_at and
 * does nothing, so one job starts the newsletter. */
static int enqueue_start(cm__conn *conn, int64_t id, int64_t send_at, int64_t now)
{
    char payload[96], key[96];
    int len = snprintf(payload, sizeof payload, "{\"newsletter_id\":%lld,\"send_at\":%lld}",
                       (long long)id, (long long)send_at);
    (void)snprintf(key, sizeof key, "newsletter_fill:%lld:start:%lld", (long long)id,
                   (long long)send_at);
    cm_job_options o = CM_JOB_OPTIONS_INIT;
    o.dedupe_key = key;
    o.run_at = send_at > now ? send_at : 0;
    int rc = cm__jobs_enqueue_tx(NULL, conn, "platform.newsletter_fill", payload, (size_t)len, &o);
    return rc == CM_EEXISTS ? CM_OK : rc;
}

/* Cancel the job that would start newsletter id at send_at, if it has not
 * run (a running one finds the new time and does nothing). */
static int cancel_start(cm__conn *conn, int64_t id, int64_t send_at, int64_t now)
{
    char key[96];
    (void)snprintf(key, sizeof key, "newsletter_fill:%lld:start:%lld", (long long)id,
                   (long long)send_at);
    cm__q q;
    int rc = cm__q_open(&q, conn, "jobs.find_live_dedupe");
    if (rc)
        return rc;
    cm__q_text(&q, 1, key);
    rc = cm__q_step(&q);
    int64_t job = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if (rc <= 0)
        return cm__ok(rc);
    const char *state;
    rc = cm__jobs_cancel_tx(conn, job, now, &state);
    if (rc == CM_ECONFLICT) { /* it finished meanwhile */
        cm_error_clear();
        rc = CM_OK;
    }
    return rc;
}

static int set_status(cm__ctx *ctx, const nl *n, const char *status, bool has_send_at,
                      int64_t send_at)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "newsletter.set_status");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, n->id);
    cm__q_text(&q, 2, status);
    if (has_send_at)
        cm__q_int64(&q, 3, send_at);
    else
        cm__q_null(&q, 3);
    cm__q_int64(&q, 4, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

/* Run statement id on newsletter nid's rows; *changed gets the row count. */
static int rows_exec(int64_t *changed, cm__conn *conn, const char *id, int64_t nid)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, id);
    if (rc)
        return rc;
    cm__q_int64(&q, 1, nid);
    rc = cm__q_step(&q);
    if (changed)
        *changed = rc >= 0 ? cm__q_changes(&q) : 0;
    cm__q_close(&q);
    return cm__ok(rc);
}

static int op_send(cm__ctx *ctx, json_t *in, json_t **out)
{
    nl n;
    int64_t id = cm__json_int(in, "newsletter_id", 0);
    int rc = load(&n, NULL, ctx, id, true);
    if (rc)
        return rc;
    if (strcmp(n.status, "draft") != 0)
        return cm__error_set_field(CM_ECONFLICT, "newsletter_id",
                                   "newsletter %lld is %s: only a draft can be sent", (long long)id,
                                   n.status);
    int64_t send_at = ctx->now;
    const char *at = cm__json_str(in, "send_at");
    if (at && cm__time_parse(&send_at, at) != CM_OK)
        return cm__error_set_field(CM_EINVAL, "send_at", "send_at is not an RFC 3339 instant");
    bool later = send_at > ctx->now;
    if (!later)
        send_at = ctx->now;
    if ((rc = set_status(ctx, &n, later ? "scheduled" : "sending", true, send_at)) ||
        (rc = later ? enqueue_start(ctx->conn, id, send_at, ctx->now)
                    : enqueue_fill(ctx->conn, id, 0, 0)))
        return rc;
    return full_json(out, ctx, id);
}

static int op_pause(cm__ctx *ctx, json_t *in, json_t **out)
{
    nl n;
    int64_t id = cm__json_int(in, "newsletter_id", 0);
    int rc = load(&n, NULL, ctx, id, true);
    if (rc)
        return rc;
    if (strcmp(n.status, "sending") && strcmp(n.status, "scheduled"))
        return cm__error_set_field(CM_ECONFLICT, "newsletter_id",
                                   "newsletter %lld is %s: only a scheduled or sending one can be "
                                   "paused",
                                   (long long)id, n.status);
    if ((rc = set_status(ctx, &n, "paused", n.has_send_at, n.send_at)) ||
        (rc = rows_exec(NULL, ctx->conn, "newsletter.pause_rows", id)))
        return rc;
    return full_json(out, ctx, id);
}

static int op_resume(cm__ctx *ctx, json_t *in, json_t **out)
{
    nl n;
    int64_t id = cm__json_int(in, "newsletter_id", 0);
    int rc = load(&n, NULL, ctx, id, true);
    if (rc)
        return rc;
    if (strcmp(n.status, "paused") != 0)
        return cm__error_set_field(CM_ECONFLICT, "newsletter_id",
                                   "newsletter %lld is %s: only a paused one can be resumed",
                                   (long long)id, n.status);
    bool later = n.has_send_at && n.send_at > ctx->now;
    if ((rc = set_status(ctx, &n, later ? "scheduled" : "sending", n.has_send_at, n.send_at)) ||
        (rc = rows_exec(NULL, ctx->conn, "newsletter.resume_rows", id)))
        return rc;
    if (!n.audience_done && (rc = later ? enqueue_start(ctx->conn, id, n.send_at, ctx->now)
                                        : enqueue_fill(ctx->conn, id, n.cursor, 0)))
        return rc;
    return full_json(out, ctx, id);
}

static int op_cancel(cm__ctx *ctx, json_t *in, json_t **out)
{
    nl n;
    int64_t id = cm__json_int(in, "newsletter_id", 0);
    int rc = load(&n, NULL, ctx, id, true);
    if (rc)
        return rc;
    if (strcmp(n.status, "cancelled") == 0)
        return cm__error_set_field(CM_ECONFLICT, "newsletter_id",
                                   "newsletter %lld is already cancelled", (long long)id);
    int64_t deleted = 0;
    if ((rc = set_status(ctx, &n, "cancelled", n.has_send_at, n.send_at)) ||
        (rc = rows_exec(&deleted, ctx->conn, "newsletter.cancel_rows", id)))
        return rc;
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "newsletter.add_cancelled")))
        return rc;
    cm__q_int64(&q, 1, id);
    cm__q_int64(&q, 2, deleted);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc ? rc : full_json(out, ctx, id);
}

/* ---- the fill job ---- */

typedef struct fill_call {
    int64_t id;
    bool start;      /* the job that starts a scheduled newsletter */
    int64_t send_at; /* ... at this send_at */
    int64_t grace;   /* the grace period of past_due subscriptions (tier audience) */
} fill_call;

static int fill_fn(cm__conn *conn, void *arg)
{
    fill_call *c = arg;
    cm_actor sys = {0, CM_ROLE_SYSTEM};
    cm__ctx ctx = {.conn = conn, .actor = &sys, .now = cm_now_us()};
    nl n;
    int rc = load(&n, NULL, &ctx, c->id, true);
    if (rc == CM_ENOTFOUND)
        return CM_OK;
    if (rc)
        return rc;
    if (c->start && (strcmp(n.status, "scheduled") != 0 || n.send_at != c->send_at))
        return CM_OK; /* its time was changed: the job for the new time starts it */
    if (strcmp(n.status, "scheduled") == 0) {
        if (n.send_at > ctx.now) /* not yet (a job of an older version) */
            return enqueue_start(conn, n.id, n.send_at, ctx.now);
        if ((rc = set_status(&ctx, &n, "sending", true, n.send_at)))
            return rc;
    } else if (strcmp(n.status, "sending") != 0) {
        return CM_OK; /* paused (resume enqueues again), cancelled */
    }
    if (n.audience_done)
        return CM_OK;
    /* the next batch of the audience */
    typedef struct rcpt {
        int64_t id;
        char *email;
    } rcpt;
    rcpt *rs = cm__calloc(FILL_BATCH, sizeof *rs);
    if (!rs)
        return cm__oom();
    size_t cnt = 0;
    bool subscribers = strcmp(n.audience, "subscribers") == 0;
    bool tier = strcmp(n.audience, "tier") == 0;
    char stmt[48];
    (void)snprintf(stmt, sizeof stmt, "newsletter.audience_%s", n.audience);
    cm__q q;
    if ((rc = cm__q_open(&q, conn, stmt)) == CM_OK) {
        int k = 1;
        if (!subscribers)
            cm__q_int64(&q, k++, n.audience_id);
        cm__q_int64(&q, k++, n.cursor);
        cm__q_int64(&q, k++, FILL_BATCH);
        if (tier) { /* standing is read as of this batch */
            cm__q_int64(&q, k++, ctx.now);
            cm__q_int64(&q, k, c->grace);
        }
        while (cnt < FILL_BATCH && (rc = cm__q_step(&q)) == 1) {
            rs[cnt].id = cm__q_col_int64(&q, 0);
            if (!(rs[cnt++].email = cm__strdup(cm__q_col_text(&q, 1)))) {
                rc = cm__oom();
                break;
            }
        }
        cm__q_close(&q);
        rc = cm__ok(rc);
    }
    char payload[64], key[96];
    (void)snprintf(payload, sizeof payload, "{\"newsletter_id\":%lld}", (long long)n.id);
    int64_t added = 0;
    for (size_t i = 0; rc == CM_OK && i < cnt; i++) {
        (void)snprintf(key, sizeof key, "newsletter:%lld:%lld", (long long)n.id,
                       (long long)rs[i].id);
        if ((rc = cm__q_open(&q, conn, "newsletter.outbox_insert")))
            break;
        cm__q_int64(&q, 1, rs[i].id);
        cm__q_text(&q, 2, rs[i].email);
        cm__q_text(&q, 3, payload);
        cm__q_text(&q, 4, key);
        cm__q_int64(&q, 5, ctx.now);
        cm__q_int64(&q, 6, n.id);
        rc = cm__q_step(&q);
        added += rc >= 0 ? cm__q_changes(&q) : 0;
        cm__q_close(&q);
        rc = cm__ok(rc);
    }
    int64_t cursor = cnt ? rs[cnt - 1].id : n.cursor;
    bool done = cnt < FILL_BATCH;
    for (size_t i = 0; i < cnt; i++)
        cm__free(rs[i].email);
    cm__free(rs);
    if (rc == CM_OK && (rc = cm__q_open(&q, conn, "newsletter.fill_mark")) == CM_OK) {
        cm__q_int64(&q, 1, n.id);
        cm__q_int64(&q, 2, cursor);
        cm__q_int64(&q, 3, added);
        cm__q_int64(&q, 4, done ? 1 : 0);
        cm__q_int64(&q, 5, ctx.now);
        rc = cm__ok(cm__q_step(&q));
        cm__q_close(&q);
    }
    if (rc == CM_OK && !done)
        rc = enqueue_fill(conn, n.id, cursor, 0);
    return rc;
}

int cm__newsletter_fill_handler(cm_job *job, void *payload)
{
    (void)payload;
    json_t *in = json_loads(job->payload, 0, NULL);
    fill_call c = {cm__json_int(in, "newsletter_id", 0), cm__json_has(in, "send_at"),
                   cm__json_int(in, "send_at", 0), cm__pay_grace_us(job->store)};
    json_decref(in);
    if (c.id <= 0) {
        cm_job_no_retry(job);
        return cm__error_set(CM_EINVAL, "payload needs newsletter_id");
    }
    return cm__job_complete_tx(job, fill_fn, &c);
}

/* ---- preferences ---- */

/* The member whose preferences a call is about: the token's, or the
 * signed-in member's. *link_cat: the token's category (or -1). */
static int pref_member(int64_t *member_id, int *link_cat, cm__ctx *ctx, json_t *in)
{
    const char *token = cm__json_str(in, "token");
    *link_cat = -1;
    if (token)
        return cm__unsub_verify(member_id, link_cat, ctx->conn, token);
    if (ctx->actor->member_id <= 0)
        return cm__error_set(CM_EAUTH, "sign in, or use the link of a mail");
    *member_id = ctx->actor->member_id;
    return CM_OK;
}

static int prefs_json(json_t **out, cm__ctx *ctx, int64_t member_id)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "pref.member");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, member_id);
    rc = cm__q_step(&q);
    json_t *o = NULL;
    if (rc == 1)
        o = json_pack("{s:s,s:s}", "name", cm__q_col_text(&q, 0), "email", cm__q_col_text(&q, 1));
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (!o)
        return cm__error_set_field(CM_ENOTFOUND, "token", "this member no longer exists");
    /* defaults: newsletters off (opt-in), the others on */
    json_t *p =
        json_pack("{s:b,s:b,s:b}", "newsletters", 0, "event_reminders", 1, "waitlist_news", 1);
    json_object_set_new(o, "preferences", p);
    if ((rc = cm__q_open(&q, ctx->conn, "pref.list"))) {
        json_decref(o);
        return rc;
    }
    cm__q_int64(&q, 1, member_id);
    while ((rc = cm__q_step(&q)) == 1)
        json_object_set_new(p, cm__q_col_text(&q, 0), json_boolean(cm__q_col_int64(&q, 1)));
    cm__q_close(&q);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return CM_OK;
}

static int pref_write(cm__ctx *ctx, int64_t member_id, int cat, bool on)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "pref.set");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, member_id);
    cm__q_text(&q, 2, cm__mail_cat_name(cat));
    cm__q_int64(&q, 3, on ? 1 : 0);
    cm__q_int64(&q, 4, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

static int op_prefs_get(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t member_id;
    int cat;
    int rc = pref_member(&member_id, &cat, ctx, in);
    return rc ? rc : prefs_json(out, ctx, member_id);
}

static int op_prefs_set(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t member_id;
    int cat;
    int rc = pref_member(&member_id, &cat, ctx, in);
    if (rc)
        return rc;
    ctx->target_type = "member";
    ctx->target_id = member_id;
    for (int c = 0; rc == CM_OK && c < CM__CAT_COUNT; c++)
        if (cm__json_has(in, cm__mail_cat_name(c)))
            rc = pref_write(ctx, member_id, c, cm__json_bool(in, cm__mail_cat_name(c), false));
    return rc ? rc : prefs_json(out, ctx, member_id);
}

static int op_unsubscribe(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t member_id;
    int cat;
    int rc = cm__unsub_verify(&member_id, &cat, ctx->conn, cm__json_str(in, "token"));
    if (rc)
        return rc;
    ctx->target_type = "member";
    ctx->target_id = member_id;
    if ((rc = pref_write(ctx, member_id, cat, false)))
        return rc;
    *out = json_pack("{s:b,s:s}", "unsubscribed", 1, "category", cm__mail_cat_name(cat));
    return CM_OK;
}

/* ---- declarations ---- */

#define SUBJECT_FIELD(flags_)                                                                      \
    CM__FIELD("subject", CM__T_STRING, .flags = (flags_), .min = 1, .max = 200,                    \
              .doc = "Subject: one line, 1-200 characters")
#define BODY_FIELD(flags_)                                                                         \
    CM__FIELD("body", CM__T_STRING, .flags = (flags_), .min = 1, .max = 200000,                    \
              .doc = "Body in Markdown (CommonMark), up to 200000 characters; raw HTML is "        \
                     "dropped")
#define AUDIENCE_FIELDS(flags_)                                                                    \
    CM__FIELD("audience", CM__T_ENUM, .flags = (flags_), .values = audiences,                      \
              .doc = "subscribers: members who opted in to newsletters; group: the active "        \
                     "members of group_id; event: the members going to event_id; tier: the "       \
                     "members who opted in to newsletters and whose subscription to tier_id is "   \
                     "in good standing (trialing, active, or past_due within the grace period) "   \
                     "when their batch of recipients is written"),                                 \
        CM__FIELD("group_id", CM__T_ID, .doc = "The group, for audience group"),                   \
        CM__FIELD("event_id", CM__T_ID, .doc = "The event, for audience event"),                   \
        CM__FIELD("tier_id", CM__T_ID, .doc = "The membership tier, for audience tier")

static const cm__field create_fields[] = {
    SUBJECT_FIELD(CM__REQUIRED),
    BODY_FIELD(CM__REQUIRED),
    AUDIENCE_FIELDS(CM__REQUIRED),
    {.name = NULL},
};
static const cm__field update_fields[] = {
    CM__FIELD("newsletter_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Newsletter id"),
    SUBJECT_FIELD(0),
    BODY_FIELD(0),
    AUDIENCE_FIELDS(0),
    CM__FIELD("send_at", CM__T_INSTANT,
              .doc = "A scheduled newsletter only: start at this instant instead (now when it "
                     "is past)"),
    {.name = NULL},
};
static const cm__field id_fields[] = {
    CM__FIELD("newsletter_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Newsletter id"),
    {.name = NULL},
};
static const cm__field send_fields[] = {
    CM__FIELD("newsletter_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Newsletter id"),
    CM__FIELD("send_at", CM__T_INSTANT, .doc = "Send at this instant (default: now)"),
    {.name = NULL},
};
static const cm__field list_fields[] = {
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 100, .doc = "Page size (default 20)"),
    CM__FIELD("cursor", CM__T_CURSOR, .doc = "next_cursor of the previous page"),
    {.name = NULL},
};
static const cm__field archive_fields[] = {
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 100, .doc = "Page size (default 20)"),
    CM__FIELD("cursor", CM__T_CURSOR, .doc = "next_cursor of the previous page"),
    {.name = NULL},
};
static const cm__field prefs_get_fields[] = {
    CM__FIELD("token", CM__T_SECRET, .min = 1, .max = 200,
              .doc = "The token of an unsubscribe link (default: the signed-in member)"),
    {.name = NULL},
};
static const cm__field prefs_set_fields[] = {
    CM__FIELD("token", CM__T_SECRET, .min = 1, .max = 200,
              .doc = "The token of an unsubscribe link (default: the signed-in member)"),
    CM__FIELD("newsletters", CM__T_BOOL, .doc = "Newsletters"),
    CM__FIELD("event_reminders", CM__T_BOOL, .doc = "Reminders of events one is going to"),
    CM__FIELD("waitlist_news", CM__T_BOOL, .doc = "Seats opening up from a waitlist"),
    {.name = NULL},
};
static const cm__field unsub_fields[] = {
    CM__FIELD("token", CM__T_SECRET, .flags = CM__REQUIRED, .min = 1, .max = 200,
              .doc = "The token of the List-Unsubscribe link"),
    {.name = NULL},
};

static const cm__rfield progress_fields[] = {
    {"queued", CM__R_INT, .doc = "Delivery rows written so far"},
    {"pending", CM__R_INT, .doc = "Waiting to be sent (or retried)"},
    {"sending", CM__R_INT, .doc = "Being sent now"},
    {"sent", CM__R_INT, .doc = "Accepted by the mail server"},
    {"failed", CM__R_INT, .doc = "Refused for good or out of attempts"},
    {"suppressed", CM__R_INT,
     .doc = "Not sent on purpose (newsletters turned off, or a suppressed address)"},
    {"cancelled", CM__R_INT, .doc = "Rows dropped by cancelling"},
    {"audience_done", CM__R_BOOL, .doc = "Every recipient has a delivery row"},
    {NULL},
};
static const cm__shape progress_shape = {
    .name = "NewsletterProgress", .doc = "Delivery counts", .fields = progress_fields};
static const cm__rfield newsletter_fields[] = {
    {"id", CM__R_INT},
    {"author_id", CM__R_INT},
    {"subject", CM__R_STRING},
    {"body", CM__R_STRING, .doc = "Markdown"},
    {"audience", CM__R_ENUM, .values = audiences},
    {"group_id", CM__R_INT, .flags = CM__R_NULL},
    {"event_id", CM__R_INT, .flags = CM__R_NULL},
    {"tier_id", CM__R_INT, .flags = CM__R_NULL},
    {"status", CM__R_ENUM, .values = nl_statuses,
     .doc = "sent: sending, every recipient written and none left to send"},
    {"send_at", CM__R_TIME, .flags = CM__R_NULL, .doc = "When sending starts (or started)"},
    {"created_at", CM__R_TIME},
    {"updated_at", CM__R_TIME},
    {"progress", CM__R_OBJECT, .shape = &progress_shape},
    {NULL},
};
static const cm__shape newsletter_shape = {.name = "Newsletter",
                                           .doc = "A newsletter and its delivery progress",
                                           .fields = newsletter_fields};
CM__PAGE(newsletter_page, newsletter_shape);

static const cm__rfield archived_fields[] = {
    {"id", CM__R_INT},
    {"subject", CM__R_STRING},
    {"send_at", CM__R_TIME, .flags = CM__R_NULL, .doc = "When sending started"},
    {NULL},
};
static const cm__shape archived_shape = {
    .name = "ArchivedNewsletter", .doc = "A newsletter in the archive", .fields = archived_fields};
CM__PAGE(archive_page, archived_shape);
static const cm__rfield reading_fields[] = {
    {"id", CM__R_INT},
    {"subject", CM__R_STRING},
    {"body", CM__R_STRING, .doc = "Markdown"},
    {"html", CM__R_STRING,
     .doc = "The body as HTML, rendered as in the mail (raw HTML and unsafe links dropped)"},
    {"send_at", CM__R_TIME, .flags = CM__R_NULL, .doc = "When sending started"},
    {NULL},
};
static const cm__shape reading_shape = {
    .name = "NewsletterReading", .doc = "A newsletter to read", .fields = reading_fields};

static const cm__rfield prefs_map_fields[] = {
    {"newsletters", CM__R_BOOL},
    {"event_reminders", CM__R_BOOL},
    {"waitlist_news", CM__R_BOOL},
    {NULL},
};
static const cm__shape prefs_map = {.fields = prefs_map_fields};
static const cm__rfield prefs_fields[] = {
    {"name", CM__R_STRING},
    {"email", CM__R_STRING},
    {"preferences", CM__R_OBJECT, .shape = &prefs_map,
     .doc = "Which mail the member gets; newsletters of a group or event the member is in "
            "are sent unless newsletters was turned off"},
    {NULL},
};
static const cm__shape prefs_shape = {
    .name = "MailPreferences", .doc = "A member's mail categories", .fields = prefs_fields};
static const char *const cat_values[] = {"newsletters", "event_reminders", "waitlist_news", NULL};
static const cm__rfield unsub_result_fields[] = {
    {"unsubscribed", CM__R_BOOL},
    {"category", CM__R_ENUM, .values = cat_values},
    {NULL},
};
static const cm__shape unsub_result = {.fields = unsub_result_fields};

const cm__op cm__newsletter_ops[] = {
    {
        .name = "newsletters.create",
        .summary = "Compose a newsletter (a draft) for an audience",
        .role = CM_ROLE_ORGANIZER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/newsletters",
        .fields = create_fields,
        .fn = op_create,
        .result = &newsletter_shape,
    },
    {
        .name = "newsletters.update",
        .summary = "Change a draft, or a scheduled newsletter until it starts (also its send_at)",
        .role = CM_ROLE_ORGANIZER,
        .flags = CM__OP_WRITE,
        .http_method = "PATCH",
        .http_path = "/v1/newsletters/{newsletter_id}",
        .fields = update_fields,
        .fn = op_update,
        .result = &newsletter_shape,
    },
    {
        .name = "newsletters.get",
        .summary = "A newsletter with its delivery progress",
        .role = CM_ROLE_ORGANIZER,
        .http_method = "GET",
        .http_path = "/v1/newsletters/{newsletter_id}",
        .fields = id_fields,
        .fn = op_get,
        .result = &newsletter_shape,
    },
    {
        .name = "newsletters.list",
        .summary = "The caller's newsletters (every newsletter for admins), newest first",
        .role = CM_ROLE_ORGANIZER,
        .http_method = "GET",
        .http_path = "/v1/newsletters",
        .fields = list_fields,
        .fn = op_list,
        .result = &newsletter_page,
    },
    {
        .name = "newsletters.send",
        .summary = "Send a draft newsletter now or at send_at",
        .role = CM_ROLE_ORGANIZER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/newsletters/{newsletter_id}/send",
        .fields = send_fields,
        .fn = op_send,
        .result = &newsletter_shape,
    },
    {
        .name = "newsletters.pause",
        .summary = "Pause a scheduled or sending newsletter (mail in flight still leaves)",
        .role = CM_ROLE_ORGANIZER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/newsletters/{newsletter_id}/pause",
        .fields = id_fields,
        .fn = op_pause,
        .result = &newsletter_shape,
    },
    {
        .name = "newsletters.resume",
        .summary = "Resume a paused newsletter where it stopped",
        .role = CM_ROLE_ORGANIZER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/newsletters/{newsletter_id}/resume",
        .fields = id_fields,
        .fn = op_resume,
        .result = &newsletter_shape,
    },
    {
        .name = "newsletters.cancel",
        .summary = "Cancel a newsletter: mail not yet sent is dropped",
        .role = CM_ROLE_ORGANIZER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/newsletters/{newsletter_id}/cancel",
        .fields = id_fields,
        .fn = op_cancel,
        .result = &newsletter_shape,
    },
    {
        .name = "newsletters.archive",
        .summary = "Newsletters that went out and that one of my membership tiers unlocks "
                   "(newest first)",
        .role = CM_ROLE_MEMBER,
        .http_method = "GET",
        .http_path = "/v1/newsletters/archive",
        .fields = archive_fields,
        .fn = op_archive,
        .result = &archive_page,
    },
    {
        .name = "newsletters.read",
        .summary = "Read a newsletter: one that went out and that one of my membership tiers "
                   "unlocks (authors and admins: any)",
        .role = CM_ROLE_MEMBER,
        .http_method = "GET",
        .http_path = "/v1/newsletters/{newsletter_id}/read",
        .fields = id_fields,
        .fn = op_read,
        .result = &reading_shape,
    },
    {
        .name = "mail.preferences_get",
        .summary = "Which categories of mail a member gets (signed in, or by an unsubscribe "
                   "link's token)",
        .role = CM_ROLE_ANONYMOUS,
        .http_method = "GET",
        .http_path = "/v1/mail/preferences",
        .fields = prefs_get_fields,
        .fn = op_prefs_get,
        .result = &prefs_shape,
    },
    {
        .name = "mail.preferences_set",
        .summary = "Turn categories of mail on or off (signed in, or by an unsubscribe link's "
                   "token)",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_WRITE,
        .http_method = "PUT",
        .http_path = "/v1/mail/preferences",
        .fields = prefs_set_fields,
        .fn = op_prefs_set,
        .result = &prefs_shape,
    },
    {
        .name = "mail.unsubscribe",
        .summary = "One-click unsubscribe (RFC 8058): turn off the category of the link",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_WRITE | CM__OP_FORM,
        .http_method = "POST",
        .http_path = "/v1/mail/unsubscribe/{token}",
        .fields = unsub_fields,
        .fn = op_unsubscribe,
        .result = &unsub_result,
    },
    {.name = NULL},
};
