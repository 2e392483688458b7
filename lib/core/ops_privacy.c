/*
 * ops_privacy.c - a member's personal data: members.export (everything the
 * platform holds about a member, as one JSON document) and members.erase
 * (the right to erasure: one transaction that anonymises the member and
 * deletes or empties what they wrote and uploaded).
 *
 * What the erasure keeps: orders, tickets and the ledger (accounting law
 * keeps sales records for years; they stay attached to the anonymised
 * member row), past RSVPs (attendance counts), the audit log (by member id
 * only, which no longer leads to a person), and the suppression list of
 * mail (a hash of the address, so that a bounced or complaining address is
 * never mailed again). Stored files go after the commit: the erasure
 * queues their keys in blob_trash and enqueues a "platform.uploads_sweep"
 * job in the same transaction, which deletes them and is retried until it
 * succeeds, so a crash between the commit and the deletion leaves no
 * orphan once a worker runs.
 */
#include "assistant_int.h"
#include "event_int.h"
#include "member_int.h"
#include "uploads_int.h"

#include "../jobs/jobs_int.h"
#include "ai/ai_int.h" /* cm__embed_sync */

#include <stdio.h>
#include <string.h>

int cm__sodium_ready(void); /* ops_auth.c */

/* How many audit entries an export carries at most (the newest). */
#define AUDIT_MAX 10000

/* ---- export ---- */

/* One row of q as an object: column i is fields[i] (CM__R_ARRAY columns
 * hold JSON text, CM__R_BOOL an integer). */
static json_t *row_json(cm__q *q, const cm__rfield *fields)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = 0;
    for (int i = 0; fields[i].name; i++) {
        const cm__rfield *f = &fields[i];
        if (cm__q_is_null(q, i)) {
            bad |= json_object_set_new(o, f->name, json_null());
            continue;
        }
        switch (f->type) {
            case CM__R_INT:
                bad |= json_object_set_new(o, f->name, json_integer(cm__q_col_int64(q, i)));
                break;
            case CM__R_BOOL:
                bad |= json_object_set_new(o, f->name, json_boolean(cm__q_col_int64(q, i) != 0));
                break;
            case CM__R_TIME:
                bad |= cm__json_set_time(o, f->name, cm__q_col_int64(q, i));
                break;
            case CM__R_ARRAY: {
                json_t *v = json_loads(cm__q_col_text(q, i), 0, NULL);
                bad |= json_object_set_new(o, f->name, json_is_array(v) ? v : json_array());
                if (v && !json_is_array(v))
                    json_decref(v);
                break;
            }
            default:
                bad |= json_object_set_new(o, f->name, json_string(cm__q_col_text(q, i)));
                break;
        }
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Run stmt (?1 = member id, ?2 = arg2 when not 0) and set res[key] to its
 * rows; single: to the first row's object (or null). */
static int section(json_t *res, cm__ctx *ctx, const char *key, const char *stmt,
                   const cm__rfield *fields, int64_t id, int64_t arg2, bool single)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, stmt);
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    if (arg2)
        cm__q_int64(&q, 2, arg2);
    json_t *items = json_array(), *first = NULL;
    while (items && (rc = cm__q_step(&q)) == 1) {
        json_t *o = row_json(&q, fields);
        if (!o || json_array_append_new(items, o)) {
            rc = cm__oom();
            break;
        }
    }
    cm__q_close(&q);
    if (!items)
        return cm__oom();
    if ((rc = cm__ok(rc))) {
        json_decref(items);
        return rc;
    }
    if (single) {
        first = json_array_get(items, 0);
        rc = json_object_set(res, key, first ? first : json_null());
        json_decref(items);
    } else {
        rc = json_object_set_new(res, key, items);
    }
    return rc ? cm__oom() : CM_OK;
}

