/*
 * ops_member.c - member operations: sign-up, profiles, directory, roles
 * and suspension. Authentication (sessions, passwords, single-use tokens)
 * is in ops_auth.c.
 */
#include "group_int.h"
#include "member_int.h"

#include "ai/ai_int.h" /* cm__embed_sync */

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
        return cm__error_set_field(CM_EEXISTS, "email",
                                   "email: a member with this e-mail "
                                   "address already exists");
    if (rc < 0)
        return rc;
    ctx->target_type = "member";
    ctx->target_id = id;
    if ((rc = cm__metric_add(ctx->conn, "signups", 1)) ||
        (rc = cm__embed_sync(ctx->conn, ctx->now, "member", id)))
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

/* A listed member, with the private fields for staff and for oneself. */
static json_t *member_row(cm__q *q, void *payload)
{
    cm__ctx *ctx = payload;
    bool staff = cm__actor_at_least(ctx, CM_ROLE_MODERATOR);
    return cm__member_json(q, staff || cm__q_col_int64(q, 0) == ctx->actor->member_id);
}

static int op_list(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t after = 0, unused;
    int rc;
    const char *cursor = cm__json_str(in, "cursor");
    if (cursor && (rc = cm__cursor_decode(&after, &unused, cursor)))
        return rc;
    int64_t limit = cm__json_int(in, "limit", 20);
    bool oom;
    char *like = cm__like_pattern(cm__json_str(in, "q"), &oom);
    if (oom)
        return cm__oom();
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "member.list"))) {
        cm__free(like);
        return rc;
    }
    cm__q_int64(&q, 1, after);
    cm__q_int64(&q, 2, ctx->actor->role);
    cm__q_text(&q, 3, like);
    cm__q_int64(&q, 4, limit + 1);
    rc = cm__page_collect(out, &q, limit, 0, -1, member_row, ctx);
    cm__free(like);
    return rc;
}

static int op_update(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "member_id", ctx->actor->member_id);
    if (id != ctx->actor->member_id && !cm__actor_at_least(ctx, CM_ROLE_ADMIN))
        return cm__error_set_field(CM_EPERM, "member_id",
                                   "member_id: only admins may edit another member");
    if (id == 0)
        return cm__error_set_field(CM_EINVAL, "member_id",
                                   "member_id: required for the system "
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
    if ((rc = cm__embed_sync(ctx->conn, ctx->now, "member", id)))
        return rc;
    return cm__member_load(out, ctx, id);
}

static int set_column(cm__ctx *ctx, json_t *in, json_t **out, const char *stmt, const char *key)
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
        return cm__error_set_field(CM_EPERM, "member_id", "member_id: you cannot suspend yourself");
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

#define PROFILE_FIELDS                                                                             \
    CM__FIELD("headline", CM__T_STRING, .max = 160, .doc = "One-line professional headline"),      \
        CM__FIELD("bio", CM__T_STRING, .max = 4000, .doc = "Free-text biography"),                 \
        CM__FIELD("interests", CM__T_STRINGS, .max = 32, .doc = "Interest tags (at most 32)"),     \
        CM__FIELD("timezone", CM__T_TIMEZONE, .doc = "IANA time zone, e.g. Europe/Berlin"),        \
        CM__FIELD("visibility", CM__T_ENUM, .values = visibility_values,                           \
                  .doc = "Who can see the profile: public, members (signed in) or private"),       \
        CM__FIELD("discoverable", CM__T_BOOL,                                                      \
                  .doc = "Opt in to appear in 'members you should meet'")

static const cm__field signup_fields[] = {
    CM__FIELD("email", CM__T_EMAIL, .flags = CM__REQUIRED, .min = 3, .max = 254,
              .doc = "E-mail address, unique ignoring case"),
    CM__FIELD("name", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 100,
              .doc = "Display name"),
    CM__FIELD("password", CM__T_SECRET, .min = 8, .max = 256,
              .doc = "Password (8-256 characters); omit for a magic-link-only account"),
    PROFILE_FIELDS,
    {.name = NULL},
};

