/*
 * ops_member.c - member operations: sign-up, profiles, directory, roles
 * and suspension. Authentication (sessions, passwords, single-use tokens)
 * is in ops_auth.c.
 */
#include "member_int.h"

#include <ctype.h>
#include <string.h>


static const char *const visibility_values[] = {"public", "members", "private", NULL};
static const char *const role_values[] = {"member", "organizer", "moderator", "admin", NULL};
static const char *const status_values[] = {"active", "suspended", NULL};

void cm__email_normalize(char *dst, const char *src, size_t cap)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}


/* Bind the optional profile fields shared by signup and update. */
static char *interests_text(json_t *in)
{
    json_t *v = json_object_get(in, "interests");
    if (!v || json_is_null(v))
        return NULL;
    char *s = NULL;
    (void)cm__json_dump(&s, v);
    return s;
}

static int op_signup(cm__ctx *ctx, json_t *in, json_t **out)
{
    const char *email = cm__json_str(in, "email");
    char norm[256];
    cm__email_normalize(norm, email, sizeof norm);
    char *interests = interests_text(in);
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "member.insert");
    if (rc) {
        cm__free(interests);
        return rc;
    }
    const char *vis = cm__json_str(in, "visibility");
    const char *tz = cm__json_str(in, "timezone");
    cm__q_text(&q, 1, email);
    cm__q_text(&q, 2, norm);
    cm__q_text(&q, 3, cm__json_str(in, "_password_hash"));
    cm__q_text(&q, 4, cm__json_str(in, "name"));
    cm__q_text(&q, 5, cm__json_str(in, "headline") ? cm__json_str(in, "headline") : "");
    cm__q_text(&q, 6, cm__json_str(in, "bio") ? cm__json_str(in, "bio") : "");
    cm__q_text(&q, 7, interests ? interests : "[]");
    cm__q_text(&q, 8, tz ? tz : "UTC");
    cm__q_text(&q, 9, vis ? vis : "members");
    cm__q_int64(&q, 10, cm__json_bool(in, "discoverable", false));
    cm__q_text(&q, 11, "member");
    cm__q_int64(&q, 12, ctx->now);
    rc = cm__q_step(&q);
    int64_t id = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    cm__free(interests);
    if (rc == CM_EEXISTS)
        return cm__error_set_field(CM_EEXISTS, "email", "email: a member with this e-mail "
                                                        "address already exists");
    if (rc < 0)
        return rc;
    ctx->target_type = "member";
    ctx->target_id = id;
    if ((rc = cm__metric_add(ctx, "signups", 1)) || (rc = cm__embed_sync(ctx, "member", id)))
        return rc;
    json_t *res = json_object(), *member;
    /* Load as the new member sees themself. */
    cm_actor self = {id, CM_ROLE_MEMBER};
    const cm_actor *saved = ctx->actor;
    ctx->actor = &self;
    rc = cm__member_load(&member, ctx, id);
    ctx->actor = saved;
    if (rc) {
        json_decref(res);
        return rc;
    }
    json_object_set_new(res, "member", member);
    if (cm__json_has(in, "_password_hash") && (rc = cm__session_create(ctx, id, res))) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return CM_OK;
}

static int op_me(cm__ctx *ctx, json_t *in, json_t **out)
{
    (void)in;
    if (!ctx->actor->member_id)
        return cm__error_set(CM_EAUTH, "members.me needs a member, not the system actor");
    return cm__member_load(out, ctx, ctx->actor->member_id);
}

static int op_get(cm__ctx *ctx, json_t *in, json_t **out)
{
    return cm__member_load(out, ctx, cm__json_int(in, "member_id", 0));
}

static int op_list(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t after = 0, unused;
    int rc;
    const char *cursor = cm__json_str(in, "cursor");
    if (cursor && (rc = cm__cursor_decode(&after, &unused, cursor)))
        return rc;
    int64_t limit = cm__json_int(in, "limit", 20);
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "member.list")))
        return rc;
    cm__q_int64(&q, 1, after);
    cm__q_int64(&q, 2, ctx->actor->role);
    cm__q_text(&q, 3, cm__json_str(in, "q"));
    cm__q_int64(&q, 4, limit + 1);
    json_t *items = json_array();
    int64_t last = 0;
    bool more = false;
    bool staff = cm__actor_at_least(ctx, CM_ROLE_MODERATOR);
    while ((rc = cm__q_step(&q)) == 1) {
        if ((int64_t)json_array_size(items) == limit) {
            more = true;
            break;
        }
        last = cm__q_col_int64(&q, 0);
        json_array_append_new(items, cm__member_json(&q, staff || last == ctx->actor->member_id));
    }
    cm__q_close(&q);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = cm__page(items, more, last, 0);
    return CM_OK;
}