static const cm__rfield x_member[] = {
    {"id", CM__R_INT},
    {"email", CM__R_STRING},
    {"name", CM__R_STRING},
    {"headline", CM__R_STRING},
    {"bio", CM__R_STRING},
    {"interests", CM__R_ARRAY, .items = CM__R_STRING},
    {"timezone", CM__R_STRING},
    {"visibility", CM__R_STRING},
    {"discoverable", CM__R_BOOL},
    {"role", CM__R_STRING},
    {"status", CM__R_STRING},
    {"created_at", CM__R_TIME},
    {"updated_at", CM__R_TIME},
    {"erased_at", CM__R_TIME, .flags = CM__R_NULL},
    {NULL},
};
static const cm__rfield x_rsvp[] = {
    {"id", CM__R_INT},
    {"event_id", CM__R_INT},
    {"event_title", CM__R_STRING},
    {"status", CM__R_STRING},
    {"guests", CM__R_INT},
    {"created_at", CM__R_TIME},
    {"updated_at", CM__R_TIME},
    {NULL},
};
static const cm__rfield x_order[] = {
    {"id", CM__R_INT},
    {"event_id", CM__R_INT},
    {"ticket_type_id", CM__R_INT},
    {"quantity", CM__R_INT},
    {"unit_price_minor", CM__R_INT},
    {"total_minor", CM__R_INT},
    {"currency", CM__R_STRING},
    {"state", CM__R_STRING},
    {"created_at", CM__R_TIME},
    {"paid_at", CM__R_TIME, .flags = CM__R_NULL},
    {NULL},
};
static const cm__rfield x_payment[] = {
    {"order_id", CM__R_INT},     {"kind", CM__R_STRING, .doc = "payment or refund"},
    {"amount_minor", CM__R_INT}, {"currency", CM__R_STRING},
    {"created_at", CM__R_TIME},  {NULL},
};
static const cm__rfield x_ticket[] = {
    {"id", CM__R_INT},
    {"order_id", CM__R_INT},
    {"event_id", CM__R_INT},
    {"ticket_type_id", CM__R_INT},
    {"serial", CM__R_INT},
    {"status", CM__R_STRING},
    {"created_at", CM__R_TIME},
    {"checked_in_at", CM__R_TIME, .flags = CM__R_NULL},
    {NULL},
};
static const cm__rfield x_subscription[] = {
    {"id", CM__R_INT},
    {"tier", CM__R_STRING},
    {"billing_interval", CM__R_STRING},
    {"status", CM__R_STRING},
    {"started_at", CM__R_TIME, .flags = CM__R_NULL},
    {"current_period_end", CM__R_TIME, .flags = CM__R_NULL},
    {"ended_at", CM__R_TIME, .flags = CM__R_NULL},
    {NULL},
};
static const cm__rfield x_post[] = {
    {"id", CM__R_INT},
    {"group_id", CM__R_INT, .flags = CM__R_NULL},
    {"kind", CM__R_STRING},
    {"title", CM__R_STRING},
    {"body", CM__R_STRING},
    {"created_at", CM__R_TIME},
    {"updated_at", CM__R_TIME},
    {"deleted_at", CM__R_TIME, .flags = CM__R_NULL},
    {NULL},
};
static const cm__rfield x_comment[] = {
    {"id", CM__R_INT},
    {"post_id", CM__R_INT},
    {"parent_id", CM__R_INT, .flags = CM__R_NULL},
    {"body", CM__R_STRING},
    {"created_at", CM__R_TIME},
    {"deleted_at", CM__R_TIME, .flags = CM__R_NULL},
    {NULL},
};
static const cm__rfield x_reaction[] = {
    {"target_type", CM__R_STRING},
    {"target_id", CM__R_INT},
    {"kind", CM__R_STRING},
    {"created_at", CM__R_TIME},
    {NULL},
};
static const cm__rfield x_group[] = {
    {"group_id", CM__R_INT},  {"group_name", CM__R_STRING}, {"role", CM__R_STRING},
    {"status", CM__R_STRING}, {"joined_at", CM__R_TIME},    {NULL},
};
static const cm__rfield x_pref[] = {
    {"category", CM__R_STRING},
    {"subscribed", CM__R_BOOL},
    {"updated_at", CM__R_TIME},
    {NULL},
};
static const cm__rfield x_mail[] = {
    {"id", CM__R_INT},
    {"template", CM__R_STRING},
    {"status", CM__R_STRING},
    {"created_at", CM__R_TIME},
    {"sent_at", CM__R_TIME, .flags = CM__R_NULL},
    {NULL},
};
static const cm__rfield x_session[] = {
    {"id", CM__R_INT},
    {"created_at", CM__R_TIME},
    {"expires_at", CM__R_TIME},
    {"revoked_at", CM__R_TIME, .flags = CM__R_NULL},
    {NULL},
};
static const cm__rfield x_attachment[] = {
    {"id", CM__R_INT},          {"target", CM__R_STRING},
    {"target_id", CM__R_INT},   {"slot", CM__R_STRING},
    {"version", CM__R_INT},     {"content_type", CM__R_STRING},
    {"size_bytes", CM__R_INT},  {"filename", CM__R_STRING, .flags = CM__R_NULL},
    {"created_at", CM__R_TIME}, {NULL},
};
static const cm__rfield x_audit[] = {
    {"id", CM__R_INT},
    {"at", CM__R_TIME},
    {"actor_id", CM__R_INT, .flags = CM__R_NULL},
    {"actor_role", CM__R_STRING},
    {"op", CM__R_STRING},
    {"target_type", CM__R_STRING},
    {"target_id", CM__R_INT, .flags = CM__R_NULL},
    {NULL},
};