static const cm__field update_fields[] = {
    CM__FIELD("member_id", CM__T_ID, .doc = "Member to edit (admins only; default: yourself)"),
    CM__FIELD("name", CM__T_STRING, .min = 1, .max = 100, .doc = "Display name"),
    PROFILE_FIELDS,
    {.name = NULL},
};

static const cm__field member_id_field[] = {
    CM__FIELD("member_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Member id"),
    {.name = NULL},
};

static const cm__field list_fields[] = {
    CM__FIELD("q", CM__T_STRING, .min = 1, .max = 100, .doc = "Name contains"),
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = 100, .doc = "Page size (default 20)"),
    CM__FIELD("cursor", CM__T_CURSOR, .doc = "next_cursor of the previous page"),
    {.name = NULL},
};

static const cm__field role_fields[] = {
    CM__FIELD("member_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Member id"),
    CM__FIELD("role", CM__T_ENUM, .flags = CM__REQUIRED, .values = role_values,
              .doc = "New platform role"),
    {.name = NULL},
};

static const cm__field status_fields[] = {
    CM__FIELD("member_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Member id"),
    CM__FIELD("status", CM__T_ENUM, .flags = CM__REQUIRED, .values = status_values,
              .doc = "active, or suspended (ends every session; earlier magic-link and reset "
                     "tokens are refused)"),
    {.name = NULL},
};

CM__PAGE(member_page, cm__shape_member);
static const cm__rfield signup_result_fields[] = {
    {"member", CM__R_OBJECT, .shape = &cm__shape_member},
    {"session", CM__R_OBJECT, .flags = CM__R_OPT, .shape = &cm__shape_session,
     .doc = "When a password was given"},
    {NULL},
};
static const cm__shape signup_result = {.fields = signup_result_fields};

const cm__op cm__member_ops[] = {
    {
        .name = "members.signup",
        .summary = "Create a member account (and a session when a password is given)",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_WRITE | CM__OP_PASSWORD,
        .http_method = "POST",
        .http_path = "/v1/members",
        .fields = signup_fields,
        .fn = op_signup,
        .prepare = cm__password_hash_prepare,
        .result = &signup_result,
    },
    {
        .name = "members.me",
        .summary = "The signed-in member's own profile",
        .role = CM_ROLE_MEMBER,
        .http_method = "GET",
        .http_path = "/v1/me",
        .fn = op_me,
        .result = &cm__shape_member,
    },
    {
        .name = "members.get",
        .summary = "A member's profile, as its visibility allows",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_CACHE,
        .http_method = "GET",
        .http_path = "/v1/members/{member_id}",
        .fields = member_id_field,
        .fn = op_get,
        .result = &cm__shape_member,
    },
    {
        .name = "members.list",
        .summary = "The member directory (profiles the caller may see)",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_CACHE,
        .http_method = "GET",
        .http_path = "/v1/members",
        .fields = list_fields,
        .fn = op_list,
        .result = &member_page,
    },
    {
        .name = "members.update",
        .summary = "Edit a profile (your own; admins: anyone's)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "PATCH",
        .http_path = "/v1/me",
        .fields = update_fields,
        .fn = op_update,
        .result = &cm__shape_member,
    },
    {
        .name = "members.set_role",
        .summary = "Change a member's platform role",
        .role = CM_ROLE_ADMIN,
        .flags = CM__OP_WRITE,
        .http_method = "PUT",
        .http_path = "/v1/members/{member_id}/role",
        .fields = role_fields,
        .fn = op_set_role,
        .result = &cm__shape_member,
    },
    {
        .name = "members.set_status",
        .summary = "Suspend or reactivate a member",
        .role = CM_ROLE_MODERATOR,
        .flags = CM__OP_WRITE,
        .http_method = "PUT",
        .http_path = "/v1/members/{member_id}/status",
        .fields = status_fields,
        .fn = op_set_status,
        .result = &cm__shape_member,
    },
    {.name = NULL},
};