static int op_update(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "member_id", ctx->actor->member_id);
    if (id != ctx->actor->member_id && !cm__actor_at_least(ctx, CM_ROLE_ADMIN))
        return cm__error_set_field(CM_EPERM, "member_id",
                                   "member_id: only admins may edit another member");
    if (id == 0)
        return cm__error_set_field(CM_EINVAL, "member_id", "member_id: required for the system "
                                                           "actor");
    char *interests = interests_text(in);
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "member.update");
    if (rc) {
        cm__free(interests);
        return rc;
    }
    cm__q_int64(&q, 1, id);
    cm__q_text(&q, 2, cm__json_str(in, "name"));
    cm__q_text(&q, 3, cm__json_str(in, "headline"));
    cm__q_text(&q, 4, cm__json_str(in, "bio"));
    cm__q_text(&q, 5, interests);
    cm__q_text(&q, 6, cm__json_str(in, "timezone"));
    cm__q_text(&q, 7, cm__json_str(in, "visibility"));
    if (cm__json_has(in, "discoverable"))
        cm__q_int64(&q, 8, cm__json_bool(in, "discoverable", false));
    else
        cm__q_null(&q, 8);
    cm__q_int64(&q, 9, ctx->now);
    rc = cm__q_step(&q);
    int64_t changed = rc == 0 ? cm__q_changes(&q) : 0;
    cm__q_close(&q);
    cm__free(interests);
    if (rc < 0)
        return rc;
    if (changed == 0)
        return cm__error_set_field(CM_ENOTFOUND, "member_id", "member %lld not found",
                                   (long long)id);
    ctx->target_type = "member";
    ctx->target_id = id;
    if ((rc = cm__embed_sync(ctx, "member", id)))
        return rc;
    return cm__member_load(out, ctx, id);
}

static int set_column(cm__ctx *ctx, json_t *in, json_t **out, const char *stmt,
                      const char *key)
{
    int64_t id = cm__json_int(in, "member_id", 0);
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, stmt);
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    cm__q_text(&q, 2, cm__json_str(in, key));
    cm__q_int64(&q, 3, ctx->now);
    rc = cm__q_step(&q);
    int64_t changed = rc == 0 ? cm__q_changes(&q) : 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (changed == 0)
        return cm__error_set_field(CM_ENOTFOUND, "member_id", "member %lld not found",
                                   (long long)id);
    ctx->target_type = "member";
    ctx->target_id = id;
    return cm__member_load(out, ctx, id);
}

static int op_set_role(cm__ctx *ctx, json_t *in, json_t **out)
{
    if (cm__json_int(in, "member_id", 0) == ctx->actor->member_id)
        return cm__error_set_field(CM_EPERM, "member_id",
                                   "member_id: admins cannot change their own role");
    return set_column(ctx, in, out, "member.set_role", "role");
}

static int op_set_status(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "member_id", 0);
    if (id == ctx->actor->member_id)
        return cm__error_set_field(CM_EPERM, "member_id",
                                   "member_id: you cannot suspend yourself");
    int rc = set_column(ctx, in, out, "member.set_status", "status");
    if (rc == CM_OK && strcmp(cm__json_str(in, "status"), "suspended") == 0) {
        cm__q q;
        if ((rc = cm__q_open(&q, ctx->conn, "session.revoke_all")))
            return rc;
        cm__q_int64(&q, 1, id);
        cm__q_int64(&q, 2, ctx->now);
        rc = cm__ok(cm__q_step(&q));
        cm__q_close(&q);
        if (rc) {
            json_decref(*out);
            *out = NULL;
        }
    }
    return rc;
}