static const struct {
    const char *key, *stmt;
    const cm__rfield *fields;
} sections[] = {
    {"rsvps", "privacy.rsvps", x_rsvp},
    {"orders", "privacy.orders", x_order},
    {"payments", "privacy.payments", x_payment},
    {"tickets", "privacy.tickets", x_ticket},
    {"subscriptions", "privacy.subscriptions", x_subscription},
    {"posts", "privacy.posts", x_post},
    {"comments", "privacy.comments", x_comment},
    {"reactions", "privacy.reactions", x_reaction},
    {"groups", "privacy.groups", x_group},
    {"mail_preferences", "privacy.mail_prefs", x_pref},
    {"mails", "privacy.mails", x_mail},
    {"sessions", "privacy.sessions", x_session},
    {"attachments", "privacy.attachments", x_attachment},
};

/* The member the call is about: member_id when given (another member needs
 * an admin), else the caller. */
static int subject(int64_t *id, cm__ctx *ctx, json_t *in, const char *what)
{
    *id = cm__json_int(in, "member_id", ctx->actor->member_id);
    if (!*id)
        return cm__error_set_field(CM_EINVAL, "member_id", "member_id: required for the %s actor",
                                   cm__role_name(ctx->actor->role));
    if (*id != ctx->actor->member_id && !cm__actor_at_least(ctx, CM_ROLE_ADMIN))
        return cm__error_set_field(CM_EPERM, "member_id",
                                   "member_id: only admins %s another member's data", what);
    return CM_OK;
}

static int op_export(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id;
    int rc = subject(&id, ctx, in, "export");
    if (rc)
        return rc;
    json_t *res = json_pack("{s:s}", "format", "libcommunity-export/1");
    if (!res || cm__json_set_time(res, "exported_at", ctx->now)) {
        json_decref(res);
        return cm__oom();
    }
    rc = section(res, ctx, "member", "privacy.member", x_member, id, 0, true);
    if (!rc && json_is_null(json_object_get(res, "member")))
        rc = cm__error_set_field(CM_ENOTFOUND, "member_id", "member %lld not found", (long long)id);
    for (size_t i = 0; !rc && i < sizeof sections / sizeof sections[0]; i++)
        rc = section(res, ctx, sections[i].key, sections[i].stmt, sections[i].fields, id, 0, false);
    if (!rc)
        rc = section(res, ctx, "audit", "privacy.audit", x_audit, id, AUDIT_MAX, false);
    json_t *chats = NULL;
    if (!rc && !(rc = cm__assistant_export_member(&chats, ctx->conn, id)) &&
        json_object_set_new(res, "assistant_conversations", chats))
        rc = cm__oom();
    if (rc) {
        json_decref(res);
        return rc;
    }
    /* an export is itself audited: who read whose data, and when */
    ctx->target_type = "member";
    ctx->target_id = id;
    *out = res;
    return CM_OK;
}

/* ---- erasure ---- */

/* prepare hook: erasing yourself needs your password again. */
static int erase_prepare(cm__ctx *ctx, json_t *in)
{
    int64_t id = cm__json_int(in, "member_id", ctx->actor->member_id);
    if (!id || id != ctx->actor->member_id)
        return CM_OK; /* another member: the handler checks the admin role */
    const char *pw = cm__json_str(in, "password");
    if (!pw)
        return cm__error_set_field(CM_EAUTH, "password",
                                   "password: erasing your own account needs your password");
    int rc = cm__sodium_ready();
    if (rc)
        return rc;
    cm__conn *c;
    if ((rc = cm__store_acquire(&c, ctx->store)))
        return rc;
    char hash[256] = "";
    cm__q q;
    if ((rc = cm__q_open(&q, c, "member.password")) == CM_OK) {
        cm__q_int64(&q, 1, id);
        if ((rc = cm__q_step(&q)) == 1)
            (void)snprintf(hash, sizeof hash, "%s", cm__q_col_text(&q, 0));
        cm__q_close(&q);
    }
    cm__store_release(c);
    if (rc < 0)
        return rc;
    if (!hash[0])
        return cm__error_set_field(CM_EAUTH, "password",
                                   "password: this account has no password; set one "
                                   "(auth.password_reset_request) or ask an admin");
    if (cm__password_verify(hash, pw) != 0)
        return cm__error_set_field(CM_EAUTH, "password", "password: does not match");
    return json_object_set_new(in, "_password_checked", json_true()) ? cm__oom() : CM_OK;
}

/* Run stmt with ?1 = a, and ?2 = b unless b is NULL and b2 is 0; adds
 * the rows changed to *changed when not NULL. */
static int exec1(cm__ctx *ctx, const char *stmt, int64_t a, const char *b, int64_t b2,
                 int64_t *changed)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, stmt);
    if (rc)
        return rc;
    cm__q_int64(&q, 1, a);
    if (b)
        cm__q_text(&q, 2, b);
    else if (b2)
        cm__q_int64(&q, 2, b2);
    rc = cm__ok(cm__q_step(&q));
    if (!rc && changed)
        *changed += cm__q_changes(&q);
    cm__q_close(&q);
    return rc;
}

/* The ids a statement (?1 = id, ?2 = arg2 when not 0) returns, in *ids
 * (cm__free). */
static int ids_of(int64_t **ids, size_t *n, cm__ctx *ctx, const char *stmt, int64_t id,
                  int64_t arg2)
{
    *ids = NULL;
    *n = 0;
    size_t cap = 0;
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, stmt);
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    if (arg2)
        cm__q_int64(&q, 2, arg2);
    while ((rc = cm__q_step(&q)) == 1) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            int64_t *g = cm__realloc(*ids, nc * sizeof *g);
            if (!g) {
                rc = cm__oom();
                break;
            }
            *ids = g;
            cap = nc;
        }
        (*ids)[(*n)++] = cm__q_col_int64(&q, 0);
    }
    cm__q_close(&q);
    if ((rc = cm__ok(rc))) {
        cm__free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

static int op_erase(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id;
    int rc = subject(&id, ctx, in, "erase");
    if (rc)
        return rc;
    if (id == ctx->actor->member_id && !cm__json_bool(in, "_password_checked", false))
        return cm__error_set_field(CM_EAUTH, "password", "password: required");
    /* lock the member row; an erased member is not found again */
    char norm[256] = "";
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "privacy.lock_member")))
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    if (rc == 1)
        (void)snprintf(norm, sizeof norm, "%s", cm__q_col_text(&q, 0));
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return cm__error_set_field(CM_ENOTFOUND, "member_id",
                                   "member %lld not found (or already erased)", (long long)id);
    /* a running subscription keeps billing at the payment provider */
    if ((rc = cm__q_open(&q, ctx->conn, "privacy.live_subscriptions")))
        return rc;
    cm__q_int64(&q, 1, id);
    rc = cm__q_step(&q);
    int64_t live = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (live)
        return cm__error_set(CM_ECONFLICT,
                             "member %lld has a membership subscription that is not ended: "
                             "cancel it first (subscriptions.cancel)",
                             (long long)id);

    int64_t rsvps = 0, posts = 0, comments = 0, files = 0, mails = 0;
    /* seats and waitlist places at events not over go back (and the
     * waitlist moves up); older RSVPs stay as anonymous attendance */
    int64_t *ids;
    size_t n;
    if ((rc = ids_of(&ids, &n, ctx, "privacy.open_rsvps", id, ctx->now)))
        return rc;
    for (size_t i = 0; !rc && i < n; i++)
        rc = cm__rsvp_release(ctx, ids[i], id);
    cm__free(ids);
    rsvps = (int64_t)n;
    if (rc)
        return rc;
    /* posts and comments: emptied and deleted, so that threads keep their
     * shape; embeddings follow the emptied text */
    if ((rc = ids_of(&ids, &n, ctx, "privacy.post_ids", id, 0)))
        return rc;
    rc = exec1(ctx, "privacy.erase_posts", id, NULL, ctx->now, &posts);
    for (size_t i = 0; !rc && i < n; i++)
        rc = cm__embed_sync(ctx->conn, ctx->now, "post", ids[i]);
    cm__free(ids);
    if (rc || (rc = exec1(ctx, "privacy.erase_comments", id, NULL, ctx->now, &comments)) ||
        (rc = exec1(ctx, "privacy.erase_reactions", id, NULL, 0, NULL)) ||
        (rc = exec1(ctx, "privacy.erase_groups", id, NULL, 0, NULL)) ||
        (rc = exec1(ctx, "privacy.erase_organizer", id, NULL, 0, NULL)))
        return rc;
    /* uploads: rows now, stored files by the sweep job after the commit */
    if ((rc = cm__q_open(&q, ctx->conn, "privacy.attachments")))
        return rc;
    cm__q_int64(&q, 1, id);
    while ((rc = cm__q_step(&q)) == 1)
        files++;
    cm__q_close(&q);
    if ((rc = cm__ok(rc)) || (rc = cm__attachments_erase_member(ctx->conn, id, ctx->now)))
        return rc;
    if (files) {
        char key[48];
        (void)snprintf(key, sizeof key, "erase:%lld", (long long)id);
        cm_job_options o = CM_JOB_OPTIONS_INIT;
        o.dedupe_key = key;
        rc = cm__jobs_enqueue_tx(NULL, ctx->conn, "platform.uploads_sweep", "{}", 2, &o);
        if (rc && rc != CM_EEXISTS)
            return rc;
    }
    /* mail: nothing more is sent; sent mail keeps its row without address
     * or content; preferences go (the suppression list is a hash and stays) */
    /* the assistant's conversations with their messages and pending actions */
    int64_t chats = 0;
    if ((rc = cm__assistant_erase_member(ctx->conn, id, &chats)))
        return rc;
    if ((rc = exec1(ctx, "privacy.suppress_mails", id, norm, 0, NULL)) ||
        (rc = exec1(ctx, "privacy.erase_mails", id, norm, 0, &mails)) ||
        (rc = exec1(ctx, "privacy.erase_mail_prefs", id, NULL, 0, NULL)))
        return rc;
    /* sign-in: every session ends, tokens and throttle entries go */
    if ((rc = cm__q_open(&q, ctx->conn, "session.revoke_all")))
        return rc;
    cm__q_int64(&q, 1, id);
    cm__q_int64(&q, 2, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc || (rc = exec1(ctx, "privacy.erase_tokens", id, NULL, 0, NULL)))
        return rc;
    if ((rc = cm__q_open(&q, ctx->conn, "privacy.erase_login_failures")))
        return rc;
    cm__q_text(&q, 1, norm);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc)
        return rc;
    /* the row: anonymised, kept for what still names it */
    char placeholder[64];
    (void)snprintf(placeholder, sizeof placeholder, "erased-%lld@invalid", (long long)id);
    if ((rc = cm__q_open(&q, ctx->conn, "privacy.anonymise")))
        return rc;
    cm__q_int64(&q, 1, id);
    cm__q_text(&q, 2, placeholder);
    cm__q_int64(&q, 3, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc || (rc = cm__embed_sync(ctx->conn, ctx->now, "member", id)))
        return rc;
    ctx->target_type = "member";
    ctx->target_id = id;
    *out =
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:[s,s,s,s,s]}", "member_id", (json_int_t)id,
                  "rsvps_cancelled", (json_int_t)rsvps, "posts_erased", (json_int_t)posts,
                  "comments_erased", (json_int_t)comments, "attachments_erased", (json_int_t)files,
                  "mails_erased", (json_int_t)mails, "conversations_erased", (json_int_t)chats,
                  "kept", "orders", "tickets", "payments", "audit", "mail_suppression");
    if (!*out || cm__json_set_time(*out, "erased_at", ctx->now))
        return cm__oom();
    return CM_OK;
}