#define PROFILE_FIELDS                                                                          \
    {"headline", CM__T_STRING, 0, 0, 160, NULL, "One-line professional headline"},             \
        {"bio", CM__T_STRING, 0, 0, 4000, NULL, "Free-text biography"},                        \
        {"interests", CM__T_STRINGS, 0, 0, 32, NULL, "Interest tags (at most 32)"},            \
        {"timezone", CM__T_TIMEZONE, 0, 0, 0, NULL, "IANA time zone, e.g. Europe/Berlin"},     \
        {"visibility", CM__T_ENUM, 0, 0, 0, visibility_values,                                 \
         "Who can see the profile: public, members (signed in) or private"},                   \
    {                                                                                          \
        "discoverable", CM__T_BOOL, 0, 0, 0, NULL,                                             \
            "Opt in to appear in 'members you should meet'"                                    \
    }

static const cm__field signup_fields[] = {
    {"email", CM__T_EMAIL, CM__REQUIRED, 3, 254, NULL, "E-mail address, unique ignoring case"},
    {"name", CM__T_STRING, CM__REQUIRED, 1, 100, NULL, "Display name"},
    {"password", CM__T_SECRET, 0, 8, 256, NULL,
     "Password (8-256 characters); omit for a magic-link-only account"},
    PROFILE_FIELDS,
    {NULL},
};

static const cm__field update_fields[] = {
    {"member_id", CM__T_ID, 0, 0, 0, NULL, "Member to edit (admins only; default: yourself)"},
    {"name", CM__T_STRING, 0, 1, 100, NULL, "Display name"},
    PROFILE_FIELDS,
    {NULL},
};

static const cm__field member_id_field[] = {
    {"member_id", CM__T_ID, CM__REQUIRED, 0, 0, NULL, "Member id"},
    {NULL},
};

static const cm__field list_fields[] = {
    {"q", CM__T_STRING, 0, 1, 100, NULL, "Name contains"},
    {"limit", CM__T_INT, 0, 1, 100, NULL, "Page size (default 20)"},
    {"cursor", CM__T_CURSOR, 0, 0, 0, NULL, "next_cursor of the previous page"},
    {NULL},
};

static const cm__field role_fields[] = {
    {"member_id", CM__T_ID, CM__REQUIRED, 0, 0, NULL, "Member id"},
    {"role", CM__T_ENUM, CM__REQUIRED, 0, 0, role_values, "New platform role"},
    {NULL},
};

static const cm__field status_fields[] = {
    {"member_id", CM__T_ID, CM__REQUIRED, 0, 0, NULL, "Member id"},
    {"status", CM__T_ENUM, CM__REQUIRED, 0, 0, status_values,
     "active, or suspended (also revokes every session)"},
    {NULL},
};

const cm__op cm__member_ops[] = {
    {"members.signup", "Create a member account (and a session when a password is given)",
     CM_ROLE_ANONYMOUS, CM__OP_WRITE, "POST", "/v1/members", signup_fields, op_signup,
     cm__password_hash_prepare, "{member, session?: {token, expires_at}}"},
    {"members.me", "The signed-in member's own profile", CM_ROLE_MEMBER, 0, "GET", "/v1/me",
     NULL, op_me, NULL, "member"},
    {"members.get", "A member's profile, as its visibility allows", CM_ROLE_ANONYMOUS,
     CM__OP_CACHE, "GET",
     "/v1/members/{member_id}", member_id_field, op_get, NULL, "member"},
    {"members.list", "The member directory (profiles the caller may see)", CM_ROLE_ANONYMOUS,
     CM__OP_CACHE,
     "GET", "/v1/members", list_fields, op_list, NULL, "{items: [member], next_cursor}"},
    {"members.update", "Edit a profile (your own; admins: anyone's)", CM_ROLE_MEMBER,
     CM__OP_WRITE, "PATCH", "/v1/me", update_fields, op_update, NULL, "member"},
    {"members.set_role", "Change a member's platform role", CM_ROLE_ADMIN, CM__OP_WRITE, "PUT",
     "/v1/members/{member_id}/role", role_fields, op_set_role, NULL, "member"},
    {"members.set_status", "Suspend or reactivate a member", CM_ROLE_MODERATOR, CM__OP_WRITE,
     "PUT", "/v1/members/{member_id}/status", status_fields, op_set_status, NULL, "member"},
    {NULL},
};