/* ---- declarations ---- */

static const cm__field export_fields[] = {
    CM__FIELD("member_id", CM__T_ID, .doc = "Whose data (admins only; default: yourself)"),
    {.name = NULL},
};

static const cm__field erase_fields[] = {
    CM__FIELD("member_id", CM__T_ID, .doc = "Whom to erase (admins only; default: yourself)"),
    CM__FIELD("password", CM__T_SECRET, .min = 1, .max = 256,
              .doc = "Your password: required to erase your own account"),
    {.name = NULL},
};

static const cm__shape xs_member = {.fields = x_member};
static const cm__shape xs_rsvp = {.fields = x_rsvp};
static const cm__shape xs_order = {.fields = x_order};
static const cm__shape xs_payment = {.fields = x_payment};
static const cm__shape xs_ticket = {.fields = x_ticket};
static const cm__shape xs_subscription = {.fields = x_subscription};
static const cm__shape xs_post = {.fields = x_post};
static const cm__shape xs_comment = {.fields = x_comment};
static const cm__shape xs_reaction = {.fields = x_reaction};
static const cm__shape xs_group = {.fields = x_group};
static const cm__shape xs_pref = {.fields = x_pref};
static const cm__shape xs_mail = {.fields = x_mail};
static const cm__shape xs_session = {.fields = x_session};
static const cm__shape xs_attachment = {.fields = x_attachment};
static const cm__shape xs_audit = {.fields = x_audit};

static const cm__rfield export_result_fields[] = {
    {"format", CM__R_STRING, .doc = "libcommunity-export/1"},
    {"exported_at", CM__R_TIME},
    {"member", CM__R_OBJECT, .shape = &xs_member, .doc = "The profile, with e-mail and status"},
    {"rsvps", CM__R_ARRAY, .shape = &xs_rsvp},
    {"orders", CM__R_ARRAY, .shape = &xs_order},
    {"payments", CM__R_ARRAY, .shape = &xs_payment, .doc = "Payments and refunds of the orders"},
    {"tickets", CM__R_ARRAY, .shape = &xs_ticket, .doc = "Without the check-in codes"},
    {"subscriptions", CM__R_ARRAY, .shape = &xs_subscription},
    {"posts", CM__R_ARRAY, .shape = &xs_post},
    {"comments", CM__R_ARRAY, .shape = &xs_comment},
    {"reactions", CM__R_ARRAY, .shape = &xs_reaction},
    {"groups", CM__R_ARRAY, .shape = &xs_group},
    {"mail_preferences", CM__R_ARRAY, .shape = &xs_pref,
     .doc = "The categories chosen (the others have their default)"},
    {"mails", CM__R_ARRAY, .shape = &xs_mail, .doc = "Mail written to the member"},
    {"sessions", CM__R_ARRAY, .shape = &xs_session},
    {"attachments", CM__R_ARRAY, .shape = &xs_attachment,
     .doc = "Files the member uploaded, and their avatars"},
    {"audit", CM__R_ARRAY, .shape = &xs_audit,
     .doc = "Audit entries by or about the member, newest first (at most 10000)"},
    {"assistant_conversations", CM__R_ARRAY, .shape = &cm__assistant_export_conv,
     .doc = "Conversations with the assistant and their messages, oldest first"},
    {NULL},
};
static const cm__shape export_result = {
    .name = "MemberExport",
    .doc = "Everything the platform holds about one member",
    .fields = export_result_fields,
};

static const cm__rfield erase_result_fields[] = {
    {"member_id", CM__R_INT},
    {"erased_at", CM__R_TIME},
    {"rsvps_cancelled", CM__R_INT, .doc = "Seats and waitlist places given back"},
    {"posts_erased", CM__R_INT},
    {"comments_erased", CM__R_INT},
    {"attachments_erased", CM__R_INT,
     .doc = "Rows removed; the stored files go when the uploads sweep job runs"},
    {"mails_erased", CM__R_INT},
    {"conversations_erased", CM__R_INT, .doc = "Assistant conversations deleted"},
    {"kept", CM__R_ARRAY, .items = CM__R_STRING,
     .doc = "What stays (anonymised): records that law or security keeps"},
    {NULL},
};
static const cm__shape erase_result = {.fields = erase_result_fields};

const cm__op cm__privacy_ops[] = {
    {
        .name = "members.export",
        .summary = "Everything held about a member, as JSON (yours; admins: anyone's)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE, /* audited */
        .http_method = "GET",
        .http_path = "/v1/me/export",
        .fields = export_fields,
        .fn = op_export,
        .result = &export_result,
    },
    {
        .name = "members.erase",
        .summary = "Erase a member's personal data (yours, with your password; admins: anyone's)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE | CM__OP_PASSWORD,
        .http_method = "POST",
        .http_path = "/v1/me/erase",
        .fields = erase_fields,
        .fn = op_erase,
        .prepare = erase_prepare,
        .result = &erase_result,
    },
    {.name = NULL},
};
